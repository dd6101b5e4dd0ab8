// SPDX-License-Identifier: GPL-2.0
/*
 * The smallest program that calls bpf_probe_write_user. tests/vm/vm_harness.test
 * loads it (never attaches it) to show which kernel accepts the helper: the
 * guest kernel does; a kernel in lockdown integrity or confidentiality refuses
 * the program at verification.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("uprobe")
int write_user(struct pt_regs *ctx)
{
	char zero = 0;

	/* Address 0: even if attached, the write can only fail. */
	return bpf_probe_write_user((void *)0, &zero, sizeof(zero));
}

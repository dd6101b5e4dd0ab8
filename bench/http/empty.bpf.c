// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench/http's floor: an empty program on sys_enter_write, attached during the
 * weft-http rounds, so its bpf_stats per-run figure (the fixed cost of one
 * program run plus the accounting itself) is measured in the same run.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tracepoint/syscalls/sys_enter_write")
int weft_bench_empty(void *ctx)
{
	return 0;
}

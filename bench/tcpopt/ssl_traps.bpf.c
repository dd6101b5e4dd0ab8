// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench/tcpopt's mechanism floor: one empty program for every OpenSSL probe
 * weft-tcpopt attaches (bench/tcpopt/ssl_traps.c does the attaching), so a run
 * with it pays the uprobe traps the design needs and nothing else.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("uprobe")
int weft_bench_ssl_trap(void *ctx)
{
	return 0;
}

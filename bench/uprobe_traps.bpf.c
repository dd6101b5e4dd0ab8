// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The runtime-front benchmarks' floor (bench/asyncio/run, bench/node/run):
 * one empty program for every uprobe site a runtime rule attaches
 * (bench/uprobe_traps.c does the attaching, entry or return), so a run with
 * it pays the traps a certain rule needs and nothing else.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("uprobe")
int weft_bench_rt_trap(void *ctx)
{
	return 0;
}

/* The same at return sites: a program of their own, so that bpf_stats tells
 * the two apart (bench/rtfront.sh counts a return probe's run as two traps). */
SEC("uretprobe")
int weft_bench_rt_trap_ret(void *ctx)
{
	return 0;
}

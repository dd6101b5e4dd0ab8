// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench/h2c's tracepoint floor: one empty program, attached by
 * bench/h2c/tpfloor.c to each tracepoint weft-http attached in the same run
 * (as many times as weft-http did), beside the bare mechanism
 * (mechanism.bpf.c). What that costs is what any injector that inserts with
 * sk_msg and observes these syscalls pays before doing any work.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * The same empty program four times: a program attaches to a tracepoint once
 * (EEXIST after), and weft-http attaches up to two of its own to some (the
 * exec tracepoint; a runtime rule's write entries beside the general ones).
 */
#define EMPTY(n)                                                                                   \
	SEC("tracepoint")                                                                          \
	int weft_bench_h2c_tp##n(void *ctx)                                                        \
	{                                                                                          \
		return 0;                                                                          \
	}

EMPTY(0)
EMPTY(1)
EMPTY(2)
EMPTY(3)

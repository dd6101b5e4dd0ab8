/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The benchmarks' trap floors (bench/tcpopt/ssl_traps.c,
 * bench/uprobe_traps.c): hold the empty programs' uprobe links.
 */
#ifndef WEFT_BENCH_TRAPS_HOLD_H
#define WEFT_BENCH_TRAPS_HOLD_H

#include <stdbool.h>
#include <bpf/libbpf.h>

/*
 * With attached (every probe holds): print "NAME: ready (N probes)" on
 * stderr and wait for SIGINT or SIGTERM. Then, and always, destroy the n
 * links. 0 when attached, else 1.
 */
int traps_hold(const char *name, struct bpf_link **links, int n, bool attached);

#endif /* WEFT_BENCH_TRAPS_HOLD_H */

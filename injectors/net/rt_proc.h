/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Shared by weft-http's runtime rules (injectors/net/rt_*.c): which processes
 * belong to the target cgroup, and their binaries' records.
 */
#ifndef WEFT_RT_PROC_H
#define WEFT_RT_PROC_H

#include <stdbool.h>

/* The target cgroup below the cgroup2 mount root ("" = every process). */
const char *weft_rt_cgroup_rel(const char *cgroup, const char *root);
/* Is process pid in cgroup_rel (or below)? */
bool weft_rt_in_target(const char *cgroup_rel, int pid);
/* Call consider(pid) for every running process of cgroup_rel. */
void weft_rt_scan(const char *cgroup_rel, void (*consider)(int pid));
/* Run weft-analyze on path (it stores the record; its errors go to stderr). */
void weft_rt_run_analyzer(const char *path);

#endif /* WEFT_RT_PROC_H */

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Shared by weft-http's runtime rules (injectors/net/rt_*.c): which processes
 * belong to the target cgroup, and their binaries' records.
 */
#ifndef WEFT_RT_PROC_H
#define WEFT_RT_PROC_H

#include <stdbool.h>
#include <stddef.h>

struct weft_record;

/* The target cgroup below the cgroup2 mount root ("" = every process). */
const char *weft_rt_cgroup_rel(const char *cgroup, const char *root);
/* Is process pid in cgroup_rel (or below)? */
bool weft_rt_in_target(const char *cgroup_rel, int pid);
/* Call consider(pid) for every running process of cgroup_rel. */
void weft_rt_scan(const char *cgroup_rel, void (*consider)(int pid));
/*
 * The record of the binary open as fd (path: its /proc/PID/exe): looked up, and
 * on a miss (or no database yet) weft-analyze runs and the lookup is repeated.
 * NULL when there is none; *nodb is set when the database cannot be opened
 * even after the analyzer ran (err says why).
 */
struct weft_record *weft_rt_record(int fd, const char *path, bool *nodb, char *err,
				   size_t errlen);

#endif /* WEFT_RT_PROC_H */

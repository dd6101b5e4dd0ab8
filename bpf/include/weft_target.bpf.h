/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The --pid target filter of weft-http and weft-tcpopt: with filter_pids
 * set (by the loader, before load), only processes (tgids) that user space
 * put into target_pids are targets. The cgroup filter stays with each
 * injector: weft-http asks whether the task is under its cgroup (a cgroup
 * array), weft-tcpopt compares an ancestor cgroup id.
 */
#ifndef WEFT_TARGET_BPF_H
#define WEFT_TARGET_BPF_H

#include "weft_link.h"
#include "weft_maps.bpf.h"

#define WEFT_TARGET_PIDS_MAX 1024

WEFT_SHARED const volatile bool filter_pids WEFT_INIT(false);
WEFT_SHARED WEFT_HASH(__u32, __u8, WEFT_TARGET_PIDS_MAX) target_pids SEC(".maps");

static __always_inline bool weft_pid_targeted(__u32 tgid)
{
	return !filter_pids || bpf_map_lookup_elem(&target_pids, &tgid);
}

#endif /* WEFT_TARGET_BPF_H */

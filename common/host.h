/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What this host and kernel offer, asked the same way by every injector and
 * by weft doctor (tools/weft_probe.c): the cgroup v2 root, the lockdown mode,
 * and kernel features found by loading a program (never from the kernel's
 * version string: backports and config options make that wrong both ways).
 */
#ifndef WEFT_HOST_H
#define WEFT_HOST_H

#include <stdbool.h>
#include <stddef.h>

#define WEFT_CGROUP2_UNIFIED "/sys/fs/cgroup/unified" /* cgroup v2 on hybrid hosts */

/*
 * The root of the cgroup v2 hierarchy: /sys/fs/cgroup, else the hybrid
 * layout's /sys/fs/cgroup/unified. With mount, cgroup2 is mounted at the
 * latter when neither is (saying so). NULL when there is none (errno set).
 */
const char *weft_cgroup2_root(bool mount);
/* Is path a directory of a cgroup v2 hierarchy? */
bool weft_is_cgroup2(const char *path);

/*
 * The lockdown mode the kernel reports ("none", "integrity",
 * "confidentiality"), mounting securityfs first when absent. NULL when
 * unknown (no lockdown LSM, or securityfs cannot be mounted).
 */
const char *weft_lockdown_mode(char *buf, size_t len);

/*
 * Loads (never attaches) a kprobe program calling bpf_probe_write_user: the
 * verifier refuses it under lockdown, whatever the lockdown file says. false
 * with the reason (and the lockdown mode) in why.
 */
bool weft_have_probe_write_user(char *why, size_t whylen);

/* uprobe_multi links (Linux 6.6), with the pid filter that works (6.9, backports). */
bool weft_have_uprobe_multi(void);

/* Can programs of type prog_type (enum bpf_prog_type) call helper (enum bpf_func_id)? */
bool weft_have_helper(int prog_type, int helper);

#endif /* WEFT_HOST_H */

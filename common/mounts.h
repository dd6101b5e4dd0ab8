/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The kernel file systems weft reads or writes, mounted when absent so that a
 * fresh host (no tracefs, securityfs or bpffs mounted) just works. Each
 * mount is announced in one line on stderr; a failure is left to the caller,
 * whose next step (attach, read, pin) then says what failed.
 */
#ifndef WEFT_MOUNTS_H
#define WEFT_MOUNTS_H

#define WEFT_TRACEFS_DIR "/sys/kernel/tracing"
#define WEFT_SECURITYFS_DIR "/sys/kernel/security"
#define WEFT_BPFFS_DIR "/sys/fs/bpf"

/* Each returns 1 if it mounted the file system now, 0 if it was there
 * already, -errno if it is absent and could not be mounted. */
int weft_ensure_tracefs(void);	  /* syscall tracepoints (libbpf's events/ lookup) */
int weft_ensure_securityfs(void); /* /sys/kernel/security/lockdown */
int weft_ensure_bpffs(void);	  /* pins under /sys/fs/bpf */

#endif /* WEFT_MOUNTS_H */

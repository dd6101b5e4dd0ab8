/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Where a process lives, from its cgroup v2 path: the container id
 * (containerd, CRI-O, Docker; systemd and cgroupfs drivers) and the
 * Kubernetes pod uid. No API server needed.
 */
#ifndef WEFT_EXPORT_CONTAINER_H
#define WEFT_EXPORT_CONTAINER_H

#include <stddef.h>
#include <sys/types.h>

/* The cgroup v2 path of pid ("0::PATH" in /proc/PID/cgroup); -1 if unknown. */
int weft_proc_cgroup(pid_t pid, char *out, size_t len);

/*
 * From a cgroup path, e.g.
 *   /kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid_>.slice/
 *       cri-containerd-<64 hex>.scope
 *   /kubepods/besteffort/pod<uid>/<64 hex>
 *   /system.slice/docker-<64 hex>.scope, .../crio-<64 hex>.scope, /docker/<64 hex>
 * cid gets the container id (64 hex) and pod the pod uid (dashes restored),
 * each "" when absent.
 */
void weft_cgroup_ids(const char *path, char cid[65], char pod[37]);

#endif /* WEFT_EXPORT_CONTAINER_H */

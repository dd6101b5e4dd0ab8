// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "log.h"
#include "mounts.h"

#ifndef TRACEFS_MAGIC
#define TRACEFS_MAGIC 0x74726163
#endif
#ifndef SECURITYFS_MAGIC
#define SECURITYFS_MAGIC 0x73636673
#endif
#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

static int is_fs(const char *dir, long magic)
{
	struct statfs s;

	return statfs(dir, &s) == 0 && s.f_type == magic;
}

static int ensure(const char *name, const char *type, const char *dir, long magic, const char *why)
{
	if (is_fs(dir, magic))
		return 0;
	mkdir(dir, 0755); /* a mount point sysfs did not provide */
	if (mount(type, dir, type, 0, NULL) != 0 && errno != EBUSY) {
		int e = errno;

		weft_warn("%s is not mounted and mounting it at %s failed: %s: mount -t %s %s %s "
			  "(%s)",
			  name, dir, strerror(e), type, type, dir, why);
		return -e;
	}
	if (!is_fs(dir, magic))
		return -ENODEV;
	weft_info("%s was not mounted: mounted it at %s (%s)", name, dir, why);
	return 1;
}

int weft_ensure_tracefs(void)
{
	/* libbpf prefers debugfs's tracing/ when that exists: then it is there. */
	if (access("/sys/kernel/debug/tracing/events", F_OK) == 0)
		return 0;
	return ensure("tracefs", "tracefs", WEFT_TRACEFS_DIR, TRACEFS_MAGIC,
		      "syscall tracepoints need it");
}

int weft_ensure_securityfs(void)
{
	return ensure("securityfs", "securityfs", WEFT_SECURITYFS_DIR, SECURITYFS_MAGIC,
		      "to read the lockdown mode");
}

int weft_ensure_bpffs(void)
{
	return ensure("bpffs", "bpf", WEFT_BPFFS_DIR, BPF_FS_MAGIC, "pins need it");
}

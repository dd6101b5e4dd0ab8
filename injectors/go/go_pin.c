// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/libbpf.h>
#include "log.h"
#include "mounts.h"
#include "weft_conn_ctx.h"
#include "go_pin.h"

static int mkdirs(char *p)
{
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0700) && errno != EEXIST) {
			*s = '/';
			return -errno;
		}
		*s = '/';
	}
	if (mkdir(p, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

int go_pin_map(struct bpf_map *map, const char *name, char *path, size_t len, char *err,
	       size_t errlen)
{
	const char *dir = getenv("WEFT_PIN_DIR");
	char d[4096];
	struct statfs sfs;
	int rc;

	if (!dir || !*dir)
		dir = WEFT_PIN_DIR;
	snprintf(d, sizeof(d), "%s", dir);
	path[0] = 0;
	/* The default lives under /sys/fs/bpf: mount bpffs there if needed. */
	if (strncmp(d, WEFT_BPFFS_DIR, strlen(WEFT_BPFFS_DIR)) == 0)
		weft_ensure_bpffs();
	if ((rc = mkdirs(d))) {
		snprintf(
		    err, errlen,
		    "cannot create pin directory %s: %s: set WEFT_PIN_DIR to a bpffs directory", d,
		    strerror(-rc));
		return rc;
	}
	if (statfs(d, &sfs) || sfs.f_type != BPF_FS_MAGIC) {
		snprintf(err, errlen,
			 "pin directory %s is not on a bpf file system: mount -t bpf bpf "
			 "/sys/fs/bpf or set WEFT_PIN_DIR",
			 d);
		return -ENOTSUP;
	}
	snprintf(path, len, "%s/%s", d, name);
	if (unlink(path) == 0)
		weft_info("replaced a stale pin at %s", path);
	rc = bpf_map__pin(map, path);
	if (rc) {
		snprintf(err, errlen, "cannot pin the %s map at %s: %s: check WEFT_PIN_DIR", name,
			 path, strerror(-rc));
		path[0] = 0;
		return rc;
	}
	return 0;
}

void go_unpin(const char *path)
{
	if (path && *path)
		unlink(path);
}

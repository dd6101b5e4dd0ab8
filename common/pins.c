// SPDX-License-Identifier: BSD-2-Clause
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>

#include "log.h"
#include "mounts.h"
#include "pins.h"
#include "weft_conn_ctx.h"

static const char *const shared_maps[] = {WEFT_CONN_CTX_MAP, WEFT_STREAM_CTX_MAP, WEFT_GO_PIDS_MAP};
#define NSHARED (sizeof(shared_maps) / sizeof(shared_maps[0]))

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

/* The id of the map pinned at path, 0 if none (or not a map). */
static __u32 pinned_map_id(const char *path)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return 0;
	if (bpf_map_get_info_by_fd(fd, &info, &len))
		info.id = 0;
	close(fd);
	return info.id;
}

/* Does process pid hold an fd of map id? */
static bool pid_holds(const char *pid, __u32 id)
{
	char path[600], link[32], line[128];
	struct dirent *e;
	bool held = false;
	DIR *fds;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	fds = opendir(path);
	if (!fds) /* gone: holds nothing; not ours to read: cannot tell, keep the pin */
		return errno != ENOENT && errno != ESRCH;
	while (!held && (e = readdir(fds))) {
		ssize_t n = readlinkat(dirfd(fds), e->d_name, link, sizeof(link) - 1);
		unsigned int got;
		FILE *f;

		if (n <= 0)
			continue;
		link[n] = 0;
		if (strcmp(link, "anon_inode:bpf-map"))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", pid, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "map_id: %u", &got) == 1) {
				held = got == id;
				break;
			}
		fclose(f);
	}
	closedir(fds);
	return held;
}

/* Does a process other than this one hold map id? */
static bool held_elsewhere(__u32 id)
{
	char self[16];
	struct dirent *e;
	bool held = false;
	DIR *proc = opendir("/proc");

	if (!proc)
		return true; /* cannot tell: keep the pin */
	snprintf(self, sizeof(self), "%d", (int)getpid());
	while (!held && (e = readdir(proc)))
		if (e->d_name[0] >= '1' && e->d_name[0] <= '9' && strcmp(e->d_name, self))
			held = pid_holds(e->d_name, id);
	closedir(proc);
	return held;
}

/* Remove the pins no other process holds; true if one is held elsewhere. */
static bool drop_unheld(struct weft_pins *p, bool stale)
{
	bool shared = false;

	for (size_t i = 0; i < NSHARED; i++) {
		char path[PATH_MAX + 64];
		__u32 id;

		snprintf(path, sizeof(path), "%s/%s", p->dir, shared_maps[i]);
		id = pinned_map_id(path);
		if (!id)
			continue;
		if (held_elsewhere(id)) {
			shared = true;
			continue;
		}
		if (unlink(path) == 0 && stale)
			weft_info("replaced a stale pin at %s: no live process held it", path);
	}
	return shared;
}

int weft_pins_begin(struct weft_pins *p, char *err, size_t errlen)
{
	const char *dir = getenv("WEFT_PIN_DIR");
	struct statfs sfs;
	int rc;

	if (!dir || !*dir)
		dir = WEFT_PIN_DIR;
	p->dfd = -1;
	p->open = false;
	p->shared = false;
	snprintf(p->dir, sizeof(p->dir), "%s", dir);
	/* The default lives under /sys/fs/bpf: mount bpffs there if needed. */
	if (strncmp(p->dir, WEFT_BPFFS_DIR, strlen(WEFT_BPFFS_DIR)) == 0)
		weft_ensure_bpffs();
	if ((rc = mkdirs(p->dir))) {
		snprintf(
		    err, errlen,
		    "cannot create pin directory %s: %s: set WEFT_PIN_DIR to a bpffs directory",
		    p->dir, strerror(-rc));
		return rc;
	}
	if (statfs(p->dir, &sfs) || sfs.f_type != BPF_FS_MAGIC) {
		snprintf(err, errlen,
			 "pin directory %s is not on a bpf file system: mount -t bpf bpf "
			 "/sys/fs/bpf or set WEFT_PIN_DIR",
			 p->dir);
		return -ENOTSUP;
	}
	p->dfd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->dfd < 0 || flock(p->dfd, LOCK_EX)) {
		rc = -errno;
		snprintf(err, errlen, "cannot lock pin directory %s: %s: set WEFT_PIN_DIR", p->dir,
			 strerror(-rc));
		if (p->dfd >= 0)
			close(p->dfd);
		p->dfd = -1;
		return rc;
	}
	p->open = true;
	p->opts = (struct bpf_object_open_opts){.sz = sizeof(p->opts), .pin_root_path = p->dir};
	p->shared = drop_unheld(p, true);
	if (p->shared)
		weft_debug("using the shared maps pinned in %s by another live injector", p->dir);
	else
		weft_debug("creating the shared maps in %s", p->dir);
	return 0;
}

void weft_pins_loaded(struct weft_pins *p)
{
	if (p->open)
		flock(p->dfd, LOCK_UN);
}

void weft_pins_end(struct weft_pins *p)
{
	if (!p->open)
		return;
	if (flock(p->dfd, LOCK_EX) == 0)
		drop_unheld(p, false);
	close(p->dfd); /* releases the lock */
	p->open = false;
}

void weft_map_clear(int fd)
{
	__u8 key[64]; /* the shared maps' keys are 4 and 8 bytes */

	/* always the first key: deleting while walking would skip keys */
	while (bpf_map_get_next_key(fd, NULL, key) == 0)
		if (bpf_map_delete_elem(fd, key))
			break;
}

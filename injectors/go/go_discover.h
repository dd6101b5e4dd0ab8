/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * weft-go discovery: the processes named by selectors (--cgroup, --exe-name,
 * --port), running now and started later, recognised as Go by their build
 * info through /proc/PID/exe (so a container's binary is read where it is),
 * and handed to weft-go to attach. A binary missing from the offsets database
 * is analysed off the event path, one at a time, once per distinct content.
 */
#ifndef WEFT_GO_DISCOVER_H_USER
#define WEFT_GO_DISCOVER_H_USER

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define GO_DISC_MAX_SEL 16

struct go_disc_sel {
	const char *cgroups[GO_DISC_MAX_SEL]; /* cgroup v2 directories */
	int ncgroups;
	const char *names[GO_DISC_MAX_SEL]; /* fnmatch globs on the executable's basename */
	int nnames;
	uint16_t ports[GO_DISC_MAX_SEL]; /* TCP listening ports */
	int nports;
};

/*
 * Called with a matching Go process and its executable open at fd (path: its
 * name as the process sees it). Returns GO_DISC_ATTACHED, GO_DISC_LEFT (said
 * why), GO_DISC_MISS (not in the database: analyse it) or GO_DISC_FAILED.
 */
enum { GO_DISC_ATTACHED = 0, GO_DISC_LEFT = 1, GO_DISC_MISS = 2, GO_DISC_FAILED = -1 };
typedef int (*go_disc_attach_fn)(void *ctx, pid_t pid, int fd, const char *path);

struct go_disc;
struct ring_buffer;

bool go_disc_any(const struct go_disc_sel *sel);
/*
 * The file under overlayfs that pid executes (exe: its path as pid sees it):
 * every container has its own overlay view (st_dev) of one layer file, which
 * uprobes see as one inode. The upper layer's copy, else the first lower layer
 * holding it, read through /proc/PID/root. 0, or -1 when exe is not on
 * overlayfs or not found (then the file as opened is the identity).
 */
int go_disc_file_id(pid_t pid, const char *exe, dev_t *dev, ino_t *ino);
/* Load and attach the discovery programs; NULL with one line in err. */
struct go_disc *go_disc_new(const struct go_disc_sel *sel, const char *dbdir,
			    go_disc_attach_fn attach, void *ctx, char *err, size_t errlen);
/* Add the discovery events to rb (or make a new ring buffer when *rb is NULL). */
int go_disc_ring(struct go_disc *d, struct ring_buffer **rb);
/* Hand every running process that matches to attach; returns how many matched. */
int go_disc_scan(struct go_disc *d);
/* Attach what analyses finished since the last call (main thread). */
void go_disc_poll(struct go_disc *d);
/* Counters, for the stop summary and tests. */
void go_disc_summary(const struct go_disc *d);
void go_disc_free(struct go_disc *d);

#endif

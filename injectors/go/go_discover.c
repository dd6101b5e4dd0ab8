// SPDX-License-Identifier: BSD-2-Clause
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <linux/magic.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "injector.h"
#include "log.h"
#include "offsets.h"
#include "procinfo.h"
#include "container.h"
#include "go/go_discover.h"
#include "bpf/go/go_discover.skel.h"
#include "go_analyze.h"
#include "go_discover.h"

#define DONE_HASHES 256 /* contents analysed by this run (a repeat is skipped) */

/* A binary waiting for (or under) analysis, with the processes that run it. */
struct pending {
	struct pending *next;
	dev_t dev;
	ino_t ino;
	int fd;
	char path[PATH_MAX];
	pid_t *pids;
	size_t npids;
	int state; /* 0 queued, 1 analysing, 2 done */
	int rc;	   /* go_analyze_child's */
	double t0, t1; /* the analysis's start and end, s since boot (0: none, same content) */
	char err[512];
};

struct go_disc {
	struct go_disc_sel sel;
	int cgfd[GO_DISC_MAX_SEL]; /* the --cgroup directories */
	struct go_discover *skel;
	const char *dbdir;
	go_disc_attach_fn attach;
	void *ctx;
	pthread_t worker;
	bool worker_on, quit;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pending *queue;	    /* under lock */
	char done[DONE_HASHES][33]; /* worker only */
	unsigned ndone;
	unsigned long long matched, attached, left, analyses, same_content;
};

bool go_disc_any(const struct go_disc_sel *sel)
{
	return sel->ncgroups || sel->nnames || sel->nports;
}

/* Stat layer/rel as pid sees it; 0 and *sb filled, else -1. */
static int stat_layer(pid_t pid, const char *layer, size_t llen, const char *rel, struct stat *sb)
{
	char p[PATH_MAX];

	if ((size_t)snprintf(p, sizeof(p), "/proc/%d/root%.*s%s", (int)pid, (int)llen, layer,
			     rel) >= sizeof(p))
		return -1;
	return stat(p, sb);
}

int go_disc_file_id(pid_t pid, const char *exe, dev_t *dev, ino_t *ino)
{
	char path[64], line[4 * PATH_MAX], best[4 * PATH_MAX] = "", mnt[PATH_MAX], type[64];
	size_t bestlen = 0;
	const char *rel, *o, *dash;
	struct stat sb;
	FILE *f;

	/* The mount that holds exe, as the process sees it: overlayfs or not? */
	snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		size_t ml;

		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		ml = strcmp(mnt, "/") ? strlen(mnt) : 0;
		if (strncmp(exe, mnt, ml) || exe[ml] != '/' || ml < bestlen)
			continue;
		bestlen = ml;
		snprintf(best, sizeof(best), "%s", line); /* the last (top) mount wins a tie */
	}
	fclose(f);
	dash = strstr(best, " - ");
	if (!dash || sscanf(dash, " - %63s", type) != 1 || strcmp(type, "overlay"))
		return -1;
	rel = exe + bestlen;
	/* The file in the upper layer (copied up), else in the first lower layer holding it. */
	if ((o = strstr(dash, "upperdir=")) &&
	    !stat_layer(pid, o + 9, strcspn(o + 9, ", \n"), rel, &sb))
		goto found;
	for (o = dash; (o = strstr(o, "lowerdir")); o++) {
		const char *l = strchr(o, '=');

		if (!l)
			break;
		for (l++; *l && *l != ',' && *l != ' ' && *l != '\n';) {
			size_t n = strcspn(l, ":, \n");

			if (n && !stat_layer(pid, l, n, rel, &sb))
				goto found;
			l += n;
			if (*l == ':')
				l++;
		}
	}
	return -1;
found:
	*dev = sb.st_dev;
	*ino = sb.st_ino;
	return 0;
}

/* Does pid's executable match --exe-name? */
static bool match_name(const struct go_disc *d, pid_t pid)
{
	char p[PATH_MAX];
	const char *base;

	if (!d->sel.nnames || weft_proc_exe(pid, p, sizeof(p)))
		return false;
	base = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
	for (int i = 0; i < d->sel.nnames; i++)
		if (!fnmatch(d->sel.names[i], base, 0))
			return true;
	return false;
}

static void *worker_main(void *arg);

/* Queue the binary open at fd for analysis (takes fd), with pid waiting for it. */
static void queue_analysis(struct go_disc *d, pid_t pid, int fd, const char *path)
{
	struct pending *p;
	struct stat sb;
	pid_t *np;

	if (fstat(fd, &sb)) {
		close(fd);
		return;
	}
	/* No content hash here (tens of ms for a big binary, on the event path):
	 * files of one content queued apart are joined by the worker's done list. */
	pthread_mutex_lock(&d->lock);
	for (p = d->queue; p; p = p->next)
		if (p->dev == sb.st_dev && p->ino == sb.st_ino)
			break;
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			goto out;
		p->dev = sb.st_dev;
		p->ino = sb.st_ino;
		p->fd = fd;
		fd = -1;
		snprintf(p->path, sizeof(p->path), "%s", path);
		p->next = d->queue;
		d->queue = p;
		weft_info("pid %d (%s): Go binary not in the offsets database: analysing it "
			  "(off the event path, one at a time)",
			  pid, path);
		pthread_cond_signal(&d->cond);
	}
	np = realloc(p->pids, (p->npids + 1) * sizeof(*np));
	if (np) {
		p->pids = np;
		p->pids[p->npids++] = pid;
	}
out:
	pthread_mutex_unlock(&d->lock);
	if (fd >= 0)
		close(fd);
}

/* A process a selector named: Go? then attach (or queue its analysis). */
static void candidate(struct go_disc *d, pid_t pid, const char *why, uint64_t ts)
{
	char path[PATH_MAX], ver[64], link[64];
	const char *rt;
	int fd, rc;

	if (pid == getpid() || weft_proc_exe(pid, path, sizeof(path)))
		return; /* gone already, or a kernel thread */
	rt = weft_proc_runtime(pid, NULL, ver, sizeof(ver));
	if (!rt || strcmp(rt, "go")) {
		d->left++;
		weft_info("pid %d (%s, %s): not a Go program (no Go build info): left alone", pid,
			  path, why);
		return;
	}
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	fd = open(link, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	d->matched++;
	rc = d->attach(d->ctx, pid, fd, path);
	if (rc == GO_DISC_MISS) {
		queue_analysis(d, pid, fd, path);
		return;
	}
	d->attached += rc == GO_DISC_ATTACHED;
	close(fd);
	if (rc == GO_DISC_ATTACHED && ts) {
		struct timespec now;

		clock_gettime(CLOCK_BOOTTIME, &now);
		weft_debug("pid %d (%s): ready to trace %.1f ms after its %s (at %.3f s since boot)",
			   pid, path, ((double)now.tv_sec * 1e9 + (double)now.tv_nsec - (double)ts) / 1e6,
			   strcmp(why, "--port") ? "exec" : "listen", now.tv_sec + now.tv_nsec / 1e9);
	} else if (rc == GO_DISC_ATTACHED) {
		weft_debug("pid %d (%s): ready to trace", pid, path);
	}
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct go_disc *d = ctx;
	const struct weft_disc_event *e = data;
	if (len < sizeof(*e))
		return 0;
	if (e->type == WEFT_DISC_LISTEN)
		candidate(d, (pid_t)e->pid, "--port", e->ts);
	else if (e->type == WEFT_DISC_EXEC && e->cgroup)
		candidate(d, (pid_t)e->pid, "--cgroup", e->ts);
	else if (e->type == WEFT_DISC_EXEC && match_name(d, (pid_t)e->pid))
		candidate(d, (pid_t)e->pid, "--exe-name", e->ts);
	return 0;
}

struct go_disc *go_disc_new(const struct go_disc_sel *sel, const char *dbdir,
			    go_disc_attach_fn attach, void *ctx, char *err, size_t errlen)
{
	struct go_disc *d = calloc(1, sizeof(*d));
	__u8 one = 1;

	if (!d) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->sel = *sel;
	d->dbdir = dbdir;
	d->attach = attach;
	d->ctx = ctx;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	for (int i = 0; i < GO_DISC_MAX_SEL; i++)
		d->cgfd[i] = -1;
	for (int i = 0; i < sel->ncgroups; i++) {
		struct statfs sf;

		d->cgfd[i] = open(sel->cgroups[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (d->cgfd[i] < 0 || fstatfs(d->cgfd[i], &sf) ||
		    sf.f_type != CGROUP2_SUPER_MAGIC) {
			snprintf(err, errlen,
				 "bad --cgroup %s: %s: give a directory of the cgroup v2 hierarchy "
				 "(e.g. /sys/fs/cgroup/kubepods.slice)",
				 sel->cgroups[i],
				 d->cgfd[i] < 0 ? strerror(errno) : "not cgroup v2");
			goto fail;
		}
	}
	d->skel = go_discover__open();
	if (!d->skel) {
		snprintf(err, errlen, "cannot open the discovery BPF object: %s", strerror(errno));
		goto fail;
	}
	d->skel->rodata->ncgroups = (__u32)sel->ncgroups;
	d->skel->rodata->all_execs = sel->nnames > 0;
	bpf_program__set_autoload(d->skel->progs.go_disc_exec, sel->ncgroups || sel->nnames);
	bpf_program__set_autoload(d->skel->progs.go_disc_listen, sel->nports > 0);
	if (go_discover__load(d->skel)) {
		weft_inj_load_error(err, errlen, "the discovery BPF programs", errno, NULL);
		goto fail;
	}
	for (int i = 0; i < sel->ncgroups; i++) {
		__u32 k = (__u32)i, v = (__u32)d->cgfd[i];

		if (bpf_map_update_elem(bpf_map__fd(d->skel->maps.disc_cgroups), &k, &v, BPF_ANY)) {
			snprintf(err, errlen, "cannot watch cgroup %s: %s", sel->cgroups[i],
				 strerror(errno));
			goto fail;
		}
	}
	for (int i = 0; i < sel->nports; i++)
		bpf_map_update_elem(bpf_map__fd(d->skel->maps.disc_ports), &sel->ports[i], &one,
				    BPF_ANY);
	if (go_discover__attach(d->skel)) {
		snprintf(err, errlen,
			 "cannot attach the discovery tracepoints (sched_process_exec, "
			 "inet_sock_set_state): %s: check that the kernel has BTF (/sys/kernel/btf/vmlinux) and weft-go runs as root",
			 strerror(errno));
		goto fail;
	}
	if (pthread_create(&d->worker, NULL, worker_main, d)) {
		snprintf(err, errlen, "cannot start the analysis thread");
		goto fail;
	}
	d->worker_on = true;
	return d;
fail:
	go_disc_free(d);
	return NULL;
}

int go_disc_ring(struct go_disc *d, struct ring_buffer **rb)
{
	int fd = bpf_map__fd(d->skel->maps.disc_events);

	if (*rb)
		return ring_buffer__add(*rb, fd, on_event, d);
	*rb = ring_buffer__new(fd, on_event, d, NULL);
	return *rb ? 0 : -errno;
}

/* Socket inodes listening on a --port (/proc/net/tcp and tcp6, this netns). */
static size_t listen_inodes(const struct go_disc *d, unsigned long *out, size_t max)
{
	static const char *const files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
	size_t n = 0;

	for (size_t f = 0; f < 2; f++) {
		FILE *fp = fopen(files[f], "re");
		char line[512];

		if (!fp)
			continue;
		while (fgets(line, sizeof(line), fp) && n < max) {
			unsigned port, st;
			unsigned long ino;

			if (sscanf(line,
				   " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*s %*s %*s %*s "
				   "%*s %lu",
				   &port, &st, &ino) != 3 ||
			    st != 0x0A)
				continue;
			for (int i = 0; i < d->sel.nports; i++)
				if (d->sel.ports[i] == port)
					out[n++] = ino;
		}
		fclose(fp);
	}
	return n;
}

static bool has_socket(pid_t pid, const unsigned long *inos, size_t n)
{
	char dir[64], link[PATH_MAX], target[64];
	struct dirent *de;
	bool found = false;
	DIR *dp;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	dp = opendir(dir);
	if (!dp)
		return false;
	while (!found && (de = readdir(dp))) {
		unsigned long ino;
		ssize_t l;

		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		l = readlink(link, target, sizeof(target) - 1);
		if (l <= 0)
			continue;
		target[l] = 0;
		if (sscanf(target, "socket:[%lu]", &ino) != 1)
			continue;
		for (size_t i = 0; i < n; i++)
			found |= inos[i] == ino;
	}
	closedir(dp);
	return found;
}

/* The processes of every cgroup under the --cgroup directories (cgroup.procs). */
static struct go_disc *walk_disc;
static int walk_cg(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	char procs[PATH_MAX];
	FILE *f;
	long pid;

	(void)sb;
	(void)ftw;
	if (type != FTW_D)
		return 0;
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
	f = fopen(procs, "re");
	if (!f)
		return 0;
	while (fscanf(f, "%ld", &pid) == 1)
		if (pid > 0)
			candidate(walk_disc, (pid_t)pid, "--cgroup", 0);
	fclose(f);
	return 0;
}

int go_disc_scan(struct go_disc *d)
{
	unsigned long inos[256];
	size_t ninos = d->sel.nports ? listen_inodes(d, inos, 256) : 0;
	DIR *dp = opendir("/proc");
	struct dirent *de;
	int n = 0;

	walk_disc = d;
	for (int i = 0; i < d->sel.ncgroups; i++)
		nftw(d->sel.cgroups[i], walk_cg, 16, FTW_PHYS);
	if (!dp || (!d->sel.nnames && !ninos))
		goto out;
	while ((de = readdir(dp))) {
		const char *why = "--exe-name";
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || pid == getpid())
			continue;
		if (!match_name(d, (pid_t)pid)) {
			if (!ninos || !has_socket((pid_t)pid, inos, ninos))
				continue;
			why = "--port";
		}
		candidate(d, (pid_t)pid, why, 0);
		n++;
	}
out:
	if (dp)
		closedir(dp);
	return n;
}

static bool done_has(struct go_disc *d, const char *hash)
{
	for (unsigned i = 0; i < d->ndone && i < DONE_HASHES; i++)
		if (!strcmp(d->done[i], hash))
			return true;
	return false;
}

/* The analysis thread: one binary at a time, each distinct content once. */
static void *worker_main(void *arg)
{
	struct go_disc *d = arg;

	for (;;) {
		struct pending *p, *todo = NULL;
		char hash[33] = "", err[512] = "";
		int rc = 0;

		pthread_mutex_lock(&d->lock);
		while (!d->quit) {
			for (p = d->queue; p; p = p->next)
				if (p->state == 0)
					todo = p;
			if (todo)
				break;
			pthread_cond_wait(&d->cond, &d->lock);
		}
		if (d->quit) {
			pthread_mutex_unlock(&d->lock);
			return NULL;
		}
		todo->state = 1;
		pthread_mutex_unlock(&d->lock);

		if (weft_hash_fd(todo->fd, hash) == 0 && done_has(d, hash)) {
			d->same_content++;
			snprintf(err, sizeof(err), "same content as a binary analysed already");
		} else {
			struct timespec t0, t1;

			d->analyses++;
			clock_gettime(CLOCK_BOOTTIME, &t0);
			rc = go_analyze_child(d->dbdir, todo->fd, todo->path, err, sizeof(err));
			clock_gettime(CLOCK_BOOTTIME, &t1);
			todo->t0 = t0.tv_sec + t0.tv_nsec / 1e9;
			todo->t1 = t1.tv_sec + t1.tv_nsec / 1e9;
			if (rc == 0 && hash[0])
				memcpy(d->done[d->ndone++ % DONE_HASHES], hash, sizeof(hash));
		}
		pthread_mutex_lock(&d->lock);
		todo->rc = rc;
		snprintf(todo->err, sizeof(todo->err), "%s", err);
		todo->state = 2;
		pthread_mutex_unlock(&d->lock);
	}
}

void go_disc_poll(struct go_disc *d)
{
	struct pending *done = NULL, **pp, *p;

	pthread_mutex_lock(&d->lock);
	for (pp = &d->queue; (p = *pp);) {
		if (p->state != 2) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		p->next = done;
		done = p;
	}
	pthread_mutex_unlock(&d->lock);
	while ((p = done)) {
		done = p->next;
		if (p->t1 > 0)
			weft_debug("%s: analysed in %.1f ms (off the event path, from %.3f to %.3f s since boot)",
				   p->path, (p->t1 - p->t0) * 1e3, p->t0, p->t1);
		if (p->rc)
			weft_warn("%s: left alone: %s", p->path, p->err);
		for (size_t i = 0; i < p->npids && !p->rc; i++) {
			char link[64], path[PATH_MAX];
			int rc, fd;

			/* Each process's own file (same content); exited meanwhile: forgotten. */
			snprintf(link, sizeof(link), "/proc/%d/exe", (int)p->pids[i]);
			if (weft_proc_exe(p->pids[i], path, sizeof(path)) ||
			    (fd = open(link, O_RDONLY | O_CLOEXEC)) < 0)
				continue;
			rc = d->attach(d->ctx, p->pids[i], fd, path);
			close(fd);
			if (rc == GO_DISC_MISS) {
				weft_warn("pid %d (%s): left alone: %s", p->pids[i], path,
					  *p->err ? p->err : "not a supported Go binary");
				break;
			}
			d->attached += rc == GO_DISC_ATTACHED;
			if (rc == GO_DISC_ATTACHED)
				weft_debug("pid %d (%s): ready to trace (after its analysis)",
					   p->pids[i], path);
		}
		close(p->fd);
		free(p->pids);
		free(p);
	}
}

void go_disc_summary(const struct go_disc *d)
{
	weft_info("discovery: %llu Go processes matched, %llu attached, %llu non-Go left alone; "
		  "%llu analyses, %llu skipped (same content)",
		  d->matched, d->attached, d->left, d->analyses, d->same_content);
}

void go_disc_free(struct go_disc *d)
{
	struct pending *p;

	if (!d)
		return;
	if (d->worker_on) {
		pthread_mutex_lock(&d->lock);
		d->quit = true;
		pthread_cond_broadcast(&d->cond);
		pthread_mutex_unlock(&d->lock);
		go_analyze_stop();
		pthread_join(d->worker, NULL);
	}
	while ((p = d->queue)) {
		d->queue = p->next;
		close(p->fd);
		free(p->pids);
		free(p);
	}
	go_discover__destroy(d->skel);
	for (int i = 0; i < GO_DISC_MAX_SEL; i++)
		if (d->cgfd[i] >= 0)
			close(d->cgfd[i]);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	free(d);
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * weft-go: W3C trace context for Go net/http services, by uprobes.
 *
 *   weft-go [--db DIR] (--exe PATH | --pid PID | --cgroup PATH | --exe-name GLOB |
 *            --port N)... [--no-write] [--no-analyze] [--server-syscalls]
 *            [--spans-file F] [--verbose]
 *
 * Reads each binary's offsets record (analysing a missing binary on the spot),
 * attaches uprobes, exports a SERVER span per request served and a CLIENT span
 * per request sent, and writes traceparent into outgoing requests when the
 * kernel allows bpf_probe_write_user. Otherwise (lockdown, --no-write) it runs
 * read-only and publishes each outgoing request's context per connection in a
 * pinned map for weft-http. See docs/weft-go.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "log.h"
#include "offsets.h"
#include "exporter.h"
#include "weft_span.h"
#include "go/weft_go.h"
#include "bpf/go/weft_go.skel.h"
#include "go_binary.h"
#include "pins.h"
#include "weft_conn_ctx.h"
#include "go_procs.h"
#include "go_analyze.h"
#include "host.h"
#include "injector.h"
#include "go_discover.h"

#define MAX_ARGS WEFT_GO_MAX_BINARIES

struct opts {
	struct weft_inj_opts c; /* --pid, --cgroup, --spans-file, --verbose */
	const char *db;
	const char *exes[MAX_ARGS];
	int nexes;
	struct go_disc_sel sel; /* --cgroup, --exe-name, --port: discovery */
	bool no_write, no_analyze, syscalls;
};

struct state {
	struct weft_go *skel;
	struct weft_exporter *exp;
	struct go_binary bins[WEFT_GO_MAX_BINARIES];
	unsigned nbins;
	struct weft_pins pins; /* go_conn_ctx, go_pids: shared with the other injectors */
	struct go_disc *disc;
	struct bpf_link *sys_link; /* go_sys_exit, once a binary uses --server-syscalls */
};

enum { OPT_NAME = 0x100, OPT_PORT, OPT_NO_WRITE, OPT_NO_ANALYZE, OPT_SYSCALLS };

static const struct weft_inj_flag go_flags[] = {
    {{"db", required_argument, NULL, 'd'},
     "DIR",
     "offsets database (default $WEFT_OFFSETS_DB or " WEFT_DB_DEFAULT_DIR ")"},
    {{"exe", required_argument, NULL, 'e'},
     "PATH",
     "every process of this executable, now and later (repeatable)"},
    {{"exe-name", required_argument, NULL, OPT_NAME},
     "GLOB",
     "every Go process whose executable's name matches, now and later"},
    {{"port", required_argument, NULL, OPT_PORT},
     "N",
     "every Go process listening on TCP port N, now and later"},
    {{"no-write", no_argument, NULL, OPT_NO_WRITE},
     NULL,
     "never write into processes: spans and published context only"},
    {{"no-analyze", no_argument, NULL, OPT_NO_ANALYZE},
     NULL,
     "a binary missing from the database is an error"},
    {{"server-syscalls", no_argument, NULL, OPT_SYSCALLS},
     NULL,
     "plaintext HTTP/1 SERVER spans from read/write syscalls, not ServeHTTP uprobes"},
    {},
};

static int go_flag(void *ctx, int id, const char *arg)
{
	struct opts *o = ctx;
	struct go_disc_sel *sel = &o->sel;
	char *end;
	long v;

	switch (id) {
	case 'd':
		o->db = arg;
		return 0;
	case 'e':
		if (o->nexes == MAX_ARGS) {
			weft_err("too many --exe: at most %d", MAX_ARGS);
			return -1;
		}
		o->exes[o->nexes++] = arg;
		return 0;
	case OPT_NO_WRITE:
		o->no_write = true;
		return 0;
	case OPT_NO_ANALYZE:
		o->no_analyze = true;
		return 0;
	case OPT_SYSCALLS:
		o->syscalls = true;
		return 0;
	case OPT_NAME:
		if (sel->nnames == GO_DISC_MAX_SEL)
			break;
		sel->names[sel->nnames++] = arg;
		return 0;
	default: /* OPT_PORT */
		v = strtol(arg, &end, 10);
		if (*end || v <= 0 || v > 65535) {
			weft_err("bad --port %s: give a TCP port, 1..65535", arg);
			return -1;
		}
		if (sel->nports == GO_DISC_MAX_SEL)
			break;
		sel->ports[sel->nports++] = (uint16_t)v;
		return 0;
	}
	weft_err("too many selectors: at most %d of each", GO_DISC_MAX_SEL);
	return -1;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	const struct weft_inj_cli cli = {
	    .synopsis =
		"[--db DIR] (--exe PATH | --pid PID | --cgroup PATH |\n"
		"               --exe-name GLOB | --port N)... [--no-write] [--no-analyze]\n"
		"               [--server-syscalls] [--spans-file F] [--verbose]",
	    .about = "W3C trace context for Go net/http services, by uprobes: a SERVER span per\n"
		     "request served, a CLIENT span per request sent, traceparent written into\n"
		     "outgoing requests where the kernel allows bpf_probe_write_user. Targets:\n"
		     "each --pid, every process of each --exe, and every Go process --cgroup,\n"
		     "--exe-name or --port find, now and later.",
	    .flags = go_flags,
	    .on_flag = go_flag,
	    .ctx = o,
	    .max_cgroups = GO_DISC_MAX_SEL,
	    .max_pids = MAX_ARGS,
	};

	if (weft_inj_parse(&cli, argc, argv, &o->c))
		return -1;
	for (int i = 0; i < o->c.ncgroups; i++)
		o->sel.cgroups[i] = o->c.cgroups[i];
	o->sel.ncgroups = o->c.ncgroups;
	if (!o->nexes && !o->c.npids && !go_disc_any(&o->sel)) {
		weft_err("no target: give --exe PATH, --pid PID, --cgroup PATH, --exe-name GLOB or "
			 "--port N");
		return -1;
	}
	return 0;
}

/* The targets map: tgid -> binary index, read by every BPF program. */
static int targets_fd = -1;

static void add_target(pid_t pid, void *arg)
{
	const struct go_binary *b = arg;
	__u32 tgid = (__u32)pid, idx = b->index;

	if (bpf_map_update_elem(targets_fd, &tgid, &idx, BPF_ANY) == 0)
		weft_debug("pid %d (%s): instrumented", pid, b->path);
	else
		weft_warn("pid %d: cannot add to the targets map: %s", pid, strerror(errno));
}

/* Running, not a zombie (its exit tracepoint may have fired before it was added). */
static bool proc_alive(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* Discovery: drop targets whose process is gone (an exit that raced the add). */
static void sweep_targets(void)
{
	__u32 key, next, *prev = NULL;

	while (bpf_map_get_next_key(targets_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (!proc_alive((pid_t)next))
			bpf_map_delete_elem(targets_fd, &next);
	}
}

/* The binary for (dev, ino), added if new. NULL when the table is full. */
static struct go_binary *binary_for(struct state *st, const struct stat *sb, const char *path,
				    bool *is_new)
{
	struct go_binary *b;

	*is_new = false;
	for (unsigned i = 0; i < st->nbins; i++)
		if (st->bins[i].dev == sb->st_dev && st->bins[i].ino == sb->st_ino)
			return &st->bins[i];
	if (st->nbins == WEFT_GO_MAX_BINARIES)
		return NULL;
	b = &st->bins[st->nbins];
	memset(b, 0, sizeof(*b));
	snprintf(b->path, sizeof(b->path), "%s", path);
	b->dev = sb->st_dev;
	b->ino = sb->st_ino;
	b->index = st->nbins++;
	*is_new = true;
	return b;
}

/* Set by discovery around setup_binary: the identity of the file as mapped. */
static const struct stat *file_id;

/* Attach to one executable; 0 attached, 1 unsupported (said), -1 failure (said). */
static int setup_binary(struct state *st, const struct go_env *env, const char *path,
			const char *open_path, pid_t pid)
{
	char err[1024] = "";
	struct go_binary *b;
	struct stat sb;
	bool is_new;
	int fd;

	fd = open(open_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb)) {
		weft_err("cannot open %s: %s: check the path or pid", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (file_id) { /* discovery: the file as mapped (one per overlayfs lower file) */
		sb.st_dev = file_id->st_dev;
		sb.st_ino = file_id->st_ino;
	}
	b = binary_for(st, &sb, path, &is_new);
	if (!b) {
		weft_err("too many binaries: at most %d", WEFT_GO_MAX_BINARIES);
		close(fd);
		return -1;
	}
	if (is_new) {
		struct timespec t0, t1;

		if (pid > 0) /* read where the process sees it (another mount namespace) */
			snprintf(b->attach_path, sizeof(b->attach_path), "/proc/self/fd/%d", fd);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		switch (go_binary_attach(b, env, fd, err, sizeof(err))) {
		case GO_BIN_OK:
			clock_gettime(CLOCK_MONOTONIC, &t1);
			weft_info("%s (%s): %zu uprobes%s, %s%s%s; %s%s", b->path, b->go_version,
				  b->nhooks, b->returns,
				  b->write || b->grpc_write || b->h2_write || b->xh2_write
				      ? "writes on"
				      : "read-only",
				  b->grpc_write ? (b->write ? " (HTTP/1 and gRPC)" : " (gRPC)") : "",
				  b->h2_path, b->server_path, b->h2c_path);
			if (b->syscalls && !st->sys_link) {
				st->sys_link = bpf_program__attach(st->skel->progs.go_sys_exit);
				if (!st->sys_link) {
					weft_err(
					    "cannot attach the sys_exit raw tracepoint: %s: run "
					    "without --server-syscalls",
					    strerror(errno));
					return -1;
				}
			}
			weft_debug("%s: record and uprobes in %.1f ms", b->path,
				   (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
				       (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
			break;
		case GO_BIN_UNSUPPORTED:
			weft_warn("%s: left alone", err);
			st->nbins--;
			close(fd);
			return 1;
		default:
			if (weft_inj_stopping())
				weft_info("stopped during start-up: %s", err);
			else
				weft_err("%s", err);
			st->nbins--;
			close(fd);
			return -1;
		}
	}
	close(fd);
	b->attach_path[0] = 0;
	if (pid > 0) {
		add_target(pid, b);
		if (!proc_alive(pid)) { /* exited before it was added */
			__u32 tgid = (__u32)pid;

			bpf_map_delete_elem(targets_fd, &tgid);
		}
	} else {
		struct weft_go_inode ino = {.dev = go_kdev(sb.st_dev), .ino = sb.st_ino};
		__u32 idx = b->index;

		struct weft_go_cfg cfg;
		int cfd = bpf_map__fd(st->skel->maps.cfgs);

		b->watch = true;
		if (bpf_map_update_elem(bpf_map__fd(st->skel->maps.watched), &ino, &idx, BPF_ANY)) {
			weft_err("cannot watch %s: %s", path, strerror(errno));
			return -1;
		}
		/* Every process of it is a target: the BPF programs skip the pid check. */
		if (bpf_map_lookup_elem(cfd, &idx, &cfg) == 0) {
			cfg.flags |= WEFT_GO_CFG_ALLPROCS;
			bpf_map_update_elem(cfd, &idx, &cfg, BPF_ANY);
		}
		go_procs_of(sb.st_dev, sb.st_ino, add_target, b);
	}
	return 0;
}

/* Discovery hands a Go process over: attach it if its record is in the database. */
static struct go_env disc_env; /* never analyses: the record is there */
static bool disc_no_analyze;   /* --no-analyze: a miss is left alone */

static int disc_attach(void *ctx, pid_t pid, int fd, const char *path)
{
	struct state *st = ctx;
	struct weft_record *rec = NULL;
	char open_path[64], err[512] = "";
	struct stat sb;
	bool known = false;
	int rc;

	if (fstat(fd, &sb))
		return GO_DISC_FAILED;
	go_disc_file_id(pid, path, &sb.st_dev, &sb.st_ino); /* else as opened */
	for (unsigned i = 0; i < st->nbins && !known; i++)
		known = st->bins[i].dev == sb.st_dev && st->bins[i].ino == sb.st_ino;
	if (!known) {
		rc = weft_db_lookup_fd(disc_env.db, fd, path, &rec, err, sizeof(err));
		weft_record_free(rec);
		if (rc == -ENOENT && disc_no_analyze)
			weft_warn(
			    "pid %d (%s): not in the offsets database (--no-analyze): left alone",
			    pid, path);
		if (rc == -ENOENT)
			return disc_no_analyze ? GO_DISC_LEFT : GO_DISC_MISS;
		if (rc) {
			weft_warn("pid %d (%s): offsets lookup failed: %s", pid, path, err);
			return GO_DISC_FAILED;
		}
	}
	snprintf(open_path, sizeof(open_path), "/proc/self/fd/%d", fd);
	file_id = &sb;
	rc = setup_binary(st, &disc_env, path, open_path, pid);
	file_id = NULL;
	return rc == 0 ? GO_DISC_ATTACHED : rc > 0 ? GO_DISC_LEFT : GO_DISC_FAILED;
}

static int on_proc(void *ctx, void *data, size_t len)
{
	const struct state *st = ctx;
	const struct weft_go_proc_event *e = data;

	if (len < sizeof(*e))
		return 0;
	if (e->type == WEFT_GO_PROC_EXEC && e->bin < st->nbins)
		weft_debug("pid %u (%s): started, instrumented", e->pid, st->bins[e->bin].path);
	else if (e->type == WEFT_GO_PROC_EXIT)
		weft_debug("pid %u: exited, forgotten", e->pid);
	return 0;
}

static const char *const go_counter_names[WEFT_GO_ST_MAX] = {
    [WEFT_GO_ST_SERVER] = "server-spans",
    [WEFT_GO_ST_CLIENT] = "client-spans",
    [WEFT_GO_ST_WRITES] = "writes",
    [WEFT_GO_ST_SKIP_STATE] = "skip-state",
    [WEFT_GO_ST_SKIP_SPACE] = "skip-space",
    [WEFT_GO_ST_SKIP_APPSET] = "skip-app-set",
    [WEFT_GO_ST_SKIP_UNKNOWN] = "skip-unscanned",
    [WEFT_GO_ST_SKIP_FAULT] = "skip-fault",
    [WEFT_GO_ST_PUBLISHED] = "published",
    [WEFT_GO_ST_PUBLISH_SKIP] = "not-published",
    [WEFT_GO_ST_RB_DROP] = "spans-lost",
    [WEFT_GO_ST_IN_VALID] = "incoming-valid",
    [WEFT_GO_ST_IN_INVALID] = "incoming-invalid",
    [WEFT_GO_ST_HITS] = "uprobe-hits",
    [WEFT_GO_ST_SKIP_SHARED] = "skip-shared-header-map",
    [WEFT_GO_ST_SKIP_WRITER] = "skip-not-bufio-writer",
    [WEFT_GO_ST_NO_STATE] = "no-thread-state",
    [WEFT_GO_ST_SKIP_FORWARDED] = "skip-forwarded",
    [WEFT_GO_ST_TS_WRITES] = "tracestate-writes",
    [WEFT_GO_ST_TS_SKIP] = "tracestate-skipped",
    [WEFT_GO_ST_STREAM_PUBLISHED] = "stream-published",
    [WEFT_GO_ST_STREAM_SKIP] = "stream-not-published",
    [WEFT_GO_ST_STREAM_APPSET] = "grpc-app-traceparent",
    [WEFT_GO_ST_H2_PUBLISHED] = "h2-stream-published",
    [WEFT_GO_ST_H2_SKIP] = "h2-stream-not-published",
    [WEFT_GO_ST_H2_APPSET] = "h2-app-traceparent",
    [WEFT_GO_ST_SYS_NO_G] = "syscall-no-goroutine",
    [WEFT_GO_ST_GRPCW_WRITES] = "grpc-writes",
    [WEFT_GO_ST_GRPCW_TS_WRITES] = "grpc-tracestate-writes",
    [WEFT_GO_ST_GRPCW_SKIP_FIELDS] = "grpc-skip-fields",
    [WEFT_GO_ST_GRPCW_SKIP_FRAME] = "grpc-skip-frame",
    [WEFT_GO_ST_GRPCW_SKIP_CONT] = "grpc-skip-continuation",
    [WEFT_GO_ST_GRPCW_SKIP_SIZE] = "grpc-skip-frame-size",
    [WEFT_GO_ST_GRPCW_SKIP_SPACE] = "grpc-skip-space",
    [WEFT_GO_ST_GRPCW_SKIP_STATE] = "grpc-skip-state",
    [WEFT_GO_ST_GRPCW_BW_WRITES] = "grpc-bufwriter-writes",
    [WEFT_GO_ST_GRPCW_SKIP_BW] = "grpc-skip-bufwriter",
    [WEFT_GO_ST_H2W_WRITES] = "h2-writes",
    [WEFT_GO_ST_H2W_TS_WRITES] = "h2-tracestate-writes",
    [WEFT_GO_ST_H2W_SKIP_NOFRAME] = "h2-skip-no-frame",
    [WEFT_GO_ST_H2W_SKIP_FRAME] = "h2-skip-frame",
    [WEFT_GO_ST_H2W_SKIP_CONT] = "h2-skip-continuation",
    [WEFT_GO_ST_H2W_SKIP_SIZE] = "h2-skip-frame-size",
    [WEFT_GO_ST_H2W_SKIP_SPACE] = "h2-skip-space",
    [WEFT_GO_ST_H2W_SKIP_STATE] = "h2-skip-state",
    [WEFT_GO_ST_H2W_BW_WRITES] = "h2-bufio-writes",
    [WEFT_GO_ST_H2W_SKIP_BW] = "h2-skip-bufio",
    [WEFT_GO_ST_H2W_APPSET] = "h2-write-app-traceparent",
};

/*
 * One line of HEADERS frame writes: the WEFT_GO_ST_GRPCW_* counters plus d
 * (gRPC's, or the HTTP/2 clients' twins); writer: where a frame without room
 * in wbuf is written; first: what the first skip counter means for them.
 */
static void print_h2_writes(const uint64_t *tot, unsigned d, const char *what, const char *writer,
			    const char *first, const char *tail)
{
	const uint64_t *t = tot + d;

	weft_info("%s: %llu HEADERS frames (%llu with tracestate, %llu in the %s), %llu skipped "
		  "(%s %llu, not the stream's HEADERS %llu, CONTINUATION %llu, frame size %llu, "
		  "space %llu, %s %llu, state %llu)%s",
		  what, (unsigned long long)t[WEFT_GO_ST_GRPCW_WRITES],
		  (unsigned long long)t[WEFT_GO_ST_GRPCW_TS_WRITES],
		  (unsigned long long)t[WEFT_GO_ST_GRPCW_BW_WRITES], writer,
		  (unsigned long long)(t[WEFT_GO_ST_GRPCW_SKIP_FIELDS] +
				       t[WEFT_GO_ST_GRPCW_SKIP_FRAME] +
				       t[WEFT_GO_ST_GRPCW_SKIP_CONT] + t[WEFT_GO_ST_GRPCW_SKIP_SIZE] +
				       t[WEFT_GO_ST_GRPCW_SKIP_SPACE] + t[WEFT_GO_ST_GRPCW_SKIP_BW] +
				       t[WEFT_GO_ST_GRPCW_SKIP_STATE]),
		  first, (unsigned long long)t[WEFT_GO_ST_GRPCW_SKIP_FIELDS],
		  (unsigned long long)t[WEFT_GO_ST_GRPCW_SKIP_FRAME],
		  (unsigned long long)t[WEFT_GO_ST_GRPCW_SKIP_CONT],
		  (unsigned long long)t[WEFT_GO_ST_GRPCW_SKIP_SIZE],
		  (unsigned long long)t[WEFT_GO_ST_GRPCW_SKIP_SPACE], writer,
		  (unsigned long long)t[WEFT_GO_ST_GRPCW_SKIP_BW],
		  (unsigned long long)t[WEFT_GO_ST_GRPCW_SKIP_STATE], tail);
}

/*
 * Without uprobe_multi links every uprobe site takes two descriptors (its
 * perf event and its link): some 35 sites per binary with writes, and
 * --exe takes many binaries. The soft limit goes up to the hard one.
 */
static void raise_nofile(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) || r.rlim_cur >= r.rlim_max)
		return;
	r.rlim_cur = r.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &r))
		weft_warn("cannot raise the open-files limit to %llu: %s: fewer binaries can be "
			  "instrumented",
			  (unsigned long long)r.rlim_max, strerror(errno));
}

/* The counters as sentences; every one by name with --verbose. */
static void print_stats(struct state *st, bool write, bool publish, bool syscalls, bool verbose)
{
	uint64_t tot[WEFT_GO_ST_MAX];
	char appset[96];

	weft_inj_counters_read(bpf_map__fd(st->skel->maps.stats), tot, WEFT_GO_ST_MAX);
	weft_info("spans: %llu server, %llu client, %llu lost, %llu not started (no per-thread "
		  "state); incoming traceparent: %llu valid, %llu invalid",
		  (unsigned long long)tot[WEFT_GO_ST_SERVER],
		  (unsigned long long)tot[WEFT_GO_ST_CLIENT],
		  (unsigned long long)tot[WEFT_GO_ST_RB_DROP],
		  (unsigned long long)tot[WEFT_GO_ST_NO_STATE],
		  (unsigned long long)tot[WEFT_GO_ST_IN_VALID],
		  (unsigned long long)tot[WEFT_GO_ST_IN_INVALID]);
	weft_info("writes: %llu done, %llu skipped (state %llu, space %llu, app-set %llu, "
		  "unscanned %llu, fault %llu, shared header map %llu, not a bufio.Writer %llu, "
		  "forwarded %llu)%s",
		  (unsigned long long)tot[WEFT_GO_ST_WRITES],
		  (unsigned long long)(tot[WEFT_GO_ST_SKIP_STATE] + tot[WEFT_GO_ST_SKIP_SPACE] +
				       tot[WEFT_GO_ST_SKIP_APPSET] + tot[WEFT_GO_ST_SKIP_UNKNOWN] +
				       tot[WEFT_GO_ST_SKIP_FAULT] + tot[WEFT_GO_ST_SKIP_SHARED] +
				       tot[WEFT_GO_ST_SKIP_WRITER] +
				       tot[WEFT_GO_ST_SKIP_FORWARDED]),
		  (unsigned long long)tot[WEFT_GO_ST_SKIP_STATE],
		  (unsigned long long)tot[WEFT_GO_ST_SKIP_SPACE],
		  (unsigned long long)tot[WEFT_GO_ST_SKIP_APPSET],
		  (unsigned long long)tot[WEFT_GO_ST_SKIP_UNKNOWN],
		  (unsigned long long)tot[WEFT_GO_ST_SKIP_FAULT],
		  (unsigned long long)tot[WEFT_GO_ST_SKIP_SHARED],
		  (unsigned long long)tot[WEFT_GO_ST_SKIP_WRITER],
		  (unsigned long long)tot[WEFT_GO_ST_SKIP_FORWARDED], write ? "" : " (read-only)");
	if (write)
		weft_info("tracestate: %llu written beside a traceparent, %llu not (no room, or "
			  "the client span's state gone)",
			  (unsigned long long)tot[WEFT_GO_ST_TS_WRITES],
			  (unsigned long long)tot[WEFT_GO_ST_TS_SKIP]);
	if (write) {
		print_h2_writes(tot, 0, "gRPC writes", "bufWriter", "header fields", "");
		snprintf(appset, sizeof(appset), ", %llu with the app's own traceparent (left as is)",
			 (unsigned long long)tot[WEFT_GO_ST_H2W_APPSET]);
		print_h2_writes(tot, WEFT_GO_ST_H2W_DELTA,
				"HTTP/2 client writes (net/http, x/net)", "bufio.Writer", "no frame",
				appset);
	}
	if (publish)
		weft_info(
		    "published: %llu connection contexts, %llu not published (TLS or no socket)",
		    (unsigned long long)tot[WEFT_GO_ST_PUBLISHED],
		    (unsigned long long)tot[WEFT_GO_ST_PUBLISH_SKIP]);
	if (publish)
		weft_info("published: %llu gRPC stream contexts, %llu not published (not plain TCP, "
			  "or no socket cookie: no weft-http enrolled the connection)",
			  (unsigned long long)tot[WEFT_GO_ST_STREAM_PUBLISHED],
			  (unsigned long long)tot[WEFT_GO_ST_STREAM_SKIP]);
	if (publish)
		weft_info("published: %llu HTTP/2 client stream contexts (net/http, x/net), %llu "
			  "not published (TLS, no stream id, or no socket cookie: no weft-http "
			  "enrolled the connection), %llu with the app's own traceparent",
			  (unsigned long long)tot[WEFT_GO_ST_H2_PUBLISHED],
			  (unsigned long long)tot[WEFT_GO_ST_H2_SKIP],
			  (unsigned long long)tot[WEFT_GO_ST_H2_APPSET]);
	weft_info("gRPC calls whose app sent its own traceparent (left as is): %llu",
		  (unsigned long long)tot[WEFT_GO_ST_STREAM_APPSET]);
	if (syscalls)
		weft_info(
		    "requests read at syscalls whose goroutine was not found (untraced): %llu",
		    (unsigned long long)tot[WEFT_GO_ST_SYS_NO_G]);
	weft_debug("uprobe hits in targets: %llu", (unsigned long long)tot[WEFT_GO_ST_HITS]);
	if (verbose)
		weft_inj_counters_print(go_counter_names, tot, WEFT_GO_ST_MAX);
}

/* After each drain: discovery's work, and once a second the targets sweep. */
static int go_tick(void *ctx)
{
	struct state *st = ctx;
	static time_t last;
	time_t now;

	if (!st->disc)
		return 0;
	go_disc_poll(st->disc);
	now = time(NULL);
	if (now != last) {
		sweep_targets();
		last = now;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct state st;
	struct opts o = {};
	struct go_env env = {};
	struct weft_exporter_opts eo = {.injector = "weft-go"};
	struct ring_buffer *rb = NULL;
	struct bpf_link *exec_l = NULL, *exit_l = NULL;
	struct go_disc *disc = NULL;
	char err[1024] = "", why[256] = "";
	int rc = 1, attached = 0, load_err;

	weft_inj_start("weft-go", go_analyze_stop); /* an analysis on the spot ends too */
	if (parse_args(argc, argv, &o))
		return 2;

	if (o.no_write) {
		weft_info("read-only mode (--no-write): spans exported, nothing written, outgoing "
			  "context published per connection");
	} else if (!weft_have_probe_write_user(why, sizeof(why))) {
		weft_info("read-only mode: %s: spans exported, nothing written, outgoing context "
			  "published per connection",
			  why);
		o.no_write = true;
	}
	env.write = !o.no_write;
	env.publish = o.no_write;
	env.no_analyze = o.no_analyze;

	env.db = weft_db_open(o.db, (o.no_analyze ? 0 : WEFT_DB_CREATE) | WEFT_DB_STRICT, err,
			      sizeof(err));
	if (!env.db) {
		weft_err("%s", err);
		return 1;
	}
	if (weft_pins_begin(&st.pins, err, sizeof(err))) {
		weft_err("%s", err);
		goto out;
	}
	st.skel = weft_go__open_opts(&st.pins.opts);
	if (!st.skel) {
		weft_err("cannot open the BPF object: %s: run as root on a kernel with BPF",
			 strerror(errno));
		goto out;
	}
	/* Writes and publication exclude each other: load only what is used. */
	bpf_program__set_autoload(st.skel->progs.go_write_site, env.write);
	bpf_program__set_autoload(st.skel->progs.go_write_after, env.write);
	bpf_program__set_autoload(st.skel->progs.go_pc_rt_entry, env.publish);
	/* --server-syscalls: the HTTP/1 parser needs bpf_loop (5.17+) */
	env.syscalls = o.syscalls;
	if (o.syscalls && !weft_have_helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_loop)) {
		weft_info(
		    "--server-syscalls: this kernel has no bpf_loop: SERVER spans by uprobes");
		env.syscalls = false;
	}
	bpf_program__set_autoload(st.skel->progs.go_sys_exit, env.syscalls);
	if (!env.syscalls) /* its connection map unused: no preallocated LRU entries */
		bpf_map__set_max_entries(st.skel->maps.sys_conns, 1);
	/* grpc-go client streams: their context is published, or written (go_h2write) */
	bpf_program__set_autoload(st.skel->progs.go_h2_endwrite_entry, env.write);
	bpf_program__set_autoload(st.skel->progs.go_h2_endwrite_ret, env.write);
	bpf_program__set_autoload(st.skel->progs.go_h2b_endwrite_entry, env.write);
	bpf_program__set_autoload(st.skel->progs.go_h2b_endwrite_ret, env.write);
	env.multi = !getenv("WEFT_GO_NO_UPROBE_MULTI") && weft_have_uprobe_multi();
	if (!env.multi)
		raise_nofile();
	if (env.multi) {
		struct bpf_program *p;

		bpf_object__for_each_program(p, st.skel->obj) if (bpf_program__type(p) ==
								  BPF_PROG_TYPE_KPROBE)
		    bpf_program__set_expected_attach_type(p, BPF_TRACE_UPROBE_MULTI);
	}
	load_err = weft_go__load(st.skel);
	weft_pins_loaded(&st.pins);
	if (load_err) {
		weft_inj_load_failed("the BPF programs", load_err,
				     "needs BTF; --verbose shows libbpf's reasons");
		goto out;
	}
	env.skel = st.skel;
	/*
	 * go_pids (our targets: the other injectors leave their spans to us) and
	 * go_conn_ctx are pinned and shared; we are their only writer, so what a
	 * killed run left in them goes.
	 */
	targets_fd = bpf_map__fd(st.skel->maps.go_pids);
	weft_map_clear(targets_fd);
	weft_map_clear(bpf_map__fd(st.skel->maps.go_conn_ctx));
	weft_map_clear(bpf_map__fd(st.skel->maps.go_stream_ctx));
	eo.spans_file = o.c.spans_file;
	/*
	 * A smaller span queue than the default keeps RSS down (the ring is
	 * touched whole as it wraps); still twice OTel's default of 2048. The
	 * env overrides.
	 */
	if (!getenv("WEFT_EXPORTER_QUEUE_MAX") && !getenv("OTEL_BSP_MAX_QUEUE_SIZE"))
		eo.queue_max = 4096;
	st.exp = weft_exporter_new(&eo, err, sizeof(err));
	if (!st.exp) {
		weft_err("%s", err);
		goto out;
	}
	/* Processes started from now on are caught by the exec tracepoint. */
	exec_l = bpf_program__attach(st.skel->progs.go_exec);
	exit_l = bpf_program__attach(st.skel->progs.go_exit);
	if (!exec_l || !exit_l) {
		weft_err("cannot attach the sched_process_exec/exit raw tracepoints: %s: run as "
			 "root on Linux 4.17 or later",
			 strerror(errno));
		goto out;
	}
	for (int i = 0; i < o.nexes && !weft_inj_stopping(); i++) {
		char real[PATH_MAX];

		if (!realpath(o.exes[i], real)) {
			weft_err("cannot find %s: %s: give the path of a Go executable", o.exes[i],
				 strerror(errno));
			goto out;
		}
		rc = setup_binary(&st, &env, real, real, 0);
		if (rc < 0) {
			rc = weft_inj_stopping() ? 0 : 1;
			goto out;
		}
		attached += rc == 0;
	}
	for (int i = 0; i < o.c.npids && !weft_inj_stopping(); i++) {
		char exe[64], real[PATH_MAX];
		ssize_t n;

		snprintf(exe, sizeof(exe), "/proc/%d/exe", o.c.pids[i]);
		n = readlink(exe, real, sizeof(real) - 1);
		if (n < 0) {
			weft_err("no process %d: %s: check the pid", o.c.pids[i], strerror(errno));
			rc = 1;
			goto out;
		}
		real[n] = 0;
		rc = setup_binary(&st, &env, real, exe, o.c.pids[i]);
		if (rc < 0) {
			rc = weft_inj_stopping() ? 0 : 1;
			goto out;
		}
		attached += rc == 0;
	}
	rc = weft_inj_stopping() ? 0 : 1;
	if (weft_inj_stopping())
		goto out; /* a stop request during start-up: clean up, exit 0 */
	if (go_disc_any(&o.sel)) {
		disc_env = env;
		disc_env.no_analyze = true; /* analyses run on discovery's thread */
		disc = go_disc_new(&o.sel, weft_db_dir(env.db), disc_attach, &st, err, sizeof(err));
		if (!disc) {
			weft_err("%s", err);
			goto out;
		}
		disc_no_analyze = o.no_analyze;
		go_disc_scan(disc);
	} else if (!attached) {
		weft_err("no supported Go binary among the targets: nothing to do");
		goto out;
	}
	/* one loop over every ring: spans, process events, discovery's events */
	rb = ring_buffer__new(bpf_map__fd(st.skel->maps.spans), weft_inj_span_sample, st.exp, NULL);
	if (!rb || ring_buffer__add(rb, bpf_map__fd(st.skel->maps.procs), on_proc, &st) ||
	    (disc && go_disc_ring(disc, &rb))) {
		weft_err("cannot open the ring buffers: %s", strerror(errno));
		goto out;
	}
	st.disc = disc;
	weft_inj_ready("%s; stop with Ctrl-C", env.write ? "writes on" : "read-only");
	if (weft_inj_run(rb, go_tick, &st))
		goto out;
	rc = 0;
out:
	/*
	 * Drain and flush first, so spans are out promptly; detaching uprobes
	 * can take a while on some kernels. Events arriving meanwhile are dropped.
	 */
	if (rb)
		ring_buffer__consume(rb);
	if (st.skel && rc == 0)
		print_stats(&st, env.write, env.publish, env.syscalls, o.c.verbose);
	if (disc && rc == 0)
		go_disc_summary(disc);
	go_disc_free(disc);
	if (st.exp)
		weft_exporter_close(st.exp);
	bpf_link__destroy(exec_l);
	bpf_link__destroy(exit_l);
	bpf_link__destroy(st.sys_link);
	for (unsigned i = 0; i < st.nbins; i++)
		go_binary_detach(&st.bins[i]);
	ring_buffer__free(rb);
	if (st.skel) {
		/* our processes are no longer ours: the other injectors take them back */
		weft_map_clear(bpf_map__fd(st.skel->maps.go_pids));
		weft_map_clear(bpf_map__fd(st.skel->maps.go_conn_ctx));
		weft_map_clear(bpf_map__fd(st.skel->maps.go_stream_ctx));
	}
	weft_go__destroy(st.skel);
	weft_pins_end(&st.pins); /* after our map fds are closed */
	weft_db_close(env.db);
	return rc;
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * weft-http: inserts W3C traceparent headers into outgoing HTTP/1.x requests
 * at network level (sk_msg + bpf_msg_push_data) and exports SERVER/CLIENT
 * spans, for services in any language. See docs/weft-http.md.
 */
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lifecycle.h"
#include "log.h"
#include "mounts.h"
#include "exporter.h"
#include "weft_conn_ctx.h"
#include "bpf/net/weft_http.h"
#include "bpf/net/weft_http.skel.h"
#include "loop_threads.h"
#include "rt_discover.h"
#include "rt_asyncio.h"

#define MAX_PIDS 1024
#define CG_UNIFIED "/sys/fs/cgroup/unified"

static volatile sig_atomic_t stop;

struct opts {
	const char *cgroup;
	const char *spans_file;
	unsigned pids[MAX_PIDS];
	int npids;
	bool verbose;
};

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: weft-http [--cgroup PATH] [--pid PID]... [--spans-file F] [--verbose]\n"
		"\n"
		"Inserts a W3C traceparent header into outgoing HTTP/1.x requests of the\n"
		"processes in cgroup v2 PATH (default: the root cgroup, i.e. the whole host),\n"
		"optionally only those of the given PIDs, and exports SERVER/CLIENT spans\n"
		"(OTLP per OTEL_EXPORTER_OTLP_*, or JSON lines to --spans-file).\n"
		"Prints \"weft-http: ready\" on stderr once attached; SIGINT/SIGTERM detach.\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "cgroup", required_argument, NULL, 'c' },
		{ "pid", required_argument, NULL, 'p' },
		{ "spans-file", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:p:s:vh", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->cgroup = optarg;
			break;
		case 'p': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || v <= 0 || v > 0x7fffffff || o->npids >= MAX_PIDS) {
				weft_err("bad --pid '%s': give a process id (at most %d)", optarg,
					 MAX_PIDS);
				return -1;
			}
			o->pids[o->npids++] = (unsigned)v;
			break;
		}
		case 's':
			o->spans_file = optarg;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		weft_err("unexpected argument '%s': see weft-http --help", argv[optind]);
		return -1;
	}
	return 0;
}

static bool is_cgroup2(const char *path)
{
	struct statfs s;

	return statfs(path, &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC;
}

/* The root of the cgroup v2 hierarchy, mounting it at CG_UNIFIED if needed. */
static const char *cgroup2_root(void)
{
	if (is_cgroup2("/sys/fs/cgroup"))
		return "/sys/fs/cgroup";
	if (is_cgroup2(CG_UNIFIED))
		return CG_UNIFIED;
	if (mkdir(CG_UNIFIED, 0755) && errno != EEXIST)
		return NULL;
	if (mount("none", CG_UNIFIED, "cgroup2", 0, NULL))
		return NULL;
	return CG_UNIFIED;
}

static int on_span(void *ctx, void *data, size_t len)
{
	struct weft_exporter *e = ctx;

	if (len >= sizeof(struct weft_span_event))
		weft_exporter_submit(e, data);
	return 0;
}

static int sock_map_fd = -1;
static unsigned long long removed;

static int on_notice(void *ctx, void *data, size_t len)
{
	const struct weft_http_notice *n = data;

	(void)ctx;
	if (len < sizeof(*n))
		return 0;
	/* ENOENT: the socket closed already */
	if (!bpf_map_delete_elem(sock_map_fd, &n->cookie))
		removed++;
	return 0;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	extern bool weft_http_verbose;

	if (level == LIBBPF_DEBUG || (level == LIBBPF_INFO && !weft_http_verbose))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

bool weft_http_verbose;

/* Reuse the map weft-go pinned as name, if any; true when in use. */
static bool reuse_pinned(struct bpf_map *map, const char *name)
{
	const char *dir = getenv("WEFT_PIN_DIR");
	char path[512];
	bool ok = false;
	int fd;

	if (!dir || !*dir)
		dir = WEFT_PIN_DIR;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		weft_debug("no %s: running without weft-go", path);
		return false;
	}
	if (bpf_map__reuse_fd(map, fd))
		weft_warn("cannot use %s: check that weft-go and weft-http are the same version",
			  path);
	else
		ok = true;
	close(fd);
	return ok;
}

/*
 * Use weft-go's pinned maps when it runs: its per-connection contexts, and the
 * set of processes whose spans it makes (so that no span is made twice).
 */
static void reuse_go_map(struct weft_http *skel)
{
	bool ctx = reuse_pinned(skel->maps.go_conn_ctx, WEFT_CONN_CTX_MAP);

	skel->rodata->have_go_pids = reuse_pinned(skel->maps.go_pids, WEFT_GO_PIDS_MAP);
	if (ctx)
		weft_info("using weft-go's connection contexts%s",
			  skel->rodata->have_go_pids ? "; weft-go makes the spans of its processes"
						     : "");
}

/*
 * Two weft-http on overlapping cgroups cannot both work: a socket joins one
 * sockhash only (the second gets EBUSY), so the later one would say ready and
 * insert nothing. Look for another weft-http sockops program on the cgroup,
 * its ancestors (effective programs) and its descendants.
 */
static __u32 other_self;	/* our own sockops program, once attached */
static __u32 other_found;

static __u32 other_on(int cgfd, __u32 flags)
{
	__u32 ids[64], n = 64, af = 0;

	if (bpf_prog_query(cgfd, BPF_CGROUP_SOCK_OPS, flags, &af, ids, &n))
		return 0;
	for (__u32 i = 0; i < n && i < 64; i++) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd;

		if (ids[i] == other_self)
			continue;
		fd = bpf_prog_get_fd_by_id(ids[i]);
		if (fd < 0)
			continue;
		if (!bpf_prog_get_info_by_fd(fd, &info, &len) &&
		    !strncmp(info.name, "weft_http_sockops", sizeof(info.name) - 1)) {
			close(fd);
			return ids[i];
		}
		close(fd);
	}
	return 0;
}

static int other_walk(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	int fd;

	(void)sb;
	if (type != FTW_D || ftw->level == 0)
		return 0;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	other_found = other_on(fd, 0);
	close(fd);
	return other_found ? 1 : 0;
}

/* Fails (one line) when another weft-http instruments processes of this cgroup. */
static int refuse_second(int cgfd, const char *cgroup)
{
	other_found = other_on(cgfd, BPF_F_QUERY_EFFECTIVE);
	if (!other_found)
		nftw(cgroup, other_walk, 16, FTW_PHYS);
	if (!other_found)
		return 0;
	weft_err("another weft-http (BPF program %u) already instruments processes of cgroup %s: "
		 "stop it, or give each weft-http its own cgroups that do not contain each other",
		 other_found, cgroup);
	return -1;
}

/*
 * At exit: the CLIENT spans of requests whose response was not read yet are
 * exported as they are (status 0, ending now), so that every span id written
 * into a request belongs to an exported span.
 */
static void flush_unanswered(struct weft_http *skel, struct weft_exporter *exp)
{
	int fd = bpf_map__fd(skel->maps.client_pending);
	unsigned char key[64], next[64];
	struct weft_span_event ev;
	struct timespec now;
	unsigned n = 0;
	void *prev = NULL;

	if (bpf_map__key_size(skel->maps.client_pending) > sizeof(key) ||
	    bpf_map__value_size(skel->maps.client_pending) != sizeof(ev))
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, sizeof(key));
		prev = key;
		if (bpf_map_lookup_elem(fd, key, &ev))
			continue;
		ev.end_ns = (__u64)now.tv_sec * 1000000000ull + now.tv_nsec;
		weft_exporter_submit(exp, &ev);
		n++;
	}
	if (n)
		weft_info("%u CLIENT spans without a response yet: exported unanswered", n);
}

static void print_counters(struct weft_http *skel)
{
	static const char *const names[WH_NCOUNTERS] = {
		[WH_INSERTED] = "inserted", [WH_LEFT_ALONE] = "left-alone",
		[WH_GO_CTX] = "go-context", [WH_NOT_HTTP] = "non-http-dropped",
		[WH_GIVE_UP] = "given-up", [WH_ERRORS] = "errors",
		[WH_SERVER_SPANS] = "server-spans", [WH_CLIENT_SPANS] = "client-spans",
		[WH_NOT_OURS] = "other-pid-dropped", [WH_PREEMPTED] = "preempted-dropped",
		[WH_BAD_FRAMING] = "bad-framing", [WH_SPLIT] = "split-left-alone",
		[WH_NEW_IDLE] = "new-trace-idle", [WH_NEW_TWO] = "new-trace-two-in-flight",
		[WH_NEW_LOOP] = "new-trace-event-loop", [WH_RT_PARENT] = "runtime-parent",
		[WH_REPLACED] = "forwarded-replaced", [WH_TP_TWICE] = "traceparent-twice",
		[WH_TS_INVALID] = "tracestate-invalid",
	};
	int ncpu = libbpf_num_possible_cpus();
	int fd = bpf_map__fd(skel->maps.counters);
	unsigned long long *v;
	char line[512];
	size_t off = 0;

	if (ncpu <= 0)
		return;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return;
	for (__u32 i = 0; i < WH_NCOUNTERS; i++) {
		unsigned long long sum = 0;

		if (!bpf_map_lookup_elem(fd, &i, v))
			for (int c = 0; c < ncpu; c++)
				sum += v[c];
		off += snprintf(line + off, sizeof(line) - off, "%s%s=%llu", i ? " " : "",
				names[i], sum);
		if (off >= sizeof(line))
			break;
	}
	free(v);
	fprintf(stderr, "weft-http: counters: %s\n", line);
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct weft_exporter_opts eo = { .injector = "weft-http" };
	struct weft_exporter *exp = NULL;
	struct weft_http *skel = NULL;
	struct ring_buffer *rb = NULL;
	struct bpf_link *sockops_link = NULL;
	bool msg_attached = false;
	const char *root;
	char err[256];
	int cgfd = -1, rc = 1, r;
	__u32 zero = 0;

	weft_signals_init(on_signal);
	weft_log_init("weft-http", false);
	if (parse_args(argc, argv, &o))
		return 2;
	weft_http_verbose = o.verbose;
	weft_log_init("weft-http", o.verbose);
	libbpf_set_print(libbpf_print);

	root = cgroup2_root();
	if (!root) {
		weft_err("cannot mount cgroup2 at %s: %s: mount it or pass --cgroup", CG_UNIFIED,
			 strerror(errno));
		return 1;
	}
	if (!o.cgroup)
		o.cgroup = root;
	if (!is_cgroup2(o.cgroup)) {
		weft_err("%s is not a cgroup v2 directory: pass --cgroup PATH under %s", o.cgroup,
			 root);
		return 1;
	}
	cgfd = open(o.cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0) {
		weft_err("cannot open cgroup %s: %s", o.cgroup, strerror(errno));
		return 1;
	}

	skel = weft_http__open();
	if (!skel) {
		weft_err("cannot open BPF object: %s: run as root on a kernel with BTF",
			 strerror(errno));
		goto out;
	}
	skel->rodata->filter_cgroup = strcmp(o.cgroup, root) != 0;
	skel->rodata->filter_pids = o.npids > 0;
	r = libbpf_probe_bpf_helper(BPF_PROG_TYPE_SK_MSG, BPF_FUNC_loop, NULL);
	if (getenv("WEFT_HTTP_NO_BPF_LOOP"))	/* tests: behave as on a kernel < 5.17 */
		r = 0;
	skel->rodata->weft_have_bpf_loop = r == 1;
	if (r != 1)
		weft_warn("this kernel has no bpf_loop (5.17): insertion works for header blocks "
			  "of up to 32 lines; incoming requests are parsed only when a whole header "
			  "block arrives in one read");
	reuse_go_map(skel);
	weft_rt_prepare(skel->obj);
	weft_rt_asyncio_prepare(skel->obj);

	if (weft_http__load(skel)) {
		weft_err("cannot load BPF programs: %s: run as root; see --verbose for the "
			 "verifier log", strerror(errno));
		goto out;
	}
	if (refuse_second(cgfd, o.cgroup))
		goto out;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.target_cg), &zero, &cgfd, BPF_ANY)) {
		weft_err("cannot set target cgroup: %s", strerror(errno));
		goto out;
	}
	for (int i = 0; i < o.npids; i++) {
		__u8 one = 1;

		if (bpf_map_update_elem(bpf_map__fd(skel->maps.target_pids), &o.pids[i], &one,
					BPF_ANY)) {
			weft_err("cannot add pid %u: %s", o.pids[i], strerror(errno));
			goto out;
		}
	}

	sock_map_fd = bpf_map__fd(skel->maps.sock_map);
	eo.spans_file = o.spans_file;
	/* a smaller queue than the default keeps RSS low; the variables still win
	 * (docs/exporter.md and docs/configuration.md give this number) */
	if (!getenv("WEFT_EXPORTER_QUEUE_MAX") && !getenv("OTEL_BSP_MAX_QUEUE_SIZE"))
		eo.queue_max = 8192;
	exp = weft_exporter_new(&eo, err, sizeof(err));
	if (!exp) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.spans), on_span, exp, NULL);
	if (!rb || ring_buffer__add(rb, bpf_map__fd(skel->maps.notices), on_notice, NULL)) {
		weft_err("cannot open ring buffers: %s", strerror(errno));
		goto out;
	}

	/* Order: sk_msg on the map first, then tracepoints, then enrol sockets. */
	if (bpf_prog_attach(bpf_program__fd(skel->progs.weft_http_msg), sock_map_fd,
			    BPF_SK_MSG_VERDICT, 0)) {
		weft_err("cannot attach sk_msg program: %s", strerror(errno));
		goto out;
	}
	msg_attached = true;
	weft_ensure_tracefs();
	if (weft_http__attach(skel)) {
		weft_err("cannot attach syscall tracepoints: %s: mount tracefs at "
			 "/sys/kernel/tracing", strerror(errno));
		goto out;
	}
	sockops_link = bpf_program__attach_cgroup(skel->progs.weft_http_sockops, cgfd);
	if (!sockops_link) {
		weft_err("cannot attach sockops to cgroup %s: %s", o.cgroup, strerror(errno));
		goto out;
	}
	/* two started at the same moment: both see each other now, both stop */
	{
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (!bpf_prog_get_info_by_fd(bpf_program__fd(skel->progs.weft_http_sockops), &info,
					     &len))
			other_self = info.id;
		if (refuse_second(cgfd, o.cgroup))
			goto out;
	}

	weft_loop_prescan(bpf_map__fd(skel->maps.weft_uncertain));
	if (weft_rt_start(skel->obj, rb, o.cgroup, root) ||
	    weft_rt_asyncio_start(skel->obj, rb, o.cgroup, root))
		goto out;

	/* loading parsed the kernel's BTF (megabytes): give the freed heap back */
	malloc_trim(0);
	fprintf(stderr, "weft-http: ready (cgroup %s%s)\n", o.cgroup,
		o.npids ? ", pid filter" : "");

	while (!stop) {
		r = ring_buffer__poll(rb, 100);
		if (r < 0 && r != -EINTR) {
			weft_err("ring buffer poll failed: %s", strerror(-r));
			break;
		}
		ring_buffer__consume(rb);
	}
	rc = 0;

out:
	/* Detach first so no new sockets enrol, then drain and flush. */
	bpf_link__destroy(sockops_link);
	if (msg_attached)
		bpf_prog_detach2(bpf_program__fd(skel->progs.weft_http_msg), sock_map_fd,
				 BPF_SK_MSG_VERDICT);
	weft_rt_stop();
	weft_rt_asyncio_stop();
	if (skel)
		weft_http__detach(skel);
	if (rb) {
		ring_buffer__consume(rb);
		ring_buffer__free(rb);
	}
	if (skel && exp && rc == 0)
		flush_unanswered(skel, exp);
	if (skel && rc == 0)
		print_counters(skel);
	if (exp)
		weft_exporter_close(exp);
	weft_http__destroy(skel);
	if (cgfd >= 0)
		close(cgfd);
	return rc;
}

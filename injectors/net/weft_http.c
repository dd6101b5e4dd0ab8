// SPDX-License-Identifier: BSD-2-Clause
/*
 * weft-http: inserts W3C traceparent headers into outgoing HTTP/1.x requests
 * at network level (sk_msg + bpf_msg_push_data) and exports SERVER/CLIENT
 * spans, for services in any language. See docs/weft-http.md.
 */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "host.h"
#include "injector.h"
#include "log.h"
#include "mounts.h"
#include "exporter.h"
#include "pins.h"
#include "bpf/net/weft_http.h"
#include "bpf/net/weft_http.skel.h"
#include "h2_server.h"
#include "loop_threads.h"
#include "rt_discover.h"
#include "rt_asyncio.h"
#include "tcpopt_util.h"

#define MAX_PIDS 1024

static int parse_args(int argc, char **argv, struct weft_inj_opts *o)
{
	const struct weft_inj_cli cli = {
	    .synopsis = "[--cgroup PATH] [--pid PID]... [--spans-file F] [--verbose]",
	    .about = "Inserts a W3C traceparent header into outgoing HTTP/1.x requests of the\n"
		     "processes in the --cgroup (default: the root cgroup, i.e. the whole host),\n"
		     "only those of the given --pid if any, and exports SERVER/CLIENT spans.",
	    .max_cgroups = 1,
	    .max_pids = MAX_PIDS,
	};

	return weft_inj_parse(&cli, argc, argv, o);
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

/* Run iterator program prog once, to its end: 0, or -1 (said). */
static int run_iter(struct bpf_program *prog)
{
	struct bpf_link *link = bpf_program__attach_iter(prog, NULL);
	char buf[256];
	ssize_t n;
	int fd;

	if (!link) {
		weft_err("cannot attach the socket iterator %s: %s: connections opened before "
			 "weft-http cannot be enrolled; needs BPF iterators (Linux 5.10)",
			 bpf_program__name(prog), strerror(errno));
		return -1;
	}
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		weft_err("cannot create the socket iterator %s: %s", bpf_program__name(prog),
			 strerror(errno));
		bpf_link__destroy(link);
		return -1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	close(fd);
	bpf_link__destroy(link);
	if (n < 0) {
		weft_err("socket iterator %s failed: %s", bpf_program__name(prog), strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Which program enrols the connections established before start
 * (http_enrol.bpf.c): iter/tcp may update the sockhash only where it holds
 * the socket with lock_sock (Linux 6.5+; before, its lock_sock_fast would
 * deadlock with the update); iter/task_file reaches the socket through its
 * file, a pointer 6.1's verifier takes for the sockhash and 6.18's marks
 * untrusted. 6.2 to 6.4 were not tried: there, neither is loaded.
 */
enum enrol_mode { ENROL_NONE, ENROL_FILE, ENROL_TCP };

static enum enrol_mode enrol_mode(void)
{
	struct utsname u;
	unsigned maj = 0, min = 0;

	if (uname(&u) || sscanf(u.release, "%u.%u", &maj, &min) != 2)
		return ENROL_NONE;
	if (maj > 6 || (maj == 6 && min >= 5))
		return ENROL_TCP;
	if (maj < 6 || (maj == 6 && min < 2))
		return ENROL_FILE;
	return ENROL_NONE;
}

/*
 * iter/tcp walks the sockets of the network namespace its reader is in:
 * enter each namespace that holds a socket to enrol (found through a task in
 * it), then come back.
 */
static int enrol_tcp_netns(struct weft_http *skel)
{
	int map = bpf_map__fd(skel->maps.pre_netns), self, rc = 0;
	__u32 key, next, tgid, *prev = NULL;

	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		weft_err("cannot open /proc/self/ns/net: %s: mount /proc", strerror(errno));
		return -1;
	}
	while (!rc && !bpf_map_get_next_key(map, prev, &next)) {
		char path[64];
		int nsfd;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(map, &key, &tgid))
			continue;
		snprintf(path, sizeof(path), "/proc/%u/ns/net", tgid);
		nsfd = open(path, O_RDONLY | O_CLOEXEC);
		if (nsfd < 0)
			continue;	/* the process is gone, and its connections */
		if (setns(nsfd, CLONE_NEWNET)) {
			weft_warn("cannot enter the network namespace of pid %u: %s: its "
				  "connections opened before weft-http are left alone", tgid,
				  strerror(errno));
		} else {
			rc = run_iter(skel->progs.weft_http_enrol_tcp);
			if (setns(self, CLONE_NEWNET)) {
				weft_err("cannot return to weft-http's network namespace: %s",
					 strerror(errno));
				rc = -1;
			}
		}
		close(nsfd);
	}
	close(self);
	return rc;
}

/*
 * Connections established before weft-http started (http_enrol.bpf.c): the
 * workload's listening ports, its established sockets, then their enrolment.
 * After sockops is attached, so that no connection falls between the two.
 */
static int enrol_existing(struct weft_http *skel, enum enrol_mode mode)
{
	if (mode == ENROL_NONE) {
		weft_warn("connections opened before weft-http are left alone on this kernel "
			  "(enrolment tried on 6.1 and 6.5+ only): they get traceparent once reopened");
		return 0;
	}
	for (__u32 pass = 1; pass <= 2; pass++) {
		skel->bss->enrol_pass = pass;
		if (run_iter(skel->progs.weft_http_find))
			return -1;
	}
	skel->bss->enrol_pass = 0;
	return mode == ENROL_TCP ? enrol_tcp_netns(skel)
				 : run_iter(skel->progs.weft_http_enrol_file);
}

/*
 * weft_http_pre_read serves the four read exits of the connections the
 * iterator marked (http_observe.bpf.c). Attached only when it marked one: a
 * tracepoint program runs for every read on the machine, and without
 * pre-existing connections it has nothing to do. Reads between the enrolment
 * and this attach are not seen, which only delays a boundary: one needs a
 * whole request and its whole response seen.
 */
static int attach_pre_reads(struct weft_http *skel, struct bpf_link **links)
{
	static const char *const exits[] = { "sys_exit_read", "sys_exit_recvfrom",
					     "sys_exit_readv", "sys_exit_recvmsg" };

	if (!skel->bss->pre_any)
		return 0;
	for (int i = 0; i < 4; i++) {
		links[i] = bpf_program__attach_tracepoint(skel->progs.weft_http_pre_read,
							  "syscalls", exits[i]);
		if (!links[i]) {
			weft_err("cannot attach to tracepoint syscalls/%s: %s: mount tracefs at "
				 "/sys/kernel/tracing",
				 exits[i], strerror(errno));
			return -1;
		}
	}
	return 0;
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
		[WH_TS_INVALID] = "tracestate-invalid", [WH_H2_CONNS] = "h2-connections",
		[WH_H2_TOO_BIG] = "h2-frame-full", [WH_H2_SPLIT] = "h2-split-left-alone",
		[WH_H2_CONT] = "h2-continuation-left-alone", [WH_H2_UNSURE] = "h2-unsure-left-alone",
		[WH_H2S_CONNS] = "h2-server-connections", [WH_H2S_LOST] = "h2-server-lost",
		[WH_H2_GO_NONE] = "h2-go-no-context",
		[WH_PRE_CONNS] = "pre-existing-connections",
		[WH_PRE_SRV_CONNS] = "pre-existing-server-connections",
		[WH_PRE_LEFT] = "pre-existing-left-alone", [WH_PRE_CERTAIN] = "pre-existing-boundary",
		[WH_H2S_PIECE_LOST] = "h2-server-pieces-lost", [WH_H2_IN_LOST] = "h2-client-reads-lost",
		[WH_PRE_H2_OLD] = "pre-existing-h2-old-entries",
	};
	uint64_t v[WH_NCOUNTERS];

	weft_inj_counters_read(bpf_map__fd(skel->maps.counters), v, WH_NCOUNTERS);
	weft_inj_counters_print(names, v, WH_NCOUNTERS);
}

int main(int argc, char **argv)
{
	struct weft_inj_opts o;
	struct weft_exporter_opts eo = { .injector = "weft-http" };
	struct weft_exporter *exp = NULL;
	struct weft_http *skel = NULL;
	struct weft_pins pins = {0};
	struct ring_buffer *rb = NULL;
	struct weft_h2s *h2s = NULL;
	struct bpf_link *sockops_link = NULL, *pre_links[4] = {};
	bool msg_attached = false;
	const char *root, *cgroup;
	char err[256];
	int cgfd = -1, rc = 1, load_err;
	enum enrol_mode emode = enrol_mode();
	__u32 zero = 0;

	weft_inj_start("weft-http", NULL);
	if (parse_args(argc, argv, &o))
		return 2;

	root = weft_cgroup2_root(true);
	if (!root) {
		weft_err("cannot mount cgroup2 at %s: %s: mount it or pass --cgroup",
			 WEFT_CGROUP2_UNIFIED, strerror(errno));
		return 1;
	}
	cgroup = o.ncgroups ? o.cgroups[0] : root;
	if (!weft_is_cgroup2(cgroup)) {
		weft_err("%s is not a cgroup v2 directory: pass --cgroup PATH under %s", cgroup,
			 root);
		return 1;
	}
	cgfd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0) {
		weft_err("cannot open cgroup %s: %s", cgroup, strerror(errno));
		return 1;
	}

	/* weft-go's go_conn_ctx and go_pids, pinned by name: shared in any start order */
	if (weft_pins_begin(&pins, err, sizeof(err))) {
		weft_err("%s", err);
		goto out;
	}
	skel = weft_http__open_opts(&pins.opts);
	if (!skel) {
		weft_err("cannot open BPF object: %s: run as root on a kernel with BTF",
			 strerror(errno));
		goto out;
	}
	skel->rodata->filter_cgroup = strcmp(cgroup, root) != 0;
	skel->rodata->filter_pids = o.npids > 0;
	/* WEFT_HTTP_NO_BPF_LOOP: tests behave as on a kernel < 5.17 */
	skel->rodata->weft_have_bpf_loop = !getenv("WEFT_HTTP_NO_BPF_LOOP") &&
					   weft_have_helper(BPF_PROG_TYPE_SK_MSG, BPF_FUNC_loop);
	if (!skel->rodata->weft_have_bpf_loop)
		weft_warn("this kernel has no bpf_loop (5.17): insertion works for header blocks "
			  "of up to 32 lines; incoming requests are parsed only when a whole header "
			  "block arrives in one read");
	if (strcmp(cgroup, root)) {
		uint64_t cgid;
		uint32_t level;

		if (tcpopt_cgroup_info(cgroup, &cgid, &level, err, sizeof(err))) {
			weft_err("%s", err);
			goto out;
		}
		skel->rodata->enrol_cgid = cgid;
	}
	/* iterators: run, not attached; one enrolment program loads (http_enrol.bpf.c) */
	bpf_program__set_autoattach(skel->progs.weft_http_pre_read, false);
	bpf_program__set_autoattach(skel->progs.weft_http_find, false);
	bpf_program__set_autoattach(skel->progs.weft_http_enrol_tcp, false);
	bpf_program__set_autoattach(skel->progs.weft_http_enrol_file, false);
	bpf_program__set_autoload(skel->progs.weft_http_find, emode != ENROL_NONE);
	bpf_program__set_autoload(skel->progs.weft_http_enrol_tcp, emode == ENROL_TCP);
	bpf_program__set_autoload(skel->progs.weft_http_enrol_file, emode == ENROL_FILE);
	weft_rt_prepare(skel->obj);
	weft_rt_asyncio_prepare(skel->obj);

	load_err = weft_http__load(skel);
	weft_pins_loaded(&pins);
	if (load_err) {
		weft_inj_load_failed("the BPF programs", load_err,
				     "needs BTF; --verbose shows libbpf's reasons");
		goto out;
	}
	if (refuse_second(cgfd, cgroup))
		goto out;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.target_cg), &zero, &cgfd, BPF_ANY)) {
		weft_err("cannot set target cgroup: %s", strerror(errno));
		goto out;
	}
	for (int i = 0; i < o.npids; i++) {
		__u8 one = 1;

		__u32 pid = (__u32)o.pids[i];

		if (bpf_map_update_elem(bpf_map__fd(skel->maps.target_pids), &pid, &one, BPF_ANY)) {
			weft_err("cannot add pid %u: %s", pid, strerror(errno));
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
		weft_err("%s", err);
		goto out;
	}
	h2s = weft_h2s_new(exp);
	if (!h2s) {
		weft_err("out of memory");
		goto out;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.spans), weft_inj_span_sample, exp, NULL);
	if (!rb || ring_buffer__add(rb, bpf_map__fd(skel->maps.notices), on_notice, NULL) ||
	    ring_buffer__add(rb, bpf_map__fd(skel->maps.h2s_events), weft_h2s_event, h2s)) {
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
		weft_err("cannot attach sockops to cgroup %s: %s", cgroup, strerror(errno));
		goto out;
	}
	/* two started at the same moment: both see each other now, both stop */
	{
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (!bpf_prog_get_info_by_fd(bpf_program__fd(skel->progs.weft_http_sockops), &info,
					     &len))
			other_self = info.id;
		if (refuse_second(cgfd, cgroup))
			goto out;
	}

	if (enrol_existing(skel, emode) || attach_pre_reads(skel, pre_links))
		goto out;
	weft_loop_prescan(bpf_map__fd(skel->maps.weft_uncertain));
	if (weft_rt_start(skel->obj, rb, cgroup, root) ||
	    weft_rt_asyncio_start(skel->obj, rb, cgroup, root))
		goto out;

	weft_inj_ready("cgroup %s%s", cgroup, o.npids ? ", pid filter" : "");
	if (weft_inj_run(rb, NULL, NULL))
		goto out;
	rc = 0;

out:
	/* Detach first so no new sockets enrol, then drain and flush. */
	bpf_link__destroy(sockops_link);
	if (msg_attached)
		bpf_prog_detach2(bpf_program__fd(skel->progs.weft_http_msg), sock_map_fd,
				 BPF_SK_MSG_VERDICT);
	for (int i = 0; i < 4; i++)
		bpf_link__destroy(pre_links[i]);
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
	weft_h2s_free(h2s);	/* streams without their END_STREAM: not exported */
	if (exp)
		weft_exporter_close(exp);
	weft_http__destroy(skel);
	weft_pins_end(&pins); /* after our map fds are closed */
	if (cgfd >= 0)
		close(cgfd);
	return rc;
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * weft-tcpopt: trace context in a TCP header option (sockops on a cgroup v2),
 * and HTTPS spans from OpenSSL's SSL_read/SSL_write plaintext (uprobes).
 * See docs/weft-tcpopt.md and bpf/include/weft_tcpopt.h.
 *
 * Only the maps shared with weft-go are pinned (common/pins.h); every program
 * is held by a link fd of this process, so any exit, SIGKILL included,
 * detaches everything. Connections keep working; their sockops flags stay
 * set but no program runs behind them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "host.h"
#include "injector.h"
#include "log.h"
#include "mounts.h"
#include "exporter.h"
#include "tcpopt_util.h"
#include "loop_threads.h"
#include "tcpopt_ssl_layout.h"
#include "pins.h"
#include "bpf/net/weft_tcpopt.skel.h"

#define MAX_PIDS_UPROBE 64 /* uprobes are attached per --pid: 6 each (8 with --bpf-stats) */
#define MAX_LINKS (16 + 8 * MAX_PIDS_UPROBE) /* + the 7 weft_loop_* tracepoints */
#define MAX_CIDRS 256
#define TCPOPT_SPAN_QUEUE 8192 /* spans the exporter may hold (see main) */

struct opts {
	struct weft_inj_opts c; /* --cgroup, --pid, --spans-file, --verbose */
	const char *cgroup;	/* --cgroup, else the cgroup v2 root */
	const char *libssl;
	struct weft_tcpopt_cidr cidrs[MAX_CIDRS];
	int ncidrs;
	bool bpf_stats;
};

static const struct weft_inj_flag tcpopt_flags[] = {
    {{"accept-from", required_argument, NULL, 'a'}, "CIDR",
     "read the option only from peers in these networks\n(repeatable; default: every peer)"},
    {{"libssl", required_argument, NULL, 'l'}, "PATH",
     "OpenSSL 3 libssl to probe (default: the system one)"},
    {{"bpf-stats", no_argument, NULL, 'S'}, NULL,
     "measure BPF run time (kernel.bpf_stats) while running;\nprint it per program at exit"},
    {},
};

static int tcpopt_flag(void *ctx, int id, const char *arg)
{
	struct opts *o = ctx;

	switch (id) {
	case 'a':
		if (o->ncidrs >= MAX_CIDRS) {
			weft_err("too many --accept-from: at most %d", MAX_CIDRS);
			return -1;
		}
		if (tcpopt_parse_cidr(arg, &o->cidrs[o->ncidrs])) {
			weft_err("bad --accept-from %s: pass an address or CIDR like 10.0.0.0/8",
				 arg);
			return -1;
		}
		o->ncidrs++;
		return 0;
	case 'l':
		o->libssl = arg;
		return 0;
	default: /* 'S' */
		o->bpf_stats = true;
		return 0;
	}
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	const struct weft_inj_cli cli = {
	    .synopsis = "[--cgroup PATH] [--pid PID]... [--accept-from CIDR]...\n"
			"                   [--spans-file F] [--libssl PATH] [--bpf-stats] [--verbose]",
	    .about = "Carry W3C trace context between instrumented hosts in a TCP header option\n"
		     "(kind 253, ExID 0xEF1x, 28 bytes), and export HTTPS SERVER/CLIENT spans seen\n"
		     "through OpenSSL (libssl.so.3) uprobes. The sockets of the --cgroup (default:\n"
		     "the root) carry and read the option, its processes are traced; with --pid,\n"
		     "only those processes start requests with a context.",
	    .flags = tcpopt_flags,
	    .on_flag = tcpopt_flag,
	    .ctx = o,
	    .max_cgroups = 1,
	    .max_pids = MAX_PIDS_UPROBE,
	};

	return weft_inj_parse(&cli, argc, argv, &o->c);
}

static const char *const tcpopt_counter_names[WEFT_TCPOPT_CNT_MAX] = {
    [WEFT_TCPOPT_CNT_WRITTEN] = "options_written",
    [WEFT_TCPOPT_CNT_RECEIVED] = "options_received",
    [WEFT_TCPOPT_CNT_NO_ROOM] = "no_room",
    [WEFT_TCPOPT_CNT_IGNORED_PEER] = "ignored_peer",
    [WEFT_TCPOPT_CNT_MALFORMED] = "malformed",
    [WEFT_TCPOPT_CNT_PENDING] = "requests_with_context",
    [WEFT_TCPOPT_CNT_SPANS_LOST] = "spans_lost",
    [WEFT_TCPOPT_CNT_ENROLLED] = "enrolled_at_start",
    [WEFT_TCPOPT_CNT_NO_STATE] = "no_thread_state",
    [WEFT_TCPOPT_CNT_NEW_IDLE] = "new_trace_idle",
    [WEFT_TCPOPT_CNT_NEW_TWO] = "new_trace_two_in_flight",
    [WEFT_TCPOPT_CNT_NEW_LOOP] = "new_trace_event_loop",
};

/*
 * BPF run time of every program of ours (needs --bpf-stats to be non-zero).
 * The empty program weft_tcpopt_stats_floor measures what the statistics
 * cost per run by themselves; "net" subtracts that floor from every run.
 */
static void print_bpf_stats(struct weft_tcpopt *skel)
{
	unsigned long long total_ns = 0, total_cnt = 0, floor_ns = 0, floor_cnt = 0;
	struct bpf_program *prog;
	double per_run, net;

	bpf_object__for_each_program(prog, skel->obj)
	{
		struct bpf_prog_info info = {0};
		__u32 len = sizeof(info);

		if (bpf_program__fd(prog) < 0 ||
		    bpf_prog_get_info_by_fd(bpf_program__fd(prog), &info, &len))
			continue;
		if (prog == skel->progs.weft_tcpopt_stats_floor) {
			floor_ns = info.run_time_ns;
			floor_cnt = info.run_cnt;
			continue;
		}
		total_ns += info.run_time_ns;
		total_cnt += info.run_cnt;
		weft_info("bpf-stats: %s run_cnt=%llu run_time_ns=%llu recursion_misses=%llu",
			  bpf_program__name(prog), (unsigned long long)info.run_cnt,
			  (unsigned long long)info.run_time_ns,
			  (unsigned long long)info.recursion_misses);
	}
	per_run = floor_cnt ? (double)floor_ns / (double)floor_cnt : 0;
	net = (double)total_ns - per_run * (double)total_cnt;
	weft_info("bpf-stats: floor (empty program) run_cnt=%llu run_time_ns=%llu per_run_ns=%.0f",
		  floor_cnt, floor_ns, per_run);
	weft_info("bpf-stats: total run_cnt=%llu run_time_ns=%llu net_ns=%.0f", total_cnt, total_ns,
		  net > 0 ? net : 0);
}

/* The syscall tracepoints: only for SSL objects without a socket BIO, or Go. */
static int attach_syscalls(struct weft_tcpopt *skel, struct bpf_link **links, int *nlinks)
{
	struct bpf_program *tps[] = {
	    skel->progs.weft_tcpopt_enter_write,
	    skel->progs.weft_tcpopt_enter_sendto,
	    skel->progs.weft_tcpopt_enter_read,
	    skel->progs.weft_tcpopt_enter_recvfrom,
	};

	weft_ensure_tracefs();
	for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]); i++) {
		links[*nlinks] = bpf_program__attach(tps[i]);
		if (!links[(*nlinks)++]) {
			weft_err("cannot attach %s: %s: mount tracefs at /sys/kernel/tracing",
				 bpf_program__name(tps[i]), strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Run the enrol iterator once in the current network namespace. */
static void enrol_in_netns(struct bpf_link *iter)
{
	char buf[256];
	int fd = bpf_iter_create(bpf_link__fd(iter));

	if (fd < 0)
		return;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

/*
 * Enrol connections established before start: run the iter/tcp program in
 * every network namespace that a process of the target cgroup (or --pid) is
 * in (a TCP iterator walks one namespace), then return to our own.
 */
static void enrol_existing(struct weft_tcpopt *skel, const struct opts *o)
{
	struct bpf_link *iter = bpf_program__attach_iter(skel->progs.weft_tcpopt_enrol, NULL);
	ino_t seen[64];
	int nseen = 0, self;
	char path[PATH_MAX + 32], line[32];
	FILE *f;

	if (!iter) {
		weft_warn("cannot enrol connections opened before start: %s: they carry no "
			  "option until reopened",
			  strerror(errno));
		return;
	}
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "%s/cgroup.procs", o->cgroup);
	f = self >= 0 ? fopen(path, "r") : NULL;
	for (int i = 0; f || i < o->c.npids; i++) {
		struct stat st;
		long pid;
		int nsfd;
		bool dup = false;

		if (f) {
			if (!fgets(line, sizeof(line), f)) {
				fclose(f);
				f = NULL;
				i = -1;
				continue;
			}
			pid = strtol(line, NULL, 10);
		} else {
			pid = o->c.pids[i];
		}
		snprintf(path, sizeof(path), "/proc/%ld/ns/net", pid);
		if (stat(path, &st))
			continue;
		for (int j = 0; j < nseen; j++)
			dup |= seen[j] == st.st_ino;
		if (dup || nseen >= 64)
			continue;
		seen[nseen++] = st.st_ino;
		nsfd = open(path, O_RDONLY | O_CLOEXEC);
		if (nsfd < 0)
			continue;
		if (setns(nsfd, CLONE_NEWNET) == 0)
			enrol_in_netns(iter);
		close(nsfd);
	}
	if (self >= 0) {
		if (setns(self, CLONE_NEWNET))
			weft_warn("cannot return to the original network namespace: %s",
				  strerror(errno));
		close(self);
	}
	enrol_in_netns(iter); /* our own namespace (the root cgroup's processes) */
	bpf_link__destroy(iter);
}

/* Does weft-go instrument a process (go_pids not empty)? Its contexts go out on writes. */
static bool go_running(struct weft_tcpopt *skel)
{
	__u32 key;

	return bpf_map_get_next_key(bpf_map__fd(skel->maps.go_pids), NULL, &key) == 0;
}

static struct bpf_link *attach_ssl(struct bpf_program *prog, int pid, const char *lib,
				   const char *func, bool ret)
{
	struct bpf_uprobe_opts uo = {.sz = sizeof(uo), .func_name = func, .retprobe = ret};
	struct bpf_link *l = bpf_program__attach_uprobe_opts(prog, pid, lib, 0, &uo);

	if (!l)
		weft_err("cannot attach %s to %s in %s: %s: check that it is OpenSSL 3 (--libssl)",
			 ret ? "uretprobe" : "uprobe", func, lib, strerror(errno));
	return l;
}

/* The loop's state: the syscall tracepoints are attached once needed. */
struct tcpopt_run {
	struct weft_tcpopt *skel;
	struct bpf_link **links;
	int *nlinks;
	bool syscalls;
	uint64_t go_checked_ns; /* CLOCK_MONOTONIC of the last look at go_pids */
};

/*
 * go_pids is looked at every GO_CHECK_NS, not at every turn of the loop (up
 * to tens per second under load): finding the first key of an empty hash
 * walks all its buckets in the kernel (4096), which was a tenth of the
 * injector's CPU under bench/tcpopt's load.
 */
#define GO_CHECK_NS 250000000ull

static bool go_check_due(struct tcpopt_run *r)
{
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (now - r->go_checked_ns < GO_CHECK_NS)
		return false;
	r->go_checked_ns = now;
	return true;
}

static int tcpopt_tick(void *ctx)
{
	struct tcpopt_run *r = ctx;

	if (r->syscalls ||
	    (!r->skel->bss->need_syscalls && !(go_check_due(r) && go_running(r->skel))))
		return 0;
	weft_info("%s: attaching the syscall tracepoints",
		  r->skel->bss->need_syscalls
		      ? "an SSL object without a socket BIO (they find its socket)"
		      : "weft-go runs (its contexts go out on writes)");
	r->syscalls = true;
	return attach_syscalls(r->skel, r->links, r->nlinks);
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	struct weft_tcpopt *skel = NULL;
	struct weft_pins pins = {0};
	struct weft_exporter *exp = NULL;
	struct ring_buffer *rb = NULL;
	static struct bpf_link *links[MAX_LINKS];
	int nlinks = 0, cgfd = -1, stats_fd = -1, rc = 1, load_err;
	uint64_t cgid = 0, cnt[WEFT_TCPOPT_CNT_MAX];
	uint32_t level = 0;
	const char *lib;
	char err[512];
	struct tcpopt_ssl_layout lay;
	struct tcpopt_run run;
	struct weft_exporter_opts eo = {.injector = "weft-tcpopt"};
	bool syscalls = false;

	weft_inj_start("weft-tcpopt", NULL);
	if (parse_args(argc, argv, &o))
		return 2;
	o.cgroup = o.c.ncgroups ? o.c.cgroups[0] : weft_cgroup2_root(true);
	if (!o.cgroup) {
		weft_err("cannot mount cgroup2 at %s: %s: mount it or pass --cgroup",
			 WEFT_CGROUP2_UNIFIED, strerror(errno));
		return 1;
	}
	if (tcpopt_cgroup_info(o.cgroup, &cgid, &level, err, sizeof(err))) {
		weft_err("%s", err);
		return 1;
	}
	for (int i = 0; i < o.c.npids; i++) {
		char proc[32];

		snprintf(proc, sizeof(proc), "/proc/%d", o.c.pids[i]);
		if (access(proc, F_OK)) {
			weft_err("no process %d (--pid): pass running processes", o.c.pids[i]);
			return 1;
		}
	}
	eo.spans_file = o.c.spans_file;
	lib = tcpopt_find_libssl(o.libssl);
	if (!lib) {
		weft_err("cannot find libssl.so.3%s%s: install libssl3 or pass --libssl PATH",
			 o.libssl ? " at " : "", o.libssl ? o.libssl : "");
		return 1;
	}
	if (o.bpf_stats) {
		stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		if (stats_fd < 0) {
			weft_err("cannot enable BPF run-time statistics: %s: run as root or drop "
				 "--bpf-stats",
				 strerror(errno));
			goto out;
		}
	}
	/* weft-go's go_conn_ctx and go_pids, pinned by name: shared in any start order */
	if (weft_pins_begin(&pins, err, sizeof(err))) {
		weft_err("%s", err);
		goto out;
	}
	skel = weft_tcpopt__open_opts(&pins.opts);
	if (!skel) {
		weft_err("cannot open the BPF object: %s: run as root on a kernel with BTF",
			 strerror(errno));
		goto out;
	}
	skel->rodata->weft_have_bpf_loop = weft_have_helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_loop);
	/* level 0 is the root: every process qualifies */
	skel->rodata->target_cgid = level ? cgid : 0;
	skel->rodata->target_level = level;
	skel->rodata->filter_pids = o.c.npids > 0;
	skel->rodata->accept_filter = o.ncidrs > 0;
	if (tcpopt_ssl_layout(lib, &lay))
		weft_warn("cannot measure OpenSSL's SSL/BIO layout in %s: finding sockets through "
			  "the read/write syscalls instead (costlier)",
			  lib);
	else
		weft_debug("OpenSSL layout: SSL rbio at %d, BIO method at %d, fd at %d",
			   lay.rbio_off, lay.method_off, lay.num_off);
	skel->rodata->ssl_rbio_off = lay.rbio_off;
	skel->rodata->bio_method_off = lay.method_off;
	skel->rodata->bio_num_off = lay.num_off;
	bpf_program__set_autoload(skel->progs.weft_tcpopt_stats_floor, o.bpf_stats);
	load_err = weft_tcpopt__load(skel);
	weft_pins_loaded(&pins);
	if (load_err) {
		weft_inj_load_failed("the BPF programs", load_err,
				     "needs sockops header options (Linux >= 5.10) and BTF");
		goto out;
	}
	for (int i = 0; i < o.c.npids; i++) {
		uint32_t pid = (uint32_t)o.c.pids[i];
		uint8_t one = 1;

		bpf_map_update_elem(bpf_map__fd(skel->maps.target_pids), &pid, &one, BPF_ANY);
	}
	for (int i = 0; i < o.ncidrs; i++) {
		uint8_t one = 1;

		if (bpf_map_update_elem(bpf_map__fd(skel->maps.accept_from), &o.cidrs[i], &one,
					BPF_ANY)) {
			weft_err("cannot add --accept-from entry: %s", strerror(errno));
			goto out;
		}
	}

	/*
	 * The exporter after the load: libbpf parsed the kernel's BTF (twice its
	 * 5 MB, for a moment) and freed it, so an OTLP exporter's libcurl stack
	 * (exporter/curl_dl.h) never adds to that peak. Its queue holds at most
	 * 8192 spans, seconds at thousands per second, far above what one export
	 * batch (512 spans or 1 s) leaves queued; it takes memory only for the
	 * spans waiting. The environment still overrides the bound.
	 */
	if (!getenv("WEFT_EXPORTER_QUEUE_MAX") && !getenv("OTEL_BSP_MAX_QUEUE_SIZE"))
		eo.queue_max = TCPOPT_SPAN_QUEUE;
	exp = weft_exporter_new(&eo, err, sizeof(err));
	if (!exp) {
		weft_err("%s", err);
		goto out;
	}

	cgfd = open(o.cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0) {
		weft_err("cannot open cgroup %s: %s", o.cgroup, strerror(errno));
		goto out;
	}
	links[nlinks] = bpf_program__attach_cgroup(skel->progs.weft_tcpopt_sockops, cgfd);
	if (!links[nlinks++]) {
		weft_err("cannot attach sockops to %s: %s: pass a cgroup v2 directory", o.cgroup,
			 strerror(errno));
		goto out;
	}
	enrol_existing(skel, &o);
	if (weft_loop_attach(skel->obj, links, &nlinks, MAX_LINKS))
		goto out;
	weft_loop_prescan(bpf_map__fd(skel->maps.weft_uncertain));
	/*
	 * The read/write/sendto/recvfrom tracepoints run for every such call on
	 * the machine: attach them only when needed (weft-go's contexts, an
	 * unknown OpenSSL layout, or later when an SSL object without a socket
	 * BIO shows up).
	 */
	if (go_running(skel) || lay.rbio_off < 0) {
		if (attach_syscalls(skel, links, &nlinks))
			goto out;
		syscalls = true;
	}

	struct {
		struct bpf_program *prog;
		const char *func;
		bool ret;
	} ups[] = {
	    {skel->progs.weft_tcpopt_ssl_write, "SSL_write", false},
	    {skel->progs.weft_tcpopt_ssl_write, "SSL_write_ex", false},
	    {skel->progs.weft_tcpopt_ssl_read, "SSL_read", false},
	    {skel->progs.weft_tcpopt_ssl_read_ret, "SSL_read", true},
	    {skel->progs.weft_tcpopt_ssl_read_ex, "SSL_read_ex", false},
	    {skel->progs.weft_tcpopt_ssl_read_ret, "SSL_read_ex", true},
	    /* --bpf-stats: an empty program on the same probe, for the floor */
	    {skel->progs.weft_tcpopt_stats_floor, "SSL_write", false},
	    {skel->progs.weft_tcpopt_stats_floor, "SSL_write_ex", false},
	};
	/*
	 * With --pid, uprobes go on those processes only, so other programs using
	 * OpenSSL do not pay the breakpoint trap; else on every process mapping
	 * libssl, filtered by cgroup inside the program.
	 */
	for (int p = 0; p < (o.c.npids ? o.c.npids : 1); p++) {
		for (size_t i = 0; i < sizeof(ups) / sizeof(ups[0]); i++) {
			if (ups[i].prog == skel->progs.weft_tcpopt_stats_floor && !o.bpf_stats)
				continue;
			if (nlinks >= MAX_LINKS) {
				weft_err("too many probes: at most %d --pid", MAX_PIDS_UPROBE);
				goto out;
			}
			links[nlinks] = attach_ssl(ups[i].prog, o.c.npids ? o.c.pids[p] : -1, lib,
						   ups[i].func, ups[i].ret);
			if (!links[nlinks++])
				goto out;
		}
	}

	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), weft_inj_span_sample, exp, NULL);
	if (!rb) {
		weft_err("cannot open the span ring buffer: %s", strerror(errno));
		goto out;
	}
	weft_inj_ready("cgroup %s, %s, %d pid filter(s), %d accept-from network(s)", o.cgroup, lib,
		       o.c.npids, o.ncidrs);
	run = (struct tcpopt_run){skel, links, &nlinks, syscalls, 0};
	if (weft_inj_run(rb, tcpopt_tick, &run))
		goto out;
	rc = 0;
out:
	if (rb)
		ring_buffer__consume(rb);
	if (skel) {
		weft_inj_counters_read(bpf_map__fd(skel->maps.counters), cnt, WEFT_TCPOPT_CNT_MAX);
		if (o.bpf_stats)
			print_bpf_stats(skel);
	}
	if (stats_fd >= 0)
		close(stats_fd);
	for (int i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	ring_buffer__free(rb);
	if (cgfd >= 0)
		close(cgfd);
	if (exp) {
		weft_exporter_flush(exp);
		weft_exporter_close(exp);
	}
	if (skel) {
		weft_inj_counters_print(tcpopt_counter_names, cnt, WEFT_TCPOPT_CNT_MAX);
		weft_tcpopt__destroy(skel);
	}
	weft_pins_end(&pins); /* after our map fds are closed */
	return rc;
}

// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "exporter.h"
#include "injector.h"
#include "lifecycle.h"
#include "log.h"
#include "weft_span.h"

static volatile sig_atomic_t stop;
static void (*stop_hook)(void);

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
	if (stop_hook)
		stop_hook();
}

void weft_inj_start(const char *prog, void (*on_stop)(void))
{
	stop_hook = on_stop;
	weft_signals_init(on_signal);
	weft_log_init(prog, false);
}

bool weft_inj_stopping(void)
{
	return stop;
}

/* ids are the short options (-c, -p, -s, -v, -h); an injector's own must differ */
enum { OPT_CGROUP = 'c', OPT_PID = 'p', OPT_SPANS_FILE = 's', OPT_VERBOSE = 'v', OPT_HELP = 'h' };

/* The shared options: one spelling, one help text, in every injector. */
static const struct weft_inj_flag shared[] = {
    {{"cgroup", required_argument, NULL, OPT_CGROUP},
     "PATH",
     "the processes of this cgroup v2 subtree"},
    {{"pid", required_argument, NULL, OPT_PID}, "PID", "the process PID"},
    {{"spans-file", required_argument, NULL, OPT_SPANS_FILE},
     "F",
     "write spans as JSON lines to F (without it: OTLP when an\n"
     "OTEL_EXPORTER_OTLP_*ENDPOINT is set, else stdout)"},
    {{"verbose", no_argument, NULL, OPT_VERBOSE},
     NULL,
     "debug messages; at exit, ring-buffer wakeups and every counter"},
    {{"help", no_argument, NULL, OPT_HELP}, NULL, "this text"},
};
#define NSHARED (sizeof(shared) / sizeof(shared[0]))

static bool is_shared(int id)
{
	return id == OPT_CGROUP || id == OPT_PID || id == OPT_SPANS_FILE || id == OPT_VERBOSE ||
	       id == OPT_HELP;
}

static bool shared_taken(const struct weft_inj_cli *cli, int id)
{
	return (id != OPT_CGROUP || cli->max_cgroups) && (id != OPT_PID || cli->max_pids);
}

static void print_flag(FILE *f, const struct weft_inj_flag *fl, bool repeatable)
{
	char head[64];
	const char *h = fl->help, *nl;

	snprintf(head, sizeof(head), "--%s%s%s", fl->opt.name, fl->arg ? " " : "",
		 fl->arg ? fl->arg : "");
	fprintf(f, "  %-18s ", head);
	while ((nl = strchr(h, '\n'))) {
		fprintf(f, "%.*s\n  %-18s ", (int)(nl - h), h, "");
		h = nl + 1;
	}
	fprintf(f, "%s%s\n", h, repeatable ? " (repeatable)" : "");
}

static void usage(const struct weft_inj_cli *cli, FILE *f)
{
	fprintf(f, "usage: %s %s\n\n%s\n\n", weft_prog(), cli->synopsis, cli->about);
	for (const struct weft_inj_flag *fl = cli->flags; fl && fl->opt.name; fl++)
		print_flag(f, fl, false);
	for (size_t i = 0; i < NSHARED; i++) {
		int id = shared[i].opt.val;

		if (shared_taken(cli, id))
			print_flag(f, &shared[i],
				   (id == OPT_CGROUP && cli->max_cgroups > 1) ||
				       (id == OPT_PID && cli->max_pids > 1));
	}
	fprintf(f,
		"\nPrints \"%s: ready: ...\" on stderr once attached; SIGINT or SIGTERM "
		"detach,\nflush the spans and print the counters.\n",
		weft_prog());
}

static int shared_flag(const struct weft_inj_cli *cli, struct weft_inj_opts *o, int id,
		       const char *arg)
{
	char *end;
	long v;

	switch (id) {
	case OPT_CGROUP:
		if (o->ncgroups >= cli->max_cgroups) {
			weft_err("too many --cgroup: at most %d", cli->max_cgroups);
			return -1;
		}
		o->cgroups[o->ncgroups++] = arg;
		return 0;
	case OPT_PID:
		errno = 0;
		v = strtol(arg, &end, 10);
		if (errno || end == arg || *end || v <= 0 || v > INT_MAX) {
			weft_err("bad --pid %s: give a process id", arg);
			return -1;
		}
		if (o->npids >= cli->max_pids) {
			weft_err("too many --pid: at most %d", cli->max_pids);
			return -1;
		}
		o->pids[o->npids++] = (pid_t)v;
		return 0;
	case OPT_SPANS_FILE:
		o->spans_file = arg;
		return 0;
	case OPT_VERBOSE:
		o->verbose = true;
		return 0;
	default: /* OPT_HELP */
		usage(cli, stdout);
		exit(0);
	}
}

int weft_inj_parse(const struct weft_inj_cli *cli, int argc, char **argv, struct weft_inj_opts *o)
{
	struct option lo[64];
	char so[3 * 64 + 1];
	size_t n = 0, ns = 0;
	int c;

	for (const struct weft_inj_flag *fl = cli->flags; fl && fl->opt.name; fl++)
		if (n < 64 - NSHARED - 1)
			lo[n++] = fl->opt;
	for (size_t i = 0; i < NSHARED; i++)
		if (shared_taken(cli, shared[i].opt.val))
			lo[n++] = shared[i].opt;
	memset(&lo[n], 0, sizeof(lo[n]));
	for (size_t i = 0; i < n; i++) /* every option with a letter id has its short form */
		if (lo[i].val > ' ' && lo[i].val < 0x7f && lo[i].val != ':' && lo[i].val != '?') {
			so[ns++] = (char)lo[i].val;
			if (lo[i].has_arg == required_argument)
				so[ns++] = ':';
		}
	so[ns] = 0;
	memset(o, 0, sizeof(*o));
	opterr = 1;
	while ((c = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		int rc;

		if (c == '?' || c == ':') {
			usage(cli, stderr);
			return -1;
		}
		if (is_shared(c))
			rc = shared_flag(cli, o, c, optarg);
		else
			rc = cli->on_flag(cli->ctx, c, optarg);
		if (rc)
			return -1;
	}
	if (optind < argc) {
		weft_err("unexpected argument %s: see %s --help", argv[optind], weft_prog());
		return -1;
	}
	weft_log_init(weft_prog(), o->verbose);
	weft_inj_libbpf_log(o->verbose);
	return 0;
}

static bool libbpf_info, libbpf_debug;

/* The last program the kernel's verifier rejected, and its log's last line. */
static char rejected_prog[128], rejected_line[256];

/*
 * libbpf warns "libbpf: prog 'NAME': -- BEGIN PROG LOAD LOG --\nLOG-- END PROG
 * LOAD LOG --\n" when the kernel refused a program with a log. Its last line
 * that is not a statistic ("processed N insns ...", "verification time ...",
 * "stack depth ...") is the verifier's reason.
 */
static void note_rejection(const char *msg)
{
	static const char begin[] = "': -- BEGIN PROG LOAD LOG --\n";
	const char *name = strstr(msg, "prog '"), *b = strstr(msg, begin), *end, *p;
	size_t n;

	if (!name || !b || b < name)
		return;
	name += strlen("prog '");
	n = (size_t)(b - name);
	snprintf(rejected_prog, sizeof(rejected_prog), "%.*s", (int)n, name);
	rejected_line[0] = '\0';
	b += strlen(begin);
	end = strstr(b, "-- END PROG LOAD LOG --");
	if (!end)
		end = b + strlen(b);
	for (p = b; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (len && strncmp(p, "processed ", 10) && strncmp(p, "verification time", 17) &&
		    strncmp(p, "stack depth", 11))
			snprintf(rejected_line, sizeof(rejected_line), "%.*s", (int)len, p);
		p += len + 1;
	}
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN && strstr(fmt, "BEGIN PROG LOAD LOG")) {
		char *msg = NULL;
		va_list cp;

		va_copy(cp, ap);
		if (vasprintf(&msg, fmt, cp) >= 0) {
			note_rejection(msg);
			free(msg);
		}
		va_end(cp);
	}
	if ((level == LIBBPF_INFO && !libbpf_info) || (level == LIBBPF_DEBUG && !libbpf_debug))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void weft_inj_load_error(char *buf, size_t len, const char *what, int err, const char *hint)
{
	struct utsname u;

	if (err > 0)
		err = -err;
	if (rejected_prog[0]) {
		if (uname(&u))
			snprintf(u.release, sizeof(u.release), "unknown");
		snprintf(buf, len,
			 "cannot load %s: the kernel's verifier rejected BPF program %s "
			 "(Linux %s)%s%s: please report this with the kernel version and "
			 "the verifier log above",
			 what, rejected_prog, u.release, rejected_line[0] ? ": " : "",
			 rejected_line);
	} else if (err == -EPERM) {
		snprintf(buf, len, "cannot load %s: %s: run as root (CAP_BPF, CAP_PERFMON)", what,
			 strerror(-err));
	} else {
		snprintf(buf, len, "cannot load %s: %s%s%s", what, strerror(-err), hint ? ": " : "",
			 hint ? hint : "");
	}
}

void weft_inj_load_failed(const char *what, int err, const char *hint)
{
	char msg[768];

	weft_inj_load_error(msg, sizeof(msg), what, err, hint);
	weft_err("%s", msg);
}

void weft_inj_libbpf_log(bool verbose)
{
	const char *d = getenv("WEFT_LIBBPF_DEBUG");

	libbpf_info = verbose;
	libbpf_debug = d && *d && strcmp(d, "0");
	libbpf_set_print(libbpf_print);
}

void weft_inj_ready(const char *fmt, ...)
{
	char what[512];
	va_list ap;

	/* loading parsed the kernel's BTF (megabytes): give the freed heap back */
	malloc_trim(0);
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	weft_info("ready: %s", what);
}

int weft_inj_run(struct ring_buffer *rb, int (*tick)(void *ctx), void *ctx)
{
	unsigned long long wakeups = 0, timeouts = 0, events = 0;
	int rc = 0;

	while (!stop) {
		int n = ring_buffer__poll(rb, WEFT_INJ_POLL_MS);

		if (n < 0 && n != -EINTR) {
			weft_err("ring buffer poll failed: %s", strerror(-n));
			rc = -1;
			break;
		}
		if (n > 0) {
			wakeups++;
			events += (unsigned long long)n;
		} else if (n == 0) {
			timeouts++;
		}
		/* the rings that did not wake us: submitted without a wakeup */
		n = ring_buffer__consume(rb);
		if (n > 0)
			events += (unsigned long long)n;
		if (tick && tick(ctx) < 0) {
			rc = -1;
			break;
		}
	}
	weft_debug("ring buffer: %llu events, %llu wakeups, %llu timed drains (every %d ms)",
		   events, wakeups, timeouts, WEFT_INJ_POLL_MS);
	return rc;
}

int weft_inj_span_sample(void *exporter, void *data, size_t len)
{
	const struct weft_span_event *ev = data;
	size_t head = offsetof(struct weft_span_event, tracestate);

	/* a record may end after its tracestate_len bytes of tracestate (weft-go's
	 * do); the exporter reads no further */
	if (len >= head &&
	    len >= head + (ev->tracestate_len < WEFT_TS_MAX ? ev->tracestate_len : WEFT_TS_MAX))
		weft_exporter_submit(exporter, data);
	return 0;
}

void weft_inj_counters_read(int map_fd, uint64_t *out, unsigned n)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v;

	memset(out, 0, sizeof(*out) * n);
	if (ncpu <= 0 || !(v = calloc((size_t)ncpu, sizeof(*v))))
		return;
	for (__u32 i = 0; i < n; i++)
		if (!bpf_map_lookup_elem(map_fd, &i, v))
			for (int c = 0; c < ncpu; c++)
				out[i] += v[c];
	free(v);
}

void weft_inj_counters_print(const char *const *names, const uint64_t *vals, unsigned n)
{
	char line[2048];
	size_t off = 0;

	line[0] = 0;
	for (unsigned i = 0; i < n && off < sizeof(line); i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, "%s%s=%llu", i ? " " : "",
					names[i], (unsigned long long)vals[i]);
	weft_info("counters: %s", line);
}

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What every injector (weft-go, weft-http, weft-tcpopt) does the same way:
 * start-up (signals, log), the options they all take, libbpf's log policy,
 * the ready line, the ring-buffer loop and named counters.
 *
 * Shared options, spelled and explained the same in every injector:
 *   --cgroup PATH  --pid PID  --spans-file F  --verbose  --help
 * An injector adds its own through struct weft_inj_flag.
 *
 * The ready line "PROG: ready: ..." is printed once everything is attached;
 * `weft run` and the tests wait for it.
 *
 * The BPF programs submit spans without waking the reader until the ring is
 * an eighth full (bpf/include/weft_ringbuf.h); the loop drains every ring at
 * least every WEFT_INJ_POLL_MS, which bounds the export latency. It reads
 * again as soon as it is woken: a pause after each wakeup (to batch a ring
 * written with a wakeup per record) left the span rings past their eighth
 * for milliseconds, and every span submitted then forced a wakeup of its
 * own (weft-http's HTTP/1 programs: 3.7 -> 5.1 us per request, bench/http).
 */
#ifndef WEFT_INJECTOR_H
#define WEFT_INJECTOR_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WEFT_INJ_MAX_PIDS 1024
#define WEFT_INJ_MAX_CGROUPS 16
#define WEFT_INJ_POLL_MS 50

struct ring_buffer;

/* The shared options, as given. */
struct weft_inj_opts {
	const char *cgroups[WEFT_INJ_MAX_CGROUPS]; /* --cgroup PATH */
	int ncgroups;
	pid_t pids[WEFT_INJ_MAX_PIDS]; /* --pid PID */
	int npids;
	const char *spans_file; /* --spans-file F */
	bool verbose;		/* --verbose */
};

/* One option of the injector's own: its getopt_long entry (opt.val is the id
 * passed to on_flag), its argument's name (NULL for none) and help text. */
struct weft_inj_flag {
	struct option opt;
	const char *arg;
	const char *help;
};

struct weft_inj_cli {
	const char *synopsis;		   /* usage lines after "usage: PROG " */
	const char *about;		   /* what the program does, one paragraph */
	const struct weft_inj_flag *flags; /* own options, ended by {} */
	/* An own option given (arg NULL for no_argument): 0, or -1 after saying why. */
	int (*on_flag)(void *ctx, int id, const char *arg);
	void *ctx;
	int max_cgroups; /* how many --cgroup this injector takes (0: none) */
	int max_pids;	 /* how many --pid (0: none) */
};

/*
 * First thing in main(): the program's name for every message, and signals
 * (common/lifecycle.h). on_stop, if any, runs in the signal handler after
 * the stop flag is set (async-signal-safe code only).
 */
void weft_inj_start(const char *prog, void (*on_stop)(void));
/* A stop was asked for (SIGINT, SIGTERM, SIGHUP, the wrapper's death). */
bool weft_inj_stopping(void);

/*
 * The command line: shared and own options, no other argument. Sets the log
 * level and libbpf's log policy from --verbose. Returns 0, or -1 after
 * saying what is wrong (exit status 2); --help prints the usage and exits 0.
 */
int weft_inj_parse(const struct weft_inj_cli *cli, int argc, char **argv, struct weft_inj_opts *o);

/*
 * libbpf's messages: warnings always, info with --verbose, debug (verifier
 * logs of programs that load) only with WEFT_LIBBPF_DEBUG=1 in the environment.
 */
void weft_inj_libbpf_log(bool verbose);

/*
 * A skeleton's load failed with err (negative or positive errno): one line
 * "cannot load WHAT: ..." into buf. If the kernel's verifier rejected a
 * program (libbpf's log of it seen since weft_inj_libbpf_log), it names the
 * program, the kernel release and the log's last line, and asks for a report:
 * such an EACCES is not a permission problem. EPERM says to run as root; any
 * other error is followed by hint (what the injector needs; may be NULL).
 */
void weft_inj_load_error(char *buf, size_t len, const char *what, int err, const char *hint);
/* The same, printed as an error. */
void weft_inj_load_failed(const char *what, int err, const char *hint);

/* "PROG: ready: WHAT" on stderr, once everything is attached. */
void weft_inj_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Until a stop: drain rb (every ring in it) when a ring wakes the loop and at
 * least every WEFT_INJ_POLL_MS, then call tick (if any), which may return -1
 * to end the loop after saying why. Returns 0 on a stop, -1 on a failure.
 * With --verbose, the ring-buffer wakeups and events are printed at its end.
 */
int weft_inj_run(struct ring_buffer *rb, int (*tick)(void *ctx), void *ctx);

/* A ring_buffer sample callback: a span event (bpf/include/weft_span.h) to
 * the exporter given as ctx (struct weft_exporter *). A record may end after
 * its tracestate_len bytes of tracestate; shorter records are ignored. */
int weft_inj_span_sample(void *exporter, void *data, size_t len);

/*
 * Named counters: entries 0..n-1 of a BPF_MAP_TYPE_PERCPU_ARRAY of __u64,
 * summed over CPUs (0 where unreadable); printed "PROG: counters: a=1 b=2".
 */
void weft_inj_counters_read(int map_fd, uint64_t *out, unsigned n);
void weft_inj_counters_print(const char *const *names, const uint64_t *vals, unsigned n);

#endif /* WEFT_INJECTOR_H */

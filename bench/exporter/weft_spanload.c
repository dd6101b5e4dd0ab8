// SPDX-License-Identifier: BSD-2-Clause
/*
 * weft_spanload: submits HTTP server span events through weft's public
 * exporter API (exporter/exporter.h) to the OTLP endpoint in
 * OTEL_EXPORTER_OTLP_ENDPOINT (or, for a JSON-lines check, to the file in
 * WEFT_SPANS_FILE), as an injector draining its ring buffer would.
 *
 *   weft_spanload --spans N [--rate R]
 *   weft_spanload --stages ROUNDS
 *
 * First, not measured, one queue's worth of spans warms the exporter up (its
 * queue's pages touched, its buffers grown, its connection open), as in an
 * injector that has been running; "warmup N" in the output says how many.
 * Each span has its own ids, url.path and client port.
 *
 * --rate 0 (default): as fast as the exporter takes them; the producer keeps
 * at most half the queue in flight (from weft_exporter_stats), so nothing is
 * dropped and the figure is the exporter's encode+send throughput.
 * --rate R: R spans per second, paced every millisecond; drops are whatever
 * the exporter counted. Prints one line:
 *   "spans N exported N dropped N wall_s X cpu_s X main_cpu_s X exporter_cpu_s X
 *    warmup N"
 * CPU is user + system time. cpu_s is getrusage(RUSAGE_SELF): this thread's
 * event building, pacing and submits plus the exporter's worker thread
 * (encode, compress if asked, write, send); main_cpu_s is this thread alone
 * (RUSAGE_THREAD) and exporter_cpu_s the rest: the exporter's own thread.
 *
 * --stages ROUNDS times the worker's steps one by one instead (see stages()).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "config.h"
#include "exporter.h"
#include "otlp_pb_reference.h"

/* CPU seconds, user + system, of the process (RUSAGE_SELF) or this thread. */
static double cpu_seconds(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void set_str(char *dst, size_t cap, const char *src, __u8 *len8, __u16 *len16)
{
	size_t n = strlen(src);

	if (n > cap)
		n = cap;
	memcpy(dst, src, n);
	if (len8)
		*len8 = (__u8)n;
	if (len16)
		*len16 = (__u16)n;
}

/* A server span of "GET /api/v1/orders/1234567" that arrived with a traceparent. */
static void make_event(struct weft_span_event *ev)
{
	static const __u8 local4[4] = {10, 42, 0, 5}, peer4[4] = {10, 42, 7, 19};

	memset(ev, 0, sizeof(*ev));
	for (int i = 0; i < WEFT_TRACE_ID_LEN; i++)
		ev->ctx.trace_id[i] = (__u8)(0x4b + i * 7);
	for (int i = 0; i < WEFT_SPAN_ID_LEN; i++) {
		ev->ctx.span_id[i] = (__u8)(0x11 + i * 5);
		ev->parent_span_id[i] = (__u8)(0xa1 + i * 3);
	}
	ev->ctx.flags = WEFT_TP_FLAG_SAMPLED;
	ev->ctx.valid = 1;
	ev->pid = (__u32)getpid();
	ev->tid = ev->pid;
	ev->status = 200;
	ev->kind = WEFT_KIND_SERVER;
	ev->proto = WEFT_PROTO_HTTP1;
	ev->parent_src = WEFT_PARENT_HEADER;
	ev->injector = WEFT_INJ_HTTP;
	memcpy(ev->local.addr, local4, 4);
	ev->local.port = 8080;
	ev->local.family = 4;
	memcpy(ev->peer.addr, peer4, 4);
	ev->peer.port = 51234;
	ev->peer.family = 4;
	set_str(ev->method, WEFT_METHOD_MAX, "GET", &ev->method_len, NULL);
	set_str(ev->path, WEFT_PATH_MAX, "/api/v1/orders/1234567", NULL, &ev->path_len);
	set_str(ev->host, WEFT_HOST_MAX, "orders.internal", &ev->host_len, NULL);
}

/* Span seq of a run: its own ids, path (/api/v1/orders/N) and client port,
 * as real traffic varies them; the rest as make_event() set it. */
static void vary_event(struct weft_span_event *ev, uint64_t seq)
{
	static const char prefix[] = "/api/v1/orders/";
	char digits[24];
	int nd = 0;
	uint64_t order = seq % 1000000, now = mono_ns();

	memcpy(ev->ctx.trace_id, &seq, sizeof(seq));
	memcpy(ev->ctx.span_id, &seq, 4);
	do {
		digits[nd++] = (char)('0' + order % 10);
		order /= 10;
	} while (order);
	memcpy(ev->path, prefix, sizeof(prefix) - 1);
	for (int i = 0; i < nd; i++)
		ev->path[sizeof(prefix) - 1 + i] = digits[nd - 1 - i];
	ev->path_len = (__u16)(sizeof(prefix) - 1 + nd);
	ev->peer.port = (__u16)(32768 + seq % 28232);
	ev->start_ns = now - 850000;
	ev->end_ns = now;
}

static uint64_t finished(struct weft_exporter *e)
{
	struct weft_exporter_stats st;

	weft_exporter_stats(e, &st);
	return st.exported_otlp + st.written_jsonl + st.dropped;
}

/*
 * Submit n spans numbered from first: at rate spans/s paced every
 * millisecond, or (rate 0) as fast as the exporter takes them with at most
 * inflight_max queued; then flush.
 */
static void run(struct weft_exporter *e, struct weft_span_event *ev, uint64_t first, uint64_t n,
		uint64_t rate, uint64_t inflight_max)
{
	uint64_t t0 = mono_ns(), base = finished(e), sent = 0;

	while (sent < n) {
		if (rate) {
			uint64_t due = (mono_ns() - t0) * rate / 1000000000ull + 1;

			if (sent >= due) {
				struct timespec ts = {0,
						      1000000 - (long)((mono_ns() - t0) % 1000000)};

				nanosleep(&ts, NULL);
				continue;
			}
		} else if ((sent & 255) == 0) {
			while (sent - (finished(e) - base) > inflight_max)
				nanosleep(&(struct timespec){0, 100000}, NULL);
		}
		vary_event(ev, first + sent);
		weft_exporter_submit(e, ev);
		sent++;
	}
	weft_exporter_flush(e);
}

static double thread_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/*
 * --stages: the worker's steps for batches of STAGE_BATCH spans, each timed
 * alone (this thread's CPU time; new spans every round, as vary_event() makes
 * them; the first rounds not counted), in ns per span: span views (semantic conventions), the OTLP
 * protobuf request as the exporter packs it, the same request packed whole
 * by protobuf-c (the reference, tests/lib/otlp_pb_reference.c), JSON lines.
 */
#define STAGE_BATCH 512
static int stages(unsigned rounds)
{
	static struct weft_span_event evs[STAGE_BATCH];
	static struct weft_span_view views[STAGE_BATCH];
	static struct weft_resource *groups[STAGE_BATCH];
	static uint32_t order[STAGE_BATCH], gstart[STAGE_BATCH + 1], gof[STAGE_BATCH];
	struct weft_batch b = {.views = views,
			       .n = STAGE_BATCH,
			       .groups = groups,
			       .order = order,
			       .group_start = gstart};
	struct weft_export_config cfg;
	struct weft_rcache *rc;
	struct weft_pb_enc *pe = weft_pb_enc_new();
	struct wbuf out = {0}, whole = {0}, jl = {0};
	double t[5], sum[4] = {0};
	char err[256];

	if (!pe || weft_config_load(&cfg, NULL, err, sizeof(err)) ||
	    !(rc = weft_rcache_new(&cfg))) {
		fprintf(stderr, "weft_spanload: error: cannot set up the encoders: %s\n", err);
		return 1;
	}
	for (int i = 0; i < STAGE_BATCH; i++)
		make_event(&evs[i]);
	for (unsigned r = 0; r < rounds + 10; r++) {
		uint64_t gen = weft_batch_gen();

		/* new spans every round: ids, paths and client ports as in a stream */
		for (int i = 0; i < STAGE_BATCH; i++)
			vary_event(&evs[i], (uint64_t)r * STAGE_BATCH + (uint64_t)i);
		t[0] = thread_ns();
		b.ngroups = 0;
		for (int i = 0; i < STAGE_BATCH; i++) {
			struct weft_resource *res = weft_rcache_get(rc, evs[i].pid, 1);

			gof[i] = weft_batch_group(&b, res, gen);
			weft_span_view_build(&views[i], &evs[i], res, 0);
		}
		weft_batch_order(&b, gof);
		t[1] = thread_ns();
		if (weft_pb_encode(pe, &b, &out))
			return 1;
		t[2] = thread_ns();
		if (weft_pb_reference_encode(&b, &whole))
			return 1;
		t[3] = thread_ns();
		weft_jsonl_encode(&b, &jl);
		t[4] = thread_ns();
		if (out.len != whole.len || memcmp(out.p, whole.p, out.len)) {
			fprintf(stderr,
				"weft_spanload: error: the exporter's protobuf differs from "
				"the whole-request pack: run tests/unit/export_unit.test\n");
			return 1;
		}
		for (int k = 0; r >= 10 && k < 4; k++)
			sum[k] += t[k + 1] - t[k];
	}
	printf("stages view_ns %.0f otlp_pb_ns %.0f pb_whole_ns %.0f jsonl_ns %.0f\n",
	       sum[0] / rounds / STAGE_BATCH, sum[1] / rounds / STAGE_BATCH,
	       sum[2] / rounds / STAGE_BATCH, sum[3] / rounds / STAGE_BATCH);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "weft_spanload: error: bad arguments: usage: weft_spanload --spans N "
			"[--rate R] (endpoint from OTEL_EXPORTER_OTLP_ENDPOINT), or "
			"weft_spanload --stages ROUNDS\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct weft_exporter_opts opts = {
	    .injector = "weft_spanload", .queue_max = 65536, .batch_max = 512, .batch_ms = 1000};
	struct weft_exporter_stats st0, st1;
	struct weft_span_event ev;
	struct weft_exporter *e;
	uint64_t nspans = 0, rate = 0, t0, t1;
	double cpu0, main0, cpu, main_cpu;
	char err[512];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--stages") && i + 1 < argc) {
			unsigned rounds = (unsigned)strtoul(argv[++i], NULL, 10);

			return stages(rounds ? rounds : 1);
		}
		if (!strcmp(argv[i], "--spans") && i + 1 < argc)
			nspans = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
			rate = strtoull(argv[++i], NULL, 10);
		else
			usage();
	}
	if (!nspans || !(getenv("OTEL_EXPORTER_OTLP_ENDPOINT") || getenv("WEFT_SPANS_FILE")))
		usage();

	e = weft_exporter_new(&opts, err, sizeof(err));
	if (!e) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	make_event(&ev);
	/* Warm-up, not measured: one queue's worth, so the queue's memory has been
	 * touched once, as in an injector that has run for a while. */
	run(e, &ev, 0, opts.queue_max, 0, opts.queue_max / 2);

	weft_exporter_stats(e, &st0);
	cpu0 = cpu_seconds(RUSAGE_SELF);
	main0 = cpu_seconds(RUSAGE_THREAD);
	t0 = mono_ns();
	run(e, &ev, opts.queue_max, nspans, rate, opts.queue_max / 2);
	t1 = mono_ns();
	cpu = cpu_seconds(RUSAGE_SELF) - cpu0;
	main_cpu = cpu_seconds(RUSAGE_THREAD) - main0;
	weft_exporter_stats(e, &st1);
	printf("spans %llu exported %llu dropped %llu wall_s %.4f cpu_s %.4f main_cpu_s %.4f "
	       "exporter_cpu_s %.4f warmup %zu\n",
	       (unsigned long long)nspans,
	       (unsigned long long)(st1.exported_otlp + st1.written_jsonl - st0.exported_otlp -
				    st0.written_jsonl),
	       (unsigned long long)(st1.dropped - st0.dropped), (t1 - t0) / 1e9, cpu, main_cpu,
	       cpu - main_cpu, opts.queue_max);
	fflush(stdout);
	weft_exporter_close(e);
	return 0;
}

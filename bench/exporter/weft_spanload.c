// SPDX-License-Identifier: BSD-2-Clause
/*
 * weft_spanload: submits HTTP server span events through weft's public
 * exporter API (exporter/exporter.h) to the OTLP endpoint in
 * OTEL_EXPORTER_OTLP_ENDPOINT (or, for a JSON-lines check, to the file in
 * WEFT_SPANS_FILE), as an injector draining its ring buffer would.
 *
 *   weft_spanload --spans N [--rate R]
 *
 * --rate 0 (default): as fast as the exporter takes them; the producer keeps
 * at most half the queue in flight (from weft_exporter_stats), so nothing is
 * dropped and the figure is the exporter's encode+send throughput.
 * --rate R: R spans per second, paced every millisecond; drops are whatever
 * the exporter counted. Prints one line:
 *   "spans N exported N dropped N wall_s X cpu_s X"
 * CPU is getrusage(RUSAGE_SELF): this thread's submits plus the exporter's
 * worker thread (encode, compress if asked, send).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "exporter.h"

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
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

static void usage(void)
{
	fprintf(stderr, "weft_spanload: error: bad arguments: usage: weft_spanload --spans N "
			"[--rate R] (endpoint from OTEL_EXPORTER_OTLP_ENDPOINT)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct weft_exporter_opts opts = {
	    .injector = "weft_spanload", .queue_max = 65536, .batch_max = 512, .batch_ms = 1000};
	struct weft_exporter_stats st;
	struct weft_span_event ev;
	struct weft_exporter *e;
	uint64_t nspans = 0, rate = 0, sent = 0, t0, t1;
	double cpu0, cpu1;
	char err[512];

	for (int i = 1; i < argc; i++) {
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
	cpu0 = cpu_seconds();
	t0 = mono_ns();
	while (sent < nspans) {
		uint64_t now;

		if (rate) {
			uint64_t due = (mono_ns() - t0) * rate / 1000000000ull + 1;

			if (sent >= due) {
				struct timespec ts = {0,
						      1000000 - (long)((mono_ns() - t0) % 1000000)};

				nanosleep(&ts, NULL);
				continue;
			}
		} else if ((sent & 255) == 0) {
			for (;;) {
				weft_exporter_stats(e, &st);
				if (sent - (st.exported_otlp + st.written_jsonl + st.dropped) <=
				    opts.queue_max / 2)
					break;
				nanosleep(&(struct timespec){0, 100000}, NULL);
			}
		}
		/* Distinct ids per span, as real traffic has. */
		memcpy(ev.ctx.trace_id, &sent, sizeof(sent));
		memcpy(ev.ctx.span_id, &sent, 4);
		now = mono_ns();
		ev.start_ns = now - 850000;
		ev.end_ns = now;
		weft_exporter_submit(e, &ev);
		sent++;
	}
	weft_exporter_flush(e);
	t1 = mono_ns();
	cpu1 = cpu_seconds();
	weft_exporter_stats(e, &st);
	printf("spans %llu exported %llu dropped %llu wall_s %.4f cpu_s %.4f\n",
	       (unsigned long long)sent, (unsigned long long)(st.exported_otlp + st.written_jsonl),
	       (unsigned long long)st.dropped, (t1 - t0) / 1e9, cpu1 - cpu0);
	fflush(stdout);
	weft_exporter_close(e);
	return 0;
}

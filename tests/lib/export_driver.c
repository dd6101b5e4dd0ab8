// SPDX-License-Identifier: BSD-2-Clause
/*
 * export_driver: submit N synthetic span events through the public exporter
 * API (exporter/exporter.h), close, print the stats. Ids are deterministic so
 * tests can check them:
 *   trace_id  = SEED (4 bytes BE) | 00000000 | (i+1) (8 bytes BE)
 *   span_id   = b0 00 00 00 | (i+1) (4 bytes BE)
 *   parent_id = zero for even i (root), else c0 00 00 00 | (i+1) (4 bytes BE)
 *   start     = now(mono) - 5 ms, end = start + 1000000 + i ns
 * The configuration comes from the environment, as for every injector.
 * --close-when FILE: close only once FILE exists (a test's readiness signal,
 * e.g. "the collector holds a request"); the time close took is printed.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "exporter.h"
#include "log.h"

static void be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static long status_kb(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = strtol(line + strlen(key), NULL, 10);
	fclose(f);
	return v;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: export_driver [--count N] [--kind server|client|mixed] [--pid P[,P...]]\n"
		"       [--status S[,S...]] [--method M] [--path P] [--host H] [--seed X]\n"
		"       [--tracestate S]\n"
		"       [--queue-max N] [--batch-max N] [--batch-ms MS] [--spans-file F]\n"
		"       [--tls] [--flush] [--rate SPANS_PER_S] [--close-when FILE]\n");
	exit(2);
}

static int split_ints(const char *s, long *out, int max)
{
	int n = 0;
	char *copy = strdup(s), *save = NULL, *t;

	for (t = strtok_r(copy, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save))
		out[n++] = strtol(t, NULL, 0);
	free(copy);
	return n;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"count", 1, 0, 'n'},     {"kind", 1, 0, 'k'},
	    {"pid", 1, 0, 'p'},	      {"status", 1, 0, 's'},
	    {"method", 1, 0, 'm'},    {"path", 1, 0, 'P'},
	    {"host", 1, 0, 'H'},      {"seed", 1, 0, 'S'},
	    {"queue-max", 1, 0, 'q'}, {"batch-max", 1, 0, 'b'},
	    {"batch-ms", 1, 0, 't'},  {"spans-file", 1, 0, 'f'},
	    {"tls", 0, 0, 'T'},	      {"flush", 0, 0, 'F'},
	    {"rate", 1, 0, 'r'},      {"close-when", 1, 0, 'C'},
	    {"tracestate", 1, 0, 'x'},
	    {0, 0, 0, 0},
	};
	struct weft_exporter_opts opts = {.injector = "export_driver"};
	long pids[64] = {0}, statuses[64] = {200};
	int npids = 1, nstatus = 1, tls = 0, flush = 0, c;
	const char *kind = "server", *method = "GET", *path = "/hello", *host = "", *tstate = "";
	const char *close_when = NULL;
	unsigned long long count = 10, seed = 0xa1a2a3a4, rate = 0;
	struct weft_exporter_stats st;
	struct weft_exporter *e;
	char err[512];
	uint64_t t0, t_close;

	pids[0] = getpid();
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			count = strtoull(optarg, NULL, 0);
			break;
		case 'k':
			kind = optarg;
			break;
		case 'p':
			npids = split_ints(optarg, pids, 64);
			break;
		case 's':
			nstatus = split_ints(optarg, statuses, 64);
			break;
		case 'm':
			method = optarg;
			break;
		case 'P':
			path = optarg;
			break;
		case 'H':
			host = optarg;
			break;
		case 'S':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'q':
			opts.queue_max = strtoul(optarg, NULL, 0);
			break;
		case 'b':
			opts.batch_max = strtoul(optarg, NULL, 0);
			break;
		case 't':
			opts.batch_ms = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'f':
			opts.spans_file = optarg;
			break;
		case 'T':
			tls = 1;
			break;
		case 'F':
			flush = 1;
			break;
		case 'r':
			rate = strtoull(optarg, NULL, 0);
			break;
		case 'C':
			close_when = optarg;
			break;
		case 'x':
			tstate = optarg;
			break;
		default:
			usage();
		}
	}
	if (npids < 1 || nstatus < 1)
		usage();
	weft_log_init("export_driver", false);
	e = weft_exporter_new(&opts, err, sizeof(err));
	if (!e) {
		fprintf(stderr, "export_driver: error: %s\n", err);
		return 1;
	}
	t0 = mono_ns();
	for (unsigned long long i = 0; i < count; i++) {
		struct weft_span_event ev;
		bool server = !strcmp(kind, "server") || (!strcmp(kind, "mixed") && i % 2 == 0);

		memset(&ev, 0, sizeof(ev));
		be(ev.ctx.trace_id, seed, 4);
		be(ev.ctx.trace_id + 8, i + 1, 8);
		ev.ctx.span_id[0] = 0xb0;
		be(ev.ctx.span_id + 4, i + 1, 4);
		if (i % 2) {
			ev.parent_span_id[0] = 0xc0;
			be(ev.parent_span_id + 4, i + 1, 4);
		}
		ev.ctx.flags = 0x03;
		ev.ctx.valid = 1;
		ev.start_ns = mono_ns() - 5000000;
		ev.end_ns = ev.start_ns + 1000000 + i;
		ev.pid = (uint32_t)pids[i % (unsigned)npids];
		ev.tid = ev.pid + 1;
		ev.status = (uint16_t)statuses[i % (unsigned)nstatus];
		ev.kind = server ? WEFT_KIND_SERVER : WEFT_KIND_CLIENT;
		ev.proto = WEFT_PROTO_HTTP1;
		ev.parent_src = i % 2 ? WEFT_PARENT_HEADER : WEFT_PARENT_GENERATED;
		ev.injector = WEFT_INJ_HTTP;
		ev.flags = tls ? WEFT_SPAN_TLS : 0;
		ev.method_len = (uint8_t)strnlen(method, WEFT_METHOD_MAX);
		memcpy(ev.method, method, ev.method_len);
		ev.path_len = (uint16_t)strlen(path);
		memcpy(ev.path, path, ev.path_len < WEFT_PATH_MAX ? ev.path_len : WEFT_PATH_MAX);
		if (ev.path_len > WEFT_PATH_MAX)
			ev.truncated |= WEFT_TRUNC_PATH;
		ev.host_len = (uint8_t)strnlen(host, WEFT_HOST_MAX);
		memcpy(ev.host, host, ev.host_len);
		ev.tracestate_len = (uint16_t)strnlen(tstate, WEFT_TS_MAX);
		memcpy(ev.tracestate, tstate, ev.tracestate_len);
		ev.local.family = ev.peer.family = 4;
		ev.local.addr[0] = 127, ev.local.addr[3] = 1;
		ev.peer.addr[0] = 127, ev.peer.addr[3] = 2;
		ev.local.port = server ? 8080 : (uint16_t)(40000 + i % 1000);
		ev.peer.port = server ? (uint16_t)(40000 + i % 1000) : 8080;
		weft_exporter_submit(e, &ev);
		if (rate) {
			uint64_t due = t0 + (i + 1) * 1000000000ull / rate;
			uint64_t now = mono_ns();

			if (due > now) {
				struct timespec ts = {
				    .tv_sec = (time_t)((due - now) / 1000000000ull),
				    .tv_nsec = (long)((due - now) % 1000000000ull)};

				nanosleep(&ts, NULL);
			}
		}
	}
	if (flush)
		weft_exporter_flush(e);
	weft_exporter_stats(e, &st);
	fprintf(
	    stderr,
	    "export_driver: before close: submitted=%llu dropped=%llu exported=%llu rss_kb=%ld\n",
	    (unsigned long long)st.submitted, (unsigned long long)st.dropped,
	    (unsigned long long)st.exported_otlp, status_kb("VmRSS:"));
	/* at most 60 s, polled every 10 ms */
	for (int i = 0; close_when && access(close_when, F_OK) && i < 6000; i++)
		nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
	t_close = mono_ns();
	weft_exporter_close(e);
	fprintf(stderr, "export_driver: hwm_kb=%ld close_ms=%llu\n", status_kb("VmHWM:"),
		(unsigned long long)((mono_ns() - t_close) / 1000000ull));
	return 0;
}

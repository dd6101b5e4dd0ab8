// SPDX-License-Identifier: BSD-2-Clause
/*
 * The exporter's queue and worker: submit() copies an event into a bounded
 * queue under a short lock; the worker thread takes batches (by size or
 * time), converts them to span views grouped by resource, writes JSON lines
 * and sends OTLP with retries. See docs/exporter.md.
 *
 * The queue is a list of blocks (~106 KB each) taken as it grows and given
 * back as the worker empties them (a few kept for reuse), so its resident
 * memory follows the spans actually waiting, not the bound: a ring of
 * queue_max slots would be touched whole as it wraps (8192 spans: 7 MB).
 * An event takes its bytes up to the end of its tracestate (qrec_len: ~340
 * of its 848 without one), packed one after the other; a record starts only
 * where a whole event would still fit in the block, so every member read
 * through the event's type stays inside the block.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include "batch.h"
#include "config.h"
#include "exporter.h"
#include "log.h"
#include "random.h"
#include "resource.h"
#include "transport.h"

#define DEFAULT_QUEUE_MAX 65536
#define DEFAULT_BATCH_MAX 512
#define DEFAULT_BATCH_MS 1000
#define RETRY_MAX 5 /* retries after the first attempt */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
#define LOG_EVERY_NS 10000000000ull /* repeated failure lines: at most one per 10 s */
#define QBLOCK_BYTES (128 * sizeof(struct weft_span_event)) /* ~106 KB */
#define QBLOCKS_KEPT 8 /* emptied blocks kept for reuse */

/* Consecutive queued events, packed (see qrec_len). */
struct qblock {
	struct qblock *next; /* the following events' block */
	_Alignas(8) unsigned char data[QBLOCK_BYTES];
};

/* A place in the queue: a block and a byte offset in it. */
struct qpos {
	struct qblock *b;
	size_t off;
};

/* Bytes an event takes in the queue: up to the end of its tracestate, 8-aligned. */
static size_t qrec_len(const struct weft_span_event *ev)
{
	size_t n = offsetof(struct weft_span_event, tracestate) +
		   (ev->tracestate_len < WEFT_TS_MAX ? ev->tracestate_len : WEFT_TS_MAX);

	return (n + 7) & ~(size_t)7;
}

/* Does a record starting at off have room for a whole event? Else it goes in the next block. */
static bool qfits(size_t off)
{
	return off + sizeof(struct weft_span_event) <= QBLOCK_BYTES;
}

/* The event at q, moving q past it (the producer's placement, read back). */
static const struct weft_span_event *qnext(struct qpos *q)
{
	const struct weft_span_event *ev;

	if (!qfits(q->off)) {
		q->b = q->b->next;
		q->off = 0;
	}
	ev = (const struct weft_span_event *)(q->b->data + q->off);
	q->off += qrec_len(ev);
	return ev;
}

struct weft_exporter {
	struct weft_export_config cfg;
	char injector[64];

	/* the queue: at most cap events, tail - head of them (both count up
	 * forever), from qhead to qtail in the blocks linked from qhead.b */
	pthread_mutex_t mu;
	pthread_cond_t work; /* to the worker: a batch is ready, flush, stop */
	pthread_cond_t done; /* from the worker: a batch finished */
	struct qpos qhead, qtail;
	struct qblock *qfree;
	unsigned nfree; /* blocks in qfree */
	size_t cap;
	uint64_t head, tail;
	uint64_t flush_target; /* flush until head reaches this */
	bool stop;
	size_t batch_max;
	unsigned batch_ms;
	pthread_t thread;
	bool thread_started;

	/* counters */
	atomic_uint_fast64_t submitted, dropped_queue, dropped_export, exported, written, retries,
	    rejected;

	/* worker-only state */
	struct weft_rcache *rc;
	struct weft_pb_enc *pb;
	struct weft_http *http;
	struct wbuf body, jbody;
	int jfd;
	struct weft_span_view *views;
	struct weft_resource **groups;
	uint32_t *order, *group_start, *group_of;
	atomic_uint_fast64_t shutdown_deadline; /* CLOCK_MONOTONIC ns, 0 while running */
	bool otlp_failing;			/* logged that the endpoint fails */
	uint64_t last_log_ns;
	uint64_t log_suppressed;
};

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* unix ns - monotonic ns, from a tight pair of readings */
static int64_t mono_to_wall(void)
{
	uint64_t m1 = now_ns(CLOCK_MONOTONIC), r = now_ns(CLOCK_REALTIME);
	uint64_t m2 = now_ns(CLOCK_MONOTONIC);

	return (int64_t)(r - (m1 + (m2 - m1) / 2));
}

static size_t env_size(const char *name, size_t dflt)
{
	const char *v = getenv(name);
	char *end;
	unsigned long long n;

	if (!v || !*v)
		return dflt;
	n = strtoull(v, &end, 10);
	if (*end || n == 0) {
		weft_warn("ignoring %s=%s: not a positive number", name, v);
		return dflt;
	}
	return (size_t)n;
}

/* --- queue blocks (all under mu) ---------------------------------------- */

/* A block for the next events: a kept one, else a new mapping. */
static struct qblock *qblock_get(struct weft_exporter *e)
{
	struct qblock *b = e->qfree;

	if (b) {
		e->qfree = b->next;
		e->nfree--;
	} else {
		b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			 0);
		if (b == MAP_FAILED)
			return NULL;
	}
	b->next = NULL;
	return b;
}

static void qblocks_unmap(struct qblock *b)
{
	while (b) {
		struct qblock *next = b->next;

		munmap(b, sizeof(*b));
		b = next;
	}
}

/*
 * The head moved to to (the worker's walk): the blocks before its block are
 * empty; keep QBLOCKS_KEPT for reuse, return the others, to be unmapped
 * outside the lock.
 */
static struct qblock *queue_release(struct weft_exporter *e, struct qpos to)
{
	struct qblock *drop = NULL;

	while (e->qhead.b != to.b) {
		struct qblock *b = e->qhead.b;

		e->qhead.b = b->next;
		if (e->nfree < QBLOCKS_KEPT) {
			b->next = e->qfree;
			e->qfree = b;
			e->nfree++;
		} else {
			b->next = drop;
			drop = b;
		}
	}
	e->qhead = to;
	return drop;
}

/* --- worker ------------------------------------------------------------ */

/* Rate-limited error line for repeated export failures. */
static void export_log(struct weft_exporter *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void export_log(struct weft_exporter *e, const char *fmt, ...)
{
	uint64_t t = now_ns(CLOCK_MONOTONIC);
	char line[768];
	va_list ap;

	if (e->last_log_ns && t - e->last_log_ns < LOG_EVERY_NS) {
		e->log_suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (e->log_suppressed)
		weft_err("%s (and %llu more like it)", line, (unsigned long long)e->log_suppressed);
	else
		weft_err("%s", line);
	e->last_log_ns = t;
	e->log_suppressed = 0;
}

static bool retryable(long status)
{
	return status == 429 || status == 502 || status == 503 || status == 504;
}

/* Sleep ms on the queue's condition (wakes early only to notice stop). */
static void backoff_wait(struct weft_exporter *e, long ms)
{
	uint64_t until = now_ns(CLOCK_MONOTONIC) + (uint64_t)ms * 1000000ull;
	struct timespec ts;

	pthread_mutex_lock(&e->mu);
	while (now_ns(CLOCK_MONOTONIC) < until) {
		uint64_t left = until - now_ns(CLOCK_MONOTONIC);
		uint64_t abs = now_ns(CLOCK_MONOTONIC) + left;

		if (e->stop && e->shutdown_deadline && until > e->shutdown_deadline)
			break;
		ts.tv_sec = (time_t)(abs / 1000000000ull);
		ts.tv_nsec = (long)(abs % 1000000000ull);
		pthread_cond_timedwait(&e->work, &e->mu, &ts);
	}
	pthread_mutex_unlock(&e->mu);
}

/*
 * Text from the network or libcurl, fit for one log line: printable ASCII
 * kept, a backslash doubled, every other byte (control characters, bytes of
 * UTF-8 sequences, invalid UTF-8) as \xNN; cut with "..." to fit size.
 */
static void escape_text(const char *s, size_t n, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[5];
		size_t el;

		if (c == '\\')
			el = (size_t)snprintf(e, sizeof(e), "\\\\");
		else if (c >= 0x20 && c < 0x7f)
			el = (size_t)snprintf(e, sizeof(e), "%c", c);
		else
			el = (size_t)snprintf(e, sizeof(e), "\\x%02x", c);
		if (o + el + 4 > size) { /* room for "..." and the NUL */
			if (o + 4 <= size)
				memcpy(out + o, "...", 3), o += 3;
			break;
		}
		memcpy(out + o, e, el);
		o += el;
	}
	out[o] = '\0';
}

static void handle_response(struct weft_exporter *e, const struct weft_http_result *res, size_t n)
{
	int64_t rejected = 0;
	char msg[256], shown[400];

	if (e->cfg.proto == WEFT_OTLP_JSON)
		weft_otlp_json_parse_response(res->body->p, res->body->len, &rejected, msg,
					      sizeof(msg));
	else if (weft_pb_parse_response(res->body->p, res->body->len, &rejected, msg, sizeof(msg)) <
		 0)
		rejected = 0;
	if (rejected < 0 || (uint64_t)rejected > n)
		rejected = (int64_t)n;
	escape_text(msg, strlen(msg), shown, sizeof(shown));
	if (rejected || msg[0])
		weft_warn("OTLP collector at %s partially accepted a batch: %lld of %zu spans "
			  "rejected%s%s: check the collector's limits and log",
			  e->cfg.url, (long long)rejected, n, msg[0] ? ": " : "", shown);
	e->rejected += (uint64_t)rejected;
	e->exported += n - (uint64_t)rejected;
}

/* A response body (its google.rpc.Status message if it is one) for one log line. */
static void body_summary(const struct wbuf *body, char *out, size_t size)
{
	char status_msg[1024];
	const char *s = body->p;
	size_t n = body->len;

	if (weft_pb_status_message(body->p, body->len, status_msg, sizeof(status_msg)) == 0) {
		s = status_msg;
		n = strlen(status_msg);
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	escape_text(s, n, out, size);
}

/* Send one encoded request of n spans with the retry policy. */
static void otlp_send(struct weft_exporter *e, size_t n)
{
	struct weft_http_result res;
	long backoff = BACKOFF_FIRST_MS;
	char why[300];

	/* closing and past the deadline: close takes one export timeout at most */
	if (e->shutdown_deadline && now_ns(CLOCK_MONOTONIC) >= e->shutdown_deadline) {
		e->dropped_export += n;
		return;
	}
	for (int attempt = 0;; attempt++) {
		bool out_of_time;
		long wait;
		int rc = weft_http_post(e->http, e->body.p, e->body.len, &res);

		if (rc == 0 && res.status >= 200 && res.status < 300) {
			if (e->otlp_failing)
				weft_info("OTLP export to %s works again", e->cfg.url);
			e->otlp_failing = false;
			handle_response(e, &res, n);
			return;
		}
		if (rc == 0 && !retryable(res.status)) {
			body_summary(res.body, why, sizeof(why));
			export_log(e,
				   "OTLP export to %s failed: HTTP %ld%s%s: dropped %zu spans "
				   "(not retried); check the endpoint URL, headers and the "
				   "collector's log",
				   e->cfg.url, res.status, why[0] ? ": " : "", why, n);
			e->dropped_export += n;
			return;
		}
		wait = res.retry_after_ms >= 0 ? res.retry_after_ms : 0;
		if (wait == 0) {
			/* exponential backoff with +-25% jitter */
			long j = backoff / 2;

			wait = backoff - backoff / 4 +
			       (j ? (long)(weft_random_u64() % (uint64_t)j) : 0);
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
		}
		out_of_time =
		    e->shutdown_deadline &&
		    now_ns(CLOCK_MONOTONIC) + (uint64_t)wait * 1000000ull > e->shutdown_deadline;
		if (rc < 0)
			escape_text(res.error, strlen(res.error), why, sizeof(why));
		if (attempt >= RETRY_MAX || out_of_time) {
			if (rc < 0)
				export_log(e,
					   "OTLP export to %s failed: %s: dropped %zu spans after "
					   "%d attempts; start the collector or fix "
					   "OTEL_EXPORTER_OTLP_ENDPOINT",
					   e->cfg.url, why, n, attempt + 1);
			else
				export_log(e,
					   "OTLP export to %s failed: HTTP %ld: dropped %zu spans "
					   "after %d attempts; the collector is overloaded or down",
					   e->cfg.url, res.status, n, attempt + 1);
			e->otlp_failing = true;
			e->dropped_export += n;
			return;
		}
		if (!e->otlp_failing && rc < 0)
			weft_warn("OTLP export to %s: %s: retrying", e->cfg.url, why);
		e->otlp_failing = e->otlp_failing || rc < 0;
		e->retries++;
		backoff_wait(e, wait);
	}
}

static int jsonl_write(struct weft_exporter *e)
{
	const char *p = e->jbody.p;
	size_t left = e->jbody.len;

	while (left > 0) {
		ssize_t w = write(e->jfd, p, left);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			export_log(e,
				   "cannot write spans to %s: %s: check the disk and "
				   "WEFT_SPANS_FILE",
				   e->cfg.spans_file ? e->cfg.spans_file : "stdout",
				   strerror(errno));
			return -1;
		}
		p += w;
		left -= (size_t)w;
	}
	return 0;
}

/*
 * Export the n events from q on; q ends after them. Runs without the lock:
 * the producer only appends after them, and linked every block they are in
 * before the batch was taken. Each span's view is
 * encoded as soon as it is built (protobuf span, JSON line), while it is in
 * the cache; only OTLP/JSON, which encodes the grouped batch at the end,
 * keeps every view of the batch.
 */
static void export_batch(struct weft_exporter *e, struct qpos *q, size_t n)
{
	struct weft_batch b = {.views = e->views,
			       .n = n,
			       .groups = e->groups,
			       .order = e->order,
			       .group_start = e->group_start};
	bool pb = e->cfg.otlp && e->cfg.proto != WEFT_OTLP_JSON;
	bool all_views = e->cfg.otlp && e->cfg.proto == WEFT_OTLP_JSON;
	int64_t off = mono_to_wall();
	uint64_t mono = now_ns(CLOCK_MONOTONIC);
	uint64_t gen = weft_batch_gen();
	int pb_rc = pb ? weft_pb_begin(e->pb, n) : 0;

	weft_rcache_trim(e->rc);
	wbuf_reset(&e->jbody);
	for (size_t i = 0; i < n; i++) {
		const struct weft_span_event *ev = qnext(q);
		struct weft_resource *r = weft_rcache_get(e->rc, ev->pid, mono);
		struct weft_span_view *v = &e->views[all_views ? i : 0];

		if (!r) {
			export_log(e, "out of memory building a resource: dropping a batch");
			e->dropped_export += n;
			while (++i < n) /* q still ends after the batch */
				qnext(q);
			return;
		}
		e->group_of[i] = weft_batch_group(&b, r, gen);
		weft_span_view_build(v, ev, r, off);
		if (pb && !pb_rc)
			pb_rc = weft_pb_add(e->pb, v, i);
		if (e->cfg.jsonl)
			weft_jsonl_add(v, &e->jbody);
	}
	weft_batch_order(&b, e->group_of);

	if (e->cfg.jsonl) {
		if (e->jbody.oom) {
			export_log(e, "out of memory encoding JSON lines: dropping a batch");
		} else if (jsonl_write(e) == 0) {
			e->written += n;
		} else if (!e->cfg.otlp) {
			e->dropped_export += n;
		}
	}
	if (e->cfg.otlp) {
		int rc;

		if (!pb) {
			weft_otlp_json_encode(&b, &e->body);
			rc = e->body.oom ? -1 : 0;
		} else {
			rc = pb_rc ? pb_rc : weft_pb_finish(e->pb, &b, &e->body);
		}
		if (rc) {
			export_log(e, "out of memory encoding an OTLP request: dropping %zu spans",
				   n);
			e->dropped_export += n;
		} else {
			otlp_send(e, n);
		}
	}
}

static void *worker(void *arg)
{
	struct weft_exporter *e = arg;
	uint64_t last = now_ns(CLOCK_MONOTONIC);

	pthread_mutex_lock(&e->mu);
	for (;;) {
		uint64_t queued = e->tail - e->head;
		uint64_t due = last + (uint64_t)e->batch_ms * 1000000ull;
		uint64_t t = now_ns(CLOCK_MONOTONIC);
		size_t n;
		struct qpos q;
		struct qblock *drop;

		if (queued == 0 && e->stop)
			break;
		if (queued < e->batch_max && !e->stop && e->head >= e->flush_target &&
		    (queued == 0 || t < due)) {
			if (queued == 0) {
				pthread_cond_wait(&e->work, &e->mu);
			} else {
				uint64_t abs = now_ns(CLOCK_MONOTONIC) + (due - t);
				struct timespec ts = {.tv_sec = (time_t)(abs / 1000000000ull),
						      .tv_nsec = (long)(abs % 1000000000ull)};

				pthread_cond_timedwait(&e->work, &e->mu, &ts);
			}
			continue;
		}
		n = queued < e->batch_max ? (size_t)queued : e->batch_max;
		q = e->qhead;
		pthread_mutex_unlock(&e->mu);

		export_batch(e, &q, n);
		last = now_ns(CLOCK_MONOTONIC);

		pthread_mutex_lock(&e->mu);
		e->head += n;
		drop = queue_release(e, q);
		pthread_cond_broadcast(&e->done);
		if (drop) {
			pthread_mutex_unlock(&e->mu);
			qblocks_unmap(drop);
			pthread_mutex_lock(&e->mu);
		}
	}
	pthread_cond_broadcast(&e->done);
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

/* --- API --------------------------------------------------------------- */

static void exporter_free(struct weft_exporter *e)
{
	if (!e)
		return;
	weft_http_free(e->http);
	weft_pb_enc_free(e->pb);
	weft_rcache_free(e->rc);
	wbuf_free(&e->body);
	wbuf_free(&e->jbody);
	if (e->jfd > 2)
		close(e->jfd);
	qblocks_unmap(e->qhead.b);
	qblocks_unmap(e->qfree);
	free(e->views);
	free(e->groups);
	free(e->order);
	free(e->group_start);
	free(e->group_of);
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->work);
	pthread_cond_destroy(&e->done);
	weft_config_free(&e->cfg);
	free(e);
}

struct weft_exporter *weft_exporter_new(const struct weft_exporter_opts *opts, char *err,
					size_t errlen)
{
	struct weft_exporter_opts none = {0};
	struct weft_exporter *e = calloc(1, sizeof(*e));
	pthread_condattr_t ca;
	sigset_t all, old;
	const char *v;
	size_t bm;
	int rc;

	if (!opts)
		opts = &none;
	if (!e) {
		snprintf(err, errlen, "cannot create the span exporter: out of memory");
		return NULL;
	}
	pthread_mutex_init(&e->mu, NULL);
	pthread_condattr_init(&ca);
	/* timed waits use CLOCK_MONOTONIC: a wall-clock step must not stall the worker */
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->work, &ca);
	pthread_cond_init(&e->done, &ca);
	pthread_condattr_destroy(&ca);
	e->jfd = -1;
	snprintf(e->injector, sizeof(e->injector), "%s", opts->injector ? opts->injector : "weft");

	if (weft_config_load(&e->cfg, opts->spans_file, err, errlen) < 0) {
		exporter_free(e);
		return NULL;
	}
	/* sizes: opts, then WEFT_EXPORTER_* / the OTel batch span processor variables */
	e->cap = opts->queue_max ? opts->queue_max
				 : env_size("WEFT_EXPORTER_QUEUE_MAX",
					    env_size("OTEL_BSP_MAX_QUEUE_SIZE", DEFAULT_QUEUE_MAX));
	bm = opts->batch_max
		 ? opts->batch_max
		 : env_size("WEFT_EXPORTER_BATCH_MAX",
			    env_size("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", DEFAULT_BATCH_MAX));
	e->batch_max = bm < e->cap ? bm : e->cap;
	e->batch_ms =
	    opts->batch_ms
		? opts->batch_ms
		: (unsigned)env_size("WEFT_EXPORTER_BATCH_MS",
				     env_size("OTEL_BSP_SCHEDULE_DELAY", DEFAULT_BATCH_MS));
	e->views = calloc(e->batch_max, sizeof(*e->views));
	e->groups = calloc(e->batch_max, sizeof(*e->groups));
	e->order = calloc(e->batch_max, sizeof(*e->order));
	e->group_start = calloc(e->batch_max + 1, sizeof(*e->group_start));
	e->group_of = calloc(e->batch_max, sizeof(*e->group_of));
	e->rc = weft_rcache_new(&e->cfg);
	e->pb = weft_pb_enc_new();
	if (!e->views || !e->groups || !e->order || !e->group_start || !e->group_of ||
	    !e->rc || !e->pb) {
		snprintf(err, errlen,
			 "cannot allocate the span exporter's buffers (batches of %zu spans): "
			 "out of memory; lower WEFT_EXPORTER_BATCH_MAX",
			 e->batch_max);
		exporter_free(e);
		return NULL;
	}
	if (e->cfg.otlp && !(e->http = weft_http_new(&e->cfg, err, errlen))) {
		exporter_free(e);
		return NULL;
	}
	if (e->cfg.jsonl) {
		if (e->cfg.spans_file) {
			e->jfd = open(e->cfg.spans_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
				      0644);
			if (e->jfd < 0) {
				snprintf(err, errlen,
					 "cannot open spans file %s: %s: fix "
					 "WEFT_SPANS_FILE or --spans-file",
					 e->cfg.spans_file, strerror(errno));
				exporter_free(e);
				return NULL;
			}
		} else {
			e->jfd = STDOUT_FILENO;
		}
	}
	if ((v = getenv("WEFT_EXPORTER_DEBUG")) && *v == '1')
		weft_info("exporter: otlp=%s%s%s jsonl=%s queue=%zu batch=%zu/%ums",
			  e->cfg.otlp ? e->cfg.url : "off",
			  e->cfg.otlp ? (e->cfg.proto == WEFT_OTLP_JSON ? " (http/json)"
									: " (http/protobuf)")
				      : "",
			  e->cfg.gzip ? " gzip" : "",
			  e->cfg.jsonl ? (e->cfg.spans_file ? e->cfg.spans_file : "stdout") : "off",
			  e->cap, e->batch_max, e->batch_ms);
	/* The worker blocks every signal: SIGINT/SIGTERM reach the injector's
	 * own threads, and a closed stdout pipe gives EPIPE instead of SIGPIPE. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&e->thread, NULL, worker, e);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		snprintf(err, errlen, "cannot start the exporter thread: %s", strerror(rc));
		exporter_free(e);
		return NULL;
	}
	e->thread_started = true;
	return e;
}

/* submit() copies an event up to the end of its tracestate */
_Static_assert(offsetof(struct weft_span_event, tracestate) + WEFT_TS_MAX ==
		   sizeof(struct weft_span_event),
	       "the tracestate must be the span event's last member");

int weft_exporter_submit(struct weft_exporter *e, const struct weft_span_event *ev)
{
	uint64_t queued;

	pthread_mutex_lock(&e->mu);
	queued = e->tail - e->head;
	if (queued >= e->cap || e->stop) {
		pthread_mutex_unlock(&e->mu);
		e->dropped_queue++;
		return -1;
	}
	if (!e->qtail.b || !qfits(e->qtail.off)) { /* on in a new block */
		struct qblock *b = qblock_get(e);

		if (!b) {
			pthread_mutex_unlock(&e->mu);
			e->dropped_queue++;
			return -1;
		}
		if (e->qtail.b)
			e->qtail.b->next = b;
		else
			e->qhead = (struct qpos){b, 0};
		e->qtail = (struct qpos){b, 0};
	}
	/* the tracestate is last and mostly empty: copy only what it holds (the
	 * span view reads tracestate_len bytes of it, no more) */
	memcpy(e->qtail.b->data + e->qtail.off, ev,
	       offsetof(struct weft_span_event, tracestate) +
		   (ev->tracestate_len < WEFT_TS_MAX ? ev->tracestate_len : WEFT_TS_MAX));
	e->qtail.off += qrec_len(ev);
	e->tail++;
	pthread_mutex_unlock(&e->mu);
	e->submitted++;
	if (queued + 1 == e->batch_max)
		pthread_cond_signal(&e->work);
	return 0;
}

void weft_exporter_flush(struct weft_exporter *e)
{
	/* enough for every queued batch to get one full timeout */
	uint64_t limit;
	struct timespec ts;
	uint64_t target;

	pthread_mutex_lock(&e->mu);
	target = e->tail;
	if (e->flush_target < target)
		e->flush_target = target;
	limit = now_ns(CLOCK_MONOTONIC) +
		((target - e->head) / e->batch_max + 1) * (uint64_t)e->cfg.timeout_ms * 1000000ull;
	pthread_cond_signal(&e->work);
	ts.tv_sec = (time_t)(limit / 1000000000ull);
	ts.tv_nsec = (long)(limit % 1000000000ull);
	while (e->head < target && e->thread_started)
		if (pthread_cond_timedwait(&e->done, &e->mu, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&e->mu);
}

void weft_exporter_stats(struct weft_exporter *e, struct weft_exporter_stats *out)
{
	out->submitted = e->submitted;
	out->dropped = e->dropped_queue + e->dropped_export;
	out->exported_otlp = e->exported;
	out->written_jsonl = e->written;
	out->retries = e->retries;
	out->rejected = e->rejected;
}

void weft_exporter_close(struct weft_exporter *e)
{
	struct weft_exporter_stats s;

	if (!e)
		return;
	pthread_mutex_lock(&e->mu);
	e->stop = true;
	e->shutdown_deadline = now_ns(CLOCK_MONOTONIC) + (uint64_t)e->cfg.timeout_ms * 1000000ull;
	pthread_cond_broadcast(&e->work);
	pthread_mutex_unlock(&e->mu);
	/* a post in flight ends at the deadline too: close takes one timeout at most */
	if (e->http)
		weft_http_set_deadline(e->http, e->shutdown_deadline);
	if (e->thread_started)
		pthread_join(e->thread, NULL);
	weft_exporter_stats(e, &s);
	weft_info("exporter: %llu spans submitted, %llu exported over OTLP, %llu written as "
		  "JSON lines, %llu dropped (queue full %llu, export failed %llu), %llu rejected "
		  "by the collector, %llu retries",
		  (unsigned long long)s.submitted, (unsigned long long)s.exported_otlp,
		  (unsigned long long)s.written_jsonl, (unsigned long long)s.dropped,
		  (unsigned long long)e->dropped_queue, (unsigned long long)e->dropped_export,
		  (unsigned long long)s.rejected, (unsigned long long)s.retries);
	exporter_free(e);
}

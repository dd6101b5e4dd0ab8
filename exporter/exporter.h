/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The shared span exporter, linked into every injector.
 *
 * Injectors hand it span events (bpf/include/weft_span.h) as they drain their
 * ring buffer; weft_exporter_submit() never blocks and never touches the
 * network: it copies the event into a bounded queue (overflow is counted).
 * A worker thread batches by size and time and sends OTLP/HTTP (protobuf by
 * default, or http/json) when an endpoint is configured, and writes JSON lines
 * (WEFT_SPANS_FILE / --spans-file, else stdout when no OTLP endpoint is set).
 *
 * Link: build/lib/libweftexport.a build/lib/libweftcommon.a $(EXPORT_LIBS)
 * (EXPORT_LIBS = -lprotobuf-c -lcurl -lz -lpthread, set in exporter/module.mk).
 * Configuration, JSON-lines schema, retry policy: docs/exporter.md.
 */
#ifndef WEFT_EXPORTER_H
#define WEFT_EXPORTER_H

#include <stddef.h>
#include <stdint.h>
#include "weft_span.h"

struct weft_exporter;

struct weft_exporter_opts {
	const char *injector;	/* program name, for log lines: "weft-http" */
	const char *spans_file; /* --spans-file; NULL: WEFT_SPANS_FILE, then the default */
	size_t queue_max;	/* 0: default (WEFT_EXPORTER_QUEUE_MAX or 65536 spans) */
	size_t batch_max;	/* 0: default (512 spans) */
	unsigned batch_ms;	/* 0: default (1000 ms) */
};

struct weft_exporter_stats {
	uint64_t submitted;	/* accepted into the queue */
	uint64_t dropped;	/* queue full, or given up after retries */
	uint64_t exported_otlp; /* acknowledged by the collector */
	uint64_t written_jsonl; /* written as JSON lines */
	uint64_t retries;
	uint64_t rejected; /* partial success: rejected by the collector */
};

/*
 * Create from the OTEL_* environment and opts. On failure returns NULL and
 * writes one line saying what failed and what to do into err.
 */
struct weft_exporter *weft_exporter_new(const struct weft_exporter_opts *opts, char *err,
					size_t errlen);

/* Queue one span; start/end are CLOCK_MONOTONIC ns. 0, or -1 when dropped. */
int weft_exporter_submit(struct weft_exporter *e, const struct weft_span_event *ev);

/* Send everything queued so far; waits until done or the export timeout. */
void weft_exporter_flush(struct weft_exporter *e);

void weft_exporter_stats(struct weft_exporter *e, struct weft_exporter_stats *out);

/*
 * Flush (OTLP retries bounded by the export timeout), stop the worker, print
 * one summary line to stderr ("exporter: N spans submitted, N exported over
 * OTLP, N written as JSON lines, N dropped (queue full N, export failed N),
 * N rejected by the collector, N retries"), free.
 */
void weft_exporter_close(struct weft_exporter *e);

#endif /* WEFT_EXPORTER_H */

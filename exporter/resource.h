/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The OTel resource of each target process, cached by pid (with the process
 * start time, so a reused pid gets a fresh resource). Precedence, lowest
 * first: the exporter's OTEL_RESOURCE_ATTRIBUTES, the target's own
 * OTEL_RESOURCE_ATTRIBUTES, what weft detects (process.*, host.name,
 * telemetry.sdk.*); service.name from the target's OTEL_SERVICE_NAME, its
 * OTEL_RESOURCE_ATTRIBUTES, the exporter's OTEL_SERVICE_NAME, the exporter's
 * OTEL_RESOURCE_ATTRIBUTES, else unknown_service:<executable name>.
 */
#ifndef WEFT_EXPORT_RESOURCE_H
#define WEFT_EXPORT_RESOURCE_H

#include <stdint.h>
#include "attr.h"
#include "buf.h"
#include "config.h"

struct weft_resource {
	uint32_t pid;
	uint64_t start_time;	  /* /proc/PID/stat starttime, 0 when unknown */
	uint64_t checked_ns;	  /* CLOCK_MONOTONIC of the last pid-reuse check */
	const char *service_name; /* points into kv */
	struct weft_kv_list kv;	  /* string attributes */
	struct weft_attr *attrs;  /* all attributes, service.name first */
	size_t nattrs;
	/* Encodings cached by the encoders, built on first use. */
	struct wbuf json_otlp; /* OTLP/JSON "resource" object */
	struct wbuf json_flat; /* JSON-lines "resource" object */
	void *pb;	       /* protobuf Resource message (one allocation) */
	/* Per-batch grouping, owned by the encoder of the current batch. */
	uint64_t batch_gen;
	uint32_t group;
};

struct weft_rcache;

struct weft_rcache *weft_rcache_new(const struct weft_export_config *cfg);
void weft_rcache_free(struct weft_rcache *rc);

/* Resource of pid; never NULL unless out of memory. now_ns: CLOCK_MONOTONIC. */
struct weft_resource *weft_rcache_get(struct weft_rcache *rc, uint32_t pid, uint64_t now_ns);

/* Between batches: bound the cache (drops every entry when too many). */
void weft_rcache_trim(struct weft_rcache *rc);

#endif /* WEFT_EXPORT_RESOURCE_H */

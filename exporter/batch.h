/* SPDX-License-Identifier: BSD-2-Clause */
/* One batch of spans, grouped by resource, as every encoder receives it. */
#ifndef WEFT_EXPORT_BATCH_H
#define WEFT_EXPORT_BATCH_H

#include <stdint.h>
#include "buf.h"
#include "span_view.h"

#define WEFT_SCOPE_NAME "weft"

struct weft_batch {
	struct weft_span_view *views; /* n views */
	size_t n;
	struct weft_resource **groups; /* distinct resources, ngroups */
	size_t ngroups;
	uint32_t *order;       /* view indices, grouped: group 0's views first */
	uint32_t *group_start; /* ngroups + 1 offsets into order */
};

/* A new batch generation (tags resources already grouped in this batch). */
uint64_t weft_batch_gen(void);
/* Group of resource r in batch b (gen), adding r to b->groups if new. */
uint32_t weft_batch_group(struct weft_batch *b, struct weft_resource *r, uint64_t gen);
/* Fill b->order and b->group_start from each view's group (group_of[i]). */
void weft_batch_order(struct weft_batch *b, const uint32_t *group_of);

/* OTLP/HTTP protobuf: ExportTraceServiceRequest, packed by protobuf-c (otlp_pb.c).
 * -1 when out of memory. */
struct weft_pb_enc;
struct weft_pb_enc *weft_pb_enc_new(void);
void weft_pb_enc_free(struct weft_pb_enc *e);
int weft_pb_encode(struct weft_pb_enc *e, const struct weft_batch *b, struct wbuf *out);
/* The same in steps, so that each span is packed while its view is fresh:
 * weft_pb_begin() for n spans, weft_pb_add() of each view i in arrival order
 * (0 .. n-1; the view may be reused once added), weft_pb_finish() once b is
 * grouped (b->views unused). weft_pb_encode() does all three. */
int weft_pb_begin(struct weft_pb_enc *e, size_t n);
int weft_pb_add(struct weft_pb_enc *e, const struct weft_span_view *v, size_t i);
int weft_pb_finish(struct weft_pb_enc *e, const struct weft_batch *b, struct wbuf *out);
/* ExportTraceServiceResponse: rejected spans (0 if none) and its message. */
int weft_pb_parse_response(const void *body, size_t len, int64_t *rejected, char *msg,
			   size_t msgsz);
/* google.rpc.Status (an error body): its message; -1 when body is not one or has none. */
int weft_pb_status_message(const void *body, size_t len, char *msg, size_t msgsz);

/* OTLP/HTTP JSON: the same request in the protobuf JSON mapping. */
void weft_otlp_json_encode(const struct weft_batch *b, struct wbuf *out);
int weft_otlp_json_parse_response(const char *body, size_t len, int64_t *rejected, char *msg,
				  size_t msgsz);

/* JSON lines: one object per span, each ending in '\n'. */
void weft_jsonl_encode(const struct weft_batch *b, struct wbuf *out);
/* One span's line, appended to out. */
void weft_jsonl_add(const struct weft_span_view *v, struct wbuf *out);

#endif /* WEFT_EXPORT_BATCH_H */

/* SPDX-License-Identifier: BSD-2-Clause */
/* The fast OTLP protobuf encoder (see otlp_wire.c) and what it shares with otlp_pb.c. */
#ifndef WEFT_EXPORT_OTLP_WIRE_H
#define WEFT_EXPORT_OTLP_WIRE_H

#include <stdlib.h>
#include <protobuf-c/protobuf-c.h>
#include "batch.h"

struct weft_wire_enc {
	size_t *size; /* per span (in batch order) */
	size_t cap;
	size_t *ss_size; /* per group: ScopeSpans, ResourceSpans sizes */
	size_t gcap;
	struct wbuf scope; /* packed InstrumentationScope */
};

/* Same request as weft_pb_encode(), written directly. -1 when out of memory. */
int weft_wire_encode(struct weft_pb_enc *pe, struct weft_wire_enc *we, const struct weft_batch *b,
		     struct wbuf *out);
void weft_wire_enc_free(struct weft_wire_enc *we);

/* protoc-c messages from otlp_pb.c */
const ProtobufCMessage *weft_pb_resource_msg(struct weft_pb_enc *pe, struct weft_resource *r);
const ProtobufCMessage *weft_pb_scope_msg(struct weft_pb_enc *pe);

#endif /* WEFT_EXPORT_OTLP_WIRE_H */

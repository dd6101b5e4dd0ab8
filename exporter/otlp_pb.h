/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Pieces of the OTLP protobuf encoding (exporter/otlp_pb.c) that tests
 * building the same request as one protoc-c message tree share.
 */
#ifndef WEFT_EXPORT_OTLP_PB_H
#define WEFT_EXPORT_OTLP_PB_H

#include "batch.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

/* Shared by the encoder and the reference in tests/lib/otlp_pb_reference.c. */
void weft_pb_set_value(Opentelemetry__Proto__Common__V1__AnyValue *av, const struct weft_attr *a);
bool weft_pb_is_root(const struct weft_span_event *ev);
/* W3C flags plus OTLP's parent-is-remote bits for spans with a parent. */
uint32_t weft_pb_span_flags(const struct weft_span_view *v);
Opentelemetry__Proto__Trace__V1__Span__SpanKind weft_pb_span_kind(int kind);

/* r's Resource message, built on first use and cached on r; NULL when out of memory. */
Opentelemetry__Proto__Resource__V1__Resource *weft_pb_resource_msg(struct weft_resource *r);

/* The InstrumentationScope of every request: weft, weft's version. */
Opentelemetry__Proto__Common__V1__InstrumentationScope *weft_pb_scope_msg(void);

#endif /* WEFT_EXPORT_OTLP_PB_H */

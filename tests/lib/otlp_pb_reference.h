/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The reference the exporter's protobuf encoder is compared with: the same
 * ExportTraceServiceRequest built as one tree of protoc-c messages and packed
 * whole by protobuf-c (exporter/otlp_pb.c packs spans one by one into an
 * envelope instead; the bytes must be identical).
 */
#ifndef WEFT_TESTS_OTLP_PB_REFERENCE_H
#define WEFT_TESTS_OTLP_PB_REFERENCE_H

#include "batch.h"

/* 0, or -1 when out of memory. */
int weft_pb_reference_encode(const struct weft_batch *b, struct wbuf *out);

#endif /* WEFT_TESTS_OTLP_PB_REFERENCE_H */

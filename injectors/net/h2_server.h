/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * weft-http: SERVER spans of cleartext HTTP/2 servers, from the events of
 * bpf/net/http2_srv.bpf.h (request header blocks, END_STREAM written, losses):
 * HPACK decoded per connection with libnghttp2's inflater.
 */
#ifndef WEFT_H2_SERVER_H
#define WEFT_H2_SERVER_H

#include <stddef.h>

struct weft_exporter;
struct weft_h2s;

/* NULL when out of memory. */
struct weft_h2s *weft_h2s_new(struct weft_exporter *exp);

/* ring_buffer callback for the h2s_events ring; ctx is the weft_h2s. */
int weft_h2s_event(void *ctx, void *data, size_t len);

/* Prints what became of the HTTP/2 streams read (if any), frees everything. */
void weft_h2s_free(struct weft_h2s *h);

#endif /* WEFT_H2_SERVER_H */

/* SPDX-License-Identifier: BSD-2-Clause */
/* OTLP/HTTP transport: one reused libcurl handle (keep-alive), TLS, gzip. */
#ifndef WEFT_EXPORT_TRANSPORT_H
#define WEFT_EXPORT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "config.h"

struct weft_http;

struct weft_http_result {
	long status;		 /* HTTP status, 0 when no response */
	long retry_after_ms;	 /* Retry-After, -1 when absent */
	const struct wbuf *body; /* response body */
	char error[256];	 /* transport error (status 0) */
};

struct weft_http *weft_http_new(const struct weft_export_config *cfg, char *err, size_t errlen);
void weft_http_free(struct weft_http *h);

/*
 * POST body (gzip-compressed first when configured). Returns 0 when a
 * response arrived (res->status), -1 on a transport failure (res->error).
 */
int weft_http_post(struct weft_http *h, const void *body, size_t len, struct weft_http_result *res);

/*
 * From any thread: a post still waiting at CLOCK_MONOTONIC time mono_ns (or
 * started after it) ends at once with a transport failure. Used at close.
 */
void weft_http_set_deadline(struct weft_http *h, uint64_t mono_ns);

#endif /* WEFT_EXPORT_TRANSPORT_H */

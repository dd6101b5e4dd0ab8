/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * W3C Trace Context (Level 1 and 2) codec for user space: parse and format
 * traceparent with every validity rule, new traces and child spans with
 * random ids. The fixed-position field code and the hex helpers are the ones
 * BPF programs use (bpf/include/weft_tracecontext.h).
 */
#ifndef WEFT_COMMON_TRACECONTEXT_H
#define WEFT_COMMON_TRACECONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "weft_tracecontext.h"
#include "weft_tracestate.h"

/* Result of looking at the traceparent headers of a request. */
enum weft_tp_status {
	WEFT_TP_VALID = 0,   /* exactly one valid header */
	WEFT_TP_ABSENT = 1,  /* no header */
	WEFT_TP_INVALID = 2, /* malformed, or more than one header */
};

/* traceparent value plus NUL */
#define WEFT_TP_STR_SIZE (WEFT_TRACEPARENT_LEN + 1)

/*
 * Parse one traceparent header value of len bytes (need not be NUL
 * terminated). Surrounding spaces and tabs are ignored. Returns 0 and fills
 * ctx (flags keep only the sampled and random bits), or -1 when invalid.
 */
int weft_tp_parse(const char *value, size_t len, struct weft_trace_ctx *ctx);

/*
 * Parse all n traceparent values found in one request (NUL-terminated
 * strings). Zero values: WEFT_TP_ABSENT; more than one: WEFT_TP_INVALID.
 */
enum weft_tp_status weft_tp_parse_headers(const char *const *values, size_t n,
					  struct weft_trace_ctx *ctx);

/* Format ctx as a version-00 traceparent value into out (NUL-terminated). */
void weft_tp_format_str(const struct weft_trace_ctx *ctx, char out[WEFT_TP_STR_SIZE]);

/* A new trace: random trace id and span id, flags = random | (sampled). */
void weft_tp_new_trace(struct weft_trace_ctx *ctx, bool sampled);

/* A child of parent: same trace id and flags, a new random span id. */
void weft_tp_child(const struct weft_trace_ctx *parent, struct weft_trace_ctx *child);

/*
 * What a server does with an incoming request: with exactly one valid
 * traceparent, *parent is it, *ctx is a child of it and the tracestate is
 * kept; otherwise (absent or invalid) *parent is cleared (valid = 0), *ctx
 * starts a new sampled trace and *tracestate_out is NULL (dropped).
 */
enum weft_tp_status weft_tp_accept(const char *const *tp_values, size_t n, const char *tracestate,
				   struct weft_trace_ctx *parent, struct weft_trace_ctx *ctx,
				   const char **tracestate_out);

/* tracestate value plus NUL */
#define WEFT_TS_STR_SIZE (WEFT_TS_MAX + 1)

/*
 * Parse the n tracestate header values of one request (combined into one
 * list, in order) by the W3C rules (bpf/include/weft_tracestate.h) and write
 * the normalised list, NUL-terminated, into out: members joined by ",",
 * optional whitespace and empty members dropped, at most WEFT_TS_MAX
 * characters (longer lists cut at member boundaries: members over 128
 * characters first, then from the end). lens[i] is the length of values[i];
 * lens NULL: NUL-terminated strings. Returns the length written (0: no
 * members), or -1 when the value is invalid (out is then "": discard it).
 */
int weft_ts_parse_headers(const char *const *values, const size_t *lens, size_t n,
			  char out[WEFT_TS_STR_SIZE]);

/* One header value of len bytes; as weft_ts_parse_headers. */
int weft_ts_parse(const char *value, size_t len, char out[WEFT_TS_STR_SIZE]);

/* Lowercase hex of n bytes into out (2n chars + NUL). */
void weft_hex_encode(char *out, const uint8_t *bytes, size_t n);

/* Decode 2n lowercase hex chars into bytes; -1 on any other char. */
int weft_hex_decode(uint8_t *bytes, const char *hex, size_t n);

#endif /* WEFT_COMMON_TRACECONTEXT_H */

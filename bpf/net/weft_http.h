/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* weft-http: definitions shared by its BPF units (http_shared.bpf.h) and injectors/net/weft_http.c. */
#ifndef WEFT_HTTP_H
#define WEFT_HTTP_H

/* Counters (per-CPU array `counters`, summed by user space at exit). */
enum weft_http_counter {
	WH_INSERTED = 0,	/* traceparent inserted into an outgoing request */
	WH_LEFT_ALONE,		/* request already carried traceparent */
	WH_GO_CTX,		/* inserted with weft-go's published context */
	WH_NOT_HTTP,		/* connection proven not HTTP: dropped from the sockhash */
	WH_GIVE_UP,		/* HTTP stream we stopped following (oversized header, bad length) */
	WH_ERRORS,		/* helper failures (pull/push data, ring buffer full) */
	WH_SERVER_SPANS,
	WH_CLIENT_SPANS,
	WH_NOT_OURS,		/* connection of a process outside --pid */
	WH_PREEMPTED,		/* connection given up: its sk_msg run met a preempted one on its CPU */
	WH_BAD_FRAMING,		/* connection given up: body length unsure (RFC 9112 6.3) */
	WH_SPLIT,		/* request left alone: its header block came in several writes */
	WH_NEW_IDLE,		/* new trace: the calling thread serves no request */
	WH_NEW_TWO,		/* new trace: the thread was seen with two requests in flight */
	WH_NEW_LOOP,		/* new trace: the thread is an event loop, no runtime rule */
	WH_RT_PARENT,		/* parent from a runtime rule (nginx upstream tie) */
	WH_REPLACED,		/* a forwarded traceparent replaced in place (same 55 bytes) */
	WH_TP_TWICE,		/* outgoing request with two traceparent headers: left untouched */
	WH_TS_INVALID,		/* incoming tracestate invalid by the W3C rules: not carried */
	WH_H2_CONNS,		/* connections confirmed HTTP/2 (client preface, then SETTINGS) */
	WH_H2_TOO_BIG,		/* HTTP/2 request left alone: the field would pass the peer's max
				 * frame size, or the frame is larger than weft's 32 KiB buffer */
	WH_H2_SPLIT,		/* HTTP/2 request left alone: its HEADERS frame spans several sends */
	WH_H2_CONT,		/* HTTP/2 request left alone: its header block goes on in CONTINUATION */
	WH_H2_UNSURE,		/* HTTP/2 request left alone: a dynamic-table entry might be traceparent */
	WH_NCOUNTERS,
};

/* Notice from BPF to user space: remove this socket cookie from the sockhash. */
struct weft_http_notice {
	__u64 cookie;
};

#endif /* WEFT_HTTP_H */

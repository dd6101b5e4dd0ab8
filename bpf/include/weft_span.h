/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The span event: one layout, written by every BPF program into a ring buffer
 * and read by the shared exporter (exporter/exporter.h).
 */
#ifndef WEFT_SPAN_H
#define WEFT_SPAN_H

#include "weft_tracecontext.h"
#include "weft_tracestate.h"

enum weft_span_kind {
	WEFT_KIND_SERVER = 1,
	WEFT_KIND_CLIENT = 2,
};

/* Where the span's parent context came from. */
enum weft_parent_src {
	WEFT_PARENT_GENERATED = 0,	/* no parent: a new trace started here */
	WEFT_PARENT_HEADER = 1,		/* incoming traceparent header */
	WEFT_PARENT_TCPOPT = 2,		/* weft TCP option */
	WEFT_PARENT_INJECTOR = 3,	/* another injector (e.g. weft-go's connection map) */
	WEFT_PARENT_LOCAL = 4,		/* the server span of the same thread or goroutine */
};

enum weft_proto {
	WEFT_PROTO_HTTP1 = 1,
	WEFT_PROTO_HTTP2 = 2,
	WEFT_PROTO_GRPC = 3,
	WEFT_PROTO_TCP = 4,
};

enum weft_injector {
	WEFT_INJ_GO = 1,
	WEFT_INJ_HTTP = 2,
	WEFT_INJ_TCPOPT = 3,
};

/* Bits of weft_span_event.truncated: which strings were cut. */
#define WEFT_TRUNC_METHOD	0x01
#define WEFT_TRUNC_PATH		0x02
#define WEFT_TRUNC_HOST		0x04

/* Bits of weft_span_event.flags. */
#define WEFT_SPAN_TLS		0x01	/* request travelled over TLS (url.scheme https) */
#define WEFT_SPAN_WRITTEN	0x02	/* a traceparent was written into the request */
#define WEFT_SPAN_RPC_STATUS	0x04	/* status holds the gRPC status code (proto GRPC) */
#define WEFT_SPAN_APP_CONTEXT	0x08	/* the app sent its own traceparent: the callee continues it */
#define WEFT_SPAN_HTTP_STATUS	0x10	/* http_status holds the HTTP status beside a gRPC one */

#define WEFT_METHOD_MAX		16
#define WEFT_PATH_MAX		128
#define WEFT_HOST_MAX		64

struct weft_sockaddr {
	__u8 addr[16];		/* IPv4 in the first 4 bytes, or IPv6 */
	__u16 port;		/* host byte order */
	__u8 family;		/* 4, 6, or 0 when unknown */
	__u8 _pad[5];
};

struct weft_span_event {
	struct weft_trace_ctx ctx;	/* trace id, this span's id, trace flags */
	__u8 parent_span_id[WEFT_SPAN_ID_LEN];	/* all zero for a root span */
	__u64 start_ns;			/* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 end_ns;			/* the exporter converts both to wall clock */
	__u32 pid;			/* tgid */
	__u32 tid;
	__u16 status;			/* HTTP status code, 0 when unknown (gRPC: WEFT_SPAN_RPC_STATUS) */
	__u8 kind;			/* enum weft_span_kind */
	__u8 proto;			/* enum weft_proto */
	__u8 parent_src;		/* enum weft_parent_src */
	__u8 injector;			/* enum weft_injector */
	__u8 truncated;			/* WEFT_TRUNC_* */
	__u8 flags;			/* WEFT_SPAN_* */
	__u8 method_len;
	__u8 host_len;
	__u16 path_len;
	__u16 tracestate_len;		/* bytes of tracestate, 0: none */
	__u16 http_status;		/* WEFT_SPAN_HTTP_STATUS: the response's HTTP status when
					 * status holds the gRPC one */
	struct weft_sockaddr local;
	struct weft_sockaddr peer;
	char method[WEFT_METHOD_MAX];
	char path[WEFT_PATH_MAX];
	char host[WEFT_HOST_MAX];	/* Host header or server name, when known */
	/* the W3C tracestate of the span's trace as the injector carried it
	 * (normalised, weft_tracestate.h); the exporter validates it again */
	char tracestate[WEFT_TS_MAX];
};

#endif /* WEFT_SPAN_H */

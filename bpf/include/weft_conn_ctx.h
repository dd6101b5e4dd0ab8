/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Context handed between injectors, per outgoing connection.
 *
 * weft-go, when it cannot write into a Go process (lockdown or --no-write),
 * publishes the context of each outgoing request in a pinned hash map keyed by
 * the connection's (tgid, fd). weft-http looks the entry up when the same
 * process writes a request to that socket (a syscall tracepoint notes the fd
 * the thread is writing; sk_msg runs in that thread), inserts the header with
 * this context, and deletes the entry so it serves exactly one request.
 * forwarded = 1: the app copied the served request's incoming traceparent
 * (a reverse proxy): the request carries traceparent 00-<ctx.trace_id>-
 * <fwd_span_id>-..; the reader overwrites that value in place with ctx
 * (same 55 bytes) instead of inserting a header.
 * tracestate: the served request's tracestate (validated, normalised): the
 * reader inserts it beside the traceparent it inserts, unless the request has
 * its own.
 *
 * Both maps are declared here once, for every injector's BPF object, and
 * pinned by name in the pin directory (WEFT_PIN_DIR, or $WEFT_PIN_DIR): the
 * first injector to start creates them, the others reuse them, so start
 * order never matters (common/pins.h: stale pins, removal by the last user).
 * Layout version: bump WEFT_CONN_CTX_VERSION on any change.
 *
 * HTTP/2 streams multiplex on one connection, so for them the context is
 * published per STREAM, in go_stream_ctx (same value layout): key the
 * connection's socket cookie (the kernel's name for it; an fd number is
 * reused, a cookie never is), the tgid and the HTTP/2 stream id. weft-go
 * (read-only) publishes each grpc-go, net/http (bundled HTTP/2) and x/net
 * client stream's CLIENT context there once the stream id is known and
 * before its HEADERS frame leaves; weft-http's
 * h2c insertion takes the entry of exactly that connection and stream,
 * deletes it once used, and weft-go deletes what is left when the call ends
 * (gRPC) or the CLIENT span ends (net/http, x/net).
 * LRU-bounded: an end weft never saw cannot fill it.
 */
#ifndef WEFT_CONN_CTX_H
#define WEFT_CONN_CTX_H

#include "weft_tracecontext.h"
#include "weft_tracestate.h"

#define WEFT_PIN_DIR		"/sys/fs/bpf/weft"
#define WEFT_CONN_CTX_MAP	"go_conn_ctx"
#define WEFT_CONN_CTX_VERSION	2
#define WEFT_CONN_CTX_MAX	16384
#define WEFT_STREAM_CTX_MAP	"go_stream_ctx"
#define WEFT_STREAM_CTX_MAX	16384

struct weft_conn_key {
	__u32 tgid;
	__s32 fd;
};

struct weft_stream_key {
	__u64 cookie;	/* the socket's cookie (bpf_get_socket_cookie, sk_cookie) */
	__u32 tgid;
	__u32 sid;	/* HTTP/2 stream id */
};

struct weft_conn_ctx {
	struct weft_trace_ctx ctx;	/* trace id, CLIENT span id to send, flags */
	__u64 ts_ns;			/* when published (bpf_ktime_get_ns) */
	__u32 version;			/* WEFT_CONN_CTX_VERSION */
	__u8 forwarded;			/* replace the copied traceparent (above) */
	__u8 _pad[3];
	__u8 fwd_span_id[WEFT_SPAN_ID_LEN];	/* the parent id the copied header carries */
	__u16 tracestate_len;		/* 0: none */
	__u8 _pad2[6];
	char tracestate[WEFT_TS_MAX];
};

/*
 * The processes weft-go instruments: key tgid (__u32), value the binary's index
 * in weft-go (__u32). weft-go pins it beside the context map. Another injector
 * that sees it leaves the spans of these processes to weft-go (one span per
 * request and side) and inserts a header into their requests only with a
 * context weft-go published.
 */
#define WEFT_GO_PIDS_MAP	"go_pids"
#define WEFT_GO_PIDS_MAX	4096

#ifdef __BPF_HELPERS__
#include "weft_link.h"

WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, WEFT_CONN_CTX_MAX);
	__type(key, struct weft_conn_key);
	__type(value, struct weft_conn_ctx);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} go_conn_ctx SEC(".maps");

WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, WEFT_STREAM_CTX_MAX);
	__type(key, struct weft_stream_key);
	__type(value, struct weft_conn_ctx);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} go_stream_ctx SEC(".maps");

WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WEFT_GO_PIDS_MAX);
	__type(key, __u32);   /* tgid */
	__type(value, __u32); /* weft-go's index of the process's binary */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} go_pids SEC(".maps");
#endif /* __BPF_HELPERS__ */

#endif /* WEFT_CONN_CTX_H */

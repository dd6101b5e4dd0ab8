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
	WH_H2S_CONNS,		/* incoming connections confirmed HTTP/2 (preface, then SETTINGS read) */
	WH_H2S_LOST,		/* incoming HTTP/2 connections whose reads or writes could not be
				 * followed (more frames or iovecs than walked) */
	WH_H2_GO_NONE,		/* HTTP/2 request of a weft-go process left alone: weft-go
				 * published no context for that connection and stream */
	WH_PRE_CONNS,		/* outgoing connections enrolled at start (established before) */
	WH_PRE_SRV_CONNS,	/* incoming connections marked at start (established before) */
	WH_PRE_LEFT,		/* sends and requests on them left alone: no certain boundary yet */
	WH_PRE_CERTAIN,		/* ... that reached a certain message boundary: followed from there */
	WH_H2S_PIECE_LOST,	/* HTTP/2 server header block pieces not handed over (ring buffer
				 * full): that direction's HPACK table is uncertain from then on */
	WH_H2_IN_LOST,		/* outgoing HTTP/2 connections whose reads could no longer be
				 * followed: their open CLIENT spans end unanswered at exit */
	WH_PRE_H2_OLD,		/* HTTP/2 request on a pre-existing connection left alone: it
				 * refers to a dynamic-table entry from before the boundary */
	WH_NCOUNTERS,
};

/* Notice from BPF to user space: remove this socket cookie from the sockhash. */
struct weft_http_notice {
	__u64 cookie;
};

/*
 * Incoming HTTP/2 (http2_srv.bpf.h -> injectors/net/h2_server.c), ring buffer
 * h2s_events, in the order the server process read and wrote them.
 */
enum weft_h2s_kind {
	WEFT_H2S_OPEN = 1,	/* preface + SETTINGS read: a new connection (new HPACK contexts) */
	WEFT_H2S_PIECE,		/* payload bytes of a request HEADERS or a CONTINUATION frame
				 * read (struct weft_h2s_block; a frame's pieces come in order) */
	WEFT_H2S_END,		/* the server wrote END_STREAM on stream sid (type: the frame's) */
	WEFT_H2S_LOST_IN,	/* the server's reads can no longer be followed */
	WEFT_H2S_LOST_OUT,	/* the server's writes can no longer be followed */
	WEFT_H2S_PIECE_OUT,	/* payload bytes of a HEADERS, PUSH_PROMISE or CONTINUATION frame
				 * the server wrote (struct weft_h2s_block; ts: the write's entry) */
};

#define WEFT_H2S_PIECE_MAX 4096	/* payload bytes in one piece (power of two) */

struct weft_h2s_event {
	__u64 conn;		/* the socket's inode number (with tgid and fd: the connection) */
	__u64 ts;		/* bpf_ktime_get_ns */
	__u32 tgid;
	__u32 tid;
	__s32 fd;
	__u32 sid;
	__u32 len;		/* WEFT_H2S_PIECE: payload bytes in block[] */
	__u32 off;		/* ... their offset in the frame's payload */
	__u32 frame_len;	/* ... the frame's payload length */
	__u32 seq;		/* pieces: the direction's piece number (a gap: pieces were lost) */
	__u8 kind;		/* enum weft_h2s_kind */
	__u8 type;		/* the frame's type (HEADERS, CONTINUATION, PUSH_PROMISE) */
	__u8 flags;		/* its flags (END_STREAM, END_HEADERS, PADDED, PRIORITY) */
	__u8 _pad;
	__u32 _pad2;
};

struct weft_h2s_block {
	struct weft_h2s_event h;
	struct weft_sockaddr local;
	struct weft_sockaddr peer;
	__u8 block[WEFT_H2S_PIECE_MAX];
};

#endif /* WEFT_HTTP_H */

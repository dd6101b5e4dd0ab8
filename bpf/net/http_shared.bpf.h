/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * weft-http: traceparent insertion into outgoing HTTP/1.x requests (sk_msg),
 * incoming request parsing and SERVER/CLIENT spans (syscall tracepoints).
 *
 * Outgoing: a sockops program (attached to the target cgroup) puts every
 * outgoing TCP connection into `sock_map` at ACTIVE_ESTABLISHED. The sk_msg
 * program then follows each connection's request stream with a per-socket
 * state (sk_storage `conn`):
 *   START   the next byte starts a request. When its header block is complete
 *           in this write, insert "traceparent: ...\r\n" after the request
 *           line unless the block already has one, then bpf_msg_apply_bytes()
 *           over header block + Content-Length body so the program next runs
 *           exactly at the following request (or chunk) boundary.
 *   HDR     inside a header block that goes on in a later write: the bytes
 *           pass at once (nothing is ever held back: corked bytes are lost
 *           on shutdown/close), the scanner resumes on the next write, and the
 *           request is inserted into only if its request line ends in the
 *           write that ends the block.
 *   CHUNK   in a chunked body: a resumable RFC 9112 chunk parser (size lines
 *           with any number of digits and extensions, data skipped with
 *           apply_bytes, CRLF after the data checked, trailer section).
 *   PASS    not (or no longer) followed: everything passes unchanged.
 * A stream whose first bytes are not a known method is not HTTP: it passes
 * unchanged and user space removes it from the sockhash (ring buffer notice).
 *
 * Incoming: syscall tracepoints on read/recvfrom/recvmsg/readv exits parse
 * requests read by target threads (across reads) and the responses to their
 * own outgoing requests; write/sendto/sendmsg/writev entries note the fd a
 * thread writes (for sk_msg) and end the SERVER span at the status line.
 *
 * The BPF object (one skeleton, weft_http.skel.h) is linked from units by
 * concern (bpftool gen object; weft_link.h):
 *   http_shared.bpf.c   owns the maps and globals below, the license
 *   http_insert.bpf.c   outgoing: sockops enrolment, sk_msg insertion
 *                       (http_chunk.bpf.h: its chunked-body parser)
 *   http_observe.bpf.c  incoming requests, responses: SERVER/CLIENT spans
 *   http_rt.bpf.c       runtime rules (rt_*.bpf.h), event-loop threads
 * This header is what they share: configuration, types, maps, filters and
 * the served request's tracestate.
 */
#ifndef WEFT_HTTP_SHARED_BPF_H
#define WEFT_HTTP_SHARED_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include "weft_link.h"
#include "weft_maps.bpf.h"
#include "weft_kernel.bpf.h"
#include "weft_target.bpf.h"

WEFT_SHARED const volatile bool weft_have_bpf_loop WEFT_INIT(true);
WEFT_SHARED const volatile bool filter_cgroup WEFT_INIT(false);	/* tracepoints: only tasks under target_cg */

#include "weft_span.h"
#include "weft_conn_ctx.h"
#include "net/http_parse.bpf.h"
/* SERVER span events carry the served request's tracestate (srv_ts below) */
struct weft_server_ctx;
static __always_inline void sctx_end_ts(struct weft_span_event *ev,
					const struct weft_server_ctx *s, __u64 pid_tgid);
#define WEFT_SCTX_END_HOOK(ev, s, pid_tgid) sctx_end_ts(ev, s, pid_tgid)
#include "net/server_ctx.bpf.h"
#include "net/weft_http.h"

enum conn_phase {
	PH_START = 0,
	PH_CHUNK,
	PH_PASS,
	PH_HDR,
	PH_H2_PRE,	/* the HTTP/2 client preface, then its SETTINGS frame: nothing changed yet */
	PH_H2,		/* confirmed HTTP/2: frames followed (http2_out.bpf.h) */
	PH_PRE,		/* pre-existing (enrolled at start, http_enrol.bpf.c): position
			 * unknown, every byte passes until a certain boundary (pre_conns) */
};

/*
 * An outgoing HTTP/2 connection's frame position, kept across sends: a frame
 * (or its 9-byte header) may be cut anywhere between two sends.
 */
struct h2_out {
	__u32 left;		/* payload bytes of the current frame still to pass */
	__u32 max_sid;		/* highest stream whose request HEADERS went out */
	__u32 cont_sid;		/* stream of a header block going on in CONTINUATION, 0: none */
	__u8 hdr[9];		/* the frame header being collected */
	__u8 hdr_n;		/* its bytes seen so far */
	__u8 pre_n;		/* client preface bytes matched (PH_H2_PRE) */
	__u8 tp_indexed;	/* the encoder's dynamic table may hold a traceparent entry */
	__u8 ts_indexed;	/* ... a tracestate entry */
	__u8 pre;		/* pre-existing: followed from a verified boundary (h2_pre_send) */
	__u8 pre_ok;		/* PH_PRE: h2v_state.ok (h2_verify.h) */
	__u8 pre_opened;	/* PH_PRE: h2v_state.opened */
	__u32 ins;		/* pre: the encoder's table insertions seen since the boundary */
};

/* Chunked body parser (RFC 9112 section 7.1), one byte at a time. */
enum chunk_state {
	CK_SIZE0 = 0,	/* chunk-size: no digit yet */
	CK_SIZE,	/* chunk-size digits (leading zeros allowed, any number) */
	CK_BWS,		/* spaces after the size: then ';' or the end of the line */
	CK_EXT,		/* chunk extensions up to the end of the line */
	CK_SIZE_LF,	/* CR seen at the end of the size line */
	CK_DATA_CR,	/* after the chunk data: CRLF */
	CK_DATA_LF,
	CK_TR_START,	/* start of a trailer line (or the final empty line) */
	CK_TR,
	CK_TR_LF,
	CK_END_LF,	/* CR of the final empty line seen */
};

enum chunk_ret { CK_MORE = 0, CK_DATA, CK_END, CK_BAD };

#define CK_LINE_MAX	4096		/* a chunk-size line with its extensions */
#define CK_SIZE_MAX	(1ULL << 31)	/* larger chunks: given up (apply_bytes is 32-bit) */

struct conn_state {
	__u64 cookie;
	__u8 phase;		/* enum conn_phase */
	__u8 pid_checked;
	__u8 ck;		/* enum chunk_state, in PH_CHUNK */
	__u8 seen_request;	/* at least one HTTP request went out */
	__u32 ck_line;		/* bytes of the current size line / trailer section */
	__u64 ck_size;		/* the chunk-size being read */
	struct weft_http_scan scan;	/* the request header block being read */
	struct h2_out h2;		/* PH_H2_PRE, PH_H2 */
};

/* An outgoing request waiting for its response (key: tgid, fd, sequence). */
struct client_pending {
	struct weft_span_event ev;
};

struct fd_key {
	__u32 tgid;
	__s32 fd;
};

/*
 * The unanswered requests of a connection, oldest first: client_pending holds
 * (tgid, fd, head) .. (tgid, fd, tail - 1). Pipelined requests each get their
 * CLIENT span; responses end them in order.
 */
struct cp_key {
	__u32 tgid;
	__s32 fd;
	__u32 seq;
	__u32 _pad;
};

struct cp_seq {
	__u64 cookie;	/* the connection (an fd number is reused) */
	__u32 head;
	__u32 tail;
};

#define CP_QUEUE 8	/* more unanswered requests: the oldest is exported unanswered */

/* An incoming stream on a target thread's socket (key: tgid, fd). */
struct in_state {
	__u64 body_left;	/* request body bytes still to be read */
	__u8 active;		/* a header block is being read */
	__u8 _pad[7];
	struct weft_http_scan scan;
};

/* A read's iov_len (http_observe.bpf.c, on_read) for a first iovec of 2^32 - 2 bytes or more. */
#define WEFT_RD_ONE_BUF 0xffffffffULL

WEFT_SHARED WEFT_MAP(BPF_MAP_TYPE_SOCKHASH, __u64, __u64, 65536) sock_map SEC(".maps");

WEFT_SHARED WEFT_SK_STORAGE(struct conn_state) conn SEC(".maps");

WEFT_SHARED WEFT_MAP(BPF_MAP_TYPE_CGROUP_ARRAY, __u32, __u32, 1) target_cg SEC(".maps");

/*
 * ---------------------------------------------------- pre-existing connections
 * Connections established before weft-http started are enrolled by the
 * iterator (http_enrol.bpf.c) with their position in the byte stream unknown:
 * a send or a read may begin anywhere in a message. Each is followed per
 * (tgid, fd) in pre_conns until weft is certain of a message boundary:
 *   client (outgoing, conn_state PH_PRE): one send that is exactly one whole
 *     request (request line, header block, Content-Length body ending with the
 *     send), then one read that is exactly one whole response to it (status
 *     line, header block, Content-Length body ending with the read), nothing
 *     sent or read in between: the next send starts a request (PH_START).
 *     Anything else (a second send, a chunked or unframed message, bytes
 *     beyond the message, a message in pieces) starts over. HTTP/2: H2V_SENDS
 *     consecutive sends that each verify as whole client frames (h2_verify.h),
 *     then followed as PH_H2 with the HPACK rule of http2_out.bpf.h.
 *   server (incoming, local port of a listening socket of the workload): one
 *     read that is exactly one whole request, then a write of a status line:
 *     the next read starts a request (a SERVER span as on a new connection).
 * Until then the bytes pass unchanged and no span is made (counted).
 */
enum pre_side { PRE_CLIENT = 1, PRE_SERVER };

enum pre_step {
	PRE_UNKNOWN = 0,	/* position unknown */
	PRE_ASKED,		/* exactly one whole request went (client) / came (server) */
	PRE_CERTAIN,		/* ... and exactly one whole response came (client) / went (server) */
};

struct pre_conn {
	__u64 cookie;	/* the connection (client side; an fd number is reused) */
	__u8 side;	/* enum pre_side */
	__u8 step;	/* enum pre_step */
	__u8 _pad[6];
};

WEFT_SHARED WEFT_LRU_HASH(struct fd_key, struct pre_conn, 16384) pre_conns SEC(".maps");

/* The iterator marked some connection: reads and writes look their fd up in pre_conns. */
WEFT_SHARED volatile __u32 pre_any WEFT_INIT(0);


/*
 * An outgoing HTTP/2 connection as its process reads it (key: tgid, fd):
 * the peer's SETTINGS_MAX_FRAME_SIZE and the incoming frame position
 * (http2_in.bpf.h). Made by sk_msg when the connection is confirmed HTTP/2.
 */
struct h2_peer {
	__u64 cookie;		/* the connection (an fd number is reused) */
	__u32 max_frame;	/* the peer's SETTINGS_MAX_FRAME_SIZE; 0: not known, 16384 */
	__u32 left;		/* payload bytes of the current incoming frame still to come */
	__u8 hdr[9];
	__u8 hdr_n;
	__u8 ent[6];		/* the SETTINGS parameter being read (they may be cut too) */
	__u8 ent_n;
	__u8 in_settings;	/* the current frame is a SETTINGS frame (not an ACK) */
	__u8 lost;		/* the reads' frame position was lost: no longer followed */
	__u8 _pad[5];
};

#define H2_DEFAULT_MAX_FRAME 16384	/* RFC 9113 6.5.2: also the smallest value allowed */

/*
 * A 9-byte HTTP/2 frame header h (RFC 9113 4.1), collected whole: its payload
 * length, type, flags and stream id (the reserved bit dropped). One decoder
 * for every direction weft follows (http2_in, http2_out, http2_srv).
 */
static __always_inline __u32 h2_frame_head(const __u8 *h, __u8 *type, __u8 *flags, __u32 *sid)
{
	*type = h[3];
	*flags = h[4];
	*sid = ((__u32)h[5] << 24 | (__u32)h[6] << 16 | (__u32)h[7] << 8 | h[8]) & 0x7fffffff;
	return (__u32)h[0] << 16 | (__u32)h[1] << 8 | h[2];
}

WEFT_SHARED WEFT_LRU_HASH(struct fd_key, struct h2_peer, 16384) h2_peers SEC(".maps");

/*
 * A HEADERS frame copied out of a send (sk_msg only): 9 + the payload. Every
 * index is masked, so no slack: 32 KiB is the most a per-CPU value holds.
 */
#define H2_BUF_SZ	32768	/* power of two */
#define H2_BUF_MASK	(H2_BUF_SZ - 1)

struct h2_buf {
	char b[H2_BUF_SZ];
};

WEFT_SHARED WEFT_PERCPU_ARRAY(struct h2_buf, 1) h2_buf SEC(".maps");

/* The walk over one HPACK header block (http2_out.bpf.h), one token a step. */
struct hp_walk {
	__u32 pos;
	__u32 end;		/* the block's end (before padding) */
	__u32 v;		/* the integer being read */
	__u8 shift;
	__u8 st;		/* enum hp_state */
	__u8 what;		/* enum hp_what: what the integer is */
	__u8 huff;		/* the current string is Huffman-coded */
	__u8 incr;		/* the current field has incremental indexing */
	__u8 name;		/* its name: 1 traceparent, 2 tracestate, 0 other */
	__u8 tp;		/* traceparent literals in the block */
	__u8 ts;		/* tracestate literals */
	__u8 dyn_ref;		/* a dynamic-table index is used */
	__u8 adds_tp;		/* a traceparent literal with incremental indexing */
	__u8 adds_ts;
	__u8 bad;		/* not a block this walk understands */
	__u8 method;		/* static index of :method (2 GET, 3 POST), 0: other */
	__u8 old;		/* a dynamic index older than the insertions weft saw */
	__u16 ins;		/* literals with incremental indexing in the block */
	__u32 seen;		/* table insertions seen before the block (HP_SEEN_ALL: all) */
};

#define HP_SEEN_ALL (1u << 30)	/* a connection followed from its start */

WEFT_SHARED WEFT_PERCPU_ARRAY(struct hp_walk, 1) hp_walks SEC(".maps");

/* Some connection was confirmed HTTP/2: reads look their fd up in h2_peers. */
WEFT_SHARED volatile __u32 h2_any WEFT_INIT(0);

/* The fd each thread is writing right now (for sk_msg, which has no fd). */
WEFT_SHARED WEFT_LRU_HASH(__u64, __s32, 16384) cur_fd SEC(".maps");

WEFT_SHARED WEFT_LRU_HASH(struct fd_key, struct in_state, 16384) in_states SEC(".maps");

WEFT_SHARED WEFT_LRU_HASH(struct cp_key, struct client_pending, 16384) client_pending SEC(".maps");

WEFT_SHARED WEFT_LRU_HASH(struct fd_key, struct cp_seq, 16384) client_seq SEC(".maps");

/*
 * weft-go emits this process's spans (go_pids, weft_conn_ctx.h): we only
 * carry its contexts (go_conn_ctx) to the wire.
 */
static __always_inline bool go_owned(__u32 tgid)
{
	bool owned = bpf_map_lookup_elem(&go_pids, &tgid) != NULL;

	weft_barrier_var(owned); /* a 0/1 scalar: the verifier refuses logic on the pointer */
	return owned;
}

WEFT_SHARED WEFT_RINGBUF(WEFT_RB_SPANS_BYTES) spans SEC(".maps");

WEFT_SHARED WEFT_RINGBUF(1 << 14) notices SEC(".maps");

WEFT_SHARED WEFT_COUNTERS(WH_NCOUNTERS) counters SEC(".maps");

/* Scratch buffers: one for sk_msg, one for tracepoints; templates for big values. */
WEFT_SHARED WEFT_PERCPU_ARRAY(struct weft_scratch, 2) scratch SEC(".maps");

WEFT_SHARED WEFT_PERCPU_ARRAY(struct in_state, 1) in_tmp SEC(".maps");

WEFT_SHARED WEFT_PERCPU_ARRAY(struct client_pending, 1) cp_tmp SEC(".maps");

/* The sk_msg scratch of this CPU is in use by a run (see weft_http_msg). */
WEFT_SHARED WEFT_PERCPU_ARRAY(__u64, 1) msg_busy SEC(".maps");

/* Room for a new server entry (weft_sctx_begin), used from tracepoints only. */
WEFT_SHARED WEFT_PERCPU_ARRAY(struct weft_server_ctx, 1) sctx_tmp SEC(".maps");

static __always_inline void count(__u32 idx)
{
	weft_count(&counters, idx);
}

/* Is the current task one we instrument (tracepoints fire for every task)? */
static __always_inline bool task_targeted(__u64 pid_tgid)
{
	if (filter_cgroup && bpf_current_task_under_cgroup(&target_cg, 0) != 1)
		return false;
	return weft_pid_targeted(pid_tgid >> 32);
}

static __always_inline bool weft_loop_targeted(__u64 pid_tgid)
{
	return task_targeted(pid_tgid);
}

/*
 * ------------------------------------------------------------- tracestate
 * The incoming tracestate of a SERVER span, parsed by the W3C rules
 * (weft_tracestate.h) where the request is read, kept per thread with the
 * span id it belongs to; it goes out beside the traceparent inserted into the
 * span's outgoing requests and into the SERVER and CLIENT span events.
 */

struct srv_ts {
	__u8 span_id[WEFT_SPAN_ID_LEN];	/* the SERVER span it belongs to */
	__u16 len;			/* 0: none */
	__u8 _pad[6];
	char ts[WEFT_TS_MAX];
};

WEFT_SHARED WEFT_LRU_HASH(__u64, struct srv_ts, WEFT_SCTX_MAX) srv_ts SEC(".maps");

/* Parser state and a new srv_ts entry (tracepoints only). */
WEFT_SHARED WEFT_PERCPU_ARRAY(struct weft_ts_state, 1) ts_tmp SEC(".maps");

WEFT_SHARED WEFT_PERCPU_ARRAY(struct srv_ts, 1) srv_ts_tmp SEC(".maps");

/* Has the thread a tracestate at all (for some SERVER span)? */
static __always_inline bool srv_ts_maybe(__u64 pid_tgid)
{
	struct srv_ts *e = bpf_map_lookup_elem(&srv_ts, &pid_tgid);

	return e && e->len;
}

/* The thread's tracestate when it belongs to SERVER span span_id, else NULL. */
static __always_inline struct srv_ts *srv_ts_get(__u64 pid_tgid, const __u8 *span_id)
{
	struct srv_ts *e = bpf_map_lookup_elem(&srv_ts, &pid_tgid);

	return e && e->len && weft_span_id_eq(e->span_id, span_id) ? e : NULL;
}

/* A global function (http_shared.bpf.c): its 512-byte copy is verified once. */
__attribute__((noinline)) int ev_set_ts(struct weft_span_event *ev, const struct srv_ts *e);

static __always_inline void sctx_end_ts(struct weft_span_event *ev,
					const struct weft_server_ctx *s, __u64 pid_tgid)
{
	ev_set_ts(ev, srv_ts_get(pid_tgid, s->ctx.span_id));
}

#include "net/rt_tie.bpf.h"

#endif /* WEFT_HTTP_SHARED_BPF_H */

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

WEFT_SHARED const volatile bool weft_have_bpf_loop WEFT_INIT(true);
WEFT_SHARED const volatile bool filter_cgroup WEFT_INIT(false);	/* tracepoints: only tasks under target_cg */
WEFT_SHARED const volatile bool filter_pids WEFT_INIT(false);	/* only tgids in target_pids */
WEFT_SHARED const volatile bool have_go_pids WEFT_INIT(false);	/* weft-go's pinned go_pids is in use */

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

#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000

enum conn_phase {
	PH_START = 0,
	PH_CHUNK,
	PH_PASS,
	PH_HDR,
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

struct rd_args {
	__u64 buf;
	__s32 fd;
	__u32 _pad;
};

WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} sock_map SEC(".maps");

WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct conn_state);
} conn SEC(".maps");

WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} target_cg SEC(".maps");

WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} target_pids SEC(".maps");

/* The fd each thread is writing right now (for sk_msg, which has no fd). */
WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __s32);
} cur_fd SEC(".maps");

WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct rd_args);
} rd_args SEC(".maps");

WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct fd_key);
	__type(value, struct in_state);
} in_states SEC(".maps");

WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct cp_key);
	__type(value, struct client_pending);
} client_pending SEC(".maps");

WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct fd_key);
	__type(value, struct cp_seq);
} client_seq SEC(".maps");

/* weft-go's published contexts; user space reuses the pinned map when present. */
WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WEFT_CONN_CTX_MAX);
	__type(key, struct weft_conn_key);
	__type(value, struct weft_conn_ctx);
} go_conn_ctx SEC(".maps");

/* The processes weft-go instruments (weft_conn_ctx.h); reused from its pin. */
WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WEFT_GO_PIDS_MAX);
	__type(key, __u32);
	__type(value, __u32);
} go_pids SEC(".maps");

/* weft-go emits this process's spans: we only carry its contexts to the wire. */
static __always_inline bool go_owned(__u32 tgid)
{
	return have_go_pids && bpf_map_lookup_elem(&go_pids, &tgid);
}

WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, WEFT_RB_SPANS_BYTES);
} spans SEC(".maps");

WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 14);
} notices SEC(".maps");

WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WH_NCOUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Scratch buffers: one for sk_msg, one for tracepoints; templates for big values. */
WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct weft_scratch);
} scratch SEC(".maps");

WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct in_state);
} in_tmp SEC(".maps");

WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct client_pending);
} cp_tmp SEC(".maps");

/* The sk_msg scratch of this CPU is in use by a run (see weft_http_msg). */
WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} msg_busy SEC(".maps");

/* Room for a new server entry (weft_sctx_begin), used from tracepoints only. */
WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct weft_server_ctx);
} sctx_tmp SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		__sync_fetch_and_add(v, 1); /* sk_msg and sockops runs can be preempted */
}

static __always_inline bool pid_targeted(__u32 tgid)
{
	return !filter_pids || bpf_map_lookup_elem(&target_pids, &tgid);
}

/* The current process's file at fd, or NULL. */
static __always_inline struct file *fd_file(__s32 fd)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct file **fds;
	struct file *f = NULL;
	unsigned int max;

	fds = BPF_CORE_READ(t, files, fdt, fd);
	max = BPF_CORE_READ(t, files, fdt, max_fds);
	if (fd < 0 || (unsigned int)fd >= max)
		return NULL;
	bpf_core_read(&f, sizeof(f), &fds[fd]);
	return f;
}

/* Is the current task one we instrument (tracepoints fire for every task)? */
static __always_inline bool task_targeted(__u64 pid_tgid)
{
	if (filter_cgroup && bpf_current_task_under_cgroup(&target_cg, 0) != 1)
		return false;
	return pid_targeted(pid_tgid >> 32);
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

WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, WEFT_SCTX_MAX);
	__type(key, __u64);
	__type(value, struct srv_ts);
} srv_ts SEC(".maps");

/* Parser state and a new srv_ts entry (tracepoints only). */
WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct weft_ts_state);
} ts_tmp SEC(".maps");

WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct srv_ts);
} srv_ts_tmp SEC(".maps");

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

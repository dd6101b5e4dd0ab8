/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Request-to-thread correlation, shared by weft-http and weft-tcpopt.
 *
 * When an instrumented thread reads an HTTP request it becomes "the thread
 * serving that request" until it writes the response's status line. The map
 * weft_server_ctx (LRU hash, key = pid_tgid of the thread) holds the SERVER
 * span of that request. An outgoing call made by the same thread meanwhile
 * derives its CLIENT context from it: same trace id and flags, a new random
 * span id, parent = the server span's id (WEFT_PARENT_LOCAL). Outside any
 * server request a client call starts a new trace (random trace id, flags
 * sampled|random, WEFT_PARENT_GENERATED).
 *
 * Never a wrong parent (issue 19): "the request this thread serves" is used
 * only where it is certain, i.e. for a thread that
 *   - has never been seen with two requests in flight (it read a request on
 *     one connection while the response to another was still owed), and
 *   - never waits for several file descriptors at once (epoll_wait, or
 *     poll/select on two or more: an event loop, which runs the work of any
 *     request between reads; weft_loop_* in loop_thread.bpf.h).
 * Both marks are sticky (map weft_uncertain). Elsewhere weft_sctx_served
 * returns NULL with the reason, and the call starts a new trace unless a
 * runtime-specific rule (weft_sctx_at: the served request of a connection,
 * e.g. nginx's upstream -> downstream tie) names its parent. A call made
 * after the response was written never sees that request: the entry is
 * invalid from the status line on.
 *
 * The SERVER span of a request that was still owed when its thread read
 * another one is parked per (tgid, connection) in weft_server_parked and
 * ended when the status line goes to that connection, so event-loop servers
 * keep one SERVER span per request.
 *
 *   weft_sctx_begin(pid_tgid, parent, parent_src, fd, conn, tmp) start the
 *                         SERVER span; parent: the incoming context (NULL or
 *                         !valid: a new trace); conn: the connection's
 *                         identity (weft-http: the fd; weft-tcpopt: the SSL
 *                         object); tmp: room to build a new entry in (the
 *                         caller's, not shared with a run that can be
 *                         preempted). Returns the map value (or NULL on
 *                         failure). Fill method/path/addresses in it.
 *   weft_sctx_get(pid_tgid)              the thread's current server request
 *   weft_sctx_served(pid_tgid, &why)     the request a call of this thread
 *                         certainly belongs to, or NULL (why: WEFT_SCTX_*)
 *   weft_sctx_at(pid_tgid, conn)         the request still owed on conn
 *   weft_sctx_client(sctx, out, parent, src)  derive a CLIENT context
 *   weft_sctx_end(rb, pid_tgid, status, injector, proto)
 *   weft_sctx_end_conn(rb, pid_tgid, conn, status, injector, proto)  the
 *                         response on conn (current or parked request)
 *   weft_sctx_end_at(rb, sctx, pid_tgid, status, injector, proto)  the same
 *                                        with the entry weft_sctx_get returned
 *                         end the SERVER span: emit it into ring buffer rb
 *                         (struct weft_span_event) and forget the context
 *                         (the entry stays, marked invalid, for reuse: always
 *                         go through weft_sctx_get, not the map). An includer
 *                         that defines WEFT_SCTX_END_HOOK(ev, s, pid_tgid)
 *                         fills its own fields of the event before submit.
 *
 * Each including object gets its own map instance; the units of a linked
 * object share it (weft_link.h).
 */
#ifndef WEFT_SERVER_CTX_BPF_H
#define WEFT_SERVER_CTX_BPF_H

#include "weft_span.h"
#include "weft_link.h"
#include "weft_ringbuf.h"

#define WEFT_SCTX_MAX 16384

struct weft_server_ctx {
	struct weft_trace_ctx ctx;	/* the SERVER span: trace id, its span id, flags */
	__u8 parent_span_id[WEFT_SPAN_ID_LEN];	/* zero for a new trace */
	__u64 start_ns;
	__s32 fd;			/* the fd the request was read from, -1 unknown */
	__u64 conn;			/* the connection's identity (see weft_sctx_begin) */
	__u8 parent_src;		/* enum weft_parent_src */
	__u8 method_len;
	__u8 path_len;
	__u8 truncated;			/* WEFT_TRUNC_* */
	__u8 flags;			/* WEFT_SPAN_* */
	__u8 _pad[7];
	struct weft_sockaddr local;
	struct weft_sockaddr peer;
	char method[WEFT_METHOD_MAX];
	char path[WEFT_PATH_MAX];
};

WEFT_SHARED WEFT_LRU_HASH(__u64, struct weft_server_ctx, WEFT_SCTX_MAX) weft_server_ctx SEC(".maps");

/* Why a thread's calls get no parent from it (weft_sctx_served). */
enum weft_sctx_why {
	WEFT_SCTX_OK = 0,	/* certain: the served request */
	WEFT_SCTX_IDLE,		/* the thread serves no request (none read, or answered) */
	WEFT_SCTX_TWO_IN_FLIGHT,	/* the thread was seen with two requests in flight */
	WEFT_SCTX_EVENT_LOOP,	/* the thread waits on several fds: an event loop */
};

/* Marks of weft_uncertain (sticky per thread). */
#define WEFT_UNCERTAIN_TWO	0x1
#define WEFT_UNCERTAIN_LOOP	0x2

/* key: pid_tgid, value: WEFT_UNCERTAIN_* */
WEFT_SHARED WEFT_LRU_HASH(__u64, __u32, WEFT_SCTX_MAX) weft_uncertain SEC(".maps");

struct weft_sctx_key {
	__u32 tgid;
	__u32 _pad;
	__u64 conn;
};

WEFT_SHARED WEFT_LRU_HASH(struct weft_sctx_key, struct weft_server_ctx, WEFT_SCTX_MAX) weft_server_parked SEC(".maps");

static __always_inline __u32 weft_uncertain_get(__u64 pid_tgid)
{
	__u32 *m = bpf_map_lookup_elem(&weft_uncertain, &pid_tgid);

	return m ? *m : 0;
}

/* Only the thread itself marks its entry (and user space at start): no atomics needed. */
static __always_inline void weft_uncertain_mark(__u64 pid_tgid, __u32 mark)
{
	__u32 *m = bpf_map_lookup_elem(&weft_uncertain, &pid_tgid);

	if (m) {
		*m |= mark;
		return;
	}
	bpf_map_update_elem(&weft_uncertain, &pid_tgid, &mark, BPF_ANY);
}

/* The thread's current server request, or NULL (ended entries stay, invalid). */
static __always_inline struct weft_server_ctx *weft_sctx_get(__u64 pid_tgid)
{
	struct weft_server_ctx *s = bpf_map_lookup_elem(&weft_server_ctx, &pid_tgid);

	return s && s->ctx.valid ? s : NULL;
}

/*
 * The request a call made by this thread now certainly belongs to, or NULL
 * with *why (enum weft_sctx_why): see the comment at the top.
 */
static __always_inline struct weft_server_ctx *weft_sctx_served(__u64 pid_tgid, __u8 *why)
{
	struct weft_server_ctx *s = weft_sctx_get(pid_tgid);
	__u32 m = weft_uncertain_get(pid_tgid);

	if (m & WEFT_UNCERTAIN_LOOP)
		*why = WEFT_SCTX_EVENT_LOOP;
	else if (m & WEFT_UNCERTAIN_TWO)
		*why = WEFT_SCTX_TWO_IN_FLIGHT;
	else
		*why = s ? WEFT_SCTX_OK : WEFT_SCTX_IDLE;
	return *why == WEFT_SCTX_OK ? s : NULL;
}

/* The request of process tgid (thread pid_tgid's or parked) still owed on conn, or NULL. */
static __always_inline struct weft_server_ctx *weft_sctx_at(__u64 pid_tgid, __u64 conn)
{
	struct weft_server_ctx *s = weft_sctx_get(pid_tgid);
	struct weft_sctx_key k = { .tgid = pid_tgid >> 32, .conn = conn };

	if (s && s->conn == conn)
		return s;
	s = bpf_map_lookup_elem(&weft_server_parked, &k);
	return s && s->ctx.valid ? s : NULL;
}

/*
 * Two requests in flight on this thread: park the owed one t. A subprogram
 * (not inlined), so that its key does not add to the callers' stack frames.
 */
static __noinline int weft_sctx_park(__u64 pid_tgid, struct weft_server_ctx *t)
{
	struct weft_sctx_key k = { .tgid = pid_tgid >> 32 };

	if (!t)
		return 0;
	k.conn = t->conn;
	weft_uncertain_mark(pid_tgid, WEFT_UNCERTAIN_TWO);
	bpf_map_update_elem(&weft_server_parked, &k, t, BPF_ANY);
	return 0;
}

static __always_inline struct weft_server_ctx *
weft_sctx_begin(__u64 pid_tgid, const struct weft_trace_ctx *parent, __u8 parent_src, __s32 fd,
		__u64 conn, struct weft_server_ctx *tmp)
{
	/* reuse the thread's entry in place when it has one (no map update) */
	struct weft_server_ctx *t = bpf_map_lookup_elem(&weft_server_ctx, &pid_tgid);
	bool fresh = !t;

	if (t && t->ctx.valid && t->conn != conn)
		weft_sctx_park(pid_tgid, t);
	if (fresh)
		t = tmp;
	if (!t)
		return NULL;
	__builtin_memset(t, 0, sizeof(*t));
	if (parent && parent->valid) {
		__builtin_memcpy(t->ctx.trace_id, parent->trace_id, WEFT_TRACE_ID_LEN);
		__builtin_memcpy(t->parent_span_id, parent->span_id, WEFT_SPAN_ID_LEN);
		t->ctx.flags = parent->flags & WEFT_TP_FLAGS_KNOWN;
		t->ctx.valid = 1;
		weft_bpf_new_span_id(t->ctx.span_id);
		t->parent_src = parent_src;
	} else {
		weft_bpf_new_trace(&t->ctx, 1);
		t->parent_src = WEFT_PARENT_GENERATED;
	}
	t->start_ns = bpf_ktime_get_ns();
	t->fd = fd;
	t->conn = conn;
	if (!fresh)
		return t;
	if (bpf_map_update_elem(&weft_server_ctx, &pid_tgid, t, BPF_ANY))
		return NULL;
	return bpf_map_lookup_elem(&weft_server_ctx, &pid_tgid);
}

/*
 * The CLIENT context for an outgoing call made while serving sctx (NULL: none):
 * out gets the trace id/flags and a new span id; parent the parent span id
 * (zero for a new trace); *src where it came from.
 */
static __always_inline void weft_sctx_client(const struct weft_server_ctx *sctx,
					     struct weft_trace_ctx *out,
					     __u8 parent[WEFT_SPAN_ID_LEN], __u8 *src)
{
	if (sctx && sctx->ctx.valid) {
		__builtin_memcpy(out->trace_id, sctx->ctx.trace_id, WEFT_TRACE_ID_LEN);
		__builtin_memcpy(parent, sctx->ctx.span_id, WEFT_SPAN_ID_LEN);
		out->flags = sctx->ctx.flags;
		out->valid = 1;
		weft_bpf_new_span_id(out->span_id);
		*src = WEFT_PARENT_LOCAL;
	} else {
		weft_bpf_new_trace(out, 1);
		__builtin_memset(parent, 0, WEFT_SPAN_ID_LEN);
		*src = WEFT_PARENT_GENERATED;
	}
}

/*
 * End the SERVER span s (from weft_sctx_get(pid_tgid)) with status; emit it
 * into rb. For callers that hold s already (saves a second map lookup).
 */
static __always_inline void weft_sctx_end_at(void *rb, struct weft_server_ctx *s, __u64 pid_tgid,
					     __u16 status, __u8 injector, __u8 proto)
{
	struct weft_span_event *ev;

	ev = bpf_ringbuf_reserve(rb, sizeof(*ev), 0);
	if (ev) {
		__builtin_memset(ev, 0, sizeof(*ev));
		ev->ctx = s->ctx;
		__builtin_memcpy(ev->parent_span_id, s->parent_span_id, WEFT_SPAN_ID_LEN);
		ev->start_ns = s->start_ns;
		ev->end_ns = bpf_ktime_get_ns();
		ev->pid = pid_tgid >> 32;
		ev->tid = (__u32)pid_tgid;
		ev->status = status;
		ev->kind = WEFT_KIND_SERVER;
		ev->proto = proto;
		ev->parent_src = s->parent_src;
		ev->injector = injector;
		ev->truncated = s->truncated;
		ev->flags = s->flags;
		ev->method_len = s->method_len;
		ev->path_len = s->path_len;
		ev->local = s->local;
		ev->peer = s->peer;
		__builtin_memcpy(ev->method, s->method, WEFT_METHOD_MAX);
		__builtin_memcpy(ev->path, s->path, WEFT_PATH_MAX);
#ifdef WEFT_SCTX_END_HOOK
		WEFT_SCTX_END_HOOK(ev, s, pid_tgid);
#endif
		weft_rb_submit(rb, ev);
	}
	/* keep the entry for the thread's next request; the LRU evicts dead threads */
	s->ctx.valid = 0;
}

/* End the thread's SERVER span with status; emit it into rb. 0, or -1 if none. */
static __always_inline int weft_sctx_end(void *rb, __u64 pid_tgid, __u16 status, __u8 injector,
					 __u8 proto)
{
	struct weft_server_ctx *s = weft_sctx_get(pid_tgid);

	if (!s)
		return -1;
	weft_sctx_end_at(rb, s, pid_tgid, status, injector, proto);
	return 0;
}

/*
 * End the SERVER span of the request owed on conn (the thread's current one,
 * or one parked when the thread read another meanwhile). 0, or -1 if none.
 */
static __always_inline int weft_sctx_end_conn(void *rb, __u64 pid_tgid, __u64 conn, __u16 status,
					      __u8 injector, __u8 proto)
{
	struct weft_server_ctx *s = weft_sctx_get(pid_tgid);
	struct weft_sctx_key k = { .tgid = pid_tgid >> 32, .conn = conn };

	if (s && s->conn == conn) {
		weft_sctx_end_at(rb, s, pid_tgid, status, injector, proto);
		return 0;
	}
	if (!(weft_uncertain_get(pid_tgid) & WEFT_UNCERTAIN_TWO))
		return -1;	/* nothing was ever parked by this thread */
	s = bpf_map_lookup_elem(&weft_server_parked, &k);
	if (!s || !s->ctx.valid)
		return -1;
	weft_sctx_end_at(rb, s, pid_tgid, status, injector, proto);
	bpf_map_delete_elem(&weft_server_parked, &k);
	return 0;
}

#endif /* WEFT_SERVER_CTX_BPF_H */

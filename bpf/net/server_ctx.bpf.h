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
 *   weft_sctx_begin(pid_tgid, parent, parent_src, fd, tmp) start the SERVER
 *                         span; parent: the incoming context (NULL or !valid:
 *                         a new trace); tmp: room to build a new entry in (the
 *                         caller's, not shared with a run that can be
 *                         preempted). Returns the map value (or NULL on
 *                         failure). Fill method/path/addresses in it.
 *   weft_sctx_get(pid_tgid)              the thread's current server request
 *   weft_sctx_client(sctx, out, parent, src)  derive a CLIENT context
 *   weft_sctx_end(rb, pid_tgid, status, injector, proto)
 *   weft_sctx_end_at(rb, sctx, pid_tgid, status, injector, proto)  the same
 *                                        with the entry weft_sctx_get returned
 *                         end the SERVER span: emit it into ring buffer rb
 *                         (struct weft_span_event) and forget the context
 *                         (the entry stays, marked invalid, for reuse: always
 *                         go through weft_sctx_get, not the map). An includer
 *                         that defines WEFT_SCTX_END_HOOK(ev, s, pid_tgid)
 *                         fills its own fields of the event before submit.
 *
 * One thread serves one request at a time (thread-per-request runtimes:
 * Python, Java, Ruby, PHP, C). Event-loop servers multiplex requests on one
 * thread; there the context of the last request read wins (documented limit).
 * Each including object gets its own map instance.
 */
#ifndef WEFT_SERVER_CTX_BPF_H
#define WEFT_SERVER_CTX_BPF_H

#include "weft_span.h"

#define WEFT_SCTX_MAX 16384

struct weft_server_ctx {
	struct weft_trace_ctx ctx;	/* the SERVER span: trace id, its span id, flags */
	__u8 parent_span_id[WEFT_SPAN_ID_LEN];	/* zero for a new trace */
	__u64 start_ns;
	__s32 fd;			/* the fd the request was read from, -1 unknown */
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

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, WEFT_SCTX_MAX);
	__type(key, __u64);
	__type(value, struct weft_server_ctx);
} weft_server_ctx SEC(".maps");

static __always_inline void weft_rand_bytes(__u8 *out, int n)
{
#pragma unroll
	for (int i = 0; i < 16; i += 4) {
		if (i >= n)
			break;
		__u32 r = bpf_get_prandom_u32();

		__builtin_memcpy(out + i, &r, 4);
	}
}

/* A new random span id (never all zero). */
static __always_inline void weft_new_span_id(__u8 id[WEFT_SPAN_ID_LEN])
{
	weft_rand_bytes(id, WEFT_SPAN_ID_LEN);
	if (!(id[0] | id[1] | id[2] | id[3] | id[4] | id[5] | id[6] | id[7]))
		id[7] = 1;
}

/* A new trace: random trace id (Level 2 random flag) and span id. */
static __always_inline void weft_new_trace(struct weft_trace_ctx *c)
{
	weft_rand_bytes(c->trace_id, WEFT_TRACE_ID_LEN);
	c->trace_id[15] |= 1;	/* never all zero */
	weft_new_span_id(c->span_id);
	c->flags = WEFT_TP_FLAG_SAMPLED | WEFT_TP_FLAG_RANDOM;
	c->valid = 1;
}

/* The thread's current server request, or NULL (ended entries stay, invalid). */
static __always_inline struct weft_server_ctx *weft_sctx_get(__u64 pid_tgid)
{
	struct weft_server_ctx *s = bpf_map_lookup_elem(&weft_server_ctx, &pid_tgid);

	return s && s->ctx.valid ? s : NULL;
}

static __always_inline struct weft_server_ctx *
weft_sctx_begin(__u64 pid_tgid, const struct weft_trace_ctx *parent, __u8 parent_src, __s32 fd,
		struct weft_server_ctx *tmp)
{
	/* reuse the thread's entry in place when it has one (no map update) */
	struct weft_server_ctx *t = bpf_map_lookup_elem(&weft_server_ctx, &pid_tgid);
	bool fresh = !t;

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
		weft_new_span_id(t->ctx.span_id);
		t->parent_src = parent_src;
	} else {
		weft_new_trace(&t->ctx);
		t->parent_src = WEFT_PARENT_GENERATED;
	}
	t->start_ns = bpf_ktime_get_ns();
	t->fd = fd;
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
		weft_new_span_id(out->span_id);
		*src = WEFT_PARENT_LOCAL;
	} else {
		weft_new_trace(out);
		__builtin_memset(parent, 0, WEFT_SPAN_ID_LEN);
		*src = WEFT_PARENT_GENERATED;
	}
}

/*
 * Ring buffer submit flags: no wakeup per event (a wakeup costs about a
 * microsecond), but wake the reader once the ring is a quarter full.
 */
static __always_inline __u64 weft_rb_flags(void *rb)
{
	__u64 avail = bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA);
	__u64 size = bpf_ringbuf_query(rb, BPF_RB_RING_SIZE);

	return avail > size / 4 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
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
		bpf_ringbuf_submit(ev, weft_rb_flags(rb));
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

#endif /* WEFT_SERVER_CTX_BPF_H */

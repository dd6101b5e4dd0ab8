/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Runtime rules (issue 19): where a runtime shows which request an outgoing
 * connection serves, its probe file (rt_<runtime>.bpf.h) ties the
 * connection (tgid, fd) to the served request's connection; the sk_msg
 * program takes that request as the parent of the next request written on
 * it (weft_rt_parent) and drops the tie, so a tie serves one request only.
 * A tie may name the request's SERVER span (weft_rt_tie_req): it is taken
 * only while that request is still owed on the connection (a keep-alive
 * connection's next request never inherits it); or say why the write had no
 * request (weft_rt_tie_none): no parent, counted by reason in weft_rt_counts.
 * Each probe program gets the layout of its binary from weft_rt_layouts by
 * its attach cookie (an index that user space sets per binary from the
 * offsets record); a layout it cannot read fails closed: no tie, a new trace.
 */
#ifndef WEFT_RT_TIE_BPF_H
#define WEFT_RT_TIE_BPF_H

#include "weft_rt.h"
#include "weft_link.h"

struct weft_rt_key {
	__u32 tgid;
	__s32 fd;
};

struct weft_rt_tie {
	__u64 conn;	/* the served request's connection (server_ctx.bpf.h) */
	__u8 span_id[WEFT_SPAN_ID_LEN];	/* its SERVER span, when has_span */
	__u8 has_span;
	__u8 why;	/* WEFT_RT_*: 0 a tie, else why there is no parent */
	__u8 snap;	/* the request is the copy in weft_rt_snaps (another thread's) */
	__u8 _pad[5];
	__u64 after_ns;	/* only a request read after this (bpf_ktime_get_ns) */
	__u64 exact_ns;	/* not 0: only the request read at this time (its start_ns) */
};

/* Outgoing requests by what their tie said (WEFT_RT_*), for user space to report. */
WEFT_SHARED WEFT_ARRAY(__u64, WEFT_RT_NCOUNTS) weft_rt_counts SEC(".maps");

static __always_inline void weft_rt_count(__u32 i)
{
	weft_count(&weft_rt_counts, i);
}

WEFT_SHARED WEFT_LRU_HASH(struct weft_rt_key, struct weft_rt_tie, 16384) weft_rt_ties SEC(".maps");

/*
 * A served request copied when the tie was made, for a writer that is not
 * the request's reading thread (asyncio.to_thread): the reader reuses its
 * entry in place for its next request, so the writer's sk_msg run must not
 * read it later; the copy is checked whole (rt_asyncio.bpf.h, py_snap).
 */
WEFT_SHARED WEFT_LRU_HASH(struct weft_rt_key, struct weft_server_ctx, 4096) weft_rt_snaps SEC(".maps");

WEFT_SHARED WEFT_ARRAY(struct weft_rt_layout, WEFT_RT_LAYOUTS) weft_rt_layouts SEC(".maps");

/* Execs of target processes (tgid), for user space to find runtimes
 * (written by the includer's sched_process_exec program: http_rt.bpf.c). */
WEFT_SHARED WEFT_RINGBUF(1 << 12) weft_rt_execs SEC(".maps");

/* The request a runtime rule ties the connection (tgid of pid_tgid, fd) to, or NULL. */
static __always_inline struct weft_server_ctx *weft_rt_parent(__u64 pid_tgid, __s32 fd)
{
	struct weft_rt_key k = { .tgid = pid_tgid >> 32, .fd = fd };
	struct weft_server_ctx *s;
	struct weft_rt_tie t, *tp;

	if (fd < 0)
		return NULL;
	tp = bpf_map_lookup_elem(&weft_rt_ties, &k);
	if (!tp)
		return NULL;
	t = *tp;
	bpf_map_delete_elem(&weft_rt_ties, &k);
	if (t.why) {
		weft_rt_count(t.why);
		return NULL;
	}
	if (t.snap)
		s = bpf_map_lookup_elem(&weft_rt_snaps, &k);
	else
		s = weft_sctx_at(pid_tgid, t.conn);
	if (s && (!s->ctx.valid || s->start_ns < t.after_ns ||
		  (t.exact_ns && s->start_ns != t.exact_ns)))
		s = NULL;
	if (t.has_span && (!s || !weft_span_id_eq(s->ctx.span_id, t.span_id))) {
		weft_rt_count(WEFT_RT_ANSWERED);
		return NULL;
	}
	weft_rt_count(s ? WEFT_RT_TIED : WEFT_RT_ANSWERED);
	return s;
}

static __always_inline void weft_rt_tie_set(__u32 tgid, __s32 fd, __u64 conn)
{
	struct weft_rt_key k = { .tgid = tgid, .fd = fd };
	struct weft_rt_tie t = { .conn = conn };

	bpf_map_update_elem(&weft_rt_ties, &k, &t, BPF_ANY);
}

/*
 * Tie (tgid, fd) to the request owed on conn and read after after_ns;
 * exact_ns: that request only (0: any).
 */
static __always_inline void weft_rt_tie_at(__u32 tgid, __s32 fd, __u64 conn, __u64 after_ns,
					   __u64 exact_ns)
{
	struct weft_rt_key k = { .tgid = tgid, .fd = fd };
	struct weft_rt_tie t = { .conn = conn, .after_ns = after_ns, .exact_ns = exact_ns };

	bpf_map_update_elem(&weft_rt_ties, &k, &t, BPF_ANY);
}

/* Tie (tgid, fd) to the copy of the request read at exact_ns in weft_rt_snaps. */
static __always_inline void weft_rt_tie_snap(__u32 tgid, __s32 fd, __u64 exact_ns)
{
	struct weft_rt_key k = { .tgid = tgid, .fd = fd };
	struct weft_rt_tie t = { .exact_ns = exact_ns, .snap = 1 };

	bpf_map_update_elem(&weft_rt_ties, &k, &t, BPF_ANY);
}

/* The next request written on (tgid, fd) gets no tie from an earlier write. */
static __always_inline void weft_rt_tie_clear(__u32 tgid, __s32 fd)
{
	struct weft_rt_key k = { .tgid = tgid, .fd = fd };

	if (bpf_map_lookup_elem(&weft_rt_ties, &k))	/* lockless; most fds have none */
		bpf_map_delete_elem(&weft_rt_ties, &k);
}

/* Tie (tgid, fd) to the request with SERVER span span_id owed on connection conn. */
static __always_inline void weft_rt_tie_req(__u32 tgid, __s32 fd, __u64 conn,
					    const __u8 span_id[WEFT_SPAN_ID_LEN])
{
	struct weft_rt_key k = { .tgid = tgid, .fd = fd };
	struct weft_rt_tie t = { .conn = conn, .has_span = 1 };

	__builtin_memcpy(t.span_id, span_id, WEFT_SPAN_ID_LEN);
	bpf_map_update_elem(&weft_rt_ties, &k, &t, BPF_ANY);
}

/* The next request written on (tgid, fd) has no parent, for reason why (WEFT_RT_*). */
static __always_inline void weft_rt_tie_none(__u32 tgid, __s32 fd, __u8 why)
{
	struct weft_rt_key k = { .tgid = tgid, .fd = fd };
	struct weft_rt_tie t = { .why = why };

	bpf_map_update_elem(&weft_rt_ties, &k, &t, BPF_ANY);
}

/* The layout of the probed binary (attach cookie), or NULL. */
static __always_inline const struct weft_rt_layout *weft_rt_layout(void *ctx)
{
	__u32 i = (__u32)bpf_get_attach_cookie(ctx);

	return bpf_map_lookup_elem(&weft_rt_layouts, &i);
}

#endif /* WEFT_RT_TIE_BPF_H */

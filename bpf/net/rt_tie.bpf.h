/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Runtime rules (issue 19): where a runtime shows which request an outgoing
 * connection serves, its probe file (rt_<runtime>.bpf.h) ties the
 * connection (tgid, fd) to the served request's connection; the sk_msg
 * program takes that request as the parent of the next request written on
 * it (weft_rt_parent) and drops the tie, so a tie serves one request only.
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
};

WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct weft_rt_key);
	__type(value, struct weft_rt_tie);
} weft_rt_ties SEC(".maps");

WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WEFT_RT_LAYOUTS);
	__type(key, __u32);
	__type(value, struct weft_rt_layout);
} weft_rt_layouts SEC(".maps");

/* Execs of target processes (tgid), for user space to find runtimes
 * (written by the includer's sched_process_exec program: http_rt.bpf.c). */
WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 12);
} weft_rt_execs SEC(".maps");

/* The request a runtime rule ties the connection (tgid of pid_tgid, fd) to, or NULL. */
static __always_inline struct weft_server_ctx *weft_rt_parent(__u64 pid_tgid, __s32 fd)
{
	struct weft_rt_key k = { .tgid = pid_tgid >> 32, .fd = fd };
	struct weft_rt_tie *t;
	__u64 conn;

	if (fd < 0)
		return NULL;
	t = bpf_map_lookup_elem(&weft_rt_ties, &k);
	if (!t)
		return NULL;
	conn = t->conn;
	bpf_map_delete_elem(&weft_rt_ties, &k);
	return weft_sctx_at(pid_tgid, conn);
}

static __always_inline void weft_rt_tie_set(__u32 tgid, __s32 fd, __u64 conn)
{
	struct weft_rt_key k = { .tgid = tgid, .fd = fd };
	struct weft_rt_tie t = { .conn = conn };

	bpf_map_update_elem(&weft_rt_ties, &k, &t, BPF_ANY);
}

/* The layout of the probed binary (attach cookie), or NULL. */
static __always_inline const struct weft_rt_layout *weft_rt_layout(void *ctx)
{
	__u32 i = (__u32)bpf_get_attach_cookie(ctx);

	return bpf_map_lookup_elem(&weft_rt_layouts, &i);
}

#endif /* WEFT_RT_TIE_BPF_H */

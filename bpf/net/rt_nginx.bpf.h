/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * nginx: which downstream request an upstream connection serves (issue 19),
 * by uprobes on exported functions (docs/weft-http.md "Runtime rules"):
 *   ngx_http_upstream_init(r)     r's upstream u -> r's connection's fd
 *   ngx_event_connect_peer(pc)    pc = &u->peer; on return (NGX_OK, NGX_AGAIN:
 *                                 a new connection; NGX_DONE: a keepalive one
 *                                 from the cache) pc->connection is the
 *                                 upstream connection: tie its fd to u's
 *                                 request. Retries call it again: a new tie.
 * Offsets per build from the offsets record (weft_rt_layouts, NGX_* in weft_rt.h).
 * Included by http_rt.bpf.c (after http_shared.bpf.h: rt_tie.bpf.h and the target filter).
 */
#ifndef WEFT_RT_NGINX_BPF_H
#define WEFT_RT_NGINX_BPF_H

#include <bpf/bpf_tracing.h>
#include "net/rt_tie.bpf.h"

#define NGX_OK		0
#define NGX_AGAIN	-2
#define NGX_DONE	-4

/* upstream u (tgid, address) -> the fd of its request's downstream connection */
struct ngx_u_key {
	__u32 tgid;
	__u32 _pad;
	__u64 u;
};

WEFT_LRU_HASH(struct ngx_u_key, __s32, 16384) ngx_u_down SEC(".maps");

/* ngx_event_connect_peer's pc per thread, entry to return */
WEFT_LRU_HASH(__u64, __u64, 16384) ngx_pc SEC(".maps");

static __always_inline bool ngx_off_ok(const struct weft_rt_layout *l, int i)
{
	return l->off[i & 7] >= 0 && l->off[i & 7] < 65536;
}

SEC("uprobe")
int BPF_UPROBE(weft_ngx_upstream_init, __u64 r)
{
	const struct weft_rt_layout *l = weft_rt_layout(ctx);
	__u64 id = bpf_get_current_pid_tgid(), u = 0, c = 0;
	struct ngx_u_key k = { .tgid = id >> 32 };
	__s32 fd = -1;

	if (!l || !task_targeted(id) || !ngx_off_ok(l, NGX_R_UPSTREAM) ||
	    !ngx_off_ok(l, NGX_R_CONNECTION) || !ngx_off_ok(l, NGX_C_FD))
		return 0;
	if (bpf_probe_read_user(&u, 8, (void *)(r + l->off[NGX_R_UPSTREAM])) ||
	    bpf_probe_read_user(&c, 8, (void *)(r + l->off[NGX_R_CONNECTION])) || !u || !c ||
	    bpf_probe_read_user(&fd, 4, (void *)(c + l->off[NGX_C_FD])) || fd < 0)
		return 0;
	k.u = u;
	bpf_map_update_elem(&ngx_u_down, &k, &fd, BPF_ANY);
	return 0;
}

SEC("uprobe")
int BPF_UPROBE(weft_ngx_connect_peer, __u64 pc)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (task_targeted(id))
		bpf_map_update_elem(&ngx_pc, &id, &pc, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_URETPROBE(weft_ngx_connect_peer_ret, long rc)
{
	const struct weft_rt_layout *l = weft_rt_layout(ctx);
	__u64 id = bpf_get_current_pid_tgid(), *pcp, pc, c = 0;
	struct ngx_u_key k = { .tgid = id >> 32 };
	__s32 fd = -1, *down;
	int r = (int)rc;

	pcp = bpf_map_lookup_elem(&ngx_pc, &id);
	if (!pcp)
		return 0;
	pc = *pcp;
	bpf_map_delete_elem(&ngx_pc, &id);
	if (!l || !ngx_off_ok(l, NGX_U_PEER) || !ngx_off_ok(l, NGX_C_FD))
		return 0;
	if (r != NGX_OK && r != NGX_AGAIN && r != NGX_DONE)
		return 0;	/* no connection: nothing to tie */
	/* pc->connection: the first field of ngx_peer_connection_t */
	if (bpf_probe_read_user(&c, 8, (void *)pc) || !c ||
	    bpf_probe_read_user(&fd, 4, (void *)(c + l->off[NGX_C_FD])) || fd < 0)
		return 0;
	k.u = pc - l->off[NGX_U_PEER];
	down = bpf_map_lookup_elem(&ngx_u_down, &k);
	if (!down)
		return 0;	/* not seen at ngx_http_upstream_init: fail closed */
	weft_rt_tie_set(k.tgid, fd, (__u32)*down);
	return 0;
}

#endif /* WEFT_RT_NGINX_BPF_H */

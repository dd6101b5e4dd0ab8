// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft-tcpopt, the TCP option (tcpopt_shared.bpf.h): the sockops program
 * reserves room for, writes and parses the option; an iter/tcp program
 * enrols the connections established before start.
 */
#define WEFT_LINK_EXTERN
#include "tcpopt_shared.bpf.h"

/* ---------------------------------------------------------------- sockops */

static __always_inline void skops_addrs(struct bpf_sock_ops *skops, struct conn_info *ci)
{
	__u32 family = skops->family;

	ci->local.port = (__u16)skops->local_port;
	ci->peer.port = (__u16)bpf_ntohl(skops->remote_port);
	if (family == AF_INET) {
		__u32 l = skops->local_ip4, r = skops->remote_ip4;

		ci->local.family = 4;
		ci->peer.family = 4;
		__builtin_memcpy(ci->local.addr, &l, 4);
		__builtin_memcpy(ci->peer.addr, &r, 4);
	} else if (family == AF_INET6) {
		__u32 a;

		ci->local.family = 6;
		ci->peer.family = 6;
		a = skops->local_ip6[0];
		__builtin_memcpy(ci->local.addr, &a, 4);
		a = skops->local_ip6[1];
		__builtin_memcpy(ci->local.addr + 4, &a, 4);
		a = skops->local_ip6[2];
		__builtin_memcpy(ci->local.addr + 8, &a, 4);
		a = skops->local_ip6[3];
		__builtin_memcpy(ci->local.addr + 12, &a, 4);
		a = skops->remote_ip6[0];
		__builtin_memcpy(ci->peer.addr, &a, 4);
		a = skops->remote_ip6[1];
		__builtin_memcpy(ci->peer.addr + 4, &a, 4);
		a = skops->remote_ip6[2];
		__builtin_memcpy(ci->peer.addr + 8, &a, 4);
		a = skops->remote_ip6[3];
		__builtin_memcpy(ci->peer.addr + 12, &a, 4);
	}
}

static __always_inline void on_established(struct bpf_sock_ops *skops, bool active)
{
	__u64 cookie = bpf_get_socket_cookie(skops); /* also fixes skc_cookie */
	struct conn_info ci = {};
	__u32 flags = BPF_SOCK_OPS_PARSE_UNKNOWN_HDR_OPT_CB_FLAG | BPF_SOCK_OPS_STATE_CB_FLAG;

	skops_addrs(skops, &ci);
	bpf_map_update_elem(&conn_info, &cookie, &ci, BPF_ANY);
	if (active)
		flags |= BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG;
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | flags);
}

/* Reserve room while an option waits to be sent or acknowledged. */
static __always_inline void on_hdr_len(struct bpf_sock_ops *skops)
{
	__u32 skb_len = skops->skb_len;
	struct tx_pending *p;
	__u64 cookie;

	/*
	 * Data segments, and the MSS computation (no skb: flags 0); not pure
	 * ACKs, which return before the lookup: an acknowledged entry is
	 * dropped by the connection's next data segment (or replaced by the
	 * next request's, or dropped at close) instead.
	 */
	if (skb_len == 0 && skops->skb_tcp_flags != 0)
		return;
	cookie = bpf_get_socket_cookie(skops);
	p = bpf_map_lookup_elem(&tx_pending, &cookie);
	if (!p)
		return;
	if ((__s32)(skops->snd_una - p->seq) > 0) {
		/* acknowledged: the peer has it (or never will) */
		bpf_map_delete_elem(&tx_pending, &cookie);
		return;
	}
	if (bpf_reserve_hdr_opt(skops, WEFT_TCPOPT_LEN, 0) == 0)
		return;
	/* once per request: the first transmission, or a retransmission
	 * (e.g. one carrying SACK blocks) that could not repeat it */
	if (skb_len > 0 && !p->no_room) {
		p->no_room = 1;
		count(WEFT_TCPOPT_CNT_NO_ROOM);
	}
}

static __always_inline void on_hdr_write(struct bpf_sock_ops *skops)
{
	__u64 cookie = bpf_get_socket_cookie(skops);
	struct tx_pending *p = bpf_map_lookup_elem(&tx_pending, &cookie);
	void *data = (void *)(long)skops->skb_data;
	void *end = (void *)(long)skops->skb_data_end;
	struct tcphdr *th = data;
	struct weft_tcpopt_wire o = {};
	__u32 seq, hlen, len;
	__s32 off;

	if (!p || (void *)(th + 1) > end)
		return;
	seq = bpf_ntohl(th->seq);
	hlen = th->doff * 4;
	len = skops->skb_len;
	if (len <= hlen)
		return; /* no data: not the request's segment */
	off = (__s32)(p->seq - seq);
	if (off < 0 || (__u32)off >= len - hlen)
		return; /* request starts in another segment */
	o.kind = WEFT_TCPOPT_KIND;
	o.len = WEFT_TCPOPT_LEN;
	o.magic = WEFT_TCPOPT_MAGIC;
	o.ver_flags = weft_tcpopt_ver_flags(p->ctx.flags);
	__builtin_memcpy(o.trace_id, p->ctx.trace_id, WEFT_TRACE_ID_LEN);
	__builtin_memcpy(o.span_id, p->ctx.span_id, WEFT_SPAN_ID_LEN);
	if (bpf_store_hdr_opt(skops, &o, sizeof(o), 0)) {
		if (!p->no_room) {
			p->no_room = 1;
			count(WEFT_TCPOPT_CNT_NO_ROOM);
		}
		return;
	}
	p->written = 1;
	count(WEFT_TCPOPT_CNT_WRITTEN);
}

static __always_inline bool peer_accepted(struct bpf_sock_ops *skops)
{
	struct weft_tcpopt_cidr k = {.prefixlen = 128};
	__u32 a;

	if (!accept_filter)
		return true;
	if (skops->family == AF_INET) {
		a = skops->remote_ip4;
		k.addr[10] = 0xff;
		k.addr[11] = 0xff;
		__builtin_memcpy(k.addr + 12, &a, 4);
	} else {
		a = skops->remote_ip6[0];
		__builtin_memcpy(k.addr, &a, 4);
		a = skops->remote_ip6[1];
		__builtin_memcpy(k.addr + 4, &a, 4);
		a = skops->remote_ip6[2];
		__builtin_memcpy(k.addr + 8, &a, 4);
		a = skops->remote_ip6[3];
		__builtin_memcpy(k.addr + 12, &a, 4);
	}
	return bpf_map_lookup_elem(&accept_from, &k) != NULL;
}

static __always_inline void on_hdr_parse(struct bpf_sock_ops *skops)
{
	struct weft_tcpopt_wire o = {.kind = WEFT_TCPOPT_KIND};
	void *data = (void *)(long)skops->skb_data;
	void *end = (void *)(long)skops->skb_data_end;
	struct tcphdr *th = data;
	struct rx_ctx n = {}, *old;
	__u64 cookie, a, b;
	long r;

	/*
	 * Kind 253 is searched by its ExID (kind-length 4 = kind, len, 2-byte
	 * ExID). weft's ExIDs are 0xEF10..0xEF13 (version 1, flags in the low
	 * bits): most likely first. Only segments with an unknown option get here.
	 */
	static const __u8 vf[4] = {0x13, 0x11, 0x12, 0x10};

	r = -1;
#pragma unroll
	for (int i = 0; i < 4; i++) {
		__builtin_memset(&o, 0, sizeof(o));
		o.kind = WEFT_TCPOPT_KIND;
		o.len = 4;
		o.magic = WEFT_TCPOPT_MAGIC;
		o.ver_flags = vf[i];
		r = bpf_load_hdr_opt(skops, &o, sizeof(o), 0);
		if (r != -ENOMSG_)
			break;
	}
	if (r == -ENOMSG_)
		return; /* no weft option: another experiment's */
	if (r != WEFT_TCPOPT_LEN || o.len != WEFT_TCPOPT_LEN ||
	    (o.ver_flags >> 4) != WEFT_TCPOPT_VERSION || !id_nonzero(o.trace_id, 16) ||
	    !id_nonzero(o.span_id, 8)) {
		count(WEFT_TCPOPT_CNT_MALFORMED);
		return;
	}
	if (!peer_accepted(skops)) {
		count(WEFT_TCPOPT_CNT_IGNORED_PEER);
		return;
	}
	cookie = bpf_get_socket_cookie(skops);
	old = bpf_map_lookup_elem(&rx_ctx, &cookie);
	if (old) {
		__builtin_memcpy(&a, old->ctx.span_id, 8);
		__builtin_memcpy(&b, o.span_id, 8);
		if (a == b)
			return; /* same option again: retransmission or TSO copy */
	}
	__builtin_memcpy(n.ctx.trace_id, o.trace_id, WEFT_TRACE_ID_LEN);
	__builtin_memcpy(n.ctx.span_id, o.span_id, WEFT_SPAN_ID_LEN);
	n.ctx.flags = o.ver_flags & WEFT_TP_FLAGS_KNOWN;
	n.ctx.valid = 1;
	if ((void *)(th + 1) <= end)
		n.seq = bpf_ntohl(th->seq);
	bpf_map_update_elem(&rx_ctx, &cookie, &n, BPF_ANY);
	count(WEFT_TCPOPT_CNT_RECEIVED);
}

static __always_inline void on_close(struct bpf_sock_ops *skops)
{
	__u64 cookie = bpf_get_socket_cookie(skops);

	bpf_map_delete_elem(&tx_pending, &cookie);
	bpf_map_delete_elem(&rx_ctx, &cookie);
	bpf_map_delete_elem(&conn_info, &cookie);
}

SEC("sockops")
int weft_tcpopt_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		on_established(skops, true);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		on_established(skops, false);
		break;
	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
		on_hdr_len(skops);
		break;
	case BPF_SOCK_OPS_WRITE_HDR_OPT_CB:
		on_hdr_write(skops);
		break;
	case BPF_SOCK_OPS_PARSE_HDR_OPT_CB:
		on_hdr_parse(skops);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (skops->args[1] == BPF_TCP_CLOSE)
			on_close(skops);
		break;
	default:
		break;
	}
	return 1;
}

/* ------------------------------------- connections established before start */

/* Is sk's cgroup target_cgid or below it? */
static __always_inline bool sk_in_target(struct sock *sk)
{
	struct cgroup *cg = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
	struct cgroup *anc = NULL;
	__u32 lvl = target_level;

	if (!target_cgid)
		return true;
	if (!cg || BPF_CORE_READ(cg, level) < (int)lvl || lvl > 255)
		return false;
	if (bpf_probe_read_kernel(&anc, sizeof(anc), &cg->ancestors[lvl]) || !anc)
		return false;
	return BPF_CORE_READ(anc, kn, id) == target_cgid;
}

/*
 * Run once at start (user space reads the iterator): enrol TCP connections of
 * the target cgroup that were established before weft-tcpopt attached, so a
 * keep-alive pool opened earlier carries and reads options too. Sets the same
 * callback flags as ESTABLISHED does (write on every connection: without a
 * pending option the length callback only looks up a map).
 */
SEC("iter/tcp")
int weft_tcpopt_enrol(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tcp_sock *tp;
	struct sock *sk;
	struct conn_info ci = {};
	__u64 cookie;
	int flags;

	if (!skc)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	sk = (struct sock *)tp;
	if (sk->__sk_common.skc_state != BPF_TCP_ESTABLISHED || !sk_in_target(sk))
		return 0;
	flags = tp->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_PARSE_UNKNOWN_HDR_OPT_CB_FLAG |
		BPF_SOCK_OPS_STATE_CB_FLAG | BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG;
	if (bpf_setsockopt(sk, SOL_TCP, TCP_BPF_SOCK_OPS_CB_FLAGS, &flags, sizeof(flags)))
		return 0;
	cookie = bpf_get_socket_cookie(sk);
	ci.local.port = sk->__sk_common.skc_num;
	ci.peer.port = bpf_ntohs(sk->__sk_common.skc_dport);
	if (sk->__sk_common.skc_family == AF_INET) {
		ci.local.family = 4;
		ci.peer.family = 4;
		__builtin_memcpy(ci.local.addr, &sk->__sk_common.skc_rcv_saddr, 4);
		__builtin_memcpy(ci.peer.addr, &sk->__sk_common.skc_daddr, 4);
	} else {
		ci.local.family = 6;
		ci.peer.family = 6;
		BPF_CORE_READ_INTO(&ci.local.addr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&ci.peer.addr, sk, __sk_common.skc_v6_daddr);
	}
	bpf_map_update_elem(&conn_info, &cookie, &ci, BPF_ANY);
	count(WEFT_TCPOPT_CNT_ENROLLED);
	return 0;
}

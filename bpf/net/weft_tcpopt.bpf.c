// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft-tcpopt: trace context in a TCP header option (layout:
 * bpf/include/weft_tcpopt.h), plus OpenSSL uprobes for HTTPS spans.
 *
 * Sender. SSL_write/SSL_write_ex entry (uprobe) sees the plaintext. When it
 * starts an HTTP request, the CLIENT context is derived from the thread's
 * server request (server_ctx.bpf.h, shared with weft-http). The socket comes
 * from the SSL object: SSL->rbio is a socket BIO whose num is the fd (offsets
 * measured by user space on the probed library), fd -> struct file -> struct
 * socket -> sock, read with CO-RE from the task's fd table (no kprobes
 * needed). Its write_seq is the TCP sequence number where the TLS record
 * about to be written, and so the request, starts:
 * tx_pending[socket cookie] = { seq, context }. SSL objects with another BIO
 * park the context in the thread's task storage (tid_op) instead, and the
 * next write()/send() syscall of that thread inside the SSL call names the
 * fd; user space attaches those tracepoints only once such an object shows
 * up (need_syscalls). The sockops program reserves
 * room (HDR_OPT_LEN) while a pending option is unacknowledged and writes the
 * option (WRITE_HDR_OPT) into every segment whose data covers seq, the
 * first transmission and any retransmission. Once snd_una passes seq the
 * entry is dropped. No room: counted, the segment leaves without the option.
 *
 * Receiver. PARSE_HDR_OPT runs only for segments with an option the kernel
 * does not know (PARSE_UNKNOWN flag); a valid option from an accepted peer
 * is attached to the connection (rx_ctx[cookie]). The next HTTP request read
 * by SSL_read on that connection starts its SERVER span as the sender's
 * child; an HTTP traceparent header in the plaintext wins over the option.
 *
 * The socket cookie is the connection's key: sockops sets it at
 * ESTABLISHED (bpf_get_socket_cookie), syscall tracepoints read it back from
 * sk->__sk_common.skc_cookie, so only sockets this program enrolled match.
 * Nothing maps SSL objects to sockets across calls (addresses, fds and
 * socks are reused): the BIO, or the syscalls, name the socket every time.
 * Reads resolve the socket at return, and only for HTTP data.
 * Connections established before start are enrolled by an iter/tcp program.
 * Go programs: contexts weft-go publishes per connection (go_conn_ctx) are
 * sent on the connection's next write.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "weft_span.h"
#include "weft_tcpopt.h"
#include "weft_conn_ctx.h"

/* Set by the loader before load. */
const volatile bool weft_have_bpf_loop = true;
const volatile __u64 target_cgid = 0;	   /* 0: every cgroup */
const volatile __u32 target_level = 0;	   /* level of target_cgid in the hierarchy */
const volatile bool filter_pids = false;   /* only tgids in target_pids */
const volatile bool accept_filter = false; /* only peers in accept_from */
const volatile bool use_go_ctx = false;	   /* weft-go's go_conn_ctx pin was found */
/*
 * OpenSSL object layout, measured by user space at start with the library's
 * own accessors (injectors/net/tcpopt_ssl_layout.c): SSL -> rbio, BIO ->
 * method, BIO -> num (the fd of a socket BIO). -1: unknown, so the socket is
 * learnt from the syscalls inside SSL calls instead.
 */
const volatile __s32 ssl_rbio_off = -1;
const volatile __s32 bio_method_off = -1;
const volatile __s32 bio_num_off = -1;

/*
 * Set when a traced SSL call's socket cannot be found from the SSL object
 * (another BIO type, e.g. curl's, or unknown layout): user space then attaches
 * the syscall tracepoints, which are otherwise left detached.
 */
volatile __u32 need_syscalls = 0;

#include "server_ctx.bpf.h"
#include "http_parse.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define SOL_TCP 6
#define S_IFMT 00170000
#define S_IFSOCK 0140000

#define ENOMSG_ 42	 /* errno ENOMSG */
#define TCPOPT_PEEK 2048 /* plaintext bytes scanned for a request head */
#define TCPOPT_MAP_MAX 16384
#define BIO_TYPE_SOCKET_ 0x0505 /* OpenSSL: 5 | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR */

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WEFT_TCPOPT_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} target_pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct weft_tcpopt_cidr);
	__type(value, __u8);
} accept_from SEC(".maps");

/* An option waiting to be sent: the request's first byte is at seq. */
struct tx_pending {
	__u32 seq;
	__u8 written;
	__u8 no_room;
	__u8 _pad[2];
	struct weft_trace_ctx ctx;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TCPOPT_MAP_MAX);
	__type(key, __u64); /* socket cookie */
	__type(value, struct tx_pending);
} tx_pending SEC(".maps");

/* The context a peer sent on this connection, for the next request read. */
struct rx_ctx {
	struct weft_trace_ctx ctx;
	__u32 seq;
	__u8 consumed;
	__u8 _pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TCPOPT_MAP_MAX);
	__type(key, __u64); /* socket cookie */
	__type(value, struct rx_ctx);
} rx_ctx SEC(".maps");

struct conn_info {
	struct weft_sockaddr local;
	struct weft_sockaddr peer;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TCPOPT_MAP_MAX);
	__type(key, __u64); /* socket cookie */
	__type(value, struct conn_info);
} conn_info SEC(".maps");

struct ssl_key {
	__u64 ssl;
	__u32 tgid;
	__u32 _pad;
};

/* An SSL object's socket, as found from its BIO. */
struct ssl_sock {
	__u64 cookie;
	__u64 sk; /* struct sock *, read with probe reads only */
};

enum { TCPOPT_OP_READ = 1, TCPOPT_OP_WRITE = 2 };

/* The SSL call a thread is in. */
struct tid_op {
	__u64 ssl;
	__u64 buf;
	__u64 readbytes; /* SSL_read_ex: size_t *; 0 for SSL_read */
	__u64 cookie;	 /* socket, once a syscall inside the call named it */
	__u8 op;
	__u8 has_ctx; /* TCPOPT_OP_WRITE: ctx is to be sent in an option */
	__u8 _pad[6];
	struct weft_trace_ctx ctx;
};

/* Per thread (task storage: a pointer away, so the syscall tracepoints,
 * which run for every process, cost next to nothing outside SSL calls). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tid_op);
} tid_op SEC(".maps");

static __always_inline struct tid_op *tid_op_get(bool create)
{
	return bpf_task_storage_get(&tid_op, bpf_get_current_task_btf(), NULL,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

/* No SSL call of interest parked for this thread (cheap: no creation). */
static __always_inline void tid_op_clear(void)
{
	struct tid_op *t = tid_op_get(false);

	if (t)
		t->op = 0;
}

static __noinline int tid_op_set(const struct tid_op *v)
{
	struct tid_op *t;

	/* a write whose socket is known needs nothing from the syscalls: just
	 * make sure no older call stays parked */
	if (v->op == TCPOPT_OP_WRITE && v->cookie) {
		tid_op_clear();
		return 0;
	}
	t = tid_op_get(true);
	if (t)
		__builtin_memcpy(t, v, sizeof(*t));
	return 0;
}

/* CLIENT spans in flight, by SSL object: ended by the response's status line. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TCPOPT_MAP_MAX);
	__type(key, struct ssl_key);
	__type(value, struct weft_span_event);
} client_span SEC(".maps");

/*
 * Room for one OpenSSL probe's work: plaintext bytes, their scan, a new span.
 * Too large for the stack, so kept per thread in task storage, not per CPU:
 * since Linux 6.0 uprobe programs run with migration but not preemption
 * disabled, so on a preemptible kernel a run suspended half-way and another
 * run on the same CPU would share a per-CPU slot and could mix two requests.
 * A thread runs one uprobe program at a time.
 */
struct ssl_run {
	struct weft_scratch sc;
	struct weft_http_scan scan;
	struct weft_span_event ev;
	struct weft_server_ctx sctx;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ssl_run);
} ssl_runs SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v) /* atomic: a preempted run may be half-way through the same add */
		__sync_fetch_and_add(v, 1);
}

/* This thread's room for an OpenSSL probe's work (struct ssl_run), or NULL. */
static __always_inline struct ssl_run *ssl_run_get(void)
{
	struct ssl_run *r = bpf_task_storage_get(&ssl_runs, bpf_get_current_task_btf(), NULL,
						 BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!r)
		count(WEFT_TCPOPT_CNT_NO_STATE);
	return r;
}

static __always_inline bool is_target(__u64 pid_tgid)
{
	__u32 tgid = pid_tgid >> 32;

	if (target_cgid && bpf_get_current_ancestor_cgroup_id(target_level) != target_cgid)
		return false;
	if (filter_pids && !bpf_map_lookup_elem(&target_pids, &tgid))
		return false;
	return true;
}

static __always_inline bool weft_loop_targeted(__u64 pid_tgid)
{
	return is_target(pid_tgid);
}

#include "loop_thread.bpf.h"

static __always_inline bool id_nonzero(const __u8 *id, int n)
{
	__u8 z = 0;

#pragma unroll
	for (int i = 0; i < 16; i++)
		if (i < n)
			z |= id[i];
	return z != 0;
}

/*
 * weft-go's published contexts per outgoing connection (tgid, fd), for Go
 * programs (crypto/tls or plain): user space reuses the pinned map when it
 * exists. weft-http deletes an entry when it writes the header; weft-tcpopt
 * leaves it and remembers which publication (ts_ns) it already sent, so the
 * two injectors can run together.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WEFT_CONN_CTX_MAX);
	__type(key, struct weft_conn_key);
	__type(value, struct weft_conn_ctx);
} go_conn_ctx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, WEFT_CONN_CTX_MAX);
	__type(key, struct weft_conn_key);
	__type(value, __u64); /* ts_ns of the publication sent */
} go_sent SEC(".maps");

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
	__u64 cookie = bpf_get_socket_cookie(skops);
	struct tx_pending *p = bpf_map_lookup_elem(&tx_pending, &cookie);
	__u32 skb_len = skops->skb_len;

	if (!p)
		return;
	if ((__s32)(skops->snd_una - p->seq) > 0) {
		/* acknowledged: the peer has it (or never will) */
		bpf_map_delete_elem(&tx_pending, &cookie);
		return;
	}
	/* data segments, and the MSS computation (no skb: flags 0); not pure ACKs */
	if (skb_len == 0 && skops->skb_tcp_flags != 0)
		return;
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

/* ------------------------------------------------ syscalls inside SSL calls */

/* The TCP sock behind fd in the current task, or NULL. */
static __always_inline struct sock *fd_to_sk(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt;
	struct file **fds;
	struct file *f = NULL;
	struct socket *sock;
	struct sock *sk;
	umode_t mode;

	if (fd < 0 || fd > 0xfffffff)
		return NULL;
	fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(f, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return NULL;
	return sk;
}

/* The request starts at the next byte queued on sk: send ctx with it. */
static __always_inline void queue_option(__u64 cookie, struct sock *sk,
					 const struct weft_trace_ctx *ctx)
{
	struct tx_pending p = {};

	p.seq = BPF_CORE_READ((struct tcp_sock *)sk, write_seq);
	p.ctx = *ctx;
	bpf_map_update_elem(&tx_pending, &cookie, &p, BPF_ANY);
	count(WEFT_TCPOPT_CNT_PENDING);
}

enum { SSL_SK_FOUND = 0, SSL_SK_NONE = 1, SSL_SK_OTHER_BIO = 2 };

/*
 * The socket of an SSL object from the object itself: SSL->rbio is a socket
 * BIO (method type checked) whose num is the fd; fd -> sock through the
 * current task's fd table. SSL_SK_FOUND (sk, cookie set); SSL_SK_NONE: a
 * socket BIO whose fd is not a TCP socket our sockops enrolled;
 * SSL_SK_OTHER_BIO: another BIO type, or the layout is unknown.
 */
static __noinline int ssl_bio_sk(__u64 ssl, struct ssl_sock *out)
{
	__u64 bio = 0, meth = 0;
	int type = 0, fd = -1;
	struct sock *sk;

	if (ssl_rbio_off < 0 || bio_method_off < 0 || bio_num_off < 0 || !ssl)
		return SSL_SK_OTHER_BIO;
	if (bpf_probe_read_user(&bio, sizeof(bio), (void *)(ssl + ssl_rbio_off)) || !bio)
		return SSL_SK_OTHER_BIO;
	if (bpf_probe_read_user(&meth, sizeof(meth), (void *)(bio + bio_method_off)) || !meth)
		return SSL_SK_OTHER_BIO;
	if (bpf_probe_read_user(&type, sizeof(type), (void *)meth) || type != BIO_TYPE_SOCKET_)
		return SSL_SK_OTHER_BIO;
	if (bpf_probe_read_user(&fd, sizeof(fd), (void *)(bio + bio_num_off)))
		return SSL_SK_OTHER_BIO;
	sk = fd_to_sk(fd);
	if (!sk)
		return SSL_SK_NONE;
	out->cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	out->sk = (__u64)sk;
	return out->cookie ? SSL_SK_FOUND : SSL_SK_NONE; /* 0: not enrolled by our sockops */
}

/*
 * The socket of an SSL object, or NULL. The socket BIO is followed on every
 * call (a few reads), nothing is cached: an SSL object's address, its fd
 * number and even the old struct sock (with its cookie, until freed) can all
 * outlive a connection and come back for the next one, so a cache keyed by
 * the SSL object could name the previous connection. Other BIOs: NULL, and
 * user space is asked to attach the syscall tracepoints, which name the
 * socket from inside each call.
 */
static __always_inline struct sock *ssl_cached_sk(__u64 ssl, __u32 tgid, __u64 *cookie)
{
	struct ssl_sock ss = {};
	int r = ssl_bio_sk(ssl, &ss);

	if (r == SSL_SK_FOUND) {
		*cookie = ss.cookie;
		return (struct sock *)ss.sk;
	}
	if (r == SSL_SK_OTHER_BIO && !need_syscalls)
		need_syscalls = 1;
	return NULL;
}

static __always_inline int on_sys_io(long fd, bool is_write)
{
	struct tid_op *op = tid_op_get(false);
	struct sock *sk;
	__u64 cookie;

	if (!op || !op->op || op->cookie)
		return 0;
	sk = fd_to_sk(fd);
	if (!sk)
		return 0;
	cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	if (!cookie)
		return 0; /* not a connection our sockops enrolled */
	op->cookie = cookie;
	if (is_write && op->op == TCPOPT_OP_WRITE && op->has_ctx)
		queue_option(cookie, sk, &op->ctx);
	return 0;
}

/* A write on a connection weft-go published a context for: send it. */
static __always_inline void go_ctx_write(long fd)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct weft_conn_key k = {.tgid = id >> 32, .fd = (__s32)fd};
	struct weft_conn_ctx *gc = bpf_map_lookup_elem(&go_conn_ctx, &k);
	struct weft_trace_ctx tc;
	struct sock *sk;
	__u64 *sent, cookie, ts;

	if (!gc || !gc->ctx.valid || gc->version != WEFT_CONN_CTX_VERSION)
		return;
	ts = gc->ts_ns;
	sent = bpf_map_lookup_elem(&go_sent, &k);
	if ((sent && *sent == ts) || !is_target(id))
		return;
	tc = gc->ctx;
	sk = fd_to_sk(fd);
	if (!sk)
		return;
	cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	if (!cookie)
		return;
	queue_option(cookie, sk, &tc);
	bpf_map_update_elem(&go_sent, &k, &ts, BPF_ANY);
}

SEC("tracepoint/syscalls/sys_enter_write")
int weft_tcpopt_enter_write(struct trace_event_raw_sys_enter *ctx)
{
	if (use_go_ctx)
		go_ctx_write(ctx->args[0]);
	return on_sys_io(ctx->args[0], true);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int weft_tcpopt_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	if (use_go_ctx)
		go_ctx_write(ctx->args[0]);
	return on_sys_io(ctx->args[0], true);
}

SEC("tracepoint/syscalls/sys_enter_read")
int weft_tcpopt_enter_read(struct trace_event_raw_sys_enter *ctx)
{
	return on_sys_io(ctx->args[0], false);
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int weft_tcpopt_enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	return on_sys_io(ctx->args[0], false);
}

/* ------------------------------------------------------- OpenSSL plaintext */

static __always_inline struct weft_http_scan *scan_head(struct ssl_run *run, __u64 buf, __u64 n)
{
	struct weft_scratch *sc = &run->sc;
	struct weft_http_scan *s = &run->scan;
	__u32 len = n > TCPOPT_PEEK ? TCPOPT_PEEK : (__u32)n;
	int r;

	if (bpf_probe_read_user(sc->buf, len & (TCPOPT_PEEK * 2 - 1), (void *)buf))
		return NULL;
	weft_http_scan_init(s);
	/* a line at a time where bpf_loop exists, else byte by byte */
	if (weft_have_bpf_loop)
		r = weft_http_parse_block(s, sc->buf, len);
	else
		r = weft_http_scan_run(s, sc->buf, 0, len);
	if (r == WEFT_SCAN_BAD || !s->reqline_end)
		return NULL;
	return s;
}

/* A request written into TLS: start a CLIENT span, queue the option. */
static __always_inline void client_request(__u64 id, __u64 ssl, struct sock *sk, __u64 cookie,
					   struct ssl_run *run)
{
	struct weft_http_scan *s = &run->scan;
	struct weft_span_event *ev = &run->ev;
	struct tid_op op = {.op = TCPOPT_OP_WRITE, .ssl = ssl, .has_ctx = 1, .cookie = cookie};
	struct ssl_key k = {.ssl = ssl, .tgid = id >> 32};
	struct weft_server_ctx *sc;
	__u8 src = 0, why;

	if (weft_http_scan_tp(s, &op.ctx) == 0) {
		/* the application set traceparent: it owns this span; send its context */
		if (sk)
			queue_option(op.cookie, sk, &op.ctx);
		tid_op_set(&op);
		return;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	sc = weft_sctx_served(id, &why);
	if (!sc)
		count(why == WEFT_SCTX_EVENT_LOOP      ? WEFT_TCPOPT_CNT_NEW_LOOP
		      : why == WEFT_SCTX_TWO_IN_FLIGHT ? WEFT_TCPOPT_CNT_NEW_TWO
						       : WEFT_TCPOPT_CNT_NEW_IDLE);
	weft_sctx_client(sc, &ev->ctx, ev->parent_span_id, &src);
	op.ctx = ev->ctx;
	ev->parent_src = src;
	ev->start_ns = bpf_ktime_get_ns();
	ev->pid = id >> 32;
	ev->tid = (__u32)id;
	ev->kind = WEFT_KIND_CLIENT;
	ev->proto = WEFT_PROTO_HTTP1;
	ev->injector = WEFT_INJ_TCPOPT;
	ev->flags = WEFT_SPAN_TLS;
	ev->truncated = s->truncated;
	ev->method_len = s->method_len;
	ev->path_len = s->path_len;
	__builtin_memcpy(ev->method, s->method, WEFT_METHOD_MAX);
	__builtin_memcpy(ev->path, s->path, WEFT_PATH_MAX);
	bpf_map_update_elem(&client_span, &k, ev, BPF_ANY);
	if (sk)
		queue_option(op.cookie, sk, &op.ctx);
	tid_op_set(&op);
}

/* A response read from TLS: end the CLIENT span of this SSL object. */
static __always_inline void client_response(__u64 id, __u64 ssl, __u64 cookie, __u16 status)
{
	struct ssl_key k = {.ssl = ssl, .tgid = id >> 32};
	struct weft_span_event *ev = bpf_map_lookup_elem(&client_span, &k);
	struct conn_info *ci;

	if (!ev)
		return;
	ev->status = status;
	ev->end_ns = bpf_ktime_get_ns();
	ci = cookie ? bpf_map_lookup_elem(&conn_info, &cookie) : NULL;
	if (ci) {
		ev->local = ci->local;
		ev->peer = ci->peer;
	}
	if (bpf_ringbuf_output(&events, ev, sizeof(*ev), BPF_RB_NO_WAKEUP))
		count(WEFT_TCPOPT_CNT_SPANS_LOST);
	bpf_map_delete_elem(&client_span, &k);
}

/* A request read from TLS: start the thread's SERVER span. */
static __always_inline void server_request(__u64 id, __u64 ssl, __u64 cookie,
					   struct ssl_run *run)
{
	struct weft_http_scan *s = &run->scan;
	struct weft_trace_ctx parent = {};
	struct weft_server_ctx *sc;
	struct rx_ctx *rx = cookie ? bpf_map_lookup_elem(&rx_ctx, &cookie) : NULL;
	struct conn_info *ci;
	__u8 src = 0;

	if (rx && rx->consumed)
		rx = NULL;
	if (weft_http_scan_tp(s, &parent) == 0) {
		src = WEFT_PARENT_HEADER; /* a readable header wins over the option */
	} else if (rx) {
		parent = rx->ctx;
		src = WEFT_PARENT_TCPOPT;
	}
	if (rx)
		rx->consumed = 1;
	sc = weft_sctx_begin(id, src ? &parent : NULL, src, -1, ssl, &run->sctx);
	if (!sc)
		return;
	sc->flags = WEFT_SPAN_TLS;
	sc->truncated = s->truncated;
	sc->method_len = s->method_len;
	sc->path_len = s->path_len;
	__builtin_memcpy(sc->method, s->method, WEFT_METHOD_MAX);
	__builtin_memcpy(sc->path, s->path, WEFT_PATH_MAX);
	ci = cookie ? bpf_map_lookup_elem(&conn_info, &cookie) : NULL;
	if (ci) {
		sc->local = ci->local;
		sc->peer = ci->peer;
	}
}

static __always_inline int ssl_write_entry(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 ssl = PT_REGS_PARM1(ctx), buf = PT_REGS_PARM2(ctx);
	__s64 num = (int)PT_REGS_PARM3(ctx);
	struct ssl_run *run;
	struct weft_scratch *sc;
	struct tid_op op = {.op = TCPOPT_OP_WRITE, .ssl = ssl};
	struct sock *sk;
	__u16 status;

	if (num <= 0 || !is_target(id))
		return 0;
	run = ssl_run_get();
	if (!run)
		goto other;
	sc = &run->sc;
	if (bpf_probe_read_user(sc->buf, 16, (void *)buf))
		goto other;
	status = weft_http_status(sc->buf, num < 16 ? num : 16);
	if (status) {
		tid_op_clear();
		weft_sctx_end_conn(&events, id, ssl, status, WEFT_INJ_TCPOPT, WEFT_PROTO_HTTP1);
		return 0;
	}
	if (!weft_http_method_prefix(sc->buf, num < 16 ? num : 16) || num < 16)
		goto other;
	if (!scan_head(run, buf, num))
		goto other;
	/* a request: its socket is needed for the option */
	sk = ssl_cached_sk(ssl, id >> 32, &op.cookie);
	client_request(id, ssl, sk, op.cookie, run);
	return 0;
other:
	/* no request: only the syscall fallback (when attached) learns the
	 * socket from it for later calls */
	if (need_syscalls)
		tid_op_set(&op);
	else
		tid_op_clear();
	return 0;
}

SEC("uprobe")
int BPF_UPROBE(weft_tcpopt_ssl_write)
{
	return ssl_write_entry(ctx);
}

static __always_inline int ssl_read_entry(__u64 ssl, __u64 buf, __u64 readbytes)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tid_op op = {.op = TCPOPT_OP_READ, .ssl = ssl, .buf = buf, .readbytes = readbytes};

	if (!is_target(id))
		return 0;
	/* the socket is looked up at return, and only for HTTP data */
	tid_op_set(&op);
	return 0;
}

SEC("uprobe")
int BPF_UPROBE(weft_tcpopt_ssl_read, void *ssl, void *buf, int num)
{
	return ssl_read_entry((__u64)ssl, (__u64)buf, 0);
}

SEC("uprobe")
int BPF_UPROBE(weft_tcpopt_ssl_read_ex, void *ssl, void *buf, __u64 num, __u64 *readbytes)
{
	return ssl_read_entry((__u64)ssl, (__u64)buf, (__u64)readbytes);
}

static __always_inline int ssl_read_ret(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tid_op *op = tid_op_get(false);
	struct ssl_run *run;
	struct weft_scratch *sc;
	__u64 n = 0, cookie, ssl, buf;
	__u16 status;

	if (!op || op->op != TCPOPT_OP_READ)
		return 0;
	ssl = op->ssl;
	buf = op->buf;
	if (op->readbytes) {
		if (ret != 1 || bpf_probe_read_user(&n, sizeof(n), (void *)op->readbytes))
			n = 0;
	} else if (ret > 0) {
		n = ret;
	}
	cookie = op->cookie; /* set by the syscall fallback, else 0 */
	op->op = 0; /* done: later syscalls of this thread are not ours */
	if (n < 16)
		return 0;
	run = ssl_run_get();
	if (!run)
		return 0;
	sc = &run->sc;
	if (bpf_probe_read_user(sc->buf, 16, (void *)buf))
		return 0;
	status = weft_http_status(sc->buf, 16);
	if (status) {
		if (!cookie)
			ssl_cached_sk(ssl, id >> 32, &cookie);
		client_response(id, ssl, cookie, status);
		return 0;
	}
	if (!weft_http_method_prefix(sc->buf, 16))
		return 0;
	if (!scan_head(run, buf, n))
		return 0;
	if (!cookie)
		ssl_cached_sk(ssl, id >> 32, &cookie);
	server_request(id, ssl, cookie, run);
	return 0;
}

SEC("uretprobe")
int BPF_URETPROBE(weft_tcpopt_ssl_read_ret, int ret)
{
	return ssl_read_ret(ret);
}

/*
 * Empty program, loaded and attached only with --bpf-stats, beside
 * weft_tcpopt_ssl_write on the same uprobes (same trap, no extra one): its
 * run_time_ns / run_cnt is the fixed per-run cost of running a BPF program
 * under the statistics on this machine, subtracted for the net figures.
 */
SEC("uprobe")
int weft_tcpopt_stats_floor(void *ctx)
{
	return 0;
}

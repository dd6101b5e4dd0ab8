/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * weft-http, incoming frames of an outgoing HTTP/2 connection, as its process
 * reads them (read tracepoints; included by http_observe.bpf.c only). The
 * connection's entry in h2_peers is made by sk_msg when it confirms HTTP/2
 * (http2_out.bpf.h); its frame position is kept across reads (a frame header
 * may be cut anywhere). From the frames:
 *   - every SETTINGS frame (not an ACK) from the server: its
 *     SETTINGS_MAX_FRAME_SIZE, which bounds the HEADERS frames sk_msg grows,
 *     parameter by parameter as they are read (cut anywhere); a parameter
 *     that cannot be read resets the bound to the default 16384 (the
 *     smallest allowed: always safe);
 *   - END_STREAM on a DATA or HEADERS frame of a client stream: the end of
 *     that stream's CLIENT span.
 */
#ifndef WEFT_HTTP2_IN_BPF_H
#define WEFT_HTTP2_IN_BPF_H

#define H2I_DATA	0x0
#define H2I_HEADERS	0x1
#define H2I_SETTINGS	0x4
#define H2I_END_STREAM	0x01
#define H2I_ACK		0x01
#define H2I_MAX_FRAME_ID 0x5

struct h2_in_walk {
	struct h2_peer *p;
	const struct fd_key *fk;
	__u64 ubuf;
	__u32 n;
	__u32 pos;
};

/*
 * k (1..9) bytes of the read at the walk's position, appended to dst (of cap
 * bytes, had of them filled); false when they cannot be read.
 */
static __always_inline bool h2_in_take(struct h2_in_walk *w, __u8 *dst, __u32 had, __u32 cap,
				       __u32 k)
{
	__u8 t[16];

	weft_barrier_var(k);
	k &= 15;
	if (k == 0 || k > 9 || bpf_probe_read_user(t, k, (void *)(w->ubuf + w->pos)))
		return false;
	for (__u32 j = 0; j < 9; j++) {
		__u32 at = had + j;

		weft_barrier_var(at);
		if (j >= k || at >= cap || at > 8)
			break;
		dst[at] = t[j];
	}
	w->pos += k;
	return true;
}

/* The SETTINGS parameter in p->ent is complete (RFC 9113 6.5.1, 6.5.2). */
static __always_inline void h2_in_param(struct h2_peer *p)
{
	__u32 v = (__u32)p->ent[2] << 24 | (__u32)p->ent[3] << 16 | (__u32)p->ent[4] << 8 | p->ent[5];

	if (p->ent[0] || p->ent[1] != H2I_MAX_FRAME_ID)
		return;
	/* out of range is a connection error at the client: keep the default */
	p->max_frame = v >= H2_DEFAULT_MAX_FRAME && v < (1u << 24) ? v : 0;
}

/* SETTINGS payload bytes at the walk's position: parameters, cut anywhere. */
static __always_inline int h2_in_settings(struct h2_in_walk *w, struct h2_peer *p, __u32 rest)
{
	__u32 had = p->ent_n < 6 ? p->ent_n : 0, k = 6 - had;

	if (k > rest)
		k = rest;
	if (k > p->left)
		k = p->left;
	if (!h2_in_take(w, p->ent, had, 6, k)) {
		p->max_frame = 0;	/* unread: back to the safe default */
		return 1;
	}
	p->left -= k;
	p->ent_n = had + k;
	if (p->ent_n == 6) {
		h2_in_param(p);
		p->ent_n = 0;
	}
	return 0;
}

static long h2_in_frame_cb(__u32 i, void *data)
{
	struct h2_in_walk *w = data;
	struct h2_peer *p = w->p;
	__u32 k, len, sid, had = p->hdr_n, rest;
	__u8 type, flags;

	if (w->pos >= w->n)
		return 1;
	rest = w->n - w->pos;
	if (p->left && p->in_settings)
		return h2_in_settings(w, p, rest);
	if (p->left) {
		k = p->left < rest ? p->left : rest;
		p->left -= k;
		w->pos += k;
		return 0;
	}
	if (had >= 9)
		had = 0;
	k = 9 - had;
	if (k > rest)
		k = rest;
	if (!h2_in_take(w, p->hdr, had, 9, k))
		return 1;
	if (had + k < 9) {
		p->hdr_n = had + k;
		return 1;
	}
	p->hdr_n = 0;
	len = (__u32)p->hdr[0] << 16 | (__u32)p->hdr[1] << 8 | p->hdr[2];
	type = p->hdr[3];
	flags = p->hdr[4];
	sid = ((__u32)p->hdr[5] << 24 | (__u32)p->hdr[6] << 16 | (__u32)p->hdr[7] << 8 | p->hdr[8]) &
	      0x7fffffff;
	p->in_settings = type == H2I_SETTINGS && !(flags & H2I_ACK);
	p->ent_n = 0;
	if (p->in_settings && len % 6)
		p->in_settings = 0;	/* a connection error at the client */
	if ((type == H2I_DATA || type == H2I_HEADERS) && (flags & H2I_END_STREAM) &&
		   (sid & 1)) {
		h2_client_end(w->fk, sid);
	}
	p->left = len;
	return 0;
}

/*
 * A server speaks first in HTTP/2 (its SETTINGS frame), often before the
 * client's preface has left and sk_msg has confirmed the connection: the
 * first read of an enrolled connection (a socket cookie: sockops took it) that
 * starts with a SETTINGS frame header and holds every byte received so far
 * (tcp_sock counters: so it starts at the connection's first byte) gets an
 * entry at once; sk_msg keeps it when it confirms the same connection.
 */
static __always_inline struct h2_peer *h2_in_first(const struct fd_key *fk, long n,
						   const char *head)
{
	struct h2_peer e = {};
	struct tcp_sock *tp;
	struct sock *sk;
	__u32 len;
	__u64 seen;
	__u16 fam;

	if (n < 9 || head[0] || head[3] != H2I_SETTINGS || head[4] || head[5] || head[6] ||
	    head[7] || head[8])
		return NULL;
	len = (__u32)(__u8)head[1] << 8 | (__u8)head[2];
	if (len % 6)
		return NULL;
	sk = weft_fd_sock(fk->fd);
	if (!sk)
		return NULL;
	fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	e.cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	/* only sockets sockops saw have a cookie here (an entry matters only once
	 * sk_msg confirms the same cookie) */
	if ((fam != AF_INET && fam != AF_INET6) || !e.cookie)
		return NULL;
	tp = (struct tcp_sock *)sk;
	seen = BPF_CORE_READ(tp, bytes_received) -
	       (__u32)(BPF_CORE_READ(tp, rcv_nxt) - BPF_CORE_READ(tp, copied_seq));
	if (seen != (__u64)n)
		return NULL;
	bpf_map_update_elem(&h2_peers, fk, &e, BPF_ANY);
	if (!h2_any)
		h2_any = 1;
	return bpf_map_lookup_elem(&h2_peers, fk);
}

/*
 * A target thread read n bytes at ubuf from fd (iov_len: 1 + the first
 * iovec's size for readv/recvmsg, 0 for one buffer): when fd is an outgoing HTTP/2
 * connection of its process, follow its frames; true when it is. Bytes that
 * went to a second iovec are not seen: the position is lost, and with it the
 * entry (the frame bound falls back to the default, always safe).
 */
static __always_inline bool h2_in_read(const struct fd_key *fk, __u64 ubuf, long n, __u32 iov_len,
				       const char *head)
{
	struct h2_in_walk w = { .fk = fk, .ubuf = ubuf, .n = n };
	struct sock *sk;

	w.p = h2_any ? bpf_map_lookup_elem(&h2_peers, fk) : NULL;
	if (!w.p) {
		w.p = h2_in_first(fk, n, head);
		if (!w.p)
			return false;
	} else {
		/* the fd still names the connection the entry was made for */
		sk = weft_fd_sock(fk->fd);
		if (!sk || BPF_CORE_READ(sk, __sk_common.skc_cookie.counter) != (__s64)w.p->cookie) {
			bpf_map_delete_elem(&h2_peers, fk);
			return false;
		}
	}
	if (!weft_have_bpf_loop || (iov_len && n > iov_len - 1)) {
		bpf_map_delete_elem(&h2_peers, fk);
		return true;
	}
	bpf_loop(256, h2_in_frame_cb, &w, 0);
	if (w.pos < w.n) {
		/* more frames than followed in one read: the position is lost */
		bpf_map_delete_elem(&h2_peers, fk);
	}
	return true;
}

#endif /* WEFT_HTTP2_IN_BPF_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * weft-http, incoming frames of an outgoing HTTP/2 connection, as its process
 * reads them (read tracepoints; included by http_observe.bpf.c only). The
 * connection's entry in h2_peers is made by sk_msg when it confirms HTTP/2
 * (http2_out.bpf.h); its frame position is kept across reads (a frame header
 * may be cut anywhere), over every iovec of readv/recvmsg and as many frames
 * as a read brings (iov_cursor.bpf.h). From the frames:
 *   - every SETTINGS frame (not an ACK) from the server: its
 *     SETTINGS_MAX_FRAME_SIZE, which bounds the HEADERS frames sk_msg grows,
 *     parameter by parameter as they are read (cut anywhere);
 *   - the first HEADERS frame of a client stream: its :status, when the
 *     block starts with it in a form read without HPACK state;
 *   - END_STREAM on a DATA or HEADERS frame of a client stream: the end of
 *     that stream's CLIENT span.
 * Bytes that cannot be read lose the position: the connection's reads are
 * followed no further (h2_peer.lost) and its frame bound is the default
 * 16384 (the smallest allowed: always safe).
 */
#ifndef WEFT_HTTP2_IN_BPF_H
#define WEFT_HTTP2_IN_BPF_H

#define H2I_DATA	0x0
#define H2I_HEADERS	0x1
#define H2I_SETTINGS	0x4
#define H2I_END_STREAM	0x01
#define H2I_ACK		0x01
#define H2I_PADDED	0x08
#define H2I_PRIORITY	0x20
#define H2I_MAX_FRAME_ID 0x5

struct h2_in_walk {
	struct h2_peer *p;
	const struct fd_key *fk;
	struct iov_cur v;	/* where the walk is in the read's bytes */
	__u8 lost;		/* bytes that could not be read */
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
	if (k == 0 || k > 9 || bpf_probe_read_user(t, k, (void *)(w->v.ubuf + w->v.pos)))
		return false;
	for (__u32 j = 0; j < 9; j++) {
		__u32 at = had + j;

		weft_barrier_var(at);
		if (j >= k || at >= cap || at > 8)
			break;
		dst[at] = t[j];
	}
	w->v.pos += k;
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
		w->lost = 1;
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

/* HPACK static table entries 8..14: :status 200, 204, 206, 304, 400, 404, 500 (RFC 7541 A). */
static __always_inline __u16 h2_in_static_status(__u8 idx)
{
	switch (idx) {
	case 8:
		return 200;
	case 9:
		return 204;
	case 10:
		return 206;
	case 11:
		return 304;
	case 12:
		return 400;
	case 13:
		return 404;
	case 14:
		return 500;
	default:
		return 0;
	}
}

/*
 * The :status of a response HEADERS frame of stream sid (flags: the frame's),
 * from its first header field when that is in this iovec: an indexed :status
 * (one byte), or a literal with the :status name indexed and a plain 3-digit
 * value. Anything else (a dynamic table size update first, a Huffman-coded or
 * indexed-dynamic value) leaves it unread: 0, never a guess. Only the first
 * block of a stream carries :status; trailers do not change it.
 */
static __always_inline void h2_in_status(struct h2_in_walk *w, __u32 sid, __u8 flags, __u32 len)
{
	struct cp_key k = { .tgid = w->fk->tgid, .fd = w->fk->fd, .seq = H2_CP_SEQ(sid) };
	__u32 off = (flags & H2I_PADDED ? 1 : 0) + (flags & H2I_PRIORITY ? 5 : 0);
	struct client_pending *cp;
	__u8 b[5] = {};
	__u16 status;

	if (len < off + 1 || w->v.pos + off + 1 > w->v.n)
		return;
	cp = bpf_map_lookup_elem(&client_pending, &k);
	if (!cp || cp->ev.status)
		return;
	if (bpf_probe_read_user(b, w->v.pos + off + 5 <= w->v.n && len >= off + 5 ? 5 : 1,
				(void *)(w->v.ubuf + w->v.pos + off)))
		return;
	status = h2_in_static_status(b[0] & 0x7f);
	if (b[0] & 0x80) {
		cp->ev.status = status;
		return;
	}
	/* literal, name :status (static 8..14): with indexing, without, never indexed */
	if (b[0] & 0x40)
		status = h2_in_static_status(b[0] & 0x3f);
	else if (!(b[0] & 0x20))
		status = h2_in_static_status(b[0] & 0x0f);
	else
		return;
	if (!status || b[1] != 3 || b[2] < '1' || b[2] > '5' || b[3] < '0' || b[3] > '9' ||
	    b[4] < '0' || b[4] > '9')
		return;
	cp->ev.status = (b[2] - '0') * 100 + (b[3] - '0') * 10 + (b[4] - '0');
}

/*
 * One frame (or the rest of one) at the walk's position; at the end of an
 * iovec, the next one.
 */
static long h2_in_frame_cb(__u32 i, void *data)
{
	struct h2_in_walk *w = data;
	struct h2_peer *p = w->p;
	__u32 k, len, sid, had = p->hdr_n, rest;
	__u8 type, flags;

	if (w->v.pos >= w->v.n)
		return iov_cur_next(&w->v) ? 0 : 1;
	rest = w->v.n - w->v.pos;
	if (p->left && p->in_settings)
		return h2_in_settings(w, p, rest);
	if (p->left) {
		k = p->left < rest ? p->left : rest;
		p->left -= k;
		w->v.pos += k;
		return 0;
	}
	if (had >= 9)
		had = 0;
	k = 9 - had;
	if (k > rest)
		k = rest;
	if (!h2_in_take(w, p->hdr, had, 9, k)) {
		w->lost = 1;
		return 1;
	}
	if (had + k < 9) {
		p->hdr_n = had + k;
		return 0;	/* the rest in the next iovec, or the next read */
	}
	p->hdr_n = 0;
	len = h2_frame_head(p->hdr, &type, &flags, &sid);
	p->in_settings = type == H2I_SETTINGS && !(flags & H2I_ACK);
	p->ent_n = 0;
	if (p->in_settings && len % 6)
		p->in_settings = 0;	/* a connection error at the client */
	if (type == H2I_HEADERS && (sid & 1))
		h2_in_status(w, sid, flags, len);
	if ((type == H2I_DATA || type == H2I_HEADERS) && (flags & H2I_END_STREAM) && (sid & 1))
		h2_client_end(w->fk, sid);
	p->left = len;
	return 0;
}

/* head (9 bytes) is a SETTINGS frame header (not an ACK) on stream 0. */
static __always_inline bool h2_in_settings_head(const char *head)
{
	return !head[0] && head[3] == H2I_SETTINGS && !head[4] && !head[5] && !head[6] && !head[7] &&
	       !head[8] && !(((__u32)(__u8)head[1] << 8 | (__u8)head[2]) % 6);
}

/*
 * A server speaks first in HTTP/2 (its SETTINGS frame), often before the
 * client's preface has left and sk_msg has confirmed the connection: the
 * first read of an enrolled connection (a socket cookie: sockops took it) that
 * starts with a SETTINGS frame header and holds every byte received so far
 * (tcp_sock counters: so it starts at the connection's first byte) gets an
 * entry at once; sk_msg keeps it when it confirms the same connection.
 */
static __always_inline struct h2_peer *h2_in_first(const struct fd_key *fk, long n)
{
	struct h2_peer e = {};
	struct tcp_sock *tp;
	struct sock *sk;
	__u64 seen;
	__u16 fam;

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
 * A target thread read c->n bytes from its fd (c: struct rd_call,
 * http_observe.bpf.c): at c->ubuf for one buffer (c->uiov 0), else over the
 * iovec array c->uiov of c->niov entries (ubuf: its first iovec). When fd is an outgoing HTTP/2 connection of
 * its process, follow its frames over every iovec; true when it is. Bytes
 * that cannot be followed (unreadable, more than IOV_CUR_MAX iovecs, more
 * steps than frames take) lose the position: the connection's reads are
 * marked lost (counted h2-client-reads-lost) and followed no further, its
 * frame bound falls back to the default (always safe) and its open streams
 * end at weft-http's exit (unanswered), never at a frame guessed. A function
 * of its own, called beside on_read, not from it: on 6.1 on_read's frame,
 * this walk's and its bpf_loop callback's would pass 512 bytes together.
 */
static __noinline bool h2_in_read(struct rd_call *c)
{
	struct fd_key fkv = { .tgid = c->id >> 32, .fd = (__s32)c->id }, *fk = &fkv;
	struct h2_in_walk w = { .fk = fk, .v = { .ubuf = c->ubuf, .n = c->n } };
	__u64 uiov = c->uiov, niov = c->niov;
	long n = c->n;
	struct sock *sk;

	if (n <= 0)
		return false;
	w.p = h2_any ? bpf_map_lookup_elem(&h2_peers, fk) : NULL;
	if (!w.p) {
		if (n < 9 || rd_head(c) < 9 || !h2_in_settings_head(c->head))
			return false;
		/* in iovec mode the first iovec must hold the frame header */
		if (uiov && (!iov_cur_first(&w.v, uiov, niov, n) || w.v.n < 9))
			return false;
		w.p = h2_in_first(fk, n);
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
	if (w.p->lost)
		return true;
	if (uiov && !w.v.arr && !iov_cur_first(&w.v, uiov, niov, n))
		w.lost = 1;
	if (!w.lost && weft_have_bpf_loop)
		bpf_loop(iov_cur_steps(n, w.v.niov), h2_in_frame_cb, &w, 0);
	if (w.lost || !weft_have_bpf_loop || iov_cur_left(&w.v)) {
		w.p->lost = 1;
		w.p->max_frame = 0;
		count(WH_H2_IN_LOST);
	}
	return true;
}

#endif /* WEFT_HTTP2_IN_BPF_H */

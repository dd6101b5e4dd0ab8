/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * weft-http, cleartext HTTP/2 servers of the watched cgroup (included by
 * http_observe.bpf.c only). A connection is an HTTP/2 server's when its
 * process reads, as the connection's first bytes, the client preface followed
 * by a SETTINGS frame header. From then on the frames it reads and writes are
 * followed across reads and writes (a frame header may be cut anywhere):
 *   - the payload of each request HEADERS frame (odd stream) and of each
 *     CONTINUATION frame read, and of each HEADERS, PUSH_PROMISE and
 *     CONTINUATION frame written (the server's own HPACK context: response
 *     headers and trailers), goes to user space (h2s_events) in pieces of at
 *     most WEFT_H2S_PIECE_MAX bytes, as the reads and writes bring it (a frame
 *     may be cut anywhere too), numbered per direction: user space joins the
 *     pieces into header blocks and decodes HPACK, one context per direction
 *     (injectors/net/h2_server.c);
 *   - END_STREAM on a HEADERS or DATA frame the server writes on a client
 *     stream ends that stream's SERVER span. The server's writes are followed
 *     from the connection's first written byte (a SETTINGS frame: the server
 *     may speak before it reads the preface), over up to IOV_CUR_MAX iovecs.
 * A piece the ring buffer has no room for is skipped (counted) and its number
 * with it: the frames are still followed, user space sees the gap and stops
 * trusting that direction's HPACK table. A read or write that cannot be
 * followed (more than IOV_CUR_MAX iovecs with bytes, bytes unreadable, more
 * steps than iov_cur_steps allows: only for malformed frames) is
 * reported lost and that direction is no longer followed on the connection:
 * user space then trusts neither its HPACK table nor its open streams. Needs
 * bpf_loop (5.17): without it HTTP/2 servers are not followed.
 */
#ifndef WEFT_HTTP2_SRV_BPF_H
#define WEFT_HTTP2_SRV_BPF_H

#define H2S_DATA	 0x0
#define H2S_HEADERS	 0x1
#define H2S_SETTINGS	 0x4
#define H2S_PUSH_PROMISE 0x5
#define H2S_CONTINUATION 0x9
#define H2S_END_STREAM	 0x01
#define H2S_END_HEADERS	 0x04

/* One direction's frame position. */
struct h2s_dir {
	__u32 left;	/* payload bytes of the current frame still to pass */
	__u32 len;	/* the current frame's payload length */
	__u32 sid;	/* its stream */
	__u8 hdr[9];	/* the frame header being collected */
	__u8 hdr_n;
	__u8 ok;	/* followed */
	__u8 blk;	/* the current frame carries a header block followed here */
	__u8 type;
	__u8 flags;
	__u8 _pad[2];
	__u32 seq;	/* pieces of this direction so far (handed over or not) */
};

struct h2s_conn {
	__u64 conn;		/* the socket's inode number when the entry was made (a freed
				 * sock's memory is reused for the next connection, its number not) */
	struct h2s_dir in;
	struct h2s_dir out;
	__u8 need_settings;	/* the preface was read: the next frame must be SETTINGS */
	__u8 confirmed;		/* preface + SETTINGS read */
	__u8 _pad[6];
};

WEFT_LRU_HASH(struct fd_key, struct h2s_conn, 16384) h2s_conns SEC(".maps");
/*
 * 2 MiB. grpcio calls with 16 KB of metadata each bring ~30 MB/s of request
 * blocks on this machine; 1 MiB (~35 ms of that) overflowed when the reader
 * was kept off the CPU at load 12 (a lost piece is counted and makes that
 * direction's table uncertain). Bigger is not free: the kernel maps a ring's
 * whole data area into the reader at once, twice (for the wrap), so every
 * MiB here is 2 MiB of weft-http's RSS from the start, HTTP/2 or not (8 MiB
 * made it 25 MB under HTTP/1 load).
 */
WEFT_RINGBUF(2 << 20) h2s_events SEC(".maps");
/*
 * A piece is put together here and copied into h2s_events at its own size.
 */
WEFT_PERCPU_ARRAY(struct weft_h2s_block, 1) h2s_scratch SEC(".maps");

/*
 * When h2s records wake the reader. The default flags wake it at the first
 * record after it caught up: with a reader that keeps up, one wakeup (irq_work
 * and a context switch) per RPC or so, most of weft-http's own CPU per h2c RPC
 * (6.5 us with them, 2.0 without, grpcio pair). Up to H2S_QUIET_BYTES waiting,
 * records wake nobody (the injector's timed drain, every WEFT_INJ_POLL_MS, or a
 * wakeup of another ring takes them); past that, every record wakes it until
 * it has read them, as a reader that fell behind must be. Pieces were lost
 * twice with such rules before: with bursts at an eighth of the ring (94d5981),
 * and with 16 KiB while the ring loop paused 5 ms after each wakeup (f560f95;
 * the pause is gone: common/injector.h). With neither, http2_grpc,
 * http2_grpc_relay, http2_status and http2_stream_integrity lost no piece in
 * 14 runs beside 8 and 16 busy loops on the 2 cores.
 */
#define H2S_QUIET_BYTES (64 << 10)

static __always_inline __u64 h2s_rb_flags(void)
{
	return bpf_ringbuf_query(&h2s_events, BPF_RB_AVAIL_DATA) > H2S_QUIET_BYTES
		       ? BPF_RB_FORCE_WAKEUP
		       : BPF_RB_NO_WAKEUP;
}

/*
 * A write of a target thread to an HTTP/2 server connection, until its exit:
 * in the thread's task storage (a hash map's update at the entry and delete
 * at the exit cost several times more), cleared at the exit.
 */
struct h2s_wr {
	__u64 ts;	/* bpf_ktime_get_ns at the write's entry; 0: no write pending */
	__u64 buf;	/* the buffer, or the iovec array (niov > 0) */
	__s32 fd;
	__u32 niov;
};

WEFT_TASK_STORAGE(struct h2s_wr) h2s_wrs SEC(".maps");

/* Some HTTP/2 server connection exists: writes look their fd up. */
static volatile __u32 h2s_any;

struct h2s_walk {
	struct h2s_conn *c;
	struct h2s_dir *d;
	const struct fd_key *fk;
	struct sock *sk;
	__u64 conn;	/* reads: the socket's inode number */
	struct iov_cur v;	/* where the walk is in the call's bytes */
	__u64 ts;	/* writes: when the write began (a span ends there: the peer may
			 * read the bytes before the write returns) */
	__u8 out;	/* the server's writes */
	__u8 not_h2;	/* the preface was not followed by SETTINGS */
	__u8 lost;	/* the walk cannot follow the bytes (the preface not in the first iovec) */
};

/* An event of this kind at time ts (bpf_ktime_get_ns); type: the frame's, for WEFT_H2S_END. */
static __always_inline void h2s_emit_at(const struct fd_key *fk, __u64 conn, __u8 kind, __u32 sid,
					__u64 ts, __u8 type)
{
	struct weft_h2s_event *e = bpf_ringbuf_reserve(&h2s_events, sizeof(*e), 0);
	__u64 id = bpf_get_current_pid_tgid();

	if (!e) {
		count(WH_ERRORS);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->conn = conn;
	e->ts = ts;
	e->tgid = fk->tgid;
	e->tid = (__u32)id;
	e->fd = fk->fd;
	e->sid = sid;
	e->kind = kind;
	e->type = type;
	if (kind == WEFT_H2S_LOST_IN || kind == WEFT_H2S_LOST_OUT)
		count(WH_H2S_LOST);
	bpf_ringbuf_submit(e, h2s_rb_flags());
}

static __always_inline void h2s_emit(const struct fd_key *fk, __u64 conn, __u8 kind, __u32 sid)
{
	h2s_emit_at(fk, conn, kind, sid, bpf_ktime_get_ns(), 0);
}

/*
 * k (at most WEFT_H2S_PIECE_MAX) payload bytes of the current header block
 * frame at the walk's position: to user space, numbered. A piece that cannot
 * be handed over is counted and its number skipped (user space sees the gap).
 */
static __always_inline void h2s_piece(struct h2s_walk *w, struct h2s_dir *d, __u32 k)
{
	__u32 zero = 0, l = k, seq = d->seq++;
	struct weft_h2s_block *b = bpf_map_lookup_elem(&h2s_scratch, &zero);

	if (!b) {
		count(WH_H2S_PIECE_LOST);
		return;
	}
	b->h.conn = w->c->conn;
	/* written pieces: the write's entry (trailers end a span there) */
	b->h.ts = w->out ? w->ts : bpf_ktime_get_ns();
	b->h.tgid = w->fk->tgid;
	b->h.tid = (__u32)bpf_get_current_pid_tgid();
	b->h.fd = w->fk->fd;
	b->h.sid = d->sid;
	b->h.len = l;
	b->h.off = d->len - d->left;
	b->h.frame_len = d->len;
	b->h.seq = seq;
	b->h.kind = w->out ? WEFT_H2S_PIECE_OUT : WEFT_H2S_PIECE;
	b->h.type = d->type;
	b->h.flags = d->flags;
	b->h._pad = 0;
	b->h._pad2 = 0;
	__builtin_memset(&b->local, 0, sizeof(b->local));
	__builtin_memset(&b->peer, 0, sizeof(b->peer));
	if (w->sk && b->h.off == 0)
		weft_sock_addrs(w->sk, &b->local, &b->peer);
	weft_barrier_var(l);
	l &= 2 * WEFT_H2S_PIECE_MAX - 1;
	if (l > WEFT_H2S_PIECE_MAX ||
	    (l && bpf_probe_read_user(b->block, l, (void *)(w->v.ubuf + w->v.pos))) ||
	    bpf_ringbuf_output(&h2s_events, b, offsetof(struct weft_h2s_block, block) + l,
			       h2s_rb_flags()))
		count(WH_H2S_PIECE_LOST);
}

/*
 * One frame (or the rest of one) at the walk's position; in iovec mode, at
 * the end of one iovec, the next one.
 */
static long h2s_frame_cb(__u32 i, void *data)
{
	struct h2s_walk *w = data;
	struct h2s_dir *d = w->d;
	__u32 k, len, sid, had, rest;
	__u8 type, flags, t[16];

	if (w->v.pos >= w->v.n)
		return iov_cur_next(&w->v) ? 0 : 1;
	rest = w->v.n - w->v.pos;
	if (d->left) {
		k = d->left < rest ? d->left : rest;
		if (d->blk) {
			if (k > WEFT_H2S_PIECE_MAX)
				k = WEFT_H2S_PIECE_MAX;
			h2s_piece(w, d, k);
		}
		d->left -= k;
		w->v.pos += k;
		return 0;
	}
	had = d->hdr_n < 9 ? d->hdr_n : 0;
	k = 9 - had;
	if (k > rest)
		k = rest;
	weft_barrier_var(k);
	k &= 15;
	if (k == 0 || k > 9 || bpf_probe_read_user(t, k, (void *)(w->v.ubuf + w->v.pos)))
		return 1;
	for (__u32 j = 0; j < 9; j++) {
		__u32 at = had + j;

		weft_barrier_var(at);
		if (j >= k || at > 8)
			break;
		d->hdr[at] = t[j];
	}
	w->v.pos += k;
	if (had + k < 9) {
		d->hdr_n = had + k;
		return 0;	/* the rest in the next iovec, or the next read or write */
	}
	d->hdr_n = 0;
	len = h2_frame_head(d->hdr, &type, &flags, &sid);
	d->left = d->len = len;
	d->sid = sid;
	d->type = type;
	d->flags = flags;
	d->blk = 0;
	if (w->out) {
		if ((type == H2S_DATA || type == H2S_HEADERS) && (flags & H2S_END_STREAM) &&
		    (sid & 1))
			h2s_emit_at(w->fk, w->c->conn, WEFT_H2S_END, sid, w->ts, type);
		/* every block the server's HPACK encoder made */
		d->blk = type == H2S_HEADERS || type == H2S_PUSH_PROMISE ||
			 type == H2S_CONTINUATION;
	} else if (w->c->need_settings) {
		if (type != H2S_SETTINGS || (flags & 1) || sid || len % 6) {
			w->not_h2 = 1;
			return 1;
		}
		w->c->need_settings = 0;
		w->c->confirmed = 1;
		count(WH_H2S_CONNS);
		h2s_emit(w->fk, w->c->conn, WEFT_H2S_OPEN, 0);
		return 0;
	} else {
		d->blk = (type == H2S_HEADERS && (sid & 1)) || type == H2S_CONTINUATION;
	}
	/* an empty frame still says where a block ends */
	if (d->blk && !len)
		h2s_piece(w, d, 0);
	return 0;
}

/*
 * Walk all bytes of op bytes over an iovec array (w->v; the first iovec
 * already set up by iov_cur_first) or of one buffer; returns the bytes
 * that could not be followed (beyond IOV_CUR_MAX iovecs, unreadable, more
 * steps than iov_cur_steps).
 */
static __always_inline __u32 h2s_walk_all(struct h2s_walk *w, __u32 op)
{
	bpf_loop(iov_cur_steps(op, w->v.niov), h2s_frame_cb, w, 0);
	if (w->lost || w->not_h2)
		return 1;
	return iov_cur_left(&w->v);
}

/* Nothing has been written on the connection yet (tcp_sock counters). */
static __always_inline bool h2s_nothing_written(struct sock *sk)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;

	return BPF_CORE_READ(tp, write_seq) == BPF_CORE_READ(tp, snd_una) &&
	       BPF_CORE_READ(tp, bytes_acked) == 0;
}

/* Everything received on the connection so far is this read's n bytes. */
static __always_inline bool h2s_first_read(struct sock *sk, long n)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	__u64 seen = BPF_CORE_READ(tp, bytes_received) -
		     (__u32)(BPF_CORE_READ(tp, rcv_nxt) - BPF_CORE_READ(tp, copied_seq));

	return seen == (__u64)n;
}

static __always_inline struct h2s_conn *h2s_get(const struct fd_key *fk, __u64 conn)
{
	struct h2s_conn *c = bpf_map_lookup_elem(&h2s_conns, fk), e = {};

	if (c && c->conn == conn)
		return c;
	e.conn = conn;
	bpf_map_update_elem(&h2s_conns, fk, &e, BPF_ANY);
	if (!h2s_any)
		h2s_any = 1;
	return bpf_map_lookup_elem(&h2s_conns, fk);
}

/*
 * A target thread read c->n bytes from its fd (c: struct rd_call, c->ubuf:
 * the buffer, or the first iovec of the array c->uiov of c->niov entries;
 * uiov 0: one buffer): true when fd is an HTTP/2 server connection (then the
 * read is followed here and nothing else looks at it).
 */
static __noinline bool h2s_read(struct rd_call *c)
{
	struct fd_key fkv = { .tgid = c->id >> 32, .fd = (__s32)c->id }, *fk = &fkv;
	struct h2s_walk w = { .fk = fk, .v = { .ubuf = c->ubuf, .n = c->n } };
	static const char pre[16] = "PRI * HTTP/2.0\r\n";
	__u64 rest, ubuf = c->ubuf, uiov = c->uiov, niov = c->niov;
	__u32 skip = 0, left;
	long n = c->n;

	if (!weft_have_bpf_loop)
		return false;	/* not followed without bpf_loop (5.17) */
	w.c = h2s_any ? bpf_map_lookup_elem(&h2s_conns, fk) : NULL;
	if (!w.c && (n < 24 || rd_head(c) < 16 || c->head[0] != 'P'))
		return false;
	w.sk = weft_fd_sock_ino(fk->fd, &w.conn);
	if (!w.sk)
		return false;
	if (w.c && w.c->conn != w.conn)
		w.c = NULL;	/* the fd names another socket now */
	if (!w.c || !w.c->in.ok) {
		if (n < 24 || go_owned(fk->tgid) || rd_head(c) < 16)
			return false;
		for (int j = 0; j < 16; j++)
			if (c->head[j] != pre[j])
				return false;
		/* "\r\nSM\r\n\r\n", the preface's last 8 bytes, as a little-endian word */
		if (bpf_probe_read_user(&rest, 8, (void *)(ubuf + 16)) ||
		    rest != 0x0a0d0a0d4d530a0dULL)
			return false;
		if (!h2s_first_read(w.sk, n))
			return false;
		w.c = h2s_get(fk, w.conn);
		if (!w.c)
			return false;
		__builtin_memset(&w.c->in, 0, sizeof(w.c->in));
		w.c->in.ok = 1;
		w.c->need_settings = 1;
		skip = 24;
	}
	w.d = &w.c->in;
	if (uiov) {
		/* the preface's 24 bytes in the first iovec */
		if (!iov_cur_first(&w.v, uiov, niov, n) || skip > w.v.n)
			w.lost = 1;
		w.v.pos = skip;
	} else {
		w.v.pos = skip;
	}
	left = w.lost ? 1 : h2s_walk_all(&w, n);
	if (w.not_h2) {
		/* not HTTP/2 after all: nothing was reported, nothing is followed */
		bpf_map_delete_elem(&h2s_conns, fk);
		return true;
	}
	if (left || w.lost) {
		w.c->in.ok = 0;
		h2s_emit(fk, w.c->conn, WEFT_H2S_LOST_IN, 0);
	}
	return true;
}

/*
 * A target thread starts writing to fd (c: the call, struct wr_call):
 * remembered until the write's exit when fd is an HTTP/2 server connection,
 * or when this is the first write of a connection and begins with a SETTINGS
 * frame.
 */
static __always_inline void h2s_write_enter(__u64 id, __s32 fd, struct wr_call *c)
{
	struct fd_key fk = { .tgid = id >> 32, .fd = fd };
	struct h2s_wr a = { .buf = c->uarg, .fd = fd }, *p;
	struct h2s_conn *hc = h2s_any ? bpf_map_lookup_elem(&h2s_conns, &fk) : NULL;
	const __u8 *h = (const __u8 *)c->head;
	struct sock *sk = NULL;
	__u64 conn = 0;

	if (!weft_have_bpf_loop)
		return;
	if (c->kind != WR_BUF) {
		wr_arr(c);
		a.buf = c->arr;
		a.niov = c->niov;
		if (!a.niov)
			return;
	}
	if (hc && hc->out.ok) {
		/* the fd still names the connection the entry was made for */
		sk = weft_fd_sock_ino(fd, &conn);
		if (!sk)
			return;
		if (hc->conn != conn)
			hc = NULL;
	}
	if (!hc || !hc->out.ok) {
		/* the first buffer's first 9 bytes: a SETTINGS frame header */
		if (wr_head(c) < 9)
			return;
		if (h[0] || h[3] != H2S_SETTINGS || h[4] || h[5] || h[6] || h[7] || h[8] ||
		    ((__u32)h[1] << 8 | h[2]) % 6)
			return;
		if (!sk)
			sk = weft_fd_sock_ino(fd, &conn);
		if (!sk || go_owned(fk.tgid) || !h2s_nothing_written(sk))
			return;
		hc = h2s_get(&fk, conn);
		if (!hc)
			return;
		__builtin_memset(&hc->out, 0, sizeof(hc->out));
		hc->out.ok = 1;
	}
	p = bpf_task_storage_get(&h2s_wrs, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!p)
		return;
	a.ts = bpf_ktime_get_ns();
	*p = a;
}

/* The write remembered by h2s_write_enter sent ret bytes: follow them. */
static __always_inline void h2s_write_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct h2s_wr *a = h2s_any && weft_have_bpf_loop
				   ? bpf_task_storage_get(&h2s_wrs, bpf_get_current_task_btf(), 0, 0)
				   : NULL;
	struct h2s_walk w = { .out = 1 };
	struct fd_key fk;
	__u32 left;

	if (!a || !a->ts)
		return;
	fk.tgid = id >> 32;
	fk.fd = a->fd;
	w.fk = &fk;
	w.v.ubuf = a->buf;
	w.ts = a->ts;
	w.v.n = a->niov;	/* reused below */
	a->ts = 0;
	if (ret <= 0)
		return;
	w.c = bpf_map_lookup_elem(&h2s_conns, &fk);
	if (!w.c || !w.c->out.ok)
		return;
	w.d = &w.c->out;
	if (!w.v.n) {
		w.v.n = ret;
		left = h2s_walk_all(&w, ret);
	} else {
		left = iov_cur_first(&w.v, w.v.ubuf, w.v.n, ret) ? h2s_walk_all(&w, ret) : ret;
	}
	if (left) {
		w.c->out.ok = 0;
		h2s_emit(&fk, w.c->conn, WEFT_H2S_LOST_OUT, 0);
	}
}

#endif /* WEFT_HTTP2_SRV_BPF_H */

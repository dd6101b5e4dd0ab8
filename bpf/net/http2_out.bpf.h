/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * weft-http, outgoing cleartext HTTP/2 (sk_msg; included by http_insert.bpf.c
 * only): detection, frame tracking across sends, traceparent insertion.
 *
 * A connection is HTTP/2 only once its first bytes are the client preface
 * (RFC 9113 3.4) AND the frame after it has a SETTINGS header (type 4, no
 * flags, stream 0, a length that is a multiple of 6); until then nothing is
 * changed, and anything else drops the connection unchanged (PH_H2_PRE).
 *
 * Confirmed (PH_H2), each program run starts at the message's first byte,
 * which is either inside a frame payload (st->h2.left bytes to pass), or at
 * (or inside) a 9-byte frame header; a run handles one frame and lets
 * bpf_msg_apply_bytes() bring the program back at the next frame. A frame
 * header cut between sends is collected in st->h2.hdr.
 *
 * Into the header block of a request (the first HEADERS frame of a new
 * client stream) that carries END_HEADERS, one HPACK literal field without
 * indexing, new name (RFC 7541 6.2.2), is appended at the block's end (before
 * any padding) and the 24-bit frame length grown by exactly its size:
 *	0x00 0x0b "traceparent" 0x37 <55 bytes>		(69 bytes)
 * followed by a tracestate field the same way when the served request had one.
 * The context: for a process weft-go instruments (go_pids), the one weft-go
 * published for exactly this connection (socket cookie) and stream id
 * (go_stream_ctx, weft_conn_ctx.h), used once, weft-go exporting the span; no
 * entry: left alone (WH_H2_GO_NONE). Otherwise the SERVER span the sending
 * thread serves (thread-per-request runtimes), or a new trace.
 * Neither side's dynamic table changes. Left alone, and counted, when:
 *   - the frame header and the whole frame are not in this one send
 *     (WH_H2_SPLIT), or the block goes on in CONTINUATION (WH_H2_CONT);
 *   - the grown frame would pass the peer's SETTINGS_MAX_FRAME_SIZE as the
 *     client process read it (h2_peers; 16384 until seen) (WH_H2_TOO_BIG);
 *   - the block holds a traceparent literal (WH_LEFT_ALONE);
 *   - the block refers to a dynamic-table entry and some earlier block may
 *     have added a traceparent entry (a literal with incremental indexing named
 *     traceparent, or a block weft could not read whole) (WH_H2_UNSURE).
 *   - on a connection that existed before weft-http, followed from a
 *     verified boundary (h2.pre, h2_pre_send): the block refers to an entry
 *     inserted before the boundary (hp_dyn_ref) (WH_PRE_H2_OLD).
 * Every block weft reads whole is walked for that, so "no traceparent in the
 * dynamic table" stays certain without tracking the table itself.
 */
#ifndef WEFT_HTTP2_OUT_BPF_H
#define WEFT_HTTP2_OUT_BPF_H

#define H2_PREFACE	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN	24

#define H2_DATA		0x0
#define H2_HEADERS	0x1
#define H2_SETTINGS	0x4
#define H2_CONTINUATION	0x9

#define H2_END_STREAM	0x01
#define H2_END_HEADERS	0x04
#define H2_PADDED	0x08
#define H2_PRIORITY	0x20

#define H2_TP_FIELD_LEN	(2 + 11 + 1 + WEFT_TRACEPARENT_LEN) /* 0x00 0x0b name 0x37 value */
#define HP_STATIC_MAX	61	/* RFC 7541 Appendix A: higher indexes are the dynamic table */

#include "net/h2_verify.h"

/*
 * 1 when sc->buf[0, n) goes on with the client preface from its byte from,
 * as far as it goes; else 0. A global function: its loop is verified once.
 */
__attribute__((noinline)) int h2_preface_prefix(const struct weft_scratch *sc, __u32 n, __u32 from)
{
	const char p[] = H2_PREFACE;
	__u8 d = 0;

	if (!sc)
		return 0;
	for (__u32 i = 0; i < H2_PREFACE_LEN; i++) {
		if (i < from)
			continue;
		if (i - from >= n)
			break;
		d |= sc->buf[(i - from) & WEFT_SCRATCH_MASK] ^ p[i];
	}
	return d == 0;
}

/*
 * Does a connection that has sent no HTTP/1 request yet start like the client
 * preface: "PR" at its first byte (never a method), or "R" right after a
 * first send of "P" alone (the HTTP/1 scanner holds it)? Then the phase
 * becomes PH_H2_PRE and h2_run checks the rest. 1 or 0. A global function,
 * so that this check adds no paths to the HTTP/1 parser's.
 */
__attribute__((noinline)) int h2_starts(struct sk_msg_md *msg, struct conn_state *st)
{
	char *d, *e;
	__u32 want;

	if (!msg || !st)
		return 0;
	if (st->phase == PH_START)
		want = 2;
	else if (st->phase == PH_HDR && st->scan.pos == 1 && st->scan.method[0] == 'P')
		want = 1;
	else
		return 0;
	if (msg->size < want || bpf_msg_pull_data(msg, 0, want, 0))
		return 0;
	d = (void *)(long)msg->data;
	e = (void *)(long)msg->data_end;
	if (want == 2) {
		if (d + 2 > e || d[0] != 'P' || d[1] != 'R')
			return 0;
	} else if (d + 1 > e || d[0] != 'R') {
		return 0;
	}
	st->phase = PH_H2_PRE;
	st->h2.pre_n = 2 - want;
	return 1;
}

/* ------------------------------------------------------- HPACK block walk */

/*
 * The walk is a token machine, one token (a field's first byte, an integer's
 * continuation byte, a string) per bpf_loop step, so that the verifier sees
 * one small step; string contents are skipped whole.
 */
enum hp_state { HP_FIELD = 0, HP_INT, HP_STR };
enum hp_what { HP_W_INDEX = 0, HP_W_SIZE, HP_W_NAMEIDX, HP_W_NAMELEN, HP_W_VALLEN };

static __always_inline __u8 hp_byte(const char *b, __u32 i)
{
	return (__u8)b[i & H2_BUF_MASK];
}

/*
 * The name string of len bytes at at: 1 "traceparent", 2 "tracestate" (plain
 * in any letter case, or Huffman-coded: names are lowercase in HTTP/2, so
 * their codes are unique), else 0. Branch-free over 11 bytes.
 */
#define HP_W8(a, b, c, d, e, f, g, h)                                                              \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 | (__u64)(e) << 32 |  \
	 (__u64)(f) << 40 | (__u64)(g) << 48 | (__u64)(h) << 56)

static __always_inline __u8 hp_name(const char *b, __u32 at, __u32 len, bool huff)
{
	__u64 raw = 0, fold = 0, tail = 0;

	for (int i = 0; i < 11; i++) {
		__u8 c = hp_byte(b, at + i), f = c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;

		if (i < 8) {
			raw |= (__u64)c << (8 * i);
			fold |= (__u64)f << (8 * i);
		} else {
			tail |= (__u64)f << (8 * (i - 8));
		}
	}
	if (huff && len == 8 && raw == HP_W8(0x4d, 0x83, 0x21, 0x6b, 0x1d, 0x85, 0xa9, 0x3f))
		return 1;
	if (huff && len == 7 &&
	    (raw & 0xffffffffffffffull) == HP_W8(0x4d, 0x83, 0x21, 0x50, 0x91, 0xa4, 0xbf, 0))
		return 2;
	if (huff)
		return 0;
	if (len == 11 && fold == HP_W8('t', 'r', 'a', 'c', 'e', 'p', 'a', 'r') &&
	    tail == HP_W8('e', 'n', 't', 0, 0, 0, 0, 0))
		return 1;
	if (len == 10 && fold == HP_W8('t', 'r', 'a', 'c', 'e', 's', 't', 'a') &&
	    (tail & 0xffff) == HP_W8('t', 'e', 0, 0, 0, 0, 0, 0))
		return 2;
	return 0;
}

/*
 * Dynamic-table index v (> 61) used. Entry v - 62 counts from the newest
 * (RFC 7541 2.3.3): it is one weft saw inserted when fewer than that many
 * insertions were seen before it (w->seen before the block, w->ins in it).
 * Evictions and size updates drop the oldest entries and never reorder the
 * newest, and an entry larger than the table empties it (4.4), leaving only
 * newer ones: so for any index the encoder may use, that test is exact
 * without following sizes. Else w->old.
 */
static __always_inline void hp_dyn_ref(struct hp_walk *w, __u32 v)
{
	w->dyn_ref = 1;
	if (v - (HP_STATIC_MAX + 1) >= w->seen + w->ins)
		w->old = 1;
}

/* One token of the block (RFC 7541 5.1 integers, 5.2 strings, 6 fields). */
static long hp_step_cb(__u32 i, void *data)
{
	__u32 mask, v, zero = 0;
	struct hp_walk *w = bpf_map_lookup_elem(&hp_walks, &zero);
	const char *b = bpf_map_lookup_elem(&h2_buf, &zero);
	__u8 c;

	if (!w || !b || w->pos >= w->end)
		return 1;
	c = hp_byte(b, w->pos);
	w->pos++;
	if (w->st == HP_INT) {
		if (w->shift > 21)
			goto bad;	/* larger than 2^28: no block of ours */
		w->v += (__u32)(c & 0x7f) << w->shift;
		w->shift += 7;
		if (c & 0x80)
			return 0;
	} else {
		if (w->st == HP_STR) {
			w->huff = c >> 7;
			mask = 0x7f;
		} else if (c & 0x80) {		/* indexed field */
			w->what = HP_W_INDEX;
			mask = 0x7f;
		} else if ((c & 0xe0) == 0x20) {	/* dynamic table size update */
			w->what = HP_W_SIZE;
			mask = 0x1f;
		} else {			/* literal: incremental, without, never indexed */
			w->what = HP_W_NAMEIDX;
			w->incr = (c & 0x40) != 0;
			mask = w->incr ? 0x3f : 0x0f;
		}
		w->v = c & mask;
		if (w->v == mask) {
			w->st = HP_INT;
			w->shift = 0;
			return 0;
		}
	}
	/* the integer is complete */
	v = w->v;
	w->st = HP_FIELD;
	switch (w->what) {
	case HP_W_INDEX:
		if (!v)
			goto bad;
		if (v > HP_STATIC_MAX)
			hp_dyn_ref(w, v);
		else if (v == 2 || v == 3)
			w->method = v;
		break;
	case HP_W_SIZE:
		break;
	case HP_W_NAMEIDX:
		w->name = 0;
		if (v > HP_STATIC_MAX)
			hp_dyn_ref(w, v);
		w->what = v ? HP_W_VALLEN : HP_W_NAMELEN;
		w->st = HP_STR;
		break;
	case HP_W_NAMELEN:
		if (v > w->end - w->pos)
			goto bad;
		w->name = hp_name(b, w->pos, v, w->huff);
		w->pos += v;
		w->what = HP_W_VALLEN;
		w->st = HP_STR;
		break;
	default: /* HP_W_VALLEN: the field is complete */
		if (v > w->end - w->pos)
			goto bad;
		w->pos += v;
		if (w->incr)
			w->ins++;
		if (w->name == 1) {
			w->tp++;
			w->adds_tp |= w->incr;
		} else if (w->name == 2) {
			w->ts++;
			w->adds_ts |= w->incr;
		}
		break;
	}
	return 0;
bad:
	w->bad = 1;
	return 1;
}

/*
 * The CPU's walk state, for the block h2_buf[pos, end) of connection h; NULL
 * when there is none. It lives in a map so that the verifier treats every
 * step alike.
 */
static __always_inline struct hp_walk *hp_walk_new(const struct h2_out *h, __u32 pos, __u32 end)
{
	__u32 zero = 0;
	struct hp_walk *w = bpf_map_lookup_elem(&hp_walks, &zero);

	if (w) {
		__builtin_memset(w, 0, sizeof(*w));
		w->pos = pos;
		w->end = end;
		w->seen = h->pre ? h->ins : HP_SEEN_ALL;
	}
	return w;
}

/* A block read whole: its insertions are seen (a pre-existing connection). */
static __always_inline void hp_walked(struct h2_out *h, const struct hp_walk *w)
{
	if (h->pre)
		h->ins = h->ins + w->ins < HP_SEEN_ALL ? h->ins + w->ins : HP_SEEN_ALL;
}

/* Walk the block; false when it was not read whole. */
static __always_inline bool hp_walk_block(struct hp_walk *w)
{
	__u32 unused = 0;

	/* the state is the CPU's hp_walks entry (w): the callback looks it up */
	bpf_loop(H2_BUF_SZ, hp_step_cb, &unused, 0);
	return !w->bad && w->pos == w->end && w->st == HP_FIELD;
}

/* ------------------------------------------------------------- insertion */

/*
 * Append the traceparent field for ctx (and a tracestate field of tl bytes
 * when ts is given) at offset off of the message; returns the bytes inserted,
 * or -1. A global function: verified once.
 */
__attribute__((noinline)) int h2_insert(struct sk_msg_md *msg, __u32 off,
					const struct weft_trace_ctx *ctx, const struct ts_chars *ts,
					__u32 tl)
{
	__u32 n, tsn = 0;
	char *data, *data_end, *q;

	if (!msg || !ctx)
		return -1;
	if (!ts || tl > WEFT_TS_MAX)
		tl = 0;
	/* 0x00 0x0a "tracestate", the value's length (7-bit prefix), the value */
	if (tl)
		tsn = 12 + (tl < 127 ? 1 : tl - 127 < 128 ? 2 : 3) + tl;
	n = H2_TP_FIELD_LEN + tsn;
	if (msg_room(msg, off, n, &data, &data_end) || data + H2_TP_FIELD_LEN > data_end)
		return -1;
	data[0] = 0x00;
	data[1] = 11;
	__builtin_memcpy(data + 2, "traceparent", 11);
	data[13] = WEFT_TRACEPARENT_LEN;
	weft_tp_format(data + 14, ctx);
	if (!tl)
		return n;
	q = data + H2_TP_FIELD_LEN;
	if (q + 15 > data_end)
		return -1;
	q[0] = 0x00;
	q[1] = 10;
	__builtin_memcpy(q + 2, "tracestate", 10);
	q += 12;
	if (tl < 127) {
		*q++ = tl;
	} else if (tl - 127 < 128) {
		*q++ = 0x7f;
		*q++ = tl - 127;
	} else {
		*q++ = 0x7f;
		*q++ = ((tl - 127) & 0x7f) | 0x80;
		*q++ = (tl - 127) >> 7;
	}
	return put_ts(q, data_end, ts, tl) ? -1 : (int)n;
}

/* The frame's 24-bit length, at the message's first byte, set to len. */
static __always_inline int h2_set_len(struct sk_msg_md *msg, __u32 len)
{
	char *data, *data_end;

	if (bpf_msg_pull_data(msg, 0, 3, 0))
		return -1;
	data = (void *)(long)msg->data;
	data_end = (void *)(long)msg->data_end;
	if (data + 3 > data_end)
		return -1;
	data[0] = len >> 16;
	data[1] = len >> 8;
	data[2] = len;
	return 0;
}

/*
 * A request's HEADERS frame with END_HEADERS, whole at the message's start
 * (9 + len bytes, in h2_buf's b): insert unless a rule says leave it.
 * Returns the bytes inserted (0: left alone).
 */
static __always_inline __u32 h2_request(struct sk_msg_md *msg, struct conn_state *st,
					const char *b, __u32 len, __u8 flags, __u32 sid)
{
	struct hp_walk *w = hp_walk_new(&st->h2, 9, 9 + len);
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct weft_server_ctx *sctx;
	struct client_pending *cp;
	struct h2_peer *peer;
	struct srv_ts *ts = NULL;
	__u32 zero = 0, max = H2_DEFAULT_MAX_FRAME, pad = 0, tl = 0;
	struct weft_stream_key gk = {};
	struct weft_conn_ctx *gc = NULL;
	struct fd_key fk;
	__s32 *fdp;
	int r;

	if (!w)
		return 0;
	if (flags & H2_PADDED) {
		pad = (__u8)b[9];
		w->pos++;
	}
	if (flags & H2_PRIORITY)
		w->pos += 5;
	if (w->pos + pad > w->end)
		return 0;	/* malformed: the peer will say so */
	w->end -= pad;
	if (!weft_have_bpf_loop) {
		st->h2.tp_indexed = st->h2.ts_indexed = 1;
		count(WH_H2_UNSURE);
		return 0;
	}
	if (!hp_walk_block(w)) {
		st->h2.tp_indexed = st->h2.ts_indexed = 1;
		count(WH_H2_UNSURE);
		return 0;
	}
	hp_walked(&st->h2, w);
	if (w->tp) {
		st->h2.tp_indexed |= w->adds_tp;
		st->h2.ts_indexed |= w->adds_ts;
		count(WH_LEFT_ALONE);
		return 0;
	}
	if (w->old) {
		/* an entry from before weft's boundary: its name is unknown */
		st->h2.tp_indexed |= w->adds_tp;
		st->h2.ts_indexed |= w->adds_ts;
		count(WH_PRE_H2_OLD);
		return 0;
	}
	if (w->dyn_ref && st->h2.tp_indexed) {
		st->h2.ts_indexed |= w->adds_ts;
		count(WH_H2_UNSURE);
		return 0;
	}
	st->h2.ts_indexed |= w->adds_ts;

	fdp = bpf_map_lookup_elem(&cur_fd, &pid_tgid);
	fk.tgid = pid_tgid >> 32;
	fk.fd = fdp ? *fdp : -1;
	if (go_owned(fk.tgid)) {
		/*
		 * A Go process: goroutines move between threads, so the thread's
		 * SERVER span says nothing; only the context weft-go published
		 * for exactly this connection and stream goes out (weft-go
		 * exports that CLIENT span). None: left alone, as weft-go
		 * started a new trace for the call, so does the callee.
		 */
		gk.cookie = st->cookie;
		gk.tgid = fk.tgid;
		gk.sid = sid;
		gc = bpf_map_lookup_elem(&go_stream_ctx, &gk);
		if (!gc || !gc->ctx.valid) {
			count(WH_H2_GO_NONE);
			return 0;
		}
	}
	peer = fk.fd >= 0 ? bpf_map_lookup_elem(&h2_peers, &fk) : NULL;
	if (peer && peer->cookie == st->cookie && peer->max_frame)
		max = peer->max_frame;
	if (len + H2_TP_FIELD_LEN > max) {
		count(WH_H2_TOO_BIG);
		return 0;
	}
	cp = bpf_map_lookup_elem(&cp_tmp, &zero);
	if (!cp)
		return 0;
	__builtin_memset(cp, 0, sizeof(*cp));
	if (gc) {
		/* weft-go's CLIENT span: its context, and its tracestate if any */
		cp->ev.ctx = gc->ctx;
		if (!w->ts && !(w->dyn_ref && st->h2.ts_indexed) && gc->tracestate_len <= WEFT_TS_MAX)
			tl = gc->tracestate_len;
		if (len + H2_TP_FIELD_LEN + (tl ? 15 + tl : 0) > max)
			tl = 0;
		r = h2_insert(msg, w->end, &cp->ev.ctx,
			      tl ? (const struct ts_chars *)gc->tracestate : NULL, tl);
		bpf_map_delete_elem(&go_stream_ctx, &gk); /* one stream, one use */
	} else {
		sctx = served_request(pid_tgid, fk.fd, true);
		weft_sctx_client(sctx, &cp->ev.ctx, cp->ev.parent_span_id, &cp->ev.parent_src);
		if (sctx)
			ts = srv_ts_get(pid_tgid, sctx->ctx.span_id);
		/* the served tracestate beside it, unless the block may carry its own */
		if (ts && !w->ts && !(w->dyn_ref && st->h2.ts_indexed))
			tl = ts->len;
		if (len + H2_TP_FIELD_LEN + (tl ? 15 + tl : 0) > max)
			tl = 0; /* room for traceparent only */
		ev_set_ts(&cp->ev, tl ? ts : NULL);
		r = h2_insert(msg, w->end, &cp->ev.ctx,
			      tl ? (const struct ts_chars *)ts->ts : NULL, tl);
	}
	if (r > 0 && h2_set_len(msg, len + r)) {
		/* pushed but the length not grown: take the bytes out again */
		if (bpf_msg_pop_data(msg, w->end, r, 0))
			st->phase = PH_PASS;	/* cannot happen after a push; never parse on */
		r = -1;
	}
	if (r <= 0) {
		count(WH_ERRORS);
		return 0;
	}
	join_pieces(msg);
	count(WH_INSERTED);
	if (gc) {
		count(WH_GO_CTX); /* weft-go exports the span */
		return r;
	}
	if (fk.fd >= 0) {
		cp->ev.flags |= WEFT_SPAN_WRITTEN;
		client_ev_start(&cp->ev, msg, pid_tgid, WEFT_PROTO_HTTP2);
		if (w->method) {
			cp->ev.method_len = w->method == 2 ? 3 : 4;
			__builtin_memcpy(cp->ev.method, w->method == 2 ? "GET" : "POST", 4);
		}
		h2_client_push(&fk, sid, cp);
	}
	return r;
}

/* -------------------------------------------------------------- the frames */

/* The message's first sz bytes (a whole frame) into b; 0, or -1. */
static __always_inline int h2_copy(struct sk_msg_md *msg, char *b, __u32 sz)
{
	void *data, *data_end;

	if (bpf_msg_pull_data(msg, 0, sz, 0))
		return -1;
	data = (void *)(long)msg->data;
	data_end = (void *)(long)msg->data_end;
	if ((__u64)(data_end - data) < sz)
		return -1;
	weft_barrier_var(sz);
	sz &= 2 * H2_BUF_SZ - 1;
	if (sz > H2_BUF_SZ || sz == 0)
		return -1;
	return bpf_probe_read_kernel(b, sz, data) ? -1 : 0;
}

/* The HTTP/2 connection is confirmed: its process's reads are followed too. */
static __always_inline void h2_confirmed(struct conn_state *st)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct h2_peer p = { .cookie = st->cookie }, *e;
	struct fd_key fk = { .tgid = pid_tgid >> 32 };
	__s32 *fdp = bpf_map_lookup_elem(&cur_fd, &pid_tgid);

	count(WH_H2_CONNS);
	if (!fdp)
		return;
	fk.fd = *fdp;
	/* the server's first frames may have been read already (h2_in_first) */
	e = bpf_map_lookup_elem(&h2_peers, &fk);
	if (!e || e->cookie != st->cookie)
		bpf_map_update_elem(&h2_peers, &fk, &p, BPF_ANY);
	if (!h2_any)
		h2_any = 1;
}

/* One frame of a pre-existing connection's send, copied to the CPU's h2_buf. */
static long h2v_cb(__u32 i, void *data)
{
	__u32 zero = 0;
	const __u8 *b = bpf_map_lookup_elem(&h2_buf, &zero);

	if (!b)
		return 1;
	return h2v_next(data, b, H2_BUF_MASK);
}

/*
 * A send on a pre-existing connection (PH_PRE) that is no whole HTTP/1
 * request (pre_send): do its bytes verify as whole HTTP/2 client frames
 * (h2_verify.h), going on from the sends before? Once h2v_step says so
 * (H2V_SENDS in a row, no header block open), the next send starts a frame:
 * the connection is followed from there like one seen from its start (PH_H2),
 * with h2.pre set, so that a block referring to a dynamic-table entry from
 * before the boundary is left alone (hp_dyn_ref). Its reads are not followed
 * (their position is unknown; h2_peers entry marked lost): its CLIENT spans
 * end at weft-http's exit, and its frame bound stays the default 16384. This
 * send passes unchanged. A global function: verified once.
 */
__attribute__((noinline)) int h2_pre_send(struct sk_msg_md *msg, struct conn_state *st,
					  struct h2_buf *hb)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct fd_key fk = { .tgid = pid_tgid >> 32 };
	struct h2_peer peer = {};
	struct h2v_walk w = {};
	struct h2_out *h;
	__s32 *fdp;
	__u32 size;
	int r;

	if (!msg || !st || !hb)
		return SK_PASS;
	h = &st->h2;
	size = msg->size;
	w.s.max_sid = h->max_sid;
	w.s.cont_sid = h->cont_sid;
	w.s.ok = h->pre_ok;
	w.s.opened = h->pre_opened;
	w.size = size;
	/* the frames are walked only in a send copied whole, with bpf_loop */
	if (weft_have_bpf_loop && size && size <= H2_BUF_SZ && !h2_copy(msg, hb->b, size))
		bpf_loop(H2V_FRAMES_MAX, h2v_cb, &w, 0);
	r = h2v_done(&w.s, h->max_sid, w.res == 1);
	h->max_sid = w.s.max_sid;
	h->cont_sid = w.s.cont_sid;
	h->pre_ok = w.s.ok;
	h->pre_opened = w.s.opened;
	fdp = bpf_map_lookup_elem(&cur_fd, &pid_tgid);
	if (!r || !fdp)
		return SK_PASS;
	fk.fd = *fdp;
	st->phase = PH_H2;
	h->left = 0;
	h->hdr_n = 0;
	h->pre_n = H2_PREFACE_LEN;
	h->tp_indexed = h->ts_indexed = 0;
	h->pre = 1;
	h->ins = 0;
	bpf_map_delete_elem(&pre_conns, &fk);
	peer.cookie = st->cookie;
	peer.lost = 1;
	bpf_map_update_elem(&h2_peers, &fk, &peer, BPF_ANY);
	if (!h2_any)
		h2_any = 1;
	count(WH_PRE_CERTAIN);
	return SK_PASS;
}

/*
 * One run over an HTTP/2 connection (phase PH_H2_PRE or PH_H2). sc: the
 * sk_msg scratch, hb: the CPU's h2_buf. A global function: verified once.
 */
__attribute__((noinline)) int h2_run(struct sk_msg_md *msg, struct conn_state *st,
				     struct weft_scratch *sc, struct h2_buf *hb)
{
	struct h2_out *h;
	__u32 size, need, len, sid, ins = 0;
	__u8 type, flags, had;
	char *buf, *b;
	bool whole;
	int n;

	if (!msg || !st || !sc || !hb)
		return SK_PASS;
	h = &st->h2;
	size = msg->size;
	had = h->hdr_n;
	buf = sc->buf;
	b = hb->b;

	if (h->left) {
		if (h->left >= size) {
			h->left -= size;
			set_apply(msg, 0);
		} else {
			set_apply(msg, h->left);
			h->left = 0;
		}
		return SK_PASS;
	}
	n = msg_copy(msg, buf, size < 64 ? size : 64);
	if (n <= 0) {
		count(WH_ERRORS);
		return drop_conn(msg, st, WH_GIVE_UP);
	}
	if (st->phase == PH_H2_PRE && h->pre_n < H2_PREFACE_LEN) {
		need = H2_PREFACE_LEN - h->pre_n;
		if (!h2_preface_prefix(sc, n, h->pre_n))
			return drop_conn(msg, st, WH_NOT_HTTP);
		if ((__u32)n < need) {
			h->pre_n += n;
			set_apply(msg, 0);
		} else {
			h->pre_n = H2_PREFACE_LEN;
			set_apply(msg, need);
		}
		return SK_PASS;
	}

	/* at (or inside) a frame header */
	need = 9 - (had & 15);
	for (__u32 i = 0; i < 9; i++) {
		__u32 at = had + i;

		weft_barrier_var(at);
		if (i >= need || i >= (__u32)n || at >= 9)
			break;
		h->hdr[at] = buf[i];
	}
	if ((__u32)n < need) {
		h->hdr_n = had + n;
		set_apply(msg, 0);
		return SK_PASS;
	}
	h->hdr_n = 0;
	whole = had == 0;
	len = h2_frame_head(h->hdr, &type, &flags, &sid);

	if (st->phase == PH_H2_PRE) {
		/* the preface must be followed by a SETTINGS frame, else not HTTP/2 */
		if (type != H2_SETTINGS || flags || sid || len % 6 || len > 6 * 64)
			return drop_conn(msg, st, WH_NOT_HTTP);
		st->phase = PH_H2;
		h2_confirmed(st);
	} else if (h->cont_sid) {
		/* a block in CONTINUATION: only its next fragment may come */
		if (type != H2_CONTINUATION || sid != h->cont_sid)
			return drop_conn(msg, st, WH_GIVE_UP);
		if (flags & H2_END_HEADERS)
			h->cont_sid = 0;
	} else if (type == H2_CONTINUATION || ((type == H2_HEADERS || type == H2_DATA) && !sid)) {
		return drop_conn(msg, st, WH_GIVE_UP);	/* not a stream we can follow */
	} else if (type == H2_HEADERS) {
		bool request = (sid & 1) && sid > h->max_sid;

		if (request)
			h->max_sid = sid;
		if (!(flags & H2_END_HEADERS)) {
			h->cont_sid = sid;
			/* its fields are not read: any of them may add a table entry */
			h->tp_indexed = h->ts_indexed = 1;
			if (request)
				count(WH_H2_CONT);
		} else if (9 + len > H2_BUF_SZ) {
			h->tp_indexed = h->ts_indexed = 1;
			if (request)
				count(WH_H2_TOO_BIG);
		} else if (!whole || 9 + len > size) {
			h->tp_indexed = h->ts_indexed = 1;
			if (request)
				count(WH_H2_SPLIT);
		} else if (h2_copy(msg, b, 9 + len)) {
			h->tp_indexed = h->ts_indexed = 1;
			count(WH_ERRORS);
		} else if (request) {
			ins = h2_request(msg, st, b, len, flags, sid);
		} else {
			/* trailers: only read, for the table rule */
			struct hp_walk *w = hp_walk_new(h, 9, 9 + len);

			if (!w || flags & (H2_PADDED | H2_PRIORITY) || !weft_have_bpf_loop) {
				h->tp_indexed = h->ts_indexed = 1;
			} else {
				if (!hp_walk_block(w))
					h->tp_indexed = h->ts_indexed = 1;
				else
					hp_walked(h, w);
				h->tp_indexed |= w->adds_tp;
				h->ts_indexed |= w->adds_ts;
			}
		}
	}
	/* the frame's payload: in this message, or going on in later ones */
	if (need + len <= size) {
		set_apply(msg, need + len + ins);
	} else {
		h->left = need + len - size;
		set_apply(msg, 0);
	}
	return SK_PASS;
}

#endif /* WEFT_HTTP2_OUT_BPF_H */

// SPDX-License-Identifier: BSD-2-Clause
/*
 * weft-http: SERVER spans of cleartext HTTP/2 servers (docs/weft-http.md,
 * "Cleartext HTTP/2 and gRPC"). bpf/net/http2_srv.bpf.h hands over, in the
 * order the server process read and wrote them, the payload pieces of the
 * header blocks the server read (request HEADERS, CONTINUATION) and wrote
 * (HEADERS, PUSH_PROMISE, CONTINUATION: response headers and trailers), each
 * END_STREAM the server wrote, and what it could not follow; the pieces are
 * joined into header blocks here, per direction.
 *
 * Each direction of a connection has its own HPACK inflater (libnghttp2:
 * static table, Huffman, the dynamic table fed by every block of that
 * direction in order): the client's encoder for what the server reads, the
 * server's own encoder for what it writes. Once a block of a direction was
 * missed (a gap in the pieces' numbers, a piece out of place) or did not
 * decode, that direction's table is uncertain: from then on each of its
 * blocks is decoded with an empty table of its own, so a field that refers to
 * an earlier block's entry fails to decode (counted); only fields that are
 * literal, in the static table or entered earlier in the same block are read.
 * A request block that fails gives its stream no span; a response block that
 * fails gives the fields before the failure and nothing after it (a status
 * that is not read is left out, never guessed).
 *
 * A span starts at the read of the request's HEADERS frame, continues its
 * traceparent (and tracestate) when it has exactly one valid traceparent, and
 * ends at the server's END_STREAM on the stream (the entry of the write that
 * carries it). gRPC (content-type application/grpc...) spans are named by
 * :path; the exporter splits it into rpc.service and rpc.method. The status:
 * :status of the server's blocks on the stream (http.response.status_code),
 * and for gRPC grpc-status (rpc.grpc.status_code) of the block that ends the
 * stream (trailers, or a Trailers-Only response).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nghttp2/nghttp2.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "exporter.h"
#include "tracecontext.h"
#include "bpf/include/weft_span.h"
#include "bpf/net/weft_http.h"
#include "h2_server.h"

#define H2S_BUCKETS	1024
#define H2S_PENDING_MAX 1024	/* open streams of one connection awaiting their END_STREAM */
#define H2S_TABLE_MAX	65536	/* largest table size update accepted from an encoder */
#define H2S_TS_JOIN	4096	/* tracestate fields of one block joined */
#define H2S_BLOCK_LIMIT (1u << 20) /* a larger header block is not decoded: the table is lost */
#define H2F_HEADERS	 0x1
#define H2F_PUSH_PROMISE 0x5
#define H2F_END_STREAM	 0x01
#define H2F_END_HEADERS	 0x04
#define H2F_PADDED	 0x08
#define H2F_PRIORITY	 0x20

/* A growing byte buffer. */
struct h2s_bytes {
	uint8_t *p;
	size_t n, cap;
};

struct h2s_stream {
	uint32_t sid;
	bool ending;		/* the server wrote HEADERS with END_STREAM: its block decides */
	struct weft_span_event ev;
};

/* One direction's HPACK context and the header block being joined. */
struct h2s_hpack {
	nghttp2_hd_inflater *inf;
	bool unsure;			/* a block was missed or failed: the table is not trusted */
	uint32_t seq;			/* the next piece's number */
	struct h2s_bytes frame;		/* the current HEADERS/CONTINUATION frame's payload */
	struct h2s_bytes blk;		/* the header block being joined */
	const uint8_t *bp;		/* the whole block to decode: in blk, or the */
	size_t bn;			/* one frame's fragment where it arrived */
	bool in_blk;			/* a HEADERS frame without END_HEADERS came */
	struct weft_h2s_block first;	/* the block's first piece (block[] unused) */
};

struct h2s_conn {
	struct h2s_conn *next;
	uint64_t conn;
	uint32_t tgid;
	int32_t fd;
	struct h2s_hpack in;	/* what the server reads (the client's encoder) */
	struct h2s_hpack out;	/* what the server writes (its own encoder) */
	bool out_lost;		/* the server's writes are not followed: spans cannot end */
	struct h2s_stream *st;
	size_t nst, cap;
};

struct weft_h2s {
	struct weft_exporter *exp;
	struct h2s_conn *b[H2S_BUCKETS];
	uint64_t spans, lost, unsure, undecoded, unended;
	/* the server's own blocks: not (wholly) decoded, of them on an uncertain table; gRPC
	 * spans exported without grpc-status */
	uint64_t out_undecoded, out_unsure, no_status;
};

struct weft_h2s *weft_h2s_new(struct weft_exporter *exp)
{
	struct weft_h2s *h = calloc(1, sizeof(*h));

	if (h)
		h->exp = exp;
	return h;
}

static size_t bucket(uint32_t tgid, int32_t fd)
{
	return ((size_t)tgid * 31 + (uint32_t)fd) % H2S_BUCKETS;
}

static void hpack_reset(struct h2s_hpack *d)
{
	d->frame.n = d->blk.n = 0;
	d->in_blk = false;
	d->seq = 0;
	if (d->inf)
		nghttp2_hd_inflate_del(d->inf);
	d->inf = NULL;
	d->unsure = false;
}

/* A new HPACK context (the connection's first block comes next). */
static void hpack_start(struct h2s_hpack *d)
{
	hpack_reset(d);
	if (nghttp2_hd_inflate_new(&d->inf)) {
		d->inf = NULL;
		d->unsure = true;
	} else {
		nghttp2_hd_inflate_change_table_size(d->inf, H2S_TABLE_MAX);
	}
}

static void conn_reset(struct weft_h2s *h, struct h2s_conn *c)
{
	h->unended += c->nst;
	c->nst = 0;
	hpack_reset(&c->in);
	hpack_reset(&c->out);
	c->out_lost = false;
}

/* The connection (tgid, fd) currently names; create: make it for a new socket. */
static struct h2s_conn *conn_get(struct weft_h2s *h, const struct weft_h2s_event *e, bool create)
{
	struct h2s_conn **pp = &h->b[bucket(e->tgid, e->fd)], *c;

	for (c = *pp; c; c = c->next)
		if (c->tgid == e->tgid && c->fd == e->fd)
			break;
	if (c && c->conn == e->conn && !create)
		return c;
	if (!create)
		return NULL;	/* events of a socket never opened here: nothing to go on */
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return NULL;
		c->tgid = e->tgid;
		c->fd = e->fd;
		c->next = *pp;
		*pp = c;
	}
	conn_reset(h, c);
	c->conn = e->conn;
	hpack_start(&c->in);
	hpack_start(&c->out);
	return c;
}

/* What a request's header block says. */
struct h2s_fields {
	char tp[2][WEFT_TP_STR_SIZE];
	size_t ntp;
	char ts[H2S_TS_JOIN];
	size_t ts_len;
	bool ts_cut;
	bool grpc;
	char method[WEFT_METHOD_MAX + 1];
	char path[WEFT_PATH_MAX + 1];
	size_t method_len, path_len;
	/* the server's blocks: :status and grpc-status, -1 when absent or invalid */
	int status, grpc_status;
};

/* A decimal of 1 to max_digits digits up to 65535, or -1. */
static int decimal(const nghttp2_nv *nv, size_t max_digits)
{
	unsigned v = 0;

	if (!nv->valuelen || nv->valuelen > max_digits)
		return -1;
	for (size_t i = 0; i < nv->valuelen; i++) {
		if (nv->value[i] < '0' || nv->value[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(nv->value[i] - '0');
	}
	return v <= 65535 ? (int)v : -1;
}

/* Is nv's name lit, a string literal (its length known when compiled)? */
#define name_is(nv, lit)                                                                           \
	((nv)->namelen == sizeof(lit) - 1 && !memcmp((nv)->name, lit, sizeof(lit) - 1))

static void field(struct h2s_fields *f, const nghttp2_nv *nv)
{
	if (name_is(nv, "traceparent")) {
		if (f->ntp < 2) {
			size_t n = nv->valuelen < WEFT_TP_STR_SIZE - 1 ? nv->valuelen
								     : WEFT_TP_STR_SIZE - 1;

			/* a longer value is invalid anyway: keep it invalid */
			memcpy(f->tp[f->ntp], nv->value, n);
			f->tp[f->ntp][n] = '\0';
			if (nv->valuelen > n)
				f->tp[f->ntp][0] = '!';
		}
		f->ntp++;
	} else if (name_is(nv, "tracestate")) {
		if (f->ts_len + nv->valuelen + 2 > sizeof(f->ts)) {
			f->ts_cut = true;
			return;
		}
		if (f->ts_len)
			f->ts[f->ts_len++] = ',';
		memcpy(f->ts + f->ts_len, nv->value, nv->valuelen);
		f->ts_len += nv->valuelen;
		f->ts[f->ts_len] = '\0';
	} else if (name_is(nv, "content-type")) {
		f->grpc = nv->valuelen >= 16 && !memcmp(nv->value, "application/grpc", 16) &&
			  (nv->valuelen == 16 || nv->value[16] == '+' || nv->value[16] == ';');
	} else if (name_is(nv, ":path")) {
		f->path_len = nv->valuelen;
		memcpy(f->path, nv->value, nv->valuelen < WEFT_PATH_MAX ? nv->valuelen : WEFT_PATH_MAX);
	} else if (name_is(nv, ":method")) {
		f->method_len = nv->valuelen;
		memcpy(f->method, nv->value,
		       nv->valuelen < WEFT_METHOD_MAX ? nv->valuelen : WEFT_METHOD_MAX);
	} else if (name_is(nv, ":status")) {
		f->status = nv->valuelen == 3 ? decimal(nv, 3) : -1;
	} else if (name_is(nv, "grpc-status")) {
		f->grpc_status = decimal(nv, 5);
	}
}

/*
 * Decode one whole header block with inf; 0, or -1 when it does not decode
 * (the fields emitted before the failure are in f).
 */
static int inflate_block(nghttp2_hd_inflater *inf, const uint8_t *in, size_t len,
			 struct h2s_fields *f)
{
	for (;;) {
		nghttp2_nv nv;
		int fl = 0;
		ssize_t r = nghttp2_hd_inflate_hd2(inf, &nv, &fl, in, len, 1);

		if (r < 0)
			return -1;
		in += r;
		len -= (size_t)r;
		if (fl & NGHTTP2_HD_INFLATE_EMIT)
			field(f, &nv);
		if (fl & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(inf);
			return 0;
		}
		if (!(fl & NGHTTP2_HD_INFLATE_EMIT) && len == 0)
			return -1;
	}
}

/* Append n bytes to buf; false when it would pass H2S_BLOCK_LIMIT or memory is out. */
static bool bytes_add(struct h2s_bytes *buf, const uint8_t *p, size_t n)
{
	if (buf->n + n > H2S_BLOCK_LIMIT)
		return false;
	if (buf->n + n > buf->cap) {
		size_t cap = buf->cap ? buf->cap : 4096;
		uint8_t *np;

		while (cap < buf->n + n)
			cap *= 2;
		np = realloc(buf->p, cap);
		if (!np)
			return false;
		buf->p = np;
		buf->cap = cap;
	}
	memcpy(buf->p + buf->n, p, n);
	buf->n += n;
	return true;
}

/*
 * The header block fragment of a HEADERS (PUSH_PROMISE) frame's payload f of
 * fn bytes: without padding and priority (after the promised stream).
 */
static bool fragment_of(const uint8_t *f, size_t fn, uint8_t type, uint8_t flags,
			const uint8_t **p, size_t *n)
{
	size_t pad = 0, off = type == H2F_PUSH_PROMISE ? 4 : 0;

	if (flags & H2F_PADDED) {
		if (fn < 1)
			return false;
		pad = f[0];
		off++;
	}
	if (type == H2F_HEADERS && (flags & H2F_PRIORITY))
		off += 5;
	if (off + pad > fn)
		return false;
	*p = f + off;
	*n = fn - off - pad;
	return true;
}

static struct h2s_stream *stream_find(struct h2s_conn *c, uint32_t sid)
{
	for (size_t i = 0; i < c->nst; i++)
		if (c->st[i].sid == sid)
			return &c->st[i];
	return NULL;
}

static void stream_drop(struct h2s_conn *c, struct h2s_stream *s)
{
	*s = c->st[--c->nst];
}

static void span_start(struct weft_h2s *h, struct h2s_conn *c, const struct weft_h2s_block *b,
		       struct h2s_fields *f)
{
	const char *tpv[2] = { f->tp[0], f->tp[1] }, *ts_out = NULL;
	struct weft_trace_ctx parent;
	struct weft_span_event *ev;
	char ts[WEFT_TS_STR_SIZE];
	struct h2s_stream *s;
	int tl;

	if (c->out_lost) {
		h->unended++;
		return;
	}
	if (c->nst == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		struct h2s_stream *n;

		if (cap > H2S_PENDING_MAX) {
			/* a stream reset without END_STREAM never ends: the oldest goes */
			stream_drop(c, &c->st[0]);
			h->unended++;
		} else if ((n = realloc(c->st, cap * sizeof(*n)))) {
			c->st = n;
			c->cap = cap;
		} else {
			return;
		}
	}
	s = &c->st[c->nst++];
	memset(s, 0, sizeof(*s));
	s->sid = b->h.sid;
	ev = &s->ev;
	ev->kind = WEFT_KIND_SERVER;
	ev->injector = WEFT_INJ_HTTP;
	ev->proto = f->grpc ? WEFT_PROTO_GRPC : WEFT_PROTO_HTTP2;
	ev->pid = b->h.tgid;
	ev->tid = b->h.tid;
	ev->start_ns = b->h.ts;
	ev->local = b->local;
	ev->peer = b->peer;
	if (weft_tp_accept(tpv, f->ntp < 2 ? f->ntp : 2, f->ts_cut ? NULL : f->ts, &parent,
			   &ev->ctx, &ts_out) == WEFT_TP_VALID) {
		ev->parent_src = WEFT_PARENT_HEADER;
		memcpy(ev->parent_span_id, parent.span_id, WEFT_SPAN_ID_LEN);
		if (ts_out && f->ts_len && (tl = weft_ts_parse(f->ts, f->ts_len, ts)) > 0) {
			memcpy(ev->tracestate, ts, (size_t)tl);
			ev->tracestate_len = (uint16_t)tl;
		}
	}
	ev->method_len = (uint8_t)(f->method_len < WEFT_METHOD_MAX ? f->method_len
								   : WEFT_METHOD_MAX);
	memcpy(ev->method, f->method, ev->method_len);
	ev->path_len = (uint16_t)(f->path_len < WEFT_PATH_MAX ? f->path_len : WEFT_PATH_MAX);
	memcpy(ev->path, f->path, ev->path_len);
	if (f->method_len > WEFT_METHOD_MAX)
		ev->truncated |= WEFT_TRUNC_METHOD;
	if (f->path_len > WEFT_PATH_MAX)
		ev->truncated |= WEFT_TRUNC_PATH;
}

/* A span's end: exported with what the server's blocks said. */
static void span_end(struct weft_h2s *h, struct h2s_conn *c, struct h2s_stream *s, uint64_t ts)
{
	s->ev.end_ns = ts;
	if (s->ev.proto == WEFT_PROTO_GRPC && !(s->ev.flags & WEFT_SPAN_RPC_STATUS))
		h->no_status++;
	if (!(s->ev.flags & WEFT_SPAN_RPC_STATUS) && (s->ev.flags & WEFT_SPAN_HTTP_STATUS)) {
		/* no gRPC status: status is the HTTP one (the exporter's HTTP rules) */
		s->ev.status = s->ev.http_status;
		s->ev.flags &= (uint8_t)~WEFT_SPAN_HTTP_STATUS;
		s->ev.http_status = 0;
	}
	if (!weft_exporter_submit(h->exp, &s->ev))
		h->spans++;
	stream_drop(c, s);
}

/*
 * The server's block that ends them was missed: streams whose END_STREAM
 * HEADERS were written end without what the block said (but stream keep, 0:
 * none, whose block begins with the piece at hand).
 */
static void end_ending(struct weft_h2s *h, struct h2s_conn *c, uint32_t keep)
{
	for (size_t i = 0; i < c->nst;)
		if (c->st[i].ending && c->st[i].sid != keep)
			span_end(h, c, &c->st[i], c->st[i].ev.end_ns);	/* moves the last to i */
		else
			i++;
}

/*
 * A direction's table can no longer be trusted; the block being joined is
 * dropped (keep: a stream whose block begins with the piece at hand, or 0).
 */
static void lose_table_but(struct weft_h2s *h, struct h2s_conn *c, struct h2s_hpack *d,
			   uint32_t keep)
{
	if (d->in_blk || d->frame.n) {
		if (d == &c->out)
			h->out_undecoded++;
		else
			h->undecoded++;
	}
	d->unsure = true;
	d->in_blk = false;
	d->frame.n = d->blk.n = 0;
	if (d == &c->out)
		end_ending(h, c, keep);
}

static void lose_table(struct weft_h2s *h, struct h2s_conn *c, struct h2s_hpack *d)
{
	lose_table_but(h, c, d, 0);
}

/*
 * Decode the block joined in d; 0, or -1 when it did not decode wholly (then
 * f holds the fields before the failure, each certain). An uncertain table
 * is not used: an empty one decodes the block, so a reference to an earlier
 * block's entry fails.
 */
static int decode(struct h2s_hpack *d, struct h2s_fields *f, bool *unsure)
{
	nghttp2_hd_inflater *tmp = NULL;
	int r = -1;

	*unsure = d->unsure || !d->inf;
	if (!*unsure) {
		r = inflate_block(d->inf, d->bp, d->bn, f);
		if (r)
			d->unsure = true;	/* the inflater's state is unknown now */
	} else if (!nghttp2_hd_inflate_new(&tmp)) {
		r = inflate_block(tmp, d->bp, d->bn, f);
		nghttp2_hd_inflate_del(tmp);
	}
	return r;
}

/* A whole request header block: decode, start the span. */
static void on_request_block(struct weft_h2s *h, struct h2s_conn *c)
{
	const struct weft_h2s_block *b = &c->in.first;
	struct h2s_fields f = { .status = -1, .grpc_status = -1 };
	bool unsure;

	if (decode(&c->in, &f, &unsure)) {
		h->undecoded++;
		if (unsure)
			h->unsure++;
		return;
	}
	if (b->h.type != H2F_HEADERS || stream_find(c, b->h.sid))
		return;	/* trailers of a request: its span is open already */
	span_start(h, c, b, &f);
}

/*
 * A whole block the server wrote: its :status and grpc-status go to the
 * stream's span, which ends here when the block's HEADERS carried END_STREAM.
 */
static void on_response_block(struct weft_h2s *h, struct h2s_conn *c)
{
	const struct weft_h2s_block *b = &c->out.first;
	struct h2s_fields f = { .status = -1, .grpc_status = -1 };
	struct h2s_stream *s;
	bool unsure;

	if (decode(&c->out, &f, &unsure)) {
		h->out_undecoded++;
		if (unsure)
			h->out_unsure++;
	}
	if (b->h.type != H2F_HEADERS || !(s = stream_find(c, b->h.sid)))
		return;	/* a promise (its block only keeps the table), or no span */
	if (f.status >= 0) {
		s->ev.http_status = (uint16_t)f.status;
		s->ev.flags |= WEFT_SPAN_HTTP_STATUS;
	}
	/* grpc-status: in the trailers, or the one block of a Trailers-Only response */
	if (f.grpc_status >= 0 && s->ev.proto == WEFT_PROTO_GRPC &&
	    (b->h.flags & H2F_END_STREAM)) {
		s->ev.status = (uint16_t)f.grpc_status;
		s->ev.flags |= WEFT_SPAN_RPC_STATUS;
	}
	if (s->ending || (b->h.flags & H2F_END_STREAM))
		span_end(h, c, s, s->ending ? s->ev.end_ns : b->h.ts);
}

/*
 * A whole HEADERS, PUSH_PROMISE or CONTINUATION frame's payload f of fn
 * bytes (in d->frame, or the piece it came in whole).
 */
static void on_frame(struct weft_h2s *h, struct h2s_conn *c, struct h2s_hpack *d,
		     const struct weft_h2s_event *e, const uint8_t *f, size_t fn)
{
	const uint8_t *p = f;
	size_t n = fn;

	if (e->type == H2F_HEADERS || e->type == H2F_PUSH_PROMISE) {
		if (d->in_blk || !fragment_of(f, fn, e->type, e->flags, &p, &n)) {
			lose_table(h, c, d);
			return;
		}
		d->blk.n = 0;
		d->in_blk = true;
	} else if (!d->in_blk || e->sid != d->first.h.sid) {
		/* CONTINUATION: only right after its stream's HEADERS */
		lose_table(h, c, d);
		return;
	}
	d->frame.n = 0;
	if ((e->flags & H2F_END_HEADERS) && !d->blk.n) {
		/* a block in one frame: decoded where it is, not copied */
		d->bp = p;
		d->bn = n;
	} else if (n && !bytes_add(&d->blk, p, n)) {
		lose_table(h, c, d);
		return;
	} else {
		d->bp = d->blk.p;
		d->bn = d->blk.n;
	}
	if (e->flags & H2F_END_HEADERS) {
		d->in_blk = false;
		if (d == &c->out)
			on_response_block(h, c);
		else
			on_request_block(h, c);
	}
}

static void on_piece(struct weft_h2s *h, const struct weft_h2s_block *b, bool out)
{
	struct h2s_conn *c = conn_get(h, &b->h, false);
	struct h2s_hpack *d;
	bool first;

	if (!c)
		return;
	d = out ? &c->out : &c->in;
	first = b->h.off == 0 && (b->h.type == H2F_HEADERS || b->h.type == H2F_PUSH_PROMISE);
	if (b->h.seq != d->seq) {
		/* pieces missed (no room in the ring buffer): whole blocks may be gone */
		d->seq = b->h.seq;
		lose_table_but(h, c, d, first ? b->h.sid : 0);
	}
	d->seq++;
	if (b->h.len > WEFT_H2S_PIECE_MAX || b->h.off != d->frame.n ||
	    b->h.off + b->h.len > b->h.frame_len) {
		lose_table(h, c, d);	/* a piece missed: never on a followed connection */
		return;
	}
	if (first) {
		d->first.h = b->h;
		d->first.local = b->local;
		d->first.peer = b->peer;
	}
	if (b->h.len == b->h.frame_len) {
		/* the whole frame in one piece (off is 0): read where it is */
		on_frame(h, c, d, &b->h, b->block, b->h.len);
		return;
	}
	if (b->h.len && !bytes_add(&d->frame, b->block, b->h.len)) {
		lose_table(h, c, d);
		return;
	}
	if (d->frame.n == b->h.frame_len)
		on_frame(h, c, d, &b->h, d->frame.p, d->frame.n);
}

static void on_end(struct weft_h2s *h, const struct weft_h2s_event *e)
{
	struct h2s_conn *c = conn_get(h, e, false);
	struct h2s_stream *s = c ? stream_find(c, e->sid) : NULL;

	if (!s)
		return;
	if (e->type == H2F_HEADERS) {
		/* trailers, or a Trailers-Only response: their block comes next */
		s->ending = true;
		s->ev.end_ns = e->ts;
		return;
	}
	span_end(h, c, s, e->ts);
}

int weft_h2s_event(void *ctx, void *data, size_t len)
{
	struct weft_h2s *h = ctx;
	const struct weft_h2s_event *e = data;
	struct h2s_conn *c;

	if (len < sizeof(*e))
		return 0;
	switch (e->kind) {
	case WEFT_H2S_OPEN:
		conn_get(h, e, true);
		break;
	case WEFT_H2S_PIECE:
	case WEFT_H2S_PIECE_OUT:
		/* a piece comes at its own size: the header, then len bytes */
		if (e->len <= WEFT_H2S_PIECE_MAX &&
		    len >= offsetof(struct weft_h2s_block, block) + e->len)
			on_piece(h, data, e->kind == WEFT_H2S_PIECE_OUT);
		break;
	case WEFT_H2S_END:
		on_end(h, e);
		break;
	case WEFT_H2S_LOST_IN:
		h->lost++;
		c = conn_get(h, e, false);
		if (c)
			lose_table(h, c, &c->in);
		break;
	case WEFT_H2S_LOST_OUT:
		c = conn_get(h, e, false);
		if (c) {
			lose_table(h, c, &c->out);	/* ends the streams whose trailers were cut */
			h->unended += c->nst;
			c->nst = 0;
			c->out_lost = true;
		}
		break;
	}
	return 0;
}

void weft_h2s_free(struct weft_h2s *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < H2S_BUCKETS; i++) {
		struct h2s_conn *c = h->b[i], *next;

		for (; c; c = next) {
			next = c->next;
			conn_reset(h, c);
			free(c->st);
			free(c->in.frame.p);
			free(c->in.blk.p);
			free(c->out.frame.p);
			free(c->out.blk.p);
			free(c);
		}
	}
	if (h->spans || h->lost || h->undecoded || h->unended || h->out_undecoded)
		weft_info("HTTP/2 server streams: %llu SERVER spans, %llu connections whose "
			  "reads could not be followed, %llu header blocks not decoded (%llu of "
			  "them on a connection whose table was uncertain), %llu never ended; "
			  "the servers' own header blocks: %llu not wholly decoded (%llu of them "
			  "on an uncertain table), %llu gRPC spans without grpc-status",
			  (unsigned long long)h->spans, (unsigned long long)h->lost,
			  (unsigned long long)h->undecoded, (unsigned long long)h->unsure,
			  (unsigned long long)h->unended, (unsigned long long)h->out_undecoded,
			  (unsigned long long)h->out_unsure, (unsigned long long)h->no_status);
	free(h);
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * weft-http: SERVER spans of cleartext HTTP/2 servers (docs/weft-http.md,
 * "Cleartext HTTP/2 and gRPC"). bpf/net/http2_srv.bpf.h hands over, in the
 * order the server process read and wrote them, the payload pieces of request
 * HEADERS and CONTINUATION frames, each END_STREAM the server wrote, and what
 * it could not follow; the pieces are joined into header blocks here.
 *
 * Each connection has its own HPACK inflater (libnghttp2: static table,
 * Huffman, the dynamic table fed by every block of the connection in order).
 * Once a block of the connection was missed, or a block did not decode, the
 * table is uncertain: from then on a block is decoded with an empty table of
 * its own, so a field that refers to an earlier block's entry fails the
 * decode and the stream gets no span (counted); only fields that are literal
 * or in the static table are read.
 *
 * A span starts at the read of the request's HEADERS frame, continues its
 * traceparent (and tracestate) when it has exactly one valid traceparent, and
 * ends at the server's END_STREAM on the stream. gRPC (content-type
 * application/grpc...) spans are named by :path; the exporter splits it into
 * rpc.service and rpc.method. The grpc-status trailer is not read.
 */
#include <stdbool.h>
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
	struct weft_span_event ev;
};

struct h2s_conn {
	struct h2s_conn *next;
	uint64_t conn;
	uint32_t tgid;
	int32_t fd;
	nghttp2_hd_inflater *inf;
	bool unsure;		/* a block was missed or failed: the table is not trusted */
	bool out_lost;		/* the server's writes are not followed: spans cannot end */
	struct h2s_stream *st;
	size_t nst, cap;
	struct h2s_bytes frame;		/* the current HEADERS/CONTINUATION frame's payload */
	struct h2s_bytes blk;		/* the header block being joined */
	bool in_blk;			/* a HEADERS frame without END_HEADERS was read */
	struct weft_h2s_block first;	/* the block's first piece (block[] unused) */
};

struct weft_h2s {
	struct weft_exporter *exp;
	struct h2s_conn *b[H2S_BUCKETS];
	uint64_t spans, lost, unsure, undecoded, unended;
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

static void conn_reset(struct weft_h2s *h, struct h2s_conn *c)
{
	h->unended += c->nst;
	c->nst = 0;
	c->frame.n = c->blk.n = 0;
	c->in_blk = false;
	if (c->inf)
		nghttp2_hd_inflate_del(c->inf);
	c->inf = NULL;
	c->unsure = c->out_lost = false;
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
	if (nghttp2_hd_inflate_new(&c->inf)) {
		c->inf = NULL;
		c->unsure = true;
	} else {
		nghttp2_hd_inflate_change_table_size(c->inf, H2S_TABLE_MAX);
	}
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
};

static bool name_is(const nghttp2_nv *nv, const char *s)
{
	size_t n = strlen(s);

	return nv->namelen == n && !memcmp(nv->name, s, n);
}

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
	}
}

/* Decode one whole header block with inf; 0, or -1 when it does not decode. */
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

/* The header block fragment of a HEADERS frame's payload: without padding and priority. */
static bool fragment_of(const struct h2s_bytes *f, uint8_t flags, const uint8_t **p, size_t *n)
{
	size_t pad = 0, off = 0;

	if (flags & H2F_PADDED) {
		if (f->n < 1)
			return false;
		pad = f->p[0];
		off = 1;
	}
	if (flags & H2F_PRIORITY)
		off += 5;
	if (off + pad > f->n)
		return false;
	*p = f->p + off;
	*n = f->n - off - pad;
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

/* The table can no longer be trusted; the block being joined is dropped. */
static void lose_table(struct weft_h2s *h, struct h2s_conn *c)
{
	if (c->in_blk || c->frame.n)
		h->undecoded++;
	c->unsure = true;
	c->in_blk = false;
	c->frame.n = c->blk.n = 0;
}

/* A whole header block, its first piece in c->first: decode, start the span. */
static void on_block(struct weft_h2s *h, struct h2s_conn *c)
{
	const struct weft_h2s_block *b = &c->first;
	struct h2s_fields f = { 0 };
	nghttp2_hd_inflater *tmp = NULL;
	int r = -1;

	if (!c->unsure && c->inf) {
		r = inflate_block(c->inf, c->blk.p, c->blk.n, &f);
		if (r)
			c->unsure = true;	/* the inflater's state is unknown now */
	} else if (!nghttp2_hd_inflate_new(&tmp)) {
		/* an empty table: only literal and static fields decode */
		r = inflate_block(tmp, c->blk.p, c->blk.n, &f);
		nghttp2_hd_inflate_del(tmp);
		if (r)
			h->unsure++;
	}
	if (r) {
		h->undecoded++;
		return;
	}
	if (b->h.type != H2F_HEADERS || stream_find(c, b->h.sid))
		return;	/* trailers of a request: its span is open already */
	span_start(h, c, b, &f);
}

/* A whole HEADERS or CONTINUATION frame's payload is in c->frame. */
static void on_frame(struct weft_h2s *h, struct h2s_conn *c, const struct weft_h2s_event *e)
{
	const uint8_t *p;
	size_t n;

	if (e->type == H2F_HEADERS) {
		if (c->in_blk || !fragment_of(&c->frame, e->flags, &p, &n)) {
			lose_table(h, c);
			return;
		}
		c->blk.n = 0;
		c->in_blk = true;
	} else {
		/* CONTINUATION: only right after its stream's HEADERS */
		if (!c->in_blk || e->sid != c->first.h.sid) {
			lose_table(h, c);
			return;
		}
		p = c->frame.p;
		n = c->frame.n;
	}
	if (n && !bytes_add(&c->blk, p, n)) {
		lose_table(h, c);
		return;
	}
	c->frame.n = 0;
	if (e->flags & H2F_END_HEADERS) {
		c->in_blk = false;
		on_block(h, c);
	}
}

static void on_piece(struct weft_h2s *h, const struct weft_h2s_block *b)
{
	struct h2s_conn *c = conn_get(h, &b->h, false);

	if (!c)
		return;
	if (b->h.len > WEFT_H2S_PIECE_MAX || b->h.off != c->frame.n ||
	    b->h.off + b->h.len > b->h.frame_len) {
		lose_table(h, c);	/* a piece missed: never on a followed connection */
		return;
	}
	if (b->h.off == 0 && b->h.type == H2F_HEADERS) {
		c->first.h = b->h;
		c->first.local = b->local;
		c->first.peer = b->peer;
	}
	if (b->h.len && !bytes_add(&c->frame, b->block, b->h.len)) {
		lose_table(h, c);
		return;
	}
	if (c->frame.n == b->h.frame_len)
		on_frame(h, c, &b->h);
}

static void on_end(struct weft_h2s *h, const struct weft_h2s_event *e)
{
	struct h2s_conn *c = conn_get(h, e, false);
	struct h2s_stream *s = c ? stream_find(c, e->sid) : NULL;

	if (!s)
		return;
	s->ev.end_ns = e->ts;
	if (!weft_exporter_submit(h->exp, &s->ev))
		h->spans++;
	stream_drop(c, s);
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
		if (len >= sizeof(struct weft_h2s_block))
			on_piece(h, data);
		break;
	case WEFT_H2S_END:
		on_end(h, e);
		break;
	case WEFT_H2S_LOST_IN:
		h->lost++;
		c = conn_get(h, e, false);
		if (c)
			lose_table(h, c);
		break;
	case WEFT_H2S_LOST_OUT:
		c = conn_get(h, e, false);
		if (c) {
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
			free(c->frame.p);
			free(c->blk.p);
			free(c);
		}
	}
	if (h->spans || h->lost || h->undecoded || h->unended)
		weft_info("HTTP/2 server streams: %llu SERVER spans, %llu connections whose "
			  "reads could not be followed, %llu header blocks not decoded (%llu of "
			  "them on a connection whose table was uncertain), %llu never ended",
			  (unsigned long long)h->spans, (unsigned long long)h->lost,
			  (unsigned long long)h->undecoded, (unsigned long long)h->unsure,
			  (unsigned long long)h->unended);
	free(h);
}

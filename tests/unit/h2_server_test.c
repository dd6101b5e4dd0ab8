// SPDX-License-Identifier: BSD-2-Clause
/*
 * injectors/net/h2_server.c fed events by hand (tests/unit/h2_server.test):
 * request blocks made by one libnghttp2 deflater (the client's), response
 * blocks by another (the server's), spans caught at weft_exporter_submit.
 *   - stream 1: response headers, then trailers with grpc-status 0 (entered
 *     into the server's dynamic table): status 0, :status 200;
 *   - stream 3: the same fields by dynamic-table index: still read;
 *   - stream 5: its END_STREAM HEADERS written, but its blocks missed (a gap
 *     in the piece numbers; one entered "grpc-status: 5" into the table): the
 *     span ends without a status;
 *   - stream 7: a Trailers-Only response whose grpc-status 5 is that missed
 *     entry, by index: not read (the table is uncertain), where the old table
 *     would say 0; :status (static table) still read;
 *   - stream 9: trailers with grpc-status 13 as a literal without indexing:
 *     read on the uncertain table, and :status (static table) before the
 *     first field that refers to the table.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nghttp2/nghttp2.h>

#include "exporter.h"
#include "bpf/include/weft_span.h"
#include "bpf/net/weft_http.h"
#include "injectors/net/h2_server.h"

#define MAXSPANS 16

static struct weft_span_event got[MAXSPANS];
static int ngot, failures;

/* The exporter, replaced: spans are kept for the checks. */
int weft_exporter_submit(struct weft_exporter *e, const struct weft_span_event *ev)
{
	(void)e;
	if (ngot < MAXSPANS)
		got[ngot++] = *ev;
	return 0;
}

#define CHECK(c, ...)                                                                      \
	do {                                                                               \
		if (!(c)) {                                                                \
			failures++;                                                        \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);                        \
			printf(__VA_ARGS__);                                               \
			printf("\n");                                                      \
		}                                                                          \
	} while (0)

static void base(struct weft_h2s_event *e, uint8_t kind, uint32_t sid)
{
	memset(e, 0, sizeof(*e));
	e->conn = 7;
	e->tgid = 100;
	e->tid = 101;
	e->fd = 5;
	e->sid = sid;
	e->kind = kind;
}

static void event(struct weft_h2s *h, uint8_t kind, uint32_t sid, uint8_t type, uint64_t ts)
{
	struct weft_h2s_event e;

	base(&e, kind, sid);
	e.type = type;
	e.ts = ts;
	weft_h2s_event(h, &e, sizeof(e));
}

/* One whole frame's payload as one piece, at its own size like the BPF side sends it. */
static void piece(struct weft_h2s *h, bool out, uint32_t seq, uint32_t sid, uint8_t flags,
		  const uint8_t *p, size_t n, uint64_t ts)
{
	static struct weft_h2s_block b;

	base(&b.h, out ? WEFT_H2S_PIECE_OUT : WEFT_H2S_PIECE, sid);
	b.h.ts = ts;
	b.h.seq = seq;
	b.h.len = b.h.frame_len = (uint32_t)n;
	b.h.type = 0x1;	/* HEADERS */
	b.h.flags = flags;
	memcpy(b.block, p, n);
	weft_h2s_event(h, &b, offsetof(struct weft_h2s_block, block) + n);
}

static size_t deflate(nghttp2_hd_deflater *d, uint8_t *out, size_t cap, const char *const *kv,
		      size_t n)
{
	nghttp2_nv nv[8];
	ssize_t r;

	for (size_t i = 0; i < n; i++)
		nv[i] = (nghttp2_nv){ (uint8_t *)kv[2 * i], (uint8_t *)kv[2 * i + 1],
				      strlen(kv[2 * i]), strlen(kv[2 * i + 1]), 0 };
	r = nghttp2_hd_deflate_hd(d, out, cap, nv, n);
	if (r < 0) {
		printf("FAIL: nghttp2_hd_deflate_hd: %s\n", nghttp2_strerror((int)r));
		exit(1);
	}
	return (size_t)r;
}

static const char *const REQ[] = { ":method", "POST", ":scheme", "http", ":path",
				   "/weft.test.Echo/Say", "content-type", "application/grpc" };
static const char *const HDRS[] = { ":status", "200", "content-type", "application/grpc" };
static const char *const OK[] = { "grpc-status", "0" };
static const char *const NOT_FOUND[] = { "grpc-status", "5" };
static const char *const ONLY_5[] = { ":status", "200", "grpc-status", "5" };

static const struct weft_span_event *span_of(uint64_t end)
{
	for (int i = 0; i < ngot; i++)
		if (got[i].end_ns == end)
			return &got[i];
	return NULL;
}

int main(void)
{
	struct weft_h2s *h = weft_h2s_new(NULL);
	nghttp2_hd_deflater *cli, *srv;
	uint8_t buf[512];
	/* literal without indexing, new name (RFC 7541 6.2.2): grpc-status: 13 */
	static const uint8_t lit13[] = { 0x00, 11,  'g', 'r', 'p', 'c', '-', 's',
					 't',  'a', 't', 'u', 's', 2,   '1', '3' };
	const struct weft_span_event *s;
	uint32_t in = 0, out = 0;
	size_t n;

	if (!h || nghttp2_hd_deflate_new(&cli, 4096) || nghttp2_hd_deflate_new(&srv, 4096)) {
		printf("FAIL: out of memory\n");
		return 1;
	}
	event(h, WEFT_H2S_OPEN, 0, 0, 1);
	for (uint32_t sid = 1; sid <= 9; sid += 2) {
		uint64_t t = sid * 1000;

		n = deflate(cli, buf, sizeof(buf), REQ, 4);
		piece(h, false, in++, sid, 0x4 | 0x1, buf, n, t);
		switch (sid) {
		case 1:
		case 3:
			n = deflate(srv, buf, sizeof(buf), HDRS, 2);
			piece(h, true, out++, sid, 0x4, buf, n, t + 1);
			event(h, WEFT_H2S_END, sid, 0x1, t + 2);
			n = deflate(srv, buf, sizeof(buf), OK, 1);
			piece(h, true, out++, sid, 0x4 | 0x1, buf, n, t + 2);
			break;
		case 5:
			/* written, never seen: the pieces' numbers go on */
			deflate(srv, buf, sizeof(buf), HDRS, 2);
			out++;
			event(h, WEFT_H2S_END, sid, 0x1, t + 2);
			deflate(srv, buf, sizeof(buf), NOT_FOUND, 1);
			out++;
			break;
		case 7:
			event(h, WEFT_H2S_END, sid, 0x1, t + 2);
			n = deflate(srv, buf, sizeof(buf), ONLY_5, 2);
			piece(h, true, out++, sid, 0x4 | 0x1, buf, n, t + 2);
			break;
		case 9:
			n = deflate(srv, buf, sizeof(buf), HDRS, 2);
			piece(h, true, out++, sid, 0x4, buf, n, t + 1);
			event(h, WEFT_H2S_END, sid, 0x1, t + 2);
			piece(h, true, out++, sid, 0x4 | 0x1, lit13, sizeof(lit13), t + 2);
			break;
		}
	}
	CHECK(ngot == 5, "%d spans, not 5", ngot);
	for (uint32_t sid = 1; sid <= 9; sid += 2) {
		s = span_of(sid * 1000 + 2);
		CHECK(s, "stream %u: no span ending at its END_STREAM", sid);
		if (!s)
			continue;
		CHECK(s->kind == WEFT_KIND_SERVER && s->proto == WEFT_PROTO_GRPC &&
			      s->start_ns == sid * 1000,
		      "stream %u: not a gRPC SERVER span from its request", sid);
		switch (sid) {
		case 1:
		case 3:
			CHECK((s->flags & WEFT_SPAN_RPC_STATUS) && s->status == 0,
			      "stream %u: grpc-status 0 not read (flags %#x status %u)", sid,
			      s->flags, s->status);
			CHECK((s->flags & WEFT_SPAN_HTTP_STATUS) && s->http_status == 200,
			      "stream %u: :status 200 not read", sid);
			break;
		case 5:
			CHECK(!(s->flags & (WEFT_SPAN_RPC_STATUS | WEFT_SPAN_HTTP_STATUS)) &&
				      s->status == 0,
			      "stream 5: blocks missed, yet a status (flags %#x status %u)",
			      s->flags, s->status);
			break;
		case 7:
			CHECK(!(s->flags & WEFT_SPAN_RPC_STATUS),
			      "stream 7: grpc-status read through an uncertain table (%u)",
			      s->status);
			CHECK(s->status == 200 && !(s->flags & WEFT_SPAN_HTTP_STATUS),
			      "stream 7: :status 200 (static table) not read as the HTTP status");
			break;
		case 9:
			CHECK((s->flags & WEFT_SPAN_RPC_STATUS) && s->status == 13 &&
				      (s->flags & WEFT_SPAN_HTTP_STATUS) && s->http_status == 200,
			      "stream 9: literal grpc-status 13 or :status not read (flags %#x "
			      "status %u)",
			      s->flags, s->status);
			break;
		}
	}
	nghttp2_hd_deflate_del(cli);
	nghttp2_hd_deflate_del(srv);
	weft_h2s_free(h);
	if (failures) {
		printf("%d checks failed\n", failures);
		return 1;
	}
	printf("ok: h2_server: statuses read from the server's blocks, by index while the table "
	       "is certain, never through an uncertain one\n");
	return 0;
}

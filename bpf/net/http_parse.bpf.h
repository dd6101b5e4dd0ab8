/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * BPF-side HTTP/1.x recognisers, shared by weft-http (socket data, syscall
 * buffers) and weft-tcpopt (SSL_read/SSL_write plaintext).
 *
 * Callers copy the bytes to inspect into a scratch buffer of WEFT_SCRATCH_SZ
 * bytes (a per-CPU array value; see struct weft_scratch) and then call:
 *
 *   weft_http_method_prefix(buf, len)  1 when buf starts like a request of a
 *                                      known method ("GET ", "POST ", ...), or
 *                                      could still become one (len too short);
 *                                      0 when it can never be one.
 *   weft_http_status(buf, len)         the status code of a status line
 *                                      "HTTP/1.x NNN" at buf, or 0.
 *   weft_http_parse_block(s, buf, len)
 *                                      fast path (bpf_loop only): parse a
 *                                      header block complete in buf[0, len)
 *                                      a line at a time; same results in s.
 *   weft_http_scan_run(s, buf, off, len)
 *                                      feed len bytes at buf[off] to the
 *                                      resumable header-block scanner s; returns
 *                                      WEFT_SCAN_MORE (needs more bytes),
 *                                      WEFT_SCAN_DONE (s->hdr_end set) or
 *                                      WEFT_SCAN_BAD (not an HTTP/1.x request).
 *   weft_http_parse_block_g(s, sc, len), weft_http_scan_run_g(s, sc, off, len)
 *                                      the same as global functions, for a
 *                                      buffer that is a whole struct weft_scratch:
 *                                      verified once per program instead of at
 *                                      each call site with their bpf_loop
 *                                      callbacks (weft_http_msg: 700k -> 265k
 *                                      instructions processed); a frame of their
 *                                      own, so only where the combined stack
 *                                      allows (not the read exits' parse_block:
 *                                      528 of 512 bytes).
 *
 * The scanner is a byte-at-a-time state machine whose whole state lives in
 * struct weft_http_scan, so a request line or header block may arrive split
 * anywhere (one byte per write, across read() calls): keep the struct in a map
 * and feed each new piece. It records the request line (method, target,
 * HTTP/1.0 or 1.1), the end of the request line and of the header block,
 * Content-Length, Transfer-Encoding: chunked, and the traceparent header
 * (name in any letter case, value with surrounding spaces/tabs trimmed, how
 * many were seen). Validate the value with weft_http_scan_tp() (version 00,
 * exactly one header; anything else is treated as absent/invalid).
 *
 * Loop strategy: bpf_loop (kernel >= 5.17) when the includer's
 * `weft_have_bpf_loop` is true (a const volatile the loader sets after
 * libbpf_probe_bpf_helper); else bounded loops (the verifier prunes the dead
 * branch, so the object still loads on kernels without bpf_loop): the fast
 * block parser then takes up to WEFT_LINES_FALLBACK header lines, the byte
 * scanner only WEFT_SCAN_FALLBACK bytes per call (its state machine is too
 * costly to verify unrolled further). Prefer weft_http_parse_block. The includer must define
 *   const volatile bool weft_have_bpf_loop;
 * before including this file.
 *
 * Over 600 lines on purpose: one parser. The byte scanner and the fast block
 * parser fill the same struct weft_http_scan by the same rules and must stay
 * in step; tests/unit/http_parse_test.c compiles this file whole for the
 * host and checks both paths against each other.
 */
#ifndef WEFT_HTTP_PARSE_BPF_H
#define WEFT_HTTP_PARSE_BPF_H

#include "weft_span.h"
#include "weft_link.h"

#define WEFT_SCRATCH_SZ		8192	/* power of two: indexes are masked */
#define WEFT_SCRATCH_MASK	(WEFT_SCRATCH_SZ - 1)
#define WEFT_HDR_MAX		8192	/* give up on header blocks longer than this */
#define WEFT_SCAN_FALLBACK	32	/* bytes per call without bpf_loop (verifier cost) */

struct weft_scratch {
	char buf[WEFT_SCRATCH_SZ + 64];	/* + slack so masked reads stay in bounds */
};

enum weft_scan_ret {
	WEFT_SCAN_MORE = 0,
	WEFT_SCAN_DONE = 1,
	WEFT_SCAN_BAD = -1,
};

enum weft_scan_state {
	WEFT_HS_METHOD = 0,	/* request line: method token */
	WEFT_HS_TARGET,		/* request line: request target */
	WEFT_HS_VERSION,	/* request line: HTTP/1.x */
	WEFT_HS_NAME,		/* header field name */
	WEFT_HS_VALUE,		/* value of a header we care about */
	WEFT_HS_SKIP,		/* rest of a line we ignore */
	WEFT_HS_DONE,
	WEFT_HS_BAD,
};

/* Header fields the scanner records (bits of cand / values of field). */
#define WEFT_HF_TRACEPARENT	0x01
#define WEFT_HF_CONTENT_LENGTH	0x02
#define WEFT_HF_TRANSFER_ENC	0x04
#define WEFT_HF_ALL		0x07

#define WEFT_TE_ENDED		0x40	/* te_match: space after the element's characters */
#define WEFT_TE_OTHER		0xff	/* te_match: the element is not "chunked" */

struct weft_http_scan {
	__u32 pos;		/* bytes of this request consumed so far */
	__u32 line_start;	/* offset of the current line */
	__u32 reqline_end;	/* offset just past the request line's LF; 0 until seen */
	__u32 hdr_end;		/* offset just past the empty line's LF; 0 until seen */
	__u64 content_length;
	__u8 state;		/* enum weft_scan_state */
	__u8 field;		/* WEFT_HF_* whose value is being read */
	__u8 cand;		/* header names still matching the current line */
	__u8 tp_count;		/* traceparent header lines seen */
	__u8 tp_len;		/* value bytes kept (56 = too long) */
	__u8 chunked;		/* Transfer-Encoding contains "chunked" */
	__u8 cl_seen;
	__u8 te_match;		/* the current Transfer-Encoding element: chars of "chunked"
				 * matched, | WEFT_TE_ENDED after trailing space, WEFT_TE_OTHER */
	__u8 method_len;
	__u8 path_len;
	__u8 ver_len;
	__u8 truncated;		/* WEFT_TRUNC_PATH when the target was cut */
	__u8 line_nonempty;	/* current line has a byte other than CR */
	__u8 te_seen;		/* a Transfer-Encoding header was seen */
	__u8 bad_framing;	/* body length unreliable (RFC 9112 6.3): see weft_http_scan_framing */
	__u8 tp_gap;		/* a blank after traceparent value bytes */
	char ver[8];
	char tp[64];		/* first 55 value bytes (index masked with 63) */
	char method[WEFT_METHOD_MAX];
	char path[WEFT_PATH_MAX];
	/* last: the fields above keep their (8-byte aligned) offsets */
	__u8 fast;		/* read by weft_http_parse_block: ts_lines is exact */
	__u8 ts_lines;		/* tracestate header lines (counted when fast) */
};

/*
 * Character idx of the header names we look for, as switch-free lookups in
 * 64-bit constants (no .rodata tables: they upset BTF of merged objects).
 */
static __always_inline char weft_str_at(const char *lit, __u32 len, __u32 idx)
{
	char c = 0;

#pragma unroll
	for (__u32 i = 0; i < 20; i++)
		if (i < len && i == idx)
			c = lit[i];
	return c;
}

/* Keep clang from dropping a bounds mask the verifier needs. */
#define weft_barrier_var(v) asm volatile("" : "+r"(v))

static __always_inline __u32 weft_mask(__u32 v, __u32 m)
{
	weft_barrier_var(v);
	return v & m;
}

static __always_inline char weft_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static __always_inline void weft_http_scan_init(struct weft_http_scan *s)
{
	__builtin_memset(s, 0, sizeof(*s));
}

static __always_inline __u8 weft_hn_step(__u8 cand, __u32 idx, char c)
{
	char l = weft_lower(c);

	if ((cand & WEFT_HF_TRACEPARENT) && (idx >= 11 || weft_str_at("traceparent", 11, idx) != l))
		cand &= ~WEFT_HF_TRACEPARENT;
	if ((cand & WEFT_HF_CONTENT_LENGTH) && (idx >= 14 || weft_str_at("content-length", 14, idx) != l))
		cand &= ~WEFT_HF_CONTENT_LENGTH;
	if ((cand & WEFT_HF_TRANSFER_ENC) && (idx >= 17 || weft_str_at("transfer-encoding", 17, idx) != l))
		cand &= ~WEFT_HF_TRANSFER_ENC;
	return cand;
}

static __always_inline __u8 weft_hn_complete(__u8 cand, __u32 len)
{
	if ((cand & WEFT_HF_TRACEPARENT) && len == 11)
		return WEFT_HF_TRACEPARENT;
	if ((cand & WEFT_HF_CONTENT_LENGTH) && len == 14)
		return WEFT_HF_CONTENT_LENGTH;
	if ((cand & WEFT_HF_TRANSFER_ENC) && len == 17)
		return WEFT_HF_TRANSFER_ENC;
	return 0;
}

/* End of a line (at its LF). Returns WEFT_SCAN_DONE at the empty line. */
static __always_inline int weft_http_scan_eol(struct weft_http_scan *s)
{
	if (s->state == WEFT_HS_VERSION) {
		/* "HTTP/1.0" or "HTTP/1.1" */
		if (s->ver_len != 8 || s->ver[0] != 'H' || s->ver[1] != 'T' || s->ver[2] != 'T' ||
		    s->ver[3] != 'P' || s->ver[4] != '/' || s->ver[5] != '1' || s->ver[6] != '.' ||
		    (s->ver[7] != '0' && s->ver[7] != '1')) {
			s->state = WEFT_HS_BAD;
			return WEFT_SCAN_BAD;
		}
		s->reqline_end = s->pos + 1;
	} else if (s->state == WEFT_HS_METHOD || s->state == WEFT_HS_TARGET) {
		s->state = WEFT_HS_BAD;
		return WEFT_SCAN_BAD;
	} else if (!s->line_nonempty) {
		s->hdr_end = s->pos + 1;
		s->state = WEFT_HS_DONE;
		return WEFT_SCAN_DONE;
	} else if (s->state == WEFT_HS_VALUE && s->field == WEFT_HF_CONTENT_LENGTH) {
		if (s->content_length == ~0ULL)
			s->bad_framing = 1;	/* empty value */
	} else if (s->state == WEFT_HS_VALUE && s->field == WEFT_HF_TRANSFER_ENC) {
		/* only the last coding of the last Transfer-Encoding line counts */
		s->chunked = (s->te_match & ~WEFT_TE_ENDED) == 7 && s->te_match != WEFT_TE_OTHER;
	}
	s->state = WEFT_HS_NAME;
	s->cand = WEFT_HF_ALL;
	s->field = 0;
	s->line_nonempty = 0;
	s->line_start = s->pos + 1;
	return WEFT_SCAN_MORE;
}

/* Feed one byte. */
static __always_inline int weft_http_scan_byte(struct weft_http_scan *s, char c)
{
	int ret = WEFT_SCAN_MORE;

	if (s->state >= WEFT_HS_DONE)
		return s->state == WEFT_HS_DONE ? WEFT_SCAN_DONE : WEFT_SCAN_BAD;
	if (c == '\n') {
		ret = weft_http_scan_eol(s);
		s->pos++;
		return ret;
	}
	if (c != '\r')
		s->line_nonempty = 1;
	switch (s->state) {
	case WEFT_HS_METHOD:
		if (c == ' ' && s->method_len > 0) {
			s->state = WEFT_HS_TARGET;
		} else if (((c >= 'A' && c <= 'Z') || c == '-' || c == '_') &&
			   s->method_len < WEFT_METHOD_MAX - 1) {
			s->method[weft_mask(s->method_len, WEFT_METHOD_MAX - 1)] = c;
			s->method_len++;
		} else {
			s->state = WEFT_HS_BAD;
			ret = WEFT_SCAN_BAD;
		}
		break;
	case WEFT_HS_TARGET:
		if (c == ' ' && s->path_len > 0) {
			s->state = WEFT_HS_VERSION;
		} else if (c <= ' ' || c == 0x7f) {
			s->state = WEFT_HS_BAD;
			ret = WEFT_SCAN_BAD;
		} else if (s->path_len < WEFT_PATH_MAX) {
			s->path[weft_mask(s->path_len, WEFT_PATH_MAX - 1)] = c;
			s->path_len++;
		} else {
			s->truncated |= WEFT_TRUNC_PATH;
		}
		break;
	case WEFT_HS_VERSION:
		if (c == '\r')
			break;
		if (s->ver_len < 8)
			s->ver[weft_mask(s->ver_len, 7)] = c;
		if (s->ver_len < 9)
			s->ver_len++;
		break;
	case WEFT_HS_NAME: {
		__u32 idx = s->pos - s->line_start;

		if (idx == 0 && (c == ' ' || c == '\t'))
			s->bad_framing = 1;	/* obs-fold: a continued header line */
		if (c == ':') {
			s->field = weft_hn_complete(s->cand, idx);
			if (s->field == WEFT_HF_TRACEPARENT) {
				s->tp_len = 0;
				s->tp_gap = 0;
				if (s->tp_count < 255)
					s->tp_count++;
			} else if (s->field == WEFT_HF_CONTENT_LENGTH) {
				if (s->cl_seen)
					s->bad_framing = 1;	/* a second Content-Length */
				s->content_length = ~0ULL;	/* until a digit */
				s->cl_seen = 1;
			} else if (s->field == WEFT_HF_TRANSFER_ENC) {
				s->te_match = 0;
				s->te_seen = 1;
			}
			s->state = s->field ? WEFT_HS_VALUE : WEFT_HS_SKIP;
			break;
		}
		s->cand = weft_hn_step(s->cand, idx, c);
		if (!s->cand)
			s->state = WEFT_HS_SKIP;
		break;
	}
	case WEFT_HS_VALUE:
		if (c == ' ' || c == '\t' || c == '\r') {
			if (s->field == WEFT_HF_TRANSFER_ENC && s->te_match && s->te_match < 8)
				s->te_match |= WEFT_TE_ENDED;
			/* blanks are trimmed around a traceparent value, not inside */
			if (s->field == WEFT_HF_TRACEPARENT && s->tp_len)
				s->tp_gap = 1;
			break;
		}
		if (s->field == WEFT_HF_TRACEPARENT) {
			if (s->tp_gap)
				s->tp_len = WEFT_TRACEPARENT_LEN + 1;	/* invalid, as too long */
			else if (s->tp_len < WEFT_TRACEPARENT_LEN)
				s->tp[weft_mask(s->tp_len, 63)] = c;
			if (s->tp_len <= WEFT_TRACEPARENT_LEN)
				s->tp_len++;
		} else if (s->field == WEFT_HF_CONTENT_LENGTH) {
			__u64 cl = s->content_length == ~0ULL ? 0 : s->content_length;

			if (c >= '0' && c <= '9' && cl < (1ULL << 40) && !s->bad_framing)
				s->content_length = cl * 10 + (c - '0');
			else
				s->bad_framing = 1;	/* invalid, a list, or too large */
		} else if (s->field == WEFT_HF_TRANSFER_ENC) {
			if (c == ',')
				s->te_match = 0;	/* the next coding */
			else if (s->te_match < 7 &&
				 weft_str_at("chunked", 7, s->te_match) == weft_lower(c))
				s->te_match++;
			else
				s->te_match = WEFT_TE_OTHER;
		}
		break;
	default:
		break;
	}
	s->pos++;
	if (ret == WEFT_SCAN_MORE && s->pos >= WEFT_HDR_MAX) {
		s->state = WEFT_HS_BAD;
		ret = WEFT_SCAN_BAD;
	}
	return ret;
}

struct weft_scan_loop_ctx {
	struct weft_http_scan *s;
	const char *buf;
	__u32 off;
	int ret;
};

static long weft_scan_loop_cb(__u32 i, void *data)
{
	struct weft_scan_loop_ctx *lc = data;
	char c = lc->buf[(lc->off + i) & WEFT_SCRATCH_MASK];

	lc->ret = weft_http_scan_byte(lc->s, c);
	return lc->ret == WEFT_SCAN_MORE ? 0 : 1;
}

/*
 * Feed len bytes at buf[off] (buf: a scratch buffer of WEFT_SCRATCH_SZ + 64
 * bytes). Stops at the end of the header block. Without bpf_loop, at most
 * WEFT_SCAN_FALLBACK bytes are fed per call (the rest is reported as BAD so
 * the caller passes the data through unchanged).
 */
static __always_inline int weft_http_scan_run(struct weft_http_scan *s, const char *buf,
					      __u32 off, __u32 len)
{
	struct weft_scan_loop_ctx lc = { .s = s, .buf = buf, .off = off, .ret = WEFT_SCAN_MORE };

	if (len > WEFT_SCRATCH_SZ)
		len = WEFT_SCRATCH_SZ;
	if (weft_have_bpf_loop) {
		bpf_loop(len, weft_scan_loop_cb, &lc, 0);
		return lc.ret;
	}
	for (__u32 i = 0; i < WEFT_SCAN_FALLBACK; i++) {
		if (i >= len)
			return lc.ret;
		lc.ret = weft_http_scan_byte(s, buf[(off + i) & WEFT_SCRATCH_MASK]);
		if (lc.ret != WEFT_SCAN_MORE)
			return lc.ret;
	}
	return len > WEFT_SCAN_FALLBACK ? WEFT_SCAN_BAD : lc.ret;
}

/*
 * The traceparent the scanner found, validated: 0 and ctx filled when exactly
 * one traceparent header carried a valid version-00 value (or a higher
 * version whose 00 fields parse; the scanner keeps only the first 55 bytes).
 */
static __always_inline int weft_http_scan_tp(const struct weft_http_scan *s,
					     struct weft_trace_ctx *ctx)
{
	if (s->tp_count != 1 || s->tp_len < WEFT_TRACEPARENT_LEN)
		return -1;
	if (s->tp_len > WEFT_TRACEPARENT_LEN)
		return -1;	/* higher versions with extra fields: not parsed in BPF */
	if (s->tp[0] != '0' || s->tp[1] != '0')
		return -1;
	return weft_tp_parse55(s->tp, ctx);
}

/*
 * Whether the request's body length is known for sure (RFC 9112 section 6.3):
 * 0 when it has no body, a single valid Content-Length, or Transfer-Encoding
 * whose last coding is chunked (HTTP/1.1, no Content-Length); -1 otherwise (two
 * Content-Length lines or a list, an invalid one, Content-Length with
 * Transfer-Encoding, a last coding other than chunked, Transfer-Encoding in
 * HTTP/1.0, an obs-fold line): a reader may frame it differently from us.
 */
static __always_inline int weft_http_scan_framing(const struct weft_http_scan *s)
{
	if (s->bad_framing || (s->cl_seen && s->content_length == ~0ULL))
		return -1;
	if (s->te_seen && (s->cl_seen || !s->chunked || s->ver[7] != '1'))
		return -1;
	return 0;
}

/*
 * Fast path: parse a header block that is complete in buf[0, len) line by
 * line, skipping 8 bytes at a time to each LF, instead of byte by byte. Same
 * results in *s as the byte scanner (s initialised by the caller). Returns
 * WEFT_SCAN_DONE, WEFT_SCAN_MORE (block incomplete: feed the bytes to the
 * byte scanner, or wait for more) or WEFT_SCAN_BAD (not HTTP/1.x, or a line
 * over WEFT_LINE_MAX bytes, or more than WEFT_LINES_MAX lines).
 * With bpf_loop up to WEFT_LINES_MAX lines, without it WEFT_LINES_FALLBACK.
 * buf must be the buf of a struct weft_scratch.
 */
#define WEFT_LINE_WORDS		512	/* lines up to 4 KB */
#define WEFT_LINES_MAX		128
#define WEFT_LINES_FALLBACK	32	/* header lines without bpf_loop */

static __always_inline __u64 weft_load8(const char *buf, __u32 off)
{
	__u64 v;

	__builtin_memcpy(&v, buf + (off & WEFT_SCRATCH_MASK), 8);
	return v;
}

/*
 * Offset of the first LF in buf[off, end), -1 if none, -2 if the line is too
 * long. Word at a time: the lowest 0x80 bit of the "has zero byte" mask marks
 * the first LF; its byte index comes from a multiply (no ctz in BPF).
 */
WEFT_GLOBAL_FN int weft_find_lf(struct weft_scratch *sc, __u32 off, __u32 end)
{
	const char *buf;

	if (!sc)
		return -1;
	buf = sc->buf;
	for (__u32 i = 0; i < WEFT_LINE_WORDS; i++) {
		__u64 v, t, m;
		__u32 k;

		if (off >= end)
			return -1;
		v = weft_load8(buf, off);
		t = v ^ 0x0a0a0a0a0a0a0a0aULL;
		m = (t - 0x0101010101010101ULL) & ~t & 0x8080808080808080ULL;
		if (m) {
			k = (((m & -m) >> 7) * 0x0001020304050607ULL) >> 56;
			return off + k < end ? (int)(off + k) : -1;
		}
		off += 8;
	}
	return -2;
}

/* Case-insensitive compare of buf[off, off+n) with lowercase lit. */
static __always_inline bool weft_name_is(const char *buf, __u32 off, const char *lit, __u32 n)
{
#pragma unroll
	for (__u32 i = 0; i < 20; i++) {
		if (i >= n)
			break;
		if (weft_lower(buf[(off + i) & WEFT_SCRATCH_MASK]) != lit[i])
			return false;
	}
	return true;
}

static __always_inline __u32 weft_skip_ows(const char *buf, __u32 off, __u32 end)
{
#pragma unroll
	for (__u32 i = 0; i < 8; i++) {
		char c = buf[off & WEFT_SCRATCH_MASK];

		if (off >= end || (c != ' ' && c != '\t'))
			break;
		off++;
	}
	return off;
}

/* end moved back over up to 8 spaces/tabs, not below lo. */
static __always_inline __u32 weft_rskip_ows(const char *buf, __u32 lo, __u32 end)
{
#pragma unroll
	for (int i = 0; i < 8; i++) {
		char c = buf[(end - 1) & WEFT_SCRATCH_MASK];

		if (end <= lo || (c != ' ' && c != '\t'))
			break;
		end--;
	}
	return end;
}

/*
 * One header line [p, lf]: record the fields we care about. A global
 * function, so the verifier checks it once rather than in every context.
 */
WEFT_GLOBAL_FN int weft_fast_field(struct weft_http_scan *s, struct weft_scratch *sc, __u32 p,
				   __u32 lf)
{
	__u32 vend = lf, v;
	const char *buf;
	char c0;

	if (!s || !sc)
		return 0;
	buf = sc->buf;
	c0 = weft_lower(buf[p & WEFT_SCRATCH_MASK]);

	if (vend > p && buf[(vend - 1) & WEFT_SCRATCH_MASK] == '\r')
		vend--;
	vend = weft_rskip_ows(buf, p, vend);	/* trailing OWS */
	if (c0 == 't' && vend >= p + 12 && weft_name_is(buf, p, "traceparent:", 12)) {
		v = weft_skip_ows(buf, p + 12, vend);
		if (s->tp_count < 255)
			s->tp_count++;
		if (vend - v != WEFT_TRACEPARENT_LEN) {
			s->tp_len = WEFT_TRACEPARENT_LEN + 1;
			return 0;
		}
		for (__u32 i = 0; i < WEFT_TRACEPARENT_LEN; i++)
			s->tp[i] = buf[(v + i) & WEFT_SCRATCH_MASK];
		s->tp_len = WEFT_TRACEPARENT_LEN;
	} else if (c0 == 't' && vend >= p + 11 && weft_name_is(buf, p, "tracestate:", 11)) {
		if (s->ts_lines < 255)
			s->ts_lines++;
	} else if (c0 == 'c' && vend >= p + 15 && weft_name_is(buf, p, "content-length:", 15)) {
		__u64 cl = 0;

		v = weft_skip_ows(buf, p + 15, vend);
		if (s->cl_seen)
			s->bad_framing = 1;	/* a second Content-Length */
		s->cl_seen = 1;
		if (v >= vend || vend - v > 15) {
			s->content_length = ~0ULL;
			return 0;
		}
		for (__u32 i = 0; i < 15; i++) {
			char c = buf[(v + i) & WEFT_SCRATCH_MASK];

			if (v + i >= vend)
				break;
			if (c < '0' || c > '9') {
				cl = ~0ULL;
				break;
			}
			cl = cl * 10 + (c - '0');
		}
		s->content_length = cl;
	} else if (c0 == 't' && vend >= p + 18 && weft_name_is(buf, p, "transfer-encoding:", 18)) {
		/* the last coding of the last line counts: chunked, alone or after a comma */
		v = weft_skip_ows(buf, p + 18, vend);
		s->te_seen = 1;
		s->chunked = 0;
		if (vend >= v + 7 && weft_name_is(buf, vend - 7, "chunked", 7)) {
			__u32 q = weft_rskip_ows(buf, v, vend - 7);

			s->chunked = q == v || buf[(q - 1) & WEFT_SCRATCH_MASK] == ',';
		}
	}
	return 0;
}

struct weft_fast_ctx {
	struct weft_http_scan *s;
	const char *buf;
	__u32 pos;
	__u32 len;
	int ret;
};

static long weft_fast_line(__u32 i, struct weft_fast_ctx *fc)
{
	__u32 p = fc->pos;
	char c0;
	int lf;

	if (p >= fc->len) {
		fc->ret = WEFT_SCAN_MORE;
		return 1;
	}
	c0 = fc->buf[p & WEFT_SCRATCH_MASK];
	if (c0 == ' ' || c0 == '\t')
		fc->s->bad_framing = 1;	/* obs-fold: a continued header line */
	if (c0 == '\n' || c0 == '\r') {
		if (c0 == '\r') {
			if (p + 1 >= fc->len) {
				fc->ret = WEFT_SCAN_MORE;
				return 1;
			}
			if (fc->buf[(p + 1) & WEFT_SCRATCH_MASK] != '\n') {
				fc->ret = WEFT_SCAN_BAD;
				return 1;
			}
			p++;
		}
		fc->s->hdr_end = p + 1;
		fc->s->pos = p + 1;
		fc->s->state = WEFT_HS_DONE;
		fc->ret = WEFT_SCAN_DONE;
		return 1;
	}
	lf = weft_find_lf((struct weft_scratch *)fc->buf, p, fc->len);
	if (lf < 0) {
		fc->ret = lf == -1 ? WEFT_SCAN_MORE : WEFT_SCAN_BAD;
		return 1;
	}
	weft_fast_field(fc->s, (struct weft_scratch *)fc->buf, p, lf);
	fc->pos = lf + 1;
	return 0;
}

/* bpf_loop's callback; the bounded-loop fallback calls weft_fast_line itself. */
static long weft_fast_line_cb(__u32 i, void *data)
{
	return weft_fast_line(i, data);
}

static __always_inline int weft_http_parse_block(struct weft_http_scan *s, const char *buf,
						 __u32 len)
{
	struct weft_fast_ctx fc = { .s = s, .buf = buf, .ret = WEFT_SCAN_BAD };
	__u32 m = 0, vend, tstart;
	int lf;

	if (len > WEFT_SCRATCH_SZ)
		len = WEFT_SCRATCH_SZ;
	s->fast = 1;
	lf = weft_find_lf((struct weft_scratch *)buf, 0, len);
	if (lf < 0)
		return lf == -1 ? WEFT_SCAN_MORE : WEFT_SCAN_BAD;
	/* method */
#pragma unroll
	for (__u32 i = 0; i < WEFT_METHOD_MAX; i++) {
		char c = buf[i];

		if (c == ' ')
			break;
		if (!((c >= 'A' && c <= 'Z') || c == '-' || c == '_') || i == WEFT_METHOD_MAX - 1)
			return WEFT_SCAN_BAD;
		s->method[i] = c;
		m++;
	}
	if (!m)
		return WEFT_SCAN_BAD;
	s->method_len = m;
	/* version: the last 8 bytes of the line, after a space */
	vend = lf;
	if (vend > 0 && buf[(vend - 1) & WEFT_SCRATCH_MASK] == '\r')
		vend--;
	tstart = m + 1;
	if (vend < tstart + 1 + 9 || buf[(vend - 9) & WEFT_SCRATCH_MASK] != ' ' ||
	    !weft_name_is(buf, vend - 8, "http/1.", 7))
		return WEFT_SCAN_BAD;
	if (buf[(vend - 8) & WEFT_SCRATCH_MASK] != 'H' ||
	    (buf[(vend - 1) & WEFT_SCRATCH_MASK] != '0' && buf[(vend - 1) & WEFT_SCRATCH_MASK] != '1'))
		return WEFT_SCAN_BAD;
	/* target: [tstart, vend - 9) */
	for (__u32 i = 0; i < WEFT_PATH_MAX; i++) {
		char c;

		if (tstart + i >= vend - 9)
			break;
		c = buf[(tstart + i) & WEFT_SCRATCH_MASK];
		if (c <= ' ' || c == 0x7f)
			return WEFT_SCAN_BAD;
		s->path[i] = c;
		s->path_len = i + 1;
	}
	if (tstart + s->path_len < vend - 9)
		s->truncated |= WEFT_TRUNC_PATH;
#pragma unroll
	for (__u32 i = 0; i < 8; i++)
		s->ver[i] = buf[(vend - 8 + i) & WEFT_SCRATCH_MASK];
	s->ver_len = 8;
	s->reqline_end = lf + 1;
	fc.pos = lf + 1;
	fc.len = len;
	if (weft_have_bpf_loop) {
		bpf_loop(WEFT_LINES_MAX, weft_fast_line_cb, &fc, 0);
		return fc.ret;
	}
	/* no bpf_loop: a bounded loop (its body is two calls of global functions) */
	for (__u32 i = 0; i < WEFT_LINES_FALLBACK; i++)
		if (weft_fast_line(i, &fc))
			return fc.ret;
	return WEFT_SCAN_BAD;
}

/* Known request methods, for deciding early whether an outgoing stream is HTTP. */
static __always_inline int weft_prefix_is(const char *buf, __u32 len, const char *m, __u32 ml)
{
#pragma unroll
	for (__u32 i = 0; i < 8; i++) {
		if (i >= ml || i >= len)
			return 1;
		if (buf[i] != m[i])
			return 0;
	}
	return 1;
}

static __always_inline int weft_http_method_prefix(const char *buf, __u32 len)
{
	if (!len)
		return 1;
	switch (buf[0]) {
	case 'G':
		return weft_prefix_is(buf, len, "GET ", 4);
	case 'P':
		return weft_prefix_is(buf, len, "POST ", 5) || weft_prefix_is(buf, len, "PUT ", 4) ||
		       weft_prefix_is(buf, len, "PATCH ", 6);
	case 'H':
		return weft_prefix_is(buf, len, "HEAD ", 5);
	case 'D':
		return weft_prefix_is(buf, len, "DELETE ", 7);
	case 'O':
		return weft_prefix_is(buf, len, "OPTIONS ", 8);
	case 'C':
		return weft_prefix_is(buf, len, "CONNECT ", 8);
	case 'T':
		return weft_prefix_is(buf, len, "TRACE ", 6);
	default:
		return 0;
	}
}

/* Status code of "HTTP/1.x NNN" at buf, or 0. */
static __always_inline __u16 weft_http_status(const char *buf, __u32 len)
{
	if (len < 12 || buf[0] != 'H' || buf[1] != 'T' || buf[2] != 'T' || buf[3] != 'P' ||
	    buf[4] != '/' || buf[5] != '1' || buf[6] != '.' || buf[8] != ' ')
		return 0;
	if (buf[9] < '1' || buf[9] > '5' || buf[10] < '0' || buf[10] > '9' || buf[11] < '0' ||
	    buf[11] > '9')
		return 0;
	return (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
}

/*
 * The two scanners as global functions (WEFT_GLOBAL_FN): verified once per
 * program, not once per call site with their bpf_loop callbacks. sc is the
 * whole scratch buffer (its size is what the verifier checks at the call).
 */
WEFT_GLOBAL_FN int weft_http_scan_run_g(struct weft_http_scan *s, struct weft_scratch *sc,
					__u32 off, __u32 len)
{
	if (!s || !sc)
		return WEFT_SCAN_BAD;
	return weft_http_scan_run(s, sc->buf, off, len);
}

WEFT_GLOBAL_FN int weft_http_parse_block_g(struct weft_http_scan *s, struct weft_scratch *sc,
					   __u32 len)
{
	if (!s || !sc)
		return WEFT_SCAN_BAD;
	return weft_http_parse_block(s, sc->buf, len);
}

#endif /* WEFT_HTTP_PARSE_BPF_H */

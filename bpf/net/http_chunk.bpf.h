/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * weft-http, sk_msg: the resumable RFC 9112 chunked-body parser (states
 * enum chunk_state in http_shared.bpf.h). Included by http_insert.bpf.c
 * after drop_conn and set_apply.
 */
#ifndef WEFT_HTTP_CHUNK_BPF_H
#define WEFT_HTTP_CHUNK_BPF_H

static __always_inline int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The end of a chunk-size line: data follows, or the trailer section. */
static __always_inline int chunk_line_done(struct conn_state *st)
{
	st->ck_line = 0;
	if (st->ck_size) {
		st->ck = CK_DATA_CR;
		return CK_DATA;
	}
	st->ck = CK_TR_START;
	return CK_MORE;
}

/* One byte of a chunked body (a global function: verified once). */
__attribute__((noinline)) int weft_chunk_byte(struct conn_state *st, int c)
{
	int d;

	if (!st)
		return CK_BAD;
	st->ck_line++;
	switch (st->ck) {
	case CK_SIZE0:
	case CK_SIZE:
		d = hexval(c);
		if (d >= 0) {
			if (st->ck_size >= CK_SIZE_MAX / 16)
				return CK_BAD;
			st->ck_size = st->ck_size * 16 + d;
			st->ck = CK_SIZE;
		} else if (st->ck == CK_SIZE0) {
			return CK_BAD;
		} else if (c == ';') {
			st->ck = CK_EXT;
		} else if (c == ' ' || c == '\t') {
			st->ck = CK_BWS;
		} else if (c == '\r') {
			st->ck = CK_SIZE_LF;
		} else if (c == '\n') {
			return chunk_line_done(st);
		} else {
			return CK_BAD;
		}
		break;
	case CK_BWS:
		if (c == ';')
			st->ck = CK_EXT;
		else if (c == '\r')
			st->ck = CK_SIZE_LF;
		else if (c == '\n')
			return chunk_line_done(st);
		else if (c != ' ' && c != '\t')
			return CK_BAD;
		break;
	case CK_EXT:
		if (c == '\n')
			return chunk_line_done(st);
		if (c == '\r')
			st->ck = CK_SIZE_LF;
		else if ((c < ' ' && c != '\t') || c == 0x7f)
			return CK_BAD;
		break;
	case CK_SIZE_LF:
		if (c != '\n')
			return CK_BAD;
		return chunk_line_done(st);
	case CK_DATA_CR:
		if (c == '\r') {
			st->ck = CK_DATA_LF;
			break;
		}
		/* fall through: a bare LF ends the data too */
	case CK_DATA_LF:
		if (c != '\n')
			return CK_BAD;
		st->ck = CK_SIZE0;
		st->ck_size = 0;
		st->ck_line = 0;
		break;
	case CK_TR_START:
		if (c == '\r') {
			st->ck = CK_END_LF;
			break;
		}
		if (c == '\n')
			return CK_END;
		if (c == ' ' || c == '\t')
			return CK_BAD;	/* obs-fold */
		st->ck = CK_TR;
		break;
	case CK_TR:
		if (c == '\n')
			st->ck = CK_TR_START;
		else if (c == '\r')
			st->ck = CK_TR_LF;
		break;
	case CK_TR_LF:
		if (c != '\n')
			return CK_BAD;
		st->ck = CK_TR_START;
		break;
	case CK_END_LF:
		if (c != '\n')
			return CK_BAD;
		return CK_END;
	default:
		return CK_BAD;
	}
	if (st->ck_line > (st->ck >= CK_TR_START ? WEFT_HDR_MAX : CK_LINE_MAX))
		return CK_BAD;
	return CK_MORE;
}

struct chunk_loop {
	struct conn_state *st;
	const char *buf;
	__u32 used;	/* bytes consumed */
	int ret;
};

/* One byte of a chunked body; the bounded-loop fallback calls this directly. */
static __always_inline long chunk_step(__u32 i, struct chunk_loop *lc)
{
	lc->ret = weft_chunk_byte(lc->st, lc->buf[i & WEFT_SCRATCH_MASK]);
	lc->used = i + 1;
	return lc->ret != CK_MORE;
}

static long chunk_loop_cb(__u32 i, void *data)
{
	return chunk_step(i, data);
}

#define CK_FALLBACK 32	/* bytes per program run without bpf_loop */

/* In a chunked body, at buf[0, n) (the first n bytes of this message). */
static __always_inline int chunk_run(struct sk_msg_md *msg, struct conn_state *st,
				     const char *buf, __u32 n)
{
	struct chunk_loop lc = { .st = st, .buf = buf, .ret = CK_MORE };

	if (weft_have_bpf_loop) {
		bpf_loop(n, chunk_loop_cb, &lc, 0);
	} else {
		for (__u32 i = 0; i < CK_FALLBACK; i++) {
			if (i >= n || chunk_step(i, &lc))
				break;
		}
	}
	switch (lc.ret) {
	case CK_BAD:
		return drop_conn(msg, st, WH_BAD_FRAMING);
	case CK_DATA:
		/* the program next runs at the CRLF after the data */
		bpf_msg_apply_bytes(msg, lc.used + (__u32)st->ck_size);
		return SK_PASS;
	case CK_END:
		st->phase = PH_START;
		bpf_msg_apply_bytes(msg, lc.used);
		return SK_PASS;
	default:
		/* the line goes on: the rest of this message, or the next write */
		set_apply(msg, lc.used < msg->size ? lc.used : 0);
		return SK_PASS;
	}
}

#endif /* WEFT_HTTP_CHUNK_BPF_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * weft-http: the frame check that finds a certain boundary on an outgoing
 * HTTP/2 connection that existed before weft-http started (issue 18). Plain
 * C over a byte buffer, shared by sk_msg (http2_out.bpf.h, h2_pre_send) and
 * its unit test (tests/unit/h2_verify_test.c).
 *
 * One send passes when its bytes, from the first, are whole frames that end
 * exactly at the send's end, each a frame a client sends (RFC 9113 4.1, 6):
 *   - a known type other than PUSH_PROMISE (0-4, 6-9), reserved bit clear;
 *   - a length of at most 16384 (the smallest SETTINGS_MAX_FRAME_SIZE, which
 *     every peer accepts; weft does not know this connection's) and the exact
 *     or minimal length its type has (PRIORITY 5, RST_STREAM and
 *     WINDOW_UPDATE 4, PING 8, SETTINGS a multiple of 6 and 0 with ACK,
 *     GOAWAY at least 8, PADDED frames at least 1);
 *   - no flag its type does not define;
 *   - stream 0 exactly for SETTINGS, PING, GOAWAY; DATA, HEADERS and
 *     CONTINUATION on odd (client) streams; a HEADERS frame on a stream above
 *     every stream seen opens it (ids grow), one on a stream seen is trailers
 *     and carries END_STREAM; DATA not above the highest stream opened;
 *   - after a HEADERS frame without END_HEADERS only CONTINUATION frames of
 *     the same stream, and CONTINUATION nowhere else.
 * The state (highest stream, open header block) goes on from send to send.
 */
#ifndef WEFT_H2_VERIFY_H
#define WEFT_H2_VERIFY_H

#define H2V_FRAMES_MAX	64	/* frames walked in one send; more: not verified */
#define H2V_MAX_LEN	16384	/* RFC 9113 4.2: the frame size every peer accepts */
/*
 * Consecutive verified sends before the boundary is taken. A send that starts
 * at a frame boundary and passes ends at one, so the next starts at one: from
 * a true boundary every later send passes and N costs N - 1 sends. A send
 * that starts inside a frame passes only when its payload bytes happen to
 * read as a chain of valid headers whose lengths add up exactly to the send's
 * end; after such a send the next one starts inside a frame again (the true
 * frame did not end there) and must be such a coincidence too. Three in a row
 * multiply three of those small chances.
 */
#define H2V_SENDS	3

struct h2v_state {
	__u32 max_sid;	/* highest client stream opened by a HEADERS frame seen */
	__u32 cont_sid;	/* stream whose header block goes on in CONTINUATION; 0: none */
	__u8 ok;	/* consecutive sends verified (up to H2V_SENDS) */
	__u8 opened;	/* a send after the first of them opened a stream */
};

/*
 * One frame header (its fields; reserved: the stream id's top bit): its
 * payload length, or -1 when no client sends such a frame here.
 */
static inline int h2v_frame(struct h2v_state *s, __u32 len, __u8 type, __u8 flags, __u32 sid,
			    __u8 reserved)
{
	if (reserved || len > H2V_MAX_LEN)
		return -1;
	if (s->cont_sid) {
		if (type != 9 || sid != s->cont_sid || (flags & ~0x04))
			return -1;
		if (flags & 0x04)
			s->cont_sid = 0;
		return len;
	}
	switch (type) {
	case 0: /* DATA: END_STREAM, PADDED */
		if ((flags & ~0x09) || !(sid & 1) || (s->max_sid && sid > s->max_sid) ||
		    ((flags & 0x08) && len < 1))
			return -1;
		return len;
	case 1: /* HEADERS: END_STREAM, END_HEADERS, PADDED, PRIORITY */
		if ((flags & ~0x2d) || !(sid & 1) ||
		    len < ((flags & 0x08) ? 1u : 0u) + ((flags & 0x20) ? 5u : 0u))
			return -1;
		if (sid > s->max_sid)
			s->max_sid = sid;
		else if (!(flags & 0x01))
			return -1; /* a second block on a stream: trailers only */
		if (!(flags & 0x04))
			s->cont_sid = sid;
		return len;
	case 2: /* PRIORITY */
		return !flags && sid && len == 5 ? (int)len : -1;
	case 3: /* RST_STREAM */
		return !flags && sid && len == 4 ? (int)len : -1;
	case 4: /* SETTINGS: ACK */
		if (sid || (flags & ~0x01) || ((flags & 0x01) ? len != 0 : len % 6 != 0))
			return -1;
		return len;
	case 6: /* PING: ACK */
		return !sid && !(flags & ~0x01) && len == 8 ? (int)len : -1;
	case 7: /* GOAWAY */
		return !sid && !flags && len >= 8 ? (int)len : -1;
	case 8: /* WINDOW_UPDATE */
		return !flags && len == 4 ? (int)len : -1;
	default: /* PUSH_PROMISE (never from a client), CONTINUATION out of place, unknown */
		return -1;
	}
}

/* A walk over one send's frames (h2v_next, one frame a step). */
struct h2v_walk {
	struct h2v_state s;
	__u32 off;	/* the next frame header's offset in the send */
	__u32 size;	/* the send's bytes */
	__s32 res;	/* 0 going on, 1 whole frames to the end, -1 not */
};

/*
 * One step of walk w over b (indexed through mask: a power of two minus one,
 * at least size - 1): the frame at w->off. 1 when the walk is over (w->res),
 * else 0. Sk_msg runs it from a bpf_loop callback, so that the verifier sees
 * one step.
 */
static inline int h2v_next(struct h2v_walk *w, const __u8 *b, __u32 mask)
{
	__u32 off = w->off, len, sid;
	int r;

	if (off == w->size) {
		w->res = w->size ? 1 : -1;
		return 1;
	}
	if (off > w->size || w->size - off < 9) {
		w->res = -1;
		return 1;
	}
	len = (__u32)b[off & mask] << 16 | (__u32)b[(off + 1) & mask] << 8 | b[(off + 2) & mask];
	sid = (__u32)(b[(off + 5) & mask] & 0x7f) << 24 | (__u32)b[(off + 6) & mask] << 16 |
	      (__u32)b[(off + 7) & mask] << 8 | b[(off + 8) & mask];
	r = h2v_frame(&w->s, len, b[(off + 3) & mask], b[(off + 4) & mask], sid,
		      b[(off + 5) & mask] & 0x80);
	if (r < 0 || (__u32)r > w->size - off - 9) {
		w->res = -1;
		return 1;
	}
	w->off = off + 9 + (__u32)r;
	return 0;
}

/*
 * Do b[0, size) verify as whole frames from the first byte to the last, in
 * at most H2V_FRAMES_MAX frames? 0 and s updated, or -1 (s unchanged).
 */
static inline int h2v_send(struct h2v_state *s, const __u8 *b, __u32 mask, __u32 size)
{
	struct h2v_walk w = { .s = *s, .size = size };

	for (int i = 0; i < H2V_FRAMES_MAX; i++)
		if (h2v_next(&w, b, mask))
			break;
	if (w.res != 1)
		return -1;
	*s = w.s;
	return 0;
}

/*
 * One more send checked: verified (s updated by the walk; before: its
 * max_sid before the send) or not. 1 when the boundary is certain from the
 * next send on (H2V_SENDS verified in a row, no header block left open, and
 * a stream opened after the first of them, so that max_sid is the
 * connection's: stream ids only grow), else 0. A send that does not verify
 * starts the count over.
 */
static inline int h2v_done(struct h2v_state *s, __u32 before, int verified)
{
	if (!verified) {
		s->max_sid = s->cont_sid = 0;
		s->ok = s->opened = 0;
		return 0;
	}
	if (s->ok && s->max_sid > before)
		s->opened = 1;
	if (s->ok < H2V_SENDS)
		s->ok++;
	return s->ok >= H2V_SENDS && s->opened && !s->cont_sid;
}

/* h2v_send, then h2v_done: as sk_msg takes each send (tests). */
static inline int h2v_step(struct h2v_state *s, const __u8 *b, __u32 mask, __u32 size)
{
	__u32 before = s->max_sid;

	return h2v_done(s, before, !h2v_send(s, b, mask, size));
}

#endif /* WEFT_H2_VERIFY_H */

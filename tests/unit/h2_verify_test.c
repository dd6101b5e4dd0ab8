// SPDX-License-Identifier: BSD-2-Clause
/*
 * The boundary check of a pre-existing HTTP/2 client connection
 * (bpf/net/h2_verify.h, run by sk_msg) fed sends by hand
 * (tests/unit/h2_verify.test):
 *   - whole client frames ending at the send's end verify; one byte more or
 *     less, or a send that begins inside a frame, does not;
 *   - each frame rule (type, reserved bit, length, flags, stream ids,
 *     HEADERS/CONTINUATION order) refuses what breaks it;
 *   - a send that starts inside a DATA frame whose payload reads as valid
 *     frames ending exactly at the send's end verifies alone, but the next
 *     send then starts inside that DATA frame too and does not: no boundary;
 *     the boundary comes after H2V_SENDS aligned sends, one opening a stream.
 */
#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/net/h2_verify.h"

#define MASK 0xffff

static __u8 buf[MASK + 1];
static int failed;

/* Append a frame header and len payload bytes of fill to buf at *n. */
static void frame(__u32 *n, __u32 len, __u8 type, __u8 flags, __u32 sid, __u8 fill)
{
	__u8 *p = buf + *n;

	p[0] = len >> 16;
	p[1] = len >> 8;
	p[2] = len;
	p[3] = type;
	p[4] = flags;
	p[5] = sid >> 24;
	p[6] = sid >> 16;
	p[7] = sid >> 8;
	p[8] = sid;
	memset(p + 9, fill, len);
	*n += 9 + len;
}

static void expect(const char *what, int got, int want)
{
	if (got == want)
		return;
	fprintf(stderr, "FAIL %s: got %d, want %d\n", what, got, want);
	failed = 1;
}

/* One send b[0, n) with a fresh state (max_sid given): h2v_send's result. */
static int send_fresh(const __u8 *b, __u32 n, __u32 max_sid)
{
	struct h2v_state s = { .max_sid = max_sid };

	return h2v_send(&s, b, MASK, n);
}

/* One frame alone, fresh state (max_sid 5): 0 or -1. */
static int one(__u32 len, __u8 type, __u8 flags, __u32 sid)
{
	__u32 n = 0;

	frame(&n, len, type, flags, sid, 0);
	return send_fresh(buf, n, 5);
}

static void frame_rules(void)
{
	__u32 n = 0;

	expect("DATA on stream 1", one(10, 0, 0x01, 1), 0);
	expect("DATA on stream 0", one(10, 0, 0, 0), -1);
	expect("DATA on an even stream", one(10, 0, 0, 2), -1);
	expect("DATA above every stream opened", one(10, 0, 0, 7), -1);
	expect("DATA with an undefined flag", one(10, 0, 0x02, 1), -1);
	expect("DATA of 16385 bytes", one(16385, 0, 0, 1), -1);
	expect("DATA of 16384 bytes", one(16384, 0, 0, 1), 0);
	expect("HEADERS opening stream 7", one(20, 1, 0x04, 7), 0);
	expect("HEADERS again on stream 3 without END_STREAM", one(20, 1, 0x04, 3), -1);
	expect("trailers on stream 3", one(20, 1, 0x05, 3), 0);
	expect("HEADERS PRIORITY too short", one(4, 1, 0x24, 7), -1);
	expect("PRIORITY", one(5, 2, 0, 3), 0);
	expect("PRIORITY of 6 bytes", one(6, 2, 0, 3), -1);
	expect("RST_STREAM", one(4, 3, 0, 3), 0);
	expect("RST_STREAM on stream 0", one(4, 3, 0, 0), -1);
	expect("SETTINGS", one(12, 4, 0, 0), 0);
	expect("SETTINGS of 7 bytes", one(7, 4, 0, 0), -1);
	expect("SETTINGS ACK with a payload", one(6, 4, 0x01, 0), -1);
	expect("SETTINGS on stream 1", one(6, 4, 0, 1), -1);
	expect("PUSH_PROMISE from a client", one(8, 5, 0x04, 1), -1);
	expect("PING ACK", one(8, 6, 0x01, 0), 0);
	expect("PING of 9 bytes", one(9, 6, 0, 0), -1);
	expect("GOAWAY", one(8, 7, 0, 0), 0);
	expect("WINDOW_UPDATE on stream 0", one(4, 8, 0, 0), 0);
	expect("WINDOW_UPDATE with a flag", one(4, 8, 0x01, 0), -1);
	expect("CONTINUATION out of place", one(4, 9, 0x04, 5), -1);
	expect("an unknown type", one(4, 10, 0, 0), -1);
	frame(&n, 4, 8, 0, 0, 0);
	buf[5] |= 0x80;
	expect("reserved bit set", send_fresh(buf, n, 5), -1);

	/* HEADERS without END_HEADERS: only its CONTINUATION may follow */
	n = 0;
	frame(&n, 20, 1, 0, 9, 0);
	frame(&n, 10, 9, 0, 9, 0);
	frame(&n, 10, 9, 0x04, 9, 0);
	frame(&n, 4, 0, 0x01, 9, 0);
	expect("HEADERS, CONTINUATION, CONTINUATION with END_HEADERS, DATA", send_fresh(buf, n, 5), 0);
	n = 0;
	frame(&n, 20, 1, 0, 9, 0);
	frame(&n, 8, 6, 0, 0, 0);
	expect("a PING inside a header block", send_fresh(buf, n, 5), -1);
	n = 0;
	frame(&n, 20, 1, 0, 9, 0);
	frame(&n, 10, 9, 0x04, 11, 0);
	expect("CONTINUATION of another stream", send_fresh(buf, n, 5), -1);
}

static void send_ends(void)
{
	__u32 n = 0;

	frame(&n, 0, 4, 0x01, 0, 0);		/* SETTINGS ACK */
	frame(&n, 30, 1, 0x04, 1, 0x41);	/* HEADERS, stream 1 */
	frame(&n, 12, 0, 0x01, 1, 0x00);	/* DATA, END_STREAM */
	expect("whole frames", send_fresh(buf, n, 0), 0);
	expect("one byte short", send_fresh(buf, n - 1, 0), -1);
	buf[n] = 0;
	expect("one byte more", send_fresh(buf, n + 1, 0), -1);
	expect("empty send", send_fresh(buf, 0, 0), -1);
	/* the same bytes from inside the HEADERS frame: 0x41 0x41 0x41 is a 4 MiB length */
	expect("starting inside a HEADERS payload", send_fresh(buf + 9 + 5, n - 14, 0), -1);
}

/*
 * The stream as the client sent it: a DATA frame (stream 1) of 200 bytes,
 * written in two sends, then aligned sends (one request each). Its payload
 * from byte 100 to 200 reads as a PING frame and a WINDOW_UPDATE frame...
 * of which the send that starts at byte 100 ends exactly at 100 + 17 + 13.
 */
static void mid_frame(void)
{
	struct h2v_state s = {};
	__u32 n = 0, data, a_at, a_len, b_at, b_len, sends[4][2];
	int boundary;

	frame(&n, 200, 0, 0, 1, 0x0a);		/* protobuf-like bytes: length 0x0a0a0a */
	data = 9;
	n = data + 100;
	frame(&n, 8, 6, 0, 0, 0);		/* looks like PING */
	frame(&n, 4, 8, 0, 0, 0);		/* looks like WINDOW_UPDATE */
	a_at = data + 100;
	a_len = n - a_at;			/* send A: ends inside the DATA payload */
	b_at = n;
	n = data + 200;
	b_len = n - b_at;			/* send B: the DATA frame's last 70 bytes */
	for (int i = 0; i < 4; i++) {
		sends[i][0] = n;
		frame(&n, 40, 1, 0x04, 3 + 2 * i, 0x82);	/* HEADERS opening a stream */
		frame(&n, 12, 0, 0x01, 3 + 2 * i, 0x00);	/* DATA, END_STREAM */
		sends[i][1] = n - sends[i][0];
	}

	expect("send A (inside DATA, payload reads as frames) verifies alone",
	       send_fresh(buf + a_at, a_len, 0), 0);
	expect("send A: no boundary", h2v_step(&s, buf + a_at, MASK, a_len), 0);
	expect("send A counted", s.ok, 1);
	expect("send B (the rest of the DATA frame): refused", send_fresh(buf + b_at, b_len, 0), -1);
	expect("send B: no boundary", h2v_step(&s, buf + b_at, MASK, b_len), 0);
	expect("send B starts the count over", s.ok, 0);
	boundary = -1;
	for (int i = 0; i < 4 && boundary < 0; i++)
		if (h2v_step(&s, buf + sends[i][0], MASK, sends[i][1]))
			boundary = i;
	expect("boundary after the third aligned send", boundary, H2V_SENDS - 1);
	expect("max_sid is the last stream opened", (int)s.max_sid, 3 + 2 * (H2V_SENDS - 1));

	/* aligned sends that open no stream after the first: no boundary */
	memset(&s, 0, sizeof(s));
	n = 0;
	frame(&n, 8, 6, 0x01, 0, 0);
	for (int i = 0; i < 5; i++)
		expect("PING ACKs alone: no boundary", h2v_step(&s, buf, MASK, n), 0);
}

int main(void)
{
	frame_rules();
	send_ends();
	mid_frame();
	if (failed)
		return 1;
	printf("h2_verify: frame rules, send ends and a mid-frame start checked\n");
	return 0;
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The tracestate of an HTTP/1 request header block held in a scratch buffer
 * (struct weft_scratch, http_parse.bpf.h): its "tracestate:" lines (name in
 * any letter case), joined by ',' as one list, validated and normalised by
 * weft_tracestate.h. Shared by weft-http (bpf/net/http_observe.bpf.c) and
 * weft-go's SERVER spans from syscalls (bpf/go/go_sys.bpf.c). Needs
 * bpf_loop (one step per header line, one per value byte).
 *
 *   weft_http_ts_block(sc, st, start, end)  the header lines in
 *                         sc->buf[start, end) into st: weft_ts_end's answer
 *                         (0: st->out_len bytes in st->out, none when 0;
 *                         -1: invalid), after a second pass when the first
 *                         asks for one.
 */
#ifndef WEFT_HTTP_TS_BPF_H
#define WEFT_HTTP_TS_BPF_H

#include "net/http_parse.bpf.h"
#include "weft_tracestate.h"

struct weft_ts_lines {
	struct weft_scratch *sc;
	struct weft_ts_state *st;
	__u32 pos;
	__u32 end;
	__u32 lines; /* tracestate header lines seen */
	__u32 off;   /* the value being fed */
};

static long weft_ts_byte_cb(__u32 i, void *data)
{
	struct weft_ts_lines *lc = data;

	weft_ts_byte(lc->st, lc->sc->buf[(lc->off + i) & WEFT_SCRATCH_MASK]);
	return 0;
}

/* One header line: feed a tracestate value to the parser (lines joined by ','). */
static long weft_ts_line_cb(__u32 i, void *data)
{
	struct weft_ts_lines *lc = data;
	__u32 p = lc->pos, vend;
	int lf;

	if (p >= lc->end)
		return 1;
	lf = weft_find_lf(lc->sc, p, lc->end);
	if (lf < 0)
		return 1;
	lc->pos = lf + 1;
	vend = lf;
	if (vend > p && lc->sc->buf[(vend - 1) & WEFT_SCRATCH_MASK] == '\r')
		vend--;
	if (vend >= p + 11 && weft_name_is(lc->sc->buf, p, "tracestate:", 11)) {
		if (lc->lines++)
			weft_ts_byte(lc->st, ',');
		lc->off = p + 11;
		bpf_loop(vend - p - 11, weft_ts_byte_cb, lc, 0);
	}
	return 0;
}

static __always_inline int weft_http_ts_block(struct weft_scratch *sc, struct weft_ts_state *st,
					      __u32 start, __u32 end)
{
	struct weft_ts_lines lc = {.sc = sc, .st = st, .end = end};
	int r = 0;

	if (lc.end > WEFT_SCRATCH_SZ)
		lc.end = WEFT_SCRATCH_SZ;
	/* a second pass only when over 512 with members over 128 characters */
	for (int pass = 0; pass < 2; pass++) {
		weft_ts_init(st, pass);
		lc.pos = start;
		lc.lines = 0;
		bpf_loop(WEFT_LINES_MAX, weft_ts_line_cb, &lc, 0);
		r = weft_ts_end(st);
		if (r != 1)
			break;
	}
	return r;
}

#endif /* WEFT_HTTP_TS_BPF_H */

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft-go: trace context written into grpc-go's HEADERS frames (DESIGN.md
 * 3a), where bpf_probe_write_user is allowed.
 *
 * grpc-go's loopy writer encodes a stream's header block with its HPACK
 * encoder and hands it to x/net's Framer: WriteHeaders builds the whole frame
 * in f.wbuf (9-byte header with a zero length, then the block) and calls
 * (*Framer).endWrite, which computes the 24-bit length from len(f.wbuf) - 9,
 * stores it in the header and copies wbuf to the transport's writer. At
 * WriteHeaders' CALL of endWrite (the record's site: RAX the Framer, R14 the
 * goroutine, as at endWrite's entry, which is probed instead where the
 * record has no such site), in the loopy goroutine that parked the stream's context
 * at (*loopyWriter).writeHeader (go_grpc.bpf.c), this program appends one
 * HPACK literal header field without indexing (RFC 7541 6.2.2: 0x00, the
 * name, the value, no Huffman; neither side's dynamic table changes) for
 * traceparent, and one for the CLIENT span's tracestate when it has one,
 * after the block, and grows len(f.wbuf) by the bytes added: endWrite then
 * writes the frame's length itself, grown by exactly that.
 *
 * Written only when every check passes, else counted by reason: the frame in
 * wbuf is a HEADERS frame of the parked stream with END_HEADERS (a block
 * that goes on in CONTINUATION frames is left alone) and without PADDED
 * (padding follows the block); its length placeholder still zero (endWrite
 * not run yet); the grown frame at most 16384 bytes (the least
 * SETTINGS_MAX_FRAME_SIZE a peer may set, and grpc-go's own bound: its
 * Framer does not track the peer's setting); the bytes within wbuf's
 * capacity (nothing is allocated in the target). endWrite's entry (the
 * fallback) runs again after a stack growth: the parked entry is gone by then.
 *
 * net/http's and x/net's HTTP/2 clients (go_h2pub.bpf.c) are written the
 * same way, by the same functions: net/http's bundled http2Framer is x/net's
 * Framer under another name (its own offsets, its own WriteHeaders' CALL of
 * endWrite: the go_h2b_* programs), the stream parked by the goroutine that
 * writes the request's HEADERS (kind GO_H2W_BUNDLE or _XNET), counted apart
 * (WEFT_GO_ST_H2W_*). Their Framer writes into the client connection's
 * *bufio.Writer (buf, n), where a frame without room in wbuf is found and
 * written at endWrite's RETs as in grpc-go's bufWriter. The grown frame is
 * bounded by 16384 here too: the least SETTINGS_MAX_FRAME_SIZE, below the
 * peer's setting, which the client splits its blocks by.
 */
#define WEFT_LINK_EXTERN
#include "go/go_shared.bpf.h"

#define H2_FRAME_HEADER_LEN 9
#define H2_FRAME_HEADERS 0x1
#define H2_FLAG_END_HEADERS 0x4
#define H2_FLAG_PADDED 0x8
#define H2_MAX_FRAME_LEN 16384 /* SETTINGS_MAX_FRAME_SIZE's initial and least value */

/* 0x00, name length, "traceparent", value length (< 127: one byte), the value. */
#define H2_TP_FIELD_LEN (1 + 1 + 11 + 1 + WEFT_TRACEPARENT_LEN) /* 69 */
/* 0x00, name length, "tracestate": its value's length (1 to 3 bytes) and the value follow. */
#define H2_TS_NAME_LEN (1 + 1 + 10)
#define H2_TS_AT H2_TP_FIELD_LEN
#define H2_FIELDS_MAX (H2_TP_FIELD_LEN + H2_TS_NAME_LEN + 3 + WEFT_TS_MAX)

/* Where a parked stream's Framer and its writer keep the frame (struct grpc_hdr.kind). */
struct h2w_offs {
	__s32 wbuf, w;	      /* Framer.wbuf, Framer.w */
	__s32 bw_buf, bw_off; /* the writer's buffer and its fill: grpc-go's bufWriter, or bufio */
	__u32 write, bw;      /* the cfg flags that allow the write, and the writer's */
	__u32 delta;	      /* counters: WEFT_GO_ST_GRPCW_* plus this */
};

static __always_inline void h2w_offs(const struct weft_go_cfg *cfg, __u8 kind, struct h2w_offs *o)
{
	if (kind == GO_H2W_GRPC) {
		o->wbuf = cfg->xh2_fr_wbuf;
		o->w = cfg->xh2_fr_w;
		o->bw_buf = cfg->grpc_bw_buf;
		o->bw_off = cfg->grpc_bw_offset;
		o->write = WEFT_GO_CFG_GRPC_WRITE;
		o->bw = WEFT_GO_CFG_GRPC_BW;
		o->delta = 0;
		return;
	}
	o->wbuf = kind == GO_H2W_BUNDLE ? cfg->h2_fr_wbuf : cfg->xh2_fr_wbuf;
	o->w = kind == GO_H2W_BUNDLE ? cfg->h2_fr_w : cfg->xh2_fr_w;
	o->bw_buf = cfg->bw_buf;
	o->bw_off = cfg->bw_n;
	o->write = kind == GO_H2W_BUNDLE ? WEFT_GO_CFG_H2_WRITE : WEFT_GO_CFG_XH2_WRITE;
	o->bw = kind == GO_H2W_BUNDLE ? WEFT_GO_CFG_H2_BW : WEFT_GO_CFG_XH2_BW;
	o->delta = WEFT_GO_ST_H2W_DELTA;
}

/*
 * The tracestate field of h after the traceparent one in b (at H2_TS_AT);
 * its length, or 0 when the span has none. The value's length is an HPACK
 * integer with a 7-bit prefix (RFC 7541 5.1): below 127 one byte, else 0x7f
 * and the rest in 7-bit groups (at most two for WEFT_TS_MAX).
 */
static __always_inline __u32 h2_ts_field(char *b, const struct grpc_hdr *h)
{
	__u32 n = h->ts_len, at = H2_TS_AT + H2_TS_NAME_LEN, r;

	barrier_var(n);
	if (n < 1 || n > WEFT_TS_MAX)
		return 0;
	b[H2_TS_AT] = 0x00;
	b[H2_TS_AT + 1] = 10;
	__builtin_memcpy(b + H2_TS_AT + 2, "tracestate", 10);
	if (n < 127) {
		b[at++] = (char)n;
	} else {
		r = n - 127;
		b[at++] = 0x7f;
		if (r >= 128) {
			b[at++] = (char)(0x80 | (r & 0x7f));
			r >>= 7;
		}
		b[at++] = (char)r;
	}
	barrier_var(at);
	at &= 127; /* 81 to 84: bounded for the verifier */
	if (bpf_probe_read_kernel(b + at, WEFT_TS_MAX, h->ts))
		return 0;
	return at + n - H2_TS_AT;
}

/*
 * What the frame header hdr is to the parked stream sid, its length field
 * expected to be len: 0 to write, else the skip's counter.
 */
static __always_inline __u32 h2_frame_check(const __u8 hdr[H2_FRAME_HEADER_LEN], __u32 sid,
					    __u32 len)
{
	__u32 id =
	    ((__u32)hdr[5] << 24 | (__u32)hdr[6] << 16 | (__u32)hdr[7] << 8 | hdr[8]) & 0x7fffffff;
	__u32 l = (__u32)hdr[0] << 16 | (__u32)hdr[1] << 8 | hdr[2];

	if (l != len || hdr[3] != H2_FRAME_HEADERS || id != sid)
		return WEFT_GO_ST_GRPCW_SKIP_FRAME;
	if (hdr[4] & H2_FLAG_PADDED)
		return WEFT_GO_ST_GRPCW_SKIP_FRAME;
	if (!(hdr[4] & H2_FLAG_END_HEADERS))
		return WEFT_GO_ST_GRPCW_SKIP_CONT;
	return 0;
}

/*
 * The fields for parked stream h, composed in this thread's run->wl.b, at
 * most room bytes: the traceparent one, and the tracestate one beside it if
 * both fit (else counted). Returns their length (0: not even the first fits)
 * and the buffer in *bp.
 */
static __always_inline __u64 h2_fields(const struct grpc_hdr *h, __s64 room, char **bp)
{
	struct go_run *run;
	__u64 ts;
	char *b;

	if (room < H2_TP_FIELD_LEN)
		return 0;
	run = go_run_state();
	if (!run)
		return 0;
	b = run->wl.b;
	b[0] = 0x00;
	b[1] = 11;
	__builtin_memcpy(b + 2, "traceparent", 11);
	b[13] = WEFT_TRACEPARENT_LEN;
	weft_tp_format(b + 14, &h->ctx);
	*bp = b;
	ts = h2_ts_field(b, h);
	if (ts > H2_FIELDS_MAX - H2_TP_FIELD_LEN)
		return 0;
	if (ts && H2_TP_FIELD_LEN + (__s64)ts <= room)
		return H2_TP_FIELD_LEN + ts;
	if (ts)
		stat_inc(WEFT_GO_ST_TS_SKIP); /* no room for both: the traceparent alone */
	return H2_TP_FIELD_LEN;
}

/* The tracestate field's length h2_fields would add for h (0: none). */
static __always_inline __s64 h2_ts_need(const struct grpc_hdr *h)
{
	__s64 n = h->ts_len;

	if (n < 1 || n > WEFT_TS_MAX)
		return 0;
	return H2_TS_NAME_LEN + (n < 127 ? 1 : n - 127 < 128 ? 2 : 3) + n;
}

/*
 * At endWrite's entry: the write for parked stream h into the Framer at f;
 * the counter that says what happened, or 0 when it waits for endWrite's
 * RETs (no room for it in wbuf; h records the frame).
 */
static __always_inline __u32 h2_write(const struct weft_go_cfg *cfg, const struct h2w_offs *o,
				      struct grpc_hdr *h, __u64 f)
{
	struct go_slice wb;
	__u8 hdr[H2_FRAME_HEADER_LEN];
	__s64 nl, room;
	__u64 len;
	char *b = NULL;
	__u32 why;

	if (o->wbuf < 0 || bpf_probe_read_user(&wb, sizeof(wb), (void *)(f + o->wbuf)))
		return WEFT_GO_ST_GRPCW_SKIP_STATE;
	if (!wb.ptr || wb.len < H2_FRAME_HEADER_LEN || wb.cap < wb.len ||
	    wb.len - H2_FRAME_HEADER_LEN > H2_MAX_FRAME_LEN ||
	    bpf_probe_read_user(hdr, sizeof(hdr), (void *)wb.ptr))
		return WEFT_GO_ST_GRPCW_SKIP_STATE;
	/* endWrite has not filled in the length yet: zero */
	why = h2_frame_check(hdr, h->sid, 0);
	if (why)
		return why;
	room = H2_MAX_FRAME_LEN - (wb.len - H2_FRAME_HEADER_LEN);
	if (room < H2_TP_FIELD_LEN)
		return WEFT_GO_ST_GRPCW_SKIP_SIZE;
	if (wb.cap - wb.len < H2_TP_FIELD_LEN + h2_ts_need(h) && (cfg->flags & o->bw)) {
		h->fr = f; /* endWrite copies it to the writer: written there */
		h->flen = wb.len;
		return 0;
	}
	if (wb.cap - wb.len < room)
		room = wb.cap - wb.len;
	if (room < H2_TP_FIELD_LEN)
		return WEFT_GO_ST_GRPCW_SKIP_SPACE;
	len = h2_fields(h, room, &b);
	barrier_var(len);
	if (!b || len < H2_TP_FIELD_LEN || len > H2_FIELDS_MAX || wb.len + (__s64)len > wb.cap)
		return WEFT_GO_ST_GRPCW_SKIP_STATE;
	if (bpf_probe_write_user((void *)(wb.ptr + wb.len), b, len))
		return WEFT_GO_ST_GRPCW_SKIP_STATE;
	/* bytes beyond len are not part of the frame until len says so */
	nl = wb.len + (__s64)len;
	if (bpf_probe_write_user((void *)(f + o->wbuf + 8), &nl, sizeof(nl)))
		return WEFT_GO_ST_GRPCW_SKIP_STATE;
	if (len > H2_TP_FIELD_LEN)
		stat_inc(WEFT_GO_ST_GRPCW_TS_WRITES + o->delta);
	return WEFT_GO_ST_GRPCW_WRITES;
}

#define H2_CMP_CHUNK 32
#define H2_CMP_CHUNKS 4 /* the frame's first 128 bytes compared */

/* Whether the n bytes at a and b are equal (at most H2_CMP_CHUNK * H2_CMP_CHUNKS). */
static __always_inline bool h2_same(__u64 a, __u64 b, __s64 n)
{
	/* twice the chunk: the size read is masked to 63 for the verifier */
	__u64 x[H2_CMP_CHUNK / 4], y[H2_CMP_CHUNK / 4], d = 0;

	for (int i = 0; i < H2_CMP_CHUNKS; i++) {
		__s64 r = n - i * H2_CMP_CHUNK;
		__u32 k;

		if (r <= 0)
			break;
		__builtin_memset(x, 0, sizeof(x));
		__builtin_memset(y, 0, sizeof(y));
		k = r > H2_CMP_CHUNK ? H2_CMP_CHUNK : (__u32)r;
		barrier_var(k);
		k &= 2 * H2_CMP_CHUNK - 1;
		if (bpf_probe_read_user(x, k, (void *)(a + i * H2_CMP_CHUNK)) ||
		    bpf_probe_read_user(y, k, (void *)(b + i * H2_CMP_CHUNK)))
			return false;
		for (int j = 0; j < H2_CMP_CHUNK / 8; j++) /* bytes beyond k: zero in both */
			d |= x[j] ^ y[j];
	}
	return !d;
}

/*
 * At endWrite's RETs, for a frame that had no room in wbuf: endWrite copied
 * it into grpc-go's bufWriter (f.w) at buf[offset - flen:offset], unless the
 * copy flushed (then offset moved on: not found) or batching is off (conn
 * written directly: not found); for net/http and x/net, into the client
 * connection's *bufio.Writer at buf[n - flen:n] the same way (a frame larger
 * than the room left went to the connection directly: not found). Found whole, the fields go at
 * buf[offset] (within len(buf), as Write indexes it), the header's length grows by as much, then
 * offset. Found means: its header with the length endWrite wrote and the parked stream's id, and
 * its first 128 bytes equal to wbuf's (still the frame): with that, the bufWriter's offsets cannot
 * be wrong, also where they come from the nearest known version (GOPATH builds, go_binary.c).
 */
static __always_inline __u32 h2_write_bw(const struct h2w_offs *o, const struct grpc_hdr *h)
{
	struct go_slice buf, wb;
	__u64 iface[2], bw, len, start;
	__u8 hdr[H2_FRAME_HEADER_LEN], l3[3];
	__s64 off, flen = h->flen, room, no;
	__u32 fl;
	char *b = NULL;

	if (o->w < 0 || o->bw_buf < 0 || o->bw_off < 0 ||
	    bpf_probe_read_user(iface, sizeof(iface), (void *)(h->fr + o->w)))
		return WEFT_GO_ST_GRPCW_SKIP_BW;
	bw = iface[1];
	if (!iface[0] || !bw || bpf_probe_read_user(&buf, sizeof(buf), (void *)(bw + o->bw_buf)) ||
	    bpf_probe_read_user(&off, sizeof(off), (void *)(bw + o->bw_off)))
		return WEFT_GO_ST_GRPCW_SKIP_BW;
	if (!buf.ptr || buf.cap < buf.len || off > buf.len || flen < H2_FRAME_HEADER_LEN ||
	    off < flen || flen - H2_FRAME_HEADER_LEN > H2_MAX_FRAME_LEN)
		return WEFT_GO_ST_GRPCW_SKIP_BW;
	start = buf.ptr + (__u64)(off - flen);
	if (bpf_probe_read_user(hdr, sizeof(hdr), (void *)start) ||
	    h2_frame_check(hdr, h->sid, (__u32)(flen - H2_FRAME_HEADER_LEN)))
		return WEFT_GO_ST_GRPCW_SKIP_BW;
	if (o->wbuf < 0 || bpf_probe_read_user(&wb, sizeof(wb), (void *)(h->fr + o->wbuf)) ||
	    !wb.ptr || wb.len != flen || !h2_same(wb.ptr, start, flen))
		return WEFT_GO_ST_GRPCW_SKIP_BW;
	room = H2_MAX_FRAME_LEN - (flen - H2_FRAME_HEADER_LEN);
	if (room < H2_TP_FIELD_LEN)
		return WEFT_GO_ST_GRPCW_SKIP_SIZE;
	if (buf.len - off < room)
		room = buf.len - off;
	len = h2_fields(h, room, &b);
	barrier_var(len);
	if (!b || len < H2_TP_FIELD_LEN || len > H2_FIELDS_MAX || off + (__s64)len > buf.len)
		return WEFT_GO_ST_GRPCW_SKIP_BW;
	fl = (__u32)(flen - H2_FRAME_HEADER_LEN + (__s64)len);
	l3[0] = (__u8)(fl >> 16);
	l3[1] = (__u8)(fl >> 8);
	l3[2] = (__u8)fl;
	if (bpf_probe_write_user((void *)(buf.ptr + off), b, len) ||
	    bpf_probe_write_user((void *)start, l3, sizeof(l3)))
		return WEFT_GO_ST_GRPCW_SKIP_STATE;
	no = off + (__s64)len;
	if (bpf_probe_write_user((void *)(bw + o->bw_off), &no, sizeof(no))) {
		/* the frame as it was: its own length */
		bpf_probe_write_user((void *)start, hdr, 3);
		return WEFT_GO_ST_GRPCW_SKIP_STATE;
	}
	if (len > H2_TP_FIELD_LEN)
		stat_inc(WEFT_GO_ST_GRPCW_TS_WRITES + o->delta);
	stat_inc(WEFT_GO_ST_GRPCW_BW_WRITES + o->delta);
	return WEFT_GO_ST_GRPCW_WRITES;
}

/*
 * WriteHeaders' CALL of (*Framer).endWrite(f), or endWrite's entry (fallback):
 * RAX f. Any HEADERS frame (fallback: any frame) of any goroutine; ours are
 * parked. bundle: net/http's http2Framer, else x/net's Framer (grpc-go's, or
 * x/net's client's): a stream parked for the other one's frame is left.
 */
static __always_inline int h2_endwrite_entry(struct pt_regs *ctx, bool bundle)
{
	const struct weft_go_cfg *cfg;
	struct h2w_offs o;
	struct grpc_hdr *h;
	struct gkey k = {};
	__u32 r = WEFT_GO_ST_GRPCW_SKIP_STATE;

	cfg = go_here(ctx, &k);
	if (!cfg)
		return 0;
	h = bpf_map_lookup_elem(&grpc_h2w, &k);
	if (!h || h->fr || (h->kind == GO_H2W_BUNDLE) != bundle)
		return 0; /* not ours, or left for the RETs (an entry again after a stack growth) */
	h2w_offs(cfg, h->kind, &o);
	if (ctx->ax && (cfg->flags & o.write))
		r = h2_write(cfg, &o, h, ctx->ax);
	if (!r)
		return 0;
	stat_inc(r + o.delta);
	bpf_map_delete_elem(&grpc_h2w, &k);
	return 0;
}

/* After WriteHeaders' CALL of endWrite, or endWrite's RETs: a frame for the writer. */
static __always_inline int h2_endwrite_ret(struct pt_regs *ctx, bool bundle)
{
	const struct weft_go_cfg *cfg;
	const struct grpc_hdr *h;
	struct h2w_offs o;
	struct gkey k = {};

	cfg = go_here(ctx, &k);
	if (!cfg)
		return 0;
	h = bpf_map_lookup_elem(&grpc_h2w, &k);
	if (!h || (h->kind == GO_H2W_BUNDLE) != bundle)
		return 0;
	h2w_offs(cfg, h->kind, &o);
	if (h->fr)
		stat_inc(h2_write_bw(&o, h) + o.delta);
	else /* endWrite ended without its entry's decision */
		stat_inc(WEFT_GO_ST_GRPCW_SKIP_FRAME + o.delta);
	bpf_map_delete_elem(&grpc_h2w, &k);
	return 0;
}

/* x/net's (*Framer).endWrite: grpc-go's frames and x/net's client's */
SEC("uprobe")
int go_h2_endwrite_entry(struct pt_regs *ctx)
{
	return h2_endwrite_entry(ctx, false);
}

SEC("uprobe")
int go_h2_endwrite_ret(struct pt_regs *ctx)
{
	return h2_endwrite_ret(ctx, false);
}

/* net/http's (*http2Framer).endWrite: its bundled HTTP/2 client's frames */
SEC("uprobe")
int go_h2b_endwrite_entry(struct pt_regs *ctx)
{
	return h2_endwrite_entry(ctx, true);
}

SEC("uprobe")
int go_h2b_endwrite_ret(struct pt_regs *ctx)
{
	return h2_endwrite_ret(ctx, true);
}

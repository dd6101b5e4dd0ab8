// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft-go, read-only mode: the CLIENT context of each HTTP/2 client stream of
 * net/http's bundled client (net/http.http2ClientConn) and of
 * golang.org/x/net/http2's (ClientConn), published per stream for weft-http's
 * h2c insertion (go_stream_ctx, weft_conn_ctx.h), as go_grpc.bpf.c does for
 * grpc-go.
 *
 * The CLIENT span is in the calling goroutine ((*Transport).roundTrip, or
 * x/net's RoundTripOpt). (*ClientConn).RoundTrip (bundle and x/net alike, Go
 * 1.19-1.23, x/net 0.7) does not write the request there: it spawns
 * `go cs.doRequest(req)`, whose writeRequest takes the client connection's
 * new-request lock, assigns the stream id under cc.mu (addStreamLocked) and
 * then calls (*clientStream).encodeAndWriteHeaders(cs, req), which encodes
 * the header block and writes the HEADERS frame under cc.wmu, flushed before
 * it returns. Its entry is the point where the stream's id is final and its
 * HEADERS not yet written; the stream id and the connection come from cs
 * (cs.ID, cs.cc). The context comes from the goroutine: at its spawn
 * (runtime.newproc1 RETs, go_proc.bpf.c) the doRequest goroutine was tied in
 * h2_links to its caller and the CLIENT span the caller had then; the span
 * must still be that one (a request given up and followed by another in the
 * same goroutine publishes nothing). One goroutine per stream: concurrent
 * streams of one connection never share a context.
 *
 * Key {socket cookie, tgid, stream id}: the cookie of the connection's socket
 * (ClientConn.tconn, a *net.TCPConn; a TLS connection, ClientConn.tlsState
 * set, is not published: its bytes are encrypted). The entry is deleted by
 * weft-http when used, else by weft-go when the CLIENT span ends
 * (go_client.bpf.c), or replaced by a retry's stream.
 *
 * With writes (WEFT_GO_CFG_H2_WRITE for the bundle, _XH2_WRITE for x/net),
 * nothing is published: the same context waits in grpc_h2w for this
 * goroutine's HEADERS frame, which encodeAndWriteHeaders writes through the
 * connection's Framer before it returns (cc.writeHeaders -> WriteHeaders ->
 * endWrite), over TLS and cleartext alike; go_h2write.bpf.c appends the
 * fields there. That frame takes the entry whatever happens to it; what no
 * frame took (an encoding error, a broken connection: the request fails,
 * its goroutine ends) is counted and dropped when a new goroutine reuses
 * the g (runtime.newproc1 RETs, go_proc.bpf.c).
 */
#define WEFT_LINK_EXTERN
#include "go/go_shared.bpf.h"

/* Offsets of one client implementation (bundle or x/net); -1: unknown. */
struct h2_offs {
	__s32 cs_cc, cs_id, cc_tconn, cc_tls_state;
};

/*
 * Writes: park the CLIENT span cl's context for the HEADERS frame of stream
 * cs (odd: a client's, RFC 9113 5.1.1), which this goroutine writes next
 * through a Framer of kind (GO_H2W_BUNDLE or _XNET).
 */
static __always_inline void h2_park(struct pt_regs *ctx, __u32 tgid, __u64 cs,
				    const struct h2_offs *o, const struct client_state *cl,
				    __u8 kind)
{
	struct gkey wk = {.tgid = tgid, .g = ctx->r14};
	struct grpc_hdr *h;
	struct go_run *run;
	__u32 sid = 0;

	if (o->cs_id < 0 || !cl->ev.ctx.valid ||
	    bpf_probe_read_user(&sid, sizeof(sid), (void *)(cs + o->cs_id)) || !(sid & 1)) {
		stat_inc(WEFT_GO_ST_H2W_SKIP_STATE);
		return;
	}
	run = go_run_state();
	if (!run)
		return;
	h = &run->gh;
	__builtin_memset(h, 0, sizeof(*h) - WEFT_TS_MAX);
	h->ctx = cl->ev.ctx;
	h->sid = sid;
	h->kind = kind;
	/* beside the traceparent unless the request has its own (go_client.bpf.c) */
	h->ts_len =
	    cl->write_ts && cl->ev.tracestate_len <= WEFT_TS_MAX ? cl->ev.tracestate_len : 0;
	__builtin_memcpy(h->ts, cl->ev.tracestate, WEFT_TS_MAX);
	bpf_map_update_elem(&grpc_h2w, &wk, h, BPF_ANY);
}

/* encodeAndWriteHeaders(cs *clientStream, req *Request) entry: RAX cs. */
static __always_inline int h2_publish(struct pt_regs *ctx, const struct weft_go_cfg *cfg,
				      __u32 tgid, const struct h2_offs *o, bool xh2)
{
	const __u32 wflag = xh2 ? WEFT_GO_CFG_XH2_WRITE : WEFT_GO_CFG_H2_WRITE;
	const struct h2_link *l;
	struct weft_conn_ctx *cc;
	struct client_state *cl;
	struct go_run *run;
	struct gkey k = {.tgid = tgid, .g = ctx->r14}, ck = {.tgid = tgid};
	struct weft_stream_key sk = {.tgid = tgid};
	__u64 cs = ctx->ax, conn, cookie = 0;
	__u32 sid = 0;

	if (!cs || !(cfg->flags & (WEFT_GO_CFG_PUBLISH | wflag)))
		return 0;
	l = bpf_map_lookup_elem(&h2_links, &k);
	if (!l)
		return 0;
	ck.g = l->caller;
	cl = bpf_map_lookup_elem(&clients, &ck);
	/* used once: the same entry run again (morestack) finds nothing */
	if (!cl || !weft_span_id_eq(cl->ev.ctx.span_id, l->span_id) ||
	    cl->ev.proto == WEFT_PROTO_GRPC) {
		bpf_map_delete_elem(&h2_links, &k);
		return 0;
	}
	bpf_map_delete_elem(&h2_links, &k);
	if (cl->app_set || cl->forwarded) {
		/* the block carries the app's traceparent: weft-http (or the write) leaves it */
		stat_inc(cfg->flags & wflag ? WEFT_GO_ST_H2W_APPSET : WEFT_GO_ST_H2_APPSET);
		return 0;
	}
	if (cfg->flags & wflag) {
		h2_park(ctx, tgid, cs, o, cl, xh2 ? GO_H2W_XNET : GO_H2W_BUNDLE);
		return 0;
	}
	if (!(cfg->flags & WEFT_GO_CFG_PUBLISH))
		return 0;
	if (o->cs_cc < 0 || o->cs_id < 0 || o->cc_tconn < 0 || o->cc_tls_state < 0 ||
	    !cl->ev.ctx.valid) {
		stat_inc(WEFT_GO_ST_H2_SKIP);
		return 0;
	}
	conn = read_u64(cs + o->cs_cc);
	if (conn && bpf_probe_read_user(&sid, sizeof(sid), (void *)(cs + o->cs_id)))
		sid = 0;
	/* client streams are odd (RFC 9113 5.1.1); TLS: nothing to insert into */
	if ((sid & 1) && !read_u64(conn + o->cc_tls_state))
		cookie = go_tcpconn_cookie(cfg, read_u64(conn + o->cc_tconn + 8));
	if (!cookie) {
		stat_inc(WEFT_GO_ST_H2_SKIP);
		return 0;
	}
	run = go_run_state();
	if (!run)
		return 0;
	/* a retry (another stream, maybe another connection): its first stream's entry goes */
	if (cl->h2_sid && (cl->h2_sid != sid || cl->cookie != cookie))
		go_stream_forget(cl->cookie, tgid, cl->h2_sid);
	cc = &run->cc;
	__builtin_memset(cc, 0, sizeof(*cc) - WEFT_TS_MAX);
	cc->ctx = cl->ev.ctx;
	cc->ts_ns = bpf_ktime_get_ns();
	cc->version = WEFT_CONN_CTX_VERSION;
	/* weft-http inserts it beside the traceparent (unless the block has its own) */
	cc->tracestate_len = cl->ev.tracestate_len <= WEFT_TS_MAX ? cl->ev.tracestate_len : 0;
	__builtin_memcpy(cc->tracestate, cl->ev.tracestate, WEFT_TS_MAX);
	sk.cookie = cookie;
	sk.sid = sid;
	bpf_map_update_elem(&go_stream_ctx, &sk, cc, BPF_ANY);
	cl->cookie = cookie;
	cl->h2_sid = sid;
	stat_inc(WEFT_GO_ST_H2_PUBLISHED);
	return 0;
}

/* encodeAndWriteHeaders entry; xh2: x/net's clientStream, else the bundle's */
static __always_inline int h2_whdr(struct pt_regs *ctx, bool xh2)
{
	const struct weft_go_cfg *cfg;
	struct h2_offs o;
	__u32 tgid;

	cfg = go_cfg(ctx, &tgid);
	if (!cfg)
		return 0;
	o.cs_cc = xh2 ? cfg->xh2_cs_cc : cfg->h2_cs_cc;
	o.cs_id = xh2 ? cfg->xh2_cs_id : cfg->h2_cs_id;
	o.cc_tconn = xh2 ? cfg->xh2_cc_tconn : cfg->h2_cc_tconn;
	o.cc_tls_state = xh2 ? cfg->xh2_cc_tls_state : cfg->h2_cc_tls_state;
	return h2_publish(ctx, cfg, tgid, &o, xh2);
}

/* net/http.(*http2clientStream).encodeAndWriteHeaders entry */
SEC("uprobe")
int go_h2_whdr_entry(struct pt_regs *ctx)
{
	return h2_whdr(ctx, false);
}

/* golang.org/x/net/http2.(*clientStream).encodeAndWriteHeaders entry */
SEC("uprobe")
int go_xh2_whdr_entry(struct pt_regs *ctx)
{
	return h2_whdr(ctx, true);
}

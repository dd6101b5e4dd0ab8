// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft-go: CLIENT spans, (*Transport).roundTrip entry and RETs (HTTP/1.x and
 * the bundled HTTP/2), golang.org/x/net/http2's (*Transport).RoundTripOpt,
 * and read-only mode's published context at (*persistConn).roundTrip
 * (go_shared.bpf.h); an HTTP/2 span's published stream context
 * (go_h2pub.bpf.c) is deleted at its end.
 */
#define WEFT_LINK_EXTERN
#include "go/go_shared.bpf.h"

/* ---- client side ---- */

/*
 * Did the app copy the incoming traceparent of the request goroutine k serves
 * (a reverse proxy)? Then app is not the app's own context: the CLIENT span
 * keeps its own (a child of the SERVER span), and the copy must be replaced.
 */
static __always_inline bool forwarded_tp(struct gkey *k, const struct weft_trace_ctx *app)
{
	struct server_state *st = bpf_map_lookup_elem(&servers, k);

	return st && st->ev.parent_src == WEFT_PARENT_HEADER &&
	       weft_trace_id_eq(st->ev.ctx.trace_id, app->trace_id) &&
	       weft_span_id_eq(st->ev.parent_span_id, app->span_id);
}

/* Register the request's pending write under its Header map. */
static __always_inline void pending_open(__u32 tgid, __u64 hdr, __u64 g,
					 const struct weft_trace_ctx *c, const __u8 *fwd)
{
	struct gkey pk = {.tgid = tgid, .g = hdr};
	struct pending np = {}, *p;

	np.ctx = *c;
	if (fwd) {
		np.fwd = 1;
		__builtin_memcpy(np.fwd_span_id, fwd, WEFT_SPAN_ID_LEN);
	}
	np.g = g;
	np.state = PENDING_OPEN;
	np.refs = 1;
	if (bpf_map_update_elem(&pendings, &pk, &np, BPF_NOEXIST) == 0)
		return;
	p = bpf_map_lookup_elem(&pendings, &pk);
	if (!p)
		return;
	/*
	 * The same goroutine again: the entry probe fires twice when the call
	 * restarts after growing the stack (morestack), or a previous call's
	 * RET was missed. Its span was replaced: so is the pending write,
	 * unless another request shares the map meanwhile (it stays shared,
	 * and this goroutine keeps its one reference).
	 */
	if (p->g == g) {
		if (p->state != PENDING_SHARED)
			bpf_map_update_elem(&pendings, &pk, &np, BPF_ANY);
		return;
	}
	__sync_fetch_and_add(&p->refs, 1);
	p->state = PENDING_SHARED;
}

/*
 * A CLIENT span for request req in the calling goroutine; xh2: started by
 * x/net's HTTP/2 Transport (no HTTP/1 write site: no pending write).
 */
static __always_inline int client_start(struct pt_regs *ctx, __u64 req, bool xh2)
{
	const struct weft_go_cfg *cfg;
	const struct weft_trace_ctx *p;
	struct client_state *cl;
	struct go_snaps *sn;
	struct go_run *run;
	struct weft_trace_ctx app = {};
	struct gkey k = {};
	__u32 tgid;
	__u64 hdr;
	__u8 src = 0;
	int r;

	cfg = go_cfg(ctx, &tgid);
	if (!cfg || !req)
		return 0;
	k.tgid = tgid;
	k.g = ctx->r14;
	/*
	 * x/net's Transport inside net/http's (configured by
	 * http2.ConfigureTransport): the outer roundTrip's span is the call's.
	 * The same entry run again (morestack) finds its own: kept too.
	 */
	if (xh2 && bpf_map_lookup_elem(&clients, &k))
		return 0;
	run = go_run_state();
	if (!run)
		return 0;
	cl = &run->cl;
	sn = &run->sn;
	__builtin_memset(cl, 0, sizeof(*cl));
	cl->ev.start_ns = bpf_ktime_get_ns();
	cl->ev.pid = tgid;
	cl->ev.tid = (__u32)bpf_get_current_pid_tgid();
	cl->ev.kind = WEFT_KIND_CLIENT;
	cl->ev.proto = xh2 ? WEFT_PROTO_HTTP2 : WEFT_PROTO_HTTP1;
	cl->ev.injector = WEFT_INJ_GO;
	cl->xh2 = xh2;
	snap_request(cfg, req, sn);
	read_request(cfg, sn, &cl->ev, true);

	p = parent_ctx(&k, &src);
	span_parent(&cl->ev, p, src);
	if (p && p->valid && !copy_server_ts(&k, &cl->ev))
		copy_inherited_ts(tgid, p, &cl->ev);
	weft_bpf_random_span_id(&cl->ev.ctx);

	/* The app's own headers first: an app-set traceparent wins. */
	hdr = req_u64(sn, cfg->req_header);
	r = go_header_traceparent(cfg, hdr, &app);
	if (r == GO_TP_NONE) {
		cl->may_write = 1;
	} else if (r == GO_TP_VALID && forwarded_tp(&k, &app)) {
		/* read-only: weft-http replaces it on the wire (published below);
		 * writes: replaced in the buffer once writeSubset wrote it */
		cl->forwarded = 1;
		__builtin_memcpy(cl->fwd_span_id, app.span_id, WEFT_SPAN_ID_LEN);
	} else if (r == GO_TP_VALID) {
		cl->app_set = 1;
		cl->ev.flags |= WEFT_SPAN_APP_CONTEXT;
		/* Its trace and span id become this span's context. */
		if (!weft_trace_id_eq(cl->ev.ctx.trace_id, app.trace_id)) {
			__builtin_memset(cl->ev.parent_span_id, 0, WEFT_SPAN_ID_LEN);
			cl->ev.parent_src = WEFT_PARENT_HEADER;
			cl->ev.tracestate_len = 0; /* another trace's state is not ours */
		}
		__builtin_memcpy(cl->ev.ctx.trace_id, app.trace_id, WEFT_TRACE_ID_LEN);
		__builtin_memcpy(cl->ev.ctx.span_id, app.span_id, WEFT_SPAN_ID_LEN);
		cl->ev.ctx.flags = app.flags;
	} else if (r == GO_TP_INVALID) {
		cl->app_set = 1;
		cl->ev.flags |= WEFT_SPAN_APP_CONTEXT;
	}
	/* Skips are counted at the RET: this entry may run twice (morestack). */
	if (!xh2 && (cfg->flags & WEFT_GO_CFG_WRITE) && hdr && (cl->may_write || cl->forwarded)) {
		pending_open(tgid, hdr, k.g, &cl->ev.ctx, cl->forwarded ? cl->fwd_span_id : NULL);
		cl->hdr = hdr;
	}
	/* The span's tracestate goes out beside the traceparent written (HTTP/1,
	 * or an HTTP/2 HEADERS frame), unless the request has its own (a
	 * forwarded copy keeps its own). */
	if ((cfg->flags & (WEFT_GO_CFG_WRITE | WEFT_GO_CFG_H2_WRITE | WEFT_GO_CFG_XH2_WRITE)) &&
	    hdr && cl->may_write && cl->ev.tracestate_len &&
	    go_header_has_tracestate(cfg, hdr) == GO_TP_NONE)
		cl->write_ts = 1;
	bpf_map_update_elem(&clients, &k, cl, BPF_ANY);
	return 0;
}

SEC("uprobe")
int go_rt_entry(struct pt_regs *ctx)
{
	/* (*Transport).roundTrip(req *Request): req in BX */
	return client_start(ctx, ctx->bx, false);
}

/* golang.org/x/net/http2.(*Transport).RoundTripOpt(req *http.Request, opt): req in BX */
SEC("uprobe")
int go_xh2_rt_entry(struct pt_regs *ctx)
{
	return client_start(ctx, ctx->bx, true);
}

/* The socket fd of a plain-TCP persistConn, or -1. */
static __always_inline int conn_fd(const struct weft_go_cfg *cfg, __u64 pc)
{
	if (cfg->pc_conn < 0)
		return -1;
	if (cfg->pc_tls_state >= 0 && read_u64(pc + cfg->pc_tls_state))
		return -1; /* TLS: the network level cannot insert anyway */
	return go_tcpconn_fd(cfg, read_u64(pc + cfg->pc_conn + 8)); /* interface data word */
}

/* Read-only mode: publish the client context under the connection's {tgid, fd}. */
SEC("uprobe")
int go_pc_rt_entry(struct pt_regs *ctx)
{
	const struct weft_go_cfg *cfg;
	struct client_state *cl;
	struct weft_conn_key ck = {};
	struct weft_conn_ctx *cc;
	struct go_run *run;
	struct gkey k = {};
	__u32 tgid;
	__u64 pc = ctx->ax;
	int fd;

	cfg = go_cfg(ctx, &tgid);
	if (!cfg || !pc || !(cfg->flags & WEFT_GO_CFG_PUBLISH))
		return 0;
	k.tgid = tgid;
	k.g = ctx->r14;
	cl = bpf_map_lookup_elem(&clients, &k);
	if (!cl || cl->app_set)
		return 0;
	fd = conn_fd(cfg, pc);
	if (fd < 0) {
		stat_inc(WEFT_GO_ST_PUBLISH_SKIP);
		return 0;
	}
	run = go_run_state();
	if (!run)
		return 0;
	cc = &run->cc;
	ck.tgid = tgid;
	ck.fd = fd;
	__builtin_memset(cc, 0, sizeof(*cc) - WEFT_TS_MAX);
	cc->ctx = cl->ev.ctx;
	cc->ts_ns = bpf_ktime_get_ns();
	cc->version = WEFT_CONN_CTX_VERSION;
	cc->forwarded = cl->forwarded;
	__builtin_memcpy(cc->fwd_span_id, cl->fwd_span_id, WEFT_SPAN_ID_LEN);
	cc->tracestate_len = cl->ev.tracestate_len <= WEFT_TS_MAX ? cl->ev.tracestate_len : 0;
	__builtin_memcpy(cc->tracestate, cl->ev.tracestate, WEFT_TS_MAX);
	bpf_map_update_elem(&go_conn_ctx, &ck, cc, BPF_ANY);
	stat_inc(WEFT_GO_ST_PUBLISHED);
	return 0;
}

/* End the calling goroutine's CLIENT span; xh2: at x/net's RoundTripOpt RETs. */
static __always_inline int client_end(struct pt_regs *ctx, bool xh2)
{
	const struct weft_go_cfg *cfg;
	struct client_state *cl;
	struct pending *p;
	struct gkey k = {}, pk = {};
	__u32 tgid;
	__u64 resp = ctx->ax;
	__s64 status = 0;

	cfg = go_cfg(ctx, &tgid);
	if (!cfg)
		return 0;
	k.tgid = tgid;
	k.g = ctx->r14;
	cl = bpf_map_lookup_elem(&clients, &k);
	/* x/net's RoundTripOpt inside roundTrip: the outer RETs end the span */
	if (!cl || cl->xh2 != xh2)
		return 0;
	cl->ev.end_ns = bpf_ktime_get_ns();
	if (resp && cfg->resp_status_code >= 0)
		status = (__s64)read_u64(resp + cfg->resp_status_code);
	if (status > 0 && status < 1000)
		cl->ev.status = (__u16)status;
	/* net/http's Transport speaks HTTP/2 where ALPN chose it: the response says */
	if (resp && !xh2 && cfg->resp_proto_major >= 0 &&
	    read_u64(resp + cfg->resp_proto_major) == 2)
		cl->ev.proto = WEFT_PROTO_HTTP2;
	if ((cfg->flags & WEFT_GO_CFG_WRITE) && !cl->may_write && !cl->forwarded)
		stat_inc(cl->app_set ? WEFT_GO_ST_SKIP_APPSET : WEFT_GO_ST_SKIP_UNKNOWN);
	if (cl->hdr) {
		pk.tgid = tgid;
		pk.g = cl->hdr;
		p = bpf_map_lookup_elem(&pendings, &pk);
		if (p) {
			if (p->g == k.g && p->state == PENDING_WRITTEN)
				cl->ev.flags |= WEFT_SPAN_WRITTEN;
			__sync_fetch_and_add(&p->refs, -1);
			if (*(volatile __s32 *)&p->refs <= 0)
				bpf_map_delete_elem(&pendings, &pk);
		}
	}
	/* HTTP/2, read-only: its stream's published context, if weft-http did not use it */
	if (cl->h2_sid && cl->cookie)
		go_stream_forget(cl->cookie, tgid, cl->h2_sid);
	emit(&cl->ev, WEFT_GO_ST_CLIENT);
	bpf_map_delete_elem(&clients, &k);
	return 0;
}

SEC("uprobe")
int go_rt_ret(struct pt_regs *ctx)
{
	return client_end(ctx, false);
}

SEC("uprobe")
int go_xh2_rt_ret(struct pt_regs *ctx)
{
	return client_end(ctx, true);
}

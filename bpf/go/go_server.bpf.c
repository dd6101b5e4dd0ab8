// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft-go: SERVER spans, serverHandler.ServeHTTP entry and RETs, and
 * golang.org/x/net/http2's per-stream (*serverConn).runHandler; the span's
 * tracestate kept for the goroutines its handler spawns (go_shared.bpf.h).
 */
#define WEFT_LINK_EXTERN
#include "go/go_shared.bpf.h"

/*
 * The HTTP/2 connection preface as net/http's HTTP/1 server hands it to the
 * handler ("PRI * HTTP/2.0"): an h2c handler (golang.org/x/net/http2/h2c)
 * serves the whole connection inside that call, its streams each in a
 * goroutine of their own (runHandler). It is no request: no span, so the
 * streams' goroutines inherit nothing from it.
 */
static __always_inline bool h2_preface(const struct weft_span_event *ev, __u64 major)
{
	return major == 2 && ev->method_len == 3 && ev->method[0] == 'P' && ev->method[1] == 'R' &&
	       ev->method[2] == 'I' && ev->path_len == 1 && ev->path[0] == '*';
}

/*
 * A SERVER span for request req answered through ResponseWriter data word rw;
 * xh2: at x/net's runHandler (rw is x/net's *responseWriter).
 */
static __always_inline int serve_start(struct pt_regs *ctx, __u64 req, __u64 rw, bool xh2)
{
	const struct weft_go_cfg *cfg;
	struct server_state *st;
	struct go_snaps *sn;
	struct go_run *run;
	struct weft_trace_ctx in = {};
	struct gkey k = {};
	__u32 tgid;
	__u64 hdr, major = 1;
	int r;

	cfg = go_cfg(ctx, &tgid);
	if (!cfg || !req)
		return 0;
	k.tgid = tgid;
	k.g = ctx->r14;
	run = go_server_start(tgid);
	if (!run)
		return 0;
	st = &run->st;
	sn = &run->sn;
	st->rw = rw;
	snap_request(cfg, req, sn);
	if (cfg->req_proto_major >= 0)
		major = req_u64(sn, cfg->req_proto_major);
	st->ev.proto = major == 2 ? WEFT_PROTO_HTTP2 : WEFT_PROTO_HTTP1;
	read_request(cfg, sn, &st->ev, false);
	if (h2_preface(&st->ev, major))
		return 0;
	/* ServeHTTP inside x/net's runHandler: the same rw, still x/net's type */
	if (!xh2 && major == 2) {
		const struct server_state *outer = bpf_map_lookup_elem(&servers, &k);

		xh2 = outer && outer->xh2;
	}
	st->xh2 = xh2;

	hdr = req_u64(sn, cfg->req_header);
	r = go_header_traceparent(cfg, hdr, &in);
	if (r == GO_TP_VALID) {
		__builtin_memcpy(st->ev.ctx.trace_id, in.trace_id, WEFT_TRACE_ID_LEN);
		__builtin_memcpy(st->ev.parent_span_id, in.span_id, WEFT_SPAN_ID_LEN);
		st->ev.ctx.flags = in.flags;
		st->ev.ctx.valid = 1;
		st->ev.parent_src = WEFT_PARENT_HEADER;
		stat_inc(WEFT_GO_ST_IN_VALID);
		/* tracestate only beside a valid traceparent (W3C) */
		if (go_header_tracestate(cfg, hdr, &run->ts) > 0 && run->ts.out_len <= WEFT_TS_MAX) {
			st->ev.tracestate_len = run->ts.out_len;
			__builtin_memcpy(st->ev.tracestate, run->ts.out, WEFT_TS_MAX);
		}
	} else {
		if (r == GO_TP_INVALID)
			stat_inc(WEFT_GO_ST_IN_INVALID);
		new_trace(&st->ev.ctx);
		st->ev.parent_src = WEFT_PARENT_GENERATED;
	}
	weft_bpf_random_span_id(&st->ev.ctx);
	if (st->ev.tracestate_len)
		span_ts_put(tgid, &st->ev, &run->sts);

	bpf_map_update_elem(&servers, &k, st, BPF_ANY);
	return 0;
}

SEC("uprobe")
int go_serve_entry(struct pt_regs *ctx)
{
	/* serverHandler.ServeHTTP(rw ResponseWriter, req *Request): rw's data word in CX
	 * (*response for HTTP/1, the bundled *http2responseWriter for HTTP/2) */
	return serve_start(ctx, ctx->di, ctx->cx, false);
}

/*
 * golang.org/x/net/http2.(*serverConn).runHandler(rw *responseWriter, req
 * *http.Request, handler): one stream, in the goroutine the connection's serve
 * loop spawned for it (h2c, or x/net's ConfigureServer). Its RETs are
 * go_serve_ret's. When the handler is net/http's serverHandler (x/net
 * configured into an http.Server over TLS), ServeHTTP's entry replaces this
 * span with an identical one and its RETs end it.
 */
SEC("uprobe")
int go_xh2_handler_entry(struct pt_regs *ctx)
{
	return serve_start(ctx, ctx->cx, ctx->bx, true);
}

SEC("uprobe")
int go_serve_ret(struct pt_regs *ctx)
{
	const struct weft_go_cfg *cfg;
	struct server_state *st;
	struct gkey k = {};
	__u32 tgid;
	__s64 status = 0;

	cfg = go_cfg(ctx, &tgid);
	if (!cfg)
		return 0;
	k.tgid = tgid;
	k.g = ctx->r14;
	st = bpf_map_lookup_elem(&servers, &k);
	if (!st)
		return 0;
	st->ev.end_ns = bpf_ktime_get_ns();
	if (st->ev.proto == WEFT_PROTO_HTTP1 && cfg->rw_status >= 0 && st->rw) {
		status = (__s64)read_u64(st->rw + cfg->rw_status);
		/* A handler that wrote nothing gets 200 from finishRequest. */
		if (status == 0)
			status = 200;
	} else if (st->ev.proto == WEFT_PROTO_HTTP2 && !st->xh2 && cfg->h2_rw_rws >= 0 &&
		   cfg->h2_rws_status >= 0 && st->rw) {
		/* the bundled HTTP/2 writer's state; nothing written: 200 at handlerDone */
		__u64 rws = read_u64(st->rw + cfg->h2_rw_rws);

		if (rws) {
			status = (__s64)read_u64(rws + cfg->h2_rws_status);
			if (status == 0)
				status = 200;
		}
	}
	if (status > 0 && status < 1000)
		st->ev.status = (__u16)status;
	emit(&st->ev, WEFT_GO_ST_SERVER);
	bpf_map_delete_elem(&servers, &k);
	return 0;
}

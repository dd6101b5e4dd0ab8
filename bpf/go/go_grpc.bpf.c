// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft-go: grpc-go SERVER spans, read-only (DESIGN.md 3a). The incoming
 * traceparent is read where grpc-go's server transport has already decoded
 * the stream's header block ((*http2Server).operateHeaders: the
 * MetaHeadersFrame's []hpack.HeaderField; HPACK is never decoded here) and
 * kept for the reader goroutine, with the connection's addresses (the
 * transport's localAddr and remoteAddr), while operateHeaders runs; the goroutine it
 * spawns for the stream inherits it (go_newproc_ret, go_proc.bpf.c), so
 * concurrent streams of one connection never share a context. The span runs
 * over grpc.(*Server).handleStream in that goroutine (entry and RETs), named
 * by the stream's method; (*http2Server).WriteStatus gives its status code.
 * The span sits in the servers map like a net/http one, so the handler's own
 * calls and the goroutines it spawns find it.
 *
 * CLIENT spans: unary calls from grpc.(*ClientConn).Invoke entry to its RETs
 * in the calling goroutine, a child of its SERVER span (or of the context it
 * inherited); streaming calls from (*ClientConn).NewStream entry until their
 * (*clientStream).finish (any goroutine; the span waits in grpc_calls, keyed
 * by the clientStream). The transport's (*http2Client).NewStream, called
 * meanwhile, gives the connection's addresses (entry) and the stream (RETs),
 * whose status the server sent.
 *
 * Read-only mode publishes each client stream's CLIENT context for weft-http's
 * h2c insertion (go_stream_ctx, weft_conn_ctx.h), keyed by the connection's
 * socket cookie and the HTTP/2 stream id. The id is not the call's to know:
 * grpc-go hands the stream to its loopy writer goroutine as a headerFrame,
 * and the id is final only there (1.33 numbers it while queuing it, later
 * versions in (*loopyWriter).originateStream). The one point where the id and
 * the stream's context are both known, and the HEADERS frame is not yet
 * written, is (*loopyWriter).writeHeader(streamID, endStream, hf, onWrite):
 * it encodes the frame into the transport's buffer, which is flushed to the
 * socket only after it returns. It runs in the loopy goroutine, so the
 * context comes with hf: the []hpack.HeaderField the call built in its own
 * goroutine ((*http2Client).createHeaderFields, RETs), where the CLIENT span
 * is, and that only this stream's headerFrame holds; that array (and its
 * length, checked again) is the key of grpc_hdrs until writeHeader takes it or
 * the call ends. The published entry is deleted by weft-http once used, or
 * when the call ends (its stream's id read from the Stream).
 *
 * With writes (WEFT_GO_CFG_GRPC_WRITE) nothing is published: writeHeader
 * parks the context for its own goroutine, and go_h2write.bpf.c appends it
 * to the HEADERS frame the loopy writer is about to hand to its buffer.
 */
#define WEFT_LINK_EXTERN
#include "go/go_shared.bpf.h"

/* hpack.HeaderField: Name, Value string, Sensitive bool (40 bytes, x/net 2014-). */
#define GO_HPACK_FIELD_SIZE 40
/* Header fields looked at per stream: grpc-go sends 7-9, an app's metadata more. */
#define GO_GRPC_MAX_FIELDS 32

enum { GO_FIELD_OTHER = 0, GO_FIELD_TRACEPARENT = 1, GO_FIELD_TRACESTATE = 2 };

/* Which trace-context field the HTTP/2 header field name is (GO_FIELD_*). */
static __always_inline int field_kind(const struct go_string *name)
{
	const char tp[11] = "traceparent", ts[10] = "tracestate";
	char s[11];
	__u8 d = 0;

	if ((name->len != 11 && name->len != 10) || !name->ptr)
		return GO_FIELD_OTHER;
	if (bpf_probe_read_user(s, name->len == 11 ? 11 : 10, (void *)name->ptr))
		return GO_FIELD_OTHER;
	/* HTTP/2 field names are lowercase (RFC 9113 8.2.1); grpc-go rejects others. */
	if (name->len == 11) {
		for (int i = 0; i < 11; i++)
			d |= (__u8)(s[i] ^ tp[i]);
		return d ? GO_FIELD_OTHER : GO_FIELD_TRACEPARENT;
	}
	for (int i = 0; i < 10; i++)
		d |= (__u8)(s[i] ^ ts[i]);
	return d ? GO_FIELD_OTHER : GO_FIELD_TRACESTATE;
}

/* A gRPC span's event: start, process and thread, kind, name = the method (ptr, len). */
static __always_inline void grpc_ev_init(struct weft_span_event *ev, __u32 tgid, __u8 kind,
					 __u64 mptr, __s64 mlen)
{
	bool t = false;

	ev->start_ns = bpf_ktime_get_ns();
	ev->pid = tgid;
	ev->tid = (__u32)bpf_get_current_pid_tgid();
	ev->kind = kind;
	ev->injector = WEFT_INJ_GO;
	ev->proto = WEFT_PROTO_GRPC;
	ev->path_len = copy_gostr(mptr, mlen, ev->path, WEFT_PATH_MAX, &t);
	if (t)
		ev->truncated |= WEFT_TRUNC_PATH;
}

/* The name of header field i of the []hpack.HeaderField at fields; 0, or -1 on a fault. */
static __always_inline int field_name(const struct weft_go_cfg *cfg, __u64 fields, int i,
				      struct go_string *name)
{
	__u64 f = fields + (__u64)i * GO_HPACK_FIELD_SIZE;

	return bpf_probe_read_user(name, sizeof(*name), (void *)(f + cfg->xh2_hf_name)) ? -1 : 0;
}

/*
 * The trace-context fields among the first GO_GRPC_MAX_FIELDS of the n
 * []hpack.HeaderField at fields: the first traceparent's value (tp, len 0:
 * none), whether a second one follows, and the tracestate values in order
 * (ts->n > GO_TS_LINES: too many, the list is discarded).
 */
struct grpc_tc_fields {
	struct go_string tp;
	bool dup;
	struct go_ts_lines ts;
};

struct grpc_scan {
	const struct weft_go_cfg *cfg;
	__u64 fields;
	__s64 n;
	struct grpc_tc_fields *out;
};

/* One header field (bpf_loop: the verifier walks it once, not per field). */
static long grpc_scan_field(__u32 i, void *arg)
{
	struct grpc_scan *sc = arg;
	struct grpc_tc_fields *out = sc->out;
	__u64 f = sc->fields + (__u64)i * GO_HPACK_FIELD_SIZE;
	struct go_string name;
	int kind, j;

	if ((__s64)i >= sc->n || field_name(sc->cfg, sc->fields, (int)i, &name))
		return 1;
	kind = field_kind(&name);
	if (kind == GO_FIELD_TRACEPARENT) {
		if (out->tp.ptr) {
			out->dup = true;
		} else if (bpf_probe_read_user(&out->tp, sizeof(out->tp),
					       (void *)(f + sc->cfg->xh2_hf_value)) ||
			   !out->tp.ptr) {
			out->tp.ptr = 1; /* present, unreadable: invalid */
			out->tp.len = 0;
		}
	} else if (kind == GO_FIELD_TRACESTATE) {
		j = out->ts.n;
		if (j >= 0 && j < GO_TS_LINES &&
		    bpf_probe_read_user(&out->ts.v[j], sizeof(out->ts.v[j]),
					(void *)(f + sc->cfg->xh2_hf_value)))
			out->ts.n = GO_TS_LINES + 1; /* unreadable: discarded */
		else if (j >= 0 && j <= GO_TS_LINES)
			out->ts.n = j + 1;
	}
	return 0;
}

static __always_inline void grpc_scan_fields(const struct weft_go_cfg *cfg, __u64 fields, __s64 n,
					     struct grpc_tc_fields *out)
{
	struct grpc_scan sc = {.cfg = cfg, .fields = fields, .n = n, .out = out};

	bpf_loop(GO_GRPC_MAX_FIELDS, grpc_scan_field, &sc, 0);
}

/*
 * A net.Addr interface (itab, data) holding a *net.TCPAddr {IP []byte, Port
 * int, ...} into sa (IPv4-mapped IPv6 as IPv4). Nothing when it is not one of
 * 4 or 16 bytes; any other Addr type fails that check or gives nonsense
 * addresses only (the span's attributes), never a fault in the app.
 */
static __always_inline void read_tcpaddr(const struct weft_go_cfg *cfg, __u64 iface,
					 struct weft_sockaddr *sa)
{
	__u64 a = read_u64(iface + 8), ip, port, hi, lo;
	__s64 n;
	__u8 b[16];

	if (!a || !read_u64(iface) || cfg->tcpaddr_ip < 0 || cfg->tcpaddr_port < 0)
		return;
	ip = read_u64(a + cfg->tcpaddr_ip);
	n = (__s64)read_u64(a + cfg->tcpaddr_ip + 8);
	port = read_u64(a + cfg->tcpaddr_port);
	if (!ip || (n != 4 && n != 16) || port > 65535)
		return;
	if (bpf_probe_read_user(b, sizeof(b), (void *)ip))
		return;
	__builtin_memcpy(&hi, b, 8);
	__builtin_memcpy(&lo, b + 8, 8);
	/* ::ffff:a.b.c.d: eight zero bytes, then 00 00 ff ff (little-endian word) */
	if (n == 4 || (hi == 0 && (__u32)lo == 0xffff0000u)) {
		__builtin_memcpy(sa->addr, n == 4 ? b : b + 12, 4);
		sa->family = 4;
	} else {
		__builtin_memcpy(sa->addr, b, 16);
		sa->family = 6;
	}
	sa->port = (__u16)port;
}

/* operateHeaders(t *http2Server, frame *MetaHeadersFrame, ...): RAX t, RBX frame. */
SEC("uprobe")
int go_grpc_headers_entry(struct pt_regs *ctx)
{
	const struct weft_go_cfg *cfg;
	struct grpc_tc_fields tc = {};
	struct go_run *run;
	struct grpc_in *in;
	struct gkey k = {};
	__u64 t = ctx->ax, frame = ctx->bx, fields;
	__s64 n;
	int tl;

	cfg = go_here(ctx, &k);
	if (!cfg || !frame || cfg->xh2_mh_fields < 0 || cfg->xh2_hf_name < 0 ||
	    cfg->xh2_hf_value < 0)
		return 0;
	fields = read_u64(frame + cfg->xh2_mh_fields);
	n = (__s64)read_u64(frame + cfg->xh2_mh_fields + 8);
	if (!fields || n <= 0)
		return 0;
	run = go_run_state();
	if (!run)
		return 0;
	in = &run->gin;
	__builtin_memset(in, 0, sizeof(*in) - WEFT_TS_MAX);
	grpc_scan_fields(cfg, fields, n, &tc);
	/* Exactly one valid traceparent (W3C: several make it invalid). */
	if (tc.tp.ptr && !tc.dup && go_parse_traceparent(&tc.tp, &in->ctx) == 0 && in->ctx.valid) {
		stat_inc(WEFT_GO_ST_IN_VALID);
		/* its tracestate (only beside a valid traceparent, W3C), parsed as HTTP/1's */
		tl = go_ts_parse_lines(&tc.ts, &run->ts);
		if (tl > 0 && tl <= WEFT_TS_MAX && run->ts.out_len == tl) {
			in->ts_len = (__u16)tl;
			__builtin_memcpy(in->ts, run->ts.out, WEFT_TS_MAX);
		}
	} else {
		if (tc.tp.ptr)
			stat_inc(WEFT_GO_ST_IN_INVALID);
		__builtin_memset(&in->ctx, 0, sizeof(in->ctx));
	}
	if (t && cfg->grpc_srv_local_addr >= 0)
		read_tcpaddr(cfg, t + cfg->grpc_srv_local_addr, &in->local);
	if (t && cfg->grpc_srv_remote_addr >= 0)
		read_tcpaddr(cfg, t + cfg->grpc_srv_remote_addr, &in->peer);
	bpf_map_update_elem(&grpc_in, &k, in, BPF_ANY);
	return 0;
}

SEC("uprobe")
int go_grpc_headers_ret(struct pt_regs *ctx)
{
	struct gkey k = {};

	if (go_here(ctx, &k))
		bpf_map_delete_elem(&grpc_in, &k);
	return 0;
}

/* handleStream(s *Server, t ServerTransport, stream *Stream, ...): RDI stream. */
SEC("uprobe")
int go_grpc_stream_entry(struct pt_regs *ctx)
{
	const struct weft_go_cfg *cfg;
	const struct grpc_in *in;
	struct server_state *st;
	struct go_run *run;
	struct gkey k = {};
	__u64 stream = ctx->di;

	cfg = go_here(ctx, &k);
	if (!cfg || !stream || cfg->grpc_stream_method < 0)
		return 0;
	run = go_run_state();
	if (!run)
		return 0;
	st = &run->st;
	__builtin_memset(st, 0, sizeof(*st));
	grpc_ev_init(&st->ev, k.tgid, WEFT_KIND_SERVER, read_u64(stream + cfg->grpc_stream_method),
		     (__s64)read_u64(stream + cfg->grpc_stream_method + 8));

	in = bpf_map_lookup_elem(&grpc_inh, &k);
	if (in) {
		st->ev.local = in->local;
		st->ev.peer = in->peer;
		if (in->ctx.valid && in->ts_len && in->ts_len <= WEFT_TS_MAX) {
			st->ev.tracestate_len = in->ts_len;
			__builtin_memcpy(st->ev.tracestate, in->ts, WEFT_TS_MAX);
		}
	}
	/*
	 * grpc_inh stays: this entry runs again when the call restarts after
	 * growing the stack (morestack), and must find it again; newproc1
	 * replaces or drops it when the g is reused.
	 */
	span_parent(&st->ev, in ? &in->ctx : NULL, WEFT_PARENT_HEADER);
	weft_bpf_random_span_id(&st->ev.ctx);
	/* for the calls of goroutines its handler spawns (copy_inherited_ts) */
	if (st->ev.tracestate_len)
		span_ts_put(k.tgid, &st->ev, &run->sts);
	bpf_map_update_elem(&servers, &k, st, BPF_ANY);
	return 0;
}

SEC("uprobe")
int go_grpc_stream_ret(struct pt_regs *ctx)
{
	struct server_state *st;
	struct gkey k = {};

	if (!go_here(ctx, &k))
		return 0;
	st = bpf_map_lookup_elem(&servers, &k);
	if (!st || st->ev.proto != WEFT_PROTO_GRPC)
		return 0;
	st->ev.end_ns = bpf_ktime_get_ns();
	emit(&st->ev, WEFT_GO_ST_SERVER);
	bpf_map_delete_elem(&servers, &k);
	return 0;
}

/* WriteStatus(t *http2Server, s *Stream, st *status.Status): RCX st. */
SEC("uprobe")
int go_grpc_status_entry(struct pt_regs *ctx)
{
	const struct weft_go_cfg *cfg;
	struct server_state *st;
	struct gkey k = {};
	__u64 s, status = ctx->cx;
	__u32 code = 0;

	cfg = go_here(ctx, &k);
	if (!cfg || !status || cfg->grpc_status_s < 0 || cfg->grpc_spb_code < 0)
		return 0;
	st = bpf_map_lookup_elem(&servers, &k);
	if (!st || st->ev.proto != WEFT_PROTO_GRPC)
		return 0;
	/* status.Status{s *spb.Status}: a nil s is OK (code 0), as its Code() says. */
	s = read_u64(status + cfg->grpc_status_s);
	if (s && bpf_probe_read_user(&code, sizeof(code), (void *)(s + cfg->grpc_spb_code)))
		return 0;
	if (code > 0xffff)
		return 0;
	st->ev.status = (__u16)code;
	st->ev.flags |= WEFT_SPAN_RPC_STATUS;
	return 0;
}

/* The gRPC CLIENT span of the running goroutine, or NULL. */
static __always_inline struct client_state *grpc_client(struct pt_regs *ctx, struct gkey *k,
							 const struct weft_go_cfg **cfg)
{
	struct client_state *cl;

	*cfg = go_here(ctx, k);
	if (!*cfg)
		return NULL;
	cl = bpf_map_lookup_elem(&clients, k);
	return cl && cl->ev.proto == WEFT_PROTO_GRPC ? cl : NULL;
}

/* A gRPC CLIENT span starts in goroutine k for the method (ptr, len). */
static __always_inline int grpc_call_start(struct pt_regs *ctx, __u64 mptr, __s64 mlen)
{
	const struct weft_trace_ctx *p;
	struct client_state *cl;
	struct go_run *run;
	struct gkey k = {};
	__u8 src = 0;

	if (!go_here(ctx, &k))
		return 0;
	run = go_run_state();
	if (!run)
		return 0;
	cl = &run->cl;
	__builtin_memset(cl, 0, sizeof(*cl));
	grpc_ev_init(&cl->ev, k.tgid, WEFT_KIND_CLIENT, mptr, mlen);
	p = parent_ctx(&k, &src);
	span_parent(&cl->ev, p, src);
	/* the served request's tracestate goes on with the call's context */
	if (p && p->valid && !copy_server_ts(&k, &cl->ev))
		copy_inherited_ts(k.tgid, p, &cl->ev);
	weft_bpf_random_span_id(&cl->ev.ctx);
	bpf_map_update_elem(&clients, &k, cl, BPF_ANY);
	return 0;
}

/*
 * A gRPC CLIENT span ends: its status is the one the server sent, read from
 * the call's transport stream (Stream.status -> Status.s -> Code); without
 * one, OK unless failed (then Unknown, 2: no stream, a local failure).
 */
static __always_inline void grpc_call_end(const struct weft_go_cfg *cfg, struct client_state *cl,
					  bool failed)
{
	__u64 st = 0, s = 0;
	__u32 code = 0;

	cl->ev.end_ns = bpf_ktime_get_ns();
	if (cl->stream && cfg->grpc_stream_status >= 0 && cfg->grpc_status_s >= 0 &&
	    cfg->grpc_spb_code >= 0)
		st = read_u64(cl->stream + cfg->grpc_stream_status);
	if (st)
		s = read_u64(st + cfg->grpc_status_s);
	if (s && bpf_probe_read_user(&code, sizeof(code), (void *)(s + cfg->grpc_spb_code)))
		code = 0;
	if (code > 0xffff || (!st && failed))
		code = 2;
	cl->ev.status = (__u16)code;
	cl->ev.flags |= WEFT_SPAN_RPC_STATUS;
	/*
	 * Its stream's published context, if weft-http did not use it; its
	 * header array's entry, if the loopy writer never took it (a failed
	 * call: the array may be reused once collected).
	 */
	if (cl->hf) {
		struct gkey hk = {.tgid = cl->ev.pid, .g = cl->hf};
		const struct grpc_hdr *gh = bpf_map_lookup_elem(&grpc_hdrs, &hk);

		/*
		 * Only if it is still this call's: once written, the array may
		 * be collected and reused by another call, whose entry it is now.
		 */
		if (gh && weft_span_id_eq(gh->ctx.span_id, cl->ev.ctx.span_id))
			bpf_map_delete_elem(&grpc_hdrs, &hk);
	}
	if (cl->cookie && cl->stream && cfg->grpc_stream_id >= 0) {
		__u32 sid;

		if (!bpf_probe_read_user(&sid, sizeof(sid),
					 (void *)(cl->stream + cfg->grpc_stream_id)))
			go_stream_forget(cl->cookie, cl->ev.pid, sid);
	}
	emit(&cl->ev, WEFT_GO_ST_CLIENT);
}

/* Invoke(cc *ClientConn, ctx context.Context, method string, ...): RDI:RSI method. */
SEC("uprobe")
int go_grpc_invoke_entry(struct pt_regs *ctx)
{
	return grpc_call_start(ctx, ctx->di, (__s64)ctx->si);
}

/* ClientConn.NewStream(cc, ctx context.Context, desc *StreamDesc, method string, ...): RSI:R8 method. */
SEC("uprobe")
int go_grpc_newcall_entry(struct pt_regs *ctx)
{
	return grpc_call_start(ctx, ctx->si, (__s64)ctx->r8);
}

/* NewStream(t *http2Client, ...) entry: RAX t. */
SEC("uprobe")
int go_grpc_newstream_entry(struct pt_regs *ctx)
{
	const struct weft_go_cfg *cfg;
	struct client_state *cl;
	struct gkey k = {};
	__u64 t = ctx->ax;

	cl = grpc_client(ctx, &k, &cfg);
	if (!cl || !t)
		return 0;
	if (cfg->grpc_cli_local_addr >= 0)
		read_tcpaddr(cfg, t + cfg->grpc_cli_local_addr, &cl->ev.local);
	if (cfg->grpc_cli_remote_addr >= 0)
		read_tcpaddr(cfg, t + cfg->grpc_cli_remote_addr, &cl->ev.peer);
	/* read-only mode: the connection's cookie, for the stream's published context */
	cl->cookie = 0;
	if ((cfg->flags & WEFT_GO_CFG_PUBLISH) && cfg->grpc_cli_conn >= 0)
		cl->cookie = go_tcpconn_cookie(cfg, read_u64(t + cfg->grpc_cli_conn + 8));
	return 0;
}

/*
 * Whether the n fields at fields are a grpc-go client request's, read with
 * this binary's HeaderField offsets: all of them within the scan's reach, the
 * first ":method: POST" (createHeaderFields puts it first). With writes, this
 * checks at run time the offsets the app-set scan used.
 */
static __always_inline bool grpc_hf_request(const struct weft_go_cfg *cfg, __u64 fields, __s64 n)
{
	const char want[11] = ":methodPOST";
	struct go_string name, value;
	char s[11] = {};
	__u8 d = 0;

	if (n < 1 || n > GO_GRPC_MAX_FIELDS || field_name(cfg, fields, 0, &name) ||
	    bpf_probe_read_user(&value, sizeof(value), (void *)(fields + cfg->xh2_hf_value)))
		return false;
	if (name.len != 7 || value.len != 4 || !name.ptr || !value.ptr ||
	    bpf_probe_read_user(s, 7, (void *)name.ptr) ||
	    bpf_probe_read_user(s + 7, 4, (void *)value.ptr))
		return false;
	for (int i = 0; i < 11; i++)
		d |= (__u8)(s[i] ^ want[i]);
	return !d;
}

/*
 * createHeaderFields RETs: RAX:RBX:RCX the stream's []hpack.HeaderField,
 * RDI:RSI the error. The app's own metadata is in it: an app-set traceparent
 * (metadata.AppendToOutgoingContext) is what the callee continues, so the
 * CLIENT span says so (WEFT_SPAN_APP_CONTEXT) and nothing is published or
 * written for the stream (weft-http would leave its block alone anyway).
 * Otherwise, with writes or in read-only mode, the CLIENT span's context and
 * tracestate (none when the app set a tracestate of its own) wait under the
 * array for the loopy writer (see the top of this file).
 */
SEC("uprobe")
int go_grpc_hf_ret(struct pt_regs *ctx)
{
	const struct weft_go_cfg *cfg;
	struct grpc_tc_fields tc = {};
	struct client_state *cl;
	struct grpc_hdr *h;
	struct go_run *run;
	struct gkey k = {}, hk = {};

	cl = grpc_client(ctx, &k, &cfg);
	if (!cl || !ctx->ax || ctx->di)
		return 0;
	if (cfg->xh2_hf_name >= 0 && cfg->xh2_hf_value >= 0)
		grpc_scan_fields(cfg, ctx->ax, (__s64)ctx->bx, &tc);
	if (tc.tp.ptr) {
		/* a retry builds the fields again: counted once per call */
		if (!cl->app_set)
			stat_inc(WEFT_GO_ST_STREAM_APPSET);
		cl->app_set = 1;
		cl->ev.flags |= WEFT_SPAN_APP_CONTEXT;
		return 0;
	}
	if (cfg->flags & WEFT_GO_CFG_GRPC_WRITE) {
		if (!cl->ev.ctx.valid)
			return 0;
		if (!grpc_hf_request(cfg, ctx->ax, (__s64)ctx->bx)) {
			stat_inc(WEFT_GO_ST_GRPCW_SKIP_FIELDS);
			return 0;
		}
	} else if (!(cfg->flags & WEFT_GO_CFG_PUBLISH)) {
		return 0;
	} else if (!cl->cookie || !cl->ev.ctx.valid) {
		/* not plain TCP, or no cookie: no weft-http enrolled the socket */
		stat_inc(WEFT_GO_ST_STREAM_SKIP);
		return 0;
	}
	run = go_run_state();
	if (!run)
		return 0;
	h = &run->gh;
	__builtin_memset(h, 0, sizeof(*h) - WEFT_TS_MAX);
	hk.tgid = k.tgid;
	hk.g = ctx->ax;
	h->ctx = cl->ev.ctx;
	h->cookie = cl->cookie;
	h->n = ctx->bx;
	h->ts_len = cl->ev.tracestate_len <= WEFT_TS_MAX && !tc.ts.n ? cl->ev.tracestate_len : 0;
	__builtin_memcpy(h->ts, cl->ev.tracestate, WEFT_TS_MAX);
	cl->hf = ctx->ax;
	bpf_map_update_elem(&grpc_hdrs, &hk, h, BPF_ANY);
	return 0;
}

/*
 * (*loopyWriter).writeHeader(l, streamID uint32, endStream bool, hf
 * []hpack.HeaderField, onWrite func()): at originateStream's CALL of it
 * where the record has that site (its arguments set, as at the entry), else
 * at its entry: RBX streamID, RDI hf's array. A client stream's first
 * HEADERS: publish its context under {cookie, tgid, id}, or with writes park
 * it for this goroutine's next (*Framer).endWrite, the one of this HEADERS
 * frame (go_h2write.bpf.c). At the entry, server responses and trailers pass
 * too: their hf is no key.
 */
SEC("uprobe")
int go_grpc_whdr_entry(struct pt_regs *ctx)
{
	const struct weft_go_cfg *cfg;
	struct weft_stream_key sk = {};
	struct weft_conn_ctx *cc;
	struct grpc_hdr *h;
	struct go_run *run;
	struct gkey k = {};
	__u32 sid = (__u32)ctx->bx;

	cfg = go_here(ctx, &k);
	if (!cfg || !ctx->di)
		return 0;
	k.g = ctx->di;
	h = bpf_map_lookup_elem(&grpc_hdrs, &k);
	if (!h)
		return 0;
	/* client streams are odd (RFC 9113 5.1.1); the same slice as built */
	if ((cfg->flags & WEFT_GO_CFG_GRPC_WRITE) && (sid & 1) && h->n == ctx->si) {
		struct gkey wk = {.tgid = k.tgid, .g = ctx->r14};

		h->sid = sid;
		bpf_map_update_elem(&grpc_h2w, &wk, h, BPF_ANY);
		bpf_map_delete_elem(&grpc_hdrs, &k);
		return 0;
	}
	run = (cfg->flags & WEFT_GO_CFG_PUBLISH) && (sid & 1) && h->n == ctx->si ? go_run_state()
										    : NULL;
	if (run) {
		cc = &run->cc;
		__builtin_memset(cc, 0, sizeof(*cc) - WEFT_TS_MAX);
		cc->ctx = h->ctx;
		cc->ts_ns = bpf_ktime_get_ns();
		cc->version = WEFT_CONN_CTX_VERSION;
		/* weft-http inserts it beside the traceparent (unless the app set one) */
		cc->tracestate_len = h->ts_len <= WEFT_TS_MAX ? h->ts_len : 0;
		__builtin_memcpy(cc->tracestate, h->ts, WEFT_TS_MAX);
		sk.cookie = h->cookie;
		sk.tgid = k.tgid;
		sk.sid = sid;
		bpf_map_update_elem(&go_stream_ctx, &sk, cc, BPF_ANY);
		stat_inc(WEFT_GO_ST_STREAM_PUBLISHED);
	}
	bpf_map_delete_elem(&grpc_hdrs, &k);
	return 0;
}

/* NewStream RETs: RAX the *Stream (nil on error). A retry's stream replaces it. */
SEC("uprobe")
int go_grpc_newstream_ret(struct pt_regs *ctx)
{
	const struct weft_go_cfg *cfg;
	struct client_state *cl;
	struct gkey k = {};

	cl = grpc_client(ctx, &k, &cfg);
	if (cl && ctx->ax)
		cl->stream = ctx->ax;
	return 0;
}

/* Invoke RETs: RAX:RBX the error. */
SEC("uprobe")
int go_grpc_invoke_ret(struct pt_regs *ctx)
{
	const struct weft_go_cfg *cfg;
	struct client_state *cl;
	struct gkey k = {};

	cl = grpc_client(ctx, &k, &cfg);
	if (!cl)
		return 0;
	grpc_call_end(cfg, cl, ctx->ax != 0);
	bpf_map_delete_elem(&clients, &k);
	return 0;
}

/*
 * ClientConn.NewStream RETs: RAX:RBX the ClientStream (its data word the
 * *clientStream), RCX:RDI the error. The span moves to grpc_calls, keyed by
 * the clientStream, until the stream finishes; a failed start ends it here.
 */
SEC("uprobe")
int go_grpc_newcall_ret(struct pt_regs *ctx)
{
	const struct weft_go_cfg *cfg;
	struct client_state *cl;
	struct gkey k = {}, sk = {};

	cl = grpc_client(ctx, &k, &cfg);
	if (!cl)
		return 0;
	if (ctx->cx || !ctx->bx) {
		grpc_call_end(cfg, cl, true);
	} else {
		sk.tgid = k.tgid;
		sk.g = ctx->bx;
		bpf_map_update_elem(&grpc_calls, &sk, cl, BPF_ANY);
	}
	bpf_map_delete_elem(&clients, &k);
	return 0;
}

/* (*clientStream).finish(cs, err error): RAX cs, RBX:RCX err (io.EOF: the normal end). */
SEC("uprobe")
int go_grpc_finish_entry(struct pt_regs *ctx)
{
	const struct weft_go_cfg *cfg;
	struct client_state *cl;
	struct gkey k = {};

	cfg = go_here(ctx, &k);
	if (!cfg || !ctx->ax)
		return 0;
	k.g = ctx->ax;
	cl = bpf_map_lookup_elem(&grpc_calls, &k);
	if (!cl)
		return 0; /* a unary call's stream, or not ours */
	grpc_call_end(cfg, cl, false);
	bpf_map_delete_elem(&grpc_calls, &k);
	return 0;
}

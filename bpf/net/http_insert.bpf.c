// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft-http, outgoing requests: the sockops program enrols connections, the
 * sk_msg program inserts traceparent (and the served tracestate) into each
 * request and queues its CLIENT span (the states START, HDR, CHUNK, PASS:
 * http_shared.bpf.h). http_observe.bpf.c ends the spans at the responses.
 */
#define WEFT_LINK_EXTERN
#include "net/http_shared.bpf.h"
#include "net/http_client.bpf.h"

/*
 * ---------------------------------------------------------------- sockops
 * Only outgoing connections of the target cgroup (where this program is
 * attached) are enrolled, at ACTIVE_ESTABLISHED; with --pid, only those whose
 * connect() was called by a target process (TCP_CONNECT_CB runs in it).
 */

SEC("sockops")
int weft_http_sockops(struct bpf_sock_ops *skops)
{
	struct conn_state *st;
	struct bpf_sock *sk;
	__u64 cookie;

	if (skops->family != AF_INET && skops->family != AF_INET6)
		return 1;
	sk = skops->sk;
	if (!sk)
		return 1;
	if (skops->op == BPF_SOCK_OPS_TCP_CONNECT_CB) {
		/* connect() runs in the calling process: the place to apply --pid */
		if (!filter_pids)
			return 1;
		st = bpf_sk_storage_get(&conn, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (st && weft_pid_targeted(bpf_get_current_pid_tgid() >> 32))
			st->pid_checked = 1;
		return 1;
	}
	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		return 1;
	st = bpf_sk_storage_get(&conn, sk, 0, filter_pids ? 0 : BPF_SK_STORAGE_GET_F_CREATE);
	if (!st || (filter_pids && !st->pid_checked))
		return 1;	/* --pid given and not one of them: never enrolled */
	cookie = bpf_get_socket_cookie(skops);
	st->cookie = cookie;
	st->phase = PH_START;
	if (bpf_sock_hash_update(skops, &sock_map, &cookie, BPF_NOEXIST))
		count(WH_ERRORS);
	return 1;
}

/* ----------------------------------------------------------------- sk_msg */

static __always_inline int drop_conn(struct sk_msg_md *msg, struct conn_state *st, __u32 why)
{
	struct weft_http_notice *n;

	st->phase = PH_PASS;
	bpf_msg_apply_bytes(msg, 0);
	count(why);
	n = bpf_ringbuf_reserve(&notices, sizeof(*n), 0);
	if (n) {
		n->cookie = st->cookie;
		bpf_ringbuf_submit(n, 0);
	}
	return SK_PASS;
}

/* Copy the first n bytes of the message into the scratch buffer; returns n or -1. */
static __always_inline int msg_copy(struct sk_msg_md *msg, char *buf, __u32 n)
{
	void *data, *data_end;
	__u32 have;

	if (n > WEFT_SCRATCH_SZ)
		n = WEFT_SCRATCH_SZ;
	if (!n)
		return 0;
	if (bpf_msg_pull_data(msg, 0, n, 0))
		return -1;
	data = (void *)(long)msg->data;
	data_end = (void *)(long)msg->data_end;
	have = data_end - data;
	if (have < n)
		n = have;
	weft_barrier_var(n);
	n &= 2 * WEFT_SCRATCH_SZ - 1;
	if (n > WEFT_SCRATCH_SZ || n == 0)
		return -1;
	if (bpf_probe_read_kernel(buf, n, data))
		return -1;
	return n;
}

static __always_inline void fill_peer(struct weft_sockaddr *a, struct sk_msg_md *msg, bool local)
{
	if (msg->family == AF_INET) {
		__u32 ip = local ? msg->local_ip4 : msg->remote_ip4;

		__builtin_memcpy(a->addr, &ip, 4);
		a->family = 4;
	} else if (msg->family == AF_INET6) {
		if (local) {
			__u32 w0 = msg->local_ip6[0], w1 = msg->local_ip6[1];
			__u32 w2 = msg->local_ip6[2], w3 = msg->local_ip6[3];

			__builtin_memcpy(a->addr, &w0, 4);
			__builtin_memcpy(a->addr + 4, &w1, 4);
			__builtin_memcpy(a->addr + 8, &w2, 4);
			__builtin_memcpy(a->addr + 12, &w3, 4);
		} else {
			__u32 w0 = msg->remote_ip6[0], w1 = msg->remote_ip6[1];
			__u32 w2 = msg->remote_ip6[2], w3 = msg->remote_ip6[3];

			__builtin_memcpy(a->addr, &w0, 4);
			__builtin_memcpy(a->addr + 4, &w1, 4);
			__builtin_memcpy(a->addr + 8, &w2, 4);
			__builtin_memcpy(a->addr + 12, &w3, 4);
		}
		a->family = 6;
	}
	/* remote_port: network byte order in the upper 16 bits; local_port: host order */
	if (local)
		a->port = (__u16)msg->local_port;
	else if (msg->remote_port >> 16)
		a->port = bpf_ntohs((__u16)(msg->remote_port >> 16));
	else
		a->port = bpf_ntohs((__u16)msg->remote_port);
}

/* The fields every CLIENT span event of this program starts with. */
static __always_inline void client_ev_start(struct weft_span_event *ev, struct sk_msg_md *msg,
					    __u64 pid_tgid, __u8 proto)
{
	ev->start_ns = bpf_ktime_get_ns();
	ev->pid = pid_tgid >> 32;
	ev->tid = (__u32)pid_tgid;
	ev->kind = WEFT_KIND_CLIENT;
	ev->proto = proto;
	ev->injector = WEFT_INJ_HTTP;
	fill_peer(&ev->peer, msg, false);
	fill_peer(&ev->local, msg, true);
}

/*
 * The request an outgoing request written by thread pid_tgid on fd belongs
 * to: a runtime rule's tie of the connection first, else the thread's served
 * request where that is certain (server_ctx.bpf.h); NULL: none, a new trace
 * (counted by reason when count_why).
 */
static __always_inline struct weft_server_ctx *served_request(__u64 pid_tgid, __s32 fd,
							      bool count_why)
{
	struct weft_server_ctx *sc;
	__u8 why;

	sc = weft_rt_parent(pid_tgid, fd);
	if (sc) {
		if (count_why)
			count(WH_RT_PARENT);
		return sc;
	}
	sc = weft_sctx_served(pid_tgid, &why);
	if (!sc && count_why)
		count(why == WEFT_SCTX_EVENT_LOOP    ? WH_NEW_LOOP
		      : why == WEFT_SCTX_TWO_IN_FLIGHT ? WH_NEW_TWO
						       : WH_NEW_IDLE);
	return sc;
}

/*
 * Write the 70-byte traceparent line for ctx at offset off of the message,
 * followed, in the same push, by "tracestate: <ts>\r\n" when ts is given
 * (tl bytes).
 * Returns the bytes inserted, or -1. A global function: the verifier checks
 * its byte loop once, not on every path of the caller.
 */
struct ts_chars {
	char c[WEFT_TS_MAX];
};

/*
 * bpf_msg_push_data splits the message's buffer at the insertion point, and
 * the kernel hands each piece to TCP as a send of its own: with Nagle on (a
 * socket without TCP_NODELAY, e.g. nginx's upstreams) the piece after the
 * request line then waits for the ACK of the first, which a peer on a reused
 * connection delays (~40 ms a request). Copy a message of up to
 * WEFT_JOIN_MAX bytes back into one piece, so it leaves in one send as the
 * app wrote it; a larger one was several pieces already.
 */
#define WEFT_JOIN_MAX 16384

static __always_inline void join_pieces(struct sk_msg_md *msg)
{
	__u32 size = msg->size;

	if (size <= WEFT_JOIN_MAX && bpf_msg_pull_data(msg, 0, size, 0))
		count(WH_ERRORS);
}

/*
 * Room for n bytes at offset off of the message, pulled into one piece at
 * *data (up to *end, which may leave less than n: check): 0, or -1.
 */
static __always_inline int msg_room(struct sk_msg_md *msg, __u32 off, __u32 n, char **data,
				    char **end)
{
	if (bpf_msg_push_data(msg, off, n, 0) || bpf_msg_pull_data(msg, off, off + n, 0))
		return -1;
	*data = (void *)(long)msg->data;
	*end = (void *)(long)msg->data_end;
	return 0;
}

/* The tl characters of ts written at q, short of data_end: 0, or -1. */
static __always_inline int put_ts(char *q, const char *data_end, const struct ts_chars *ts,
				  __u32 tl)
{
	for (__u32 i = 0; i < WEFT_TS_MAX; i++) {
		if (i >= tl)
			break;
		if (q + i + 1 > data_end)
			return -1;
		q[i] = ts->c[i & (WEFT_TS_MAX - 1)];
	}
	return 0;
}

__attribute__((noinline)) int insert_tp(struct sk_msg_md *msg, __u32 off,
					const struct weft_trace_ctx *ctx, const struct ts_chars *ts,
					__u32 tl)
{
	__u32 n;
	char *data, *data_end, *q;

	if (!msg || !ctx)
		return -1;
	if (!ts || tl > WEFT_TS_MAX)
		tl = 0;
	n = WEFT_TP_LINE_LEN + (tl ? WEFT_TS_HEADER_LEN + tl + 2 : 0);
	if (msg_room(msg, off, n, &data, &data_end) || data + WEFT_TP_LINE_LEN > data_end)
		return -1;
	__builtin_memcpy(data, WEFT_TP_HEADER, WEFT_TP_HEADER_LEN);
	weft_tp_format(data + WEFT_TP_HEADER_LEN, ctx);
	data[WEFT_TP_LINE_LEN - 2] = '\r';
	data[WEFT_TP_LINE_LEN - 1] = '\n';
	if (!tl) {
		join_pieces(msg);
		return n;
	}
	if (data + WEFT_TP_LINE_LEN + WEFT_TS_HEADER_LEN > data_end)
		return -1;
	__builtin_memcpy(data + WEFT_TP_LINE_LEN, WEFT_TS_HEADER, WEFT_TS_HEADER_LEN);
	if (put_ts(data + WEFT_TP_LINE_LEN + WEFT_TS_HEADER_LEN, data_end, ts, tl))
		return -1;
	q = data + WEFT_TP_LINE_LEN + WEFT_TS_HEADER_LEN + (tl & (2 * WEFT_TS_MAX - 1));
	if (q + 2 > data_end)
		return -1;
	q[0] = '\r';
	q[1] = '\n';
	join_pieces(msg);
	return n;
}

/* Where the outgoing request's own headers are (found in its header block). */
struct hdr_find_ctx {
	struct weft_scratch *sc;
	__u32 pos;
	__u32 end;
	__u32 tp_off;	/* the traceparent value (after OWS); 0: none */
	__u32 ts_n;	/* tracestate header lines */
};

static long hdr_find_cb(__u32 i, void *data)
{
	struct hdr_find_ctx *hc = data;
	__u32 p = hc->pos;
	int lf;

	if (p >= hc->end)
		return 1;
	lf = weft_find_lf(hc->sc, p, hc->end);
	if (lf < 0)
		return 1;
	hc->pos = lf + 1;
	if (weft_name_is(hc->sc->buf, p, "traceparent:", 12))
		hc->tp_off = weft_skip_ows(hc->sc->buf, p + 12, lf);
	else if (weft_name_is(hc->sc->buf, p, "tracestate:", 11))
		hc->ts_n++;
	return 0;
}

/*
 * A forwarded traceparent (the same trace id and parent id as the incoming
 * header of the request being served: a proxy copying it) is replaced in
 * place by out: the 55 bytes at off, nothing else moves. The bytes there must
 * be the value the scanner parsed (s->tp, checked again here). 0, or -1
 * (untouched). A global function, verified once.
 */
__attribute__((noinline)) int replace_tp(struct sk_msg_md *msg, struct weft_scratch *sc, __u32 off,
					 const struct weft_http_scan *s,
					 const struct weft_trace_ctx *out)
{
	char *data, *data_end;
	__u8 d = 0;

	if (!msg || !sc || !s || !out || !off || off + WEFT_TRACEPARENT_LEN > WEFT_SCRATCH_SZ)
		return -1;
	for (__u32 i = 0; i < WEFT_TRACEPARENT_LEN; i++)
		d |= sc->buf[(off + i) & WEFT_SCRATCH_MASK] ^ s->tp[i];
	if (d)
		return -1;
	if (bpf_msg_pull_data(msg, off, off + WEFT_TRACEPARENT_LEN, 0))
		return -1;
	data = (void *)(long)msg->data;
	data_end = (void *)(long)msg->data_end;
	if (data + WEFT_TRACEPARENT_LEN > data_end)
		return -1;
	weft_tp_format(data, out);
	return 0;
}

/* weft-go's context for connection k when it says the request forwards tp. */
static __always_inline struct weft_conn_ctx *go_fwd_ctx(struct weft_conn_key *k,
							const struct weft_trace_ctx *tp)
{
	struct weft_conn_ctx *gc;

	if (k->fd < 0)
		return NULL;
	gc = bpf_map_lookup_elem(&go_conn_ctx, k);
	if (!gc || !gc->ctx.valid || !gc->forwarded || !weft_trace_id_eq(gc->ctx.trace_id, tp->trace_id) ||
	    !weft_span_id_eq(gc->fwd_span_id, tp->span_id))
		return NULL;
	return gc;
}

/*
 * A complete request header block is in the scanner: decide, insert, arrange
 * the body. sc: this message's bytes (the CPU's scratch); base: the offset in
 * the request of this message's first byte (non-zero when the block began in
 * an earlier write: its bytes are gone, so nothing before base is looked at).
 * A global function: called from three places, verified once (Debian 6.1's
 * verifier has little room left for this program).
 */
__attribute__((noinline)) int request_done(struct sk_msg_md *msg, struct conn_state *st,
					   struct weft_scratch *sc, __u32 base)
{
	struct weft_http_scan *s;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct hdr_find_ctx hc = { .sc = sc };
	struct weft_server_ctx *sctx;
	struct srv_ts *ts = NULL;
	__u32 zero = 0, ins = 0;
	struct client_pending *cp;
	struct weft_conn_key gk;
	struct weft_conn_ctx *gc = NULL;
	struct fd_key fk;
	__s32 *fdp;
	__u64 apply;
	bool emit = true;
	int r;

	if (!msg || !st || !sc)
		return SK_PASS;
	s = &st->scan;
	hc.pos = s->reqline_end;
	hc.end = s->hdr_end;
	/* a body we might frame differently from the server: hands off for good */
	if (weft_http_scan_framing(s))
		return drop_conn(msg, st, WH_BAD_FRAMING);
	cp = bpf_map_lookup_elem(&cp_tmp, &zero);
	if (!cp)
		return SK_PASS;
	__builtin_memset(cp, 0, sizeof(*cp));
	fdp = bpf_map_lookup_elem(&cur_fd, &pid_tgid);
	fk.tgid = pid_tgid >> 32;
	fk.fd = fdp ? *fdp : -1;
	gk.tgid = fk.tgid;
	gk.fd = fk.fd;
	if (go_owned(fk.tgid))
		emit = false;	/* until below, !emit says go_owned */

	/* the request's own traceparent value and tracestate lines: found only
	 * when needed (a forwarded header to replace, a tracestate to add) */
	if (weft_have_bpf_loop && !base && (s->tp_count == 1 || !emit || srv_ts_maybe(pid_tgid)))
		bpf_loop(WEFT_LINES_MAX, hdr_find_cb, &hc, 0);
	/* the served request only where certain; reasons counted where weft inserts */
	sctx = served_request(pid_tgid, fk.fd, !s->tp_count && emit);
	if (s->tp_count > 1) {
		/* traceparent twice: not ours to fix, the request leaves untouched */
		count(WH_TP_TWICE);
		emit = false;
	} else if (s->tp_count && weft_http_scan_tp(s, &cp->ev.ctx)) {
		count(WH_LEFT_ALONE);
		emit = false;
	} else if (s->tp_count && (gc = go_fwd_ctx(&gk, &cp->ev.ctx))) {
		/* weft-go: the Go app forwarded the served request's header */
		if (replace_tp(msg, sc, hc.tp_off, s, &gc->ctx)) {
			count(WH_LEFT_ALONE);
		} else {
			count(WH_GO_CTX);
			count(WH_REPLACED);
		}
		bpf_map_delete_elem(&go_conn_ctx, &gk);
		emit = false;
	} else if (s->tp_count && sctx && sctx->parent_src == WEFT_PARENT_HEADER &&
		   weft_trace_id_eq(sctx->ctx.trace_id, cp->ev.ctx.trace_id) &&
		   weft_span_id_eq(sctx->parent_span_id, cp->ev.ctx.span_id)) {
		/* forwarded (a proxy copied the incoming header): the CLIENT span's
		 * context in the same 55 bytes; untouched and no span if that fails */
		weft_sctx_client(sctx, &cp->ev.ctx, cp->ev.parent_span_id, &cp->ev.parent_src);
		if (replace_tp(msg, sc, hc.tp_off, s, &cp->ev.ctx)) {
			count(WH_LEFT_ALONE);
			emit = false;
		} else {
			cp->ev.flags |= WEFT_SPAN_WRITTEN;
			ev_set_ts(&cp->ev, srv_ts_get(pid_tgid, sctx->ctx.span_id));
			count(WH_REPLACED);
		}
	} else if (s->tp_count) {
		/* the app set traceparent: leave the request alone, use its context */
		count(WH_LEFT_ALONE);
		if (sctx && weft_trace_id_eq(sctx->ctx.trace_id, cp->ev.ctx.trace_id)) {
			__builtin_memcpy(cp->ev.parent_span_id, sctx->ctx.span_id, WEFT_SPAN_ID_LEN);
			ev_set_ts(&cp->ev, srv_ts_get(pid_tgid, sctx->ctx.span_id));
		}
		cp->ev.parent_src = WEFT_PARENT_HEADER;
	} else if (s->reqline_end <= base) {
		/* the request line left in an earlier write, before we knew the block */
		count(WH_SPLIT);
		goto body;
	} else {
		gc = fk.fd >= 0 ? bpf_map_lookup_elem(&go_conn_ctx, &gk) : NULL;
		if (gc && gc->ctx.valid) {
			/* weft-go emits this CLIENT span; we only write its header */
			cp->ev.ctx = gc->ctx;
			cp->ev.parent_src = WEFT_PARENT_INJECTOR;
			emit = false;
			count(WH_GO_CTX);
		} else if (!emit) {
			/* a weft-go process without a published context: fail closed */
			count(WH_LEFT_ALONE);
			goto body;
		} else {
			weft_sctx_client(sctx, &cp->ev.ctx, cp->ev.parent_span_id, &cp->ev.parent_src);
			if (sctx)
				ts = srv_ts_get(pid_tgid, sctx->ctx.span_id);
			ev_set_ts(&cp->ev, ts);
		}
		/* the served tracestate beside it, unless the request has its own */
		if (hc.ts_n)
			r = insert_tp(msg, s->reqline_end - base, &cp->ev.ctx, NULL, 0);
		else if (gc && gc->ctx.valid)
			r = insert_tp(msg, s->reqline_end - base, &cp->ev.ctx,
				      (const struct ts_chars *)gc->tracestate, gc->tracestate_len);
		else
			r = insert_tp(msg, s->reqline_end - base, &cp->ev.ctx,
				      ts ? (const struct ts_chars *)ts->ts : NULL, ts ? ts->len : 0);
		if (gc && gc->ctx.valid)
			bpf_map_delete_elem(&go_conn_ctx, &gk); /* used once */
		if (r < 0) {
			count(WH_ERRORS);
			return drop_conn(msg, st, WH_GIVE_UP);
		}
		ins = r;
		cp->ev.flags |= WEFT_SPAN_WRITTEN;
		count(WH_INSERTED);
	}

	if (emit && fk.fd >= 0) {
		client_ev_start(&cp->ev, msg, pid_tgid, WEFT_PROTO_HTTP1);
		cp->ev.truncated = s->truncated;
		cp->ev.method_len = s->method_len;
		cp->ev.path_len = s->path_len;
		__builtin_memcpy(cp->ev.method, s->method, WEFT_METHOD_MAX);
		__builtin_memcpy(cp->ev.path, s->path, WEFT_PATH_MAX);
		client_push(&fk, st->cookie, cp);
	}

body:
	apply = (__u64)s->hdr_end - base + ins;
	if (s->chunked) {
		st->phase = PH_CHUNK;
		st->ck = CK_SIZE0;
		st->ck_size = 0;
		st->ck_line = 0;
	} else if (s->cl_seen) {
		if (s->content_length > (1ULL << 31))
			return drop_conn(msg, st, WH_GIVE_UP);
		apply += s->content_length;
		st->phase = PH_START;
	} else {
		st->phase = PH_START;
	}
	st->seen_request = 1;
	bpf_msg_apply_bytes(msg, (__u32)apply);
	return SK_PASS;
}

/*
 * The kernel keeps a message's apply_bytes from one program run to the next
 * over the same message (a run after an earlier apply ended inside it): set
 * it on every run, 0 meaning "all of this message, then run again". A stale
 * value would let bytes of the next write pass unparsed.
 */
static __always_inline void set_apply(struct sk_msg_md *msg, __u32 bytes)
{
	bpf_msg_apply_bytes(msg, bytes);
}

/*
 * What msg_work returns when a request's header block is complete: its
 * caller runs request_done (one call site, and msg_work's stack is not added
 * to request_done's); base as request_done takes it.
 */
#define MSG_DONE(base)	  (-(int)(base) - 1)
#define MSG_DONE_BASE(r) ((__u32)(-(r) - 1))

#include "net/http_chunk.bpf.h"
#include "net/http2_out.bpf.h"

/*
 * A header block that began in an earlier write goes on at buf[0, n): its
 * bytes pass at once; the scanner keeps its place for the next write.
 */
static __always_inline int header_resume(struct sk_msg_md *msg, struct conn_state *st,
					 const char *buf, __u32 n)
{
	__u32 before = st->scan.pos;
	int r;

	/* the byte scanner unrolled is too big for sk_msg: whole blocks only */
	if (!weft_have_bpf_loop)
		return drop_conn(msg, st, WH_GIVE_UP);
	r = weft_http_scan_run_g(&st->scan, (struct weft_scratch *)buf, 0, n);
	if (r == WEFT_SCAN_DONE)
		return MSG_DONE(before);
	if (r == WEFT_SCAN_BAD)
		return drop_conn(msg, st, st->scan.reqline_end ? WH_GIVE_UP : WH_NOT_HTTP);
	st->phase = PH_HDR;
	set_apply(msg, 0);
	return SK_PASS;
}

/*
 * One message of an enrolled HTTP/1 connection, with the CPU's sk_msg
 * scratch held: a verdict, or MSG_DONE. A global function, so that its stack
 * and h2_run's are not added up.
 */
__attribute__((noinline)) int msg_work(struct sk_msg_md *msg, struct conn_state *st,
				       struct weft_scratch *sc)
{
	__u32 size, want;
	char *buf;
	int n, r;

	if (!msg || !st || !sc)
		return SK_PASS;
	buf = sc->buf;
	size = msg->size;
	want = size < WEFT_HDR_MAX ? size : WEFT_HDR_MAX;
	if (st->phase == PH_CHUNK && want > 256)
		want = 256;	/* size lines are short; longer ones resume in the next run */
	n = msg_copy(msg, buf, want);
	if (n <= 0) {
		count(WH_ERRORS);
		return drop_conn(msg, st, WH_GIVE_UP);
	}
	if (st->phase == PH_CHUNK)
		return chunk_run(msg, st, buf, n);
	if (st->phase == PH_HDR)
		return header_resume(msg, st, buf, n);

	/* PH_START */
	if (!weft_http_method_prefix(buf, n))
		return drop_conn(msg, st, st->seen_request ? WH_GIVE_UP : WH_NOT_HTTP);
	weft_http_scan_init(&st->scan);
	r = weft_http_parse_block_g(&st->scan, (struct weft_scratch *)buf, n);
	if (r == WEFT_SCAN_DONE)
		return MSG_DONE(0);
	if (r == WEFT_SCAN_MORE && n < WEFT_HDR_MAX) {
		/* the block goes on in a later write: follow it byte by byte */
		weft_http_scan_init(&st->scan);
		return header_resume(msg, st, buf, n);
	}
	return drop_conn(msg, st, st->scan.reqline_end ? WH_GIVE_UP : WH_NOT_HTTP);
}

/*
 * A send on a pre-existing connection (PH_PRE, http_shared.bpf.h): passes
 * unchanged unless a certain boundary was reached; notes whether it is
 * exactly one whole request. PRE_LIVE: followed from this send on (PH_START);
 * PRE_TRY_H2: no HTTP/1 request, h2_pre_send looks for HTTP/2 frames.
 * A global function, verified once.
 */
#define PRE_LIVE   2
#define PRE_TRY_H2 3

__attribute__((noinline)) int pre_send(struct sk_msg_md *msg, struct conn_state *st,
				       struct weft_scratch *sc)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct weft_http_scan *s;
	struct pre_conn *p;
	struct fd_key fk;
	__u8 next = PRE_UNKNOWN;
	__u32 size;
	__s32 *fdp;
	int n;

	if (!msg || !st || !sc)
		return SK_PASS;
	set_apply(msg, 0);
	fdp = bpf_map_lookup_elem(&cur_fd, &pid_tgid);
	fk.tgid = pid_tgid >> 32;
	fk.fd = fdp ? *fdp : -1;
	p = fdp ? bpf_map_lookup_elem(&pre_conns, &fk) : NULL;
	if (!p || p->side != PRE_CLIENT || p->cookie != st->cookie) {
		/* not a write call weft saw on an fd it marked: cannot be paired with reads */
		count(WH_PRE_LEFT);
		return SK_PASS;
	}
	if (p->step == PRE_CERTAIN) {
		bpf_map_delete_elem(&pre_conns, &fk);
		st->phase = PH_START;
		count(WH_PRE_CERTAIN);
		return PRE_LIVE;
	}
	size = msg->size;
	s = &st->scan;	/* unused in PH_PRE */
	/* after a request with no response yet (a body going on, pipelining): start over */
	if (p->step == PRE_UNKNOWN && weft_have_bpf_loop && size && size <= WEFT_HDR_MAX) {
		n = msg_copy(msg, sc->buf, size);
		if (n == (int)size && weft_http_method_prefix(sc->buf, n)) {
			weft_http_scan_init(s);
			if (weft_http_parse_block_g(s, sc, n) == WEFT_SCAN_DONE && !s->chunked &&
			    !s->te_seen && !weft_http_scan_framing(s) &&
			    (__u64)s->hdr_end + (s->cl_seen ? s->content_length : 0) == size)
				next = PRE_ASKED;
		}
	}
	p->step = next;
	count(WH_PRE_LEFT);
	return next == PRE_UNKNOWN ? PRE_TRY_H2 : SK_PASS;
}

SEC("sk_msg")
int weft_http_msg(struct sk_msg_md *msg)
{
	struct bpf_sock *sk = msg->sk;
	struct conn_state *st;
	__u32 zero = 0, one = 1;
	__u64 *busy;
	char *buf, *b;
	int r;

	if (!sk)
		return SK_PASS;
	st = bpf_sk_storage_get(&conn, sk, 0, 0);
	if (!st || st->phase == PH_PASS)
		return SK_PASS;
	if (!st->pid_checked) {
		if (!weft_pid_targeted(bpf_get_current_pid_tgid() >> 32))
			return drop_conn(msg, st, WH_NOT_OURS);
		st->pid_checked = 1;
	}
	buf = bpf_map_lookup_elem(&scratch, &one);
	b = bpf_map_lookup_elem(&h2_buf, &zero);
	busy = bpf_map_lookup_elem(&msg_busy, &zero);
	if (!buf || !b || !busy)
		return SK_PASS;
	/*
	 * sk_msg runs with migration, not preemption, disabled: on a preemptible
	 * kernel another connection's run can start on this CPU while one is
	 * suspended half-way. It must not parse in the same buffer: it gives up
	 * following its connection (fail closed: the request leaves untouched).
	 */
	if (__sync_val_compare_and_swap(busy, 0, 1))
		return drop_conn(msg, st, WH_PREEMPTED);
	if (st->phase == PH_PRE) {
		r = pre_send(msg, st, (struct weft_scratch *)buf);
		if (r == PRE_TRY_H2)
			r = h2_pre_send(msg, st, (struct h2_buf *)b);
		if (r != PRE_LIVE)
			goto done;
	}
	if (st->phase == PH_H2 || st->phase == PH_H2_PRE || (!st->seen_request && h2_starts(msg, st)))
		r = h2_run(msg, st, (struct weft_scratch *)buf, (struct h2_buf *)b);
	else
		r = msg_work(msg, st, (struct weft_scratch *)buf);
	if (r < 0)
		r = request_done(msg, st, (struct weft_scratch *)buf, MSG_DONE_BASE(r));
done:
	asm volatile("" ::: "memory");
	*(volatile __u64 *)busy = 0;
	return r;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft-go: trace context for Go net/http, by uprobes (never uretprobes: each
 * RET of a function gets an ordinary uprobe) and, where the kernel allows it,
 * bpf_probe_write_user into the request's bufio.Writer.
 *
 * Go >= 1.17 amd64 register ABI: arguments in RAX RBX RCX RDI RSI R8..R11,
 * results in RAX RBX RCX at RET, the goroutine (runtime.g) in R14.
 * Each uprobe's attach cookie is the index of the binary's offsets (cfgs).
 *
 *   serverHandler.ServeHTTP(sh, rw ResponseWriter, req)  entry: SERVER span starts
 *                                                        RETs:  span ends, status
 *   (*Transport).roundTrip(t, req)                       entry: CLIENT span starts
 *                                                        RETs:  span ends, status
 *   (*persistConn).roundTrip(pc, treq)                   entry (read-only mode only):
 *        publish the client context keyed by {tgid, fd} of the connection
 *   CALL Header.writeSubset in (*Request).write          (writes only) the call for
 *        r.Header: write the header line into the *bufio.Writer; the request is
 *        found by its Header map, registered at (*Transport).roundTrip entry.
 *        One hit per request (the extra-headers call is not probed).
 *   runtime.newproc1(fn, callergp, ...)                 RETs: child goroutine inherits
 *        context (spawner = g0.m.curg; entry probe only without those offsets)
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "weft_span.h"
#include "weft_maps.bpf.h"
#include "weft_kernel.bpf.h"
#include "weft_conn_ctx.h"
#include "weft_ringbuf.h"
#include "go/weft_go.h"
#include "go/go_map.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct gkey {
	__u32 tgid;
	__u32 _pad;
	__u64 g; /* runtime.g pointer, or a Header map pointer for pendings */
};

struct server_state {
	struct weft_span_event ev;
	__u64 rw; /* *net/http.response */
	__u64 in_flags;
};

struct client_state {
	struct weft_span_event ev;
	__u64 hdr;	/* Header map of the request, when a pending write holds it */
	__u8 may_write; /* no traceparent set by the app */
	__u8 app_set;	/* the app set a valid or invalid one */
	__u8 forwarded; /* the app copied the served request's traceparent */
	__u8 write_ts;	/* its tracestate goes beside the traceparent written (app set none) */
	__u8 _pad[4];
	__u8 fwd_span_id[WEFT_SPAN_ID_LEN]; /* the parent id of that copy */
};

/*
 * A request on its way out, keyed by {tgid, its Header map}. Requests sharing
 * one Header map while in flight make it SHARED: nobody writes (no guessing
 * whose context goes where); refs counts them, the last one deletes it.
 */
enum { PENDING_OPEN = 0, PENDING_DONE = 1, PENDING_WRITTEN = 2, PENDING_SHARED = 3 };
struct pending {
	struct weft_trace_ctx ctx; /* the client span: its id is the parent-id sent */
	__u64 g;		   /* goroutine of the roundTrip */
	__u64 bw;		   /* bufio.Writer decided on (a retry uses another one) */
	__u32 state;
	__s32 refs;
	__u32 fwd;		   /* replace the app's copy of the incoming traceparent */
	__u32 _pad;
	__u8 fwd_span_id[WEFT_SPAN_ID_LEN]; /* the parent id of that copy */
};

/*
 * A forwarded traceparent to replace once Header.writeSubset has written it
 * (key: tgid, goroutine): what the write site saw.
 */
struct fwd_site {
	struct weft_trace_ctx ctx;	    /* the client span's context */
	__u8 fwd_span_id[WEFT_SPAN_ID_LEN]; /* the copied parent id to find */
	__u64 bw;			    /* the *bufio.Writer */
	__u64 hdr;			    /* the request's Header map (pendings key) */
	__s64 n0;			    /* bw.n before writeSubset */
	/* room for go_write_after (its stack is too small beside the parser's) */
	struct go_string v;		    /* the value found */
	struct weft_trace_ctx chk;	    /* ... parsed */
	char val[WEFT_TRACEPARENT_LEN + 1]; /* the replacement */
};

WEFT_ARRAY(struct weft_go_cfg, WEFT_GO_MAX_BINARIES) cfgs SEC(".maps");

WEFT_HASH(struct weft_go_inode, __u32, WEFT_GO_MAX_BINARIES) watched SEC(".maps");

WEFT_LRU_HASH(struct gkey, struct server_state, 16384) servers SEC(".maps");

WEFT_LRU_HASH(struct gkey, struct client_state, 16384) clients SEC(".maps");

WEFT_LRU_HASH(struct gkey, struct weft_trace_ctx, 65536) inherited SEC(".maps");

WEFT_LRU_HASH(struct gkey, struct pending, 16384) pendings SEC(".maps");

/* key: pid_tgid, value: callergp */
WEFT_LRU_HASH(__u64, __u64, 4096) spawning SEC(".maps");

WEFT_LRU_HASH(struct gkey, struct fwd_site, 4096) fwd_sites SEC(".maps");

static const struct fwd_site fwd_zero;

/*
 * A SERVER span's tracestate, key {tgid, its span id}: goroutines its handler
 * spawns inherit its context (that span id) and find the tracestate here. Not
 * deleted when the span ends (a spawned goroutine may call later); the LRU
 * keeps the 8192 most recent, the trace id is checked on every use.
 */
struct span_key {
	__u32 tgid;
	__u32 _pad;
	__u8 span_id[WEFT_SPAN_ID_LEN];
};

struct span_ts {
	__u8 trace_id[WEFT_TRACE_ID_LEN];
	__u16 len;
	__u8 _pad[6];
	char ts[WEFT_TS_MAX];
};

WEFT_LRU_HASH(struct span_key, struct span_ts, 8192) span_tss SEC(".maps");

WEFT_RINGBUF(WEFT_RB_SPANS_BYTES) spans SEC(".maps");

WEFT_RINGBUF(64 << 10) procs SEC(".maps");

WEFT_COUNTERS(WEFT_GO_ST_MAX) stats SEC(".maps");

/*
 * A span's state while an entry builds it, and snapshots of a request's first
 * bytes and of its URL: one user-memory read each instead of one per field (a
 * read is the costliest step of a hit). Too large for the 512-byte stack, so
 * kept per thread in task storage, not per CPU: since Linux 6.0 uprobe
 * programs run with migration but not preemption disabled, so on a
 * preemptible kernel (preempt=full, PREEMPT_RT) a run suspended half-way and
 * another run on the same CPU would share a per-CPU slot and mix two requests'
 * contexts. A thread runs one uprobe program at a time.
 */
#define GO_REQ_SNAP 256 /* net/http.Request up to TLS is 216 bytes in Go 1.17-1.23 */
#define GO_URL_SNAP 128 /* net/url.URL up to Path is 72 bytes */
struct go_snaps {
	__u8 req[GO_REQ_SNAP];
	__u8 url[GO_URL_SNAP];
	__u8 req_ok; /* the snapshots hold the objects' bytes */
	__u8 url_ok;
	__u8 _pad[6];
	__u64 req_addr;
	__u64 url_addr;
};

/*
 * The bytes the write site writes, composed first: the traceparent line at 0,
 * then, when the request carries tracestate, "tracestate: <value>\r\n" (the
 * value at GO_WLINE_TS). The index of the final CRLF depends on the value's
 * length: it is masked to the buffer, so the verifier (Debian's 6.1 too) sees
 * a bounded store into a map value, and the write's size is bounded.
 */
#define GO_WLINE_TS (WEFT_TP_LINE_LEN + WEFT_TS_HEADER_LEN) /* 82: the tracestate value */
#define GO_WLINE_MAX (GO_WLINE_TS + WEFT_TS_MAX + 2)	    /* 596: both lines, at most */
#define GO_WLINE_BUF 1024 /* a power of two >= GO_WLINE_MAX */
struct go_wline {
	char b[GO_WLINE_BUF + 2];
};

struct go_run {
	union {
		struct server_state st;
		struct client_state cl;
		struct weft_conn_ctx cc; /* a context being published */
	};
	struct go_snaps sn;
	struct weft_ts_state ts; /* an incoming tracestate being parsed */
	union {
		struct span_ts sts;  /* a SERVER span's tracestate being stored */
		struct go_wline wl;  /* the lines a write site writes */
	};
};

WEFT_TASK_STORAGE(struct go_run) runs SEC(".maps");

static __always_inline void stat_inc(__u32 i)
{
	weft_count(&stats, i);
}

/* This thread's state for one entry's run (see struct go_run), or NULL. */
static __always_inline struct go_run *go_run_state(void)
{
	return weft_task_state_new(&runs, &stats, WEFT_GO_ST_NO_STATE);
}

/*
 * The binary's offsets, if this process is a target: every process of a
 * binary given by --exe (the uprobes are on that file only), else the pids
 * in go_pids, the targets map shared with the other injectors (weft_conn_ctx.h)
 * (one hash lookup less per hit in the common case).
 */
static __always_inline const struct weft_go_cfg *go_cfg(void *ctx, __u32 *tgid)
{
	__u32 bin = (__u32)bpf_get_attach_cookie(ctx);
	const struct weft_go_cfg *cfg;

	*tgid = bpf_get_current_pid_tgid() >> 32;
	cfg = bpf_map_lookup_elem(&cfgs, &bin);
	if (!cfg)
		return NULL;
	if (!(cfg->flags & WEFT_GO_CFG_ALLPROCS) && !bpf_map_lookup_elem(&go_pids, tgid))
		return NULL;
	stat_inc(WEFT_GO_ST_HITS);
	return cfg;
}

static __always_inline __u64 read_u64(__u64 addr)
{
	__u64 v = 0;

	if (addr)
		bpf_probe_read_user(&v, sizeof(v), (void *)addr);
	return v;
}

/*
 * The word at off of the request (or URL) a snapshot holds: from the copy when
 * the field lies in it, else read from the target; 0 when off is unknown.
 */
static __always_inline __u64 req_u64(const struct go_snaps *sn, __s32 off)
{
	__u64 v;

	if (off < 0 || !sn->req_addr)
		return 0;
	if (sn->req_ok && off <= GO_REQ_SNAP - 8) {
		__builtin_memcpy(&v, sn->req + off, sizeof(v));
		return v;
	}
	return read_u64(sn->req_addr + off);
}

static __always_inline __u64 url_u64(const struct go_snaps *sn, __s32 off)
{
	__u64 v;

	if (off < 0 || !sn->url_addr)
		return 0;
	if (sn->url_ok && off <= GO_URL_SNAP - 8) {
		__builtin_memcpy(&v, sn->url + off, sizeof(v));
		return v;
	}
	return read_u64(sn->url_addr + off);
}

/* Copy the Go string s (ptr, len) into dst[max]; returns bytes copied. */
static __always_inline __u32 copy_gostr(__u64 ptr, __s64 len, char *dst, __u32 max, bool *trunc)
{
	__u32 n;

	if (!ptr || len <= 0)
		return 0;
	n = len > max ? max : (__u32)len;
	*trunc = len > max;
	barrier_var(n);
	if (n > max)
		return 0;
	if (bpf_probe_read_user(dst, n, (void *)ptr))
		return 0;
	return n;
}

static __always_inline void new_span_id(struct weft_trace_ctx *c)
{
	__u32 a, b;

	do {
		a = bpf_get_prandom_u32();
		b = bpf_get_prandom_u32();
	} while (0);
	if (!a && !b)
		a = 1;
	__builtin_memcpy(c->span_id, &a, 4);
	__builtin_memcpy(c->span_id + 4, &b, 4);
}

static __always_inline void new_trace(struct weft_trace_ctx *c)
{
	__u32 r[4];

	r[0] = bpf_get_prandom_u32();
	r[1] = bpf_get_prandom_u32();
	r[2] = bpf_get_prandom_u32();
	r[3] = bpf_get_prandom_u32() | 1; /* never all zero */
	__builtin_memcpy(c->trace_id, r, sizeof(r));
	c->flags = WEFT_TP_FLAG_SAMPLED | WEFT_TP_FLAG_RANDOM;
	c->valid = 1;
}

/* The port at the end of "host:port" (s[0..len)), or 0. At most 5 digits. */
static __always_inline __u16 tail_port(const char *s, __u32 len, __u32 max)
{
	__u32 port = 0, mul = 1;

	for (int k = 1; k <= 6; k++) {
		__u32 i = len - k;
		char c;

		if (k > (int)len || i >= max)
			return 0;
		c = s[i & (max - 1)];
		if (c == ':')
			return k > 1 && port < 65536 ? (__u16)port : 0;
		if (c < '0' || c > '9')
			return 0;
		port += (__u32)(c - '0') * mul;
		mul *= 10;
	}
	return 0;
}

/* "a.b.c.d:port" (net/http.Request.RemoteAddr: ptr, len) into sa; IPv6 is left out. */
static __always_inline void parse_ipv4_port(__u64 ptr, __s64 len, struct weft_sockaddr *sa)
{
	char s[32] = {};
	__u32 n, oct = 0, part = 0, digits = 0;
	__u8 ip[4] = {};
	bool t = false;

	n = copy_gostr(ptr, len, s, sizeof(s), &t);
	if (!n || t)
		return;
	for (int i = 0; i < (int)sizeof(s); i++) {
		char c = s[i];

		if (i >= (int)n || c == ':') {
			if (part != 3 || !digits || oct > 255)
				return;
			ip[3] = (__u8)oct;
			break;
		}
		if (c == '.') {
			if (part > 2 || !digits || oct > 255)
				return;
			ip[part & 3] = (__u8)oct;
			part++;
			oct = 0;
			digits = 0;
			continue;
		}
		if (c < '0' || c > '9' || digits >= 3)
			return;
		oct = oct * 10 + (__u32)(c - '0');
		digits++;
	}
	__builtin_memcpy(sa->addr, ip, 4);
	sa->family = 4;
	sa->port = tail_port(s, n, sizeof(s));
}

/* Snapshot the *net/http.Request at req and its URL into sn: two reads. */
static __always_inline void snap_request(const struct weft_go_cfg *cfg, __u64 req,
					 struct go_snaps *sn)
{
	sn->req_addr = req;
	sn->req_ok = !bpf_probe_read_user(sn->req, GO_REQ_SNAP, (void *)req);
	sn->url_ok = 0;
	sn->url_addr = req_u64(sn, cfg->req_url);
	if (sn->url_addr)
		sn->url_ok = !bpf_probe_read_user(sn->url, GO_URL_SNAP, (void *)sn->url_addr);
}

/* The Go string field at off of the request (or URL) into dst[max]. */
static __always_inline __u32 req_str(const struct go_snaps *sn, __s32 off, char *dst, __u32 max,
				     bool *trunc)
{
	*trunc = false;
	if (off < 0)
		return 0;
	return copy_gostr(req_u64(sn, off), (__s64)req_u64(sn, off + 8), dst, max, trunc);
}

static __always_inline __u32 url_str(const struct go_snaps *sn, __s32 off, char *dst, __u32 max,
				     bool *trunc)
{
	*trunc = false;
	if (off < 0 || !sn->url_addr)
		return 0;
	return copy_gostr(url_u64(sn, off), (__s64)url_u64(sn, off + 8), dst, max, trunc);
}

/* Method, path and host of the snapshotted request into the event. */
static __always_inline void read_request(const struct weft_go_cfg *cfg, const struct go_snaps *sn,
					 struct weft_span_event *ev, bool client)
{
	bool t = false;

	ev->method_len = req_str(sn, cfg->req_method, ev->method, WEFT_METHOD_MAX, &t);
	if (t)
		ev->truncated |= WEFT_TRUNC_METHOD;
	if (!ev->method_len) {
		__builtin_memcpy(ev->method, "GET", 3);
		ev->method_len = 3;
	}
	ev->path_len = url_str(sn, cfg->url_path, ev->path, WEFT_PATH_MAX, &t);
	if (t)
		ev->truncated |= WEFT_TRUNC_PATH;
	if (client && sn->url_addr && cfg->url_host >= 0)
		ev->host_len = url_str(sn, cfg->url_host, ev->host, WEFT_HOST_MAX, &t);
	else
		ev->host_len = req_str(sn, cfg->req_host, ev->host, WEFT_HOST_MAX, &t);
	if (t)
		ev->truncated |= WEFT_TRUNC_HOST;
	else if (client)
		ev->peer.port = tail_port(ev->host, ev->host_len, WEFT_HOST_MAX);
	else
		ev->local.port = tail_port(ev->host, ev->host_len, WEFT_HOST_MAX);
	if (!client && cfg->req_remote_addr >= 0)
		parse_ipv4_port(req_u64(sn, cfg->req_remote_addr),
				(__s64)req_u64(sn, cfg->req_remote_addr + 8), &ev->peer);
	if (!client && req_u64(sn, cfg->req_tls))
		ev->flags |= WEFT_SPAN_TLS;
	if (client) {
		char sch[5] = {};

		if (url_str(sn, cfg->url_scheme, sch, sizeof(sch), &t) == 5 && sch[4] == 's')
			ev->flags |= WEFT_SPAN_TLS;
	}
}

static __always_inline void emit(struct weft_span_event *ev, __u32 stat)
{
	if (weft_rb_output(&spans, ev, sizeof(*ev)))
		stat_inc(WEFT_GO_ST_RB_DROP);
	else
		stat_inc(stat);
}

/* ---- server side ---- */

/* Keep SERVER span ev's tracestate for the goroutines it spawns (v: scratch). */
static __always_inline void span_ts_put(__u32 tgid, const struct weft_span_event *ev,
					struct span_ts *v)
{
	struct span_key sk = {.tgid = tgid};

	if (ev->tracestate_len > WEFT_TS_MAX)
		return;
	__builtin_memcpy(sk.span_id, ev->ctx.span_id, WEFT_SPAN_ID_LEN);
	__builtin_memcpy(v->trace_id, ev->ctx.trace_id, WEFT_TRACE_ID_LEN);
	v->len = ev->tracestate_len;
	__builtin_memset(v->_pad, 0, sizeof(v->_pad));
	__builtin_memcpy(v->ts, ev->tracestate, WEFT_TS_MAX);
	bpf_map_update_elem(&span_tss, &sk, v, BPF_ANY);
}

SEC("uprobe")
int go_serve_entry(struct pt_regs *ctx)
{
	const struct weft_go_cfg *cfg;
	struct server_state *st;
	struct go_snaps *sn;
	struct go_run *run;
	struct weft_trace_ctx in = {};
	struct gkey k = {};
	__u32 tgid;
	__u64 req = ctx->di, hdr, major = 1;
	int r;

	cfg = go_cfg(ctx, &tgid);
	if (!cfg || !req)
		return 0;
	run = go_run_state();
	if (!run)
		return 0;
	st = &run->st;
	sn = &run->sn;
	__builtin_memset(st, 0, sizeof(*st));
	st->rw = ctx->cx; /* ResponseWriter interface: data word */
	st->ev.start_ns = bpf_ktime_get_ns();
	st->ev.pid = tgid;
	st->ev.tid = (__u32)bpf_get_current_pid_tgid();
	st->ev.kind = WEFT_KIND_SERVER;
	st->ev.injector = WEFT_INJ_GO;
	snap_request(cfg, req, sn);
	if (cfg->req_proto_major >= 0)
		major = req_u64(sn, cfg->req_proto_major);
	st->ev.proto = major == 2 ? WEFT_PROTO_HTTP2 : WEFT_PROTO_HTTP1;
	read_request(cfg, sn, &st->ev, false);

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
	new_span_id(&st->ev.ctx);
	if (st->ev.tracestate_len)
		span_ts_put(tgid, &st->ev, &run->sts);

	k.tgid = tgid;
	k.g = ctx->r14;
	bpf_map_update_elem(&servers, &k, st, BPF_ANY);
	return 0;
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
	}
	if (status > 0 && status < 1000)
		st->ev.status = (__u16)status;
	emit(&st->ev, WEFT_GO_ST_SERVER);
	bpf_map_delete_elem(&servers, &k);
	return 0;
}

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

/*
 * The tracestate of the SERVER span goroutine k serves, into a CLIENT span.
 * Returns false when k serves no request (its context is inherited).
 */
static __always_inline bool copy_server_ts(struct gkey *k, struct weft_span_event *ev)
{
	struct server_state *st = bpf_map_lookup_elem(&servers, k);

	if (!st)
		return false;
	if (!st->ev.tracestate_len || st->ev.tracestate_len > WEFT_TS_MAX)
		return true;
	ev->tracestate_len = st->ev.tracestate_len;
	__builtin_memcpy(ev->tracestate, st->ev.tracestate, WEFT_TS_MAX);
	return true;
}

/*
 * The tracestate of the SERVER span whose context p a spawned goroutine
 * inherited (p's span id is that span's), into a CLIENT span.
 */
static __always_inline void copy_inherited_ts(__u32 tgid, const struct weft_trace_ctx *p,
					      struct weft_span_event *ev)
{
	struct span_key sk = {.tgid = tgid};
	struct span_ts *v;

	__builtin_memcpy(sk.span_id, p->span_id, WEFT_SPAN_ID_LEN);
	v = bpf_map_lookup_elem(&span_tss, &sk);
	if (!v || !v->len || v->len > WEFT_TS_MAX || !weft_trace_id_eq(v->trace_id, p->trace_id))
		return;
	ev->tracestate_len = v->len;
	__builtin_memcpy(ev->tracestate, v->ts, WEFT_TS_MAX);
}

/* The context a client call in goroutine k continues, if any. */
static __always_inline const struct weft_trace_ctx *parent_ctx(struct gkey *k, __u8 *src)
{
	struct server_state *st = bpf_map_lookup_elem(&servers, k);

	*src = WEFT_PARENT_LOCAL;
	if (st)
		return &st->ev.ctx;
	return bpf_map_lookup_elem(&inherited, k);
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

SEC("uprobe")
int go_rt_entry(struct pt_regs *ctx)
{
	const struct weft_go_cfg *cfg;
	const struct weft_trace_ctx *p;
	struct client_state *cl;
	struct go_snaps *sn;
	struct go_run *run;
	struct weft_trace_ctx app = {};
	struct gkey k = {};
	__u32 tgid;
	__u64 req = ctx->bx, hdr;
	__u8 src = 0;
	int r;

	cfg = go_cfg(ctx, &tgid);
	if (!cfg || !req)
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
	cl->ev.proto = WEFT_PROTO_HTTP1;
	cl->ev.injector = WEFT_INJ_GO;
	snap_request(cfg, req, sn);
	read_request(cfg, sn, &cl->ev, true);

	k.tgid = tgid;
	k.g = ctx->r14;
	p = parent_ctx(&k, &src);
	if (p && p->valid) {
		__builtin_memcpy(cl->ev.ctx.trace_id, p->trace_id, WEFT_TRACE_ID_LEN);
		__builtin_memcpy(cl->ev.parent_span_id, p->span_id, WEFT_SPAN_ID_LEN);
		cl->ev.ctx.flags = p->flags;
		cl->ev.ctx.valid = 1;
		cl->ev.parent_src = src;
		if (!copy_server_ts(&k, &cl->ev))
			copy_inherited_ts(tgid, p, &cl->ev);
	} else {
		new_trace(&cl->ev.ctx);
		cl->ev.parent_src = WEFT_PARENT_GENERATED;
	}
	new_span_id(&cl->ev.ctx);

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
	}
	/* Skips are counted at the RET: this entry may run twice (morestack). */
	if ((cfg->flags & WEFT_GO_CFG_WRITE) && hdr && (cl->may_write || cl->forwarded)) {
		pending_open(tgid, hdr, k.g, &cl->ev.ctx, cl->forwarded ? cl->fwd_span_id : NULL);
		cl->hdr = hdr;
		/* The span's tracestate goes out beside the traceparent written,
		 * unless the request has its own (a forwarded copy keeps its own). */
		if (cl->may_write && cl->ev.tracestate_len &&
		    go_header_has_tracestate(cfg, hdr) == GO_TP_NONE)
			cl->write_ts = 1;
	}
	bpf_map_update_elem(&clients, &k, cl, BPF_ANY);
	return 0;
}

/* The socket fd of a plain-TCP persistConn, or -1. */
static __always_inline int conn_fd(const struct weft_go_cfg *cfg, __u64 pc)
{
	__u64 tcp, nfd, fam, sot;
	__s64 fd;

	if (cfg->pc_conn < 0 || cfg->tcpconn_conn < 0 || cfg->conn_fd < 0 || cfg->netfd_pfd < 0 ||
	    cfg->pfd_sysfd < 0 || cfg->netfd_family < 0 || cfg->netfd_sotype < 0)
		return -1;
	if (cfg->pc_tls_state >= 0 && read_u64(pc + cfg->pc_tls_state))
		return -1;		       /* TLS: the network level cannot insert anyway */
	tcp = read_u64(pc + cfg->pc_conn + 8); /* interface data word */
	if (!tcp)
		return -1;
	nfd = read_u64(tcp + cfg->tcpconn_conn + cfg->conn_fd);
	if (!nfd)
		return -1;
	fam = read_u64(nfd + cfg->netfd_family);
	sot = read_u64(nfd + cfg->netfd_sotype);
	fd = (__s64)read_u64(nfd + cfg->netfd_pfd + cfg->pfd_sysfd);
	if ((fam != 2 && fam != 10) || sot != 1 || fd < 0 || fd >= (1 << 20))
		return -1;
	/* Confirm in the kernel: that fd of this process is a socket. */
	return weft_fd_socket_file(fd) ? (int)fd : -1;
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

SEC("uprobe")
int go_rt_ret(struct pt_regs *ctx)
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
	if (!cl)
		return 0;
	cl->ev.end_ns = bpf_ktime_get_ns();
	if (resp && cfg->resp_status_code >= 0)
		status = (__s64)read_u64(resp + cfg->resp_status_code);
	if (status > 0 && status < 1000)
		cl->ev.status = (__u16)status;
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
	emit(&cl->ev, WEFT_GO_ST_CLIENT);
	bpf_map_delete_elem(&clients, &k);
	return 0;
}

/*
 * "tracestate: <value>\r\n" composed at wl->b[WEFT_TP_LINE_LEN] (after room
 * for the traceparent line) when the request of pending p goes out with its
 * CLIENT span's tracestate (the app set none). That span's state is the
 * roundTrip goroutine's entry in clients, checked to be the same span (span
 * id) before and after the copy: a returned roundTrip's goroutine may make
 * another request meanwhile. Returns wl and *len (the line's bytes), or NULL.
 */
static __always_inline struct go_wline *ts_line(const struct pending *p, __u32 tgid, __u64 *len)
{
	struct gkey ck = {.tgid = tgid, .g = p->g};
	const struct client_state *cl;
	struct go_wline *wl;
	struct go_run *run;
	__u32 n, end;

	cl = bpf_map_lookup_elem(&clients, &ck);
	if (!cl || !cl->write_ts)
		return NULL;
	n = cl->ev.tracestate_len;
	barrier_var(n);
	if (n < 1 || n > WEFT_TS_MAX || !weft_span_id_eq(cl->ev.ctx.span_id, p->ctx.span_id))
		goto skip;
	run = go_run_state();
	if (!run)
		goto skip;
	wl = &run->wl;
	__builtin_memcpy(wl->b + WEFT_TP_LINE_LEN, WEFT_TS_HEADER, WEFT_TS_HEADER_LEN);
	if (bpf_probe_read_kernel(wl->b + GO_WLINE_TS, WEFT_TS_MAX, cl->ev.tracestate) ||
	    !weft_span_id_eq(cl->ev.ctx.span_id, p->ctx.span_id))
		goto skip;
	end = GO_WLINE_TS + n;
	barrier_var(end); /* keep the mask: the verifier may not know n's bound here */
	end &= GO_WLINE_BUF - 1;
	wl->b[end] = '\r';
	wl->b[end + 1] = '\n';
	*len = WEFT_TS_HEADER_LEN + n + 2;
	return wl;
skip:
	stat_inc(WEFT_GO_ST_TS_SKIP);
	return NULL;
}

/*
 * At the CALL of r.Header.writeSubset(w, reqWriteExcludeHeader, trace) inside
 * (*Request).write: RAX = h (the request's Header map), RBX:RCX = w, RDI =
 * exclude (non-nil for this call). The request line and the first headers are
 * in w's buffer; write "traceparent: <55>\r\n" (and the span's
 * "tracestate: <value>\r\n", in the same write) at buf[n] and advance n if
 * everything checks out. Decided once per request and connection.
 */
SEC("uprobe")
int go_write_site(struct pt_regs *ctx)
{
	const struct weft_go_cfg *cfg;
	struct pending *p;
	struct go_slice buf;
	struct gkey pk = {};
	__u64 bw = ctx->cx, err_itab = 1;
	__s64 n = -1, nn;
	char line[WEFT_TP_LINE_LEN];
	char crlf[2] = {};
	char *src = line;
	struct go_wline *wl;
	__u64 len = WEFT_TP_LINE_LEN, tslen = 0; /* 64-bit: checked in the register used */
	__u32 tgid;

	cfg = go_cfg(ctx, &tgid);
	if (!cfg || !ctx->ax || !bw || !ctx->di)
		return 0;
	pk.tgid = tgid;
	pk.g = ctx->ax;
	p = bpf_map_lookup_elem(&pendings, &pk);
	if (!p)
		return 0;
	if (p->state == PENDING_SHARED) {
		stat_inc(WEFT_GO_ST_SKIP_SHARED);
		return 0;
	}
	/* Decided for this connection already (a retry goes out on another one). */
	if (p->state != PENDING_OPEN && p->bw == bw)
		return 0;
	p->state = PENDING_DONE; /* decided now, whatever happens: never twice */
	p->bw = bw;

	if (!(cfg->flags & WEFT_GO_CFG_WRITE) || !cfg->bw_itab_delta || cfg->bw_buf < 0 ||
	    cfg->bw_n < 0 || cfg->bw_err < 0)
		goto bad_state;
	/* w must be a *bufio.Writer: its itab is the one writeLoop passes. */
	if (ctx->bx != ctx->ip + (__u64)cfg->bw_itab_delta) {
		stat_inc(WEFT_GO_ST_SKIP_WRITER);
		return 0;
	}
	if (bpf_probe_read_user(&err_itab, sizeof(err_itab), (void *)(bw + cfg->bw_err)) ||
	    bpf_probe_read_user(&buf, sizeof(buf), (void *)(bw + cfg->bw_buf)) ||
	    bpf_probe_read_user(&n, sizeof(n), (void *)(bw + cfg->bw_n)))
		goto bad_state;
	/* No pending error, a real buffer, 0 < n <= len <= cap. */
	if (err_itab || !buf.ptr || buf.len <= 0 || buf.cap < buf.len || n < 2 || n > buf.len)
		goto bad_state;
	/* What is already there ends a line: the request line or a header. */
	if (bpf_probe_read_user(crlf, 2, (void *)(buf.ptr + n - 2)) || crlf[0] != '\r' ||
	    crlf[1] != '\n')
		goto bad_state;
	if (p->fwd) {
		/* the app's copy is written by this call: replace it after it */
		struct gkey gk = {.tgid = tgid, .g = ctx->r14};
		struct fwd_site *fs;

		/* an entry per goroutine, made once and updated in place */
		fs = bpf_map_lookup_elem(&fwd_sites, &gk);
		if (!fs) {
			bpf_map_update_elem(&fwd_sites, &gk, &fwd_zero, BPF_ANY);
			fs = bpf_map_lookup_elem(&fwd_sites, &gk);
			if (!fs)
				return 0;
		}
		fs->ctx = p->ctx;
		fs->bw = bw;
		fs->hdr = ctx->ax;
		fs->n0 = n;
		__builtin_memcpy(fs->fwd_span_id, p->fwd_span_id, WEFT_SPAN_ID_LEN);
		return 0;
	}
	if (n + WEFT_TP_LINE_LEN > buf.len) {
		stat_inc(WEFT_GO_ST_SKIP_SPACE);
		return 0;
	}
	/* With tracestate: both lines composed in task storage, one write. */
	wl = ts_line(p, tgid, &tslen);
	if (wl && n + WEFT_TP_LINE_LEN + tslen > buf.len) {
		stat_inc(WEFT_GO_ST_TS_SKIP); /* no room for both: the traceparent alone */
		wl = NULL;
	}
	if (wl) {
		src = wl->b;
		len += tslen;
	}
	__builtin_memcpy(src, WEFT_TP_HEADER, WEFT_TP_HEADER_LEN);
	weft_tp_format(src + WEFT_TP_HEADER_LEN, &p->ctx);
	src[WEFT_TP_LINE_LEN - 2] = '\r';
	src[WEFT_TP_LINE_LEN - 1] = '\n';
	barrier_var(len);
	if (len < WEFT_TP_LINE_LEN || len > GO_WLINE_MAX || n + (__s64)len > buf.len)
		goto bad_state;
	if (bpf_probe_write_user((void *)(buf.ptr + n), src, len))
		goto fault;
	nn = n + len;
	if (bpf_probe_write_user((void *)(bw + cfg->bw_n), &nn, sizeof(nn)))
		goto fault; /* bytes beyond n are not part of the request */
	p->state = PENDING_WRITTEN;
	stat_inc(WEFT_GO_ST_WRITES);
	if (wl)
		stat_inc(WEFT_GO_ST_TS_WRITES);
	return 0;
fault:
	stat_inc(WEFT_GO_ST_SKIP_FAULT);
	return 0;
bad_state:
	stat_inc(WEFT_GO_ST_SKIP_STATE);
	return 0;
}

#define WEFT_GO_FWD_SCAN_STEPS 128 /* 48 bytes a step: header blocks up to 6 KB */

struct fwd_scan {
	__u64 base;  /* the buffer */
	__s64 pos;   /* scan from here (a '\n' ends the line before the first header) */
	__s64 end;   /* to here (bw.n after writeSubset) */
	__s64 found; /* offset of the traceparent value, or -1 */
};

/* bpf_loop callback: 48 buffer bytes per step, looking for "\nTraceparent: ". */
static long fwd_scan_cb(__u32 i, void *data)
{
	static const char name[] = "traceparent";
	struct fwd_scan *fs = data;
	__s64 p = fs->pos + (__s64)i * 48, sz = fs->end - p;
	char c[64];

	if (sz < 14)
		return 1;
	if (sz > 64)
		sz = 64;
	if (bpf_probe_read_user(c, sz, (void *)(fs->base + p)))
		return 1;
	for (int k = 0; k < 48; k++) {
		__u8 d = 0;

		if (k + 14 > sz)
			return 1;
		if (c[k] != '\n')
			continue;
		for (int j = 0; j < 11; j++)
			d |= (__u8)(c[k + 1 + j] | 0x20) ^ (__u8)name[j];
		if (!d && c[k + 12] == ':' && c[k + 13] == ' ') {
			fs->found = p + k + 14;
			return 1;
		}
	}
	return 0;
}

/*
 * Just after the CALL of writeSubset (write site + 5): the app's copy of the
 * incoming traceparent is now in w's buffer; find its line in what the call
 * wrote, check it is the copy (same trace id and parent id) and overwrite its
 * 55 value bytes with the client span's context. Nothing moves, n stays.
 */
/* f->val = the client span's traceparent value; its own frame (global function). */
__noinline int fwd_format(struct fwd_site *f)
{
	if (!f)
		return -1;
	weft_tp_format(f->val, &f->ctx);
	return 0;
}

/* The replacement for go_write_after, with the write site's record f. */
static __always_inline __u32 fwd_replace(const struct weft_go_cfg *cfg, struct fwd_site *f,
					 __u32 tgid, __u64 g)
{
	struct fwd_scan sc = {.found = -1};
	struct go_slice buf;
	struct pending *p;
	struct gkey pk = {};
	__u64 err_itab = 1, a, b;
	__s64 n = -1;

	if (bpf_probe_read_user(&err_itab, sizeof(err_itab), (void *)(f->bw + cfg->bw_err)) ||
	    bpf_probe_read_user(&buf, sizeof(buf), (void *)(f->bw + cfg->bw_buf)) ||
	    bpf_probe_read_user(&n, sizeof(n), (void *)(f->bw + cfg->bw_n)))
		return WEFT_GO_ST_SKIP_FORWARDED;
	/* no error, n grew within the buffer (a flush in between: not found below) */
	if (err_itab || !buf.ptr || buf.cap < buf.len || n > buf.len || f->n0 < 2 || n <= f->n0)
		return WEFT_GO_ST_SKIP_FORWARDED;
	sc.base = buf.ptr;
	sc.pos = f->n0 - 1;
	sc.end = n;
	bpf_loop(WEFT_GO_FWD_SCAN_STEPS, fwd_scan_cb, &sc, 0);
	if (sc.found < 0 || sc.found + WEFT_TRACEPARENT_LEN + 2 > n)
		return WEFT_GO_ST_SKIP_FORWARDED;
	f->v.ptr = buf.ptr + sc.found;
	f->v.len = WEFT_TRACEPARENT_LEN;
	if (go_parse_traceparent(&f->v, &f->chk) || !weft_trace_id_eq(f->chk.trace_id, f->ctx.trace_id))
		return WEFT_GO_ST_SKIP_FORWARDED;
	__builtin_memcpy(&a, f->chk.span_id, 8);
	__builtin_memcpy(&b, f->fwd_span_id, 8);
	if (a != b)
		return WEFT_GO_ST_SKIP_FORWARDED;
	if (fwd_format(f) ||
	    bpf_probe_write_user((void *)f->v.ptr, f->val, WEFT_TRACEPARENT_LEN))
		return WEFT_GO_ST_SKIP_FAULT;
	pk.tgid = tgid;
	pk.g = f->hdr;
	p = bpf_map_lookup_elem(&pendings, &pk);
	if (p && p->g == g)
		p->state = PENDING_WRITTEN;
	return WEFT_GO_ST_WRITES;
}

/*
 * Just after the CALL of writeSubset (write site + 5): the app's copy of the
 * incoming traceparent is now in w's buffer; find its line in what the call
 * wrote, check it is the copy (same trace id and parent id) and overwrite its
 * 55 value bytes with the client span's context. Nothing moves, n stays.
 */
SEC("uprobe")
int go_write_after(struct pt_regs *ctx)
{
	const struct weft_go_cfg *cfg;
	struct fwd_site *f;
	struct gkey gk = {};
	__u32 tgid;

	cfg = go_cfg(ctx, &tgid);
	if (!cfg)
		return 0;
	gk.tgid = tgid;
	gk.g = ctx->r14;
	f = bpf_map_lookup_elem(&fwd_sites, &gk);
	if (!f)
		return 0;
	stat_inc(fwd_replace(cfg, f, tgid, gk.g));
	bpf_map_delete_elem(&fwd_sites, &gk);
	return 0;
}

/* ---- goroutine ancestry ---- */

SEC("uprobe")
int go_newproc_entry(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), gp = ctx->bx;
	__u32 tgid = id >> 32;

	if (!bpf_map_lookup_elem(&go_pids, &tgid))
		return 0;
	stat_inc(WEFT_GO_ST_HITS);
	bpf_map_update_elem(&spawning, &id, &gp, BPF_ANY);
	return 0;
}

SEC("uprobe")
int go_newproc_ret(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), *gp;
	const struct weft_go_cfg *cfg;
	const struct weft_trace_ctx *p;
	struct gkey pk = {}, ck = {};
	__u32 tgid;
	__u8 src;

	cfg = go_cfg(ctx, &tgid);
	if (!cfg)
		return 0;
	pk.tgid = tgid;
	if (cfg->flags & WEFT_GO_CFG_CURG) {
		/* On the system stack: R14 is g0, its m's curg the spawning goroutine. */
		pk.g = read_u64(read_u64(ctx->r14 + cfg->g_m) + cfg->m_curg);
	} else {
		gp = bpf_map_lookup_elem(&spawning, &id);
		if (!gp)
			return 0;
		pk.g = *gp;
		bpf_map_delete_elem(&spawning, &id);
	}
	ck.tgid = tgid;
	ck.g = ctx->ax; /* the new g */
	if (!ck.g)
		return 0;
	/* A g is reused after its goroutine ends: forget what it held. */
	bpf_map_delete_elem(&servers, &ck);
	bpf_map_delete_elem(&clients, &ck);
	p = pk.g ? parent_ctx(&pk, &src) : NULL;
	if (p && p->valid) {
		struct weft_trace_ctx c = *p;

		bpf_map_update_elem(&inherited, &ck, &c, BPF_ANY);
	} else {
		bpf_map_delete_elem(&inherited, &ck);
	}
	return 0;
}

/* ---- processes ---- */

static __always_inline void proc_event(__u32 type, __u32 pid, __u32 bin)
{
	struct weft_go_proc_event *e = bpf_ringbuf_reserve(&procs, sizeof(*e), 0);

	if (!e)
		return;
	e->type = type;
	e->pid = pid;
	e->bin = bin;
	e->_pad = 0;
	bpf_ringbuf_submit(e, 0);
}

/*
 * Raw tracepoints (Linux 4.17+): attached by name through bpf(), no tracefs
 * needed. Both run in the task concerned, so neither reads its arguments.
 */
SEC("raw_tp/sched_process_exec")
int go_exec(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct weft_go_inode ino = {};
	struct inode *inode;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, *bin;
	dev_t dev;

	inode = BPF_CORE_READ(task, mm, exe_file, f_inode);
	if (!inode)
		return 0;
	dev = BPF_CORE_READ(inode, i_sb, s_dev);
	ino.dev = dev;
	ino.ino = BPF_CORE_READ(inode, i_ino);
	bin = bpf_map_lookup_elem(&watched, &ino);
	if (!bin) {
		/* Same pid, another program: stop tracing it. */
		if (bpf_map_delete_elem(&go_pids, &tgid) == 0)
			proc_event(WEFT_GO_PROC_EXIT, tgid, 0);
		return 0;
	}
	bpf_map_update_elem(&go_pids, &tgid, bin, BPF_ANY);
	proc_event(WEFT_GO_PROC_EXEC, tgid, *bin);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int go_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;

	if (tgid != (__u32)id)
		return 0; /* a thread, not the process */
	if (bpf_map_delete_elem(&go_pids, &tgid) == 0)
		proc_event(WEFT_GO_PROC_EXIT, tgid, 0);
	return 0;
}

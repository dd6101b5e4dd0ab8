/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
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
 *
 * The BPF object (one skeleton, weft_go.skel.h) is linked from units by
 * concern (bpftool gen object; weft_link.h):
 *   go_shared.bpf.c   owns the maps below, the license
 *   go_server.bpf.c   SERVER spans (serverHandler.ServeHTTP)
 *   go_client.bpf.c   CLIENT spans ((*Transport).roundTrip), read-only mode's
 *                     published context ((*persistConn).roundTrip)
 *   go_write.bpf.c    the header write site, a forwarded traceparent replaced
 *   go_proc.bpf.c     goroutine ancestry (runtime.newproc1), exec/exit
 *   go_grpc.bpf.c     grpc-go SERVER and CLIENT spans, its streams' published contexts
 *   go_h2pub.bpf.c    net/http's and x/net's HTTP/2 client streams' published contexts
 *   go_sys.bpf.c      --server-syscalls: plaintext HTTP/1 SERVER spans from
 *                     read/write syscall exits (no uprobe)
 * This header is what they share: types, maps, the goroutine and request
 * readers, span ids and the span output.
 */
#ifndef WEFT_GO_SHARED_BPF_H
#define WEFT_GO_SHARED_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "weft_link.h"
#include "weft_span.h"
#include "weft_maps.bpf.h"
#include "weft_kernel.bpf.h"
#include "weft_conn_ctx.h"
#include "weft_ringbuf.h"
#include "go/weft_go.h"
#include "go/go_map.bpf.h"

struct gkey {
	__u32 tgid;
	__u32 _pad;
	__u64 g; /* runtime.g pointer, or a Header map pointer for pendings */
};

struct server_state {
	struct weft_span_event ev;
	__u64 rw; /* *net/http.response (HTTP/1), *http2responseWriter (HTTP/2) */
	__u64 in_flags;
	__u32 xh2; /* started by x/net's runHandler: rw is x/net's *responseWriter */
	__u32 _pad;
};

struct client_state {
	struct weft_span_event ev;
	__u64 hdr;	/* Header map of the request, when a pending write holds it */
	__u8 may_write; /* no traceparent set by the app */
	__u8 app_set;	/* the app set a valid or invalid one */
	__u8 forwarded; /* the app copied the served request's traceparent */
	__u8 write_ts;	/* its tracestate goes beside the traceparent written (app set none) */
	__u8 xh2;	/* started by golang.org/x/net/http2's Transport (ended by its RETs) */
	__u8 _pad[3];
	__u8 fwd_span_id[WEFT_SPAN_ID_LEN]; /* the parent id of that copy */
	__u64 stream;	/* gRPC: the call's transport stream (its status) */
	/*
	 * Read-only mode: its connection's socket cookie (0: none); gRPC: from
	 * NewStream on; HTTP/2 (net/http, x/net): the published stream's.
	 */
	__u64 cookie;
	__u64 hf;	/* gRPC: its stream's header array, while it may wait in grpc_hdrs */
	__u32 h2_sid;	/* HTTP/2: the id of the stream published (go_h2pub.bpf.c), 0: none */
	__u32 _pad2;
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

WEFT_SHARED WEFT_ARRAY(struct weft_go_cfg, WEFT_GO_MAX_BINARIES) cfgs SEC(".maps");

WEFT_SHARED WEFT_HASH(struct weft_go_inode, __u32, WEFT_GO_MAX_BINARIES) watched SEC(".maps");

WEFT_SHARED WEFT_LRU_HASH(struct gkey, struct server_state, 16384) servers SEC(".maps");

WEFT_SHARED WEFT_LRU_HASH(struct gkey, struct client_state, 16384) clients SEC(".maps");

WEFT_SHARED WEFT_LRU_HASH(struct gkey, struct weft_trace_ctx, 65536) inherited SEC(".maps");

WEFT_SHARED WEFT_LRU_HASH(struct gkey, struct pending, 16384) pendings SEC(".maps");

/* key: pid_tgid, value: callergp */
WEFT_SHARED WEFT_LRU_HASH(__u64, __u64, 4096) spawning SEC(".maps");

WEFT_SHARED WEFT_LRU_HASH(struct gkey, struct fwd_site, 4096) fwd_sites SEC(".maps");

/*
 * grpc-go servers (go_grpc.bpf.c): the incoming context a server transport's
 * reader goroutine read from a stream's header fields, key {tgid, that g},
 * while its operateHeaders runs, with the connection's addresses; the
 * goroutine it spawns meanwhile for the stream (go_newproc_ret) gets a copy in
 * grpc_inh, key {tgid, the new g}. ctx.valid = 0: no usable traceparent (a new
 * trace), and its tracestate (W3C-normalised; only beside a valid one).
 */
struct grpc_in {
	struct weft_trace_ctx ctx;
	struct weft_sockaddr local, peer; /* the connection's addresses, when known */
	__u16 ts_len;			  /* 0: none */
	__u8 _pad[6];
	char ts[WEFT_TS_MAX];
};
WEFT_SHARED WEFT_LRU_HASH(struct gkey, struct grpc_in, 4096) grpc_in SEC(".maps");
WEFT_SHARED WEFT_LRU_HASH(struct gkey, struct grpc_in, 16384) grpc_inh SEC(".maps");
/* grpc-go streaming calls in flight: key {tgid, the *clientStream} (go_grpc.bpf.c). */
WEFT_SHARED WEFT_LRU_HASH(struct gkey, struct client_state, 2048) grpc_calls SEC(".maps");
/*
 * grpc-go client streams on their way out (go_grpc.bpf.c): key {tgid, the
 * stream's []hpack.HeaderField array}, from the call's createHeaderFields
 * until the loopy writer encodes it (writeHeader). Read-only mode publishes
 * the context per stream there (go_stream_ctx, weft_conn_ctx.h); with writes
 * it waits in grpc_h2w, key {tgid, the loopy writer's goroutine}, for the
 * HEADERS frame's (*Framer).endWrite (go_h2write.bpf.c). net/http's and
 * x/net's HTTP/2 client streams wait there too, key {tgid, the goroutine
 * that writes the request's HEADERS}, from (*clientStream).encodeAndWriteHeaders
 * (go_h2pub.bpf.c): kind says whose Framer writes the frame.
 */
enum { GO_H2W_GRPC = 0, GO_H2W_BUNDLE = 1, GO_H2W_XNET = 2 };
struct grpc_hdr {
	struct weft_trace_ctx ctx; /* the CLIENT span: its id is the parent-id sent */
	__u64 cookie;		   /* the connection's socket cookie (read-only mode) */
	__u64 n;		   /* the slice's length, checked again at writeHeader */
	__u16 ts_len;		   /* the CLIENT span's tracestate (0: none) */
	__u8 kind;		   /* GO_H2W_*: grpc-go's, net/http's or x/net's client */
	__u8 _pad;
	__u32 sid; /* the HTTP/2 stream id, from writeHeader or encodeAndWriteHeaders (writes) */
	__u64 fr;  /* writes: the Framer whose frame had no room in wbuf (endWrite's RETs) */
	__s64 flen; /* ... and that frame's length with its header */
	char ts[WEFT_TS_MAX];
};
WEFT_SHARED WEFT_LRU_HASH(struct gkey, struct grpc_hdr, 4096) grpc_hdrs SEC(".maps");
WEFT_SHARED WEFT_LRU_HASH(struct gkey, struct grpc_hdr, 1024) grpc_h2w SEC(".maps");

/*
 * HTTP/2 client streams of net/http's bundle and of x/net (go_h2pub.bpf.c),
 * read-only mode: the goroutine (*ClientConn).RoundTrip spawns to write the
 * request (doRequest), key {tgid, that g}, tied at its spawn (go_newproc_ret)
 * to the calling goroutine and the CLIENT span it had then; every goroutine
 * spawned by a goroutine with a CLIENT span gets one, only doRequest uses it.
 */
struct h2_link {
	__u64 caller;			/* the spawning goroutine (clients key) */
	__u8 span_id[WEFT_SPAN_ID_LEN]; /* its CLIENT span then */
};
WEFT_SHARED WEFT_LRU_HASH(struct gkey, struct h2_link, 16384) h2_links SEC(".maps");

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

WEFT_SHARED WEFT_LRU_HASH(struct span_key, struct span_ts, 8192) span_tss SEC(".maps");

WEFT_SHARED WEFT_RINGBUF(WEFT_RB_SPANS_BYTES) spans SEC(".maps");

WEFT_SHARED WEFT_RINGBUF(64 << 10) procs SEC(".maps");

WEFT_SHARED WEFT_COUNTERS(WEFT_GO_ST_MAX) stats SEC(".maps");

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
		struct grpc_in gin;	 /* a gRPC request's incoming context being read */
		struct grpc_hdr gh;	 /* a gRPC stream's context being parked */
	};
	struct go_snaps sn;
	struct weft_ts_state ts; /* an incoming tracestate being parsed */
	union {
		struct span_ts sts;  /* a SERVER span's tracestate being stored */
		struct go_wline wl;  /* the lines a write site writes */
	};
};

WEFT_SHARED WEFT_TASK_STORAGE(struct go_run) runs SEC(".maps");

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

/*
 * This thread's run state (go_run_state) with a SERVER span of process tgid
 * started now by this thread in it, every other field cleared; NULL when
 * there is no state.
 */
static __always_inline struct go_run *go_server_start(__u32 tgid)
{
	struct go_run *run = go_run_state();
	struct server_state *st;

	if (!run)
		return NULL;
	st = &run->st;
	__builtin_memset(st, 0, sizeof(*st));
	st->ev.start_ns = bpf_ktime_get_ns();
	st->ev.pid = tgid;
	st->ev.tid = (__u32)bpf_get_current_pid_tgid();
	st->ev.kind = WEFT_KIND_SERVER;
	st->ev.injector = WEFT_INJ_GO;
	return run;
}

/* The binary's offsets if this process is a target, and the running goroutine's key. */
static __always_inline const struct weft_go_cfg *go_here(struct pt_regs *ctx, struct gkey *k)
{
	const struct weft_go_cfg *cfg;
	__u32 tgid;

	cfg = go_cfg(ctx, &tgid);
	k->tgid = tgid;
	k->g = ctx->r14;
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

/* A new trace id (W3C Level 2 random, weft_tracecontext.h), flags sampled | random. */
static __always_inline void new_trace(struct weft_trace_ctx *c)
{
	weft_bpf_new_trace_id(c->trace_id);
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

		/* Opaque i: clang keeps the i >= max check that bounds s[i] for
		 * the verifier (6.1 loses it through the 32-bit zero extension). */
		barrier_var(i);
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
	__u32 ts = ev->tracestate_len;

	/* a record without the tracestate bytes it does not carry: ~340 bytes
	 * instead of 848 for most spans, so a burst fits when user space is late */
	if (ts > WEFT_TS_MAX)
		ts = WEFT_TS_MAX;
	if (weft_rb_output(&spans, ev, __builtin_offsetof(struct weft_span_event, tracestate) + ts))
		stat_inc(WEFT_GO_ST_RB_DROP);
	else
		stat_inc(stat);
}

/* ev continues context p (same trace, p's span its parent; src says whence), else a new trace. */
static __always_inline void span_parent(struct weft_span_event *ev, const struct weft_trace_ctx *p,
					__u8 src)
{
	if (p && p->valid) {
		__builtin_memcpy(ev->ctx.trace_id, p->trace_id, WEFT_TRACE_ID_LEN);
		__builtin_memcpy(ev->parent_span_id, p->span_id, WEFT_SPAN_ID_LEN);
		ev->ctx.flags = p->flags;
		ev->ctx.valid = 1;
		ev->parent_src = src;
	} else {
		new_trace(&ev->ctx);
		ev->parent_src = WEFT_PARENT_GENERATED;
	}
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

/*
 * The socket fd behind tcp, a *net.TCPConn (the data word of a net.Conn that
 * holds one), or -1: the fd's netFD must say TCP (family inet or inet6, a
 * stream socket) and the kernel that this process's fd is a socket.
 */
static __always_inline int go_tcpconn_fd(const struct weft_go_cfg *cfg, __u64 tcp)
{
	__u64 nfd, fam, sot;
	__s64 fd;

	if (!tcp || cfg->tcpconn_conn < 0 || cfg->conn_fd < 0 || cfg->netfd_pfd < 0 ||
	    cfg->pfd_sysfd < 0 || cfg->netfd_family < 0 || cfg->netfd_sotype < 0)
		return -1;
	nfd = read_u64(tcp + cfg->tcpconn_conn + cfg->conn_fd);
	if (!nfd)
		return -1;
	fam = read_u64(nfd + cfg->netfd_family);
	sot = read_u64(nfd + cfg->netfd_sotype);
	fd = (__s64)read_u64(nfd + cfg->netfd_pfd + cfg->pfd_sysfd);
	if ((fam != 2 && fam != 10) || sot != 1 || fd < 0 || fd >= (1 << 20))
		return -1;
	return weft_fd_socket_file(fd) ? (int)fd : -1;
}

/* Forget the published context of stream sid on connection cookie of process tgid. */
static __always_inline void go_stream_forget(__u64 cookie, __u32 tgid, __u32 sid)
{
	struct weft_stream_key sk = {.cookie = cookie, .tgid = tgid, .sid = sid};

	bpf_map_delete_elem(&go_stream_ctx, &sk);
}

/*
 * The socket cookie of the *net.TCPConn tcp (a net.Conn's data word), 0 when
 * it is none or no weft-http enrolled the socket (sockops names it at connect).
 */
static __always_inline __u64 go_tcpconn_cookie(const struct weft_go_cfg *cfg, __u64 tcp)
{
	int fd = go_tcpconn_fd(cfg, tcp);
	struct sock *sk = fd >= 0 ? weft_fd_sock(fd) : NULL;

	return sk ? BPF_CORE_READ(sk, __sk_common.skc_cookie.counter) : 0;
}

#endif /* WEFT_GO_SHARED_BPF_H */

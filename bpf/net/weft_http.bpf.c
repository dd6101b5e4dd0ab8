// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft-http: traceparent insertion into outgoing HTTP/1.x requests (sk_msg),
 * incoming request parsing and SERVER/CLIENT spans (syscall tracepoints).
 *
 * Outgoing: a sockops program (attached to the target cgroup) puts every
 * outgoing TCP connection into `sock_map` at ACTIVE_ESTABLISHED. The sk_msg
 * program then follows each connection's request stream with a per-socket
 * state (sk_storage `conn`):
 *   START   the next byte starts a request. When its header block is complete
 *           in this write, insert "traceparent: ...\r\n" after the request
 *           line unless the block already has one, then bpf_msg_apply_bytes()
 *           over header block + Content-Length body so the program next runs
 *           exactly at the following request (or chunk) boundary.
 *   HDR     inside a header block that goes on in a later write: the bytes
 *           pass at once (nothing is ever held back: corked bytes are lost
 *           on shutdown/close), the scanner resumes on the next write, and the
 *           request is inserted into only if its request line ends in the
 *           write that ends the block.
 *   CHUNK   in a chunked body: a resumable RFC 9112 chunk parser (size lines
 *           with any number of digits and extensions, data skipped with
 *           apply_bytes, CRLF after the data checked, trailer section).
 *   PASS    not (or no longer) followed: everything passes unchanged.
 * A stream whose first bytes are not a known method is not HTTP: it passes
 * unchanged and user space removes it from the sockhash (ring buffer notice).
 *
 * Incoming: syscall tracepoints on read/recvfrom/recvmsg/readv exits parse
 * requests read by target threads (across reads) and the responses to their
 * own outgoing requests; write/sendto/sendmsg/writev entries note the fd a
 * thread writes (for sk_msg) and end the SERVER span at the status line.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>

const volatile bool weft_have_bpf_loop = true;
const volatile bool filter_cgroup = false;	/* tracepoints: only tasks under target_cg */
const volatile bool filter_pids = false;	/* only tgids in target_pids */
const volatile bool have_go_pids = false;	/* weft-go's pinned go_pids is in use */

#include "weft_span.h"
#include "weft_conn_ctx.h"
#include "net/http_parse.bpf.h"
/* SERVER span events carry the served request's tracestate (srv_ts below) */
struct weft_server_ctx;
static __always_inline void sctx_end_ts(struct weft_span_event *ev,
					const struct weft_server_ctx *s, __u64 pid_tgid);
#define WEFT_SCTX_END_HOOK(ev, s, pid_tgid) sctx_end_ts(ev, s, pid_tgid)
#include "net/server_ctx.bpf.h"
#include "net/weft_http.h"

#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000

char LICENSE[] SEC("license") = "Dual BSD/GPL";

enum conn_phase {
	PH_START = 0,
	PH_CHUNK,
	PH_PASS,
	PH_HDR,
};

/* Chunked body parser (RFC 9112 section 7.1), one byte at a time. */
enum chunk_state {
	CK_SIZE0 = 0,	/* chunk-size: no digit yet */
	CK_SIZE,	/* chunk-size digits (leading zeros allowed, any number) */
	CK_BWS,		/* spaces after the size: then ';' or the end of the line */
	CK_EXT,		/* chunk extensions up to the end of the line */
	CK_SIZE_LF,	/* CR seen at the end of the size line */
	CK_DATA_CR,	/* after the chunk data: CRLF */
	CK_DATA_LF,
	CK_TR_START,	/* start of a trailer line (or the final empty line) */
	CK_TR,
	CK_TR_LF,
	CK_END_LF,	/* CR of the final empty line seen */
};

enum chunk_ret { CK_MORE = 0, CK_DATA, CK_END, CK_BAD };

#define CK_LINE_MAX	4096		/* a chunk-size line with its extensions */
#define CK_SIZE_MAX	(1ULL << 31)	/* larger chunks: given up (apply_bytes is 32-bit) */

struct conn_state {
	__u64 cookie;
	__u8 phase;		/* enum conn_phase */
	__u8 pid_checked;
	__u8 ck;		/* enum chunk_state, in PH_CHUNK */
	__u8 seen_request;	/* at least one HTTP request went out */
	__u32 ck_line;		/* bytes of the current size line / trailer section */
	__u64 ck_size;		/* the chunk-size being read */
	struct weft_http_scan scan;	/* the request header block being read */
};

/* An outgoing request waiting for its response (key: tgid, fd, sequence). */
struct client_pending {
	struct weft_span_event ev;
};

struct fd_key {
	__u32 tgid;
	__s32 fd;
};

/*
 * The unanswered requests of a connection, oldest first: client_pending holds
 * (tgid, fd, head) .. (tgid, fd, tail - 1). Pipelined requests each get their
 * CLIENT span; responses end them in order.
 */
struct cp_key {
	__u32 tgid;
	__s32 fd;
	__u32 seq;
	__u32 _pad;
};

struct cp_seq {
	__u64 cookie;	/* the connection (an fd number is reused) */
	__u32 head;
	__u32 tail;
};

#define CP_QUEUE 8	/* more unanswered requests: the oldest is exported unanswered */

/* An incoming stream on a target thread's socket (key: tgid, fd). */
struct in_state {
	__u64 body_left;	/* request body bytes still to be read */
	__u8 active;		/* a header block is being read */
	__u8 _pad[7];
	struct weft_http_scan scan;
};

struct rd_args {
	__u64 buf;
	__s32 fd;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} sock_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct conn_state);
} conn SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} target_cg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} target_pids SEC(".maps");

/* The fd each thread is writing right now (for sk_msg, which has no fd). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __s32);
} cur_fd SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct rd_args);
} rd_args SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct fd_key);
	__type(value, struct in_state);
} in_states SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct cp_key);
	__type(value, struct client_pending);
} client_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct fd_key);
	__type(value, struct cp_seq);
} client_seq SEC(".maps");

/* weft-go's published contexts; user space reuses the pinned map when present. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WEFT_CONN_CTX_MAX);
	__type(key, struct weft_conn_key);
	__type(value, struct weft_conn_ctx);
} go_conn_ctx SEC(".maps");

/* The processes weft-go instruments (weft_conn_ctx.h); reused from its pin. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WEFT_GO_PIDS_MAX);
	__type(key, __u32);
	__type(value, __u32);
} go_pids SEC(".maps");

/* weft-go emits this process's spans: we only carry its contexts to the wire. */
static __always_inline bool go_owned(__u32 tgid)
{
	return have_go_pids && bpf_map_lookup_elem(&go_pids, &tgid);
}

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} spans SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 14);
} notices SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WH_NCOUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Scratch buffers: one for sk_msg, one for tracepoints; templates for big values. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct weft_scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct in_state);
} in_tmp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct client_pending);
} cp_tmp SEC(".maps");

/* The sk_msg scratch of this CPU is in use by a run (see weft_http_msg). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} msg_busy SEC(".maps");

/* Room for a new server entry (weft_sctx_begin), used from tracepoints only. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct weft_server_ctx);
} sctx_tmp SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		__sync_fetch_and_add(v, 1); /* sk_msg and sockops runs can be preempted */
}

static __always_inline bool pid_targeted(__u32 tgid)
{
	return !filter_pids || bpf_map_lookup_elem(&target_pids, &tgid);
}

/* Is the current task one we instrument (tracepoints fire for every task)? */
static __always_inline bool task_targeted(__u64 pid_tgid)
{
	if (filter_cgroup && bpf_current_task_under_cgroup(&target_cg, 0) != 1)
		return false;
	return pid_targeted(pid_tgid >> 32);
}

static __always_inline bool weft_loop_targeted(__u64 pid_tgid)
{
	return task_targeted(pid_tgid);
}

#include "net/loop_thread.bpf.h"
#include "net/rt_nginx.bpf.h"

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
		if (st && pid_targeted(bpf_get_current_pid_tgid() >> 32))
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

/*
 * ------------------------------------------------------------- tracestate
 * The incoming tracestate of a SERVER span, parsed by the W3C rules
 * (weft_tracestate.h) where the request is read, kept per thread with the
 * span id it belongs to; it goes out beside the traceparent inserted into the
 * span's outgoing requests and into the SERVER and CLIENT span events.
 */

struct srv_ts {
	__u8 span_id[WEFT_SPAN_ID_LEN];	/* the SERVER span it belongs to */
	__u16 len;			/* 0: none */
	__u8 _pad[6];
	char ts[WEFT_TS_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, WEFT_SCTX_MAX);
	__type(key, __u64);
	__type(value, struct srv_ts);
} srv_ts SEC(".maps");

/* Parser state and a new srv_ts entry (tracepoints only). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct weft_ts_state);
} ts_tmp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct srv_ts);
} srv_ts_tmp SEC(".maps");

/* Has the thread a tracestate at all (for some SERVER span)? */
static __always_inline bool srv_ts_maybe(__u64 pid_tgid)
{
	struct srv_ts *e = bpf_map_lookup_elem(&srv_ts, &pid_tgid);

	return e && e->len;
}

/* The thread's tracestate when it belongs to SERVER span span_id, else NULL. */
static __always_inline struct srv_ts *srv_ts_get(__u64 pid_tgid, const __u8 *span_id)
{
	struct srv_ts *e = bpf_map_lookup_elem(&srv_ts, &pid_tgid);

	return e && e->len && weft_span_id_eq(e->span_id, span_id) ? e : NULL;
}

/* A global function: its 512-byte copy is verified once, not on every path. */
__attribute__((noinline)) int ev_set_ts(struct weft_span_event *ev, const struct srv_ts *e)
{
	if (!ev || !e)
		return 0;
	ev->tracestate_len = e->len;
	__builtin_memcpy(ev->tracestate, e->ts, WEFT_TS_MAX);
	return 0;
}

static __always_inline void sctx_end_ts(struct weft_span_event *ev,
					const struct weft_server_ctx *s, __u64 pid_tgid)
{
	ev_set_ts(ev, srv_ts_get(pid_tgid, s->ctx.span_id));
}

struct ts_line_ctx {
	struct weft_scratch *sc;
	struct weft_ts_state *st;
	__u32 pos;
	__u32 end;
	__u32 lines;	/* tracestate header lines seen */
	__u32 off;	/* the value being fed */
};

static long ts_byte_cb(__u32 i, void *data)
{
	struct ts_line_ctx *lc = data;

	weft_ts_byte(lc->st, lc->sc->buf[(lc->off + i) & WEFT_SCRATCH_MASK]);
	return 0;
}

/* One header line: feed a tracestate value to the parser (lines joined by ','). */
static long ts_line_cb(__u32 i, void *data)
{
	struct ts_line_ctx *lc = data;
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
		bpf_loop(vend - p - 11, ts_byte_cb, lc, 0);
	}
	return 0;
}

/*
 * The request header block buf[start, end) was read for SERVER span span_id:
 * keep its validated tracestate (or none) as the thread's srv_ts entry.
 * Needs bpf_loop; without it no tracestate is carried.
 */
static __always_inline void ts_capture(__u64 id, const __u8 *span_id, struct weft_scratch *sc,
				       __u32 start, __u32 end)
{
	struct ts_line_ctx lc = { .sc = sc, .end = end };
	struct srv_ts *e;
	__u32 zero = 0;
	int r = 0;

	if (!sc)
		return;
	if (lc.end > WEFT_SCRATCH_SZ)
		lc.end = WEFT_SCRATCH_SZ;
	e = bpf_map_lookup_elem(&srv_ts, &id);
	if (!e) {
		e = bpf_map_lookup_elem(&srv_ts_tmp, &zero);
		if (!e)
			return;
		e->len = 0;
		bpf_map_update_elem(&srv_ts, &id, e, BPF_ANY);
		e = bpf_map_lookup_elem(&srv_ts, &id);
		if (!e)
			return;
	}
	__builtin_memcpy(e->span_id, span_id, WEFT_SPAN_ID_LEN);
	e->len = 0;
	lc.st = bpf_map_lookup_elem(&ts_tmp, &zero);
	if (!lc.st || !weft_have_bpf_loop)
		return;
	/* a second pass only when over 512 with members over 128 characters */
	for (int pass = 0; pass < 2; pass++) {
		weft_ts_init(lc.st, pass);
		lc.pos = start;
		lc.lines = 0;
		bpf_loop(WEFT_LINES_MAX, ts_line_cb, &lc, 0);
		r = weft_ts_end(lc.st);
		if (r != 1)
			break;
	}
	if (r < 0) {
		count(WH_TS_INVALID);
		return;
	}
	__builtin_memcpy(e->ts, lc.st->out, WEFT_TS_MAX);
	e->len = lc.st->out_len > WEFT_TS_MAX ? 0 : lc.st->out_len;
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

/* A CLIENT span whose response was never seen: exported as it is (status 0, ends now). */
static __always_inline void client_flush(struct cp_key *k)
{
	struct client_pending *p = bpf_map_lookup_elem(&client_pending, k);

	if (!p)
		return;
	p->ev.end_ns = bpf_ktime_get_ns();
	if (bpf_ringbuf_output(&spans, &p->ev, sizeof(p->ev), weft_rb_flags(&spans)))
		count(WH_ERRORS);
	else
		count(WH_CLIENT_SPANS);
	bpf_map_delete_elem(&client_pending, k);
}

/* Queue the CLIENT span of a request sent on connection cookie (fd fk). */
static __always_inline void client_push(const struct fd_key *fk, __u64 cookie,
					const struct client_pending *cp)
{
	struct cp_key k = { .tgid = fk->tgid, .fd = fk->fd };
	struct cp_seq z = { .cookie = cookie }, *q;

	q = bpf_map_lookup_elem(&client_seq, fk);
	if (!q) {
		bpf_map_update_elem(&client_seq, fk, &z, BPF_ANY);
		q = bpf_map_lookup_elem(&client_seq, fk);
		if (!q)
			return;
	}
	/* the fd's previous connection, or too many unanswered: export them unanswered */
	for (int i = 0; i < CP_QUEUE; i++) {
		__u32 h = q->head;

		if (h == q->tail || (q->cookie == cookie && q->tail - h < CP_QUEUE))
			break;
		k.seq = h;
		client_flush(&k);
		q->head = h + 1;
	}
	if (q->cookie != cookie) {
		q->cookie = cookie;
		q->head = q->tail;
	}
	k.seq = q->tail;
	if (!bpf_map_update_elem(&client_pending, &k, cp, BPF_ANY))
		q->tail = k.seq + 1;
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
	if (bpf_msg_push_data(msg, off, n, 0))
		return -1;
	if (bpf_msg_pull_data(msg, off, off + n, 0))
		return -1;
	data = (void *)(long)msg->data;
	data_end = (void *)(long)msg->data_end;
	if (data + WEFT_TP_LINE_LEN > data_end)
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
	for (__u32 i = 0; i < WEFT_TS_MAX; i++) {
		if (i >= tl)
			break;
		q = data + WEFT_TP_LINE_LEN + WEFT_TS_HEADER_LEN + i;
		if (q + 1 > data_end)
			return -1;
		*q = ts->c[i & (WEFT_TS_MAX - 1)];
	}
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

	if (!have_go_pids || k->fd < 0)
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
 */
static __always_inline int request_done(struct sk_msg_md *msg, struct conn_state *st,
					struct weft_scratch *sc, __u32 base)
{
	struct weft_http_scan *s = &st->scan;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct hdr_find_ctx hc = { .sc = sc, .pos = s->reqline_end, .end = s->hdr_end };
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
		emit = false;

	/* the request's own traceparent value and tracestate lines: found only
	 * when needed (a forwarded header to replace, a tracestate to add) */
	if (weft_have_bpf_loop && !base &&
	    (s->tp_count == 1 || srv_ts_maybe(pid_tgid) || go_owned(fk.tgid)))
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
		cp->ev.start_ns = bpf_ktime_get_ns();
		cp->ev.pid = pid_tgid >> 32;
		cp->ev.tid = (__u32)pid_tgid;
		cp->ev.kind = WEFT_KIND_CLIENT;
		cp->ev.proto = WEFT_PROTO_HTTP1;
		cp->ev.injector = WEFT_INJ_HTTP;
		cp->ev.truncated = s->truncated;
		cp->ev.method_len = s->method_len;
		cp->ev.path_len = s->path_len;
		__builtin_memcpy(cp->ev.method, s->method, WEFT_METHOD_MAX);
		__builtin_memcpy(cp->ev.path, s->path, WEFT_PATH_MAX);
		fill_peer(&cp->ev.peer, msg, false);
		fill_peer(&cp->ev.local, msg, true);
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

static __always_inline int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The end of a chunk-size line: data follows, or the trailer section. */
static __always_inline int chunk_line_done(struct conn_state *st)
{
	st->ck_line = 0;
	if (st->ck_size) {
		st->ck = CK_DATA_CR;
		return CK_DATA;
	}
	st->ck = CK_TR_START;
	return CK_MORE;
}

/* One byte of a chunked body (a global function: verified once). */
__attribute__((noinline)) int weft_chunk_byte(struct conn_state *st, int c)
{
	int d;

	if (!st)
		return CK_BAD;
	st->ck_line++;
	switch (st->ck) {
	case CK_SIZE0:
	case CK_SIZE:
		d = hexval(c);
		if (d >= 0) {
			if (st->ck_size >= CK_SIZE_MAX / 16)
				return CK_BAD;
			st->ck_size = st->ck_size * 16 + d;
			st->ck = CK_SIZE;
		} else if (st->ck == CK_SIZE0) {
			return CK_BAD;
		} else if (c == ';') {
			st->ck = CK_EXT;
		} else if (c == ' ' || c == '\t') {
			st->ck = CK_BWS;
		} else if (c == '\r') {
			st->ck = CK_SIZE_LF;
		} else if (c == '\n') {
			return chunk_line_done(st);
		} else {
			return CK_BAD;
		}
		break;
	case CK_BWS:
		if (c == ';')
			st->ck = CK_EXT;
		else if (c == '\r')
			st->ck = CK_SIZE_LF;
		else if (c == '\n')
			return chunk_line_done(st);
		else if (c != ' ' && c != '\t')
			return CK_BAD;
		break;
	case CK_EXT:
		if (c == '\n')
			return chunk_line_done(st);
		if (c == '\r')
			st->ck = CK_SIZE_LF;
		else if ((c < ' ' && c != '\t') || c == 0x7f)
			return CK_BAD;
		break;
	case CK_SIZE_LF:
		if (c != '\n')
			return CK_BAD;
		return chunk_line_done(st);
	case CK_DATA_CR:
		if (c == '\r') {
			st->ck = CK_DATA_LF;
			break;
		}
		/* fall through: a bare LF ends the data too */
	case CK_DATA_LF:
		if (c != '\n')
			return CK_BAD;
		st->ck = CK_SIZE0;
		st->ck_size = 0;
		st->ck_line = 0;
		break;
	case CK_TR_START:
		if (c == '\r') {
			st->ck = CK_END_LF;
			break;
		}
		if (c == '\n')
			return CK_END;
		if (c == ' ' || c == '\t')
			return CK_BAD;	/* obs-fold */
		st->ck = CK_TR;
		break;
	case CK_TR:
		if (c == '\n')
			st->ck = CK_TR_START;
		else if (c == '\r')
			st->ck = CK_TR_LF;
		break;
	case CK_TR_LF:
		if (c != '\n')
			return CK_BAD;
		st->ck = CK_TR_START;
		break;
	case CK_END_LF:
		if (c != '\n')
			return CK_BAD;
		return CK_END;
	default:
		return CK_BAD;
	}
	if (st->ck_line > (st->ck >= CK_TR_START ? WEFT_HDR_MAX : CK_LINE_MAX))
		return CK_BAD;
	return CK_MORE;
}

struct chunk_loop {
	struct conn_state *st;
	const char *buf;
	__u32 used;	/* bytes consumed */
	int ret;
};

/* One byte of a chunked body; the bounded-loop fallback calls this directly. */
static __always_inline long chunk_step(__u32 i, struct chunk_loop *lc)
{
	lc->ret = weft_chunk_byte(lc->st, lc->buf[i & WEFT_SCRATCH_MASK]);
	lc->used = i + 1;
	return lc->ret != CK_MORE;
}

static long chunk_loop_cb(__u32 i, void *data)
{
	return chunk_step(i, data);
}

#define CK_FALLBACK 32	/* bytes per program run without bpf_loop */

/* In a chunked body, at buf[0, n) (the first n bytes of this message). */
static __always_inline int chunk_run(struct sk_msg_md *msg, struct conn_state *st,
				     const char *buf, __u32 n)
{
	struct chunk_loop lc = { .st = st, .buf = buf, .ret = CK_MORE };

	if (weft_have_bpf_loop) {
		bpf_loop(n, chunk_loop_cb, &lc, 0);
	} else {
		for (__u32 i = 0; i < CK_FALLBACK; i++) {
			if (i >= n || chunk_step(i, &lc))
				break;
		}
	}
	switch (lc.ret) {
	case CK_BAD:
		return drop_conn(msg, st, WH_BAD_FRAMING);
	case CK_DATA:
		/* the program next runs at the CRLF after the data */
		bpf_msg_apply_bytes(msg, lc.used + (__u32)st->ck_size);
		return SK_PASS;
	case CK_END:
		st->phase = PH_START;
		bpf_msg_apply_bytes(msg, lc.used);
		return SK_PASS;
	default:
		/* the line goes on: the rest of this message, or the next write */
		set_apply(msg, lc.used < msg->size ? lc.used : 0);
		return SK_PASS;
	}
}

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
	r = weft_http_scan_run(&st->scan, buf, 0, n);
	if (r == WEFT_SCAN_DONE)
		return request_done(msg, st, (struct weft_scratch *)buf, before);
	if (r == WEFT_SCAN_BAD)
		return drop_conn(msg, st, st->scan.reqline_end ? WH_GIVE_UP : WH_NOT_HTTP);
	st->phase = PH_HDR;
	set_apply(msg, 0);
	return SK_PASS;
}

/* One message of an enrolled connection, with the CPU's sk_msg scratch buf held. */
static __always_inline int msg_work(struct sk_msg_md *msg, struct conn_state *st, char *buf)
{
	__u32 size = msg->size, want = size < WEFT_HDR_MAX ? size : WEFT_HDR_MAX;
	int n, r;

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
	r = weft_http_parse_block(&st->scan, buf, n);
	if (r == WEFT_SCAN_DONE)
		return request_done(msg, st, (struct weft_scratch *)buf, 0);
	if (r == WEFT_SCAN_MORE && n < WEFT_HDR_MAX) {
		/* the block goes on in a later write: follow it byte by byte */
		weft_http_scan_init(&st->scan);
		return header_resume(msg, st, buf, n);
	}
	return drop_conn(msg, st, st->scan.reqline_end ? WH_GIVE_UP : WH_NOT_HTTP);
}

SEC("sk_msg")
int weft_http_msg(struct sk_msg_md *msg)
{
	struct bpf_sock *sk = msg->sk;
	struct conn_state *st;
	__u32 zero = 0, one = 1;
	__u64 *busy;
	char *buf;
	int r;

	if (!sk)
		return SK_PASS;
	st = bpf_sk_storage_get(&conn, sk, 0, 0);
	if (!st || st->phase == PH_PASS)
		return SK_PASS;
	if (!st->pid_checked) {
		if (!pid_targeted(bpf_get_current_pid_tgid() >> 32))
			return drop_conn(msg, st, WH_NOT_OURS);
		st->pid_checked = 1;
	}
	buf = bpf_map_lookup_elem(&scratch, &one);
	busy = bpf_map_lookup_elem(&msg_busy, &zero);
	if (!buf || !busy)
		return SK_PASS;
	/*
	 * sk_msg runs with migration, not preemption, disabled: on a preemptible
	 * kernel another connection's run can start on this CPU while one is
	 * suspended half-way. It must not parse in the same buffer: it gives up
	 * following its connection (fail closed: the request leaves untouched).
	 */
	if (__sync_val_compare_and_swap(busy, 0, 1))
		return drop_conn(msg, st, WH_PREEMPTED);
	r = msg_work(msg, st, buf);
	asm volatile("" ::: "memory");
	*(volatile __u64 *)busy = 0;
	return r;
}

/* ------------------------------------------------------------- tracepoints */

static __always_inline struct file *fd_file(__s32 fd)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct file **fds;
	struct file *f = NULL;
	unsigned int max;

	fds = BPF_CORE_READ(t, files, fdt, fd);
	max = BPF_CORE_READ(t, files, fdt, max_fds);
	if (fd < 0 || (unsigned int)fd >= max)
		return NULL;
	bpf_core_read(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline struct sock *fd_sock(__s32 fd)
{
	struct file *f = fd_file(fd);
	struct socket *so;
	umode_t mode;

	if (!f)
		return NULL;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	so = BPF_CORE_READ(f, private_data);
	return so ? BPF_CORE_READ(so, sk) : NULL;
}

static __always_inline void sock_addrs(struct sock *sk, struct weft_sockaddr *local,
				       struct weft_sockaddr *peer)
{
	__u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);

	if (fam == AF_INET) {
		__u32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 p = BPF_CORE_READ(sk, __sk_common.skc_daddr);

		__builtin_memcpy(local->addr, &l, 4);
		__builtin_memcpy(peer->addr, &p, 4);
		local->family = peer->family = 4;
	} else if (fam == AF_INET6) {
		BPF_CORE_READ_INTO(local->addr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(peer->addr, sk, __sk_common.skc_v6_daddr);
		local->family = peer->family = 6;
	}
	local->port = BPF_CORE_READ(sk, __sk_common.skc_num);
	peer->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
}

static __always_inline void save_rd(__s32 fd, __u64 ubuf)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct rd_args a = { .buf = ubuf, .fd = fd }, *p;

	if (!task_targeted(id))
		return;
	p = bpf_map_lookup_elem(&rd_args, &id);
	if (p)
		*p = a;	/* in place: cheaper than an LRU update */
	else
		bpf_map_update_elem(&rd_args, &id, &a, BPF_ANY);
}

/* blk: where the request's header block starts in the tracepoint scratch, -1 if not all there */
static __always_inline void server_begin(__u64 id, __s32 fd, struct in_state *is, __u32 avail,
					 struct sock *sk, __s32 blk)
{
	struct weft_trace_ctx in = {};
	struct weft_server_ctx *sc;
	bool have = weft_http_scan_tp(&is->scan, &in) == 0;
	__u32 zero = 0;

	/* weft-go makes the SERVER spans of its processes */
	sc = go_owned(id >> 32) ? NULL
				: weft_sctx_begin(id, have ? &in : NULL, WEFT_PARENT_HEADER, fd,
						  (__u32)fd, bpf_map_lookup_elem(&sctx_tmp, &zero));
	if (sc) {
		sc->method_len = is->scan.method_len;
		sc->path_len = is->scan.path_len;
		sc->truncated = is->scan.truncated;
		__builtin_memcpy(sc->method, is->scan.method, WEFT_METHOD_MAX);
		__builtin_memcpy(sc->path, is->scan.path, WEFT_PATH_MAX);
		if (!sk)
			sk = fd_sock(fd);
		if (sk)
			sock_addrs(sk, &sc->local, &sc->peer);
		/* tracestate only beside a valid traceparent (W3C) */
		if (have && blk >= 0 && blk < WEFT_SCRATCH_SZ)
			ts_capture(id, sc->ctx.span_id, bpf_map_lookup_elem(&scratch, &zero),
				   blk + is->scan.reqline_end, blk + is->scan.hdr_end);
	}
	/* skip the request body; avail: body bytes already in this read */
	is->body_left = 0;
	if (is->scan.cl_seen && is->scan.content_length != ~0ULL)
		is->body_left = is->scan.content_length > avail ? is->scan.content_length - avail : 0;
}

/*
 * The oldest unanswered request of connection fk got its response. Returns
 * true when that response has no body whatever its headers say (a HEAD
 * request, 1xx, 204, 304).
 */
static __always_inline bool client_pop(const struct fd_key *fk, struct cp_seq *q, __u16 status)
{
	struct cp_key k = { .tgid = fk->tgid, .fd = fk->fd, .seq = q->head };
	struct client_pending *p = bpf_map_lookup_elem(&client_pending, &k);
	bool head;

	q->head = k.seq + 1;
	if (!p)
		return false;
	head = p->ev.method_len == 4 && p->ev.method[0] == 'H' && p->ev.method[1] == 'E';
	p->ev.status = status;
	p->ev.end_ns = bpf_ktime_get_ns();
	if (bpf_ringbuf_output(&spans, &p->ev, sizeof(p->ev), weft_rb_flags(&spans)))
		count(WH_ERRORS);
	else
		count(WH_CLIENT_SPANS);
	bpf_map_delete_elem(&client_pending, &k);
	return head || status < 200 || status == 204 || status == 304;
}

/* 1xx but 101 Switching Protocols: a final response follows, without a request */
static __always_inline bool interim(__u16 status)
{
	return status < 200 && status != 101;
}

struct resp_loop {
	struct weft_scratch *sc;
	struct weft_http_scan *s;	/* the current response's header fields */
	struct cp_seq *q;
	const struct fd_key *fk;
	__u32 pos;
	__u32 len;
	bool in_hdr;		/* pos is at a header line of the current response */
	bool popped;		/* the current response's span is already ended */
	bool no_body;
};

/*
 * One step through a read of pipelined responses: a status line ends the
 * oldest unanswered span; its header lines are read for Content-Length, and
 * the next response is looked for right after its body. Anything else
 * (chunked or unframed bodies, a response going on in the next read) stops.
 */
static long resp_step_cb(__u32 i, void *data)
{
	struct resp_loop *rl = data;
	char *buf = rl->sc->buf;
	__u16 status;
	int lf;
	char t[12];

	lf = weft_find_lf(rl->sc, rl->pos, rl->len);
	if (lf < 0)
		return 1;
	if (rl->in_hdr) {
		__u32 p = rl->pos;

		if (lf == p || (lf == p + 1 && buf[p & WEFT_SCRATCH_MASK] == '\r')) {
			/* end of the header block: skip the body */
			if (rl->no_body) {
				rl->pos = lf + 1;
			} else if (rl->s->cl_seen && !rl->s->chunked && !rl->s->te_seen &&
				   !rl->s->bad_framing && rl->s->content_length < WEFT_SCRATCH_SZ) {
				rl->pos = lf + 1 + (__u32)rl->s->content_length;
			} else {
				return 1;
			}
			rl->in_hdr = false;
			rl->popped = false;
			return rl->q->head == rl->q->tail;
		}
		weft_fast_field(rl->s, rl->sc, p, lf);
		rl->pos = lf + 1;
		return 0;
	}
	/* at the start of a response */
	if (rl->pos + 12 > rl->len)
		return 1;
	for (int j = 0; j < 12; j++)
		t[j] = buf[(rl->pos + j) & WEFT_SCRATCH_MASK];
	status = weft_http_status(t, sizeof(t));
	if (!status)
		return 1;
	if (!rl->popped)
		rl->no_body = interim(status) || client_pop(rl->fk, rl->q, status);
	weft_http_scan_init(rl->s);
	rl->in_hdr = true;
	rl->pos = lf + 1;
	return 0;
}

/*
 * A read began with the response to the oldest unanswered request (already
 * ended, or interim; no_body as client_pop said) and more are unanswered
 * (pipelining), or the final response may follow the interim one: the
 * responses that follow it in the same read end them in order.
 */
static __always_inline void more_responses(const struct fd_key *fk, struct cp_seq *q, __u64 ubuf,
					   __u32 len, bool no_body)
{
	__u32 zero = 0;
	struct resp_loop rl = { .q = q, .fk = fk, .len = len, .popped = true, .no_body = no_body };
	struct in_state *tmp = bpf_map_lookup_elem(&in_tmp, &zero);

	rl.sc = bpf_map_lookup_elem(&scratch, &zero);
	if (!rl.sc || !tmp)
		return;
	rl.s = &tmp->scan;
	weft_barrier_var(len);
	len &= 2 * WEFT_SCRATCH_SZ - 1;
	if (len > WEFT_SCRATCH_SZ || len == 0)
		return;
	if (bpf_probe_read_user(rl.sc->buf, len, (void *)ubuf))
		return;
	bpf_loop(512, resp_step_cb, &rl, 0);
}

/* A target thread read n bytes at ubuf from fd. */
static __always_inline void on_read(__u64 id, __s32 fd, __u64 ubuf, long n)
{
	struct fd_key fk = { .tgid = id >> 32, .fd = fd };
	struct in_state *is;
	struct cp_seq *q;
	__u32 zero = 0, off = 0, len, before, hl;
	struct sock *sk = NULL;
	char head[16] = {};
	char *buf;
	int r;

	if (n <= 0)
		return;
	len = n > WEFT_SCRATCH_SZ ? WEFT_SCRATCH_SZ : n;
	hl = len < 16 ? len : 16;
	/* fixed size (bytes past hl are ignored); a short buffer at a page end fails */
	if (bpf_probe_read_user(head, sizeof(head), (void *)ubuf) &&
	    bpf_probe_read_user(head, 1, (void *)ubuf))
		return;

	/*
	 * The response to one of our outgoing requests ("HTTP/1.x NNN"): looked
	 * up only then, so a request read costs no lookup here (HEAD requests
	 * also start with 'H'; weft_http_status rejects them).
	 */
	q = head[0] == 'H' ? bpf_map_lookup_elem(&client_seq, &fk) : NULL;
	if (q && q->head != q->tail) {
		__u16 status = weft_http_status(head, hl);

		if (status) {
			/* an interim response (100 Continue) ends nothing: the final one follows */
			bool no_body = interim(status) || client_pop(&fk, q, status);

			if ((interim(status) || q->head != q->tail) && weft_have_bpf_loop)
				more_responses(&fk, q, ubuf, len, no_body);
			return;
		}
	}

	is = bpf_map_lookup_elem(&in_states, &fk);
	if (is && is->body_left) {
		if (is->body_left >= len) {
			is->body_left -= len;
			return;
		}
		off = is->body_left;
		is->body_left = 0;
	}
	if ((!is || !is->active) && off == 0 && (head[0] < 'A' || head[0] > 'Z'))
		return;
	buf = bpf_map_lookup_elem(&scratch, &zero);
	if (!buf)
		return;
	weft_barrier_var(len);
	len &= 2 * WEFT_SCRATCH_SZ - 1;
	if (len > WEFT_SCRATCH_SZ || len == 0)
		return;
	if (bpf_probe_read_user(buf, len, (void *)ubuf))
		return;
	if (!is || !is->active) {
		char c = buf[off & WEFT_SCRATCH_MASK];

		if (c < 'A' || c > 'Z')
			return;
		sk = fd_sock(fd);
		if (!sk)
			return;
		if (!is) {
			is = bpf_map_lookup_elem(&in_tmp, &zero);
			if (!is)
				return;
			__builtin_memset(is, 0, sizeof(*is));
			bpf_map_update_elem(&in_states, &fk, is, BPF_ANY);
			is = bpf_map_lookup_elem(&in_states, &fk);
			if (!is)
				return;
		}
		weft_http_scan_init(&is->scan);
		if (off == 0) {
			/* common case: the whole header block in this read */
			r = weft_http_parse_block(&is->scan, buf, len);
			if (r == WEFT_SCAN_DONE) {
				server_begin(id, fd, is, len - is->scan.hdr_end, sk, 0);
				return;
			}
			if (r == WEFT_SCAN_BAD || !weft_have_bpf_loop)
				return;	/* without bpf_loop: whole blocks in one read only */
			weft_http_scan_init(&is->scan);
		}
		is->active = 1;
	}
	if (off >= len)
		return;
	before = is->scan.pos;
	r = weft_http_scan_run(&is->scan, buf, off, len - off);
	if (r == WEFT_SCAN_MORE)
		return;
	is->active = 0;
	if (r == WEFT_SCAN_DONE) {
		/* body bytes that came in this read after the header block */
		__u32 used = is->scan.pos - before;

		server_begin(id, fd, is, len - off > used ? len - off - used : 0, NULL,
			     before == 0 ? (__s32)off : -1);
	}
}

static __always_inline void exit_rd(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct rd_args *a = bpf_map_lookup_elem(&rd_args, &id);
	struct rd_args c;

	if (!a || !a->buf)
		return;
	c = *a;
	a->buf = 0;	/* consumed; the entry stays for the thread's next read */
	if (ret > 0)
		on_read(id, c.fd, c.buf, ret);
}

/* A target thread writes to fd: note it; end its SERVER span at the status line. */
static __always_inline void on_write(__s32 fd, __u64 ubuf, __u64 count_)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct weft_server_ctx *sc;
	char head[12];
	__u16 status;
	__s32 *fdp;

	if (!task_targeted(id))
		return;
	fdp = bpf_map_lookup_elem(&cur_fd, &id);
	if (fdp)
		*fdp = fd;
	else
		bpf_map_update_elem(&cur_fd, &id, &fd, BPF_ANY);
	sc = weft_sctx_get(id);
	if (count_ < 12)
		return;
	/* not the current request's fd: only a thread that parked one looks further */
	if ((!sc || sc->fd != fd) && !(weft_uncertain_get(id) & WEFT_UNCERTAIN_TWO))
		return;
	if (bpf_probe_read_user(head, sizeof(head), (void *)ubuf))
		return;
	status = weft_http_status(head, sizeof(head));
	if (status &&
	    !weft_sctx_end_conn(&spans, id, (__u32)fd, status, WEFT_INJ_HTTP, WEFT_PROTO_HTTP1))
		count(WH_SERVER_SPANS);
}

/* First iovec of an iovec array (readv/writev/recvmsg/sendmsg). */
static __always_inline void first_iov(__u64 uiov, __u64 *base, __u64 *len)
{
	struct iovec iov = {};

	bpf_probe_read_user(&iov, sizeof(iov), (void *)uiov);
	*base = (__u64)iov.iov_base;
	*len = iov.iov_len;
}

static __always_inline __u64 msghdr_iov(__u64 umsg)
{
	struct user_msghdr m = {};

	bpf_probe_read_user(&m, sizeof(m), (void *)umsg);
	return (__u64)m.msg_iov;
}

SEC("tracepoint/syscalls/sys_enter_read")
int weft_http_enter_read(struct trace_event_raw_sys_enter *ctx)
{
	save_rd(ctx->args[0], ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int weft_http_enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	save_rd(ctx->args[0], ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_readv")
int weft_http_enter_readv(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), base, len;

	if (!task_targeted(id))
		return 0;
	first_iov(ctx->args[1], &base, &len);
	save_rd(ctx->args[0], base);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int weft_http_enter_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), base, len;

	if (!task_targeted(id))
		return 0;
	first_iov(msghdr_iov(ctx->args[1]), &base, &len);
	save_rd(ctx->args[0], base);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_read")
int weft_http_exit_read(struct trace_event_raw_sys_exit *ctx)
{
	exit_rd(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int weft_http_exit_recvfrom(struct trace_event_raw_sys_exit *ctx)
{
	exit_rd(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_readv")
int weft_http_exit_readv(struct trace_event_raw_sys_exit *ctx)
{
	exit_rd(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int weft_http_exit_recvmsg(struct trace_event_raw_sys_exit *ctx)
{
	exit_rd(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_write")
int weft_http_enter_write(struct trace_event_raw_sys_enter *ctx)
{
	on_write(ctx->args[0], ctx->args[1], ctx->args[2]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int weft_http_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	on_write(ctx->args[0], ctx->args[1], ctx->args[2]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_writev")
int weft_http_enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	__u64 base, len;

	first_iov(ctx->args[1], &base, &len);
	on_write(ctx->args[0], base, len);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int weft_http_enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	__u64 base, len;

	first_iov(msghdr_iov(ctx->args[1]), &base, &len);
	on_write(ctx->args[0], base, len);
	return 0;
}

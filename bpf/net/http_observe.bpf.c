// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft-http, incoming: syscall tracepoints on read/recvfrom/recvmsg/readv
 * exits parse requests read by target threads (across reads) and the
 * responses to their own outgoing requests; write/sendto/sendmsg/writev
 * entries note the fd a thread writes (for sk_msg) and end the SERVER span
 * at the status line. The request's tracestate is kept for its outgoing
 * requests (srv_ts, http_shared.bpf.h). HTTP/2 servers' connections are
 * followed by http2_srv.bpf.h (reads, and writes to their exits).
 */
#define WEFT_LINK_EXTERN
#include "net/http_shared.bpf.h"
#include "net/http_client.bpf.h"
#include "net/iov_cursor.bpf.h"

/*
 * One read call of a target thread as its exit sees it, handed to each
 * reader of it (h2s_read, h2_in_read, on_read) by pointer: the first bytes
 * are copied from the process once, by the first that needs them (rd_head),
 * not once by each. In a per-CPU map, not on exit_rd's stack: on 6.1
 * exit_rd's frame, on_read's and two nested bpf_loop callbacks' share 512
 * bytes (tracepoint programs do not nest on a CPU).
 */
struct rd_call {
	__u64 id;	/* tgid << 32 | fd */
	__u64 ubuf;	/* the buffer (readv/recvmsg: the first iovec's) */
	__u64 uiov;	/* the iovec array; 0: one buffer */
	__u64 niov;	/* its entries */
	long n;		/* bytes read */
	__u8 hn;	/* head bytes readable: 16, 9 or 1; 0: not read yet; RD_HEAD_NONE */
	__u8 _pad[7];
	char head[16];	/* the first bytes at ubuf (zero past hn) */
};

#define RD_HEAD_NONE 0xff /* nothing at ubuf could be read */

WEFT_PERCPU_ARRAY(struct rd_call, 1) rd_calls SEC(".maps");

/*
 * The read's first bytes, copied once: how many could be read (16, else 9,
 * else 1; 0: none), as each reader read its own before (16 bytes, 9, or 1
 * at a page end). A failed read zeroes its destination, so the bytes past a
 * shorter read are 0, never an earlier call's.
 */
static __always_inline __u32 rd_head(struct rd_call *c)
{
	if (c->hn)
		return c->hn == RD_HEAD_NONE ? 0 : c->hn;
	if (!bpf_probe_read_user(c->head, 16, (void *)c->ubuf))
		c->hn = 16;
	else if (c->n >= 9 && !bpf_probe_read_user(c->head, 9, (void *)c->ubuf))
		c->hn = 9;
	else if (!bpf_probe_read_user(c->head, 1, (void *)c->ubuf))
		c->hn = 1;
	else
		c->hn = RD_HEAD_NONE;
	return c->hn == RD_HEAD_NONE ? 0 : c->hn;
}

/* Where a write call's bytes are: a buffer, an iovec array, a msghdr. */
enum wr_kind { WR_BUF, WR_IOV, WR_MSG };

/*
 * One write call of a target thread as its entry sees it, handed to each
 * reader of it (h2s_write_enter, on_write): the iovec array, the first
 * buffer and its first bytes are read from the process once each, by the
 * first that needs them (wr_arr, wr_first, wr_head).
 */
struct wr_call {
	__u64 uarg;	/* the syscall's argument: what kind says */
	__u64 count;	/* WR_BUF: the buffer's length; WR_IOV: the iovec count */
	__u64 arr;	/* WR_IOV, WR_MSG: the iovec array (wr_arr) */
	__u64 niov;	/* ... its entries */
	__u64 first;	/* the first buffer (wr_first) */
	__u64 first_len;
	__u8 kind;	/* enum wr_kind */
	__u8 have;	/* WR_HAVE_* */
	__u8 hn;	/* head bytes read: 12 or 9; 0: none */
	__u8 _pad[5];
	char head[16];	/* the first buffer's first bytes (wr_head) */
};

#define WR_HAVE_ARR   0x1
#define WR_HAVE_FIRST 0x2
#define WR_HAVE_HEAD  0x4

/* The iovec array and its count (0 for WR_BUF; a msghdr's read once). */
static __always_inline void wr_arr(struct wr_call *c)
{
	__u64 v[2] = {};

	if (c->have & WR_HAVE_ARR)
		return;
	c->have |= WR_HAVE_ARR;
	if (c->kind == WR_IOV) {
		c->arr = c->uarg;
		c->niov = c->count;
	} else if (c->kind == WR_MSG) {
		/* msg_iov and msg_iovlen, next to each other; 0 if unreadable */
		if (bpf_probe_read_user(v, sizeof(v),
					(void *)(c->uarg + __builtin_offsetof(struct user_msghdr,
									      msg_iov))))
			v[0] = v[1] = 0;
		c->arr = v[0];
		c->niov = v[1];
	}
}

/* The first buffer and its length (the first iovec's; 0 if unreadable). */
static __always_inline void wr_first(struct wr_call *c)
{
	struct iovec iov = {};

	if (c->have & WR_HAVE_FIRST)
		return;
	c->have |= WR_HAVE_FIRST;
	if (c->kind == WR_BUF) {
		c->first = c->uarg;
		c->first_len = c->count;
		return;
	}
	wr_arr(c);
	if (bpf_probe_read_user(&iov, sizeof(iov), (void *)c->arr))
		iov.iov_base = NULL, iov.iov_len = 0;
	c->first = (__u64)iov.iov_base;
	c->first_len = iov.iov_len;
}

/*
 * The first buffer's first bytes, read once: 12 when it has 12 (a status
 * line's "HTTP/1.x NNN"), else 9 (an HTTP/2 frame header); 0 when shorter or
 * unreadable.
 */
static __always_inline __u32 wr_head(struct wr_call *c)
{
	if (c->have & WR_HAVE_HEAD)
		return c->hn;
	c->have |= WR_HAVE_HEAD;
	wr_first(c);
	if (c->first_len >= 12 && !bpf_probe_read_user(c->head, 12, (void *)c->first))
		c->hn = 12;
	else if (c->first_len >= 9 && !bpf_probe_read_user(c->head, 9, (void *)c->first))
		c->hn = 9;
	return c->hn;
}

#include "net/http2_in.bpf.h"
#include "net/http_ts.bpf.h"
#include "weft_sock_addrs.bpf.h"

/*
 * The request header block buf[start, end) was read for SERVER span span_id:
 * keep its validated tracestate (or none) as the thread's srv_ts entry.
 * Needs bpf_loop; without it no tracestate is carried. none: the parser
 * counted the block's lines and saw no tracestate (its lines are not read
 * again).
 */
static __always_inline void ts_capture(__u64 id, const __u8 *span_id, struct weft_scratch *sc,
				       __u32 start, __u32 end, bool none)
{
	struct weft_ts_state *st;
	struct srv_ts *e;
	__u32 zero = 0;
	int r;

	if (!sc)
		return;
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
	if (none)
		return;
	st = bpf_map_lookup_elem(&ts_tmp, &zero);
	if (!st || !weft_have_bpf_loop)
		return;
	r = weft_http_ts_block(sc, st, start, end);
	if (r < 0) {
		count(WH_TS_INVALID);
		return;
	}
	__builtin_memcpy(e->ts, st->out, WEFT_TS_MAX);
	e->len = st->out_len > WEFT_TS_MAX ? 0 : st->out_len;
}

/* ------------------------------------------------------------- tracepoints */

#include "net/http2_srv.bpf.h"

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
			sk = weft_fd_sock(fd);
		if (sk)
			weft_sock_addrs(sk, &sc->local, &sc->peer);
		/* tracestate only beside a valid traceparent (W3C) */
		if (have && blk >= 0 && blk < WEFT_SCRATCH_SZ)
			ts_capture(id, sc->ctx.span_id, bpf_map_lookup_elem(&scratch, &zero),
				   blk + is->scan.reqline_end, blk + is->scan.hdr_end,
				   is->scan.fast && !is->scan.ts_lines);
	}
	/* skip the request body; avail: body bytes already in this read */
	is->body_left = 0;
	if (is->scan.cl_seen && is->scan.content_length != ~0ULL)
		is->body_left = is->scan.content_length > avail ? is->scan.content_length - avail : 0;
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

/*
 * A target thread read c->n bytes at c->ubuf from its fd (c: struct rd_call;
 * only the first iovec is looked at). A function of its own: beside h2s_read
 * (exit_rd) both would not fit on one stack.
 */
static __noinline void on_read(struct rd_call *c)
{
	__u64 id = bpf_get_current_pid_tgid(), ubuf = c->ubuf;
	__s32 fd = (__s32)c->id;
	struct fd_key fk = { .tgid = id >> 32, .fd = fd };
	const char *head = c->head;
	struct in_state *is;
	struct cp_seq *q;
	__u32 zero = 0, off = 0, len, before, hl;
	struct sock *sk = NULL;
	long n = c->n;
	char *buf;
	int r;

	if (n <= 0)
		return;
	len = n > WEFT_SCRATCH_SZ ? WEFT_SCRATCH_SZ : n;
	hl = len < 16 ? len : 16;
	/* 16 bytes (those past hl are ignored), or fewer at a page end */
	if (!rd_head(c))
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
		sk = weft_fd_sock(fd);
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
	r = weft_http_scan_run_g(&is->scan, (struct weft_scratch *)buf, off, len - off);
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

/*
 * ------------------------------------------------ pre-existing connections
 * Reads and writes of the connections the iterator marked (pre_conns,
 * http_shared.bpf.h): no span until a certain message boundary.
 */

/*
 * buf[0, n) is exactly one whole message whose header lines start at from
 * (a response needs Content-Length; a request without one has no body): 1,
 * else 0.
 */
static __always_inline int pre_whole(struct weft_http_scan *s, const char *buf, __u32 from,
				     __u32 n, bool response)
{
	struct weft_fast_ctx fc = { .s = s, .buf = buf, .pos = from, .len = n, .ret = WEFT_SCAN_BAD };

	bpf_loop(WEFT_LINES_MAX, weft_fast_line_cb, &fc, 0);
	if (fc.ret != WEFT_SCAN_DONE || s->chunked || s->te_seen || weft_http_scan_framing(s))
		return 0;
	if (!s->cl_seen)
		return !response && s->hdr_end == n;
	return (__u64)s->hdr_end + s->content_length == n;
}

/*
 * A target thread read n bytes at ubuf from a marked connection (id: tgid <<
 * 32 | fd; iov_len as on_read takes it): is it exactly one whole request
 * (incoming), or the whole response to the one request sent (outgoing)? A
 * global function, verified once.
 */
__noinline int pre_read(__u64 id, __u64 ubuf, long n, __u32 iov_len)
{
	struct fd_key fk = { .tgid = id >> 32, .fd = (__s32)id };
	__u32 zero = 0, len, lf;
	__u8 next = PRE_UNKNOWN;
	struct in_state *tmp;
	struct pre_conn *p;
	char *buf;

	p = bpf_map_lookup_elem(&pre_conns, &fk);
	if (!p)
		return 0;
	if (p->side == PRE_SERVER)
		count(WH_PRE_LEFT);
	tmp = bpf_map_lookup_elem(&in_tmp, &zero);
	buf = bpf_map_lookup_elem(&scratch, &zero);
	/* only a read whose bytes are all in one buffer weft can copy whole */
	if (!tmp || !buf || !weft_have_bpf_loop || n <= 0 || n > WEFT_SCRATCH_SZ ||
	    (iov_len && iov_len - 1 < n) || (p->side == PRE_CLIENT && p->step != PRE_ASKED))
		goto out;
	len = n;
	weft_barrier_var(len);
	len &= 2 * WEFT_SCRATCH_SZ - 1;
	if (len > WEFT_SCRATCH_SZ || len == 0 || bpf_probe_read_user(buf, len, (void *)ubuf))
		goto out;
	weft_http_scan_init(&tmp->scan);
	if (p->side == PRE_SERVER) {
		if (weft_http_method_prefix(buf, len) &&
		    weft_http_parse_block(&tmp->scan, buf, len) == WEFT_SCAN_DONE &&
		    pre_whole(&tmp->scan, buf, tmp->scan.reqline_end, len, false))
			next = PRE_ASKED;
		goto out;
	}
	/* client: the response to the one request sent, a final one (not 1xx) */
	if (weft_http_status(buf, len) < 200)
		goto out;
	lf = weft_find_lf((struct weft_scratch *)buf, 0, len);
	if ((int)lf > 0 && pre_whole(&tmp->scan, buf, lf + 1, len, true))
		next = PRE_CERTAIN;
out:
	p->step = next;
	return 0;
}

/*
 * Eight bytes of the calling process's memory at addr, 0 if unreadable (a
 * msghdr's iovec array, an iovec's base and length, for reads and writes): a
 * global function, verified once, whose frame is gone before on_read runs (on
 * 6.1 exit_rd's frame, on_read's and two nested bpf_loop callbacks' share 512
 * bytes, so exit_rd keeps no buffer of its own).
 */
__noinline __u64 weft_user_u64(__u64 addr)
{
	__u64 v = 0;

	if (bpf_probe_read_user(&v, sizeof(v), (void *)addr))
		return 0;
	return v;
}

/*
 * A target thread writes to a marked incoming connection: a status line after
 * exactly one whole request read is its answer, and the next read starts a
 * request (kind: enum wr_kind). A global function.
 */
__noinline int pre_write(__u64 id, __s32 fd, __u64 ubuf, __u64 count_, int kind)
{
	struct fd_key fk = { .tgid = id >> 32, .fd = fd };
	struct pre_conn *p = bpf_map_lookup_elem(&pre_conns, &fk);
	struct in_state *is;
	char head[12];

	if (!p || p->side != PRE_SERVER || p->step != PRE_ASKED)
		return 0;
	if (kind == WR_MSG)
		ubuf = weft_user_u64(ubuf + __builtin_offsetof(struct user_msghdr, msg_iov));
	if (kind != WR_BUF) {
		/* the first iovec: base, length */
		count_ = weft_user_u64(ubuf + __builtin_offsetof(struct iovec, iov_len));
		ubuf = weft_user_u64(ubuf + __builtin_offsetof(struct iovec, iov_base));
	}
	if (count_ < sizeof(head) || bpf_probe_read_user(head, sizeof(head), (void *)ubuf) ||
	    !weft_http_status(head, sizeof(head))) {
		p->step = PRE_UNKNOWN;
		return 0;
	}
	/* the next read starts a request: on_read follows the connection from there */
	is = bpf_map_lookup_elem(&in_states, &fk);
	if (is) {
		is->body_left = 0;
		is->active = 0;
	}
	bpf_map_delete_elem(&pre_conns, &fk);
	count(WH_PRE_CERTAIN);
	return 0;
}

/*
 * A thread writes to fd (uarg: what kind says; count_: the buffer's length
 * for WR_BUF): for a target thread, note the fd; end its SERVER span at the
 * status line. The bytes (and an iovec array) are read only for a write on
 * the connection of the request it serves.
 */
static __always_inline void on_write(__s32 fd, __u64 uarg, __u64 count_, enum wr_kind kind)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct wr_call c = { .uarg = uarg, .count = count_, .kind = kind };
	struct weft_server_ctx *sc;
	__u16 status;
	__s32 *fdp;

	if (!task_targeted(id))
		return;
	fdp = bpf_map_lookup_elem(&cur_fd, &id);
	if (fdp)
		*fdp = fd;
	else
		bpf_map_update_elem(&cur_fd, &id, &fd, BPF_ANY);
	h2s_write_enter(id, fd, &c);
	if (pre_any)
		pre_write(id, fd, uarg, count_, kind);
	sc = weft_sctx_get(id);
	/* not the current request's fd: only a thread that parked one looks further */
	if ((!sc || sc->fd != fd) && !(weft_uncertain_get(id) & WEFT_UNCERTAIN_TWO))
		return;
	/* the first buffer's first 12 bytes (read already when h2s_write_enter needed 9) */
	if (wr_head(&c) < 12)
		return;
	status = weft_http_status(c.head, 12);
	if (!status)
		return;
	/* the current request's connection: end the entry in hand (no second lookup) */
	if (sc && sc->conn == (__u32)fd) {
		weft_sctx_end_at(&spans, sc, id, status, WEFT_INJ_HTTP, WEFT_PROTO_HTTP1);
		count(WH_SERVER_SPANS);
	} else if (!weft_sctx_end_conn(&spans, id, (__u32)fd, status, WEFT_INJ_HTTP,
				       WEFT_PROTO_HTTP1)) {
		count(WH_SERVER_SPANS);
	}
}

/*
 * A read call's arguments, at its exit: the syscall's saved user registers
 * (x86-64: fd in di, the buffer or iovec array or msghdr in si), which the
 * kernel leaves as they were at the entry (only ax changes, to the result).
 * So each read costs one program run, at its exit, and nothing is kept
 * between entry and exit.
 */
enum rd_kind { RD_BUF, RD_IOV, RD_MSG };

/*
 * A target thread's read: *id = tgid << 32 | fd, its buffer (for
 * readv/recvmsg: the first iovec's) as on_read takes it: *ubuf, *len
 * (iov_len: 0 for one buffer, else 1 + the iovec's length), the iovec array
 * *uiov and its count *niov. false: not a target thread's.
 */
static __always_inline bool rd_args(enum rd_kind kind, __u64 *id, __u64 *ubuf, __u64 *len,
				    __u64 *uiov, __u64 *niov)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), l = 0, u, n;
	struct pt_regs *regs;

	if (!task_targeted(pid_tgid))
		return false;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	if (!regs)
		return false;
	u = regs->si;
	n = kind == RD_IOV ? regs->dx : 0;
	if (kind == RD_MSG) {
		/* msg_iov and msg_iovlen */
		n = weft_user_u64(u + __builtin_offsetof(struct user_msghdr, msg_iovlen));
		u = weft_user_u64(u + __builtin_offsetof(struct user_msghdr, msg_iov));
	}
	*uiov = u;
	if (kind != RD_BUF) {
		/* the first iovec: base, length */
		l = weft_user_u64(u + __builtin_offsetof(struct iovec, iov_len));
		u = weft_user_u64(u + __builtin_offsetof(struct iovec, iov_base));
	}
	*len = kind == RD_BUF ? 0 : l < WEFT_RD_ONE_BUF - 1 ? l + 1 : WEFT_RD_ONE_BUF - 1;
	*ubuf = u;
	*niov = n;
	*id = (pid_tgid & ~0xffffffffULL) | (__u32)regs->di;
	return true;
}

static __always_inline void exit_rd(long ret, enum rd_kind kind)
{
	__u32 zero = 0;
	struct rd_call *c;
	__u64 len;

	if (ret <= 0)
		return;
	c = bpf_map_lookup_elem(&rd_calls, &zero);
	if (!c || !rd_args(kind, &c->id, &c->ubuf, &len, &c->uiov, &c->niov))
		return;
	c->n = ret;
	c->hn = 0;
	if (kind == RD_BUF)
		c->uiov = 0;
	if (c->ubuf && !h2s_read(c) && !h2_in_read(c))
		on_read(c);
}

/*
 * The same reads for the connections the iterator marked (pre_read): a
 * program of its own, as exit_read is near 6.1's verifier limit. It only
 * notes where the boundaries are; on_read leaves a marked incoming connection
 * alone by itself (its in_states entry skips every byte until pre_write ends
 * that).
 */
static __always_inline void pre_exit_rd(long ret, enum rd_kind kind)
{
	__u64 id, ubuf, len, uiov, niov;

	if (ret > 0 && pre_any && rd_args(kind, &id, &ubuf, &len, &uiov, &niov) && ubuf)
		pre_read(id, ubuf, ret, len);
}

/* x86-64 syscall numbers (the syscall's registers above are x86-64's too) */
#define WEFT_NR_READV	19
#define WEFT_NR_RECVMSG 47

/*
 * One program at the exits of read, recvfrom, readv and recvmsg, attached by
 * user space to all four only when the iterator marked a connection: the
 * syscall number says which.
 */
SEC("tracepoint/syscalls/sys_exit_read")
int weft_http_pre_read(struct trace_event_raw_sys_exit *ctx)
{
	long nr = ctx->id;

	pre_exit_rd(ctx->ret, nr == WEFT_NR_READV ? RD_IOV : nr == WEFT_NR_RECVMSG ? RD_MSG : RD_BUF);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_read")
int weft_http_exit_read(struct trace_event_raw_sys_exit *ctx)
{
	exit_rd(ctx->ret, RD_BUF);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int weft_http_exit_recvfrom(struct trace_event_raw_sys_exit *ctx)
{
	exit_rd(ctx->ret, RD_BUF);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_readv")
int weft_http_exit_readv(struct trace_event_raw_sys_exit *ctx)
{
	exit_rd(ctx->ret, RD_IOV);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int weft_http_exit_recvmsg(struct trace_event_raw_sys_exit *ctx)
{
	exit_rd(ctx->ret, RD_MSG);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_write")
int weft_http_enter_write(struct trace_event_raw_sys_enter *ctx)
{
	on_write(ctx->args[0], ctx->args[1], ctx->args[2], WR_BUF);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int weft_http_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	on_write(ctx->args[0], ctx->args[1], ctx->args[2], WR_BUF);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_writev")
int weft_http_enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	on_write(ctx->args[0], ctx->args[1], ctx->args[2], WR_IOV);	/* count_: iovcnt */
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int weft_http_enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	on_write(ctx->args[0], ctx->args[1], 0, WR_MSG);
	return 0;
}

/* Exits of writes: the bytes an HTTP/2 server connection's write really sent. */
SEC("tracepoint/syscalls/sys_exit_write")
int weft_http_exit_write(struct trace_event_raw_sys_exit *ctx)
{
	h2s_write_exit(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_sendto")
int weft_http_exit_sendto(struct trace_event_raw_sys_exit *ctx)
{
	h2s_write_exit(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_writev")
int weft_http_exit_writev(struct trace_event_raw_sys_exit *ctx)
{
	h2s_write_exit(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_sendmsg")
int weft_http_exit_sendmsg(struct trace_event_raw_sys_exit *ctx)
{
	h2s_write_exit(ctx->ret);
	return 0;
}

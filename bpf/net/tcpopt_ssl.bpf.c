// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft-tcpopt, OpenSSL plaintext: SSL_write/SSL_read uprobes start and end
 * CLIENT and SERVER spans and hand a request's context to the option
 * (tcpopt_sock.bpf.h); event-loop threads are marked (loop_thread.bpf.h).
 */
#define WEFT_LINK_EXTERN
#include "tcpopt_shared.bpf.h"
#include "tcpopt_sock.bpf.h"
#include "loop_thread.bpf.h"

/* ------------------------------------------------------- OpenSSL plaintext */

static __always_inline struct weft_http_scan *scan_head(struct ssl_run *run, __u64 buf, __u64 n)
{
	struct weft_scratch *sc = &run->sc;
	struct weft_http_scan *s = &run->scan;
	__u32 len = n > TCPOPT_PEEK ? TCPOPT_PEEK : (__u32)n;
	int r;

	if (bpf_probe_read_user(sc->buf, len & (TCPOPT_PEEK * 2 - 1), (void *)buf))
		return NULL;
	weft_http_scan_init(s);
	/* a line at a time where bpf_loop exists, else byte by byte */
	if (weft_have_bpf_loop)
		r = weft_http_parse_block(s, sc->buf, len);
	else
		r = weft_http_scan_run(s, sc->buf, 0, len);
	if (r == WEFT_SCAN_BAD || !s->reqline_end)
		return NULL;
	return s;
}

/*
 * A request written into TLS: start a CLIENT span, queue the option. op is the
 * write's own (op, ssl, cookie set), filled in here: one tid_op on the stack,
 * not two (Linux 6.1 allows 512 bytes for a call chain and counts each).
 */
static __always_inline void client_request(__u64 id, struct tid_op *op, struct sock *sk,
					   struct ssl_run *run)
{
	struct weft_http_scan *s = &run->scan;
	struct weft_span_event *ev = &run->ev;
	struct ssl_key k = {.ssl = op->ssl, .tgid = id >> 32};
	struct weft_server_ctx *sc;
	__u8 src = 0, why;

	op->has_ctx = 1;
	if (weft_http_scan_tp(s, &op->ctx) == 0) {
		/* the application set traceparent: it owns this span; send its context */
		if (sk)
			queue_option(op->cookie, sk, &op->ctx);
		tid_op_set(op);
		return;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	sc = weft_sctx_served(id, &why);
	if (!sc)
		count(why == WEFT_SCTX_EVENT_LOOP      ? WEFT_TCPOPT_CNT_NEW_LOOP
		      : why == WEFT_SCTX_TWO_IN_FLIGHT ? WEFT_TCPOPT_CNT_NEW_TWO
						       : WEFT_TCPOPT_CNT_NEW_IDLE);
	weft_sctx_client(sc, &ev->ctx, ev->parent_span_id, &src);
	op->ctx = ev->ctx;
	ev->parent_src = src;
	ev->start_ns = bpf_ktime_get_ns();
	ev->pid = id >> 32;
	ev->tid = (__u32)id;
	ev->kind = WEFT_KIND_CLIENT;
	ev->proto = WEFT_PROTO_HTTP1;
	ev->injector = WEFT_INJ_TCPOPT;
	ev->flags = WEFT_SPAN_TLS;
	ev->truncated = s->truncated;
	ev->method_len = s->method_len;
	ev->path_len = s->path_len;
	__builtin_memcpy(ev->method, s->method, WEFT_METHOD_MAX);
	__builtin_memcpy(ev->path, s->path, WEFT_PATH_MAX);
	bpf_map_update_elem(&client_span, &k, ev, BPF_ANY);
	if (sk)
		queue_option(op->cookie, sk, &op->ctx);
	tid_op_set(op);
}

/* A response read from TLS: end the CLIENT span of this SSL object. */
static __always_inline void client_response(__u64 id, __u64 ssl, __u64 cookie, __u16 status)
{
	struct ssl_key k = {.ssl = ssl, .tgid = id >> 32};
	struct weft_span_event *ev = bpf_map_lookup_elem(&client_span, &k);
	struct conn_info *ci;

	if (!ev)
		return;
	ev->status = status;
	ev->end_ns = bpf_ktime_get_ns();
	ci = cookie ? bpf_map_lookup_elem(&conn_info, &cookie) : NULL;
	if (ci) {
		ev->local = ci->local;
		ev->peer = ci->peer;
	}
	if (weft_rb_output(&events, ev, sizeof(*ev)))
		count(WEFT_TCPOPT_CNT_SPANS_LOST);
	bpf_map_delete_elem(&client_span, &k);
}

/*
 * A request read from TLS: start the thread's SERVER span. The incoming
 * context is put together in the thread's room (run->ev, which only a write's
 * CLIENT span uses): ssl_read_ret's call chain has no stack to spare on
 * Linux 6.1 (512 bytes for all frames).
 */
static __always_inline void server_request(__u64 id, __u64 ssl, __u64 cookie, struct ssl_run *run)
{
	struct weft_http_scan *s = &run->scan;
	struct weft_trace_ctx *parent = &run->ev.ctx;
	struct weft_server_ctx *sc;
	struct rx_ctx *rx = cookie ? bpf_map_lookup_elem(&rx_ctx, &cookie) : NULL;
	struct conn_info *ci;
	__u8 src = 0;

	if (rx && rx->consumed)
		rx = NULL;
	__builtin_memset(parent, 0, sizeof(*parent));
	if (weft_http_scan_tp(s, parent) == 0) {
		src = WEFT_PARENT_HEADER; /* a readable header wins over the option */
	} else if (rx) {
		*parent = rx->ctx;
		src = WEFT_PARENT_TCPOPT;
	}
	if (rx)
		rx->consumed = 1;
	sc = weft_sctx_begin(id, src ? parent : NULL, src, -1, ssl, &run->sctx);
	if (!sc)
		return;
	sc->flags = WEFT_SPAN_TLS;
	sc->truncated = s->truncated;
	sc->method_len = s->method_len;
	sc->path_len = s->path_len;
	__builtin_memcpy(sc->method, s->method, WEFT_METHOD_MAX);
	__builtin_memcpy(sc->path, s->path, WEFT_PATH_MAX);
	ci = cookie ? bpf_map_lookup_elem(&conn_info, &cookie) : NULL;
	if (ci) {
		sc->local = ci->local;
		sc->peer = ci->peer;
	}
}

static __always_inline int ssl_write_entry(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 ssl = PT_REGS_PARM1(ctx), buf = PT_REGS_PARM2(ctx);
	__s64 num = (int)PT_REGS_PARM3(ctx);
	struct ssl_run *run;
	struct tid_op op = {.op = TCPOPT_OP_WRITE, .ssl = ssl};
	struct sock *sk;
	char head[16];
	__u16 status;

	if (num <= 0 || !is_target(id))
		return 0;
	/* the first bytes decide; the thread's room only for a request's scan */
	if (bpf_probe_read_user(head, sizeof(head), (void *)buf))
		goto other;
	status = weft_http_status(head, num < 16 ? num : 16);
	if (status) {
		tid_op_clear();
		weft_sctx_end_conn(&events, id, ssl, status, WEFT_INJ_TCPOPT, WEFT_PROTO_HTTP1);
		return 0;
	}
	if (!weft_http_method_prefix(head, num < 16 ? num : 16) || num < 16)
		goto other;
	run = ssl_run_get();
	if (!run || !scan_head(run, buf, num))
		goto other;
	/* a request: its socket is needed for the option */
	sk = ssl_cached_sk(ssl, id >> 32, &op.cookie);
	client_request(id, &op, sk, run);
	return 0;
other:
	/* no request: only the syscall fallback (when attached) learns the
	 * socket from it for later calls */
	if (need_syscalls)
		tid_op_set(&op);
	else
		tid_op_clear();
	return 0;
}

SEC("uprobe")
int BPF_UPROBE(weft_tcpopt_ssl_write)
{
	return ssl_write_entry(ctx);
}

static __always_inline int ssl_read_entry(__u64 ssl, __u64 buf, __u64 readbytes)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tid_op op = {.op = TCPOPT_OP_READ, .ssl = ssl, .buf = buf, .readbytes = readbytes};

	if (!is_target(id))
		return 0;
	/* the socket is looked up at return, and only for HTTP data */
	tid_op_set(&op);
	return 0;
}

SEC("uprobe")
int BPF_UPROBE(weft_tcpopt_ssl_read, void *ssl, void *buf, int num)
{
	return ssl_read_entry((__u64)ssl, (__u64)buf, 0);
}

SEC("uprobe")
int BPF_UPROBE(weft_tcpopt_ssl_read_ex, void *ssl, void *buf, __u64 num, __u64 *readbytes)
{
	return ssl_read_entry((__u64)ssl, (__u64)buf, (__u64)readbytes);
}

/* A status line read: end the CLIENT span. */
static __always_inline int read_response(__u64 id, __u64 ssl, __u64 cookie, __u16 status)
{
	if (!cookie)
		ssl_cached_sk(ssl, id >> 32, &cookie);
	client_response(id, ssl, cookie, status);
	return 0;
}

/* A request head read: scan it in the thread's room, start the SERVER span. */
static __always_inline int read_request(__u64 id, __u64 ssl, __u64 cookie, __u64 buf, __u64 n)
{
	struct ssl_run *run = ssl_run_get();

	if (!run || !scan_head(run, buf, n))
		return 0;
	if (!cookie)
		ssl_cached_sk(ssl, id >> 32, &cookie);
	server_request(id, ssl, cookie, run);
	return 0;
}

static __always_inline int ssl_read_ret(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tid_op *op = tid_op_get(false);
	__u64 n = 0, cookie, ssl, buf;
	__u16 status;

	if (!op || op->op != TCPOPT_OP_READ)
		return 0;
	ssl = op->ssl;
	buf = op->buf;
	if (op->readbytes) {
		if (ret != 1 || bpf_probe_read_user(&n, sizeof(n), (void *)op->readbytes))
			n = 0;
	} else if (ret > 0) {
		n = ret;
	}
	cookie = op->cookie; /* set by the syscall fallback, else 0 */
	op->op = 0;	     /* done: later syscalls of this thread are not ours */
	/* the first bytes decide, read into the call's state (no stack to spare) */
	if (n < 16 || bpf_probe_read_user(op->head, sizeof(op->head), (void *)buf))
		return 0;
	status = weft_http_status(op->head, 16);
	if (status)
		return read_response(id, ssl, cookie, status);
	if (!weft_http_method_prefix(op->head, 16))
		return 0;
	return read_request(id, ssl, cookie, buf, n);
}

SEC("uretprobe")
int BPF_URETPROBE(weft_tcpopt_ssl_read_ret, int ret)
{
	return ssl_read_ret(ret);
}

/*
 * Empty program, loaded and attached only with --bpf-stats, beside
 * weft_tcpopt_ssl_write on the same uprobes (same trap, no extra one): its
 * run_time_ns / run_cnt is the fixed per-run cost of running a BPF program
 * under the statistics on this machine, subtracted for the net figures.
 */
SEC("uprobe")
int weft_tcpopt_stats_floor(void *ctx)
{
	return 0;
}

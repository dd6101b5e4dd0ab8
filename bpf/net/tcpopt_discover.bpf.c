// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft-tcpopt, socket discovery from syscalls: inside an SSL call whose
 * object has another BIO, the thread's next write()/send() (read()/recv())
 * names the fd, so the socket (attached only once need_syscalls is set);
 * a write on a connection weft-go published a context for sends it.
 */
#define WEFT_LINK_EXTERN
#include "tcpopt_shared.bpf.h"
#include "tcpopt_sock.bpf.h"

static __always_inline int on_sys_io(long fd, bool is_write)
{
	struct tid_op *op = tid_op_get(false);
	struct sock *sk;
	__u64 cookie;

	if (!op || !op->op || op->cookie)
		return 0;
	sk = fd_to_sk(fd);
	if (!sk)
		return 0;
	cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	if (!cookie)
		return 0; /* not a connection our sockops enrolled */
	op->cookie = cookie;
	if (is_write && op->op == TCPOPT_OP_WRITE && op->has_ctx)
		queue_option(cookie, sk, &op->ctx);
	return 0;
}

/* Is the current process one weft-go instruments (go_pids)? */
static __always_inline bool go_process(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	bool go = bpf_map_lookup_elem(&go_pids, &tgid) != NULL;

	weft_barrier_var(go); /* a 0/1 scalar: the verifier refuses logic on the pointer */
	return go;
}

/* A write on a connection weft-go published a context for: send it. */
static __always_inline void go_ctx_write(long fd)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct weft_conn_key k = {.tgid = id >> 32, .fd = (__s32)fd};
	struct weft_conn_ctx *gc = bpf_map_lookup_elem(&go_conn_ctx, &k);
	struct weft_trace_ctx tc;
	struct sock *sk;
	__u64 *sent, cookie, ts;

	if (!gc || !gc->ctx.valid || gc->version != WEFT_CONN_CTX_VERSION)
		return;
	ts = gc->ts_ns;
	sent = bpf_map_lookup_elem(&go_sent, &k);
	if ((sent && *sent == ts) || !is_target(id))
		return;
	tc = gc->ctx;
	sk = fd_to_sk(fd);
	if (!sk)
		return;
	cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	if (!cookie)
		return;
	queue_option(cookie, sk, &tc);
	bpf_map_update_elem(&go_sent, &k, &ts, BPF_ANY);
}

SEC("tracepoint/syscalls/sys_enter_write")
int weft_tcpopt_enter_write(struct trace_event_raw_sys_enter *ctx)
{
	if (go_process())
		go_ctx_write(ctx->args[0]);
	return on_sys_io(ctx->args[0], true);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int weft_tcpopt_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	if (go_process())
		go_ctx_write(ctx->args[0]);
	return on_sys_io(ctx->args[0], true);
}

SEC("tracepoint/syscalls/sys_enter_read")
int weft_tcpopt_enter_read(struct trace_event_raw_sys_enter *ctx)
{
	return on_sys_io(ctx->args[0], false);
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int weft_tcpopt_enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	return on_sys_io(ctx->args[0], false);
}

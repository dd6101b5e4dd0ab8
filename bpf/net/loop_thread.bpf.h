/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Event-loop threads (issue 19), shared by weft-http and weft-tcpopt: a
 * thread that waits for several file descriptors at once can run the work of
 * any request between two reads, so "the request it read last" is not
 * certainly the one a call belongs to. These tracepoints mark such threads
 * WEFT_UNCERTAIN_LOOP in weft_uncertain (server_ctx.bpf.h), for good:
 *   - epoll_wait, epoll_pwait, epoll_pwait2: on exit (a thread blocked in
 *     one when weft started is marked when it returns; user space also marks
 *     the threads blocked there at start, injectors/net/loop_threads.c);
 *   - poll/ppoll with two or more fds; select/pselect6 with two or more fds
 *     in its read and write sets (a socket timeout's poll of one fd is not
 *     a loop).
 * The includer defines `static bool weft_loop_targeted(__u64 pid_tgid)`
 * (its target filter) before including this file, after server_ctx.bpf.h.
 */
#ifndef WEFT_LOOP_THREAD_BPF_H
#define WEFT_LOOP_THREAD_BPF_H

static __always_inline void weft_loop_mark(void)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (weft_loop_targeted(id) && !(weft_uncertain_get(id) & WEFT_UNCERTAIN_LOOP))
		weft_uncertain_mark(id, WEFT_UNCERTAIN_LOOP);
}

SEC("tracepoint/syscalls/sys_exit_epoll_wait")
int weft_loop_epoll_wait(void *ctx)
{
	weft_loop_mark();
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_epoll_pwait")
int weft_loop_epoll_pwait(void *ctx)
{
	weft_loop_mark();
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_epoll_pwait2")
int weft_loop_epoll_pwait2(void *ctx)
{
	weft_loop_mark();
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_poll")
int weft_loop_poll(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[1] >= 2)
		weft_loop_mark();
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_ppoll")
int weft_loop_ppoll(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[1] >= 2)
		weft_loop_mark();
	return 0;
}

/* How many of the first nfds bits of the fd_set at p are set: 0, 1 or 2 (two or more). */
static __always_inline int weft_loop_fds(__u64 p, __u64 nfds)
{
	int n = 0;

	if (!p)
		return 0;
	for (int i = 0; i < 16 && n < 2; i++) {
		__u64 w;

		if ((__u64)i * 64 >= nfds)
			break;
		if (bpf_probe_read_user(&w, 8, (void *)(p + i * 8)))
			break;
		if ((__u64)(i + 1) * 64 > nfds)
			w &= (1ULL << (nfds - (__u64)i * 64)) - 1;
		n += !w ? 0 : (w & (w - 1)) ? 2 : 1;	/* no popcount in BPF */
	}
	return n;
}

/* Two or more fds in the read and write sets (first 1024 bits). */
static __always_inline void weft_loop_select(struct trace_event_raw_sys_enter *ctx)
{
	__u64 nfds = ctx->args[0], rd = ctx->args[1], wr = ctx->args[2];

	if (nfds < 2)
		return;
	if (nfds > 1024)
		nfds = 1024;
	if (weft_loop_fds(rd, nfds) + weft_loop_fds(wr, nfds) >= 2)
		weft_loop_mark();
}

SEC("tracepoint/syscalls/sys_enter_select")
int weft_loop_select_enter(struct trace_event_raw_sys_enter *ctx)
{
	weft_loop_select(ctx);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_pselect6")
int weft_loop_pselect6(struct trace_event_raw_sys_enter *ctx)
{
	weft_loop_select(ctx);
	return 0;
}

#endif /* WEFT_LOOP_THREAD_BPF_H */

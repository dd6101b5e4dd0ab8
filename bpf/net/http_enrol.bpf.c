// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft-http, connections that existed before it started: BPF iterators run
 * by user space (injectors/net/weft_http.c, enrol_existing) once sockops is
 * attached, so that no connection falls between the two.
 *
 * weft_http_find (iter/task_file, every task's open files; the --cgroup and
 * --pid filters applied to the task that holds the fd):
 *   pass 1 notes the local ports of the workload's listening TCP sockets;
 *   pass 2 takes each established TCP socket: one on a listening port is
 *          incoming (pre_conns, PRE_SERVER; its in_states entry skips every
 *          byte, so on_read makes no span), any other is to be enrolled
 *          (pre_socks, keyed by the socket's address; pre_netns: its network
 *          namespace and a task in it).
 * Then one of two programs puts those sockets into the sockhash with
 * conn_state PH_PRE, position unknown (pre_conns, PRE_CLIENT); which one
 * depends on the kernel, as neither works on both (user space chooses):
 *   weft_http_enrol_tcp (iter/tcp, one run per network namespace): the
 *     sockhash update takes the socket's spinlock, which iter/tcp holds
 *     itself until 6.5 (lock_sock_fast; since 6.5 lock_sock): only 6.5+;
 *   weft_http_enrol_file (iter/task_file): the socket reached through its
 *     file, which the verifier takes for the sockhash until the kernel marks
 *     such walked pointers untrusted: older kernels (6.1).
 * A connection sockops enrolled already (a new one) is left as it is.
 * See http_shared.bpf.h for what happens next.
 */
#define WEFT_LINK_EXTERN
#include "net/http_shared.bpf.h"

#define AF_INET_	 2
#define AF_INET6_	 10
#define TCP_ESTABLISHED_ 1
#define TCP_LISTEN_	 10
#define CG_DEPTH_MAX	 32	/* cgroup levels walked up from a task's cgroup */

/* The target cgroup's id (0: every task), set before load. */
const volatile __u64 enrol_cgid = 0;
/* weft_http_find: 1 note listening ports, 2 note the sockets (set before each run). */
volatile __u32 enrol_pass = 0;

WEFT_HASH(__u16, __u8, 4096) pre_listen SEC(".maps");

/* An incoming connection's in_states entry while its position is unknown. */
static struct in_state pre_in_state = {};

/* A socket to enrol (key: its address) and the fd it was found through. */
WEFT_HASH(__u64, struct fd_key, 16384) pre_socks SEC(".maps");

/* The network namespaces (inode number) of the sockets to enrol: a task in each. */
WEFT_HASH(__u32, __u32, 1024) pre_netns SEC(".maps");

/* Is task in the target cgroup or below it (its default-hierarchy cgroup)? */
static __always_inline bool task_in_target(struct task_struct *task)
{
	struct cgroup *cg = BPF_CORE_READ(task, cgroups, dfl_cgrp);

	if (!enrol_cgid)
		return true;
	for (int i = 0; i < CG_DEPTH_MAX && cg; i++) {
		if (BPF_CORE_READ(cg, kn, id) == enrol_cgid)
			return true;
		/* self is the first member: the parent css is the parent cgroup */
		cg = (struct cgroup *)BPF_CORE_READ(cg, self.parent);
	}
	return false;
}

SEC("iter/task_file")
int weft_http_find(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct pre_conn pc = {};
	struct socket *sock;
	struct fd_key fk;
	struct sock *sk;
	__u64 addr;
	__u32 ns;
	__u16 port;
	__u8 one = 1;

	if (!task || !file)
		return 0;
	fk.tgid = task->tgid;
	fk.fd = ctx->fd;
	if (!weft_pid_targeted(fk.tgid) || !task_in_target(task))
		return 0;
	sock = bpf_sock_from_file(file);
	if (!sock)
		return 0;
	sk = sock->sk;
	if (!sk || sk->sk_protocol != IPPROTO_TCP || sk->sk_type != SOCK_STREAM ||
	    (sk->__sk_common.skc_family != AF_INET_ && sk->__sk_common.skc_family != AF_INET6_))
		return 0;
	port = sk->__sk_common.skc_num;
	if (enrol_pass == 1) {
		if (sk->__sk_common.skc_state == TCP_LISTEN_)
			bpf_map_update_elem(&pre_listen, &port, &one, BPF_ANY);
		return 0;
	}
	if (enrol_pass != 2 || sk->__sk_common.skc_state != TCP_ESTABLISHED_)
		return 0;
	if (bpf_map_lookup_elem(&pre_listen, &port)) {
		/* on_read skips every byte of it until pre_write sees a boundary */
		pre_in_state.body_left = ~0ULL;
		pc.side = PRE_SERVER;
		if (!bpf_map_update_elem(&in_states, &fk, &pre_in_state, BPF_ANY) &&
		    !bpf_map_update_elem(&pre_conns, &fk, &pc, BPF_NOEXIST))
			count(WH_PRE_SRV_CONNS);
		pre_any = 1;
		return 0;
	}
	addr = (__u64)sk;
	/* several fds (dup, fork): the first one found is paired with reads */
	bpf_map_update_elem(&pre_socks, &addr, &fk, BPF_NOEXIST);
	ns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	bpf_map_update_elem(&pre_netns, &ns, &fk.tgid, BPF_NOEXIST);
	return 0;
}

/* Put socket sk, found through fd fk, into the sockhash, position unknown. */
static __always_inline void enrol(struct sock *sk, const struct fd_key *fk)
{
	struct pre_conn pc = { .side = PRE_CLIENT };
	struct conn_state *st;
	__u64 cookie;

	st = bpf_sk_storage_get(&conn, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st || st->cookie)
		return;	/* enrolled by sockops (a new connection) or already here */
	cookie = bpf_get_socket_cookie(sk);
	st->cookie = cookie;
	st->phase = PH_PRE;
	st->pid_checked = 1;	/* held by a target task */
	st->seen_request = 1;	/* never taken for a new HTTP/2 connection */
	if (bpf_map_update_elem(&sock_map, &cookie, sk, BPF_NOEXIST)) {
		st->phase = PH_PASS;
		count(WH_ERRORS);
		return;
	}
	count(WH_PRE_CONNS);
	pc.cookie = cookie;
	bpf_map_update_elem(&pre_conns, fk, &pc, BPF_ANY);
	pre_any = 1;
}

SEC("iter/tcp")
int weft_http_enrol_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct fd_key *fk;
	struct tcp_sock *tp;
	__u64 addr = (__u64)skc;

	if (!skc)
		return 0;
	fk = bpf_map_lookup_elem(&pre_socks, &addr);
	if (!fk)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (tp && tp->inet_conn.icsk_inet.sk.__sk_common.skc_state == TCP_ESTABLISHED_)
		enrol((struct sock *)tp, fk);
	return 0;
}

SEC("iter/task_file")
int weft_http_enrol_file(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct socket *sock;
	struct fd_key *fk;
	struct sock *sk;
	__u64 addr;

	if (!task || !file)
		return 0;
	sock = bpf_sock_from_file(file);
	if (!sock)
		return 0;
	sk = sock->sk;
	addr = (__u64)sk;
	fk = sk ? bpf_map_lookup_elem(&pre_socks, &addr) : NULL;
	if (!fk || fk->tgid != task->tgid || fk->fd != (__s32)ctx->fd ||
	    sk->__sk_common.skc_state != TCP_ESTABLISHED_)
		return 0;
	enrol(sk, fk);
	return 0;
}

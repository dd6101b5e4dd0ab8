/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * weft-tcpopt, socket discovery: the TCP sock behind an fd of the current
 * task, the socket an SSL object's BIO names, and queueing the option for
 * the request that starts at a socket's next byte. Used by
 * tcpopt_discover.bpf.c and tcpopt_ssl.bpf.c.
 */
#ifndef WEFT_TCPOPT_SOCK_BPF_H
#define WEFT_TCPOPT_SOCK_BPF_H

/* The TCP sock behind fd in the current task, or NULL. */
static __always_inline struct sock *fd_to_sk(long fd)
{
	struct sock *sk = weft_fd_sock(fd);

	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return NULL;
	return sk;
}

/* The request starts at the next byte queued on sk: send ctx with it. */
static __always_inline void queue_option(__u64 cookie, struct sock *sk,
					 const struct weft_trace_ctx *ctx)
{
	struct tx_pending p = {};

	p.seq = BPF_CORE_READ((struct tcp_sock *)sk, write_seq);
	p.ctx = *ctx;
	bpf_map_update_elem(&tx_pending, &cookie, &p, BPF_ANY);
	count(WEFT_TCPOPT_CNT_PENDING);
}

enum { SSL_SK_FOUND = 0, SSL_SK_NONE = 1, SSL_SK_OTHER_BIO = 2 };

/*
 * The socket of an SSL object from the object itself: SSL->rbio is a socket
 * BIO (method type checked) whose num is the fd; fd -> sock through the
 * current task's fd table. SSL_SK_FOUND (sk, cookie set); SSL_SK_NONE: a
 * socket BIO whose fd is not a TCP socket our sockops enrolled;
 * SSL_SK_OTHER_BIO: another BIO type, or the layout is unknown.
 */
static __noinline int ssl_bio_sk(__u64 ssl, struct ssl_sock *out)
{
	__u64 bio = 0, meth = 0;
	int type = 0, fd = -1;
	struct sock *sk;

	if (ssl_rbio_off < 0 || bio_method_off < 0 || bio_num_off < 0 || !ssl)
		return SSL_SK_OTHER_BIO;
	if (bpf_probe_read_user(&bio, sizeof(bio), (void *)(ssl + ssl_rbio_off)) || !bio)
		return SSL_SK_OTHER_BIO;
	if (bpf_probe_read_user(&meth, sizeof(meth), (void *)(bio + bio_method_off)) || !meth)
		return SSL_SK_OTHER_BIO;
	if (bpf_probe_read_user(&type, sizeof(type), (void *)meth) || type != BIO_TYPE_SOCKET_)
		return SSL_SK_OTHER_BIO;
	if (bpf_probe_read_user(&fd, sizeof(fd), (void *)(bio + bio_num_off)))
		return SSL_SK_OTHER_BIO;
	sk = fd_to_sk(fd);
	if (!sk)
		return SSL_SK_NONE;
	out->cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	out->sk = (__u64)sk;
	return out->cookie ? SSL_SK_FOUND : SSL_SK_NONE; /* 0: not enrolled by our sockops */
}

/*
 * The socket of an SSL object, or NULL. The socket BIO is followed on every
 * call (a few reads), nothing is cached: an SSL object's address, its fd
 * number and even the old struct sock (with its cookie, until freed) can all
 * outlive a connection and come back for the next one, so a cache keyed by
 * the SSL object could name the previous connection. Other BIOs: NULL, and
 * user space is asked to attach the syscall tracepoints, which name the
 * socket from inside each call.
 */
static __always_inline struct sock *ssl_cached_sk(__u64 ssl, __u32 tgid, __u64 *cookie)
{
	struct ssl_sock ss = {};
	int r = ssl_bio_sk(ssl, &ss);

	if (r == SSL_SK_FOUND) {
		*cookie = ss.cookie;
		return (struct sock *)ss.sk;
	}
	if (r == SSL_SK_OTHER_BIO && !need_syscalls)
		need_syscalls = 1;
	return NULL;
}

#endif /* WEFT_TCPOPT_SOCK_BPF_H */

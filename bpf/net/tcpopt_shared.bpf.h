/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * weft-tcpopt: trace context in a TCP header option (layout:
 * bpf/include/weft_tcpopt.h), plus OpenSSL uprobes for HTTPS spans.
 *
 * Sender. SSL_write/SSL_write_ex entry (uprobe) sees the plaintext. When it
 * starts an HTTP request, the CLIENT context is derived from the thread's
 * server request (server_ctx.bpf.h, shared with weft-http). The socket comes
 * from the SSL object: SSL->rbio is a socket BIO whose num is the fd (offsets
 * measured by user space on the probed library), fd -> struct file -> struct
 * socket -> sock, read with CO-RE from the task's fd table (no kprobes
 * needed). Its write_seq is the TCP sequence number where the TLS record
 * about to be written, and so the request, starts:
 * tx_pending[socket cookie] = { seq, context }. SSL objects with another BIO
 * park the context in the thread's task storage (tid_op) instead, and the
 * next write()/send() syscall of that thread inside the SSL call names the
 * fd; user space attaches those tracepoints only once such an object shows
 * up (need_syscalls). The sockops program reserves
 * room (HDR_OPT_LEN) while a pending option is unacknowledged and writes the
 * option (WRITE_HDR_OPT) into every segment whose data covers seq, the
 * first transmission and any retransmission. Once snd_una passes seq the
 * entry is dropped. No room: counted, the segment leaves without the option.
 *
 * Receiver. PARSE_HDR_OPT runs only for segments with an option the kernel
 * does not know (PARSE_UNKNOWN flag); a valid option from an accepted peer
 * is attached to the connection (rx_ctx[cookie]). The next HTTP request read
 * by SSL_read on that connection starts its SERVER span as the sender's
 * child; an HTTP traceparent header in the plaintext wins over the option.
 *
 * The socket cookie is the connection's key: sockops sets it at
 * ESTABLISHED (bpf_get_socket_cookie), syscall tracepoints read it back from
 * sk->__sk_common.skc_cookie, so only sockets this program enrolled match.
 * Nothing maps SSL objects to sockets across calls (addresses, fds and
 * socks are reused): the BIO, or the syscalls, name the socket every time.
 * Reads resolve the socket at return, and only for HTTP data.
 * Connections established before start are enrolled by an iter/tcp program.
 * Go programs: contexts weft-go publishes per connection (go_conn_ctx) are
 * sent on the connection's next write.
 *
 * The BPF object (one skeleton, weft_tcpopt.skel.h) is linked from units by
 * concern (bpftool gen object; weft_link.h):
 *   tcpopt_shared.bpf.c    owns the maps and globals below, the license
 *   tcpopt_option.bpf.c    the TCP option: sockops writer/parser, iter/tcp
 *                          enrolment of connections established before start
 *   tcpopt_discover.bpf.c  socket discovery: syscalls inside SSL calls,
 *                          weft-go's contexts on a connection's next write
 *   tcpopt_ssl.bpf.c       OpenSSL plaintext: CLIENT/SERVER spans, event loops
 * tcpopt_sock.bpf.h has the fd/SSL-to-socket walk discover and ssl share.
 */
#ifndef WEFT_TCPOPT_SHARED_BPF_H
#define WEFT_TCPOPT_SHARED_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "weft_span.h"
#include "weft_tcpopt.h"
#include "weft_conn_ctx.h"
#include "weft_link.h"
#include "weft_maps.bpf.h"
#include "weft_kernel.bpf.h"
#include "weft_target.bpf.h"

/* Set by the loader before load. */
WEFT_SHARED const volatile bool weft_have_bpf_loop WEFT_INIT(true);
WEFT_SHARED const volatile __u64 target_cgid WEFT_INIT(0);	   /* 0: every cgroup */
WEFT_SHARED const volatile __u32 target_level WEFT_INIT(0);	   /* level of target_cgid in the hierarchy */
WEFT_SHARED const volatile bool accept_filter WEFT_INIT(false); /* only peers in accept_from */
/*
 * OpenSSL object layout, measured by user space at start with the library's
 * own accessors (injectors/net/tcpopt_ssl_layout.c): SSL -> rbio, BIO ->
 * method, BIO -> num (the fd of a socket BIO). -1: unknown, so the socket is
 * learnt from the syscalls inside SSL calls instead.
 */
WEFT_SHARED const volatile __s32 ssl_rbio_off WEFT_INIT(-1);
WEFT_SHARED const volatile __s32 bio_method_off WEFT_INIT(-1);
WEFT_SHARED const volatile __s32 bio_num_off WEFT_INIT(-1);

/*
 * Set when a traced SSL call's socket cannot be found from the SSL object
 * (another BIO type, e.g. curl's, or unknown layout): user space then attaches
 * the syscall tracepoints, which are otherwise left detached.
 */
WEFT_SHARED volatile __u32 need_syscalls WEFT_INIT(0);

#include "server_ctx.bpf.h"
#include "http_parse.bpf.h"

#define ENOMSG_ 42	 /* errno ENOMSG */
#define TCPOPT_PEEK 2048 /* plaintext bytes scanned for a request head */
#define TCPOPT_MAP_MAX 16384
#define BIO_TYPE_SOCKET_ 0x0505 /* OpenSSL: 5 | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR */

WEFT_SHARED WEFT_RINGBUF(WEFT_RB_SPANS_BYTES) events SEC(".maps");

WEFT_SHARED WEFT_COUNTERS(WEFT_TCPOPT_CNT_MAX) counters SEC(".maps");

WEFT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct weft_tcpopt_cidr);
	__type(value, __u8);
} accept_from SEC(".maps");

/* An option waiting to be sent: the request's first byte is at seq. */
struct tx_pending {
	__u32 seq;
	__u8 written;
	__u8 no_room;
	__u8 _pad[2];
	struct weft_trace_ctx ctx;
};

/* key: socket cookie */
WEFT_SHARED WEFT_LRU_HASH(__u64, struct tx_pending, TCPOPT_MAP_MAX) tx_pending SEC(".maps");

/* The context a peer sent on this connection, for the next request read. */
struct rx_ctx {
	struct weft_trace_ctx ctx;
	__u32 seq;
	__u8 consumed;
	__u8 _pad[3];
};

/* key: socket cookie */
WEFT_SHARED WEFT_LRU_HASH(__u64, struct rx_ctx, TCPOPT_MAP_MAX) rx_ctx SEC(".maps");

struct conn_info {
	struct weft_sockaddr local;
	struct weft_sockaddr peer;
};

/* key: socket cookie */
WEFT_SHARED WEFT_LRU_HASH(__u64, struct conn_info, TCPOPT_MAP_MAX) conn_info SEC(".maps");

struct ssl_key {
	__u64 ssl;
	__u32 tgid;
	__u32 _pad;
};

/* An SSL object's socket, as found from its BIO. */
struct ssl_sock {
	__u64 cookie;
	__u64 sk; /* struct sock *, read with probe reads only */
};

enum { TCPOPT_OP_READ = 1, TCPOPT_OP_WRITE = 2 };

/* The SSL call a thread is in. */
struct tid_op {
	__u64 ssl;
	__u64 buf;
	__u64 readbytes; /* SSL_read_ex: size_t *; 0 for SSL_read */
	__u64 cookie;	 /* socket, once a syscall inside the call named it */
	__u8 op;
	__u8 has_ctx; /* TCPOPT_OP_WRITE: ctx is to be sent in an option */
	__u8 _pad[6];
	union {
		struct weft_trace_ctx ctx; /* TCPOPT_OP_WRITE */
		char head[16];		   /* a read's first bytes, at its return */
	};
};

/* Per thread (task storage: a pointer away, so the syscall tracepoints,
 * which run for every process, cost next to nothing outside SSL calls). */
WEFT_SHARED WEFT_TASK_STORAGE(struct tid_op) tid_op SEC(".maps");

static __always_inline struct tid_op *tid_op_get(bool create)
{
	return weft_task_state(&tid_op, create);
}

/* No SSL call of interest parked for this thread (cheap: no creation). */
static __always_inline void tid_op_clear(void)
{
	struct tid_op *t = tid_op_get(false);

	if (t)
		t->op = 0;
}

static __noinline int tid_op_set(const struct tid_op *v)
{
	struct tid_op *t;

	/* a write whose socket is known needs nothing from the syscalls: just
	 * make sure no older call stays parked */
	if (v->op == TCPOPT_OP_WRITE && v->cookie) {
		tid_op_clear();
		return 0;
	}
	t = tid_op_get(true);
	if (t)
		__builtin_memcpy(t, v, sizeof(*t));
	return 0;
}

/* CLIENT spans in flight, by SSL object: ended by the response's status line. */
WEFT_SHARED WEFT_LRU_HASH(struct ssl_key, struct weft_span_event, TCPOPT_MAP_MAX) client_span SEC(".maps");

/*
 * Room for one OpenSSL probe's work: plaintext bytes, their scan, a new span.
 * Too large for the stack, so kept per thread in task storage, not per CPU:
 * since Linux 6.0 uprobe programs run with migration but not preemption
 * disabled, so on a preemptible kernel a run suspended half-way and another
 * run on the same CPU would share a per-CPU slot and could mix two requests.
 * A thread runs one uprobe program at a time.
 */
struct ssl_run {
	struct weft_scratch sc;
	struct weft_http_scan scan;
	struct weft_span_event ev;
	struct weft_server_ctx sctx;
};

WEFT_SHARED WEFT_TASK_STORAGE(struct ssl_run) ssl_runs SEC(".maps");

static __always_inline void count(__u32 idx)
{
	weft_count(&counters, idx);
}

/* This thread's room for an OpenSSL probe's work (struct ssl_run), or NULL. */
static __always_inline struct ssl_run *ssl_run_get(void)
{
	return weft_task_state_new(&ssl_runs, &counters, WEFT_TCPOPT_CNT_NO_STATE);
}

static __always_inline bool is_target(__u64 pid_tgid)
{
	if (target_cgid && bpf_get_current_ancestor_cgroup_id(target_level) != target_cgid)
		return false;
	return weft_pid_targeted(pid_tgid >> 32);
}

static __always_inline bool weft_loop_targeted(__u64 pid_tgid)
{
	return is_target(pid_tgid);
}


static __always_inline bool id_nonzero(const __u8 *id, int n)
{
	__u8 z = 0;

#pragma unroll
	for (int i = 0; i < 16; i++)
		if (i < n)
			z |= id[i];
	return z != 0;
}

/*
 * weft-go's published contexts per outgoing connection (tgid, fd), for Go
 * programs (crypto/tls or plain), are in go_conn_ctx (weft_conn_ctx.h).
 * weft-http deletes an entry when it writes the header; weft-tcpopt leaves
 * it and remembers which publication (ts_ns) it already sent, so the two
 * injectors can run together. value: ts_ns of the publication sent.
 */
WEFT_SHARED WEFT_LRU_HASH(struct weft_conn_key, __u64, WEFT_CONN_CTX_MAX) go_sent SEC(".maps");

#endif /* WEFT_TCPOPT_SHARED_BPF_H */

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft-go, --server-syscalls: plaintext HTTP/1 SERVER spans of a Go process
 * from its read(2) and write(2) calls, with no uprobe trap. One raw syscall
 * exit tracepoint (tp_btf/sys_exit): every syscall of the machine runs it,
 * so it leaves at once unless the call is a read or write that returned
 * bytes in a process of go_pids whose binary is on this path
 * (WEFT_GO_CFG_SYSCALLS). The arguments are the syscall's saved user
 * registers (fd in DI, the buffer in SI), which the kernel leaves as they
 * were at the entry; the bytes are still unchanged at the exit.
 *
 * Requests are followed per connection, key {tgid, fd}, not per goroutine:
 * net/http's background read (while a handler runs) may take the first byte
 * of the connection's next request on another goroutine; the header block
 * is parsed across reads by weft-http's parser (net/http_parse.bpf.h) and
 * its tracestate lines by net/http_ts.bpf.h. The read that completes the
 * header block is made by the connection's serve goroutine, which runs the
 * handler: there the goroutine is read from the thread pointer
 * (go_goid.bpf.h) and the SERVER span goes into the servers map under
 * {tgid, g}, where the client uprobes (go_client.bpf.c) and runtime.newproc1
 * (go_proc.bpf.c) find it as they find a span started at ServeHTTP.
 * Content-Length bodies are skipped; the first write on the connection that
 * starts with a final status line ("HTTP/1.x NNN", not 1xx but 101) ends
 * the span with that status. The addresses are the socket's, read once per
 * connection (the socket's inode tells a new connection on a reused fd).
 *
 * Not on this path: TLS and HTTP/2 (their bytes are not HTTP/1 text at the
 * syscall), pipelined requests after the first in one read, a call the
 * handler makes after its response's status line was written (it starts a
 * new trace, as under weft-http).
 */
#define WEFT_LINK_EXTERN
#include "go/go_shared.bpf.h"
#include "go/go_goid.bpf.h"

/* set by weft-go: the kernel has bpf_loop (the path needs it) */
const volatile bool weft_have_bpf_loop = true;

#include "net/http_parse.bpf.h"
#include "net/http_ts.bpf.h"
#include "weft_sock_addrs.bpf.h"

#define NR_READ 0  /* x86-64 */
#define NR_WRITE 1 /* x86-64 */

struct sys_key {
	__u32 tgid;
	__s32 fd;
};

/* One incoming connection of a target process. */
struct sys_conn {
	struct weft_http_scan scan; /* the request's header block, across reads */
	__u64 body_left;	    /* body bytes of the last request still to come */
	__u64 g;		    /* goroutine serving the request owed an answer (0: none) */
	__u64 ino;		    /* the socket's inode: a reused fd is a new connection */
	struct weft_sockaddr local, peer;
	__u8 active; /* a header block is being read across reads */
	__u8 _pad[7];
};

WEFT_LRU_HASH(struct sys_key, struct sys_conn, 16384) sys_conns SEC(".maps");

/*
 * Per thread: the bytes of one read, a connection entry being made, and
 * what sys_read hands to sys_begin (body bytes already read; where the
 * header block starts in sc, -1: not all of it there).
 */
struct sys_run {
	struct weft_scratch sc;
	struct sys_conn tmp;
	__u32 avail;
	__s32 blk;
	__u32 ts_ok; /* sys_ts parsed the block's tracestate into the go_run's ts */
	__u32 _pad;
};

WEFT_TASK_STORAGE(struct sys_run) sys_runs SEC(".maps");

/*
 * The header block in c->scan is complete (sys_read said so): its tracestate
 * lines, when it has any and all of it is in r->sc, into this thread's
 * go_run ts (r->ts_ok). A function of its own beside sys_begin: with its
 * bpf_loop callbacks under sys_begin's frame the stack would exceed 512
 * bytes on 6.1.
 */
static __noinline int sys_ts(struct sys_conn *c, struct sys_run *r)
{
	struct go_run *run;
	__s32 blk;

	if (!c || !r)
		return 0;
	r->ts_ok = 0;
	blk = r->blk;
	if (blk < 0 || blk >= WEFT_SCRATCH_SZ || !weft_have_bpf_loop || c->scan.tp_count != 1 ||
	    (c->scan.fast && !c->scan.ts_lines))
		return 0;
	run = go_run_state();
	if (!run)
		return 0;
	r->ts_ok = weft_http_ts_block(&r->sc, &run->ts, (__u32)blk + c->scan.reqline_end,
				      (__u32)blk + c->scan.hdr_end) == 0;
	return 0;
}

/*
 * The header block in c->scan is complete (sys_read said so): start the
 * SERVER span in the current goroutine. A function of its own, called from
 * the program, not from sys_read: the two frames would not fit in 512 bytes.
 */
static __noinline int sys_begin(const struct weft_go_cfg *cfg, struct sys_conn *c,
				struct sys_run *r)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, avail;
	struct weft_trace_ctx in = {};
	struct weft_go_gid gid = {};
	struct server_state *st;
	struct gkey k = {};
	struct go_run *run;

	if (!cfg || !c || !r)
		return 0;
	avail = r->avail;
	c->body_left = 0;
	if (c->scan.cl_seen && c->scan.content_length != ~0ULL)
		c->body_left = c->scan.content_length > avail ? c->scan.content_length - avail : 0;
	if (!weft_go_current(&cfg->gid, &gid)) {
		stat_inc(WEFT_GO_ST_SYS_NO_G);
		return 0;
	}
	run = go_server_start(tgid);
	if (!run)
		return 0;
	st = &run->st;
	st->ev.proto = WEFT_PROTO_HTTP1;
	st->ev.method_len = c->scan.method_len;
	st->ev.path_len = c->scan.path_len;
	st->ev.truncated = c->scan.truncated;
	__builtin_memcpy(st->ev.method, c->scan.method, WEFT_METHOD_MAX);
	__builtin_memcpy(st->ev.path, c->scan.path, WEFT_PATH_MAX);
	st->ev.local = c->local;
	st->ev.peer = c->peer;
	if (weft_http_scan_tp(&c->scan, &in) == 0) {
		span_parent(&st->ev, &in, WEFT_PARENT_HEADER);
		stat_inc(WEFT_GO_ST_IN_VALID);
		/* tracestate only beside a valid traceparent (W3C) */
		if (r->ts_ok && run->ts.out_len <= WEFT_TS_MAX) {
			st->ev.tracestate_len = run->ts.out_len;
			__builtin_memcpy(st->ev.tracestate, run->ts.out, WEFT_TS_MAX);
		}
	} else {
		if (c->scan.tp_count)
			stat_inc(WEFT_GO_ST_IN_INVALID);
		span_parent(&st->ev, NULL, 0);
	}
	weft_bpf_random_span_id(&st->ev.ctx);
	if (st->ev.tracestate_len)
		span_ts_put(tgid, &st->ev, &run->sts);
	k.tgid = tgid;
	k.g = gid.g;
	bpf_map_update_elem(&servers, &k, st, BPF_ANY);
	c->g = gid.g;
	return 0;
}

/*
 * A new request may start on the connection at fd: its entry, made or
 * renewed for a new socket on that fd (addresses read), or NULL when fd is
 * no socket.
 */
static __always_inline struct sys_conn *sys_conn_at(struct sys_key *key, struct sys_conn *c,
						    struct sys_run *r)
{
	struct sock *sk;
	__u64 ino = 0;

	sk = weft_fd_sock_ino(key->fd, &ino);
	if (!sk)
		return NULL;
	if (c && c->ino == ino)
		return c;
	if (!c) {
		c = &r->tmp;
		__builtin_memset(c, 0, sizeof(*c));
	} else {
		c->body_left = 0;
		c->g = 0;
		c->active = 0;
	}
	c->ino = ino;
	weft_sock_addrs(sk, &c->local, &c->peer);
	if (c != &r->tmp)
		return c;
	if (bpf_map_update_elem(&sys_conns, key, c, BPF_ANY))
		return NULL;
	return bpf_map_lookup_elem(&sys_conns, key);
}

/* A target's read of n bytes at ubuf from key's fd: 1 when a request's header block is complete. */
static __noinline int sys_read(const struct weft_go_cfg *cfg, struct sys_key *key, __u64 ubuf,
			       long n)
{
	struct sys_conn *c = bpf_map_lookup_elem(&sys_conns, key);
	__u32 off = 0, len, before, used;
	char head[16] = {};
	struct sys_run *r;
	int res;

	if (!cfg || n <= 0)
		return 0;
	len = n > WEFT_SCRATCH_SZ ? WEFT_SCRATCH_SZ : n;
	if (c && c->body_left) {
		if (c->body_left >= len) {
			c->body_left -= len;
			return 0;
		}
		off = c->body_left;
		c->body_left = 0;
	}
	/* the common read that starts no request costs 16 bytes */
	if ((!c || !c->active) && off == 0) {
		if (bpf_probe_read_user(head, sizeof(head), (void *)ubuf) &&
		    bpf_probe_read_user(head, 1, (void *)ubuf))
			return 0;
		if (!weft_http_method_prefix(head, len < sizeof(head) ? len : sizeof(head)))
			return 0;
	}
	r = weft_task_state(&sys_runs, true);
	if (!r)
		return 0;
	weft_barrier_var(len);
	len &= 2 * WEFT_SCRATCH_SZ - 1;
	if (len > WEFT_SCRATCH_SZ || len == 0 || off >= len)
		return 0;
	if (bpf_probe_read_user(r->sc.buf, len, (void *)ubuf))
		return 0;
	if (!c || !c->active) {
		char c0 = r->sc.buf[off & WEFT_SCRATCH_MASK];

		if (c0 < 'A' || c0 > 'Z')
			return 0;
		c = sys_conn_at(key, c, r);
		if (!c)
			return 0;
		weft_http_scan_init(&c->scan);
		if (off == 0) {
			/* common case: the whole header block in this read */
			res = weft_http_parse_block(&c->scan, r->sc.buf, len);
			if (res == WEFT_SCAN_DONE) {
				r->avail = len - c->scan.hdr_end;
				r->blk = 0;
				return 1;
			}
			if (res == WEFT_SCAN_BAD)
				return 0;
			weft_http_scan_init(&c->scan);
		}
		c->active = 1;
	}
	before = c->scan.pos;
	res = weft_http_scan_run(&c->scan, r->sc.buf, off, len - off);
	if (res == WEFT_SCAN_MORE)
		return 0;
	c->active = 0;
	if (res != WEFT_SCAN_DONE)
		return 0;
	/* body bytes that came in this read after the header block */
	used = c->scan.pos - before;
	r->avail = len - off > used ? len - off - used : 0;
	r->blk = before == 0 ? (__s32)off : -1;
	return 1;
}

/* A target's write of n bytes at ubuf to key's fd: a status line ends the span owed there. */
static __noinline int sys_write(struct sys_key *key, __u64 ubuf, long n)
{
	struct sys_conn *c = bpf_map_lookup_elem(&sys_conns, key);
	struct server_state *st;
	struct gkey k = {};
	char head[12];
	__u16 status;

	if (!c || !c->g || n < (long)sizeof(head))
		return 0;
	if (bpf_probe_read_user(head, sizeof(head), (void *)ubuf))
		return 0;
	status = weft_http_status(head, sizeof(head));
	/* an interim response (100 Continue) ends nothing: the final one follows */
	if (!status || (status < 200 && status != 101))
		return 0;
	k.tgid = key->tgid;
	k.g = c->g;
	c->g = 0;
	st = bpf_map_lookup_elem(&servers, &k);
	if (!st || st->ev.proto != WEFT_PROTO_HTTP1)
		return 0;
	st->ev.end_ns = bpf_ktime_get_ns();
	st->ev.status = status;
	emit(&st->ev, WEFT_GO_ST_SERVER);
	bpf_map_delete_elem(&servers, &k);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(go_sys_exit, struct pt_regs *regs, long ret)
{
	const struct weft_go_cfg *cfg;
	struct sys_key key = {};
	__u32 *bin;
	long nr;

	if (ret <= 0)
		return 0;
	nr = regs->orig_ax;
	if (nr != NR_READ && nr != NR_WRITE)
		return 0;
	key.tgid = bpf_get_current_pid_tgid() >> 32;
	bin = bpf_map_lookup_elem(&go_pids, &key.tgid);
	if (!bin)
		return 0;
	cfg = bpf_map_lookup_elem(&cfgs, bin);
	if (!cfg || !(cfg->flags & WEFT_GO_CFG_SYSCALLS))
		return 0;
	key.fd = (__s32)regs->di;
	if (nr == NR_WRITE) {
		sys_write(&key, regs->si, ret);
		return 0;
	}
	if (sys_read(cfg, &key, regs->si, ret) == 1) {
		struct sys_conn *c = bpf_map_lookup_elem(&sys_conns, &key);
		struct sys_run *r = weft_task_state(&sys_runs, false);

		sys_ts(c, r);
		sys_begin(cfg, c, r);
	}
	return 0;
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Python asyncio (CPython's own event loop): which request a task serves
 * (issue 20, docs/weft-http.md "Runtime rules: Python asyncio").
 *
 * Every Task, every scheduled callback and asyncio.to_thread run in a
 * contextvars Context copied from the running one by PyContext_CopyCurrent
 * (exported); the running one is the thread state's `context`. So:
 *   - tie: the task asyncio makes for each accepted connection
 *     (BaseSelectorEventLoop._accept_connection2) builds the connection's
 *     transport, whose constructor (_SelectorTransport.__init__) calls
 *     getsockname() on it: at that syscall, with exactly those two code
 *     objects at the top of the thread's frame stack, the running context is
 *     that task's own, made for this connection only. It is tied to the
 *     connection (fd, the socket's inode, the reading thread, the time):
 *     a connection-level tie (a context found building the transports of
 *     two connections, e.g. given to every task by a task factory, is
 *     marked shared and names none);
 *   - lineage: PyContext_CopyCurrent passes the tie on, seen by ONE uprobe
 *     (weft_py_copy, below) on its tail call into the allocation, which
 *     knows both the running context and the address the copy will get.
 *     A copy of a request-bound context is bound
 *     to the same request. A copy of a connection-level one is bound to the
 *     request owed on the connection at that moment, if any, else it stays
 *     connection-level (its setup: connection_made, the handler task); but
 *     only while the connection was read once at most and nothing was
 *     written to it: after its first request, the connection's own contexts
 *     (its handler) may be working for an earlier request while the next one
 *     is owed already, so they name no request; while every tied connection
 *     was written to (weft_py_layout.open 0), no tie names one, and copies
 *     skip the lookup;
 *   - an address reused by a context made in any other way has no tie:
 *     when weft-analyze proves every path into the Context allocation
 *     (analyzer/pyalloc.c), each one is probed and drops the old tie at the
 *     address the new Context gets (allocation mode, one trap per Context
 *     made: see weft_py_fresh); otherwise a probe on the deallocation
 *     (PyContext_Type.tp_dealloc) drops a context's tie when it dies
 *     (deallocation mode, two traps per Context copied);
 *   - a write of the connection's loop thread whose running context carries
 *     a tie, on any other fd, ties that fd (rt_tie.bpf.h) to: the bound
 *     request, if it is still owed; for a connection-level context, the
 *     request owed on the connection under the same condition (its first);
 *     and only while the fd still holds the same socket (inode). A write of
 *     another thread (asyncio.to_thread's workers) in a bound context ties
 *     the fd to a checked copy of the bound request (py_snap), taken now:
 *     its sk_msg run must not read the loop thread's entry, which the loop
 *     reuses for its next request. Any other write of the process clears
 *     the fd's tie; writes and read calls on a tied connection are counted.
 * A task made while a request is owed serves that request: the same rule as
 * contextvars-based tracing (OpenTelemetry's) inside the process.
 * Offsets per interpreter build: py_procs (user space: injectors/net/rt_asyncio.c).
 * Included by http_rt.bpf.c (after http_shared.bpf.h: task_targeted, weft_fd_file).
 */
#ifndef WEFT_RT_ASYNCIO_BPF_H
#define WEFT_RT_ASYNCIO_BPF_H

#include <bpf/bpf_tracing.h>
#include "net/rt_tie.bpf.h"

#define PY_MAX_INTERPS 4
#define PY_MAX_THREADS 64
#define PY_NAME_MAX 48

/*
 * key: tgid. A hash map: user space replaces a layout whole (a probe sees
 * the old one or the new one, and the counts it keeps in it, open and
 * epoch, go with the gen they count for).
 */
WEFT_HASH(__u32, struct weft_py_layout, 4096) py_procs SEC(".maps");

struct py_ctx_key {
	__u32 tgid;
	__u32 _pad;
	__u64 ctx;	/* the PyContext's address */
};

struct py_tie {
	__s32 fd;	/* the accepted connection */
	__u32 gen;	/* the process image's (weft_py_layout.gen) */
	__u64 ino;	/* its socket's inode (the same connection, not a reused fd) */
	__u64 reader;	/* the thread that built its transport (its loop) */
	__u64 at_ns;	/* when (bpf_ktime_get_ns) */
	__u64 req_ns;	/* bound to the request read at this time (start_ns); 0: connection-level */
	__u32 shared;	/* not 0: it names none: 1 the context built transports of two
			 * connections; 2 (connection-level) its connection's first
			 * request is behind it (py_first_only is false for good) */
	__u32 epoch;	/* the layout's epoch when made (weft_py_layout.epoch) */
};

/* Tied connections: was anything written to them since the tie? */
struct py_conn_key {
	__u32 tgid;
	__s32 fd;
};

struct py_conn {
	__u64 ino;
	__u64 answered;	/* anything written to it since the tie (64 bits: cmpxchg) */
	__u32 reads;	/* read calls on it since the tie (any result) */
	__u32 gen;	/* the process image's (weft_py_layout.gen): counted in its open */
};

WEFT_LRU_HASH(struct py_conn_key, struct py_conn, 16384) py_conns SEC(".maps");

WEFT_LRU_HASH(struct py_ctx_key, struct py_tie, 65536) py_ctx SEC(".maps");

/* Execs of target processes (tgid): user space looks for Python there. */
WEFT_RINGBUF(1 << 12) py_execs SEC(".maps");

static __always_inline bool py_off_ok(const struct weft_py_layout *l, int i)
{
	return l->off[i] >= 0 && l->off[i] < 65536;
}

static __always_inline __u64 py_ptr(__u64 base, const struct weft_py_layout *l, int i)
{
	__u64 v = 0;

	if (!base || !py_off_ok(l, i) || bpf_probe_read_user(&v, 8, (void *)(base + l->off[i])))
		return 0;
	return v;
}

static __always_inline const struct weft_py_layout *py_layout(__u64 pid_tgid)
{
	__u32 tgid = pid_tgid >> 32;

	return bpf_map_lookup_elem(&py_procs, &tgid);
}

/* The calling thread's PyThreadState (found by its native thread id), or 0. */
static __noinline __u64 py_tstate(const struct weft_py_layout *l, __u32 tid)
{
	__u64 is, ts;

	if (!l)
		return 0;
	is = py_ptr(l->runtime, l, PY_RT_INTERP_HEAD);
	for (int i = 0; i < PY_MAX_INTERPS && is; i++) {
		ts = py_ptr(is, l, PY_IS_THREADS_HEAD);
		for (int j = 0; j < PY_MAX_THREADS && ts; j++) {
			if ((__u32)py_ptr(ts, l, PY_TS_NATIVE_TID) == tid)
				return ts;
			ts = py_ptr(ts, l, PY_TS_NEXT);
		}
		is = py_ptr(is, l, PY_IS_NEXT);
	}
	return 0;
}

/*
 * A string object's length, state and first PY_NAME_MAX data bytes in one
 * read, when they lie in PY_STR_SPAN bytes from its length in that order
 * (3.11: 16, 32, 48): b[0] is the length. Tracepoints only (preemption off).
 */
#define PY_STR_SPAN 128
struct py_str_buf {
	char b[2 * PY_STR_SPAN]; /* room for the masks below */
};

WEFT_PERCPU_ARRAY(struct py_str_buf, 1) py_str_bufs SEC(".maps");

/* Is the code object's co_qualname the compact ASCII string want (n bytes)? */
static __always_inline bool py_qualname_is(const struct weft_py_layout *l, __u64 code,
					   const char *want, int n)
{
	__u64 s = py_ptr(code, l, PY_CO_QUALNAME), len = 0;
	__s32 lo = l->off[PY_STR_LENGTH], so = l->off[PY_STR_STATE] - lo,
	      dof = l->off[PY_STR_DATA] - lo;
	struct py_str_buf *sb;
	const char *data;
	char buf[PY_NAME_MAX];
	__u32 state = 0, zero = 0, uso, udof;

	if (!s || n > PY_NAME_MAX || !py_off_ok(l, PY_STR_LENGTH) || !py_off_ok(l, PY_STR_STATE) ||
	    !py_off_ok(l, PY_STR_DATA))
		return false;
	/*
	 * Unsigned, and masked where used: clang may compute the size and the
	 * offsets from the signed values again, whose bounds 6.1's verifier
	 * does not narrow. The checks make the masks no-ops.
	 */
	uso = (__u32)so;
	udof = (__u32)dof;
	sb = bpf_map_lookup_elem(&py_str_bufs, &zero);
	if (sb && uso >= 8 && uso <= PY_STR_SPAN - 4 && udof >= uso + 4 &&
	    udof <= PY_STR_SPAN - PY_NAME_MAX) {
		/* one read: length, state, data */
		__u32 sz = udof + PY_NAME_MAX;

		barrier_var(sz); /* clang would drop the masks as no-ops */
		barrier_var(uso);
		barrier_var(udof);
		if (bpf_probe_read_user(sb->b, sz & (2 * PY_STR_SPAN - 1), (void *)(s + lo)))
			return false;
		__builtin_memcpy(&len, sb->b, 8);
		__builtin_memcpy(&state, sb->b + (uso & (PY_STR_SPAN - 1)), 4);
		data = sb->b + (udof & (PY_STR_SPAN - 1));
	} else {
		if (bpf_probe_read_user(&len, 8, (void *)(s + lo)) ||
		    bpf_probe_read_user(&state, 4, (void *)(s + l->off[PY_STR_STATE])) ||
		    bpf_probe_read_user(buf, PY_NAME_MAX, (void *)(s + l->off[PY_STR_DATA])))
			return false;
		data = buf;
	}
	/* kind 1 (bits 2-4), compact (bit 5), ascii (bit 6) */
	if (len != n || (state & 0x7c) != 0x64)
		return false;
	for (int i = 0; i < PY_NAME_MAX; i++) {
		if (i >= n)
			break;
		if (data[i] != want[i])
			return false;
	}
	return true;
}

#define PY_TRANSPORT_INIT "_SelectorTransport.__init__"
#define PY_ACCEPT_TASK "BaseSelectorEventLoop._accept_connection2"

/* Was t made for this process image, after its last voiding? */
static __always_inline bool py_tie_live(const struct py_tie *t, const struct weft_py_layout *l)
{
	return t->gen == l->gen && t->epoch == l->epoch;
}

/* The inode of the current process's fd, or 0. */
static __always_inline __u64 py_fd_ino(__s32 fd)
{
	struct file *f = weft_fd_file(fd);

	return f ? BPF_CORE_READ(f, f_inode, i_ino) : 0;
}

/*
 * May a connection-level context of t's connection still name a request?
 * Only while nothing was written to the connection and it was read once:
 * its first request, arrived in one read (a second read may have brought a
 * second, pipelined request, which weft-http's entry for the connection then
 * names instead).
 */
static __always_inline bool py_first_only(const struct py_tie *t, __u32 tgid)
{
	struct py_conn_key ck = { .tgid = tgid, .fd = t->fd };
	struct py_conn *c = bpf_map_lookup_elem(&py_conns, &ck);

	return c && c->ino == t->ino && c->gen == t->gen && !c->answered && c->reads <= 1;
}

/*
 * Count n in the process's open connections (weft_py_layout.open): the
 * py_conns entries of its image (gen) nothing was written to yet. Each
 * entry is counted before it is inserted and uncounted at most once, by
 * whoever flips its `answered` from 0 to 1 (py_answer: its first write, or
 * its close, weft_py_close); so the count is never too low. It is too high
 * when a connection leaves the LRU map unanswered: that only costs the
 * skips below. At 0 no entry of the image is
 * unanswered, so py_write and py_read skip the connection's entry (nothing
 * to mark or count: py_first_only is false for every tie already).
 */
static __always_inline void py_open(const struct weft_py_layout *l, __s32 n)
{
	__sync_fetch_and_add(&((struct weft_py_layout *)l)->open, n);
}

/* Mark c (an entry of l's image) answered, uncounted once. */
static __always_inline void py_answer(const struct weft_py_layout *l, struct py_conn *c)
{
	if (c->gen == l->gen && !__sync_val_compare_and_swap(&c->answered, 0, 1))
		py_open(l, -1);
}

/* The request owed on t's connection, read after its tie, or NULL. */
static __always_inline struct weft_server_ctx *py_owed(const struct py_tie *t)
{
	struct weft_server_ctx *s = weft_sctx_at(t->reader, (__u32)t->fd);	/* the loop's */

	return s && s->start_ns >= t->at_ns ? s : NULL;
}

/*
 * Sockets accepted by target processes, until their transport's getsockname
 * ties them: the only getsockname calls worth the walk of the thread list
 * and the frame checks below (most are of connections the process made).
 * Only a filter: the checks decide.
 */
WEFT_LRU_HASH(struct py_conn_key, __u8, 4096) py_accepted SEC(".maps");

static __always_inline void py_accept(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct py_conn_key k = { .tgid = id >> 32, .fd = (__s32)ctx->ret };
	__u8 one = 1;

	/* task_targeted, not py_layout: the layout is recorded after the
	 * tracepoints are attached, and a connection accepted in between is
	 * tied if its transport is built after */
	if (ctx->ret >= 0 && task_targeted(id))
		bpf_map_update_elem(&py_accepted, &k, &one, BPF_ANY);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int weft_py_accept4(struct trace_event_raw_sys_exit *ctx)
{
	py_accept(ctx);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int weft_py_accept(struct trace_event_raw_sys_exit *ctx)
{
	py_accept(ctx);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getsockname")
int weft_py_getsockname(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), ts, fr, ctxp;
	const struct weft_py_layout *l;
	struct py_ctx_key k = { .tgid = id >> 32 };
	struct py_tie t = { .fd = (__s32)ctx->args[0], .reader = id };
	struct py_conn_key ck = { .tgid = id >> 32, .fd = t.fd };
	struct py_conn c = {}, *old_c;
	struct py_tie *old;
	/* on the stack: constant arrays in .rodata get BTF the kernel refuses */
	char init[] = PY_TRANSPORT_INIT, accept[] = PY_ACCEPT_TASK;

	if (!bpf_map_lookup_elem(&py_accepted, &ck))
		return 0;	/* not an accepted socket: the common case, one lookup */
	l = py_layout(id);
	if (!l || !task_targeted(id))
		return 0;
	ts = py_tstate(l, (__u32)id);
	fr = py_ptr(py_ptr(ts, l, PY_TS_CFRAME), l, PY_CF_CURRENT_FRAME);
	/* _SelectorTransport.__init__ <- _SelectorSocketTransport.__init__ <-
	 * _make_socket_transport (or _make_ssl_transport) <- _accept_connection2 */
	if (!py_qualname_is(l, py_ptr(fr, l, PY_FR_CODE), init, sizeof(init) - 1))
		return 0;
	for (int i = 0; i < 3; i++)
		fr = py_ptr(fr, l, PY_FR_PREVIOUS);
	if (!py_qualname_is(l, py_ptr(fr, l, PY_FR_CODE), accept, sizeof(accept) - 1))
		return 0;
	ctxp = py_ptr(ts, l, PY_TS_CONTEXT);
	t.ino = py_fd_ino(t.fd);
	t.gen = l->gen;
	t.epoch = l->epoch;
	if (!ctxp || !t.ino)
		return 0;
	k.ctx = ctxp;
	t.at_ns = bpf_ktime_get_ns();
	c.ino = t.ino;
	c.gen = l->gen;
	bpf_map_delete_elem(&py_accepted, &ck);	/* its transport is built */
	old_c = bpf_map_lookup_elem(&py_conns, &ck);
	if (old_c)
		py_answer(l, old_c);	/* an earlier connection on fd, never answered */
	py_open(l, 1);	/* before the entry is seen: the count is never too low */
	if (bpf_map_update_elem(&py_conns, &ck, &c, BPF_ANY)) {
		py_open(l, -1);
		return 0;
	}
	/* the accept task's context is its own, unless a task factory shares one */
	old = bpf_map_lookup_elem(&py_ctx, &k);
	if (old && py_tie_live(old, l) && (old->fd != t.fd || old->ino != t.ino)) {
		old->shared = 1;
		return 0;
	}
	bpf_map_update_elem(&py_ctx, &k, &t, BPF_ANY);
	return 0;
}

/* What the rule counts (PY_COUNT_*), reported by user space at exit. */
WEFT_ARRAY(__u64, PY_NCOUNTS) py_counts SEC(".maps");

/* A copy of a tied context being made by GC_New (freelist empty), per thread (pid_tgid). */
struct py_pending {
	__u64 sp;	/* RSP expected at GC_New's return */
	__u32 gen;
	__u32 _pad;
	struct py_tie tie;
};

WEFT_LRU_HASH(__u64, struct py_pending, 4096) py_pending SEC(".maps");

struct py_freelist {
	__u64 head;
	__s32 numfree;
	__u32 _pad;
};

/* The interpreter is's Context freelist (one read when the count follows the head): 0 or -1. */
static __always_inline int py_freelist(__u64 is, const struct weft_py_layout *l,
				       struct py_freelist *fl)
{
	__s32 h = l->off[PY_IS_CTX_FREELIST], c = l->off[PY_IS_CTX_NUMFREE];

	if (!py_off_ok(l, PY_IS_CTX_FREELIST) || !py_off_ok(l, PY_IS_CTX_NUMFREE))
		return -1;
	if (c == h + 8)
		return bpf_probe_read_user(fl, 12, (void *)(is + h)) ? -1 : 0;
	if (bpf_probe_read_user(&fl->head, 8, (void *)(is + h)) ||
	    bpf_probe_read_user(&fl->numfree, 4, (void *)(is + c)))
		return -1;
	return 0;
}

/* addr is a new Context (PY_MODE_ALLOC): an old tie at its address goes. */
static __always_inline void py_forget(__u32 tgid, __u64 addr)
{
	struct py_ctx_key k = { .tgid = tgid, .ctx = addr };

	if (bpf_map_lookup_elem(&py_ctx, &k))	/* lockless; most addresses have none */
		bpf_map_delete_elem(&py_ctx, &k);
}

/*
 * The copy at k->ctx gets tie t. An entry already there (the freed
 * Context's old tie: PY_MODE_ALLOC keeps a tie until its address is
 * allocated again) is overwritten in place, void first (gen 0: no layout's,
 * weft_py_layout.gen starts at 1) and made live last (x86 keeps the stores
 * in order), sparing the LRU map's locked insertion of a fresh element and
 * removal of the old one; else a new entry. Nothing looks the entry up
 * meanwhile: ties are looked up under a running (live) Context, and k->ctx
 * is not one yet.
 */
static __always_inline void py_tie_at(const struct py_ctx_key *k, const struct py_tie *t)
{
	struct py_tie *e = bpf_map_lookup_elem(&py_ctx, k), v;

	if (!e) {
		bpf_map_update_elem(&py_ctx, k, t, BPF_ANY);
		return;
	}
	v = *t;
	v.gen = 0;
	*(volatile __u32 *)&e->gen = 0;
	asm volatile("" ::: "memory");
	__builtin_memcpy(e, &v, sizeof(v));
	asm volatile("" ::: "memory");
	*(volatile __u32 *)&e->gen = t->gen;
}

/* A new Context's address could not be known: every tie of the process is void. */
static __always_inline void py_void(const struct weft_py_layout *l)
{
	__sync_fetch_and_add(&((struct weft_py_layout *)l)->epoch, 1);
	weft_count(&py_counts, PY_COUNT_VOIDED);
}

/* _PyRuntimeState.interpreters from head on (3.11: head, main, next_id) */
struct py_interps {
	__u64 head;
	__u64 main;
	__s64 next_id;
};

/*
 * The interpreter of the thread holding the GIL, whose Context freelist
 * _context_alloc pops (tstate_current->interp); ts: tstate_current when
 * already read, else 0. While the runtime has made one interpreter only, it
 * is that one, interpreters.head, read with the count in one piece instead
 * of two reads through the thread state: each PyInterpreterState_New takes
 * the next id under the runtime's lock before anything can run in the new
 * interpreter, the main interpreter's being 0, so next_id is 1 exactly while
 * no other interpreter was ever made (a failed attempt, a fork or a
 * finalization never lowers it; a new runtime has a new main interpreter
 * and counts from 0 again). Any other count, or no such field in the
 * record: through the thread state.
 */
static __always_inline __u64 py_interp_now(const struct weft_py_layout *l, __u64 ts)
{
	struct py_interps in;

	if (!ts && py_off_ok(l, PY_RT_INTERP_HEAD) &&
	    l->off[PY_RT_INTERP_NEXT_ID] == l->off[PY_RT_INTERP_HEAD] + 16 &&
	    !bpf_probe_read_user(&in, sizeof(in),
				 (void *)(l->runtime + l->off[PY_RT_INTERP_HEAD])) &&
	    in.next_id == 1 && in.head)
		return in.head;
	if (!ts)
		ts = py_ptr(l->runtime, l, PY_RT_TSTATE_CURRENT);
	return py_ptr(ts, l, PY_TS_INTERP);
}

/* The Context freelist of the GIL holder's interpreter (py_interp_now), as _context_alloc reads. */
static __always_inline int py_freelist_now(const struct weft_py_layout *l, __u64 ts,
					   struct py_freelist *fl)
{
	__u64 is = py_interp_now(l, ts);

	if (!is || py_freelist(is, l, fl) || fl->numfree < 0 || (fl->numfree && !fl->head))
		return -1;
	return 0;
}

/*
 * The copy's tie, from one uprobe on the JMP of PyContext_CopyCurrent's tail
 * call (`return context_new_from_vars(ctx->ctx_vars)`; the site is found and
 * checked by weft-analyze, analyzer/pysites.c). At that instruction:
 *   - RAX holds ctx, the running context context_get() returned (the
 *     analyzer requires `mov rdi, [rax + ctx_vars]` and only POPs of other
 *     registers before the JMP): its tie is looked up first (most copies
 *     have none: one lookup, no read); one to pass on is passed only when
 *     RAX is also the `context` of the thread state read here;
 *   - what runs next is fixed: context_new_from_vars calls _context_alloc
 *     before anything else, which reads the interpreter of
 *     _PyRuntime.gilstate.tstate_current and, when its Context freelist's
 *     count is not 0, takes the freelist's head as the new object (the
 *     analyzer checks those instructions and offsets). The GIL is held from
 *     here to there and no call intervenes (no allocation, no garbage
 *     collection, no Python code), so tstate_current is this thread's, and
 *     the count and head read here, in the same interpreter (through the
 *     same pointers, or the only one: py_interp_now), are the ones
 *     _context_alloc reads: with a count above 0 the copy IS the head's
 *     address.
 *   - with a count of 0 the copy comes from _PyObject_GC_New, at an address
 *     unknown here: the tie waits for it, per thread (py_pending), until
 *     weft_py_copy_new sees GC_New return at the expected stack pointer.
 *   - The head's old tie, if any, was dropped by the deallocation probe
 *     when it entered the freelist (PY_MODE_DEALLOC); in PY_MODE_ALLOC, it
 *     is replaced or dropped here, for every copy (see "Allocation mode"
 *     above weft_py_fresh).
 * This replaces an entry and return probe pair (two traps per copy) with one
 * trap per copy (two when the freelist is empty, rare once the process has
 * freed contexts).
 */
SEC("uprobe")
int weft_py_copy(struct pt_regs *regs)
{
	__u64 id = bpf_get_current_pid_tgid(), ts = 0, ctxp;
	const struct weft_py_layout *l = py_layout(id);
	struct py_ctx_key k = { .tgid = id >> 32 }, ck = { .tgid = id >> 32 };
	struct py_freelist fl = {};
	struct weft_server_ctx *s;
	struct py_tie *t, child = {};
	bool pass = false;

	if (!l)
		return 0;
	ctxp = PT_REGS_RC(regs);
	k.ctx = ctxp;
	/*
	 * While every tied connection was written to (open 0: py_open), no tie
	 * names a request, as py_write has it: a connection-level one's first
	 * request is behind it (py_first_only), a request-bound one's request
	 * was answered (its status line written). So a copy made then gets
	 * none, without the lookup (keep-alive connections after their first
	 * request: most copies); a new trace, should it write once a later
	 * connection made open positive again.
	 */
	t = ctxp && l->open > 0 ? bpf_map_lookup_elem(&py_ctx, &k) : NULL;
	if (t && py_tie_live(t, l) && !t->shared) {
		/* a tie to pass on: RAX must be the thread state's running context */
		ts = py_ptr(l->runtime, l, PY_RT_TSTATE_CURRENT);
		child = *t;
		pass = py_ptr(ts, l, PY_TS_CONTEXT) == ctxp;
		if (pass && !child.req_ns) {
			pass = py_first_only(t, k.tgid); /* after its first request: none named */
			if (!pass)
				t->shared = 2;	/* for good: later copies skip the reads */
			s = pass ? py_owed(t) : NULL;
			if (s)
				child.req_ns = s->start_ns;
		}
	}
	if (!pass && l->mode != PY_MODE_ALLOC)
		return 0;	/* the copy has no tie, and its address none (dealloc probe) */
	if (py_freelist_now(l, ts, &fl)) {
		if (l->mode == PY_MODE_ALLOC)
			py_void(l);
		return 0;
	}
	if (!fl.numfree) {
		/* GC_New makes it: weft_py_copy_new learns where (and drops an old tie) */
		struct py_pending p = { .sp = PT_REGS_SP(regs) - l->sp_delta, .gen = l->gen,
					.tie = child };

		if (pass && (l->sp_delta <= 0 || bpf_map_update_elem(&py_pending, &id, &p, BPF_ANY)))
			weft_count(&py_counts, PY_COUNT_EMPTY_FREELIST);
		return 0;
	}
	ck.ctx = fl.head;
	if (pass && fl.head != ctxp)
		py_tie_at(&ck, &child);
	else if (l->mode == PY_MODE_ALLOC)
		py_forget(ck.tgid, fl.head);
	return 0;
}

/*
 * The return of _context_alloc's _PyObject_GC_New (the second site): RAX is
 * a new context (or NULL). It is the copy weft_py_copy saw with an empty
 * freelist only when this thread's pending copy expects exactly this stack
 * pointer: the JMP's minus what context_new_from_vars and _context_alloc
 * push in between (the analyzer counts them). An allocation nested in it
 * (a garbage collection in GC_New running Python code) runs deeper (a
 * lower RSP) and leaves the pending copy alone; a later one at the same
 * depth finds it consumed. A pending copy replaced by a nested one (a
 * finalizer copying a tied context inside GC_New, with the freelist empty
 * again) is lost: its copy gets no tie, a new trace (not counted). Every
 * other new context loses any old tie at its address here (the analyzer
 * proves no branch lands on this site: only GC_New's return reaches it).
 */
SEC("uprobe")
int weft_py_copy_new(struct pt_regs *regs)
{
	__u64 id = bpf_get_current_pid_tgid(), copy = PT_REGS_RC(regs);
	struct py_ctx_key ck = { .tgid = id >> 32, .ctx = copy };
	const struct weft_py_layout *l = py_layout(id);
	struct py_pending *p = bpf_map_lookup_elem(&py_pending, &id);

	if (!l || !copy)
		return 0;
	if (p && p->sp == PT_REGS_SP(regs)) {
		bool ok = p->gen == l->gen && py_tie_live(&p->tie, l) &&
			  !bpf_map_update_elem(&py_ctx, &ck, &p->tie, BPF_ANY);

		bpf_map_delete_elem(&py_pending, &id);
		if (ok)
			return 0;
		weft_count(&py_counts, PY_COUNT_EMPTY_FREELIST);
	}
	py_forget(ck.tgid, copy);
	return 0;
}

/*
 * Allocation mode (PY_MODE_ALLOC): no deallocation probe; ONE trap per
 * Context made instead of two per Context copied (the copy and its
 * deallocation). Sound because a tie is only ever looked up under the
 * running context (weft_py_copy by RAX, checked against the thread state's
 * `context`; py_write and weft_py_getsockname by that `context`), which is
 * always a live Context; and a freed Context's address holds a Context
 * again only through _context_alloc (its freelist pop, or GC_New of
 * PyContext_Type). weft-analyze (analyzer/pyalloc.c) proves, per binary,
 * that _context_alloc is entered only from context_new_from_vars and
 * context_new_empty, and those only by direct branches it lists, no address
 * of them being taken; each is probed: the copy site (weft_py_copy), the
 * others here (Context(), PyContext_New, Context.copy(), PyContext_Copy, a
 * thread's first context), and the GC_New return (weft_py_copy_new). So
 * every new Context's address has its tie replaced (a copy of a tied
 * context) or dropped before anything can look it up; stale ties at
 * addresses now holding other objects are never looked up (the LRU map
 * evicts them). When the freelist cannot be read at an allocation, the
 * address it will take is unknown: every tie of the process is voided
 * (epoch), new traces rather than a guess.
 * One trap per Context made is the floor for any certain lineage rule: the
 * copy's address is only known at its allocation, which a rule must see to
 * bind the copy; and a Context made by a path it did not see may sit at a
 * dead tied Context's address, so each allocation (or each deallocation,
 * plus each copy) must be seen.
 * Here: the entry of context_new_from_vars or context_new_empty by another
 * path than PyContext_CopyCurrent. A freelist pop takes the head: its old
 * tie goes; an empty freelist means GC_New, whose return drops it.
 */
SEC("uprobe")
int weft_py_fresh(struct pt_regs *regs)
{
	__u64 id = bpf_get_current_pid_tgid();
	const struct weft_py_layout *l = py_layout(id);
	struct py_freelist fl = {};

	if (!l)
		return 0;
	if (py_freelist_now(l, 0, &fl))
		py_void(l);
	else if (fl.numfree)
		py_forget(id >> 32, fl.head);
	return 0;
}

/* PyContext_Type.tp_dealloc(ctx) (PY_MODE_DEALLOC): its address may next hold any context */
SEC("uprobe")
int BPF_UPROBE(weft_py_ctx_free, __u64 ctxp)
{
	struct py_ctx_key k = { .tgid = bpf_get_current_pid_tgid() >> 32, .ctx = ctxp };

	bpf_map_delete_elem(&py_ctx, &k);
	return 0;
}

/* Room to copy a served request in (tracepoints run with preemption off). */
WEFT_PERCPU_ARRAY(struct weft_server_ctx, 1) py_snap_buf SEC(".maps");

/*
 * A write on fd by another thread than the loop (to_thread's workers) in a
 * context bound to a request: copy that request, if still owed, into
 * weft_rt_snaps for the write's sk_msg run. The loop thread may be rewriting
 * its entry in place meanwhile (for its next request: start time zeroed
 * first, the trace id, then the new start time): the copy counts only if
 * the entry's start time is the bound one before and after it was taken (x86
 * keeps loads in order, as the layouts table is x86-64 only).
 */
static __always_inline bool py_snap(const struct py_tie *t, __u32 tgid, __s32 fd)
{
	struct weft_rt_key k = { .tgid = tgid, .fd = fd };
	struct weft_server_ctx *s, *buf;
	__u32 zero = 0;
	__u64 after = 0;

	if (!t->req_ns)
		return false;	/* connection-level: only the loop's own writes */
	s = weft_sctx_at(t->reader, (__u32)t->fd);
	buf = bpf_map_lookup_elem(&py_snap_buf, &zero);
	if (!s || !buf || s->start_ns != t->req_ns || !s->ctx.valid)
		return false;
	if (bpf_probe_read_kernel(buf, sizeof(*buf), s) ||
	    bpf_probe_read_kernel(&after, sizeof(after), &s->start_ns))
		return false;
	if (after != t->req_ns || buf->start_ns != t->req_ns || !buf->ctx.valid)
		return false;
	return bpf_map_update_elem(&weft_rt_snaps, &k, buf, BPF_ANY) == 0;
}

/* A write of a Python process on fd: tie fd to its running context's request, or clear it. */
static __always_inline int py_write(__s32 fd)
{
	__u64 id = bpf_get_current_pid_tgid(), ts;
	const struct weft_py_layout *l = py_layout(id);
	struct py_ctx_key k = { .tgid = id >> 32 };
	struct py_conn_key ck = { .tgid = id >> 32, .fd = fd };
	struct py_conn *c;
	struct py_tie *t;

	if (!l || fd < 0)
		return 0;
	/* with every tied connection answered, fd's entry has nothing to mark */
	c = l->open > 0 ? bpf_map_lookup_elem(&py_conns, &ck) : NULL;
	if (c && !c->answered && c->ino == py_fd_ino(fd))
		py_answer(l, c);	/* a response (or anything) on a tied connection */
	if (l->open <= 0) {
		/* every tied connection was written to: a connection-level tie
		 * names nothing (py_first_only), and a request-bound one's request
		 * was answered (its status line written): no walk of the thread list */
		weft_rt_tie_clear(k.tgid, fd);
		return 0;
	}
	ts = py_tstate(l, (__u32)id);
	k.ctx = py_ptr(ts, l, PY_TS_CONTEXT);
	t = k.ctx ? bpf_map_lookup_elem(&py_ctx, &k) : NULL;
	if (t && !t->shared && !t->req_ns && !py_first_only(t, k.tgid))
		t->shared = 2;	/* its connection's first request is behind it, for good */
	if (!t || !py_tie_live(t, l) || t->shared || t->fd == fd || py_fd_ino(t->fd) != t->ino)
		weft_rt_tie_clear(k.tgid, fd);
	else if (t->reader != id && py_snap(t, k.tgid, fd))
		weft_rt_tie_snap(k.tgid, fd, t->req_ns); /* another thread: a checked copy */
	else if (t->reader != id)
		weft_rt_tie_clear(k.tgid, fd);
	else
		weft_rt_tie_at(k.tgid, fd, (__u32)t->fd, t->at_ns, t->req_ns);
	return 0;
}

/* A read call of a Python process on fd: counted if fd is a tied connection. */
static __always_inline int py_read(__s32 fd)
{
	__u64 id = bpf_get_current_pid_tgid();
	const struct weft_py_layout *l = py_layout(id);
	struct py_conn_key ck = { .tgid = id >> 32, .fd = fd };
	struct py_conn *c;

	/* with every tied connection answered, the count is moot (py_first_only) */
	if (!l || l->open <= 0)
		return 0;
	c = bpf_map_lookup_elem(&py_conns, &ck);	/* most fds: none */
	/* past 1, the count is moot */
	if (c && c->reads <= 1 && c->gen == l->gen && c->ino == py_fd_ino(fd))
		__sync_fetch_and_add(&c->reads, 1);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_read")
int weft_py_read(struct trace_event_raw_sys_enter *ctx)
{
	return py_read((__s32)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int weft_py_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	return py_read((__s32)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_readv")
int weft_py_readv(struct trace_event_raw_sys_enter *ctx)
{
	return py_read((__s32)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int weft_py_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	return py_read((__s32)ctx->args[0]);
}

/*
 * A close of a Python process: a tied connection closed before anything was
 * written to it (a client that connected and left, a health check) is
 * uncounted: it will not be answered, and a count held up by it would keep
 * every read and write on the long path.
 */
SEC("tracepoint/syscalls/sys_enter_close")
int weft_py_close(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	const struct weft_py_layout *l = py_layout(id);
	struct py_conn_key ck = { .tgid = id >> 32, .fd = (__s32)ctx->args[0] };
	struct py_conn *c;

	if (!l || l->open <= 0)
		return 0;
	c = bpf_map_lookup_elem(&py_conns, &ck);
	if (c && !c->answered && c->ino == py_fd_ino(ck.fd))
		py_answer(l, c);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_write")
int weft_py_write(struct trace_event_raw_sys_enter *ctx)
{
	return py_write((__s32)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int weft_py_sendto(struct trace_event_raw_sys_enter *ctx)
{
	return py_write((__s32)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_writev")
int weft_py_writev(struct trace_event_raw_sys_enter *ctx)
{
	return py_write((__s32)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int weft_py_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	return py_write((__s32)ctx->args[0]);
}

/* A new program image: its Python layout (if any) no longer holds; user space looks again. */
SEC("tracepoint/sched/sched_process_exec")
int weft_py_exec(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;

	bpf_map_delete_elem(&py_procs, &tgid);
	if (task_targeted(id))
		bpf_ringbuf_output(&py_execs, &tgid, sizeof(tgid), 0);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int weft_py_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;

	if (!bpf_map_lookup_elem(&py_procs, &tgid))
		return 0;
	bpf_map_delete_elem(&py_pending, &id); /* a thread's, should it end mid-copy */
	if ((__u32)id == tgid)
		bpf_map_delete_elem(&py_procs, &tgid);
	return 0;
}

#endif /* WEFT_RT_ASYNCIO_BPF_H */

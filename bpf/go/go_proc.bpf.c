// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft-go: goroutine ancestry (runtime.newproc1: a child goroutine
 * inherits its spawner's context) and process exec/exit events (go_shared.bpf.h).
 */
#define WEFT_LINK_EXTERN
#include "go/go_shared.bpf.h"

/* ---- goroutine ancestry ---- */

SEC("uprobe")
int go_newproc_entry(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), gp = ctx->bx;
	__u32 tgid = id >> 32;

	if (!bpf_map_lookup_elem(&go_pids, &tgid))
		return 0;
	stat_inc(WEFT_GO_ST_HITS);
	bpf_map_update_elem(&spawning, &id, &gp, BPF_ANY);
	return 0;
}

/*
 * newproc1's result: RAX at its RETs, or the register the attach cookie names
 * at a return site in its caller (newproc's CALL of runqput: RBX; weft_go.h).
 */
static __always_inline __u64 newproc_result(struct pt_regs *ctx)
{
	/*
	 * Every candidate is read at its own constant offset (volatile): the
	 * verifier refuses a context pointer the compiler would otherwise
	 * compute from the cookie.
	 */
	const __u64 r[12] = {
	    *(volatile unsigned long *)&ctx->ax,  *(volatile unsigned long *)&ctx->dx,
	    *(volatile unsigned long *)&ctx->cx,  *(volatile unsigned long *)&ctx->bx,
	    *(volatile unsigned long *)&ctx->si,  *(volatile unsigned long *)&ctx->di,
	    0,					  0,
	    *(volatile unsigned long *)&ctx->r8,  *(volatile unsigned long *)&ctx->r9,
	    *(volatile unsigned long *)&ctx->r10, *(volatile unsigned long *)&ctx->r11,
	};
	__u64 k = bpf_get_attach_cookie(ctx) >> WEFT_GO_COOKIE_REG_SHIFT;

	if (!k)
		return r[0];
	return k - 1 < 12 ? r[k - 1] : 0;
}

SEC("uprobe")
int go_newproc_ret(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), *gp;
	const struct weft_go_cfg *cfg;
	const struct weft_trace_ctx *p;
	const struct grpc_in *gi;
	const struct grpc_hdr *hw;
	struct gkey pk = {}, ck = {};
	__u32 tgid;
	__u8 src;

	cfg = go_cfg(ctx, &tgid);
	if (!cfg)
		return 0;
	pk.tgid = tgid;
	if (cfg->flags & WEFT_GO_CFG_CURG) {
		/* On the system stack: R14 is g0, its m's curg the spawning goroutine. */
		pk.g = read_u64(read_u64(ctx->r14 + cfg->g_m) + cfg->m_curg);
	} else {
		gp = bpf_map_lookup_elem(&spawning, &id);
		if (!gp)
			return 0;
		pk.g = *gp;
		bpf_map_delete_elem(&spawning, &id);
	}
	ck.tgid = tgid;
	ck.g = newproc_result(ctx); /* the new g */
	if (!ck.g)
		return 0;
	/* A g is reused after its goroutine ends: forget what it held. */
	bpf_map_delete_elem(&servers, &ck);
	bpf_map_delete_elem(&clients, &ck);
	/* ... and an HTTP/2 client stream parked for a HEADERS frame never written */
	hw = bpf_map_lookup_elem(&grpc_h2w, &ck);
	if (hw) {
		if (hw->kind != GO_H2W_GRPC)
			stat_inc(WEFT_GO_ST_H2W_SKIP_NOFRAME);
		bpf_map_delete_elem(&grpc_h2w, &ck);
	}
	/*
	 * Read-only mode, or HTTP/2 client writes: a goroutine spawned during a
	 * CLIENT span may be the one an HTTP/2 ClientConn.RoundTrip starts to
	 * write the request (go_h2pub.bpf.c): tie it to that span.
	 */
	if (cfg->flags & (WEFT_GO_CFG_PUBLISH | WEFT_GO_CFG_H2_WRITE | WEFT_GO_CFG_XH2_WRITE)) {
		const struct client_state *cl = pk.g ? bpf_map_lookup_elem(&clients, &pk) : NULL;

		if (cl && cl->ev.proto != WEFT_PROTO_GRPC) {
			struct h2_link l = {.caller = pk.g};

			__builtin_memcpy(l.span_id, cl->ev.ctx.span_id, WEFT_SPAN_ID_LEN);
			bpf_map_update_elem(&h2_links, &ck, &l, BPF_ANY);
		} else {
			bpf_map_delete_elem(&h2_links, &ck);
		}
	}
	/* A stream's goroutine spawned by grpc-go's operateHeaders (go_grpc.bpf.c). */
	gi = pk.g ? bpf_map_lookup_elem(&grpc_in, &pk) : NULL;
	if (gi)
		bpf_map_update_elem(&grpc_inh, &ck, gi, BPF_ANY);
	else
		bpf_map_delete_elem(&grpc_inh, &ck);
	p = pk.g ? parent_ctx(&pk, &src) : NULL;
	if (p && p->valid) {
		struct weft_trace_ctx c = *p;

		bpf_map_update_elem(&inherited, &ck, &c, BPF_ANY);
	} else {
		bpf_map_delete_elem(&inherited, &ck);
	}
	return 0;
}

/* ---- processes ---- */

static __always_inline void proc_event(__u32 type, __u32 pid, __u32 bin)
{
	struct weft_go_proc_event *e = bpf_ringbuf_reserve(&procs, sizeof(*e), 0);

	if (!e)
		return;
	e->type = type;
	e->pid = pid;
	e->bin = bin;
	e->_pad = 0;
	bpf_ringbuf_submit(e, 0);
}

/*
 * Raw tracepoints (Linux 4.17+): attached by name through bpf(), no tracefs
 * needed. Both run in the task concerned, so neither reads its arguments.
 */
SEC("raw_tp/sched_process_exec")
int go_exec(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct weft_go_inode ino = {};
	struct inode *inode;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, *bin;
	dev_t dev;

	inode = BPF_CORE_READ(task, mm, exe_file, f_inode);
	if (!inode)
		return 0;
	dev = BPF_CORE_READ(inode, i_sb, s_dev);
	ino.dev = dev;
	ino.ino = BPF_CORE_READ(inode, i_ino);
	bin = bpf_map_lookup_elem(&watched, &ino);
	if (!bin) {
		/* Same pid, another program: stop tracing it. */
		if (bpf_map_delete_elem(&go_pids, &tgid) == 0)
			proc_event(WEFT_GO_PROC_EXIT, tgid, 0);
		return 0;
	}
	bpf_map_update_elem(&go_pids, &tgid, bin, BPF_ANY);
	proc_event(WEFT_GO_PROC_EXEC, tgid, *bin);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int go_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;

	if (tgid != (__u32)id)
		return 0; /* a thread, not the process */
	if (bpf_map_delete_elem(&go_pids, &tgid) == 0)
		proc_event(WEFT_GO_PROC_EXIT, tgid, 0);
	return 0;
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The running goroutine of the current thread, from any tracepoint (a syscall's
 * tp_btf/sys_enter, sys_exit), without a uprobe: on linux/amd64 the thread's
 * TLS base is task->thread.fsbase and Go keeps g at a fixed offset from it
 * (weft-analyze's fact go.tls.g, analyzer/gotls.c); g carries goid and, from
 * Go 1.21, parentGoid. Offsets in struct weft_go_gid_offs (go/weft_go.h).
 *
 * Fail-closed: every user read is checked, and the answer is "none" when
 * anything is implausible. In particular a thread running on its g0 (the
 * scheduler, systemstack calls, the signal stack's gsignal) is not taken for
 * a goroutine: the g found in TLS must be its m's current user goroutine,
 * g->m->curg == g. On g0 or gsignal, m->curg is another g (the goroutine the
 * m runs for) or 0, never the system g itself; a user goroutine in a syscall
 * keeps g == curg (entersyscall changes neither). goid 0 (g0s have it) is
 * refused too.
 *
 * thread.fsbase is what the kernel saved at the last arch_prctl(ARCH_SET_FS)
 * or context switch. Go (runtime.settls) and glibc (TLS_INIT_TP) set FS with
 * arch_prctl, so it is current; a process that wrote its FS base with
 * WRFSBASE behind the kernel's back would read as garbage, which the checks
 * above turn into "none".
 */
#ifndef WEFT_GO_GOID_BPF_H
#define WEFT_GO_GOID_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "go/weft_go.h"

#define WEFT_GO_USER_MIN 0x1000ULL
#define WEFT_GO_USER_END 0x800000000000ULL /* x86-64 4-level user space */

struct weft_go_gid {
	__u64 g;
	__s64 goid;
	__s64 parent_goid; /* -1: not known (Go before 1.21, or no offset) */
};

/* An aligned user pointer inside the user address range. */
static __always_inline bool weft_go_uptr(__u64 p)
{
	return p >= WEFT_GO_USER_MIN && p < WEFT_GO_USER_END && !(p & 7);
}

/* The 8 bytes at base + off of the current process; false on a fault. */
static __always_inline bool weft_go_read(__u64 base, __s32 off, __u64 *out)
{
	if (off < 0 || !weft_go_uptr(base + off))
		return false;
	return bpf_probe_read_user(out, sizeof(*out), (const void *)(base + off)) == 0;
}

/*
 * The goroutine the current thread runs, for a process whose binary has the
 * offsets o: true with *out, false when there is none or any check fails.
 */
static __always_inline bool weft_go_current(const struct weft_go_gid_offs *o,
					    struct weft_go_gid *out)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u64 fsbase, slot, g, m, curg, v;

	if (o->tls_g >= 0 || o->tls_g < -4096 || o->g_m < 0 || o->m_curg < 0 || o->g_goid < 0)
		return false;
	fsbase = BPF_CORE_READ(t, thread.fsbase);
	slot = fsbase + o->tls_g;
	if (!weft_go_uptr(fsbase) || !weft_go_uptr(slot) ||
	    bpf_probe_read_user(&g, sizeof(g), (const void *)slot))
		return false;
	if (!weft_go_uptr(g) || !weft_go_read(g, o->g_m, &m) || !weft_go_uptr(m) ||
	    !weft_go_read(m, o->m_curg, &curg) || curg != g)
		return false;
	if (!weft_go_read(g, o->g_goid, &v) || (__s64)v <= 0)
		return false;
	out->g = g;
	out->goid = (__s64)v;
	out->parent_goid = -1;
	if (o->g_parent_goid >= 0) {
		if (!weft_go_read(g, o->g_parent_goid, &v) || (__s64)v < 0)
			return false;
		out->parent_goid = (__s64)v;
	}
	return true;
}

#endif /* WEFT_GO_GOID_BPF_H */

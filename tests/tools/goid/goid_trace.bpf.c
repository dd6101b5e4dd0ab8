// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test loader's program (tests/integration/go_goid.test): at every write(2)
 * of the target process whose bytes start with prefix ("goid="), the running
 * goroutine's goid and parentGoid as bpf/go/go_goid.bpf.h reads them at the
 * raw syscall tracepoint (tp_btf: no tracefs), with the bytes written.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "go/go_goid.bpf.h"
#include "goid_trace.h"

#define NR_WRITE 1 /* x86-64 */

const volatile __u32 target_tgid;
const volatile __u32 prefix_len;
const volatile char prefix[GOID_TRACE_PREFIX_MAX];
const volatile struct weft_go_gid_offs offs;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GOID_ST_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void count(__u32 k)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &k);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(goid_write, struct pt_regs *regs, long id)
{
	struct weft_go_gid_offs o = offs;
	struct weft_go_gid gid = {};
	struct goid_trace_ev *ev;
	char head[GOID_TRACE_PREFIX_MAX] = {};
	__u64 buf, n;

	if (id != NR_WRITE || bpf_get_current_pid_tgid() >> 32 != target_tgid)
		return 0;
	buf = regs->si;
	n = regs->dx;
	if (!prefix_len || prefix_len > GOID_TRACE_PREFIX_MAX || n < prefix_len ||
	    bpf_probe_read_user(head, prefix_len, (const void *)buf))
		return 0;
	for (int i = 0; i < GOID_TRACE_PREFIX_MAX && i < prefix_len; i++)
		if (head[i] != prefix[i])
			return 0;
	count(GOID_ST_WRITES);
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		count(GOID_ST_DROPS);
		return 0;
	}
	ev->tid = (__u32)bpf_get_current_pid_tgid();
	ev->ok = weft_go_current(&o, &gid);
	if (!ev->ok)
		count(GOID_ST_NONE);
	ev->goid = ev->ok ? gid.goid : -1;
	ev->parent_goid = ev->ok ? gid.parent_goid : -1;
	if (n > GOID_TRACE_DATA)
		n = GOID_TRACE_DATA;
	ev->len = 0;
	if (n && !bpf_probe_read_user(ev->data, n, (const void *)buf))
		ev->len = n;
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

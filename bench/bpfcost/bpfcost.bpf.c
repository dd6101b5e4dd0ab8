// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench/bpfcost: what one BPF program run and each helper the injectors use
 * cost on this machine, by bpf_stats. Every program is attached to the same
 * tracepoint (sys_enter_getppid), which the driver (bpfcost.c) calls in a
 * loop; each does one thing after the same pid check, so its run time minus
 * the empty program's is the cost of that thing.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 driver_tgid;
__u64 user_buf;	/* a mapped buffer of the driver's, >= 256 bytes */

struct value {
	__u64 w[8];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct value);
} hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct value);
} lru SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[512]);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, char[512]);
} per_task SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} rb SEC(".maps");

static __always_inline bool mine(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == driver_tgid;
}

#define COST(name) SEC("tracepoint/syscalls/sys_enter_getppid") int cost_##name(void *ctx)

COST(empty)
{
	return !mine();
}

COST(hash_lookup)
{
	__u64 k = bpf_get_current_pid_tgid();

	return mine() && bpf_map_lookup_elem(&hash, &k);
}

COST(hash_update_delete)
{
	__u64 k = bpf_get_current_pid_tgid();
	struct value v = {};

	if (!mine())
		return 0;
	bpf_map_update_elem(&hash, &k, &v, BPF_ANY);
	return bpf_map_delete_elem(&hash, &k);
}

COST(lru_update_delete)
{
	__u64 k = bpf_get_current_pid_tgid();
	struct value v = {};

	if (!mine())
		return 0;
	bpf_map_update_elem(&lru, &k, &v, BPF_ANY);
	return bpf_map_delete_elem(&lru, &k);
}

COST(percpu_lookup)
{
	__u32 z = 0;

	return mine() && bpf_map_lookup_elem(&scratch, &z);
}

COST(task_storage_get)
{
	return mine() && bpf_task_storage_get(&per_task, bpf_get_current_task_btf(), NULL,
					      BPF_LOCAL_STORAGE_GET_F_CREATE);
}

COST(read_user_8)
{
	__u64 v = 0;

	if (!mine())
		return 0;
	bpf_probe_read_user(&v, sizeof(v), (void *)user_buf);
	return v & 1;
}

COST(read_user_256)
{
	__u32 z = 0;
	char *b;

	if (!mine())
		return 0;
	b = bpf_map_lookup_elem(&scratch, &z);
	if (!b)
		return 0;
	return bpf_probe_read_user(b, 256, (void *)user_buf);
}

COST(read_user_fault)
{
	__u64 v = 0;

	if (!mine())
		return 0;
	bpf_probe_read_user(&v, sizeof(v), (void *)16);
	return v & 1;
}

COST(read_kernel_8)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	__u64 v = 0;

	if (!mine())
		return 0;
	bpf_probe_read_kernel(&v, sizeof(v), &t->start_time);
	return v & 1;
}

COST(ktime)
{
	return mine() && (bpf_ktime_get_ns() & 1);
}

COST(ringbuf_256)
{
	char *e;

	if (!mine())
		return 0;
	e = bpf_ringbuf_reserve(&rb, 256, 0);
	if (!e)
		return 0;
	e[0] = 1;
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	return 0;
}

COST(byte_loop_256)
{
	__u32 z = 0;
	char *b;
	int c = 0;

	if (!mine())
		return 0;
	b = bpf_map_lookup_elem(&scratch, &z);
	if (!b)
		return 0;
	for (int i = 0; i < 256; i++)
		c += b[i] == '\n';
	return c;
}

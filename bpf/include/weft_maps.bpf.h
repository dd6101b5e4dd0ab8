/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * BPF map shapes and the helpers every injector uses over them (weft-go,
 * weft-http, weft-tcpopt):
 *
 *   WEFT_HASH(key, value, n) name SEC(".maps");   and WEFT_LRU_HASH,
 *   WEFT_ARRAY(value, n), WEFT_PERCPU_ARRAY(value, n) (key __u32),
 *   WEFT_RINGBUF(bytes), WEFT_TASK_STORAGE(value), WEFT_SK_STORAGE(value),
 *   WEFT_MAP(type, key, value, n) for any other keyed type.
 *
 *   counters: WEFT_COUNTERS(n) name SEC(".maps") (per-CPU __u64, summed by
 *             user space); weft_count(&name, idx) adds one.
 *   per-thread state: WEFT_TASK_STORAGE(struct x) name SEC(".maps");
 *             weft_task_state(&name, create) is the current thread's value
 *             (created when create), or NULL; weft_task_state_new(&name,
 *             &counters, idx) creates it and counts a failure. Per thread, not per CPU: since
 *             Linux 6.0 uprobe, sk_msg and sockops programs run with
 *             migration but not preemption disabled, so a run suspended
 *             half-way and another run on the same CPU would share a per-CPU
 *             slot. A thread runs one such program at a time.
 *
 * Prefix a declaration with WEFT_SHARED (weft_link.h) when the units of a
 * linked object share it.
 */
#ifndef WEFT_MAPS_BPF_H
#define WEFT_MAPS_BPF_H

#define WEFT_MAP(type_, key_, value_, n_)                                                          \
	struct {                                                                                   \
		__uint(type, type_);                                                               \
		__uint(max_entries, n_);                                                           \
		__type(key, key_);                                                                 \
		__type(value, value_);                                                             \
	}
#define WEFT_HASH(key_, value_, n_)	WEFT_MAP(BPF_MAP_TYPE_HASH, key_, value_, n_)
#define WEFT_LRU_HASH(key_, value_, n_) WEFT_MAP(BPF_MAP_TYPE_LRU_HASH, key_, value_, n_)
#define WEFT_ARRAY(value_, n_)		WEFT_MAP(BPF_MAP_TYPE_ARRAY, __u32, value_, n_)
#define WEFT_PERCPU_ARRAY(value_, n_)	WEFT_MAP(BPF_MAP_TYPE_PERCPU_ARRAY, __u32, value_, n_)

#define WEFT_RINGBUF(bytes_)                                                                       \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_RINGBUF);                                                \
		__uint(max_entries, bytes_);                                                       \
	}

/* Local storage (task, socket): no preallocation, key int. */
#define WEFT_LOCAL_STORAGE(type_, value_)                                                          \
	struct {                                                                                   \
		__uint(type, type_);                                                               \
		__uint(map_flags, BPF_F_NO_PREALLOC);                                              \
		__type(key, int);                                                                  \
		__type(value, value_);                                                             \
	}
#define WEFT_TASK_STORAGE(value_) WEFT_LOCAL_STORAGE(BPF_MAP_TYPE_TASK_STORAGE, value_)
#define WEFT_SK_STORAGE(value_)	  WEFT_LOCAL_STORAGE(BPF_MAP_TYPE_SK_STORAGE, value_)

/* ---------------------------------------------------------------- counters */

#define WEFT_COUNTERS(n_) WEFT_PERCPU_ARRAY(__u64, n_)

static __always_inline void weft_count(void *counters, __u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(counters, &idx);

	if (v) /* atomic: a preempted run may be half-way through the same add */
		__sync_fetch_and_add(v, 1);
}

/* -------------------------------------------------------- per-thread state */

static __always_inline void *weft_task_state(void *map, bool create)
{
	return bpf_task_storage_get(map, bpf_get_current_task_btf(), NULL,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

/* The same, created when missing; NULL (counted as counters[fail]) when it cannot be. */
static __always_inline void *weft_task_state_new(void *map, void *counters, __u32 fail)
{
	void *r = weft_task_state(map, true);

	if (!r)
		weft_count(counters, fail);
	return r;
}

#endif /* WEFT_MAPS_BPF_H */

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * weft-http's runtime attach thread, shared by every runtime rule
 * (rt_discover.c: nginx, Node.js; rt_asyncio.c: Python asyncio). Attaching
 * and detaching uprobes waits for the kernel (RCU grace periods, the mmap
 * locks of every process mapping the binary; weft-analyze runs on a miss),
 * up to hundreds of milliseconds on a busy machine: the ring-buffer loop
 * only queues the pids of execs, this thread looks at them, so spans are
 * read while probes are being attached.
 */
#ifndef WEFT_RT_ATTACH_H
#define WEFT_RT_ATTACH_H

#include <bpf/libbpf.h>

/*
 * Register a rule: the execs its ring buffer execs_fd reports (added to rb)
 * and, first, the running processes of cgroup_rel (a path below the cgroup2
 * mount root, "" = all) are each passed to consider(pid) on the attach
 * thread (started by the first call). 0, or -1 with one line printed.
 */
int weft_rt_attach_add(struct ring_buffer *rb, int execs_fd, const char *cgroup_rel,
		       void (*consider)(int pid));
/* Finish the queued work and end the thread (once; later calls return at once). */
void weft_rt_attach_stop(void);

#endif /* WEFT_RT_ATTACH_H */

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * weft-http's Python asyncio rule, user space (bpf/net/rt_asyncio.bpf.h):
 * finds the CPython processes of the target cgroup (running at start, and
 * every exec afterwards) by their binary's offsets record (runtime python,
 * analyzer/python.c; weft-analyze runs on a miss), takes the interpreter's
 * layout from it and attaches the probes to each such process, and the
 * rule's syscall tracepoints once, with the first such process (none run
 * while the cgroup has no CPython process), on the runtime attach thread
 * (rt_attach.h). A version whose record has no layout: one line, nothing probed.
 */
#ifndef WEFT_RT_ASYNCIO_H
#define WEFT_RT_ASYNCIO_H

#include <bpf/libbpf.h>

/* Before load: the uprobes (per process) and syscall tracepoints (with the first
 * CPython process) are attached here, not by the skeleton. */
void weft_rt_asyncio_prepare(struct bpf_object *obj);
/* After attach: watch execs (ring buffer py_execs, added to rb), look at the
 * running processes of cgroup. 0, or -1 with one line printed. */
int weft_rt_asyncio_start(struct bpf_object *obj, struct ring_buffer *rb, const char *cgroup,
			  const char *root);
/* Detach every probe and tracepoint of the rule; one line each with the copies left
 * untied (freelist empty) and the voidings, if any. */
void weft_rt_asyncio_stop(void);

#endif /* WEFT_RT_ASYNCIO_H */

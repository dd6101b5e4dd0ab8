/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * weft-http's runtime rules, user space (bpf/net/rt_tie.bpf.h, rt_*.bpf.h):
 * looks at the processes of the target cgroup (those running at start, and
 * every exec afterwards), gets each new binary's offsets record (running
 * weft-analyze on a miss); a record whose `runtime` is a runtime's name gets
 * that runtime's uprobes, at the file offsets of the record, with the
 * record's layout as cookie, and its tracepoints once, on the runtime attach
 * thread (rt_attach.h); the layout is set once all its probes hold. Reads no
 * ELF. A runtime is one descriptor (rt_nginx.c, rt_node.c).
 */
#ifndef WEFT_RT_DISCOVER_H
#define WEFT_RT_DISCOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <bpf/libbpf.h>
#include "weft_rt.h"

struct weft_rt_probe {
	const char *prog, *func;	/* BPF program, exported function it probes */
	bool ret;			/* a return probe */
};

struct weft_rt_runtime {
	const char *name;	/* its records' `runtime` line, and messages */
	const struct weft_rt_probe *probes;
	size_t nprobes;
	const char *const *tracepoints;	/* programs attached once (NULL-terminated), or NULL */
	const char *fields[WEFT_RT_NOFF];	/* record fields -> layout indices (NULL: unused) */
	const char *what;	/* "its upstream requests": what starts new traces without it */
	const char *attached;	/* the line printed once its probes are attached */
};

extern const struct weft_rt_runtime weft_rt_nginx, weft_rt_node;

/* Before load: the probes are attached per binary, not by the skeleton. */
void weft_rt_prepare(struct bpf_object *obj);
/*
 * After attach: watch execs (ring buffer weft_rt_execs, added to rb) and
 * look at the processes of cgroup (a path under the cgroup2 mount root)
 * already running. 0, or -1 with one line printed.
 */
int weft_rt_start(struct bpf_object *obj, struct ring_buffer *rb, const char *cgroup,
		  const char *root);
/* Detach every probe; print the outgoing requests counted by what their tie said. */
void weft_rt_stop(void);

#endif /* WEFT_RT_DISCOVER_H */

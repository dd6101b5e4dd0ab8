/* SPDX-License-Identifier: BSD-2-Clause */
/* Event-loop threads (bpf/net/loop_thread.bpf.h): attach and mark at start. */
#ifndef WEFT_LOOP_THREADS_H
#define WEFT_LOOP_THREADS_H

#include <bpf/libbpf.h>

/*
 * Attach obj's weft_loop_* tracepoints (those not auto-attached by a
 * skeleton); links go to links[*n...max). 0, or -1 with one line printed.
 */
int weft_loop_attach(struct bpf_object *obj, struct bpf_link **links, int *n, int max);
/*
 * Mark the threads that wait in epoll_wait, or poll/select on several fds,
 * right now (they entered before the tracepoints existed) in the
 * weft_uncertain map (fd). Call after the tracepoints are attached. Returns
 * the number of threads marked.
 */
int weft_loop_prescan(int uncertain_fd);

#endif /* WEFT_LOOP_THREADS_H */

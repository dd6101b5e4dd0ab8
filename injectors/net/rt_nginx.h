/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * weft-http's nginx rule, user space (bpf/net/rt_nginx.bpf.h): finds nginx
 * processes of the target cgroup (those running at start, and every exec
 * afterwards), gets their binary's offsets record (running weft-analyze on a
 * miss) and attaches the probes with the record's layout.
 */
#ifndef WEFT_RT_NGINX_H
#define WEFT_RT_NGINX_H

#include <bpf/libbpf.h>

/* Before load: the probes are attached per binary, not by the skeleton. */
void weft_rt_nginx_prepare(struct bpf_object *obj);
/*
 * After attach: watch execs (ring buffer weft_rt_execs, added to rb) and
 * look at the processes of cgroup (a path under the cgroup2 mount root)
 * already running. 0, or -1 with one line printed.
 */
int weft_rt_nginx_start(struct bpf_object *obj, struct ring_buffer *rb, const char *cgroup,
			const char *root);
/* Detach every probe. */
void weft_rt_nginx_stop(void);

#endif /* WEFT_RT_NGINX_H */

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft-http: runtime rules (rt_tie.bpf.h; one rt_<runtime>.bpf.h per
 * runtime: nginx, Node.js, Python asyncio) and the event-loop marks
 * (loop_thread.bpf.h) that decide which served request an outgoing request
 * belongs to.
 */
#define WEFT_LINK_EXTERN
#include "net/http_shared.bpf.h"
#include "net/loop_thread.bpf.h"
#include "net/rt_nginx.bpf.h"
#include "net/rt_node.bpf.h"
#include "net/rt_asyncio.bpf.h"

/* Execs of target processes, for user space to find runtimes (weft_rt_execs). */
SEC("tracepoint/sched/sched_process_exec")
int weft_rt_exec(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;

	if (task_targeted(id))
		bpf_ringbuf_output(&weft_rt_execs, &tgid, sizeof(tgid), 0);
	return 0;
}

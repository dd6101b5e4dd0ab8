// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench/http's tracepoint floor: an empty program on each tracepoint that
 * weft-http attaches for a cgroup without runtime rules (its read exits, write
 * entries, event-loop waits, process exec and exit), loaded beside the
 * mechanism (mechanism.bpf.c). What that pair costs is what any injector that
 * inserts with sk_msg and observes these syscalls pays before doing any work:
 * the traced syscall paths and one program run per call, with nothing parsed,
 * kept or exported.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EMPTY(name, tp)                                                                            \
	SEC("tracepoint/" tp)                                                                      \
	int weft_bench_tp_##name(void *ctx)                                                        \
	{                                                                                          \
		return 0;                                                                          \
	}

EMPTY(exit_read, "syscalls/sys_exit_read")
EMPTY(exit_recvfrom, "syscalls/sys_exit_recvfrom")
EMPTY(exit_readv, "syscalls/sys_exit_readv")
EMPTY(exit_recvmsg, "syscalls/sys_exit_recvmsg")
EMPTY(enter_write, "syscalls/sys_enter_write")
EMPTY(enter_sendto, "syscalls/sys_enter_sendto")
EMPTY(enter_writev, "syscalls/sys_enter_writev")
EMPTY(enter_sendmsg, "syscalls/sys_enter_sendmsg")
EMPTY(exit_epoll_wait, "syscalls/sys_exit_epoll_wait")
EMPTY(exit_epoll_pwait, "syscalls/sys_exit_epoll_pwait")
EMPTY(exit_epoll_pwait2, "syscalls/sys_exit_epoll_pwait2")
EMPTY(enter_poll, "syscalls/sys_enter_poll")
EMPTY(enter_ppoll, "syscalls/sys_enter_ppoll")
EMPTY(enter_select, "syscalls/sys_enter_select")
EMPTY(enter_pselect6, "syscalls/sys_enter_pselect6")
EMPTY(exec, "sched/sched_process_exec")
EMPTY(exit, "sched/sched_process_exit")

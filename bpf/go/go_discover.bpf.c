// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft-go discovery: which processes start, and which start listening on TCP.
 * Each event carries only the process id (and the port); weft-go reads the
 * rest (cgroup, executable, build info) from /proc and decides.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "weft_maps.bpf.h"
#include "go/go_discover.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TCP_LISTEN_STATE 10

/* Ports named with --port (key: port, host order); empty: no listen events. */
WEFT_HASH(__u16, __u8, WEFT_DISC_MAX_PORTS) disc_ports SEC(".maps");

/* The --cgroup directories (fds), whatever cgroup namespace weft-go is in. */
WEFT_MAP(BPF_MAP_TYPE_CGROUP_ARRAY, __u32, __u32, WEFT_DISC_MAX_CGROUPS) disc_cgroups SEC(".maps");

const volatile __u32 ncgroups = 0;
const volatile bool all_execs = false; /* --exe-name: user space checks every exec */

WEFT_RINGBUF(64 << 10) disc_events SEC(".maps");

static __always_inline void disc_event(__u32 type, __u16 port, __u16 cgroup)
{
	struct weft_disc_event *e = bpf_ringbuf_reserve(&disc_events, sizeof(*e), 0);

	if (!e)
		return;
	e->type = type;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->port = port;
	e->cgroup = cgroup;
	e->ts = bpf_ktime_get_boot_ns();
	bpf_ringbuf_submit(e, 0);
}

/* raw tracepoints: no tracefs needed */
SEC("raw_tp/sched_process_exec")
int go_disc_exec(void *ctx)
{
	__u16 in = 0;

	for (__u32 i = 0; i < WEFT_DISC_MAX_CGROUPS && i < ncgroups; i++)
		if (bpf_current_task_under_cgroup(&disc_cgroups, i) == 1) {
			in = 1;
			break;
		}
	if (in || all_execs)
		disc_event(WEFT_DISC_EXEC, 0, in);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(go_disc_listen, const struct sock *sk, int oldstate, int newstate)
{
	__u16 port;

	if (newstate != TCP_LISTEN_STATE || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	port = sk->__sk_common.skc_num;	/* the bound local port, host order */
	if (!bpf_map_lookup_elem(&disc_ports, &port))
		return 0;
	disc_event(WEFT_DISC_LISTEN, port, 0);
	return 0;
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* weft-go discovery events, shared by go_discover.bpf.c and weft-go. */
#ifndef WEFT_GO_DISCOVER_H
#define WEFT_GO_DISCOVER_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define WEFT_DISC_MAX_PORTS 64
#define WEFT_DISC_MAX_CGROUPS 16

enum {
	WEFT_DISC_EXEC = 1,   /* a process exec'd */
	WEFT_DISC_LISTEN = 2, /* a process started listening on a --port */
};

struct weft_disc_event {
	__u32 type;
	__u32 pid;
	__u16 port;   /* host order */
	__u16 cgroup; /* exec: 1 when inside one of the --cgroup subtrees */
	__u64 ts;     /* bpf_ktime_get_boot_ns() of the event */
};

#endif /* WEFT_GO_DISCOVER_H */

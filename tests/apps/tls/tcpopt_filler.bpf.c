// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test helper for tcpopt_no_room: a sockops program that fills the TCP
 * option space of every data segment of active connections with its own
 * 28-byte experimental option (kind 253, ExID 0x0000), so that with
 * timestamps (12 bytes) nothing is left for weft-tcpopt. Attached to the
 * test cgroup before weft-tcpopt (programs run in attach order).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define FILL_LEN 28

SEC("sockops")
int tcpopt_filler(struct bpf_sock_ops *skops)
{
	__u8 opt[FILL_LEN] = {253, FILL_LEN, 0, 0};

	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags |
						     BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
		break;
	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
		bpf_reserve_hdr_opt(skops, FILL_LEN, 0);
		break;
	case BPF_SOCK_OPS_WRITE_HDR_OPT_CB:
		bpf_store_hdr_opt(skops, opt, sizeof(opt), 0);
		break;
	}
	return 1;
}

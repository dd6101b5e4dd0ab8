// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test helper for tcpopt_retransmit: a TC egress program that drops the
 * first transmission of every IPv4 TCP segment carrying a weft option (kind
 * 253, ExID 0xEF1x) and lets its retransmission (same sequence number) pass.
 * `dropped` counts the drops.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32); /* sequence number */
	__type(value, __u8);
} seen SEC(".maps");

__u64 dropped = 0;

SEC("tc")
int tcpopt_dropfirst(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *th;
	__u8 *opt;
	__u32 seq, doff;
	__u8 one = 1;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(0x0800) || ip->protocol != 6 ||
	    ip->ihl != 5)
		return 0;
	th = (void *)(ip + 1);
	if ((void *)(th + 1) > end)
		return 0;
	doff = th->doff * 4;
	opt = (__u8 *)(th + 1);
	/* options: scan up to 40 bytes for kind 253 / len 28 / 0xEF */
	for (int i = 0; i < 40; i++) {
		__u8 *p = opt + i;

		if ((__u32)(20 + i + 4) > doff || (void *)(p + 4) > end)
			return 0;
		if (p[0] == 253 && p[1] == 28 && p[2] == 0xEF && (p[3] >> 4) == 1)
			break;
		if (i == 39)
			return 0;
	}
	seq = bpf_ntohl(th->seq);
	if (bpf_map_lookup_elem(&seen, &seq))
		return 0; /* the retransmission: let it pass */
	bpf_map_update_elem(&seen, &seq, &one, BPF_ANY);
	__sync_fetch_and_add(&dropped, 1);
	return 2; /* TC_ACT_SHOT */
}

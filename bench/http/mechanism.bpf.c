// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench/http's mechanism floor: the least any sk_msg injector must do, with
 * none of weft-http's parsing, correlation or spans. A sockops program enrols
 * the cgroup's outgoing connections into a sockhash; the sk_msg program
 * inserts a fixed 70-byte traceparent line with bpf_msg_push_data after the
 * request line of every message that starts with "GET " (the forwarder writes
 * each request in one write). Its throughput against the baseline, in the
 * same run, is the ceiling for an injector built this way on this machine.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "weft_tracecontext.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define SCAN 64

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} bench_socks SEC(".maps");

const volatile char tp_line[WEFT_TP_LINE_LEN] =
	"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n";

SEC("sockops")
int weft_bench_mech_sockops(struct bpf_sock_ops *skops)
{
	__u64 cookie;

	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		return 1;
	cookie = bpf_get_socket_cookie(skops);
	bpf_sock_hash_update(skops, &bench_socks, &cookie, BPF_NOEXIST);
	return 1;
}

SEC("sk_msg")
int weft_bench_mech_msg(struct sk_msg_md *msg)
{
	__u32 n = msg->size < SCAN ? msg->size : SCAN, off = 0;
	char *d, *e;

	if (n < 8 || bpf_msg_pull_data(msg, 0, n, 0))
		return SK_PASS;
	d = (void *)(long)msg->data;
	e = (void *)(long)msg->data_end;
	if (d + 8 > e)
		return SK_PASS;
	if (d[0] != 'G' || d[1] != 'E' || d[2] != 'T' || d[3] != ' ')
		return SK_PASS;
	for (__u32 i = 4; i < SCAN; i++) {
		if (d + i + 1 > e)
			return SK_PASS;
		if (d[i] == '\n') {
			off = i + 1;
			break;
		}
	}
	if (!off || bpf_msg_push_data(msg, off, WEFT_TP_LINE_LEN, 0) ||
	    bpf_msg_pull_data(msg, off, off + WEFT_TP_LINE_LEN, 0))
		return SK_PASS;
	d = (void *)(long)msg->data;
	e = (void *)(long)msg->data_end;
	if (d + WEFT_TP_LINE_LEN > e)
		return SK_PASS;
#pragma unroll
	for (int i = 0; i < WEFT_TP_LINE_LEN; i++)
		d[i] = tp_line[i];
	/* one piece again, one send (as weft-http does: see join_pieces there) */
	if (msg->size <= 16384)
		bpf_msg_pull_data(msg, 0, msg->size, 0);
	return SK_PASS;
}

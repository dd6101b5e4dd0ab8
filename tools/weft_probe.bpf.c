// SPDX-License-Identifier: GPL-2.0
/*
 * Tiny programs for `weft doctor` (tools/weft_probe.c). Each is loaded on its
 * own, and attached and detached where attaching is the real question, to
 * learn truthfully what this kernel accepts. None does any work when it runs.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u64);
} probe_socks SEC(".maps");

/* The Go memory write: refused under lockdown integrity/confidentiality. */
SEC("uprobe")
int probe_write_user(struct pt_regs *ctx)
{
	char zero = 0;

	/* Address 0: even if it ever ran, the write could only fail. */
	return bpf_probe_write_user((void *)0, &zero, sizeof(zero));
}

SEC("uprobe")
int probe_uprobe(struct pt_regs *ctx)
{
	return 0;
}

SEC("kprobe/bpf_fentry_test1")
int probe_kprobe(struct pt_regs *ctx)
{
	return 0;
}

SEC("fentry/bpf_fentry_test1")
int BPF_PROG(probe_fentry, int a)
{
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int probe_tracepoint(void *ctx)
{
	return 0;
}

static long loop_step(__u64 i, void *data)
{
	return 0;
}

SEC("uprobe")
int probe_bpf_loop(struct pt_regs *ctx)
{
	return bpf_loop(4, loop_step, NULL, 0) < 0;
}

SEC("sockops")
int probe_sockops(struct bpf_sock_ops *skops)
{
	return 1;
}

/* The TCP header option helpers weft-tcpopt needs. */
SEC("sockops")
int probe_tcp_hdr_opt(struct bpf_sock_ops *skops)
{
	__u8 opt[4] = {253, 4, 0, 0};

	if (skops->op == BPF_SOCK_OPS_HDR_OPT_LEN_CB)
		bpf_reserve_hdr_opt(skops, sizeof(opt), 0);
	else if (skops->op == BPF_SOCK_OPS_WRITE_HDR_OPT_CB)
		bpf_store_hdr_opt(skops, opt, sizeof(opt), 0);
	else if (skops->op == BPF_SOCK_OPS_PARSE_HDR_OPT_CB)
		bpf_load_hdr_opt(skops, opt, sizeof(opt), 0);
	return 1;
}

SEC("sk_msg")
int probe_sk_msg(struct sk_msg_md *msg)
{
	if (bpf_msg_push_data(msg, 0, 0, 0))
		return SK_PASS;
	return SK_PASS;
}

SEC("tcx/ingress")
int probe_tcx(struct __sk_buff *skb)
{
	return -1; /* TCX_NEXT */
}

SEC("tc")
int probe_clsact(struct __sk_buff *skb)
{
	return -1; /* TC_ACT_UNSPEC */
}

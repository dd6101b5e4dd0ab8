/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A TCP socket's addresses (IPv4 or IPv6, ports in host order) from its
 * struct sock, CO-RE: weft_sock_addrs(sk, &local, &peer). Shared by weft-http
 * (bpf/net/http_observe.bpf.c, http2_srv.bpf.h) and weft-go's SERVER spans
 * from syscalls (bpf/go/go_sys.bpf.c).
 */
#ifndef WEFT_SOCK_ADDRS_BPF_H
#define WEFT_SOCK_ADDRS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "weft_kernel.bpf.h"
#include "weft_span.h"

/* Bytes at the start of sock_common holding the IPv4 fields (read at once). */
#define WEFT_SKC_HEAD 24

/* The field of sock_common at offset off of its first WEFT_SKC_HEAD bytes w. */
#define WEFT_SKC_FIELD(w, field)                                                                   \
	({                                                                                         \
		__typeof__(((struct sock_common *)0)->field) v_;                                   \
		__builtin_memcpy(&v_, (w) + bpf_core_field_offset(struct sock_common, field),      \
				 sizeof(v_));                                                      \
		v_;                                                                                \
	})

static __always_inline bool weft_skc_in_head(void)
{
	return bpf_core_field_offset(struct sock_common, skc_family) + 2 <= WEFT_SKC_HEAD &&
	       bpf_core_field_offset(struct sock_common, skc_daddr) + 4 <= WEFT_SKC_HEAD &&
	       bpf_core_field_offset(struct sock_common, skc_rcv_saddr) + 4 <= WEFT_SKC_HEAD &&
	       bpf_core_field_offset(struct sock_common, skc_dport) + 2 <= WEFT_SKC_HEAD &&
	       bpf_core_field_offset(struct sock_common, skc_num) + 2 <= WEFT_SKC_HEAD;
}

static __always_inline void weft_sock_addrs(struct sock *sk, struct weft_sockaddr *local,
					    struct weft_sockaddr *peer)
{
	__u32 l, p;
	__u16 fam, num, dport;

	if (weft_skc_in_head()) {
		/* one kernel read instead of one per field (their offsets: CO-RE constants) */
		__u8 w[WEFT_SKC_HEAD];

		if (bpf_probe_read_kernel(w, sizeof(w), &sk->__sk_common))
			return;
		fam = WEFT_SKC_FIELD(w, skc_family);
		l = WEFT_SKC_FIELD(w, skc_rcv_saddr);
		p = WEFT_SKC_FIELD(w, skc_daddr);
		num = WEFT_SKC_FIELD(w, skc_num);
		dport = WEFT_SKC_FIELD(w, skc_dport);
	} else {
		fam = BPF_CORE_READ(sk, __sk_common.skc_family);
		l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		p = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		num = BPF_CORE_READ(sk, __sk_common.skc_num);
		dport = BPF_CORE_READ(sk, __sk_common.skc_dport);
	}
	if (fam == AF_INET) {
		__builtin_memcpy(local->addr, &l, 4);
		__builtin_memcpy(peer->addr, &p, 4);
		local->family = peer->family = 4;
	} else if (fam == AF_INET6) {
		BPF_CORE_READ_INTO(local->addr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(peer->addr, sk, __sk_common.skc_v6_daddr);
		local->family = peer->family = 6;
	}
	local->port = num;
	peer->port = bpf_ntohs(dport);
}

#endif /* WEFT_SOCK_ADDRS_BPF_H */

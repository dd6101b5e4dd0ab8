/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Runtime rules (bpf/net/rt_tie.bpf.h, injectors/net/rt_*.c): the struct
 * offsets of one probed binary, from its offsets record, indexed by the
 * probes' attach cookie. -1: unknown (the probes fail closed).
 */
#ifndef WEFT_RT_H
#define WEFT_RT_H

#define WEFT_RT_LAYOUTS 64
#define WEFT_RT_NOFF 8

struct weft_rt_layout {
	__s32 off[WEFT_RT_NOFF];
};

/* nginx: indices into off[] (bpf/net/rt_nginx.bpf.h) */
#define NGX_R_UPSTREAM		0	/* nginx.ngx_http_request_t.upstream */
#define NGX_R_CONNECTION	1	/* nginx.ngx_http_request_t.connection */
#define NGX_C_FD		2	/* nginx.ngx_connection_t.fd */
#define NGX_U_PEER		3	/* nginx.ngx_http_upstream_t.peer */

#endif /* WEFT_RT_H */

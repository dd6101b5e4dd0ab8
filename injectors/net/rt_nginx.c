// SPDX-License-Identifier: BSD-2-Clause
/* weft-http's nginx rule (bpf/net/rt_nginx.bpf.h): probes and record fields. */
#include "rt_discover.h"

static const struct weft_rt_probe ngx_probes[] = {
    {"weft_ngx_upstream_init", "ngx_http_upstream_init", false},
    {"weft_ngx_connect_peer", "ngx_event_connect_peer", false},
    {"weft_ngx_connect_peer_ret", "ngx_event_connect_peer", true},
};

const struct weft_rt_runtime weft_rt_nginx = {
    .name = "nginx",
    .probes = ngx_probes,
    .nprobes = sizeof(ngx_probes) / sizeof(ngx_probes[0]),
    .fields =
	{
	    [NGX_R_UPSTREAM] = "nginx.ngx_http_request_t.upstream",
	    [NGX_R_CONNECTION] = "nginx.ngx_http_request_t.connection",
	    [NGX_C_FD] = "nginx.ngx_connection_t.fd",
	    [NGX_U_PEER] = "nginx.ngx_http_upstream_t.peer",
	},
    .what = "its upstream requests",
    .attached = "upstream probes attached",
};

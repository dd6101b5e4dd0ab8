// SPDX-License-Identifier: BSD-2-Clause
/* weft-http's Node.js rule (bpf/net/rt_node.bpf.h): probes and record fields. */
#include "rt_discover.h"

#define RESET "_ZN4node9AsyncWrap10AsyncResetEN2v85LocalINS1_6ObjectEEEdb"

static const struct weft_rt_probe node_probes[] = {
    {"weft_node_reset", RESET, false},
    {"weft_node_reset_ret", RESET, true},
    {"weft_node_accept", "uv_accept", false},
    {"weft_node_accept_ret", "uv_accept", true},
};

static const char *const node_tracepoints[] = {
    "weft_node_read",
    "weft_node_read_exit",
    "weft_node_write",
    "weft_node_writev",
    "weft_node_sendto",
    "weft_node_sendmsg",
    NULL,
};

const struct weft_rt_runtime weft_rt_node = {
    .name = "node",
    .probes = node_probes,
    .nprobes = sizeof(node_probes) / sizeof(node_probes[0]),
    .tracepoints = node_tracepoints,
    .fields =
	{
	    [NODE_ENV_FIELDS] = "node.Environment.async_id_fields",
	    [NODE_ASYNC_ID] = "node.AsyncWrap.async_id_",
	    [NODE_UV_DATA] = "node.uv_handle_s.data",
	    [NODE_UV_FD] = "node.uv_stream_s.io_watcher.fd",
	    [NODE_REALM] = "node.BaseObject.realm_",
	    [NODE_REALM_ENV] = "node.Realm.env_",
	},
    .what = "its outgoing requests",
    .attached = "async resource probes attached",
};

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft-http: the unit that owns the maps and globals every unit of the
 * object shares (http_shared.bpf.h, server_ctx.bpf.h, rt_tie.bpf.h; the other
 * units declare them extern, weft_link.h), the license, and the global
 * functions more than one unit calls.
 */
#include "net/http_shared.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* A global function: its 512-byte copy is verified once, not on every path. */
__attribute__((noinline)) int ev_set_ts(struct weft_span_event *ev, const struct srv_ts *e)
{
	if (!ev || !e)
		return 0;
	ev->tracestate_len = e->len;
	__builtin_memcpy(ev->tracestate, e->ts, WEFT_TS_MAX);
	return 0;
}

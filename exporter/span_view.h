/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A span event seen through the HTTP semantic conventions: name, kind,
 * status, wall-clock times and attributes, ready for any encoder
 * (OTLP protobuf, OTLP JSON, JSON lines). Strings are NUL-terminated UTF-8.
 */
#ifndef WEFT_EXPORT_SPAN_VIEW_H
#define WEFT_EXPORT_SPAN_VIEW_H

#include <arpa/inet.h>
#include <stdbool.h>
#include "attr.h"
#include "resource.h"
#include "weft_span.h"

#define WEFT_VIEW_ATTRS 28

enum weft_view_status {
	WEFT_STATUS_UNSET = 0,
	WEFT_STATUS_ERROR = 2,
};

struct weft_span_view {
	const struct weft_span_event *ev;
	struct weft_resource *res;
	uint64_t start_ns; /* unix epoch ns */
	uint64_t end_ns;
	const char *name;
	size_t name_len;
	int status;	    /* enum weft_view_status */
	bool parent_remote; /* the parent came from another process */
	size_t nattrs;
	struct weft_attr attrs[WEFT_VIEW_ATTRS];
	/* storage for the strings above */
	char method[WEFT_METHOD_MAX + 1];
	char path[WEFT_PATH_MAX + 1];
	char host[WEFT_HOST_MAX + 1];
	char local_addr[INET6_ADDRSTRLEN];
	char peer_addr[INET6_ADDRSTRLEN];
	char url_full[16 + WEFT_HOST_MAX + 8 + WEFT_PATH_MAX + 1];
	char rpc_service[WEFT_PATH_MAX + 1]; /* gRPC: "/pkg.Service/Method" split */
	char rpc_method[WEFT_PATH_MAX + 1];
	char error_type[8];
	char truncated[24];
	char trace_state[WEFT_TS_MAX + 1];	/* validated tracestate, "" when none */
	size_t trace_state_len;
};

/* Fill v from ev; mono_to_wall: add to CLOCK_MONOTONIC ns to get unix ns. */
void weft_span_view_build(struct weft_span_view *v, const struct weft_span_event *ev,
			  struct weft_resource *res, int64_t mono_to_wall);

/* "server" / "client" / "internal" */
const char *weft_kind_name(int kind);

#endif /* WEFT_EXPORT_SPAN_VIEW_H */

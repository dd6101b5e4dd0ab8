// SPDX-License-Identifier: BSD-2-Clause
#include <stdio.h>
#include <string.h>
#include "buf.h"
#include "span_view.h"
#include "tracecontext.h"

static const char *const known_methods[] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY",
};

const char *weft_kind_name(int kind)
{
	switch (kind) {
	case WEFT_KIND_SERVER:
		return "server";
	case WEFT_KIND_CLIENT:
		return "client";
	default:
		return "internal";
	}
}

static const char *injector_name(int inj)
{
	switch (inj) {
	case WEFT_INJ_GO:
		return "go";
	case WEFT_INJ_HTTP:
		return "http";
	case WEFT_INJ_TCPOPT:
		return "tcpopt";
	default:
		return "unknown";
	}
}

static const char *parent_src_name(int src)
{
	switch (src) {
	case WEFT_PARENT_GENERATED:
		return "generated";
	case WEFT_PARENT_HEADER:
		return "header";
	case WEFT_PARENT_TCPOPT:
		return "tcp_option";
	case WEFT_PARENT_INJECTOR:
		return "injector";
	case WEFT_PARENT_LOCAL:
		return "local";
	default:
		return "unknown";
	}
}

static inline void add_str(struct weft_span_view *v, const char *key, const char *s)
{
	if (v->nattrs < WEFT_VIEW_ATTRS)
		v->attrs[v->nattrs++] = (struct weft_attr){.key = key,
							   .klen = strlen(key),
							   .s = s,
							   .slen = strlen(s),
							   .type = WEFT_ATTR_STR};
}

static inline void add_int(struct weft_span_view *v, const char *key, int64_t i)
{
	if (v->nattrs < WEFT_VIEW_ATTRS)
		v->attrs[v->nattrs++] = (struct weft_attr){
		    .key = key, .klen = strlen(key), .i = i, .type = WEFT_ATTR_INT};
}

static inline void add_bool(struct weft_span_view *v, const char *key, bool b)
{
	if (v->nattrs < WEFT_VIEW_ATTRS)
		v->attrs[v->nattrs++] = (struct weft_attr){
		    .key = key, .klen = strlen(key), .i = b, .type = WEFT_ATTR_BOOL};
}

/* Decimal digits of v at o; returns the end. Written in place, backwards:
 * a memcpy of a variable length was a call for every octet of an address. */
static char *put_u(char *o, unsigned v)
{
	unsigned n = 1;

	for (unsigned t = v; t >= 10; t /= 10)
		n++;
	for (char *p = o + n; p > o; v /= 10)
		*--p = (char)('0' + v % 10);
	return o + n;
}

#define V6_CACHE_BITS 4
#define V6_CACHE (1u << V6_CACHE_BITS) /* IPv6 address texts kept */

/* Address text, or "" when unknown (IPv4 by hand: inet_ntop uses sprintf). */
static void addr_str(char *out, const struct weft_sockaddr *a)
{
	out[0] = '\0';
	if (a->family == 4) {
		char *o = out;

		for (int i = 0; i < 4; i++) {
			if (i)
				*o++ = '.';
			o = put_u(o, a->addr[i]);
		}
		*o = '\0';
	} else if (a->family == 6) {
		/* inet_ntop writes each group with sprintf; a connection's spans
		 * carry the same two addresses: their text is kept, per thread */
		static _Thread_local struct {
			uint8_t addr[16];
			bool set;
			char text[INET6_ADDRSTRLEN];
		} seen[V6_CACHE];
		uint32_t h;

		memcpy(&h, a->addr + 12, sizeof(h));
		h = (h * 2654435761u) >> (32 - V6_CACHE_BITS);
		if (!seen[h].set || memcmp(seen[h].addr, a->addr, 16)) {
			if (!inet_ntop(AF_INET6, a->addr, seen[h].text, INET6_ADDRSTRLEN))
				return;
			memcpy(seen[h].addr, a->addr, 16);
			seen[h].set = true;
		}
		memcpy(out, seen[h].text, INET6_ADDRSTRLEN);
	}
}

static char *put_s(char *o, const char *end, const char *s)
{
	size_t n = strlen(s);

	if (n > (size_t)(end - o))
		n = (size_t)(end - o);
	memcpy(o, s, n);
	return o + n;
}

/* Strip ":port" from a Host header value (keeps "[v6]" brackets off). */
/* Strip ":port" from a Host header value (keeps "[v6]" brackets off); one
 * pass over the short value (strchr + strrchr cost more per span). */
static void host_only(char *host)
{
	char *colon = NULL;
	int colons = 0;

	if (host[0] == '[') {
		char *c = strchr(host, ']');

		if (c) {
			memmove(host, host + 1, (size_t)(c - host - 1));
			host[c - host - 1] = '\0';
		}
		return;
	}
	for (char *c = host; *c; c++)
		if (*c == ':') {
			colon = c;
			colons++;
		}
	if (colons == 1)
		*colon = '\0';
}

/* s (n bytes) into out (size bytes), cut to fit and terminated, as snprintf
 * "%.*s" would, without formatting */
static void copy_cut(char *out, size_t size, const char *s, size_t n)
{
	if (n >= size)
		n = size - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

/*
 * A gRPC span: named by its full method ("/pkg.Service/Method"), split into
 * rpc.service and rpc.method (OpenTelemetry RPC conventions); the status code
 * when the injector read it. Server spans are errors for the codes the
 * conventions name (Unknown, DeadlineExceeded, Unimplemented, Internal,
 * Unavailable, DataLoss), client spans for any code but OK.
 */
static void grpc_view(struct weft_span_view *v, const struct weft_span_event *ev, bool server)
{
	const char *p = v->path[0] == '/' ? v->path + 1 : v->path;
	const char *slash = strrchr(p, '/');

	v->name = v->path[0] ? v->path : "gRPC";
	v->name_len = strlen(v->name);
	v->rpc_service[0] = v->rpc_method[0] = '\0';
	if (slash && slash > p && slash[1]) {
		copy_cut(v->rpc_service, sizeof(v->rpc_service), p, (size_t)(slash - p));
		copy_cut(v->rpc_method, sizeof(v->rpc_method), slash + 1, strlen(slash + 1));
		add_str(v, "rpc.service", v->rpc_service);
		add_str(v, "rpc.method", v->rpc_method);
	}
	if (ev->flags & WEFT_SPAN_RPC_STATUS) {
		unsigned c = ev->status;

		add_int(v, "rpc.grpc.status_code", c);
		if (server ? (c == 2 || c == 4 || c == 12 || c == 13 || c == 14 || c == 15) : c != 0) {
			v->status = WEFT_STATUS_ERROR;
			*put_u(v->error_type, c) = '\0';
			add_str(v, "error.type", v->error_type);
		}
	}
}

static bool is_http(int proto)
{
	return proto == WEFT_PROTO_HTTP1 || proto == WEFT_PROTO_HTTP2 || proto == WEFT_PROTO_GRPC;
}

void weft_span_view_build(struct weft_span_view *v, const struct weft_span_event *ev,
			  struct weft_resource *res, int64_t mono_to_wall)
{
	bool server = ev->kind == WEFT_KIND_SERVER, tls = ev->flags & WEFT_SPAN_TLS;
	bool known = false, http = is_http(ev->proto), grpc = ev->proto == WEFT_PROTO_GRPC;
	const char *scheme = tls ? "https" : "http", *q;
	size_t plen;
	char *t;
	int r;

	v->ev = ev;
	v->res = res;
	/* the BPF side ran the same rules; a bad value from any injector never leaves */
	r = ev->tracestate_len
		? weft_ts_parse(ev->tracestate,
				ev->tracestate_len < WEFT_TS_MAX ? ev->tracestate_len : WEFT_TS_MAX,
				v->trace_state)
		: 0;
	v->trace_state_len = r > 0 ? (size_t)r : 0;
	if (!v->trace_state_len)
		v->trace_state[0] = '\0';
	v->nattrs = 0;
	v->start_ns = ev->start_ns + (uint64_t)mono_to_wall;
	v->end_ns = ev->end_ns >= ev->start_ns ? ev->end_ns + (uint64_t)mono_to_wall : v->start_ns;
	v->status = WEFT_STATUS_UNSET;
	v->parent_remote = ev->parent_src == WEFT_PARENT_HEADER ||
			   ev->parent_src == WEFT_PARENT_TCPOPT ||
			   ev->parent_src == WEFT_PARENT_INJECTOR;

	weft_utf8_copy(v->method, sizeof(v->method), ev->method,
		       ev->method_len < WEFT_METHOD_MAX ? ev->method_len : WEFT_METHOD_MAX);
	plen = ev->path_len < WEFT_PATH_MAX ? ev->path_len : WEFT_PATH_MAX;
	weft_utf8_copy(v->path, sizeof(v->path), ev->path, plen);
	weft_utf8_copy(v->host, sizeof(v->host), ev->host,
		       ev->host_len < WEFT_HOST_MAX ? ev->host_len : WEFT_HOST_MAX);
	host_only(v->host);
	addr_str(v->local_addr, &ev->local);
	addr_str(v->peer_addr, &ev->peer);

	/* name and method */
	for (size_t i = 0; i < sizeof(known_methods) / sizeof(known_methods[0]); i++)
		if (!strcmp(v->method, known_methods[i]))
			known = true;
	if (known) {
		v->name = v->method;
		add_str(v, "http.request.method", v->method);
	} else if (v->method[0]) {
		v->name = "HTTP";
		add_str(v, "http.request.method", "_OTHER");
		add_str(v, "http.request.method_original", v->method);
	} else {
		v->name = http ? "HTTP" : "TCP";
	}
	v->name_len = strlen(v->name);
	if (grpc)
		grpc_view(v, ev, server);

	/* url */
	if (v->path[0] && !grpc) {
		if (server) {
			q = strchr(v->path, '?');
			if (q) {
				t = v->path + (q - v->path);
				*t = '\0';
				add_str(v, "url.path", v->path);
				add_str(v, "url.query", t + 1);
			} else {
				add_str(v, "url.path", v->path);
			}
		}
	}
	if (http && server && !grpc)
		add_str(v, "url.scheme", scheme);

	if (ev->status && !(ev->flags & WEFT_SPAN_RPC_STATUS))
		add_int(v, "http.response.status_code", ev->status);
	else if ((ev->flags & WEFT_SPAN_RPC_STATUS) && (ev->flags & WEFT_SPAN_HTTP_STATUS) &&
		 ev->http_status)
		add_int(v, "http.response.status_code", ev->http_status);

	if (server) {
		if (v->host[0])
			add_str(v, "server.address", v->host);
		if (ev->local.port)
			add_int(v, "server.port", ev->local.port);
		if (v->peer_addr[0])
			add_str(v, "client.address", v->peer_addr);
		if (ev->peer.port)
			add_int(v, "client.port", ev->peer.port);
	} else {
		const char *srv = v->host[0] ? v->host : v->peer_addr;

		if (srv[0])
			add_str(v, "server.address", srv);
		if (ev->peer.port)
			add_int(v, "server.port", ev->peer.port);
		if (http && !grpc && srv[0]) {
			bool v6 = strchr(srv, ':') != NULL;
			bool dflt = ev->peer.port == 0 || ev->peer.port == (tls ? 443 : 80);
			char *o = v->url_full, *end = v->url_full + sizeof(v->url_full) - 1;

			o = put_s(o, end, scheme);
			o = put_s(o, end, v6 ? "://[" : "://");
			o = put_s(o, end, srv);
			o = put_s(o, end, v6 ? "]" : "");
			if (!dflt && end - o > 6) {
				*o++ = ':';
				o = put_u(o, ev->peer.port);
			}
			o = put_s(o, end, v->path[0] ? v->path : "/");
			*o = '\0';
			add_str(v, "url.full", v->url_full);
		}
	}
	if (v->peer_addr[0])
		add_str(v, "network.peer.address", v->peer_addr);
	if (ev->peer.port)
		add_int(v, "network.peer.port", ev->peer.port);
	if (v->local_addr[0])
		add_str(v, "network.local.address", v->local_addr);
	if (ev->local.port)
		add_int(v, "network.local.port", ev->local.port);
	if (ev->peer.family == 4 || ev->peer.family == 6)
		add_str(v, "network.type", ev->peer.family == 4 ? "ipv4" : "ipv6");
	add_str(v, "network.transport", "tcp");
	if (http) {
		add_str(v, "network.protocol.name", "http");
		add_str(v, "network.protocol.version", ev->proto == WEFT_PROTO_HTTP1 ? "1.1" : "2");
	}
	if (ev->proto == WEFT_PROTO_GRPC)
		add_str(v, "rpc.system", "grpc");
	if (ev->tid)
		add_int(v, "thread.id", ev->tid);

	/* status: 5xx on both sides, 4xx on the client side */
	if (http && !(ev->flags & WEFT_SPAN_RPC_STATUS) &&
	    (ev->status >= 500 || (!server && ev->status >= 400))) {
		v->status = WEFT_STATUS_ERROR;
		*put_u(v->error_type, ev->status) = '\0';
		add_str(v, "error.type", v->error_type);
	}

	add_str(v, "weft.injector", injector_name(ev->injector));
	add_str(v, "weft.parent_source", parent_src_name(ev->parent_src));
	if (ev->flags & WEFT_SPAN_WRITTEN)
		add_bool(v, "weft.context_written", true);
	if (ev->flags & WEFT_SPAN_APP_CONTEXT)
		add_bool(v, "weft.app_context", true);
	if (ev->truncated || ev->method_len > WEFT_METHOD_MAX || ev->path_len > WEFT_PATH_MAX ||
	    ev->host_len > WEFT_HOST_MAX) {
		int tr = ev->truncated;

		if (ev->method_len > WEFT_METHOD_MAX)
			tr |= WEFT_TRUNC_METHOD;
		if (ev->path_len > WEFT_PATH_MAX)
			tr |= WEFT_TRUNC_PATH;
		if (ev->host_len > WEFT_HOST_MAX)
			tr |= WEFT_TRUNC_HOST;
		snprintf(v->truncated, sizeof(v->truncated), "%s%s%s",
			 tr & WEFT_TRUNC_METHOD ? "method," : "",
			 tr & WEFT_TRUNC_PATH ? "path," : "", tr & WEFT_TRUNC_HOST ? "host," : "");
		if (v->truncated[0])
			v->truncated[strlen(v->truncated) - 1] = '\0';
		add_str(v, "weft.truncated", v->truncated);
	}
}

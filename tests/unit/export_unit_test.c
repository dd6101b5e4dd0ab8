// SPDX-License-Identifier: BSD-2-Clause
/*
 * Unit tests of the exporter's pieces (TAP output): the protobuf encoder
 * (spans packed one by one into an envelope, exporter/otlp_pb.c) is
 * byte-identical to packing the whole request as one protoc-c message tree
 * and decodes back to the spans' fields; error bodies (google.rpc.Status)
 * and responses are read with protobuf-c; HTTP semantic conventions of span
 * views; config parsing (key=value lists, precedence); UTF-8 sanitising;
 * JSON escaping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "batch.h"
#include "config.h"
#include "otlp_pb_reference.h"
#include "google/rpc/status.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "tests/lib/tap.h"

static const struct weft_attr *attr(const struct weft_span_view *v, const char *key)
{
	for (size_t i = 0; i < v->nattrs; i++)
		if (!strcmp(v->attrs[i].key, key))
			return &v->attrs[i];
	return NULL;
}

static int attr_is(const struct weft_span_view *v, const char *key, const char *val)
{
	const struct weft_attr *a = attr(v, key);

	return a && a->type == WEFT_ATTR_STR && !strcmp(a->s, val);
}

static int attr_int(const struct weft_span_view *v, const char *key, int64_t val)
{
	const struct weft_attr *a = attr(v, key);

	return a && a->type == WEFT_ATTR_INT && a->i == val;
}

static void set_str(char *dst, size_t max, const char *s, void *lenp, int lensz)
{
	size_t n = strlen(s);

	memcpy(dst, s, n < max ? n : max);
	if (lensz == 1)
		*(uint8_t *)lenp = (uint8_t)n;
	else
		*(uint16_t *)lenp = (uint16_t)n;
}

static void dump(const struct weft_span_view *v)
{
	for (size_t i = 0; i < v->nattrs; i++)
		if (v->attrs[i].type == WEFT_ATTR_STR)
			printf("# %s=%s\n", v->attrs[i].key, v->attrs[i].s);
}

#define N_EV 40

static void make_events(struct weft_span_event *evs, uint32_t *pids)
{
	static const char *const methods[] = {"GET", "POST", "BREW", "", "DELETE"};
	static const uint16_t statuses[] = {200, 404, 503, 0, 302};

	memset(evs, 0, N_EV * sizeof(*evs));
	for (int i = 0; i < N_EV; i++) {
		struct weft_span_event *ev = &evs[i];
		char path[300];

		for (int j = 0; j < 16; j++)
			ev->ctx.trace_id[j] = (uint8_t)(i * 7 + j + 1);
		for (int j = 0; j < 8; j++)
			ev->ctx.span_id[j] = (uint8_t)(i * 3 + j + 1);
		if (i % 3)
			for (int j = 0; j < 8; j++)
				ev->parent_span_id[j] = (uint8_t)(i + j + 9);
		ev->ctx.flags = (uint8_t)(i % 4);
		ev->start_ns = 1000000000ull * (uint64_t)(i + 1);
		ev->end_ns = ev->start_ns + 12345 * (uint64_t)i;
		ev->pid = pids[i % 3];
		ev->tid = (uint32_t)(i % 5 ? 1000 + i : 0);
		ev->status = statuses[i % 5];
		ev->kind = i % 2 ? WEFT_KIND_CLIENT : WEFT_KIND_SERVER;
		ev->proto = i % 7 == 6	 ? WEFT_PROTO_TCP
			    : i % 7 == 5 ? WEFT_PROTO_GRPC
					 : WEFT_PROTO_HTTP1;
		ev->parent_src = (uint8_t)(i % 5);
		ev->injector = (uint8_t)(1 + i % 3);
		ev->flags = (uint8_t)(i % 4);
		set_str(ev->method, WEFT_METHOD_MAX, methods[i % 5], &ev->method_len, 1);
		snprintf(path, sizeof(path), "/p/%d?q=%d", i, i);
		if (i == 11) {
			memset(path, 'x', 200);
			path[0] = '/';
			path[200] = '\0';
		}
		set_str(ev->path, WEFT_PATH_MAX, path, &ev->path_len, 2);
		if (i % 4 == 0)
			set_str(ev->host, WEFT_HOST_MAX,
				i % 8 ? "api.example:8443" : "[2001:db8::1]:80", &ev->host_len, 1);
		ev->local.family = ev->peer.family = i % 6 == 1 ? 6 : 4;
		ev->local.addr[0] = 10;
		ev->local.addr[15] = 1;
		ev->peer.addr[0] = 192;
		ev->peer.addr[3] = (uint8_t)i;
		ev->local.port = (uint16_t)(i % 9 ? 8080 : 0);
		ev->peer.port = (uint16_t)(40000 + i);
	}
}

static void test_encoders(void)
{
	struct weft_export_config cfg;
	char err[256];
	uint32_t pids[3] = {(uint32_t)getpid(), 1, 0x7ffffff0};
	struct weft_span_event evs[N_EV];
	struct weft_span_view views[N_EV];
	struct weft_resource *groups[N_EV];
	uint32_t order[N_EV], gstart[N_EV + 1], gof[N_EV];
	struct weft_batch b = {
	    .views = views, .n = N_EV, .groups = groups, .order = order, .group_start = gstart};
	struct wbuf ref = {0}, enc = {0}, js = {0};
	struct weft_pb_enc *pe = weft_pb_enc_new();
	struct weft_rcache *rc;
	uint64_t gen = weft_batch_gen();
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *req;

	check(weft_config_load(&cfg, NULL, err, sizeof(err)) == 0, "config loads from a clean env");
	rc = weft_rcache_new(&cfg);
	make_events(evs, pids);
	for (int i = 0; i < N_EV; i++) {
		struct weft_resource *r = weft_rcache_get(rc, evs[i].pid, 1);

		gof[i] = weft_batch_group(&b, r, gen);
		weft_span_view_build(&views[i], &evs[i], r, 1700000000000000000ll);
	}
	weft_batch_order(&b, gof);
	check(b.ngroups == 3, "three processes -> three resource groups");
	check(gstart[0] == 0 && gstart[3] == N_EV, "group offsets cover the batch");

	check(weft_pb_reference_encode(&b, &ref) == 0, "whole-request protoc-c reference encoding");
	check(weft_pb_encode(pe, &b, &enc) == 0, "per-span protobuf-c encoding");
	check(ref.len == enc.len, "same size as the whole-request pack");
	check(ref.len == enc.len && !memcmp(ref.p, enc.p, ref.len),
	      "byte-identical to the whole-request pack");
	/* again: buffers and message structs reused from the first batch */
	check(weft_pb_encode(pe, &b, &enc) == 0 && ref.len == enc.len &&
		  !memcmp(ref.p, enc.p, ref.len),
	      "byte-identical again with reused buffers");

	/* batches whose values change: a value cached from an earlier batch is
	 * reused only while it matches (ports, statuses, paths, hosts differ) */
	{
		int same = 1;
		struct wbuf r2 = {0}, e2 = {0};
		struct weft_span_event evs2[N_EV];
		struct weft_span_view views2[N_EV];
		struct weft_batch b2 = b;

		b2.views = views2;
		/* many values per key, each seen in several batches: some of them
		 * share a cache slot (256 of them) */
		for (int round = 1; round <= 60; round++) {
			memcpy(evs2, evs, sizeof(evs2));
			for (int i = 0; i < N_EV; i++) {
				evs2[i].peer.port = (uint16_t)(evs[i].peer.port + (i + round) % 7);
				evs2[i].status = (uint16_t)(round % 2 ? 200 : evs[i].status);
				evs2[i].tid = (uint32_t)(1000 + (round * 7 + i) % 200);
				evs2[i].path[1] = (char)('a' + (round + i) % 20);
				if (round % 5 == 4)
					set_str(evs2[i].host, WEFT_HOST_MAX, "", &evs2[i].host_len,
						1);
				weft_span_view_build(&views2[i], &evs2[i], views[i].res,
						     1700000000000000000ll + round);
			}
			same &= weft_pb_reference_encode(&b2, &r2) == 0 &&
				weft_pb_encode(pe, &b2, &e2) == 0 && r2.len == e2.len &&
				!memcmp(r2.p, e2.p, r2.len);
		}
		check(same,
		      "byte-identical over 60 batches with changing values (attribute cache)");
		check(weft_pb_encode(pe, &b, &enc) == 0 && ref.len == enc.len &&
			  !memcmp(ref.p, enc.p, ref.len),
		      "byte-identical again for the first batch");
		wbuf_free(&r2);
		wbuf_free(&e2);
	}

	req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
	    NULL, enc.len, (const uint8_t *)enc.p);
	check(req != NULL, "protoc-c decodes the request");
	if (req) {
		size_t spans = 0, k = 0, same = 0;

		for (size_t g = 0; g < req->n_resource_spans; g++)
			spans += req->resource_spans[g]->scope_spans[0]->n_spans;
		check(req->n_resource_spans == 3 && spans == N_EV, "3 resources, 40 spans decoded");
		check(!strcmp(req->resource_spans[0]->scope_spans[0]->scope->name, "weft"),
		      "scope name weft");
		/* each decoded span carries its view's fields, in batch order */
		for (size_t g = 0; g < req->n_resource_spans; g++) {
			Opentelemetry__Proto__Trace__V1__ScopeSpans *ss =
			    req->resource_spans[g]->scope_spans[0];

			for (size_t j = 0; j < ss->n_spans; j++, k++) {
				const Opentelemetry__Proto__Trace__V1__Span *sp = ss->spans[j];
				const struct weft_span_view *v = &views[order[k]];
				int ok = sp->trace_id.len == 16 &&
					 !memcmp(sp->trace_id.data, v->ev->ctx.trace_id, 16) &&
					 !memcmp(sp->span_id.data, v->ev->ctx.span_id, 8) &&
					 !strcmp(sp->name, v->name) &&
					 sp->start_time_unix_nano == v->start_ns &&
					 sp->end_time_unix_nano == v->end_ns &&
					 sp->n_attributes == v->nattrs &&
					 (sp->status != NULL) == (v->status == WEFT_STATUS_ERROR) &&
					 (sp->flags & 0xff) == v->ev->ctx.flags &&
					 sp->kind == (v->ev->kind == WEFT_KIND_SERVER ? 2u : 3u);

				for (size_t a = 0; ok && a < v->nattrs; a++) {
					const Opentelemetry__Proto__Common__V1__AnyValue *av =
					    sp->attributes[a]->value;

					ok = !strcmp(sp->attributes[a]->key, v->attrs[a].key) &&
					     (v->attrs[a].type == WEFT_ATTR_STR
						  ? !strcmp(av->string_value, v->attrs[a].s)
					      : v->attrs[a].type == WEFT_ATTR_INT
						  ? av->int_value == v->attrs[a].i
						  : av->bool_value == (v->attrs[a].i != 0));
				}
				same += ok;
			}
		}
		check(same == N_EV, "every decoded span has its ids, name, times, kind, flags, "
				    "status and attributes");
		opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
		    req, NULL);
	}
	weft_otlp_json_encode(&b, &js);
	check(js.len > 2 && js.p[0] == '{' && js.p[js.len - 1] == '}', "OTLP/JSON encodes");

	/* semantic conventions */
	check(!strcmp(views[0].name, "GET") && attr_is(&views[0], "http.request.method", "GET"),
	      "server GET: name and method");
	check(attr_is(&views[0], "url.path", "/p/0") && attr_is(&views[0], "url.query", "q=0"),
	      "server: url.path and url.query split");
	check(attr_is(&views[0], "server.address", "2001:db8::1"),
	      "Host [v6]:port -> server.address");
	check(!strcmp(views[2].name, "HTTP") &&
		  attr_is(&views[2], "http.request.method", "_OTHER") &&
		  attr_is(&views[2], "http.request.method_original", "BREW"),
	      "unknown method -> HTTP, _OTHER, method_original");
	check(!strcmp(views[3].name, "HTTP") && !attr(&views[3], "http.request.method"),
	      "no method -> name HTTP");
	check(views[2].status == WEFT_STATUS_ERROR && attr_is(&views[2], "error.type", "503"),
	      "server 503 is an error");
	check(views[1].status == WEFT_STATUS_ERROR, "client 404 is an error");
	check(views[6].status == WEFT_STATUS_UNSET &&
		  attr_int(&views[6], "http.response.status_code", 404),
	      "server 404 is not an error");
	check(attr_is(&views[3], "url.full", "https://192.0.0.3:40003/p/3?q=3"),
	      "client url.full from peer address, TLS scheme, non-default port");
	check(attr_is(&views[1], "url.full", "https://[c000:1::]:40001/p/1?q=1") &&
		  attr_is(&views[1], "network.type", "ipv6"),
	      "client url.full with an IPv6 peer in brackets");
	check(attr_is(&views[3], "server.address", "192.0.0.3") &&
		  attr_int(&views[3], "server.port", 40003),
	      "client server.address/port from the peer without a Host");
	check(attr_is(&views[2], "client.address", "192.0.0.2") &&
		  attr_int(&views[2], "server.port", 8080) && !attr(&views[0], "server.port"),
	      "server client.address and server.port");
	check(attr_is(&views[11], "weft.truncated", "path"), "long path flagged as truncated");
	check(attr_is(&views[6], "rpc.system", "grpc") == 0 && !strcmp(views[13].name, "TCP"),
	      "raw TCP span named TCP");
	check(attr_is(&views[5], "rpc.system", "grpc"), "gRPC span has rpc.system");
	if (getenv("DUMP")) {
		dump(&views[0]);
		dump(&views[1]);
	}
	check(views[0].start_ns == 1700000001000000000ull,
	      "monotonic -> wall clock offset applied");
	check(attr_is(&views[1], "weft.parent_source", "header") && views[1].parent_remote,
	      "parent from a header is remote");
	check(attr_is(&views[4], "weft.parent_source", "local") && !views[4].parent_remote,
	      "local parent is not remote");

	wbuf_free(&ref);
	wbuf_free(&enc);
	wbuf_free(&js);
	weft_pb_enc_free(pe);
	weft_rcache_free(rc);
	weft_config_free(&cfg);
}

static void test_config(void)
{
	struct weft_export_config c;
	struct weft_kv_list kv = {0};
	char err[256];

	check(weft_kv_parse(&kv, " a = 1 ,b=x%2Cy%3Dz,,bad, c=%zz,=v") == 2,
	      "kv list: two malformed members counted");
	check(kv.n == 3 && !strcmp(weft_kv_get(&kv, "a"), "1") &&
		  !strcmp(weft_kv_get(&kv, "b"), "x,y=z") && !strcmp(weft_kv_get(&kv, "c"), "%zz"),
	      "kv list: trimmed, percent-decoded, bad escapes kept");
	weft_kv_free(&kv);

	check(weft_config_load(&c, NULL, err, sizeof(err)) == 0 && !c.otlp && c.jsonl &&
		  !c.spans_file,
	      "no endpoint: JSON lines on stdout, no OTLP");
	weft_config_free(&c);
	setenv("WEFT_OTLP", "1", 1);
	check(weft_config_load(&c, NULL, err, sizeof(err)) == 0 && c.otlp && !c.jsonl &&
		  !strcmp(c.url, "http://localhost:4318/v1/traces") && c.timeout_ms == 10000 &&
		  c.proto == WEFT_OTLP_PROTOBUF && !c.gzip,
	      "WEFT_OTLP=1: default endpoint, protobuf, 10 s, no gzip");
	weft_config_free(&c);
	unsetenv("WEFT_OTLP");
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/base", 1);
	check(weft_config_load(&c, NULL, err, sizeof(err)) == 0 &&
		  !strcmp(c.url, "http://c:4318/base/v1/traces"),
	      "generic endpoint + /v1/traces");
	weft_config_free(&c);
	setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1/x", 1);
	setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "500", 1);
	setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "700", 1);
	setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip", 1);
	check(weft_config_load(&c, "/tmp/x.jsonl", err, sizeof(err)) == 0 &&
		  !strcmp(c.url, "http://t:1/x") && c.timeout_ms == 700 && c.gzip && c.jsonl &&
		  !strcmp(c.spans_file, "/tmp/x.jsonl"),
	      "traces endpoint as is, TRACES_TIMEOUT wins, gzip, both destinations");
	weft_config_free(&c);
	setenv("OTEL_TRACES_EXPORTER", "none", 1);
	check(weft_config_load(&c, NULL, err, sizeof(err)) == 0 && !c.otlp,
	      "OTEL_TRACES_EXPORTER=none turns OTLP off");
	weft_config_free(&c);
	unsetenv("OTEL_TRACES_EXPORTER");
	unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
	unsetenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
	unsetenv("OTEL_EXPORTER_OTLP_TIMEOUT");
	unsetenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT");
	unsetenv("OTEL_EXPORTER_OTLP_COMPRESSION");
}

static void test_strings(void)
{
	char out[16];
	struct wbuf b = {0};

	check(weft_utf8_copy(out, sizeof(out), "caf\xc3\xa9", 5) == 5 &&
		  !strcmp(out, "caf\xc3\xa9"),
	      "valid UTF-8 kept");
	weft_utf8_copy(out, sizeof(out), "a\xff\x01z", 4);
	check(!strcmp(out, "a\xef\xbf\xbd\xef\xbf\xbdz"), "invalid byte and control -> U+FFFD");
	weft_utf8_copy(out, sizeof(out), "\xed\xa0\x80", 3);
	check(!strcmp(out, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"), "UTF-16 surrogate refused");
	weft_utf8_copy(out, 4, "ab\xc3\xa9", 4);
	check(!strcmp(out, "ab"), "multi-byte char not split at the size limit");
	wbuf_json_str(&b, "a\"b\\c\n", 6);
	check(b.len == 15 && !memcmp(b.p, "\"a\\\"b\\\\c\\u000a\"", 15), "JSON string escaping");
	wbuf_free(&b);
}

/* Collector answers, read with protobuf-c: partial success and google.rpc.Status. */
static void test_responses(void)
{
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse resp =
	    OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
	Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
	    OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
	Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
	uint8_t buf[256];
	char msg[64];
	int64_t rejected = -1;
	size_t n;

	ps.rejected_spans = 7;
	ps.error_message = "too big";
	resp.partial_success = &ps;
	n = opentelemetry__proto__collector__trace__v1__export_trace_service_response__pack(&resp,
											    buf);
	check(weft_pb_parse_response(buf, n, &rejected, msg, sizeof(msg)) == 0 && rejected == 7 &&
		  !strcmp(msg, "too big"),
	      "partial success: 7 rejected, message read");
	check(weft_pb_parse_response(buf, 0, &rejected, msg, sizeof(msg)) == 0 && rejected == 0 &&
		  !msg[0],
	      "empty response: nothing rejected");
	check(weft_pb_parse_response("\x0a\x05"
				     "ab",
				     4, &rejected, msg, sizeof(msg)) < 0,
	      "truncated response refused");

	st.code = 3;
	st.message = "invalid span id";
	n = google__rpc__status__pack(&st, buf);
	check(weft_pb_status_message(buf, n, msg, sizeof(msg)) == 0 &&
		  !strcmp(msg, "invalid span id"),
	      "google.rpc.Status body: message read");
	check(weft_pb_status_message("404 page not found\n", 19, msg, sizeof(msg)) < 0,
	      "plain-text body is not a google.rpc.Status");
	st.message = "";
	n = google__rpc__status__pack(&st, buf);
	check(weft_pb_status_message(buf, n, msg, sizeof(msg)) < 0,
	      "google.rpc.Status without a message: the raw body is shown instead");
}

int main(void)
{
	static const char *const vars[] = {
	    "OTEL_EXPORTER_OTLP_ENDPOINT",
	    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	    "OTEL_EXPORTER_OTLP_PROTOCOL",
	    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
	    "OTEL_EXPORTER_OTLP_HEADERS",
	    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
	    "OTEL_EXPORTER_OTLP_COMPRESSION",
	    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
	    "OTEL_EXPORTER_OTLP_TIMEOUT",
	    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
	    "OTEL_EXPORTER_OTLP_CERTIFICATE",
	    "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
	    "OTEL_SERVICE_NAME",
	    "OTEL_RESOURCE_ATTRIBUTES",
	    "OTEL_TRACES_EXPORTER",
	    "WEFT_SPANS_FILE",
	    "WEFT_OTLP",
	};

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	test_encoders();
	test_responses();
	test_config();
	test_strings();
	printf("1..%d\n", n_run);
	if (n_fail)
		printf("# %d of %d checks failed\n", n_fail, n_run);
	return n_fail ? 1 : 0;
}

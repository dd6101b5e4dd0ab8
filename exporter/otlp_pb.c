// SPDX-License-Identifier: BSD-2-Clause
/*
 * OTLP protobuf encoding with the protoc-c generated code. The message
 * structs live in arrays reused from batch to batch (no per-span malloc);
 * each resource's message is built once and cached on the resource.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "batch.h"
#include "otlp_wire.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Status Status;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest Request;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse Response;

static const KeyValue kv_init = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
static const AnyValue av_init = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
static const Span span_init = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
static const Status status_init = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
static const ScopeSpans ss_init = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
static const ResourceSpans rs_init = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
static const Resource res_init = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;

struct weft_pb_enc {
	size_t span_cap, attr_cap, group_cap;
	Span *spans;
	Span **span_ptrs;
	Status *status;
	KeyValue *kv;
	KeyValue **kv_ptrs;
	AnyValue *av;
	ResourceSpans *rs;
	ResourceSpans **rs_ptrs;
	ScopeSpans *ss;
	ScopeSpans **ss_ptrs;
	Scope scope;
};

struct weft_pb_enc *weft_pb_enc_new(void)
{
	struct weft_pb_enc *e = calloc(1, sizeof(*e));
	static const Scope scope_init =
	    OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;

	if (!e)
		return NULL;
	e->scope = scope_init;
	e->scope.name = (char *)WEFT_SCOPE_NAME;
	e->scope.version = (char *)WEFT_VERSION;
	return e;
}

void weft_pb_enc_free(struct weft_pb_enc *e)
{
	if (!e)
		return;
	free(e->spans);
	free(e->span_ptrs);
	free(e->status);
	free(e->kv);
	free(e->kv_ptrs);
	free(e->av);
	free(e->rs);
	free(e->rs_ptrs);
	free(e->ss);
	free(e->ss_ptrs);
	free(e);
}

#define GROW(p, n) ((p) = realloc((p), (n) * sizeof(*(p))))

static int reserve(struct weft_pb_enc *e, size_t spans, size_t attrs, size_t groups)
{
	if (spans > e->span_cap) {
		if (!GROW(e->spans, spans) || !GROW(e->span_ptrs, spans) || !GROW(e->status, spans))
			return -1;
		e->span_cap = spans;
	}
	if (attrs > e->attr_cap) {
		if (!GROW(e->kv, attrs) || !GROW(e->kv_ptrs, attrs) || !GROW(e->av, attrs))
			return -1;
		e->attr_cap = attrs;
	}
	if (groups > e->group_cap) {
		if (!GROW(e->rs, groups) || !GROW(e->rs_ptrs, groups) || !GROW(e->ss, groups) ||
		    !GROW(e->ss_ptrs, groups))
			return -1;
		e->group_cap = groups;
	}
	return 0;
}

static void set_attr(KeyValue *kv, AnyValue *av, const struct weft_attr *a)
{
	*kv = kv_init;
	*av = av_init;
	kv->key = (char *)a->key;
	kv->value = av;
	switch (a->type) {
	case WEFT_ATTR_INT:
		av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
		av->int_value = a->i;
		break;
	case WEFT_ATTR_BOOL:
		av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
		av->bool_value = a->i != 0;
		break;
	default:
		av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
		av->string_value = (char *)a->s;
		break;
	}
}

/* The resource message, built once per resource in one allocation. */
static Resource *resource_msg(struct weft_resource *r)
{
	size_t n = r->nattrs;
	Resource *m;
	KeyValue *kv, **kvp;
	AnyValue *av;

	if (r->pb)
		return r->pb;
	m = malloc(sizeof(*m) + n * (sizeof(*kv) + sizeof(*kvp) + sizeof(*av)));
	if (!m)
		return NULL;
	kv = (KeyValue *)(m + 1);
	av = (AnyValue *)(kv + n);
	kvp = (KeyValue **)(av + n);
	*m = res_init;
	for (size_t i = 0; i < n; i++) {
		set_attr(&kv[i], &av[i], &r->attrs[i]);
		kvp[i] = &kv[i];
	}
	m->n_attributes = n;
	m->attributes = kvp;
	r->pb = m;
	return m;
}

const ProtobufCMessage *weft_pb_resource_msg(struct weft_pb_enc *pe, struct weft_resource *r)
{
	(void)pe;
	return (const ProtobufCMessage *)resource_msg(r);
}

const ProtobufCMessage *weft_pb_scope_msg(struct weft_pb_enc *pe)
{
	return (const ProtobufCMessage *)&pe->scope;
}

int weft_pb_encode(struct weft_pb_enc *e, const struct weft_batch *b, struct wbuf *out)
{
	Request req =
	    OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
	size_t nattrs = 0, ai = 0, size;

	for (size_t i = 0; i < b->n; i++)
		nattrs += b->views[i].nattrs;
	if (reserve(e, b->n, nattrs, b->ngroups))
		return -1;

	for (size_t g = 0; g < b->ngroups; g++) {
		ResourceSpans *rs = &e->rs[g];
		ScopeSpans *ss = &e->ss[g];
		uint32_t first = b->group_start[g], last = b->group_start[g + 1];

		*rs = rs_init;
		*ss = ss_init;
		rs->resource = resource_msg(b->groups[g]);
		if (!rs->resource)
			return -1;
		rs->n_scope_spans = 1;
		rs->scope_spans = &e->ss_ptrs[g];
		e->ss_ptrs[g] = ss;
		e->rs_ptrs[g] = rs;
		ss->scope = &e->scope;
		ss->n_spans = last - first;
		ss->spans = &e->span_ptrs[first];

		for (uint32_t k = first; k < last; k++) {
			const struct weft_span_view *v = &b->views[b->order[k]];
			const struct weft_span_event *ev = v->ev;
			Span *s = &e->spans[k];
			Status *st = &e->status[k];
			int root = 1;

			*s = span_init;
			e->span_ptrs[k] = s;
			s->trace_id.data = (uint8_t *)ev->ctx.trace_id;
			s->trace_id.len = WEFT_TRACE_ID_LEN;
			s->span_id.data = (uint8_t *)ev->ctx.span_id;
			s->span_id.len = WEFT_SPAN_ID_LEN;
			if (v->trace_state_len)
				s->trace_state = (char *)v->trace_state;
			for (int j = 0; j < WEFT_SPAN_ID_LEN; j++)
				if (ev->parent_span_id[j])
					root = 0;
			if (!root) {
				s->parent_span_id.data = (uint8_t *)ev->parent_span_id;
				s->parent_span_id.len = WEFT_SPAN_ID_LEN;
			}
			s->flags = ev->ctx.flags;
			if (!root)
				s->flags |=
				    OPENTELEMETRY__PROTO__TRACE__V1__SPAN_FLAGS__SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK |
				    (v->parent_remote
					 ? OPENTELEMETRY__PROTO__TRACE__V1__SPAN_FLAGS__SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
					 : 0);
			s->name = (char *)v->name;
			s->kind =
			    ev->kind == WEFT_KIND_SERVER
				? OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER
			    : ev->kind == WEFT_KIND_CLIENT
				? OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT
				: OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_INTERNAL;
			s->start_time_unix_nano = v->start_ns;
			s->end_time_unix_nano = v->end_ns;
			s->n_attributes = v->nattrs;
			s->attributes = &e->kv_ptrs[ai];
			for (size_t j = 0; j < v->nattrs; j++, ai++) {
				set_attr(&e->kv[ai], &e->av[ai], &v->attrs[j]);
				e->kv_ptrs[ai] = &e->kv[ai];
			}
			if (v->status == WEFT_STATUS_ERROR) {
				*st = status_init;
				st->code =
				    OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
				s->status = st;
			}
		}
	}
	req.n_resource_spans = b->ngroups;
	req.resource_spans = e->rs_ptrs;

	size =
	    opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(
		&req);
	wbuf_reset(out);
	if (out->cap < size && !wbuf_grow(out, size))
		return -1;
	out->len = opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(
	    &req, (uint8_t *)out->p);
	return 0;
}

int weft_pb_parse_response(const void *body, size_t len, int64_t *rejected, char *msg, size_t msgsz)
{
	Response *r;

	*rejected = 0;
	msg[0] = '\0';
	if (!len)
		return 0;
	r = opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
	    NULL, len, body);
	if (!r)
		return -1;
	if (r->partial_success) {
		*rejected = r->partial_success->rejected_spans;
		if (r->partial_success->error_message)
			snprintf(msg, msgsz, "%s", r->partial_success->error_message);
	}
	opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(
	    r, NULL);
	return 0;
}

// SPDX-License-Identifier: BSD-2-Clause
/* See otlp_pb_reference.h. */
#include <stdlib.h>
#include "otlp_pb.h"
#include "otlp_pb_reference.h"

typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;

/* One span as the OTLP message tree: the span, its status and attributes. */
struct ref_span {
	Span span;
	Opentelemetry__Proto__Trace__V1__Status status;
	Opentelemetry__Proto__Common__V1__KeyValue kv[WEFT_VIEW_ATTRS];
	Opentelemetry__Proto__Common__V1__KeyValue *kv_ptrs[WEFT_VIEW_ATTRS];
	Opentelemetry__Proto__Common__V1__AnyValue av[WEFT_VIEW_ATTRS];
};

static void ref_span_fill(struct ref_span *s, const struct weft_span_view *v)
{
	static const Span span_init = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
	static const Opentelemetry__Proto__Trace__V1__Status status_init =
	    OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
	static const Opentelemetry__Proto__Common__V1__KeyValue kv_init =
	    OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
	static const Opentelemetry__Proto__Common__V1__AnyValue av_init =
	    OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
	const struct weft_span_event *ev = v->ev;
	Span *m = &s->span;

	*m = span_init;
	m->trace_id.data = (uint8_t *)ev->ctx.trace_id;
	m->trace_id.len = WEFT_TRACE_ID_LEN;
	m->span_id.data = (uint8_t *)ev->ctx.span_id;
	m->span_id.len = WEFT_SPAN_ID_LEN;
	if (v->trace_state_len)
		m->trace_state = (char *)v->trace_state;
	if (!weft_pb_is_root(ev)) {
		m->parent_span_id.data = (uint8_t *)ev->parent_span_id;
		m->parent_span_id.len = WEFT_SPAN_ID_LEN;
	}
	m->flags = weft_pb_span_flags(v);
	m->name = (char *)v->name;
	m->kind = weft_pb_span_kind(ev->kind);
	m->start_time_unix_nano = v->start_ns;
	m->end_time_unix_nano = v->end_ns;
	m->n_attributes = v->nattrs;
	m->attributes = s->kv_ptrs;
	for (size_t i = 0; i < v->nattrs; i++) {
		s->kv[i] = kv_init;
		s->av[i] = av_init;
		s->kv[i].key = (char *)v->attrs[i].key;
		s->kv[i].value = &s->av[i];
		weft_pb_set_value(&s->av[i], &v->attrs[i]);
		s->kv_ptrs[i] = &s->kv[i];
	}
	if (v->status == WEFT_STATUS_ERROR) {
		s->status = status_init;
		s->status.code =
		    OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
		m->status = &s->status;
	}
}

int weft_pb_reference_encode(const struct weft_batch *b, struct wbuf *out)
{
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest req =
	    OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
	static const ScopeSpans ss_init = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
	static const ResourceSpans rs_init = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
	struct ref_span *spans = calloc(b->n ? b->n : 1, sizeof(*spans));
	Span **span_ptrs = calloc(b->n ? b->n : 1, sizeof(*span_ptrs));
	ScopeSpans *ss = calloc(b->ngroups ? b->ngroups : 1, sizeof(*ss));
	ScopeSpans **ss_ptrs = calloc(b->ngroups ? b->ngroups : 1, sizeof(*ss_ptrs));
	ResourceSpans *rs = calloc(b->ngroups ? b->ngroups : 1, sizeof(*rs));
	ResourceSpans **rs_ptrs = calloc(b->ngroups ? b->ngroups : 1, sizeof(*rs_ptrs));
	int rc = -1;

	if (!spans || !span_ptrs || !ss || !ss_ptrs || !rs || !rs_ptrs)
		goto out;
	for (size_t k = 0; k < b->n; k++) {
		ref_span_fill(&spans[k], &b->views[b->order[k]]);
		span_ptrs[k] = &spans[k].span;
	}
	for (size_t g = 0; g < b->ngroups; g++) {
		rs[g] = rs_init;
		ss[g] = ss_init;
		rs[g].resource = weft_pb_resource_msg(b->groups[g]);
		if (!rs[g].resource)
			goto out;
		rs[g].n_scope_spans = 1;
		ss_ptrs[g] = &ss[g];
		rs[g].scope_spans = &ss_ptrs[g];
		rs_ptrs[g] = &rs[g];
		ss[g].scope = weft_pb_scope_msg();
		ss[g].n_spans = b->group_start[g + 1] - b->group_start[g];
		ss[g].spans = &span_ptrs[b->group_start[g]];
	}
	req.n_resource_spans = b->ngroups;
	req.resource_spans = rs_ptrs;
	wbuf_reset(out);
	if (wbuf_grow(out, protobuf_c_message_get_packed_size(&req.base))) {
		out->len = protobuf_c_message_pack(&req.base, (uint8_t *)out->p);
		rc = 0;
	}
out:
	free(spans);
	free(span_ptrs);
	free(ss);
	free(ss_ptrs);
	free(rs);
	free(rs_ptrs);
	return rc;
}

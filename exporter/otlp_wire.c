// SPDX-License-Identifier: BSD-2-Clause
/*
 * The fast OTLP protobuf encoder, used by default. The resource and scope
 * messages are packed by the protoc-c generated code (once per resource, and
 * cached); spans are written straight to the wire format in one pass with
 * their sizes computed bottom-up, because protobuf-c re-computes the size of
 * every nested message at each level (an attribute's value is sized six
 * times in a request). The output is byte-identical to packing the same
 * request with protoc-c (tests/unit/export_encode.test checks it), field
 * order included (protobuf-c packs in field-number order).
 */
#include <string.h>
#include "batch.h"
#include "otlp_wire.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };
#define TAG(field, wt) (((field) << 3) | (wt))

static inline size_t vlen(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static inline uint8_t *put_v(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static inline uint8_t *put_bytes(uint8_t *p, unsigned tag, const void *s, size_t n)
{
	*p++ = (uint8_t)tag;
	p = put_v(p, n);
	memcpy(p, s, n);
	return p + n;
}

static inline uint8_t *put_fixed64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		*p++ = (uint8_t)v;
	return p;
}

static inline size_t anyvalue_size(const struct weft_attr *a)
{
	switch (a->type) {
	case WEFT_ATTR_INT:
		return 1 + vlen((uint64_t)a->i);
	case WEFT_ATTR_BOOL:
		return 2;
	default:
		return 1 + vlen(a->slen) + a->slen;
	}
}

static inline size_t kv_size(const struct weft_attr *a, size_t *avs)
{
	*avs = anyvalue_size(a);
	return 1 + vlen(a->klen) + a->klen + 1 + vlen(*avs) + *avs;
}

static bool is_root(const struct weft_span_event *ev)
{
	uint64_t p;

	memcpy(&p, ev->parent_span_id, sizeof(p));
	return p == 0;
}

static inline uint32_t span_flags(const struct weft_span_view *v)
{
	uint32_t f = v->ev->ctx.flags;

	if (!is_root(v->ev))
		f |=
		    OPENTELEMETRY__PROTO__TRACE__V1__SPAN_FLAGS__SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK |
		    (v->parent_remote
			 ? OPENTELEMETRY__PROTO__TRACE__V1__SPAN_FLAGS__SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
			 : 0);
	return f;
}

static inline unsigned span_kind(int kind)
{
	return kind == WEFT_KIND_SERVER ? 2 : kind == WEFT_KIND_CLIENT ? 3 : 1;
}

static size_t span_size(const struct weft_span_view *v)
{
	size_t n = 18 + 10, avs;

	if (!is_root(v->ev))
		n += 10;
	if (v->trace_state_len)
		n += 1 + vlen(v->trace_state_len) + v->trace_state_len;
	if (v->name_len)
		n += 1 + vlen(v->name_len) + v->name_len;
	n += 2; /* kind (never 0 here) */
	if (v->start_ns)
		n += 9;
	if (v->end_ns)
		n += 9;
	for (size_t i = 0; i < v->nattrs; i++) {
		size_t kvs = kv_size(&v->attrs[i], &avs);

		n += 1 + vlen(kvs) + kvs;
	}
	if (v->status == WEFT_STATUS_ERROR)
		n += 4;
	if (span_flags(v))
		n += 6;
	return n;
}

static uint8_t *put_span(uint8_t *p, const struct weft_span_view *v)
{
	const struct weft_span_event *ev = v->ev;
	uint32_t flags = span_flags(v);
	size_t avs;

	p = put_bytes(p, TAG(1, WT_LEN), ev->ctx.trace_id, WEFT_TRACE_ID_LEN);
	p = put_bytes(p, TAG(2, WT_LEN), ev->ctx.span_id, WEFT_SPAN_ID_LEN);
	if (v->trace_state_len)
		p = put_bytes(p, TAG(3, WT_LEN), v->trace_state, v->trace_state_len);
	if (!is_root(ev))
		p = put_bytes(p, TAG(4, WT_LEN), ev->parent_span_id, WEFT_SPAN_ID_LEN);
	if (v->name_len)
		p = put_bytes(p, TAG(5, WT_LEN), v->name, v->name_len);
	*p++ = TAG(6, WT_VARINT);
	*p++ = (uint8_t)span_kind(ev->kind);
	if (v->start_ns) {
		*p++ = TAG(7, WT_I64);
		p = put_fixed64(p, v->start_ns);
	}
	if (v->end_ns) {
		*p++ = TAG(8, WT_I64);
		p = put_fixed64(p, v->end_ns);
	}
	for (size_t i = 0; i < v->nattrs; i++) {
		const struct weft_attr *a = &v->attrs[i];
		size_t kvs = kv_size(a, &avs);

		*p++ = TAG(9, WT_LEN);
		p = put_v(p, kvs);
		p = put_bytes(p, TAG(1, WT_LEN), a->key, a->klen);
		*p++ = TAG(2, WT_LEN);
		p = put_v(p, avs);
		switch (a->type) {
		case WEFT_ATTR_INT:
			*p++ = TAG(3, WT_VARINT);
			p = put_v(p, (uint64_t)a->i);
			break;
		case WEFT_ATTR_BOOL:
			*p++ = TAG(2, WT_VARINT);
			*p++ = a->i ? 1 : 0;
			break;
		default:
			p = put_bytes(p, TAG(1, WT_LEN), a->s, a->slen);
			break;
		}
	}
	if (v->status == WEFT_STATUS_ERROR) {
		*p++ = TAG(15, WT_LEN);
		*p++ = 2;
		*p++ = TAG(3, WT_VARINT);
		*p++ = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
	}
	if (flags) {
		p = put_v(p, TAG(16, WT_I32));
		for (int i = 0; i < 4; i++, flags >>= 8)
			*p++ = (uint8_t)flags;
	}
	return p;
}

/* The resource and scope messages, packed once by protobuf-c. */
static int resource_bytes(struct weft_pb_enc *pe, struct weft_resource *r)
{
	const ProtobufCMessage *m;
	size_t n;

	if (r->pb_bytes.len)
		return 0;
	m = weft_pb_resource_msg(pe, r);
	if (!m)
		return -1;
	n = protobuf_c_message_get_packed_size(m);
	if (!wbuf_grow(&r->pb_bytes, n + 1))
		return -1;
	r->pb_bytes.len = protobuf_c_message_pack(m, (uint8_t *)r->pb_bytes.p);
	return 0;
}

int weft_wire_encode(struct weft_pb_enc *pe, struct weft_wire_enc *we, const struct weft_batch *b,
		     struct wbuf *out)
{
	size_t total = 0;
	uint8_t *p;

	if (!we->scope.len) {
		const ProtobufCMessage *m = weft_pb_scope_msg(pe);
		size_t n = protobuf_c_message_get_packed_size(m);

		if (!wbuf_grow(&we->scope, n + 1))
			return -1;
		we->scope.len = protobuf_c_message_pack(m, (uint8_t *)we->scope.p);
	}
	if (b->n > we->cap) {
		size_t *s = realloc(we->size, b->n * sizeof(*s));

		if (!s)
			return -1;
		we->size = s;
		we->cap = b->n;
	}
	if (b->ngroups > we->gcap) {
		size_t *s = realloc(we->ss_size, b->ngroups * 2 * sizeof(*s));

		if (!s)
			return -1;
		we->ss_size = s;
		we->gcap = b->ngroups;
	}
	/* pass 1: sizes, bottom-up */
	for (size_t g = 0; g < b->ngroups; g++) {
		size_t ss = 1 + vlen(we->scope.len) + we->scope.len, rs;
		struct weft_resource *r = b->groups[g];

		if (resource_bytes(pe, r))
			return -1;
		for (uint32_t k = b->group_start[g]; k < b->group_start[g + 1]; k++) {
			we->size[k] = span_size(&b->views[b->order[k]]);
			ss += 1 + vlen(we->size[k]) + we->size[k];
		}
		rs = 1 + vlen(r->pb_bytes.len) + r->pb_bytes.len + 1 + vlen(ss) + ss;
		we->ss_size[2 * g] = ss;
		we->ss_size[2 * g + 1] = rs;
		total += 1 + vlen(rs) + rs;
	}
	/* pass 2: write */
	wbuf_reset(out);
	if (out->cap < total && !wbuf_grow(out, total))
		return -1;
	p = (uint8_t *)out->p;
	for (size_t g = 0; g < b->ngroups; g++) {
		struct weft_resource *r = b->groups[g];

		*p++ = TAG(1, WT_LEN);
		p = put_v(p, we->ss_size[2 * g + 1]);
		p = put_bytes(p, TAG(1, WT_LEN), r->pb_bytes.p, r->pb_bytes.len);
		*p++ = TAG(2, WT_LEN);
		p = put_v(p, we->ss_size[2 * g]);
		p = put_bytes(p, TAG(1, WT_LEN), we->scope.p, we->scope.len);
		for (uint32_t k = b->group_start[g]; k < b->group_start[g + 1]; k++) {
			*p++ = TAG(2, WT_LEN);
			p = put_v(p, we->size[k]);
			p = put_span(p, &b->views[b->order[k]]);
		}
	}
	out->len = (size_t)(p - (uint8_t *)out->p);
	return out->len == total ? 0 : -1;
}

void weft_wire_enc_free(struct weft_wire_enc *we)
{
	free(we->size);
	free(we->ss_size);
	wbuf_free(&we->scope);
	memset(we, 0, sizeof(*we));
}

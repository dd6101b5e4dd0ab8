// SPDX-License-Identifier: BSD-2-Clause
/*
 * OTLP protobuf with the protoc-c generated code, for everything the
 * exporter writes (export requests) and reads (export responses, error
 * bodies).
 *
 * protobuf-c keeps no cached sizes: packing a message sizes each embedded
 * message before writing it, and sizing a message sizes its embedded ones,
 * so packed as one ExportTraceServiceRequest an attribute's value is sized
 * four times and walked five: 1.7-1.9 us per span on this machine, against
 * 0.4 us as done here (bench/exporter/run, docs/PERFORMANCE.md). The request
 * is packed bottom-up, every piece by protobuf-c, with the wire-compatible
 * messages of proto/weft/otlp_attr.proto and otlp_envelope.proto:
 * - each attribute as a KeyValue of one value kind (its value message has
 *   the one field it uses where AnyValue walks seven; strings as bytes, so
 *   protobuf-c runs no strlen) into a scratch buffer, or once into a cache
 *   while the same value repeats;
 * - each span, with its attributes as bytes, into one buffer for the batch,
 *   as soon as its view is built (weft_pb_add);
 * - the request around the spans, listed by resource (weft_pb_finish).
 * Buffers are sized from bounds (no sizing pass) and reused from batch to
 * batch; message structs are filled in place, never allocated. The bytes are
 * identical to packing the whole request as one message tree
 * (tests/unit/export_unit.test and the fuzz target compare them with
 * tests/lib/otlp_pb_reference.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "otlp_pb.h"
#include "google/rpc/status.pb-c.h"
#include "weft/otlp_attr.pb-c.h"
#include "weft/otlp_envelope.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse Response;
typedef Weft__Otlp__Span EnvSpan;
typedef Weft__Otlp__ScopeSpans EnvScopeSpans;
typedef Weft__Otlp__ResourceSpans EnvResourceSpans;
typedef Weft__Otlp__ExportTraceServiceRequest EnvRequest;

static const KeyValue kv_init = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
static const AnyValue av_init = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
static const EnvSpan span_init = WEFT__OTLP__SPAN__INIT;
static const Opentelemetry__Proto__Trace__V1__Status status_init =
    OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
static const EnvScopeSpans ss_init = WEFT__OTLP__SCOPE_SPANS__INIT;
static const EnvResourceSpans rs_init = WEFT__OTLP__RESOURCE_SPANS__INIT;
static const Resource res_init = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;

/* Packed size bounds (no sizing pass): tags and length varints of a
 * KeyValue and its AnyValue (lengths < 16 KiB, ints up to 10 bytes), and of a
 * span's fixed fields (ids, kind, times, status, flags) and its lengths. */
#define KV_BOUND(a) ((a)->klen + ((a)->type == WEFT_ATTR_STR ? (a)->slen : 0) + 24)
#define SPAN_BOUND 128

/*
 * Packed attributes by value: a server's spans repeat most of theirs (method,
 * status, addresses, local port, thread, weft's own), so each distinct
 * (key, value) is packed once and its bytes reused while it stays in the
 * cache. Two-way set-associative, the least recently used way replaced; a
 * value takes a way only when it is among the last two misses of its set, so
 * one-off values (paths, client ports) do not evict the ones that repeat.
 * Span attribute keys are string literals: the key is compared by pointer,
 * the value by content.
 */
#define KV_SLOTS 256 /* 128 sets of 2, by a hash's top 7 bits */
#define KV_WAYS 2
#define KV_VAL_MAX 40	  /* longest string value cached */
#define KV_SLOT_BYTES 128 /* longest packed attribute cached */

struct kv_slot {
	uint64_t hash, candidate; /* of the cached value; of a recent miss in the set */
	uint64_t span;		  /* the last span using it (kept until packed) */
	const char *key;
	int64_t i;
	uint8_t type, slen;
	char s[KV_VAL_MAX];
	uint8_t len; /* 0: empty */
	uint8_t bytes[KV_SLOT_BYTES];
};

struct weft_pb_enc {
	struct kv_slot *kv_cache; /* KV_SLOTS */
	uint64_t span_seq;
	/* the span being packed */
	EnvSpan span;
	Opentelemetry__Proto__Trace__V1__Status status;
	Weft__Otlp__StringKeyValue skv; /* attributes by kind of value */
	Weft__Otlp__StringValue sv;
	Weft__Otlp__IntKeyValue ikv;
	Weft__Otlp__IntValue iv;
	KeyValue kv; /* any other kind (bools) */
	AnyValue av;
	ProtobufCBinaryData attrs[WEFT_VIEW_ATTRS];
	struct wbuf attr_bytes; /* its attributes, packed */
	/* the batch */
	struct wbuf packed; /* its spans, packed one after another */
	size_t span_cap, group_cap;
	ProtobufCBinaryData *arrived; /* per span, in arrival order: its bytes in packed */
	ProtobufCBinaryData *spans;   /* the same, grouped by resource */
	EnvScopeSpans *ss;
	EnvScopeSpans **ss_ptrs;
	EnvResourceSpans *rs;
	EnvResourceSpans **rs_ptrs;
};

/* --- messages ----------------------------------------------------------- */

Scope *weft_pb_scope_msg(void)
{
	static Scope scope = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;

	scope.name = (char *)WEFT_SCOPE_NAME;
	scope.version = (char *)WEFT_VERSION;
	return &scope;
}

void weft_pb_set_value(AnyValue *av, const struct weft_attr *a)
{
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
Resource *weft_pb_resource_msg(struct weft_resource *r)
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
		kv[i] = kv_init;
		av[i] = av_init;
		kv[i].key = (char *)r->attrs[i].key;
		kv[i].value = &av[i];
		weft_pb_set_value(&av[i], &r->attrs[i]);
		kvp[i] = &kv[i];
	}
	m->n_attributes = n;
	m->attributes = kvp;
	r->pb = m;
	return m;
}

bool weft_pb_is_root(const struct weft_span_event *ev)
{
	uint64_t p;

	memcpy(&p, ev->parent_span_id, sizeof(p));
	return p == 0;
}

uint32_t weft_pb_span_flags(const struct weft_span_view *v)
{
	if (weft_pb_is_root(v->ev))
		return v->ev->ctx.flags;
	return v->ev->ctx.flags |
	       OPENTELEMETRY__PROTO__TRACE__V1__SPAN_FLAGS__SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK |
	       (v->parent_remote
		    ? OPENTELEMETRY__PROTO__TRACE__V1__SPAN_FLAGS__SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
		    : 0);
}

Opentelemetry__Proto__Trace__V1__Span__SpanKind weft_pb_span_kind(int kind)
{
	return kind == WEFT_KIND_SERVER
		   ? OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER
	       : kind == WEFT_KIND_CLIENT
		   ? OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT
		   : OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_INTERNAL;
}

/* --- encoder ------------------------------------------------------------ */

struct weft_pb_enc *weft_pb_enc_new(void)
{
	struct weft_pb_enc *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->kv_cache = calloc(KV_SLOTS, sizeof(*e->kv_cache));
	if (!e->kv_cache) {
		free(e);
		return NULL;
	}
	e->span = span_init;
	e->span.attributes = e->attrs;
	e->status = status_init;
	e->status.code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
	e->kv = kv_init;
	e->av = av_init;
	e->kv.value = &e->av;
	weft__otlp__string_key_value__init(&e->skv);
	weft__otlp__string_value__init(&e->sv);
	e->sv.has_string_value = 1;
	e->skv.value = &e->sv;
	weft__otlp__int_key_value__init(&e->ikv);
	weft__otlp__int_value__init(&e->iv);
	e->iv.has_int_value = 1;
	e->ikv.value = &e->iv;
	return e;
}

void weft_pb_enc_free(struct weft_pb_enc *e)
{
	if (!e)
		return;
	free(e->kv_cache);
	wbuf_free(&e->attr_bytes);
	wbuf_free(&e->packed);
	free(e->arrived);
	free(e->spans);
	free(e->ss);
	free(e->ss_ptrs);
	free(e->rs);
	free(e->rs_ptrs);
	free(e);
}

#define GROW(p, n) ((p) = realloc((p), (n) * sizeof(*(p))))

static int reserve_groups(struct weft_pb_enc *e, size_t groups)
{
	if (groups > e->group_cap) {
		if (!GROW(e->ss, groups) || !GROW(e->ss_ptrs, groups) || !GROW(e->rs, groups) ||
		    !GROW(e->rs_ptrs, groups))
			return -1;
		e->group_cap = groups;
	}
	return 0;
}

/* Pack one attribute at out (room for KV_BOUND(a)); its packed length. */
static size_t pack_kv(struct weft_pb_enc *e, const struct weft_attr *a, uint8_t *out)
{
	/* proto2 key: absent where OTLP's proto3 key would be left out (empty) */
	ProtobufCBinaryData key = {.len = a->klen, .data = (uint8_t *)a->key};

	switch (a->type) {
	case WEFT_ATTR_STR:
		e->skv.has_key = a->klen != 0;
		e->skv.key = key;
		e->sv.string_value.len = a->slen;
		e->sv.string_value.data = (uint8_t *)a->s;
		return protobuf_c_message_pack(&e->skv.base, out);
	case WEFT_ATTR_INT:
		e->ikv.has_key = a->klen != 0;
		e->ikv.key = key;
		e->iv.int_value = a->i;
		return protobuf_c_message_pack(&e->ikv.base, out);
	default:
		e->kv.key = (char *)a->key;
		weft_pb_set_value(&e->av, a);
		return protobuf_c_message_pack(&e->kv.base, out);
	}
}

static inline uint64_t mix(uint64_t h, uint64_t v)
{
	h = (h ^ v) * 0x9e3779b97f4a7c15ull;
	return h ^ h >> 29;
}

/* Fixed-size loads only (they compile to one move): 8 bytes at a time, the
 * tail as an overlapping last word, short strings from two half-words. */
static inline uint64_t load64(const char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t load32(const char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t attr_hash(const struct weft_attr *a)
{
	uint64_t h = mix((uintptr_t)a->key, (uint64_t)a->type);
	const char *s = a->s;
	size_t n = a->slen;

	if (a->type != WEFT_ATTR_STR)
		return mix(h, (uint64_t)a->i);
	if (n >= 8) {
		for (size_t i = 0; i + 8 < n; i += 8)
			h = mix(h, load64(s + i));
		h = mix(h, load64(s + n - 8));
	} else if (n >= 4) {
		h = mix(h, load32(s) << 32 | load32(s + n - 4));
	} else if (n) {
		h = mix(h, (uint64_t)(uint8_t)s[0] << 16 | (uint64_t)(uint8_t)s[n / 2] << 8 |
			       (uint8_t)s[n - 1]);
	}
	return mix(h, n);
}

static bool slot_holds(const struct kv_slot *c, const struct weft_attr *a, uint64_t h)
{
	return c->len && c->hash == h && c->key == a->key && c->type == a->type &&
	       (a->type == WEFT_ATTR_STR ? c->slen == a->slen && !memcmp(c->s, a->s, a->slen)
					 : c->i == a->i);
}

/* a's packed bytes from the cache (packed into it when a value repeats), or
 * NULL: then the caller packs it. */
static const struct kv_slot *cached_kv(struct weft_pb_enc *e, const struct weft_attr *a)
{
	struct kv_slot *set, *c;
	uint64_t h;

	if ((a->type == WEFT_ATTR_STR && a->slen > KV_VAL_MAX) || KV_BOUND(a) > KV_SLOT_BYTES)
		return NULL;
	h = attr_hash(a);
	set = &e->kv_cache[((h * 0x9e3779b97f4a7c15ull) >> 57) * KV_WAYS]; /* 128 sets */
	for (c = set; c < set + KV_WAYS; c++)
		if (slot_holds(c, a, h)) {
			c->span = e->span_seq;
			return c;
		}
	/* the least recently used way, unless the span being packed uses it;
	 * admitted when among the set's last two misses (two values that take
	 * turns missing there both get in) */
	c = set[0].span <= set[1].span ? &set[0] : &set[1];
	if ((set[0].candidate != h && set[1].candidate != h) || c->span == e->span_seq) {
		if (set[0].candidate != h) {
			set[1].candidate = set[0].candidate;
			set[0].candidate = h;
		}
		return NULL; /* packed by the caller */
	}
	c->hash = h;
	c->key = a->key;
	c->type = (uint8_t)a->type;
	c->i = a->i;
	c->slen = (uint8_t)(a->type == WEFT_ATTR_STR ? a->slen : 0);
	if (a->type == WEFT_ATTR_STR)
		memcpy(c->s, a->s, a->slen);
	c->len = (uint8_t)pack_kv(e, a, c->bytes);
	c->span = e->span_seq;
	return c;
}

/* Pack v's attributes, then v, at the end of e->packed; -1 when out of memory.
 * out->data is an offset into e->packed until weft_pb_finish(). */
static int pack_span(struct weft_pb_enc *e, const struct weft_span_view *v,
		     ProtobufCBinaryData *out)
{
	const struct weft_span_event *ev = v->ev;
	EnvSpan *m = &e->span;
	size_t bound = SPAN_BOUND + v->name_len + v->trace_state_len, off = 0;
	bool root = weft_pb_is_root(ev);

	e->span_seq++;
	for (size_t i = 0; i < v->nattrs; i++)
		bound += KV_BOUND(&v->attrs[i]);
	wbuf_reset(&e->attr_bytes);
	if (e->attr_bytes.cap < bound && !wbuf_grow(&e->attr_bytes, bound))
		return -1;
	for (size_t i = 0; i < v->nattrs; i++) {
		const struct weft_attr *a = &v->attrs[i];
		const struct kv_slot *l = cached_kv(e, a);

		if (l) {
			e->attrs[i].data = (uint8_t *)l->bytes;
			e->attrs[i].len = l->len;
		} else {
			e->attrs[i].data = (uint8_t *)e->attr_bytes.p + off;
			e->attrs[i].len = pack_kv(e, a, e->attrs[i].data);
			off += e->attrs[i].len;
		}
	}

	m->trace_id.data = (uint8_t *)ev->ctx.trace_id;
	m->trace_id.len = WEFT_TRACE_ID_LEN;
	m->span_id.data = (uint8_t *)ev->ctx.span_id;
	m->span_id.len = WEFT_SPAN_ID_LEN;
	m->trace_state.data = (uint8_t *)v->trace_state;
	m->trace_state.len = v->trace_state_len;
	m->parent_span_id.data = root ? NULL : (uint8_t *)ev->parent_span_id;
	m->parent_span_id.len = root ? 0 : WEFT_SPAN_ID_LEN;
	m->name.data = (uint8_t *)v->name;
	m->name.len = v->name_len;
	m->kind = weft_pb_span_kind(ev->kind);
	m->start_time_unix_nano = v->start_ns;
	m->end_time_unix_nano = v->end_ns;
	m->n_attributes = v->nattrs;
	m->status = v->status == WEFT_STATUS_ERROR ? &e->status : NULL;
	m->flags = weft_pb_span_flags(v);

	if (e->packed.cap - e->packed.len < bound && !wbuf_grow(&e->packed, bound))
		return -1;
	/* an offset until the batch is packed: the buffer may still move */
	out->data = (uint8_t *)(uintptr_t)e->packed.len;
	out->len = protobuf_c_message_pack(&m->base, (uint8_t *)e->packed.p + e->packed.len);
	e->packed.len += out->len;
	return 0;
}

int weft_pb_begin(struct weft_pb_enc *e, size_t n)
{
	if (n > e->span_cap) {
		if (!GROW(e->arrived, n) || !GROW(e->spans, n))
			return -1;
		e->span_cap = n;
	}
	wbuf_reset(&e->packed);
	return 0;
}

int weft_pb_add(struct weft_pb_enc *e, const struct weft_span_view *v, size_t i)
{
	return i < e->span_cap ? pack_span(e, v, &e->arrived[i]) : -1;
}

int weft_pb_finish(struct weft_pb_enc *e, const struct weft_batch *b, struct wbuf *out)
{
	EnvRequest req = WEFT__OTLP__EXPORT_TRACE_SERVICE_REQUEST__INIT;
	size_t size;

	if (b->n > e->span_cap || reserve_groups(e, b->ngroups))
		return -1;
	/* packed in arrival order; listed by resource (offsets until now: the
	 * buffer may have moved while it grew) */
	for (size_t k = 0; k < b->n; k++) {
		e->spans[k].len = e->arrived[b->order[k]].len;
		e->spans[k].data = (uint8_t *)e->packed.p + (uintptr_t)e->arrived[b->order[k]].data;
	}

	/* the request: one ResourceSpans per resource, one ScopeSpans in it */
	for (size_t g = 0; g < b->ngroups; g++) {
		EnvResourceSpans *rs = &e->rs[g];
		EnvScopeSpans *ss = &e->ss[g];
		uint32_t first = b->group_start[g], last = b->group_start[g + 1];

		*rs = rs_init;
		*ss = ss_init;
		rs->resource = weft_pb_resource_msg(b->groups[g]);
		if (!rs->resource)
			return -1;
		rs->n_scope_spans = 1;
		rs->scope_spans = &e->ss_ptrs[g];
		e->ss_ptrs[g] = ss;
		e->rs_ptrs[g] = rs;
		ss->scope = weft_pb_scope_msg();
		ss->n_spans = last - first;
		ss->spans = &e->spans[first];
	}
	req.n_resource_spans = b->ngroups;
	req.resource_spans = e->rs_ptrs;

	size = protobuf_c_message_get_packed_size(&req.base);
	wbuf_reset(out);
	if (out->cap < size && !wbuf_grow(out, size))
		return -1;
	out->len = protobuf_c_message_pack(&req.base, (uint8_t *)out->p);
	return out->len == size ? 0 : -1;
}

int weft_pb_encode(struct weft_pb_enc *e, const struct weft_batch *b, struct wbuf *out)
{
	if (weft_pb_begin(e, b->n))
		return -1;
	for (size_t i = 0; i < b->n; i++)
		if (weft_pb_add(e, &b->views[i], i))
			return -1;
	return weft_pb_finish(e, b, out);
}

/* --- responses ---------------------------------------------------------- */

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

int weft_pb_status_message(const void *body, size_t len, char *msg, size_t msgsz)
{
	Google__Rpc__Status *st;
	int rc = -1;

	msg[0] = '\0';
	if (!len)
		return -1;
	st = google__rpc__status__unpack(NULL, len, body);
	if (!st)
		return -1;
	if (st->message && st->message[0]) {
		snprintf(msg, msgsz, "%s", st->message);
		rc = 0;
	}
	google__rpc__status__free_unpacked(st, NULL);
	return rc;
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * OTLP/JSON encoding (the protobuf JSON mapping with OTLP's exceptions:
 * trace and span ids as lowercase hex, enums as integers, 64-bit integers
 * as decimal strings, lowerCamelCase keys).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "batch.h"

#define LIT(b, s) wbuf_put((b), (s), sizeof(s) - 1)

static void attrs_json(struct wbuf *b, const struct weft_attr *a, size_t n)
{
	LIT(b, "[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			wbuf_putc(b, ',');
		LIT(b, "{\"key\":");
		wbuf_json_str(b, a[i].key, strlen(a[i].key));
		switch (a[i].type) {
		case WEFT_ATTR_INT:
			LIT(b, ",\"value\":{\"intValue\":\"");
			wbuf_i64(b, a[i].i);
			LIT(b, "\"}}");
			break;
		case WEFT_ATTR_BOOL:
			if (a[i].i)
				LIT(b, ",\"value\":{\"boolValue\":true}}");
			else
				LIT(b, ",\"value\":{\"boolValue\":false}}");
			break;
		default:
			LIT(b, ",\"value\":{\"stringValue\":");
			wbuf_json_str(b, a[i].s, a[i].slen);
			LIT(b, "}}");
			break;
		}
	}
	wbuf_putc(b, ']');
}

static bool is_root(const struct weft_span_event *ev)
{
	for (int j = 0; j < WEFT_SPAN_ID_LEN; j++)
		if (ev->parent_span_id[j])
			return false;
	return true;
}

void weft_otlp_json_encode(const struct weft_batch *b, struct wbuf *out)
{
	wbuf_reset(out);
	LIT(out, "{\"resourceSpans\":[");
	for (size_t g = 0; g < b->ngroups; g++) {
		struct weft_resource *r = b->groups[g];

		if (g)
			wbuf_putc(out, ',');
		if (!r->json_otlp.len) {
			LIT(&r->json_otlp, "{\"resource\":{\"attributes\":");
			attrs_json(&r->json_otlp, r->attrs, r->nattrs);
			LIT(&r->json_otlp,
			    "},\"scopeSpans\":[{\"scope\":{\"name\":\"" WEFT_SCOPE_NAME
			    "\",\"version\":\"" WEFT_VERSION "\"},\"spans\":[");
		}
		wbuf_put(out, r->json_otlp.p, r->json_otlp.len);
		for (uint32_t k = b->group_start[g]; k < b->group_start[g + 1]; k++) {
			const struct weft_span_view *v = &b->views[b->order[k]];
			const struct weft_span_event *ev = v->ev;
			uint32_t flags = ev->ctx.flags;

			if (k != b->group_start[g])
				wbuf_putc(out, ',');
			LIT(out, "{\"traceId\":");
			wbuf_json_hex(out, ev->ctx.trace_id, WEFT_TRACE_ID_LEN);
			LIT(out, ",\"spanId\":");
			wbuf_json_hex(out, ev->ctx.span_id, WEFT_SPAN_ID_LEN);
			if (!is_root(ev)) {
				LIT(out, ",\"parentSpanId\":");
				wbuf_json_hex(out, ev->parent_span_id, WEFT_SPAN_ID_LEN);
				flags |= 0x100 | (v->parent_remote ? 0x200 : 0);
			}
			if (v->trace_state_len) {
				LIT(out, ",\"traceState\":");
				wbuf_json_str(out, v->trace_state, v->trace_state_len);
			}
			LIT(out, ",\"flags\":");
			wbuf_u64(out, flags);
			LIT(out, ",\"name\":");
			wbuf_json_str(out, v->name, v->name_len);
			LIT(out, ",\"kind\":");
			wbuf_u64(out, ev->kind == WEFT_KIND_SERVER   ? 2
				      : ev->kind == WEFT_KIND_CLIENT ? 3
								     : 1);
			LIT(out, ",\"startTimeUnixNano\":\"");
			wbuf_u64(out, v->start_ns);
			LIT(out, "\",\"endTimeUnixNano\":\"");
			wbuf_u64(out, v->end_ns);
			LIT(out, "\",\"attributes\":");
			attrs_json(out, v->attrs, v->nattrs);
			if (v->status == WEFT_STATUS_ERROR)
				LIT(out, ",\"status\":{\"code\":2}");
			wbuf_putc(out, '}');
		}
		LIT(out, "]}]}");
	}
	LIT(out, "]}");
}

/* Find "key" in a JSON body and return a pointer just past its ':' (or NULL). */
static const char *json_find(const char *body, size_t len, const char *key)
{
	size_t kl = strlen(key);

	for (size_t i = 0; i + kl + 2 < len; i++) {
		if (body[i] == '"' && !memcmp(body + i + 1, key, kl) && body[i + 1 + kl] == '"') {
			const char *p = body + i + kl + 2;

			while (p < body + len &&
			       (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
				p++;
			if (p < body + len && *p == ':')
				return p + 1;
		}
	}
	return NULL;
}

int weft_otlp_json_parse_response(const char *body, size_t len, int64_t *rejected, char *msg,
				  size_t msgsz)
{
	const char *p, *end = body + len;
	size_t o = 0;

	*rejected = 0;
	msg[0] = '\0';
	p = json_find(body, len, "rejectedSpans");
	if (p) {
		while (p < end && (*p == ' ' || *p == '"'))
			p++;
		/* saturate: a collector's count beyond int64 is still "many" */
		while (p < end && *p >= '0' && *p <= '9') {
			int d = *p++ - '0';

			*rejected = *rejected > (INT64_MAX - d) / 10 ? INT64_MAX : *rejected * 10 + d;
		}
	}
	p = json_find(body, len, "errorMessage");
	if (p) {
		while (p < end && *p == ' ')
			p++;
		if (p < end && *p == '"')
			for (p++; p < end && *p != '"' && o + 1 < msgsz; p++)
				msg[o++] = *p == '\\' && p + 1 < end ? *++p : *p;
		msg[o] = '\0';
	}
	return 0;
}

// SPDX-License-Identifier: BSD-2-Clause
/* The JSON-lines sink format: one span per line (docs/exporter.md). */
#include <string.h>
#include "batch.h"

#define LIT(b, s) wbuf_put((b), (s), sizeof(s) - 1)

/* keys_plain: every key is a literal of span_view.c (plain ASCII, nothing to
 * escape), as span attributes' keys are; resource keys may come from the
 * environment and are escaped. */
static void flat_attrs(struct wbuf *b, const struct weft_attr *a, size_t n, bool keys_plain)
{
	wbuf_putc(b, '{');
	for (size_t i = 0; i < n; i++) {
		if (i)
			wbuf_putc(b, ',');
		if (keys_plain) {
			wbuf_putc(b, '"');
			wbuf_put(b, a[i].key, a[i].klen);
			wbuf_putc(b, '"');
		} else {
			wbuf_json_str(b, a[i].key, a[i].klen);
		}
		wbuf_putc(b, ':');
		if (a[i].type == WEFT_ATTR_INT)
			wbuf_i64(b, a[i].i);
		else if (a[i].type == WEFT_ATTR_BOOL)
			wbuf_puts(b, a[i].i ? "true" : "false");
		else
			wbuf_json_str(b, a[i].s, a[i].slen);
	}
	wbuf_putc(b, '}');
}

void weft_jsonl_encode(const struct weft_batch *b, struct wbuf *out)
{
	wbuf_reset(out);
	for (size_t i = 0; i < b->n; i++)
		weft_jsonl_add(&b->views[i], out);
}

void weft_jsonl_add(const struct weft_span_view *v, struct wbuf *out)
{
	const struct weft_span_event *ev = v->ev;
	struct weft_resource *r = v->res;
	bool root = true;

	for (int j = 0; j < WEFT_SPAN_ID_LEN; j++)
		if (ev->parent_span_id[j])
			root = false;
	LIT(out, "{\"trace_id\":");
	wbuf_json_hex(out, ev->ctx.trace_id, WEFT_TRACE_ID_LEN);
	LIT(out, ",\"span_id\":");
	wbuf_json_hex(out, ev->ctx.span_id, WEFT_SPAN_ID_LEN);
	LIT(out, ",\"parent_span_id\":");
	if (root)
		LIT(out, "\"\"");
	else
		wbuf_json_hex(out, ev->parent_span_id, WEFT_SPAN_ID_LEN);
	LIT(out, ",\"trace_state\":");
	wbuf_json_str(out, v->trace_state, v->trace_state_len);
	LIT(out, ",\"trace_flags\":");
	wbuf_u64(out, ev->ctx.flags);
	LIT(out, ",\"name\":");
	wbuf_json_str(out, v->name, v->name_len);
	LIT(out, ",\"kind\":\"");
	wbuf_puts(out, weft_kind_name(ev->kind));
	LIT(out, "\",\"start_time_unix_nano\":");
	wbuf_u64(out, v->start_ns);
	LIT(out, ",\"end_time_unix_nano\":");
	wbuf_u64(out, v->end_ns);
	LIT(out, ",\"duration_ns\":");
	wbuf_u64(out, v->end_ns - v->start_ns);
	LIT(out, ",\"service_name\":");
	wbuf_json_str(out, r->service_name, strlen(r->service_name));
	LIT(out, ",\"pid\":");
	wbuf_u64(out, ev->pid);
	LIT(out, ",\"tid\":");
	wbuf_u64(out, ev->tid);
	if (v->status == WEFT_STATUS_ERROR)
		LIT(out, ",\"status\":\"error\"");
	else
		LIT(out, ",\"status\":\"unset\"");
	LIT(out, ",\"attributes\":");
	flat_attrs(out, v->attrs, v->nattrs, true);
	LIT(out, ",\"resource\":");
	if (!r->json_flat.len)
		flat_attrs(&r->json_flat, r->attrs, r->nattrs, false);
	wbuf_put(out, r->json_flat.p, r->json_flat.len);
	LIT(out, "}\n");
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer target over everything the exporter parses or builds from
 * untrusted bytes: traceparent values, span events as they come out of BPF
 * (any lengths, any bytes), collector responses (protobuf and JSON), and
 * key=value lists. Differential check: the protobuf encoder (spans packed one
 * by one into an envelope) must produce exactly the bytes protobuf-c packs
 * for the same request as one message tree, and protobuf-c must decode them.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "batch.h"
#include "config.h"
#include "otlp_pb_reference.h"
#include "tracecontext.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

static struct weft_export_config cfg;
static struct weft_rcache *rc;
static struct weft_pb_enc *pe;
static struct wbuf ref, enc, js, jl;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct weft_trace_ctx ctx;
	char msg[256], *s;
	int64_t rejected;

	if (!rc) {
		char err[256];

		clearenv();
		if (weft_config_load(&cfg, NULL, err, sizeof(err)))
			abort();
		rc = weft_rcache_new(&cfg);
		pe = weft_pb_enc_new();
	}

	/* traceparent: parse, and what parses must format back and re-parse */
	if (weft_tp_parse((const char *)data, size, &ctx) == 0) {
		char out[WEFT_TP_STR_SIZE];
		struct weft_trace_ctx again;

		weft_tp_format_str(&ctx, out);
		if (weft_tp_parse(out, strlen(out), &again) || memcmp(&ctx, &again, sizeof(ctx)))
			abort();
	}

	/* collector responses */
	weft_pb_parse_response(data, size, &rejected, msg, sizeof(msg));
	weft_pb_status_message(data, size, msg, sizeof(msg));
	weft_otlp_json_parse_response((const char *)data, size, &rejected, msg, sizeof(msg));

	/* key=value lists */
	s = malloc(size + 1);
	if (s) {
		struct weft_kv_list kv = {0};

		memcpy(s, data, size);
		s[size] = '\0';
		weft_kv_parse(&kv, s);
		weft_kv_free(&kv);
		free(s);
	}

	/* a span event straight from "BPF" */
	if (size >= sizeof(struct weft_span_event)) {
		struct weft_span_event ev;
		struct weft_span_view view;
		struct weft_resource *groups[1];
		uint32_t order[1], gstart[2], gof[1];
		struct weft_batch b = {.views = &view,
				       .n = 1,
				       .groups = groups,
				       .order = order,
				       .group_start = gstart};
		ProtobufCMessage *m;

		memcpy(&ev, data, sizeof(ev));
		ev.pid = (uint32_t)getpid();
		gof[0] = weft_batch_group(&b, weft_rcache_get(rc, ev.pid, 1), weft_batch_gen());
		weft_span_view_build(&view, &ev, b.groups[0], (int64_t)data[0] << 40);
		weft_batch_order(&b, gof);
		if (weft_pb_reference_encode(&b, &ref) || weft_pb_encode(pe, &b, &enc))
			abort();
		if (ref.len != enc.len || memcmp(ref.p, enc.p, ref.len))
			abort(); /* the envelope differs from the whole-request pack */
		m = (ProtobufCMessage *)
		    opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
			NULL, enc.len, (const uint8_t *)enc.p);
		if (!m)
			abort(); /* e.g. invalid UTF-8 slipped into a string */
		protobuf_c_message_free_unpacked(m, NULL);
		weft_otlp_json_encode(&b, &js);
		weft_jsonl_encode(&b, &jl);
		if (!jl.len || jl.p[jl.len - 1] != '\n' || memchr(jl.p, '\n', jl.len - 1))
			abort(); /* one span, one line */
	}
	return 0;
}

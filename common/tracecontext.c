// SPDX-License-Identifier: BSD-2-Clause
#include <string.h>
#include "random.h"
#include "tracecontext.h"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int tp_parse(const char *value, size_t len, struct weft_trace_ctx *ctx)
{
	char buf[WEFT_TRACEPARENT_LEN];
	int hi, lo;

	memset(ctx, 0, sizeof(*ctx));
	if (!value)
		return -1;
	while (len > 0 && is_blank(value[0])) {
		value++;
		len--;
	}
	while (len > 0 && is_blank(value[len - 1]))
		len--;
	if (len < WEFT_TRACEPARENT_LEN)
		return -1;
	hi = weft_hex_val(value[0]);
	lo = weft_hex_val(value[1]);
	if (hi < 0 || lo < 0)
		return -1;
	if (hi == 0xf && lo == 0xf)
		return -1; /* version ff is forbidden */
	if (hi == 0 && lo == 0) {
		if (len != WEFT_TRACEPARENT_LEN)
			return -1;
		return weft_tp_parse55(value, ctx);
	}
	/* A higher version: the version-00 fields at their fixed positions,
	 * then either the end or a '-' before whatever that version adds. */
	if (len > WEFT_TRACEPARENT_LEN && value[WEFT_TRACEPARENT_LEN] != '-')
		return -1;
	memcpy(buf, value, sizeof(buf));
	buf[0] = '0';
	buf[1] = '0';
	return weft_tp_parse55(buf, ctx);
}

int weft_tp_parse(const char *value, size_t len, struct weft_trace_ctx *ctx)
{
	if (tp_parse(value, len, ctx) < 0) {
		memset(ctx, 0, sizeof(*ctx));
		return -1;
	}
	return 0;
}

enum weft_tp_status weft_tp_parse_headers(const char *const *values, size_t n,
					  struct weft_trace_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	if (n == 0)
		return WEFT_TP_ABSENT;
	if (n > 1)
		return WEFT_TP_INVALID;
	if (!values[0] || weft_tp_parse(values[0], strlen(values[0]), ctx) < 0)
		return WEFT_TP_INVALID;
	return WEFT_TP_VALID;
}

void weft_tp_format_str(const struct weft_trace_ctx *ctx, char out[WEFT_TP_STR_SIZE])
{
	weft_tp_format(out, ctx);
	out[WEFT_TRACEPARENT_LEN] = '\0';
}

void weft_tp_new_trace(struct weft_trace_ctx *ctx, bool sampled)
{
	memset(ctx, 0, sizeof(*ctx));
	weft_random_id(ctx->trace_id, WEFT_TRACE_ID_LEN);
	weft_random_id(ctx->span_id, WEFT_SPAN_ID_LEN);
	ctx->flags = WEFT_TP_FLAG_RANDOM | (sampled ? WEFT_TP_FLAG_SAMPLED : 0);
	ctx->valid = 1;
}

void weft_tp_child(const struct weft_trace_ctx *parent, struct weft_trace_ctx *child)
{
	struct weft_trace_ctx c;

	memset(&c, 0, sizeof(c));
	memcpy(c.trace_id, parent->trace_id, WEFT_TRACE_ID_LEN);
	do
		weft_random_id(c.span_id, WEFT_SPAN_ID_LEN);
	while (!memcmp(c.span_id, parent->span_id, WEFT_SPAN_ID_LEN));
	c.flags = parent->flags & WEFT_TP_FLAGS_KNOWN;
	c.valid = 1;
	*child = c;
}

enum weft_tp_status weft_tp_accept(const char *const *tp_values, size_t n, const char *tracestate,
				   struct weft_trace_ctx *parent, struct weft_trace_ctx *ctx,
				   const char **tracestate_out)
{
	enum weft_tp_status st = weft_tp_parse_headers(tp_values, n, parent);

	if (st == WEFT_TP_VALID) {
		weft_tp_child(parent, ctx);
		*tracestate_out = tracestate;
	} else {
		memset(parent, 0, sizeof(*parent));
		weft_tp_new_trace(ctx, true);
		*tracestate_out = NULL;
	}
	return st;
}

static int ts_pass(struct weft_ts_state *st, const char *const *values, const size_t *lens,
		   size_t n, __u8 drop_long)
{
	weft_ts_init(st, drop_long);
	for (size_t i = 0; i < n; i++) {
		size_t len = lens ? lens[i] : (values[i] ? strlen(values[i]) : 0);

		if (i)
			weft_ts_byte(st, ',');
		for (size_t j = 0; j < len; j++)
			weft_ts_byte(st, values[i][j]);
	}
	return weft_ts_end(st);
}

int weft_ts_parse_headers(const char *const *values, const size_t *lens, size_t n,
			  char out[WEFT_TS_STR_SIZE])
{
	struct weft_ts_state st;
	int r = ts_pass(&st, values, lens, n, 0);

	if (r > 0)
		r = ts_pass(&st, values, lens, n, 1);
	if (r < 0) {
		out[0] = '\0';
		return -1;
	}
	memcpy(out, st.out, st.out_len);
	out[st.out_len] = '\0';
	return st.out_len;
}

int weft_ts_parse(const char *value, size_t len, char out[WEFT_TS_STR_SIZE])
{
	return weft_ts_parse_headers(&value, &len, 1, out);
}

void weft_hex_encode(char *out, const uint8_t *bytes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		weft_hex_byte(out + 2 * i, bytes[i]);
	out[2 * n] = '\0';
}

int weft_hex_decode(uint8_t *bytes, const char *hex, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = weft_hex_val(hex[2 * i]);
		int lo = hi < 0 ? -1 : weft_hex_val(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		bytes[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

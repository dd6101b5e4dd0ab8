// SPDX-License-Identifier: BSD-2-Clause
/* Unit tests of the W3C Trace Context codec, one rule per check (TAP output). */
#include <stdio.h>
#include <string.h>
#include "tracecontext.h"

static int n_run, n_fail;

static void check(int cond, const char *what)
{
	n_run++;
	if (!cond)
		n_fail++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", n_run, what);
}

#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define PID "00f067aa0ba902b7"
#define GOOD "00-" TID "-" PID "-01"

static int parses(const char *s)
{
	struct weft_trace_ctx c;

	return weft_tp_parse(s, strlen(s), &c) == 0;
}

static int flags_of(const char *s)
{
	struct weft_trace_ctx c;

	if (weft_tp_parse(s, strlen(s), &c) < 0)
		return -1;
	return c.flags;
}

static int is_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

int main(void)
{
	struct weft_trace_ctx c, p, k;
	char out[WEFT_TP_STR_SIZE];
	uint8_t tid[16];

	/* valid version 00 */
	check(weft_tp_parse(GOOD, strlen(GOOD), &c) == 0, "valid version-00 value parses");
	weft_hex_decode(tid, TID, 16);
	check(!memcmp(c.trace_id, tid, 16), "trace-id decoded");
	check(c.span_id[0] == 0x00 && c.span_id[1] == 0xf0 && c.span_id[7] == 0xb7,
	      "parent-id decoded");
	check(c.flags == 0x01 && c.valid == 1, "sampled flag kept, ctx valid");
	weft_tp_format_str(&c, out);
	check(!strcmp(out, GOOD), "format round-trips to the same value");
	check(strlen(out) == 55, "formatted value is 55 chars");

	/* whitespace */
	check(parses(" \t" GOOD "\t  "), "surrounding spaces and tabs are trimmed");
	check(!parses(" \n" GOOD), "other whitespace (newline) is not trimmed");
	check(!parses("00 -" TID "-" PID "-01"), "inner space is invalid");

	/* case and characters */
	check(!parses("00-4BF92F3577B34DA6A3CE929D0E0E4736-" PID "-01"),
	      "uppercase trace-id invalid");
	check(!parses("00-" TID "-00F067AA0BA902B7-01"), "uppercase parent-id invalid");
	check(!parses("00-" TID "-" PID "-0A"), "uppercase flags invalid");
	check(!parses("0A-" TID "-" PID "-01"), "uppercase version invalid");
	check(!parses("00-4bf92f3577b34da6a3ce929d0e0e473g-" PID "-01"), "non-hex char invalid");
	check(!parses("00_" TID "-" PID "-01"), "wrong separator invalid");

	/* zero ids */
	check(!parses("00-00000000000000000000000000000000-" PID "-01"),
	      "all-zero trace-id invalid");
	check(!parses("00-" TID "-0000000000000000-01"), "all-zero parent-id invalid");

	/* length for version 00 */
	check(!parses(GOOD "0"), "version 00 with 56 chars invalid");
	check(!parses(GOOD "-00"), "version 00 with extra field invalid");
	check(!parses("00-" TID "-" PID "-1"), "version 00 with 54 chars invalid");
	check(!parses(""), "empty value invalid");
	check(weft_tp_parse(NULL, 0, &c) < 0, "NULL value invalid");

	/* versions */
	check(!parses("ff-" TID "-" PID "-01"), "version ff invalid");
	check(parses("01-" TID "-" PID "-01"), "version 01 with 55 chars parses");
	check(parses("cc-" TID "-" PID "-01-what-the-future-holds"),
	      "higher version with '-' and more fields parses");
	check(!parses("cc-" TID "-" PID "-01what"),
	      "higher version without '-' after flags invalid");
	check(!parses("cc-" TID "-" PID "-0"), "higher version shorter than 55 invalid");
	check(!parses("cc-" TID "-" PID "-xy-"), "higher version with bad flags invalid");
	check(!parses("fe-00000000000000000000000000000000-" PID "-01"),
	      "higher version with zero trace-id invalid");
	check(weft_tp_parse("cc-" TID "-" PID "-01-x", 60, &c) == 0 && !memcmp(c.trace_id, tid, 16),
	      "higher version fields read at fixed positions");
	weft_tp_format_str(&c, out);
	check(!strcmp(out, GOOD), "higher version is re-emitted as version 00");

	/* flags */
	check(flags_of("00-" TID "-" PID "-00") == 0x00, "flags 00 kept");
	check(flags_of("00-" TID "-" PID "-02") == 0x02, "random flag (Level 2) kept");
	check(flags_of("00-" TID "-" PID "-03") == 0x03, "sampled|random kept");
	check(flags_of("00-" TID "-" PID "-ff") == 0x03, "unknown flag bits zeroed");
	check(flags_of("00-" TID "-" PID "-fc") == 0x00, "only unknown bits -> 00");
	c.flags = 0xff;
	weft_tp_format_str(&c, out);
	check(!strcmp(out + 53, "03"), "format never emits unknown flag bits");

	/* duplicate and absent headers */
	{
		const char *one[] = {GOOD};
		const char *two[] = {GOOD, GOOD};
		const char *bad[] = {"00-xyz"};

		check(weft_tp_parse_headers(one, 1, &c) == WEFT_TP_VALID, "one header valid");
		check(weft_tp_parse_headers(two, 2, &c) == WEFT_TP_INVALID && !c.valid,
		      "two traceparent headers invalid");
		check(weft_tp_parse_headers(NULL, 0, &c) == WEFT_TP_ABSENT, "no header absent");
		check(weft_tp_parse_headers(bad, 1, &c) == WEFT_TP_INVALID,
		      "malformed header invalid");
	}

	/* invalid -> new trace, tracestate dropped; valid -> child, tracestate kept */
	{
		const char *one[] = {GOOD};
		const char *two[] = {GOOD, GOOD};
		const char *ts = "congo=t61rcWkgMzE";
		const char *ts_out = NULL;

		check(weft_tp_accept(one, 1, ts, &p, &k, &ts_out) == WEFT_TP_VALID && ts_out == ts,
		      "valid parent: tracestate carried");
		check(!memcmp(k.trace_id, tid, 16) && memcmp(k.span_id, p.span_id, 8) &&
			  k.flags == 0x01,
		      "valid parent: child keeps trace-id and flags, new span-id");
		check(weft_tp_accept(two, 2, ts, &p, &k, &ts_out) == WEFT_TP_INVALID && !ts_out,
		      "invalid (duplicate): tracestate dropped");
		check(!p.valid && k.valid && memcmp(k.trace_id, tid, 16),
		      "invalid: a new trace is started");
		check(weft_tp_accept(NULL, 0, ts, &p, &k, &ts_out) == WEFT_TP_ABSENT && !ts_out &&
			  k.valid,
		      "absent: new trace, no tracestate");
	}

	/* generation */
	{
		struct weft_trace_ctx a, b;
		int nonzero = 1;

		weft_tp_new_trace(&a, true);
		weft_tp_new_trace(&b, false);
		check(a.flags == (WEFT_TP_FLAG_RANDOM | WEFT_TP_FLAG_SAMPLED),
		      "new sampled trace sets random|sampled flags");
		check(b.flags == WEFT_TP_FLAG_RANDOM, "new unsampled trace sets random flag only");
		check(memcmp(a.trace_id, b.trace_id, 16) && memcmp(a.span_id, b.span_id, 8),
		      "generated ids differ");
		for (int i = 0; i < 10000; i++) {
			weft_tp_new_trace(&a, true);
			if (is_zero(a.trace_id, 16) || is_zero(a.span_id, 8))
				nonzero = 0;
		}
		check(nonzero, "10000 generated ids are never all zero");
		weft_tp_format_str(&a, out);
		check(parses(out), "a generated context formats to a valid value");
		weft_tp_child(&a, &b);
		check(!memcmp(a.trace_id, b.trace_id, 16) && memcmp(a.span_id, b.span_id, 8) &&
			  b.flags == a.flags,
		      "child: same trace, new span-id, same flags");
	}

	/* hex helpers */
	{
		uint8_t bytes[4] = {0x00, 0xab, 0x10, 0xff};
		char hex[9];

		weft_hex_encode(hex, bytes, 4);
		check(!strcmp(hex, "00ab10ff"), "hex encode lowercase");
		check(weft_hex_decode(bytes, "00AB10FF", 4) < 0, "hex decode refuses uppercase");
	}

	printf("1..%d\n", n_run);
	if (n_fail)
		printf("# %d of %d checks failed\n", n_fail, n_run);
	return n_fail ? 1 : 0;
}

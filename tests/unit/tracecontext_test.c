// SPDX-License-Identifier: BSD-2-Clause
/* Unit tests of the W3C Trace Context codec, one rule per check (TAP output). */
#include <stdio.h>
#include <string.h>

/*
 * The BPF id generators (weft_tracecontext.h's __BPF_HELPERS__ part) run here
 * on scripted draws in place of bpf_get_prandom_u32.
 */
static unsigned int prandom_script[4], prandom_next;

static unsigned int bpf_get_prandom_u32(void)
{
	return prandom_script[prandom_next++ & 3];
}

#define __BPF_HELPERS__
#include "tracecontext.h"
#include "tests/lib/tap.h"

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

/* tracestate of s normalised into ts_out; the length or -1 */
static char ts_buf[WEFT_TS_STR_SIZE];

static int ts(const char *s)
{
	return weft_ts_parse(s, strlen(s), ts_buf);
}

/* s normalises to want */
static int ts_is(const char *s, const char *want)
{
	return ts(s) == (int)strlen(want) && !strcmp(ts_buf, want);
}

/* a list of n members "k<i>=v", separated by sep */
static void ts_list(char *buf, int n, const char *sep)
{
	buf[0] = '\0';
	for (int i = 0; i < n; i++)
		sprintf(buf + strlen(buf), "%sk%d=v", i ? sep : "", i);
}

static void tracestate_checks(void)
{
	char big[4096], want[1024], key[300];
	const char *lines[3];

	/* keys */
	check(ts_is("congo=t61rcWkgMzE", "congo=t61rcWkgMzE"), "simple key valid");
	check(ts_is("a0_-*/=1", "a0_-*/=1"), "key with digits and _-*/ valid");
	check(ts("Congo=1") < 0, "uppercase key invalid");
	check(ts("0abc=1") < 0, "simple key starting with a digit invalid");
	check(ts("ab.c=1") < 0, "key with '.' invalid");
	check(ts("=1") < 0, "empty key invalid");
	check(ts("k") < 0, "member without '=' invalid");
	check(ts("k =1") < 0, "space before '=' invalid");
	memset(key, 'k', 256);
	strcpy(key + 256, "=1");
	check(ts(key) == 258, "256-char key valid");
	memset(key, 'k', 257);
	strcpy(key + 257, "=1");
	check(ts(key) < 0, "257-char key invalid");

	/* vendor format tenant@system */
	check(ts_is("fw529a3039@dt=x", "fw529a3039@dt=x"), "tenant@system valid");
	check(ts_is("0tenant@sys=x", "0tenant@sys=x"), "tenant-id may start with a digit");
	check(ts("t@0sys=x") < 0, "system-id starting with a digit invalid");
	check(ts("t@=x") < 0, "empty system-id invalid");
	check(ts("@sys=x") < 0, "empty tenant-id invalid");
	check(ts("t@abcdefghijklmn=x") == 18, "14-char system-id valid");
	check(ts("t@abcdefghijklmno=x") < 0, "15-char system-id invalid");
	check(ts("a@b@c=x") < 0, "two '@' invalid");
	memset(key, 't', 241);
	strcpy(key + 241, "@s=1");
	check(ts(key) == 245, "241-char tenant-id valid");
	memset(key, 't', 242);
	strcpy(key + 242, "@s=1");
	check(ts(key) < 0, "242-char tenant-id invalid");

	/* values */
	check(ts("k=") < 0, "empty value invalid");
	check(ts("k=   ") < 0, "value of spaces only invalid");
	check(ts_is("k=a b", "k=a b"), "space inside a value kept");
	check(ts_is("k= a", "k= a"), "value may start with a space");
	check(ts("k=a,b") < 0, "member without '=' after a valid one invalid");
	check(ts("k=a=b") < 0, "'=' in a value invalid");
	check(ts("k=a\x7f") < 0, "DEL in a value invalid");
	check(ts("k=\xc3\xa9") < 0, "non-ASCII value invalid");
	check(ts("k=a\tb") < 0, "tab inside a value invalid");
	memset(big, 'v', 256);
	strcpy(big, "k=");
	memset(big + 2, 'v', 256);
	big[258] = '\0';
	check(ts(big) == 258, "256-char value valid");
	memset(big + 2, 'v', 257);
	big[259] = '\0';
	check(ts(big) < 0, "257-char value invalid");

	/* whitespace and empty members */
	check(ts_is(" \ta=1 ,\tb=2 \t", "a=1,b=2"), "optional whitespace dropped");
	check(ts_is("a=1,,, b=2,", "a=1,b=2"), "empty list members ignored");
	check(ts(" , ,") == 0 && ts_buf[0] == '\0', "only empty members: empty list");
	check(ts("") == 0, "empty value: empty list");
	check(ts("a=1 b=2") < 0, "members without ',' invalid");

	/* duplicated keys */
	check(ts("a=1,b=2,a=3") < 0, "duplicated key invalid");
	check(ts("t@s=1,t@s=2") < 0, "duplicated vendor key invalid");
	check(ts_is("t@s=1,t@r=2,s=3", "t@s=1,t@r=2,s=3"), "keys that differ are fine");

	/* member count */
	ts_list(big, 32, ",");
	check(ts_is(big, big), "32 members valid");
	ts_list(big, 33, ",");
	check(ts(big) < 0, "33 members invalid");
	ts_list(big, 32, " ,  ");
	ts_list(want, 32, ",");
	check(ts_is(big, want), "32 members with whitespace normalised");

	/* several header lines: one list */
	lines[0] = "a=1, b=2";
	lines[1] = " c=3";
	lines[2] = "";
	check(weft_ts_parse_headers(lines, NULL, 3, ts_buf) == 11 && !strcmp(ts_buf, "a=1,b=2,c=3"),
	      "header lines combined in order");
	lines[1] = "a=9";
	check(weft_ts_parse_headers(lines, NULL, 2, ts_buf) < 0 && !ts_buf[0],
	      "duplicate across header lines invalid");
	lines[1] = "B=9";
	check(weft_ts_parse_headers(lines, NULL, 2, ts_buf) < 0,
	      "one invalid line discards the whole value");

	/* the 512-character limit */
	big[0] = '\0';
	for (int i = 0; i < 20; i++)	/* 20 members of 30 chars: 619 */
		sprintf(big + strlen(big), "%sk%02d=%026d", i ? "," : "", i, i);
	check(ts(big) == 495 && !strncmp(ts_buf, big, 495),
	      "over 512: members removed from the end, a prefix of whole members kept");
	big[0] = '\0';
	for (int i = 0; i < 20; i++)	/* member 3 is 200 chars */
		sprintf(big + strlen(big), "%sk%02d=%0*d", i ? "," : "", i, i == 3 ? 196 : 26, i);
	ts(big);
	check(strlen(ts_buf) <= 512 && !strstr(ts_buf, "k03=") && strstr(ts_buf, "k16=") &&
	      !strstr(ts_buf, "k17="),
	      "over 512: the member over 128 chars removed first");
	ts_list(big, 20, ",");
	check(ts_is(big, big), "under 512: nothing removed");
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

	/* BPF generation (W3C Level 2: right-most 7 bytes of a trace id random) */
	{
		static const unsigned int draw[4] = {0x44332211, 0x88776655, 0xccbbaa99, 0};
		unsigned char id[16], sid[8];
		struct weft_trace_ctx nc;

		memcpy(prandom_script, draw, sizeof(draw));
		prandom_next = 0;
		weft_bpf_new_trace_id(id);
		check(!memcmp(id, draw, 16), "BPF trace id is the draw, no bit forced");
		memset(prandom_script, 0, sizeof(prandom_script));
		prandom_next = 0;
		weft_bpf_new_trace_id(id);
		check(id[0] == 1 && is_zero(id + 1, 15),
		      "BPF all-zero trace id draw: 01 in the left-most byte only");
		prandom_next = 0;
		weft_bpf_new_span_id(sid);
		check(sid[0] == 1 && is_zero(sid + 1, 7), "BPF all-zero span id draw: 01 first");
		memcpy(prandom_script, draw + 2, 2 * sizeof(draw[0]));
		prandom_next = 0;
		weft_bpf_new_span_id(sid);
		check(!memcmp(sid, draw + 2, 8), "BPF span id is the draw, no bit forced");
		memcpy(prandom_script, draw, sizeof(draw));
		prandom_next = 0;
		weft_bpf_new_trace(&nc, 1);
		check(!memcmp(nc.trace_id, draw, 16) && nc.valid &&
			  nc.flags == (WEFT_TP_FLAG_RANDOM | WEFT_TP_FLAG_SAMPLED),
		      "BPF new trace: trace id drawn as is, random|sampled");
	}

	/* hex helpers */
	{
		uint8_t bytes[4] = {0x00, 0xab, 0x10, 0xff};
		char hex[9];

		weft_hex_encode(hex, bytes, 4);
		check(!strcmp(hex, "00ab10ff"), "hex encode lowercase");
		check(weft_hex_decode(bytes, "00AB10FF", 4) < 0, "hex decode refuses uppercase");
	}

	tracestate_checks();
	printf("1..%d\n", n_run);
	if (n_fail)
		printf("# %d of %d checks failed\n", n_fail, n_run);
	return n_fail ? 1 : 0;
}

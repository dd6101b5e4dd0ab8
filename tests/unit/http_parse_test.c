// SPDX-License-Identifier: BSD-2-Clause
/*
 * The kernel-side parsers tested directly: bpf/net/http_parse.bpf.h (the byte
 * scanner fed in pieces, and the whole-block fast path; with bpf_loop and with
 * the bounded-loop fallback) and the BPF traceparent parser behind
 * weft_http_scan_tp (weft_tp_parse55), compiled for the host with the two
 * shims below, fed generated requests whose traceparent headers are valid,
 * mutated, repeated, absent, in any letter case and padded with spaces/tabs.
 * Each verdict must be common/tracecontext.c's on the same header values
 * (weft_tp_parse_headers), with one designed difference: BPF takes version
 * 00 only (user space also takes higher versions' 00 fields).
 *
 *   http_parse_test [REQUESTS] [SEED]    prints the seed; exit 0 when all agree
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/types.h>
#include "tracecontext.h"

/* What the header takes from the BPF side: the loop helper and its switch. */
static bool weft_have_bpf_loop = true;

static long bpf_loop(__u32 n, long (*cb)(__u32, void *), void *ctx, __u64 flags)
{
	for (__u32 i = 0; i < n; i++)
		if (cb(i, ctx))
			return i + 1;
	return n;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunknown-pragmas" /* clang's #pragma unroll */
#include "bpf/net/http_parse.bpf.h"
#pragma GCC diagnostic pop

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? (uint32_t)(rng % n) : 0;
}

struct req {
	char buf[2048];
	size_t len;
	int n_tp;
	char tp[3][128]; /* the traceparent values, as on the wire */
	const char *method, *path;
};

static void hexs(char *out, int n, bool zero)
{
	for (int i = 0; i < n; i++)
		out[i] = zero ? '0' : "0123456789abcdef"[rnd(16)];
}

/* A traceparent value: valid, or mutated one to three times. */
static void gen_value(char *v, size_t cap)
{
	static const char alphabet[] = "0123456789abcdefABCDEF-xz .\t";
	char s[128];
	size_t n = 55;

	memcpy(s, "00-", 3);
	hexs(s + 3, 32, rnd(20) == 0);
	s[35] = '-';
	hexs(s + 36, 16, rnd(20) == 0);
	s[52] = '-';
	hexs(s + 53, 2, false);
	for (int m = rnd(3) == 0 ? 1 + rnd(3) : 0; m > 0 && n > 0; m--) {
		size_t p = rnd(n);

		switch (rnd(7)) {
		case 0: /* replace a byte */
			s[p] = alphabet[rnd(sizeof(alphabet) - 1)];
			break;
		case 1: /* delete one */
			memmove(s + p, s + p + 1, n - p - 1);
			n--;
			break;
		case 2: /* insert one */
			if (n < 100) {
				memmove(s + p + 1, s + p, n - p);
				s[p] = alphabet[rnd(sizeof(alphabet) - 1)];
				n++;
			}
			break;
		case 3: /* another version */
			s[0] = "0123456789abcdefF"[rnd(17)];
			s[1] = "0123456789abcdefF"[rnd(17)];
			break;
		case 4: /* fields a higher version appends */
			if (n < 90) {
				memcpy(s + n, "-abc", 4);
				n += 4;
			}
			break;
		case 5: /* cut short */
			n = p;
			break;
		default: /* uppercase hex */
			if (s[p] >= 'a' && s[p] <= 'f')
				s[p] -= 32;
			break;
		}
	}
	/* optional whitespace around the value, which both sides trim */
	snprintf(v, cap, "%.*s%.*s%.*s", (int)rnd(3), " \t", (int)n, s, (int)rnd(3), "\t ");
}

static void gen_request(struct req *r)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH"};
	static const char *const paths[] = {"/", "/cart", "/a/b?c=d", "/x%20y"};
	const char *eol = rnd(10) ? "\r\n" : "\n";
	int at, n;

	r->method = methods[rnd(5)];
	r->path = paths[rnd(4)];
	n = rnd(10);
	r->n_tp = n == 0 ? 0 : n < 8 ? 1 : 2;
	at = rnd(3); /* the traceparent lines go before/among/after the others */
	r->len = (size_t)snprintf(r->buf, sizeof(r->buf), "%s %s HTTP/1.%d%s", r->method, r->path,
				  (int)rnd(2), eol);
	for (int line = 0; line < 3; line++) {
		if (line == at)
			for (int i = 0; i < r->n_tp; i++) {
				char name[12];

				memcpy(name, "traceparent", 12);
				for (int k = 0; k < 11; k++)
					if (rnd(4) == 0)
						name[k] -= 32;
				gen_value(r->tp[i], sizeof(r->tp[i]));
				r->len += (size_t)snprintf(r->buf + r->len, sizeof(r->buf) - r->len,
							   "%s:%s%s", name, r->tp[i], eol);
			}
		if (line == 0)
			r->len += (size_t)snprintf(r->buf + r->len, sizeof(r->buf) - r->len,
						   "Host: example.test%s", eol);
		if (line == 1 && rnd(2)) /* names that only start like traceparent */
			r->len += (size_t)snprintf(
			    r->buf + r->len, sizeof(r->buf) - r->len, "%s: 00-%032d-%016d-01%s",
			    rnd(2) ? "traceparents" : "x-traceparent", 1, 1, eol);
	}
	r->len += (size_t)snprintf(r->buf + r->len, sizeof(r->buf) - r->len, "%s", eol);
}

static int failures, ran;

static void report(const struct req *r, const char *how, const char *what)
{
	if (++failures > 10)
		return;
	printf("FAIL: %s (bpf_loop %s): %s; request:\n", how, weft_have_bpf_loop ? "on" : "off",
	       what);
	for (size_t i = 0; i < r->len; i++)
		fputs(r->buf[i] == '\r'	  ? "\\r"
		      : r->buf[i] == '\n' ? "\\n\n"
					  : (char[2]){r->buf[i], 0},
		      stdout);
}

/* One parse's results against the expected ones. */
static void judge(const struct req *r, const char *how, int ret, const struct weft_http_scan *s,
		  bool want_valid, const struct weft_trace_ctx *want)
{
	struct weft_trace_ctx got;
	bool valid;

	ran++;
	if (ret != WEFT_SCAN_DONE || s->hdr_end != r->len) {
		char w[96];

		snprintf(w, sizeof(w), "returned %d, header end %u of %zu", ret, s->hdr_end,
			 r->len);
		report(r, how, w);
		return;
	}
	if (s->method_len != strlen(r->method) || memcmp(s->method, r->method, s->method_len) ||
	    s->path_len != strlen(r->path) || memcmp(s->path, r->path, s->path_len))
		report(r, how, "method or path differ");
	memset(&got, 0, sizeof(got));
	valid = weft_http_scan_tp(s, &got) == 0;
	if (valid != want_valid)
		report(r, how,
		       valid ? "BPF accepts a traceparent user space rejects"
			     : "BPF rejects a traceparent user space accepts");
	else if (valid && (memcmp(got.trace_id, want->trace_id, 16) ||
			   memcmp(got.span_id, want->span_id, 8) || got.flags != want->flags))
		report(r, how, "BPF parsed other ids or flags than user space");
}

int main(int argc, char **argv)
{
	static struct weft_scratch sc;
	long n = argc > 1 ? atol(argv[1]) : 100000;
	int higher = 0, valid = 0, invalid = 0;

	rng = argc > 2 ? strtoull(argv[2], NULL, 10) : (uint64_t)time(NULL);
	printf("seed %llu (%s %ld %llu repeats this run)\n", (unsigned long long)rng, argv[0], n,
	       (unsigned long long)rng);
	rng = rng * 2654435761u + 1; /* never 0 */
	for (long i = 0; i < n; i++) {
		const char *vals[3];
		struct weft_trace_ctx want;
		struct weft_http_scan s;
		struct req r;
		bool want_valid;

		gen_request(&r);
		for (int k = 0; k < r.n_tp; k++)
			vals[k] = r.tp[k];
		want_valid = weft_tp_parse_headers(vals, r.n_tp, &want) == WEFT_TP_VALID;
		if (want_valid) {
			const char *v = r.tp[0] + strspn(r.tp[0], " \t");

			if (v[0] != '0' || v[1] != '0') { /* designed: BPF takes version 00 only */
				want_valid = false;
				higher++;
			}
		}
		want_valid ? valid++ : invalid++;
		for (int loop = 1; loop >= 0; loop--) {
			size_t off = 0;
			int ret = WEFT_SCAN_MORE;

			weft_have_bpf_loop = loop;
			/* the fast path, the block whole in the scratch buffer */
			memset(&sc, 0, sizeof(sc));
			memcpy(sc.buf, r.buf, r.len);
			weft_http_scan_init(&s);
			judge(&r, "parse_block", weft_http_parse_block(&s, sc.buf, r.len), &s,
			      want_valid, &want);
			/* the byte scanner, fed pieces (at most 32 bytes without bpf_loop) */
			weft_http_scan_init(&s);
			while (off < r.len && ret == WEFT_SCAN_MORE) {
				size_t piece = 1 + rnd(loop ? 200 : WEFT_SCAN_FALLBACK);

				if (piece > r.len - off)
					piece = r.len - off;
				memcpy(sc.buf, r.buf + off, piece);
				ret = weft_http_scan_run(&s, sc.buf, 0, (__u32)piece);
				off += piece;
			}
			judge(&r, "scan_run in pieces", ret, &s, want_valid, &want);
		}
	}
	printf("%ld requests, %d parses: %d with a valid traceparent, %d without (%d of a "
	       "higher version, BPF rejects by design); %d disagreements\n",
	       n, ran, valid, invalid, higher, failures);
	return failures ? 1 : 0;
}

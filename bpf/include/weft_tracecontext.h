/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * W3C Trace Context: the definitions and hex helpers shared by BPF programs
 * and user space. The full codec (parsing with every validity rule, random ids)
 * is in common/tracecontext.c for user space; BPF programs use the helpers here.
 *
 *   traceparent: 00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>
 */
#ifndef WEFT_TRACECONTEXT_H
#define WEFT_TRACECONTEXT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Full unrolling for the BPF verifier; gcc (user space) does not know the clang pragma. */
#ifdef __clang__
#define WEFT_UNROLL _Pragma("unroll")
#else
#define WEFT_UNROLL
#endif

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define WEFT_TRACE_ID_LEN	16
#define WEFT_SPAN_ID_LEN	8
#define WEFT_TRACEPARENT_LEN	55	/* value length for version 00 */
#define WEFT_TP_HEADER		"traceparent: "
#define WEFT_TP_HEADER_LEN	13
/* "traceparent: " + 55 + "\r\n" */
#define WEFT_TP_LINE_LEN	(WEFT_TP_HEADER_LEN + WEFT_TRACEPARENT_LEN + 2)

#define WEFT_TP_FLAG_SAMPLED	0x01
#define WEFT_TP_FLAG_RANDOM	0x02	/* Level 2: trace-id is random */
#define WEFT_TP_FLAGS_KNOWN	(WEFT_TP_FLAG_SAMPLED | WEFT_TP_FLAG_RANDOM)

/* A trace context: the ids of one span and its trace. */
struct weft_trace_ctx {
	__u8 trace_id[WEFT_TRACE_ID_LEN];
	__u8 span_id[WEFT_SPAN_ID_LEN];
	__u8 flags;
	__u8 valid;	/* 1 when the ids are set */
	__u8 _pad[6];
};

static const char weft_hex_digits[16] = "0123456789abcdef";

/* Lowercase hex digit value, or -1 (uppercase is invalid per W3C). */
static __always_inline int weft_hex_val(char c)
{
#ifdef __bpf__
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
#else
	/* user space: selects, not branches; the digits of random ids are a
	 * coin toss between digit and letter that a branch predictor loses half
	 * the time (perf: a third of a traceparent's parse) */
	unsigned d = (unsigned)(c - '0'), l = (unsigned)(c - 'a');
	int v = l < 6 ? (int)l + 10 : -1;

	return d < 10 ? (int)d : v;
#endif
}

/*
 * Arithmetic rather than a table lookup: a static const table in a BPF object
 * gets a bogus .rodata BTF entry once `bpftool gen object` links it, and the
 * kernel then rejects the object's BTF (maps that need BTF fail to load).
 */
static __always_inline char weft_hex_nibble(__u8 n)
{
	return n < 10 ? '0' + n : 'a' + (n - 10);
}

static __always_inline void weft_hex_byte(char *out, __u8 b)
{
	out[0] = weft_hex_nibble(b >> 4);
	out[1] = weft_hex_nibble(b & 0xf);
}

/*
 * Format the 55-byte traceparent value (no NUL) for ctx into out.
 * Unrolled so the BPF verifier sees constant offsets.
 */
static __always_inline void weft_tp_format(char out[WEFT_TRACEPARENT_LEN],
					   const struct weft_trace_ctx *ctx)
{
	out[0] = '0';
	out[1] = '0';
	out[2] = '-';
	WEFT_UNROLL
	for (int i = 0; i < WEFT_TRACE_ID_LEN; i++)
		weft_hex_byte(out + 3 + 2 * i, ctx->trace_id[i]);
	out[35] = '-';
	WEFT_UNROLL
	for (int i = 0; i < WEFT_SPAN_ID_LEN; i++)
		weft_hex_byte(out + 36 + 2 * i, ctx->span_id[i]);
	out[52] = '-';
	weft_hex_byte(out + 53, ctx->flags & WEFT_TP_FLAGS_KNOWN);
}

/*
 * Parse a version-00 traceparent value of exactly 55 bytes at s (already
 * trimmed). Returns 0 and fills ctx, or -1 when invalid. Higher versions and
 * whitespace trimming are handled by the user-space codec; BPF programs call
 * this on the fixed-position fields, which is what W3C requires of version 00.
 */
static __always_inline int weft_tp_parse55(const char *s, struct weft_trace_ctx *ctx)
{
	__u8 zt = 0, zs = 0;
	int hi, lo;

	if (s[0] != '0' || s[1] != '0' || s[2] != '-' || s[35] != '-' || s[52] != '-')
		return -1;
	WEFT_UNROLL
	for (int i = 0; i < WEFT_TRACE_ID_LEN; i++) {
		hi = weft_hex_val(s[3 + 2 * i]);
		lo = weft_hex_val(s[4 + 2 * i]);
		if (hi < 0 || lo < 0)
			return -1;
		ctx->trace_id[i] = (__u8)(hi << 4 | lo);
		zt |= ctx->trace_id[i];
	}
	WEFT_UNROLL
	for (int i = 0; i < WEFT_SPAN_ID_LEN; i++) {
		hi = weft_hex_val(s[36 + 2 * i]);
		lo = weft_hex_val(s[37 + 2 * i]);
		if (hi < 0 || lo < 0)
			return -1;
		ctx->span_id[i] = (__u8)(hi << 4 | lo);
		zs |= ctx->span_id[i];
	}
	hi = weft_hex_val(s[53]);
	lo = weft_hex_val(s[54]);
	if (hi < 0 || lo < 0 || !zt || !zs)
		return -1;
	ctx->flags = (__u8)(hi << 4 | lo) & WEFT_TP_FLAGS_KNOWN;
	ctx->valid = 1;
	return 0;
}

#ifdef __BPF_HELPERS__
/*
 * Random ids in BPF (include this header after <bpf/bpf_helpers.h>):
 * bpf_get_prandom_u32, never all zero. User space uses getrandom(2) through
 * common/tracecontext.h (it redraws an all-zero id).
 *
 * W3C Trace Context Level 2: a trace id with the random flag has random
 * right-most 7 bytes, so no bit is ever forced there. The one draw of all
 * zeros (2^-128) becomes 01 in the left-most byte, which Level 2 leaves free.
 */
static __always_inline void weft_bpf_new_trace_id(__u8 id[WEFT_TRACE_ID_LEN])
{
	__u32 r[4];

	r[0] = bpf_get_prandom_u32();
	r[1] = bpf_get_prandom_u32();
	r[2] = bpf_get_prandom_u32();
	r[3] = bpf_get_prandom_u32();
	__builtin_memcpy(id, r, WEFT_TRACE_ID_LEN);
	if (!(r[0] | r[1] | r[2] | r[3]))
		id[0] = 1;
}

/* A random span id; the all-zero draw (2^-64) becomes 01 in its first byte. */
static __always_inline void weft_bpf_new_span_id(__u8 id[WEFT_SPAN_ID_LEN])
{
	__u32 a = bpf_get_prandom_u32(), b = bpf_get_prandom_u32();

	__builtin_memcpy(id, &a, 4);
	__builtin_memcpy(id + 4, &b, 4);
	if (!(a | b))
		id[0] = 1;
}

static __always_inline void weft_bpf_random_span_id(struct weft_trace_ctx *ctx)
{
	weft_bpf_new_span_id(ctx->span_id);
}

/* Two trace ids (16 bytes) equal, without a data-dependent branch per byte. */
static __always_inline bool weft_trace_id_eq(const __u8 *a, const __u8 *b)
{
	__u8 d = 0;

#ifdef __clang__ /* the BPF build; gcc (user space) has no such pragma */
#pragma unroll
#endif
	for (int i = 0; i < WEFT_TRACE_ID_LEN; i++)
		d |= a[i] ^ b[i];
	return !d;
}

/* Two span ids (8 bytes) equal. */
static __always_inline bool weft_span_id_eq(const __u8 *a, const __u8 *b)
{
	__u64 x, y;

	__builtin_memcpy(&x, a, WEFT_SPAN_ID_LEN);
	__builtin_memcpy(&y, b, WEFT_SPAN_ID_LEN);
	return x == y;
}

/* A new trace: random trace id and span id, flags random | sampled. */
static __always_inline void weft_bpf_new_trace(struct weft_trace_ctx *ctx, __u8 sampled)
{
	weft_bpf_new_trace_id(ctx->trace_id);
	weft_bpf_new_span_id(ctx->span_id);
	ctx->flags = WEFT_TP_FLAG_RANDOM | (sampled ? WEFT_TP_FLAG_SAMPLED : 0);
	ctx->valid = 1;
}
#endif /* __BPF_HELPERS__ */

#endif /* WEFT_TRACECONTEXT_H */

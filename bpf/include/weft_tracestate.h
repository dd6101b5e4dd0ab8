/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * W3C tracestate, parsed and normalised one byte at a time: the one
 * implementation of the rules, driven by BPF programs (bpf_loop over the
 * header bytes) and by the user-space codec (common/tracecontext.h), so what
 * goes on the wire and what the unit tests check is the same code.
 *
 *   list        = list-member 0*31( OWS "," OWS list-member )
 *   list-member = key "=" value / OWS              (empty members ignored)
 *   key         = lcalpha 0*255( lcalpha / DIGIT / "_" / "-" / "*" / "/" )
 *               / tenant-id "@" system-id
 *   tenant-id   = ( lcalpha / DIGIT ) 0*240( same set )
 *   system-id   = lcalpha 0*13( same set )
 *   value       = 0*255( %x20 / nblk-chr ) nblk-chr
 *   nblk-chr    = %x21-2B / %x2D-3C / %x3E-7E
 *
 * Several header lines form one list: feed ',' between them. Any invalid
 * member, a duplicated key or more than 32 members makes the whole value
 * invalid (discarded). The output is the members joined by "," without the
 * optional whitespace. At most WEFT_TS_MAX characters are carried: when the
 * list is longer, members longer than 128 characters are removed first
 * (a second pass with drop_long set), then members from the end.
 *
 * Duplicated keys are found by comparing 64-bit FNV-1a hashes of the keys.
 *
 *   weft_ts_init(st, drop_long)   start a pass
 *   weft_ts_byte(st, c)           feed one byte of a value
 *   weft_ts_byte(st, ',')         between two header lines
 *   weft_ts_end(st)               finish: st->out_len bytes in st->out, or
 *                                 -1 when invalid; 1 when a second pass with
 *                                 drop_long would keep more (over the limit
 *                                 and a member longer than 128)
 */
#ifndef WEFT_TRACESTATE_H
#define WEFT_TRACESTATE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define WEFT_TS_MAX		512	/* characters carried (power of two: masked index) */
#define WEFT_TS_MEMBERS_MAX	32
#define WEFT_TS_KEY_MAX		256
#define WEFT_TS_TENANT_MAX	241
#define WEFT_TS_SYSTEM_MAX	14
#define WEFT_TS_VALUE_MAX	256
#define WEFT_TS_LONG_MEMBER	128	/* removed first when the list is too long */
#define WEFT_TS_HEADER		"tracestate: "
#define WEFT_TS_HEADER_LEN	12

enum weft_ts_phase {
	WEFT_TS_OWS0 = 0,	/* before a member */
	WEFT_TS_KEY,
	WEFT_TS_VALUE,
	WEFT_TS_OWS1,		/* whitespace after a value */
};

struct weft_ts_state {
	__u64 keys[WEFT_TS_MEMBERS_MAX];	/* key hashes of the members so far */
	__u64 hash;		/* of the key being read */
	__u16 out_len;		/* bytes kept in out (may pass WEFT_TS_MAX mid-member) */
	__u16 mem_start;	/* out_len before the current member */
	__u16 total;		/* normalised length of the whole list */
	__u16 key_len;
	__u16 val_len;
	__u16 tenant_len;	/* key bytes before '@'; 0: no '@' */
	__u8 phase;		/* enum weft_ts_phase */
	__u8 nmembers;
	__u8 invalid;
	__u8 pending_sp;	/* spaces inside a value, written once a char follows */
	__u8 drop_long;		/* second pass: drop members over 128 characters */
	__u8 full;		/* a member did not fit: no later one is kept */
	__u8 had_long;		/* a member over 128 characters was seen */
	__u8 key_digit;		/* the key starts with a digit (tenant-id only) */
	char out[WEFT_TS_MAX];
};

static __always_inline void weft_ts_init(struct weft_ts_state *st, __u8 drop_long)
{
	__builtin_memset(st, 0, sizeof(*st) - WEFT_TS_MAX);
	st->drop_long = drop_long;
}

static __always_inline void weft_ts_put(struct weft_ts_state *st, char c)
{
	if (st->out_len < WEFT_TS_MAX)
		st->out[st->out_len & (WEFT_TS_MAX - 1)] = c;
	if (st->out_len < 0xffff)
		st->out_len++;
}

static __always_inline int weft_ts_keychar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
	       c == '*' || c == '/';
}

/* '=' after a key: check its grammar and that it is new. */
static __always_inline void weft_ts_key_done(struct weft_ts_state *st)
{
	__u16 sys;

	if (st->tenant_len) {
		sys = st->key_len - st->tenant_len - 1;
		if (sys < 1 || sys > WEFT_TS_SYSTEM_MAX || st->tenant_len > WEFT_TS_TENANT_MAX)
			st->invalid = 1;
	} else if (st->key_digit || st->key_len > WEFT_TS_KEY_MAX) {
		st->invalid = 1;
	}
	if (st->nmembers >= WEFT_TS_MEMBERS_MAX)
		st->invalid = 1;
	for (__u32 i = 0; i < WEFT_TS_MEMBERS_MAX; i++) {
		if (i >= st->nmembers)
			break;
		if (st->keys[i] == st->hash)
			st->invalid = 1;
	}
	st->keys[st->nmembers & (WEFT_TS_MEMBERS_MAX - 1)] = st->hash;
	st->phase = WEFT_TS_VALUE;
	st->val_len = 0;
	st->pending_sp = 0;
}

/* The end of a member (',' or the end of the list). */
static __always_inline void weft_ts_member_done(struct weft_ts_state *st)
{
	__u16 mlen = st->key_len + 1 + st->val_len;

	if (st->phase == WEFT_TS_KEY || !st->val_len) {
		st->invalid = 1;
		return;
	}
	st->total += (st->nmembers ? 1 : 0) + mlen;
	st->nmembers++;
	if (mlen > WEFT_TS_LONG_MEMBER)
		st->had_long = 1;
	if (st->drop_long && mlen > WEFT_TS_LONG_MEMBER) {
		st->out_len = st->mem_start;
	} else if (st->full || st->out_len > WEFT_TS_MAX) {
		st->out_len = st->mem_start;
		st->full = 1;
	}
	st->phase = WEFT_TS_OWS0;
}

static __always_inline void weft_ts_byte(struct weft_ts_state *st, char c)
{
	if (st->invalid)
		return;
	switch (st->phase) {
	case WEFT_TS_OWS0:
		if (c == ' ' || c == '\t' || c == ',')
			return;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
			st->invalid = 1;
			return;
		}
		st->phase = WEFT_TS_KEY;
		st->mem_start = st->out_len;
		if (st->out_len)
			weft_ts_put(st, ',');
		st->key_len = 0;
		st->tenant_len = 0;
		st->key_digit = c <= '9';
		st->hash = 0xcbf29ce484222325ULL;
		break;
	case WEFT_TS_KEY:
		if (c == '=') {
			weft_ts_key_done(st);
			weft_ts_put(st, c);
			return;
		}
		if (c == '@') {
			if (st->tenant_len)
				st->invalid = 1;
			st->tenant_len = st->key_len;
		} else if (!weft_ts_keychar(c) ||
			   (st->tenant_len && st->key_len == st->tenant_len + 1 &&
			    !(c >= 'a' && c <= 'z'))) {
			st->invalid = 1;	/* the system-id starts with lcalpha */
			return;
		}
		break;
	case WEFT_TS_VALUE:
		if (c == ' ') {
			st->pending_sp++;
			return;
		}
		if (c == '\t') {
			st->phase = WEFT_TS_OWS1;
			return;
		}
		if (c == ',') {
			weft_ts_member_done(st);
			return;
		}
		if (c < 0x21 || c > 0x7e || c == '=') {
			st->invalid = 1;
			return;
		}
		for (__u32 i = 0; i < WEFT_TS_VALUE_MAX; i++) {
			if (i >= st->pending_sp)
				break;
			weft_ts_put(st, ' ');
		}
		st->val_len += st->pending_sp + 1;
		st->pending_sp = 0;
		if (st->val_len > WEFT_TS_VALUE_MAX)
			st->invalid = 1;
		weft_ts_put(st, c);
		return;
	default: /* WEFT_TS_OWS1 */
		if (c == ',')
			weft_ts_member_done(st);
		else if (c != ' ' && c != '\t')
			st->invalid = 1;
		return;
	}
	/* a key byte */
	if (st->key_len >= WEFT_TS_KEY_MAX + 1) {
		st->invalid = 1;
		return;
	}
	st->key_len++;
	st->hash = (st->hash ^ (__u8)c) * 0x100000001b3ULL;
	weft_ts_put(st, c);
}

/*
 * The end of the list. Returns -1 (invalid: discard it), 0 (st->out holds
 * st->out_len normalised bytes; 0 bytes: no tracestate), or 1: the list is
 * longer than WEFT_TS_MAX and has members over 128 characters: run a second
 * pass with drop_long = 1 over the same bytes for a fuller result.
 */
static __always_inline int weft_ts_end(struct weft_ts_state *st)
{
	if (!st->invalid && st->phase != WEFT_TS_OWS0)
		weft_ts_member_done(st);
	if (st->invalid) {
		st->out_len = 0;
		return -1;
	}
	if (st->out_len > WEFT_TS_MAX)
		st->out_len = st->mem_start;
	if (!st->drop_long && st->total > WEFT_TS_MAX && st->had_long)
		return 1;
	return 0;
}

#endif /* WEFT_TRACESTATE_H */

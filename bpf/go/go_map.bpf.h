/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Find the traceparent value in a Go http.Header (map[string][]string) from
 * BPF, by walking the map's buckets.
 *
 * Layout of a map bucket for map[string][]string on amd64, the same from Go
 * 1.17 to 1.23 (Go 1.24 replaced it with Swiss tables; weft-go then reports
 * the map as unreadable): tophash [8]uint8 at 0, keys [8]string at 8 (16 bytes
 * each), values [8][]string at 136 (24 bytes each), overflow pointer at 328.
 * The hmap header offsets (count, B, buckets, oldbuckets) come from the
 * binary's offsets record. The walk is bounded: at most 2^GO_MAP_MAX_B buckets
 * with one overflow bucket each; a bigger or growing map is "unknown", which
 * makes the caller fail closed (no write).
 */
#ifndef WEFT_GO_MAP_BPF_H
#define WEFT_GO_MAP_BPF_H
/* Included by one BPF object only (weft_go.bpf.c): it defines global functions. */

#include "go/weft_go.h"
#include "weft_tracecontext.h"

#define GO_BUCKET_SLOTS 8
#define GO_BUCKET_KEYS 8
#define GO_BUCKET_VALUES 136
#define GO_BUCKET_OVERFLOW 328
#define GO_BUCKET_SIZE 336
#define GO_MIN_TOPHASH 5   /* smaller tophash values mark empty slots */
#define GO_MAP_MAX_B 3	   /* at most 8 buckets (52 headers) are walked */
#define GO_MAP_MAX_CHAIN 2 /* a bucket and one overflow bucket */

enum go_tp_result {
	GO_TP_NONE = 0,	   /* no traceparent key */
	GO_TP_VALID = 1,   /* exactly one key with exactly one valid value */
	GO_TP_INVALID = 2, /* present but invalid, or more than one */
	GO_TP_UNKNOWN = 3, /* the map could not be read completely */
};

struct go_string {
	__u64 ptr;
	__s64 len;
};

struct go_slice {
	__u64 ptr;
	__s64 len;
	__s64 cap;
};

/* runtime.hmap's first 32 bytes, as the offsets record gives them for Go 1.17-1.23. */
struct go_hmap_head {
	__s64 count;
	__u8 flags;
	__u8 b;
	__u16 noverflow;
	__u32 hash0;
	__u64 buckets;
	__u64 oldbuckets;
};

struct go_bucket_head {
	__u8 tophash[GO_BUCKET_SLOTS];
	struct go_string keys[GO_BUCKET_SLOTS];
};

static __always_inline bool go_key_is_traceparent(const struct go_string *k)
{
	static const char want[] = "traceparent";
	char s[11];
	__u8 d = 0;

	if (k->len != 11 || !k->ptr)
		return false;
	if (bpf_probe_read_user(s, sizeof(s), (void *)k->ptr))
		return false;
		/* Case-insensitive, without a branch per byte (every byte is a letter). */
#pragma unroll
	for (int i = 0; i < 11; i++)
		d |= (__u8)(s[i] | 0x20) ^ (__u8)want[i];
	return d == 0;
}

/* Lowercase hex digit value + 1; 0 for everything else (uppercase is invalid). */
static const volatile __u8 go_hexval[256] = {
    ['0'] = 1, ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

/* Branch-free hex decoding keeps the verifier's work linear; bad < 0 if invalid. */
static __always_inline __u8 go_hex2(const char *s, int *bad)
{
	int hi = (int)go_hexval[(__u8)s[0]] - 1, lo = (int)go_hexval[(__u8)s[1]] - 1;

	*bad |= hi | lo;
	return (__u8)((hi << 4) | (lo & 0xf));
}

/*
 * Parse one traceparent value (already trimmed by net/textproto) per W3C:
 * version 00 is exactly 55 chars; a higher version (not ff) is read at the
 * version-00 positions if what follows them starts with '-'.
 */
__noinline int go_parse_traceparent(const struct go_string *v, struct weft_trace_ctx *out)
{
	char s[WEFT_TRACEPARENT_LEN + 1];
	__u8 ver, zt = 0, zs = 0;
	int bad = 0;

	if (!v || !out || v->len < WEFT_TRACEPARENT_LEN || !v->ptr)
		return -1;
	if (v->len == WEFT_TRACEPARENT_LEN) {
		if (bpf_probe_read_user(s, WEFT_TRACEPARENT_LEN, (void *)v->ptr))
			return -1;
		s[WEFT_TRACEPARENT_LEN] = '-';
	} else if (bpf_probe_read_user(s, sizeof(s), (void *)v->ptr)) {
		return -1;
	}
	ver = go_hex2(s, &bad);
	if (ver == 0xff || (ver == 0 && v->len != WEFT_TRACEPARENT_LEN))
		return -1;
	if (s[2] != '-' || s[35] != '-' || s[52] != '-' || s[WEFT_TRACEPARENT_LEN] != '-')
		return -1;
	for (int i = 0; i < WEFT_TRACE_ID_LEN; i++) {
		out->trace_id[i] = go_hex2(s + 3 + 2 * i, &bad);
		zt |= out->trace_id[i];
	}
	for (int i = 0; i < WEFT_SPAN_ID_LEN; i++) {
		out->span_id[i] = go_hex2(s + 36 + 2 * i, &bad);
		zs |= out->span_id[i];
	}
	out->flags = go_hex2(s + 53, &bad) & WEFT_TP_FLAGS_KNOWN;
	if (bad < 0 || !zt || !zs)
		return -1;
	out->valid = 1;
	return 0;
}

struct go_walk {
	__u64 buckets;
	__u64 bkt; /* bucket being walked (a primary or its overflow) */
	/* One after the other: the map's header, then the traceparent value found (the
	 * union keeps go_header_traceparent's frame within the 512-byte stack of a
	 * three-deep call chain on 6.1 kernels). */
	union {
		struct go_hmap_head h;
		struct go_string val;
	};
	int found;
	int result; /* GO_TP_UNKNOWN or GO_TP_INVALID once decided */
};

/* bpf_loop callback: visit i = bucket * GO_MAP_MAX_CHAIN + chain position. */
static int go_walk_step(__u32 i, void *arg)
{
	struct go_walk *w = arg;
	struct go_bucket_head head;
	struct go_slice vals;
	__u32 c = i % GO_MAP_MAX_CHAIN;

	if (c == 0)
		w->bkt = w->buckets + (__u64)(i / GO_MAP_MAX_CHAIN) * GO_BUCKET_SIZE;
	if (!w->bkt)
		return 0;
	if (bpf_probe_read_user(&head, sizeof(head), (void *)w->bkt))
		goto unknown;
	for (int s = 0; s < GO_BUCKET_SLOTS; s++) {
		if (head.tophash[s] < GO_MIN_TOPHASH)
			continue;
		if (!go_key_is_traceparent(&head.keys[s]))
			continue;
		if (++w->found > 1) {
			w->result = GO_TP_INVALID;
			return 1;
		}
		if (bpf_probe_read_user(&vals, sizeof(vals),
					(void *)(w->bkt + GO_BUCKET_VALUES + s * 24)))
			goto unknown;
		if (vals.len != 1) {
			w->result = GO_TP_INVALID;
			return 1;
		}
		if (bpf_probe_read_user(&w->val, sizeof(w->val), (void *)vals.ptr))
			goto unknown;
	}
	if (bpf_probe_read_user(&w->bkt, sizeof(w->bkt), (void *)(w->bkt + GO_BUCKET_OVERFLOW)))
		goto unknown;
	if (c == GO_MAP_MAX_CHAIN - 1 && w->bkt)
		goto unknown; /* a longer overflow chain than we walk */
	return 0;
unknown:
	w->result = GO_TP_UNKNOWN;
	return 1;
}

/*
 * Look for traceparent in the Go map at hmap; fill out when GO_TP_VALID.
 * Global functions (this one and go_parse_traceparent) are verified once per
 * program, whatever the caller's state: start-up stays short.
 */
__noinline int go_header_traceparent(const struct weft_go_cfg *cfg, __u64 hmap,
				     struct weft_trace_ctx *out)
{
	struct go_walk w = {};
	__u8 b;

	if (!cfg || !out)
		return GO_TP_UNKNOWN;
	if (!(cfg->flags & WEFT_GO_CFG_MAPWALK) || cfg->hmap_count < 0 || cfg->hmap_b < 0 ||
	    cfg->hmap_buckets < 0 || cfg->hmap_oldbuckets < 0)
		return GO_TP_UNKNOWN;
	if (!hmap)
		return GO_TP_NONE;
	if (cfg->hmap_count == 0 && cfg->hmap_b == 9 && cfg->hmap_buckets == 16 &&
	    cfg->hmap_oldbuckets == 24) {
		/* The layout of every Go from 1.17 to 1.23: one read for the header. */
		if (bpf_probe_read_user(&w.h, sizeof(w.h), (void *)hmap))
			return GO_TP_UNKNOWN;
	} else if (bpf_probe_read_user(&w.h.count, sizeof(w.h.count),
				       (void *)(hmap + cfg->hmap_count)) ||
		   bpf_probe_read_user(&w.h.b, sizeof(w.h.b), (void *)(hmap + cfg->hmap_b)) ||
		   bpf_probe_read_user(&w.h.buckets, sizeof(w.h.buckets),
				       (void *)(hmap + cfg->hmap_buckets)) ||
		   bpf_probe_read_user(&w.h.oldbuckets, sizeof(w.h.oldbuckets),
				       (void *)(hmap + cfg->hmap_oldbuckets))) {
		return GO_TP_UNKNOWN;
	}
	if (w.h.count == 0)
		return GO_TP_NONE;
	if (w.h.count < 0 || w.h.oldbuckets || !w.h.buckets || w.h.b > GO_MAP_MAX_B)
		return GO_TP_UNKNOWN;
	w.buckets = w.h.buckets;
	b = w.h.b;
	__builtin_memset(&w.h, 0, sizeof(w.h)); /* now the value found */
	bpf_loop((1U << b) * GO_MAP_MAX_CHAIN, go_walk_step, &w, 0);
	if (w.result)
		return w.result;
	if (!w.found)
		return GO_TP_NONE;
	return go_parse_traceparent(&w.val, out) ? GO_TP_INVALID : GO_TP_VALID;
}

#endif /* WEFT_GO_MAP_BPF_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Find the traceparent value (and the tracestate values) in a Go http.Header
 * (map[string][]string) from BPF, by walking the map's buckets.
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
/*
 * Included by every unit of weft-go's object (go/go_shared.bpf.h): its global
 * functions are defined in the owning unit only, the others see prototypes
 * (WEFT_LINK_EXTERN, weft_link.h) that the linker resolves.
 */

#include "go/weft_go.h"
#include "weft_tracecontext.h"
#include "weft_tracestate.h"

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

#define GO_TS_LINES 4	   /* tracestate header lines read (more: discarded) */
#define GO_TS_LINE_MAX 4096 /* bytes of one line (longer: discarded) */

/* The tracestate values a request carries (header lines, or HTTP/2 fields), in order. */
struct go_ts_lines {
	struct go_string v[GO_TS_LINES];
	__s32 n; /* values in v; more than GO_TS_LINES: the list is discarded */
	__u32 _pad;
};

#ifdef WEFT_LINK_EXTERN
/* Defined once, in the unit that owns the shared maps (weft_link.h). */
extern int go_parse_traceparent(const struct go_string *v, struct weft_trace_ctx *out);
extern int go_header_traceparent(const struct weft_go_cfg *cfg, __u64 hmap,
				 struct weft_trace_ctx *out);
extern int go_header_has_tracestate(const struct weft_go_cfg *cfg, __u64 hmap);
extern int go_header_tracestate(const struct weft_go_cfg *cfg, __u64 hmap,
				struct weft_ts_state *st);
extern int go_ts_parse_lines(const struct go_ts_lines *l, struct weft_ts_state *st);
extern int go_ts_feed_value(struct weft_ts_state *st, __u64 ptr, __s64 len, int first);
#else

/* Key k is want (n <= 11 lowercase letters), in any letter case. */
static __always_inline bool go_key_eq(const struct go_string *k, const char *want, int n)
{
	char s[11] = {};
	__u8 d = 0;

	if (k->len != n || !k->ptr)
		return false;
	if (bpf_probe_read_user(s, n, (void *)k->ptr))
		return false;
		/* Case-insensitive, without a branch per byte (every byte is a letter). */
#pragma unroll
	for (int i = 0; i < 11; i++)
		if (i < n)
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
	int ts;	    /* looking for tracestate: val = its values ([]string ptr, len) */
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
		if (!(w->ts ? go_key_eq(&head.keys[s], "tracestate", 10)
			    : go_key_eq(&head.keys[s], "traceparent", 11)))
			continue;
		if (++w->found > 1) {
			w->result = GO_TP_INVALID;
			return 1;
		}
		if (bpf_probe_read_user(&vals, sizeof(vals),
					(void *)(w->bkt + GO_BUCKET_VALUES + s * 24)))
			goto unknown;
		if (w->ts) {
			w->val.ptr = vals.ptr;
			w->val.len = vals.len;
			continue;
		}
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
 * Walk the Go map at hmap for w's key: GO_TP_VALID when found (w->val set),
 * GO_TP_NONE, GO_TP_INVALID (twice) or GO_TP_UNKNOWN.
 */
static __always_inline int go_map_find(const struct weft_go_cfg *cfg, __u64 hmap,
				       struct go_walk *w)
{
	__u8 b;

	if (!(cfg->flags & WEFT_GO_CFG_MAPWALK) || cfg->hmap_count < 0 || cfg->hmap_b < 0 ||
	    cfg->hmap_buckets < 0 || cfg->hmap_oldbuckets < 0)
		return GO_TP_UNKNOWN;
	if (!hmap)
		return GO_TP_NONE;
	if (cfg->hmap_count == 0 && cfg->hmap_b == 9 && cfg->hmap_buckets == 16 &&
	    cfg->hmap_oldbuckets == 24) {
		/* The layout of every Go from 1.17 to 1.23: one read for the header. */
		if (bpf_probe_read_user(&w->h, sizeof(w->h), (void *)hmap))
			return GO_TP_UNKNOWN;
	} else if (bpf_probe_read_user(&w->h.count, sizeof(w->h.count),
				       (void *)(hmap + cfg->hmap_count)) ||
		   bpf_probe_read_user(&w->h.b, sizeof(w->h.b), (void *)(hmap + cfg->hmap_b)) ||
		   bpf_probe_read_user(&w->h.buckets, sizeof(w->h.buckets),
				       (void *)(hmap + cfg->hmap_buckets)) ||
		   bpf_probe_read_user(&w->h.oldbuckets, sizeof(w->h.oldbuckets),
				       (void *)(hmap + cfg->hmap_oldbuckets))) {
		return GO_TP_UNKNOWN;
	}
	if (w->h.count == 0)
		return GO_TP_NONE;
	if (w->h.count < 0 || w->h.oldbuckets || !w->h.buckets || w->h.b > GO_MAP_MAX_B)
		return GO_TP_UNKNOWN;
	w->buckets = w->h.buckets;
	b = w->h.b;
	__builtin_memset(&w->h, 0, sizeof(w->h)); /* now the value found */
	bpf_loop((1U << b) * GO_MAP_MAX_CHAIN, go_walk_step, w, 0);
	if (w->result)
		return w->result;
	return w->found ? GO_TP_VALID : GO_TP_NONE;
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
	int r;

	if (!cfg || !out)
		return GO_TP_UNKNOWN;
	r = go_map_find(cfg, hmap, &w);
	if (r != GO_TP_VALID)
		return r;
	return go_parse_traceparent(&w.val, out) ? GO_TP_INVALID : GO_TP_VALID;
}

/*
 * Has the Go map at hmap a tracestate key (any letter case)? GO_TP_NONE: no;
 * GO_TP_VALID or GO_TP_INVALID: yes (once, or more); GO_TP_UNKNOWN: unreadable.
 */
__noinline int go_header_has_tracestate(const struct weft_go_cfg *cfg, __u64 hmap)
{
	struct go_walk w = {.ts = 1};

	if (!cfg)
		return GO_TP_UNKNOWN;
	return go_map_find(cfg, hmap, &w);
}

/* Feeding one tracestate value to the parser, 64 bytes at a time. */
struct go_ts_feed {
	struct weft_ts_state *st;
	__u64 ptr;
	__s64 len;
};

struct go_ts_chunk {
	struct weft_ts_state *st;
	char c[64];
};

static long go_ts_byte_cb(__u32 i, void *arg)
{
	struct go_ts_chunk *k = arg;

	weft_ts_byte(k->st, k->c[i & 63]);
	return 0;
}

static long go_ts_chunk_cb(__u32 i, void *arg)
{
	struct go_ts_feed *f = arg;
	struct go_ts_chunk k = {.st = f->st};
	__s64 off = (__s64)i * 64, n = f->len - off;

	if (n <= 0)
		return 1;
	if (n > 64)
		n = 64;
	if (bpf_probe_read_user(k.c, n, (void *)(f->ptr + off))) {
		f->st->invalid = 1;
		return 1;
	}
	bpf_loop(n, go_ts_byte_cb, &k, 0);
	return 0;
}

/*
 * One tracestate value (len bytes at ptr in the target) fed to the parser,
 * after a ',' unless it is the first: a global function, verified once per
 * program instead of once per line and pass of go_ts_parse (its bpf_loop
 * callbacks made most of the verifier's work). 0, or -1 (bad length).
 */
__noinline int go_ts_feed_value(struct weft_ts_state *st, __u64 ptr, __s64 len, int first)
{
	struct go_ts_feed f = {.st = st, .ptr = ptr, .len = len};

	if (!st || len < 0 || len > GO_TS_LINE_MAX)
		return -1;
	if (!first)
		weft_ts_byte(st, ',');
	bpf_loop(GO_TS_LINE_MAX / 64, go_ts_chunk_cb, &f, 0);
	return 0;
}

/*
 * Parse n tracestate values by the W3C rules (all of them as one list) into
 * st: the normalised length (0: none), or -1 (invalid, too many or
 * unreadable: discard). The values are l's (kernel memory), or, without l,
 * the Go strings at uarr (a []string's array in the target). Inlined into
 * each caller with one of them constant: no frame of its own (the 6.1
 * verifier's 512-byte combined stack is tight under go_serve_entry).
 */
static __always_inline int go_ts_parse(struct weft_ts_state *st, const struct go_ts_lines *l,
				       __u64 uarr, __s64 n)
{
	struct go_string v;
	int r = 0;

	if (n < 0 || n > GO_TS_LINES)
		return -1;
	if (!n)
		return 0;
	for (int pass = 0; pass < 2; pass++) {
		weft_ts_init(st, pass);
		for (int i = 0; i < GO_TS_LINES; i++) {
			if (i >= n)
				break;
			if (l)
				v = l->v[i];
			else if (bpf_probe_read_user(&v, sizeof(v), (void *)(uarr + i * 16)))
				return -1;
			if (go_ts_feed_value(st, v.ptr, v.len, !i))
				return -1;
		}
		r = weft_ts_end(st);
		if (r != 1)
			break;
	}
	return r < 0 ? -1 : st->out_len;
}

/* The tracestate values l holds (HTTP/2 header fields), parsed into st as above. */
__noinline int go_ts_parse_lines(const struct go_ts_lines *l, struct weft_ts_state *st)
{
	if (!l || !st)
		return -1;
	return go_ts_parse(st, l, 0, l->n);
}

/*
 * The tracestate of the Go map at hmap, parsed by the W3C rules (all its
 * header lines as one list) into st: the normalised length (0: none), or -1
 * (invalid or unreadable: discard). st is the caller's (too big for a stack).
 */
__noinline int go_header_tracestate(const struct weft_go_cfg *cfg, __u64 hmap,
				    struct weft_ts_state *st)
{
	struct go_walk w = {.ts = 1};
	int r;

	if (!cfg || !st)
		return -1;
	r = go_map_find(cfg, hmap, &w);
	if (r == GO_TP_NONE)
		return 0;
	if (r != GO_TP_VALID)
		return -1;
	return go_ts_parse(st, NULL, w.val.ptr, w.val.len);
}
#endif /* WEFT_LINK_EXTERN */

#endif /* WEFT_GO_MAP_BPF_H */

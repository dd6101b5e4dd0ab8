/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * weft-tcpopt: the trace context carried in a TCP header option.
 *
 * Wire layout, version 1 (28 bytes, a multiple of 4, so it fits exactly
 * beside the timestamp option: 12 + 28 = 40, the whole option space):
 *
 *   0      1      2      3      4 ............ 19  20 ........ 27
 *  +------+------+------+------+-----------------+--------------+
 *  | kind | len  | ExID | ver/ |    trace id     |   span id    |
 *  | 253  |  28  | 0xEF | flags|    16 bytes     |   8 bytes    |
 *  +------+------+------+------+-----------------+--------------+
 *
 * - kind 253: RFC 4727 experimental option 1, shared between experiments
 *   and told apart by the 16-bit experiment id (ExID) that RFC 6994 puts in
 *   the two bytes after the length. weft's ExIDs are 0xEF10..0xEF1F: the
 *   first byte is the magic 0xEF; the second byte carries the layout version
 *   in its high nibble (1) and the W3C trace flags in its low nibble (bit 0
 *   sampled, bit 1 random trace-id; bits 2-3 zero). Folding version and flags
 *   into the ExID is what makes 28 bytes possible: a separate flags byte would
 *   need 29, rounded to 32, which no longer fits next to timestamps.
 *   Why not kind 25 (26 bytes, no flags, used by another tool): it is an
 *   unassigned kind, it cannot carry a version or the flags, and a receiver
 *   running that tool would misread weft's option or vice versa.
 * - trace id and span id: the W3C trace-id and the sender's CLIENT span id
 *   (the receiver's parent-id), network byte order as in traceparent hex.
 *
 * A receiver accepts the option only when kind, length, magic and version
 * match exactly and both ids are non-zero; anything else is ignored.
 * Bump WEFT_TCPOPT_VERSION for any layout change (a v1 receiver ignores v2).
 */
#ifndef WEFT_TCPOPT_H
#define WEFT_TCPOPT_H

#include "weft_tracecontext.h"

#define WEFT_TCPOPT_KIND 253 /* RFC 4727 experiment 1, RFC 6994 ExID */
#define WEFT_TCPOPT_LEN 28
#define WEFT_TCPOPT_MAGIC 0xEF /* first ExID byte */
#define WEFT_TCPOPT_VERSION 1  /* high nibble of the second ExID byte */

struct weft_tcpopt_wire {
	__u8 kind;	/* WEFT_TCPOPT_KIND */
	__u8 len;	/* WEFT_TCPOPT_LEN */
	__u8 magic;	/* WEFT_TCPOPT_MAGIC */
	__u8 ver_flags; /* version << 4 | (trace flags & 0x3) */
	__u8 trace_id[WEFT_TRACE_ID_LEN];
	__u8 span_id[WEFT_SPAN_ID_LEN];
} __attribute__((packed));

_Static_assert(sizeof(struct weft_tcpopt_wire) == WEFT_TCPOPT_LEN, "weft_tcpopt layout");

static __always_inline __u8 weft_tcpopt_ver_flags(__u8 trace_flags)
{
	return (__u8)(WEFT_TCPOPT_VERSION << 4 | (trace_flags & WEFT_TP_FLAGS_KNOWN));
}

/* Counters (index of the weft_tcpopt counters map), printed at exit. */
enum weft_tcpopt_counter {
	WEFT_TCPOPT_CNT_WRITTEN = 0,  /* options written into segments (retransmissions too) */
	WEFT_TCPOPT_CNT_RECEIVED,     /* valid options accepted from a peer */
	WEFT_TCPOPT_CNT_NO_ROOM,      /* segment had no room: context not sent */
	WEFT_TCPOPT_CNT_IGNORED_PEER, /* option from a peer outside --accept-from */
	WEFT_TCPOPT_CNT_MALFORMED,    /* kind 253 with our magic but bad length/version/ids */
	WEFT_TCPOPT_CNT_PENDING,      /* requests that queued an option to send */
	WEFT_TCPOPT_CNT_SPANS_LOST,   /* span events dropped: ring buffer full */
	WEFT_TCPOPT_CNT_ENROLLED,     /* connections established before start, enrolled */
	WEFT_TCPOPT_CNT_NO_STATE,     /* TLS calls not looked at: no per-thread room (memory) */
	WEFT_TCPOPT_CNT_NEW_IDLE,     /* new trace: the calling thread serves no request */
	WEFT_TCPOPT_CNT_NEW_TWO,      /* new trace: the thread had two requests in flight */
	WEFT_TCPOPT_CNT_NEW_LOOP,     /* new trace: the thread is an event loop */
	WEFT_TCPOPT_CNT_MAX,
};

/* Key of the --accept-from LPM trie: prefix length in bits, IPv6 or v4-mapped. */
struct weft_tcpopt_cidr {
	__u32 prefixlen;
	__u8 addr[16];
};

#endif /* WEFT_TCPOPT_H */

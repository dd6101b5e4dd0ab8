// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench/h2c's bare mechanism: the least an sk_msg injector must do to put a
 * traceparent into cleartext HTTP/2 requests, with none of weft-http's
 * preface detection, frame tracking across sends, HPACK walk, context or
 * spans. A sockops program enrols the cgroup's outgoing connections into a
 * sockhash; the sk_msg program walks the frames a send starts with (up to
 * MAX_FRAMES, while each lies whole in the send: frames are not followed
 * across sends, a bench-only simplification; weft-http follows them; a
 * send that starts with the client preface is walked from after it): each
 * HEADERS frame with END_HEADERS (no padding, no priority) gets one fixed
 * HPACK literal field without indexing, new name (RFC 7541 6.2.2), appended
 * at the end of its block:
 *	0x00 0x0b "traceparent" 0x37 <55 bytes>		(69 bytes)
 * and its 24-bit length grown by 69. The counters (bench_h2_count) say how
 * many blocks got the field and how many sends got none, so the run can
 * report fields per RPC.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "weft_tracecontext.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define H2_FRAME_HDR 9
#define H2_PREFACE_LEN 24 /* "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" */
#define H2_HEADERS 0x1
#define H2_END_HEADERS 0x04
#define H2_PADDED 0x08
#define H2_PRIORITY 0x20
#define H2_MAX_FRAME 16384 /* the peer's default SETTINGS_MAX_FRAME_SIZE */
#define TP_FIELD_LEN (2 + 11 + 1 + WEFT_TRACEPARENT_LEN)
#define JOIN_MAX 16384 /* as weft-http: one piece again when this small */
#define MAX_FRAMES 16  /* frames looked at per send */

enum { CNT_INSERTED, CNT_PASSED, CNT_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} bench_h2_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} bench_h2_count SEC(".maps");

const volatile char tp_field[TP_FIELD_LEN] =
    "\x00\x0btraceparent\x37"
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

static __always_inline int count(__u32 k, __u32 n)
{
	__u64 *v = bpf_map_lookup_elem(&bench_h2_count, &k);

	if (v)
		*v += n;
	return SK_PASS;
}

SEC("sockops")
int weft_bench_h2_sockops(struct bpf_sock_ops *skops)
{
	__u64 cookie;

	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		return 1;
	cookie = bpf_get_socket_cookie(skops);
	bpf_sock_hash_update(skops, &bench_h2_socks, &cookie, BPF_NOEXIST);
	return 1;
}

/* msg's bytes [off, off + n) in one piece: a pointer to them, or NULL */
static __always_inline __u8 *pulled(struct sk_msg_md *msg, __u32 off, __u32 n)
{
	__u8 *d, *e;

	if (bpf_msg_pull_data(msg, off, off + n, 0))
		return NULL;
	d = (void *)(long)msg->data;
	e = (void *)(long)msg->data_end;
	if (d + n > e)
		return NULL;
	return d;
}

/*
 * The field appended to the block of the frame at off, of payload length len,
 * ending at end: 0, or -1 with the message as it was. A global function: the
 * verifier checks it once, not once per frame of the walk.
 */
__noinline int insert(struct sk_msg_md *msg, __u32 off, __u32 end, __u32 len)
{
	__u8 *d;

	if (bpf_msg_push_data(msg, end, TP_FIELD_LEN, 0))
		return -1;
	d = pulled(msg, end, TP_FIELD_LEN);
	if (!d)
		goto undo;
#pragma unroll
	for (int i = 0; i < TP_FIELD_LEN; i++)
		d[i] = tp_field[i];
	len += TP_FIELD_LEN;
	d = pulled(msg, off, H2_FRAME_HDR);
	if (!d)
		goto undo;
	d[0] = len >> 16;
	d[1] = len >> 8;
	d[2] = len;
	return 0;
undo:
	/* pushed but not filled in: take the bytes out again */
	bpf_msg_pop_data(msg, end, TP_FIELD_LEN, 0);
	return -1;
}

SEC("sk_msg")
int weft_bench_h2_msg(struct sk_msg_md *msg)
{
	__u32 off = 0, len, end, n = 0;
	__u8 *d;

	for (int k = 0; k < MAX_FRAMES; k++) {
		barrier_var(msg); /* ctx fields read at their own offsets, not ctx + 68 kept */
		if (off + H2_FRAME_HDR > msg->size)
			break;
		d = pulled(msg, off, H2_FRAME_HDR);
		if (!d)
			break;
		if (!off && d[0] == 'P' && d[1] == 'R' && d[2] == 'I' && d[3] == ' ') {
			off = H2_PREFACE_LEN; /* the client preface: frames follow it */
			continue;
		}
		len = (__u32)d[0] << 16 | (__u32)d[1] << 8 | d[2];
		end = off + H2_FRAME_HDR + len;
		barrier_var(msg);
		if (end > msg->size)
			break; /* goes on in the next send (or no frame: the preface) */
		if (d[3] == H2_HEADERS &&
		    (d[4] & (H2_END_HEADERS | H2_PADDED | H2_PRIORITY)) == H2_END_HEADERS &&
		    len + TP_FIELD_LEN <= H2_MAX_FRAME && !insert(msg, off, end, len)) {
			end += TP_FIELD_LEN;
			n++;
		}
		off = end;
	}
	if (!n)
		return count(CNT_PASSED, 1);
	if (msg->size <= JOIN_MAX)
		bpf_msg_pull_data(msg, 0, msg->size, 0);
	return count(CNT_INSERTED, n);
}

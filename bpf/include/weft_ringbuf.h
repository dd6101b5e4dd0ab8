/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Span ring buffers without a wakeup per span (issue 15), for every
 * injector's BPF programs (weft-go, weft-http, weft-tcpopt).
 *
 * A wakeup of the reader costs about a microsecond of irq_work and a context
 * switch per event. Spans are therefore submitted with BPF_RB_NO_WAKEUP,
 * unless the ring already holds more than 1/WEFT_RB_WAKE_DIVISOR of its size:
 * then BPF_RB_FORCE_WAKEUP, so that a burst wakes the reader long before the
 * ring fills. The injector drains every ring at least every WEFT_INJ_POLL_MS
 * (common/injector.h), which bounds how long a span waits when the load is
 * low. Rings of rare events that the reader must see at once (process exec,
 * discovery, socket notices) keep the default flags.
 *
 * Every span ring is WEFT_RB_SPANS_BYTES: 1 MiB holds ~1200 spans of 848
 * bytes (+8 of header); at 20000 spans/s the reader is woken at ~150 spans
 * and then has ~50 ms to get the CPU before a span is lost. weft-go's records
 * end after the tracestate bytes they carry (~340 bytes without one): ~3000
 * spans, ~140 ms (100 requests through a 16-hop chain are 3200 spans). The reader maps
 * the ring, so it counts in the injector's RSS once written through.
 */
#ifndef WEFT_RINGBUF_H
#define WEFT_RINGBUF_H

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define WEFT_RB_WAKE_DIVISOR 8
#define WEFT_RB_SPANS_BYTES (1 << 20) /* max_entries of every span ring */

/* The submit flags for one more record in ring rb. */
static __always_inline __u64 weft_rb_flags(void *rb)
{
	__u64 avail = bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA);
	__u64 size = bpf_ringbuf_query(rb, BPF_RB_RING_SIZE);

	return avail > size / WEFT_RB_WAKE_DIVISOR ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* Copy a span into rb: 0, or non-zero when the ring is full (count it lost). */
static __always_inline long weft_rb_output(void *rb, void *data, __u64 size)
{
	return bpf_ringbuf_output(rb, data, size, weft_rb_flags(rb));
}

/* Submit a record reserved in rb with bpf_ringbuf_reserve. */
static __always_inline void weft_rb_submit(void *rb, void *rec)
{
	bpf_ringbuf_submit(rec, weft_rb_flags(rb));
}

#endif /* WEFT_RINGBUF_H */

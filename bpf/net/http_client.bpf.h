/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * weft-http: the CLIENT spans of a connection's unanswered requests
 * (client_seq, client_pending: http_shared.bpf.h). http_insert.bpf.c queues
 * one per request it lets out, http_observe.bpf.c ends them in order at the
 * responses.
 */
#ifndef WEFT_HTTP_CLIENT_BPF_H
#define WEFT_HTTP_CLIENT_BPF_H

/* A CLIENT span whose response was never seen: exported as it is (status 0, ends now). */
static __always_inline void client_flush(struct cp_key *k)
{
	struct client_pending *p = bpf_map_lookup_elem(&client_pending, k);

	if (!p)
		return;
	p->ev.end_ns = bpf_ktime_get_ns();
	if (weft_rb_output(&spans, &p->ev, sizeof(p->ev)))
		count(WH_ERRORS);
	else
		count(WH_CLIENT_SPANS);
	bpf_map_delete_elem(&client_pending, k);
}

/* Queue the CLIENT span of a request sent on connection cookie (fd fk). */
static __always_inline void client_push(const struct fd_key *fk, __u64 cookie,
					const struct client_pending *cp)
{
	struct cp_key k = { .tgid = fk->tgid, .fd = fk->fd };
	struct cp_seq z = { .cookie = cookie }, *q;

	q = bpf_map_lookup_elem(&client_seq, fk);
	if (!q) {
		bpf_map_update_elem(&client_seq, fk, &z, BPF_ANY);
		q = bpf_map_lookup_elem(&client_seq, fk);
		if (!q)
			return;
	}
	/* the fd's previous connection, or too many unanswered: export them unanswered */
	for (int i = 0; i < CP_QUEUE; i++) {
		__u32 h = q->head;

		if (h == q->tail || (q->cookie == cookie && q->tail - h < CP_QUEUE))
			break;
		k.seq = h;
		client_flush(&k);
		q->head = h + 1;
	}
	if (q->cookie != cookie) {
		q->cookie = cookie;
		q->head = q->tail;
	}
	k.seq = q->tail;
	if (!bpf_map_update_elem(&client_pending, &k, cp, BPF_ANY))
		q->tail = k.seq + 1;
}

/*
 * The oldest unanswered request of connection fk got its response. Returns
 * true when that response has no body whatever its headers say (a HEAD
 * request, 1xx, 204, 304).
 */
static __always_inline bool client_pop(const struct fd_key *fk, struct cp_seq *q, __u16 status)
{
	struct cp_key k = { .tgid = fk->tgid, .fd = fk->fd, .seq = q->head };
	struct client_pending *p = bpf_map_lookup_elem(&client_pending, &k);
	bool head;

	q->head = k.seq + 1;
	if (!p)
		return false;
	head = p->ev.method_len == 4 && p->ev.method[0] == 'H' && p->ev.method[1] == 'E';
	p->ev.status = status;
	p->ev.end_ns = bpf_ktime_get_ns();
	if (weft_rb_output(&spans, &p->ev, sizeof(p->ev)))
		count(WH_ERRORS);
	else
		count(WH_CLIENT_SPANS);
	bpf_map_delete_elem(&client_pending, &k);
	return head || status < 200 || status == 204 || status == 304;
}

/*
 * HTTP/2: one CLIENT span per stream, keyed by its stream id (bit 31 set: a
 * stream id has 31 bits, so no HTTP/1 sequence number of the fd collides).
 */
#define H2_CP_SEQ(sid) ((sid) | 0x80000000u)

/* Keep the CLIENT span of the request on stream sid of connection fk. */
static __always_inline void h2_client_push(const struct fd_key *fk, __u32 sid,
					   const struct client_pending *cp)
{
	struct cp_key k = { .tgid = fk->tgid, .fd = fk->fd, .seq = H2_CP_SEQ(sid) };

	/* a stream id of the fd's previous connection: exported unanswered */
	client_flush(&k);
	bpf_map_update_elem(&client_pending, &k, cp, BPF_ANY);
}

/* Stream sid of connection fk ended on the peer's side (END_STREAM read). */
static __always_inline void h2_client_end(const struct fd_key *fk, __u32 sid)
{
	struct cp_key k = { .tgid = fk->tgid, .fd = fk->fd, .seq = H2_CP_SEQ(sid) };

	client_flush(&k);
}

#endif /* WEFT_HTTP_CLIENT_BPF_H */

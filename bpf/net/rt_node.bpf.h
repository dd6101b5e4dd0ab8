/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Node.js: which request an outgoing request serves (issue 20), from Node's
 * own async resource ancestry, read by uprobes (docs/weft-http.md "Runtime
 * rules: Node.js"). Node gives every async resource an id (a double) and
 * the id of the resource that triggered it; the Environment's
 * async_id_fields array holds the ids of the callback running now
 * (execution, trigger) and the last id handed out (counter), written by
 * native and JavaScript code alike, async hooks or not. Ids only grow.
 *
 *   uv_accept(server, client)    the accepted socket's fd and its TCPWrap
 *                                (client->data): the wrap's async id is a
 *                                connection entry (level 1), and the
 *                                connection's state starts empty
 *   AsyncWrap::AsyncReset(this)  on return: the new id and its trigger; the
 *                                http parser a connection triggers before
 *                                any request is a connection entry too
 *                                (level 2); a resource created while a
 *                                request's callbacks run gets that request
 *   read (entry, exit)           on a connection of a Node.js thread: when
 *                                the request owed on it (weft_sctx_at, just
 *                                parsed by weft-http's own exit program)
 *                                changed, the connection's state takes its
 *                                SERVER span id and the id counter: what a
 *                                connection entry triggers with a larger id
 *                                was created while that request's bytes
 *                                were being handled, so it serves it
 *   write, writev, sendto, sendmsg  the running callback (execution id,
 *                                else its trigger) names the request: tie
 *                                the fd to it, with the request's span id
 *                                (checked when the tie is taken); no
 *                                ancestry (execution id 0, e.g. after an
 *                                `await`): a tie that says so, a new trace
 * Timers, ticks and promises get ids in JavaScript; such an id is learnt
 * the first time a native event sees it running (execution id) with a
 * known trigger. Never a guess: an id whose ancestry is unknown, or a
 * connection's child created before that connection's latest request was
 * read, names no request; a tie whose request is no longer the one owed on
 * its connection is dropped.
 * Offsets per binary from its offsets record (weft_rt_layouts, NODE_* in
 * weft_rt.h). Included by http_rt.bpf.c (after http_shared.bpf.h: rt_tie.bpf.h and
 * the target filter).
 */
#ifndef WEFT_RT_NODE_BPF_H
#define WEFT_RT_NODE_BPF_H

#include <bpf/bpf_tracing.h>
#include "net/rt_tie.bpf.h"

/* A positive id (double bits: positive doubles order like their bits). */
#define NODE_ID_OK(b)	((b) && !((b) >> 63))
#define NODE_NOW	0x7fefffffffffffffULL	/* larger than any id */

struct node_thread {
	__u64 env;	/* the thread's Environment (one per thread) */
	__u32 layout;
	__u32 _pad;
};

/* thread (pid_tgid) -> its Environment, from the AsyncWraps it handles */
WEFT_LRU_HASH(__u64, struct node_thread, 4096) node_threads SEC(".maps");

struct node_id_key {
	__u64 pid_tgid;	/* ids are per Environment, one per thread */
	__u64 id;	/* double bits */
};

struct node_req {
	__u64 conn;	/* the server connection (fd) */
	__u8 span_id[WEFT_SPAN_ID_LEN];	/* level 0: the request's SERVER span */
	__u8 level;	/* 0: a request; 1: an accepted socket; 2: its child (parser) */
	__u8 _pad[7];
};

/* A connection's latest request, as its reads showed it. */
struct node_conn {
	__u64 counter;	/* the id counter when that request was read */
	__u8 span_id[WEFT_SPAN_ID_LEN];
	__u8 has_span;
	__u8 _pad[7];
};

struct node_conn_key {
	__u64 pid_tgid;
	__u64 fd;
};

WEFT_LRU_HASH(struct node_conn_key, struct node_conn, 16384) node_conns SEC(".maps");

/* read entry -> exit: the connection fd a Node.js thread reads */
WEFT_LRU_HASH(__u64, __s64, 4096) node_reading SEC(".maps");

WEFT_LRU_HASH(struct node_id_key, struct node_req, 65536) node_ids SEC(".maps");

/* entry -> return arguments per thread (AsyncReset's this, uv_accept's client) */
WEFT_LRU_HASH(__u64, __u64, 4096) node_args SEC(".maps");

struct node_fields {
	__u64 exec, trigger, counter;	/* async_id_fields[0..2], double bits */
};

static __always_inline bool node_off_ok(const struct weft_rt_layout *l, int i)
{
	return l->off[i & 7] >= 0 && l->off[i & 7] < 65536;
}

static __always_inline int node_read_fields(__u64 env, const struct weft_rt_layout *l,
					    struct node_fields *f)
{
	__u64 p = 0;

	if (!env || !node_off_ok(l, NODE_ENV_FIELDS) ||
	    bpf_probe_read_user(&p, 8, (void *)(env + l->off[NODE_ENV_FIELDS])) || !p)
		return -1;
	return bpf_probe_read_user(f, sizeof(*f), (void *)p);
}

/*
 * What resource child (an id handed out after trigger's) gets from trigger:
 * 0 a request (out), 1 a connection entry (out: level 2), -1 nothing.
 */
static __always_inline int node_derive(__u64 pid_tgid, __u64 trigger, __u64 child,
				       struct node_req *out)
{
	struct node_id_key k = {.pid_tgid = pid_tgid, .id = trigger};
	struct node_conn_key ck = {.pid_tgid = pid_tgid};
	struct node_conn *c;
	struct node_req *e;

	if (!NODE_ID_OK(trigger))
		return -1;
	e = bpf_map_lookup_elem(&node_ids, &k);
	if (!e)
		return -1;
	*out = *e;
	if (!e->level)
		return 0;
	ck.fd = e->conn;
	c = bpf_map_lookup_elem(&node_conns, &ck);
	if (c && c->has_span) {
		if (child <= c->counter)
			return -1;	/* created before its latest request: which one? */
		out->level = 0;
		__builtin_memcpy(out->span_id, c->span_id, WEFT_SPAN_ID_LEN);
		return 0;
	}
	if (e->level != 1 || !c)
		return -1;
	out->level = 2;		/* the accepted socket's parser, before any request */
	return 1;
}

static __always_inline void node_put(__u64 pid_tgid, __u64 id, const struct node_req *r)
{
	struct node_id_key k = {.pid_tgid = pid_tgid, .id = id};

	bpf_map_update_elem(&node_ids, &k, r, BPF_ANY);
}

/*
 * The request of the running callback (execution id exec, its trigger
 * trigger), learning exec from trigger when exec is new: 0 (out), else -1.
 */
static __always_inline int node_running(__u64 pid_tgid, __u64 exec, __u64 trigger, __u64 child,
					struct node_req *out)
{
	struct node_id_key k = {.pid_tgid = pid_tgid, .id = exec};

	if (!NODE_ID_OK(exec))
		return -1;
	if (bpf_map_lookup_elem(&node_ids, &k))
		return node_derive(pid_tgid, exec, child, out) == 0 ? 0 : -1;
	if (node_derive(pid_tgid, trigger, exec, out) != 0)
		return -1;
	node_put(pid_tgid, exec, out);
	return 0;
}

/* The Environment of AsyncWrap wrap (realm_->env_), remembered for the thread; 0 if unreadable. */
static __always_inline __u64 node_env(void *ctx, __u64 pid_tgid, const struct weft_rt_layout *l,
				      __u64 wrap)
{
	struct node_thread t = {.layout = (__u32)bpf_get_attach_cookie(ctx)}, *o;
	__u64 realm = 0;

	if (!node_off_ok(l, NODE_REALM) || !node_off_ok(l, NODE_REALM_ENV) ||
	    bpf_probe_read_user(&realm, 8, (void *)(wrap + l->off[NODE_REALM])) || !realm ||
	    bpf_probe_read_user(&t.env, 8, (void *)(realm + l->off[NODE_REALM_ENV])) || !t.env)
		return 0;
	o = bpf_map_lookup_elem(&node_threads, &pid_tgid);
	if (!o || o->env != t.env || o->layout != t.layout)
		bpf_map_update_elem(&node_threads, &pid_tgid, &t, BPF_ANY);
	return t.env;
}

SEC("uprobe")
int BPF_UPROBE(weft_node_reset, __u64 self)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (task_targeted(id))
		bpf_map_update_elem(&node_args, &id, &self, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_URETPROBE(weft_node_reset_ret)
{
	const struct weft_rt_layout *l = weft_rt_layout(ctx);
	__u64 id = bpf_get_current_pid_tgid(), *sp, self, ids[2], env;
	struct node_fields f;
	struct node_req r;
	int got;

	sp = bpf_map_lookup_elem(&node_args, &id);
	if (!sp)
		return 0;
	self = *sp;
	bpf_map_delete_elem(&node_args, &id);
	if (!l || !node_off_ok(l, NODE_ASYNC_ID))
		return 0;
	env = node_env(ctx, id, l, self);
	if (!env ||
	    bpf_probe_read_user(ids, sizeof(ids), (void *)(self + l->off[NODE_ASYNC_ID])) ||
	    !NODE_ID_OK(ids[0]))
		return 0;
	got = node_derive(id, ids[1], ids[0], &r);
	if (got < 0 && !node_read_fields(env, l, &f))
		got = node_running(id, f.exec, f.trigger, ids[0], &r);
	if (got >= 0)
		node_put(id, ids[0], &r);
	return 0;
}

SEC("uprobe")
int BPF_UPROBE(weft_node_accept, __u64 server, __u64 client)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (task_targeted(id))
		bpf_map_update_elem(&node_args, &id, &client, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_URETPROBE(weft_node_accept_ret, int rc)
{
	const struct weft_rt_layout *l = weft_rt_layout(ctx);
	__u64 id = bpf_get_current_pid_tgid(), *cp, client, wrap = 0, aid = 0;
	struct node_req r = {.level = 1};
	struct node_conn_key ck = {.pid_tgid = id};
	struct node_conn c = {};
	__s32 fd = -1;

	cp = bpf_map_lookup_elem(&node_args, &id);
	if (!cp)
		return 0;
	client = *cp;
	bpf_map_delete_elem(&node_args, &id);
	if (rc || !l || !node_off_ok(l, NODE_UV_DATA) || !node_off_ok(l, NODE_UV_FD) ||
	    !node_off_ok(l, NODE_ASYNC_ID))
		return 0;
	if (bpf_probe_read_user(&fd, 4, (void *)(client + l->off[NODE_UV_FD])) || fd < 0 ||
	    bpf_probe_read_user(&wrap, 8, (void *)(client + l->off[NODE_UV_DATA])) || !wrap ||
	    !node_env(ctx, id, l, wrap) ||
	    bpf_probe_read_user(&aid, 8, (void *)(wrap + l->off[NODE_ASYNC_ID])) ||
	    !NODE_ID_OK(aid))
		return 0;
	r.conn = (__u32)fd;
	node_put(id, aid, &r);
	ck.fd = (__u32)fd;
	bpf_map_update_elem(&node_conns, &ck, &c, BPF_ANY);	/* a new connection on fd */
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_read")
int weft_node_read(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct node_conn_key ck = {.pid_tgid = id, .fd = (__u32)ctx->args[0]};
	__s64 fd = (__s32)ctx->args[0];

	if (fd >= 0 && bpf_map_lookup_elem(&node_conns, &ck))
		bpf_map_update_elem(&node_reading, &id, &fd, BPF_ANY);
	return 0;
}

/* After weft-http's own exit program (attached earlier, so run first) parsed the bytes. */
SEC("tracepoint/syscalls/sys_exit_read")
int weft_node_read_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct node_conn_key ck = {.pid_tgid = id};
	const struct weft_rt_layout *l;
	struct weft_server_ctx *s;
	struct node_thread *t;
	struct node_fields f;
	struct node_conn *c;
	__s64 *fdp;
	__u32 li;

	fdp = bpf_map_lookup_elem(&node_reading, &id);
	if (!fdp)
		return 0;
	ck.fd = (__u32)*fdp;
	bpf_map_delete_elem(&node_reading, &id);
	if (ctx->ret <= 0)
		return 0;
	c = bpf_map_lookup_elem(&node_conns, &ck);
	s = weft_sctx_at(id, ck.fd);
	if (!c || !s || (c->has_span && weft_span_id_eq(s->ctx.span_id, c->span_id)))
		return 0;	/* no request, or the same one */
	t = bpf_map_lookup_elem(&node_threads, &id);
	if (!t)
		return 0;
	li = t->layout;
	l = bpf_map_lookup_elem(&weft_rt_layouts, &li);
	if (!l || node_read_fields(t->env, l, &f)) {
		c->has_span = 0;	/* cannot say from when: fail closed */
		return 0;
	}
	c->counter = f.counter;
	__builtin_memcpy(c->span_id, s->ctx.span_id, WEFT_SPAN_ID_LEN);
	c->has_span = 1;
	return 0;
}

/* A write on fd by a Node.js thread: tie fd to the running callback's request, or say why not. */
static __always_inline void node_write(__s32 fd)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct node_thread *t = bpf_map_lookup_elem(&node_threads, &id);
	const struct weft_rt_layout *l;
	struct node_fields f;
	struct node_req r;
	__u32 li;

	if (!t || fd < 0)
		return;
	li = t->layout;
	l = bpf_map_lookup_elem(&weft_rt_layouts, &li);
	if (!l || node_read_fields(t->env, l, &f))
		return;
	if (node_running(id, f.exec, f.trigger, NODE_NOW, &r) == 0)
		weft_rt_tie_req(id >> 32, fd, r.conn, r.span_id);
	else
		weft_rt_tie_none(id >> 32, fd,
				 NODE_ID_OK(f.exec) ? WEFT_RT_UNKNOWN : WEFT_RT_NO_ANCESTRY);
}

SEC("tracepoint/syscalls/sys_enter_write")
int weft_node_write(struct trace_event_raw_sys_enter *ctx)
{
	node_write((__s32)ctx->args[0]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_writev")
int weft_node_writev(struct trace_event_raw_sys_enter *ctx)
{
	node_write((__s32)ctx->args[0]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int weft_node_sendto(struct trace_event_raw_sys_enter *ctx)
{
	node_write((__s32)ctx->args[0]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int weft_node_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	node_write((__s32)ctx->args[0]);
	return 0;
}

#endif /* WEFT_RT_NODE_BPF_H */

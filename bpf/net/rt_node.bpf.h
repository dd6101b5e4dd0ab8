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

#define NODE_CACHE 64	/* request-level entries a thread keeps at hand */

struct node_slot {
	__u64 id;	/* 0: empty */
	struct node_req r;
};

/*
 * A Node.js thread (task storage: it goes with the thread, and a thread
 * without one costs the read and write tracepoints a single look). Made by
 * the entry probes of targeted threads; env and layout once an AsyncWrap
 * showed them.
 */
struct node_task {
	__u64 env;	/* the thread's Environment (one per thread), 0: not known yet */
	__u64 arg;	/* entry -> return: AsyncReset's this, uv_accept's client; 0: none */
	__u64 reading;	/* read entry -> exit: the connection fd read, plus 1; 0: none */
	__u32 layout;
	__u32 _pad;
	struct node_slot cache[NODE_CACHE];	/* node_ids' request-level entries (node_get) */
};

WEFT_TASK_STORAGE(struct node_task) node_tasks SEC(".maps");

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

WEFT_LRU_HASH(struct node_id_key, struct node_req, 65536) node_ids SEC(".maps");

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

/* id's slot in a thread's cache (ids are integral doubles: their low bits are 0) */
static __always_inline struct node_slot *node_slot(struct node_task *t, __u64 id)
{
	return &t->cache[((id * 0x9e3779b97f4a7c15ULL) >> 58) & (NODE_CACHE - 1)];
}

/*
 * node_ids[id] of this thread into out: 0, else -1. Request-level entries
 * put or found are also kept in the thread's cache, which answers without a
 * map lookup (a bucket walk in a large map, mostly cache misses): a
 * running callback's id is looked up by each native event it makes
 * (AsyncReset's trigger, each write), and a new resource's id soon after as
 * its callbacks' execution id. Never stale: node_put writes both, and an id
 * gets its entry once, at its first sight (or again from AsyncReset given
 * that id: node_put again). Connection entries (levels 1, 2) are always
 * looked up in the map, which keeps a long-lived connection's entry recent
 * in the LRU map.
 */
static __always_inline int node_get(struct node_task *t, __u64 pid_tgid, __u64 id,
				    struct node_req *out)
{
	struct node_id_key k = {.pid_tgid = pid_tgid, .id = id};
	struct node_slot *c = node_slot(t, id);
	struct node_req *e;

	if (c->id == id && id) {
		*out = c->r;
		return 0;
	}
	e = bpf_map_lookup_elem(&node_ids, &k);
	if (!e)
		return -1;
	*out = *e;
	if (!out->level) {
		c->id = id;
		c->r = *out;
	}
	return 0;
}

/*
 * What resource child (an id handed out after the one of entry e) gets from
 * e: 0 a request (out), 1 a connection entry (out: level 2), -1 nothing.
 */
static __always_inline int node_derive_from(__u64 pid_tgid, const struct node_req *e, __u64 child,
					    struct node_req *out)
{
	struct node_conn_key ck = {.pid_tgid = pid_tgid, .fd = e->conn};
	struct node_conn *c;

	*out = *e;
	if (!e->level)
		return 0;
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

/* The same from trigger's entry; -2 when trigger has none. */
static __always_inline int node_derive(struct node_task *t, __u64 pid_tgid, __u64 trigger,
				       __u64 child, struct node_req *out)
{
	struct node_req e;

	if (!NODE_ID_OK(trigger) || node_get(t, pid_tgid, trigger, &e))
		return -2;
	return node_derive_from(pid_tgid, &e, child, out);
}

static __always_inline void node_put(struct node_task *t, __u64 pid_tgid, __u64 id,
				     const struct node_req *r)
{
	struct node_id_key k = {.pid_tgid = pid_tgid, .id = id};
	struct node_slot *c = node_slot(t, id);

	if (!r->level) {
		c->id = id;
		c->r = *r;
	} else if (c->id == id) {
		c->id = 0;
	}
	bpf_map_update_elem(&node_ids, &k, r, BPF_ANY);
}

/*
 * The request of the running callback (execution id exec, its trigger
 * trigger), learning exec from trigger when exec is new: 0 (out), else -1.
 * none: exec is known to have no entry (looked up just before).
 */
static __always_inline int node_running(struct node_task *t, __u64 pid_tgid, __u64 exec,
					__u64 trigger, __u64 child, bool none, struct node_req *out)
{
	struct node_req e;

	if (!NODE_ID_OK(exec))
		return -1;
	if (!none && !node_get(t, pid_tgid, exec, &e))
		return node_derive_from(pid_tgid, &e, child, out) == 0 ? 0 : -1;
	if (node_derive(t, pid_tgid, trigger, exec, out) != 0)
		return -1;
	node_put(t, pid_tgid, exec, out);
	return 0;
}

/* The thread's state when it is a Node.js thread whose Environment is known, else NULL. */
static __always_inline struct node_task *node_thread(void)
{
	struct node_task *t = weft_task_state(&node_tasks, false);

	return t && t->env ? t : NULL;
}

/* Record the Environment env (of an AsyncWrap the thread handles) and the probe's layout. */
static __always_inline void node_set_env(void *ctx, struct node_task *t, __u64 env)
{
	t->env = env;
	t->layout = (__u32)bpf_get_attach_cookie(ctx);
}

/* The Environment of AsyncWrap wrap (realm_->env_), recorded for the thread; 0 if unreadable. */
static __always_inline __u64 node_env(void *ctx, struct node_task *t,
				      const struct weft_rt_layout *l, __u64 wrap)
{
	__u64 realm = 0, env = 0;

	if (!node_off_ok(l, NODE_REALM) || !node_off_ok(l, NODE_REALM_ENV) ||
	    bpf_probe_read_user(&realm, 8, (void *)(wrap + l->off[NODE_REALM])) || !realm ||
	    bpf_probe_read_user(&env, 8, (void *)(realm + l->off[NODE_REALM_ENV])) || !env)
		return 0;
	node_set_env(ctx, t, env);
	return env;
}

/*
 * AsyncWrap self's realm_ (into *realm) and its async_id_ and
 * trigger_async_id_ (ids): one read when they lie within 64 bytes of each
 * other, 8-aligned (Debian's node 20: 16 and 40), else two. 0, else -1.
 */
static __always_inline int node_wrap(const struct weft_rt_layout *l, __u64 self, __u64 *realm,
				     __u64 ids[2])
{
	__s32 ro = l->off[NODE_REALM], ao = l->off[NODE_ASYNC_ID];
	__s32 lo = ro < ao ? ro : ao, hi = ro + 8 > ao + 16 ? ro + 8 : ao + 16;
	__u64 buf[8] = {};
	__u32 len = hi - lo;

	if (!node_off_ok(l, NODE_REALM) || !node_off_ok(l, NODE_ASYNC_ID))
		return -1;
	if ((ro | ao) & 7 || len > sizeof(buf)) {
		if (bpf_probe_read_user(realm, 8, (void *)(self + ro)) ||
		    bpf_probe_read_user(ids, 16, (void *)(self + ao)))
			return -1;
		return 0;
	}
	if (len < 8 || bpf_probe_read_user(buf, ((len - 1) & 63) + 1, (void *)(self + lo)))
		return -1;
	*realm = buf[((ro - lo) >> 3) & 7];
	ids[0] = buf[((ao - lo) >> 3) & 7];
	ids[1] = buf[((ao - lo + 8) >> 3) & 7];
	return 0;
}

/* An entry probe of a targeted thread: keep the argument its return probe needs. */
static __always_inline void node_arg_keep(__u64 arg)
{
	struct node_task *t;

	if (!task_targeted(bpf_get_current_pid_tgid()))
		return;
	t = weft_task_state(&node_tasks, true);
	if (t)
		t->arg = arg;
}

/* The argument the entry probe kept (0: none), taken. */
static __always_inline __u64 node_arg_take(struct node_task *t)
{
	__u64 arg = t ? t->arg : 0;

	if (arg)
		t->arg = 0;
	return arg;
}

SEC("uprobe")
int BPF_UPROBE(weft_node_reset, __u64 self)
{
	node_arg_keep(self);
	return 0;
}

SEC("uretprobe")
int BPF_URETPROBE(weft_node_reset_ret)
{
	struct node_task *t = weft_task_state(&node_tasks, false);
	__u64 id = bpf_get_current_pid_tgid(), self, ids[2], realm = 0, env = 0;
	const struct weft_rt_layout *l;
	struct node_fields f;
	struct node_req r;
	int got;

	self = node_arg_take(t);
	if (!self)
		return 0;
	l = weft_rt_layout(ctx);
	if (!l || !node_off_ok(l, NODE_REALM_ENV) || node_wrap(l, self, &realm, ids) || !realm ||
	    bpf_probe_read_user(&env, 8, (void *)(realm + l->off[NODE_REALM_ENV])) || !env ||
	    !NODE_ID_OK(ids[0]))
		return 0;
	node_set_env(ctx, t, env);
	got = node_derive(t, id, ids[1], ids[0], &r);
	if (got < 0 && !node_read_fields(env, l, &f))
		/* exec has no entry when it is the trigger found without one */
		got = node_running(t, id, f.exec, f.trigger, ids[0], got == -2 && f.exec == ids[1],
				   &r);
	if (got >= 0)
		node_put(t, id, ids[0], &r);
	return 0;
}

SEC("uprobe")
int BPF_UPROBE(weft_node_accept, __u64 server, __u64 client)
{
	node_arg_keep(client);
	return 0;
}

SEC("uretprobe")
int BPF_URETPROBE(weft_node_accept_ret, int rc)
{
	struct node_task *t = weft_task_state(&node_tasks, false);
	__u64 id = bpf_get_current_pid_tgid(), client, wrap = 0, aid = 0;
	const struct weft_rt_layout *l;
	struct node_req r = {.level = 1};
	struct node_conn_key ck = {.pid_tgid = id};
	struct node_conn c = {};
	__s32 fd = -1;

	client = node_arg_take(t);
	if (!client)
		return 0;
	l = weft_rt_layout(ctx);
	if (rc || !l || !node_off_ok(l, NODE_UV_DATA) || !node_off_ok(l, NODE_UV_FD) ||
	    !node_off_ok(l, NODE_ASYNC_ID))
		return 0;
	if (bpf_probe_read_user(&fd, 4, (void *)(client + l->off[NODE_UV_FD])) || fd < 0 ||
	    bpf_probe_read_user(&wrap, 8, (void *)(client + l->off[NODE_UV_DATA])) || !wrap ||
	    !node_env(ctx, t, l, wrap) ||
	    bpf_probe_read_user(&aid, 8, (void *)(wrap + l->off[NODE_ASYNC_ID])) ||
	    !NODE_ID_OK(aid))
		return 0;
	r.conn = (__u32)fd;
	node_put(t, id, aid, &r);
	ck.fd = (__u32)fd;
	bpf_map_update_elem(&node_conns, &ck, &c, BPF_ANY);	/* a new connection on fd */
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_read")
int weft_node_read(struct trace_event_raw_sys_enter *ctx)
{
	struct node_task *t = node_thread();
	struct node_conn_key ck = {.fd = (__u32)ctx->args[0]};
	__s32 fd = (__s32)ctx->args[0];

	if (!t)
		return 0;
	ck.pid_tgid = bpf_get_current_pid_tgid();
	t->reading = fd >= 0 && bpf_map_lookup_elem(&node_conns, &ck) ? (__u64)fd + 1 : 0;
	return 0;
}

/* After weft-http's own exit program (attached earlier, so run first) parsed the bytes. */
SEC("tracepoint/syscalls/sys_exit_read")
int weft_node_read_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct node_task *t = node_thread();
	struct node_conn_key ck = {};
	const struct weft_rt_layout *l;
	struct weft_server_ctx *s;
	struct node_fields f;
	struct node_conn *c;
	__u32 li;

	if (!t || !t->reading)
		return 0;
	ck.pid_tgid = bpf_get_current_pid_tgid();
	ck.fd = t->reading - 1;
	t->reading = 0;
	if (ctx->ret <= 0)
		return 0;
	c = bpf_map_lookup_elem(&node_conns, &ck);
	s = weft_sctx_at(ck.pid_tgid, ck.fd);
	if (!c || !s || (c->has_span && weft_span_id_eq(s->ctx.span_id, c->span_id)))
		return 0;	/* no request, or the same one */
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
	struct node_task *t = node_thread();
	__u64 id = bpf_get_current_pid_tgid();
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
	if (node_running(t, id, f.exec, f.trigger, NODE_NOW, false, &r) == 0)
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

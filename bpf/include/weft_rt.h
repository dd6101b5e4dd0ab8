/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Runtime rules (bpf/net/rt_tie.bpf.h, injectors/net/rt_*.c): the struct
 * offsets of one probed binary, from its offsets record, indexed by the
 * probes' attach cookie. -1: unknown (the probes fail closed).
 */
#ifndef WEFT_RT_H
#define WEFT_RT_H

#define WEFT_RT_LAYOUTS 64
#define WEFT_RT_NOFF 8

struct weft_rt_layout {
	__s32 off[WEFT_RT_NOFF];
};

/* nginx: indices into off[] (bpf/net/rt_nginx.bpf.h) */
#define NGX_R_UPSTREAM		0	/* nginx.ngx_http_request_t.upstream */
#define NGX_R_CONNECTION	1	/* nginx.ngx_http_request_t.connection */
#define NGX_C_FD		2	/* nginx.ngx_connection_t.fd */
#define NGX_U_PEER		3	/* nginx.ngx_http_upstream_t.peer */

/* Node.js: indices into off[] (bpf/net/rt_node.bpf.h) */
#define NODE_ENV_FIELDS		0	/* node.Environment.async_id_fields */
#define NODE_ASYNC_ID		1	/* node.AsyncWrap.async_id_ (trigger id follows) */
#define NODE_UV_DATA		2	/* node.uv_handle_s.data */
#define NODE_UV_FD		3	/* node.uv_stream_s.io_watcher.fd */
#define NODE_REALM		4	/* node.BaseObject.realm_ */
#define NODE_REALM_ENV		5	/* node.Realm.env_ */

/* weft_rt_counts: outgoing requests by what their connection's tie said */
#define WEFT_RT_TIED		0	/* the tie's request: its parent */
#define WEFT_RT_NO_ANCESTRY	1	/* written with no running resource (Node.js after await) */
#define WEFT_RT_UNKNOWN		2	/* a running resource of unknown ancestry */
#define WEFT_RT_ANSWERED	3	/* the tie's request was answered meanwhile */
#define WEFT_RT_NCOUNTS		4

/*
 * CPython (bpf/net/rt_asyncio.bpf.h): per process (map py_procs, key tgid),
 * the addresses and struct offsets of its interpreter build.
 */
enum weft_py_off {
	PY_RT_TSTATE_CURRENT,	/* _PyRuntimeState.gilstate.tstate_current */
	PY_RT_INTERP_HEAD,	/* _PyRuntimeState.interpreters.head */
	PY_IS_NEXT,		/* PyInterpreterState.next */
	PY_IS_THREADS_HEAD,	/* PyInterpreterState.threads.head */
	PY_TS_NEXT,		/* PyThreadState.next */
	PY_TS_NATIVE_TID,	/* PyThreadState.native_thread_id */
	PY_TS_CONTEXT,		/* PyThreadState.context */
	PY_TS_CFRAME,		/* PyThreadState.cframe */
	PY_CF_CURRENT_FRAME,	/* _PyCFrame.current_frame */
	PY_FR_CODE,		/* _PyInterpreterFrame.f_code */
	PY_FR_PREVIOUS,		/* _PyInterpreterFrame.previous */
	PY_CO_QUALNAME,		/* PyCodeObject.co_qualname */
	PY_STR_LENGTH,		/* PyASCIIObject.length */
	PY_STR_STATE,		/* PyASCIIObject.state */
	PY_STR_DATA,		/* sizeof(PyASCIIObject): a compact ASCII string's bytes */
	PY_TS_INTERP,		/* PyThreadState.interp */
	PY_IS_CTX_FREELIST,	/* PyInterpreterState.context.freelist */
	PY_IS_CTX_NUMFREE,	/* PyInterpreterState.context.numfree (int) */
	PY_RT_INTERP_NEXT_ID,	/* _PyRuntimeState.interpreters.next_id (int64); optional: -1 */
	PY_NOFF
};

struct weft_py_layout {
	__u64 runtime;		/* the address of _PyRuntime in the process */
	__s32 off[PY_NOFF];
	__u32 gen;		/* changes with each process image probed: older ties are void */
	__s32 sp_delta;		/* RSP at the copy's JMP minus RSP at GC_New's return (pysites.c) */
	__u32 mode;		/* PY_MODE_*: how a Context's address loses its old tie */
	__u32 epoch;		/* bumped by the probes when a new Context's address was not
				 * read (PY_MODE_ALLOC): every older tie is void */
	__s32 open;		/* counted by the probes: tied connections nothing was written
				 * to yet (py_conns); 0: no tie can name a request */
	__u32 _pad;
};

/* weft_py_layout.mode */
#define PY_MODE_DEALLOC	0	/* a probe on the Context deallocation drops its tie */
#define PY_MODE_ALLOC	1	/* every path into the allocation is probed (analyzer/pyalloc.c) */

/* py_counts: what the asyncio rule counts, for user space to report */
#define PY_COUNT_EMPTY_FREELIST	0	/* a tied context copied with an empty freelist: untied */
#define PY_COUNT_VOIDED		1	/* the freelist unread at an allocation: all ties voided */
#define PY_NCOUNTS		2

#endif /* WEFT_RT_H */

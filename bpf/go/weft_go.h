/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Definitions shared by weft-go's BPF programs (bpf/go/go_*.bpf.c) and its user
 * space (injectors/go/): per-binary offsets, counters, process events.
 */
#ifndef WEFT_GO_H
#define WEFT_GO_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define WEFT_GO_MAX_BINARIES 64
#define WEFT_GO_MAX_TARGETS 4096

/*
 * A uprobe's attach cookie: the binary's index (low 32 bits) and, for a
 * return site at a caller (offsets.h, WEFT_SITE_GO_RETURN), 1 + the DWARF
 * number of the register holding the callee's first result there (high 32
 * bits; 0: RAX, as at the callee's RETs).
 */
#define WEFT_GO_COOKIE_REG_SHIFT 32

/* weft_go_cfg.flags */
#define WEFT_GO_CFG_WRITE 0x01	 /* write traceparent into outgoing requests */
#define WEFT_GO_CFG_PUBLISH 0x02 /* publish outgoing context per connection (read-only) */
#define WEFT_GO_CFG_MAPWALK 0x04 /* Go map layout known (Go 1.17-1.23): read Header maps */
#define WEFT_GO_CFG_CURG 0x08	 /* g.m and m.curg known: newproc1 needs no entry probe */
#define WEFT_GO_CFG_ALLPROCS 0x10 /* --exe: every process of the binary is a target */
#define WEFT_GO_CFG_SYSCALLS 0x20 /* plaintext HTTP/1 SERVER spans from read/write syscalls */
#define WEFT_GO_CFG_GRPC_WRITE 0x40 /* write trace context into grpc-go's HEADERS frames */
#define WEFT_GO_CFG_GRPC_BW 0x80 /* ... and into its bufWriter when wbuf has no room */
#define WEFT_GO_CFG_H2_WRITE 0x100 /* write it into net/http's bundled HTTP/2 client HEADERS */
#define WEFT_GO_CFG_H2_BW 0x200	   /* ... and into its *bufio.Writer when wbuf has no room */
#define WEFT_GO_CFG_XH2_WRITE 0x400 /* write it into x/net's HTTP/2 client HEADERS */
#define WEFT_GO_CFG_XH2_BW 0x800    /* ... and into its *bufio.Writer when wbuf has no room */

/*
 * How to find the running goroutine of a Go process at a syscall tracepoint,
 * without a uprobe (bpf/go/go_goid.bpf.h): offsets from the binary's record,
 * -1 when unknown. tls_g is the fact go.tls.g (negative: g's slot below the
 * thread pointer); the others are struct fields (runtime.g.m, runtime.m.curg,
 * runtime.g.goid, runtime.g.parentGoid, this one only from Go 1.21).
 */
struct weft_go_gid_offs {
	__s32 tls_g;
	__s32 g_m;
	__s32 m_curg;
	__s32 g_goid;
	__s32 g_parent_goid;
	__s32 _pad;
};

/*
 * Field offsets of one binary, from its offsets record; -1 when unknown. The
 * __s32 members are generated from offsets/wanted.def (its WEFT_GO_FIELD
 * lines: member name, record field), as is weft-go's table that fills them
 * (injectors/go/go_binary.c).
 */
struct weft_go_cfg {
	__u32 flags;
	__s32 _pad;
	/*
	 * Writes: the uprobe sits on the CALL of r.Header.writeSubset inside
	 * (*Request).write (one hit per request); the io.Writer there must carry
	 * the itab of (*bufio.Writer, io.Writer), found in writeLoop's call of
	 * Request.write: expected RBX = probe address + bw_itab_delta.
	 */
	__s64 bw_itab_delta;
	/* WEFT_GO_CFG_SYSCALLS: the running goroutine at a syscall (go_goid.bpf.h) */
	struct weft_go_gid_offs gid;
#define WEFT_FIELD(name)
#define WEFT_FUNC(name)
#define WEFT_GO_FIELD(name, member, use) __s32 member;
#include "../../offsets/wanted.def"
#undef WEFT_FIELD
#undef WEFT_FUNC
#undef WEFT_GO_FIELD
};

/* Counters (per-CPU array "stats"), summed and printed by user space at exit. */
enum weft_go_stat {
	WEFT_GO_ST_SERVER,	 /* server spans emitted */
	WEFT_GO_ST_CLIENT,	 /* client spans emitted */
	WEFT_GO_ST_WRITES,	 /* traceparent lines written */
	WEFT_GO_ST_SKIP_STATE,	 /* write skipped: buffer state unexpected */
	WEFT_GO_ST_SKIP_SPACE,	 /* write skipped: no room in the buffer */
	WEFT_GO_ST_SKIP_APPSET,	 /* write skipped: the app set its own traceparent */
	WEFT_GO_ST_SKIP_UNKNOWN, /* write skipped: app headers could not be scanned */
	WEFT_GO_ST_SKIP_FAULT,	 /* write skipped: bpf_probe_write_user failed */
	WEFT_GO_ST_PUBLISHED,	 /* contexts published per connection */
	WEFT_GO_ST_PUBLISH_SKIP, /* publication skipped: TLS or no socket fd */
	WEFT_GO_ST_RB_DROP,	 /* span lost: ring buffer full */
	WEFT_GO_ST_IN_VALID,	 /* server requests with a valid incoming traceparent */
	WEFT_GO_ST_IN_INVALID,	 /* ... with an invalid or duplicated one */
	WEFT_GO_ST_HITS,	 /* uprobe hits in target processes */
	WEFT_GO_ST_SKIP_SHARED,	 /* write skipped: concurrent requests share one Header map */
	WEFT_GO_ST_SKIP_WRITER,	 /* write skipped: the io.Writer is not a *bufio.Writer */
	WEFT_GO_ST_NO_STATE,	 /* request untraced: no per-thread state (task storage) */
	WEFT_GO_ST_SKIP_FORWARDED, /* the app's copy of the incoming traceparent not replaced */
	WEFT_GO_ST_TS_WRITES,	 /* tracestate lines written beside a traceparent line */
	WEFT_GO_ST_TS_SKIP,	 /* ... not written: no room, or the client span's state gone */
	WEFT_GO_ST_STREAM_PUBLISHED, /* gRPC client stream contexts published (go_stream_ctx) */
	WEFT_GO_ST_STREAM_SKIP,	 /* ... not published: no plain TCP socket, or no socket cookie */
	WEFT_GO_ST_STREAM_APPSET, /* gRPC calls whose app set its own traceparent metadata */
	WEFT_GO_ST_H2_PUBLISHED, /* net/http, x/net HTTP/2 client stream contexts published */
	WEFT_GO_ST_H2_SKIP,	 /* ... not published: TLS, no socket cookie, or no stream id */
	WEFT_GO_ST_H2_APPSET,	 /* ... not published: the request carries the app's traceparent */
	WEFT_GO_ST_SYS_NO_G,	 /* request read at a syscall, its goroutine not found: untraced */
	WEFT_GO_ST_GRPCW_WRITES,	 /* traceparent fields written into grpc-go HEADERS frames */
	WEFT_GO_ST_GRPCW_TS_WRITES, /* ... with the span's tracestate field beside it */
	WEFT_GO_ST_GRPCW_SKIP_FIELDS, /* not written: the call's header fields not as expected */
	WEFT_GO_ST_GRPCW_SKIP_FRAME, /* ... the frame not this stream's HEADERS (or PADDED) */
	WEFT_GO_ST_GRPCW_SKIP_CONT, /* ... the block continues in CONTINUATION frames */
	WEFT_GO_ST_GRPCW_SKIP_SIZE, /* ... the frame would exceed 16384 bytes */
	WEFT_GO_ST_GRPCW_SKIP_SPACE, /* ... no room in the Framer's buffer (cap) */
	WEFT_GO_ST_GRPCW_SKIP_STATE, /* ... the buffer unreadable or inconsistent, or a write fault */
	WEFT_GO_ST_GRPCW_BW_WRITES, /* written in the bufWriter after endWrite (no room in wbuf) */
	WEFT_GO_ST_GRPCW_SKIP_BW,	 /* not written there: the frame not found whole, or no room */
	/*
	 * The same for net/http's and x/net's HTTP/2 client requests, in the
	 * same order (go_h2write.bpf.c counts each at its gRPC twin's index
	 * plus WEFT_GO_ST_H2W_DELTA); H2W_SKIP_NOFRAME is where gRPC counts
	 * header fields: no HEADERS frame of the stream reached WriteHeaders.
	 */
	WEFT_GO_ST_H2W_WRITES,
	WEFT_GO_ST_H2W_TS_WRITES,
	WEFT_GO_ST_H2W_SKIP_NOFRAME,
	WEFT_GO_ST_H2W_SKIP_FRAME,
	WEFT_GO_ST_H2W_SKIP_CONT,
	WEFT_GO_ST_H2W_SKIP_SIZE,
	WEFT_GO_ST_H2W_SKIP_SPACE,
	WEFT_GO_ST_H2W_SKIP_STATE,
	WEFT_GO_ST_H2W_BW_WRITES,
	WEFT_GO_ST_H2W_SKIP_BW,
	WEFT_GO_ST_H2W_APPSET, /* HTTP/2 client requests with the app's traceparent: left as is */
	WEFT_GO_ST_MAX,
};

#define WEFT_GO_ST_H2W_DELTA (WEFT_GO_ST_H2W_WRITES - WEFT_GO_ST_GRPCW_WRITES)

/* Process events (ring buffer "procs"): exec of a watched binary, exit. */
enum weft_go_proc_ev {
	WEFT_GO_PROC_EXEC = 1,
	WEFT_GO_PROC_EXIT = 2,
};

struct weft_go_proc_event {
	__u32 type;
	__u32 pid;
	__u32 bin;
	__u32 _pad;
};

struct weft_go_inode {
	__u64 dev; /* kernel encoding: major << 20 | minor */
	__u64 ino;
};

#endif /* WEFT_GO_H */

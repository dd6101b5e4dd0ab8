// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft-go: the write path, CALL Header.writeSubset in (*Request).write:
 * traceparent (and tracestate) lines written into the bufio.Writer, and a
 * traceparent the app forwarded replaced after the call (go_shared.bpf.h).
 */
#define WEFT_LINK_EXTERN
#include "go/go_shared.bpf.h"

static const struct fwd_site fwd_zero;

/*
 * "tracestate: <value>\r\n" composed at wl->b[WEFT_TP_LINE_LEN] (after room
 * for the traceparent line) when the request of pending p goes out with its
 * CLIENT span's tracestate (the app set none). That span's state is the
 * roundTrip goroutine's entry in clients, checked to be the same span (span
 * id) before and after the copy: a returned roundTrip's goroutine may make
 * another request meanwhile. Returns wl and *len (the line's bytes), or NULL.
 */
static __always_inline struct go_wline *ts_line(const struct pending *p, __u32 tgid, __u64 *len)
{
	struct gkey ck = {.tgid = tgid, .g = p->g};
	const struct client_state *cl;
	struct go_wline *wl;
	struct go_run *run;
	__u32 n, end;

	cl = bpf_map_lookup_elem(&clients, &ck);
	if (!cl || !cl->write_ts)
		return NULL;
	n = cl->ev.tracestate_len;
	barrier_var(n);
	if (n < 1 || n > WEFT_TS_MAX || !weft_span_id_eq(cl->ev.ctx.span_id, p->ctx.span_id))
		goto skip;
	run = go_run_state();
	if (!run)
		goto skip;
	wl = &run->wl;
	__builtin_memcpy(wl->b + WEFT_TP_LINE_LEN, WEFT_TS_HEADER, WEFT_TS_HEADER_LEN);
	if (bpf_probe_read_kernel(wl->b + GO_WLINE_TS, WEFT_TS_MAX, cl->ev.tracestate) ||
	    !weft_span_id_eq(cl->ev.ctx.span_id, p->ctx.span_id))
		goto skip;
	end = GO_WLINE_TS + n;
	barrier_var(end); /* keep the mask: the verifier may not know n's bound here */
	end &= GO_WLINE_BUF - 1;
	wl->b[end] = '\r';
	wl->b[end + 1] = '\n';
	*len = WEFT_TS_HEADER_LEN + n + 2;
	return wl;
skip:
	stat_inc(WEFT_GO_ST_TS_SKIP);
	return NULL;
}

/*
 * At the CALL of r.Header.writeSubset(w, reqWriteExcludeHeader, trace) inside
 * (*Request).write: RAX = h (the request's Header map), RBX:RCX = w, RDI =
 * exclude (non-nil for this call). The request line and the first headers are
 * in w's buffer; write "traceparent: <55>\r\n" (and the span's
 * "tracestate: <value>\r\n", in the same write) at buf[n] and advance n if
 * everything checks out. Decided once per request and connection.
 */
SEC("uprobe")
int go_write_site(struct pt_regs *ctx)
{
	const struct weft_go_cfg *cfg;
	struct pending *p;
	struct go_slice buf;
	struct gkey pk = {};
	__u64 bw = ctx->cx, err_itab = 1;
	__s64 n = -1, nn;
	char line[WEFT_TP_LINE_LEN];
	char crlf[2] = {};
	char *src = line;
	struct go_wline *wl;
	__u64 len = WEFT_TP_LINE_LEN, tslen = 0; /* 64-bit: checked in the register used */
	__u32 tgid;

	cfg = go_cfg(ctx, &tgid);
	if (!cfg || !ctx->ax || !bw || !ctx->di)
		return 0;
	pk.tgid = tgid;
	pk.g = ctx->ax;
	p = bpf_map_lookup_elem(&pendings, &pk);
	if (!p)
		return 0;
	if (p->state == PENDING_SHARED) {
		stat_inc(WEFT_GO_ST_SKIP_SHARED);
		return 0;
	}
	/* Decided for this connection already (a retry goes out on another one). */
	if (p->state != PENDING_OPEN && p->bw == bw)
		return 0;
	p->state = PENDING_DONE; /* decided now, whatever happens: never twice */
	p->bw = bw;

	if (!(cfg->flags & WEFT_GO_CFG_WRITE) || !cfg->bw_itab_delta || cfg->bw_buf < 0 ||
	    cfg->bw_n < 0 || cfg->bw_err < 0)
		goto bad_state;
	/* w must be a *bufio.Writer: its itab is the one writeLoop passes. */
	if (ctx->bx != ctx->ip + (__u64)cfg->bw_itab_delta) {
		stat_inc(WEFT_GO_ST_SKIP_WRITER);
		return 0;
	}
	if (bpf_probe_read_user(&err_itab, sizeof(err_itab), (void *)(bw + cfg->bw_err)) ||
	    bpf_probe_read_user(&buf, sizeof(buf), (void *)(bw + cfg->bw_buf)) ||
	    bpf_probe_read_user(&n, sizeof(n), (void *)(bw + cfg->bw_n)))
		goto bad_state;
	/* No pending error, a real buffer, 0 < n <= len <= cap. */
	if (err_itab || !buf.ptr || buf.len <= 0 || buf.cap < buf.len || n < 2 || n > buf.len)
		goto bad_state;
	/* What is already there ends a line: the request line or a header. */
	if (bpf_probe_read_user(crlf, 2, (void *)(buf.ptr + n - 2)) || crlf[0] != '\r' ||
	    crlf[1] != '\n')
		goto bad_state;
	if (p->fwd) {
		/* the app's copy is written by this call: replace it after it */
		struct gkey gk = {.tgid = tgid, .g = ctx->r14};
		struct fwd_site *fs;

		/* an entry per goroutine, made once and updated in place */
		fs = bpf_map_lookup_elem(&fwd_sites, &gk);
		if (!fs) {
			bpf_map_update_elem(&fwd_sites, &gk, &fwd_zero, BPF_ANY);
			fs = bpf_map_lookup_elem(&fwd_sites, &gk);
			if (!fs)
				return 0;
		}
		fs->ctx = p->ctx;
		fs->bw = bw;
		fs->hdr = ctx->ax;
		fs->n0 = n;
		__builtin_memcpy(fs->fwd_span_id, p->fwd_span_id, WEFT_SPAN_ID_LEN);
		return 0;
	}
	if (n + WEFT_TP_LINE_LEN > buf.len) {
		stat_inc(WEFT_GO_ST_SKIP_SPACE);
		return 0;
	}
	/* With tracestate: both lines composed in task storage, one write. */
	wl = ts_line(p, tgid, &tslen);
	if (wl && n + WEFT_TP_LINE_LEN + tslen > buf.len) {
		stat_inc(WEFT_GO_ST_TS_SKIP); /* no room for both: the traceparent alone */
		wl = NULL;
	}
	if (wl) {
		src = wl->b;
		len += tslen;
	}
	__builtin_memcpy(src, WEFT_TP_HEADER, WEFT_TP_HEADER_LEN);
	weft_tp_format(src + WEFT_TP_HEADER_LEN, &p->ctx);
	src[WEFT_TP_LINE_LEN - 2] = '\r';
	src[WEFT_TP_LINE_LEN - 1] = '\n';
	barrier_var(len);
	if (len < WEFT_TP_LINE_LEN || len > GO_WLINE_MAX || n + (__s64)len > buf.len)
		goto bad_state;
	if (bpf_probe_write_user((void *)(buf.ptr + n), src, len))
		goto fault;
	nn = n + len;
	if (bpf_probe_write_user((void *)(bw + cfg->bw_n), &nn, sizeof(nn)))
		goto fault; /* bytes beyond n are not part of the request */
	p->state = PENDING_WRITTEN;
	stat_inc(WEFT_GO_ST_WRITES);
	if (wl)
		stat_inc(WEFT_GO_ST_TS_WRITES);
	return 0;
fault:
	stat_inc(WEFT_GO_ST_SKIP_FAULT);
	return 0;
bad_state:
	stat_inc(WEFT_GO_ST_SKIP_STATE);
	return 0;
}

#define WEFT_GO_FWD_SCAN_STEPS 128 /* 48 bytes a step: header blocks up to 6 KB */

struct fwd_scan {
	__u64 base;  /* the buffer */
	__s64 pos;   /* scan from here (a '\n' ends the line before the first header) */
	__s64 end;   /* to here (bw.n after writeSubset) */
	__s64 found; /* offset of the traceparent value, or -1 */
};

/* bpf_loop callback: 48 buffer bytes per step, looking for "\nTraceparent: ". */
static long fwd_scan_cb(__u32 i, void *data)
{
	static const char name[] = "traceparent";
	struct fwd_scan *fs = data;
	__s64 p = fs->pos + (__s64)i * 48, sz = fs->end - p;
	char c[64];

	if (sz < 14)
		return 1;
	if (sz > 64)
		sz = 64;
	if (bpf_probe_read_user(c, sz, (void *)(fs->base + p)))
		return 1;
	for (int k = 0; k < 48; k++) {
		__u8 d = 0;

		if (k + 14 > sz)
			return 1;
		if (c[k] != '\n')
			continue;
		for (int j = 0; j < 11; j++)
			d |= (__u8)(c[k + 1 + j] | 0x20) ^ (__u8)name[j];
		if (!d && c[k + 12] == ':' && c[k + 13] == ' ') {
			fs->found = p + k + 14;
			return 1;
		}
	}
	return 0;
}

/*
 * Just after the CALL of writeSubset (write site + 5): the app's copy of the
 * incoming traceparent is now in w's buffer; find its line in what the call
 * wrote, check it is the copy (same trace id and parent id) and overwrite its
 * 55 value bytes with the client span's context. Nothing moves, n stays.
 */
/* f->val = the client span's traceparent value; its own frame (global function). */
__noinline int fwd_format(struct fwd_site *f)
{
	if (!f)
		return -1;
	weft_tp_format(f->val, &f->ctx);
	return 0;
}

/* The replacement for go_write_after, with the write site's record f. */
static __always_inline __u32 fwd_replace(const struct weft_go_cfg *cfg, struct fwd_site *f,
					 __u32 tgid, __u64 g)
{
	struct fwd_scan sc = {.found = -1};
	struct go_slice buf;
	struct pending *p;
	struct gkey pk = {};
	__u64 err_itab = 1, a, b;
	__s64 n = -1;

	if (bpf_probe_read_user(&err_itab, sizeof(err_itab), (void *)(f->bw + cfg->bw_err)) ||
	    bpf_probe_read_user(&buf, sizeof(buf), (void *)(f->bw + cfg->bw_buf)) ||
	    bpf_probe_read_user(&n, sizeof(n), (void *)(f->bw + cfg->bw_n)))
		return WEFT_GO_ST_SKIP_FORWARDED;
	/* no error, n grew within the buffer (a flush in between: not found below) */
	if (err_itab || !buf.ptr || buf.cap < buf.len || n > buf.len || f->n0 < 2 || n <= f->n0)
		return WEFT_GO_ST_SKIP_FORWARDED;
	sc.base = buf.ptr;
	sc.pos = f->n0 - 1;
	sc.end = n;
	bpf_loop(WEFT_GO_FWD_SCAN_STEPS, fwd_scan_cb, &sc, 0);
	if (sc.found < 0 || sc.found + WEFT_TRACEPARENT_LEN + 2 > n)
		return WEFT_GO_ST_SKIP_FORWARDED;
	f->v.ptr = buf.ptr + sc.found;
	f->v.len = WEFT_TRACEPARENT_LEN;
	if (go_parse_traceparent(&f->v, &f->chk) || !weft_trace_id_eq(f->chk.trace_id, f->ctx.trace_id))
		return WEFT_GO_ST_SKIP_FORWARDED;
	__builtin_memcpy(&a, f->chk.span_id, 8);
	__builtin_memcpy(&b, f->fwd_span_id, 8);
	if (a != b)
		return WEFT_GO_ST_SKIP_FORWARDED;
	if (fwd_format(f) ||
	    bpf_probe_write_user((void *)f->v.ptr, f->val, WEFT_TRACEPARENT_LEN))
		return WEFT_GO_ST_SKIP_FAULT;
	pk.tgid = tgid;
	pk.g = f->hdr;
	p = bpf_map_lookup_elem(&pendings, &pk);
	if (p && p->g == g)
		p->state = PENDING_WRITTEN;
	return WEFT_GO_ST_WRITES;
}

/*
 * Just after the CALL of writeSubset (write site + 5): the app's copy of the
 * incoming traceparent is now in w's buffer; find its line in what the call
 * wrote, check it is the copy (same trace id and parent id) and overwrite its
 * 55 value bytes with the client span's context. Nothing moves, n stays.
 */
SEC("uprobe")
int go_write_after(struct pt_regs *ctx)
{
	const struct weft_go_cfg *cfg;
	struct fwd_site *f;
	struct gkey gk = {};
	__u32 tgid;

	cfg = go_cfg(ctx, &tgid);
	if (!cfg)
		return 0;
	gk.tgid = tgid;
	gk.g = ctx->r14;
	f = bpf_map_lookup_elem(&fwd_sites, &gk);
	if (!f)
		return 0;
	stat_inc(fwd_replace(cfg, f, tgid, gk.g));
	bpf_map_delete_elem(&fwd_sites, &gk);
	return 0;
}

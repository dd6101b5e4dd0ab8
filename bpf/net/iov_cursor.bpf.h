/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * weft-http: a position in the bytes one read or write call moved, in one
 * buffer or over an iovec array (readv, recvmsg, writev, sendmsg), iovec by
 * iovec (included by http_observe.bpf.c: http2_in.bpf.h, http2_srv.bpf.h).
 * Only the bytes the call returned are walked, over at most IOV_CUR_MAX
 * iovecs.
 */
#ifndef WEFT_IOV_CURSOR_BPF_H
#define WEFT_IOV_CURSOR_BPF_H

#define IOV_CUR_MAX 1024 /* iovecs of one call followed (IOV_MAX) */

struct iov_cur {
	__u64 ubuf;  /* the current buffer (iovec) */
	__u32 n;     /* its bytes */
	__u32 pos;   /* the position in it */
	__u64 arr;   /* iovec mode: the iovec array */
	__u32 niov;  /* ... its entries followed at most */
	__u32 j;     /* ... the next one */
	__u32 vleft; /* ... bytes not in the iovecs so far */
};

/* Iovec mode: move to the next iovec; false when there is none to follow. */
static __always_inline bool iov_cur_next(struct iov_cur *c)
{
	struct iovec iov;

	if (!c->vleft || c->j >= c->niov)
		return false;
	if (bpf_probe_read_user(&iov, sizeof(iov), (void *)(c->arr + c->j * sizeof(iov))))
		return false;
	c->j++;
	c->ubuf = (__u64)iov.iov_base;
	c->n = iov.iov_len < c->vleft ? iov.iov_len : c->vleft;
	c->pos = 0;
	c->vleft -= c->n;
	return true;
}

/* Iovec mode: arr of niov entries carrying op bytes; false when unreadable. */
static __always_inline bool iov_cur_first(struct iov_cur *c, __u64 arr, __u64 niov, __u32 op)
{
	c->arr = arr;
	c->niov = niov < IOV_CUR_MAX ? niov : IOV_CUR_MAX;
	c->vleft = op;
	c->j = 0;
	c->n = c->pos = 0;
	return iov_cur_next(c);
}

/*
 * bpf_loop steps enough to walk op bytes of HTTP/2 frames over niov iovecs:
 * a frame (9 bytes at least) takes a step for its header and one per piece
 * of its payload (a SETTINGS parameter: 6 bytes), at most 2 steps per 9
 * bytes or 1 per 3; an iovec adds at most 4 (the move to it, a header, a
 * parameter and a payload cut at its end). So a walk that needs more was
 * given something else than frames.
 */
static __always_inline __u32 iov_cur_steps(__u32 op, __u64 niov)
{
	__u64 s = op / 3 + 4 * (niov < IOV_CUR_MAX ? niov : IOV_CUR_MAX) + 8;

	return s < (1u << 23) ? s : 1u << 23; /* bpf_loop's limit */
}

/* Bytes of the call not walked (yet). */
static __always_inline __u32 iov_cur_left(const struct iov_cur *c)
{
	return c->vleft + (c->pos < c->n ? c->n - c->pos : 0);
}

#endif /* WEFT_IOV_CURSOR_BPF_H */

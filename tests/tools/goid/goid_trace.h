/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What goid_trace.bpf.c reports to goid_trace.c per write of a "goid=" line. */
#ifndef GOID_TRACE_H
#define GOID_TRACE_H

#define GOID_TRACE_DATA 48
#define GOID_TRACE_PREFIX_MAX 8 /* the loader's --prefix; default "goid=" */

struct goid_trace_ev {
	__s64 goid;	   /* -1 when the goroutine could not be read */
	__s64 parent_goid; /* -1 when unknown */
	__u32 tid;	   /* the writing thread */
	__u32 ok;	   /* weft_go_current succeeded */
	__u32 len;	   /* bytes of data copied */
	__u32 _pad;
	char data[GOID_TRACE_DATA];
};

/* Counters (array "stats"). */
enum goid_trace_stat {
	GOID_ST_WRITES, /* writes of a line with the prefix by the target */
	GOID_ST_NONE,	/* ... whose goroutine could not be read */
	GOID_ST_DROPS,	/* events lost: ring buffer full */
	GOID_ST_MAX,
};

#endif /* GOID_TRACE_H */

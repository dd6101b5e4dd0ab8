/* SPDX-License-Identifier: BSD-2-Clause */
/* weft-tcpopt helpers: target cgroup's id and level, --accept-from CIDRs, libssl lookup. */
#ifndef WEFT_TCPOPT_UTIL_H
#define WEFT_TCPOPT_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "weft_tcpopt.h"

/*
 * Resolve a cgroup v2 directory: its id (the directory's inode number on
 * cgroup2) and its level below the hierarchy root (root = 0). 0, or -1 with
 * a message in err.
 */
int tcpopt_cgroup_info(const char *path, uint64_t *id, uint32_t *level, char *err, size_t errlen);

/* Parse "a.b.c.d/n", "a.b.c.d", "x::y/n" into an LPM key (IPv4 as v4-mapped). 0 or -1. */
int tcpopt_parse_cidr(const char *s, struct weft_tcpopt_cidr *out);

/* Find libssl.so.3: explicit path if given, else the usual multiarch places. */
const char *tcpopt_find_libssl(const char *explicit_path);

#endif /* WEFT_TCPOPT_UTIL_H */

/* SPDX-License-Identifier: BSD-2-Clause */
/* The maps weft-go pins for other injectors (bpf/include/weft_conn_ctx.h). */
#ifndef WEFT_GO_PIN_H
#define WEFT_GO_PIN_H

#include <stddef.h>

struct bpf_map;

/*
 * Pin map at $WEFT_PIN_DIR/name (default /sys/fs/bpf/weft), replacing a
 * stale pin a killed run left behind. The path is kept in path[len].
 * 0, or -errno with one line in err.
 */
int go_pin_map(struct bpf_map *map, const char *name, char *path, size_t len, char *err,
	       size_t errlen);
/* Remove the pin made above (path as returned); no-op for "". */
void go_unpin(const char *path);

#endif /* WEFT_GO_PIN_H */

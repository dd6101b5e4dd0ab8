// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft-go: the unit that owns the maps every unit of the object shares
 * (go_shared.bpf.h, weft_conn_ctx.h; the
 * other units declare them extern, weft_link.h) and the license.
 */
#include "go/go_shared.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

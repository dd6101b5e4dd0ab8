// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft-tcpopt: the unit that owns the maps and globals every unit of the
 * object shares (tcpopt_shared.bpf.h, server_ctx.bpf.h; the other units
 * declare them extern, weft_link.h) and the license.
 */
#include "tcpopt_shared.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

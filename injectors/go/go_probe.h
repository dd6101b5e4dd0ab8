/* SPDX-License-Identifier: BSD-2-Clause */
/* Does this kernel let BPF programs call bpf_probe_write_user? */
#ifndef WEFT_GO_PROBE_H
#define WEFT_GO_PROBE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Load (never attach) a tiny kprobe-type program that calls the helper.
 * true when the kernel accepted it; false with the reason in why.
 */
bool go_probe_write_user(char *why, size_t whylen);

/* Does the kernel have uprobe_multi links (Linux 6.6 and later)? */
bool go_has_uprobe_multi(void);

#endif /* WEFT_GO_PROBE_H */

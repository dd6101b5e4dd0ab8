/* SPDX-License-Identifier: BSD-2-Clause */
/* One-line diagnostics: "prog: error: what failed: what to do". */
#ifndef WEFT_LOG_H
#define WEFT_LOG_H

#include <stdbool.h>

void weft_log_init(const char *prog, bool verbose);
const char *weft_prog(void);
void weft_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void weft_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void weft_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void weft_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* WEFT_LOG_H */

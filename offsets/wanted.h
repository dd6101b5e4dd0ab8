/* SPDX-License-Identifier: BSD-2-Clause */
/* The wanted table (offsets/wanted.def) as arrays. */
#ifndef WEFT_WANTED_H
#define WEFT_WANTED_H

#include <stddef.h>

extern const char *const weft_wanted_fields[];
extern const size_t weft_wanted_nfields;
extern const char *const weft_wanted_funcs[];
extern const size_t weft_wanted_nfuncs;

#endif /* WEFT_WANTED_H */

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The wanted table (offsets/wanted.def), the needed table (offsets/needed.def)
 * and the accessor table (offsets/accessors.def) as arrays.
 */
#ifndef WEFT_WANTED_H
#define WEFT_WANTED_H

#include <stdbool.h>
#include <stddef.h>

extern const char *const weft_wanted_fields[];
extern const size_t weft_wanted_nfields;
extern const char *const weft_wanted_funcs[];
extern const size_t weft_wanted_nfuncs;

/* A field an injector cannot do without when a binary has func (needed.def). */
struct weft_need {
	const char *func, *field;
};
extern const struct weft_need weft_needed[];
extern const size_t weft_nneeded;

/* A field read from the machine code of an accessor method (accessors.def). */
struct weft_accessor {
	const char *field, *func;
	unsigned words; /* the field's size in 8-byte words */
	bool head;	/* only the loads before the method's first CALL (WEFT_ACCESSOR_HEAD) */
};
extern const struct weft_accessor weft_accessors[];
extern const size_t weft_naccessors;

#endif /* WEFT_WANTED_H */

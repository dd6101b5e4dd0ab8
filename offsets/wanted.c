// SPDX-License-Identifier: BSD-2-Clause
/* The wanted, needed and accessor tables: offsets/{wanted,needed,accessors}.def as arrays. */
#include "wanted.h"

#define WEFT_FIELD(name) name,
#define WEFT_GO_FIELD(name, member, use) name,
#define WEFT_FUNC(name)
const char *const weft_wanted_fields[] = {
#include "wanted.def"
};
#undef WEFT_FIELD
#undef WEFT_GO_FIELD
#undef WEFT_FUNC
const size_t weft_wanted_nfields = sizeof(weft_wanted_fields) / sizeof(weft_wanted_fields[0]);

#define WEFT_FIELD(name)
#define WEFT_GO_FIELD(name, member, use)
#define WEFT_FUNC(name) name,
const char *const weft_wanted_funcs[] = {
#include "wanted.def"
};
#undef WEFT_FIELD
#undef WEFT_GO_FIELD
#undef WEFT_FUNC
const size_t weft_wanted_nfuncs = sizeof(weft_wanted_funcs) / sizeof(weft_wanted_funcs[0]);

#define WEFT_NEED(fn, field) {fn, field},
const struct weft_need weft_needed[] = {
#include "needed.def"
};
#undef WEFT_NEED
const size_t weft_nneeded = sizeof(weft_needed) / sizeof(weft_needed[0]);

#define WEFT_ACCESSOR(field, fn, words) {field, fn, words, false},
#define WEFT_ACCESSOR_HEAD(field, fn, words) {field, fn, words, true},
const struct weft_accessor weft_accessors[] = {
#include "accessors.def"
};
#undef WEFT_ACCESSOR
#undef WEFT_ACCESSOR_HEAD
const size_t weft_naccessors = sizeof(weft_accessors) / sizeof(weft_accessors[0]);

// SPDX-License-Identifier: BSD-2-Clause
/*
 * Struct offsets read from machine code (offsets/accessors.def): a method
 * that returns a field of its receiver compiles, with Go's register ABI, to
 * loads from RAX at the field's offset. Used for binaries with neither DWARF
 * nor an exact known/ table entry (source "code" in the record).
 */
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "wanted.h"

/* The accessor's field offset, or -1 when its loads do not fit one field of that size. */
static int64_t field_from_loads(const struct disasm_span *loads, size_t n, unsigned words)
{
	uint64_t lo = UINT64_MAX;

	if (!n || !words)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (loads[i].disp < lo)
			lo = loads[i].disp;
	for (size_t i = 0; i < n; i++)
		if (!loads[i].len || loads[i].disp + loads[i].len > lo + 8ull * words)
			return -1;
	return lo <= WEFT_OFFSET_MAX ? (int64_t)lo : -1;
}

static long wanted_index(const char *field)
{
	for (size_t i = 0; i < weft_wanted_nfields; i++)
		if (strcmp(weft_wanted_fields[i], field) == 0)
			return (long)i;
	return -1;
}

void accessors_derive(struct disasm *d, const struct welf *w, const uint64_t *entries,
		      const uint64_t *sizes, int64_t *offs)
{
	struct disasm_span loads[16];
	bool *conflict = calloc(weft_wanted_nfields + 1, sizeof(*conflict));

	for (size_t i = 0; i < weft_wanted_nfields; i++)
		offs[i] = -1;
	if (!conflict)
		return;
	for (size_t a = 0; a < weft_naccessors; a++) {
		const struct weft_accessor *acc = &weft_accessors[a];
		long fi = wanted_index(acc->field);
		const uint8_t *code;
		int64_t off;
		size_t n;

		/* Accessors are small: a large function is not one. */
		if (fi < 0 || !sizes[a] || sizes[a] > 4096)
			continue;
		code = welf_vaddr(w, entries[a], sizes[a]);
		if (!code ||
		    disasm_receiver_loads(d, code, sizes[a], entries[a], acc->head, loads,
					  sizeof(loads) / sizeof(loads[0]), &n))
			continue;
		off = field_from_loads(loads, n, acc->words);
		if (off < 0)
			continue;
		if (offs[fi] >= 0 && offs[fi] != off)
			conflict[fi] = true;
		offs[fi] = off;
	}
	for (size_t i = 0; i < weft_wanted_nfields; i++)
		if (conflict[i])
			offs[i] = -1;
	free(conflict);
}

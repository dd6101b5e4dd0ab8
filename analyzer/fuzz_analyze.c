// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer target: ELF, Go buildinfo and pclntab parsing. The input is
 * analysed as a whole file (ELF headers, sections, .go.buildinfo, .gopclntab,
 * .symtab, DWARF, disassembly), then fed to the raw pclntab and modinfo
 * parsers directly so they are reached without a valid ELF around them.
 */
#include <stdlib.h>
#include <string.h>
#include "analyze.h"
#include "internal.h"

static void sink(void *ctx, const char *name, size_t namelen, uint64_t entry, uint64_t size)
{
	*(size_t *)ctx += namelen + (size_t)(entry ^ size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct weft_record *rec = NULL;
	struct gobuildinfo bi = {0};
	char err[256];
	size_t acc = 0;
	uint8_t *copy = malloc(size ? size : 1);

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (weft_analyze_mem(copy, size, "fuzz", "00000000000000000000000000000000", &rec, err,
			     sizeof(err)) == WEFT_ANALYZE_OK) {
		char *buf = NULL;
		size_t len = 0;

		/* Whatever it produced must encode and decode back. */
		if (weft_record_encode(rec, &buf, &len) == 0) {
			struct weft_record *back = NULL;

			if (weft_record_decode(buf, len, &back, err, sizeof(err)) != 0)
				abort();
			weft_record_free(back);
			free(buf);
		}
		weft_record_free(rec);
	}
	memcpy(copy, data, size);
	pclntab_walk_raw(copy, size, 0x401000, sink, &acc, err, sizeof(err));
	gobuildinfo_parse_modinfo((const char *)copy, size, &bi);
	gobuildinfo_free(&bi);
	/* Records from a damaged database. */
	if (weft_record_decode((const char *)copy, size, &rec, err, sizeof(err)) == 0)
		weft_record_free(rec);
	free(copy);
	return 0;
}

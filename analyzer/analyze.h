/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Analysis of one Go binary into an offsets record. Used by weft-analyze and by
 * weft-go when a binary is missing from the database.
 */
#ifndef WEFT_ANALYZE_H
#define WEFT_ANALYZE_H

#include "offsets.h"

enum weft_analyze_result {
	WEFT_ANALYZE_OK = 0,
	WEFT_ANALYZE_SKIP = 1,	/* not ELF, not Go, not x86-64: err says why */
	WEFT_ANALYZE_FAIL = 2,	/* broken or unreadable: err says what */
};

/*
 * Analyse the binary open at fd (path for messages and the record). hash is
 * the file's XXH3-128 hex, or NULL to compute it.
 */
enum weft_analyze_result weft_analyze_fd(int fd, const char *path, const char *hash,
					 struct weft_record **out, char *err, size_t errlen);

/* Analysis of bytes in memory (fuzzing, tests) and the analyzer version. */
#include <stdint.h>
/* Same over bytes in memory (data is not modified). */
enum weft_analyze_result weft_analyze_mem(const uint8_t *data, size_t size, const char *path,
					  const char *hash, struct weft_record **out, char *err,
					  size_t errlen);
/* "0.1.0+<8 hex>": changes with the wanted and known tables. */
const char *weft_analyzer_version(void);

#endif /* WEFT_ANALYZE_H */

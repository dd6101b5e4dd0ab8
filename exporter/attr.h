/* SPDX-License-Identifier: BSD-2-Clause */
/* An attribute as the encoders see it: key and a string, int or bool value. */
#ifndef WEFT_EXPORT_ATTR_H
#define WEFT_EXPORT_ATTR_H

#include <stddef.h>
#include <stdint.h>

enum weft_attr_type {
	WEFT_ATTR_STR = 0,
	WEFT_ATTR_INT = 1,
	WEFT_ATTR_BOOL = 2,
};

struct weft_attr {
	const char *key;
	size_t klen;
	const char *s; /* NUL-terminated, valid UTF-8 */
	size_t slen;
	int64_t i; /* int value, or bool 0/1 */
	int type;
};

#endif /* WEFT_EXPORT_ATTR_H */

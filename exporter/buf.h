/* SPDX-License-Identifier: BSD-2-Clause */
/* A growable byte buffer and the JSON string writer the encoders share. */
#ifndef WEFT_EXPORT_BUF_H
#define WEFT_EXPORT_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct wbuf {
	char *p;
	size_t len;
	size_t cap;
	bool oom; /* an allocation failed: contents are incomplete */
};

void wbuf_free(struct wbuf *b);
/* Make room for n more bytes; false (and b->oom set) when out of memory. */
bool wbuf_grow(struct wbuf *b, size_t n);

static inline void wbuf_reset(struct wbuf *b)
{
	b->len = 0;
	b->oom = false;
}

static inline void wbuf_put(struct wbuf *b, const void *s, size_t n)
{
	if (b->cap - b->len < n && !wbuf_grow(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static inline void wbuf_puts(struct wbuf *b, const char *s)
{
	wbuf_put(b, s, strlen(s));
}

static inline void wbuf_putc(struct wbuf *b, char c)
{
	if (b->cap == b->len && !wbuf_grow(b, 1))
		return;
	b->p[b->len++] = c;
}

void wbuf_u64(struct wbuf *b, uint64_t v);
void wbuf_i64(struct wbuf *b, int64_t v);
/* A JSON string literal with quotes; s is valid UTF-8 (see weft_utf8_copy). */
void wbuf_json_str(struct wbuf *b, const char *s, size_t n);
/* Lowercase hex of n bytes, quoted. */
void wbuf_json_hex(struct wbuf *b, const uint8_t *bytes, size_t n);

/*
 * Copy at most n bytes of src into dst (size dstsz, NUL-terminated), replacing
 * bytes that are not valid UTF-8, and control characters, with U+FFFD. Returns
 * the length written.
 */
size_t weft_utf8_copy(char *dst, size_t dstsz, const char *src, size_t n);

#endif /* WEFT_EXPORT_BUF_H */

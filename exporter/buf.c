// SPDX-License-Identifier: BSD-2-Clause
#include <stdlib.h>
#include "buf.h"
#include "weft_tracecontext.h"

void wbuf_free(struct wbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

bool wbuf_grow(struct wbuf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (b->oom)
		return false;
	while (cap - b->len < n)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static const char digit_pairs[] = "00010203040506070809101112131415161718192021222324"
				  "25262728293031323334353637383940414243444546474849"
				  "50515253545556575859606162636465666768697071727374"
				  "75767778798081828384858687888990919293949596979899";

void wbuf_u64(struct wbuf *b, uint64_t v)
{
	char tmp[24];
	int i = sizeof(tmp);
	uint32_t w;

	/* eight digits per 64-bit division (timestamps have 19), then two per
	 * 32-bit one: 64-bit divisions by 100 cost most of a span's numbers */
	while (v >= 100000000) {
		w = (uint32_t)(v % 100000000);
		v /= 100000000;
		for (int k = 0; k < 4; k++, w /= 100) {
			i -= 2;
			memcpy(tmp + i, digit_pairs + 2 * (w % 100), 2);
		}
	}
	for (w = (uint32_t)v; w >= 100; w /= 100) {
		i -= 2;
		memcpy(tmp + i, digit_pairs + 2 * (w % 100), 2);
	}
	if (w >= 10) {
		i -= 2;
		memcpy(tmp + i, digit_pairs + 2 * w, 2);
	} else {
		tmp[--i] = (char)('0' + w);
	}
	wbuf_put(b, tmp + i, sizeof(tmp) - (size_t)i);
}

void wbuf_i64(struct wbuf *b, int64_t v)
{
	if (v < 0) {
		wbuf_putc(b, '-');
		wbuf_u64(b, (uint64_t)0 - (uint64_t)v);
	} else {
		wbuf_u64(b, (uint64_t)v);
	}
}

/* Bytes that need escaping in a JSON string: '"', '\\' and controls. */
static inline bool json_plain(unsigned char c)
{
	return c >= 0x20 && c != '"' && c != '\\';
}

void wbuf_json_str(struct wbuf *b, const char *s, size_t n)
{
	/* worst case: every byte becomes \u00XX */
	if (b->cap - b->len < 6 * n + 2 && !wbuf_grow(b, 6 * n + 2))
		return;
	char *o = b->p + b->len;

	*o++ = '"';
	/* one pass: the strings are short, a call to memcpy per run costs more */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (json_plain(c)) {
			*o++ = (char)c;
			continue;
		}
		*o++ = '\\';
		if (c == '"' || c == '\\') {
			*o++ = (char)c;
		} else {
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			weft_hex_byte(o, c);
			o += 2;
		}
	}
	*o++ = '"';
	b->len = (size_t)(o - b->p);
}

void wbuf_json_hex(struct wbuf *b, const uint8_t *bytes, size_t n)
{
	if (b->cap - b->len < 2 * n + 2 && !wbuf_grow(b, 2 * n + 2))
		return;
	char *o = b->p + b->len;

	*o++ = '"';
	for (size_t i = 0; i < n; i++, o += 2)
		weft_hex_byte(o, bytes[i]);
	*o++ = '"';
	b->len = (size_t)(o - b->p);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* Whether all 8 bytes of w are printable ASCII (0x20..0x7e). */
static inline bool ascii8_printable(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t del = w ^ (0x7f * ones);

	/* no high bit; no byte below 0x20 (subtracting borrows); no 0x7f byte */
	return !(w & high) && !((w - 0x20 * ones) & high) && !((del - ones) & ~del & high);
}

size_t weft_utf8_copy(char *dst, size_t dstsz, const char *src, size_t n)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0;

	if (!dstsz)
		return 0;
	while (i < n && s[i] && o + 1 < dstsz) {
		size_t l;

		/* printable ASCII, most of it: 8 bytes at a time, then one */
		if (i + 8 <= n && o + 8 < dstsz) {
			uint64_t w;

			memcpy(&w, s + i, 8);
			if (ascii8_printable(w)) {
				memcpy(dst + o, &w, 8);
				i += 8;
				o += 8;
				continue;
			}
		}
		if ((unsigned)(s[i] - 0x20) < 0x5f) {
			dst[o++] = (char)s[i++];
			continue;
		}
		l = utf8_seq(s + i, n - i);

		if (l == 1 && s[i] >= 0x20 && s[i] != 0x7f) {
			dst[o++] = (char)s[i++];
		} else if (l > 1 && o + l < dstsz) {
			memcpy(dst + o, s + i, l);
			o += l;
			i += l;
		} else if (l > 1) {
			break;
		} else if (o + 3 < dstsz) {
			/* U+FFFD REPLACEMENT CHARACTER */
			memcpy(dst + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			break;
		}
	}
	dst[o] = '\0';
	return o;
}

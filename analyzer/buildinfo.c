// SPDX-License-Identifier: BSD-2-Clause
/*
 * Go build information (.go.buildinfo): Go version and module versions.
 * Header: 14-byte magic, pointer size, flags (bit 1: strings inline, Go 1.18+;
 * else two pointers to Go string headers), then the strings.
 */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

static const char bi_magic[] = "\xff Go buildinf:";
#define BI_MAGIC_LEN 14
#define BI_HDR 32

void gobuildinfo_free(struct gobuildinfo *bi)
{
	free(bi->go_version);
	for (size_t i = 0; i < bi->nmodules; i++) {
		free(bi->modules[i].path);
		free(bi->modules[i].version);
	}
	free(bi->modules);
	memset(bi, 0, sizeof(*bi));
}

static uint64_t rd(const uint8_t *p, int size, bool be)
{
	uint64_t v = 0;

	for (int i = 0; i < size; i++)
		v |= (uint64_t)p[be ? size - 1 - i : i] << (8 * i);
	return v;
}

/* Unsigned LEB128 as Go's binary.Uvarint; 0 on error. */
static size_t uvarint(const uint8_t *p, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	for (size_t i = 0; i < len && i < 10; i++) {
		v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			*out = v;
			return i + 1;
		}
	}
	return 0;
}

static int add_module(struct gobuildinfo *bi, const char *path, size_t plen, const char *ver,
		      size_t vlen)
{
	struct weft_module *m;

	if (!plen || bi->nmodules >= 100000)
		return -1;
	/* A replacement with a version (=> path vX) replaces the version. */
	m = realloc(bi->modules, (bi->nmodules + 1) * sizeof(*m));
	if (!m)
		return -1;
	bi->modules = m;
	m = &bi->modules[bi->nmodules];
	m->path = strndup(path, plen);
	m->version = strndup(ver, vlen);
	if (!m->path || !m->version) {
		free(m->path);
		free(m->version);
		return -1;
	}
	bi->nmodules++;
	return 0;
}

/* Split a tab-separated line into up to 4 fields. */
static int split_tabs(const char *s, size_t len, const char **f, size_t *fl, int max)
{
	int n = 0;
	size_t start = 0;

	for (size_t i = 0; i <= len && n < max; i++) {
		if (i == len || s[i] == '\t') {
			f[n] = s + start;
			fl[n] = i - start;
			n++;
			start = i + 1;
		}
	}
	return n;
}

int gobuildinfo_parse_modinfo(const char *s, size_t len, struct gobuildinfo *bi)
{
	size_t pos = 0;
	bool last_is_module = false;

	/* Go wraps modinfo in 16-byte sentinels. */
	if (len >= 33 && s[len - 17] == '\n') {
		s += 16;
		len -= 32;
	}
	while (pos < len) {
		const char *line = s + pos, *nl = memchr(line, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - line) : len - pos;
		const char *f[4];
		size_t fl[4];
		int n = split_tabs(line, ll, f, fl, 4);

		pos += ll + 1;
		if (n >= 3 && ((fl[0] == 3 && memcmp(f[0], "mod", 3) == 0) ||
			       (fl[0] == 3 && memcmp(f[0], "dep", 3) == 0))) {
			if (add_module(bi, f[1], fl[1], f[2], fl[2]))
				return -1;
			last_is_module = true;
		} else if (n >= 2 && fl[0] == 2 && memcmp(f[0], "=>", 2) == 0) {
			/* Replacement: a versioned one gives the version really built. */
			if (last_is_module && n >= 3 && fl[2] > 1 && f[2][0] == 'v') {
				struct weft_module *m = &bi->modules[bi->nmodules - 1];
				char *v = strndup(f[2], fl[2]);

				if (!v)
					return -1;
				free(m->version);
				m->version = v;
			}
			last_is_module = false;
		} else {
			last_is_module = false;
		}
	}
	return 0;
}

/* Read a Go string {ptr, len} whose header is at virtual address va. */
static char *go_string_at(struct welf *w, uint64_t va, int ptrsz, bool be, size_t *outlen)
{
	const uint8_t *hdr = welf_vaddr(w, va, 2 * (uint64_t)ptrsz), *p;
	uint64_t sp, sl;
	char *s;

	if (!hdr)
		return NULL;
	sp = rd(hdr, ptrsz, be);
	sl = rd(hdr + ptrsz, ptrsz, be);
	if (sl > (1u << 24) || !(p = welf_vaddr(w, sp, sl)))
		return NULL;
	s = malloc(sl + 1);

	if (!s)
		return NULL;
	memcpy(s, p, sl);
	s[sl] = 0;
	*outlen = sl;
	return s;
}

static const uint8_t *find_header(struct welf *w, size_t *avail)
{
	struct wsect s;

	if (welf_section(w, ".go.buildinfo", &s) && s.type != SHT_NOBITS && s.size >= BI_HDR) {
		const uint8_t *p = welf_at(w, s.offset, s.size);

		if (p && memcmp(p, bi_magic, BI_MAGIC_LEN) == 0) {
			*avail = s.size;
			return p;
		}
	}
	/* No section headers: scan writable load segments, 16-byte aligned. */
	for (size_t i = 0; i < w->nphdr; i++) {
		const GElf_Phdr *ph = &w->phdrs[i];
		const uint8_t *p;
		uint64_t lim;

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
			continue;
		lim = ph->p_filesz;
		p = welf_at(w, ph->p_offset, lim);
		if (!p)
			continue;
		for (uint64_t o = 0; o + BI_HDR <= lim; o += 16)
			if (memcmp(p + o, bi_magic, BI_MAGIC_LEN) == 0) {
				*avail = lim - o;
				return p + o;
			}
	}
	return NULL;
}

int gobuildinfo_parse(struct welf *w, struct gobuildinfo *bi, char *err, size_t errlen)
{
	size_t avail = 0, vlen = 0, mlen = 0;
	const uint8_t *h = find_header(w, &avail);
	char *ver = NULL, *mod = NULL;
	int ptrsz;
	bool be;

	memset(bi, 0, sizeof(*bi));
	if (!h)
		return 1; /* absent */
	ptrsz = h[14];
	be = h[15] & 1;
	if (ptrsz != 4 && ptrsz != 8) {
		snprintf(err, errlen, "corrupt .go.buildinfo: pointer size %d", ptrsz);
		return -1;
	}
	if (h[15] & 2) {
		size_t pos = BI_HDR, n;
		uint64_t l;

		n = uvarint(h + pos, avail - pos, &l);
		if (!n || l > avail - pos - n) {
			snprintf(err, errlen, "corrupt .go.buildinfo: bad version length");
			return -1;
		}
		ver = strndup((const char *)h + pos + n, l);
		pos += n + l;
		n = uvarint(h + pos, avail - pos, &l);
		if (n && l <= avail - pos - n) {
			mod = malloc(l + 1);
			if (mod) {
				memcpy(mod, h + pos + n, l);
				mod[l] = 0;
				mlen = l;
			}
		}
	} else {
		if (avail < 16 + 2 * (size_t)ptrsz) {
			snprintf(err, errlen, "corrupt .go.buildinfo: truncated header");
			return -1;
		}
		ver = go_string_at(w, rd(h + 16, ptrsz, be), ptrsz, be, &vlen);
		mod = go_string_at(w, rd(h + 16 + ptrsz, ptrsz, be), ptrsz, be, &mlen);
	}
	bi->go_version = ver && *ver ? ver : NULL;
	if (!bi->go_version)
		free(ver);
	if (mod && gobuildinfo_parse_modinfo(mod, mlen, bi)) {
		free(mod);
		gobuildinfo_free(bi);
		snprintf(err, errlen, "out of memory reading .go.buildinfo");
		return -1;
	}
	free(mod);
	return 0;
}

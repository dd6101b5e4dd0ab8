// SPDX-License-Identifier: BSD-2-Clause
/*
 * On-disk record format (text, one item per line, docs/analyzer.md):
 *   weft-offsets <format>
 *   analyzer <version>
 *   hash <xxh3-128 hex>
 *   path <path>
 *   go <version or ->
 *   stripped <0|1>
 *   pie <0|1>
 *   runtime <name>                        (absent for Go: nginx, ...)
 *   module <path> <version>               (repeated)
 *   field <name> <offset> <source>        (repeated)
 *   func <name> <entry hex> <file offset hex> <size> <ret>...  (repeated)
 *   site <name> <address hex> <file offset hex>               (repeated)
 *   fact <name> <value>                                       (repeated)
 *   end <xxh3-64 hex of every byte before this line>
 * Strings are percent-encoded (bytes <= 0x20, '%', 0x7f).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "offsets.h"

#define RECORD_MAX (16u << 20)

static void put_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s && *s ? s : "-");

	if (s && strcmp(s, "-") == 0) {
		fputs("%2d", f);
		return;
	}
	for (; *p; p++) {
		if (*p <= 0x20 || *p == '%' || *p == 0x7f)
			fprintf(f, "%%%02x", *p);
		else
			fputc(*p, f);
	}
}

int weft_record_encode(const struct weft_record *rec, char **buf, size_t *len)
{
	char *body = NULL;
	size_t blen = 0, i, j;
	FILE *f = open_memstream(&body, &blen);

	if (!f)
		return -ENOMEM;
	fprintf(f, "weft-offsets %d\nanalyzer ", WEFT_RECORD_FORMAT);
	put_str(f, rec->analyzer_version);
	fprintf(f, "\nhash %s\npath ", rec->hash);
	put_str(f, rec->path);
	fputs("\ngo ", f);
	put_str(f, rec->go_version);
	fprintf(f, "\nstripped %d\npie %d\n", rec->stripped, rec->pie);
	if (rec->runtime) {
		fputs("runtime ", f);
		put_str(f, rec->runtime);
		fputc('\n', f);
	}
	for (i = 0; i < rec->nmodules; i++) {
		fputs("module ", f);
		put_str(f, rec->modules[i].path);
		fputc(' ', f);
		put_str(f, rec->modules[i].version);
		fputc('\n', f);
	}
	for (i = 0; i < rec->nfields; i++) {
		fputs("field ", f);
		put_str(f, rec->fields[i].name);
		fprintf(f, " %" PRId64 " %s\n", rec->fields[i].offset,
			weft_source_name(rec->fields[i].source));
	}
	for (i = 0; i < rec->nfuncs; i++) {
		const struct weft_func *fn = &rec->funcs[i];

		fputs("func ", f);
		put_str(f, fn->name);
		fprintf(f, " %" PRIx64 " %" PRIx64 " %" PRIu64, fn->entry, fn->fileoff, fn->size);
		for (j = 0; j < fn->nreturns; j++)
			fprintf(f, " %u", fn->returns[j]);
		fputc('\n', f);
	}
	for (i = 0; i < rec->nsites; i++) {
		fputs("site ", f);
		put_str(f, rec->sites[i].name);
		fprintf(f, " %" PRIx64 " %" PRIx64 "\n", rec->sites[i].addr, rec->sites[i].fileoff);
	}
	for (i = 0; i < rec->nfacts; i++) {
		fputs("fact ", f);
		put_str(f, rec->facts[i].name);
		fprintf(f, " %" PRId64 "\n", rec->facts[i].value);
	}
	fflush(f);
	fprintf(f, "end %016llx\n", (unsigned long long)XXH3_64bits(body, blen));
	if (fclose(f)) {
		free(body);
		return -ENOMEM;
	}
	*buf = body;
	*len = blen;
	return 0;
}

/* Decode a percent-encoded token in place; "-" alone means empty. */
static char *get_str(char *tok)
{
	char *w = tok, *r = tok;

	if (strcmp(tok, "-") == 0)
		return strdup("");
	while (*r) {
		if (*r == '%') {
			unsigned int v;

			if (!r[1] || !r[2] || sscanf(r + 1, "%2x", &v) != 1 || v == 0)
				return NULL;
			*w++ = (char)v;
			r += 3;
		} else {
			*w++ = *r++;
		}
	}
	*w = 0;
	return strdup(tok);
}

static int parse_u64(const char *s, int base, uint64_t *out)
{
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, base);
	return errno || *end ? -1 : 0;
}

static int grow(void **arr, size_t n, size_t elem)
{
	/* capacity: 4, then doubling at each power of two */
	if (n && (n < 4 || (n & (n - 1))))
		return 0;
	void *p = realloc(*arr, (n ? n * 2 : 4) * elem);

	if (!p)
		return -1;
	*arr = p;
	return 0;
}

#define FAIL(msg)                                                                                  \
	do {                                                                                       \
		why = msg;                                                                         \
		goto fail;                                                                         \
	} while (0)

int weft_record_decode(const char *buf, size_t len, struct weft_record **out, char *err,
		       size_t errlen)
{
	struct weft_record *rec = NULL;
	const char *why = NULL, *endl;
	char *copy = NULL, *line, *save = NULL;
	size_t bodylen, lineno = 0;
	unsigned long long sum;
	int seen = 0;

	if (len < 16 || len > RECORD_MAX || buf[len - 1] != '\n')
		FAIL("truncated or oversized record");
	/* The last line is "end <checksum>". */
	endl = buf + len - 1;
	while (endl > buf && endl[-1] != '\n')
		endl--;
	bodylen = (size_t)(endl - buf);
	{
		/* The buffer need not be NUL-terminated: parse a bounded copy. */
		char last[22];

		if ((size_t)(buf + len - endl) != 21)
			FAIL("missing checksum line");
		memcpy(last, endl, 21);
		last[21] = 0;
		if (strncmp(last, "end ", 4) != 0 || strspn(last + 4, "0123456789abcdef") != 16 ||
		    sscanf(last + 4, "%16llx", &sum) != 1)
			FAIL("missing checksum line");
	}
	if (sum != XXH3_64bits(buf, bodylen))
		FAIL("checksum mismatch");
	if (memchr(buf, 0, len))
		FAIL("NUL byte in record");
	copy = strndup(buf, bodylen);
	rec = calloc(1, sizeof(*rec));
	if (!copy || !rec)
		FAIL("out of memory");
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *tok[1024], *sp = NULL, *t;
		int n = 0;

		for (t = strtok_r(line, " ", &sp); t && n < 1024; t = strtok_r(NULL, " ", &sp))
			tok[n++] = t;
		if (!n)
			FAIL("empty line");
		lineno++;
		if (lineno == 1) {
			if (n != 2 || strcmp(tok[0], "weft-offsets") != 0)
				FAIL("not a weft offsets record");
			if (strcmp(tok[1], WEFT_RECORD_FORMAT_STR) != 0) {
				uint64_t v;

				if (parse_u64(tok[1], 10, &v) || v == 0 || v >= WEFT_RECORD_FORMAT)
					FAIL("unsupported record format version");
				if (err && errlen)
					snprintf(err, errlen,
						 "older format (%" PRIu64 ", this weft reads %d)",
						 v, WEFT_RECORD_FORMAT);
				free(copy);
				weft_record_free(rec);
				return -ESTALE;
			}
			continue;
		}
		if (strcmp(tok[0], "analyzer") == 0 && n == 2 && !rec->analyzer_version) {
			rec->analyzer_version = get_str(tok[1]);
			seen |= 1;
		} else if (strcmp(tok[0], "hash") == 0 && n == 2 && strlen(tok[1]) == 32 &&
			   !(seen & 2)) {
			memcpy(rec->hash, tok[1], 33);
			seen |= 2;
		} else if (strcmp(tok[0], "path") == 0 && n == 2 && !rec->path) {
			rec->path = get_str(tok[1]);
			if (!rec->path)
				FAIL("bad path");
		} else if (strcmp(tok[0], "go") == 0 && n == 2 && !rec->go_version) {
			rec->go_version = get_str(tok[1]);
			if (!rec->go_version)
				FAIL("bad go version");
			seen |= 4;
		} else if (strcmp(tok[0], "stripped") == 0 && n == 2 && !(seen & 8)) {
			rec->stripped = strcmp(tok[1], "1") == 0;
			seen |= 8;
		} else if (strcmp(tok[0], "pie") == 0 && n == 2 && !(seen & 16)) {
			rec->pie = strcmp(tok[1], "1") == 0;
			seen |= 16;
		} else if (strcmp(tok[0], "runtime") == 0 && n == 2 && !rec->runtime) {
			rec->runtime = get_str(tok[1]);
			if (!rec->runtime || !*rec->runtime)
				FAIL("bad runtime line");
		} else if (strcmp(tok[0], "module") == 0 && n == 3) {
			struct weft_module *m;

			if (grow((void **)&rec->modules, rec->nmodules, sizeof(*m)))
				FAIL("out of memory");
			m = &rec->modules[rec->nmodules++];
			m->path = get_str(tok[1]);
			m->version = get_str(tok[2]);
			if (!m->path || !m->version)
				FAIL("bad module line");
		} else if (strcmp(tok[0], "field") == 0 && n == 4) {
			struct weft_field *f;
			uint64_t off;

			if (grow((void **)&rec->fields, rec->nfields, sizeof(*f)))
				FAIL("out of memory");
			f = &rec->fields[rec->nfields++];
			memset(f, 0, sizeof(*f));
			f->name = get_str(tok[1]);
			if (!f->name || parse_u64(tok[2], 10, &off) || off > WEFT_OFFSET_MAX)
				FAIL("bad field line");
			f->offset = (int64_t)off;
			if (strcmp(tok[3], "dwarf") == 0)
				f->source = WEFT_SRC_DWARF;
			else if (strcmp(tok[3], "known") == 0)
				f->source = WEFT_SRC_KNOWN;
			else if (strcmp(tok[3], "known-nearest") == 0)
				f->source = WEFT_SRC_KNOWN_NEAREST;
			else if (strcmp(tok[3], "code") == 0)
				f->source = WEFT_SRC_CODE;
			else
				FAIL("bad field source");
		} else if (strcmp(tok[0], "func") == 0 && n >= 5) {
			struct weft_func *fn;

			if (grow((void **)&rec->funcs, rec->nfuncs, sizeof(*fn)))
				FAIL("out of memory");
			fn = &rec->funcs[rec->nfuncs++];
			memset(fn, 0, sizeof(*fn));
			fn->name = get_str(tok[1]);
			if (!fn->name || parse_u64(tok[2], 16, &fn->entry) ||
			    parse_u64(tok[3], 16, &fn->fileoff) || parse_u64(tok[4], 10, &fn->size))
				FAIL("bad func line");
			if (n == 1024)
				FAIL("too many returns");
			fn->nreturns = (uint32_t)(n - 5);
			fn->returns = calloc(fn->nreturns + 1, sizeof(uint32_t));
			if (!fn->returns)
				FAIL("out of memory");
			for (int i = 5; i < n; i++) {
				uint64_t r;

				if (parse_u64(tok[i], 10, &r) || r > UINT32_MAX)
					FAIL("bad return offset");
				fn->returns[i - 5] = (uint32_t)r;
			}
		} else if (strcmp(tok[0], "site") == 0 && n == 4) {
			uint64_t addr, off;
			char *name = get_str(tok[1]);

			if (!name || parse_u64(tok[2], 16, &addr) || parse_u64(tok[3], 16, &off)) {
				free(name);
				FAIL("bad site line");
			}
			if (weft_record_add_site(rec, name, addr, off)) {
				free(name);
				FAIL("out of memory");
			}
			free(name);
		} else if (strcmp(tok[0], "fact") == 0 && n == 3) {
			char *name = get_str(tok[1]), *end;
			long long v;

			errno = 0;
			v = strtoll(tok[2], &end, 10);
			if (!name || errno || *end || end == tok[2]) {
				free(name);
				FAIL("bad fact line");
			}
			if (weft_record_add_fact(rec, name, v)) {
				free(name);
				FAIL("out of memory");
			}
			free(name);
		} else {
			FAIL("unexpected or repeated line");
		}
	}
	if (lineno == 0 || (seen & 7) != 7)
		FAIL("incomplete record");
	if (!rec->path)
		rec->path = strdup("");
	if (weft_record_check(rec, err, errlen)) {
		free(copy);
		weft_record_free(rec);
		return -EINVAL;
	}
	free(copy);
	*out = rec;
	return 0;
fail:
	if (err && errlen)
		snprintf(err, errlen, "%s", why);
	free(copy);
	weft_record_free(rec);
	return -EINVAL;
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * known/ tables: struct offsets for stripped binaries, by Go or module version.
 * The TSV (offsets/known/known.tsv) is compiled into the library; for tests,
 * $WEFT_KNOWN_TSV names another file. Lines: SCOPE<TAB>FIELD<TAB>OFFSET, with
 * SCOPE "go1.22.12" (standard library, runtime) or "module@v1.2.3".
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

extern const char weft_known_tsv[];
extern const size_t weft_known_tsv_len;

struct kentry {
	char *scope;   /* "go" for Go versions, else the module path */
	char *version; /* "go1.22.12" or "v1.33.3" */
	char *field;
	int64_t offset;
};

static struct kentry *entries;
static size_t nentries;
static char *table_text;
static size_t table_len;
static pthread_once_t once = PTHREAD_ONCE_INIT, parse_once = PTHREAD_ONCE_INIT;

static const char *skip_prefix(const char *v)
{
	if (strncmp(v, "go", 2) == 0)
		return v + 2;
	if (*v == 'v')
		return v + 1;
	return v;
}

int version_cmp(const char *a, const char *b)
{
	a = skip_prefix(a);
	b = skip_prefix(b);
	while (*a || *b) {
		unsigned long x = 0, y = 0;
		bool xs, ys;

		while (isdigit((unsigned char)*a))
			x = x * 10 + (unsigned long)(*a++ - '0');
		while (isdigit((unsigned char)*b))
			y = y * 10 + (unsigned long)(*b++ - '0');
		if (x != y)
			return x < y ? -1 : 1;
		/* A suffix (rc1, -pre, +incompatible) sorts before the plain release. */
		xs = *a && *a != '.';
		ys = *b && *b != '.';
		if (xs != ys)
			return xs ? -1 : 1;
		if (xs) {
			int c = strcmp(a, b);

			return c < 0 ? -1 : c > 0;
		}
		if (*a == '.')
			a++;
		if (*b == '.')
			b++;
	}
	return 0;
}

/* The table's text: the embedded one, or $WEFT_KNOWN_TSV's. */
static void load(void)
{
	const char *path = getenv("WEFT_KNOWN_TSV");

	if (path && *path) {
		FILE *f = fopen(path, "re");

		if (f) {
			size_t n = 0;

			table_text = NULL;
			if (getdelim(&table_text, &n, 0, f) < 0) {
				free(table_text);
				table_text = NULL;
			}
			fclose(f);
		}
	}
	if (!table_text)
		table_text = strndup(weft_known_tsv, weft_known_tsv_len);
	if (table_text)
		table_len = strlen(table_text);
}

/* Its entries: parsed only when a stripped binary needs them (not on database hits). */
static void parse(void)
{
	char *save = NULL, *line;
	size_t cap = 0;

	pthread_once(&once, load);
	if (!table_text)
		return;
	{
		char *copy = strdup(table_text);

		if (!copy)
			return;
		for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *f1, *f2, *f3, *end, *at, *sp = NULL;
			struct kentry *e;
			long long v;

			if (*line == '#' || !*line)
				continue;
			f1 = strtok_r(line, "\t", &sp);
			f2 = strtok_r(NULL, "\t", &sp);
			f3 = strtok_r(NULL, "\t\r", &sp);
			if (!f1 || !f2 || !f3)
				continue;
			v = strtoll(f3, &end, 10);
			if (*end || v < 0 || v > WEFT_OFFSET_MAX)
				continue;
			if (nentries == cap) {
				struct kentry *ne;

				cap = cap ? cap * 2 : 256;
				ne = realloc(entries, cap * sizeof(*ne));
				if (!ne)
					break;
				entries = ne;
			}
			e = &entries[nentries];
			at = strrchr(f1, '@');
			if (strncmp(f1, "go", 2) == 0 && isdigit((unsigned char)f1[2])) {
				e->scope = strdup("go");
				e->version = strdup(f1);
			} else if (at && at != f1 && at[1]) {
				e->scope = strndup(f1, (size_t)(at - f1));
				e->version = strdup(at + 1);
			} else {
				continue;
			}
			e->field = strdup(f2);
			e->offset = v;
			if (!e->scope || !e->version || !e->field)
				continue;
			nentries++;
		}
		free(copy);
	}
}

const char *known_table_text(size_t *len)
{
	pthread_once(&once, load);
	*len = table_len;
	return table_text ? table_text : "";
}

int known_lookup(const char *field, const char *scope_name, const char *version, int64_t *offset,
		 enum weft_offset_source *src)
{
	const struct kentry *best = NULL;

	pthread_once(&parse_once, parse);
	if (!version || !*version)
		return -1;
	for (size_t i = 0; i < nentries; i++) {
		const struct kentry *e = &entries[i];
		int c;

		if (strcmp(e->field, field) != 0 || strcmp(e->scope, scope_name) != 0)
			continue;
		c = version_cmp(e->version, version);
		if (c == 0) {
			*offset = e->offset;
			*src = WEFT_SRC_KNOWN;
			return 0;
		}
		if (c < 0 && (!best || version_cmp(e->version, best->version) > 0))
			best = e;
	}
	if (!best)
		return -1;
	*offset = best->offset;
	*src = WEFT_SRC_KNOWN_NEAREST;
	return 0;
}

int known_lookup_unversioned(const char *field, int64_t *offset, enum weft_offset_source *src)
{
	int64_t off = -1;

	pthread_once(&parse_once, parse);
	for (size_t i = 0; i < nentries; i++) {
		const struct kentry *e = &entries[i];

		if (strcmp(e->scope, "go") == 0 || strcmp(e->field, field) != 0)
			continue;
		if (off >= 0 && e->offset != off)
			return -1;
		off = e->offset;
	}
	if (off < 0)
		return -1;
	*offset = off;
	*src = WEFT_SRC_KNOWN_NEAREST;
	return 0;
}

// SPDX-License-Identifier: BSD-2-Clause
/* Offsets records in memory: lookup, sanity checks, JSON output, freeing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "offsets.h"

const char *weft_source_name(enum weft_offset_source src)
{
	switch (src) {
	case WEFT_SRC_DWARF:
		return "dwarf";
	case WEFT_SRC_KNOWN:
		return "known";
	case WEFT_SRC_KNOWN_NEAREST:
		return "known-nearest";
	case WEFT_SRC_CODE:
		return "code";
	}
	return "unknown";
}

const struct weft_field *weft_record_field(const struct weft_record *rec, const char *name)
{
	for (size_t i = 0; rec && i < rec->nfields; i++)
		if (strcmp(rec->fields[i].name, name) == 0)
			return &rec->fields[i];
	return NULL;
}

const struct weft_func *weft_record_func(const struct weft_record *rec, const char *name)
{
	for (size_t i = 0; rec && i < rec->nfuncs; i++)
		if (strcmp(rec->funcs[i].name, name) == 0)
			return &rec->funcs[i];
	return NULL;
}

const struct weft_site *weft_record_site(const struct weft_record *rec, const char *name)
{
	for (size_t i = 0; rec && i < rec->nsites; i++)
		if (strcmp(rec->sites[i].name, name) == 0)
			return &rec->sites[i];
	return NULL;
}

int64_t weft_record_fact(const struct weft_record *rec, const char *name, int64_t dflt)
{
	for (size_t i = 0; rec && i < rec->nfacts; i++)
		if (strcmp(rec->facts[i].name, name) == 0)
			return rec->facts[i].value;
	return dflt;
}

/*
 * A new zeroed element at the end of *arr (n elements of elem bytes, each
 * starting with its char *name), named a copy of name; NULL when out of memory.
 */
static void *append_named(void **arr, size_t *n, size_t elem, const char *name)
{
	char *p = realloc(*arr, (*n + 1) * elem), *e;

	if (!p)
		return NULL;
	*arr = p;
	e = p + *n * elem;
	memset(e, 0, elem);
	*(char **)e = strdup(name);
	if (!*(char **)e)
		return NULL;
	(*n)++;
	return e;
}

int weft_record_add_site(struct weft_record *rec, const char *name, uint64_t addr, uint64_t fileoff)
{
	struct weft_site *s = append_named((void **)&rec->sites, &rec->nsites, sizeof(*s), name);

	if (!s)
		return -ENOMEM;
	s->addr = addr;
	s->fileoff = fileoff;
	return 0;
}

int weft_record_add_fact(struct weft_record *rec, const char *name, int64_t value)
{
	struct weft_fact *f = append_named((void **)&rec->facts, &rec->nfacts, sizeof(*f), name);

	if (!f)
		return -ENOMEM;
	f->value = value;
	return 0;
}

static int bad(char *err, size_t errlen, const char *what, const char *name)
{
	if (err && errlen)
		snprintf(err, errlen, "%s%s%s", what, name ? ": " : "", name ? name : "");
	return -EINVAL;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The first name that occurs twice among n names at stride bytes apart
 * (each a char * at the start of its element), or NULL; *oom tells when
 * memory ran out.
 */
static const char *duplicate(const void *arr, size_t n, size_t stride, bool *oom)
{
	const char **names, *dup = NULL;

	*oom = false;
	if (n < 2)
		return NULL;
	names = malloc(n * sizeof(*names));
	if (!names) {
		*oom = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		names[i] = *(const char *const *)((const char *)arr + i * stride);
	qsort(names, n, sizeof(*names), cmp_name);
	for (size_t i = 1; i < n && !dup; i++)
		if (strcmp(names[i - 1], names[i]) == 0)
			dup = names[i];
	free(names);
	return dup;
}

int weft_record_check(const struct weft_record *rec, char *err, size_t errlen)
{
	size_t i, j;
	const char *dup;
	bool oom;

	if (strlen(rec->hash) != 32 || strspn(rec->hash, "0123456789abcdef") != 32)
		return bad(err, errlen, "bad hash", NULL);
	for (i = 0; i < rec->nmodules; i++)
		if (!rec->modules[i].path || !*rec->modules[i].path || !rec->modules[i].version)
			return bad(err, errlen, "empty module", NULL);
	for (i = 0; i < rec->nfields; i++) {
		const struct weft_field *f = &rec->fields[i];

		if (!f->name || !*f->name)
			return bad(err, errlen, "empty field name", NULL);
		if (f->offset < 0 || f->offset > WEFT_OFFSET_MAX)
			return bad(err, errlen, "field offset out of bounds", f->name);
		if (f->source < WEFT_SRC_DWARF || f->source > WEFT_SRC_CODE)
			return bad(err, errlen, "bad field source", f->name);
	}
	for (i = 0; i < rec->nfuncs; i++) {
		const struct weft_func *fn = &rec->funcs[i];

		if (!fn->name || !*fn->name)
			return bad(err, errlen, "empty function name", NULL);
		if (!fn->entry || !fn->size || fn->size > WEFT_FUNC_SIZE_MAX ||
		    fn->entry + fn->size < fn->entry || !fn->fileoff ||
		    fn->fileoff + fn->size < fn->fileoff)
			return bad(err, errlen, "function bounds out of range", fn->name);
		if (fn->nreturns > fn->size || fn->nreturns > 1000)
			return bad(err, errlen, "too many returns", fn->name);
		for (j = 0; j < fn->nreturns; j++) {
			if (fn->returns[j] >= fn->size)
				return bad(err, errlen, "return outside function", fn->name);
			if (j && fn->returns[j] <= fn->returns[j - 1])
				return bad(err, errlen, "returns not ascending", fn->name);
		}
	}
	for (i = 0; i < rec->nsites; i++)
		if (!rec->sites[i].name || !*rec->sites[i].name || !rec->sites[i].addr ||
		    !rec->sites[i].fileoff)
			return bad(err, errlen, "bad site", rec->sites[i].name);
	for (i = 0; i < rec->nfacts; i++)
		if (!rec->facts[i].name || !*rec->facts[i].name)
			return bad(err, errlen, "empty fact name", NULL);
	/* One line per name: a repeated one would make the record ambiguous. */
	if ((dup = duplicate(rec->fields, rec->nfields, sizeof(*rec->fields), &oom)) || oom)
		return bad(err, errlen, oom ? "out of memory" : "field given twice", dup);
	if ((dup = duplicate(rec->funcs, rec->nfuncs, sizeof(*rec->funcs), &oom)) || oom)
		return bad(err, errlen, oom ? "out of memory" : "function given twice", dup);
	if ((dup = duplicate(rec->sites, rec->nsites, sizeof(*rec->sites), &oom)) || oom)
		return bad(err, errlen, oom ? "out of memory" : "site given twice", dup);
	if ((dup = duplicate(rec->facts, rec->nfacts, sizeof(*rec->facts), &oom)) || oom)
		return bad(err, errlen, oom ? "out of memory" : "fact given twice", dup);
	if ((dup = duplicate(rec->modules, rec->nmodules, sizeof(*rec->modules), &oom)) || oom)
		return bad(err, errlen, oom ? "out of memory" : "module given twice", dup);
	return 0;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629), or 0. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned char c = p[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* No overlong forms, no surrogates, nothing above U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/*
 * A JSON string. A byte that is not part of well-formed UTF-8 (a file name
 * can hold any byte) is written as the escape \udcXX, as Python's
 * surrogateescape does: valid JSON text, and os.fsencode() gives the byte back.
 */
static void json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p;) {
		size_t n = utf8_len(p);

		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\u%04x", *p);
		else if (!n)
			fprintf(out, "\\udc%02x", *p);
		else
			fwrite(p, 1, n, out);
		p += n ? n : 1;
	}
	fputc('"', out);
}

int weft_record_write_json(const struct weft_record *rec, FILE *out)
{
	size_t i, j;

	fputs("{\"hash\":", out);
	json_str(out, rec->hash);
	fputs(",\"path\":", out);
	json_str(out, rec->path);
	if (rec->runtime) {	/* absent for Go */
		fputs(",\"runtime\":", out);
		json_str(out, rec->runtime);
	}
	fputs(",\"go_version\":", out);
	json_str(out, rec->go_version);
	fputs(",\"modules\":{", out);
	for (i = 0; i < rec->nmodules; i++) {
		if (i)
			fputc(',', out);
		json_str(out, rec->modules[i].path);
		fputc(':', out);
		json_str(out, rec->modules[i].version);
	}
	fprintf(out, "},\"stripped\":%s,\"fields\":{", rec->stripped ? "true" : "false");
	for (i = 0; i < rec->nfields; i++) {
		if (i)
			fputc(',', out);
		json_str(out, rec->fields[i].name);
		fprintf(out, ":{\"offset\":%lld,\"source\":\"%s\"}",
			(long long)rec->fields[i].offset, weft_source_name(rec->fields[i].source));
	}
	fputs("},\"functions\":{", out);
	for (i = 0; i < rec->nfuncs; i++) {
		const struct weft_func *fn = &rec->funcs[i];

		if (i)
			fputc(',', out);
		json_str(out, fn->name);
		fprintf(out,
			":{\"entry\":\"0x%llx\",\"file_offset\":\"0x%llx\",\"size\":%llu,"
			"\"returns\":[",
			(unsigned long long)fn->entry, (unsigned long long)fn->fileoff,
			(unsigned long long)fn->size);
		for (j = 0; j < fn->nreturns; j++)
			fprintf(out, "%s%u", j ? "," : "", fn->returns[j]);
		fputs("]}", out);
	}
	fputs("},\"sites\":{", out);
	for (i = 0; i < rec->nsites; i++) {
		if (i)
			fputc(',', out);
		json_str(out, rec->sites[i].name);
		fprintf(out, ":{\"address\":\"0x%llx\",\"file_offset\":\"0x%llx\"}",
			(unsigned long long)rec->sites[i].addr,
			(unsigned long long)rec->sites[i].fileoff);
	}
	fputs("},\"facts\":{", out);
	for (i = 0; i < rec->nfacts; i++) {
		if (i)
			fputc(',', out);
		json_str(out, rec->facts[i].name);
		fprintf(out, ":%lld", (long long)rec->facts[i].value);
	}
	fputs("}}\n", out);
	return ferror(out) ? -EIO : 0;
}

void weft_record_free(struct weft_record *rec)
{
	size_t i;

	if (!rec)
		return;
	free(rec->path);
	free(rec->go_version);
	free(rec->analyzer_version);
	free(rec->runtime);
	for (i = 0; i < rec->nmodules; i++) {
		free(rec->modules[i].path);
		free(rec->modules[i].version);
	}
	free(rec->modules);
	for (i = 0; i < rec->nfields; i++)
		free(rec->fields[i].name);
	free(rec->fields);
	for (i = 0; i < rec->nfuncs; i++) {
		free(rec->funcs[i].name);
		free(rec->funcs[i].returns);
	}
	free(rec->funcs);
	for (i = 0; i < rec->nsites; i++)
		free(rec->sites[i].name);
	free(rec->sites);
	for (i = 0; i < rec->nfacts; i++)
		free(rec->facts[i].name);
	free(rec->facts);
	free(rec);
}

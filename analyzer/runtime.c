// SPDX-License-Identifier: BSD-2-Clause
/*
 * What the analyzer's runtime recognisers (nginx.c, node.c, python.c) share:
 * exported functions (and data) looked up in .dynsym, and the skeleton of a runtime's record
 * (`runtime NAME`, its version as module NAME, those functions).
 */
#include <stdlib.h>
#include <string.h>
#include "analyze.h"
#include "internal.h"

bool rt_dynsym_funcs(struct welf *w, const char *const *names, size_t n, uint64_t *entry,
		     uint64_t *size)
{
	Elf_Scn *scn = NULL;
	size_t found = 0;

	memset(entry, 0, n * sizeof(*entry));
	while ((scn = elf_nextscn(w->elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d)
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(d, (int)i, &sym) ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC || !sym.st_value || !sym.st_size)
				continue;
			name = elf_strptr(w->elf, sh.sh_link, sym.st_name);
			for (size_t f = 0; name && f < n; f++) {
				if (!entry[f] && strcmp(name, names[f]) == 0) {
					entry[f] = sym.st_value;
					size[f] = sym.st_size;
					found++;
				}
			}
		}
	}
	return found == n;
}

int rt_record_new(struct welf *w, const char *path, const char *hash, const char *runtime,
		  char *version, const char *const *names, const uint64_t *entry,
		  const uint64_t *size, size_t n, struct weft_record **out, char *err,
		  size_t errlen)
{
	struct weft_record *rec = calloc(1, sizeof(*rec));
	struct wsect s;

	*out = NULL;
	if (!rec)
		goto oom;
	if (hash)
		snprintf(rec->hash, sizeof(rec->hash), "%s", hash);
	else
		weft_hash_mem(w->data, w->size, rec->hash);
	rec->path = strdup(path ? path : "");
	rec->go_version = strdup("");
	rec->analyzer_version = strdup(weft_analyzer_version());
	rec->stripped = !welf_section(w, ".debug_info", &s);
	rec->pie = w->ehdr.e_type == ET_DYN;
	rec->runtime = strdup(runtime);
	rec->modules = calloc(1, sizeof(*rec->modules));
	rec->funcs = calloc(n, sizeof(*rec->funcs));
	if (!rec->path || !rec->go_version || !rec->analyzer_version || !rec->runtime ||
	    !rec->modules || !rec->funcs)
		goto oom;
	rec->nmodules = 1;
	rec->modules[0].path = strdup(runtime);
	rec->modules[0].version = version ? version : strdup("unknown");
	version = NULL;
	if (!rec->modules[0].path || !rec->modules[0].version)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		/* where a uprobe on it attaches: injectors read no ELF */
		int64_t off = welf_code_offset(w, entry[i], size[i] ? size[i] : 1);

		if (off <= 0) {
			snprintf(err, errlen, "%s: %s at 0x%llx is outside its code segments",
				 runtime, names[i], (unsigned long long)entry[i]);
			weft_record_free(rec);
			return -1;
		}
		rec->funcs[i].name = strdup(names[i]);
		rec->funcs[i].entry = entry[i];
		rec->funcs[i].fileoff = (uint64_t)off;
		rec->funcs[i].size = size[i];
		rec->nfuncs++;
		if (!rec->funcs[i].name)
			goto oom;
	}
	*out = rec;
	return 0;
oom:
	free(version);
	weft_record_free(rec);
	snprintf(err, errlen, "out of memory");
	return -1;
}

enum weft_analyze_result rt_finish(struct weft_record *rec, bool oom, struct weft_record **out,
				   char *err, size_t errlen)
{
	if (oom) {
		snprintf(err, errlen, "out of memory");
	} else if (!weft_record_check(rec, err, errlen)) {
		*out = rec;
		if (errlen)
			err[0] = 0;
		return WEFT_ANALYZE_OK;
	}
	weft_record_free(rec);
	return WEFT_ANALYZE_FAIL;
}

int rt_add_field(struct weft_record *rec, const char *name, int64_t off,
		 enum weft_offset_source src)
{
	struct weft_field *f;

	if (off < 0)
		return 0; /* not found: left out, its users fail closed */
	f = realloc(rec->fields, (rec->nfields + 1) * sizeof(*f));
	if (!f)
		return -1;
	rec->fields = f;
	f += rec->nfields;
	f->name = strdup(name);
	f->offset = off;
	f->source = src;
	if (!f->name)
		return -1;
	rec->nfields++;
	return 0;
}

bool rt_dynsym(struct welf *w, const char *name, GElf_Sym *out)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(w->elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
			const char *n;

			if (!gelf_getsym(d, (int)i, out) || out->st_shndx == SHN_UNDEF ||
			    !out->st_value)
				continue;
			n = elf_strptr(w->elf, sh.sh_link, out->st_name);
			if (n && strcmp(n, name) == 0)
				return true;
		}
	}
	return false;
}

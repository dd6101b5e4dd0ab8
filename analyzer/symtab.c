// SPDX-License-Identifier: BSD-2-Clause
/* Symbols from .symtab (present unless the binary is stripped): functions, one by name. */
#include <string.h>
#include "internal.h"

/* The symbol table's data and header; false when the binary has none. */
static bool symtab_data(struct welf *w, struct wsect *s, GElf_Shdr *sh, Elf_Data **d)
{
	if (!welf_section(w, ".symtab", s) || s->type != SHT_SYMTAB || !gelf_getshdr(s->scn, sh))
		return false;
	*d = elf_getdata(s->scn, NULL);
	return *d && sh->sh_entsize;
}

int symtab_find(struct welf *w, const char *name, unsigned type, GElf_Sym *out)
{
	struct wsect s;
	GElf_Shdr sh;
	Elf_Data *d;
	size_t n;

	if (!symtab_data(w, &s, &sh, &d))
		return -1;
	n = d->d_size / sh.sh_entsize;
	for (size_t i = 0; i < n; i++) {
		const char *sn;

		if (!gelf_getsym(d, (int)i, out) || GELF_ST_TYPE(out->st_info) != type)
			continue;
		sn = elf_strptr(w->elf, sh.sh_link, out->st_name);
		if (sn && strcmp(sn, name) == 0)
			return 1;
	}
	return 0;
}

long symtab_walk(struct welf *w, func_cb cb, void *ctx)
{
	struct wsect s;
	GElf_Shdr sh;
	Elf_Data *d;
	long count = 0;
	size_t n;

	if (!symtab_data(w, &s, &sh, &d))
		return -1;
	n = d->d_size / sh.sh_entsize;
	for (size_t i = 0; i < n; i++) {
		GElf_Sym sym;
		const char *name;

		if (!gelf_getsym(d, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
		    !sym.st_size || !sym.st_value)
			continue;
		name = elf_strptr(w->elf, sh.sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		cb(ctx, name, strlen(name), sym.st_value, sym.st_size);
		count++;
	}
	/* Names and symbols are not needed again. */
	welf_drop(w, s.offset, s.size);
	{
		Elf_Scn *str = elf_getscn(w->elf, sh.sh_link);
		GElf_Shdr ssh;

		if (str && gelf_getshdr(str, &ssh) && ssh.sh_type != SHT_NOBITS)
			welf_drop(w, ssh.sh_offset, ssh.sh_size);
	}
	return count;
}

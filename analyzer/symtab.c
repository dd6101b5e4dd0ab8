// SPDX-License-Identifier: BSD-2-Clause
/* Function symbols from .symtab (present unless the binary is stripped). */
#include <string.h>
#include "internal.h"

long symtab_walk(struct welf *w, func_cb cb, void *ctx)
{
	struct wsect s;
	GElf_Shdr sh;
	Elf_Data *d;
	long count = 0;
	size_t n;

	if (!welf_section(w, ".symtab", &s) || s.type != SHT_SYMTAB || !gelf_getshdr(s.scn, &sh))
		return -1;
	d = elf_getdata(s.scn, NULL);
	if (!d || !sh.sh_entsize)
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

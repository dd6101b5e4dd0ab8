// SPDX-License-Identifier: BSD-2-Clause
/* A mapped ELF file with bounds-checked access to sections and segments. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "internal.h"

int welf_open(struct welf *w, const uint8_t *data, size_t size, char *err, size_t errlen)
{
	size_t i, shnum = 0;

	memset(w, 0, sizeof(*w));
	w->data = data;
	w->size = size;
	elf_version(EV_CURRENT);
	w->elf = elf_memory((char *)data, size);
	if (!w->elf || elf_kind(w->elf) != ELF_K_ELF || !gelf_getehdr(w->elf, &w->ehdr)) {
		snprintf(err, errlen, "corrupt ELF header: %s", elf_errmsg(-1));
		return -1;
	}
	if (elf_getphdrnum(w->elf, &w->nphdr)) {
		snprintf(err, errlen, "corrupt ELF program headers: %s", elf_errmsg(-1));
		return -1;
	}
	if (w->nphdr > 4096) {
		snprintf(err, errlen, "corrupt ELF: %zu program headers", w->nphdr);
		return -1;
	}
	w->phdrs = calloc(w->nphdr + 1, sizeof(*w->phdrs));
	if (!w->phdrs) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < w->nphdr; i++) {
		if (!gelf_getphdr(w->elf, (int)i, &w->phdrs[i])) {
			snprintf(err, errlen, "truncated ELF: program header %zu: %s", i,
				 elf_errmsg(-1));
			return -1;
		}
	}
	if (w->ehdr.e_shoff) {
		if (w->ehdr.e_shoff >= size) {
			snprintf(err, errlen,
				 "truncated ELF: section headers past the end of the file");
			return -1;
		}
		if (elf_getshdrnum(w->elf, &shnum) || elf_getshdrstrndx(w->elf, &w->shstrndx)) {
			snprintf(err, errlen, "corrupt ELF section headers: %s", elf_errmsg(-1));
			return -1;
		}
		if (shnum && (w->ehdr.e_shoff > size ||
			      (uint64_t)shnum * w->ehdr.e_shentsize > size - w->ehdr.e_shoff)) {
			snprintf(err, errlen,
				 "truncated ELF: section headers past the end of the file");
			return -1;
		}
		w->have_shdrs = shnum > 0;
		if (shnum && w->shstrndx >= shnum) {
			snprintf(err, errlen,
				 "corrupt ELF section headers: name table index %zu of %zu",
				 w->shstrndx, shnum);
			return -1;
		}
		for (i = 1; i < shnum; i++) {
			Elf_Scn *scn = elf_getscn(w->elf, i);
			GElf_Shdr sh;

			if (!scn || !gelf_getshdr(scn, &sh)) {
				snprintf(err, errlen, "corrupt ELF section header %zu: %s", i,
					 elf_errmsg(-1));
				return -1;
			}
			if (sh.sh_type != SHT_NOBITS && sh.sh_type != SHT_NULL &&
			    (sh.sh_offset > size || sh.sh_size > size - sh.sh_offset)) {
				snprintf(err, errlen,
					 "corrupt ELF section headers: section %zu lies outside "
					 "the file",
					 i);
				return -1;
			}
		}
	}
	return 0;
}

void welf_close(struct welf *w)
{
	if (w->elf)
		elf_end(w->elf);
	free(w->phdrs);
	memset(w, 0, sizeof(*w));
}

bool welf_section(struct welf *w, const char *name, struct wsect *out)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	if (!w->have_shdrs)
		return false;
	while ((scn = elf_nextscn(w->elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, &sh))
			continue;
		n = elf_strptr(w->elf, w->shstrndx, sh.sh_name);
		if (!n || strcmp(n, name) != 0)
			continue;
		if (sh.sh_type != SHT_NOBITS &&
		    (sh.sh_offset > w->size || sh.sh_size > w->size - sh.sh_offset))
			return false;
		out->name = n;
		out->addr = sh.sh_addr;
		out->offset = sh.sh_offset;
		out->size = sh.sh_size;
		out->type = sh.sh_type;
		out->flags = sh.sh_flags;
		out->scn = scn;
		return true;
	}
	return false;
}

const uint8_t *welf_at(const struct welf *w, uint64_t off, uint64_t n)
{
	if (off > w->size || n > w->size - off)
		return NULL;
	return w->data + off;
}

const uint8_t *welf_vaddr(const struct welf *w, uint64_t va, uint64_t n)
{
	for (size_t i = 0; i < w->nphdr; i++) {
		const GElf_Phdr *p = &w->phdrs[i];

		if (p->p_type != PT_LOAD || va < p->p_vaddr)
			continue;
		if (va - p->p_vaddr > p->p_filesz || n > p->p_filesz - (va - p->p_vaddr))
			continue;
		return welf_at(w, p->p_offset + (va - p->p_vaddr), n);
	}
	return NULL;
}

int64_t welf_code_offset(const struct welf *w, uint64_t va, uint64_t n)
{
	for (size_t i = 0; i < w->nphdr; i++) {
		const GElf_Phdr *p = &w->phdrs[i];
		uint64_t off;

		if (p->p_type != PT_LOAD || !(p->p_flags & PF_X) || va < p->p_vaddr)
			continue;
		if (va - p->p_vaddr > p->p_filesz || n > p->p_filesz - (va - p->p_vaddr))
			continue;
		off = p->p_offset + (va - p->p_vaddr);
		if (off > w->size || n > w->size - off || off > INT64_MAX)
			return -1;
		return (int64_t)off;
	}
	return -1;
}

void welf_drop(const struct welf *w, uint64_t off, uint64_t n)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), start, end;

	if (!w->mapped || off > w->size || n > w->size - off)
		return;
	start = ((uintptr_t)w->data + off + page - 1) & ~(page - 1);
	end = ((uintptr_t)w->data + off + n) & ~(page - 1);
	if (end > start)
		madvise((void *)start, end - start, MADV_DONTNEED);
}

// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "go_elf.h"

#define GO_ELF_MAX_SEGS 16

struct go_elf {
	int fd;
	size_t nsegs;
	struct {
		uint64_t vaddr, filesz;
		int64_t offset;
	} segs[GO_ELF_MAX_SEGS];
};

struct go_elf *go_elf_open(int fd, const char *path, char *err, size_t errlen)
{
	struct go_elf *e;
	GElf_Ehdr eh;
	Elf *elf;
	size_t n;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		snprintf(err, errlen, "libelf initialisation failed: reinstall libelf");
		return NULL;
	}
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh)) {
		snprintf(err, errlen, "%s is not an ELF file: pass a Go executable", path);
		if (elf)
			elf_end(elf);
		return NULL;
	}
	if (eh.e_machine != EM_X86_64) {
		snprintf(err, errlen, "%s is not an x86-64 executable: weft-go supports amd64 only",
			 path);
		elf_end(elf);
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e || elf_getphdrnum(elf, &n)) {
		snprintf(err, errlen, "cannot read program headers of %s", path);
		free(e);
		elf_end(elf);
		return NULL;
	}
	e->fd = fd;
	for (size_t i = 0; i < n && e->nsegs < GO_ELF_MAX_SEGS; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		e->segs[e->nsegs].vaddr = ph.p_vaddr;
		e->segs[e->nsegs].filesz = ph.p_filesz;
		e->segs[e->nsegs].offset = (int64_t)ph.p_offset;
		e->nsegs++;
	}
	elf_end(elf);
	if (!e->nsegs) {
		snprintf(err, errlen, "%s has no executable segment", path);
		free(e);
		return NULL;
	}
	return e;
}

void go_elf_close(struct go_elf *e)
{
	free(e);
}

int64_t go_elf_offset(const struct go_elf *e, uint64_t vaddr)
{
	for (size_t i = 0; i < e->nsegs; i++)
		if (vaddr >= e->segs[i].vaddr && vaddr < e->segs[i].vaddr + e->segs[i].filesz)
			return e->segs[i].offset + (int64_t)(vaddr - e->segs[i].vaddr);
	return -1;
}

int go_elf_byte(const struct go_elf *e, int64_t off)
{
	unsigned char b;

	if (off < 0 || pread(e->fd, &b, 1, off) != 1)
		return -1;
	return b;
}

int go_elf_read(const struct go_elf *e, int64_t off, void *buf, size_t len)
{
	if (off < 0 || pread(e->fd, buf, len, off) != (ssize_t)len)
		return -1;
	return 0;
}

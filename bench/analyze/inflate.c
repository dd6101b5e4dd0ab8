// SPDX-License-Identifier: BSD-2-Clause
/*
 * The analyzer benchmark's floor: inflate one binary's .debug_info (zlib,
 * SHF_COMPRESSED) with libelf and print its inflated size. Any analysis that
 * reads DWARF struct offsets must do at least this much work.
 *   inflate BINARY
 */
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	Elf *e;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: inflate BINARY\n");
		return 2;
	}
	elf_version(EV_CURRENT);
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !(e = elf_begin(fd, ELF_C_READ_MMAP, NULL)) || elf_getshdrstrndx(e, &shstrndx)) {
		fprintf(stderr, "inflate: error: cannot read %s as ELF: pass a Go binary with DWARF\n", argv[1]);
		return 1;
	}
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(e, shstrndx, sh.sh_name)) ||
		    strcmp(name, ".debug_info"))
			continue;
		if ((sh.sh_flags & SHF_COMPRESSED) && elf_compress(scn, 0, 0) < 0) {
			fprintf(stderr, "inflate: error: %s: %s\n", argv[1], elf_errmsg(-1));
			return 1;
		}
		d = elf_getdata(scn, NULL);
		printf("%zu\n", d ? d->d_size : 0);
		elf_end(e);
		close(fd);
		return 0;
	}
	fprintf(stderr, "inflate: error: %s has no .debug_info: pass an unstripped binary\n", argv[1]);
	return 1;
}

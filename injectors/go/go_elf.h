/* SPDX-License-Identifier: BSD-2-Clause */
/* ELF facts weft-go needs at attach time: file offsets of code addresses. */
#ifndef WEFT_GO_ELF_H
#define WEFT_GO_ELF_H

#include <stddef.h>
#include <stdint.h>

struct go_elf;

/* Open the ELF file at fd (kept open by the caller). NULL with err set. */
struct go_elf *go_elf_open(int fd, const char *path, char *err, size_t errlen);
void go_elf_close(struct go_elf *e);

/* File offset of virtual address vaddr in an executable segment, or -1. */
int64_t go_elf_offset(const struct go_elf *e, uint64_t vaddr);

/* The byte at file offset off, or -1 (used to confirm RET opcodes). */
int go_elf_byte(const struct go_elf *e, int64_t off);

/* len bytes at file offset off into buf: 0, or -1. */
int go_elf_read(const struct go_elf *e, int64_t off, void *buf, size_t len);

#endif /* WEFT_GO_ELF_H */

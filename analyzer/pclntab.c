// SPDX-License-Identifier: BSD-2-Clause
/*
 * Function names and bounds from Go's .gopclntab, for binaries without .symtab.
 * Header layouts (pcHeader): magic, pad, minLC, ptrSize, then pointer-sized
 * words:
 *   0xfffffffa Go 1.16-1.17: nfunc nfiles funcname cu filetab pctab pcln
 *   0xfffffff0 Go 1.18-1.19: nfunc nfiles textStart funcname cu filetab pctab pcln
 *   0xfffffff1 Go 1.20-1.25: same as 1.18
 *   0xfffffff1 Go 1.26+:     textStart dropped (nfunc nfiles funcname ...)
 * Go 1.16 functab entries are {entry, funcoff} pointers; 1.18+ are
 * {entryoff, funcoff} uint32 relative to textStart.
 */
#include <string.h>
#include "internal.h"

#define MAGIC_116 0xfffffffau
#define MAGIC_118 0xfffffff0u
#define MAGIC_120 0xfffffff1u
#define MAGIC_126 0xfffffff2u /* accepted in case the magic changes with the layout */

static uint64_t rd(const uint8_t *p, int size)
{
	uint64_t v = 0;

	for (int i = 0; i < size; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static bool plausible_header(const uint8_t *t, size_t len)
{
	uint32_t magic;

	if (len < 8 + 8 * 8)
		return false;
	magic = (uint32_t)rd(t, 4);
	if (magic != MAGIC_116 && magic != MAGIC_118 && magic != MAGIC_120 && magic != MAGIC_126)
		return false;
	return t[4] == 0 && t[5] == 0 && (t[6] == 1 || t[6] == 2 || t[6] == 4) &&
	       (t[7] == 4 || t[7] == 8);
}

long pclntab_walk_raw(const uint8_t *tab, size_t len, uint64_t text_start, func_cb cb, void *ctx,
		      char *err, size_t errlen)
{
	uint64_t w[8], nfunc, funcname_off, pcln_off, entsz;
	uint32_t magic;
	int ps, layout; /* 116, 118 or 126 */
	const uint8_t *ftab;
	long count = 0;

	if (!plausible_header(tab, len)) {
		snprintf(err, errlen, "unknown .gopclntab header (not Go 1.16 or later)");
		return -1;
	}
	magic = (uint32_t)rd(tab, 4);
	ps = tab[7];
	for (int i = 0; i < 8; i++)
		w[i] = rd(tab + 8 + i * ps, ps);
	nfunc = w[0];
	if (magic == MAGIC_116) {
		layout = 116;
		funcname_off = w[2];
		pcln_off = w[6];
	} else if (magic == MAGIC_126 ||
		   (magic == MAGIC_120 && w[2] == 8 + 7 * (uint64_t)ps && w[3] > w[2])) {
		layout = 126;
		funcname_off = w[2];
		pcln_off = w[6];
	} else {
		layout = 118;
		if (w[2])
			text_start = w[2];
		funcname_off = w[3];
		pcln_off = w[7];
	}
	if (layout != 116 && !text_start) {
		snprintf(err, errlen, "cannot tell where Go text starts (no .text section)");
		return -1;
	}
	entsz = layout == 116 ? 2 * (uint64_t)ps : 8;
	if (funcname_off >= len || pcln_off >= len || nfunc > (len - pcln_off) / entsz ||
	    nfunc == 0) {
		snprintf(err, errlen, "corrupt .gopclntab header (offsets past the table)");
		return -1;
	}
	ftab = tab + pcln_off;
	/* The table ends with one more entry (the end of the last function). */
	if ((layout == 116 ? (uint64_t)ps : 4) > len - pcln_off - nfunc * entsz) {
		snprintf(err, errlen, "corrupt .gopclntab functab");
		return -1;
	}
	for (uint64_t i = 0; i < nfunc; i++) {
		uint64_t entry, next, funcoff;
		int64_t nameoff;
		const uint8_t *f, *name, *nul;

		if (layout == 116) {
			entry = rd(ftab + i * entsz, ps);
			funcoff = rd(ftab + i * entsz + ps, ps);
			next = rd(ftab + (i + 1) * entsz, ps);
		} else {
			entry = text_start + rd(ftab + i * 8, 4);
			funcoff = rd(ftab + i * 8 + 4, 4);
			next = text_start + rd(ftab + (i + 1) * 8, 4);
		}
		if (next <= entry)
			continue;
		/* _func: entry (pointer for 1.16, uint32 after), then int32 nameoff. */
		{
			uint64_t hdr = layout == 116 ? (uint64_t)ps + 4 : 8;

			if (funcoff > len - pcln_off || hdr > len - pcln_off - funcoff)
				continue;
			f = ftab + funcoff;
			nameoff = (int32_t)rd(f + hdr - 4, 4);
		}
		if (nameoff < 0 || (uint64_t)nameoff >= len - funcname_off)
			continue;
		name = tab + funcname_off + nameoff;
		nul = memchr(name, 0, len - funcname_off - (uint64_t)nameoff);
		if (!nul || nul == name)
			continue;
		cb(ctx, (const char *)name, (size_t)(nul - name), entry, next - entry);
		count++;
	}
	return count;
}

static const uint8_t *find_table(struct welf *w, size_t *len)
{
	static const char *const names[] = {".gopclntab", ".data.rel.ro.gopclntab"};
	struct wsect s;

	for (size_t i = 0; i < 2; i++) {
		if (welf_section(w, names[i], &s) && s.type != SHT_NOBITS) {
			*len = s.size;
			return welf_at(w, s.offset, s.size);
		}
	}
	/* No section headers: scan read-only load segments for a plausible header. */
	for (size_t i = 0; i < w->nphdr; i++) {
		const GElf_Phdr *ph = &w->phdrs[i];
		const uint8_t *p;

		if (ph->p_type != PT_LOAD || (ph->p_flags & PF_X))
			continue;
		p = welf_at(w, ph->p_offset, ph->p_filesz);
		if (!p)
			continue;
		for (uint64_t o = 0; o + 72 <= ph->p_filesz; o += 8)
			if (p[o + 4] == 0 && p[o + 5] == 0 && p[o + 3] == 0xff &&
			    plausible_header(p + o, ph->p_filesz - o)) {
				*len = ph->p_filesz - o;
				return p + o;
			}
	}
	return NULL;
}

/* Virtual address of a pointer into the file, through the load segments. */
static uint64_t file_vaddr(const struct welf *w, const uint8_t *p)
{
	uint64_t off = (uint64_t)(p - w->data);

	for (size_t i = 0; i < w->nphdr; i++) {
		const GElf_Phdr *ph = &w->phdrs[i];

		if (ph->p_type == PT_LOAD && off >= ph->p_offset &&
		    off - ph->p_offset < ph->p_filesz)
			return ph->p_vaddr + (off - ph->p_offset);
	}
	return 0;
}

static bool in_exec_segment(const struct welf *w, uint64_t va)
{
	for (size_t i = 0; i < w->nphdr; i++) {
		const GElf_Phdr *ph = &w->phdrs[i];

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && va >= ph->p_vaddr &&
		    va - ph->p_vaddr < ph->p_memsz)
			return true;
	}
	return false;
}

/*
 * runtime.firstmoduledata.text: the moduledata starts with a pointer to the
 * pcHeader, then the funcnametab slice (pointing into the table); its text
 * field follows six slices and three words (offset 176 on 64-bit). Used when
 * the header has no textStart (Go 1.26) and C code may precede Go's text.
 */
static uint64_t moduledata_text(const struct welf *w, uint64_t tab_va, uint64_t tab_len)
{
	for (size_t i = 0; tab_va && i < w->nphdr; i++) {
		const GElf_Phdr *ph = &w->phdrs[i];
		const uint8_t *p;

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
			continue;
		p = welf_at(w, ph->p_offset, ph->p_filesz);
		if (!p)
			continue;
		for (uint64_t o = 0; o + 184 <= ph->p_filesz; o += 8) {
			uint64_t names, text;

			if (rd(p + o, 8) != tab_va)
				continue;
			names = rd(p + o + 8, 8);
			text = rd(p + o + 176, 8);
			if (names > tab_va && names - tab_va < tab_len && in_exec_segment(w, text))
				return text;
		}
	}
	return 0;
}

long pclntab_walk(struct welf *w, func_cb cb, void *ctx, char *err, size_t errlen)
{
	struct wsect text;
	size_t len = 0;
	const uint8_t *tab = find_table(w, &len);
	uint64_t text_start = 0;

	if (!tab) {
		snprintf(err, errlen, "no .gopclntab");
		return -1;
	}
	/* Only Go 1.26 headers (no textStart) need runtime.firstmoduledata. */
	if (plausible_header(tab, len)) {
		int ps = tab[7];
		uint64_t w2 = rd(tab + 8 + 2 * ps, ps);
		uint32_t magic = (uint32_t)rd(tab, 4);

		if (magic == MAGIC_126 || (magic == MAGIC_120 && w2 == 8 + 7 * (uint64_t)ps))
			text_start = moduledata_text(w, file_vaddr(w, tab), len);
	}
	if (!text_start && welf_section(w, ".text", &text))
		text_start = text.addr;
	if (!text_start)
		for (size_t i = 0; i < w->nphdr; i++)
			if (w->phdrs[i].p_type == PT_LOAD && (w->phdrs[i].p_flags & PF_X)) {
				text_start = w->phdrs[i].p_vaddr;
				break;
			}
	{
		long n = pclntab_walk_raw(tab, len, text_start, cb, ctx, err, errlen);

		welf_drop(w, (uint64_t)(tab - w->data), len);
		return n;
	}
}

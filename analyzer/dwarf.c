// SPDX-License-Identifier: BSD-2-Clause
/*
 * Struct member offsets from DWARF (libdw; compressed sections are inflated
 * by libdw). To inflate no more than needed, the sections libdw needs for
 * type DIEs (.debug_info, .debug_abbrev and string tables) are inflated into
 * a small in-memory ELF handed to libdw; line, frame, location and range
 * tables are never touched. Only the top-level DIEs of each compilation unit are visited and
 * only the wanted struct types are descended into.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "internal.h"
#include "wanted.h"

struct wtype {
	char *name;	     /* "net/http.Request" */
	size_t first, count; /* indices into the sorted field list */
	bool done;
};

struct wfield {
	const char *member; /* "Header" */
	size_t index;	    /* in weft_wanted_fields */
	const char *type;
	size_t tlen;
};

static int cmp_field(const void *a, const void *b)
{
	const struct wfield *x = a, *y = b;
	size_t n = x->tlen < y->tlen ? x->tlen : y->tlen;
	int c = strncmp(x->type, y->type, n);

	return c ? c : (x->tlen > y->tlen) - (x->tlen < y->tlen);
}

static int cmp_type(const void *key, const void *elem)
{
	return strcmp(key, ((const struct wtype *)elem)->name);
}

static void member_offsets(Dwarf_Die *st, const struct wtype *t, const struct wfield *fields,
			   int64_t *offsets)
{
	Dwarf_Die m;

	if (dwarf_child(st, &m) != 0)
		return;
	do {
		Dwarf_Attribute a;
		Dwarf_Word off;
		const char *name;

		if (dwarf_tag(&m) != DW_TAG_member || !(name = dwarf_diename(&m)))
			continue;
		for (size_t i = t->first; i < t->first + t->count; i++) {
			if (strcmp(fields[i].member, name) != 0)
				continue;
			if (dwarf_attr(&m, DW_AT_data_member_location, &a) &&
			    dwarf_formudata(&a, &off) == 0 && off <= WEFT_OFFSET_MAX)
				offsets[fields[i].index] = (int64_t)off;
		}
	} while (dwarf_siblingof(&m, &m) == 0);
}

/* Debug sections copied into the small ELF; .debug_info and .debug_abbrev are required. */
static const char *const dsect[] = {".debug_info", ".debug_abbrev", ".debug_str", ".debug_line_str",
				    ".debug_str_offsets"};
#define NDSECT (sizeof(dsect) / sizeof(dsect[0]))
#define INFLATED_MAX (1ull << 32)

struct dsrc {
	const uint8_t *src;    /* compressed stream or raw bytes */
	uint64_t srclen, size; /* size once inflated */
	bool compressed;
};

/* Locate a debug section (SHF_COMPRESSED, .zdebug_ or plain); false if absent or bad. */
static bool debug_source(struct welf *w, const char *name, struct dsrc *d)
{
	struct wsect s;
	char zname[64];
	const uint8_t *p;

	memset(d, 0, sizeof(*d));
	if (welf_section(w, name, &s) && s.type != SHT_NOBITS) {
		p = welf_at(w, s.offset, s.size);
		if (!p)
			return false;
		if (s.flags & SHF_COMPRESSED) {
			Elf64_Chdr ch;

			if (s.size < sizeof(ch))
				return false;
			memcpy(&ch, p, sizeof(ch));
			if (ch.ch_type != ELFCOMPRESS_ZLIB || ch.ch_size > INFLATED_MAX)
				return false;
			d->src = p + sizeof(ch);
			d->srclen = s.size - sizeof(ch);
			d->size = ch.ch_size;
			d->compressed = true;
		} else {
			d->src = p;
			d->srclen = d->size = s.size;
		}
		return true;
	}
	snprintf(zname, sizeof(zname), ".z%s", name + 1);
	if (welf_section(w, zname, &s) && s.type != SHT_NOBITS) {
		uint64_t size = 0;

		p = welf_at(w, s.offset, s.size);
		if (!p || s.size < 12 || memcmp(p, "ZLIB", 4) != 0)
			return false;
		for (int i = 0; i < 8; i++)
			size = size << 8 | p[4 + i];
		if (size > INFLATED_MAX)
			return false;
		d->src = p + 12;
		d->srclen = s.size - 12;
		d->size = size;
		d->compressed = true;
		return true;
	}
	return false;
}

static int inflate_to(const struct dsrc *d, uint8_t *out)
{
	z_stream z;
	int rc;

	if (!d->compressed) {
		memcpy(out, d->src, d->size);
		return 0;
	}
	memset(&z, 0, sizeof(z));
	if (inflateInit(&z) != Z_OK)
		return -1;
	z.next_out = out;
	z.next_in = (Bytef *)d->src;
	/* zlib counts in uInt: feed and drain in chunks below 4 GiB */
	{
		uint64_t in_left = d->srclen, out_left = d->size;

		do {
			uInt ci = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
			uInt co = out_left > (1u << 30) ? (1u << 30) : (uInt)out_left;

			z.avail_in = ci;
			z.avail_out = co;
			rc = inflate(&z, Z_NO_FLUSH);
			in_left -= ci - z.avail_in;
			out_left -= co - z.avail_out;
		} while (rc == Z_OK && (in_left || out_left) &&
			 (z.avail_in == 0 || z.avail_out == 0));
		inflateEnd(&z);
		return rc == Z_STREAM_END && out_left == 0 ? 0 : -1;
	}
}

/*
 * A minimal ELF (header, the debug sections inflated, names, section
 * headers) for libdw. *image is malloc'd; NULL on failure.
 */
static Elf *small_debug_elf(struct welf *w, uint8_t **image)
{
	struct dsrc src[NDSECT];
	uint64_t off[NDSECT], pos = sizeof(Elf64_Ehdr), shstr_off, sh_off, total;
	char shstr[256];
	size_t shstr_len = 1, name_off[NDSECT], n = 0;
	Elf64_Ehdr *eh;
	Elf64_Shdr *sh;
	uint8_t *img;
	Elf *e;

	*image = NULL;
	shstr[0] = 0;
	for (size_t i = 0; i < NDSECT; i++) {
		if (!debug_source(w, dsect[i], &src[n])) {
			if (i < 2)
				return NULL;
			continue;
		}
		off[n] = pos;
		pos = (pos + src[n].size + 7) & ~7ull;
		name_off[n] = shstr_len;
		shstr_len +=
		    (size_t)snprintf(shstr + shstr_len, sizeof(shstr) - shstr_len, "%s", dsect[i]) +
		    1;
		n++;
	}
	shstr_off = pos;
	shstr_len +=
	    (size_t)snprintf(shstr + shstr_len, sizeof(shstr) - shstr_len, "%s", ".shstrtab") + 1;
	sh_off = (shstr_off + shstr_len + 7) & ~7ull;
	total = sh_off + (n + 2) * sizeof(Elf64_Shdr);
	img = calloc(1, total);
	if (!img)
		return NULL;
	eh = (Elf64_Ehdr *)img;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_shoff = sh_off;
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_shentsize = sizeof(Elf64_Shdr);
	eh->e_shnum = (Elf64_Half)(n + 2);
	eh->e_shstrndx = (Elf64_Half)(n + 1);
	sh = (Elf64_Shdr *)(img + sh_off);
	for (size_t i = 0; i < n; i++) {
		if (inflate_to(&src[i], img + off[i])) {
			free(img);
			return NULL;
		}
		sh[i + 1].sh_name = (Elf64_Word)name_off[i];
		sh[i + 1].sh_type = SHT_PROGBITS;
		sh[i + 1].sh_offset = off[i];
		sh[i + 1].sh_size = src[i].size;
		sh[i + 1].sh_addralign = 1;
	}
	memcpy(img + shstr_off, shstr, shstr_len);
	sh[n + 1].sh_name = (Elf64_Word)(shstr_len - sizeof(".shstrtab"));
	sh[n + 1].sh_type = SHT_STRTAB;
	sh[n + 1].sh_offset = shstr_off;
	sh[n + 1].sh_size = shstr_len;
	sh[n + 1].sh_addralign = 1;
	e = elf_memory((char *)img, total);
	if (!e) {
		free(img);
		return NULL;
	}
	*image = img;
	return e;
}

int dwarf_fields(struct welf *w, int64_t *offsets)
{
	size_t nf = weft_wanted_nfields, nt = 0, remaining, hsize;
	struct wfield *fields = calloc(nf + 1, sizeof(*fields));
	struct wtype *types = calloc(nf + 1, sizeof(*types));
	Dwarf_Off off = 0, next;
	Dwarf *dw = NULL;
	uint8_t *image = NULL;
	Elf *small = NULL;
	int rc = -1;

	for (size_t i = 0; i < nf; i++)
		offsets[i] = -1;
	if (!fields || !types)
		goto out;
	small = small_debug_elf(w, &image);
	if (small)
		dw = dwarf_begin_elf(small, DWARF_C_READ, NULL);
	if (!dw)
		dw = dwarf_begin_elf(w->elf, DWARF_C_READ, NULL);
	if (!dw)
		goto out;
	for (size_t i = 0; i < nf; i++) {
		const char *dot = strrchr(weft_wanted_fields[i], '.');

		fields[i].index = i;
		fields[i].type = weft_wanted_fields[i];
		fields[i].tlen = (size_t)(dot - weft_wanted_fields[i]);
		fields[i].member = dot + 1;
	}
	qsort(fields, nf, sizeof(*fields), cmp_field);
	for (size_t i = 0; i < nf; i++) {
		if (nt && types[nt - 1].count &&
		    strncmp(types[nt - 1].name, fields[i].type, fields[i].tlen) == 0 &&
		    strlen(types[nt - 1].name) == fields[i].tlen) {
			types[nt - 1].count++;
			continue;
		}
		types[nt].name = strndup(fields[i].type, fields[i].tlen);
		if (!types[nt].name)
			goto out;
		types[nt].first = i;
		types[nt].count = 1;
		nt++;
	}
	remaining = nt;
	/*
	 * Go's linker puts every type DIE in a compilation unit named
	 * "runtime": when there is one, the other units (other packages'
	 * functions, C code) are skipped by their headers alone.
	 */
	{
		bool have_runtime = false;

		while (!have_runtime &&
		       dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
			Dwarf_Die cu;
			const char *name;

			have_runtime = dwarf_offdie(dw, off + hsize, &cu) &&
				       (name = dwarf_diename(&cu)) && strcmp(name, "runtime") == 0;
			off = next;
		}
		off = 0;
		while (remaining && dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
			Dwarf_Die cu, die;
			const char *cuname;

			if (!dwarf_offdie(dw, off + hsize, &cu) ||
			    (have_runtime &&
			     (!(cuname = dwarf_diename(&cu)) || strcmp(cuname, "runtime") != 0))) {
				off = next;
				continue;
			}
			if (dwarf_child(&cu, &die) == 0) {
				do {
					const char *name;
					struct wtype *t;

					if (dwarf_tag(&die) != DW_TAG_structure_type ||
					    !(name = dwarf_diename(&die)))
						continue;
					t = bsearch(name, types, nt, sizeof(*types), cmp_type);
					if (!t || t->done)
						continue;
					member_offsets(&die, t, fields, offsets);
					t->done = true;
					remaining--;
				} while (remaining && dwarf_siblingof(&die, &die) == 0);
			}
			off = next;
		}
	}
	rc = 0;
out:
	if (dw)
		dwarf_end(dw);
	if (small)
		elf_end(small);
	free(image);
	for (size_t i = 0; types && i < nt; i++)
		free(types[i].name);
	free(types);
	free(fields);
	return rc;
}

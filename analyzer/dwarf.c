// SPDX-License-Identifier: BSD-2-Clause
/*
 * Struct member offsets from DWARF through libdw. To inflate no more than
 * needed, the sections libdw needs for type DIEs (.debug_info, .debug_abbrev
 * and string tables; zlib SHF_COMPRESSED or .zdebug_*) are inflated by us
 * into a small in-memory ELF handed to libdw; line, frame, location and range
 * tables are never touched. .debug_info is inflated as the walk advances, and
 * the walk ends with the unit holding the types (Go's linker puts them all in
 * one "runtime" unit), so the units after it are never inflated. Only the
 * top-level DIEs of a unit are visited and only the wanted struct types are
 * descended into. Compressed bytes are released from the resident set once
 * inflated.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
	uint64_t offset;       /* of the section in the file */
	const uint8_t *src;    /* compressed stream or raw bytes */
	uint64_t srclen, size; /* size once inflated */
	bool compressed;
};

/*
 * Locate a debug section (SHF_COMPRESSED, .zdebug_ or plain): 1 found, 0
 * absent, -1 present but its compression header is damaged or not zlib
 * (such a section is never handed to libelf, whose elf_compress may crash
 * on it).
 */
static int debug_source(struct welf *w, const char *name, struct dsrc *d)
{
	struct wsect s;
	char zname[64];
	const uint8_t *p;

	memset(d, 0, sizeof(*d));
	if (welf_section(w, name, &s) && s.type != SHT_NOBITS) {
		p = welf_at(w, s.offset, s.size);
		if (!p)
			return -1;
		d->offset = s.offset;
		if (s.flags & SHF_COMPRESSED) {
			Elf64_Chdr ch;

			if (s.size < sizeof(ch))
				return -1;
			memcpy(&ch, p, sizeof(ch));
			/* An alignment is 0 (none) or a power of two. */
			if (ch.ch_type != ELFCOMPRESS_ZLIB || ch.ch_size > INFLATED_MAX ||
			    (ch.ch_addralign & (ch.ch_addralign - 1)))
				return -1;
			d->src = p + sizeof(ch);
			d->srclen = s.size - sizeof(ch);
			d->size = ch.ch_size;
			d->compressed = true;
		} else {
			d->src = p;
			d->srclen = d->size = s.size;
		}
		return 1;
	}
	snprintf(zname, sizeof(zname), ".z%s", name + 1);
	if (welf_section(w, zname, &s) && s.type != SHT_NOBITS) {
		uint64_t size = 0;

		p = welf_at(w, s.offset, s.size);
		if (!p || s.size < 12 || memcmp(p, "ZLIB", 4) != 0)
			return -1;
		for (int i = 0; i < 8; i++)
			size = size << 8 | p[4 + i];
		if (size > INFLATED_MAX)
			return -1;
		d->offset = s.offset;
		d->src = p + 12;
		d->srclen = s.size - 12;
		d->size = size;
		d->compressed = true;
		return 1;
	}
	return 0;
}

/*
 * A zlib stream: its 2-byte header is checked here and the deflate data
 * inflated raw, which skips the Adler-32 of the output (the size is checked
 * instead, and the record is validated as a whole).
 */
static int raw_inflate_init(z_stream *z, const struct dsrc *d)
{
	memset(z, 0, sizeof(*z));
	if (d->srclen < 2 || (d->src[0] & 0x0f) != Z_DEFLATED || (d->src[0] >> 4) > 7 ||
	    (d->src[1] & 0x20) || ((unsigned)d->src[0] << 8 | d->src[1]) % 31)
		return -1;
	if (inflateInit2(z, -15) != Z_OK)
		return -1;
	z->next_in = (Bytef *)d->src + 2;
	return 0;
}

/*
 * Inflate more of a stream into out[*have..upto). zlib counts in uInt: feed
 * and drain in chunks below 4 GiB. 0 when upto is reached, -1 on a bad
 * stream (or one that ends early).
 */
static int inflate_more(z_stream *z, const struct dsrc *d, uint8_t *out, uint64_t *have,
			uint64_t upto)
{
	const uint8_t *end = d->src + d->srclen;

	while (*have < upto) {
		uint64_t in_left = (uint64_t)(end - z->next_in), want = upto - *have;
		uInt ci = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
		uInt co = want > (1u << 30) ? (1u << 30) : (uInt)want;
		int rc;

		z->next_out = out + *have;
		z->avail_in = ci;
		z->avail_out = co;
		rc = inflate(z, Z_NO_FLUSH);
		*have += co - z->avail_out;
		if (rc == Z_STREAM_END)
			return *have == upto && upto == d->size ? 0 : -1;
		if (rc != Z_OK || (co == z->avail_out && ci == z->avail_in))
			return -1;
	}
	return 0;
}

static int inflate_to(const struct dsrc *d, uint8_t *out)
{
	uint64_t have = 0;
	z_stream z;
	int rc;

	if (!d->compressed) {
		memcpy(out, d->src, d->size);
		return 0;
	}
	if (raw_inflate_init(&z, d))
		return -1;
	rc = inflate_more(&z, d, out, &have, d->size);
	inflateEnd(&z);
	return rc;
}

/*
 * The in-memory ELF given to libdw. .debug_info is inflated as the walk
 * needs it (ensure_info): Go puts every type DIE in one "runtime" unit, and
 * the units after it are never inflated.
 */
struct dimage {
	uint8_t *img; /* anonymous mapping of img_size bytes */
	size_t img_size;
	Elf *elf;
	struct dsrc info;   /* .debug_info's source */
	uint8_t *info_out;  /* its place in img */
	uint64_t info_have; /* bytes of it available */
	z_stream z;	    /* when info is compressed and not all inflated */
	bool streaming;
	bool bad; /* its stream is corrupt */
};

/* Make .debug_info[0..upto) available (clipped to its size); -1 on a bad stream. */
static int ensure_info(struct dimage *di, uint64_t upto)
{
	int rc;

	if (upto > di->info.size)
		upto = di->info.size;
	if (!di->streaming || upto <= di->info_have)
		return 0;
	/* Inflate at least 256 KiB at a time: fewer calls into zlib. */
	if (upto - di->info_have < (256u << 10))
		upto = di->info_have + (256u << 10) < di->info.size ? di->info_have + (256u << 10)
								    : di->info.size;
	rc = inflate_more(&di->z, &di->info, di->info_out, &di->info_have, upto);
	if (rc || di->info_have == di->info.size) {
		inflateEnd(&di->z);
		di->streaming = false;
		if (rc) {
			di->info_have = 0; /* nothing more is read from it */
			di->bad = true;
		}
	}
	return rc;
}

static void dimage_free(struct dimage *di)
{
	if (di->streaming)
		inflateEnd(&di->z);
	if (di->elf)
		elf_end(di->elf);
	if (di->img)
		munmap(di->img, di->img_size);
	memset(di, 0, sizeof(*di));
}

/*
 * A minimal ELF (header, the debug sections inflated, names, section
 * headers) for libdw, in di. -1 when it cannot be made (.debug_info or
 * .debug_abbrev absent, or no memory), -2 on a damaged compression header or
 * a corrupt zlib stream. The original file is never given to libdw: libelf
 * would decompress its sections itself, and crashes on damaged headers.
 */
static int small_debug_elf(struct welf *w, struct dimage *di)
{
	struct dsrc src[NDSECT];
	uint64_t off[NDSECT], pos = sizeof(Elf64_Ehdr), shstr_off, sh_off, total;
	char shstr[256];
	size_t shstr_len = 1, name_off[NDSECT], n = 0;
	Elf64_Ehdr *eh;
	Elf64_Shdr *sh;
	uint8_t *img;

	memset(di, 0, sizeof(*di));
	shstr[0] = 0;
	for (size_t i = 0; i < NDSECT; i++) {
		int found = debug_source(w, dsect[i], &src[n]);

		if (found < 0)
			return -2;
		if (!found) {
			if (i < 2)
				return -1;
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
	/*
	 * Fresh zero pages, resident only once written (malloc could reuse
	 * heap memory and clear all of it), returned whole by munmap.
	 */
	if (total > SIZE_MAX / 2)
		return -1;
	img = mmap(NULL, (size_t)total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (img == MAP_FAILED)
		return -1;
	di->img = img;
	di->img_size = (size_t)total;
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
		if (i == 0 && src[0].compressed) {
			/* .debug_info (dsect[0], required): inflated on demand. */
			di->info = src[0];
			di->info_out = img + off[0];
			if (raw_inflate_init(&di->z, &di->info)) {
				dimage_free(di);
				return -2;
			}
			di->streaming = true;
		} else {
			if (inflate_to(&src[i], img + off[i])) {
				dimage_free(di);
				return -2;
			}
			welf_drop(w, src[i].offset,
				  (uint64_t)(src[i].src - w->data) - src[i].offset + src[i].srclen);
			if (i == 0) {
				di->info = src[0];
				di->info_out = img + off[0];
				di->info_have = src[0].size;
			}
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
	di->elf = elf_memory((char *)img, total);
	if (!di->elf)
		goto fail;
	return 0;
fail:
	dimage_free(di);
	return -1;
}

/* Length of the unit at off (header included), its bytes made available; 0 if none. */
static uint64_t unit_span(struct dimage *di, uint64_t off)
{
	uint64_t len;
	uint32_t l32;

	if (!di->img)
		return 1; /* libdw reads the original ELF: nothing to inflate */
	if (off >= di->info.size)
		return 0;
	if (di->info.size - off < 4 || ensure_info(di, off + 12) || di->info_have < off + 4)
		goto bad;
	memcpy(&l32, di->info_out + off, 4);
	if (l32 == 0xffffffffu) {
		if (di->info_have < off + 12)
			goto bad;
		memcpy(&len, di->info_out + off + 4, 8);
		if (len > di->info.size - off - 12)
			goto bad;
		len += 12;
	} else {
		if (l32 >= 0xfffffff0u || l32 > di->info.size - off - 4)
			goto bad;
		len = (uint64_t)l32 + 4;
	}
	/* and a little beyond, should libdw peek past the unit's end */
	if (ensure_info(di, off + len + 64) || di->info_have < off + len)
		goto bad;
	return len;
bad:
	di->bad = true; /* a unit header running past the section: corrupt */
	return 0;
}

/*
 * Visit the top-level DIEs of the unit at off; true if a wanted struct was
 * there. A chain of DIEs that libdw cannot follow to its end sets *broken:
 * damaged DWARF that would otherwise end the walk early, silently.
 */
static bool scan_unit(Dwarf_Die *cu, struct wtype *types, size_t nt, const struct wfield *fields,
		      int64_t *offsets, size_t *remaining, bool *broken)
{
	Dwarf_Die die;
	bool found = false;
	int rc;

	rc = dwarf_child(cu, &die);
	if (rc < 0)
		*broken = true;
	if (rc != 0)
		return false;
	do {
		const char *name;
		struct wtype *t;

		if (dwarf_tag(&die) != DW_TAG_structure_type || !(name = dwarf_diename(&die)))
			continue;
		name = go_unvendor(name, NULL);
		t = bsearch(name, types, nt, sizeof(*types), cmp_type);
		if (!t || t->done)
			continue;
		member_offsets(&die, t, fields, offsets);
		t->done = true;
		found = true;
		(*remaining)--;
	} while (*remaining && (rc = dwarf_siblingof(&die, &die)) == 0);
	if (rc < 0)
		*broken = true;
	return found;
}

int dwarf_fields(struct welf *w, int64_t *offsets)
{
	size_t nf = weft_wanted_nfields, nt = 0, remaining, hsize;
	struct wfield *fields = calloc(nf + 1, sizeof(*fields));
	struct wtype *types = calloc(nf + 1, sizeof(*types));
	struct dimage di = {0};
	Dwarf_Off off, next;
	Dwarf *dw = NULL;
	bool saw_runtime = false, found = false;
	int rc = -1;

	for (size_t i = 0; i < nf; i++)
		offsets[i] = -1;
	if (!fields || !types)
		goto out;
	rc = small_debug_elf(w, &di);
	if (rc)
		goto out;
	dw = dwarf_begin_elf(di.elf, DWARF_C_READ, NULL);
	rc = -1;
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
	 * Go's linker puts every type DIE in one compilation unit named
	 * "runtime": the other units (other packages' functions, C code) are
	 * skipped by their headers alone, and the walk ends with the unit that
	 * held the wanted types. Without a "runtime" unit (not Go's linker),
	 * every unit is visited.
	 */
	for (int pass = 0; pass < 2 && remaining && !found; pass++) {
		if (pass == 1 && saw_runtime)
			break;
		off = 0;
		while (remaining && unit_span(&di, off)) {
			Dwarf_Die cu;
			const char *cuname;
			bool is_runtime;
			int nrc = dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL);

			if (nrc) {
				di.bad |= nrc < 0;
				break;
			}
			if (!dwarf_offdie(dw, off + hsize, &cu)) {
				di.bad = true;
				break;
			}
			cuname = dwarf_diename(&cu);
			is_runtime = cuname && strcmp(cuname, "runtime") == 0;
			saw_runtime |= is_runtime;
			if (pass == 0 && !is_runtime) {
				off = next;
				continue;
			}
			if (scan_unit(&cu, types, nt, fields, offsets, &remaining, &di.bad) &&
			    pass == 0) {
				found = true;
				break;
			}
			off = next;
		}
	}
	rc = di.bad ? -2 : 0;
out:
	if (dw)
		dwarf_end(dw);
	if (di.img)
		welf_drop(w, di.info.offset,
			  (uint64_t)(di.info.src - w->data) - di.info.offset + di.info.srclen);
	dimage_free(&di);
	for (size_t i = 0; types && i < nt; i++)
		free(types[i].name);
	free(types);
	free(fields);
	return rc;
}

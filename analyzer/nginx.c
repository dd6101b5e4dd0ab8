// SPDX-License-Identifier: BSD-2-Clause
/*
 * nginx recognised in an ELF binary (issue 19): its exported ngx_* functions
 * (Debian's build is stripped but exports them) and the struct offsets
 * weft-http's nginx probes need (bpf/net/rt_nginx.bpf.h), as one offsets
 * record with `runtime nginx`, the version as module "nginx".
 *
 * r->upstream moves with build options (NGX_HTTP_CACHE adds a pointer
 * before it), so it is read from the machine code of the exported
 * ngx_http_upstream_create(r), whose source starts `u = r->upstream; ...
 * u = ngx_pcalloc(...); r->upstream = u;`: the first 8-byte load from r
 * must have the same displacement as the first store of a call's result
 * into r. Anything else leaves the field out of the record (the probes then
 * fail closed: new traces). The leading fields weft reads besides are the
 * same in every nginx since 1.0 (DESIGN.md 3c): source "known".
 */
#include <capstone/capstone.h>
#include <stdlib.h>
#include <string.h>
#include "analyze.h"
#include "internal.h"

#define NGX_FIELD(n) "nginx." n

static const char *const ngx_funcs[] = {
    "ngx_http_upstream_init",
    "ngx_event_connect_peer",
    "ngx_http_upstream_create",
};
#define NGX_NFUNCS (sizeof(ngx_funcs) / sizeof(ngx_funcs[0]))

/* Entry and size of the exported functions in .dynsym; false if one is missing. */
static bool ngx_symbols(struct welf *w, uint64_t entry[NGX_NFUNCS], uint64_t size[NGX_NFUNCS])
{
	Elf_Scn *scn = NULL;
	size_t found = 0;

	memset(entry, 0, NGX_NFUNCS * sizeof(*entry));
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
			if (!name || strncmp(name, "ngx_", 4))
				continue;
			for (size_t f = 0; f < NGX_NFUNCS; f++) {
				if (!entry[f] && strcmp(name, ngx_funcs[f]) == 0) {
					entry[f] = sym.st_value;
					size[f] = sym.st_size;
					found++;
				}
			}
		}
	}
	return found == NGX_NFUNCS;
}

/* "1.22.1" from the "nginx/1.22.1" string in the binary, or NULL. */
static char *ngx_version(const struct welf *w)
{
	static const char tag[] = "nginx/";
	const uint8_t *p = w->data, *end = w->data + w->size;

	while ((p = memmem(p, (size_t)(end - p), tag, sizeof(tag) - 1))) {
		const uint8_t *v = p + sizeof(tag) - 1, *q = v;

		while (q < end && q - v < 32 && ((*q >= '0' && *q <= '9') || *q == '.'))
			q++;
		if (q > v && q < end && *q == 0 && v[0] >= '0' && v[0] <= '9')
			return strndup((const char *)v, (size_t)(q - v));
		p = v;
	}
	return NULL;
}

/*
 * r->upstream's offset from ngx_http_upstream_create's code (see top), or -1.
 * Registers holding r: rdi, and those a `mov reg, rdi` copies it into, until
 * written otherwise (calls clobber the caller-saved ones).
 */
static int64_t ngx_upstream_offset(const uint8_t *code, uint64_t size, uint64_t addr)
{
	uint64_t pc = addr;
	size_t left = size;
	const uint8_t *p = code;
	bool holds_r[X86_REG_ENDING] = {false}, called = false;
	int64_t load = -1, store = -1;
	csh cs;
	cs_insn *in;

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return -1;
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	in = cs_malloc(cs);
	holds_r[X86_REG_RDI] = true;
	while (in && left && store < 0 && cs_disasm_iter(cs, &p, &left, &pc, in)) {
		cs_x86 *x = &in->detail->x86;
		cs_regs rd, wr;
		uint8_t nrd, nwr;

		if (in->id == X86_INS_RET)
			break;
		if (in->id == X86_INS_CALL) {
			static const x86_reg clob[] = {X86_REG_RAX, X86_REG_RDI, X86_REG_RSI,
						       X86_REG_RDX, X86_REG_RCX, X86_REG_R8,
						       X86_REG_R9,  X86_REG_R10, X86_REG_R11};

			for (size_t i = 0; i < sizeof(clob) / sizeof(clob[0]); i++)
				holds_r[clob[i]] = false;
			called = true;
			continue;
		}
		if (in->id == X86_INS_MOV && x->op_count == 2) {
			cs_x86_op *dst = &x->operands[0], *src = &x->operands[1];

			if (dst->type == X86_OP_REG && src->type == X86_OP_REG && dst->size == 8) {
				holds_r[dst->reg] = holds_r[src->reg];
				continue;
			}
			if (load < 0 && dst->type == X86_OP_REG && dst->size == 8 &&
			    src->type == X86_OP_MEM && src->mem.index == X86_REG_INVALID &&
			    src->mem.segment == X86_REG_INVALID && holds_r[src->mem.base])
				load = src->mem.disp;
			if (called && dst->type == X86_OP_MEM && src->type == X86_OP_REG &&
			    src->reg == X86_REG_RAX && dst->mem.index == X86_REG_INVALID &&
			    holds_r[dst->mem.base])
				store = dst->mem.disp;
		}
		if (!cs_regs_access(cs, in, rd, &nrd, wr, &nwr))
			for (uint8_t i = 0; i < nwr; i++)
				holds_r[wr[i]] = false;
	}
	if (in)
		cs_free(in, 1);
	cs_close(&cs);
	if (load <= 8 || load != store || load % 8 || load >= 4096)
		return -1;
	return load;
}

static int add_field(struct weft_record *rec, const char *name, int64_t off,
		     enum weft_offset_source src)
{
	struct weft_field *f = realloc(rec->fields, (rec->nfields + 1) * sizeof(*f));

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

enum weft_analyze_result nginx_analyze(struct welf *w, const char *path, const char *hash,
				       struct weft_record **out, char *err, size_t errlen)
{
	uint64_t entry[NGX_NFUNCS], size[NGX_NFUNCS];
	struct weft_record *rec;
	const uint8_t *code;
	struct wsect s;
	int64_t up = -1;

	if (!ngx_symbols(w, entry, size)) {
		snprintf(err, errlen, "not a Go binary (no .go.buildinfo or .gopclntab) nor nginx");
		return WEFT_ANALYZE_SKIP;
	}
	rec = calloc(1, sizeof(*rec));
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
	rec->runtime = strdup("nginx");
	if (!rec->path || !rec->go_version || !rec->analyzer_version)
		goto oom;
	rec->modules = calloc(1, sizeof(*rec->modules));
	if (!rec->runtime || !rec->modules)
		goto oom;
	rec->nmodules = 1;
	rec->modules[0].path = strdup("nginx");
	rec->modules[0].version = ngx_version(w);
	if (!rec->modules[0].version)
		rec->modules[0].version = strdup("unknown");
	if (!rec->modules[0].path || !rec->modules[0].version)
		goto oom;
	rec->funcs = calloc(NGX_NFUNCS, sizeof(*rec->funcs));
	if (!rec->funcs)
		goto oom;
	for (size_t i = 0; i < NGX_NFUNCS; i++) {
		int64_t off = welf_code_offset(w, entry[i], size[i] ? size[i] : 1);

		if (off <= 0) {
			snprintf(err, errlen, "nginx: %s at 0x%llx is outside its code segments",
				 ngx_funcs[i], (unsigned long long)entry[i]);
			weft_record_free(rec);
			return WEFT_ANALYZE_FAIL;
		}
		rec->funcs[i].name = strdup(ngx_funcs[i]);
		rec->funcs[i].entry = entry[i];
		rec->funcs[i].fileoff = (uint64_t)off;
		rec->funcs[i].size = size[i];
		rec->nfuncs++;
		if (!rec->funcs[i].name)
			goto oom;
	}
	code = size[2] <= 4096 ? welf_vaddr(w, entry[2], size[2]) : NULL;
	if (code)
		up = ngx_upstream_offset(code, size[2], entry[2]);
	if ((up >= 0 &&
	     add_field(rec, NGX_FIELD("ngx_http_request_t.upstream"), up, WEFT_SRC_CODE)) ||
	    add_field(rec, NGX_FIELD("ngx_http_request_t.connection"), 8, WEFT_SRC_KNOWN) ||
	    add_field(rec, NGX_FIELD("ngx_connection_t.fd"), 24, WEFT_SRC_KNOWN) ||
	    add_field(rec, NGX_FIELD("ngx_http_upstream_t.peer"), 16, WEFT_SRC_KNOWN))
		goto oom;
	if (weft_record_check(rec, err, errlen)) {
		weft_record_free(rec);
		return WEFT_ANALYZE_FAIL;
	}
	*out = rec;
	return WEFT_ANALYZE_OK;
oom:
	weft_record_free(rec);
	snprintf(err, errlen, "out of memory");
	return WEFT_ANALYZE_FAIL;
}

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

enum weft_analyze_result nginx_analyze(struct welf *w, const char *path, const char *hash,
				       struct weft_record **out, char *err, size_t errlen)
{
	uint64_t entry[NGX_NFUNCS], size[NGX_NFUNCS];
	struct weft_record *rec;
	const uint8_t *code;
	int64_t up = -1;

	if (!rt_dynsym_funcs(w, ngx_funcs, NGX_NFUNCS, entry, size)) {
		snprintf(err, errlen, "not a Go binary (no .go.buildinfo or .gopclntab) nor nginx");
		return WEFT_ANALYZE_SKIP;
	}
	if (rt_record_new(w, path, hash, "nginx", ngx_version(w), ngx_funcs, entry, size,
			  NGX_NFUNCS, &rec, err, errlen))
		return WEFT_ANALYZE_FAIL;
	code = size[2] <= 4096 ? welf_vaddr(w, entry[2], size[2]) : NULL;
	if (code)
		up = ngx_upstream_offset(code, size[2], entry[2]);
	if (rt_add_field(rec, NGX_FIELD("ngx_http_request_t.upstream"), up, WEFT_SRC_CODE) ||
	    rt_add_field(rec, NGX_FIELD("ngx_http_request_t.connection"), 8, WEFT_SRC_KNOWN) ||
	    rt_add_field(rec, NGX_FIELD("ngx_connection_t.fd"), 24, WEFT_SRC_KNOWN) ||
	    rt_add_field(rec, NGX_FIELD("ngx_http_upstream_t.peer"), 16, WEFT_SRC_KNOWN))
		goto oom;
	return rt_finish(rec, false, out, err, errlen);
oom:
	return rt_finish(rec, true, out, err, errlen);
}

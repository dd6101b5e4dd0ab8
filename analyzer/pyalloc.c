// SPDX-License-Identifier: BSD-2-Clause
/*
 * Every path into CPython's Context allocation (issue 20; the asyncio rule's
 * allocation mode, bpf/net/rt_asyncio.bpf.h). In Python/context.c only the
 * static _context_alloc makes a Context (freelist pop or _PyObject_GC_New),
 * called first thing by the static context_new_from_vars (PyContext_Copy,
 * PyContext_CopyCurrent, Context.copy) and context_new_empty (PyContext_New,
 * Context(), a thread's first context). The rule may drop its deallocation
 * probe only when every Context made is seen; this proves it for a binary:
 *   - context_new_empty is the direct JMP target of the exported
 *     PyContext_New, and both it and context_new_from_vars start with
 *     PUSHes and register moves, then a direct CALL of _context_alloc;
 *   - a linear sweep of every executable section, all of it decoding, finds
 *     every direct branch into the three functions: into _context_alloc only
 *     those two CALLs, into the other two anything (each one a site the rule
 *     probes, PyContext_CopyCurrent's JMP being the copy site), and none to
 *     the return site of _context_alloc's GC_New call; each function's entry
 *     is an instruction boundary not fallen into (the instruction before it,
 *     NOPs aside, is a RET, an unconditional JMP, INT3, UD2 or HLT);
 *   - no address of them (nor of that return site) is taken: no instruction
 *     names it otherwise (immediate, RIP-relative or absolute operand) and
 *     no loaded non-code byte range (data, relocation addends, .dynsym:
 *     nothing exported) holds it, as 4 little-endian bytes anywhere.
 * Not covered, and not present in the builds weft-analyze knows: a second
 * copy of _context_alloc's freelist pop inlined into some other function.
 */
#include <capstone/capstone.h>
#include <string.h>
#include "internal.h"

enum { F_ALLOC, F_FROM_VARS, F_EMPTY, F_MADE, NF };

struct proof {
	uint64_t fn[NF];      /* the three entries and the GC_New return site */
	uint64_t alloc_calls[2]; /* the CALLs of _context_alloc in from_vars and empty */
	uint64_t copy_jmp;	 /* PyContext_CopyCurrent's JMP (the copy site) */
	struct pysites_fresh *out;
	unsigned seen;		 /* entries met on an instruction boundary (bit per F_*) */
	bool after_stop;	 /* the last instruction but NOPs ends a path (RET, JMP, ...) */
	uint64_t end;		 /* where the last decoded instruction ended */
	bool bad;
};

static bool is_nop(const cs_insn *in)
{
	return in->id == X86_INS_NOP || (in->id == X86_INS_XCHG && in->size == 2 &&
					 in->detail->x86.operands[0].reg == X86_REG_AX &&
					 in->detail->x86.operands[1].reg == X86_REG_AX);
}

static int named(const struct proof *p, uint64_t v)
{
	for (int i = 0; i < NF; i++)
		if (v == p->fn[i])
			return i;
	return -1;
}

static bool direct_branch(const cs_insn *in, uint64_t *target)
{
	const cs_x86 *x = &in->detail->x86;
	bool br = false;

	for (uint8_t i = 0; i < in->detail->groups_count; i++)
		br |= in->detail->groups[i] == CS_GRP_JUMP || in->detail->groups[i] == CS_GRP_CALL;
	if (!br || x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
		return false;
	*target = (uint64_t)x->operands[0].imm;
	return true;
}

static int sweep_step(const cs_insn *in, void *arg)
{
	struct proof *p = arg;
	const cs_x86 *x = &in->detail->x86;
	int f = named(p, in->address);
	uint64_t t;

	p->end = in->address + in->size;
	if (f >= 0 && f != F_MADE) {
		if (!p->after_stop)
			return p->bad = true, -1; /* fallen into */
		p->seen |= 1u << f;
	}
	if (!is_nop(in))
		p->after_stop = in->id == X86_INS_RET || in->id == X86_INS_JMP ||
				in->id == X86_INS_INT3 || in->id == X86_INS_UD2 || in->id == X86_INS_HLT;
	if (direct_branch(in, &t)) {
		f = named(p, t);
		if (f == F_ALLOC &&
		    (in->id != X86_INS_CALL ||
		     (in->address != p->alloc_calls[0] && in->address != p->alloc_calls[1])))
			return p->bad = true, -1;
		if (f == F_MADE)
			return p->bad = true, -1;
		if ((f == F_FROM_VARS || f == F_EMPTY) && in->address != p->copy_jmp) {
			if (p->out->n == PYSITES_MAX_FRESH)
				return p->bad = true, -1;
			p->out->at[p->out->n++] = in->address;
		}
		return 0;
	}
	for (uint8_t i = 0; i < x->op_count; i++) {
		const cs_x86_op *o = &x->operands[i];

		if ((o->type == X86_OP_IMM && named(p, (uint64_t)o->imm) >= 0) ||
		    (o->type == X86_OP_MEM && o->mem.base == X86_REG_RIP &&
		     named(p, in->address + in->size + (uint64_t)o->mem.disp) >= 0) ||
		    (o->type == X86_OP_MEM && o->mem.base == X86_REG_INVALID &&
		     o->mem.index == X86_REG_INVALID && named(p, (uint64_t)o->mem.disp) >= 0))
			return p->bad = true, -1; /* an address taken */
	}
	return 0;
}

/* Does any loaded, non-executable byte range hold one of the addresses? */
static bool named_in_data(const struct welf *w, const struct proof *p)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(w->elf, scn))) {
		const uint8_t *b;

		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC) ||
		    (sh.sh_flags & SHF_EXECINSTR) || sh.sh_type == SHT_NOBITS || sh.sh_size < 4)
			continue;
		b = welf_at(w, sh.sh_offset, sh.sh_size);
		if (!b)
			return true; /* unreadable: no proof */
		for (int f = 0; f < NF; f++) {
			uint8_t pat[4];

			if (p->fn[f] >> 32)
				return true; /* not a 4-byte address: this check does not hold */
			for (int i = 0; i < 4; i++)
				pat[i] = (uint8_t)(p->fn[f] >> (8 * i));
			if (memmem(b, sh.sh_size, pat, 4))
				return true;
		}
	}
	return false;
}

/* The direct CALL after PUSHes and register moves at a function's entry, or 0. */
static uint64_t first_call(struct disasm *d, const struct welf *w, uint64_t entry, uint64_t *at)
{
	const uint8_t *code = welf_vaddr(w, entry, 32);
	struct pysites_prefix s = {0};

	if (!code || disasm_walk(d, code, 32, entry, pysites_prefix_step, &s))
		return 0;
	*at = s.call_at;
	return s.target;
}

int pysites_fresh(struct disasm *d, const struct welf *w, const struct pysites_copy *c,
		  uint64_t py_new, struct pysites_fresh *out)
{
	struct proof p = {.copy_jmp = c->jmp, .out = out, .after_stop = true};
	const uint8_t *code = welf_vaddr(w, py_new, 16);
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	memset(out, 0, sizeof(*out));
	p.fn[F_ALLOC] = c->alloc;
	p.fn[F_FROM_VARS] = c->from_vars;
	p.fn[F_MADE] = c->made;
	/* PyContext_New: `jmp context_new_empty` */
	if (!code || disasm_walk(d, code, 16, py_new, pysites_jmp_step, &p.fn[F_EMPTY]) ||
	    !p.fn[F_EMPTY])
		return -1;
	if (first_call(d, w, c->from_vars, &p.alloc_calls[0]) != c->alloc ||
	    first_call(d, w, p.fn[F_EMPTY], &p.alloc_calls[1]) != c->alloc)
		return -1;
	if (!w->have_shdrs || named_in_data(w, &p))
		return -1;
	while ((scn = elf_nextscn(w->elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_EXECINSTR) || !sh.sh_size)
			continue;
		code = welf_at(w, sh.sh_offset, sh.sh_size);
		p.after_stop = true;
		p.end = sh.sh_addr;
		if (!code)
			return -1;
		disasm_walk(d, code, sh.sh_size, sh.sh_addr, sweep_step, &p);
		welf_drop(w, sh.sh_offset, sh.sh_size);
		if (p.bad || p.end != sh.sh_addr + sh.sh_size)
			return -1; /* a path not probed, an address taken, or bytes that do not decode */
	}
	if (p.seen != (1u << F_ALLOC | 1u << F_FROM_VARS | 1u << F_EMPTY) || !out->n)
		return -1;
	for (size_t i = 0; i < out->n; i++) {
		out->off[i] = welf_code_offset(w, out->at[i], 1);
		if (out->off[i] <= 0)
			return -1;
	}
	return 0;
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * CPython's context-copy site (issue 20; bpf/net/rt_asyncio.bpf.h), found by
 * disassembly and checked instruction by instruction against the layout
 * table (python.c). PyContext_CopyCurrent is, in C (Python/context.c):
 *   ctx = context_get();  return context_new_from_vars(ctx->ctx_vars);
 * and the static context_new_from_vars first calls the static
 * _context_alloc, which pops the interpreter's Context freelist when its
 * count is not 0. The site is the JMP of that tail call, recorded only when
 *   - in PyContext_CopyCurrent: `mov rdi, [rax + ctx_vars]`, then only POPs
 *     of other registers, then a direct JMP (so RAX holds ctx at the JMP);
 *   - at the JMP's target: only PUSHes and register moves, then a direct
 *     CALL (nothing runs before it);
 *   - at that CALL's target, exactly: PUSHes, the load of
 *     _PyRuntime.gilstate.tstate_current (RIP-relative), of its
 *     PyThreadState.interp, of the count (32 bits) at the interpreter's
 *     numfree offset, TEST of it, JE (empty: another allocation), the load
 *     of the head at the freelist offset.
 * and, for an empty freelist, the JE's target: register loads, then a
 * direct CALL (_PyObject_GC_New) whose return address (the second site, the
 * new object in RAX) no branch of _context_alloc lands on; the stack pointer
 * there is the JMP's minus 8 per PUSH and return address in between
 * (sp_delta): the copy's own allocation, not one nested in it (a garbage
 * collection in GC_New running Python code) nor a later one.
 * A binary whose code differs in any of these gets no site: its asyncio
 * calls start new traces (the injector says so).
 */
#include <capstone/capstone.h>
#include "internal.h"

#define WINDOW 96 /* bytes read at a static function's entry (its size is unknown) */

/* Is in `mov REG, [BASE + disp]` of size bytes (BASE: X86_REG_RIP for RIP-relative)? */
static bool load_of(const cs_insn *in, x86_reg base, int64_t disp, unsigned size, x86_reg *reg)
{
	const cs_x86 *x = &in->detail->x86;
	int64_t d = x->operands[1].mem.disp;

	if (in->id != X86_INS_MOV || x->op_count != 2 || x->operands[0].type != X86_OP_REG ||
	    x->operands[1].type != X86_OP_MEM || x->operands[1].size != size ||
	    x->operands[1].mem.base != base || x->operands[1].mem.index != X86_REG_INVALID ||
	    x->operands[1].mem.segment != X86_REG_INVALID)
		return false;
	if (base == X86_REG_RIP)
		d += (int64_t)(in->address + in->size);
	if (d != disp)
		return false;
	*reg = x->operands[0].reg;
	return true;
}

static bool one_reg(const cs_insn *in, unsigned id, x86_reg *reg)
{
	const cs_x86 *x = &in->detail->x86;

	if (in->id != id || x->op_count != 1 || x->operands[0].type != X86_OP_REG)
		return false;
	*reg = x->operands[0].reg;
	return true;
}

static bool direct(const cs_insn *in, unsigned id, uint64_t *target)
{
	const cs_x86 *x = &in->detail->x86;

	if (in->id != id || x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
		return false;
	*target = (uint64_t)x->operands[0].imm;
	return true;
}

struct sweep {
	const struct pysites_want *want;
	int state;
	x86_reg r1, r2, r3;
	uint64_t at, target, empty; /* empty: the JE's target (the freelist is empty) */
	int pushes;
};

/* PyContext_CopyCurrent: the JMP after `mov rdi, [rax + ctx_vars]` and POPs */
static int copy_step(const cs_insn *in, void *arg)
{
	struct sweep *s = arg;
	x86_reg r;

	if (load_of(in, X86_REG_RAX, s->want->ctx_vars, 8, &r) && r == X86_REG_RDI) {
		s->state = 1;
		return 0;
	}
	if (s->state == 1 && one_reg(in, X86_INS_POP, &r) && r != X86_REG_RAX && r != X86_REG_RDI)
		return 0;
	if (s->state == 1 && direct(in, X86_INS_JMP, &s->target)) {
		s->at = in->address;
		return 1;
	}
	s->state = 0;
	return 0;
}

/* context_new_from_vars, context_new_empty: PUSHes and register moves, then the CALL */
int pysites_prefix_step(const cs_insn *in, void *arg)
{
	struct pysites_prefix *s = arg;
	const cs_x86 *x = &in->detail->x86;
	x86_reg r;

	if (direct(in, X86_INS_CALL, &s->target)) {
		s->call_at = in->address;
		return 1;
	}
	if (one_reg(in, X86_INS_PUSH, &r)) {
		s->pushes++;
		return 0;
	}
	if (in->id == X86_INS_MOV && x->op_count == 2 && x->operands[0].type == X86_OP_REG &&
	    x->operands[1].type == X86_OP_REG)
		return 0;
	return -1;
}

/* PyContext_New: a direct JMP (tail call of context_new_empty), first */
int pysites_jmp_step(const cs_insn *in, void *arg)
{
	return direct(in, X86_INS_JMP, arg) ? 1 : -1;
}

/* _context_alloc: the freelist pop, exactly */
static int alloc_step(const cs_insn *in, void *arg)
{
	struct sweep *s = arg;
	const struct pysites_want *w = s->want;
	const cs_x86 *x = &in->detail->x86;
	x86_reg r;

	switch (s->state) {
	case 0:
		if (one_reg(in, X86_INS_PUSH, &r)) {
			s->pushes++;
			return 0;
		}
		if (!load_of(in, X86_REG_RIP, (int64_t)w->tstate_current, 8, &s->r1))
			return -1;
		break;
	case 1:
		if (!load_of(in, s->r1, w->ts_interp, 8, &s->r2))
			return -1;
		break;
	case 2:
		if (!load_of(in, s->r2, w->numfree, 4, &s->r3) || s->r3 == s->r2)
			return -1;
		break;
	case 3:
		if (in->id != X86_INS_TEST || x->op_count != 2 || x->operands[0].type != X86_OP_REG ||
		    x->operands[1].type != X86_OP_REG || x->operands[0].reg != s->r3 ||
		    x->operands[1].reg != s->r3)
			return -1;
		break;
	case 4:
		if (!direct(in, X86_INS_JE, &s->empty))
			return -1;
		break;
	default:
		return load_of(in, s->r2, w->freelist, 8, &r) ? 1 : -1;
	}
	s->state++;
	return 0;
}

/* _context_alloc's empty branch: register loads, then the direct CALL (GC_New) */
static int empty_step(const cs_insn *in, void *arg)
{
	struct sweep *s = arg;
	const cs_x86 *x = &in->detail->x86;

	if (direct(in, X86_INS_CALL, &s->target)) {
		s->at = in->address + in->size; /* where GC_New returns to */
		return 1;
	}
	if ((in->id == X86_INS_MOV || in->id == X86_INS_LEA) && x->op_count == 2 &&
	    x->operands[0].type == X86_OP_REG && x->operands[0].reg != X86_REG_RSP &&
	    x->operands[0].reg != X86_REG_ESP)
		return 0;
	return -1;
}

static bool is_branch(const cs_insn *in)
{
	for (uint8_t i = 0; i < in->detail->groups_count; i++)
		if (in->detail->groups[i] == CS_GRP_JUMP || in->detail->groups[i] == CS_GRP_CALL)
			return true;
	return false;
}

/* _context_alloc from its entry: no branch may land on s->at (only GC_New's return does) */
static int no_entry_step(const cs_insn *in, void *arg)
{
	struct sweep *s = arg;
	const cs_x86 *x = &in->detail->x86;

	if (is_branch(in)) {
		if (x->op_count == 1 && x->operands[0].type == X86_OP_IMM &&
		    (uint64_t)x->operands[0].imm == s->at)
			return -1;
		/* the function's last instruction: an unconditional JMP past the site */
		if (in->id == X86_INS_JMP && in->address > s->at)
			return 1;
	}
	return 0;
}

int pysites_copy(struct disasm *d, const struct welf *w, uint64_t entry, uint64_t size,
		 const struct pysites_want *want, struct pysites_copy *out)
{
	struct sweep s = {.want = want};
	struct pysites_prefix pre = {0};
	const uint8_t *code = welf_vaddr(w, entry, size);
	uint64_t alloc;
	int pushes;

	if (!code || disasm_walk(d, code, size, entry, copy_step, &s))
		return -1;
	out->jmp = s.at;
	out->from_vars = s.target;
	code = welf_vaddr(w, out->from_vars, WINDOW);
	if (!code || disasm_walk(d, code, WINDOW, out->from_vars, pysites_prefix_step, &pre))
		return -1;
	pushes = pre.pushes + 1; /* and the CALL's return address */
	alloc = out->alloc = pre.target;
	s = (struct sweep){.want = want};
	code = welf_vaddr(w, alloc, WINDOW);
	if (!code || disasm_walk(d, code, WINDOW, alloc, alloc_step, &s))
		return -1;
	pushes += s.pushes;
	code = welf_vaddr(w, s.empty, WINDOW);
	s = (struct sweep){.want = want, .empty = s.empty};
	if (!code || disasm_walk(d, code, WINDOW, s.empty, empty_step, &s))
		return -1;
	out->made = s.at;
	code = welf_vaddr(w, alloc, 2 * WINDOW);
	if (!code || disasm_walk(d, code, 2 * WINDOW, alloc, no_entry_step, &s))
		return -1;
	out->sp_delta = 8 * pushes;
	out->jmp_off = welf_code_offset(w, out->jmp, 1);
	out->made_off = welf_code_offset(w, out->made, 1);
	return out->jmp_off > 0 && out->made_off > 0 ? 0 : -1;
}

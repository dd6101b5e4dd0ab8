// SPDX-License-Identifier: BSD-2-Clause
/* Return sites of a function: linear sweep with capstone from its entry. */
#include <capstone/capstone.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

struct disasm {
	csh cs;
	cs_insn *insn;
};

struct disasm *disasm_new(void)
{
	struct disasm *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &d->cs) != CS_ERR_OK) {
		free(d);
		return NULL;
	}
	d->insn = cs_malloc(d->cs);
	if (!d->insn) {
		cs_close(&d->cs);
		free(d);
		return NULL;
	}
	return d;
}

void disasm_free(struct disasm *d)
{
	if (!d)
		return;
	cs_free(d->insn, 1);
	cs_close(&d->cs);
	free(d);
}

/*
 * Every instruction is decoded from the entry, so each RET found is on an
 * instruction boundary by construction; bytes that do not decode make the
 * whole function fail (-1) rather than give a guess.
 */
int disasm_returns(struct disasm *d, const uint8_t *code, uint64_t size, uint64_t addr,
		   uint32_t **rets, uint32_t *nrets)
{
	const uint8_t *p = code;
	size_t left = size;
	uint64_t pc = addr;
	uint32_t *r = NULL, n = 0, cap = 0;

	while (left) {
		uint64_t at = pc;

		if (!cs_disasm_iter(d->cs, &p, &left, &pc, d->insn)) {
			free(r);
			return -1;
		}
		if (d->insn->id == X86_INS_RET || d->insn->id == X86_INS_RETF) {
			if (n == cap) {
				uint32_t *nr;

				cap = cap ? cap * 2 : 4;
				nr = realloc(r, cap * sizeof(*r));
				if (!nr) {
					free(r);
					return -1;
				}
				r = nr;
			}
			r[n++] = (uint32_t)(at - addr);
		}
	}
	*rets = r;
	*nrets = n;
	return 0;
}

/* Operand details on for one sweep: its instruction buffer, or NULL (then call detail_off too). */
static cs_insn *detail_on(struct disasm *d)
{
	if (cs_option(d->cs, CS_OPT_DETAIL, CS_OPT_ON) != CS_ERR_OK)
		return NULL;
	return cs_malloc(d->cs);
}

static void detail_off(struct disasm *d, cs_insn *in)
{
	if (in)
		cs_free(in, 1);
	cs_option(d->cs, CS_OPT_DETAIL, CS_OPT_OFF);
}

/* Is insn ID reg, [RIP + disp]? Then *ea is the address it names. */
static bool rip_load(const cs_insn *in, unsigned id, x86_reg reg, uint64_t *ea)
{
	const cs_x86 *x = &in->detail->x86;

	if (in->id != id || x->op_count != 2 || x->operands[0].type != X86_OP_REG ||
	    x->operands[0].reg != reg || x->operands[1].type != X86_OP_MEM ||
	    x->operands[1].mem.base != X86_REG_RIP || x->operands[1].mem.index != X86_REG_INVALID)
		return false;
	*ea = in->address + in->size + (uint64_t)x->operands[1].mem.disp;
	return true;
}

struct call_after_load {
	uint64_t target;
	const struct disasm_load *load;
	uint64_t load_at, ea, call_at, loaded;
	uint32_t call_len;
	bool have_load;
};

static int call_after_load_step(const cs_insn *in, void *arg)
{
	struct call_after_load *c = arg;
	const cs_x86 *x = &in->detail->x86;
	uint64_t v;

	if (rip_load(in, c->load->insn, c->load->reg, &v)) {
		c->load_at = in->address;
		c->ea = v;
		c->have_load = true;
		return 0;
	}
	if (in->id != X86_INS_CALL || x->op_count != 1 || x->operands[0].type != X86_OP_IMM ||
	    (uint64_t)x->operands[0].imm != c->target)
		return 0;
	/* The first call of target decides. */
	if (!c->have_load || in->address - c->load_at > c->load->window)
		return -1;
	c->call_at = in->address;
	c->call_len = in->size;
	c->loaded = c->ea;
	return 1;
}

int disasm_call_after_load(struct disasm *d, const uint8_t *code, uint64_t size, uint64_t addr,
			   uint64_t target, const struct disasm_load *load, uint64_t *call_at,
			   uint32_t *call_len, uint64_t *loaded)
{
	struct call_after_load c = {.target = target, .load = load};

	if (disasm_walk(d, code, size, addr, call_after_load_step, &c))
		return -1;
	*call_at = c.call_at;
	*call_len = c.call_len;
	*loaded = c.loaded;
	return 0;
}

int disasm_only_call(struct disasm *d, const uint8_t *code, uint64_t size, uint64_t addr,
		     uint64_t target, uint64_t *call_at, uint32_t *call_len)
{
	const uint8_t *p = code;
	size_t left = size;
	uint64_t pc = addr;
	unsigned n = 0;
	cs_insn *in;

	in = detail_on(d);
	while (in && left && cs_disasm_iter(d->cs, &p, &left, &pc, in)) {
		const cs_x86 *x = &in->detail->x86;

		if (in->id != X86_INS_CALL || x->op_count != 1 ||
		    x->operands[0].type != X86_OP_IMM || (uint64_t)x->operands[0].imm != target)
			continue;
		*call_at = in->address;
		*call_len = in->size;
		n++;
	}
	detail_off(d, in);
	return left || n != 1 ? -1 : 0;
}

int disasm_walk(struct disasm *d, const uint8_t *code, uint64_t size, uint64_t addr,
		disasm_step step, void *arg)
{
	const uint8_t *p = code;
	size_t left = size;
	uint64_t pc = addr;
	cs_insn *in;
	int rc = -1;

	in = detail_on(d);
	while (in && left && cs_disasm_iter(d->cs, &p, &left, &pc, in)) {
		int r = step(in, arg);

		if (r) {
			rc = r > 0 ? 0 : -1;
			break;
		}
	}
	detail_off(d, in);
	return rc;
}

/* The 64-bit register a general-purpose register (or a part of it) belongs to. */
static x86_reg gpr64(x86_reg r)
{
	static const x86_reg map[][5] = {
	    {X86_REG_RAX, X86_REG_EAX, X86_REG_AX, X86_REG_AL, X86_REG_AH},
	    {X86_REG_RBX, X86_REG_EBX, X86_REG_BX, X86_REG_BL, X86_REG_BH},
	    {X86_REG_RCX, X86_REG_ECX, X86_REG_CX, X86_REG_CL, X86_REG_CH},
	    {X86_REG_RDX, X86_REG_EDX, X86_REG_DX, X86_REG_DL, X86_REG_DH},
	    {X86_REG_RSI, X86_REG_ESI, X86_REG_SI, X86_REG_SIL, X86_REG_INVALID},
	    {X86_REG_RDI, X86_REG_EDI, X86_REG_DI, X86_REG_DIL, X86_REG_INVALID},
	    {X86_REG_RBP, X86_REG_EBP, X86_REG_BP, X86_REG_BPL, X86_REG_INVALID},
	    {X86_REG_RSP, X86_REG_ESP, X86_REG_SP, X86_REG_SPL, X86_REG_INVALID},
	    {X86_REG_R8, X86_REG_R8D, X86_REG_R8W, X86_REG_R8B, X86_REG_INVALID},
	    {X86_REG_R9, X86_REG_R9D, X86_REG_R9W, X86_REG_R9B, X86_REG_INVALID},
	    {X86_REG_R10, X86_REG_R10D, X86_REG_R10W, X86_REG_R10B, X86_REG_INVALID},
	    {X86_REG_R11, X86_REG_R11D, X86_REG_R11W, X86_REG_R11B, X86_REG_INVALID},
	    {X86_REG_R12, X86_REG_R12D, X86_REG_R12W, X86_REG_R12B, X86_REG_INVALID},
	    {X86_REG_R13, X86_REG_R13D, X86_REG_R13W, X86_REG_R13B, X86_REG_INVALID},
	    {X86_REG_R14, X86_REG_R14D, X86_REG_R14W, X86_REG_R14B, X86_REG_INVALID},
	    {X86_REG_R15, X86_REG_R15D, X86_REG_R15W, X86_REG_R15B, X86_REG_INVALID},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		for (size_t j = 0; j < 5; j++)
			if (map[i][j] == r && r != X86_REG_INVALID)
				return map[i][0];
	return X86_REG_INVALID;
}

static bool is_move(unsigned id)
{
	switch (id) {
	case X86_INS_MOV:
	case X86_INS_MOVZX:
	case X86_INS_MOVSX:
	case X86_INS_MOVSXD:
	case X86_INS_MOVUPS:
	case X86_INS_MOVDQU:
		return true;
	default:
		return false;
	}
}

int disasm_receiver_loads(struct disasm *d, const uint8_t *code, uint64_t size, uint64_t addr,
			  bool to_call, struct disasm_span *loads, size_t max, size_t *n)
{
	const uint8_t *p = code;
	size_t left = size;
	uint64_t pc = addr;
	uint32_t recv = 1u << 0; /* tracked registers, by index into the list below: RAX */
	static const x86_reg gprs[] = {X86_REG_RAX, X86_REG_RBX, X86_REG_RCX, X86_REG_RDX,
				       X86_REG_RSI, X86_REG_RDI, X86_REG_R8,  X86_REG_R9,
				       X86_REG_R10, X86_REG_R11, X86_REG_R12, X86_REG_R13,
				       X86_REG_R15};
	const size_t ngprs = sizeof(gprs) / sizeof(gprs[0]);
	cs_insn *in;
	int rc = -1;

	*n = 0;
	in = detail_on(d);
	while (in && left && cs_disasm_iter(d->cs, &p, &left, &pc, in)) {
		const cs_x86 *x = &in->detail->x86;
		cs_regs rr, rw;
		uint8_t nr = 0, nw = 0;
		uint32_t copy = 0;

		if (in->id == X86_INS_RET) {
			rc = 0;
			break;
		}
		if (in->id == X86_INS_CALL) {
			if (to_call)
				rc = 0; /* the method's head: what it loads before calling */
			break;	/* else not a small accessor */
		}
		if (is_move(in->id) && x->op_count == 2 && x->operands[0].type == X86_OP_REG) {
			const cs_x86_op *src = &x->operands[1];

			if (src->type == X86_OP_MEM && src->mem.index == X86_REG_INVALID &&
			    src->mem.segment == X86_REG_INVALID && src->mem.disp >= 0) {
				for (size_t i = 0; i < ngprs; i++) {
					if (!(recv & (1u << i)) || gprs[i] != src->mem.base)
						continue;
					if (*n == max)
						goto out;
					loads[*n].disp = (uint64_t)src->mem.disp;
					loads[*n].len = src->size;
					(*n)++;
				}
			} else if (src->type == X86_OP_REG && in->id == X86_INS_MOV &&
				   gpr64(src->reg) == src->reg) {
				for (size_t i = 0; i < ngprs; i++)
					if ((recv & (1u << i)) && gprs[i] == src->reg)
						copy = 1;
			}
		}
		/* Every register written stops holding the receiver, unless copied from it. */
		if (cs_regs_access(d->cs, in, rr, &nr, rw, &nw) != CS_ERR_OK)
			goto out;
		for (uint8_t k = 0; k < nw; k++) {
			x86_reg r = gpr64(rw[k]);

			for (size_t i = 0; i < ngprs; i++) {
				if (gprs[i] != r)
					continue;
				if (copy)
					recv |= 1u << i;
				else
					recv &= ~(1u << i);
			}
		}
		if (!recv) { /* the receiver is gone: later loads are not from it */
			rc = 0;
			break;
		}
	}
out:
	detail_off(d, in);
	return rc;
}

int disasm_flow(struct disasm *d, const uint8_t *code, uint64_t size, uint64_t addr,
		uint64_t call_at, uint64_t target, struct disasm_flow *out)
{
	const uint8_t *p = code;
	size_t left = size, cap = 0;
	uint64_t pc = addr;
	cs_insn *in;
	bool oom = false;

	memset(out, 0, sizeof(*out));
	in = detail_on(d);
	while (in && left && cs_disasm_iter(d->cs, &p, &left, &pc, in)) {
		const cs_x86 *x = &in->detail->x86;
		bool imm = x->op_count == 1 && x->operands[0].type == X86_OP_IMM;

		if (in->address == call_at)
			out->call_found = in->id == X86_INS_CALL && in->size == 5 && imm &&
					  (uint64_t)x->operands[0].imm == target;
		if (!cs_insn_group(d->cs, in, CS_GRP_JUMP))
			continue;
		if (!imm) {
			out->indirect_jmp = true;
			continue;
		}
		if (out->ntargets == cap) {
			uint64_t *t;

			cap = cap ? cap * 2 : 64;
			t = realloc(out->targets, cap * sizeof(*t));
			if (!t) {
				oom = true; /* a missed target would be a missed branch */
				break;
			}
			out->targets = t;
		}
		out->targets[out->ntargets++] = (uint64_t)x->operands[0].imm;
	}
	detail_off(d, in);
	if (left || oom) {
		free(out->targets);
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

/*
 * Instructions the kernel's x86 uprobes emulate instead of stepping them out
 * of line (a second trap): CALL rel32, JMP rel8/rel32, Jcc rel8/rel32, NOP
 * (0x90), PUSH of a register -- none with an operand-size prefix
 * (arch/x86/kernel/uprobes.c; bench/bpfcost/uprobecost.c measures both kinds).
 * Multi-byte NOPs are left out: some kernels rewrite a probed 5-byte NOP into
 * a call of their own trampoline, which pushes onto the goroutine's stack.
 */
static bool uprobe_emulated(const cs_insn *in)
{
	const uint8_t *b = in->bytes;

	if (in->size >= 2 && b[0] == 0x41 && b[1] >= 0x50 && b[1] <= 0x57)
		return in->size == 2;
	if (b[0] == 0x0f)
		return in->size == 6 && b[1] >= 0x80 && b[1] <= 0x8f;
	if (b[0] >= 0x70 && b[0] <= 0x7f)
		return in->size == 2;
	if (b[0] >= 0x50 && b[0] <= 0x57)
		return in->size == 1;
	switch (b[0]) {
	case 0x90:
		return in->size == 1;
	case 0xeb:
		return in->size == 2;
	case 0xe8:
	case 0xe9:
		return in->size == 5;
	default:
		return false;
	}
}

/* DWARF register number of a 64-bit general-purpose register, or -1. */
static int dwarf_regno(x86_reg r)
{
	static const x86_reg order[] = {X86_REG_RAX, X86_REG_RDX, X86_REG_RCX, X86_REG_RBX,
					X86_REG_RSI, X86_REG_RDI, X86_REG_RBP, X86_REG_RSP,
					X86_REG_R8,  X86_REG_R9,  X86_REG_R10, X86_REG_R11,
					X86_REG_R12, X86_REG_R13, X86_REG_R14, X86_REG_R15};

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (order[i] == r)
			return (int)i;
	return -1;
}

int disasm_return_site(struct disasm *d, const uint8_t *code, uint64_t size, uint64_t addr,
		       unsigned max, enum weft_go_return_use use, uint64_t *site,
		       int *result_reg)
{
	const uint8_t *p = code;
	size_t left = size;
	uint64_t pc = addr;
	uint32_t held = 1u << 0; /* registers holding the callee's RAX, by DWARF number */
	unsigned n = 0;
	cs_insn *in;
	int rc = 1;

	in = detail_on(d);
	if (!in)
		rc = -1;
	while (in && left && n++ < max) {
		const cs_x86 *x;
		cs_regs rr, rw;
		uint8_t nr = 0, nw = 0;
		uint32_t copy = 0;

		if (!cs_disasm_iter(d->cs, &p, &left, &pc, in)) {
			rc = -1;
			break;
		}
		x = &in->detail->x86;
		if (uprobe_emulated(in)) {
			*site = in->address;
			*result_reg = held ? __builtin_ctz(held) : -1;
			rc = 0;
			break;
		}
		/* any other transfer of control ends the straight line */
		if (cs_insn_group(d->cs, in, CS_GRP_JUMP) || cs_insn_group(d->cs, in, CS_GRP_RET) ||
		    cs_insn_group(d->cs, in, CS_GRP_INT) || cs_insn_group(d->cs, in, CS_GRP_IRET) ||
		    in->id == X86_INS_UD2 || in->id == X86_INS_HLT || in->id == X86_INS_SYSCALL)
			break;
		if (in->id == X86_INS_CALL) {
			/* an indirect call returns here, with every result register changed */
			held = 0;
			if (use != WEFT_GO_RET_G)
				break;
			continue;
		}
		if (in->id == X86_INS_MOV && x->op_count == 2 && x->operands[0].type == X86_OP_REG &&
		    x->operands[1].type == X86_OP_REG && gpr64(x->operands[1].reg) == x->operands[1].reg) {
			int src = dwarf_regno(x->operands[1].reg);

			if (src >= 0 && (held & (1u << src)))
				copy = 1;
		}
		if (cs_regs_access(d->cs, in, rr, &nr, rw, &nw) != CS_ERR_OK) {
			rc = -1;
			break;
		}
		for (uint8_t k = 0; k < nw; k++) {
			int r = dwarf_regno(gpr64(rw[k]));

			if (r < 0)
				continue;
			if (use == WEFT_GO_RET_ALL)
				held = 0; /* a register changed: not as at the RET any more */
			else if (copy && gpr64(rw[k]) == rw[k])
				held |= 1u << r;
			else
				held &= ~(1u << r);
		}
		if (use != WEFT_GO_RET_G && !held)
			break;
	}
	detail_off(d, in);
	return rc;
}

int disasm_refs(struct disasm *d, const uint8_t *code, uint64_t size, uint64_t addr,
		const uint64_t *targets, size_t nt, disasm_ref_cb ref, void *arg)
{
	const uint8_t *p = code;
	size_t left = size;
	uint64_t pc = addr;
	cs_insn *in;

	in = detail_on(d);
	while (in && left && cs_disasm_iter(d->cs, &p, &left, &pc, in)) {
		const cs_x86 *x = &in->detail->x86;
		enum disasm_ref kind = DISASM_REF_OTHER;

		if (in->id == X86_INS_CALL)
			kind = DISASM_REF_CALL;
		else if (cs_insn_group(d->cs, in, CS_GRP_JUMP))
			kind = DISASM_REF_JUMP;
		for (uint8_t k = 0; k < x->op_count; k++) {
			const cs_x86_op *op = &x->operands[k];
			uint64_t v;

			if (op->type == X86_OP_IMM)
				v = (uint64_t)op->imm;
			else if (op->type == X86_OP_MEM && op->mem.base == X86_REG_RIP)
				v = in->address + in->size + (uint64_t)op->mem.disp;
			else
				continue;
			for (size_t t = 0; t < nt; t++)
				if (v == targets[t])
					ref(arg, t, in->address,
					    op->type == X86_OP_IMM ? kind : DISASM_REF_OTHER);
		}
	}
	detail_off(d, in);
	return left ? -1 : 0;
}

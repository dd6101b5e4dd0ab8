// SPDX-License-Identifier: BSD-2-Clause
/* Return sites of a function: linear sweep with capstone from its entry. */
#include <capstone/capstone.h>
#include <stdlib.h>
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

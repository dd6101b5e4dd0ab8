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

int disasm_walk(struct disasm *d, const uint8_t *code, uint64_t size, uint64_t addr,
		disasm_step step, void *arg)
{
	const uint8_t *p = code;
	size_t left = size;
	uint64_t pc = addr;
	cs_insn *in;
	int rc = -1;

	if (cs_option(d->cs, CS_OPT_DETAIL, CS_OPT_ON) != CS_ERR_OK)
		return -1;
	in = cs_malloc(d->cs);
	while (in && left && cs_disasm_iter(d->cs, &p, &left, &pc, in)) {
		int r = step(in, arg);

		if (r) {
			rc = r > 0 ? 0 : -1;
			break;
		}
	}
	if (in)
		cs_free(in, 1);
	cs_option(d->cs, CS_OPT_DETAIL, CS_OPT_OFF);
	return rc;
}

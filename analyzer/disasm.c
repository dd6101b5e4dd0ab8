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

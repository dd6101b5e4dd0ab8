// SPDX-License-Identifier: BSD-2-Clause
/*
 * Return sites of Go functions: where weft-go sees a call of F come back, at
 * F's callers instead of on F's RETs. The kernel's uprobes step a RET out of
 * line (a second trap, ~3.4 us here) but emulate a CALL, JMP, Jcc, PUSH or
 * NOP (~0.34 us; bench/bpfcost's uprobe table), and a caller often reaches
 * one a few instructions after its CALL.
 *
 * Certain only when every call of F is a direct CALL found here, so F gets no
 * return sites when anything else names it: a JMP or Jcc into F from outside
 * it (a tail call), any other rel32 or RIP-relative operand naming its entry
 * (a function value taken in code), its address in an allocated data section
 * or in a relocation's addend (itabs, closures), or a branch of the caller
 * to the instruction the CALL returns to; and a caller's site moves back to
 * the return address when a branch lands between the two. A caller with a
 * jump table (an indirect JMP) is accepted only when no data holds an
 * address from the return address to the site (Go's tables are 8-byte
 * addresses in data). Every function is decoded from its entry for this
 * (Go's text holds no data), so no byte sequence is mistaken for a CALL.
 */
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#define RETURNS_MAX 32 /* direct CALLs of one function, at most */
#define WINDOW 16      /* instructions after a CALL searched for an emulated one */
#define CALLER_MAX (1u << 20)

void gofns_add(struct gofns *t, uint64_t entry, uint64_t size)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 4096;
		struct gofn *v = realloc(t->v, cap * sizeof(*v));

		if (!v) {
			t->oom = true;
			return;
		}
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n].entry = entry;
	t->v[t->n].size = size;
	t->n++;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct gofn *x = a, *y = b;

	return x->entry < y->entry ? -1 : x->entry > y->entry;
}

/*
 * Sorted by entry; aliases (two symbols at one entry) kept once, the larger.
 * Functions that overlap otherwise (a symbol inside another) set overlap:
 * a caller's branches could then lie outside the function found for it.
 */
void gofns_sort(struct gofns *t)
{
	size_t n = 0;

	if (!t->n)
		return;
	qsort(t->v, t->n, sizeof(*t->v), cmp_entry);
	for (size_t i = 1; i < t->n; i++) {
		if (t->v[i].entry == t->v[n].entry) {
			if (t->v[i].size > t->v[n].size)
				t->v[n].size = t->v[i].size;
		} else {
			t->v[++n] = t->v[i];
		}
	}
	t->n = n + 1;
	for (size_t i = 1; i < t->n; i++)
		if (t->v[i].entry - t->v[i - 1].entry < t->v[i - 1].size)
			t->overlap = true;
}

/* The function that holds addr, or NULL. */
static const struct gofn *containing(const struct gofns *all, uint64_t addr)
{
	size_t lo = 0, hi = all->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (all->v[mid].entry <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || addr - all->v[lo - 1].entry >= all->v[lo - 1].size)
		return NULL;
	return &all->v[lo - 1];
}

/* What the sweep found for one function F. */
struct callee {
	const struct weft_func *f;
	enum weft_go_return_use use; /* what its consumer reads */
	uint64_t calls[RETURNS_MAX];
	size_t n;
	bool bad;
};

static void on_ref(void *arg, size_t t, uint64_t at, enum disasm_ref kind)
{
	struct callee *c = &((struct callee *)arg)[t];

	/* one CALL decoded twice (a symbol inside another function) counts once */
	for (size_t i = 0; kind == DISASM_REF_CALL && i < c->n; i++)
		if (c->calls[i] == at)
			return;
	if (kind == DISASM_REF_CALL && c->n < RETURNS_MAX)
		c->calls[c->n++] = at;
	else if (!(kind == DISASM_REF_JUMP && at - c->f->entry < c->f->size))
		c->bad = true; /* a tail call, a function value, too many calls */
}

/*
 * A function that does not decode (a few assembly functions hold data, e.g.
 * crypto/internal/boring/sig's markers): every 4 bytes read as a rel32 or an
 * absolute 32-bit address, and every 8 as an absolute address; one that names
 * a callee's entry makes it bad.
 */
static void opaque_refs(const uint8_t *code, const struct gofn *g, struct callee *cs, size_t n)
{
	for (uint64_t q = 0; q + 4 <= g->size; q++) {
		uint64_t abs = 0;
		int32_t rel;

		memcpy(&rel, code + q, sizeof(rel));
		if (q + 8 <= g->size)
			memcpy(&abs, code + q, sizeof(abs));
		for (size_t i = 0; i < n; i++)
			if (g->entry + q + 4 + (uint64_t)(int64_t)rel == cs[i].f->entry ||
			    (uint32_t)rel == cs[i].f->entry || abs == cs[i].f->entry)
				cs[i].bad = true;
	}
}

/*
 * Every function's code, decoded from its entry: the direct CALLs of each
 * callee, which goes bad when anything else names its entry (only its own
 * jumps back to it, the stack-growth path, are allowed); a function that
 * does not decode is read byte by byte (opaque_refs). -1 when code is missing.
 */
static int sweep_code(struct disasm *d, const struct welf *w, const struct gofns *all,
		      struct callee *cs, size_t n)
{
	uint64_t targets[8];

	if (n > sizeof(targets) / sizeof(targets[0]))
		return -1;
	for (size_t i = 0; i < n; i++)
		targets[i] = cs[i].f->entry;
	for (size_t i = 0; i < all->n; i++) {
		const struct gofn *g = &all->v[i];
		const uint8_t *code = welf_vaddr(w, g->entry, g->size);

		if (!code)
			return -1;
		if (disasm_refs(d, code, g->size, g->entry, targets, n, on_ref, cs))
			opaque_refs(code, g, cs, n);
	}
	return 0;
}

/*
 * Whether an allocated data section (8 bytes at a time, aligned) or a
 * relocation's addend holds an address in [lo, hi]: a function value, an
 * itab, or a jump table's target (Go's are 8-byte addresses).
 */
static bool data_names(const struct welf *w, uint64_t lo, uint64_t hi)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(w->elf, scn))) {
		GElf_Shdr sh;
		const uint8_t *b;

		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC) ||
		    (sh.sh_flags & SHF_EXECINSTR) || sh.sh_type == SHT_NOBITS || !sh.sh_size)
			continue;
		b = welf_at(w, sh.sh_offset, sh.sh_size);
		if (!b)
			return true;
		if (sh.sh_type == SHT_RELA) {
			for (uint64_t i = 0; i + sizeof(Elf64_Rela) <= sh.sh_size;
			     i += sizeof(Elf64_Rela)) {
				Elf64_Rela r;

				memcpy(&r, b + i, sizeof(r));
				if ((uint64_t)r.r_addend >= lo && (uint64_t)r.r_addend <= hi)
					return true;
			}
			continue;
		}
		for (uint64_t i = (8 - (sh.sh_addr & 7)) & 7; i + 8 <= sh.sh_size; i += 8) {
			uint64_t v;

			memcpy(&v, b + i, sizeof(v));
			if (v >= lo && v <= hi)
				return true;
		}
	}
	return false;
}

/* Where the CALL at call (of f) comes back, and the register holding f's RAX there. */
static int call_site(struct disasm *d, const struct welf *w, const struct gofns *all,
		     const struct weft_func *f, enum weft_go_return_use use, uint64_t call,
		     uint64_t *site, int *reg)
{
	const struct gofn *g = containing(all, call);
	const uint64_t ret = call + 5;
	struct disasm_flow fl;
	const uint8_t *code;
	int rc = -1, r;

	if (!g || g->size > CALLER_MAX || ret >= g->entry + g->size)
		return -1;
	code = welf_vaddr(w, g->entry, g->size);
	if (!code || disasm_flow(d, code, g->size, g->entry, call, f->entry, &fl))
		return -1;
	if (!fl.call_found)
		goto out;
	r = disasm_return_site(d, code + (ret - g->entry), g->entry + g->size - ret, ret, WINDOW,
			       use, site, reg);
	if (r < 0)
		goto out;
	if (r > 0) {
		*site = ret;
		*reg = 0;
	}
	for (size_t i = 0; i < fl.ntargets; i++) {
		if (fl.targets[i] == ret)
			goto out; /* another path reaches the return address */
		if (fl.targets[i] > ret && fl.targets[i] <= *site) {
			*site = ret;
			*reg = 0;
		}
	}
	/* a jump table (an indirect JMP's targets are 8-byte addresses in data) */
	if (fl.indirect_jmp && data_names(w, ret, *site))
		goto out;
	rc = 0;
out:
	free(fl.targets);
	return rc;
}

static int record_returns(struct weft_record *rec, const struct welf *w, const char *name,
			  const uint64_t *sites, const int *regs, size_t n)
{
	char sname[512], fname[sizeof(sname) + sizeof(WEFT_FACT_GO_RETURNS WEFT_FACT_GO_RETURN_REG)];

	for (size_t i = 0; i < n; i++) {
		int64_t off = welf_code_offset(w, sites[i], 1);

		if (off <= 0)
			return 0;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(sname, sizeof(sname), "%s" WEFT_SITE_GO_RETURN "%zu", name, i);
		snprintf(fname, sizeof(fname), "%s" WEFT_FACT_GO_RETURN_REG, sname);
		if (weft_record_add_site(rec, sname, sites[i],
					 (uint64_t)welf_code_offset(w, sites[i], 1)) ||
		    weft_record_add_fact(rec, fname, regs[i]))
			return -1;
	}
	snprintf(fname, sizeof(fname), "%s" WEFT_FACT_GO_RETURNS, name);
	return weft_record_add_fact(rec, fname, (int64_t)n);
}

int goreturns_find(struct disasm *d, const struct welf *w, const struct gofns *all,
		   struct weft_record *rec)
{
	static const struct weft_go_return_func names[] = WEFT_GO_RETURN_FUNCS;
	struct callee cs[sizeof(names) / sizeof(names[0])];
	size_t n = 0;

	if (!w->have_shdrs || !all->n || all->oom || all->overlap)
		return 0;
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		const struct weft_func *f = weft_record_func(rec, names[k].name);

		if (f) {
			memset(&cs[n], 0, sizeof(cs[n]));
			cs[n].use = names[k].use;
			cs[n++].f = f;
		}
	}
	if (!n || sweep_code(d, w, all, cs, n))
		return 0;
	for (size_t k = 0; k < n; k++) {
		const struct weft_func *f = cs[k].f;
		uint64_t sites[RETURNS_MAX];
		int regs[RETURNS_MAX];
		size_t i;

		if (cs[k].bad || !cs[k].n || data_names(w, f->entry, f->entry))
			continue;
		for (i = 0; i < cs[k].n; i++)
			if (call_site(d, w, all, f, cs[k].use, cs[k].calls[i], &sites[i], &regs[i]))
				break;
		if (i == cs[k].n && record_returns(rec, w, f->name, sites, regs, cs[k].n))
			return -1;
	}
	return 0;
}

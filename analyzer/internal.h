/* SPDX-License-Identifier: BSD-2-Clause */
/* Pieces of the analyzer shared between its files (not a public API). */
#ifndef WEFT_ANALYZER_INTERNAL_H
#define WEFT_ANALYZER_INTERNAL_H

#include <gelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "offsets.h"

/* A mapped ELF file. All pointers into data are bounds-checked by the helpers. */
struct welf {
	const uint8_t *data;
	size_t size;
	Elf *elf;
	GElf_Ehdr ehdr;
	size_t nphdr;
	GElf_Phdr *phdrs;
	size_t shstrndx;
	bool have_shdrs;
	bool mapped; /* data is a private read-only file mapping (welf_drop may release) */
};

struct wsect {
	const char *name;
	uint64_t addr, offset, size;
	uint32_t type;
	uint64_t flags;
	Elf_Scn *scn;
};

int welf_open(struct welf *w, const uint8_t *data, size_t size, char *err, size_t errlen);
void welf_close(struct welf *w);
/* Find a section by name; the file range is checked (except NOBITS). */
bool welf_section(struct welf *w, const char *name, struct wsect *out);
/* Pointer to n bytes at virtual address va (file-backed bytes only), or NULL. */
const uint8_t *welf_vaddr(const struct welf *w, uint64_t va, uint64_t n);
/*
 * File offset of n bytes of code at virtual address va (inside one executable
 * PT_LOAD segment, file-backed), or -1: where a uprobe on va attaches.
 */
int64_t welf_code_offset(const struct welf *w, uint64_t va, uint64_t n);
/* Pointer to n bytes at file offset off, or NULL. */
const uint8_t *welf_at(const struct welf *w, uint64_t off, uint64_t n);
/*
 * Done with a file range for now: when data is a file mapping, its whole
 * pages leave the resident set (they fault in again from the page cache if
 * read later). Keeps peak RSS to what one step of the analysis uses.
 */
void welf_drop(const struct welf *w, uint64_t off, uint64_t n);

/*
 * Guard a private file mapping against SIGBUS (file truncated meanwhile):
 * zero pages replace the missing ones. fileguard_add gives a slot (-1: none
 * free, or no handler); fileguard_remove says whether a fault happened.
 */
int fileguard_add(const void *map, size_t len);
bool fileguard_remove(int slot);

/* .go.buildinfo */
struct gobuildinfo {
	char *go_version;
	size_t nmodules;
	struct weft_module *modules;
};
int gobuildinfo_parse(struct welf *w, struct gobuildinfo *bi, char *err, size_t errlen);
void gobuildinfo_free(struct gobuildinfo *bi);
/* Parse the modinfo text (exported for the fuzzer). */
int gobuildinfo_parse_modinfo(const char *s, size_t len, struct gobuildinfo *bi);

/* Function symbols: called for every function found (name NUL-terminated). */
typedef void (*func_cb)(void *ctx, const char *name, size_t namelen, uint64_t entry, uint64_t size);
/* .gopclntab; returns number of functions or -1 with err. */
long pclntab_walk(struct welf *w, func_cb cb, void *ctx, char *err, size_t errlen);
/* Same over a raw pclntab image (fuzzer, tests); text_start used when needed. */
long pclntab_walk_raw(const uint8_t *tab, size_t len, uint64_t text_start, func_cb cb, void *ctx,
		      char *err, size_t errlen);
/* .symtab (STT_FUNC); -1 if there is none. */
long symtab_walk(struct welf *w, func_cb cb, void *ctx);
/*
 * The .symtab symbol of that name and ELF type (STT_*): 1 with *out; 0 when
 * absent; -1 when the binary has no .symtab.
 */
int symtab_find(struct welf *w, const char *name, unsigned type, GElf_Sym *out);

/* govendor.c: a Go symbol or type name without its app's "/vendor/" prefix
 * (the name itself when there is none); *len (if given) shrinks to match. */
const char *go_unvendor(const char *name, size_t *len);

/* DWARF struct member offsets for the wanted fields; -1 when .debug_info or .debug_abbrev is
 * missing or libdw cannot read it, -2 when a compressed section or the DIE chain is damaged. */
int dwarf_fields(struct welf *w, int64_t *offsets /* [weft_wanted_nfields], -1 = absent */);

/* RET offsets of a function by linear sweep; 0, or -1 if the bytes do not decode. */
struct disasm;
struct disasm *disasm_new(void);
void disasm_free(struct disasm *d);
int disasm_returns(struct disasm *d, const uint8_t *code, uint64_t size, uint64_t addr,
		   uint32_t **rets, uint32_t *nrets);
/* A load of reg from a RIP-relative address (insn: X86_INS_MOV or X86_INS_LEA). */
struct disasm_load {
	unsigned insn;
	unsigned reg;	 /* x86_reg */
	uint64_t window; /* at most this many bytes before the CALL */
};
/*
 * Linear sweep of code (at addr) to the first CALL of target: 0 when the
 * instruction load describes precedes it within its window (the last such
 * load counts), with *call_at / *call_len the CALL and *loaded the address the
 * load names; -1 otherwise (no such call, no such load, bytes that do not
 * decode).
 */
int disasm_call_after_load(struct disasm *d, const uint8_t *code, uint64_t size, uint64_t addr,
			   uint64_t target, const struct disasm_load *load, uint64_t *call_at,
			   uint32_t *call_len, uint64_t *loaded);

/*
 * Linear sweep of all of code (at addr): 0 when every byte decodes and it holds
 * exactly one direct CALL of target (*call_at / *call_len), -1 otherwise.
 */
int disasm_only_call(struct disasm *d, const uint8_t *code, uint64_t size, uint64_t addr,
		     uint64_t target, uint64_t *call_at, uint32_t *call_len);

/* A memory load: displacement from its base register, bytes read. */
struct disasm_span {
	uint64_t disp;
	uint32_t len;
};
/*
 * The loads a Go method makes from its receiver (RAX at entry, and registers
 * copied from it while it holds it) by linear sweep from its entry to its
 * first RET (to_call: or its first CALL): 0 with *n loads (at most max) in
 * loads; -1 when the sweep meets a CALL (unless to_call) or bytes that do not
 * decode, or finds more than max loads.
 */
int disasm_receiver_loads(struct disasm *d, const uint8_t *code, uint64_t size, uint64_t addr,
			  bool to_call, struct disasm_span *loads, size_t max, size_t *n);

/*
 * Offsets of offsets/accessors.def (accessors.c): for each accessor found in
 * the binary (entries[i]/sizes[i] by weft_accessors index, size 0 = absent),
 * the field's offset from its machine code, into offs (by weft_wanted_fields
 * index; -1 = none). Accessors of one field that disagree give none.
 */
void accessors_derive(struct disasm *d, const struct welf *w, const uint64_t *entries,
		      const uint64_t *sizes, int64_t *offs);

/*
 * Linear sweep of code (at addr) with operand details, one call of step per
 * instruction until it returns non-zero: 0 when it returned > 0 (found), -1
 * when it returned < 0, the bytes ran out or did not decode.
 */
struct cs_insn;
typedef int (*disasm_step)(const struct cs_insn *in, void *arg);
int disasm_walk(struct disasm *d, const uint8_t *code, uint64_t size, uint64_t addr,
		disasm_step step, void *arg);

/*
 * One sweep of a whole function (goreturns.c): whether call_at is one of its
 * instructions and a direct CALL of target, the targets of its direct JMPs
 * and Jccs (targets: malloc'ed, the caller frees), and whether it has an
 * indirect JMP (a jump table, whose targets a sweep cannot see). 0, or -1
 * when bytes do not decode or memory runs out.
 */
struct disasm_flow {
	uint64_t *targets;
	size_t ntargets;
	bool indirect_jmp, call_found;
};
int disasm_flow(struct disasm *d, const uint8_t *code, uint64_t size, uint64_t addr,
		uint64_t call_at, uint64_t target, struct disasm_flow *out);

/*
 * From the instruction a CALL returns to (code at addr, up to the function's
 * end): the first one, within max instructions of straight-line code, that
 * the kernel's uprobes emulate instead of stepping (a second trap), and the
 * register (DWARF number, -1 none) still holding the callee's RAX there;
 * use: WEFT_GO_RET_RESULT, only while some
 * register still holds it; WEFT_GO_RET_ALL, only before any general-purpose
 * register is written.
 * 0 with *site and *result_reg; 1 when there is none (another branch, a
 * RET, or max reached first); -1 when bytes do not decode.
 */
int disasm_return_site(struct disasm *d, const uint8_t *code, uint64_t size, uint64_t addr,
		       unsigned max, enum weft_go_return_use use, uint64_t *site,
		       int *result_reg);

/*
 * Linear sweep of one function (goreturns.c): ref is called for each operand
 * that names one of targets[nt] -- a direct CALL's or JMP/Jcc's target
 * (DISASM_REF_CALL, DISASM_REF_JUMP), or any other immediate or RIP-relative
 * address (DISASM_REF_OTHER). 0, or -1 when bytes do not decode.
 */
enum disasm_ref { DISASM_REF_CALL, DISASM_REF_JUMP, DISASM_REF_OTHER };
typedef void (*disasm_ref_cb)(void *arg, size_t target, uint64_t at, enum disasm_ref kind);
int disasm_refs(struct disasm *d, const uint8_t *code, uint64_t size, uint64_t addr,
		const uint64_t *targets, size_t nt, disasm_ref_cb ref, void *arg);

/* Every function of a binary (entry, size), sorted by entry (goreturns.c). */
struct gofn {
	uint64_t entry, size;
};
struct gofns {
	struct gofn *v;
	size_t n, cap;
	bool oom, overlap;
};
void gofns_add(struct gofns *t, uint64_t entry, uint64_t size);
void gofns_sort(struct gofns *t);

/*
 * Return sites of the Go functions weft-go ends spans at (goreturns.c):
 * where each call of such a function comes back, found from its callers, for
 * functions whose every call is a direct CALL. Adds what it finds to rec;
 * 0, or -1 when out of memory.
 */
int goreturns_find(struct disasm *d, const struct welf *w, const struct gofns *all,
		   struct weft_record *rec);

/*
 * Go code facts (gosites.c): the write site of net/http.(*Request).write and
 * the itab writeLoop passes it, the HEADERS sites of x/net's
 * (*Framer).WriteHeaders and of net/http's bundled copy, by disassembly, and the ABI and map-layout
 * facts of rec->go_version. Adds what it finds to rec; 0, or -1 when out of
 * memory.
 */
int gosites_find(struct disasm *d, const struct welf *w, struct weft_record *rec);

/*
 * Where the running goroutine's g sits relative to the thread pointer
 * (gotls.c): adds the fact WEFT_FACT_GO_TLS_G when the ELF layout says so
 * with certainty, nothing otherwise. 0, or -1 when out of memory.
 */
int gotls_find(struct welf *w, struct weft_record *rec);

/*
 * CPython's context-copy sites (pysites.c): the JMP from PyContext_CopyCurrent
 * (entry, size) into context_new_from_vars, whose _context_alloc is checked to
 * pop the freelist at want's offsets, and the return from its GC_New call
 * (freelist empty). 0 with *out; -1 when the code is not that.
 */
struct pysites_copy {
	uint64_t jmp, made; /* addresses of the JMP and of GC_New's return */
	uint64_t from_vars, alloc; /* context_new_from_vars and _context_alloc (entries) */
	int64_t jmp_off, made_off; /* their file offsets */
	int64_t sp_delta; /* RSP at the JMP minus RSP at GC_New's return */
};
struct pysites_want {
	uint64_t tstate_current; /* address of _PyRuntime.gilstate.tstate_current */
	int64_t ts_interp;	 /* PyThreadState.interp */
	int64_t numfree;	 /* PyInterpreterState.context.numfree */
	int64_t freelist;	 /* PyInterpreterState.context.freelist */
	int64_t ctx_vars;	 /* PyContext.ctx_vars */
};
int pysites_copy(struct disasm *d, const struct welf *w, uint64_t entry, uint64_t size,
		 const struct pysites_want *want, struct pysites_copy *out);
/* disasm_walk steps (pysites.c): PUSHes and register moves, then a direct CALL */
struct pysites_prefix {
	uint64_t target, call_at;
	int pushes;
};
int pysites_prefix_step(const struct cs_insn *in, void *arg);
/* the first instruction is a direct JMP: its target into *(uint64_t *)arg */
int pysites_jmp_step(const struct cs_insn *in, void *arg);

/*
 * Every path into the Context allocation (pyalloc.c): c from pysites_copy,
 * py_new PyContext_New's entry. 0 with the sites other than c->jmp that
 * enter context_new_from_vars or context_new_empty (direct JMPs and CALLs)
 * when the proof holds; -1 when it does not (the rule keeps its
 * deallocation probe).
 */
#define PYSITES_MAX_FRESH 16
struct pysites_fresh {
	size_t n;
	uint64_t at[PYSITES_MAX_FRESH];
	int64_t off[PYSITES_MAX_FRESH]; /* file offsets */
};
int pysites_fresh(struct disasm *d, const struct welf *w, const struct pysites_copy *c,
		  uint64_t py_new, struct pysites_fresh *out);

/* known/ tables. */
int known_lookup(const char *field, const char *scope_name, const char *version, int64_t *offset,
		 enum weft_offset_source *src);
/*
 * A module field of a binary that names no version of its module (GOPATH-mode
 * build): the offset every version in the tables agrees on, as known-nearest
 * (read-only use); -1 when the tables lack it or their versions disagree.
 */
int known_lookup_unversioned(const char *field, int64_t *offset, enum weft_offset_source *src);
const char *known_table_text(size_t *len);

/* Runtime recognisers (runtime.c): entries and sizes of the n exported functions names[]
 * (.dynsym); false if one is missing. */
bool rt_dynsym_funcs(struct welf *w, const char *const *names, size_t n, uint64_t *entry,
		     uint64_t *size);
/* A record with `runtime RUNTIME`, module RUNTIME at version (taken; NULL: "unknown") and
 * those functions with their file offsets: 0 (*out), or -1 with err. */
int rt_record_new(struct welf *w, const char *path, const char *hash, const char *runtime,
		  char *version, const char *const *names, const uint64_t *entry,
		  const uint64_t *size, size_t n, struct weft_record **out, char *err,
		  size_t errlen);
/* Add field name at off (off < 0: not found, nothing added); -1 when out of memory. */
int rt_add_field(struct weft_record *rec, const char *name, int64_t off,
		 enum weft_offset_source src);
/* A runtime record's last step: checked and handed out (*out, OK), or freed with err
 * saying why (FAIL; oom: out of memory). */
enum weft_analyze_result rt_finish(struct weft_record *rec, bool oom, struct weft_record **out,
				   char *err, size_t errlen);
/* The defined dynamic symbol name (any type: functions, data), or false. */
bool rt_dynsym(struct welf *w, const char *name, GElf_Sym *out);
/* CPython (python.c): a record with runtime "python", or SKIP when it is not CPython. */
enum weft_analyze_result python_analyze(struct welf *w, const char *path, const char *hash,
					struct weft_record **out, char *err, size_t errlen);

/* nginx (nginx.c): a record with runtime "nginx", or SKIP when it is not nginx. */
enum weft_analyze_result nginx_analyze(struct welf *w, const char *path, const char *hash,
				       struct weft_record **out, char *err, size_t errlen);

/* Node.js (node.c): a record with runtime "node", or SKIP when it is not Node.js. */
enum weft_analyze_result node_analyze(struct welf *w, const char *path, const char *hash,
				      struct weft_record **out, char *err, size_t errlen);

/* Version comparison for "go1.22.12", "v1.33.3": <0, 0, >0. */
int version_cmp(const char *a, const char *b);

#endif

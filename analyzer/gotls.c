// SPDX-License-Identifier: BSD-2-Clause
/*
 * Where a Go binary (linux/amd64) keeps the running goroutine's g: at a fixed
 * offset from the thread pointer (FS base, task->thread.fsbase to the kernel),
 * recorded as the fact WEFT_FACT_GO_TLS_G so that BPF programs can find the
 * goroutine at any syscall tracepoint (bpf/go/go_goid.bpf.h).
 *
 * What Go's linker does (read in Go 1.22's cmd/link/internal/ld: sym.go sets
 * Tlsoffset = -PtrSize for ELF; data.go resolves R_TLS_LE to Tlsoffset when
 * linking internally, and R_TLS_IE of PIE builds too, after rewriting it to LE;
 * external linking leaves an R_X86_64_TPOFF32 / GOTTPOFF against runtime.tlsg
 * to the C linker; lib.go makes runtime.tlsg an 8-byte STLSBSS symbol;
 * symtab.go writes it to .symtab as STT_TLS only when linking externally;
 * elf.go emits PT_TLS from .tbss, whose section exists for dynamic or
 * external links; runtime/go_tls.h: g is 0(TLS)):
 * - internal linking: g at -8 from the thread pointer, whatever PT_TLS says;
 * - external linking (cgo, -linkmode=external): the executable's TLS block
 *   ends at the thread pointer (x86-64 TLS variant II), so g is at
 *   runtime.tlsg's st_value (its offset inside the block) minus the block's
 *   size, p_memsz rounded up to p_align (glibc's and ld's layout when p_vaddr
 *   is aligned, which is required here).
 * So: runtime.tlsg in .symtab -> external, the formula. Without it (stripped,
 * or linked internally, or a local-symbol strip such as strip -x): no PT_TLS
 * -> internal static link (an external link always has PT_TLS, for tlsg), -8;
 * a TLS block of exactly 8 bytes -> only g fits in it, -8 either way; a larger
 * block (C thread-locals beside g) cannot be placed with certainty: no fact,
 * the binary keeps the uprobe path.
 */
#include "internal.h"

#define GO_TLS_INTERNAL (-8)

static const GElf_Phdr *pt_tls(const struct welf *w)
{
	for (size_t i = 0; i < w->nphdr; i++)
		if (w->phdrs[i].p_type == PT_TLS)
			return &w->phdrs[i];
	return NULL;
}

/* The TLS block's size as the thread pointer sees it, or 0 when unsure. */
static uint64_t tls_block(const GElf_Phdr *p)
{
	uint64_t align = p->p_align ? p->p_align : 1;

	if (align & (align - 1) || align > 4096 || p->p_vaddr & (align - 1) ||
	    p->p_memsz > (1u << 20) || p->p_filesz > p->p_memsz)
		return 0;
	return (p->p_memsz + align - 1) & ~(align - 1);
}

/* The offset of g from the thread pointer; false when not certain. */
static bool g_offset(struct welf *w, int64_t *off)
{
	const GElf_Phdr *p = pt_tls(w);
	uint64_t block = p ? tls_block(p) : 0;
	GElf_Sym tlsg;
	int rc = symtab_find(w, "runtime.tlsg", STT_TLS, &tlsg);

	if (rc > 0) {
		if (!block || tlsg.st_size != 8 || tlsg.st_value > block - 8)
			return false;
		*off = (int64_t)tlsg.st_value - (int64_t)block;
		return true;
	}
	if (!p || block == 8) {
		*off = GO_TLS_INTERNAL;
		return true;
	}
	return false;
}

int gotls_find(struct welf *w, struct weft_record *rec)
{
	int64_t off;

	if (!g_offset(w, &off))
		return 0;
	return weft_record_add_fact(rec, WEFT_FACT_GO_TLS_G, off) ? -1 : 0;
}

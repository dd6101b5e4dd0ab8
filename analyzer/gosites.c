// SPDX-License-Identifier: BSD-2-Clause
/*
 * What weft-go used to work out at attach time, found once here and kept in
 * the record: the call sites it writes at, the itab it expects there, and the
 * ABI and map-layout facts of the Go version (see WEFT_SITE_* and WEFT_FACT_*
 * in offsets/offsets.h).
 */
#include <capstone/capstone.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"

#define F_WRITE "net/http.(*Request).write"
#define F_SUBSET "net/http.Header.writeSubset"
#define F_LOOP "net/http.(*persistConn).writeLoop"
#define F_WHDR "golang.org/x/net/http2.(*Framer).WriteHeaders"
#define F_ENDW "golang.org/x/net/http2.(*Framer).endWrite"
#define F_BWHDR "net/http.(*http2Framer).WriteHeaders"
#define F_BENDW "net/http.(*http2Framer).endWrite"
#define F_ORIG "google.golang.org/grpc/internal/transport.(*loopyWriter).originateStream"
#define F_LWHDR "google.golang.org/grpc/internal/transport.(*loopyWriter).writeHeader"

/* Minor version of "go1.N[.P]", or -1. */
static int go_minor(const char *v)
{
	int major = 0, minor = 0;

	if (!v || sscanf(v, "go%d.%d", &major, &minor) != 2 || major != 1)
		return -1;
	return minor;
}

/*
 * The write site: the CALL of r.Header.writeSubset(w, reqWriteExcludeHeader,
 * trace) in (*Request).write -- its first CALL of writeSubset, preceded by a
 * RIP-relative load of DI (the exclude map; the extra-headers call that follows
 * passes nil) -- hit once per request. And the itab writeLoop passes with pc.bw
 * to (*Request).write (LEAQ itab(SB), BX shortly before that CALL), which weft-go
 * requires in RBX at the write site. Both or neither are recorded.
 */
static int write_site(struct disasm *d, const struct welf *w, struct weft_record *rec)
{
	static const struct disasm_load exclude = {X86_INS_MOV, X86_REG_RDI, 48};
	static const struct disasm_load itab = {X86_INS_LEA, X86_REG_RBX, 64};
	const struct weft_func *fw = weft_record_func(rec, F_WRITE);
	const struct weft_func *fs = weft_record_func(rec, F_SUBSET);
	const struct weft_func *fl = weft_record_func(rec, F_LOOP);
	const uint8_t *cw, *cl;
	uint64_t call, lcall, map, tab;
	uint32_t len, llen;
	int64_t off;

	if (!fw || !fs || !fl)
		return 0;
	cw = welf_vaddr(w, fw->entry, fw->size);
	cl = welf_vaddr(w, fl->entry, fl->size);
	if (!cw || !cl ||
	    disasm_call_after_load(d, cw, fw->size, fw->entry, fs->entry, &exclude, &call, &len,
				   &map) ||
	    disasm_call_after_load(d, cl, fl->size, fl->entry, fw->entry, &itab, &lcall, &llen,
				   &tab))
		return 0;
	off = welf_code_offset(w, call, len);
	if (off <= 0 || !tab)
		return 0;
	if (weft_record_add_site(rec, WEFT_SITE_GO_WRITE, call, (uint64_t)off) ||
	    weft_record_add_site(rec, WEFT_SITE_GO_WRITE_RET, call + len, (uint64_t)off + len) ||
	    weft_record_add_fact(rec, WEFT_FACT_GO_BUFIO_ITAB, (int64_t)tab))
		return -1;
	return 0;
}

/*
 * A HEADERS write site: the CALL of f.endWrite() in (*Framer).WriteHeaders
 * fwhdr (x/net's, or net/http's bundled copy of it) -- the only direct CALL
 * of endWrite fendw there, found by a sweep that decodes all of WriteHeaders
 * -- recorded as site, and the instruction after it as after. A direct CALL
 * of the ABIInternal endWrite passes its receiver f in RAX and keeps g in
 * R14, as at endWrite's entry; the instruction after it is where endWrite
 * returns to. Both or neither are recorded; none when endWrite is inlined or
 * called more than once. Also used for other only-CALL sites (after NULL:
 * the CALL alone).
 */
static int h2_headers_site(struct disasm *d, const struct welf *w, struct weft_record *rec,
			   const char *fwhdr, const char *fendw, const char *site,
			   const char *after)
{
	const struct weft_func *fh = weft_record_func(rec, fwhdr);
	const struct weft_func *fe = weft_record_func(rec, fendw);
	const uint8_t *code;
	uint64_t call;
	uint32_t len;
	int64_t off;

	if (!fh || !fe)
		return 0;
	code = welf_vaddr(w, fh->entry, fh->size);
	if (!code || disasm_only_call(d, code, fh->size, fh->entry, fe->entry, &call, &len))
		return 0;
	off = welf_code_offset(w, call, len);
	if (off <= 0 || call + len >= fh->entry + fh->size)
		return 0;
	if (weft_record_add_site(rec, site, call, (uint64_t)off) ||
	    (after && weft_record_add_site(rec, after, call + len, (uint64_t)off + len)))
		return -1;
	return 0;
}

/*
 * The jbe of a Go function's stack check at its entry (WEFT_FACT_GO_ENTRY_PROBE),
 * by exact bytes:
 *   cmp rsp, [r14 + 0x10]                                49 3b 66 10
 *   lea r12, [rsp + d8] / [rsp + d32]; cmp r12, [r14 + 0x10]
 *                      4c 8d 64 24 d8 / 4c 8d a4 24 d32; 4d 3b 66 10
 * then jbe rel8 (76) or rel32 (0f 86). Its offset from the entry, or 0.
 */
static uint64_t entry_probe_off(const struct welf *w, const struct weft_func *fn)
{
	static const uint8_t cmp_rsp[] = {0x49, 0x3b, 0x66, 0x10},
			     cmp_r12[] = {0x4d, 0x3b, 0x66, 0x10},
			     lea8[] = {0x4c, 0x8d, 0x64, 0x24}, lea32[] = {0x4c, 0x8d, 0xa4, 0x24};
	const uint8_t *b = fn->size >= 16 ? welf_vaddr(w, fn->entry, 16) : NULL;
	size_t at;

	if (!b)
		return 0;
	if (!memcmp(b, cmp_rsp, 4))
		at = 4;
	else if (!memcmp(b, lea8, 4) && !memcmp(b + 5, cmp_r12, 4))
		at = 9;
	else if (!memcmp(b, lea32, 4) && !memcmp(b + 8, cmp_r12, 4))
		at = 12;
	else
		return 0;
	return b[at] == 0x76 || (b[at] == 0x0f && b[at + 1] == 0x86) ? at : 0;
}

int gosites_find(struct disasm *d, const struct welf *w, struct weft_record *rec)
{
	int minor = go_minor(rec->go_version);

	if (minor >= 0) {
		/* amd64 register ABI from go1.17; runtime.hmap maps until go1.23 (1.24: swiss) */
		if (weft_record_add_fact(rec, WEFT_FACT_GO_REGABI, minor >= 17) ||
		    weft_record_add_fact(rec, WEFT_FACT_GO_HMAP, minor >= 17 && minor <= 23))
			return -1;
	}
	for (size_t i = 0; i < rec->nfuncs; i++) {
		uint64_t at = entry_probe_off(w, &rec->funcs[i]);
		char name[512];

		if (!at)
			continue;
		snprintf(name, sizeof(name), "%s" WEFT_FACT_GO_ENTRY_PROBE, rec->funcs[i].name);
		if (weft_record_add_fact(rec, name, (int64_t)at))
			return -1;
	}
	if (write_site(d, w, rec))
		return -1;
	if (h2_headers_site(d, w, rec, F_WHDR, F_ENDW, WEFT_SITE_GO_H2_HEADERS,
			    WEFT_SITE_GO_H2_HEADERS_RET))
		return -1;
	if (h2_headers_site(d, w, rec, F_BWHDR, F_BENDW, WEFT_SITE_GO_H2B_HEADERS,
			    WEFT_SITE_GO_H2B_HEADERS_RET))
		return -1;
	return h2_headers_site(d, w, rec, F_ORIG, F_LWHDR, WEFT_SITE_GRPC_CLIENT_HEADERS, NULL);
}

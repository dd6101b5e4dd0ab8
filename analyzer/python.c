// SPDX-License-Identifier: BSD-2-Clause
/*
 * CPython recognised in an ELF executable (issue 20): the exported
 * PyContext_CopyCurrent, _PyRuntime, PyContext_Type and Py_Version (3.11 and
 * later), as one offsets record with `runtime python` and the version as
 * module "python". weft-http's asyncio rule (bpf/net/rt_asyncio.bpf.h) needs:
 *   funcs  PyContext_CopyCurrent; PyContext_Type.tp_dealloc (the Context
 *          type's static deallocator, its address read from the exported
 *          type object's tp_dealloc slot; size unknown, 1)
 *   sites  WEFT_SITE_PY_COPY (the JMP in PyContext_CopyCurrent into the
 *          freelist pop), WEFT_SITE_PY_COPY_NEW (the return of the
 *          allocation when the freelist is empty) and the fact
 *          WEFT_FACT_PY_COPY_SP, found and checked against the table's
 *          offsets by disassembly (pysites.c); absent when the code is not that;
 *          WEFT_SITE_PY_FRESH (every other branch into the Context
 *          allocation) and the fact WEFT_FACT_PY_FRESH (their count) only
 *          when pyalloc.c proves those are all the paths into it
 *   facts  python._PyRuntime (its address), python.version (Py_Version)
 *   fields python.* (interpreter structs), from the table below: CPython's
 *          own headers of that minor version (x86-64 release builds), kept
 *          only when the binary's PyContext_Type.tp_basicsize is the
 *          table's sizeof(PyContext). Another version: no fields (the
 *          injector says so and probes nothing).
 * An interpreter linked to libpython*.so exports none of these from the
 * executable: not recognised here.
 */
#include <stdlib.h>
#include <string.h>
#include "analyze.h"
#include "internal.h"

#define PY_NFIELDS 20
#define TP_BASICSIZE 32 /* PyTypeObject.tp_basicsize (public, every version) */
#define TP_DEALLOC 48	/* PyTypeObject.tp_dealloc */

static const struct py_layout {
	unsigned major, minor;
	int64_t ctx_size; /* sizeof(PyContext) */
	struct {
		const char *name;
		int64_t off;
	} f[PY_NFIELDS];
} py_layouts[] = {
    {.major = 3,
     .minor = 11,
     .ctx_size = 48,
     .f = {{"python._PyRuntimeState.gilstate.tstate_current", 576},
	   {"python._PyRuntimeState.interpreters.head", 40},
	   {"python.PyInterpreterState.next", 0},
	   {"python.PyInterpreterState.threads.head", 16},
	   {"python.PyThreadState.next", 8},
	   {"python.PyThreadState.native_thread_id", 160},
	   {"python.PyThreadState.context", 224},
	   {"python.PyThreadState.cframe", 56},
	   {"python._PyCFrame.current_frame", 8},
	   {"python._PyInterpreterFrame.f_code", 32},
	   {"python._PyInterpreterFrame.previous", 48},
	   {"python.PyCodeObject.co_qualname", 128},
	   {"python.PyASCIIObject.length", 16},
	   {"python.PyASCIIObject.state", 32},
	   {"python.PyASCIIObject.data", 48},
	   /* the context freelist (Include/internal/pycore_context.h, pycore_interp.h) */
	   {"python.PyThreadState.interp", 16},
	   {"python.PyInterpreterState.context.freelist", 7112},
	   {"python.PyInterpreterState.context.numfree", 7120},
	   {"python.PyContext.ctx_vars", 24},
	   /* how many interpreters were made (1: the main one only; rt_asyncio.bpf.h) */
	   {"python._PyRuntimeState.interpreters.next_id", 56}}},
};

static int64_t lay_off(const struct py_layout *l, const char *name)
{
	for (size_t i = 0; i < PY_NFIELDS; i++)
		if (!strcmp(l->f[i].name, name))
			return l->f[i].off;
	return -1;
}

/* The sites entering the Context allocation besides the copy site, when every path is proved. */
static int fresh_sites(struct disasm *d, struct welf *w, const struct pysites_copy *c,
		       struct weft_record *rec)
{
	struct pysites_fresh f;
	GElf_Sym py_new;

	if (!rt_dynsym(w, "PyContext_New", &py_new) || pysites_fresh(d, w, c, py_new.st_value, &f))
		return 0; /* no proof: the injector keeps the deallocation probe */
	for (size_t i = 0; i < f.n; i++) {
		char name[64];

		snprintf(name, sizeof(name), WEFT_SITE_PY_FRESH "%zu", i);
		if (weft_record_add_site(rec, name, f.at[i], (uint64_t)f.off[i]))
			return -1;
	}
	return weft_record_add_fact(rec, WEFT_FACT_PY_FRESH, (int64_t)f.n);
}

/* The copy sites, when the code pops the freelist at the table's offsets: 0, -1 out of memory. */
static int copy_site(struct welf *w, const struct py_layout *lay, uint64_t runtime,
		     uint64_t entry, uint64_t size, struct weft_record *rec)
{
	const struct pysites_want want = {
	    .tstate_current =
		runtime + (uint64_t)lay_off(lay, "python._PyRuntimeState.gilstate.tstate_current"),
	    .ts_interp = lay_off(lay, "python.PyThreadState.interp"),
	    .numfree = lay_off(lay, "python.PyInterpreterState.context.numfree"),
	    .freelist = lay_off(lay, "python.PyInterpreterState.context.freelist"),
	    .ctx_vars = lay_off(lay, "python.PyContext.ctx_vars"),
	};
	struct disasm *d = disasm_new();
	struct pysites_copy c;
	int r;

	if (!d)
		return -1;
	r = pysites_copy(d, w, entry, size, &want, &c);
	if (r) {
		disasm_free(d);
		return 0; /* not that code: no sites, the injector probes nothing */
	}
	r = weft_record_add_site(rec, WEFT_SITE_PY_COPY, c.jmp, (uint64_t)c.jmp_off) ||
	    weft_record_add_site(rec, WEFT_SITE_PY_COPY_NEW, c.made, (uint64_t)c.made_off) ||
	    weft_record_add_fact(rec, WEFT_FACT_PY_COPY_SP, c.sp_delta) ||
	    fresh_sites(d, w, &c, rec);
	disasm_free(d);
	return r ? -1 : 0;
}

static const char *const py_funcs[] = {"PyContext_CopyCurrent", "PyContext_Type.tp_dealloc"};

enum weft_analyze_result python_analyze(struct welf *w, const char *path, const char *hash,
					struct weft_record **out, char *err, size_t errlen)
{
	GElf_Sym runtime, ctype, ver;
	const struct py_layout *lay = NULL;
	uint64_t entry[2], size[2], tp_size, tp_dealloc;
	const uint8_t *vp, *tp;
	struct weft_record *rec;
	uint32_t hex;
	char v[32];

	if (!rt_dynsym_funcs(w, py_funcs, 1, entry, size) || !rt_dynsym(w, "_PyRuntime", &runtime) ||
	    !rt_dynsym(w, "PyContext_Type", &ctype) || !rt_dynsym(w, "Py_Version", &ver) ||
	    !(vp = welf_vaddr(w, ver.st_value, 4)) ||
	    !(tp = welf_vaddr(w, ctype.st_value + TP_BASICSIZE, TP_DEALLOC + 8 - TP_BASICSIZE))) {
		snprintf(err, errlen,
			 "not a Go binary (no .go.buildinfo or .gopclntab), nginx, Node.js nor "
			 "CPython 3.11+");
		return WEFT_ANALYZE_SKIP;
	}
	memcpy(&hex, vp, 4);
	memcpy(&tp_size, tp, 8);
	memcpy(&tp_dealloc, tp + TP_DEALLOC - TP_BASICSIZE, 8);
	entry[1] = tp_dealloc;
	size[1] = 1;
	for (size_t i = 0; i < sizeof(py_layouts) / sizeof(py_layouts[0]); i++)
		if (py_layouts[i].major == hex >> 24 && py_layouts[i].minor == ((hex >> 16) & 0xff) &&
		    py_layouts[i].ctx_size == (int64_t)tp_size)
			lay = &py_layouts[i];
	snprintf(v, sizeof(v), "%u.%u.%u", hex >> 24, (hex >> 16) & 0xff, (hex >> 8) & 0xff);
	if (rt_record_new(w, path, hash, "python", strdup(v), py_funcs, entry, size, 2, &rec, err,
			  errlen))
		return WEFT_ANALYZE_FAIL;
	if (weft_record_add_fact(rec, "python._PyRuntime", (int64_t)runtime.st_value) ||
	    weft_record_add_fact(rec, "python.version", hex))
		goto oom;
	for (size_t i = 0; lay && i < PY_NFIELDS; i++)
		if (rt_add_field(rec, lay->f[i].name, lay->f[i].off, WEFT_SRC_KNOWN))
			goto oom;
	if (lay && copy_site(w, lay, runtime.st_value, entry[0], size[0], rec))
		goto oom;
	return rt_finish(rec, false, out, err, errlen);
oom:
	return rt_finish(rec, true, out, err, errlen);
}

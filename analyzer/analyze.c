// SPDX-License-Identifier: BSD-2-Clause
/* One Go binary -> one offsets record. */
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include "analyze.h"
#include "internal.h"
#include "wanted.h"

struct found {
	uint64_t entry, size;
	bool have;
};

struct walk_ctx {
	const char **names; /* sorted wanted function names */
	size_t *index;	    /* name -> weft_wanted_funcs index */
	size_t n;
	struct found *found; /* by weft_wanted_funcs index */
	char **pkgs;	     /* sorted packages of wanted fields (stripped only) */
	bool *pkg_seen;
	size_t npkgs;
	struct gofns all; /* every function, for goreturns.c */
};


static const char **sorted_funcs;
static size_t *sorted_index;
static char analyzer_version[64];
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/*
 * The functions the walk looks for: the wanted ones (index < weft_wanted_nfuncs)
 * and the accessors of offsets/accessors.def after them.
 */
static const char *walk_name(size_t i)
{
	return i < weft_wanted_nfuncs ? weft_wanted_funcs[i]
				      : weft_accessors[i - weft_wanted_nfuncs].func;
}

static int cmp_idx(const void *a, const void *b)
{
	return strcmp(walk_name(*(const size_t *)a), walk_name(*(const size_t *)b));
}

static void init_tables(void)
{
	XXH3_state_t *st = XXH3_createState();
	size_t n = weft_wanted_nfuncs + weft_naccessors, klen;
	const char *ktext;

	sorted_funcs = calloc(n + 1, sizeof(*sorted_funcs));
	sorted_index = calloc(n + 1, sizeof(*sorted_index));
	if (sorted_funcs && sorted_index) {
		for (size_t i = 0; i < n; i++)
			sorted_index[i] = i;
		qsort(sorted_index, n, sizeof(*sorted_index), cmp_idx);
		for (size_t i = 0; i < n; i++)
			sorted_funcs[i] = walk_name(sorted_index[i]);
	}
	/* The version names the wanted and known tables, so that editing either
	 * makes weft-analyze recompute its records. */
	if (st) {
		XXH3_64bits_reset(st);
		for (size_t i = 0; i < weft_wanted_nfields; i++)
			XXH3_64bits_update(st, weft_wanted_fields[i],
					   strlen(weft_wanted_fields[i]) + 1);
		for (size_t i = 0; i < n; i++)
			XXH3_64bits_update(st, walk_name(i), strlen(walk_name(i)) + 1);
		for (size_t i = 0; i < weft_naccessors; i++) {
			XXH3_64bits_update(st, weft_accessors[i].field,
					   strlen(weft_accessors[i].field) + 1);
			XXH3_64bits_update(st, &weft_accessors[i].words,
					   sizeof(weft_accessors[i].words));
			XXH3_64bits_update(st, &weft_accessors[i].head,
					   sizeof(weft_accessors[i].head));
		}
		for (size_t i = 0; i < weft_nneeded; i++) {
			XXH3_64bits_update(st, weft_needed[i].func, strlen(weft_needed[i].func) + 1);
			XXH3_64bits_update(st, weft_needed[i].field, strlen(weft_needed[i].field) + 1);
		}
		/* how names are read: vendored paths match their origin (govendor.c) */
		XXH3_64bits_update(st, "rules:unvendor", sizeof("rules:unvendor"));
		/* return sites at callers (goreturns.c), entry probes on the stack check (gosites.c) */
		XXH3_64bits_update(st, "rules:goreturns,entryprobe", sizeof("rules:goreturns,entryprobe"));
		ktext = known_table_text(&klen);
		XXH3_64bits_update(st, ktext, klen);
		snprintf(analyzer_version, sizeof(analyzer_version), "%s+%08llx", WEFT_VERSION,
			 (unsigned long long)(XXH3_64bits_digest(st) & 0xffffffffull));
		XXH3_freeState(st);
	}
}

const char *weft_analyzer_version(void)
{
	pthread_once(&init_once, init_tables);
	return analyzer_version;
}

static int cmp_str(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void on_func(void *vctx, const char *name, size_t namelen, uint64_t entry, uint64_t size)
{
	struct walk_ctx *c = vctx;
	const char **hit;

	if (size)
		gofns_add(&c->all, entry, size);
	name = go_unvendor(name, &namelen);
	if (c->npkgs) {
		/* Package of a symbol: up to the first '.' after the last '/'. */
		const char *slash = memrchr(name, '/', namelen);
		const char *dot = memchr(slash ? slash : name, '.',
					 namelen - (size_t)((slash ? slash : name) - name));

		if (dot) {
			char pkg[512];
			size_t pl = (size_t)(dot - name);
			char **p;

			if (pl < sizeof(pkg)) {
				memcpy(pkg, name, pl);
				pkg[pl] = 0;
				p = bsearch(pkg, c->pkgs, c->npkgs, sizeof(*c->pkgs), cmp_str);
				if (p)
					c->pkg_seen[p - c->pkgs] = true;
			}
		}
	}
	hit = bsearch(name, c->names, c->n, sizeof(*c->names), cmp_str);
	if (!hit)
		return;
	/* a function both wanted and an accessor (endWrite) is in the list twice */
	while (hit > c->names && strcmp(hit[-1], name) == 0)
		hit--;
	for (; hit < c->names + c->n && strcmp(*hit, name) == 0; hit++) {
		struct found *f = &c->found[c->index[hit - c->names]];

		if (!f->have) {
			f->entry = entry;
			f->size = size;
			f->have = true;
		}
	}
}

/* Package path of a wanted field "pkg/path.Type.Field". */
static char *field_pkg(const char *field)
{
	const char *slash = strrchr(field, '/');
	const char *dot = strchr(slash ? slash : field, '.');

	return dot ? strndup(field, (size_t)(dot - field)) : NULL;
}

/* The module providing a package, by longest path prefix. */
static const struct weft_module *module_of(const struct gobuildinfo *bi, const char *pkg)
{
	const struct weft_module *best = NULL;

	for (size_t i = 0; i < bi->nmodules; i++) {
		size_t l = strlen(bi->modules[i].path);

		if (strncmp(pkg, bi->modules[i].path, l) == 0 && (pkg[l] == 0 || pkg[l] == '/') &&
		    (!best || l > strlen(best->path)))
			best = &bi->modules[i];
	}
	return best;
}

/* Is the first element of a package path a domain (a module, not std)? */
static bool is_module_pkg(const char *pkg)
{
	const char *slash = strchr(pkg, '/');
	const char *dot = strchr(pkg, '.');

	return dot && (!slash || dot < slash);
}

/* Offset of a field from the known/ tables for this binary's Go or module version. */
static void known_field(const struct weft_record *rec, const char *field, const char *pkg,
			int64_t *off, enum weft_offset_source *src)
{
	if (is_module_pkg(pkg)) {
		const struct weft_module *m = module_of(
		    &(struct gobuildinfo){.nmodules = rec->nmodules, .modules = rec->modules}, pkg);

		if (m)
			known_lookup(field, m->path, m->version, off, src);
		else
			known_lookup_unversioned(field, off, src);
	} else {
		known_lookup(field, "go", rec->go_version, off, src);
	}
}

static bool have_func(const struct walk_ctx *wc, const char *name)
{
	const char **hit = bsearch(name, wc->names, wc->n, sizeof(*wc->names), cmp_str);

	return hit && wc->found[wc->index[hit - wc->names]].have;
}

/*
 * A binary with DWARF that lacks a field its injector needs (offsets/needed.def):
 * damaged debug information that still parses. The field is taken from the
 * known/ tables (its source says so) and err gets a warning; -1 with err
 * when the tables lack it too. A stripped binary gets them from the tables
 * too (the package of a field need not have functions of its own in it),
 * quietly; what the tables lack is a warning. rec->fields has room for
 * every wanted field.
 */
static int complete_needed(struct weft_record *rec, const struct walk_ctx *wc, bool have_dwarf,
			   char *err, size_t errlen)
{
	size_t filled = 0, missing = 0;
	const char *first_filled = NULL, *first_missing = NULL;

	for (size_t i = 0; i < weft_nneeded; i++) {
		enum weft_offset_source src = WEFT_SRC_DWARF;
		struct weft_field *f;
		int64_t off = -1;
		char *pkg;

		if (!have_func(wc, weft_needed[i].func) || weft_record_field(rec, weft_needed[i].field))
			continue;
		pkg = field_pkg(weft_needed[i].field);
		if (pkg)
			known_field(rec, weft_needed[i].field, pkg, &off, &src);
		free(pkg);
		if (off < 0 || rec->nfields >= weft_wanted_nfields) {
			if (!missing++)
				first_missing = weft_needed[i].field;
			continue;
		}
		f = &rec->fields[rec->nfields];
		f->name = strdup(weft_needed[i].field);
		if (!f->name) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		f->offset = off;
		f->source = src;
		rec->nfields++;
		if (!filled++)
			first_filled = weft_needed[i].field;
	}
	if (missing && !have_dwarf) {
		snprintf(err, errlen,
			 "%zu field(s) its injector needs are missing (%s%s): no DWARF, and the "
			 "known/ tables have none for %s",
			 missing, first_missing, missing > 1 ? ", ..." : "",
			 rec->go_version[0] ? rec->go_version : "an unknown Go version");
		return 0;
	}
	if (missing) {
		snprintf(err, errlen,
			 "damaged DWARF: %zu field(s) its injector needs are missing (%s%s) and "
			 "the known/ tables have none for %s",
			 missing, first_missing, missing > 1 ? ", ..." : "",
			 rec->go_version[0] ? rec->go_version : "an unknown Go version");
		return -1;
	}
	if (filled && have_dwarf) /* (a stripped binary's fields come from the tables anyway) */
		snprintf(err, errlen,
			 "damaged DWARF: %zu field(s) its injector needs are missing (%s%s): "
			 "taken from the known/ tables (source known or known-nearest)",
			 filled, first_filled, filled > 1 ? ", ..." : "");
	return 0;
}

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		snprintf(err, errlen, __VA_ARGS__);                                                \
		res = WEFT_ANALYZE_FAIL;                                                           \
		goto out;                                                                          \
	} while (0)
#define SKIP(...)                                                                                  \
	do {                                                                                       \
		snprintf(err, errlen, __VA_ARGS__);                                                \
		res = WEFT_ANALYZE_SKIP;                                                           \
		goto out;                                                                          \
	} while (0)

/* mapped: data is a private read-only file mapping (pages may be dropped when done). */
static enum weft_analyze_result analyze(const uint8_t *data, size_t size, bool mapped,
					const char *path, const char *hash,
					struct weft_record **out, char *err, size_t errlen)
{
	enum weft_analyze_result res = WEFT_ANALYZE_OK;
	struct gobuildinfo bi = {0};
	struct walk_ctx wc = {0};
	struct weft_record *rec = NULL;
	struct disasm *dis = NULL;
	struct welf w = {0};
	struct wsect s;
	int64_t *offs = NULL, *code_offs = NULL;
	uint64_t *acc_entry = NULL, *acc_size = NULL;
	char why[256] = "", warn[256] = "";
	bool have_pcln, have_bi, have_dwarf;
	long nsym;
	int rc;

	pthread_once(&init_once, init_tables);
	*out = NULL;
	if (errlen)
		err[0] = 0;
	if (size == 0)
		SKIP("empty file");
	if (size < 4 || memcmp(data, ELFMAG, SELFMAG) != 0)
		SKIP("not an ELF file");
	if (size < sizeof(Elf64_Ehdr))
		FAIL("truncated ELF header (%zu bytes)", size);
	if (data[EI_CLASS] != ELFCLASS64 || data[EI_DATA] != ELFDATA2LSB)
		SKIP("not a 64-bit little-endian ELF");
	if (welf_open(&w, data, size, why, sizeof(why)))
		FAIL("%s", why);
	w.mapped = mapped;
	if (w.ehdr.e_machine != EM_X86_64)
		SKIP("not an x86-64 binary (ELF machine %u)", (unsigned)w.ehdr.e_machine);
	if (w.ehdr.e_type != ET_EXEC && w.ehdr.e_type != ET_DYN)
		SKIP("not an executable (ELF type %u)", (unsigned)w.ehdr.e_type);
	have_pcln =
	    welf_section(&w, ".gopclntab", &s) || welf_section(&w, ".data.rel.ro.gopclntab", &s);
	rc = gobuildinfo_parse(&w, &bi, why, sizeof(why));
	if (rc < 0)
		FAIL("%s", why);
	have_bi = rc == 0;
	if (!have_bi && !have_pcln) {
		if (!w.have_shdrs && w.ehdr.e_shoff)
			FAIL("corrupt ELF section headers");
		res = nginx_analyze(&w, path, hash, out, err, errlen);	/* else SKIP */
		if (res == WEFT_ANALYZE_SKIP)
			res = node_analyze(&w, path, hash, out, err, errlen);
		if (res == WEFT_ANALYZE_SKIP)
			res = python_analyze(&w, path, hash, out, err, errlen);
		goto out;
	}
	have_dwarf = welf_section(&w, ".debug_info", &s) || welf_section(&w, ".zdebug_info", &s);

	rec = calloc(1, sizeof(*rec));
	offs = calloc(weft_wanted_nfields + 1, sizeof(*offs));
	wc.found = calloc(weft_wanted_nfuncs + weft_naccessors + 1, sizeof(*wc.found));
	if (!rec || !offs || !wc.found)
		FAIL("out of memory");
	if (hash)
		snprintf(rec->hash, sizeof(rec->hash), "%s", hash);
	else
		weft_hash_mem(data, size, rec->hash);
	rec->path = strdup(path ? path : "");
	rec->go_version = strdup(bi.go_version ? bi.go_version : "");
	rec->analyzer_version = strdup(analyzer_version);
	rec->stripped = !have_dwarf;
	rec->pie = w.ehdr.e_type == ET_DYN;
	if (!rec->path || !rec->go_version || !rec->analyzer_version)
		FAIL("out of memory");
	rec->modules = bi.modules;
	rec->nmodules = bi.nmodules;
	bi.modules = NULL;
	bi.nmodules = 0;

	/* Packages of wanted fields, to give a stripped binary only those it has. */
	if (!have_dwarf) {
		wc.pkgs = calloc(weft_wanted_nfields + 1, sizeof(*wc.pkgs));
		wc.pkg_seen = calloc(weft_wanted_nfields + 1, sizeof(*wc.pkg_seen));
		if (!wc.pkgs || !wc.pkg_seen)
			FAIL("out of memory");
		for (size_t i = 0; i < weft_wanted_nfields; i++) {
			char *p = field_pkg(weft_wanted_fields[i]);

			if (!p)
				continue;
			if (bsearch(p, wc.pkgs, wc.npkgs, sizeof(*wc.pkgs), cmp_str)) {
				free(p);
				continue;
			}
			wc.pkgs[wc.npkgs++] = p;
			qsort(wc.pkgs, wc.npkgs, sizeof(*wc.pkgs), cmp_strp);
		}
	}

	/* Functions: .symtab when present, else .gopclntab. */
	wc.names = sorted_funcs;
	wc.index = sorted_index;
	wc.n = weft_wanted_nfuncs + weft_naccessors;
	nsym = symtab_walk(&w, on_func, &wc);
	if (nsym <= 0) {
		if (pclntab_walk(&w, on_func, &wc, why, sizeof(why)) < 0)
			FAIL("%s", why);
	}

	/* Struct offsets: DWARF, else known/ tables. */
	if (have_dwarf) {
		rc = dwarf_fields(&w, offs);
		if (rc == -2)
			FAIL("corrupt DWARF: a compressed debug section has a damaged header or "
			     "does not inflate, or its units or entries do not parse");
		if (rc)
			FAIL("cannot read DWARF (.debug_info or .debug_abbrev missing, or libdw: "
			     "%s)",
			     dwarf_errmsg(-1));
	} else {
		for (size_t i = 0; i < weft_wanted_nfields; i++)
			offs[i] = -1;
	}
	dis = disasm_new();
	if (!dis)
		FAIL("cannot start the disassembler (capstone)");
	/* Without DWARF, the accessors' machine code (accessors.def). */
	if (!have_dwarf) {
		code_offs = calloc(weft_wanted_nfields + 1, sizeof(*code_offs));
		acc_entry = calloc(weft_naccessors + 1, sizeof(*acc_entry));
		acc_size = calloc(weft_naccessors + 1, sizeof(*acc_size));
		if (!code_offs || !acc_entry || !acc_size)
			FAIL("out of memory");
		for (size_t i = 0; i < weft_naccessors; i++) {
			const struct found *fd = &wc.found[weft_wanted_nfuncs + i];

			acc_entry[i] = fd->have ? fd->entry : 0;
			acc_size[i] = fd->have ? fd->size : 0;
		}
		accessors_derive(dis, &w, acc_entry, acc_size, code_offs);
	}
	rec->fields = calloc(weft_wanted_nfields + 1, sizeof(*rec->fields));
	rec->funcs = calloc(weft_wanted_nfuncs + 1, sizeof(*rec->funcs));
	if (!rec->fields || !rec->funcs)
		FAIL("out of memory");
	for (size_t i = 0; i < weft_wanted_nfields; i++) {
		struct weft_field *f = &rec->fields[rec->nfields];
		enum weft_offset_source src = WEFT_SRC_DWARF;
		int64_t off = offs[i];

		if (!have_dwarf) {
			char *pkg = field_pkg(weft_wanted_fields[i]);
			char **pp =
			    pkg ? bsearch(pkg, wc.pkgs, wc.npkgs, sizeof(*wc.pkgs), cmp_str) : NULL;
			bool present =
			    pp && (wc.pkg_seen[pp - wc.pkgs] || strcmp(pkg, "runtime") == 0);

			if (present)
				known_field(rec, weft_wanted_fields[i], pkg, &off, &src);
			free(pkg);
			/* An exact table entry wins; code beats a nearest-version guess. */
			if (code_offs[i] >= 0 && (off < 0 || src == WEFT_SRC_KNOWN_NEAREST)) {
				off = code_offs[i];
				src = WEFT_SRC_CODE;
			}
		}
		if (off < 0)
			continue;
		f->name = strdup(weft_wanted_fields[i]);
		if (!f->name)
			FAIL("out of memory");
		f->offset = off;
		f->source = src;
		rec->nfields++;
	}

	if (complete_needed(rec, &wc, have_dwarf, warn, sizeof(warn)))
		FAIL("%s", warn);

	/* Return sites. */
	for (size_t i = 0; i < weft_wanted_nfuncs; i++) {
		const struct found *fd = &wc.found[i];
		struct weft_func *fn = &rec->funcs[rec->nfuncs];
		const uint8_t *code;
		int64_t fileoff;

		if (!fd->have || !fd->size || fd->size > WEFT_FUNC_SIZE_MAX)
			continue;
		code = welf_vaddr(&w, fd->entry, fd->size);
		fileoff = welf_code_offset(&w, fd->entry, fd->size);
		if (!code || fileoff <= 0)
			continue;
		if (disasm_returns(dis, code, fd->size, fd->entry, &fn->returns, &fn->nreturns))
			continue;
		if (fn->nreturns > 1000) {
			free(fn->returns);
			fn->returns = NULL;
			continue;
		}
		fn->name = strdup(weft_wanted_funcs[i]);
		if (!fn->name)
			FAIL("out of memory");
		fn->entry = fd->entry;
		fn->fileoff = (uint64_t)fileoff;
		fn->size = fd->size;
		rec->nfuncs++;
	}
	gofns_sort(&wc.all);
	if (gosites_find(dis, &w, rec) || gotls_find(&w, rec) ||
	    goreturns_find(dis, &w, &wc.all, rec))
		FAIL("out of memory");
	if (weft_record_check(rec, why, sizeof(why)))
		FAIL("inconsistent analysis: %s", why);
	/* A warning for the caller (the record is still good). */
	snprintf(err, errlen, "%s", warn);
	*out = rec;
	rec = NULL;
out:
	if (wc.pkgs)
		for (size_t i = 0; i < wc.npkgs; i++)
			free(wc.pkgs[i]);
	free(wc.pkgs);
	free(wc.pkg_seen);
	free(wc.found);
	free(wc.all.v);
	free(offs);
	free(code_offs);
	free(acc_entry);
	free(acc_size);
	disasm_free(dis);
	gobuildinfo_free(&bi);
	weft_record_free(rec);
	welf_close(&w);
	return res;
}

enum weft_analyze_result weft_analyze_mem(const uint8_t *data, size_t size, const char *path,
					  const char *hash, struct weft_record **out, char *err,
					  size_t errlen)
{
	return analyze(data, size, false, path, hash, out, err, errlen);
}

/*
 * The file's bytes read into fresh anonymous memory (read-only once read):
 * used when no guard is free for a mapping. A file that changes while it is
 * read is an error (size or mtime differ).
 */
static uint8_t *read_file(int fd, const struct stat *st, char *err, size_t errlen)
{
	size_t size = (size_t)st->st_size, got = 0;
	struct stat after;
	uint8_t *buf;

	buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		snprintf(err, errlen, "cannot allocate %zu bytes to read it: %s", size,
			 strerror(errno));
		return NULL;
	}
	while (got < size) {
		size_t want = size - got < (16u << 20) ? size - got : (16u << 20);
		ssize_t n = pread(fd, buf + got, want, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				snprintf(err, errlen, "cannot read: %s", strerror(errno));
			else
				snprintf(err, errlen,
					 "file truncated while read (%zu of %zu bytes): it changed "
					 "while analysed",
					 got, size);
			munmap(buf, size);
			return NULL;
		}
		got += (size_t)n;
	}
	if (fstat(fd, &after) || after.st_size != st->st_size ||
	    after.st_mtim.tv_sec != st->st_mtim.tv_sec ||
	    after.st_mtim.tv_nsec != st->st_mtim.tv_nsec) {
		snprintf(err, errlen, "file changed while read: it changed while analysed");
		munmap(buf, size);
		return NULL;
	}
	mprotect(buf, size, PROT_READ);
	return buf;
}

enum weft_analyze_result weft_analyze_fd(int fd, const char *path, const char *hash,
					 struct weft_record **out, char *err, size_t errlen)
{
	enum weft_analyze_result res;
	char hbuf[33];
	struct stat st;
	uint8_t *data;
	int guard;

	*out = NULL;
	if (fstat(fd, &st)) {
		snprintf(err, errlen, "cannot stat: %s", strerror(errno));
		return WEFT_ANALYZE_FAIL;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		return WEFT_ANALYZE_SKIP;
	}
	if (st.st_size == 0) {
		snprintf(err, errlen, "empty file");
		return WEFT_ANALYZE_SKIP;
	}
	if ((uint64_t)st.st_size > SIZE_MAX / 2) {
		snprintf(err, errlen, "file too large (%lld bytes)", (long long)st.st_size);
		return WEFT_ANALYZE_FAIL;
	}
	/*
	 * A private read-only mapping, not pre-faulted: only the pages of the
	 * sections used become resident. Guarded (fileguard.c): a file truncated
	 * meanwhile gives zero pages and an error, not SIGBUS. Without a free
	 * guard, the file is read into memory instead.
	 */
	data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (data == MAP_FAILED) {
		snprintf(err, errlen, "cannot map: %s", strerror(errno));
		return WEFT_ANALYZE_FAIL;
	}
	guard = fileguard_add(data, (size_t)st.st_size);
	if (guard < 0) {
		munmap(data, (size_t)st.st_size);
		data = read_file(fd, &st, err, errlen);
		if (!data)
			return WEFT_ANALYZE_FAIL;
	}
	/* Hashed by reads of its own, so that the whole mapping never becomes resident. */
	if (!hash && weft_hash_fd(fd, hbuf) == 0)
		hash = hbuf;
	res = analyze(data, (size_t)st.st_size, guard >= 0, path, hash, out, err, errlen);
	if (fileguard_remove(guard)) {
		weft_record_free(*out);
		*out = NULL;
		snprintf(err, errlen,
			 "file truncated while analysed (it had %lld bytes): it changed while "
			 "analysed",
			 (long long)st.st_size);
		res = WEFT_ANALYZE_FAIL;
	}
	munmap(data, (size_t)st.st_size);
	return res;
}

// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "log.h"
#include "offsets.h"
#include "go/weft_go.h"
#include "bpf/go/weft_go.skel.h"
#include "go_analyze.h"
#include "go_elf.h"
#include "go_binary.h"
#include "wanted.h"

/* Offsets handed to BPF. write: needed exact (DWARF or exact known version) for writes. */
static const struct {
	const char *name;
	size_t cfg_off;
	bool write;
} go_fields[] = {
    {"net/http.Request.Method", offsetof(struct weft_go_cfg, req_method), false},
    {"net/http.Request.URL", offsetof(struct weft_go_cfg, req_url), false},
    {"net/http.Request.ProtoMajor", offsetof(struct weft_go_cfg, req_proto_major), false},
    {"net/http.Request.Header", offsetof(struct weft_go_cfg, req_header), true},
    {"net/http.Request.Host", offsetof(struct weft_go_cfg, req_host), false},
    {"net/http.Request.RemoteAddr", offsetof(struct weft_go_cfg, req_remote_addr), false},
    {"net/http.Request.TLS", offsetof(struct weft_go_cfg, req_tls), false},
    {"net/url.URL.Scheme", offsetof(struct weft_go_cfg, url_scheme), false},
    {"net/url.URL.Host", offsetof(struct weft_go_cfg, url_host), false},
    {"net/url.URL.Path", offsetof(struct weft_go_cfg, url_path), false},
    {"net/http.Response.StatusCode", offsetof(struct weft_go_cfg, resp_status_code), false},
    {"net/http.response.status", offsetof(struct weft_go_cfg, rw_status), false},
    {"net/http.persistConn.conn", offsetof(struct weft_go_cfg, pc_conn), false},
    {"net/http.persistConn.tlsState", offsetof(struct weft_go_cfg, pc_tls_state), false},
    {"net/http.persistConn.bw", offsetof(struct weft_go_cfg, pc_bw), true},
    {"bufio.Writer.err", offsetof(struct weft_go_cfg, bw_err), true},
    {"bufio.Writer.buf", offsetof(struct weft_go_cfg, bw_buf), true},
    {"bufio.Writer.n", offsetof(struct weft_go_cfg, bw_n), true},
    {"net.TCPConn.conn", offsetof(struct weft_go_cfg, tcpconn_conn), false},
    {"net.conn.fd", offsetof(struct weft_go_cfg, conn_fd), false},
    {"net.netFD.pfd", offsetof(struct weft_go_cfg, netfd_pfd), false},
    {"net.netFD.family", offsetof(struct weft_go_cfg, netfd_family), false},
    {"net.netFD.sotype", offsetof(struct weft_go_cfg, netfd_sotype), false},
    {"internal/poll.FD.Sysfd", offsetof(struct weft_go_cfg, pfd_sysfd), false},
    {"runtime.hmap.count", offsetof(struct weft_go_cfg, hmap_count), true},
    {"runtime.hmap.B", offsetof(struct weft_go_cfg, hmap_b), true},
    {"runtime.hmap.buckets", offsetof(struct weft_go_cfg, hmap_buckets), true},
    {"runtime.hmap.oldbuckets", offsetof(struct weft_go_cfg, hmap_oldbuckets), true},
    {"runtime.g.m", offsetof(struct weft_go_cfg, g_m), false},
    {"runtime.m.curg", offsetof(struct weft_go_cfg, m_curg), false},
};

enum hook_need { NEED_ALWAYS, NEED_ANCESTRY, NEED_PUBLISH };

struct hook {
	const char *func;
	enum hook_need need;
	struct bpf_program *entry, *ret;
};

static int go_minor(const char *v)
{
	int major = 0, minor = 0;

	if (!v || sscanf(v, "go%d.%d", &major, &minor) != 2 || major != 1)
		return -1;
	return minor;
}

/* Find the record, or analyse the binary and store it. */
static enum go_binary_result get_record(struct go_binary *b, const struct go_env *env, int fd,
					struct weft_record **rec, char *err, size_t errlen)
{
	char e[512] = "", e2[512] = "";
	int rc;

	rc = weft_db_lookup_fd(env->db, fd, b->path, rec, e, sizeof(e));
	if (rc == 0)
		return GO_BIN_OK;
	if (rc != -ENOENT) {
		snprintf(err, errlen, "offsets lookup of %s failed: %s", b->path, e);
		return GO_BIN_FAIL;
	}
	if (*e)
		weft_warn("%s", e);
	if (env->no_analyze) {
		snprintf(err, errlen,
			 "%s is not in the offsets database %s: run weft-analyze --db %s %s, or "
			 "drop --no-analyze",
			 b->path, weft_db_dir(env->db), weft_db_dir(env->db), b->path);
		return GO_BIN_FAIL;
	}
	weft_info("%s: not in the offsets database, analysing it now", b->path);
	if (go_analyze_child(weft_db_dir(env->db), fd, b->path, e, sizeof(e))) {
		snprintf(err, errlen, "analysis of %s failed: %s", b->path, e);
		return GO_BIN_FAIL;
	}
	rc = weft_db_lookup_fd(env->db, fd, b->path, rec, e2, sizeof(e2));
	if (rc == -ENOENT) {
		snprintf(err, errlen, "%s: %s", b->path, *e ? e : "not a supported Go binary");
		return GO_BIN_UNSUPPORTED;
	}
	if (rc) {
		snprintf(err, errlen, "offsets lookup of %s failed: %s", b->path, e2);
		return GO_BIN_FAIL;
	}
	return GO_BIN_OK;
}

/* Offsets into cfg; false when a field writes depend on is missing or inexact. */
static bool fill_cfg(const struct weft_record *rec, struct weft_go_cfg *cfg)
{
	bool exact = true;

	for (size_t i = 0; i < sizeof(go_fields) / sizeof(go_fields[0]); i++) {
		const struct weft_field *f = weft_record_field(rec, go_fields[i].name);
		__s32 *dst = (__s32 *)((char *)cfg + go_fields[i].cfg_off);

		*dst = -1;
		if (f && f->offset >= 0 && f->offset < 4096)
			*dst = (__s32)f->offset;
		if (go_fields[i].write && (!f || f->source == WEFT_SRC_KNOWN_NEAREST || *dst < 0))
			exact = false;
	}
	return exact;
}

static int add_link(struct go_binary *b, struct bpf_link *l)
{
	struct bpf_link **n = realloc(b->links, (b->nlinks + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	b->links = n;
	b->links[b->nlinks++] = l;
	return 0;
}

/* Uprobe sites of one program in one binary: file offsets. */
struct sites {
	struct bpf_program *prog;
	size_t n;
	size_t offs[64];
};

static int add_site(struct sites *st, const char *path, const char *fn, int64_t off, char *err,
		    size_t errlen)
{
	if (st->n == sizeof(st->offs) / sizeof(st->offs[0])) {
		snprintf(err, errlen, "%s: too many return sites in %s", path, fn);
		return -1;
	}
	st->offs[st->n++] = (size_t)off;
	return 0;
}

/* The code of fn (malloc'd), or NULL. */
static uint8_t *func_code(const struct go_elf *elf, const struct weft_func *fn)
{
	int64_t off = go_elf_offset(elf, fn->entry);
	uint8_t *code;

	if (off < 0 || !fn->size || fn->size > (1 << 16) ||
	    go_elf_offset(elf, fn->entry + fn->size - 1) != off + (int64_t)fn->size - 1)
		return NULL;
	code = malloc(fn->size);
	if (code && go_elf_read(elf, off, code, fn->size)) {
		free(code);
		return NULL;
	}
	return code;
}

/* Offset in code[size] (at vaddr base) of the first CALL rel32 to target, from i; or -1. */
static int64_t find_call(const uint8_t *code, uint64_t size, uint64_t base, uint64_t target,
			 uint64_t from)
{
	for (uint64_t i = from; i + 5 <= size; i++) {
		int32_t rel;

		if (code[i] != 0xe8)
			continue;
		memcpy(&rel, code + i + 1, 4);
		if (base + i + 5 + (int64_t)rel == target)
			return (int64_t)i;
	}
	return -1;
}

/*
 * Where writes happen: the CALL of r.Header.writeSubset(w, reqWriteExcludeHeader,
 * trace) in (*Request).write -- the first CALL of writeSubset there, preceded
 * by a RIP-relative load of DI (the exclude map; the extra-headers call that
 * follows passes nil) -- hit once per request. And the itab that writeLoop
 * passes with pc.bw to Request.write (LEAQ itab(SB), BX before the CALL), which
 * the BPF program requires in RBX there. A CALL rel32 whose target is exactly
 * writeSubset is an instruction boundary barring a 1-in-2^32 coincidence per
 * byte. Fills *site (vaddr) and *delta (itab - site); false when not found.
 */
static bool find_write_site(const struct weft_record *rec, uint64_t *site, __s64 *delta,
			    const struct go_elf *elf)
{
	const struct weft_func *fw = weft_record_func(rec, "net/http.(*Request).write");
	const struct weft_func *fs = weft_record_func(rec, "net/http.Header.writeSubset");
	const struct weft_func *fl = weft_record_func(rec, "net/http.(*persistConn).writeLoop");
	uint8_t *cw = NULL, *cl = NULL;
	uint64_t itab = 0;
	int64_t i, j, call;
	bool ok = false;

	if (!fw || !fs || !fl || !(cw = func_code(elf, fw)) || !(cl = func_code(elf, fl)))
		goto out;
	i = call = find_call(cw, fw->size, fw->entry, fs->entry, 0);
	if (i < 0)
		goto out;
	/* MOVQ sym(SB), DI (48 8b 3d rel32) among the argument loads before it. */
	for (j = i - 7; j >= 0 && j >= i - 48; j--)
		if (cw[j] == 0x48 && cw[j + 1] == 0x8b && cw[j + 2] == 0x3d)
			break;
	if (j < 0 || j < i - 48)
		goto out;
	/* writeLoop: LEAQ itab(SB), BX (48 8d 1d rel32) shortly before CALL (*Request).write. */
	i = find_call(cl, fl->size, fl->entry, fw->entry, 0);
	if (i < 0)
		goto out;
	for (j = i - 7; j >= 0 && j >= i - 64; j--) {
		int32_t rel;

		if (cl[j] != 0x48 || cl[j + 1] != 0x8d || cl[j + 2] != 0x1d)
			continue;
		memcpy(&rel, cl + j + 3, 4);
		itab = fl->entry + (uint64_t)j + 7 + (int64_t)rel;
		break;
	}
	if (!itab)
		goto out;
	*site = fw->entry + (uint64_t)call;
	*delta = (__s64)(itab - *site);
	ok = true;
out:
	free(cw);
	free(cl);
	return ok;
}

/* Entry site, and one on each RET (checked to be a RET opcode). */
static int func_sites(const char *path, const struct go_elf *elf, const struct weft_func *fn,
		      struct sites *entry, struct sites *ret, char *err, size_t errlen)
{
	int64_t off = go_elf_offset(elf, fn->entry);

	if (off < 0) {
		snprintf(err, errlen, "%s: %s at 0x%llx is outside the code segments", path,
			 fn->name, (unsigned long long)fn->entry);
		return -1;
	}
	if (entry && add_site(entry, path, fn->name, off, err, errlen))
		return -1;
	if (!ret)
		return 0;
	if (!fn->nreturns) {
		snprintf(err, errlen, "%s: no return site known for %s", path, fn->name);
		return -1;
	}
	for (uint32_t i = 0; i < fn->nreturns; i++) {
		int op;

		if (fn->returns[i] >= fn->size) {
			snprintf(err, errlen, "%s: return site outside %s", path, fn->name);
			return -1;
		}
		op = go_elf_byte(elf, off + fn->returns[i]);
		if (op != 0xc3 && op != 0xc2) {
			snprintf(err, errlen, "%s: %s+0x%x is not a RET instruction (0x%02x)", path,
				 fn->name, fn->returns[i], op & 0xff);
			return -1;
		}
		if (add_site(ret, path, fn->name, off + fn->returns[i], err, errlen))
			return -1;
	}
	return 0;
}

/*
 * Attach a program at its sites: one uprobe_multi link where the kernel has
 * them (one unregistration wait at detach instead of one per site), else one
 * perf-event uprobe per site. The cookie of every site is the binary's index.
 */
static int attach_sites(struct go_binary *b, const struct sites *st, bool multi, char *err,
			size_t errlen)
{
	const char *path = b->attach_path[0] ? b->attach_path : b->path;
	struct bpf_link *l;

	if (!st->n)
		return 0;
	if (multi) {
		__u64 cookies[64];
		struct bpf_uprobe_multi_opts mo = {
		    .sz = sizeof(mo), .offsets = st->offs, .cookies = cookies, .cnt = st->n};

		for (size_t i = 0; i < st->n; i++)
			cookies[i] = b->index;
		l = bpf_program__attach_uprobe_multi(st->prog, -1, path, NULL, &mo);
		if (!l) {
			snprintf(err, errlen, "cannot attach uprobes to %s: %s", b->path,
				 strerror(errno));
			return -1;
		}
		b->nhooks += st->n;
		return add_link(b, l);
	}
	for (size_t i = 0; i < st->n; i++) {
		struct bpf_uprobe_opts o = {.sz = sizeof(o), .bpf_cookie = b->index};

		l = bpf_program__attach_uprobe_opts(st->prog, -1, path, st->offs[i], &o);
		if (!l) {
			snprintf(err, errlen,
				 "cannot attach a uprobe to %s at file offset 0x%zx: %s", b->path,
				 st->offs[i], strerror(errno));
			return -1;
		}
		b->nhooks++;
		if (add_link(b, l))
			return -1;
	}
	return 0;
}

enum go_binary_result go_binary_attach(struct go_binary *b, const struct go_env *env, int fd,
				       char *err, size_t errlen)
{
	struct weft_go *s = env->skel;
	struct hook hooks[] = {
	    {"net/http.serverHandler.ServeHTTP", NEED_ALWAYS, s->progs.go_serve_entry,
	     s->progs.go_serve_ret},
	    {"net/http.(*Transport).roundTrip", NEED_ALWAYS, s->progs.go_rt_entry,
	     s->progs.go_rt_ret},
	    {"net/http.(*persistConn).roundTrip", NEED_PUBLISH, s->progs.go_pc_rt_entry, NULL},
	    {"runtime.newproc1", NEED_ANCESTRY, s->progs.go_newproc_entry, s->progs.go_newproc_ret},
	};
	/* One more for the write site. */
	struct sites sites[2 * sizeof(hooks) / sizeof(hooks[0]) + 1];
	uint64_t wsite = 0;
	struct weft_record *rec = NULL;
	struct weft_go_cfg cfg = {};
	struct go_elf *elf = NULL;
	enum go_binary_result res;
	bool exact;
	int minor;

	memset(sites, 0, sizeof(sites));
	res = get_record(b, env, fd, &rec, err, errlen);
	if (res != GO_BIN_OK)
		return res;
	res = GO_BIN_UNSUPPORTED;
	snprintf(b->go_version, sizeof(b->go_version), "%s",
		 rec->go_version ? rec->go_version : "?");
	minor = go_minor(rec->go_version);
	if (minor < 17) {
		snprintf(err, errlen,
			 "%s: Go version %s is not supported (needs go1.17 or later, amd64 "
			 "register ABI)",
			 b->path, b->go_version);
		goto out;
	}
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		if (hooks[i].need != NEED_ANCESTRY && !weft_record_func(rec, hooks[i].func)) {
			snprintf(err, errlen,
				 "%s: function %s not found (no net/http server and client in this "
				 "binary?)",
				 b->path, hooks[i].func);
			goto out;
		}
	}
	for (size_t i = 0; i < weft_nneeded; i++) {
		if (weft_record_func(rec, weft_needed[i].func) &&
		    !weft_record_field(rec, weft_needed[i].field)) {
			snprintf(err, errlen,
				 "%s: its offsets record lacks %s, which weft-go needs (a stripped Go "
				 "%s the known tables do not cover, or damaged DWARF): left alone; "
				 "rebuild it with DWARF or add its Go version to offsets/known",
				 b->path, weft_needed[i].field, b->go_version);
			goto out;
		}
	}
	exact = fill_cfg(rec, &cfg);
	if (minor <= 23)
		cfg.flags |= WEFT_GO_CFG_MAPWALK;
	if (cfg.g_m >= 0 && cfg.m_curg >= 0) {
		cfg.flags |= WEFT_GO_CFG_CURG;
		hooks[3].entry = NULL; /* newproc1: RETs only */
	}
	elf = go_elf_open(fd, b->path, err, errlen);
	if (!elf)
		goto out;
	b->write = env->write && exact && (cfg.flags & WEFT_GO_CFG_MAPWALK);
	if (b->write && !find_write_site(rec, &wsite, &cfg.bw_itab_delta, elf)) {
		weft_warn("%s: writes disabled for this binary (the call of Header.writeSubset in "
			  "Request.write or writeLoop's *bufio.Writer itab not recognised): spans "
			  "only",
			  b->path);
		b->write = false;
	} else if (env->write && !b->write) {
		weft_warn("%s: writes disabled for this binary (offsets not exact, or Go %s map "
			  "layout unknown): spans only",
			  b->path, b->go_version);
	}
	if (b->write)
		cfg.flags |= WEFT_GO_CFG_WRITE;
	if (env->publish)
		cfg.flags |= WEFT_GO_CFG_PUBLISH;
	if (bpf_map_update_elem(bpf_map__fd(s->maps.cfgs), &b->index, &cfg, BPF_ANY)) {
		snprintf(err, errlen, "cannot store offsets for %s: %s", b->path, strerror(errno));
		res = GO_BIN_FAIL;
		goto out;
	}
	res = GO_BIN_FAIL;
	if (b->write) {
		struct sites *w = &sites[2 * sizeof(hooks) / sizeof(hooks[0])];
		int64_t off = go_elf_offset(elf, wsite);

		w->prog = s->progs.go_write_site;
		if (off < 0 || go_elf_byte(elf, off) != 0xe8) {
			snprintf(err, errlen, "%s: write site 0x%llx is not a CALL", b->path,
				 (unsigned long long)wsite);
			goto out;
		}
		w->offs[w->n++] = (size_t)off;
	}
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		const struct weft_func *fn = weft_record_func(rec, hooks[i].func);
		struct sites *en = hooks[i].entry ? &sites[2 * i] : NULL;
		struct sites *rt = hooks[i].ret ? &sites[2 * i + 1] : NULL;

		if (en)
			en->prog = hooks[i].entry;
		if (rt)
			rt->prog = hooks[i].ret;
		if (hooks[i].need == NEED_PUBLISH && !env->publish)
			continue;
		if (!fn) {
			weft_warn("%s: %s not found: client calls from spawned goroutines start "
				  "new traces",
				  b->path, hooks[i].func);
			continue;
		}
		if (func_sites(b->path, elf, fn, en, rt, err, errlen))
			goto out;
	}
	for (size_t i = 0; i < sizeof(sites) / sizeof(sites[0]); i++)
		if (sites[i].prog && attach_sites(b, &sites[i], env->multi, err, errlen))
			goto out;
	if (b->write) {
		/* after the write site's CALL (5 bytes): replaces a forwarded traceparent */
		struct sites after = {.prog = s->progs.go_write_after};

		after.offs[after.n++] = sites[2 * sizeof(hooks) / sizeof(hooks[0])].offs[0] + 5;
		if (attach_sites(b, &after, env->multi, err, errlen)) {
			weft_warn("%s: %s: a forwarded traceparent will not be replaced", b->path,
				  err);
			err[0] = '\0';
		}
	}
	res = GO_BIN_OK;
out:
	go_elf_close(elf);
	weft_record_free(rec);
	if (res != GO_BIN_OK)
		go_binary_detach(b);
	return res;
}

void go_binary_detach(struct go_binary *b)
{
	for (size_t i = 0; i < b->nlinks; i++)
		bpf_link__destroy(b->links[i]);
	free(b->links);
	b->links = NULL;
	b->nlinks = 0;
	b->nhooks = 0;
}

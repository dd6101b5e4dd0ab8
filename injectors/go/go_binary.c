// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "log.h"
#include "offsets.h"
#include "go/weft_go.h"
#include "bpf/go/weft_go.skel.h"
#include "go_analyze.h"
#include "go_binary.h"
#include "wanted.h"

/*
 * Offsets handed to BPF, generated from offsets/wanted.def like struct
 * weft_go_cfg itself. write: writes depend on it, so it must be exact (DWARF
 * or an exact known version).
 */
#define GO_USE_read false
#define GO_USE_write true
static const struct {
	const char *name;
	size_t cfg_off;
	bool write;
} go_fields[] = {
#define WEFT_FIELD(name)
#define WEFT_FUNC(name)
#define WEFT_GO_FIELD(name, member, use) {name, offsetof(struct weft_go_cfg, member), GO_USE_##use},
#include "wanted.def"
#undef WEFT_FIELD
#undef WEFT_FUNC
#undef WEFT_GO_FIELD
};

/*
 * NEED_MAIN: one of a binary's reasons to be instrumented (a net/http server
 * or client, a grpc-go server or client, an x/net HTTP/2 server or client),
 * attached when present; a binary
 * with none is left alone. NEED_PART: belongs to the main hook before it,
 * attached when present. NEED_ANCESTRY: newproc1. NEED_PUBLISH: only when
 * publishing. NEED_STREAM: when publishing or writing gRPC client streams'
 * context. NEED_GRPC_WRITE: only when writing into grpc-go HEADERS frames
 * (or x/net's client's, through the same Framer). NEED_H2_STREAM, NEED_XH2_STREAM:
 * when publishing or writing net/http's (bundled) or x/net's HTTP/2 client
 * streams' context.
 */
enum hook_need {
	NEED_MAIN,
	NEED_PART,
	NEED_ANCESTRY,
	NEED_PUBLISH,
	NEED_STREAM,
	NEED_GRPC_WRITE,
	NEED_H2_STREAM,
	NEED_XH2_STREAM,
};

struct hook {
	const char *func;
	enum hook_need need;
	struct bpf_program *entry, *ret;
};

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
	if (env->no_analyze) {
		if (*e)
			weft_warn("%s", e);
		snprintf(err, errlen,
			 "%s is not in the offsets database %s: run weft-analyze --db %s %s, or "
			 "drop --no-analyze",
			 b->path, weft_db_dir(env->db), weft_db_dir(env->db), b->path);
		return GO_BIN_FAIL;
	}
	/* One line either way: why the stored record was unusable, or that there is none. */
	if (*e)
		weft_warn("%s: %s", b->path, e);
	else
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

/*
 * --server-syscalls: can this binary's plaintext HTTP/1 SERVER spans come
 * from its read/write syscalls (bpf/go/go_sys.bpf.c)? It needs the running
 * goroutine at a syscall: the fact go.tls.g and runtime.g.goid, g.m, m.curg
 * (parentGoid, Go 1.21+, is optional). Fills cfg->gid and sets the flag, or
 * says why not in why.
 */
static bool use_syscalls(const struct weft_record *rec, struct weft_go_cfg *cfg, char *why,
			 size_t whylen)
{
	int64_t tls = weft_record_fact(rec, WEFT_FACT_GO_TLS_G, 0);
	const struct weft_field *goid = weft_record_field(rec, "runtime.g.goid");
	const struct weft_field *pgoid = weft_record_field(rec, "runtime.g.parentGoid");

	if (!weft_record_func(rec, "net/http.serverHandler.ServeHTTP")) {
		snprintf(why, whylen, "no net/http server");
		return false;
	}
	if (tls >= 0 || tls < -4096) {
		snprintf(why, whylen,
			 "its offsets record has no %s fact (g's TLS slot unknown, e.g. a stripped "
			 "cgo build)",
			 WEFT_FACT_GO_TLS_G);
		return false;
	}
	if (!goid || goid->offset < 0 || goid->offset >= 4096 || cfg->g_m < 0 || cfg->m_curg < 0) {
		snprintf(why, whylen, "runtime.g.goid, g.m or m.curg unknown for this build");
		return false;
	}
	cfg->gid.tls_g = (__s32)tls;
	cfg->gid.g_m = cfg->g_m;
	cfg->gid.m_curg = cfg->m_curg;
	cfg->gid.g_goid = (__s32)goid->offset;
	cfg->gid.g_parent_goid =
	    pgoid && pgoid->offset >= 0 && pgoid->offset < 4096 ? (__s32)pgoid->offset : -1;
	cfg->flags |= WEFT_GO_CFG_SYSCALLS;
	return true;
}

/* Whether the record has field name at an exact offset (not a nearest-version guess). */
static bool exact_field(const struct weft_record *rec, const char *name)
{
	const struct weft_field *f = weft_record_field(rec, name);

	return f && f->offset >= 0 && f->source != WEFT_SRC_KNOWN_NEAREST;
}

/*
 * Whether weft-go may write into this binary's grpc-go client HEADERS frames
 * (go_h2write.bpf.c): a grpc-go client, its header block's path (the call's
 * createHeaderFields, the loopy writer's writeHeader, x/net's endWrite) and
 * the Framer's wbuf offset exact (DWARF, an exact known/ entry or read from
 * endWrite's code, checked against DWARF in tests), the HeaderField offsets
 * known (checked at run time on each call's first field). Says why not once.
 */
static bool grpc_write_ok(const struct go_binary *b, const struct weft_record *rec,
			  const struct weft_go_cfg *cfg)
{
	static const char *const funcs[] = {
	    "google.golang.org/grpc/internal/transport.(*http2Client).createHeaderFields",
	    "google.golang.org/grpc/internal/transport.(*loopyWriter).writeHeader",
	    "golang.org/x/net/http2.(*Framer).endWrite",
	};
	const struct weft_field *wbuf =
	    weft_record_field(rec, "golang.org/x/net/http2.Framer.wbuf");
	const bool exact = exact_field(rec, "golang.org/x/net/http2.Framer.wbuf");

	if (!weft_record_func(rec, "google.golang.org/grpc.(*ClientConn).Invoke") &&
	    !weft_record_func(rec, "google.golang.org/grpc.(*ClientConn).NewStream"))
		return false; /* no grpc-go client: nothing to write into */
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++) {
		if (!weft_record_func(rec, funcs[i])) {
			weft_warn("%s: gRPC writes disabled (%s not found): gRPC spans only",
				  b->path, funcs[i]);
			return false;
		}
	}
	if (!exact || cfg->xh2_fr_wbuf < 0 || cfg->xh2_hf_name < 0 || cfg->xh2_hf_value < 0) {
		weft_warn("%s: gRPC writes disabled (x/net's Framer.wbuf offset %s): gRPC spans "
			  "only",
			  b->path,
			  !wbuf ? "unknown" : "not exact (a guess from the nearest version)");
		return false;
	}
	return true;
}

/*
 * Whether weft-go may write into the HEADERS frames of one of this binary's
 * HTTP/2 clients (go_h2pub.bpf.c, go_h2write.bpf.c): net/http's bundled one
 * (xh2 false) or golang.org/x/net/http2's. Needs the client (its round trip
 * and (*clientStream).encodeAndWriteHeaders), runtime.newproc1 (the
 * goroutine that writes the request is tied to the CLIENT span at its
 * spawn), the Framer's WriteHeaders' CALL of endWrite (site, from the
 * record) and its wbuf offset exact (DWARF, an exact known/ entry, or read
 * from endWrite's code). The stream id's offset is checked at every write
 * against the frame's own. Says why not once, for a client that is there.
 */
static bool h2_write_ok(const struct go_binary *b, const struct weft_record *rec,
			const struct weft_go_cfg *cfg, bool xh2, bool site)
{
	const char *rt = xh2 ? "golang.org/x/net/http2.(*Transport).RoundTripOpt"
			     : "net/http.(*Transport).roundTrip";
	const char *whdr = xh2 ? "golang.org/x/net/http2.(*clientStream).encodeAndWriteHeaders"
			       : "net/http.(*http2clientStream).encodeAndWriteHeaders";
	const char *wbuf = xh2 ? "golang.org/x/net/http2.Framer.wbuf" : "net/http.http2Framer.wbuf";
	const char *who = xh2 ? "x/net HTTP/2" : "net/http HTTP/2";
	const char *why = NULL;

	if (!weft_record_func(rec, rt) || !weft_record_func(rec, whdr))
		return false; /* no such client: nothing to write into */
	if (!weft_record_func(rec, "runtime.newproc1"))
		why = "runtime.newproc1 not found";
	else if (!site)
		why = "its offsets record has no call of endWrite in (*Framer).WriteHeaders";
	else if (!exact_field(rec, wbuf) || (xh2 ? cfg->xh2_fr_wbuf : cfg->h2_fr_wbuf) < 0)
		why = "the Framer's wbuf offset unknown or not exact";
	else if ((xh2 ? cfg->xh2_cs_id : cfg->h2_cs_id) < 0)
		why = "the client stream's ID offset unknown";
	if (why) {
		weft_warn("%s: %s client writes disabled (%s): its requests get spans only",
			  b->path, who, why);
		return false;
	}
	return true;
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
	__u32 reg[64]; /* high half of each site's cookie (weft_go.h) */
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

/*
 * Where fn's entry uprobe sits, from the record (WEFT_FACT_GO_ENTRY_PROBE):
 * on the jbe of its stack check, which the kernel emulates, else (0) on the
 * entry itself (bench/bpfcost's uprobe table: ~340 against ~3400 ns here).
 */
static uint64_t entry_probe_off(const struct weft_record *rec, const struct weft_func *fn)
{
	char name[512 + sizeof(WEFT_FACT_GO_ENTRY_PROBE)];
	int64_t at;

	snprintf(name, sizeof(name), "%s" WEFT_FACT_GO_ENTRY_PROBE, fn->name);
	at = weft_record_fact(rec, name, 0);
	return at > 0 && at < 16 && (uint64_t)at < fn->size ? (uint64_t)at : 0;
}

/* Entry site (entry_probe_off), and one on each RET (file offsets from the record). */
static int func_sites(const char *path, const struct weft_record *rec, const struct weft_func *fn,
		      struct sites *entry, struct sites *ret, char *err, size_t errlen)
{
	int64_t off = (int64_t)fn->fileoff;

	if (entry &&
	    add_site(entry, path, fn->name, off + (int64_t)entry_probe_off(rec, fn), err, errlen))
		return -1;
	if (!ret)
		return 0;
	if (!fn->nreturns) {
		snprintf(err, errlen, "%s: no return site known for %s", path, fn->name);
		return -1;
	}
	for (uint32_t i = 0; i < fn->nreturns; i++) {
		if (fn->returns[i] >= fn->size) {
			snprintf(err, errlen, "%s: return site outside %s", path, fn->name);
			return -1;
		}
		if (add_site(ret, path, fn->name, off + fn->returns[i], err, errlen))
			return -1;
	}
	return 0;
}

/*
 * Where calls of fn come back in its callers, from the record
 * (analyzer/goreturns.c), instead of fn's RETs: the kernel steps a probed RET
 * out of line (a second trap) but emulates the CALL, JMP, Jcc, PUSH or NOP
 * these sites usually are. result: the program reads fn's results, from the
 * register each site names (its cookie's high half, weft_go.h; any_reg: the
 * program reads it from there, else only RAX will do: the registers as at
 * fn's RET, WEFT_GO_RET_ALL). 1 when
 * ret holds them; 0 when the record has none (or one without its result):
 * the RETs then.
 */
static int return_sites(const struct weft_record *rec, const struct weft_func *fn, bool result,
			bool any_reg, struct sites *ret)
{
	char name[512], fact[sizeof(name) + sizeof(WEFT_FACT_GO_RETURNS WEFT_FACT_GO_RETURN_REG)];
	size_t offs[sizeof(ret->offs) / sizeof(ret->offs[0])];
	__u32 regs[sizeof(offs) / sizeof(offs[0])];
	int64_t n;

	snprintf(fact, sizeof(fact), "%s" WEFT_FACT_GO_RETURNS, fn->name);
	n = weft_record_fact(rec, fact, 0);
	if (n <= 0 || (size_t)n > sizeof(offs) / sizeof(offs[0]) - ret->n)
		return 0;
	for (int64_t i = 0; i < n; i++) {
		const struct weft_site *site;
		int64_t reg;

		snprintf(name, sizeof(name), "%s" WEFT_SITE_GO_RETURN "%lld", fn->name, (long long)i);
		snprintf(fact, sizeof(fact), "%s" WEFT_FACT_GO_RETURN_REG, name);
		site = weft_record_site(rec, name);
		reg = weft_record_fact(rec, fact, -1);
		/* RAX, RDX, RCX, RBX, RSI, RDI, R8-R11 (go_newproc_ret), else RAX */
		if (!site || (result && (reg < 0 || reg > 11 || reg == 6 || reg == 7)) ||
		    (result && !any_reg && reg != 0))
			return 0;
		offs[i] = (size_t)site->fileoff;
		regs[i] = result ? (__u32)(1 + reg) : 0;
	}
	for (int64_t i = 0; i < n; i++) {
		ret->offs[ret->n] = offs[i];
		ret->reg[ret->n++] = regs[i];
	}
	return 1;
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
			cookies[i] = b->index | (__u64)st->reg[i] << WEFT_GO_COOKIE_REG_SHIFT;
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
		struct bpf_uprobe_opts o = {
		    .sz = sizeof(o),
		    .bpf_cookie = b->index | (__u64)st->reg[i] << WEFT_GO_COOKIE_REG_SHIFT};

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
	    {"net/http.serverHandler.ServeHTTP", NEED_MAIN, s->progs.go_serve_entry,
	     s->progs.go_serve_ret},
	    {"net/http.(*Transport).roundTrip", NEED_MAIN, s->progs.go_rt_entry,
	     s->progs.go_rt_ret},
	    {"net/http.(*persistConn).roundTrip", NEED_PUBLISH, s->progs.go_pc_rt_entry, NULL},
	    {"runtime.newproc1", NEED_ANCESTRY, s->progs.go_newproc_entry, s->progs.go_newproc_ret},
	    {"google.golang.org/grpc.(*Server).handleStream", NEED_MAIN,
	     s->progs.go_grpc_stream_entry, s->progs.go_grpc_stream_ret},
	    {"google.golang.org/grpc/internal/transport.(*http2Server).operateHeaders", NEED_PART,
	     s->progs.go_grpc_headers_entry, s->progs.go_grpc_headers_ret},
	    {"google.golang.org/grpc/internal/transport.(*http2Server).WriteStatus", NEED_PART,
	     s->progs.go_grpc_status_entry, NULL},
	    {"google.golang.org/grpc.(*ClientConn).Invoke", NEED_MAIN,
	     s->progs.go_grpc_invoke_entry, s->progs.go_grpc_invoke_ret},
	    {"google.golang.org/grpc/internal/transport.(*http2Client).NewStream", NEED_PART,
	     s->progs.go_grpc_newstream_entry, s->progs.go_grpc_newstream_ret},
	    {"google.golang.org/grpc.(*ClientConn).NewStream", NEED_MAIN,
	     s->progs.go_grpc_newcall_entry, s->progs.go_grpc_newcall_ret},
	    {"google.golang.org/grpc.(*clientStream).finish", NEED_PART,
	     s->progs.go_grpc_finish_entry, NULL},
	    {"golang.org/x/net/http2.(*serverConn).runHandler", NEED_MAIN,
	     s->progs.go_xh2_handler_entry, s->progs.go_serve_ret},
	    {"golang.org/x/net/http2.(*Transport).RoundTripOpt", NEED_MAIN,
	     s->progs.go_xh2_rt_entry, s->progs.go_xh2_rt_ret},
	    {"google.golang.org/grpc/internal/transport.(*http2Client).createHeaderFields",
	     NEED_STREAM, NULL, s->progs.go_grpc_hf_ret},
	    {"google.golang.org/grpc/internal/transport.(*loopyWriter).writeHeader", NEED_STREAM,
	     s->progs.go_grpc_whdr_entry, NULL},
	    {"net/http.(*http2clientStream).encodeAndWriteHeaders", NEED_H2_STREAM,
	     s->progs.go_h2_whdr_entry, NULL},
	    {"golang.org/x/net/http2.(*clientStream).encodeAndWriteHeaders", NEED_XH2_STREAM,
	     s->progs.go_xh2_whdr_entry, NULL},
	    {"golang.org/x/net/http2.(*Framer).endWrite", NEED_GRPC_WRITE,
	     s->progs.go_h2_endwrite_entry, s->progs.go_h2_endwrite_ret},
	};
	const size_t endwrite = sizeof(hooks) / sizeof(hooks[0]) - 1;
	static const struct weft_go_return_func at_callers[] = WEFT_GO_RETURN_FUNCS;
	/*
	 * Five more: the write site, x/net's HEADERS site and the site after
	 * it, the bundle's HEADERS site and the site after it.
	 */
	struct sites sites[2 * sizeof(hooks) / sizeof(hooks[0]) + 5];
	struct sites *hsite = &sites[2 * sizeof(hooks) / sizeof(hooks[0]) + 1];
	struct sites *bsite = &sites[2 * sizeof(hooks) / sizeof(hooks[0]) + 3];
	const struct weft_site *wsite = NULL, *wafter = NULL, *hcall, *hafter, *bcall, *bafter, *csite;
	struct weft_record *rec = NULL;
	struct weft_go_cfg cfg = {};
	enum go_binary_result res;
	int64_t itab;
	bool exact, any = false;

	memset(sites, 0, sizeof(sites));
	b->returns[0] = '\0';
	res = get_record(b, env, fd, &rec, err, errlen);
	if (res != GO_BIN_OK)
		return res;
	res = GO_BIN_UNSUPPORTED;
	snprintf(b->go_version, sizeof(b->go_version), "%s",
		 rec->go_version ? rec->go_version : "?");
	if (weft_record_fact(rec, WEFT_FACT_GO_REGABI, 0) != 1) {
		snprintf(err, errlen,
			 "%s: Go version %s is not supported (needs go1.17 or later, amd64 "
			 "register ABI)",
			 b->path, b->go_version);
		goto out;
	}
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
		if (hooks[i].need == NEED_MAIN && weft_record_func(rec, hooks[i].func))
			any = true;
	if (!any) {
		snprintf(err, errlen,
			 "%s: no net/http server or client and no grpc-go server or client in this "
			 "binary (functions %s, %s, %s, %s not found)",
			 b->path, hooks[0].func, hooks[1].func, hooks[4].func, hooks[7].func);
		goto out;
	}
	for (size_t i = 0; i < weft_nneeded; i++) {
		if (weft_record_func(rec, weft_needed[i].func) &&
		    !weft_record_field(rec, weft_needed[i].field)) {
			snprintf(
			    err, errlen,
			    "%s: its offsets record lacks %s, which weft-go needs (a stripped Go "
			    "%s the known tables do not cover, or damaged DWARF): left alone; "
			    "rebuild it with DWARF or add its Go version to offsets/known",
			    b->path, weft_needed[i].field, b->go_version);
			goto out;
		}
	}
	exact = fill_cfg(rec, &cfg);
	b->syscalls = false;
	snprintf(b->server_path, sizeof(b->server_path), "SERVER spans by uprobes");
	if (env->syscalls) {
		char why[128];

		b->syscalls = use_syscalls(rec, &cfg, why, sizeof(why));
		if (b->syscalls) {
			/* TLS and HTTP/2 requests of net/http's server get no span then */
			hooks[0].entry = NULL;
			hooks[0].ret = NULL;
			snprintf(b->server_path, sizeof(b->server_path),
				 "plaintext HTTP/1 SERVER spans from read/write syscalls (no "
				 "ServeHTTP uprobes)");
		} else {
			snprintf(b->server_path, sizeof(b->server_path),
				 "SERVER spans by uprobes (not from syscalls: %s)", why);
		}
	}
	if (weft_record_fact(rec, WEFT_FACT_GO_HMAP, 0) == 1)
		cfg.flags |= WEFT_GO_CFG_MAPWALK;
	if (cfg.g_m >= 0 && cfg.m_curg >= 0) {
		cfg.flags |= WEFT_GO_CFG_CURG;
		hooks[3].entry = NULL; /* newproc1: RETs only */
	}
	b->write = env->write && exact && (cfg.flags & WEFT_GO_CFG_MAPWALK);
	wsite = weft_record_site(rec, WEFT_SITE_GO_WRITE);
	wafter = weft_record_site(rec, WEFT_SITE_GO_WRITE_RET);
	itab = weft_record_fact(rec, WEFT_FACT_GO_BUFIO_ITAB, 0);
	if (env->write && !weft_record_func(rec, hooks[1].func)) {
		/* net/http's HTTP/1.x requests (grpc-go's are decided below). */
		weft_warn("%s: no net/http client: no HTTP/1.x request to write into", b->path);
		b->write = false;
	} else if (b->write && (!wsite || !itab)) {
		weft_warn("%s: writes disabled for this binary (its offsets record has no write "
			  "site: the call of Header.writeSubset in Request.write or writeLoop's "
			  "*bufio.Writer itab not recognised): spans only",
			  b->path);
		b->write = false;
	} else if (env->write && !b->write) {
		weft_warn("%s: writes disabled for this binary (offsets not exact, or Go %s map "
			  "layout unknown): spans only",
			  b->path, b->go_version);
	}
	if (b->write) {
		cfg.flags |= WEFT_GO_CFG_WRITE;
		cfg.bw_itab_delta = (__s64)((uint64_t)itab - wsite->addr);
	}
	if (env->publish)
		cfg.flags |= WEFT_GO_CFG_PUBLISH;
	b->grpc_write = env->write && grpc_write_ok(b, rec, &cfg);
	if (b->grpc_write)
		cfg.flags |= WEFT_GO_CFG_GRPC_WRITE;
	csite = weft_record_site(rec, WEFT_SITE_GRPC_CLIENT_HEADERS);
	hcall = weft_record_site(rec, WEFT_SITE_GO_H2_HEADERS);
	hafter = weft_record_site(rec, WEFT_SITE_GO_H2_HEADERS_RET);
	bcall = weft_record_site(rec, WEFT_SITE_GO_H2B_HEADERS);
	bafter = weft_record_site(rec, WEFT_SITE_GO_H2B_HEADERS_RET);
	/*
	 * net/http's and x/net's HTTP/2 clients: their frames written at
	 * WriteHeaders' call of endWrite, or (no room in wbuf) in the client
	 * connection's *bufio.Writer, found there byte for byte.
	 */
	b->h2_write = env->write && h2_write_ok(b, rec, &cfg, false, bcall && bafter);
	b->xh2_write = env->write && h2_write_ok(b, rec, &cfg, true, hcall && hafter);
	b->h2c_path[0] = '\0';
	if (b->h2_write || b->xh2_write) {
		const bool bw =
		    exact_field(rec, "bufio.Writer.buf") && exact_field(rec, "bufio.Writer.n");

		if (b->h2_write)
			cfg.flags |=
			    WEFT_GO_CFG_H2_WRITE |
			    (bw && exact_field(rec, "net/http.http2Framer.w") ? WEFT_GO_CFG_H2_BW
									      : 0);
		/* x/net's Framer.w: as for grpc-go (nearest version in GOPATH builds) */
		if (b->xh2_write)
			cfg.flags |= WEFT_GO_CFG_XH2_WRITE |
				     (bw && cfg.xh2_fr_w >= 0 ? WEFT_GO_CFG_XH2_BW : 0);
		snprintf(b->h2c_path, sizeof(b->h2c_path),
			 "; HTTP/2 client HEADERS frames written (%s%s%s) at WriteHeaders' call of "
			 "endWrite%s",
			 b->h2_write ? "net/http" : "", b->h2_write && b->xh2_write ? ", " : "",
			 b->xh2_write ? "x/net" : "",
			 (!b->h2_write || (cfg.flags & WEFT_GO_CFG_H2_BW)) &&
				 (!b->xh2_write || (cfg.flags & WEFT_GO_CFG_XH2_BW))
			     ? ", or in the connection's bufio.Writer"
			     : " (not in the connection's bufio.Writer: its offsets not exact)");
	}
	/*
	 * A frame without room in wbuf (in practice a connection's first
	 * HEADERS: wbuf grew to fit the largest frame so far) is written in the
	 * bufWriter at endWrite's RETs, found there only when it matches the
	 * frame byte for byte (go_h2write.bpf.c). GOPATH builds carry no
	 * version for the known tables, no DWARF, and these fields have no
	 * accessor: their offsets are then the nearest version's, said here.
	 */
	if (b->grpc_write && cfg.xh2_fr_w >= 0 && cfg.grpc_bw_buf >= 0 && cfg.grpc_bw_offset >= 0) {
		cfg.flags |= WEFT_GO_CFG_GRPC_BW;
		if (!exact_field(rec, "golang.org/x/net/http2.Framer.w") ||
		    !exact_field(rec, "google.golang.org/grpc/internal/transport.bufWriter.buf") ||
		    !exact_field(rec, "google.golang.org/grpc/internal/transport.bufWriter.offset"))
			weft_info("%s: gRPC frames without room in the Framer's buffer: written in "
				  "grpc-go's bufWriter with the nearest known version's offsets, "
				  "each time only after the frame is found there byte for byte",
				  b->path);
	} else if (!(cfg.flags & WEFT_GO_CFG_XH2_BW)) {
		hooks[endwrite].ret = NULL;
	}
	/*
	 * endWrite runs for every frame a Framer writes: where the record has
	 * WriteHeaders' CALL of endWrite (RAX the Framer there, as at endWrite's
	 * entry) and the instruction after it, only HEADERS frames are trapped.
	 */
	b->h2_path[0] = '\0';
	if (b->h2_write) {
		bsite[0].prog = s->progs.go_h2b_endwrite_entry;
		bsite[0].offs[bsite[0].n++] = (size_t)bcall->fileoff;
		if (cfg.flags & WEFT_GO_CFG_H2_BW) {
			bsite[1].prog = s->progs.go_h2b_endwrite_ret;
			bsite[1].offs[bsite[1].n++] = (size_t)bafter->fileoff;
		}
	}
	if ((b->grpc_write || b->xh2_write) && hcall && hafter) {
		hsite[0].prog = hooks[endwrite].entry;
		hsite[0].offs[hsite[0].n++] = (size_t)hcall->fileoff;
		if (hooks[endwrite].ret) {
			hsite[1].prog = hooks[endwrite].ret;
			hsite[1].offs[hsite[1].n++] = (size_t)hafter->fileoff;
		}
		hooks[endwrite].entry = NULL;
		hooks[endwrite].ret = NULL;
		if (b->grpc_write)
			snprintf(
			    b->h2_path, sizeof(b->h2_path),
			    "; gRPC HEADERS frames at (*Framer).WriteHeaders' call of endWrite");
	} else if (b->grpc_write) {
		snprintf(b->h2_path, sizeof(b->h2_path),
			 "; gRPC HEADERS frames at every (*Framer).endWrite (its offsets record "
			 "has no call of endWrite in WriteHeaders: all frames trapped)");
	}
	if (weft_record_func(rec, hooks[4].func) &&
	    (cfg.grpc_stream_method < 0 || cfg.xh2_mh_fields < 0 || cfg.xh2_hf_name < 0 ||
	     cfg.xh2_hf_value < 0 || !weft_record_func(rec, hooks[5].func)))
		weft_warn("%s: grpc-go server: the stream's method or the request's header fields "
			  "are not known for this build (stripped, and no known/ table or accessor "
			  "gives them): its gRPC spans %s",
			  b->path,
			  cfg.grpc_stream_method < 0 ? "are not made"
						     : "start new traces and have no parent");
	if (bpf_map_update_elem(bpf_map__fd(s->maps.cfgs), &b->index, &cfg, BPF_ANY)) {
		snprintf(err, errlen, "cannot store offsets for %s: %s", b->path, strerror(errno));
		res = GO_BIN_FAIL;
		goto out;
	}
	res = GO_BIN_FAIL;
	if (b->write) {
		struct sites *w = &sites[2 * sizeof(hooks) / sizeof(hooks[0])];

		w->prog = s->progs.go_write_site;
		w->offs[w->n++] = (size_t)wsite->fileoff;
	}
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		const struct weft_func *fn = weft_record_func(rec, hooks[i].func);
		struct sites *en = hooks[i].entry ? &sites[2 * i] : NULL;
		struct sites *rt = hooks[i].ret ? &sites[2 * i + 1] : NULL;

		if (en)
			en->prog = hooks[i].entry;
		if (rt)
			rt->prog = hooks[i].ret;
		if ((hooks[i].need == NEED_PUBLISH && !env->publish) ||
		    (hooks[i].need == NEED_STREAM && !env->publish && !b->grpc_write) ||
		    (hooks[i].need == NEED_GRPC_WRITE && !b->grpc_write) ||
		    (hooks[i].need == NEED_H2_STREAM && !env->publish && !b->h2_write) ||
		    (hooks[i].need == NEED_XH2_STREAM && !env->publish && !b->xh2_write))
			continue;
		if (!fn) {
			if (hooks[i].need == NEED_ANCESTRY)
				weft_warn("%s: %s not found: client calls from spawned goroutines "
					  "start new traces",
					  b->path, hooks[i].func);
			continue;
		}
		for (size_t k = 0; rt && k < sizeof(at_callers) / sizeof(at_callers[0]); k++)
			if (!strcmp(at_callers[k].name, fn->name) &&
			    return_sites(rec, fn, at_callers[k].use != WEFT_GO_RET_G,
					 hooks[i].ret == s->progs.go_newproc_ret, rt)) {
				size_t l = strlen(b->returns);
				const char *dot = strrchr(fn->name, '.');

				snprintf(b->returns + l, sizeof(b->returns) - l, "%s%s",
					 l ? ", " : " (returns of ", dot ? dot + 1 : fn->name);
				rt = NULL;
			}
		/*
		 * A client's request HEADERS: at originateStream's CALL of
		 * writeHeader (its arguments set, as at the entry), not at
		 * every HEADERS frame loopy writes (a server's too).
		 */
		if (en && hooks[i].entry == s->progs.go_grpc_whdr_entry && csite) {
			if (add_site(en, b->path, fn->name, (int64_t)csite->fileoff, err, errlen))
				goto out;
			en = NULL;
		}
		if (func_sites(b->path, rec, fn, en, rt, err, errlen))
			goto out;
	}
	if (b->returns[0]) {
		size_t l = strlen(b->returns);

		snprintf(b->returns + l, sizeof(b->returns) - l, " at their callers)");
	}
	for (size_t i = 0; i < sizeof(sites) / sizeof(sites[0]); i++)
		if (sites[i].prog && attach_sites(b, &sites[i], env->multi, err, errlen))
			goto out;
	if (b->write) {
		/* after the write site's CALL: replaces a forwarded traceparent */
		struct sites after = {.prog = s->progs.go_write_after};

		if (wafter)
			after.offs[after.n++] = (size_t)wafter->fileoff;
		else
			snprintf(err, errlen,
				 "its offsets record has no site after the write call");
		if (!wafter || attach_sites(b, &after, env->multi, err, errlen)) {
			weft_warn("%s: %s: a forwarded traceparent will not be replaced", b->path,
				  err);
			err[0] = '\0';
		}
	}
	res = GO_BIN_OK;
out:
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

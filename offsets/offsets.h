/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The offsets database: one record per Go binary, keyed by the XXH3-128 of the
 * file's bytes (DESIGN.md section 2). Used by weft-analyze (writer) and every
 * injector (reader). The list of fields and functions extracted is in
 * offsets/wanted.def.
 */
#ifndef WEFT_OFFSETS_H
#define WEFT_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define WEFT_DB_DEFAULT_DIR "/var/lib/weft/offsets"

enum weft_offset_source {
	WEFT_SRC_DWARF = 1,
	WEFT_SRC_KNOWN = 2,		/* exact Go/module version match in known/ */
	WEFT_SRC_KNOWN_NEAREST = 3,	/* nearest lower version: read-only use only */
	WEFT_SRC_CODE = 4,		/* read from the binary's machine code (nginx) */
};

struct weft_field {
	char *name;		/* "net/http.Request.Header" */
	int64_t offset;
	enum weft_offset_source source;
};

struct weft_func {
	char *name;		/* "net/http.serverHandler.ServeHTTP" */
	uint64_t entry;		/* virtual address */
	uint64_t fileoff;	/* file offset of the entry (where a uprobe attaches) */
	uint64_t size;
	uint32_t nreturns;
	uint32_t *returns;	/* offsets from entry of each RET, ascending */
};

/* A call site an injector attaches at, found by disassembly (analyzer/gosites.c). */
struct weft_site {
	char *name;		/* WEFT_SITE_* */
	uint64_t addr;		/* virtual address of the instruction */
	uint64_t fileoff;	/* its file offset */
};

/* A fact about the binary's code or ABI that an injector acts on (WEFT_FACT_*). */
struct weft_fact {
	char *name;
	int64_t value;
};

/*
 * Sites and facts of Go binaries (docs/architecture.md, "Record format").
 * WEFT_SITE_GO_WRITE: the CALL of r.Header.writeSubset(w, reqWriteExcludeHeader,
 * trace) in net/http.(*Request).write, where weft-go writes traceparent;
 * WEFT_SITE_GO_WRITE_RET: the instruction after that CALL.
 * WEFT_SITE_GO_H2_HEADERS: the CALL of f.endWrite() in x/net's
 * (*Framer).WriteHeaders, where weft-go writes traceparent into a grpc-go
 * HEADERS frame; WEFT_SITE_GO_H2_HEADERS_RET: the instruction after it.
 * WEFT_SITE_GO_H2B_HEADERS(_RET): the same in net/http's bundled copy,
 * (*http2Framer).WriteHeaders, for net/http's HTTP/2 client requests.
 * WEFT_SITE_GRPC_CLIENT_HEADERS: the only direct CALL of (*loopyWriter).writeHeader
 * in grpc-go's (*loopyWriter).originateStream, where a client's request
 * HEADERS are written (the other calls, in headerHandler and processData,
 * write a server's response headers and trailers); its registers are
 * writeHeader's arguments, as at its entry.
 * WEFT_FACT_GO_BUFIO_ITAB: virtual address of the itab of (*bufio.Writer,
 * io.Writer) that (*persistConn).writeLoop passes to (*Request).write.
 * WEFT_FACT_GO_REGABI: 1 when the Go version passes arguments in registers
 * (go1.17 and later on amd64). WEFT_FACT_GO_HMAP: 1 when Go maps are runtime.hmap
 * with buckets (go1.17 to go1.23). WEFT_FACT_GO_TLS_G: offset of the running
 * goroutine's g from the thread pointer (FS base), negative (analyzer/gotls.c);
 * absent when the ELF layout does not say it with certainty.
 */
#define WEFT_SITE_GO_WRITE	"net/http.(*Request).write:call:net/http.Header.writeSubset"
#define WEFT_SITE_GO_WRITE_RET	"net/http.(*Request).write:after:net/http.Header.writeSubset"
#define WEFT_SITE_GO_H2_HEADERS                                                                  \
	"golang.org/x/net/http2.(*Framer).WriteHeaders:call:golang.org/x/net/http2.(*Framer).endWrite"
#define WEFT_SITE_GO_H2_HEADERS_RET                                                              \
	"golang.org/x/net/http2.(*Framer).WriteHeaders:after:golang.org/x/net/http2.(*Framer).endWrite"
#define WEFT_SITE_GRPC_CLIENT_HEADERS                                                            \
	"google.golang.org/grpc/internal/transport.(*loopyWriter).originateStream:call:"         \
	"google.golang.org/grpc/internal/transport.(*loopyWriter).writeHeader"
#define WEFT_SITE_GO_H2B_HEADERS                                                                 \
	"net/http.(*http2Framer).WriteHeaders:call:net/http.(*http2Framer).endWrite"
#define WEFT_SITE_GO_H2B_HEADERS_RET                                                             \
	"net/http.(*http2Framer).WriteHeaders:after:net/http.(*http2Framer).endWrite"
/*
 * Return sites of a Go function F (analyzer/goreturns.c), recorded only when
 * every call of F is a direct CALL found in the code (no tail JMP into F, no
 * reference to F's address in code or data): the fact F WEFT_FACT_GO_RETURNS
 * is their number n, and for i in 0..n-1 the site F WEFT_SITE_GO_RETURN i is
 * where that call comes back -- the first instruction the kernel's uprobes
 * emulate (CALL, JMP, Jcc, PUSH, NOP) within a few instructions of
 * straight-line code after the CALL, else the instruction after the CALL --
 * with the fact <that site's name> WEFT_FACT_GO_RETURN_REG: the register
 * (DWARF number: 0 RAX, 1 RDX, 2 RCX, 3 RBX, 4 RSI, 5 RDI, 8-15 R8-R15)
 * holding F's first result there, or -1. No branch of the caller lands
 * between the CALL and the site. Made for the F of WEFT_GO_RETURN_FUNCS, each
 * with what its consumer reads there (enum weft_go_return_use): only g
 * (R14, kept across calls by Go's ABI); F's first result (the site is then
 * the first emulated instruction while some register still holds it); or
 * every register as at F's RET (the site is then the first emulated
 * instruction before any general-purpose register is written, e.g. the Jcc
 * after a TEST of the returned error).
 */
enum weft_go_return_use {
	WEFT_GO_RET_G = 0,
	WEFT_GO_RET_RESULT = 1,
	WEFT_GO_RET_ALL = 2,
};
/* An entry of WEFT_GO_RETURN_FUNCS (analyzer/goreturns.c and weft-go read the same list). */
struct weft_go_return_func {
	const char *name;
	enum weft_go_return_use use;
};
/*
 * F WEFT_FACT_GO_ENTRY_PROBE (analyzer/gosites.c): where F's entry uprobe
 * sits, as an offset from its entry, when F begins with Go's stack check in
 * one of the compiler's two forms (cmp rsp, [r14+0x10]; or lea r12, [rsp+d];
 * cmp r12, [r14+0x10]) followed by jbe: the jbe, which the kernel's uprobes
 * emulate (the compare is stepped, a second trap). Neither form writes a
 * register an entry program reads (the flags; R12, scratch in Go's ABI).
 * Absent: the entry itself.
 */
#define WEFT_FACT_GO_ENTRY_PROBE ":entry_probe"
#define WEFT_SITE_GO_RETURN	":return:"
#define WEFT_FACT_GO_RETURNS	":returns"
#define WEFT_FACT_GO_RETURN_REG ":reg"
#define WEFT_GO_RETURN_FUNCS                                                                     \
	{{"net/http.serverHandler.ServeHTTP", WEFT_GO_RET_G},                                    \
	 {"runtime.newproc1", WEFT_GO_RET_RESULT},                                               \
	 {"golang.org/x/net/http2.(*serverConn).runHandler", WEFT_GO_RET_G},                     \
	 {"google.golang.org/grpc/internal/transport.(*http2Server).operateHeaders",             \
	  WEFT_GO_RET_G},                                                                        \
	 {"google.golang.org/grpc.(*Server).handleStream", WEFT_GO_RET_G},                       \
	 {"google.golang.org/grpc/internal/transport.(*http2Client).createHeaderFields",         \
	  WEFT_GO_RET_ALL}}
/*
 * CPython (analyzer/pysites.c; weft-http's asyncio rule probes the sites):
 * WEFT_SITE_PY_COPY: in PyContext_CopyCurrent, the JMP (tail call) into
 * context_new_from_vars, whose _context_alloc pops the Context freelist;
 * WEFT_SITE_PY_COPY_NEW: in _context_alloc, the return from _PyObject_GC_New
 * (freelist empty); WEFT_FACT_PY_COPY_SP: RSP at the first minus RSP at the
 * second, for the same copy.
 */
#define WEFT_SITE_PY_COPY	"PyContext_CopyCurrent:jmp:context_new_from_vars"
#define WEFT_SITE_PY_COPY_NEW	"_context_alloc:after:_PyObject_GC_New"
#define WEFT_FACT_PY_COPY_SP	"python.copy.sp_delta"
/*
 * WEFT_SITE_PY_FRESH followed by 0, 1, ...: every other direct JMP or CALL
 * into context_new_from_vars or context_new_empty, and WEFT_FACT_PY_FRESH
 * their number, recorded only when analyzer/pyalloc.c proves these and the copy
 * site are all the paths into the Context allocation.
 */
#define WEFT_SITE_PY_FRESH	"_context_alloc:caller:"
#define WEFT_FACT_PY_FRESH	"python.alloc.paths"
#define WEFT_FACT_GO_BUFIO_ITAB	"net/http.(*persistConn).writeLoop:itab:bufio.Writer,io.Writer"
#define WEFT_FACT_GO_REGABI	"go.abi.regs"
#define WEFT_FACT_GO_HMAP	"go.maps.hmap"
#define WEFT_FACT_GO_TLS_G	"go.tls.g"

struct weft_module {
	char *path;
	char *version;
};

struct weft_record {
	char hash[33];		/* XXH3-128, lowercase hex */
	char *path;		/* path analysed */
	char *go_version;	/* "go1.22.2" */
	char *analyzer_version;
	bool stripped;
	bool pie;
	size_t nmodules;
	struct weft_module *modules;
	size_t nfields;
	struct weft_field *fields;
	size_t nfuncs;
	struct weft_func *funcs;
	size_t nsites;
	struct weft_site *sites;
	size_t nfacts;
	struct weft_fact *facts;
	char *runtime;		/* NULL: Go; else the runtime recognised ("nginx"), whose
				 * version is its module line of the same name */
};

struct weft_db;

/* Flags of weft_db_open. */
#define WEFT_DB_CREATE		0x1	/* create the directory (mode 0755) if missing */
#define WEFT_DB_STRICT		0x2	/* refuse a dir not owned by root or group/world-writable */
#define WEFT_DB_BATCH		0x4	/* stores skip fsync; call weft_db_sync when done */

/*
 * Open dir (NULL: $WEFT_OFFSETS_DB, else WEFT_DB_DEFAULT_DIR). NULL on failure,
 * with one line in err saying what failed and what to do.
 */
struct weft_db *weft_db_open(const char *dir, int flags, char *err, size_t errlen);
void weft_db_close(struct weft_db *db);
const char *weft_db_dir(const struct weft_db *db);

/*
 * Look up the record of a binary, by path or by an open fd (the stat cache
 * avoids re-hashing). 0 and *out set; -ENOENT on a miss; another -errno on
 * failure with err filled. A record that fails its checksum, version or sanity
 * check is reported in err and treated as a miss (-ENOENT); so is a record of an
 * older format, with err saying so in one line (the caller analyses it again).
 */
int weft_db_lookup_path(struct weft_db *db, const char *path, struct weft_record **out,
			char *err, size_t errlen);
int weft_db_lookup_fd(struct weft_db *db, int fd, const char *path, struct weft_record **out,
		      char *err, size_t errlen);

/* Store atomically (temporary file + rename). 0 or -errno with err filled. */
int weft_db_store(struct weft_db *db, const struct weft_record *rec, char *err, size_t errlen);
/* With WEFT_DB_BATCH: make the records stored so far durable (one syncfs). 0 or -errno. */
int weft_db_sync(struct weft_db *db);

/* Hash a file's bytes: XXH3-128 as 32 lowercase hex chars + NUL. */
int weft_hash_fd(int fd, char out[33]);

const struct weft_field *weft_record_field(const struct weft_record *rec, const char *name);
const struct weft_func *weft_record_func(const struct weft_record *rec, const char *name);
const struct weft_site *weft_record_site(const struct weft_record *rec, const char *name);
/* The value of a fact, or dflt when the record lacks it. */
int64_t weft_record_fact(const struct weft_record *rec, const char *name, int64_t dflt);
/* Append a site or a fact (analyzer): 0 or -ENOMEM. */
int weft_record_add_site(struct weft_record *rec, const char *name, uint64_t addr,
			 uint64_t fileoff);
int weft_record_add_fact(struct weft_record *rec, const char *name, int64_t value);
/* The record as the JSON object weft-analyze --json prints. */
int weft_record_write_json(const struct weft_record *rec, FILE *out);
void weft_record_free(struct weft_record *rec);


/* --- Record codec (codec.c), hashing helpers (hash.c), DB internals (db.c). --- */
#include <sys/stat.h>

#define WEFT_RECORD_FORMAT	4	/* on-disk record format version */
#define WEFT_RECORD_FORMAT_STR	"4"
#define WEFT_OFFSET_MAX		(1 << 20)	/* sanity bound of a struct offset */
#define WEFT_FUNC_SIZE_MAX	(1 << 24)	/* sanity bound of a function size */

const char *weft_source_name(enum weft_offset_source src);
/* XXH3-128 of a memory range, 32 lowercase hex chars + NUL. */
void weft_hash_mem(const void *buf, size_t len, char out[33]);

/* Encode a record (text, checksummed); *buf is malloc'd. 0 or -errno. */
int weft_record_encode(const struct weft_record *rec, char **buf, size_t *len);
/*
 * Decode and verify (checksum, format version, sanity). 0; -ESTALE for a valid
 * record of an older format version (err names it); or -EINVAL with err.
 */
int weft_record_decode(const char *buf, size_t len, struct weft_record **out, char *err,
		       size_t errlen);
/* Sanity checks shared by decode and store. 0 or -EINVAL with err. */
int weft_record_check(const struct weft_record *rec, char *err, size_t errlen);

/* Look up a record by its hash (path, if not NULL, replaces the stored one). */
int weft_db_lookup_hash(struct weft_db *db, const char *hash, const char *path,
			struct weft_record **out, char *err, size_t errlen);
/*
 * Hash of the file open at fd through the stat cache (dev, inode, size,
 * mtime_ns, ctime_ns -> hash): a hit skips hashing; a miss hashes the file and
 * (when the DB is writable) stores the entry. *cached tells which. 0 or -errno.
 */
int weft_db_hash_fd(struct weft_db *db, int fd, char hash[33], bool *cached);
/* The stat cache alone: get (0 or -ENOENT) and put (best effort). */
int weft_db_stat_get(struct weft_db *db, int fd, char hash[33]);
void weft_db_stat_put(struct weft_db *db, int fd, const char hash[33]);

#endif /* WEFT_OFFSETS_H */

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One instrumented Go executable: its offsets record (from the database, or
 * analysed on the spot), the offsets handed to BPF, and its uprobes.
 */
#ifndef WEFT_GO_BINARY_H
#define WEFT_GO_BINARY_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct weft_db;
struct weft_go;
struct bpf_link;

struct go_env {
	struct weft_db *db;
	struct weft_go *skel;
	bool no_analyze; /* a database miss is an error */
	bool write;	 /* the kernel allows writes and --no-write is not set */
	bool publish;	 /* read-only: publish per-connection context */
	bool multi;	 /* the kernel has uprobe_multi links (6.6+) */
	bool syscalls;	 /* --server-syscalls: HTTP/1 SERVER spans from syscalls where possible */
};

struct go_binary {
	char path[PATH_MAX];
	char attach_path[64]; /* when set, uprobes attach here (/proc/self/fd/N) */
	dev_t dev;
	ino_t ino;
	unsigned index;	       /* cookie of its uprobes, index in the cfgs map */
	bool watch;	       /* --exe: every process of it, now and later */
	bool write;	       /* writes enabled for this binary (net/http HTTP/1.x) */
	bool grpc_write;       /* writes enabled for its grpc-go client's HEADERS frames */
	bool h2_write;	       /* ... for net/http's bundled HTTP/2 client's HEADERS frames */
	bool xh2_write;	       /* ... for golang.org/x/net/http2's client's HEADERS frames */
	bool syscalls;	       /* its plaintext HTTP/1 SERVER spans come from read/write syscalls */
	char server_path[192]; /* how its SERVER spans are made, for the start-up line */
	char h2_path[160];     /* where its gRPC HEADERS frames are trapped, ditto */
	char h2c_path[256];    /* which HTTP/2 clients' HEADERS frames are written, ditto */
	char go_version[32];
	struct bpf_link **links;
	size_t nlinks;
	size_t nhooks; /* uprobe sites attached */
	char returns[160]; /* " (returns of F, G at their callers)" or "" */
};

enum go_binary_result {
	GO_BIN_OK = 0,
	GO_BIN_UNSUPPORTED = 1, /* err says why; leave the binary alone */
	GO_BIN_FAIL = -1,	/* err says what failed */
};

/*
 * Look up (or analyse and store) the record of the executable open at fd,
 * write its offsets into the cfgs map and attach its uprobes.
 */
enum go_binary_result go_binary_attach(struct go_binary *b, const struct go_env *env, int fd,
				       char *err, size_t errlen);
void go_binary_detach(struct go_binary *b);

#endif /* WEFT_GO_BINARY_H */

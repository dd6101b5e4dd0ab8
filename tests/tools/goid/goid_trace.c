// SPDX-License-Identifier: BSD-2-Clause
/*
 * goid-trace: runs a Go program and prints, for each write(2) of a line
 * starting "goid=" (or --prefix) that it makes, the goroutine bpf/go/go_goid.bpf.h finds
 * at the syscall tracepoint, beside the bytes written (the program's own
 * claim). Offsets come from the binary's offsets record (weft-analyze).
 *
 *   goid-trace [--tls-g OFFSET] [--prefix TEXT] DB_DIR -- PROGRAM [ARG...]
 *
 * --tls-g replaces the record's go.tls.g (a test of the checks: a wrong
 * offset must give "none", never a wrong goroutine). --prefix (1 to 8
 * characters) selects other writes, e.g. the runtime's own on a system stack.
 * stdout, one line per write: "tid=TID bpf=GOID parent=PARENT|- wrote=BYTES"
 * or "tid=TID bpf=none wrote=BYTES"; stderr at the end: "goid-trace: writes N none N
 * drops N". Exit 0 when the program exited 0; 3 when the record has no
 * go.tls.g (the goroutine cannot be found without a uprobe); 1 on failure.
 * Needs root. Used by tests/integration/go_goid.test.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "offsets.h"
#include "go/weft_go.h"
#include "tests/tools/goid/goid_trace.skel.h"
#include "tests/tools/goid/goid_trace.h"

#define NO_TLS_EXIT 3

static int on_event(void *ctx, void *data, size_t len)
{
	const struct goid_trace_ev *ev = data;
	unsigned n;

	if (len < sizeof(*ev))
		return 0;
	n = ev->len < GOID_TRACE_DATA ? ev->len : GOID_TRACE_DATA;
	printf("tid=%u ", ev->tid);
	if (ev->ok && ev->parent_goid >= 0)
		printf("bpf=%lld parent=%lld wrote=", (long long)ev->goid,
		       (long long)ev->parent_goid);
	else if (ev->ok)
		printf("bpf=%lld parent=- wrote=", (long long)ev->goid);
	else
		printf("bpf=none wrote=");
	for (unsigned i = 0; i < n && ev->data[i] != '\n'; i++)
		putchar(ev->data[i] >= 0x20 && ev->data[i] < 0x7f ? ev->data[i] : '?');
	putchar('\n');
	return 0;
}

/* Offsets from the record of path; 0, NO_TLS_EXIT, or 1 with a message. */
static int record_offsets(const char *dbdir, const char *path, int64_t tls_over,
			  struct weft_go_gid_offs *o)
{
	static const struct {
		const char *name;
		size_t at;
		bool needed;
	} fields[] = {
	    {"runtime.g.m", offsetof(struct weft_go_gid_offs, g_m), true},
	    {"runtime.m.curg", offsetof(struct weft_go_gid_offs, m_curg), true},
	    {"runtime.g.goid", offsetof(struct weft_go_gid_offs, g_goid), true},
	    {"runtime.g.parentGoid", offsetof(struct weft_go_gid_offs, g_parent_goid), false},
	};
	struct weft_record *rec = NULL;
	struct weft_db *db;
	char err[512] = "";
	int64_t tls;
	int rc = 1;

	db = weft_db_open(dbdir, 0, err, sizeof(err));
	if (!db) {
		fprintf(stderr, "goid-trace: %s\n", err);
		return 1;
	}
	if (weft_db_lookup_path(db, path, &rec, err, sizeof(err))) {
		fprintf(stderr, "goid-trace: %s: no offsets record (%s): run weft-analyze --db %s on it\n",
			path, *err ? err : "absent", dbdir);
		goto out;
	}
	tls = tls_over ? tls_over : weft_record_fact(rec, WEFT_FACT_GO_TLS_G, 0);
	if (tls >= 0 || tls < -4096) {
		fprintf(stderr,
			"goid-trace: %s: its record has no %s fact: the goroutine cannot be found at "
			"syscalls (the binary keeps the uprobe path)\n",
			path, WEFT_FACT_GO_TLS_G);
		rc = NO_TLS_EXIT;
		goto out;
	}
	o->tls_g = (__s32)tls;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const struct weft_field *f = weft_record_field(rec, fields[i].name);
		__s32 *slot = (__s32 *)((char *)o + fields[i].at);

		*slot = f ? (__s32)f->offset : -1;
		if (!f && fields[i].needed) {
			fprintf(stderr, "goid-trace: %s: its record lacks %s: run weft-analyze --force\n",
				path, fields[i].name);
			goto out;
		}
	}
	rc = 0;
out:
	weft_record_free(rec);
	weft_db_close(db);
	return rc;
}

int main(int argc, char **argv)
{
	struct weft_go_gid_offs o = {.g_parent_goid = -1};
	struct ring_buffer *rb = NULL;
	struct goid_trace *skel = NULL;
	int go[2], status = 0, rc = 1;
	__u64 st[GOID_ST_MAX] = {0};
	const char *prefix = "goid=";
	int64_t tls_over = 0;
	pid_t child;

	while (argc > 2 && strncmp(argv[1], "--", 2) == 0 && strcmp(argv[1], "--") != 0) {
		char *end;

		if (strcmp(argv[1], "--tls-g") == 0) {
			tls_over = strtoll(argv[2], &end, 10);
			if (*end || tls_over >= 0) {
				fprintf(stderr,
					"goid-trace: --tls-g wants a negative offset, not %s\n",
					argv[2]);
				return 2;
			}
		} else if (strcmp(argv[1], "--prefix") == 0) {
			prefix = argv[2];
			if (!*prefix || strlen(prefix) > GOID_TRACE_PREFIX_MAX) {
				fprintf(stderr, "goid-trace: --prefix wants 1 to %d characters\n",
					GOID_TRACE_PREFIX_MAX);
				return 2;
			}
		} else {
			break;
		}
		argc -= 2;
		argv += 2;
	}
	if (argc < 4 || strcmp(argv[2], "--") != 0) {
		fprintf(stderr, "usage: goid-trace [--tls-g OFFSET] [--prefix TEXT] DB_DIR -- "
				"PROGRAM [ARG...]\n");
		return 2;
	}
	rc = record_offsets(argv[1], argv[3], tls_over, &o);
	if (rc)
		return rc;
	rc = 1;
	if (pipe(go)) {
		fprintf(stderr, "goid-trace: pipe: %s\n", strerror(errno));
		return 1;
	}
	fflush(NULL);
	child = fork();
	if (child < 0) {
		fprintf(stderr, "goid-trace: fork: %s\n", strerror(errno));
		return 1;
	}
	if (child == 0) {
		char c;

		/* Held until the program is attached: it exits if the loader dies. */
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		close(go[0]);
		execv(argv[3], argv + 3);
		fprintf(stderr, "goid-trace: cannot run %s: %s\n", argv[3], strerror(errno));
		_exit(127);
	}
	close(go[0]);
	skel = goid_trace__open();
	if (!skel) {
		fprintf(stderr, "goid-trace: cannot open the BPF object: %s\n", strerror(errno));
		goto kill;
	}
	skel->rodata->target_tgid = (__u32)child;
	memcpy((void *)&skel->rodata->offs, &o, sizeof(o));
	skel->rodata->prefix_len = strlen(prefix);
	memcpy((void *)skel->rodata->prefix, prefix, strlen(prefix));
	if (goid_trace__load(skel) || goid_trace__attach(skel)) {
		fprintf(stderr, "goid-trace: cannot load or attach: %s: run as root on a kernel "
				"with BTF (tp_btf)\n",
			strerror(errno));
		goto kill;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, NULL, NULL);
	if (!rb) {
		fprintf(stderr, "goid-trace: cannot open the ring buffer: %s\n", strerror(errno));
		goto kill;
	}
	if (write(go[1], "g", 1) != 1) {
		fprintf(stderr, "goid-trace: cannot start %s: %s\n", argv[3], strerror(errno));
		goto kill;
	}
	close(go[1]);
	go[1] = -1;
	for (;;) {
		pid_t w = waitpid(child, &status, WNOHANG);

		if (w == child)
			break;
		if (w < 0 && errno != EINTR) {
			fprintf(stderr, "goid-trace: waitpid: %s\n", strerror(errno));
			goto kill;
		}
		if (ring_buffer__poll(rb, 100) < 0 && errno != EINTR) {
			fprintf(stderr, "goid-trace: ring buffer: %s\n", strerror(errno));
			goto kill;
		}
	}
	child = 0;
	ring_buffer__consume(rb);
	for (__u32 k = 0; k < GOID_ST_MAX; k++)
		bpf_map_lookup_elem(bpf_map__fd(skel->maps.stats), &k, &st[k]);
	fprintf(stderr, "goid-trace: writes %llu none %llu drops %llu\n",
		(unsigned long long)st[GOID_ST_WRITES], (unsigned long long)st[GOID_ST_NONE],
		(unsigned long long)st[GOID_ST_DROPS]);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		rc = 0;
	else
		fprintf(stderr, "goid-trace: %s failed (wait status %#x)\n", argv[3], status);
	goto out;
kill:
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
out:
	if (go[1] >= 0)
		close(go[1]);
	ring_buffer__free(rb);
	goid_trace__destroy(skel);
	fflush(stdout);
	return rc;
}

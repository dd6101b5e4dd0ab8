// SPDX-License-Identifier: BSD-2-Clause
/* weft-http's Python asyncio rule, user space: see rt_asyncio.h and docs/weft-http.md. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "log.h"
#include "offsets.h"
#include "weft_rt.h"
#include "rt_asyncio.h"
#include "rt_attach.h"
#include "rt_proc.h"

#define MAX_PROCS 256
#define MAX_WARNED 64
#define PY_NTRACEPOINTS 12

/*
 * The copy site, GC_New's return (freelist empty), then either the Context
 * deallocation (PY_MODE_DEALLOC) or every other path into the Context
 * allocation (PY_MODE_ALLOC, up to PY_MAX_FRESH sites, one program).
 */
#define PY_MAX_FRESH 16
#define NPROBES (2 + PY_MAX_FRESH)
static const char *const uprobes[] = {"weft_py_copy", "weft_py_copy_new", "weft_py_ctx_free",
				      "weft_py_fresh"};
#define NPROGS (sizeof(uprobes) / sizeof(uprobes[0]))

/* The record's field for each layout slot (analyzer/python.c). */
static const char *const fields[PY_NOFF] = {
    [PY_RT_TSTATE_CURRENT] = "python._PyRuntimeState.gilstate.tstate_current",
    [PY_RT_INTERP_HEAD] = "python._PyRuntimeState.interpreters.head",
    [PY_IS_NEXT] = "python.PyInterpreterState.next",
    [PY_IS_THREADS_HEAD] = "python.PyInterpreterState.threads.head",
    [PY_TS_NEXT] = "python.PyThreadState.next",
    [PY_TS_NATIVE_TID] = "python.PyThreadState.native_thread_id",
    [PY_TS_CONTEXT] = "python.PyThreadState.context",
    [PY_TS_CFRAME] = "python.PyThreadState.cframe",
    [PY_CF_CURRENT_FRAME] = "python._PyCFrame.current_frame",
    [PY_FR_CODE] = "python._PyInterpreterFrame.f_code",
    [PY_FR_PREVIOUS] = "python._PyInterpreterFrame.previous",
    [PY_CO_QUALNAME] = "python.PyCodeObject.co_qualname",
    [PY_STR_LENGTH] = "python.PyASCIIObject.length",
    [PY_STR_STATE] = "python.PyASCIIObject.state",
    [PY_STR_DATA] = "python.PyASCIIObject.data",
    [PY_TS_INTERP] = "python.PyThreadState.interp",
    [PY_IS_CTX_FREELIST] = "python.PyInterpreterState.context.freelist",
    [PY_IS_CTX_NUMFREE] = "python.PyInterpreterState.context.numfree",
    [PY_RT_INTERP_NEXT_ID] = "python._PyRuntimeState.interpreters.next_id",
};

/* Fields a record may lack (made by an older weft-analyze): -1, the probes do without. */
static bool field_optional(int i)
{
	return i == PY_RT_INTERP_NEXT_ID;
}

static struct {
	struct bpf_object *obj;
	int procs_fd;
	const char *cgroup_rel;
	struct {
		dev_t dev;
		ino_t ino;
	} warned[MAX_WARNED];
	int nwarned;
	__u32 gen;
	struct {
		int pid;
		dev_t dev; /* its binary */
		ino_t ino;
		struct bpf_link *links[NPROBES];
	} procs[MAX_PROCS]; /* pid 0: a free slot */
	struct bpf_link *tp_links[PY_NTRACEPOINTS];
	bool tp_done;
} g = {.procs_fd = -1};

/*
 * The syscall tracepoints of the rule: attached once, when the first CPython
 * process is probed (before its layout is set, so none of its transports is
 * missed), not at start: without a Python process they would run on every
 * read and write of every task for nothing.
 */
static const char *const tracepoints[PY_NTRACEPOINTS] = {
    "weft_py_accept4",	"weft_py_accept", "weft_py_getsockname", "weft_py_read",
    "weft_py_recvfrom", "weft_py_readv",  "weft_py_recvmsg",	 "weft_py_write",
    "weft_py_sendto",	"weft_py_writev", "weft_py_sendmsg",	 "weft_py_close",
};

void weft_rt_asyncio_prepare(struct bpf_object *obj)
{
	for (size_t i = 0; i < NPROGS; i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(obj, uprobes[i]);

		if (p)
			bpf_program__set_autoattach(p, false);
	}
	for (size_t i = 0; i < PY_NTRACEPOINTS; i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(obj, tracepoints[i]);

		if (p)
			bpf_program__set_autoattach(p, false);
	}
}

/* The rule's tracepoints, once; 0, or -1 (errno set) with none of them left attached. */
static int attach_tracepoints(void)
{
	for (size_t i = 0; !g.tp_done && i < PY_NTRACEPOINTS; i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(g.obj, tracepoints[i]);

		g.tp_links[i] = p ? bpf_program__attach(p) : NULL;
		if (!g.tp_links[i]) {
			if (!p)
				errno = ENOENT;
			for (size_t j = 0; j < i; j++) {
				bpf_link__destroy(g.tp_links[j]);
				g.tp_links[j] = NULL;
			}
			return -1;
		}
	}
	g.tp_done = true;
	return 0;
}

/* Once per binary: has a line been printed about it? */
static bool warned_once(const struct stat *st)
{
	for (int i = 0; i < g.nwarned; i++)
		if (g.warned[i].dev == st->st_dev && g.warned[i].ino == st->st_ino)
			return true;
	if (g.nwarned < MAX_WARNED) {
		g.warned[g.nwarned].dev = st->st_dev;
		g.warned[g.nwarned++].ino = st->st_ino;
	}
	return false;
}

/* The load address of pid's executable (ino): a PIE's bias. */
static __u64 exe_bias(int pid, ino_t exe)
{
	char path[64], line[512];
	unsigned long lo, off, ino;
	unsigned maj, min;
	__u64 bias = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%*x %*s %lx %x:%x %lu", &lo, &off, &maj, &min, &ino) == 5 &&
		    off == 0 && ino == exe) {
			bias = lo;
			break;
		}
	if (f)
		fclose(f);
	return bias;
}

static void detach(int slot)
{
	for (size_t i = 0; i < NPROBES; i++)
		bpf_link__destroy(g.procs[slot].links[i]);
	memset(&g.procs[slot], 0, sizeof(g.procs[slot]));
}

/*
 * A slot for pid running binary st: its own (probes of another binary that
 * it ran before dropped), else a free one, or -1. *kept: it has its probes.
 */
static int slot_for(int pid, const struct stat *st, bool *kept)
{
	int free = -1;

	*kept = false;
	for (int i = 0; i < MAX_PROCS; i++) {
		if (g.procs[i].pid == pid && g.procs[i].dev == st->st_dev &&
		    g.procs[i].ino == st->st_ino) {
			*kept = true; /* an exec of the same binary: its uprobes hold */
			return i;
		}
		if (g.procs[i].pid == pid ||
		    (g.procs[i].pid && kill(g.procs[i].pid, 0) && errno == ESRCH))
			detach(i);
		if (!g.procs[i].pid && free < 0)
			free = i;
	}
	return free;
}

/*
 * 1: probes attached now, 0: attached already, -1: failed (said why).
 * offs[i] (n of them) gets program prog[i] (an index into uprobes).
 */
static int attach(int pid, const char *path, const char *name, const struct stat *st,
		  const long *offs, const int *prog, size_t n)
{
	bool kept;
	int s = slot_for(pid, st, &kept);

	if (s < 0) {
		weft_warn("python %s (pid %d): %d processes probed already: its asyncio calls "
			  "start new traces",
			  name, pid, MAX_PROCS);
		return -1;
	}
	if (kept)
		return 0;
	g.procs[s].pid = pid;
	g.procs[s].dev = st->st_dev;
	g.procs[s].ino = st->st_ino;
	for (size_t i = 0; i < n; i++) {
		struct bpf_uprobe_opts uo = {.sz = sizeof(uo)};
		struct bpf_program *p = bpf_object__find_program_by_name(g.obj, uprobes[prog[i]]);
		struct bpf_link *k =
		    p ? bpf_program__attach_uprobe_opts(p, pid, path, (size_t)offs[i], &uo) : NULL;

		if (!k) {
			if (errno != ESRCH) /* else it has exited already */
				weft_warn("python %s (pid %d): cannot attach its probes: %s: its "
					  "asyncio calls start new traces",
					  name, pid, strerror(errno));
			detach(s);
			return -1;
		}
		g.procs[s].links[i] = k;
	}
	return 1;
}

/* The layout from a python record, or -1 (one line, once per binary) when it has none. */
static int layout_of(const struct weft_record *rec, struct weft_py_layout *l, const char *name,
		     const char *version, const struct stat *st)
{
	int64_t rt = weft_record_fact(rec, "python._PyRuntime", 0);

	for (int i = 0; i < PY_NOFF; i++) {
		const struct weft_field *f = weft_record_field(rec, fields[i]);

		if (!f && rt && field_optional(i)) {
			l->off[i] = -1;
			continue;
		}
		if (!f || !rt) {
			if (!warned_once(st))
				fprintf(
				    stderr,
				    "weft-http: python %s (%s): no record for this version: its "
				    "asyncio calls start new traces\n",
				    version, name);
			return -1;
		}
		l->off[i] = (__s32)f->offset;
	}
	l->runtime = (__u64)rt;
	return 0;
}

/*
 * The probe sites of rec beyond the copy and GC_New-return sites (offs[2..],
 * prog[2..]): every other path into the allocation when the record proves
 * them all (PY_MODE_ALLOC), else the deallocation. The number of sites.
 */
static size_t mode_sites(const struct weft_record *rec, const struct weft_func *dealloc,
			 struct weft_py_layout *l, long *offs, int *prog)
{
	int64_t n = weft_record_fact(rec, WEFT_FACT_PY_FRESH, 0);
	char sname[64];

	for (int64_t i = 0; n > 0 && n <= PY_MAX_FRESH && i <= n; i++) {
		const struct weft_site *f;

		snprintf(sname, sizeof(sname), WEFT_SITE_PY_FRESH "%lld", (long long)i);
		f = weft_record_site(rec, sname);
		if (i == n && !f) { /* all n, no more */
			l->mode = PY_MODE_ALLOC;
			return 2 + (size_t)n;
		}
		if (i == n || !f)
			break;
		offs[2 + i] = (long)f->fileoff;
		prog[2 + i] = 3; /* weft_py_fresh */
	}
	l->mode = PY_MODE_DEALLOC;
	offs[2] = (long)dealloc->fileoff;
	prog[2] = 2; /* weft_py_ctx_free */
	return 3;
}

/* A process of the cgroup: if its record says CPython with a layout, probe it. */
static void consider(int pid)
{
	char path[64], name[PATH_MAX], err[256] = "";
	const struct weft_func *dealloc;
	const struct weft_site *copy, *made;
	long offs[NPROBES];
	int prog[NPROBES] = {0, 1};
	size_t nprobes;
	struct weft_record *rec = NULL;
	struct weft_py_layout l = {0};
	const char *version;
	bool nodb;
	struct stat st;
	ssize_t n;
	int fd, r;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st))
		goto out;
	n = readlink(path, name, sizeof(name) - 1);
	name[n > 0 ? n : 0] = 0;
	/* Whether it is CPython is the analyzer's finding: on a miss it runs. */
	rec = weft_rt_record(fd, path, &nodb, err, sizeof(err));
	if (!rec || !rec->runtime || strcmp(rec->runtime, "python"))
		goto out;
	version = rec->nmodules ? rec->modules[0].version : "?";
	dealloc = weft_record_func(rec, "PyContext_Type.tp_dealloc");
	if (!dealloc || layout_of(rec, &l, name, version, &st))
		goto out;
	copy = weft_record_site(rec, WEFT_SITE_PY_COPY);
	made = weft_record_site(rec, WEFT_SITE_PY_COPY_NEW);
	l.sp_delta = (__s32)weft_record_fact(rec, WEFT_FACT_PY_COPY_SP, 0);
	if (!copy || !made || l.sp_delta <= 0 || l.sp_delta > 4096) {
		if (!warned_once(&st))
			fprintf(stderr,
				"weft-http: python %s (%s): its record has no context-copy sites (code "
				"unlike the 3.11 build weft-analyze checks, or a record of an older "
				"weft-analyze: weft-analyze --force %s): its asyncio calls start new "
				"traces\n",
				version, name, name);
		goto out;
	}
	if (rec->pie)
		l.runtime += exe_bias(pid, st.st_ino);
	l.gen = ++g.gen;
	/*
	 * Probes first, the layout after: the probes do nothing without it, so
	 * every context made, copied or freed from the moment ties can be made
	 * is seen (a tie made before the deallocation or allocation probes held
	 * would outlive its context, and a context made later at that address
	 * would inherit it).
	 */
	offs[0] = (long)copy->fileoff;
	offs[1] = (long)made->fileoff;
	nprobes = mode_sites(rec, dealloc, &l, offs, prog);
	r = attach(pid, path, name, &st, offs, prog, nprobes);
	if (r < 0)
		goto out;
	if (attach_tracepoints()) {
		weft_warn("python %s (pid %d): cannot attach the asyncio tracepoints: %s: its "
			  "asyncio calls start new traces",
			  name, pid, strerror(errno));
		goto out;
	}
	if (bpf_map_update_elem(g.procs_fd, &(__u32){(__u32)pid}, &l, BPF_ANY)) {
		weft_warn("python %s (pid %d): cannot record its layout: %s: its asyncio calls "
			  "start new traces",
			  name, pid, strerror(errno));
		goto out;
	}
	if (r > 0)
		fprintf(stderr,
			"weft-http: python %s (%s, pid %d): asyncio probes attached (%s)\n",
			version, name, pid,
			l.mode == PY_MODE_ALLOC
			    ? "allocation mode: every path into the Context allocation probed, "
			      "one trap per Context made"
			    : "deallocation mode: the paths into the Context allocation are not "
			      "proved (or the record predates the proof: weft-analyze --force), "
			      "two traps per Context copied");
out:
	weft_record_free(rec);
	close(fd);
}

int weft_rt_asyncio_start(struct bpf_object *obj, struct ring_buffer *rb, const char *cgroup,
			  const char *root)
{
	struct bpf_map *execs = bpf_object__find_map_by_name(obj, "py_execs");
	struct bpf_map *procs = bpf_object__find_map_by_name(obj, "py_procs");

	if (!execs || !procs)
		return 0;
	g.obj = obj;
	g.procs_fd = bpf_map__fd(procs);
	g.cgroup_rel = weft_rt_cgroup_rel(cgroup, root);
	/* looked at and probed on the runtime attach thread (rt_attach.h) */
	return weft_rt_attach_add(rb, bpf_map__fd(execs), g.cgroup_rel, consider);
}

void weft_rt_asyncio_stop(void)
{
	struct bpf_map *m = g.obj ? bpf_object__find_map_by_name(g.obj, "py_counts") : NULL;
	__u32 k = PY_COUNT_EMPTY_FREELIST;
	__u64 v = 0;

	weft_rt_attach_stop(); /* nothing is being attached any more */
	for (int i = 0; i < MAX_PROCS; i++)
		if (g.procs[i].pid)
			detach(i);
	for (size_t i = 0; i < PY_NTRACEPOINTS; i++) {
		bpf_link__destroy(g.tp_links[i]);
		g.tp_links[i] = NULL;
	}
	g.tp_done = false;
	k = PY_COUNT_VOIDED;
	if (m && !bpf_map_lookup_elem(bpf_map__fd(m), &k, &v) && v)
		fprintf(stderr,
			"weft-http: asyncio: %llu Context allocations with the freelist unreadable: "
			"all ties voided each time (calls after them start new traces)\n",
			(unsigned long long)v);
	k = PY_COUNT_EMPTY_FREELIST;
	v = 0;
	if (m && !bpf_map_lookup_elem(bpf_map__fd(m), &k, &v) && v)
		fprintf(stderr,
			"weft-http: asyncio: %llu copies of a tied context made with the context "
			"freelist empty: not tied (their calls start new traces)\n",
			(unsigned long long)v);
}

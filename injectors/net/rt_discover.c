// SPDX-License-Identifier: BSD-2-Clause
/* weft-http's runtime rules, user space: see rt_discover.h and docs/weft-http.md. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "log.h"
#include "offsets.h"
#include "weft_rt.h"
#include "rt_attach.h"
#include "rt_discover.h"
#include "rt_proc.h"

#define MAX_BINS 256
#define MAX_LINKS (8 * WEFT_RT_LAYOUTS)

static const struct weft_rt_runtime *const runtimes[] = {&weft_rt_nginx, &weft_rt_node};
#define NRUNTIMES (sizeof(runtimes) / sizeof(runtimes[0]))

static struct {
	struct bpf_object *obj;
	int layouts_fd;
	const char *cgroup_rel; /* the target cgroup below the mount root ("" = all) */
	struct {
		dev_t dev;
		ino_t ino;
	} seen[MAX_BINS];
	int nseen, nlayouts, nlinks;
	bool tp_done[NRUNTIMES];
	struct bpf_link *links[MAX_LINKS];
} g = {.layouts_fd = -1};

static const char *const count_names[WEFT_RT_NCOUNTS] = {
    [WEFT_RT_TIED] = "parent from a runtime rule",
    [WEFT_RT_NO_ANCESTRY] = "new trace: no ancestry (Node.js after an await)",
    [WEFT_RT_UNKNOWN] = "new trace: ancestry unknown",
    [WEFT_RT_ANSWERED] = "new trace: its request was answered meanwhile",
};

void weft_rt_prepare(struct bpf_object *obj)
{
	for (size_t r = 0; r < NRUNTIMES; r++) {
		const struct weft_rt_runtime *rt = runtimes[r];

		for (size_t i = 0; i < rt->nprobes; i++) {
			struct bpf_program *p =
			    bpf_object__find_program_by_name(obj, rt->probes[i].prog);

			if (p)
				bpf_program__set_autoattach(p, false);
		}
		for (size_t i = 0; rt->tracepoints && rt->tracepoints[i]; i++) {
			struct bpf_program *p =
			    bpf_object__find_program_by_name(obj, rt->tracepoints[i]);

			if (p)
				bpf_program__set_autoattach(p, false);
		}
	}
}

/* The layout of the record, or -1 (with the reason logged) when a field is missing. */
static int layout_of(const struct weft_rt_runtime *rt, const struct weft_record *rec,
		     struct weft_rt_layout *l, const char *path)
{
	for (int i = 0; i < WEFT_RT_NOFF; i++) {
		const char *name = rt->fields[i];
		const struct weft_field *f = name ? weft_record_field(rec, name) : NULL;

		l->off[i] = f ? (__s32)f->offset : -1;
		if (name && !f) {
			weft_warn("%s %s (%s): no %s in its offsets record: %s start new traces",
				  rt->name, path, rec->nmodules ? rec->modules[0].version : "?",
				  name, rt->what);
			return -1;
		}
	}
	return 0;
}

/* The runtime's tracepoint programs, once (they serve every binary of it). */
static int attach_tracepoints(size_t r)
{
	const struct weft_rt_runtime *rt = runtimes[r];

	for (size_t i = 0; !g.tp_done[r] && rt->tracepoints && rt->tracepoints[i]; i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(g.obj, rt->tracepoints[i]);
		struct bpf_link *k = p && g.nlinks < MAX_LINKS ? bpf_program__attach(p) : NULL;

		if (!k)
			return -1;
		g.links[g.nlinks++] = k;
	}
	g.tp_done[r] = true;
	return 0;
}

/* path: /proc/PID/exe (attached through), name: its target (messages) */
static void attach(size_t r, const char *path, const char *name, const struct weft_record *rec,
		   const struct weft_rt_layout *l)
{
	const struct weft_rt_runtime *rt = runtimes[r];
	const char *version = rec->nmodules ? rec->modules[0].version : "?";
	__u32 idx = (__u32)g.nlayouts;

	for (size_t i = 0; i < rt->nprobes; i++) {
		if (!weft_record_func(rec, rt->probes[i].func)) {
			weft_warn("%s %s (%s): no %s in its offsets record: %s start new traces",
				  rt->name, name, version, rt->probes[i].func, rt->what);
			return;
		}
	}
	if (g.nlayouts >= WEFT_RT_LAYOUTS) {
		weft_warn("%s %s: no room for another layout: %s start new traces", rt->name, name,
			  rt->what);
		return;
	}
	g.nlayouts++; /* its slot holds no offset (weft_rt_start) until all probes hold */
	if (attach_tracepoints(r)) {
		weft_warn("%s %s: cannot attach its tracepoints: %s: %s start new traces", rt->name,
			  name, strerror(errno), rt->what);
		return;
	}
	for (size_t i = 0; i < rt->nprobes; i++) {
		/* The entry's file offset, from the record: libbpf reads no ELF. */
		const struct weft_func *fn = weft_record_func(rec, rt->probes[i].func);
		struct bpf_uprobe_opts uo = {
		    .sz = sizeof(uo), .retprobe = rt->probes[i].ret, .bpf_cookie = idx};
		struct bpf_program *p = bpf_object__find_program_by_name(g.obj, rt->probes[i].prog);
		struct bpf_link *k =
		    p && g.nlinks < MAX_LINKS
			? bpf_program__attach_uprobe_opts(p, -1, path, (size_t)fn->fileoff, &uo)
			: NULL;

		if (!k) {
			weft_warn("%s %s: cannot attach to %s: %s: %s start new traces", rt->name,
				  name, rt->probes[i].func, strerror(errno), rt->what);
			return; /* the probes attached so far find no tie to make: harmless */
		}
		g.links[g.nlinks++] = k;
	}
	/*
	 * The layout last: the probes do nothing until it is set, so the rule is
	 * switched on only once every probe is in place (a return probe without
	 * its entry, or a resource created before the reset probe held, is
	 * never half-seen).
	 */
	if (bpf_map_update_elem(g.layouts_fd, &idx, l, BPF_ANY)) {
		weft_warn("%s %s: cannot record its layout: %s: %s start new traces", rt->name,
			  name, strerror(errno), rt->what);
		return;
	}
	fprintf(stderr, "weft-http: %s %s (%s): %s\n", rt->name, version, name, rt->attached);
}

/* A process of the cgroup: if it runs a runtime's binary not seen before, probe it. */
static void consider(int pid)
{
	char path[64], name[PATH_MAX], err[256] = "";
	struct weft_record *rec = NULL;
	struct weft_rt_layout l;
	bool nodb;
	struct stat st;
	ssize_t n;
	size_t r;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) || g.nseen >= MAX_BINS)
		goto out;
	for (i = 0; i < g.nseen; i++)
		if (g.seen[i].dev == st.st_dev && g.seen[i].ino == st.st_ino)
			goto out;
	g.seen[g.nseen].dev = st.st_dev;
	g.seen[g.nseen++].ino = st.st_ino;
	n = readlink(path, name, sizeof(name) - 1);
	name[n > 0 ? n : 0] = 0;
	if (n <= 0)
		snprintf(name, sizeof(name), "%s", path);
	/*
	 * Which runtime it is, if any, is the analyzer's finding (its record's
	 * runtime line): on a miss (or no database yet) weft-analyze runs, then
	 * the lookup is repeated.
	 */
	rec = weft_rt_record(fd, path, &nodb, err, sizeof(err));
	if (nodb) {
		static bool warned;

		if (!warned)
			weft_warn("%s: runtime rules (nginx, Node.js) off: their outgoing "
				  "requests start new traces",
				  err);
		warned = true;
		goto out;
	}
	for (r = 0; rec && rec->runtime && r < NRUNTIMES; r++)
		if (strcmp(rec->runtime, runtimes[r]->name) == 0 &&
		    layout_of(runtimes[r], rec, &l, name) == 0)
			attach(r, path, name, rec, &l);
	weft_record_free(rec);
out:
	close(fd);
}

int weft_rt_start(struct bpf_object *obj, struct ring_buffer *rb, const char *cgroup,
		  const char *root)
{
	struct bpf_map *execs = bpf_object__find_map_by_name(obj, "weft_rt_execs");
	struct bpf_map *layouts = bpf_object__find_map_by_name(obj, "weft_rt_layouts");
	struct weft_rt_layout none;

	if (!execs || !layouts)
		return 0;
	g.obj = obj;
	g.layouts_fd = bpf_map__fd(layouts);
	g.cgroup_rel = weft_rt_cgroup_rel(cgroup, root);
	/* every slot "no offset" (the probes check each) until its probes all hold */
	for (int i = 0; i < WEFT_RT_NOFF; i++)
		none.off[i] = -1;
	for (__u32 i = 0; i < WEFT_RT_LAYOUTS; i++)
		if (bpf_map_update_elem(g.layouts_fd, &i, &none, BPF_ANY)) {
			weft_err("cannot clear the runtime layouts: %s", strerror(errno));
			return -1;
		}
	return weft_rt_attach_add(rb, bpf_map__fd(execs), g.cgroup_rel, consider);
}

void weft_rt_stop(void)
{
	struct bpf_map *m = g.obj ? bpf_object__find_map_by_name(g.obj, "weft_rt_counts") : NULL;
	bool any = false;

	weft_rt_attach_stop(); /* no probe is being attached while they are detached */
	for (int i = 0; i < g.nlinks; i++)
		bpf_link__destroy(g.links[i]);
	for (__u32 i = 0; m && g.nlayouts && i < WEFT_RT_NCOUNTS; i++) {
		__u64 v = 0;

		if (bpf_map_lookup_elem(bpf_map__fd(m), &i, &v) || !v)
			continue;
		fprintf(stderr, "%s %llu %s", any ? "," : "weft-http: outgoing requests:",
			(unsigned long long)v, count_names[i]);
		any = true;
	}
	if (any)
		fputc('\n', stderr);
	g.nlinks = 0;
}

// SPDX-License-Identifier: BSD-2-Clause
/* weft-http's nginx rule, user space: see rt_nginx.h and docs/weft-http.md. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "log.h"
#include "offsets.h"
#include "weft_rt.h"
#include "rt_nginx.h"

#define MAX_BINS 256
#define MAX_LINKS (3 * WEFT_RT_LAYOUTS)

static struct {
	struct bpf_object *obj;
	int layouts_fd;
	const char *cgroup_rel; /* the target cgroup below the mount root ("" = all) */
	struct {
		dev_t dev;
		ino_t ino;
	} seen[MAX_BINS];
	int nseen, nlayouts, nlinks;
	struct bpf_link *links[MAX_LINKS];
} g = {.layouts_fd = -1};

static const struct {
	const char *prog, *func;
	bool ret;
} probes[] = {
    {"weft_ngx_upstream_init", "ngx_http_upstream_init", false},
    {"weft_ngx_connect_peer", "ngx_event_connect_peer", false},
    {"weft_ngx_connect_peer_ret", "ngx_event_connect_peer", true},
};

static const char *const fields[WEFT_RT_NOFF] = {
    [NGX_R_UPSTREAM] = "nginx.ngx_http_request_t.upstream",
    [NGX_R_CONNECTION] = "nginx.ngx_http_request_t.connection",
    [NGX_C_FD] = "nginx.ngx_connection_t.fd",
    [NGX_U_PEER] = "nginx.ngx_http_upstream_t.peer",
};

void weft_rt_nginx_prepare(struct bpf_object *obj)
{
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(obj, probes[i].prog);

		if (p)
			bpf_program__set_autoattach(p, false);
	}
}

/*
 * Run weft-analyze on path (next to this program, else on PATH): it stores the
 * record (runtime "nginx" for an nginx) and says on stderr why it failed.
 */
static void run_analyzer(const char *path)
{
	char self[PATH_MAX], tool[PATH_MAX + 16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	pid_t pid;
	int st;

	snprintf(tool, sizeof(tool), "weft-analyze");
	if (n > 0) {
		self[n] = 0;
		snprintf(tool, sizeof(tool), "%s/weft-analyze", dirname(self));
		if (access(tool, X_OK))
			snprintf(tool, sizeof(tool), "weft-analyze");
	}
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		execlp(tool, tool, path, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, &st, 0);
}

/* The layout of the record, or -1 (with the reason logged) when a field is missing. */
static int layout_of(const struct weft_record *rec, struct weft_rt_layout *l, const char *path)
{
	for (int i = 0; i < WEFT_RT_NOFF; i++) {
		const struct weft_field *f = fields[i] ? weft_record_field(rec, fields[i]) : NULL;

		l->off[i] = f ? (__s32)f->offset : -1;
		if (fields[i] && !f) {
			weft_warn(
			    "nginx %s: no %s in its offsets record: its upstream requests start "
			    "new traces",
			    path, fields[i]);
			return -1;
		}
	}
	return 0;
}

/* path: /proc/PID/exe (attached through), name: its target (messages) */
static void attach(const char *path, const char *name, const struct weft_record *rec,
		   const struct weft_rt_layout *l)
{
	const char *version = rec->nmodules ? rec->modules[0].version : "?";
	__u32 idx = (__u32)g.nlayouts;

	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (!weft_record_func(rec, probes[i].func)) {
			weft_warn("nginx %s: no %s in its offsets record: its upstream requests "
				  "start new traces",
				  name, probes[i].func);
			return;
		}
	}

	if (g.nlayouts >= WEFT_RT_LAYOUTS || bpf_map_update_elem(g.layouts_fd, &idx, l, BPF_ANY)) {
		weft_warn("nginx %s: no room for another layout: its upstream requests start new "
			  "traces",
			  name);
		return;
	}
	g.nlayouts++;
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		/* The entry's file offset, from the record: libbpf reads no ELF. */
		const struct weft_func *fn = weft_record_func(rec, probes[i].func);
		struct bpf_uprobe_opts uo = {
		    .sz = sizeof(uo), .retprobe = probes[i].ret, .bpf_cookie = idx};
		struct bpf_program *p = bpf_object__find_program_by_name(g.obj, probes[i].prog);
		struct bpf_link *k =
		    p ? bpf_program__attach_uprobe_opts(p, -1, path, (size_t)fn->fileoff, &uo)
		      : NULL;

		if (!k) {
			weft_warn("nginx %s: cannot attach to %s: %s: its upstream requests start "
				  "new traces",
				  name, probes[i].func, strerror(errno));
			return; /* the probes attached so far find no tie to make: harmless */
		}
		g.links[g.nlinks++] = k;
	}
	fprintf(stderr, "weft-http: nginx %s (%s): upstream probes attached\n", version, name);
}

/* Is process pid in the target cgroup (or below)? */
static bool in_target(int pid)
{
	char path[64], line[4096];
	size_t n = strlen(g.cgroup_rel);
	bool yes = false;
	FILE *f;

	if (!n)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "::");

		if (strncmp(line, "0::", 3) || !p)
			continue;
		p += 2;
		p[strcspn(p, "\n")] = 0;
		yes = strncmp(p, g.cgroup_rel, n) == 0 && (p[n] == 0 || p[n] == '/');
	}
	fclose(f);
	return yes;
}

/* A process of the cgroup: if it runs an nginx not seen before, probe it. */
static void consider(int pid)
{
	char path[64], name[PATH_MAX], err[256] = "";
	struct weft_record *rec = NULL;
	ssize_t n;
	struct weft_rt_layout l;
	struct weft_db *db;
	struct stat st;
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
	 * Whether it is nginx is the analyzer's finding (its record says runtime
	 * nginx): on a miss (or no database yet) weft-analyze runs, then the
	 * lookup is repeated.
	 */
	db = weft_db_open(NULL, WEFT_DB_STRICT, err, sizeof(err));
	if (!db || weft_db_lookup_fd(db, fd, path, &rec, err, sizeof(err)) == -ENOENT) {
		weft_db_close(db);
		run_analyzer(path);
		err[0] = 0;
		db = weft_db_open(NULL, WEFT_DB_STRICT, err, sizeof(err));
		if (!db) {
			static bool warned;

			if (!warned)
				weft_warn("%s: nginx upstream requests start new traces", err);
			warned = true;
			goto out;
		}
		weft_db_lookup_fd(db, fd, path, &rec, err, sizeof(err));
	}
	if (rec && rec->runtime && strcmp(rec->runtime, "nginx") == 0 &&
	    layout_of(rec, &l, name) == 0)
		attach(path, name, rec, &l);
	weft_record_free(rec);
	weft_db_close(db);
out:
	close(fd);
}

static int on_exec(void *ctx, void *data, size_t len)
{
	(void)ctx;
	if (len >= sizeof(__u32))
		consider((int)*(__u32 *)data);
	return 0;
}

int weft_rt_nginx_start(struct bpf_object *obj, struct ring_buffer *rb, const char *cgroup,
			const char *root)
{
	struct bpf_map *execs = bpf_object__find_map_by_name(obj, "weft_rt_execs");
	struct bpf_map *layouts = bpf_object__find_map_by_name(obj, "weft_rt_layouts");
	size_t rl = strlen(root);
	struct dirent *de;
	DIR *d;

	if (!execs || !layouts)
		return 0;
	g.obj = obj;
	g.layouts_fd = bpf_map__fd(layouts);
	g.cgroup_rel = strncmp(cgroup, root, rl) == 0 ? cgroup + rl : "";
	if (ring_buffer__add(rb, bpf_map__fd(execs), on_exec, NULL)) {
		weft_err("cannot watch execs: %s", strerror(errno));
		return -1;
	}
	d = opendir("/proc");
	while (d && (de = readdir(d)))
		if (isdigit((unsigned char)de->d_name[0]) && in_target(atoi(de->d_name)))
			consider(atoi(de->d_name));
	if (d)
		closedir(d);
	return 0;
}

void weft_rt_nginx_stop(void)
{
	for (int i = 0; i < g.nlinks; i++)
		bpf_link__destroy(g.links[i]);
	g.nlinks = 0;
}

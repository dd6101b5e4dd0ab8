// SPDX-License-Identifier: BSD-2-Clause
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "procinfo.h"
#include "container.h"
#include "resource.h"

#define RCACHE_SLOTS 8192 /* power of two */
#define RCACHE_MAX 4096	  /* entries before a trim empties the cache */
#define RECHECK_NS 2000000000ull
#define VAL_MAX 1024

struct weft_rcache {
	const struct weft_export_config *cfg;
	char host[256];
	struct weft_resource *slot[RCACHE_SLOTS];
	size_t count;
};

struct weft_rcache *weft_rcache_new(const struct weft_export_config *cfg)
{
	struct weft_rcache *rc = calloc(1, sizeof(*rc));

	if (!rc)
		return NULL;
	rc->cfg = cfg;
	if (gethostname(rc->host, sizeof(rc->host) - 1))
		strcpy(rc->host, "localhost");
	return rc;
}

static void resource_free(struct weft_resource *r)
{
	if (!r)
		return;
	weft_kv_free(&r->kv);
	free(r->attrs);
	wbuf_free(&r->json_otlp);
	wbuf_free(&r->json_flat);
	free(r->pb);
	free(r);
}

static void kv_set_utf8(struct weft_kv_list *kv, const char *key, const char *val)
{
	char clean[VAL_MAX];

	weft_utf8_copy(clean, sizeof(clean), val, strlen(val));
	weft_kv_set(kv, key, clean);
}

static struct weft_resource *resource_build(struct weft_rcache *rc, uint32_t pid, uint64_t start,
					    uint64_t now_ns)
{
	const struct weft_export_config *cfg = rc->cfg;
	struct weft_resource *r = calloc(1, sizeof(*r));
	struct weft_kv_list target = {0};
	char exe[4096], val[VAL_MAX], ver[64], svc[VAL_MAX + 32];
	const char *exe_name = NULL, *runtime, *s;
	bool have_exe;

	if (!r)
		return NULL;
	r->pid = pid;
	r->start_time = start;
	r->checked_ns = now_ns;

	/* lowest: the exporter's own OTEL_RESOURCE_ATTRIBUTES */
	for (size_t i = 0; i < cfg->resource.n; i++)
		kv_set_utf8(&r->kv, cfg->resource.v[i].key, cfg->resource.v[i].value);
	/* then the target's OTEL_RESOURCE_ATTRIBUTES */
	if (pid && weft_proc_getenv((pid_t)pid, "OTEL_RESOURCE_ATTRIBUTES", val, sizeof(val)) > 0) {
		weft_kv_parse(&target, val);
		for (size_t i = 0; i < target.n; i++)
			kv_set_utf8(&r->kv, target.v[i].key, target.v[i].value);
	}

	/* then what weft knows */
	have_exe = pid && weft_proc_exe((pid_t)pid, exe, sizeof(exe)) == 0;
	if (have_exe) {
		exe_name = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
		kv_set_utf8(&r->kv, "process.executable.path", exe);
	} else if (pid && weft_proc_comm((pid_t)pid, exe, sizeof(exe)) == 0) {
		exe_name = exe;
	}
	if (exe_name)
		kv_set_utf8(&r->kv, "process.executable.name", exe_name);
	runtime = pid ? weft_proc_runtime((pid_t)pid, exe_name, ver, sizeof(ver)) : NULL;
	if (runtime) {
		weft_kv_set(&r->kv, "process.runtime.name", runtime);
		if (ver[0])
			kv_set_utf8(&r->kv, "process.runtime.version", ver);
	}
	if (pid && weft_proc_cgroup((pid_t)pid, val, sizeof(val)) == 0) {
		char cid[65], pod[37];

		weft_cgroup_ids(val, cid, pod);
		if (cid[0])
			weft_kv_set(&r->kv, "container.id", cid);
		if (pod[0])
			weft_kv_set(&r->kv, "k8s.pod.uid", pod);
	}
	kv_set_utf8(&r->kv, "host.name", rc->host);
	weft_kv_set(&r->kv, "telemetry.sdk.name", "weft");
	weft_kv_set(&r->kv, "telemetry.sdk.version", WEFT_VERSION);
	weft_kv_set(&r->kv, "telemetry.sdk.language", "cpp");

	/* service.name */
	if (pid && weft_proc_getenv((pid_t)pid, "OTEL_SERVICE_NAME", val, sizeof(val)) > 0)
		s = val;
	else if ((s = weft_kv_get(&target, "service.name")) && *s)
		;
	else if ((s = cfg->service_name))
		;
	else if ((s = weft_kv_get(&cfg->resource, "service.name")) && *s)
		;
	else {
		snprintf(svc, sizeof(svc), "unknown_service%s%s", exe_name ? ":" : "",
			 exe_name ? exe_name : "");
		s = svc;
	}
	kv_set_utf8(&r->kv, "service.name", s);
	weft_kv_free(&target);

	r->attrs = calloc(r->kv.n + 1, sizeof(*r->attrs));
	if (!r->attrs) {
		resource_free(r);
		return NULL;
	}
	/* service.name first, the other strings, then process.pid */
	for (size_t i = 0; i < r->kv.n; i++) {
		if (strcmp(r->kv.v[i].key, "service.name"))
			continue;
		r->service_name = r->kv.v[i].value;
		r->attrs[r->nattrs++] = (struct weft_attr){.key = "service.name",
							   .klen = 12,
							   .s = r->service_name,
							   .slen = strlen(r->service_name)};
	}
	for (size_t i = 0; i < r->kv.n; i++) {
		if (!strcmp(r->kv.v[i].key, "service.name") ||
		    !strcmp(r->kv.v[i].key, "process.pid"))
			continue;
		r->attrs[r->nattrs++] = (struct weft_attr){.key = r->kv.v[i].key,
							   .klen = strlen(r->kv.v[i].key),
							   .s = r->kv.v[i].value,
							   .slen = strlen(r->kv.v[i].value)};
	}
	r->attrs[r->nattrs++] =
	    (struct weft_attr){.key = "process.pid", .klen = 11, .type = WEFT_ATTR_INT, .i = pid};
	return r;
}

static size_t slot_of(struct weft_rcache *rc, uint32_t pid)
{
	size_t i = (pid * 2654435761u) & (RCACHE_SLOTS - 1);

	while (rc->slot[i] && rc->slot[i]->pid != pid)
		i = (i + 1) & (RCACHE_SLOTS - 1);
	return i;
}

struct weft_resource *weft_rcache_get(struct weft_rcache *rc, uint32_t pid, uint64_t now_ns)
{
	size_t i = slot_of(rc, pid);
	struct weft_resource *r = rc->slot[i];
	uint64_t start = 0;

	if (r && now_ns - r->checked_ns < RECHECK_NS)
		return r;
	if (pid && weft_proc_start_time((pid_t)pid, &start) < 0)
		start = 0;
	if (r) {
		/* gone (start 0): keep what we knew; same start: same process */
		if (!start || start == r->start_time) {
			r->checked_ns = now_ns;
			return r;
		}
		/* a new process with a reused pid: replace in place */
		struct weft_resource *n = resource_build(rc, pid, start, now_ns);

		if (!n)
			return r;
		resource_free(r);
		rc->slot[i] = n;
		return n;
	}
	r = resource_build(rc, pid, start, now_ns);
	if (r) {
		rc->slot[i] = r;
		rc->count++;
	}
	return r;
}

void weft_rcache_trim(struct weft_rcache *rc)
{
	if (rc->count < RCACHE_MAX)
		return;
	for (size_t i = 0; i < RCACHE_SLOTS; i++) {
		resource_free(rc->slot[i]);
		rc->slot[i] = NULL;
	}
	rc->count = 0;
}

void weft_rcache_free(struct weft_rcache *rc)
{
	if (!rc)
		return;
	for (size_t i = 0; i < RCACHE_SLOTS; i++)
		resource_free(rc->slot[i]);
	free(rc);
}

// SPDX-License-Identifier: BSD-2-Clause
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include "log.h"

#define DEFAULT_ENDPOINT "http://localhost:4318"
#define TRACES_PATH "v1/traces"

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n, sz);

	if (!p) {
		weft_err("out of memory: reduce WEFT_EXPORTER_QUEUE_MAX");
		abort();
	}
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p) {
		weft_err("out of memory: reduce WEFT_EXPORTER_QUEUE_MAX");
		abort();
	}
	return p;
}

/* A variable set to a non-empty value, else NULL. */
static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* The signal-specific variable wins over the generic one (spec precedence). */
static const char *env2(const char *traces, const char *generic)
{
	const char *v = env(traces);

	return v ? v : env(generic);
}

static char *trim(char *s)
{
	char *e;

	while (*s && isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decode in place ("%20" -> " "); invalid escapes stay as they are. */
static void pct_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
			*o++ = (char)(hexval(s[1]) << 4 | hexval(s[2]));
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

void weft_kv_set(struct weft_kv_list *list, const char *key, const char *value)
{
	struct weft_kv *v;

	for (size_t i = 0; i < list->n; i++) {
		if (!strcmp(list->v[i].key, key)) {
			free(list->v[i].value);
			list->v[i].value = xstrdup(value);
			return;
		}
	}
	v = realloc(list->v, (list->n + 1) * sizeof(*v));
	if (!v) {
		weft_err("out of memory: reduce WEFT_EXPORTER_QUEUE_MAX");
		abort();
	}
	list->v = v;
	list->v[list->n].key = xstrdup(key);
	list->v[list->n].value = xstrdup(value);
	list->n++;
}

const char *weft_kv_get(const struct weft_kv_list *list, const char *key)
{
	for (size_t i = 0; i < list->n; i++)
		if (!strcmp(list->v[i].key, key))
			return list->v[i].value;
	return NULL;
}

int weft_kv_parse(struct weft_kv_list *list, const char *s)
{
	char *copy, *save = NULL, *tok;
	int bad = 0;

	if (!s)
		return 0;
	copy = xstrdup(s);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '='), *k, *v;

		if (!eq) {
			if (*trim(tok))
				bad++;
			continue;
		}
		*eq = '\0';
		k = trim(tok);
		v = trim(eq + 1);
		pct_decode(k);
		pct_decode(v);
		if (!*k) {
			bad++;
			continue;
		}
		weft_kv_set(list, k, v);
	}
	free(copy);
	return bad;
}

void weft_kv_free(struct weft_kv_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		free(list->v[i].key);
		free(list->v[i].value);
	}
	free(list->v);
	list->v = NULL;
	list->n = 0;
}

/* The generic endpoint is a base URL: append v1/traces after one '/'. */
static char *traces_url(const char *base)
{
	size_t n = strlen(base);
	char *u = xcalloc(1, n + sizeof(TRACES_PATH) + 2);

	memcpy(u, base, n);
	if (n == 0 || base[n - 1] != '/')
		u[n++] = '/';
	memcpy(u + n, TRACES_PATH, sizeof(TRACES_PATH));
	return u;
}

static bool env_true(const char *name)
{
	const char *v = env(name);

	return v && (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes"));
}

int weft_config_load(struct weft_export_config *c, const char *spans_file, char *err, size_t errlen)
{
	const char *v;
	int bad;

	memset(c, 0, sizeof(*c));
	c->timeout_ms = 10000;

	/* Destination: OTLP when an endpoint is set, or asked for explicitly. */
	if ((v = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))) {
		c->url = xstrdup(v);
	} else if ((v = env("OTEL_EXPORTER_OTLP_ENDPOINT"))) {
		c->url = traces_url(v);
	} else if (env_true("WEFT_OTLP") ||
		   ((v = env("OTEL_TRACES_EXPORTER")) && !strcmp(v, "otlp"))) {
		c->url = traces_url(DEFAULT_ENDPOINT);
	}
	c->otlp = c->url != NULL;
	if ((v = env("OTEL_TRACES_EXPORTER")) && !strcmp(v, "none") && c->otlp) {
		free(c->url);
		c->url = NULL;
		c->otlp = false;
	}
	if (c->otlp && strncmp(c->url, "http://", 7) && strncmp(c->url, "https://", 8)) {
		snprintf(err, errlen,
			 "OTLP endpoint '%s' is not an http:// or https:// URL: "
			 "set OTEL_EXPORTER_OTLP_ENDPOINT=http://HOST:4318",
			 c->url);
		goto fail;
	}

	v = env2("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL");
	if (!v || !strcmp(v, "http/protobuf")) {
		c->proto = WEFT_OTLP_PROTOBUF;
	} else if (!strcmp(v, "http/json")) {
		c->proto = WEFT_OTLP_JSON;
	} else if (!strcmp(v, "grpc")) {
		snprintf(err, errlen,
			 "OTLP protocol grpc is not supported: "
			 "set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf (or http/json) and "
			 "point the endpoint at the collector's HTTP port (4318)");
		goto fail;
	} else {
		snprintf(err, errlen, "unknown OTLP protocol '%s': use http/protobuf or http/json",
			 v);
		goto fail;
	}

	v = env2("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION");
	if (!v || !strcmp(v, "none")) {
		c->gzip = false;
	} else if (!strcmp(v, "gzip")) {
		c->gzip = true;
	} else {
		snprintf(err, errlen, "unknown OTLP compression '%s': use gzip or none", v);
		goto fail;
	}

	v = env2("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT");
	if (v) {
		char *end;
		long ms;

		errno = 0;
		ms = strtol(v, &end, 10);
		if (errno || *end || ms <= 0) {
			snprintf(err, errlen,
				 "OTLP timeout '%s' is not a positive number of milliseconds: "
				 "set OTEL_EXPORTER_OTLP_TIMEOUT=10000",
				 v);
			goto fail;
		}
		c->timeout_ms = ms;
	}

	v = env2("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE");
	if (v) {
		if (access(v, R_OK)) {
			snprintf(err, errlen,
				 "cannot read OTLP CA certificate %s: %s: fix "
				 "OTEL_EXPORTER_OTLP_CERTIFICATE",
				 v, strerror(errno));
			goto fail;
		}
		c->ca_file = xstrdup(v);
	}
	v = env2("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
		 "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE");
	if (v)
		c->client_cert = xstrdup(v);
	v = env2("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "OTEL_EXPORTER_OTLP_CLIENT_KEY");
	if (v)
		c->client_key = xstrdup(v);

	/* Headers: the signal-specific list replaces the generic one. */
	v = env2("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS");
	bad = weft_kv_parse(&c->headers, v);
	if (bad)
		weft_warn("skipped %d malformed member(s) of OTEL_EXPORTER_OTLP_HEADERS: "
			  "use key=value,key2=value2 (url-encoded)",
			  bad);

	bad = weft_kv_parse(&c->resource, env("OTEL_RESOURCE_ATTRIBUTES"));
	if (bad)
		weft_warn("skipped %d malformed member(s) of OTEL_RESOURCE_ATTRIBUTES: "
			  "use key=value,key2=value2 (url-encoded)",
			  bad);
	if ((v = env("OTEL_SERVICE_NAME")))
		c->service_name = xstrdup(v);

	/* JSON lines: to the named file, else to stdout when there is no OTLP. */
	if (!spans_file)
		spans_file = env("WEFT_SPANS_FILE");
	if (spans_file) {
		c->jsonl = true;
		c->spans_file = strcmp(spans_file, "-") ? xstrdup(spans_file) : NULL;
	} else {
		c->jsonl = !c->otlp;
	}
	return 0;
fail:
	weft_config_free(c);
	return -1;
}

void weft_config_free(struct weft_export_config *c)
{
	free(c->url);
	free(c->ca_file);
	free(c->client_cert);
	free(c->client_key);
	free(c->spans_file);
	free(c->service_name);
	weft_kv_free(&c->headers);
	weft_kv_free(&c->resource);
	memset(c, 0, sizeof(*c));
}

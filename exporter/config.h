/* SPDX-License-Identifier: BSD-2-Clause */
/* Exporter configuration from the OTEL_* / WEFT_* environment (docs/exporter.md). */
#ifndef WEFT_EXPORT_CONFIG_H
#define WEFT_EXPORT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

enum weft_otlp_proto {
	WEFT_OTLP_PROTOBUF = 0, /* http/protobuf */
	WEFT_OTLP_JSON = 1,	/* http/json */
};

/* One key=value pair (resource attribute or HTTP header). */
struct weft_kv {
	char *key;
	char *value;
};

struct weft_kv_list {
	struct weft_kv *v;
	size_t n;
};

struct weft_export_config {
	bool otlp; /* send OTLP/HTTP */
	char *url; /* full URL, .../v1/traces */
	enum weft_otlp_proto proto;
	bool gzip;
	long timeout_ms;
	char *ca_file;	   /* OTEL_EXPORTER_OTLP_CERTIFICATE */
	char *client_cert; /* OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE */
	char *client_key;  /* OTEL_EXPORTER_OTLP_CLIENT_KEY */
	struct weft_kv_list headers;
	bool jsonl;		      /* write JSON lines */
	char *spans_file;	      /* NULL or "-": stdout */
	char *service_name;	      /* the exporter's own OTEL_SERVICE_NAME */
	struct weft_kv_list resource; /* the exporter's own OTEL_RESOURCE_ATTRIBUTES */
};

/* Read the environment (getenv); spans_file is --spans-file or NULL. */
int weft_config_load(struct weft_export_config *c, const char *spans_file, char *err,
		     size_t errlen);
void weft_config_free(struct weft_export_config *c);

/*
 * Parse "k1=v1,k2=v2" with percent-decoding and whitespace trimmed (the
 * OTEL_EXPORTER_OTLP_HEADERS / OTEL_RESOURCE_ATTRIBUTES format) and append
 * to list. Malformed members are skipped; returns how many were skipped.
 */
int weft_kv_parse(struct weft_kv_list *list, const char *s);
void weft_kv_free(struct weft_kv_list *list);
/* Set key to value in list (replace or append). */
void weft_kv_set(struct weft_kv_list *list, const char *key, const char *value);
const char *weft_kv_get(const struct weft_kv_list *list, const char *key);

#endif /* WEFT_EXPORT_CONFIG_H */

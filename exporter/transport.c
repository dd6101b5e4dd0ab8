// SPDX-License-Identifier: BSD-2-Clause
#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <zlib.h>
#include "curl_dl.h"
#include "transport.h"

#define RETRY_AFTER_MAX_MS 60000L

struct weft_http {
	const struct weft_curl *cu; /* libcurl, loaded on first use */
	CURL *curl;
	CURLM *multi; /* runs the one transfer, so that a deadline can cut it short */
	atomic_uint_fast64_t deadline; /* CLOCK_MONOTONIC ns; 0: none */
	struct curl_slist *headers;
	bool gzip;
	z_stream zs;
	bool zs_ready;
	struct wbuf gz;
	struct wbuf resp;
	long retry_after_ms;
	char errbuf[CURL_ERROR_SIZE];
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct weft_http *h = ud;

	/* keep at most 64 KiB of a response (partial_success is small) */
	if (h->resp.len < 65536)
		wbuf_put(&h->resp, p, sz * n < 65536 - h->resp.len ? sz * n : 65536 - h->resp.len);
	return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct weft_http *h = ud;
	size_t len = sz * n;
	static const char name[] = "retry-after:";

	if (len > sizeof(name) - 1 && !strncasecmp(p, name, sizeof(name) - 1)) {
		char val[128];
		size_t vl = len - (sizeof(name) - 1);
		char *v = val, *end;
		long secs;

		if (vl >= sizeof(val))
			vl = sizeof(val) - 1;
		memcpy(val, p + sizeof(name) - 1, vl);
		val[vl] = '\0';
		while (*v == ' ' || *v == '\t')
			v++;
		for (end = v + strlen(v); end > v && isspace((unsigned char)end[-1]);)
			*--end = '\0';
		secs = strtol(v, &end, 10);
		if (end != v && !*end && secs >= 0) {
			h->retry_after_ms = secs * 1000;
		} else {
			time_t when = h->cu->getdate(v, NULL);

			if (when > 0)
				h->retry_after_ms = (long)(when - time(NULL)) * 1000;
			if (h->retry_after_ms < 0)
				h->retry_after_ms = 0;
		}
		if (h->retry_after_ms > RETRY_AFTER_MAX_MS)
			h->retry_after_ms = RETRY_AFTER_MAX_MS;
	}
	return len;
}

static int add_header(struct weft_http *h, const char *line)
{
	struct curl_slist *l = h->cu->slist_append(h->headers, line);

	if (!l)
		return -1;
	h->headers = l;
	return 0;
}

struct weft_http *weft_http_new(const struct weft_export_config *cfg, char *err, size_t errlen)
{
	const struct weft_curl *cu = weft_curl_get(err, errlen);
	struct weft_http *h;
	char line[4096];

	if (!cu)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (h)
		h->cu = cu;
	if (!h || !(h->curl = cu->easy_init()) || !(h->multi = cu->multi_init())) {
		snprintf(err, errlen, "cannot create a libcurl handle: out of memory?");
		weft_http_free(h);
		return NULL;
	}
	h->gzip = cfg->gzip;
	if (add_header(h, cfg->proto == WEFT_OTLP_JSON ? "Content-Type: application/json"
						       : "Content-Type: application/x-protobuf") ||
	    (cfg->gzip && add_header(h, "Content-Encoding: gzip")) || add_header(h, "Expect:"))
		goto oom;
	for (size_t i = 0; i < cfg->headers.n; i++) {
		snprintf(line, sizeof(line), "%s: %s", cfg->headers.v[i].key,
			 cfg->headers.v[i].value);
		if (add_header(h, line))
			goto oom;
	}
	cu->easy_setopt(h->curl, CURLOPT_URL, cfg->url);
	cu->easy_setopt(h->curl, CURLOPT_POST, 1L);
	cu->easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers);
	cu->easy_setopt(h->curl, CURLOPT_USERAGENT, "weft/" WEFT_VERSION);
	cu->easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
	cu->easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
	cu->easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, cfg->timeout_ms);
	cu->easy_setopt(h->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	cu->easy_setopt(h->curl, CURLOPT_TCP_NODELAY, 1L);
	cu->easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body);
	cu->easy_setopt(h->curl, CURLOPT_WRITEDATA, h);
	cu->easy_setopt(h->curl, CURLOPT_HEADERFUNCTION, on_header);
	cu->easy_setopt(h->curl, CURLOPT_HEADERDATA, h);
	cu->easy_setopt(h->curl, CURLOPT_ERRORBUFFER, h->errbuf);
	cu->easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	if (cfg->ca_file)
		cu->easy_setopt(h->curl, CURLOPT_CAINFO, cfg->ca_file);
	if (cfg->client_cert)
		cu->easy_setopt(h->curl, CURLOPT_SSLCERT, cfg->client_cert);
	if (cfg->client_key)
		cu->easy_setopt(h->curl, CURLOPT_SSLKEY, cfg->client_key);
	if (cfg->gzip) {
		/* windowBits 15 + 16: gzip framing; level 1: fast, still ~5x on spans */
		if (deflateInit2(&h->zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			goto oom;
		h->zs_ready = true;
	}
	return h;
oom:
	snprintf(err, errlen, "cannot set up the OTLP transport: out of memory");
	weft_http_free(h);
	return NULL;
}

void weft_http_free(struct weft_http *h)
{
	if (!h)
		return;
	if (h->multi)
		h->cu->multi_cleanup(h->multi);
	if (h->curl)
		h->cu->easy_cleanup(h->curl);
	if (h->headers)
		h->cu->slist_free_all(h->headers);
	if (h->zs_ready)
		deflateEnd(&h->zs);
	wbuf_free(&h->gz);
	wbuf_free(&h->resp);
	free(h);
}

static int gzip_body(struct weft_http *h, const void *body, size_t len)
{
	size_t bound = deflateBound(&h->zs, len) + 32;

	wbuf_reset(&h->gz);
	if (h->gz.cap < bound && !wbuf_grow(&h->gz, bound))
		return -1;
	deflateReset(&h->zs);
	h->zs.next_in = (Bytef *)body;
	h->zs.avail_in = (uInt)len;
	h->zs.next_out = (Bytef *)h->gz.p;
	h->zs.avail_out = (uInt)h->gz.cap;
	if (deflate(&h->zs, Z_FINISH) != Z_STREAM_END)
		return -1;
	h->gz.len = h->gz.cap - h->zs.avail_out;
	return 0;
}

void weft_http_set_deadline(struct weft_http *h, uint64_t mono_ns)
{
	atomic_store(&h->deadline, mono_ns);
	h->cu->multi_wakeup(h->multi);
}

/*
 * curl_easy_perform, but on the multi handle: the wait wakes up when
 * weft_http_set_deadline() is called and ends the transfer at the deadline
 * (CURLE_ABORTED_BY_CALLBACK). The connection cache lives in the multi
 * handle, so keep-alive works as with the easy interface.
 */
static CURLcode perform(struct weft_http *h)
{
	CURLcode rc = CURLE_OK;
	CURLMsg *msg;
	int running = 1, left;

	const struct weft_curl *cu = h->cu;

	if (cu->multi_add_handle(h->multi, h->curl) != CURLM_OK)
		return CURLE_OUT_OF_MEMORY;
	for (;;) {
		uint64_t dl, now;
		int wait_ms = 1000;

		if (cu->multi_perform(h->multi, &running) != CURLM_OK) {
			rc = CURLE_OUT_OF_MEMORY;
			break;
		}
		if (!running)
			break;
		dl = atomic_load(&h->deadline);
		if (dl) {
			now = mono_ns();
			if (now >= dl) {
				rc = CURLE_ABORTED_BY_CALLBACK;
				break;
			}
			if (dl - now < 1000000000ull)
				wait_ms = (int)((dl - now) / 1000000ull) + 1;
		}
		if (cu->multi_poll(h->multi, NULL, 0, wait_ms, NULL) != CURLM_OK) {
			rc = CURLE_OUT_OF_MEMORY;
			break;
		}
	}
	if (!running)
		while ((msg = cu->multi_info_read(h->multi, &left)))
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == h->curl)
				rc = msg->data.result;
	cu->multi_remove_handle(h->multi, h->curl);
	return rc;
}

int weft_http_post(struct weft_http *h, const void *body, size_t len, struct weft_http_result *res)
{
	CURLcode rc;

	res->status = 0;
	res->retry_after_ms = -1;
	res->error[0] = '\0';
	res->body = &h->resp;
	wbuf_reset(&h->resp);
	h->retry_after_ms = -1;
	h->errbuf[0] = '\0';
	if (h->gzip) {
		if (gzip_body(h, body, len)) {
			snprintf(res->error, sizeof(res->error), "gzip compression failed");
			return -1;
		}
		body = h->gz.p;
		len = h->gz.len;
	}
	h->cu->easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
	h->cu->easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	rc = perform(h);
	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		snprintf(res->error, sizeof(res->error),
			 "no answer before the shutdown deadline (OTEL_EXPORTER_OTLP_TIMEOUT)");
		return -1;
	}
	if (rc != CURLE_OK) {
		snprintf(res->error, sizeof(res->error), "%s",
			 h->errbuf[0] ? h->errbuf : h->cu->easy_strerror(rc));
		return -1;
	}
	h->cu->easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &res->status);
	res->retry_after_ms = h->retry_after_ms;
	return 0;
}

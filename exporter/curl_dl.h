/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libcurl, loaded with dlopen the first time an OTLP transport is made.
 *
 * Linked normally, libcurl's dependencies (its TLS, LDAP, Kerberos, RTMP and
 * SSH libraries, with gnutls initialising itself in a constructor) are
 * mapped and touched at every start: about 5.5 MB of an injector's RSS, also
 * when spans only go to a JSON-lines file, and on top of the kernel BTF that
 * libbpf parses while loading (the injector's peak). Loaded on demand, only
 * an exporter with an OTLP endpoint pays it, and an injector that makes its
 * exporter after loading its BPF objects never pays both at once.
 */
#ifndef WEFT_EXPORT_CURL_DL_H
#define WEFT_EXPORT_CURL_DL_H

#include <stddef.h>
#include <curl/curl.h>

/* The libcurl functions the transport calls, with libcurl's own prototypes. */
struct weft_curl {
	__typeof__(curl_global_init) *global_init;
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_setopt) *easy_setopt;
	__typeof__(curl_easy_getinfo) *easy_getinfo;
	__typeof__(curl_easy_cleanup) *easy_cleanup;
	__typeof__(curl_easy_strerror) *easy_strerror;
	__typeof__(curl_getdate) *getdate;
	__typeof__(curl_multi_init) *multi_init;
	__typeof__(curl_multi_add_handle) *multi_add_handle;
	__typeof__(curl_multi_remove_handle) *multi_remove_handle;
	__typeof__(curl_multi_perform) *multi_perform;
	__typeof__(curl_multi_poll) *multi_poll;
	__typeof__(curl_multi_wakeup) *multi_wakeup;
	__typeof__(curl_multi_info_read) *multi_info_read;
	__typeof__(curl_multi_cleanup) *multi_cleanup;
	__typeof__(curl_slist_append) *slist_append;
	__typeof__(curl_slist_free_all) *slist_free_all;
};

/*
 * libcurl loaded and globally initialised (once per process, thread-safe),
 * or NULL with one line saying what failed and what to do in err.
 */
const struct weft_curl *weft_curl_get(char *err, size_t errlen);

#endif /* WEFT_EXPORT_CURL_DL_H */

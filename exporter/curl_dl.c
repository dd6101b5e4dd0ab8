// SPDX-License-Identifier: BSD-2-Clause
/* libcurl loaded on first use: see curl_dl.h. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include "curl_dl.h"

#define LIBCURL_SONAME "libcurl.so.4"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct weft_curl fns;
static const struct weft_curl *loaded;
static char why[256];

/* Each symbol into its member; false (and why) when one is missing. */
static bool bind_all(void *h)
{
	static const struct {
		const char *name;
		size_t off;
	} syms[] = {
#define SYM(member, name) {name, offsetof(struct weft_curl, member)}
	    SYM(global_init, "curl_global_init"),
	    SYM(easy_init, "curl_easy_init"),
	    SYM(easy_setopt, "curl_easy_setopt"),
	    SYM(easy_getinfo, "curl_easy_getinfo"),
	    SYM(easy_cleanup, "curl_easy_cleanup"),
	    SYM(easy_strerror, "curl_easy_strerror"),
	    SYM(getdate, "curl_getdate"),
	    SYM(multi_init, "curl_multi_init"),
	    SYM(multi_add_handle, "curl_multi_add_handle"),
	    SYM(multi_remove_handle, "curl_multi_remove_handle"),
	    SYM(multi_perform, "curl_multi_perform"),
	    SYM(multi_poll, "curl_multi_poll"),
	    SYM(multi_wakeup, "curl_multi_wakeup"),
	    SYM(multi_info_read, "curl_multi_info_read"),
	    SYM(multi_cleanup, "curl_multi_cleanup"),
	    SYM(slist_append, "curl_slist_append"),
	    SYM(slist_free_all, "curl_slist_free_all"),
#undef SYM
	};

	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *p = dlsym(h, syms[i].name);

		if (!p) {
			snprintf(why, sizeof(why),
				 "%s has no %s: install libcurl 7.85 or newer (libcurl4)",
				 LIBCURL_SONAME, syms[i].name);
			return false;
		}
		/* POSIX: a function's address converts through void * */
		*(void **)((char *)&fns + syms[i].off) = p;
	}
	return true;
}

static void load(void)
{
	void *h = dlopen(LIBCURL_SONAME, RTLD_LAZY | RTLD_LOCAL);
	CURLcode rc;

	if (!h) {
		snprintf(why, sizeof(why), "cannot load %s (%s): install libcurl4 for OTLP export",
			 LIBCURL_SONAME, dlerror());
		return;
	}
	if (!bind_all(h)) {
		dlclose(h);
		return;
	}
	rc = fns.global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK) {
		snprintf(why, sizeof(why), "cannot initialise libcurl: %s: check the libcurl install",
			 fns.easy_strerror(rc));
		return; /* stays loaded: a failed global init is not undone by dlclose */
	}
	loaded = &fns;
}

const struct weft_curl *weft_curl_get(char *err, size_t errlen)
{
	pthread_once(&once, load);
	if (!loaded)
		snprintf(err, errlen, "%s", why);
	return loaded;
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * Random bytes from getrandom(2), drawn RANDOM_POOL bytes at a time into a
 * per-thread pool: a span id per span would otherwise cost a system call
 * each (two per new trace). Bytes handed out are forgotten; a forked child
 * starts with an empty pool, so parent and child never share bytes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "log.h"
#include "random.h"

#define RANDOM_POOL 512

static _Thread_local struct {
	unsigned char b[RANDOM_POOL];
	size_t left; /* unused bytes, at the end of b */
} pool;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void pool_forget(void)
{
	explicit_bzero(&pool, sizeof(pool));
}

static void atfork_register(void)
{
	pthread_atfork(NULL, NULL, pool_forget);
}

static void getrandom_all(unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t got = getrandom(p, n, 0);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			weft_err("getrandom failed: %s: this kernel is too old for weft",
				 "no entropy source");
			abort();
		}
		p += got;
		n -= (size_t)got;
	}
}

void weft_random_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;

	if (n > RANDOM_POOL / 4) {
		getrandom_all(p, n);
		return;
	}
	if (pool.left < n) {
		pthread_once(&atfork_once, atfork_register);
		getrandom_all(pool.b, RANDOM_POOL);
		pool.left = RANDOM_POOL;
	}
	memcpy(p, pool.b + RANDOM_POOL - pool.left, n);
	explicit_bzero(pool.b + RANDOM_POOL - pool.left, n);
	pool.left -= n;
}

void weft_random_id(uint8_t *id, size_t n)
{
	for (;;) {
		unsigned char any = 0;

		weft_random_bytes(id, n);
		for (size_t i = 0; i < n; i++)
			any |= id[i];
		if (any)
			return;
	}
}

uint64_t weft_random_u64(void)
{
	uint64_t v;

	weft_random_bytes(&v, sizeof(v));
	return v;
}

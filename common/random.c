// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>
#include "log.h"
#include "random.h"

void weft_random_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;

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

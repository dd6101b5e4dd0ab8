// SPDX-License-Identifier: BSD-2-Clause
/* Content hash of binaries: XXH3-128 over the mapped file, lowercase hex. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include "offsets.h"

void weft_hash_mem(const void *buf, size_t len, char out[33])
{
	XXH128_canonical_t c;
	XXH128_hash_t h = XXH3_128bits(buf, len);

	XXH128_canonicalFromHash(&c, h);
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", c.digest[i]);
}

/*
 * Streaming over read() in 1 MiB chunks: the whole file never counts in the
 * resident set at once (a mapping of a large binary would).
 */
int weft_hash_fd(int fd, char out[33])
{
	enum { CHUNK = 1 << 20 };
	XXH128_canonical_t c;
	XXH3_state_t *st;
	struct stat sb;
	off_t pos = 0;
	char *buf;
	int rc = 0;

	if (fstat(fd, &sb))
		return -errno;
	if (!S_ISREG(sb.st_mode))
		return -EINVAL;
	st = XXH3_createState();
	buf = malloc(CHUNK);
	if (!st || !buf) {
		XXH3_freeState(st);
		free(buf);
		return -ENOMEM;
	}
	XXH3_128bits_reset(st);
	for (;;) {
		ssize_t n = pread(fd, buf, CHUNK, pos);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		XXH3_128bits_update(st, buf, (size_t)n);
		pos += n;
	}
	if (!rc) {
		XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
		for (int i = 0; i < 16; i++)
			snprintf(out + 2 * i, 3, "%02x", c.digest[i]);
	}
	XXH3_freeState(st);
	free(buf);
	return rc;
}

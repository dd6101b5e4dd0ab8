// SPDX-License-Identifier: BSD-2-Clause
/* Content hash of binaries: XXH3-128 of the file's bytes, lowercase hex. */
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
 * Streaming by pread() in 2 MiB chunks. Not through a file mapping: a file
 * truncated while it is hashed would raise SIGBUS there; here it is an error
 * (-EIO), as is any other change of size while it is read.
 */
int weft_hash_fd(int fd, char out[33])
{
	enum { CHUNK = 2 << 20 };
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
	while (pos < sb.st_size) {
		size_t want =
		    (size_t)(sb.st_size - pos) < CHUNK ? (size_t)(sb.st_size - pos) : CHUNK;
		ssize_t n = pread(fd, buf, want, pos);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO; /* n == 0: truncated meanwhile */
			break;
		}
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

// SPDX-License-Identifier: BSD-2-Clause
/* Content hash of binaries: XXH3-128 over the mapped file, lowercase hex. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
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
 * Streaming over read-only mappings of 2 MiB windows, each populated at once
 * and unmapped after use: no copy out of the page cache (as read() would
 * make), few faults, and never more than one window in the resident set.
 * Falls back to pread() where the file cannot be mapped. As with any file
 * mapping, a file truncated while it is hashed raises SIGBUS (the executable
 * of a running process cannot be written: ETXTBSY).
 */
int weft_hash_fd(int fd, char out[33])
{
	enum { WINDOW = 2 << 20, CHUNK = 1 << 20 };
	XXH128_canonical_t c;
	XXH3_state_t *st;
	struct stat sb;
	off_t pos = 0;
	char *buf = NULL;
	int rc = 0;

	if (fstat(fd, &sb))
		return -errno;
	if (!S_ISREG(sb.st_mode))
		return -EINVAL;
	st = XXH3_createState();
	if (!st)
		return -ENOMEM;
	XXH3_128bits_reset(st);
	while (pos < sb.st_size) {
		size_t len =
		    (size_t)(sb.st_size - pos) < WINDOW ? (size_t)(sb.st_size - pos) : WINDOW;
		void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, pos);

		if (map == MAP_FAILED)
			break;
		XXH3_128bits_update(st, map, len);
		munmap(map, len);
		pos += (off_t)len;
	}
	/* The rest, if the file cannot be mapped, by reads. */
	while (pos < sb.st_size) {
		ssize_t n;

		if (!buf && !(buf = malloc(CHUNK))) {
			rc = -ENOMEM;
			break;
		}
		n = pread(fd, buf, CHUNK, pos);
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

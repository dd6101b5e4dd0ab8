// SPDX-License-Identifier: BSD-2-Clause
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "container.h"

int weft_proc_cgroup(pid_t pid, char *out, size_t len)
{
	char path[64], line[4096 + 8];
	FILE *f;
	int rc = -1;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = 0;
		snprintf(out, len, "%s", line + 3);
		rc = 0;
		break;
	}
	fclose(f);
	return rc;
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}

/* A pod uid at s (36 chars, '-' or '_' between 8-4-4-4-12 hex groups). */
static bool pod_uid(const char *s, size_t n, char pod[37])
{
	static const int dash[] = {8, 13, 18, 23};

	if (n != 36)
		return false;
	for (size_t i = 0, d = 0; i < 36; i++) {
		if (d < 4 && (int)i == dash[d]) {
			if (s[i] != '-' && s[i] != '_')
				return false;
			pod[i] = '-';
			d++;
		} else if (isxdigit((unsigned char)s[i])) {
			pod[i] = (char)tolower((unsigned char)s[i]);
		} else {
			return false;
		}
	}
	pod[36] = 0;
	return true;
}

void weft_cgroup_ids(const char *path, char cid[65], char pod[37])
{
	const char *c = path;

	cid[0] = pod[0] = 0;
	while (c && *c) {
		const char *end = strchr(c, '/'), *p;
		size_t n = end ? (size_t)(end - c) : strlen(c);

		/* "<prefix>-<id>.scope", "<id>.scope" or "<id>" */
		if (n > 6 && !memcmp(c + n - 6, ".scope", 6))
			n -= 6;
		if (n >= 64 && all_hex(c + n - 64, 64) && (n == 64 || c[n - 65] == '-')) {
			memcpy(cid, c + n - 64, 64);
			cid[64] = 0;
		}
		/* "pod<uid>" (cgroupfs) or "...-pod<uid_>.slice" (systemd) */
		n = end ? (size_t)(end - c) : strlen(c);
		if (n > 6 && !memcmp(c + n - 6, ".slice", 6))
			n -= 6;
		for (p = c; p + 3 <= c + n; p++) {
			if (memcmp(p, "pod", 3) || (p != c && p[-1] != '-'))
				continue;
			if (pod_uid(p + 3, n - (size_t)(p + 3 - c), pod))
				break;
		}
		c = end ? end + 1 : NULL;
	}
}

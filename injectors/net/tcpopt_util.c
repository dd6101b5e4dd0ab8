// SPDX-License-Identifier: BSD-2-Clause
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include "tcpopt_util.h"

int tcpopt_cgroup_info(const char *path, uint64_t *id, uint32_t *level, char *err, size_t errlen)
{
	char real[PATH_MAX], up[PATH_MAX];
	struct statfs fs;
	struct stat st;
	uint32_t n = 0;

	if (!realpath(path, real) || stat(real, &st) || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "cannot open cgroup %s: %s: pass a cgroup v2 directory", path,
			 strerror(errno ? errno : ENOTDIR));
		return -1;
	}
	if (statfs(real, &fs) || fs.f_type != CGROUP2_SUPER_MAGIC) {
		snprintf(err, errlen,
			 "%s is not on a cgroup v2 file system: pass a cgroup v2 directory", path);
		return -1;
	}
	*id = st.st_ino;
	/* Count how many parents are still on cgroup2: that is the level. */
	snprintf(up, sizeof(up), "%s", real);
	for (;;) {
		char *slash = strrchr(up, '/');

		if (!slash || slash == up)
			break;
		*slash = '\0';
		if (statfs(up, &fs) || fs.f_type != CGROUP2_SUPER_MAGIC)
			break;
		n++;
	}
	*level = n;
	return 0;
}

int tcpopt_parse_cidr(const char *s, struct weft_tcpopt_cidr *out)
{
	char addr[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	long plen = -1;
	struct in_addr a4;

	if (alen == 0 || alen >= sizeof(addr))
		return -1;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (slash) {
		char *end;

		errno = 0;
		plen = strtol(slash + 1, &end, 10);
		if (errno || *end || end == slash + 1 || plen < 0)
			return -1;
	}
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, addr, &a4) == 1) {
		if (plen > 32)
			return -1;
		out->addr[10] = 0xff;
		out->addr[11] = 0xff;
		memcpy(out->addr + 12, &a4, 4);
		out->prefixlen = 96 + (uint32_t)(plen < 0 ? 32 : plen);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, out->addr) == 1) {
		if (plen > 128)
			return -1;
		out->prefixlen = (uint32_t)(plen < 0 ? 128 : plen);
		return 0;
	}
	return -1;
}

const char *tcpopt_find_libssl(const char *explicit_path)
{
	static const char *const places[] = {
	    "/usr/lib/x86_64-linux-gnu/libssl.so.3",
	    "/usr/lib/aarch64-linux-gnu/libssl.so.3",
	    "/lib/x86_64-linux-gnu/libssl.so.3",
	    "/usr/lib64/libssl.so.3",
	    "/usr/lib/libssl.so.3",
	};

	if (explicit_path)
		return access(explicit_path, R_OK) == 0 ? explicit_path : NULL;
	for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++)
		if (access(places[i], R_OK) == 0)
			return places[i];
	return NULL;
}

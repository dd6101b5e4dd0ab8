// SPDX-License-Identifier: BSD-2-Clause
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "go_procs.h"

uint64_t go_kdev(dev_t dev)
{
	return ((uint64_t)major(dev) << 20) | minor(dev);
}

int go_procs_of(dev_t dev, ino_t ino, void (*fn)(pid_t pid, void *arg), void *arg)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[64], *end;
		struct stat st;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/exe", pid);
		if (stat(path, &st) || st.st_dev != dev || st.st_ino != ino)
			continue;
		fn((pid_t)pid, arg);
		n++;
	}
	closedir(d);
	return n;
}

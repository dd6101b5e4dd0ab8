// SPDX-License-Identifier: BSD-2-Clause
/* Processes and symbols for weft-http's runtime rules: see rt_proc.h. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "offsets.h"
#include "rt_proc.h"

const char *weft_rt_cgroup_rel(const char *cgroup, const char *root)
{
	size_t rl = strlen(root);

	return strncmp(cgroup, root, rl) == 0 ? cgroup + rl : "";
}

bool weft_rt_in_target(const char *cgroup_rel, int pid)
{
	char path[64], line[4096];
	size_t n = strlen(cgroup_rel);
	bool yes = false;
	FILE *f;

	if (!n)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "::");

		if (strncmp(line, "0::", 3) || !p)
			continue;
		p += 2;
		p[strcspn(p, "\n")] = 0;
		yes = strncmp(p, cgroup_rel, n) == 0 && (p[n] == 0 || p[n] == '/');
	}
	fclose(f);
	return yes;
}

void weft_rt_scan(const char *cgroup_rel, void (*consider)(int pid))
{
	struct dirent *de;
	DIR *d = opendir("/proc");

	while (d && (de = readdir(d)))
		if (isdigit((unsigned char)de->d_name[0]) &&
		    weft_rt_in_target(cgroup_rel, atoi(de->d_name)))
			consider(atoi(de->d_name));
	if (d)
		closedir(d);
}

/*
 * Run weft-analyze on path (next to this program, else on PATH): it stores the
 * record (runtime "nginx", "python" for those) and says on stderr why it failed.
 */
static void run_analyzer(const char *path)
{
	char self[PATH_MAX], tool[PATH_MAX + 16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	pid_t pid;
	int st;

	snprintf(tool, sizeof(tool), "weft-analyze");
	if (n > 0) {
		self[n] = 0;
		snprintf(tool, sizeof(tool), "%s/weft-analyze", dirname(self));
		if (access(tool, X_OK))
			snprintf(tool, sizeof(tool), "weft-analyze");
	}
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		execlp(tool, tool, path, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, &st, 0);
}

struct weft_record *weft_rt_record(int fd, const char *path, bool *nodb, char *err,
				   size_t errlen)
{
	struct weft_record *rec = NULL;
	struct weft_db *db = weft_db_open(NULL, WEFT_DB_STRICT, err, errlen);

	*nodb = false;
	if (!db || weft_db_lookup_fd(db, fd, path, &rec, err, errlen) == -ENOENT) {
		weft_db_close(db);
		run_analyzer(path);
		if (errlen)
			err[0] = 0;
		db = weft_db_open(NULL, WEFT_DB_STRICT, err, errlen);
		if (!db) {
			*nodb = true;
			return NULL;
		}
		weft_db_lookup_fd(db, fd, path, &rec, err, errlen);
	}
	weft_db_close(db);
	return rec;
}

// SPDX-License-Identifier: BSD-2-Clause
/* Event-loop threads: see loop_threads.h and bpf/net/loop_thread.bpf.h. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>

#include "log.h"
#include "mounts.h"
#include "loop_threads.h"

#define WEFT_UNCERTAIN_LOOP 0x2 /* bpf/net/server_ctx.bpf.h */

int weft_loop_attach(struct bpf_object *obj, struct bpf_link **links, int *n, int max)
{
	struct bpf_program *p;

	weft_ensure_tracefs();	/* syscall tracepoints */
	bpf_object__for_each_program(p, obj)
	{
		if (strncmp(bpf_program__name(p), "weft_loop_", 10))
			continue;
		if (*n >= max) {
			weft_err("too many links: cannot attach %s", bpf_program__name(p));
			return -1;
		}
		links[*n] = bpf_program__attach(p);
		if (!links[(*n)++]) {
			weft_err("cannot attach %s: %s: mount tracefs at /sys/kernel/tracing",
				 bpf_program__name(p), strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Is the syscall line of /proc/PID/task/TID/syscall a wait on several fds? */
static bool waits_on_many(const char *line)
{
	unsigned long long a[7] = {0};
	long nr;

	if (!isdigit((unsigned char)line[0]))
		return false; /* "running" */
	if (sscanf(line, "%ld %llx %llx %llx %llx %llx %llx", &nr, &a[0], &a[1], &a[2], &a[3],
		   &a[4], &a[5]) < 2)
		return false;
	switch (nr) {
#ifdef SYS_epoll_wait
	case SYS_epoll_wait:
#endif
	case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
	case SYS_epoll_pwait2:
#endif
		return true;
#ifdef SYS_poll
	case SYS_poll:
#endif
	case SYS_ppoll:
		return a[1] >= 2;
#ifdef SYS_select
	case SYS_select:
#endif
	case SYS_pselect6:
		return a[0] >= 2; /* the sets are not read here: count it a loop */
	}
	return false;
}

int weft_loop_prescan(int uncertain_fd)
{
	DIR *proc = opendir("/proc"), *tasks;
	struct dirent *pe, *te;
	int marked = 0;

	if (!proc)
		return 0;
	while ((pe = readdir(proc))) {
		char path[600], line[256];

		if (!isdigit((unsigned char)pe->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task", pe->d_name);
		tasks = opendir(path);
		if (!tasks)
			continue;
		while ((te = readdir(tasks))) {
			unsigned long long key;
			__u32 mark = WEFT_UNCERTAIN_LOOP, old = 0;
			FILE *f;

			if (!isdigit((unsigned char)te->d_name[0]))
				continue;
			snprintf(path, sizeof(path), "/proc/%s/task/%s/syscall", pe->d_name,
				 te->d_name);
			f = fopen(path, "re");
			if (!f)
				continue;
			if (fgets(line, sizeof(line), f) && waits_on_many(line)) {
				key = strtoull(pe->d_name, NULL, 10) << 32 |
				      strtoull(te->d_name, NULL, 10);
				if (!bpf_map_lookup_elem(uncertain_fd, &key, &old))
					mark |= old;
				if (!bpf_map_update_elem(uncertain_fd, &key, &mark, BPF_ANY))
					marked++;
			}
			fclose(f);
		}
		closedir(tasks);
	}
	closedir(proc);
	return marked;
}

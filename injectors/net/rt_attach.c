// SPDX-License-Identifier: BSD-2-Clause
/* weft-http's runtime attach thread: see rt_attach.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>

#include "log.h"
#include "rt_attach.h"
#include "rt_proc.h"

#define MAX_RULES 4

/* One queued job: rule's consider(pid), or a scan of the cgroup (pid 0). */
struct job {
	__u32 rule, pid;
};

static struct {
	struct {
		void (*consider)(int pid);
		const char *cgroup_rel;
	} rules[MAX_RULES];
	int nrules, queue[2];
	pthread_t thread;
	bool running;
	unsigned long dropped;
} g = {.queue = {-1, -1}};

static void *attacher(void *arg)
{
	struct job j;

	(void)arg;
	while (read(g.queue[0], &j, sizeof(j)) == (ssize_t)sizeof(j)) {
		if (j.rule >= (__u32)MAX_RULES || !g.rules[j.rule].consider)
			continue;
		if (j.pid)
			g.rules[j.rule].consider((int)j.pid);
		else
			weft_rt_scan(g.rules[j.rule].cgroup_rel, g.rules[j.rule].consider);
	}
	return NULL;
}

/* Writes of a job are atomic (< PIPE_BUF); a full queue (a storm of execs) drops it. */
static int queue_job(__u32 rule, __u32 pid)
{
	struct job j = {.rule = rule, .pid = pid};

	return write(g.queue[1], &j, sizeof(j)) == (ssize_t)sizeof(j) ? 0 : -1;
}

static int on_exec(void *ctx, void *data, size_t len)
{
	/* that process is not looked at: its calls start new traces (said at stop) */
	if (len >= sizeof(__u32) && queue_job((__u32)(long)ctx, *(__u32 *)data))
		g.dropped++;
	return 0;
}

static int start(void)
{
	if (pipe2(g.queue, O_CLOEXEC)) {
		weft_err("cannot make the queue of processes to probe: %s", strerror(errno));
		return -1;
	}
	fcntl(g.queue[1], F_SETFL, O_NONBLOCK);
	errno = pthread_create(&g.thread, NULL, attacher, NULL);
	if (errno) {
		weft_err("cannot start the runtime attach thread: %s", strerror(errno));
		return -1;
	}
	g.running = true;
	return 0;
}

int weft_rt_attach_add(struct ring_buffer *rb, int execs_fd, const char *cgroup_rel,
		       void (*consider)(int pid))
{
	__u32 r = (__u32)g.nrules;

	if (g.nrules >= MAX_RULES) {
		weft_err("more than %d runtime rules: raise MAX_RULES in rt_attach.c", MAX_RULES);
		return -1;
	}
	if (!g.running && start())
		return -1;
	/* set before the first job naming it is queued (the pipe orders them) */
	g.rules[r].consider = consider;
	g.rules[r].cgroup_rel = cgroup_rel;
	g.nrules++;
	if (ring_buffer__add(rb, execs_fd, on_exec, (void *)(long)r)) {
		weft_err("cannot watch execs: %s", strerror(errno));
		return -1;
	}
	if (queue_job(r, 0)) {
		weft_err("cannot queue the scan of the running processes: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void weft_rt_attach_stop(void)
{
	if (!g.running)
		return;
	close(g.queue[1]); /* the thread finishes the queue, sees the end and returns */
	pthread_join(g.thread, NULL);
	close(g.queue[0]);
	g.running = false;
	if (g.dropped)
		weft_warn("%lu processes were not looked at for runtimes (too many execs at "
			  "once): their outgoing requests started new traces",
			  g.dropped);
}

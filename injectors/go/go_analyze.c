// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "go_analyze.h"

#define STOP_GRACE_MS 2000 /* after SIGTERM, weft-analyze gets this long, then SIGKILL */

static volatile sig_atomic_t child_pid, stop_requested;

void go_analyze_stop(void)
{
	stop_requested = 1;
	if (child_pid > 0)
		kill((pid_t)child_pid, SIGTERM);
}

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* weft-analyze beside /proc/self/exe, else the bare name (PATH). */
static void analyzer_path(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	snprintf(out, len, "weft-analyze");
	if (n <= 0)
		return;
	self[n] = 0;
	slash = strrchr(self, '/');
	if (!slash)
		return;
	if ((size_t)(slash - self) + sizeof("/weft-analyze") > len)
		return;
	memcpy(out, self, (size_t)(slash - self));
	memcpy(out + (slash - self), "/weft-analyze", sizeof("/weft-analyze"));
	if (access(out, X_OK))
		snprintf(out, len, "weft-analyze");
}

int go_analyze_child(const char *dbdir, int fd, const char *path, char *err, size_t errlen)
{
	char prog[PATH_MAX], target[PATH_MAX], out[1024], *line;
	struct stat a, b;
	int pfd[2], status;
	ssize_t got = 0;
	pid_t pid, parent = getpid();
	long long stop_at = 0;

	if (stop_requested) {
		snprintf(err, errlen, "not started: weft-go is stopping");
		return -1;
	}
	analyzer_path(prog, sizeof(prog));
	/* The file as opened, unless its path still names the same file. */
	if (fstat(fd, &a) || stat(path, &b) || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
	else
		snprintf(target, sizeof(target), "%s", path);
	if (pipe2(pfd, O_CLOEXEC)) {
		snprintf(err, errlen, "cannot run weft-analyze: pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "cannot run weft-analyze: fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		int nfd;

		/* It dies with weft-go, however weft-go ends (set, then check). */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() != parent)
			_exit(126);
		signal(SIGPIPE, SIG_DFL);
		nfd = open("/dev/null", O_RDWR);

		/* Its summary (stdout) is not needed; its reasons come on stderr. */
		if (nfd >= 0) {
			dup2(nfd, 0);
			dup2(nfd, 1);
		}
		dup2(pfd[1], 2);
		/* The fd stays open across exec (dup2 clears FD_CLOEXEC). */
		if (strncmp(target, "/proc/self/fd/", 14) == 0)
			fcntl(fd, F_SETFD, 0);
		execlp(prog, prog, "--db", dbdir, "-j", "1", "--verbose", target, (char *)NULL);
		dprintf(2, "cannot execute %s: %s\n", prog, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	child_pid = pid;
	if (stop_requested) /* the stop came before child_pid was set */
		kill(pid, SIGTERM);
	/*
	 * Keep the tail of what it prints: its last line says why it skipped or
	 * failed. A stop request (go_analyze_stop from the signal handler) sends
	 * it SIGTERM; one that has not ended STOP_GRACE_MS later gets SIGKILL.
	 */
	for (;;) {
		struct pollfd pf = {.fd = pfd[0], .events = POLLIN};
		ssize_t r;

		if (stop_requested && !stop_at)
			stop_at = ms_now();
		if (stop_at && ms_now() - stop_at >= STOP_GRACE_MS) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&pf, 1, stop_at ? 100 : -1) <= 0)
			continue; /* EINTR: a signal; 0: time to check the grace period */
		r = read(pfd[0], out + got, sizeof(out) - 1 - (size_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += r;
		if (got == (ssize_t)sizeof(out) - 1) { /* keep the second half */
			memmove(out, out + sizeof(out) / 2, (size_t)got - sizeof(out) / 2);
			got -= sizeof(out) / 2;
		}
	}
	close(pfd[0]);
	out[got] = 0;
	while (got > 0 && (out[got - 1] == '\n' || out[got - 1] == ' '))
		out[--got] = 0;
	line = strrchr(out, '\n');
	line = line ? line + 1 : out;
	if (strncmp(line, "weft-analyze: ", 14) == 0)
		line += 14;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	child_pid = 0;
	if (stop_requested) {
		snprintf(err, errlen, "weft-analyze stopped: weft-go got a stop signal");
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "%s failed (status %d): %s", prog,
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1, *line ? line : "no message");
		return -1;
	}
	snprintf(err, errlen, "%s", line);
	return 0;
}

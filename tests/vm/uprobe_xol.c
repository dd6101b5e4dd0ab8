// SPDX-License-Identifier: BSD-2-Clause
/*
 * uprobe_xol: do uprobes leave the probed code's results alone on this machine?
 *
 *   uprobe_xol [SECONDS]       (default 5; root, tracefs at /sys/kernel/tracing)
 *
 * The kernel runs a probed instruction out of line: it copies it into a slot
 * of the process's "[uprobes]" page for each hit and single-steps it there,
 * then moves the IP on by the instruction's length. Two functions here start
 * with instructions of different lengths (8 bytes: lea -0x1a0(%rsp),%rax;
 * 4 bytes: cmp 0x10(%rdi),%rsp, the shape of Go's function prologues); both
 * get a uprobe (tracefs uprobe_events, no BPF) and four threads call them in a
 * loop, checking their results. When the machine runs a slot's previous
 * instruction instead of the one just copied there, a call returns a wrong
 * result or the process dies of SIGILL, its IP inside an instruction.
 *
 * Prints the calls and the probes' hit counts; exit 0 when every result was
 * right, 1 when some were wrong, 2 on a set-up error.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TRACEFS "/sys/kernel/tracing"
#define NTHREADS 4

long xol_long(void);
long xol_short(const void *p);
__asm__(".text\n"
	".globl xol_long\n.type xol_long,@function\n.p2align 4\nxol_long:\n"
	"\tlea -0x1a0(%rsp), %rax\n\tsub %rsp, %rax\n\tret\n"
	".globl xol_short\n.type xol_short,@function\n.p2align 4\nxol_short:\n"
	"\tcmp 0x10(%rdi), %rsp\n\tmov $7, %eax\n\tret\n");

static atomic_int stop;
static atomic_long wrong;
static char group[64];

static void *caller(void *arg)
{
	long buf[4] = {0}, n = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		if (xol_long() != -0x1a0)
			atomic_fetch_add(&wrong, 1);
		if (xol_short(buf) != 7)
			atomic_fetch_add(&wrong, 1);
		n++;
	}
	return (void *)n;
}

/* File offset of code address addr in this executable, from /proc/self/maps. */
static long file_offset(uintptr_t addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi, off;
	char line[512];
	long r = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %*s %lx", &lo, &hi, &off) == 3 && addr >= lo && addr < hi) {
			r = (long)(addr - lo + off);
			break;
		}
	fclose(f);
	return r;
}

static int tracefs_write(const char *file, const char *text)
{
	char path[128];
	size_t len = strlen(text);
	int fd, rc;

	snprintf(path, sizeof(path), TRACEFS "/%s", file);
	fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0)
		return -1;
	rc = write(fd, text, len) == (ssize_t)len ? 0 : -1;
	close(fd);
	return rc;
}

static void remove_probes(void)
{
	char cmd[160], en[128];

	snprintf(en, sizeof(en), "events/%s/enable", group);
	tracefs_write(en, "0\n");
	snprintf(cmd, sizeof(cmd), "-:%s/xol_long\n", group);
	tracefs_write("uprobe_events", cmd);
	snprintf(cmd, sizeof(cmd), "-:%s/xol_short\n", group);
	tracefs_write("uprobe_events", cmd);
}

/* Print this binary's lines of uprobe_profile (path, event, hits). */
static void print_hits(const char *exe)
{
	FILE *f = fopen(TRACEFS "/uprobe_profile", "r");
	char line[PATH_MAX + 128];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, exe) && strstr(line, "xol_"))
			printf("uprobe_xol: hits: %s", line);
	fclose(f);
}

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 5;
	char exe[PATH_MAX], cmd[PATH_MAX + 128], en[128];
	long off_long, off_short, calls = 0;
	pthread_t t[NTHREADS];
	ssize_t n;

	if (secs < 1) {
		fprintf(stderr, "usage: uprobe_xol [SECONDS>=1]\n");
		return 2;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	off_long = file_offset((uintptr_t)xol_long);
	off_short = file_offset((uintptr_t)xol_short);
	if (n <= 0 || off_long < 0 || off_short < 0) {
		fprintf(stderr, "uprobe_xol: cannot find this executable's path or code offsets\n");
		return 2;
	}
	exe[n] = 0;
	snprintf(group, sizeof(group), "weft_xol_%d", (int)getpid());
	snprintf(cmd, sizeof(cmd), "p:%s/xol_long %s:0x%lx\n", group, exe, off_long);
	if (tracefs_write("uprobe_events", cmd)) {
		fprintf(stderr, "uprobe_xol: cannot add a uprobe in " TRACEFS "/uprobe_events: %s: "
				"run as root with tracefs mounted\n", strerror(errno));
		return 2;
	}
	atexit(remove_probes);
	snprintf(cmd, sizeof(cmd), "p:%s/xol_short %s:0x%lx\n", group, exe, off_short);
	snprintf(en, sizeof(en), "events/%s/enable", group);
	if (tracefs_write("uprobe_events", cmd) || tracefs_write(en, "1\n")) {
		fprintf(stderr, "uprobe_xol: cannot add or enable the uprobes: %s\n", strerror(errno));
		return 2;
	}
	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, caller, NULL)) {
			fprintf(stderr, "uprobe_xol: cannot start thread %d\n", i + 1);
			return 2;
		}
	sleep((unsigned int)secs);
	atomic_store(&stop, 1);
	for (int i = 0; i < NTHREADS; i++) {
		void *r;

		pthread_join(t[i], &r);
		calls += (long)r;
	}
	print_hits(exe);
	printf("uprobe_xol: %ld calls of each probed function, %ld wrong results\n", calls,
	       (long)atomic_load(&wrong));
	return atomic_load(&wrong) ? 1 : 0;
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * bpfcost: runs getppid() N times with bench/bpfcost's programs attached and
 * prints, per program, "NAME RUNS NS_PER_RUN" from bpf_stats; first, what
 * bpf_stats' own accounting adds to each program run, "accounting RUNS NS"
 * (the loop's thread CPU time with statistics on minus off, per program run;
 * left out, with the reason on stderr, when something else keeps them on).
 *
 *   bpfcost [N]      (default 200000; needs root)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench/bpfcost/bpfcost.skel.h"
#include "mounts.h"

/* thread CPU time (the programs run in the loop's syscalls) of n getppid() calls, ns */
static double loop_ns(long n)
{
	struct timespec a, b;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	return (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * bpf_stats' accounting per program run: PAIRS interleaved pairs of loops
 * with statistics off and on (an fd of BPF_ENABLE_STATS held), the median of
 * the differences over the program runs of a loop. Needs them off otherwise
 * (kernel.bpf_stats_enabled 0): -1 if not.
 */
static double accounting_ns(long n, int nprogs)
{
	enum { PAIRS = 5 };
	double d[PAIRS];
	FILE *f = fopen("/proc/sys/kernel/bpf_stats_enabled", "r");
	int on = 1;

	if (f) {
		if (fscanf(f, "%d", &on) != 1)
			on = 1;
		fclose(f);
	}
	if (on || nprogs <= 0)
		return -1;
	for (int i = 0; i < PAIRS; i++) {
		double off = loop_ns(n);
		int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

		if (fd < 0)
			return -1;
		d[i] = (loop_ns(n) - off) / ((double)n * nprogs);
		close(fd);
	}
	qsort(d, PAIRS, sizeof(d[0]), cmp_double);
	return d[PAIRS / 2];
}

int main(int argc, char **argv)
{
	static char buf[4096] = "GET /bench HTTP/1.1\r\nHost: a\r\n\r\n";
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
	struct bpfcost *skel;
	struct bpf_program *p;
	int stats_fd, nprogs = 0;
	double acct;

	if (n <= 0) {
		fprintf(stderr, "usage: bpfcost [N > 0]\n");
		return 2;
	}
	skel = bpfcost__open();
	if (!skel) {
		fprintf(stderr, "bpfcost: cannot open the BPF object: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->driver_tgid = (__u32)getpid();
	weft_ensure_tracefs(); /* a fresh host may not have it: says why if it fails */
	if (bpfcost__load(skel) || bpfcost__attach(skel)) {
		fprintf(stderr, "bpfcost: cannot load or attach: %s: run as root, mount tracefs\n",
			strerror(errno));
		bpfcost__destroy(skel);
		return 1;
	}
	skel->bss->user_buf = (__u64)(unsigned long)buf;
	bpf_object__for_each_program(p, skel->obj)
	{
		nprogs++;
	}
	acct = accounting_ns(n / 4 > 0 ? n / 4 : 1, nprogs);
	if (acct >= 0)
		printf("accounting %ld %.1f\n", (n / 4 > 0 ? n / 4 : 1) * nprogs, acct);
	else
		fprintf(stderr, "bpfcost: bpf_stats' own cost not measured: statistics are on "
				"already (kernel.bpf_stats_enabled)\n");
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		fprintf(stderr, "bpfcost: cannot enable BPF statistics: %s: run as root\n",
			strerror(errno));
		bpfcost__destroy(skel);
		return 1;
	}
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	bpf_object__for_each_program(p, skel->obj)
	{
		struct bpf_prog_info info = {0};
		__u32 len = sizeof(info);

		if (bpf_prog_get_info_by_fd(bpf_program__fd(p), &info, &len))
			continue;
		printf("%s %llu %.1f\n", bpf_program__name(p) + strlen("cost_"),
		       (unsigned long long)info.run_cnt,
		       info.run_cnt ? (double)info.run_time_ns / (double)info.run_cnt : 0.0);
	}
	bpfcost__destroy(skel);
	close(stats_fd);
	return 0;
}

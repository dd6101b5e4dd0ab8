// SPDX-License-Identifier: BSD-2-Clause
/*
 * bpfcost: runs getppid() N times with bench/bpfcost's programs attached and
 * prints, per program, "NAME RUNS NS_PER_RUN" from bpf_stats.
 *
 *   bpfcost [N]      (default 200000; needs root)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench/bpfcost/bpfcost.skel.h"
#include "mounts.h"

int main(int argc, char **argv)
{
	static char buf[4096] = "GET /bench HTTP/1.1\r\nHost: a\r\n\r\n";
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
	struct bpfcost *skel;
	struct bpf_program *p;
	int stats_fd;

	if (n <= 0) {
		fprintf(stderr, "usage: bpfcost [N > 0]\n");
		return 2;
	}
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		fprintf(stderr, "bpfcost: cannot enable BPF statistics: %s: run as root\n",
			strerror(errno));
		return 1;
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

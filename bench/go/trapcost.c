// SPDX-License-Identifier: BSD-2-Clause
/*
 * trapcost: the cost of one uprobe hit on this kernel. Times N calls of an
 * empty function, then the same with an empty BPF program attached to it as a
 * uprobe; prints "ns_per_call_plain ns_per_call_probed floor_ns" on stdout,
 * floor_ns being what bpf_stats (kernel.bpf_stats_enabled=1) measures per run
 * of that empty program: the floor under any BPF run-time figure (0 when the
 * stats are off).
 */
#include <errno.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

__attribute__((noinline)) void trapcost_target(void)
{
	__asm__ volatile("" ::: "memory");
}

static double ns_per_call(long n)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		trapcost_target();
	clock_gettime(CLOCK_MONOTONIC, &b);
	return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
}

/* File offset of addr in our own executable, from /proc/self/maps. */
static long file_offset(uintptr_t addr, char *path, size_t len)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	long off = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, fo;
		char perm[8], p[256] = "";

		if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %255s", &lo, &hi, perm, &fo, p) < 4)
			continue;
		if (addr >= lo && addr < hi && p[0] == '/') {
			off = (long)(addr - lo + fo);
			snprintf(path, len, "%s", p);
			break;
		}
	}
	fclose(f);
	return off;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	const struct bpf_insn insns[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0},
	    {.code = BPF_JMP | BPF_EXIT},
	};
	struct perf_event_attr attr = {.size = sizeof(attr), .disabled = 1};
	char path[256];
	double plain, probed;
	long off;
	int type, prog, pfd;
	FILE *f;

	ns_per_call(n / 10);
	plain = ns_per_call(n); /* before any uprobe exists on the function */
	off = file_offset((uintptr_t)trapcost_target, path, sizeof(path));
	f = fopen("/sys/bus/event_source/devices/uprobe/type", "r");
	if (off < 0 || !f || fscanf(f, "%d", &type) != 1) {
		fprintf(stderr, "trapcost: error: cannot find the uprobe PMU or our own code\n");
		return 1;
	}
	fclose(f);
	prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "trapcost", "GPL", insns, 2, NULL);
	attr.type = (uint32_t)type;
	attr.config1 = (uint64_t)(uintptr_t)path;
	attr.config2 = (uint64_t)off;
	pfd = (int)syscall(__NR_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (prog < 0 || pfd < 0) {
		fprintf(stderr, "trapcost: error: cannot attach a uprobe: %s\n", strerror(errno));
		return 1;
	}
	if (ioctl(pfd, PERF_EVENT_IOC_SET_BPF, prog) || ioctl(pfd, PERF_EVENT_IOC_ENABLE, 0)) {
		fprintf(stderr, "trapcost: error: cannot enable the uprobe: %s\n", strerror(errno));
		return 1;
	}
	probed = ns_per_call(n);
	{
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		double floor_ns = 0;

		if (!bpf_prog_get_info_by_fd(prog, &info, &len) && info.run_cnt)
			floor_ns = (double)info.run_time_ns / (double)info.run_cnt;
		printf("%.1f %.1f %.1f\n", plain, probed, floor_ns);
	}
	return 0;
}

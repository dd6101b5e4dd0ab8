// SPDX-License-Identifier: BSD-2-Clause
/*
 * uprobecost: what one uprobe hit costs here, by the instruction the probe
 * sits on. The kernel emulates some instructions at a probe (jmp, jcc, call,
 * push, nop), runs a 5-byte nop through a faster path, and steps every other
 * one out of line (a second trap). Each site below is a tiny function whose
 * first instruction (or the one at its _at label) is of one kind; it is
 * called N times without and then with an empty BPF program on it, and the
 * difference per call is printed as "KIND NS" (median of ROUNDS).
 *
 *   uprobecost [N [ROUNDS]]    (default 100000 5; needs root)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "bench/uprobe_traps.skel.h"

/* Each site: a function, the probe at SITE_at, then a ret. */
#define SITE(name, before, insn, after)                                                            \
	".globl cost_" name "\n.type cost_" name ", @function\ncost_" name ":\n" before            \
	".globl cost_" name "_at\n.type cost_" name "_at, @function\ncost_" name "_at:\n" insn     \
	"\n" after " ret\n"

/* clang-format off */
__asm__(".text\n"
	SITE("mov", "", "mov %rdi, %rax", "")
	SITE("cmp_stack_check", "", "cmp 16(%rsp), %rsp", "")	/* Go's prologue */
	SITE("endbr64", "", "endbr64", "")			/* CET builds' entries */
	SITE("sub_rsp", "", "sub $8, %rsp", "add $8, %rsp\n")
	SITE("pop", "push %rbp\n", "pop %rbp", "")
	SITE("ret", "", "ret", "")
	SITE("jcc", "cmp %rdi, %rsi\n", "jbe 1f", "1:")	/* after Go's stack check */
	SITE("jmp", "", "jmp 2f", "2:")
	SITE("push", "", "push %rbp", "pop %rbp\n")
	SITE("call", "", "call 3f", "jmp 4f\n3: ret\n4:")
	SITE("nop", "", "nop", "")
	SITE("nop5", "", ".byte 0x0f, 0x1f, 0x44, 0x00, 0x00", ""));
/* clang-format on */

#define DECL(k) void cost_##k(void)
DECL(mov);
DECL(cmp_stack_check);
DECL(endbr64);
DECL(sub_rsp);
DECL(pop);
DECL(ret);
DECL(jcc);
DECL(jmp);
DECL(push);
DECL(call);
DECL(nop);
DECL(nop5);

static const struct site {
	const char *kind; /* the probed instruction */
	void (*fn)(void);
} sites[] = {
    {"mov", cost_mov},	       {"cmp_stack_check", cost_cmp_stack_check},
    {"endbr64", cost_endbr64}, {"sub_rsp", cost_sub_rsp},
    {"pop", cost_pop},	       {"ret", cost_ret},
    {"jcc", cost_jcc},	       {"jmp", cost_jmp},
    {"push", cost_push},       {"call", cost_call},
    {"nop", cost_nop},	       {"nop5", cost_nop5},
};

#define NSITES (sizeof(sites) / sizeof(sites[0]))

static double per_call_ns(void (*fn)(void), long n)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		fn();
	clock_gettime(CLOCK_MONOTONIC, &b);
	return ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)n;
}

/* An empty program at cost_KIND_at in exe, for this process; NULL (errno) if not. */
static struct bpf_link *attach(struct uprobe_traps *skel, const char *exe, const char *kind)
{
	char at[64];
	struct bpf_uprobe_opts o = {.sz = sizeof(o), .func_name = at};

	snprintf(at, sizeof(at), "cost_%s_at", kind);
	return bpf_program__attach_uprobe_opts(skel->progs.weft_bench_rt_trap, getpid(), exe, 0,
					       &o);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	struct bpf_link *links[NSITES] = {0};
	double cost[NSITES][16];
	struct uprobe_traps *skel;
	char exe[4096];
	ssize_t len;
	int rc = 1;

	if (n <= 0 || rounds <= 0 || rounds > 16) {
		fprintf(stderr, "usage: uprobecost [N > 0 [ROUNDS 1-16]]\n");
		return 2;
	}
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len <= 0) {
		fprintf(stderr, "uprobecost: cannot read /proc/self/exe: %s\n", strerror(errno));
		return 1;
	}
	exe[len] = '\0';
	skel = uprobe_traps__open_and_load();
	if (!skel) {
		fprintf(stderr, "uprobecost: cannot load the BPF object: %s: run as root\n",
			strerror(errno));
		return 1;
	}
	for (int r = 0; r < rounds; r++) {
		for (size_t i = 0; i < NSITES; i++) {
			double plain = per_call_ns(sites[i].fn, n);

			links[i] = attach(skel, exe, sites[i].kind);
			if (!links[i]) {
				fprintf(
				    stderr,
				    "uprobecost: cannot attach a uprobe at cost_%s_at in %s: %s\n",
				    sites[i].kind, exe, strerror(errno));
				goto out;
			}
			cost[i][r] = per_call_ns(sites[i].fn, n) - plain;
			bpf_link__destroy(links[i]);
			links[i] = NULL;
		}
	}
	for (size_t i = 0; i < NSITES; i++) {
		qsort(cost[i], (size_t)rounds, sizeof(double), cmp_double);
		printf("%s %.0f\n", sites[i].kind, cost[i][rounds / 2]);
	}
	rc = 0;
out:
	for (size_t i = 0; i < NSITES; i++)
		bpf_link__destroy(links[i]);
	uprobe_traps__destroy(skel);
	return rc;
}

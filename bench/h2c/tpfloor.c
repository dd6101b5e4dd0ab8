// SPDX-License-Identifier: BSD-2-Clause
/*
 * h2c-tpfloor: bench/h2c's tracepoint floor. Attaches an empty BPF program
 * (tpfloor.bpf.c) to each tracepoint given, once per argument (a tracepoint
 * given twice gets two of the program's copies, as two of weft-http's
 * programs on it run twice per hit; at most NCOPIES times), prints the
 * programs' ids on stdout, one a line, and "ready" on stderr, and detaches on
 * SIGINT/SIGTERM.
 *
 *   h2c-tpfloor CATEGORY/NAME...   (e.g. syscalls/sys_enter_write)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench/h2c/tpfloor.skel.h"
#include "bench/traps_hold.h"

#define MAX_TPS 128
#define NCOPIES 4

int main(int argc, char **argv)
{
	struct bpf_link *links[MAX_TPS];
	struct bpf_program *copies[NCOPIES];
	struct tpfloor *skel;
	bool attached = false;
	int n = 0, rc;

	if (argc < 2 || argc - 1 > MAX_TPS) {
		fprintf(stderr, "usage: h2c-tpfloor CATEGORY/NAME... (at most %d tracepoints)\n",
			MAX_TPS);
		return 2;
	}
	skel = tpfloor__open_and_load();
	if (!skel) {
		fprintf(stderr, "h2c-tpfloor: cannot load the BPF object: %s: run as root\n",
			strerror(errno));
		return 1;
	}
	copies[0] = skel->progs.weft_bench_h2c_tp0;
	copies[1] = skel->progs.weft_bench_h2c_tp1;
	copies[2] = skel->progs.weft_bench_h2c_tp2;
	copies[3] = skel->progs.weft_bench_h2c_tp3;
	for (int i = 1; i < argc; i++) {
		char cat[64];
		const char *slash = strchr(argv[i], '/');
		int k = 0;

		for (int j = 1; j < i; j++)
			k += !strcmp(argv[j], argv[i]);
		if (k >= NCOPIES) {
			fprintf(stderr, "h2c-tpfloor: tracepoint %s given more than %d times\n",
				argv[i], NCOPIES);
			goto out;
		}

		if (!slash || slash == argv[i] || !slash[1] ||
		    (size_t)(slash - argv[i]) >= sizeof(cat)) {
			fprintf(stderr,
				"h2c-tpfloor: bad tracepoint '%s': give CATEGORY/NAME, e.g. "
				"syscalls/sys_enter_write\n",
				argv[i]);
			goto out;
		}
		memcpy(cat, argv[i], (size_t)(slash - argv[i]));
		cat[slash - argv[i]] = '\0';
		links[n] = bpf_program__attach_tracepoint(copies[k], cat, slash + 1);
		if (!links[n]) {
			fprintf(stderr,
				"h2c-tpfloor: cannot attach to tracepoint %s: %s: mount tracefs at "
				"/sys/kernel/tracing\n",
				argv[i], strerror(errno));
			goto out;
		}
		n++;
	}
	for (int k = 0; k < NCOPIES; k++) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (bpf_prog_get_info_by_fd(bpf_program__fd(copies[k]), &info, &len)) {
			fprintf(stderr, "h2c-tpfloor: cannot read a program's id: %s\n",
				strerror(errno));
			goto out;
		}
		printf("%u\n", info.id);
	}
	fflush(stdout);
	attached = true;
out:
	rc = traps_hold("h2c-tpfloor", links, n, attached);
	tpfloor__destroy(skel);
	return rc;
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * uprobe-traps: the runtime-front benchmarks' floor (bench/rtfront.sh's
 * traps_start, for bench/asyncio/run and bench/node/run). Attaches an
 * empty BPF program at each given file offset of BINARY (the uprobe sites of
 * a weft-http runtime rule, from the binary's offsets record) for one
 * process, as an entry probe, or as a return probe when the offset is
 * written ret:OFFSET (where the rule uses a uretprobe); prints "ready" on
 * stderr, and detaches on SIGINT/SIGTERM.
 *
 *   uprobe-traps BINARY PID [ret:]FILEOFF...   (offsets in hex, 0x...)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "bench/uprobe_traps.skel.h"
#include "bench/traps_hold.h"

#define MAX_SITES 16

int main(int argc, char **argv)
{
	struct bpf_link *links[MAX_SITES];
	struct uprobe_traps *skel;
	bool attached = false;
	int n = 0, rc, pid;
	char *end;

	if (argc < 4 || argc - 3 > MAX_SITES) {
		fprintf(stderr,
			"usage: uprobe-traps BINARY PID [ret:]FILEOFF... (at most %d offsets)\n",
			MAX_SITES);
		return 2;
	}
	pid = (int)strtol(argv[2], &end, 10);
	if (*end || pid <= 0) {
		fprintf(stderr, "uprobe-traps: bad pid '%s': give a process id\n", argv[2]);
		return 2;
	}
	skel = uprobe_traps__open_and_load();
	if (!skel) {
		fprintf(stderr, "uprobe-traps: cannot load the BPF object: %s: run as root\n",
			strerror(errno));
		return 1;
	}
	for (int i = 3; i < argc; i++) {
		bool ret = !strncmp(argv[i], "ret:", 4);
		unsigned long off = strtoul(argv[i] + (ret ? 4 : 0), &end, 16);

		if (*end || !off) {
			fprintf(stderr,
				"uprobe-traps: bad file offset '%s': give it in hex (ret:0x... for "
				"a return probe)\n",
				argv[i]);
			goto out;
		}
		links[n] = bpf_program__attach_uprobe(ret ? skel->progs.weft_bench_rt_trap_ret
							  : skel->progs.weft_bench_rt_trap,
						      ret, pid, argv[1], off);
		if (!links[n]) {
			fprintf(stderr, "uprobe-traps: cannot attach at %s in %s for pid %d: %s\n",
				argv[i], argv[1], pid, strerror(errno));
			goto out;
		}
		n++;
	}
	attached = true;
out:
	rc = traps_hold("uprobe-traps", links, n, attached);
	uprobe_traps__destroy(skel);
	return rc;
}

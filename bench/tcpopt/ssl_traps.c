// SPDX-License-Identifier: BSD-2-Clause
/*
 * ssl-traps: bench/tcpopt's mechanism floor. Attaches an empty BPF program at
 * the OpenSSL probe points weft-tcpopt uses (SSL_write and SSL_write_ex
 * entries, SSL_read and SSL_read_ex entries and returns) in the given
 * processes, prints "ready" on stderr, and detaches on SIGINT/SIGTERM.
 *
 *   ssl-traps LIBSSL PID...
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "bench/tcpopt/ssl_traps.skel.h"
#include "bench/traps_hold.h"

#define MAX_PIDS 16

int main(int argc, char **argv)
{
	static const struct {
		const char *func;
		bool ret;
	} sites[] = {
	    {"SSL_write", false}, {"SSL_write_ex", false}, {"SSL_read", false},
	    {"SSL_read", true},	  {"SSL_read_ex", false},  {"SSL_read_ex", true},
	};
	struct bpf_link *links[MAX_PIDS * sizeof(sites) / sizeof(sites[0])];
	struct ssl_traps *skel;
	bool attached = false;
	int n = 0, rc;

	if (argc < 3 || argc - 2 > MAX_PIDS) {
		fprintf(stderr, "usage: ssl-traps LIBSSL PID... (at most %d pids)\n", MAX_PIDS);
		return 2;
	}
	skel = ssl_traps__open_and_load();
	if (!skel) {
		fprintf(stderr, "ssl-traps: cannot load the BPF object: %s: run as root\n",
			strerror(errno));
		return 1;
	}
	for (int p = 2; p < argc; p++) {
		for (size_t i = 0; i < sizeof(sites) / sizeof(sites[0]); i++) {
			struct bpf_uprobe_opts uo = {
			    .sz = sizeof(uo), .func_name = sites[i].func, .retprobe = sites[i].ret};

			links[n] = bpf_program__attach_uprobe_opts(skel->progs.weft_bench_ssl_trap,
								   atoi(argv[p]), argv[1], 0, &uo);
			if (!links[n]) {
				fprintf(stderr, "ssl-traps: cannot attach to %s in %s for pid %s: %s\n",
					sites[i].func, argv[1], argv[p], strerror(errno));
				goto out;
			}
			n++;
		}
	}
	attached = true;
out:
	rc = traps_hold("ssl-traps", links, n, attached);
	ssl_traps__destroy(skel);
	return rc;
}

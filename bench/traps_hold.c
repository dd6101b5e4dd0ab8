// SPDX-License-Identifier: BSD-2-Clause
/* The benchmarks' trap floors: see traps_hold.h. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "bench/traps_hold.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int traps_hold(const char *name, struct bpf_link **links, int n, bool attached)
{
	struct sigaction sa = {.sa_handler = on_signal};

	if (attached) {
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		fprintf(stderr, "%s: ready (%d probes)\n", name, n);
		while (!stop)
			pause();
	}
	while (n > 0)
		bpf_link__destroy(links[--n]);
	return attached ? 0 : 1;
}

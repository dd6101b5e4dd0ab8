// SPDX-License-Identifier: BSD-2-Clause
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>
#include "lifecycle.h"

void weft_signals_init(void (*on_stop)(int))
{
	struct sigaction sa = {.sa_handler = on_stop, .sa_flags = SA_RESTART};
	const char *pp = getenv("WEFT_PARENT_PID");
	char *end;
	long parent;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!pp || !*pp)
		return;
	parent = strtol(pp, &end, 10);
	/* not for the programs this one starts (weft-go's weft-analyze) */
	unsetenv("WEFT_PARENT_PID");
	if (*end || parent <= 1)
		return;
	/* set first, then check: no moment where the wrapper's death is missed */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != (pid_t)parent)
		raise(SIGTERM);
}

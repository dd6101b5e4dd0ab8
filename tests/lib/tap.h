/* SPDX-License-Identifier: BSD-2-Clause */
/* The C unit tests' TAP output: check() reports one rule, in order. */
#ifndef WEFT_TESTS_TAP_H
#define WEFT_TESTS_TAP_H

#include <stdio.h>

static int n_run, n_fail;

static void check(int cond, const char *what)
{
	n_run++;
	if (!cond)
		n_fail++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", n_run, what);
}

#endif /* WEFT_TESTS_TAP_H */

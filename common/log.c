// SPDX-License-Identifier: BSD-2-Clause
#include <stdarg.h>
#include <stdio.h>
#include "log.h"

static const char *prog_name = "weft";
static bool verbose_on;

void weft_log_init(const char *prog, bool verbose)
{
	prog_name = prog;
	verbose_on = verbose;
}

const char *weft_prog(void)
{
	return prog_name;
}

static void emit(const char *level, const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (level)
		fprintf(stderr, "%s: %s: %s\n", prog_name, level, line);
	else
		fprintf(stderr, "%s: %s\n", prog_name, line);
}

#define DEFINE_LOG(fn, level, cond)                                                                \
	void fn(const char *fmt, ...)                                                              \
	{                                                                                          \
		va_list ap;                                                                        \
		if (!(cond))                                                                       \
			return;                                                                    \
		va_start(ap, fmt);                                                                 \
		emit(level, fmt, ap);                                                              \
		va_end(ap);                                                                        \
	}

DEFINE_LOG(weft_err, "error", 1)
DEFINE_LOG(weft_warn, "warning", 1)
DEFINE_LOG(weft_info, NULL, 1)
DEFINE_LOG(weft_debug, "debug", verbose_on)

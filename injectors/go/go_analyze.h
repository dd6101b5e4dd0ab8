/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * On-the-spot analysis of a binary missing from the offsets database: runs
 * weft-analyze (next to weft-go's own executable, else on PATH) as a child
 * process, so its DWARF and disassembly libraries never load into weft-go.
 */
#ifndef WEFT_GO_ANALYZE_H
#define WEFT_GO_ANALYZE_H

#include <stddef.h>

/*
 * Analyse the binary open at fd (path: its name) into the database dir.
 * 0 when weft-analyze succeeded (look the record up again; still missing means
 * unsupported, reason in err), -1 when it could not run or failed (err says).
 */
int go_analyze_child(const char *dbdir, int fd, const char *path, char *err, size_t errlen);

/*
 * Async-signal-safe, for weft-go's stop handler: a running weft-analyze gets
 * SIGTERM (SIGKILL if it has not ended 2 s later) and go_analyze_child()
 * returns -1; none is started afterwards. weft-analyze also gets SIGTERM if
 * weft-go dies (PR_SET_PDEATHSIG).
 */
void go_analyze_stop(void);

#endif /* WEFT_GO_ANALYZE_H */

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Signals from a program's first instruction to its last. Call first thing
 * in main(): SIGINT, SIGTERM and SIGHUP run on_stop (which should only set a
 * flag), SIGPIPE is ignored (a closed pipe is EPIPE). When weft run started
 * the program (WEFT_PARENT_PID names the wrapper), it also gets SIGTERM when
 * the wrapper dies, even by SIGKILL (PR_SET_PDEATHSIG), so injectors never
 * outlive it; if the wrapper is already gone, SIGTERM is raised at once.
 */
#ifndef WEFT_LIFECYCLE_H
#define WEFT_LIFECYCLE_H

void weft_signals_init(void (*on_stop)(int));

#endif /* WEFT_LIFECYCLE_H */

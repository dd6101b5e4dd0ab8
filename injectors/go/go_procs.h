/* SPDX-License-Identifier: BSD-2-Clause */
/* Processes: which running processes execute a given file. */
#ifndef WEFT_GO_PROCS_H
#define WEFT_GO_PROCS_H

#include <stdint.h>
#include <sys/types.h>

/* Kernel encoding of a device number (MKDEV: major << 20 | minor). */
uint64_t go_kdev(dev_t dev);

/*
 * Call fn(pid, arg) for every process whose executable is (dev, ino).
 * Returns how many matched.
 */
int go_procs_of(dev_t dev, ino_t ino, void (*fn)(pid_t pid, void *arg), void *arg);

#endif /* WEFT_GO_PROCS_H */

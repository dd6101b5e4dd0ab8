/* SPDX-License-Identifier: BSD-2-Clause */
/* What /proc tells about a target process (for its OTel resource). */
#ifndef WEFT_EXPORT_PROCINFO_H
#define WEFT_EXPORT_PROCINFO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Start time (clock ticks since boot, /proc/PID/stat field 22); -1 if gone. */
int weft_proc_start_time(pid_t pid, uint64_t *start);

/* Path of the executable; -1 if unknown. " (deleted)" is stripped. */
int weft_proc_exe(pid_t pid, char *path, size_t size);

/* /proc/PID/comm; -1 if unknown. */
int weft_proc_comm(pid_t pid, char *comm, size_t size);

/*
 * Look up name in the process's initial environment (/proc/PID/environ).
 * Returns the value length copied into val (NUL-terminated), or -1.
 */
int weft_proc_getenv(pid_t pid, const char *name, char *val, size_t size);

/*
 * Language runtime of the executable: "go" (ELF .go.buildinfo section, with
 * its version in ver when recorded), or guessed from the executable name:
 * "cpython", "nodejs", "java", "ruby", "php", "dotnet", "perl"; NULL when
 * unknown.
 */
const char *weft_proc_runtime(pid_t pid, const char *exe_name, char *ver, size_t versz);

#endif /* WEFT_EXPORT_PROCINFO_H */

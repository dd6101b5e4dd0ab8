/* SPDX-License-Identifier: BSD-2-Clause */
/* Random bytes and ids from the kernel's CSPRNG (getrandom(2), drawn into a
 * per-thread pool a few hundred bytes at a time). */
#ifndef WEFT_RANDOM_H
#define WEFT_RANDOM_H

#include <stddef.h>
#include <stdint.h>

/* Fill buf with n random bytes; never fails (retries on EINTR, aborts if the
 * kernel has no getrandom, which every supported kernel has). */
void weft_random_bytes(void *buf, size_t n);

/* Fill an id of n bytes with random bytes, never all zero (W3C: invalid). */
void weft_random_id(uint8_t *id, size_t n);

/* A random 64-bit value (jitter, sampling). */
uint64_t weft_random_u64(void);

#endif /* WEFT_RANDOM_H */

// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guarded file mappings. A binary is analysed through a private read-only
 * mapping (only the pages of the sections used become resident), but a file
 * truncated while it is mapped raises SIGBUS on the pages past its new end.
 * While a mapping is registered here, the SIGBUS handler maps zero pages over
 * the rest of it from the faulting page on and notes the fault: the analysis
 * goes on over zeros and its caller reports the file as changed. A SIGBUS
 * elsewhere gets the disposition that was there before (default: the process
 * dies as it would have).
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "internal.h"

#define NGUARDS 272 /* weft-analyze runs at most 256 threads */

static struct {
	uintptr_t start, end; /* start 0: free (atomic) */
	int hit;	      /* atomic */
} guards[NGUARDS];
static struct sigaction old_bus;
static uintptr_t page_size;
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;
static bool guard_ok;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;

	for (size_t i = 0; i < NGUARDS; i++) {
		uintptr_t s = __atomic_load_n(&guards[i].start, __ATOMIC_ACQUIRE), e, p;

		if (!s)
			continue;
		e = __atomic_load_n(&guards[i].end, __ATOMIC_ACQUIRE);
		if (a < s || a >= e)
			continue;
		p = a & ~(page_size - 1);
		/* mmap is a plain system call: safe here in practice. */
		if (mmap((void *)p, e - p, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
			 0) == MAP_FAILED)
			break;
		__atomic_store_n(&guards[i].hit, 1, __ATOMIC_RELEASE);
		return;
	}
	/* Not a guarded mapping: the earlier disposition, on the re-executed access. */
	sigaction(SIGBUS, &old_bus, NULL);
}

static void guard_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	page_size = (uintptr_t)sysconf(_SC_PAGESIZE);
	guard_ok = sigaction(SIGBUS, &sa, &old_bus) == 0;
}

int fileguard_add(const void *map, size_t len)
{
	uintptr_t s = (uintptr_t)map;

	pthread_once(&guard_once, guard_init);
	if (!guard_ok || !s || !len)
		return -1;
	for (int i = 0; i < NGUARDS; i++) {
		uintptr_t zero = 0;

		if (__atomic_load_n(&guards[i].start, __ATOMIC_RELAXED))
			continue;
		/* end before start: the handler reads start, then end. */
		if (!__atomic_compare_exchange_n(&guards[i].start, &zero, UINTPTR_MAX, false,
						 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			continue;
		__atomic_store_n(&guards[i].hit, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&guards[i].end, s + len, __ATOMIC_RELEASE);
		__atomic_store_n(&guards[i].start, s, __ATOMIC_RELEASE);
		return i;
	}
	return -1;
}

bool fileguard_remove(int slot)
{
	bool hit;

	if (slot < 0 || slot >= NGUARDS)
		return false;
	hit = __atomic_load_n(&guards[slot].hit, __ATOMIC_ACQUIRE);
	__atomic_store_n(&guards[slot].end, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&guards[slot].start, 0, __ATOMIC_RELEASE);
	return hit;
}

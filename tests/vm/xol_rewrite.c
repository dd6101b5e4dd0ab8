// SPDX-License-Identifier: BSD-2-Clause
/*
 * xol_rewrite: does the machine run the code a thread has just written?
 *
 *   xol_rewrite [SECONDS [THREADS]]     (default 5 s, 4 threads)
 *
 * The kernel single-steps a uprobe's displaced instruction out of line: the
 * hitting thread takes the lowest free slot of a per-process code page
 * ("[uprobes]"), writes the instruction there through another mapping of the
 * page, returns to user mode, runs it, frees the slot. Threads hitting other
 * probes reuse the same slots at once. This does the same in user space: each
 * thread takes the lowest free slot of a shared page, writes "mov eax, ID;
 * ret" through a writable alias of the page, serializes (cpuid), calls the
 * slot and checks that it got its own ID. Legal on x86: the thread that runs
 * the code wrote it and serialized; real CPUs never get another ID. Every
 * CALLS_PER_PAGE calls the slots move to a fresh page: an emulator's races
 * are likeliest while a page's code is first translated.
 *
 * Prints one line with the counts; exit 0 when every call returned its own
 * ID, 1 when some ran another thread's instruction, 2 on a set-up error.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NSLOTS 4
#define SLOT_BYTES 128
#define MAX_THREADS 16
#define PAGE_BYTES 4096
#define NPAGES 16384 /* 64 MiB of address space, touched a page at a time */
#define CALLS_PER_PAGE 32

static unsigned char *wr, *ex; /* the same pages: writable, executable */
static atomic_uint slots;      /* bit i set: slot i taken */
static atomic_long calls, wrong;
static atomic_int stop;

static unsigned int take_slot(void)
{
	unsigned int b, s;

	for (;;) {
		b = atomic_load(&slots);
		s = (unsigned int)__builtin_ctz(~b);
		if (s < NSLOTS && atomic_compare_exchange_weak(&slots, &b, b | (1u << s)))
			return s;
	}
}

static void *worker(void *arg)
{
	unsigned int id = (unsigned int)(unsigned long)arg;
	unsigned char code[6] = {0xb8, 0, 0, 0, 0, 0xc3}; /* mov eax, imm32; ret */

	memcpy(code + 1, &id, sizeof(id));
	while (!atomic_load(&stop)) {
		unsigned int s = take_slot(), a = 0, b, c = 0, d;
		size_t off = (size_t)(atomic_load(&calls) / CALLS_PER_PAGE % NPAGES) * PAGE_BYTES +
			     s * SLOT_BYTES;
		unsigned int (*fn)(void);

		memcpy(wr + off, code, sizeof(code));
		__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d)::"memory");
		fn = (unsigned int (*)(void))(void *)(ex + off);
		if (fn() != id)
			atomic_fetch_add(&wrong, 1);
		atomic_fetch_add(&calls, 1);
		atomic_fetch_and(&slots, ~(1u << s));
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 5, n = argc > 2 ? atoi(argv[2]) : 4, fd;
	pthread_t t[MAX_THREADS];

	if (secs < 1 || n < 2 || n > MAX_THREADS) {
		fprintf(stderr, "usage: xol_rewrite [SECONDS>=1 [THREADS 2-%d]]\n", MAX_THREADS);
		return 2;
	}
	fd = memfd_create("xol", 0);
	if (fd < 0 || ftruncate(fd, (off_t)NPAGES * PAGE_BYTES)) {
		perror("xol_rewrite: memfd");
		return 2;
	}
	wr = mmap(NULL, (size_t)NPAGES * PAGE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ex = mmap(NULL, (size_t)NPAGES * PAGE_BYTES, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	if (wr == MAP_FAILED || ex == MAP_FAILED) {
		perror("xol_rewrite: mmap");
		return 2;
	}
	for (int i = 0; i < n; i++) {
		if (pthread_create(&t[i], NULL, worker, (void *)(unsigned long)(i + 1))) {
			fprintf(stderr, "xol_rewrite: cannot start thread %d\n", i + 1);
			return 2;
		}
	}
	sleep((unsigned int)secs);
	atomic_store(&stop, 1);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	printf("xol_rewrite: %ld calls, %ld ran another thread's instruction\n", (long)calls,
	       (long)wrong);
	return wrong ? 1 : 0;
}

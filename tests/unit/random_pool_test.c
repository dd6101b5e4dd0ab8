// SPDX-License-Identifier: BSD-2-Clause
/*
 * common/random.c draws getrandom(2) bytes into a per-thread pool: each byte
 * is handed out once, a forked child never hands out the bytes its parent
 * will, threads never share bytes, and ids are never all zero (TAP output).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "random.h"
#include "tests/lib/tap.h"

#define NIDS 20000

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Are the n values all different? (sorts them) */
static int distinct(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	for (size_t i = 1; i < n; i++)
		if (v[i] == v[i - 1])
			return 0;
	return 1;
}

static void *draw(void *arg)
{
	uint64_t *v = arg;

	for (size_t i = 0; i < NIDS; i++)
		weft_random_id((uint8_t *)&v[i], sizeof(v[i]));
	return NULL;
}

int main(void)
{
	static uint64_t ids[2 * NIDS];
	uint64_t parent[8], child[8];
	int fds[2], zero = 0, status;
	pthread_t t;
	pid_t pid;

	for (size_t i = 0; i < NIDS; i++) {
		weft_random_id((uint8_t *)&ids[i], sizeof(ids[i]));
		zero |= ids[i] == 0;
	}
	check(!zero, "no id is all zero");
	check(distinct(ids, NIDS), "20000 8-byte ids from one thread are all different");

	/* two threads at once: each its own pool, no bytes shared */
	pthread_create(&t, NULL, draw, ids);
	draw(ids + NIDS);
	pthread_join(t, NULL);
	check(distinct(ids, 2 * NIDS), "two threads' 40000 ids are all different");

	/* a child forked with a partly used pool: its next bytes are not the parent's */
	weft_random_id((uint8_t *)&parent[0], sizeof(parent[0]));
	if (pipe(fds) || (pid = fork()) < 0) {
		check(0, "pipe and fork");
		return 1;
	}
	if (pid == 0) {
		weft_random_bytes(child, sizeof(child));
		_exit(write(fds[1], child, sizeof(child)) == sizeof(child) ? 0 : 1);
	}
	close(fds[1]);
	weft_random_bytes(parent, sizeof(parent));
	check(read(fds[0], child, sizeof(child)) == sizeof(child) &&
		  waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status),
	      "the child drew its bytes");
	check(memcmp(parent, child, sizeof(parent)) != 0,
	      "a forked child's next 64 bytes differ from its parent's");

	/* more than a pool's worth in one draw, and a pool's worth piecewise */
	{
		uint8_t big[4096];
		uint64_t v[200];

		memset(big, 0, sizeof(big));
		weft_random_bytes(big, sizeof(big));
		zero = 0;
		for (size_t i = 0; i + 8 <= sizeof(big); i += 8) {
			uint64_t w;

			memcpy(&w, big + i, 8);
			zero += w == 0;
		}
		check(zero == 0, "a 4096-byte draw is filled");
		for (size_t i = 0; i < 200; i++)
			v[i] = weft_random_u64();
		check(distinct(v, 200), "200 u64 draws across pool refills are all different");
	}
	printf("1..%d\n", n_run);
	return n_fail ? 1 : 0;
}

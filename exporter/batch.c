// SPDX-License-Identifier: BSD-2-Clause
/* Grouping a batch's spans by resource (one ResourceSpans per process). */
#include <stdatomic.h>
#include <string.h>
#include "batch.h"

uint64_t weft_batch_gen(void)
{
	static atomic_uint_fast64_t gen;

	return ++gen;
}

uint32_t weft_batch_group(struct weft_batch *b, struct weft_resource *r, uint64_t gen)
{
	if (r->batch_gen != gen) {
		r->batch_gen = gen;
		r->group = (uint32_t)b->ngroups;
		b->groups[b->ngroups++] = r;
	}
	return r->group;
}

void weft_batch_order(struct weft_batch *b, const uint32_t *group_of)
{
	/* counting sort: stable, views keep their order within a group */
	memset(b->group_start, 0, (b->ngroups + 1) * sizeof(*b->group_start));
	for (size_t i = 0; i < b->n; i++)
		b->group_start[group_of[i] + 1]++;
	for (size_t g = 0; g < b->ngroups; g++)
		b->group_start[g + 1] += b->group_start[g];
	/* group_start[g] serves as group g's cursor, then is shifted back */
	for (size_t i = 0; i < b->n; i++)
		b->order[b->group_start[group_of[i]]++] = (uint32_t)i;
	for (size_t g = b->ngroups; g > 0; g--)
		b->group_start[g] = b->group_start[g - 1];
	b->group_start[0] = 0;
}

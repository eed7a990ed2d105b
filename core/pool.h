/* core/pool.h - per-request arena: bump allocation, freed all at once when the request ends. */
#ifndef WARREN_CORE_POOL_H
#define WARREN_CORE_POOL_H

#include <stddef.h>

struct pool_chunk;

struct pool {
	struct pool_chunk *head;  /* current chunk; the first one is kept across resets */
	struct pool_chunk *large; /* allocations too big for a chunk, freed on reset */
	size_t used;		  /* bytes used in head */
};

void pool_init(struct pool *p);
/* Returns @size bytes aligned for any type, or NULL when out of memory. */
void *pool_alloc(struct pool *p, size_t size);
/* Frees everything but the first chunk, which the next request reuses. */
void pool_reset(struct pool *p);
void pool_destroy(struct pool *p);

/*
 * Makes a malloc'd buffer hold at least @need bytes, doubling from @initial so appends
 * stay amortised O(1). Returns 0 or -ENOMEM (the buffer is then unchanged).
 */
int mem_grow(char **buf, size_t *cap, size_t need, size_t initial);

#endif /* WARREN_CORE_POOL_H */

/* core/base/pool.h - per-request arena: bump allocation, freed all at once when the request ends. */
#ifndef WARREN_CORE_POOL_H
#define WARREN_CORE_POOL_H

#include <stddef.h>

struct pool_chunk;

/*
 * The size of every buffer a connection needs while it has data in flight: the read
 * buffer, the write buffer, a response body and a pool chunk start at one block.
 */
#define BUF_BLOCK 8192

/*
 * A worker's free blocks: an idle connection gives its buffers back, and the next one
 * with data to handle takes them, so idle connections cost no buffer memory and busy
 * ones do not call malloc. The cache grows to what the busiest moment needed and shrinks
 * by what went unused between two blk_cache_trim() calls.
 */
struct blk_cache {
	void **free;
	size_t n, cap;
	size_t low; /* the fewest free blocks since the last trim: those were not needed */
};

void blk_cache_init(struct blk_cache *bc);
void blk_cache_fini(struct blk_cache *bc);
/* Frees the blocks that stayed unused since the previous call; returns how many. */
size_t blk_cache_trim(struct blk_cache *bc);
/* A BUF_BLOCK buffer (from @bc when not NULL), or NULL when out of memory. */
void *blk_get(struct blk_cache *bc);
/* Gives back a BUF_BLOCK buffer; @bc may be NULL (it is freed). */
void blk_put(struct blk_cache *bc, void *p);

/* Grows *@buf (of *@cap bytes, NULL when 0) to hold @need: a first block comes from the
 * cache, more from realloc doubling. Returns 0 or -ENOMEM (the buffer is then unchanged). */
int buf_reserve(struct blk_cache *bc, char **buf, size_t *cap, size_t need);
/* Gives a buffer grown by buf_reserve() back (to the cache when it is one block). */
void buf_release(struct blk_cache *bc, char **buf, size_t *cap);

struct pool {
	struct pool_chunk *head;  /* current chunk; the first one is kept across resets */
	struct pool_chunk *large; /* allocations too big for a chunk, freed on reset */
	size_t used;		  /* bytes used in head */
	struct blk_cache *cache;  /* where chunks come from and go back to; may be NULL */
};

void pool_init(struct pool *p, struct blk_cache *cache);
/* Returns @size bytes aligned for any type, or NULL when out of memory. */
void *pool_alloc(struct pool *p, size_t size);
/* Frees everything but the first chunk, which the next request reuses. */
void pool_reset(struct pool *p);
/* Frees everything, the first chunk too (a connection going idle). */
void pool_release(struct pool *p);
void pool_destroy(struct pool *p);

/*
 * Makes a malloc'd buffer hold at least @need bytes, doubling from @initial so appends
 * stay amortised O(1). Returns 0 or -ENOMEM (the buffer is then unchanged).
 */
int mem_grow(char **buf, size_t *cap, size_t need, size_t initial);

#endif /* WARREN_CORE_POOL_H */

/* core/base/pool.c - per-request arena, and the worker's cache of fixed-size blocks that arenas
 * and connection buffers are made of. A connection with requests in flight keeps one chunk
 * from request to request; an idle one gives everything back to the cache. */
#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/pool.h"

#define POOL_ALIGN alignof(max_align_t)

struct pool_chunk {
	struct pool_chunk *next;
	size_t size;
	alignas(max_align_t) unsigned char data[];
};

/* A chunk is one cached block. */
#define POOL_CHUNK_SIZE (BUF_BLOCK - sizeof(struct pool_chunk))

void blk_cache_init(struct blk_cache *bc)
{
	bc->free = NULL;
	bc->n = bc->cap = bc->low = 0;
}

size_t blk_cache_trim(struct blk_cache *bc)
{
	size_t freed = bc->low;

	for (size_t i = 0; i < freed; i++)
		free(bc->free[--bc->n]);
	bc->low = bc->n;
	return freed;
}

void blk_cache_fini(struct blk_cache *bc)
{
	while (bc->n > 0)
		free(bc->free[--bc->n]);
	free(bc->free);
	bc->free = NULL;
}

void *blk_get(struct blk_cache *bc)
{
	if (!bc || bc->n == 0)
		return malloc(BUF_BLOCK);
	if (--bc->n < bc->low)
		bc->low = bc->n;
	return bc->free[bc->n];
}

void blk_put(struct blk_cache *bc, void *p)
{
	if (!p)
		return;
	if (bc && bc->n == bc->cap) {
		size_t cap = bc->cap ? bc->cap * 2 : 64;
		void **grown = realloc(bc->free, cap * sizeof(*grown));

		if (grown) {
			bc->free = grown;
			bc->cap = cap;
		}
	}
	if (!bc || bc->n == bc->cap) {
		free(p);
		return;
	}
	bc->free[bc->n++] = p;
}

int buf_reserve(struct blk_cache *bc, char **buf, size_t *cap, size_t need)
{
	if (!*buf && need <= BUF_BLOCK) {
		*buf = blk_get(bc);
		if (!*buf)
			return -ENOMEM;
		*cap = BUF_BLOCK;
		return 0;
	}
	return mem_grow(buf, cap, need, BUF_BLOCK);
}

void buf_release(struct blk_cache *bc, char **buf, size_t *cap)
{
	if (*cap == BUF_BLOCK)
		blk_put(bc, *buf);
	else
		free(*buf);
	*buf = NULL;
	*cap = 0;
}

void pool_init(struct pool *p, struct blk_cache *cache)
{
	p->head = NULL;
	p->large = NULL;
	p->used = 0;
	p->cache = cache;
}

static struct pool_chunk *chunk_new(struct pool *p, size_t size)
{
	struct pool_chunk *c;

	if (size == POOL_CHUNK_SIZE)
		c = blk_get(p->cache);
	else
		c = malloc(sizeof(*c) + size);
	if (!c)
		return NULL;
	c->next = NULL;
	c->size = size;
	return c;
}

void *pool_alloc(struct pool *p, size_t size)
{
	struct pool_chunk *c;

	/* Rounding up or the chunk header would wrap a size near SIZE_MAX round to a tiny one. */
	if (size > SIZE_MAX / 2)
		return NULL;
	size = (size + POOL_ALIGN - 1) & ~(POOL_ALIGN - 1);
	if (size == 0)
		size = POOL_ALIGN;
	if (size > POOL_CHUNK_SIZE / 4) {
		/* Big blocks get their own allocation so they don't waste chunk tails. */
		c = chunk_new(p, size);
		if (!c)
			return NULL;
		c->next = p->large;
		p->large = c;
		return c->data;
	}
	if (!p->head || p->used + size > p->head->size) {
		c = chunk_new(p, POOL_CHUNK_SIZE);
		if (!c)
			return NULL;
		c->next = p->head;
		p->head = c;
		p->used = 0;
	}
	p->used += size;
	return p->head->data + p->used - size;
}

static void free_list(struct pool *p, struct pool_chunk *c)
{
	while (c) {
		struct pool_chunk *next = c->next;

		if (c->size == POOL_CHUNK_SIZE)
			blk_put(p->cache, c);
		else
			free(c);
		c = next;
	}
}

void pool_reset(struct pool *p)
{
	free_list(p, p->large);
	p->large = NULL;
	if (!p->head)
		return;
	free_list(p, p->head->next);
	p->head->next = NULL;
	p->used = 0;
}

void pool_release(struct pool *p)
{
	free_list(p, p->large);
	free_list(p, p->head);
	p->head = p->large = NULL;
	p->used = 0;
}

void pool_destroy(struct pool *p)
{
	pool_release(p);
}

int mem_grow(char **buf, size_t *cap, size_t need, size_t initial)
{
	size_t n = *cap ? *cap : initial;
	char *nb;

	if (need <= *cap)
		return 0;
	if (need > SIZE_MAX / 2)
		return -ENOMEM;
	while (n < need)
		n *= 2;
	nb = realloc(*buf, n);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*cap = n;
	return 0;
}

/* core/pool.c - per-request arena. One chunk per connection is reused request after request,
 * so a typical request allocates nothing from malloc. */
#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

#include "pool.h"

#define POOL_CHUNK_SIZE 4096
#define POOL_ALIGN alignof(max_align_t)

struct pool_chunk {
	struct pool_chunk *next;
	size_t size;
	alignas(max_align_t) unsigned char data[];
};

void pool_init(struct pool *p)
{
	p->head = NULL;
	p->large = NULL;
	p->used = 0;
}

static struct pool_chunk *chunk_new(size_t size)
{
	struct pool_chunk *c = malloc(sizeof(*c) + size);

	if (!c)
		return NULL;
	c->next = NULL;
	c->size = size;
	return c;
}

void *pool_alloc(struct pool *p, size_t size)
{
	struct pool_chunk *c;

	size = (size + POOL_ALIGN - 1) & ~(POOL_ALIGN - 1);
	if (size == 0)
		size = POOL_ALIGN;
	if (size > POOL_CHUNK_SIZE / 4) {
		/* Big blocks get their own allocation so they don't waste chunk tails. */
		c = chunk_new(size);
		if (!c)
			return NULL;
		c->next = p->large;
		p->large = c;
		return c->data;
	}
	if (!p->head || p->used + size > p->head->size) {
		c = chunk_new(POOL_CHUNK_SIZE);
		if (!c)
			return NULL;
		c->next = p->head;
		p->head = c;
		p->used = 0;
	}
	p->used += size;
	return p->head->data + p->used - size;
}

static void free_list(struct pool_chunk *c)
{
	while (c) {
		struct pool_chunk *next = c->next;

		free(c);
		c = next;
	}
}

void pool_reset(struct pool *p)
{
	free_list(p->large);
	p->large = NULL;
	if (!p->head)
		return;
	free_list(p->head->next);
	p->head->next = NULL;
	p->used = 0;
}

void pool_destroy(struct pool *p)
{
	free_list(p->large);
	free_list(p->head);
	pool_init(p);
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

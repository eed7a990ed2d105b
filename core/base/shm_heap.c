/* core/base/shm_heap.c - a heap inside a shared zone: boundary-tagged blocks on free lists by
 * size class, updated in an order that a worker dying half-way through a call cannot break.
 *
 * Everything is an offset from the heap's start, so the heap does not care where it is
 * mapped. Each block starts with a header: its size with the low bit saying "used", and
 * the size of the block before it. The chain of sizes from the first block to the end
 * marker is the truth; the free lists, the previous sizes and the counts are derived from
 * it, and warren_shm_heap_check() can rebuild them. Every change to the chain is one
 * aligned 8-byte store, made only once what it uncovers is written: a process dying
 * between two of them leaves a chain that still walks from start to end.
 */
#include <errno.h>
#include <string.h>

#include "base/common.h"
#include "base/log.h"

#define HEAP_MAGIC 0x3170616568727777ULL /* "wwrheap1": a new layout gets a new one */
#define HDR 16
#define MIN_BLOCK 32
#define NBINS 32
#define USED 1ULL

/*
 * The compiler must not move stores to the chain across one another: which of them a
 * dead process made must be a prefix of the order written here. The CPU keeps it: the
 * next holder sees the dead owner's stores only after the kernel's robust-futex handling,
 * which comes after all of them.
 */
#define ORDER() __asm__ __volatile__("" ::: "memory")

struct blk {
	uint64_t info;	    /* size | USED: the word the chain is walked by */
	uint64_t prev_size; /* of the block before it; derived */
};

/* The payload of a free block: its neighbours in its bin's list, 0 for none. */
struct links {
	uint64_t next, prev;
};

struct warren_shm_heap {
	uint64_t magic;
	uint64_t first;	 /* offset of the first block */
	uint64_t end;	 /* offset of the end marker: a used header of size 0 */
	uint32_t busy;	 /* a call is under way; still set after its caller died */
	uint32_t bitmap; /* bins that are not empty */
	uint64_t bins[NBINS];
	uint64_t used; /* bytes in used blocks, headers included */
	uint64_t used_blocks, free_blocks;
};

static inline struct blk *blk(const struct warren_shm_heap *h, uint64_t off)
{
	return (struct blk *)((char *)h + off);
}

static inline struct links *links(const struct warren_shm_heap *h, uint64_t off)
{
	return (struct links *)((char *)h + off + HDR);
}

static inline uint64_t size_of(const struct warren_shm_heap *h, uint64_t off)
{
	return blk(h, off)->info & ~USED;
}

static inline bool used(const struct warren_shm_heap *h, uint64_t off)
{
	return blk(h, off)->info & USED;
}

/* Bin b holds free blocks of 2^(b+5) bytes up to twice that; the last one, all larger. */
static unsigned bin_of(uint64_t size)
{
	unsigned b = 63 - (unsigned)__builtin_clzll(size) - 5;

	return b < NBINS ? b : NBINS - 1;
}

static void list_push(struct warren_shm_heap *h, uint64_t off)
{
	unsigned b = bin_of(size_of(h, off));
	struct links *l = links(h, off);

	l->next = h->bins[b];
	l->prev = 0;
	if (h->bins[b])
		links(h, h->bins[b])->prev = off;
	h->bins[b] = off;
	h->bitmap |= 1U << b;
	h->free_blocks++;
}

static void list_remove(struct warren_shm_heap *h, uint64_t off)
{
	unsigned b = bin_of(size_of(h, off));
	struct links *l = links(h, off);

	if (l->prev)
		links(h, l->prev)->next = l->next;
	else
		h->bins[b] = l->next;
	if (l->next)
		links(h, l->next)->prev = l->prev;
	if (!h->bins[b])
		h->bitmap &= ~(1U << b);
	h->free_blocks--;
}

static bool is_heap(const struct warren_shm_heap *h)
{
	return h && h->magic == HEAP_MAGIC;
}

static void busy_begin(struct warren_shm_heap *h)
{
	h->busy = 1;
	ORDER();
}

static void busy_end(struct warren_shm_heap *h)
{
	ORDER();
	h->busy = 0;
}

/* Frees everything: one free block from the first offset to the end marker. */
static void format(struct warren_shm_heap *h)
{
	busy_begin(h);
	memset(h->bins, 0, sizeof(h->bins));
	h->bitmap = 0;
	h->used = h->used_blocks = h->free_blocks = 0;
	blk(h, h->first)->prev_size = 0;
	blk(h, h->first)->info = h->end - h->first;
	blk(h, h->end)->prev_size = h->end - h->first;
	blk(h, h->end)->info = USED;
	list_push(h, h->first);
	busy_end(h);
}

WARREN_API int warren_shm_heap_init(void *mem, size_t size, struct warren_shm_heap **out)
{
	uintptr_t at = ((uintptr_t)mem + HDR - 1) & ~(uintptr_t)(HDR - 1);
	uint64_t first = (sizeof(struct warren_shm_heap) + HDR - 1) & ~(uint64_t)(HDR - 1);
	struct warren_shm_heap *h = (struct warren_shm_heap *)at;
	size_t skip = at - (uintptr_t)mem;

	if (!mem || !out || size < skip + first + MIN_BLOCK + HDR)
		return -EINVAL;
	size -= skip;
	memset(h, 0, sizeof(*h));
	h->first = first;
	h->end = first + ((size - first - HDR) & ~(uint64_t)(HDR - 1));
	format(h);
	ORDER();
	h->magic = HEAP_MAGIC;
	*out = h;
	return 0;
}

WARREN_API void warren_shm_heap_reset(struct warren_shm_heap *h)
{
	if (is_heap(h))
		format(h);
}

static int walk(const struct warren_shm_heap *h);
static void rebuild(struct warren_shm_heap *h);

/*
 * A call cut short by a dead worker left the heap busy: it is repaired before the next
 * call goes on, whether or not the module checked it. False when it cannot be.
 */
static bool settled(struct warren_shm_heap *h)
{
	if (!h->busy)
		return true;
	if (walk(h) < 0) {
		log_error("shared heap %p: a call was cut short and its blocks are overwritten; "
			  "warren_shm_heap_reset() it",
			  (void *)h);
		return false;
	}
	rebuild(h);
	ORDER();
	h->busy = 0;
	return true;
}

/* A free block of at least @need bytes, or 0. */
static uint64_t find_fit(const struct warren_shm_heap *h, uint64_t need)
{
	unsigned b = bin_of(need);
	uint32_t larger;

	/* First fit within the bin, whose blocks may be smaller; any block of a larger bin
	 * fits, and the smallest of them splits the least. */
	for (uint64_t off = h->bins[b]; off; off = links(h, off)->next)
		if (size_of(h, off) >= need)
			return off;
	larger = b + 1 < NBINS ? h->bitmap & ~((2U << b) - 1) : 0;
	return larger ? h->bins[__builtin_ctz(larger)] : 0;
}

WARREN_API void *warren_shm_alloc(struct warren_shm_heap *h, size_t size)
{
	uint64_t need, off, have;

	if (!is_heap(h) || size == 0 || size > h->end - h->first || !settled(h))
		return NULL;
	need = (size + HDR + HDR - 1) & ~(uint64_t)(HDR - 1);
	if (need < MIN_BLOCK)
		need = MIN_BLOCK;
	off = find_fit(h, need);
	if (!off)
		return NULL;
	busy_begin(h);
	list_remove(h, off);
	have = size_of(h, off);
	if (have - need >= MIN_BLOCK) {
		uint64_t rest = off + need;

		/* The rest's header first, inside what is still one free block; then the one
		 * store that makes the chain go through it. */
		blk(h, rest)->prev_size = need;
		blk(h, rest)->info = have - need;
		ORDER();
		blk(h, off)->info = need | USED;
		ORDER();
		blk(h, off + have)->prev_size = have - need;
		list_push(h, rest);
		have = need;
	} else {
		blk(h, off)->info = have | USED;
	}
	h->used += have;
	h->used_blocks++;
	busy_end(h);
	return (char *)h + off + HDR;
}

/* The offset of the block @p is the payload of, when it is a used block of @h. */
static bool block_of(const struct warren_shm_heap *h, const void *p, uint64_t *out)
{
	uintptr_t at = (uintptr_t)p, base = (uintptr_t)h;
	uint64_t off, size;

	if (at < base + h->first + HDR || at >= base + h->end)
		return false;
	off = at - base - HDR;
	if (off % HDR || !used(h, off))
		return false;
	size = size_of(h, off);
	if (size < MIN_BLOCK || size % HDR || size > h->end - off)
		return false;
	*out = off;
	return true;
}

WARREN_API void warren_shm_free(struct warren_shm_heap *h, void *p)
{
	uint64_t off, size, next, prev;

	if (!p)
		return;
	if (!is_heap(h) || !settled(h) || !block_of(h, p, &off)) {
		log_error(
			"warren_shm_free: %p is not an allocated block of shared heap %p; ignored",
			p, (void *)h);
		return;
	}
	busy_begin(h);
	size = size_of(h, off);
	h->used -= size;
	h->used_blocks--;
	blk(h, off)->info = size;
	ORDER();
	next = off + size;
	if (!used(h, next)) {
		list_remove(h, next);
		size += size_of(h, next);
		blk(h, off)->info = size;
		ORDER();
	}
	prev = off - blk(h, off)->prev_size;
	if (off != h->first && prev >= h->first && prev < off && !used(h, prev) &&
	    size_of(h, prev) == off - prev) {
		list_remove(h, prev);
		size += off - prev;
		blk(h, prev)->info = size;
		ORDER();
		off = prev;
	}
	blk(h, off + size)->prev_size = size;
	list_push(h, off);
	busy_end(h);
}

WARREN_API size_t warren_shm_block_size(const struct warren_shm_heap *h, const void *p)
{
	uint64_t off;

	if (!is_heap(h) || !block_of(h, p, &off))
		return 0;
	return size_of(h, off) - HDR;
}

/* Walks the chain: -EUCLEAN when it does not lead from the first block to the end marker;
 * otherwise 0, or 1 when what is derived from it disagrees. */
static int walk(const struct warren_shm_heap *h)
{
	uint64_t off = h->first, prev = 0, used_bytes = 0, nused = 0, nfree = 0, listed = 0;
	bool prev_free = false, stale = false;

	while (off != h->end) {
		uint64_t size = size_of(h, off);

		if (size < MIN_BLOCK || size % HDR || size > h->end - off)
			return -EUCLEAN;
		if (blk(h, off)->prev_size != prev)
			stale = true;
		if (used(h, off)) {
			used_bytes += size;
			nused++;
			prev_free = false;
		} else {
			stale |= prev_free; /* left unmerged */
			nfree++;
			prev_free = true;
		}
		prev = size;
		off += size;
	}
	if (blk(h, off)->info != USED)
		return -EUCLEAN;
	if (blk(h, off)->prev_size != prev || used_bytes != h->used || nused != h->used_blocks ||
	    nfree != h->free_blocks)
		stale = true;
	/* Every list entry a free block of its bin, linked both ways, nothing twice. */
	for (unsigned b = 0; b < NBINS && !stale; b++) {
		uint64_t back = 0;

		if (!h->bins[b] != !(h->bitmap & (1U << b)))
			stale = true;
		for (uint64_t e = h->bins[b]; e && !stale; e = links(h, e)->next) {
			if (e < h->first || e >= h->end || e % HDR || used(h, e) ||
			    size_of(h, e) < MIN_BLOCK || size_of(h, e) > h->end - e ||
			    bin_of(size_of(h, e)) != b || links(h, e)->prev != back ||
			    ++listed > nfree)
				stale = true;
			back = e;
		}
	}
	return stale || listed != nfree ? 1 : 0;
}

/* Rebuilds what is derived from a chain that walk() accepted. */
static void rebuild(struct warren_shm_heap *h)
{
	uint64_t off = h->first, prev = 0;

	memset(h->bins, 0, sizeof(h->bins));
	h->bitmap = 0;
	h->used = h->used_blocks = h->free_blocks = 0;
	while (off != h->end) {
		uint64_t size = size_of(h, off);

		if (!used(h, off)) {
			/* Merge the free blocks that follow, as their free would have. */
			while (!used(h, off + size))
				size += size_of(h, off + size);
			blk(h, off)->info = size;
			list_push(h, off);
		} else {
			h->used += size;
			h->used_blocks++;
		}
		blk(h, off)->prev_size = prev;
		prev = size;
		off += size;
	}
	blk(h, off)->prev_size = prev;
}

WARREN_API int warren_shm_heap_check(struct warren_shm_heap *h)
{
	int ret;

	if (!is_heap(h))
		return -EINVAL;
	ret = walk(h);
	if (ret < 0)
		return ret;
	if (ret == 0 && !h->busy)
		return 0;
	busy_begin(h);
	rebuild(h);
	busy_end(h);
	return 1;
}

WARREN_API void warren_shm_heap_stats(const struct warren_shm_heap *h,
				      struct warren_shm_heap_stats *st)
{
	uint64_t largest = 0;

	memset(st, 0, sizeof(*st));
	if (!is_heap(h))
		return;
	if (h->bitmap) {
		unsigned b = 31 - (unsigned)__builtin_clz(h->bitmap);

		for (uint64_t off = h->bins[b]; off; off = links(h, off)->next)
			if (size_of(h, off) > largest)
				largest = size_of(h, off);
	}
	st->capacity = h->end - h->first;
	st->used = h->used;
	st->free = st->capacity - h->used;
	st->largest_free = largest ? largest - HDR : 0;
	st->used_blocks = h->used_blocks;
	st->free_blocks = h->free_blocks;
}

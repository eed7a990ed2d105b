/* core/base/timer.c - binary min-heap of deadlines; re-arming a timer is one sift, never an allocation
 * once the heap has grown to the number of connections. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "base/timer.h"

uint64_t timer_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void place(struct timer_heap *h, size_t i, struct timer *t)
{
	h->a[i] = t;
	t->idx = i;
}

static void sift_up(struct timer_heap *h, size_t i)
{
	struct timer *t = h->a[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (h->a[parent]->deadline <= t->deadline)
			break;
		place(h, i, h->a[parent]);
		i = parent;
	}
	place(h, i, t);
}

static void sift_down(struct timer_heap *h, size_t i)
{
	struct timer *t = h->a[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= h->n)
			break;
		if (child + 1 < h->n && h->a[child + 1]->deadline < h->a[child]->deadline)
			child++;
		if (t->deadline <= h->a[child]->deadline)
			break;
		place(h, i, h->a[child]);
		i = child;
	}
	place(h, i, t);
}

int timer_set(struct timer_heap *h, struct timer *t, uint64_t deadline)
{
	if (timer_armed(t)) {
		uint64_t old = t->deadline;

		t->deadline = deadline;
		if (deadline < old)
			sift_up(h, t->idx);
		else
			sift_down(h, t->idx);
		return 0;
	}
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct timer **a = realloc(h->a, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		h->a = a;
		h->cap = cap;
	}
	t->deadline = deadline;
	place(h, h->n++, t);
	sift_up(h, t->idx);
	return 0;
}

void timer_cancel(struct timer_heap *h, struct timer *t)
{
	size_t i = t->idx;

	if (i == TIMER_IDLE)
		return;
	t->idx = TIMER_IDLE;
	if (--h->n == i)
		return;
	place(h, i, h->a[h->n]);
	if (i > 0 && h->a[(i - 1) / 2]->deadline > h->a[i]->deadline)
		sift_up(h, i);
	else
		sift_down(h, i);
}

int timer_next_ms(const struct timer_heap *h, uint64_t now)
{
	uint64_t d;

	if (h->n == 0)
		return -1;
	d = h->a[0]->deadline;
	if (d <= now)
		return 0;
	d -= now;
	return d > INT32_MAX ? INT32_MAX : (int)d;
}

void timer_run(struct timer_heap *h, uint64_t now)
{
	while (h->n > 0 && h->a[0]->deadline <= now) {
		struct timer *t = h->a[0];

		timer_cancel(h, t);
		t->fn(t);
	}
}

void timer_heap_free(struct timer_heap *h)
{
	free(h->a);
	h->a = NULL;
	h->n = h->cap = 0;
}

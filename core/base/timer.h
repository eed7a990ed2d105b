/* core/base/timer.h - per-worker timers (keep-alive, header and send timeouts) in one min-heap. */
#ifndef WARREN_CORE_TIMER_H
#define WARREN_CORE_TIMER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TIMER_IDLE SIZE_MAX

struct timer;
typedef void (*timer_fn)(struct timer *t);

struct timer {
	uint64_t deadline; /* ms on the monotonic clock */
	size_t idx;	   /* heap slot, TIMER_IDLE when not armed */
	timer_fn fn;
};

struct timer_heap {
	struct timer **a;
	size_t n, cap;
};

static inline void timer_init(struct timer *t, timer_fn fn)
{
	t->idx = TIMER_IDLE;
	t->deadline = 0;
	t->fn = fn;
}

static inline int timer_armed(const struct timer *t)
{
	return t->idx != TIMER_IDLE;
}

/* Monotonic milliseconds. */
uint64_t timer_now_ms(void);

/* Monotonic milliseconds at the kernel tick's resolution (a few ms), for a cheap read on
 * hot paths: no clock source is read, only what the kernel last stored. */
static inline uint64_t timer_coarse_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Arms or re-arms @t to fire at @deadline. Returns 0 or -ENOMEM. */
int timer_set(struct timer_heap *h, struct timer *t, uint64_t deadline);
void timer_cancel(struct timer_heap *h, struct timer *t);
/* Milliseconds until the earliest deadline (0 if past), or -1 when none is armed. */
int timer_next_ms(const struct timer_heap *h, uint64_t now);
/* Fires, in deadline order, every timer due at @now; each is disarmed before it runs. */
void timer_run(struct timer_heap *h, uint64_t now);
void timer_heap_free(struct timer_heap *h);

#endif /* WARREN_CORE_TIMER_H */

/* tests/unit/reactor_backends.h - for unit tests that run once per reactor backend (a
 * Check loop test over 0..2): the backend of each iteration, io_uring skipped where the
 * machine refuses it, and a clock for deadlines. */
#ifndef WARREN_TESTS_UNIT_REACTOR_BACKENDS_H
#define WARREN_TESTS_UNIT_REACTOR_BACKENDS_H

#include <check.h>
#include <stdio.h>
#include <time.h>

#include "event/reactor.h"
#include "event/reactor_epoll.h"
#include "event/reactor_uring.h"

static const char *const backends[] = {"epoll", "io_uring"};

/* The backend of loop iteration @i, or NULL when this machine has no io_uring for us. */
static inline struct reactor *make_reactor(int i)
{
	struct warren_error err = {{0}};
	struct reactor *rx = NULL;
	int ret;

	if (i == 0)
		ret = reactor_epoll_create(&rx, &err);
	else
		ret = reactor_uring_create(&rx, &err);
	if (ret < 0 && i == 1) {
		fprintf(stderr, "%s skipped: %s\n", backends[i], err.msg);
		return NULL;
	}
	ck_assert_msg(ret == 0, "%s: %s", backends[i], err.msg);
	return rx;
}

/* Monotonic milliseconds, for deadlines. */
static inline long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

#endif /* WARREN_TESTS_UNIT_REACTOR_BACKENDS_H */

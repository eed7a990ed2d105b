/* tests/unit/test_watchdog.c - the clock the master keeps per worker for watchdog.kill
 * (core/server/watchdog.c): when it starts, what counts as progress, and the grace a
 * signalled worker gets before SIGKILL. */
#include "check_main.h"
#include "server/watchdog.h"

#define KILL_MS 1000
#define GRACE_MS 5000

static enum watchdog_action look(struct watchdog_clock *wc, pid_t pid, bool ready, uint64_t beat,
				 uint64_t now)
{
	return watchdog_look(wc, pid, ready, beat, now, KILL_MS, GRACE_MS);
}

/* A worker ready before the master's first look is measured from when it became ready,
 * not from the zeroed clock of its slot. */
START_TEST(test_clock_starts_when_ready)
{
	struct watchdog_clock wc = {0};

	watchdog_ready(&wc, 0, 50000);
	ck_assert_int_eq(look(&wc, 10, true, 0, 50000 + KILL_MS - 1), WATCHDOG_NONE);
	ck_assert_int_eq(look(&wc, 10, true, 0, 50000 + KILL_MS), WATCHDOG_ABORT);
}
END_TEST

/* A look taken before the worker was ready does not start its clock: being ready does. */
START_TEST(test_clock_restarts_at_ready)
{
	struct watchdog_clock wc = {0};

	ck_assert_int_eq(look(&wc, 10, false, 2, 1000), WATCHDOG_NONE);
	watchdog_ready(&wc, 2, 30000);
	ck_assert_int_eq(look(&wc, 10, true, 2, 30000 + KILL_MS / 2), WATCHDOG_NONE);
	ck_assert_int_eq(look(&wc, 10, true, 2, 30000 + KILL_MS - 1), WATCHDOG_NONE);
	ck_assert_int_eq(look(&wc, 10, true, 2, 30000 + KILL_MS), WATCHDOG_ABORT);
}
END_TEST

/* A beat count that moves, or that is odd (waiting for events), is progress. */
START_TEST(test_progress)
{
	struct watchdog_clock wc = {0};
	uint64_t t = 1000;

	watchdog_ready(&wc, 4, t);
	t += KILL_MS - 1;
	ck_assert_int_eq(look(&wc, 10, true, 6, t), WATCHDOG_NONE);
	ck_assert_int_eq(look(&wc, 10, true, 6, t + KILL_MS - 1), WATCHDOG_NONE);
	t += KILL_MS - 1;
	ck_assert_int_eq(look(&wc, 10, true, 7, t), WATCHDOG_NONE);
	ck_assert_int_eq(look(&wc, 10, true, 7, t + 10 * KILL_MS), WATCHDOG_NONE);
	t += 10 * KILL_MS;
	ck_assert_int_eq(look(&wc, 10, true, 8, t), WATCHDOG_NONE);
	ck_assert_int_eq(look(&wc, 10, true, 8, t + KILL_MS), WATCHDOG_ABORT);
}
END_TEST

/* A worker not ready yet is never aborted: its start has limits of its own. */
START_TEST(test_not_ready)
{
	struct watchdog_clock wc = {0};

	ck_assert_int_eq(look(&wc, 10, false, 0, 100), WATCHDOG_NONE);
	ck_assert_int_eq(look(&wc, 10, false, 0, 100 + 10 * KILL_MS), WATCHDOG_NONE);
}
END_TEST

/* The aborted worker gets the grace to write its report, then SIGKILL once; its
 * replacement has a clock of its own. */
START_TEST(test_grace_then_kill)
{
	struct watchdog_clock wc = {0};
	uint64_t t = 1000;

	watchdog_ready(&wc, 2, t);
	t += KILL_MS;
	ck_assert_int_eq(look(&wc, 10, true, 2, t), WATCHDOG_ABORT);
	ck_assert_int_eq(look(&wc, 10, true, 2, t + 1), WATCHDOG_NONE);
	ck_assert_int_eq(look(&wc, 10, true, 4, t + GRACE_MS - 1), WATCHDOG_NONE);
	ck_assert_int_eq(look(&wc, 10, true, 4, t + GRACE_MS), WATCHDOG_KILL);
	ck_assert_int_eq(look(&wc, 10, true, 4, t + 2 * GRACE_MS), WATCHDOG_NONE);

	/* Respawned as pid 11: not ready yet, then ready with its own start. */
	t += 2 * GRACE_MS;
	ck_assert_int_eq(look(&wc, 11, false, 0, t), WATCHDOG_NONE);
	watchdog_ready(&wc, 0, t + 100);
	ck_assert_int_eq(look(&wc, 11, true, 0, t + 100 + KILL_MS - 1), WATCHDOG_NONE);
	ck_assert_int_eq(look(&wc, 11, true, 0, t + 100 + KILL_MS), WATCHDOG_ABORT);
}
END_TEST

static Suite *watchdog_suite(void)
{
	Suite *s = suite_create("watchdog");
	TCase *tc = tcase_create("clock");

	tcase_add_test(tc, test_clock_starts_when_ready);
	tcase_add_test(tc, test_clock_restarts_at_ready);
	tcase_add_test(tc, test_progress);
	tcase_add_test(tc, test_not_ready);
	tcase_add_test(tc, test_grace_then_kill);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(watchdog_suite)

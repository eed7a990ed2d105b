/* tests/unit/test_post.c - the event loop's posted-work queue (core/event/post.c) and its
 * place in a turn of both reactor backends. */
#include <stdlib.h>
#include <time.h>
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#include "check_main.h"
#include "event/post.h"
#include "event/reactor.h"
#include "unit/reactor_backends.h"

/* What one entry saw: how often it ran, and what it does when it runs. */
struct probe {
	struct rx_post post;
	unsigned runs;
	unsigned order; /* when it last ran, in calls of any probe */
	struct post_queue *q;
	struct reactor *rx;
	struct rx_post *cancel; /* cancels this when it runs */
	bool repost;		/* posts itself again when it runs */
};

static unsigned calls;

static void on_run(void *arg)
{
	struct probe *pr = arg;

	pr->runs++;
	pr->order = ++calls;
	if (pr->cancel)
		post_cancel(pr->cancel);
	if (pr->repost && pr->rx)
		rx_post(pr->rx, &pr->post);
	else if (pr->repost)
		post_add(pr->q, &pr->post);
}

static void probe_init(struct probe *pr, struct post_queue *q)
{
	*pr = (struct probe){.q = q};
	post_init(&pr->post, on_run, pr);
}

START_TEST(runs_in_order_once)
{
	struct post_queue q;
	struct probe a, b;

	post_queue_init(&q);
	probe_init(&a, &q);
	probe_init(&b, &q);
	ck_assert(post_queue_empty(&q));
	post_add(&q, &a.post);
	post_add(&q, &b.post);
	ck_assert(post_is_posted(&a.post));
	ck_assert(!post_queue_empty(&q));
	ck_assert_uint_eq(post_queue_run(&q), 2);
	ck_assert_uint_eq(a.runs, 1);
	ck_assert_uint_eq(b.runs, 1);
	ck_assert_uint_lt(a.order, b.order);
	ck_assert(!post_is_posted(&a.post));
	ck_assert(post_queue_empty(&q));
	ck_assert_uint_eq(post_queue_run(&q), 0);
	ck_assert_uint_eq(a.runs, 1);
}
END_TEST

START_TEST(posting_twice_keeps_one_place)
{
	struct post_queue q;
	struct probe a, b;

	post_queue_init(&q);
	probe_init(&a, &q);
	probe_init(&b, &q);
	post_add(&q, &a.post);
	post_add(&q, &b.post);
	post_add(&q, &a.post);
	ck_assert_uint_eq(post_queue_run(&q), 2);
	ck_assert_uint_eq(a.runs, 1);
	ck_assert_uint_lt(a.order, b.order);
}
END_TEST

START_TEST(cancel_takes_back)
{
	struct post_queue q;
	struct probe a, b;

	post_queue_init(&q);
	probe_init(&a, &q);
	probe_init(&b, &q);
	post_cancel(&a.post); /* not posted: nothing happens */
	post_add(&q, &a.post);
	post_add(&q, &b.post);
	post_cancel(&a.post);
	ck_assert(!post_is_posted(&a.post));
	ck_assert_uint_eq(post_queue_run(&q), 1);
	ck_assert_uint_eq(a.runs, 0);
	ck_assert_uint_eq(b.runs, 1);
	/* Cancelled, it can be posted again. */
	post_add(&q, &a.post);
	ck_assert_uint_eq(post_queue_run(&q), 1);
	ck_assert_uint_eq(a.runs, 1);
}
END_TEST

START_TEST(cancel_during_a_run)
{
	struct post_queue q;
	struct probe a, b, c;

	post_queue_init(&q);
	probe_init(&a, &q);
	probe_init(&b, &q);
	probe_init(&c, &q);
	a.cancel = &b.post;
	post_add(&q, &a.post);
	post_add(&q, &b.post);
	post_add(&q, &c.post);
	ck_assert_uint_eq(post_queue_run(&q), 2);
	ck_assert_uint_eq(b.runs, 0);
	ck_assert_uint_eq(c.runs, 1);
	ck_assert(post_queue_empty(&q));
}
END_TEST

START_TEST(posted_during_a_run_waits_for_the_next)
{
	struct post_queue q;
	struct probe a;

	post_queue_init(&q);
	probe_init(&a, &q);
	a.repost = true;
	post_add(&q, &a.post);
	ck_assert_uint_eq(post_queue_run(&q), 1);
	ck_assert_uint_eq(a.runs, 1);
	ck_assert(post_is_posted(&a.post));
	a.repost = false;
	ck_assert_uint_eq(post_queue_run(&q), 1);
	ck_assert_uint_eq(a.runs, 2);
	ck_assert(post_queue_empty(&q));
}
END_TEST

START_TEST(drop_unposts)
{
	struct post_queue q;
	struct probe a, b;

	post_queue_init(&q);
	probe_init(&a, &q);
	probe_init(&b, &q);
	post_add(&q, &a.post);
	post_add(&q, &b.post);
	post_queue_drop(&q);
	ck_assert(post_queue_empty(&q));
	ck_assert(!post_is_posted(&a.post));
	ck_assert(!post_is_posted(&b.post));
	ck_assert_uint_eq(post_queue_run(&q), 0);
	ck_assert_uint_eq(a.runs + b.runs, 0);
}
END_TEST

/* ---- in a reactor, on each backend ------------------------------------------------------ */

START_TEST(reactor_runs_posted_work)
{
	struct reactor *rx = make_reactor(_i);
	struct probe a;
	long long start;
	unsigned turns = 0, most = RUNNING_ON_VALGRIND && _i == 1 ? 150 : 10;

	if (!rx)
		return;
	probe_init(&a, NULL);
	a.rx = rx;
	rx_post(rx, &a.post);
	rx_post(rx, &a.post);
	/* It runs before the wait, not after it. */
	ck_assert_int_eq(reactor_run(rx, 0), 0);
	ck_assert_uint_eq(a.runs, 1);
	/*
	 * Nothing is posted any more: runs wait as long as they are told. Under valgrind the
	 * io_uring backend naps 1 ms a turn instead of waiting in the kernel (reactor_uring.c),
	 * so a turn there may last only that; spinning through 100 ms of zero waits would take
	 * thousands of turns either way.
	 */
	start = now_ms();
	while (now_ms() - start < 100) {
		ck_assert_int_eq(reactor_run(rx, 100), 0);
		turns++;
	}
	ck_assert_uint_eq(a.runs, 1);
	ck_assert_uint_le(turns, most);
	reactor_destroy(rx);
}
END_TEST

START_TEST(reactor_does_not_wait_while_posted)
{
	struct reactor *rx = make_reactor(_i);
	struct probe a;
	long long start;

	if (!rx)
		return;
	probe_init(&a, NULL);
	a.rx = rx;
	a.repost = true;
	rx_post(rx, &a.post);
	start = now_ms();
	/* Each run runs it once, and it posts itself again: no run may wait its 3 s. */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(reactor_run(rx, 3000), 0);
	ck_assert_uint_eq(a.runs, 3);
	ck_assert_int_lt(now_ms() - start, 1000);
	reactor_destroy(rx);
}
END_TEST

START_TEST(reactor_cancel_and_destroy)
{
	struct reactor *rx = make_reactor(_i);
	struct probe a;

	if (!rx)
		return;
	probe_init(&a, NULL);
	a.rx = rx;
	rx_post(rx, &a.post);
	rx_post_cancel(rx, &a.post);
	ck_assert_int_eq(reactor_run(rx, 0), 0);
	ck_assert_uint_eq(a.runs, 0);
	/* Destroyed with work posted: it never runs and is left unposted. */
	rx_post(rx, &a.post);
	reactor_destroy(rx);
	ck_assert(!post_is_posted(&a.post));
	ck_assert_uint_eq(a.runs, 0);
}
END_TEST

static Suite *post_suite(void)
{
	Suite *s = suite_create("post");
	TCase *tc = tcase_create("queue");
	TCase *tr = tcase_create("reactor");

	tcase_add_test(tc, runs_in_order_once);
	tcase_add_test(tc, posting_twice_keeps_one_place);
	tcase_add_test(tc, cancel_takes_back);
	tcase_add_test(tc, cancel_during_a_run);
	tcase_add_test(tc, posted_during_a_run_waits_for_the_next);
	tcase_add_test(tc, drop_unposts);
	suite_add_tcase(s, tc);
	tcase_add_loop_test(tr, reactor_runs_posted_work, 0, 2);
	tcase_add_loop_test(tr, reactor_does_not_wait_while_posted, 0, 2);
	tcase_add_loop_test(tr, reactor_cancel_and_destroy, 0, 2);
	suite_add_tcase(s, tr);
	return s;
}

CHECK_MAIN(post_suite)

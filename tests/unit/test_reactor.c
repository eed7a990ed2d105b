/* tests/unit/test_reactor.c - operations of both reactor backends (core/event) that are
 * cancelled and armed again: only the current arming may ever reach its callback. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "event/reactor.h"
#include "unit/reactor_backends.h"

struct watch {
	struct rx_handle h;
	struct rx_op op;
	unsigned calls;
	int res;
	bool released;
};

static void on_hangup(struct rx_op *op, int res)
{
	struct watch *w = container_of(op, struct watch, op);

	w->calls++;
	w->res = res;
}

static void on_release(struct rx_handle *h)
{
	container_of(h, struct watch, h)->released = true;
}

/*
 * A hang-up watch cancelled and armed again several times within one turn, as a connection
 * does when its request is held, let go and held again: the cancelled armings' completions
 * come later and must be dropped, whatever their number, and the peer's close still reaches
 * the one armed now, once.
 */
START_TEST(rearmed_watch_hears_only_its_own_arming)
{
	struct reactor *rx = make_reactor(_i);
	struct watch w = {0};
	int sv[2];
	long long deadline;

	if (!rx)
		return;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	ck_assert_int_eq(rx_open(rx, &w.h, sv[0], 0), 0);
	for (int round = 0; round < 3; round++) {
		ck_assert_int_eq(rx_poll(rx, &w.h, &w.op, POLLRDHUP, on_hangup), 0);
		/* Submitted, so that the kernel has a request to cancel. */
		ck_assert_int_eq(reactor_run(rx, 0), 0);
		/* Cancelled and armed again, twice or more, before any completion comes. */
		for (int i = 0; i < 2 + round; i++) {
			rx_cancel(rx, &w.h, &w.op);
			ck_assert_int_eq(rx_poll(rx, &w.h, &w.op, POLLRDHUP, on_hangup), 0);
		}
		ck_assert_int_eq(reactor_run(rx, 0), 0);
		rx_cancel(rx, &w.h, &w.op);
	}
	ck_assert_int_eq(rx_poll(rx, &w.h, &w.op, POLLRDHUP, on_hangup), 0);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(reactor_run(rx, 20), 0);
	ck_assert_msg(w.calls == 0, "%s: a cancelled arming reached the callback (res %d)",
		      backends[_i], w.res);

	close(sv[1]);
	deadline = now_ms() + 5000;
	while (w.calls == 0 && now_ms() < deadline)
		ck_assert_int_eq(reactor_run(rx, 100), 0);
	ck_assert_uint_eq(w.calls, 1);
	ck_assert_int_ge(w.res, 0);

	rx_close(rx, &w.h, on_release);
	deadline = now_ms() + 5000;
	while (!w.released && now_ms() < deadline)
		ck_assert_int_eq(reactor_run(rx, 10), 0);
	ck_assert(w.released);
	reactor_destroy(rx);
}
END_TEST

static Suite *reactor_suite(void)
{
	Suite *s = suite_create("reactor");
	TCase *tc = tcase_create("rearm");

	tcase_add_loop_test(tc, rearmed_watch_hears_only_its_own_arming, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(reactor_suite)

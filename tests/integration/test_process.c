/* tests/integration/test_process.c - the prefork process model of the real server: workers,
 * respawn after a crash, stop signals, master death, graceful stop and listeners. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "harness.h"

#define ROUTES                                                                                     \
	"'modules': [" WT_HELLO_MODULE "],"                                                        \
	"'routes': ["                                                                              \
	"  {'match': {'path': '/hello'}, 'handler': 'hello.greet'},"                               \
	"  {'match': {'path': '/echo/*'}, 'handler': 'echo.echo'}"                                 \
	"]"

#define HELLO_REQ "GET /hello HTTP/1.1\r\nHost: test\r\n\r\n"

/* One request on a fresh connection to listener @i: proves that some worker serves. */
static void expect_served(const struct wt_server *s, size_t i)
{
	struct wt_client c;
	struct wt_response r;

	WT_OK(wt_client_open(&c, s, i));
	WT_OK(wt_sends(&c, HELLO_REQ));
	WT_OK(wt_read_response(&c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	ck_assert_str_eq(r.body, "Hello, World!");
	wt_response_free(&r);
	wt_client_close(&c);
}

static void expect_log(const struct wt_server *s, const char *line)
{
	ck_assert_msg(wt_log_contains(s, line), "the log has no \"%s\"", line);
}

START_TEST(workers_are_the_masters_children)
{
	struct wt_server s;
	pid_t pids[8];
	char line[128];

	wt_serve(&s, "'workers': 3, " ROUTES);
	ck_assert_uint_eq(wt_workers(&s, pids, 8), 3);
	ck_assert_uint_eq(wt_zombies(s.pid), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_ne(pids[i], s.pid);
		ck_assert_int_eq(getpgid(pids[i]), s.pid);
	}
	expect_log(&s, " ready: 3 workers");
	snprintf(line, sizeof(line), "listening on 127.0.0.1:%u", s.port[0]);
	expect_log(&s, line);
	expect_served(&s, 0);
	wt_stop_ok(&s);
}
END_TEST

/* Stops with @sig and checks that the master exits 0 and its workers are gone. */
static void stop_with(int sig)
{
	struct wt_server s;
	struct wt_client idle;
	struct wt_response r;
	pid_t pids[2];
	int status;

	wt_serve(&s, "'workers': 2, " ROUTES);
	ck_assert_uint_eq(wt_workers(&s, pids, 2), 2);
	/* An idle keep-alive connection must not hold the stop up. */
	WT_OK(wt_client_open(&idle, &s, 0));
	WT_OK(wt_sends(&idle, HELLO_REQ));
	WT_OK(wt_read_response(&idle, &r, false));
	wt_response_free(&r);

	WT_OK(wt_stop(&s, sig, WT_TIMEOUT_MS, &status));
	ck_assert_msg(WIFEXITED(status), "warren did not exit by itself (wait status 0x%x)",
		      status);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_msg(!wt_pid_exists(pids[0]) && !wt_pid_exists(pids[1]), "a worker survived");
	WT_OK(wt_wait_closed(&idle, WT_TIMEOUT_MS));
	wt_client_close(&idle);
	expect_log(&s, "fast stop: stopping 2 workers");
	expect_log(&s, "all workers stopped; exiting");
	wt_cleanup(&s);
}

START_TEST(sigterm_stops_everything)
{
	stop_with(SIGTERM);
}
END_TEST

START_TEST(sigint_stops_everything)
{
	stop_with(SIGINT);
}
END_TEST

START_TEST(killed_worker_is_respawned)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	pid_t old, now;
	char line[160];

	wt_serve(&s, "'workers': 1, " ROUTES);
	WT_OK(wt_wait_workers(&s, 1, 0, &old, WT_TIMEOUT_MS));
	/* A connection the doomed worker holds. */
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_sends(&c, HELLO_REQ));
	WT_OK(wt_read_response(&c, &r, false));
	wt_response_free(&r);

	ck_assert_int_eq(kill(old, SIGKILL), 0);
	WT_OK(wt_wait_workers(&s, 1, old, &now, WT_TIMEOUT_MS));
	ck_assert_int_ne(now, old);
	ck_assert_msg(!wt_pid_exists(old), "the killed worker %d was not reaped", (int)old);
	snprintf(line, sizeof(line),
		 "worker 0 (pid %d) was killed by signal 9 (SIGKILL); respawning", (int)old);
	expect_log(&s, line);
	snprintf(line, sizeof(line), "worker 0 started, pid %d", (int)now);
	WT_OK(wt_wait_log(&s, line, WT_TIMEOUT_MS));

	/* Its connection went with it; the new worker serves new ones. */
	WT_OK(wt_wait_closed(&c, WT_TIMEOUT_MS));
	wt_client_close(&c);
	expect_served(&s, 0);
	expect_served(&s, 0);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(killing_one_worker_leaves_the_other)
{
	struct wt_server s;
	pid_t before[2], after[2], survivor, victim;

	wt_serve(&s, "'workers': 2, " ROUTES);
	WT_OK(wt_wait_workers(&s, 2, 0, before, WT_TIMEOUT_MS));
	victim = before[0];
	survivor = before[1];
	ck_assert_int_eq(kill(victim, SIGKILL), 0);
	WT_OK(wt_wait_workers(&s, 2, victim, after, WT_TIMEOUT_MS));
	ck_assert_msg(after[0] == survivor || after[1] == survivor, "worker %d was replaced too",
		      (int)survivor);
	for (int i = 0; i < 4; i++)
		expect_served(&s, 0);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(repeated_crashes_are_all_recovered)
{
	struct wt_server s;
	pid_t pid;

	wt_serve(&s, "'workers': 1, " ROUTES);
	WT_OK(wt_wait_workers(&s, 1, 0, &pid, WT_TIMEOUT_MS));
	/* Well below the crash rate limit: each one is replaced at once. */
	for (int i = 0; i < 3; i++) {
		pid_t old = pid;

		ck_assert_int_eq(kill(old, SIGKILL), 0);
		WT_OK(wt_wait_workers(&s, 1, old, &pid, WT_TIMEOUT_MS));
		expect_served(&s, 0);
	}
	wt_stop_ok(&s);
}
END_TEST

START_TEST(workers_exit_when_the_master_dies)
{
	struct wt_server s;
	pid_t pids[2];
	bool reaped[2] = {false, false};
	long long deadline;
	int status;

	wt_serve(&s, "'workers': 2, " ROUTES);
	WT_OK(wt_wait_workers(&s, 2, 0, pids, WT_TIMEOUT_MS));
	ck_assert_int_eq(kill(s.pid, SIGKILL), 0);

	/* Orphans come to this process (a child subreaper), so they can be waited for. */
	deadline = wt_now_ms() + WT_TIMEOUT_MS;
	while (!(reaped[0] && reaped[1]) && wt_now_ms() < deadline) {
		for (int i = 0; i < 2; i++)
			if (!reaped[i] && waitpid(pids[i], &status, WNOHANG) == pids[i])
				reaped[i] = true;
		if (!(reaped[0] && reaped[1])) {
			struct timespec ts = {0, 2000000};

			nanosleep(&ts, NULL);
		}
	}
	ck_assert_msg(reaped[0] && reaped[1], "workers outlived their master: %d %s, %d %s",
		      (int)pids[0], reaped[0] ? "gone" : "alive", (int)pids[1],
		      reaped[1] ? "gone" : "alive");

	WT_OK(wt_stop(&s, 0, WT_TIMEOUT_MS, &status));
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	wt_cleanup(&s);
}
END_TEST

START_TEST(sigquit_finishes_the_request_in_flight)
{
	static const char head[] = "POST /echo/late HTTP/1.1\r\nHost: test\r\n"
				   "Content-Length: 4\r\nExpect: 100-continue\r\n\r\n";
	struct wt_server s;
	struct wt_client idle, busy;
	struct wt_response r;
	char echo[256];
	int status;

	wt_serve(&s, "'workers': 1, " ROUTES);
	WT_OK(wt_client_open(&idle, &s, 0));
	WT_OK(wt_sends(&idle, HELLO_REQ));
	WT_OK(wt_read_response(&idle, &r, false));
	wt_response_free(&r);
	/* The 100 proves the worker holds this request's head before the stop begins. */
	WT_OK(wt_client_open(&busy, &s, 0));
	WT_OK(wt_sends(&busy, head));
	WT_OK(wt_read_response(&busy, &r, false));
	ck_assert_int_eq(r.status, 100);
	wt_response_free(&r);

	ck_assert_int_eq(kill(s.pid, SIGQUIT), 0);
	WT_OK(wt_wait_log(&s, "worker 0: graceful stop", WT_TIMEOUT_MS));
	/* Idle connections go at once; the one with a request in flight is served. */
	WT_OK(wt_wait_closed(&idle, WT_TIMEOUT_MS));
	WT_OK(wt_sends(&busy, "body"));
	WT_OK(wt_read_response(&busy, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	snprintf(echo, sizeof(echo), "%sbody", head);
	ck_assert_str_eq(r.body, echo);
	ck_assert_str_eq(wt_header(&r, "Connection"), "close");
	wt_response_free(&r);
	WT_OK(wt_wait_closed(&busy, WT_TIMEOUT_MS));
	wt_client_close(&busy);
	wt_client_close(&idle);

	WT_OK(wt_stop(&s, 0, WT_TIMEOUT_MS, &status));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	expect_log(&s, "graceful stop: stopping 1 workers");
	wt_cleanup(&s);
}
END_TEST

START_TEST(every_listener_serves)
{
	struct wt_server s;
	char line[128];

	wt_init(&s);
	wt_write_config(&s,
			"{'listen': ['127.0.0.1:0', '127.0.0.1:0'], 'event': '%s',"
			" 'workers': 2, " ROUTES "}",
			wt_event());
	WT_OK(wt_start(&s));
	ck_assert_uint_eq(s.nlisten, 2);
	ck_assert_uint_ne(s.port[0], s.port[1]);
	for (size_t i = 0; i < 2; i++) {
		snprintf(line, sizeof(line), "listening on 127.0.0.1:%u", s.port[i]);
		expect_log(&s, line);
		expect_served(&s, i);
	}
	wt_stop_ok(&s);
}
END_TEST

static Suite *process_suite(void)
{
	Suite *s = suite_create("process");
	TCase *tc;

	tc = tcase_create("workers");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, workers_are_the_masters_children);
	tcase_add_test(tc, every_listener_serves);
	tcase_add_test(tc, killed_worker_is_respawned);
	tcase_add_test(tc, killing_one_worker_leaves_the_other);
	tcase_add_test(tc, repeated_crashes_are_all_recovered);
	suite_add_tcase(s, tc);

	tc = tcase_create("stopping");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, sigterm_stops_everything);
	tcase_add_test(tc, sigint_stops_everything);
	tcase_add_test(tc, sigquit_finishes_the_request_in_flight);
	tcase_add_test(tc, workers_exit_when_the_master_dies);
	suite_add_tcase(s, tc);

	return s;
}

CHECK_MAIN(process_suite)

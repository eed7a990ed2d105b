/* tests/integration/test_plugins.c - the example plugins through the real binary: delay and
 * blocking (asynchronous answers that leave the worker free), auth and headers (hooks). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>

#include "check_main.h"
#include "harness.h"

#define DELAY_MODULE "{'name': 'delay', 'path': '@PLUGIN_DIR@/delay.so'}"
#define BLOCKING_MODULE "{'name': 'blocking', 'path': '@PLUGIN_DIR@/blocking.so'}"
#define HELLO_ROUTE "{'match': {'path': '/hello'}, 'handler': 'hello.greet'}"

/* One worker, so that "the worker kept serving" means the only one did. */
#define ASYNC_SERVER                                                                               \
	"'workers': 1, 'log_level': 'debug',"                                                      \
	"'modules': [" WT_HELLO_MODULE ", " DELAY_MODULE ", " BLOCKING_MODULE "],"                 \
	"'routes': [" HELLO_ROUTE ","                                                              \
	"  {'match': {'path': '/delay'}, 'handler': 'delay.wait'},"                                \
	"  {'match': {'path': '/late'}, 'handler': 'delay.wait',"                                  \
	"   'config': {'ms': 200, 'text': 'late\\n'}},"                                            \
	"  {'match': {'path': '/sleep'}, 'handler': 'blocking.sleep'},"                            \
	"  {'match': {'path': '/nap'}, 'handler': 'blocking.sleep', 'config': {'ms': 150}}"        \
	"]"

#define TEXT_PLAIN "text/plain; charset=utf-8"
#define MAX_CLIENTS 50

/* ---- Helpers ------------------------------------------------------------------------- */

/* Sends "GET @target" with @extra header lines (each ending in CRLF, or ""). */
static void send_get(struct wt_client *c, const char *target, const char *extra)
{
	char req[1024];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: test\r\n%s\r\n", target, extra);
	WT_OK(wt_sends(c, req));
}

/* Reads the answer to "GET @target" sent at @sent_ms: 200 with @body, no sooner than @ms. */
static void expect_late(struct wt_client *c, const char *target, long long sent_ms, int ms,
			const char *body)
{
	struct wt_response r;
	long long took;

	WT_OK(wt_read_response(c, &r, false));
	took = wt_now_ms() - sent_ms;
	ck_assert_msg(r.status == 200 && strcmp(r.body, body) == 0,
		      "GET %s: expected 200 \"%s\", got %d \"%s\"", target, body, r.status, r.body);
	ck_assert_str_eq(wt_header(&r, "Content-Type"), TEXT_PLAIN);
	ck_assert_msg(took >= ms, "GET %s: answered after %lld ms, before the %d ms it asked for",
		      target, took, ms);
	wt_response_free(&r);
}

/* Nothing answered on @c yet, and the server has not closed it. */
static bool pending(struct wt_client *c)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};

	return c->len == 0 && poll(&pfd, 1, 0) == 0;
}

static void expect_hello(struct wt_client *c)
{
	wt_expect(c, "/hello", "", 200, "Hello, World!");
}

/* Polls the log until @needle is in it @n times; returns 0 or -ETIMEDOUT. */
static int wait_log_count(const struct wt_server *s, const char *needle, size_t n)
{
	long long deadline = wt_now_ms() + WT_TIMEOUT_MS;
	struct timespec step = {.tv_nsec = 5 * 1000000};

	while (wt_log_count(s, needle) < n) {
		if (wt_now_ms() >= deadline)
			return -ETIMEDOUT;
		nanosleep(&step, NULL);
	}
	return 0;
}

/* Asserts that warren -t refuses @members with exactly "warren: CONF: @expected\n". */
static void assert_refused(const char *members, const char *expected)
{
	struct wt_server s;
	struct wt_run run;
	char want[2048];
	char *json = strdup(members);

	ck_assert_ptr_nonnull(json);
	/* The harness turns ' into " in its format only, not in arguments. */
	for (char *p = json; *p; p++)
		if (*p == '\'')
			*p = '"';
	wt_init(&s);
	wt_config(&s, "%s", json);
	free(json);
	ck_assert_int_eq(wt_run_warren(&run, WT_TIMEOUT_MS, "-t", "-c", s.conf, (char *)NULL), 0);
	snprintf(want, sizeof(want), "warren: %s: %s\n", s.conf, expected);
	ck_assert_int_eq(run.status, 1);
	ck_assert_str_eq(run.err, want);
	wt_run_free(&run);
	wt_cleanup(&s);
}

/* ---- delay --------------------------------------------------------------------------- */

START_TEST(delay_answers_after_the_delay)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	long long t;

	wt_serve(&s, ASYNC_SERVER);
	WT_OK(wt_client_open(&c, &s, 0));
	/* Route config, route default, and the query override, on one keep-alive connection. */
	t = wt_now_ms();
	send_get(&c, "/late", "");
	expect_late(&c, "/late", t, 200, "late\n");
	t = wt_now_ms();
	send_get(&c, "/delay", "");
	expect_late(&c, "/delay", t, 100, "waited 100 ms\n");
	t = wt_now_ms();
	send_get(&c, "/delay?x=1&ms=250", "");
	expect_late(&c, "/delay?x=1&ms=250", t, 250, "waited 250 ms\n");
	wt_expect(&c, "/delay?ms=0", "", 200, "waited 0 ms\n");
	wt_expect(&c, "/late?ms=0", "", 200, "late\n");

	wt_ask(&c, "HEAD", "/late?ms=0", "", &r);
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	ck_assert_uint_eq(r.body_len, 0);
	wt_response_free(&r);

	static const char *const bad[] = {"ms=60001", "ms=-1",	"ms=abc",
					  "ms=",      "ms",	"ms=1e3",
					  "ms=%2B5",  "ms=%zz", "ms=99999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char target[64];

		snprintf(target, sizeof(target), "/delay?%s", bad[i]);
		wt_expect(&c, target, "", 400, "ms: expected an integer from 0 to 60000\n");
	}
	/* A bad value answers at once and leaves the connection usable. */
	expect_hello(&c);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(delay_leaves_the_worker_free)
{
	struct wt_server s;
	struct wt_client slow, fast;
	char target[64], body[64], line[64];
	int ms = wt_scaled_ms(2000);
	long long t;

	wt_serve(&s, ASYNC_SERVER);
	WT_OK(wt_client_open(&slow, &s, 0));
	WT_OK(wt_client_open(&fast, &s, 0));
	snprintf(target, sizeof(target), "/delay?ms=%d", ms);
	snprintf(line, sizeof(line), "delay: waiting %d ms", ms);
	t = wt_now_ms();
	send_get(&slow, target, "");
	/* The one worker has the delay in hand before it is asked for anything else. */
	WT_OK(wt_wait_log(&s, line, WT_TIMEOUT_MS));
	expect_hello(&fast);
	ck_assert_msg(pending(&slow), "the %d ms delay was over by the time hello answered", ms);
	snprintf(body, sizeof(body), "waited %d ms\n", ms);
	expect_late(&slow, target, t, ms, body);
	wt_client_close(&fast);
	wt_client_close(&slow);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(delay_fifty_at_once_on_one_worker)
{
	static struct wt_client c[MAX_CLIENTS];
	long long sent[MAX_CLIENTS], start, total;
	struct wt_server s;

	wt_serve(&s, ASYNC_SERVER);
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		WT_OK(wt_client_open(&c[i], &s, 0));
	start = wt_now_ms();
	for (size_t i = 0; i < MAX_CLIENTS; i++) {
		sent[i] = wt_now_ms();
		send_get(&c[i], "/delay?ms=300", "");
	}
	for (size_t i = 0; i < MAX_CLIENTS; i++) {
		expect_late(&c[i], "/delay?ms=300", sent[i], 300, "waited 300 ms\n");
		wt_client_close(&c[i]);
	}
	total = wt_now_ms() - start;
	/* One after the other they would take 15 s. */
	ck_assert_msg(total < MAX_CLIENTS * 300 / 2,
		      "%d delays of 300 ms took %lld ms: they did not overlap", MAX_CLIENTS, total);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(delay_client_leaves_early)
{
	struct wt_server s;
	struct wt_client c;

	wt_serve(&s, ASYNC_SERVER);
	WT_OK(wt_client_open(&c, &s, 0));
	send_get(&c, "/delay?ms=60000", "");
	WT_OK(wt_wait_log(&s, "delay: waiting 60000 ms", WT_TIMEOUT_MS));
	wt_client_close(&c);
	/* The abort callback says the request ended; its timer must not fire on a dead one. */
	WT_OK(wt_wait_log(&s, "delay: aborted before 60000 ms passed", WT_TIMEOUT_MS));
	WT_OK(wt_client_open(&c, &s, 0));
	wt_expect(&c, "/delay?ms=0", "", 200, "waited 0 ms\n");
	expect_hello(&c);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(delay_pending_when_the_worker_stops)
{
	struct wt_server s;
	struct wt_client c;

	wt_serve(&s, ASYNC_SERVER);
	WT_OK(wt_client_open(&c, &s, 0));
	send_get(&c, "/delay?ms=60000", "");
	WT_OK(wt_wait_log(&s, "delay: waiting 60000 ms", WT_TIMEOUT_MS));
	/* A fast stop does not wait out the timer: the request is aborted, the worker exits. */
	wt_stop_keep_log(&s);
	ck_assert(wt_log_contains(&s, "delay: aborted before 60000 ms passed"));
	WT_OK(wt_wait_closed(&c, WT_TIMEOUT_MS));
	wt_client_close(&c);
	wt_cleanup(&s);
}
END_TEST

START_TEST(delay_config_errors)
{
	assert_refused("'modules': [" DELAY_MODULE "], 'routes': [{'handler': 'delay.wait', "
		       "'config': {'ms': 60001}}]",
		       "routes[0].config.ms: expected an integer from 0 to 60000, got 60001");
	assert_refused("'modules': [" DELAY_MODULE "], 'routes': [{'handler': 'echo.echo'}, "
		       "{'handler': 'delay.wait', 'config': {'ms': -1}}]",
		       "routes[1].config.ms: expected an integer from 0 to 60000, got -1");
	assert_refused(
		"'modules': [" DELAY_MODULE "], 'routes': [{'handler': 'delay.wait', "
		"'config': {'ms': '5'}}]",
		"routes[0].config.ms: expected an integer from 0 to 60000, got string \"5\"");
	assert_refused("'modules': [" DELAY_MODULE "], 'routes': [{'handler': 'delay.wait', "
		       "'config': {'speed': 1}}]",
		       "routes[0].config: unknown key \"speed\" (expected one of: ms, text)");
	assert_refused("'modules': [" DELAY_MODULE "], 'routes': [{'handler': 'delay.wait', "
		       "'config': {'text': 'x', 'mss': 1}}]",
		       "routes[0].config: unknown key \"mss\" (did you mean \"ms\"?)");
}
END_TEST

/* ---- blocking ------------------------------------------------------------------------ */

START_TEST(blocking_answers_after_sleeping)
{
	struct wt_server s;
	struct wt_client c;
	long long t;

	wt_serve(&s, ASYNC_SERVER);
	WT_OK(wt_client_open(&c, &s, 0));
	t = wt_now_ms();
	send_get(&c, "/sleep", "");
	expect_late(&c, "/sleep", t, 100, "slept 100 ms\n");
	t = wt_now_ms();
	send_get(&c, "/nap", "");
	expect_late(&c, "/nap", t, 150, "slept 150 ms\n");
	t = wt_now_ms();
	send_get(&c, "/nap?ms=250", "");
	expect_late(&c, "/nap?ms=250", t, 250, "slept 250 ms\n");
	wt_expect(&c, "/sleep?ms=0", "", 200, "slept 0 ms\n");
	wt_expect(&c, "/sleep?ms=60001", "", 400, "ms: expected an integer from 0 to 60000\n");
	wt_expect(&c, "/sleep?ms=x", "", 400, "ms: expected an integer from 0 to 60000\n");
	expect_hello(&c);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/* As many sleeps as the default offload_threads (4), so that all of them run at once. */
#define SLEEPERS 4

START_TEST(blocking_runs_in_parallel_on_one_worker)
{
	struct wt_client c[SLEEPERS];
	long long sent[SLEEPERS], start, total;
	struct wt_server s;

	wt_serve(&s, ASYNC_SERVER);
	for (size_t i = 0; i < SLEEPERS; i++)
		WT_OK(wt_client_open(&c[i], &s, 0));
	start = wt_now_ms();
	for (size_t i = 0; i < SLEEPERS; i++) {
		sent[i] = wt_now_ms();
		send_get(&c[i], "/sleep?ms=300", "");
	}
	for (size_t i = 0; i < SLEEPERS; i++) {
		expect_late(&c[i], "/sleep?ms=300", sent[i], 300, "slept 300 ms\n");
		wt_client_close(&c[i]);
	}
	total = wt_now_ms() - start;
	ck_assert_msg(total < SLEEPERS * 300,
		      "%d sleeps of 300 ms took %lld ms: they ran one after the other", SLEEPERS,
		      total);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(blocking_leaves_the_worker_free)
{
	struct wt_client c[SLEEPERS], fast;
	long long sent[SLEEPERS];
	char target[64], body[64], line[80];
	int ms = wt_scaled_ms(2000);
	struct wt_server s;

	wt_serve(&s, ASYNC_SERVER);
	snprintf(target, sizeof(target), "/sleep?ms=%d", ms);
	snprintf(line, sizeof(line), "blocking: sleeping %d ms on an offload thread", ms);
	for (size_t i = 0; i < SLEEPERS; i++) {
		WT_OK(wt_client_open(&c[i], &s, 0));
		sent[i] = wt_now_ms();
		send_get(&c[i], target, "");
	}
	/* Every offload thread is taken; the loop itself must still answer. */
	WT_OK(wait_log_count(&s, line, SLEEPERS));
	WT_OK(wt_client_open(&fast, &s, 0));
	expect_hello(&fast);
	for (size_t i = 0; i < SLEEPERS; i++)
		ck_assert_msg(pending(&c[i]), "sleep %zu of %d ms was over before hello answered",
			      i, ms);
	snprintf(body, sizeof(body), "slept %d ms\n", ms);
	for (size_t i = 0; i < SLEEPERS; i++) {
		expect_late(&c[i], target, sent[i], ms, body);
		wt_client_close(&c[i]);
	}
	wt_client_close(&fast);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(blocking_client_leaves_early)
{
	struct wt_server s;
	struct wt_client c;

	wt_serve(&s, ASYNC_SERVER);
	WT_OK(wt_client_open(&c, &s, 0));
	send_get(&c, "/sleep?ms=500", "");
	WT_OK(wt_wait_log(&s, "blocking: sleeping 500 ms on an offload thread", WT_TIMEOUT_MS));
	wt_client_close(&c);
	/* done() is skipped, and the cleanup runs once the sleep has returned. */
	WT_OK(wt_wait_log(&s, "blocking: a 500 ms sleep outlived its request", WT_TIMEOUT_MS));
	WT_OK(wt_client_open(&c, &s, 0));
	wt_expect(&c, "/sleep?ms=0", "", 200, "slept 0 ms\n");
	expect_hello(&c);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(blocking_sleep_when_the_worker_stops)
{
	struct wt_server s;
	struct wt_client c;

	wt_serve(&s, ASYNC_SERVER);
	WT_OK(wt_client_open(&c, &s, 0));
	send_get(&c, "/sleep?ms=1000", "");
	WT_OK(wt_wait_log(&s, "blocking: sleeping 1000 ms on an offload thread", WT_TIMEOUT_MS));
	/* The worker may not exit under a running job: its cleanup must still have run. */
	wt_stop_keep_log(&s);
	ck_assert(wt_log_contains(&s, "blocking: a 1000 ms sleep outlived its request"));
	WT_OK(wt_wait_closed(&c, WT_TIMEOUT_MS));
	wt_client_close(&c);
	wt_cleanup(&s);
}
END_TEST

START_TEST(blocking_config_errors)
{
	assert_refused("'modules': [" BLOCKING_MODULE "], 'routes': [{'handler': "
		       "'blocking.sleep', 'config': {'ms': 60001}}]",
		       "routes[0].config.ms: expected an integer from 0 to 60000, got 60001");
	assert_refused("'modules': [" BLOCKING_MODULE "], 'routes': [{'handler': "
		       "'blocking.sleep', 'config': {'ms': 1, 'text': 'x'}}]",
		       "routes[0].config: unknown key \"text\" (expected one of: ms)");
}
END_TEST

/* ---- auth ---------------------------------------------------------------------------- */

#define AUTH_MODULE(config) "{'name': 'auth', 'path': '@PLUGIN_DIR@/auth.so', 'config': " config "}"
#define AUTH_PREFIXES                                                                              \
	AUTH_MODULE("{'token': '" TOKEN "', 'realm': 'test realm',"                                \
		    " 'paths': ['/private/', '/admin', '/echo/']}")
#define AUTH_EVERYWHERE AUTH_MODULE("{'token': 'abc'}")

#define AUTH_ROUTES                                                                                \
	"'routes': [" HELLO_ROUTE ","                                                              \
	"  {'match': {'path': '/public'}, 'handler': 'hello.greet',"                               \
	"   'config': {'text': 'public'}},"                                                        \
	"  {'match': {'path': '/private/*'}, 'handler': 'hello.greet',"                            \
	"   'config': {'text': 'private'}},"                                                       \
	"  {'match': {'path': '/admin'}, 'handler': 'hello.greet', 'config': {'text': 'admin'}},"  \
	"  {'match': {'path': '/echo/*'}, 'handler': 'echo.echo'}"                                 \
	"]"

#define TOKEN "tok-123/x="
#define GOOD "Authorization: Bearer " TOKEN "\r\n"
#define CHALLENGE "Bearer realm=\"test realm\""
#define CHALLENGE_WRONG CHALLENGE ", error=\"invalid_token\""
#define UNAUTHORIZED "401 Unauthorized\n"

/* GET @target with @extra must be refused with the challenge @challenge. */
static void expect_401(struct wt_client *c, const char *target, const char *extra,
		       const char *challenge)
{
	struct wt_response r;

	wt_ask(c, "GET", target, extra, &r);
	ck_assert_msg(r.status == 401, "GET %s [%s]: expected 401, got %d \"%s\"", target, extra,
		      r.status, r.body);
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 401 Unauthorized");
	ck_assert_str_eq(wt_header(&r, "WWW-Authenticate"), challenge);
	ck_assert_uint_eq(wt_header_count(&r, "WWW-Authenticate"), 1);
	ck_assert_str_eq(wt_header(&r, "Content-Type"), TEXT_PLAIN);
	ck_assert_str_eq(r.body, UNAUTHORIZED);
	/* A refusal is no protocol error: the connection stays. */
	ck_assert_ptr_null(wt_header(&r, "Connection"));
	wt_response_free(&r);
}

START_TEST(auth_guards_listed_prefixes)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	wt_serve(&s,
		 "'workers': 1, 'modules': [" WT_HELLO_MODULE ", " AUTH_PREFIXES "], " AUTH_ROUTES);
	WT_OK(wt_client_open(&c, &s, 0));
	wt_expect(&c, "/public", "", 200, "public");
	expect_hello(&c);
	wt_expect(&c, "/nothing", "", 404, "404 Not Found\n");

	expect_401(&c, "/private/x", "", CHALLENGE);
	wt_expect(&c, "/private/x", GOOD, 200, "private");
	wt_expect(&c, "/private/x", "authorization: bearer " TOKEN "\r\n", 200, "private");
	wt_expect(&c, "/private/x", "Authorization: Bearer    " TOKEN "\r\n", 200, "private");
	expect_401(&c, "/private/x", "Authorization: Bearer tok-124/x=\r\n", CHALLENGE_WRONG);
	expect_401(&c, "/private/x", "Authorization: Bearer tok-123/x\r\n", CHALLENGE_WRONG);
	expect_401(&c, "/private/x", "Authorization: Bearer " TOKEN "=\r\n", CHALLENGE_WRONG);
	expect_401(&c, "/private/x", "Authorization: Bearer " TOKEN " x\r\n", CHALLENGE_WRONG);
	expect_401(&c, "/private/x", "Authorization: Bearer " TOKEN TOKEN "\r\n", CHALLENGE_WRONG);
	expect_401(&c, "/private/x", "Authorization: Bearer\r\n", CHALLENGE);
	expect_401(&c, "/private/x", "Authorization: Bearer" TOKEN "\r\n", CHALLENGE);
	expect_401(&c, "/private/x", "Authorization: Basic dG9rLTEyMw==\r\n", CHALLENGE);
	expect_401(&c, "/private/x", "Authorization: " TOKEN "\r\n", CHALLENGE);
	expect_401(&c, "/private/x", "X-Authorization: Bearer " TOKEN "\r\n", CHALLENGE);
	/* Two fields: whichever one a later reader picks, neither is trusted. */
	expect_401(&c, "/private/x", GOOD GOOD, CHALLENGE);

	/* Every spelling of a protected path. */
	expect_401(&c, "/private", "", CHALLENGE);
	expect_401(&c, "/private/", "", CHALLENGE);
	expect_401(&c, "/%70rivate/x", "", CHALLENGE);
	expect_401(&c, "/public/../private/x", "", CHALLENGE);
	expect_401(&c, "/./private/x", "", CHALLENGE);
	expect_401(&c, "/public/%zz", "", CHALLENGE);
	expect_401(&c, "/admin", "", CHALLENGE);
	expect_401(&c, "/administrator", "", CHALLENGE);
	expect_401(&c, "/admin/x", "", CHALLENGE);
	expect_401(&c, "/private/x?token=" TOKEN, "", CHALLENGE);
	wt_expect(&c, "/admin", GOOD, 200, "admin");
	wt_expect(&c, "/administrator", GOOD, 404, "404 Not Found\n");
	wt_expect(&c, "/%70rivate/x", GOOD, 404, "404 Not Found\n");
	wt_expect(&c, "/privatex", "", 404, "404 Not Found\n");
	wt_expect(&c, "/public/x", "", 404, "404 Not Found\n");

	/* HEAD gets the refusal without its body. */
	wt_ask(&c, "HEAD", "/private/x", "", &r);
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 401 Unauthorized");
	ck_assert_str_eq(wt_header(&r, "WWW-Authenticate"), CHALLENGE);
	ck_assert_uint_eq(r.body_len, 0);
	wt_response_free(&r);

	/* A refused request's body is read past, and the connection goes on. */
	WT_OK(wt_sends(&c,
		       "POST /echo/x HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello"));
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_int_eq(r.status, 401);
	ck_assert_str_eq(r.body, UNAUTHORIZED);
	wt_response_free(&r);
	WT_OK(wt_sends(&c, "POST /echo/x HTTP/1.1\r\nHost: test\r\n" GOOD
			   "Content-Length: 5\r\n\r\nhello"));
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "\r\n\r\nhello"));
	wt_response_free(&r);
	wt_expect(&c, "/public", "", 200, "public");
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(auth_without_paths_guards_everything)
{
	struct wt_server s;
	struct wt_client c;

	wt_serve(&s, "'workers': 1, 'modules': [" WT_HELLO_MODULE ", " AUTH_EVERYWHERE
		     "], " AUTH_ROUTES);
	WT_OK(wt_client_open(&c, &s, 0));
	expect_401(&c, "/public", "", "Bearer realm=\"warren\"");
	expect_401(&c, "/nothing", "", "Bearer realm=\"warren\"");
	expect_401(&c, "/", "Authorization: Bearer abcd\r\n",
		   "Bearer realm=\"warren\", error=\"invalid_token\"");
	wt_expect(&c, "/public", "Authorization: Bearer abc\r\n", 200, "public");
	wt_expect(&c, "/nothing", "Authorization: Bearer abc\r\n", 404, "404 Not Found\n");
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

#define FAILED_AT(module) "modules[0].config%s: module \"" module "\" failed to start: %s"

START_TEST(auth_config_errors)
{
	static const struct {
		const char *config, *at, *msg;
	} cases[] = {
		{"{}", ".token", "missing (expected a non-empty string)"},
		{"{'realm': 'x'}", ".token", "missing (expected a non-empty string)"},
		{"{'token': 5}", ".token", "expected a non-empty string, got integer 5"},
		{"{'token': ''}", ".token", "expected a non-empty string, got an empty string"},
		{"{'token': 'a b'}", ".token",
		 "only letters, digits, -._~+/ and trailing '=' can be sent as a bearer token"},
		{"{'token': '=abc'}", ".token",
		 "only letters, digits, -._~+/ and trailing '=' can be sent as a bearer token"},
		{"{'token': 't', 'realm': ['x']}", ".realm",
		 "expected a non-empty string, got array"},
		{"{'token': 't', 'realm': 'a\\\"b'}", ".realm",
		 "must not contain '\"', '\\' or control characters"},
		{"{'token': 't', 'paths': '/x'}", ".paths", "expected an array, got string \"/x\""},
		{"{'token': 't', 'paths': []}", ".paths",
		 "empty, so nothing would be protected (leave \"paths\" out to protect every "
		 "path)"},
		{"{'token': 't', 'paths': ['/a', 3]}", ".paths[1]",
		 "expected a non-empty string, got integer 3"},
		{"{'token': 't', 'paths': ['/a', 'b']}", ".paths[1]",
		 "\"b\" is not a path (it must start with '/')"},
		{"{'token': 't', 'path': ['/a']}", "",
		 "unknown key \"path\" (did you mean \"paths\"?)"},
		{"{'token': 't', 'colour': 1}", "",
		 "unknown key \"colour\" (expected one of: token, realm, paths)"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char members[512], msg[512];

		snprintf(members, sizeof(members),
			 "'modules': [{'name': 'auth', 'path': '@PLUGIN_DIR@/auth.so', "
			 "'config': %s}]",
			 cases[i].config);
		snprintf(msg, sizeof(msg), FAILED_AT("auth"), cases[i].at, cases[i].msg);
		assert_refused(members, msg);
	}
}
END_TEST

/* ---- headers ------------------------------------------------------------------------- */

/* auth before headers: hooks run in module order, and headers decorate auth's 401 too. */
#define HEADERS_AUTH AUTH_MODULE("{'token': 'abc', 'paths': ['/private/']}")
#define HEADERS_SERVER                                                                             \
	"'workers': 1,"                                                                            \
	"'modules': [" WT_HELLO_MODULE ", " DELAY_MODULE ", " BLOCKING_MODULE ","                  \
	"  " HEADERS_AUTH ","                                                                      \
	"  {'name': 'headers', 'path': '@PLUGIN_DIR@/headers.so', 'config': {"                     \
	"    'set': {'Access-Control-Allow-Origin': '*', 'Content-Type': 'text/x-set',"            \
	"            'X-Frame-Options': 'DENY'},"                                                  \
	"    'add': {'WWW-Authenticate': 'Basic realm=\\\"b\\\"', 'Vary': 'Origin'}}}],"           \
	"'routes': [" HELLO_ROUTE ","                                                              \
	"  {'match': {'path': '/get-only', 'method': 'GET'}, 'handler': 'hello.greet'},"           \
	"  {'match': {'path': '/private/*'}, 'handler': 'hello.greet'},"                           \
	"  {'match': {'path': '/delay'}, 'handler': 'delay.wait', 'config': {'ms': 0}},"           \
	"  {'match': {'path': '/sleep'}, 'handler': 'blocking.sleep',"                             \
	"   'config': {'ms': 0}}"                                                                  \
	"]"

/* The configured headers, each exactly once; @r has its own status and body. */
static void assert_decorated(const struct wt_response *r)
{
	ck_assert_str_eq(wt_header(r, "Access-Control-Allow-Origin"), "*");
	ck_assert_uint_eq(wt_header_count(r, "Access-Control-Allow-Origin"), 1);
	ck_assert_str_eq(wt_header(r, "X-Frame-Options"), "DENY");
	ck_assert_uint_eq(wt_header_count(r, "X-Frame-Options"), 1);
	ck_assert_str_eq(wt_header(r, "Content-Type"), "text/x-set");
	ck_assert_uint_eq(wt_header_count(r, "Content-Type"), 1);
	ck_assert_str_eq(wt_header(r, "Vary"), "Origin");
	ck_assert_uint_eq(wt_header_count(r, "Vary"), 1);
}

static void expect_decorated(struct wt_client *c, const char *method, const char *target,
			     int status, const char *body)
{
	struct wt_response r;

	wt_ask(c, method, target, "", &r);
	ck_assert_msg(r.status == status && strcmp(r.body, body) == 0,
		      "%s %s: expected %d \"%s\", got %d \"%s\"", method, target, status, body,
		      r.status, r.body);
	assert_decorated(&r);
	if (status != 401)
		ck_assert_str_eq(wt_header(&r, "WWW-Authenticate"), "Basic realm=\"b\"");
	wt_response_free(&r);
}

START_TEST(headers_on_every_response)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	size_t seen = 0;

	wt_serve(&s, HEADERS_SERVER);
	WT_OK(wt_client_open(&c, &s, 0));
	/* A handler's own Content-Type is replaced ("set"). */
	expect_decorated(&c, "GET", "/hello", 200, "Hello, World!");
	expect_decorated(&c, "HEAD", "/hello", 200, "");
	/* warren's own answers. */
	expect_decorated(&c, "GET", "/nothing", 404, "404 Not Found\n");
	expect_decorated(&c, "DELETE", "/get-only", 405, "405 Method Not Allowed\n");
	/* Asynchronous answers, from a timer and from an offload job. */
	expect_decorated(&c, "GET", "/delay", 200, "waited 0 ms\n");
	expect_decorated(&c, "GET", "/sleep", 200, "slept 0 ms\n");

	/* A hook's answer; "add" keeps auth's challenge and puts its own after it. */
	wt_ask(&c, "GET", "/private/x", "", &r);
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 401 Unauthorized");
	ck_assert_str_eq(r.body, UNAUTHORIZED);
	assert_decorated(&r);
	ck_assert_uint_eq(wt_header_count(&r, "WWW-Authenticate"), 2);
	for (size_t i = 0; i < r.nhdrs; i++) {
		if (strcasecmp(r.hdrs[i].name, "WWW-Authenticate") != 0)
			continue;
		ck_assert_str_eq(r.hdrs[i].value,
				 seen++ == 0 ? "Bearer realm=\"warren\"" : "Basic realm=\"b\"");
	}
	wt_response_free(&r);

	/* What warren put in its own 405 stays. */
	wt_ask(&c, "POST", "/get-only", "Content-Length: 0\r\n", &r);
	ck_assert_int_eq(r.status, 405);
	ck_assert_str_eq(wt_header(&r, "Allow"), "GET, HEAD");
	assert_decorated(&r);
	wt_response_free(&r);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

#define HEADER_VALUE "expected a header value (text without control characters but tab), "

START_TEST(headers_config_errors)
{
	static const struct {
		const char *config, *at, *msg;
	} cases[] = {
		{"{}", "",
		 "nothing to do: give \"set\" and/or \"add\", objects of header name to value"},
		{"{'sett': {}}", "", "unknown key \"sett\" (did you mean \"set\"?)"},
		{"{'set': ['X-A']}", ".set", "expected an object, got array"},
		{"{'add': {'Bad Name': 'x'}}", ".add[\"Bad Name\"]",
		 "not a header name (letters, digits and !#$%&'*+-.^_`|~ only)"},
		{"{'add': {'': 'x'}}", ".add[\"\"]",
		 "not a header name (letters, digits and !#$%&'*+-.^_`|~ only)"},
		{"{'set': {'X-A': 'ok', 'Content-Length': '5'}}", ".set.Content-Length",
		 "warren sets this header itself (message framing)"},
		{"{'add': {'transfer-encoding': 'gzip'}}", ".add.transfer-encoding",
		 "warren sets this header itself (message framing)"},
		{"{'set': {'Connection': 'close'}}", ".set.Connection",
		 "warren sets this header itself (message framing)"},
		{"{'set': {'X-A': 5}}", ".set.X-A", HEADER_VALUE "got integer 5"},
		{"{'add': {'X-A': 'a\\nb'}}", ".add.X-A", HEADER_VALUE "got string \"a\\x0ab\""},
		{"{'add': {'X-A': 'ab\\u007f'}}", ".add.X-A",
		 HEADER_VALUE "got string \"ab\\x7f\""},
		{"{'add': {'X-A': 'tab\\tis fine', 'X-B': '\\u001b'}}", ".add.X-B",
		 HEADER_VALUE "got string \"\\x1b\""},
		{"{'set': {'X-A': '1', 'x-a': '2'}}", ".set.x-a",
		 "repeats \"X-A\" (names are case-insensitive)"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char members[512], msg[512];

		snprintf(members, sizeof(members),
			 "'modules': [{'name': 'headers', 'path': '@PLUGIN_DIR@/headers.so', "
			 "'config': %s}]",
			 cases[i].config);
		snprintf(msg, sizeof(msg), FAILED_AT("headers"), cases[i].at, cases[i].msg);
		assert_refused(members, msg);
	}
}
END_TEST

static Suite *plugins_suite(void)
{
	Suite *s = suite_create("plugins");
	TCase *tc = tcase_create("delay");

	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, delay_answers_after_the_delay);
	tcase_add_test(tc, delay_leaves_the_worker_free);
	tcase_add_test(tc, delay_fifty_at_once_on_one_worker);
	tcase_add_test(tc, delay_client_leaves_early);
	tcase_add_test(tc, delay_pending_when_the_worker_stops);
	tcase_add_test(tc, delay_config_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("blocking");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, blocking_answers_after_sleeping);
	tcase_add_test(tc, blocking_runs_in_parallel_on_one_worker);
	tcase_add_test(tc, blocking_leaves_the_worker_free);
	tcase_add_test(tc, blocking_client_leaves_early);
	tcase_add_test(tc, blocking_sleep_when_the_worker_stops);
	tcase_add_test(tc, blocking_config_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("auth");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, auth_guards_listed_prefixes);
	tcase_add_test(tc, auth_without_paths_guards_everything);
	tcase_add_test(tc, auth_config_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("headers");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, headers_on_every_response);
	tcase_add_test(tc, headers_config_errors);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(plugins_suite)

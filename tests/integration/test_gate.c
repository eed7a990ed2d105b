/* tests/integration/test_gate.c - through the real binary and the gate test plugin: on_request
 * hooks that keep a request and decide later (continue, answer, time out, lose the client,
 * see the worker stop, pipelined, before a streamed body), the ABI 0.4 request calls,
 * per-route body limits, and Server and Date headers of a module's own. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "harness.h"

#define GATE_SERVER                                                                                \
	"'workers': 1, 'log_level': 'info', 'shutdown_timeout': 2,"                                \
	"'modules': [{'name': 'gate', 'path': '@PLUGIN_DIR@/gate.so'}],"                           \
	"'http': {'max_body_size': 1000, %s},"                                                     \
	"'routes': ["                                                                              \
	"  {'match': {'path': '/small'}, 'handler': 'gate.show', 'max_body_size': 10},"            \
	"  {'match': {'path': '/big'}, 'handler': 'gate.show', 'max_body_size': 5000},"            \
	"  {'match': {'path': '/s'}, 'handler': 'gate.stream', 'max_body_size': 20},"              \
	"  {'match': {'path': '/later'}, 'handler': 'gate.later'},"                                \
	"  {'match': {'path': '/g/:name'}, 'handler': 'gate.show'},"                               \
	"  {'match': {'path': '/*'}, 'handler': 'gate.show'}"                                      \
	"]"

static void serve_gate(struct wt_server *s, const char *http)
{
	wt_serve(s, GATE_SERVER, http);
}

/* Asserts that @needles appear in the log in this order. */
static void assert_log_order(const struct wt_server *s, const char *const *needles, size_t n)
{
	size_t len;
	char *log = wt_read_file(s->log, &len);
	const char *at = log;

	ck_assert_ptr_nonnull(log);
	for (size_t i = 0; i < n; i++) {
		const char *found = strstr(at, needles[i]);

		ck_assert_msg(found, "log lacks \"%s\" (in order)", needles[i]);
		at = found + strlen(needles[i]);
	}
	free(log);
}

/* What the plugin must never log, whatever the test. */
static void assert_no_misuse(const struct wt_server *s)
{
	ck_assert(!wt_log_contains(s, "gate: stray timer ran"));
	ck_assert(!wt_log_contains(s, "gate: second decision accepted"));
	ck_assert(!wt_log_contains(s, "gate: early continue accepted"));
	ck_assert(!wt_log_contains(s, "failed"));
}

/* ---- Request calls ------------------------------------------------------------------- */

START_TEST(method_ids_params_zeroed_memory)
{
	static const struct {
		const char *method, *target, *body;
	} cases[] = {
		{"GET", "/g/a%20b", "GET name=0 [a b] missing=ENOENT zeroed=yes body=0\n"},
		/* Again: the pool's memory is dirty now, zeroing must still show. */
		{"GET", "/g/a%20b", "GET name=0 [a b] missing=ENOENT zeroed=yes body=0\n"},
		{"PUT", "/g/%41%7e", "PUT name=0 [A~] missing=ENOENT zeroed=yes body=0\n"},
		{"DELETE", "/g/a%2Fb", "DELETE name=EINVAL [] missing=ENOENT zeroed=yes body=0\n"},
		{"OPTIONS", "/g/x%00", "OPTIONS name=EINVAL [] missing=ENOENT zeroed=yes body=0\n"},
		{"PATCH", "/g/bad%4", "PATCH name=EINVAL [] missing=ENOENT zeroed=yes body=0\n"},
		{"POST", "/g/plus+", "POST name=0 [plus+] missing=ENOENT zeroed=yes body=0\n"},
		{"TRACE", "/g/t", "TRACE name=0 [t] missing=ENOENT zeroed=yes body=0\n"},
		{"PROPFIND", "/g/p", "OTHER name=0 [p] missing=ENOENT zeroed=yes body=0\n"},
		{"GET", "/other", "GET name=ENOENT [] missing=ENOENT zeroed=yes body=0\n"},
	};
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	serve_gate(&s, "\"handler_timeout\": 10");
	WT_OK(wt_client_open(&c, &s, 0));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		wt_ask(&c, cases[i].method, cases[i].target, "Content-Length: 0\r\n", &r);
		ck_assert_int_eq(r.status, 200);
		ck_assert_str_eq(r.body, cases[i].body);
		wt_response_free(&r);
	}
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/* ---- Hooks that keep the request ----------------------------------------------------- */

START_TEST(hook_continues_later)
{
	static const char *const order[] = {
		"gate: wait /g/in\n",
		"gate: pass /g/in\n",
		"gate: cleanup /g/in\n",
	};
	struct wt_server s;
	struct wt_client c;
	long long t;

	serve_gate(&s, "\"handler_timeout\": 10");
	WT_OK(wt_client_open(&c, &s, 0));
	t = wt_now_ms();
	wt_expect(&c, "/g/in", "X-Gate: pass 100\r\n", 200,
		  "GET name=0 [in] missing=ENOENT zeroed=yes body=0\n");
	ck_assert_msg(wt_now_ms() - t >= 100, "answered after %lld ms", wt_now_ms() - t);
	/* The connection goes on, with and without the hook keeping requests. */
	wt_expect(&c, "/g/again", "X-Gate: pass 0\r\n", 200,
		  "GET name=0 [again] missing=ENOENT zeroed=yes body=0\n");
	wt_expect(&c, "/g/free", "", 200, "GET name=0 [free] missing=ENOENT zeroed=yes body=0\n");
	wt_client_close(&c);
	wt_stop_keep_log(&s);
	assert_log_order(&s, order, 3);
	ck_assert(!wt_log_contains(&s, "gate: abort"));
	assert_no_misuse(&s);
	wt_cleanup(&s);
}
END_TEST

START_TEST(hook_answers_later)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	serve_gate(&s, "\"handler_timeout\": 10");
	WT_OK(wt_client_open(&c, &s, 0));
	wt_ask(&c, "GET", "/g/no", "X-Gate: deny 50\r\n", &r);
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 403 Forbidden");
	ck_assert_str_eq(r.body, "gate says no\n");
	ck_assert_ptr_null(wt_header(&r, "Connection"));
	wt_response_free(&r);
	wt_expect(&c, "/g/yes", "", 200, "GET name=0 [yes] missing=ENOENT zeroed=yes body=0\n");
	wt_client_close(&c);
	WT_OK(wt_wait_log(&s, "gate: cleanup /g/no\n", WT_TIMEOUT_MS));
	ck_assert(!wt_log_contains(&s, "gate: abort"));
	assert_no_misuse(&s);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(hook_timed_out_is_504)
{
	static const char *const order[] = {
		"gate: wait /g/slow\n",
		"gate.on_request did not answer GET /g/slow within http.handler_timeout (300 ms): 504",
		"gate: abort /g/slow\n",
		"gate: cleanup /g/slow\n",
	};
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	long long t;

	serve_gate(&s, "\"handler_timeout\": 0.3");
	WT_OK(wt_client_open(&c, &s, 0));
	t = wt_now_ms();
	wt_ask(&c, "GET", "/g/slow", "X-Gate: hang\r\n", &r);
	ck_assert_msg(wt_now_ms() - t >= 300, "504 after %lld ms", wt_now_ms() - t);
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 504 Gateway Timeout");
	ck_assert_str_eq(wt_header(&r, "Connection"), "close");
	wt_response_free(&r);
	WT_OK(wt_wait_closed(&c, WT_TIMEOUT_MS));
	wt_client_close(&c);
	wt_stop_keep_log(&s);
	assert_log_order(&s, order, 4);
	assert_no_misuse(&s);
	wt_cleanup(&s);
}
END_TEST

START_TEST(hook_client_leaves)
{
	static const char *const order[] = {
		"gate: wait /g/gone\n",
		"gate: abort /g/gone\n",
		"gate: cleanup /g/gone\n",
	};
	struct wt_server s;
	struct wt_client c;

	serve_gate(&s, "\"handler_timeout\": 60");
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_sends(&c, "GET /g/gone HTTP/1.1\r\nHost: t\r\nX-Gate: hang\r\n\r\n"));
	WT_OK(wt_wait_log(&s, "gate: wait /g/gone\n", WT_TIMEOUT_MS));
	wt_client_close(&c);
	WT_OK(wt_wait_log(&s, "gate: cleanup /g/gone\n", WT_TIMEOUT_MS));
	/* The worker goes on serving. */
	WT_OK(wt_client_open(&c, &s, 0));
	wt_expect(&c, "/g/next", "X-Gate: pass 0\r\n", 200,
		  "GET name=0 [next] missing=ENOENT zeroed=yes body=0\n");
	wt_client_close(&c);
	wt_stop_keep_log(&s);
	assert_log_order(&s, order, 3);
	assert_no_misuse(&s);
	wt_cleanup(&s);
}
END_TEST

START_TEST(hook_pending_when_the_worker_stops)
{
	struct wt_server s;
	struct wt_client c;

	serve_gate(&s, "\"handler_timeout\": 60");
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_sends(&c, "GET /g/stop HTTP/1.1\r\nHost: t\r\nX-Gate: hang\r\n\r\n"));
	WT_OK(wt_wait_log(&s, "gate: wait /g/stop\n", WT_TIMEOUT_MS));
	wt_stop_keep_log(&s);
	ck_assert(wt_log_contains(&s, "gate: abort /g/stop\n"));
	ck_assert(wt_log_contains(&s, "gate: cleanup /g/stop\n"));
	WT_OK(wt_wait_closed(&c, WT_TIMEOUT_MS));
	wt_client_close(&c);
	assert_no_misuse(&s);
	wt_cleanup(&s);
}
END_TEST

/*
 * A hook that armed a timer and an abort callback, then declined: they were its own, and
 * must not run while the handler holds the request (as the handler's code, with the
 * handler's module context). The timer is due long before the handler answers.
 */
START_TEST(declining_hook_leaves_nothing_armed)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	serve_gate(&s, "\"handler_timeout\": 10");
	WT_OK(wt_client_open(&c, &s, 0));
	wt_ask(&c, "GET", "/later?ms=300", "X-Gate: skip 5\r\n", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "later\n");
	wt_response_free(&r);
	/* The same again, with the client gone while the handler holds it. */
	WT_OK(wt_sends(&c, "GET /later?ms=60000 HTTP/1.1\r\nHost: t\r\nX-Gate: skip 1\r\n\r\n"));
	WT_OK(wt_wait_log(&s, "gate: skip /later?ms=60000", WT_TIMEOUT_MS));
	wt_client_close(&c);
	WT_OK(wt_wait_log(&s, "gate: cleanup /later?ms=60000", WT_TIMEOUT_MS));
	wt_stop_keep_log(&s);
	ck_assert_uint_eq(wt_log_count(&s, "gate: skip /later"), 2);
	ck_assert_uint_eq(wt_log_count(&s, "gate: cleanup /later"), 2);
	ck_assert(!wt_log_contains(&s, "gate: abort"));
	assert_no_misuse(&s);
	wt_cleanup(&s);
}
END_TEST

START_TEST(hook_pipelined)
{
	static const char reqs[] =
		"GET /g/one HTTP/1.1\r\nHost: t\r\nX-Gate: pass 100\r\n\r\n"
		"GET /g/two HTTP/1.1\r\nHost: t\r\nX-Gate: deny 0\r\n\r\n"
		"GET /g/three HTTP/1.1\r\nHost: t\r\n\r\n"
		"POST /g/four HTTP/1.1\r\nHost: t\r\nX-Gate: pass 10\r\nContent-Length: 5\r\n\r\nhello"
		"POST /s HTTP/1.1\r\nHost: t\r\nX-Gate: pass 10\r\nContent-Length: 7\r\n\r\nabcdefg"
		"GET /g/six HTTP/1.1\r\nHost: t\r\nX-Gate: pass 0\r\n\r\n";
	static const char *const bodies[] = {
		"GET name=0 [one] missing=ENOENT zeroed=yes body=0\n",
		"gate says no\n",
		"GET name=0 [three] missing=ENOENT zeroed=yes body=0\n",
		"POST name=0 [four] missing=ENOENT zeroed=yes body=5\n",
		"streamed 7\n",
		"GET name=0 [six] missing=ENOENT zeroed=yes body=0\n",
	};
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	serve_gate(&s, "\"handler_timeout\": 10");
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_sends(&c, reqs));
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		WT_OK(wt_read_response(&c, &r, false));
		ck_assert_int_eq(r.status, i == 1 ? 403 : 200);
		ck_assert_str_eq(r.body, bodies[i]);
		wt_response_free(&r);
	}
	wt_client_close(&c);
	wt_stop_keep_log(&s);
	ck_assert_uint_eq(wt_log_count(&s, "gate: cleanup"), 5);
	ck_assert(!wt_log_contains(&s, "gate: abort"));
	assert_no_misuse(&s);
	wt_cleanup(&s);
}
END_TEST

/* A handler that reads the body as it comes: the hook decides before "100 Continue". */
START_TEST(hook_before_a_streamed_body)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	long long t;

	serve_gate(&s, "\"handler_timeout\": 10");
	WT_OK(wt_client_open(&c, &s, 0));
	t = wt_now_ms();
	WT_OK(wt_sends(&c, "POST /s HTTP/1.1\r\nHost: t\r\nX-Gate: pass 100\r\n"
			   "Expect: 100-continue\r\nContent-Length: 12\r\n\r\n"));
	WT_OK(wt_read_response(&c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 100 Continue");
	ck_assert_msg(wt_now_ms() - t >= 100, "100 Continue after %lld ms, before the hook passed",
		      wt_now_ms() - t);
	wt_response_free(&r);
	WT_OK(wt_sends(&c, "hello, world"));
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_str_eq(r.body, "streamed 12\n");
	wt_response_free(&r);

	/* Refused by the hook: no invitation to send the body, and the connection closes. */
	WT_OK(wt_sends(&c, "POST /s HTTP/1.1\r\nHost: t\r\nX-Gate: deny 20\r\n"
			   "Expect: 100-continue\r\nContent-Length: 12\r\n\r\n"));
	WT_OK(wt_read_response(&c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 403 Forbidden");
	ck_assert_str_eq(wt_header(&r, "Connection"), "close");
	wt_response_free(&r);
	WT_OK(wt_wait_closed(&c, WT_TIMEOUT_MS));
	wt_client_close(&c);
	wt_stop_keep_log(&s);
	assert_no_misuse(&s);
	wt_cleanup(&s);
}
END_TEST

/* A module built against 0.3 meant nothing by WARREN_ASYNC from on_request: still a 500. */
START_TEST(hook_of_an_older_module_cannot_hold)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	wt_serve(&s,
		 "'workers': 1, 'http': {'handler_timeout': 60}, 'modules': [{'name': 'abi_v03',"
		 " 'path': '@PLUGIN_DIR@/abi_v03.so'}], 'routes': [{'handler': 'abi_v03.greet'}]");
	WT_OK(wt_client_open(&c, &s, 0));
	wt_ask(&c, "GET", "/", "X-Async: 1\r\n", &r);
	ck_assert_int_eq(r.status, 500);
	wt_response_free(&r);
	wt_expect(&c, "/", "", 200, "0.3 module\n");
	wt_client_close(&c);
	wt_stop_keep_log(&s);
	ck_assert(
		wt_log_contains(&s, "abi_v03.on_request returned 2, which is not a valid result"));
	wt_cleanup(&s);
}
END_TEST

/* ---- Body limits of routes ----------------------------------------------------------- */

static void expect_413_at_once(const struct wt_server *s, const char *head)
{
	struct wt_client c;
	struct wt_response r;

	WT_OK(wt_client_open(&c, s, 0));
	WT_OK(wt_sends(&c, head));
	WT_OK(wt_read_response(&c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 413 Content Too Large");
	ck_assert_str_eq(wt_header(&r, "Connection"), "close");
	wt_response_free(&r);
	WT_OK(wt_wait_closed(&c, WT_TIMEOUT_MS));
	wt_client_close(&c);
}

START_TEST(route_body_limits)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	char *big = malloc(4096 + 1);
	char head[256];

	ck_assert_ptr_nonnull(big);
	memset(big, 'b', 4096);
	big[4096] = '\0';
	serve_gate(&s, "\"handler_timeout\": 10");
	/* Announced over the route's limit: 413 before any of the body is sent, also when
	 * the client asked whether to send it, and before the hook sees it. */
	expect_413_at_once(&s, "POST /small HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n");
	expect_413_at_once(&s, "POST /small HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
			       "X-Gate: pass 0\r\nContent-Length: 11\r\n\r\n");
	/* The server's limit for a route without one; a route's own may be larger. */
	expect_413_at_once(&s, "POST /g/x HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n");
	expect_413_at_once(&s, "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 5001\r\n\r\n");

	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_sends(&c, "POST /small HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n"
			   "0123456789"));
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_str_eq(r.body, "POST name=ENOENT [] missing=ENOENT zeroed=yes body=10\n");
	wt_response_free(&r);
	snprintf(head, sizeof(head),
		 "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 4096\r\n\r\n");
	WT_OK(wt_sends(&c, head));
	WT_OK(wt_sends(&c, big));
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_str_eq(r.body, "POST name=ENOENT [] missing=ENOENT zeroed=yes body=4096\n");
	wt_response_free(&r);
	/* Chunked: found out once the body passes the limit. */
	WT_OK(wt_sends(&c, "POST /small HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
			   "6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n"));
	WT_OK(wt_read_response(&c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 413 Content Too Large");
	wt_response_free(&r);
	WT_OK(wt_wait_closed(&c, WT_TIMEOUT_MS));
	wt_client_close(&c);

	/* A handler reading the body as it comes is held to its route's limit too. */
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_sends(&c, "POST /s HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
			   "f\r\n0123456789abcde\r\n"));
	WT_OK(wt_sends(&c, "f\r\n0123456789abcde\r\n0\r\n\r\n"));
	WT_OK(wt_read_response(&c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 413 Content Too Large");
	wt_response_free(&r);
	wt_client_close(&c);
	free(big);
	wt_stop_ok(&s);
}
END_TEST

/* ---- Server and Date ----------------------------------------------------------------- */

/* The headers plugin setting both: one of each, its own; http.server_header: false drops
 * warren's Server, not a module's. */
START_TEST(server_and_date_from_a_module)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	wt_serve(&s, "'workers': 1, 'modules': [{'name': 'headers', 'path': "
		     "'@PLUGIN_DIR@/headers.so', 'config': {'set': {'Server': 'shop/2', "
		     "'Date': 'Thu, 01 Jan 1970 00:00:00 GMT'}}}], "
		     "'routes': [{'match': {'path': '/'}, 'handler': 'echo.echo'}]");
	WT_OK(wt_client_open(&c, &s, 0));
	wt_ask(&c, "GET", "/", "", &r);
	ck_assert_uint_eq(wt_header_count(&r, "Server"), 1);
	ck_assert_uint_eq(wt_header_count(&r, "Date"), 1);
	ck_assert_str_eq(wt_header(&r, "Server"), "shop/2");
	ck_assert_str_eq(wt_header(&r, "Date"), "Thu, 01 Jan 1970 00:00:00 GMT");
	wt_response_free(&r);
	/* warren's own answers that hooks see too. */
	wt_ask(&c, "GET", "/nothing", "", &r);
	ck_assert_int_eq(r.status, 404);
	ck_assert_uint_eq(wt_header_count(&r, "Server"), 1);
	ck_assert_str_eq(wt_header(&r, "Server"), "shop/2");
	wt_response_free(&r);
	wt_client_close(&c);
	wt_stop_ok(&s);

	wt_serve(&s, "'workers': 1, 'http': {'server_header': false}, "
		     "'routes': [{'handler': 'echo.echo'}]");
	WT_OK(wt_client_open(&c, &s, 0));
	wt_ask(&c, "GET", "/", "", &r);
	ck_assert_uint_eq(wt_header_count(&r, "Server"), 0);
	ck_assert_uint_eq(wt_header_count(&r, "Date"), 1);
	wt_response_free(&r);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

static Suite *gate_suite(void)
{
	Suite *s = suite_create("gate");
	TCase *tc = tcase_create("calls");

	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, method_ids_params_zeroed_memory);
	tcase_add_test(tc, route_body_limits);
	tcase_add_test(tc, server_and_date_from_a_module);
	suite_add_tcase(s, tc);

	tc = tcase_create("hold");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, hook_continues_later);
	tcase_add_test(tc, hook_answers_later);
	tcase_add_test(tc, hook_timed_out_is_504);
	tcase_add_test(tc, hook_client_leaves);
	tcase_add_test(tc, hook_pending_when_the_worker_stops);
	tcase_add_test(tc, declining_hook_leaves_nothing_armed);
	tcase_add_test(tc, hook_pipelined);
	tcase_add_test(tc, hook_before_a_streamed_body);
	tcase_add_test(tc, hook_of_an_older_module_cannot_hold);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(gate_suite)

/* tests/integration/test_requestlog.c - the requestlog plugin through the real binary: an
 * X-Request-Id on every response, and one access-log line per request with what ABI 0.4
 * tells of it (bytes, outcome, route, connection reuse), warren's own errors included. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_main.h"
#include "harness.h"

#define REQUESTLOG_MODULE                                                                          \
	"{'name': 'requestlog', 'path': '@PLUGIN_DIR@/requestlog.so',"                             \
	" 'config': {'file': '@DIR@/access.log', 'reuse_id': true}}"

/* One worker: "the worker kept serving" and the request count mean the only one. */
#define LOG_SERVER(http)                                                                           \
	"'workers': 1, 'http': {" http "},"                                                        \
	"'modules': [" WT_HELLO_MODULE ", " REQUESTLOG_MODULE ","                                  \
	" {'name': 'delay', 'path': '@PLUGIN_DIR@/delay.so'},"                                     \
	" {'name': 'api', 'path': '@PLUGIN_DIR@/api.so'}],"                                        \
	"'routes': [{'match': {'path': '/hello'}, 'handler': 'hello.greet'},"                      \
	"  {'match': {'path': '/delay'}, 'handler': 'delay.wait'},"                                \
	"  {'match': {'path': '/api/borrow'}, 'handler': 'api.borrow'}]"

static char *log_path(const struct wt_server *s)
{
	static char path[300];

	snprintf(path, sizeof(path), "%s/access.log", s->dir);
	return path;
}

/* The access log once it holds @n lines (polled until the deadline); the caller frees it. */
static char *wait_lines(const struct wt_server *s, size_t n)
{
	long long deadline = wt_now_ms() + WT_TIMEOUT_MS;
	struct timespec step = {.tv_nsec = 5 * 1000000};

	for (;;) {
		size_t len = 0, lines = 0;
		char *text = wt_read_file(log_path(s), &len);

		for (size_t i = 0; text && i < len; i++)
			lines += text[i] == '\n';
		if (text && lines >= n)
			return text;
		if (wt_now_ms() > deadline)
			ck_abort_msg("the access log has %zu lines, not %zu:\n%s", lines, n,
				     text ? text : "(none)");
		free(text);
		nanosleep(&step, NULL);
	}
}

/* The line of @text that contains @needle; asserts there is exactly one. */
static const char *line_with(const char *text, const char *needle)
{
	const char *at = strstr(text, needle), *start;

	ck_assert_msg(at, "no access-log line with \"%s\" in:\n%s", needle, text);
	ck_assert_msg(!strstr(at + 1, needle), "two lines with \"%s\" in:\n%s", needle, text);
	for (start = at; start > text && start[-1] != '\n'; start--)
		;
	return start;
}

/* Asserts that the line holding @needle also holds @part. */
static void line_has(const char *text, const char *needle, const char *part)
{
	const char *line = line_with(text, needle);
	size_t len = strcspn(line, "\n");

	ck_assert_msg(memmem(line, len, part, strlen(part)), "\"%s\" not in the line: %.*s", part,
		      (int)len, line);
}

static bool is_hex_id(const char *id)
{
	return id && strlen(id) == 32 && strspn(id, "0123456789abcdef") == 32;
}

START_TEST(ids_and_lines_for_answered_requests)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	char part[256], id[64];
	char *text;

	wt_serve(&s, LOG_SERVER("'keepalive_timeout': 5"));
	WT_OK(wt_client_open(&c, &s, 0));
	wt_ask(&c, "GET", "/hello", "", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(is_hex_id(wt_header(&r, "X-Request-Id")), "id \"%s\"",
		      wt_header(&r, "X-Request-Id"));
	snprintf(id, sizeof(id), "id=%s ", wt_header(&r, "X-Request-Id"));
	/* What went out: the head and the 13 bytes of "Hello, World!". */
	snprintf(part, sizeof(part), "\"GET /hello HTTP/1.1\" 200 %zu 13 0 ", r.head_len + 13);
	wt_response_free(&r);
	/* A valid incoming id is reused; the second request on the connection says so. */
	wt_ask(&c, "GET", "/nothing?x=\"q\"", "X-Request-Id: abc-1\r\n", &r);
	ck_assert_int_eq(r.status, 404);
	ck_assert_str_eq(wt_header(&r, "X-Request-Id"), "abc-1");
	wt_response_free(&r);
	/* An invalid one is not. */
	wt_ask(&c, "POST", "/hello", "X-Request-Id: a b\r\nContent-Length: 5\r\n\r\nhello", &r);
	ck_assert(is_hex_id(wt_header(&r, "X-Request-Id")));
	wt_response_free(&r);
	wt_client_close(&c);

	text = wait_lines(&s, 3);
	line_has(text, "GET /hello HTTP", part);
	line_has(text, "GET /hello HTTP", id);
	line_has(text, "GET /hello HTTP", "route=hello.greet conn=0 answered");
	line_has(text, "/nothing", "\"GET /nothing?x=\\x22q\\x22 HTTP/1.1\" 404 ");
	line_has(text, "/nothing", "id=abc-1 w=0 route=- conn=1 answered");
	/* The request body's 5 bytes are counted. */
	line_has(text, "POST /hello", " 5 ");
	line_has(text, "POST /hello", "conn=2 answered");
	free(text);
	wt_stop_ok(&s);
}
END_TEST

/* Pipelined requests each get their line once their own response is out, in order. */
START_TEST(pipelined_requests_each_logged)
{
	static const char three[] =
		"GET /hello?n=1 HTTP/1.1\r\nHost: test\r\n\r\n"
		"GET /hello?n=2 HTTP/1.1\r\nHost: test\r\n\r\n"
		"GET /hello?n=3 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	char part[3][128];
	char *text;

	wt_serve(&s, LOG_SERVER("'keepalive_timeout': 5"));
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_sends(&c, three));
	for (int i = 0; i < 3; i++) {
		WT_OK(wt_read_response(&c, &r, false));
		ck_assert_int_eq(r.status, 200);
		snprintf(part[i], sizeof(part[i]), "\" 200 %zu 13 0 ", r.head_len + 13);
		wt_response_free(&r);
	}
	WT_OK(wt_wait_closed(&c, WT_TIMEOUT_MS));
	wt_client_close(&c);
	text = wait_lines(&s, 3);
	line_has(text, "/hello?n=1 ", part[0]);
	line_has(text, "/hello?n=1 ", "conn=0 answered");
	line_has(text, "/hello?n=2 ", part[1]);
	line_has(text, "/hello?n=2 ", "conn=1 answered");
	line_has(text, "/hello?n=3 ", part[2]);
	line_has(text, "/hello?n=3 ", "conn=2 answered");
	ck_assert_msg(strstr(text, "n=1 ") < strstr(text, "n=2 ") &&
			      strstr(text, "n=2 ") < strstr(text, "n=3 "),
		      "lines out of order:\n%s", text);
	free(text);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(lines_for_warren_errors_and_clients_gone)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	char *text;

	wt_serve(&s, LOG_SERVER("'header_timeout': 0.3, 'send_timeout': 0.3"));
	/* Bad framing: warren's 400 carries an id and is logged, rejected ("route=!"). */
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_sends(&c, "GET /a b c HTTP/1.1\r\nHost: test\r\n\r\n"));
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_int_eq(r.status, 400);
	ck_assert(is_hex_id(wt_header(&r, "X-Request-Id")));
	wt_response_free(&r);
	wt_client_close(&c);
	/* A head that does not arrive in time: 408, logged. */
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_sends(&c, "GET /slow HTTP/1.1\r\nHost: te"));
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_int_eq(r.status, 408);
	ck_assert(is_hex_id(wt_header(&r, "X-Request-Id")));
	wt_response_free(&r);
	wt_client_close(&c);
	/* A connection that never sent a byte is closed, answered nothing, logged nothing. */
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_wait_closed(&c, WT_TIMEOUT_MS));
	wt_client_close(&c);
	/* A client that leaves before its answer: no status, "aborted". */
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_sends(&c, "GET /delay?ms=60000 HTTP/1.1\r\nHost: test\r\n\r\n"));
	text = wait_lines(&s, 2);
	free(text);
	wt_client_close(&c);
	/* One that reads nothing of a large answer: cut when send_timeout passes. */
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_sends(&c, "GET /api/borrow?size=33554432 HTTP/1.1\r\nHost: test\r\n\r\n"));

	text = wait_lines(&s, 4);
	/* What was parsed of it: not the method, which ends with the head. */
	line_has(text, "\" /a\"", " 400 ");
	line_has(text, "\" /a\"", "route=! conn=0 answered");
	line_has(text, "\" /slow\"", " 408 ");
	line_has(text, "\" /slow\"", "route=! conn=0 answered");
	line_has(text, "/delay", "\"GET /delay?ms=60000 HTTP/1.1\" 0 0 0 0 ");
	line_has(text, "/delay", "route=delay.wait conn=0 aborted");
	line_has(text, "/api/borrow", "\" 200 ");
	line_has(text, "/api/borrow", "route=api.borrow conn=0 cut");
	ck_assert_msg(!strstr(line_with(text, "/api/borrow"), " 200 33554"),
		      "a cut response counted whole: %s", line_with(text, "/api/borrow"));
	free(text);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/*
 * Log rotation: the file renamed away, USR1 makes every process open a new one by the name
 * (on_reopen), and lines go there from then on. Requests are sent until one lands in the
 * new file, as the worker hears of the signal on its own time.
 */
START_TEST(reopen_follows_rotation)
{
	struct wt_server s;
	struct wt_response r;
	char rotated[320];
	long long deadline;
	char *text = NULL;
	size_t len;

	wt_serve(&s, LOG_SERVER(""));
	WT_OK(wt_exchanges(&s, "GET /hello?before HTTP/1.1\r\nHost: t\r\n\r\n", &r));
	wt_response_free(&r);
	free(wait_lines(&s, 1));
	snprintf(rotated, sizeof(rotated), "%s.1", log_path(&s));
	ck_assert_int_eq(rename(log_path(&s), rotated), 0);
	ck_assert_int_eq(kill(s.pid, SIGUSR1), 0);
	deadline = wt_now_ms() + wt_scaled_ms(WT_TIMEOUT_MS);
	for (;;) {
		WT_OK(wt_exchanges(&s, "GET /hello?after HTTP/1.1\r\nHost: t\r\n\r\n", &r));
		wt_response_free(&r);
		/* The reopen creates the file before any line is in it. */
		text = wt_read_file(log_path(&s), &len);
		if (text && strstr(text, "/hello?after"))
			break;
		free(text);
		ck_assert_msg(wt_now_ms() < deadline, "no line in a new %s after USR1",
			      log_path(&s));
	}
	ck_assert(!strstr(text, "/hello?before"));
	free(text);
	text = wt_read_file(rotated, &len);
	ck_assert(text && strstr(text, "/hello?before"));
	free(text);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(config_errors)
{
	static const struct {
		const char *config, *msg;
	} cases[] = {
		{"{}", "modules[0].config.file: module \"requestlog\" failed to start: missing "
		       "(expected a non-empty string)"},
		{"{'file': '@DIR@/x', 'reuse_id': 1}",
		 "modules[0].config.reuse_id: module \"requestlog\" failed to start: expected true "
		 "or false, got integer 1"},
		{"{'file': '@DIR@/x', 'reuse_ib': true}",
		 "unknown key \"reuse_ib\" (did you mean \"reuse_id\"?)"},
		{"{'file': '@DIR@/no/such/dir/x'}", "modules[0].config.file: module \"requestlog\" "
						    "failed to start: cannot open "},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char members[512];
		struct wt_server s;
		struct wt_run run;

		snprintf(members, sizeof(members),
			 "'modules': [{'name': 'requestlog', 'path': '@PLUGIN_DIR@/requestlog.so', "
			 "'config': %s}]",
			 cases[i].config);
		/* The harness turns ' into " in its format only, not in arguments. */
		for (char *p = members; *p; p++)
			if (*p == '\'')
				*p = '"';
		wt_init(&s);
		wt_config(&s, "%s", members);
		ck_assert_int_eq(
			wt_run_warren(&run, WT_TIMEOUT_MS, "-t", "-c", s.conf, (char *)NULL), 0);
		ck_assert_int_eq(run.status, 1);
		ck_assert_msg(strstr(run.err, cases[i].msg), "case %zu: \"%s\" not in: %s", i,
			      cases[i].msg, run.err);
		wt_run_free(&run);
		wt_cleanup(&s);
	}
}
END_TEST

static Suite *requestlog_suite(void)
{
	Suite *s = suite_create("requestlog");
	TCase *tc = tcase_create("requestlog");

	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, ids_and_lines_for_answered_requests);
	tcase_add_test(tc, pipelined_requests_each_logged);
	tcase_add_test(tc, lines_for_warren_errors_and_clients_gone);
	tcase_add_test(tc, reopen_follows_rotation);
	tcase_add_test(tc, config_errors);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(requestlog_suite)

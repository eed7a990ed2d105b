/* tests/integration/test_http.c - HTTP/1.1 as the real server speaks it: response heads,
 * HEAD, keep-alive, pipelining, request bodies, limits, malformed input and timeouts. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "check_main.h"
#include "harness.h"

/* The hello plugin on GET /hello, echo on everything under /echo. */
#define ROUTES                                                                                     \
	"'modules': [" WT_HELLO_MODULE "],"                                                        \
	"'routes': ["                                                                              \
	"  {'match': {'path': '/hello', 'method': 'GET'}, 'handler': 'hello.greet'},"              \
	"  {'match': {'path': '/echo/*'}, 'handler': 'echo.echo'}"                                 \
	"]"

#define HELLO_REQ "GET /hello HTTP/1.1\r\nHost: test\r\n\r\n"

static void serve(struct wt_server *s)
{
	wt_serve(s, "'workers': 1, " ROUTES);
}

static void open_client(struct wt_client *c, const struct wt_server *s)
{
	WT_OK(wt_client_open(c, s, 0));
}

/* Asks for /hello on @c and asserts the greeting: proves the connection still works. */
static void expect_hello(struct wt_client *c)
{
	struct wt_response r;

	WT_OK(wt_sends(c, HELLO_REQ));
	WT_OK(wt_read_response(c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	ck_assert_str_eq(r.body, "Hello, World!");
	wt_response_free(&r);
}

/* Asserts that the echo handler answered with exactly @echo as the body. */
static void expect_echo(const struct wt_response *r, const char *echo, size_t len)
{
	char cl[32];

	WT_ASSERT_STATUS_LINE(r, "HTTP/1.1 200 OK");
	WT_ASSERT_BODY(r, echo, len);
	snprintf(cl, sizeof(cl), "%zu", len);
	ck_assert_str_eq(wt_header(r, "Content-Length"), cl);
	ck_assert_str_eq(wt_header(r, "Content-Type"), "text/plain; charset=utf-8");
}

/* Reads one response that must be the error @status_line and the connection's end. */
static void expect_error_and_close(struct wt_client *c, const char *status_line, const char *body)
{
	struct wt_response r;
	char expected_cl[32];

	WT_OK(wt_read_response(c, &r, false));
	ck_assert_msg(strncmp(r.head, status_line, strlen(status_line)) == 0 &&
			      r.head[strlen(status_line)] == '\r',
		      "expected \"%s\", got \"%.*s\"", status_line, (int)strcspn(r.head, "\r"),
		      r.head);
	ck_assert_str_eq(wt_header(&r, "Connection"), "close");
	ck_assert_str_eq(wt_header(&r, "Content-Type"), "text/plain; charset=utf-8");
	snprintf(expected_cl, sizeof(expected_cl), "%zu", strlen(body));
	ck_assert_str_eq(wt_header(&r, "Content-Length"), expected_cl);
	ck_assert_str_eq(r.body, body);
	wt_response_free(&r);
	WT_OK(wt_wait_closed(c, WT_TIMEOUT_MS));
}

/* ---- Basics ------------------------------------------------------------------------- */

START_TEST(get_has_exact_head_and_body)
{
	struct wt_server s;
	struct wt_response r;
	struct tm tm = {0};
	const char *date, *end;
	time_t now = time(NULL), t;

	serve(&s);
	WT_OK(wt_exchanges(&s, HELLO_REQ, &r));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(wt_header(&r, "Server"), "warren");
	ck_assert_str_eq(wt_header(&r, "Content-Length"), "13");
	ck_assert_str_eq(wt_header(&r, "Content-Type"), "text/plain; charset=utf-8");
	ck_assert_ptr_null(wt_header(&r, "Connection"));
	ck_assert_ptr_null(wt_header(&r, "Transfer-Encoding"));
	ck_assert_uint_eq(wt_header_count(&r, "Server"), 1);
	ck_assert_uint_eq(wt_header_count(&r, "Date"), 1);
	ck_assert_uint_eq(wt_header_count(&r, "Content-Length"), 1);
	ck_assert_str_eq(r.body, "Hello, World!");

	/* An IMF-fixdate (RFC 9110 5.6.7), and the current time. */
	date = wt_header(&r, "Date");
	ck_assert_ptr_nonnull(date);
	end = strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	ck_assert_msg(end && *end == '\0' && strlen(date) == 29, "Date \"%s\" is no IMF-fixdate",
		      date);
	t = timegm(&tm);
	ck_assert_msg(t >= now - 5 && t <= now + 5, "Date \"%s\" is not now", date);
	wt_response_free(&r);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(head_has_get_headers_and_no_body)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response head, get;

	serve(&s);
	open_client(&c, &s);
	WT_OK(wt_sends(&c, "HEAD /hello HTTP/1.1\r\nHost: test\r\n\r\n"));
	WT_OK(wt_read_response(&c, &head, true));
	/* A body after the HEAD answer would be read as the next status line. */
	WT_OK(wt_sends(&c, HELLO_REQ));
	WT_OK(wt_read_response(&c, &get, false));

	WT_ASSERT_STATUS_LINE(&head, "HTTP/1.1 200 OK");
	WT_ASSERT_STATUS_LINE(&get, "HTTP/1.1 200 OK");
	ck_assert_str_eq(wt_header(&head, "Content-Length"), "13");
	ck_assert_uint_eq(head.nhdrs, get.nhdrs);
	for (size_t i = 0; i < head.nhdrs; i++) {
		ck_assert_str_eq(head.hdrs[i].name, get.hdrs[i].name);
		if (strcasecmp(head.hdrs[i].name, "Date") != 0)
			ck_assert_str_eq(head.hdrs[i].value, get.hdrs[i].value);
	}
	ck_assert_str_eq(get.body, "Hello, World!");
	wt_response_free(&head);
	wt_response_free(&get);
	ck_assert_int_eq(wt_wait_closed(&c, 0), -ETIMEDOUT);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(head_length_is_what_get_would_send)
{
	static const char req[] = "HEAD /echo/x HTTP/1.1\r\nHost: test\r\n\r\n";
	struct wt_server s;
	struct wt_response r;
	char cl[32];

	serve(&s);
	WT_OK(wt_exchanges(&s, req, &r));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	snprintf(cl, sizeof(cl), "%zu", strlen(req));
	ck_assert_str_eq(wt_header(&r, "Content-Length"), cl);
	ck_assert_uint_eq(r.body_len, 0);
	wt_response_free(&r);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(not_found_keeps_the_connection)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	serve(&s);
	open_client(&c, &s);
	WT_OK(wt_sends(&c, "GET /nowhere HTTP/1.1\r\nHost: test\r\n\r\n"));
	WT_OK(wt_read_response(&c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 404 Not Found");
	ck_assert_str_eq(wt_header(&r, "Content-Type"), "text/plain; charset=utf-8");
	ck_assert_str_eq(wt_header(&r, "Content-Length"), "14");
	ck_assert_str_eq(r.body, "404 Not Found\n");
	ck_assert_ptr_null(wt_header(&r, "Connection"));
	wt_response_free(&r);
	expect_hello(&c);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(head_of_a_missing_path)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	serve(&s);
	open_client(&c, &s);
	WT_OK(wt_sends(&c, "HEAD /nowhere HTTP/1.1\r\nHost: test\r\n\r\n"));
	WT_OK(wt_read_response(&c, &r, true));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 404 Not Found");
	ck_assert_str_eq(wt_header(&r, "Content-Length"), "14");
	wt_response_free(&r);
	expect_hello(&c);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(request_head_reaches_the_handler)
{
	static const char req[] = "GET /echo/a/b?q=1&r=%20 HTTP/1.1\r\n"
				  "Host: example.test\r\n"
				  "X-Padded: \t padded value \t \r\n"
				  "X-Empty:\r\n"
				  "x-lower-case: Mixed Case Value\r\n"
				  "\r\n";
	static const char echo[] = "GET /echo/a/b?q=1&r=%20 HTTP/1.1\r\n"
				   "Host: example.test\r\n"
				   "X-Padded: padded value\r\n"
				   "X-Empty: \r\n"
				   "x-lower-case: Mixed Case Value\r\n"
				   "\r\n";
	struct wt_server s;
	struct wt_response r;

	serve(&s);
	WT_OK(wt_exchanges(&s, req, &r));
	expect_echo(&r, echo, strlen(echo));
	wt_response_free(&r);
	wt_stop_ok(&s);
}
END_TEST

/* ---- Connections -------------------------------------------------------------------- */

START_TEST(keepalive_serves_many_requests)
{
	struct wt_server s;
	struct wt_client c;

	serve(&s);
	open_client(&c, &s);
	for (int i = 0; i < 5; i++) {
		struct wt_response r;
		char req[128];
		char echo[128];

		snprintf(req, sizeof(req), "GET /echo/%d HTTP/1.1\r\nHost: test\r\n\r\n", i);
		snprintf(echo, sizeof(echo), "%s", req);
		WT_OK(wt_sends(&c, req));
		WT_OK(wt_read_response(&c, &r, false));
		expect_echo(&r, echo, strlen(echo));
		ck_assert_ptr_null(wt_header(&r, "Connection"));
		wt_response_free(&r);
	}
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(http10_without_keepalive_closes)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	serve(&s);
	open_client(&c, &s);
	WT_OK(wt_sends(&c, "GET /hello HTTP/1.0\r\n\r\n"));
	WT_OK(wt_read_response(&c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	ck_assert_str_eq(wt_header(&r, "Connection"), "close");
	ck_assert_str_eq(wt_header(&r, "Content-Length"), "13");
	ck_assert_str_eq(r.body, "Hello, World!");
	wt_response_free(&r);
	WT_OK(wt_wait_closed(&c, WT_TIMEOUT_MS));
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(http10_keepalive_stays_open)
{
	static const char req[] = "GET /echo/10 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	serve(&s);
	open_client(&c, &s);
	for (int i = 0; i < 2; i++) {
		WT_OK(wt_sends(&c, req));
		WT_OK(wt_read_response(&c, &r, false));
		expect_echo(&r, req, strlen(req));
		ck_assert_str_eq(wt_header(&r, "Connection"), "keep-alive");
		wt_response_free(&r);
	}
	/* The same connection, now without the header: served, then closed. */
	WT_OK(wt_sends(&c, "GET /hello HTTP/1.0\r\n\r\n"));
	WT_OK(wt_read_response(&c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	ck_assert_str_eq(wt_header(&r, "Connection"), "close");
	wt_response_free(&r);
	WT_OK(wt_wait_closed(&c, WT_TIMEOUT_MS));
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(http11_connection_close_closes)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	serve(&s);
	open_client(&c, &s);
	expect_hello(&c);
	WT_OK(wt_sends(&c, "GET /hello HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"));
	WT_OK(wt_read_response(&c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	ck_assert_str_eq(wt_header(&r, "Connection"), "close");
	ck_assert_str_eq(r.body, "Hello, World!");
	wt_response_free(&r);
	WT_OK(wt_wait_closed(&c, WT_TIMEOUT_MS));
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(pipelined_requests_are_answered_in_order)
{
	struct wt_server s;
	struct wt_client c;
	char batch[2048];
	size_t len = 0;

	serve(&s);
	open_client(&c, &s);
	for (int i = 0; i < 10; i++)
		len += (size_t)snprintf(batch + len, sizeof(batch) - len,
					"GET /echo/pipe/%d HTTP/1.1\r\nHost: test\r\n\r\n", i);
	WT_OK(wt_send(&c, batch, len));
	for (int i = 0; i < 10; i++) {
		struct wt_response r;
		char echo[128];

		snprintf(echo, sizeof(echo), "GET /echo/pipe/%d HTTP/1.1\r\nHost: test\r\n\r\n", i);
		WT_OK(wt_read_response(&c, &r, false));
		expect_echo(&r, echo, strlen(echo));
		wt_response_free(&r);
	}
	/* Nothing more than the ten answers, and the connection is still open. */
	ck_assert_int_eq(wt_wait_closed(&c, 0), -ETIMEDOUT);
	expect_hello(&c);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(pipeline_ending_in_close_is_served_then_closed)
{
	static const char batch[] =
		"GET /hello HTTP/1.1\r\nHost: test\r\n\r\n"
		"HEAD /hello HTTP/1.1\r\nHost: test\r\n\r\n"
		"GET /echo/last HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
		"GET /hello HTTP/1.1\r\nHost: test\r\n\r\n";
	static const char last[] =
		"GET /echo/last HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	serve(&s);
	open_client(&c, &s);
	WT_OK(wt_sends(&c, batch));
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_str_eq(r.body, "Hello, World!");
	wt_response_free(&r);
	WT_OK(wt_read_response(&c, &r, true));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	ck_assert_str_eq(wt_header(&r, "Content-Length"), "13");
	wt_response_free(&r);
	WT_OK(wt_read_response(&c, &r, false));
	expect_echo(&r, last, strlen(last));
	ck_assert_str_eq(wt_header(&r, "Connection"), "close");
	wt_response_free(&r);
	/* The request after "Connection: close" is never answered. */
	WT_OK(wt_wait_closed(&c, WT_TIMEOUT_MS));
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/* ---- Request bodies ----------------------------------------------------------------- */

/* POSTs @body (with Content-Length) to /echo/body and checks the exact echo. */
static void post_and_expect_echo(const struct wt_server *s, const char *body, size_t len)
{
	char head[256], *req;
	size_t hlen;
	struct wt_response r;

	hlen = (size_t)snprintf(
		head, sizeof(head),
		"POST /echo/body HTTP/1.1\r\nHost: test\r\nContent-Length: %zu\r\n\r\n", len);
	req = malloc(hlen + len);
	ck_assert_ptr_nonnull(req);
	memcpy(req, head, hlen);
	memcpy(req + hlen, body, len);
	WT_OK(wt_exchange(s, req, hlen + len, &r));
	expect_echo(&r, req, hlen + len);
	wt_response_free(&r);
	free(req);
}

START_TEST(post_body_is_echoed_exactly)
{
	struct wt_server s;

	serve(&s);
	post_and_expect_echo(&s, "name=warren&kind=server", 23);
	post_and_expect_echo(&s, "", 0);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(large_body_is_echoed_exactly)
{
	struct wt_server s;
	size_t len = 100 * 1024 + 7;
	char *body = malloc(len);

	ck_assert_ptr_nonnull(body);
	for (size_t i = 0; i < len; i++)
		body[i] = (char)('a' + (i * 7 + i / 251) % 26);
	serve(&s);
	post_and_expect_echo(&s, body, len);
	free(body);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(binary_body_is_echoed_exactly)
{
	struct wt_server s;
	char body[1024];

	/* Every byte value, NUL, CR and LF included, in several orders. */
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (char)(i < 512 ? i : (i * 131 + 17) % 256);
	serve(&s);
	post_and_expect_echo(&s, body, sizeof(body));
	wt_stop_ok(&s);
}
END_TEST

START_TEST(chunked_body_is_decoded)
{
	static const char req[] = "POST /echo/chunked HTTP/1.1\r\n"
				  "Host: test\r\n"
				  "Transfer-Encoding: chunked\r\n"
				  "\r\n"
				  "5\r\nhello\r\n"
				  "1;ext=yes\r\n,\r\n"
				  "A\r\n chunked!\n\r\n"
				  "0\r\n"
				  "\r\n";
	static const char echo[] = "POST /echo/chunked HTTP/1.1\r\n"
				   "Host: test\r\n"
				   "Transfer-Encoding: chunked\r\n"
				   "\r\n"
				   "hello, chunked!\n";
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	serve(&s);
	open_client(&c, &s);
	WT_OK(wt_sends(&c, req));
	WT_OK(wt_read_response(&c, &r, false));
	expect_echo(&r, echo, strlen(echo));
	wt_response_free(&r);
	/* The framing was consumed exactly: the connection goes on. */
	expect_hello(&c);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(chunked_body_in_pieces_is_decoded)
{
	static const char *const pieces[] = {
		"POST /echo/slow HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n",
		"3\r\nabc\r\n",
		"4\r\ndefg\r\n",
		"0\r\n\r\n",
	};
	static const char echo[] = "POST /echo/slow HTTP/1.1\r\nHost: test\r\n"
				   "Transfer-Encoding: chunked\r\n\r\nabcdefg";
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	serve(&s);
	open_client(&c, &s);
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		WT_OK(wt_sends(&c, pieces[i]));
		/* Nothing may be answered before the last chunk. */
		if (i + 1 < sizeof(pieces) / sizeof(pieces[0]))
			ck_assert_int_eq(wt_wait_closed(&c, 50), -ETIMEDOUT);
	}
	WT_OK(wt_read_response(&c, &r, false));
	expect_echo(&r, echo, strlen(echo));
	wt_response_free(&r);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(expect_continue_gets_100_before_the_body)
{
	static const char head[] = "POST /echo/continue HTTP/1.1\r\n"
				   "Host: test\r\n"
				   "Content-Length: 11\r\n"
				   "Expect: 100-continue\r\n"
				   "\r\n";
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	char echo[256];

	serve(&s);
	open_client(&c, &s);
	WT_OK(wt_sends(&c, head));
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_int_eq(r.status, 100);
	ck_assert_str_eq(r.head, "HTTP/1.1 100 Continue\r\n\r\n");
	wt_response_free(&r);
	WT_OK(wt_sends(&c, "hello world"));
	WT_OK(wt_read_response(&c, &r, false));
	snprintf(echo, sizeof(echo), "%shello world", head);
	expect_echo(&r, echo, strlen(echo));
	wt_response_free(&r);
	expect_hello(&c);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(expect_continue_with_the_body_sent_at_once)
{
	static const char req[] = "POST /echo/eager HTTP/1.1\r\n"
				  "Host: test\r\n"
				  "Content-Length: 4\r\n"
				  "Expect: 100-continue\r\n"
				  "\r\n"
				  "data";
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	serve(&s);
	open_client(&c, &s);
	WT_OK(wt_sends(&c, req));
	WT_OK(wt_read_response(&c, &r, false));
	/* The interim answer is optional once the body is there (RFC 9110 10.1.1). */
	if (r.status == 100) {
		ck_assert_str_eq(r.head, "HTTP/1.1 100 Continue\r\n\r\n");
		wt_response_free(&r);
		WT_OK(wt_read_response(&c, &r, false));
	}
	expect_echo(&r, req, strlen(req));
	wt_response_free(&r);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(unknown_expectation_is_417)
{
	struct wt_server s;
	struct wt_client c;

	serve(&s);
	open_client(&c, &s);
	WT_OK(wt_sends(&c, "POST /echo/x HTTP/1.1\r\nHost: test\r\nContent-Length: 2\r\n"
			   "Expect: 200-ok\r\n\r\nhi"));
	expect_error_and_close(&c, "HTTP/1.1 417 Expectation Failed", "417 Expectation Failed\n");
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(body_at_the_limit_is_accepted)
{
	struct wt_server s;

	wt_serve(&s, "'workers': 1, 'http': {'max_body_size': 16}, " ROUTES);
	post_and_expect_echo(&s, "0123456789abcdef", 16);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(content_length_over_the_limit_is_413)
{
	struct wt_server s;
	struct wt_client c;

	wt_serve(&s, "'workers': 1, 'http': {'max_body_size': 16}, " ROUTES);
	open_client(&c, &s);
	/* Refused on the head alone: the body is never sent. */
	WT_OK(wt_sends(&c, "POST /echo/big HTTP/1.1\r\nHost: test\r\nContent-Length: 17\r\n\r\n"));
	expect_error_and_close(&c, "HTTP/1.1 413 Content Too Large", "413 Content Too Large\n");
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(expect_continue_over_the_limit_gets_413_not_100)
{
	struct wt_server s;
	struct wt_client c;

	wt_serve(&s, "'workers': 1, 'http': {'max_body_size': 16}, " ROUTES);
	open_client(&c, &s);
	WT_OK(wt_sends(&c, "POST /echo/big HTTP/1.1\r\nHost: test\r\nContent-Length: 17\r\n"
			   "Expect: 100-continue\r\n\r\n"));
	/* The first answer is the final one: the client must not send the body. */
	expect_error_and_close(&c, "HTTP/1.1 413 Content Too Large", "413 Content Too Large\n");
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(chunked_body_over_the_limit_is_413)
{
	struct wt_server s;
	struct wt_client c;

	wt_serve(&s, "'workers': 1, 'http': {'max_body_size': 16}, " ROUTES);
	open_client(&c, &s);
	WT_OK(wt_sends(&c,
		       "POST /echo/big HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
		       "10\r\n0123456789abcdef\r\n1\r\nX\r\n0\r\n\r\n"));
	expect_error_and_close(&c, "HTTP/1.1 413 Content Too Large", "413 Content Too Large\n");
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/* ---- Malformed requests ------------------------------------------------------------- */

/* Sends @req on a fresh connection and expects @status_line, @body and a close. */
static void expect_rejected(const char *req, size_t len, const char *status_line, const char *body)
{
	struct wt_server s;
	struct wt_client c;

	wt_serve(&s, "'workers': 1, 'http': {'max_header_size': 1024}, " ROUTES);
	open_client(&c, &s);
	WT_OK(wt_send(&c, req, len));
	expect_error_and_close(&c, status_line, body);
	wt_client_close(&c);
	/* The worker survived it. */
	open_client(&c, &s);
	expect_hello(&c);
	wt_client_close(&c);
	wt_stop_ok(&s);
}

START_TEST(garbage_is_400_and_closed)
{
	static const char req[] = "\x01\x02\xff garbage \x7f\r\n\r\n";

	expect_rejected(req, sizeof(req) - 1, "HTTP/1.1 400 Bad Request", "400 Bad Request\n");
}
END_TEST

START_TEST(content_length_with_transfer_encoding_is_400)
{
	static const char req[] = "POST /echo/smuggle HTTP/1.1\r\n"
				  "Host: test\r\n"
				  "Content-Length: 5\r\n"
				  "Transfer-Encoding: chunked\r\n"
				  "\r\n"
				  "0\r\n\r\n";

	expect_rejected(req, sizeof(req) - 1, "HTTP/1.1 400 Bad Request", "400 Bad Request\n");
}
END_TEST

START_TEST(conflicting_content_lengths_are_400)
{
	static const char req[] = "POST /echo/x HTTP/1.1\r\nHost: test\r\n"
				  "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!";

	expect_rejected(req, sizeof(req) - 1, "HTTP/1.1 400 Bad Request", "400 Bad Request\n");
}
END_TEST

START_TEST(unknown_transfer_coding_is_501)
{
	static const char req[] = "POST /echo/x HTTP/1.1\r\nHost: test\r\n"
				  "Transfer-Encoding: gzip\r\n\r\n";

	expect_rejected(req, sizeof(req) - 1, "HTTP/1.1 501 Not Implemented",
			"501 Not Implemented\n");
}
END_TEST

START_TEST(http2_request_line_is_505)
{
	static const char req[] = "GET /hello HTTP/2.0\r\nHost: test\r\n\r\n";

	expect_rejected(req, sizeof(req) - 1, "HTTP/1.1 505 HTTP Version Not Supported",
			"505 HTTP Version Not Supported\n");
}
END_TEST

START_TEST(oversized_header_is_431)
{
	char req[4096];
	int n = snprintf(req, sizeof(req),
			 "GET /hello HTTP/1.1\r\nHost: test\r\nX-Big: %02000d\r\n\r\n", 0);

	expect_rejected(req, (size_t)n, "HTTP/1.1 431 Request Header Fields Too Large",
			"431 Request Header Fields Too Large\n");
}
END_TEST

START_TEST(oversized_target_is_414)
{
	char req[4096];
	int n = snprintf(req, sizeof(req), "GET /echo/%02000d HTTP/1.1\r\nHost: test\r\n\r\n", 0);

	expect_rejected(req, (size_t)n, "HTTP/1.1 414 URI Too Long", "414 URI Too Long\n");
}
END_TEST

/* ---- Timeouts ----------------------------------------------------------------------- */

START_TEST(partial_head_times_out_with_408)
{
	struct wt_server s;
	struct wt_client c;
	long long start;

	wt_serve(&s, "'workers': 1, 'http': {'header_timeout': 0.3}, " ROUTES);
	open_client(&c, &s);
	start = wt_now_ms();
	WT_OK(wt_sends(&c, "GET /hello HTTP/1.1\r\nHost: te"));
	expect_error_and_close(&c, "HTTP/1.1 408 Request Timeout", "408 Request Timeout\n");
	ck_assert_int_ge(wt_now_ms() - start, 250);
	/* The rest of the head reaches the connection while it lingers, through the receive
	 * that was waiting for it: it is dropped, and the buffer stays the connection's. */
	WT_OK(wt_sends(&c, "st\r\n\r\n"));
	wt_client_close(&c);
	open_client(&c, &s);
	expect_hello(&c);
	expect_hello(&c);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(idle_keepalive_connection_is_closed)
{
	struct wt_server s;
	struct wt_client c;
	long long start;

	wt_serve(&s, "'workers': 1, 'http': {'keepalive_timeout': 0.3}, " ROUTES);
	open_client(&c, &s);
	expect_hello(&c);
	start = wt_now_ms();
	/* Closed without a response: an idle connection has no request to answer. */
	WT_OK(wt_wait_closed(&c, WT_TIMEOUT_MS));
	ck_assert_int_ge(wt_now_ms() - start, 250);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

#define STALL_ROUTES                                                                               \
	" 'modules': [{'name': 'stall', 'path': '@PLUGIN_DIR@/stall.so'}],"                        \
	" 'routes': [{'match': {'path': '/sleep'}, 'handler': 'stall.sleep'},"                     \
	"  {'match': {'path': '/sleep_timer'}, 'handler': 'stall.sleep_timer'}]"

/*
 * Deadlines armed after a handler held the loop for 300 ms count from then, not from the
 * time the loop read when its turn began: the keep-alive timeout from the response, a
 * request timer from when the handler armed it, the handler timeout from its return.
 * A coarse clock tick (a few ms) of slack, not the 300 ms of the handler.
 */
START_TEST(deadlines_count_from_after_a_slow_handler)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	long long start;

	wt_serve(
		&s,
		"'workers': 1, 'http': {'keepalive_timeout': 0.5, 'handler_timeout': 0.5}, " STALL_ROUTES);
	open_client(&c, &s);
	wt_expect(&c, "/sleep", "", 200, "slept\n");
	start = wt_now_ms();
	WT_OK(wt_wait_closed(&c, WT_TIMEOUT_MS));
	ck_assert_int_ge(wt_now_ms() - start, 480);
	wt_client_close(&c);

	/* stall.sleep_timer sleeps 300 ms, then answers from a timer of 300 ms. */
	open_client(&c, &s);
	start = wt_now_ms();
	wt_expect(&c, "/sleep_timer", "", 200, "timer\n");
	ck_assert_int_ge(wt_now_ms() - start, 580);
	wt_client_close(&c);

	/* stall.sleep_timer's timer outlasts a handler timeout of 0.2 s counted from its return. */
	wt_stop_ok(&s);
	wt_serve(&s, "'workers': 1, 'http': {'handler_timeout': 0.2}, " STALL_ROUTES);
	open_client(&c, &s);
	start = wt_now_ms();
	wt_ask(&c, "GET", "/sleep_timer", "", &r);
	ck_assert_int_eq(r.status, 504);
	ck_assert_int_ge(wt_now_ms() - start, 480);
	wt_response_free(&r);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(stalled_body_times_out_with_408)
{
	struct wt_server s;
	struct wt_client c;
	long long start;

	/* header_timeout is long: only body_timeout can end this one. */
	wt_serve(&s, "'workers': 1, 'http': {'header_timeout': 30, 'body_timeout': 0.3}, " ROUTES);
	open_client(&c, &s);
	WT_OK(wt_sends(&c, "POST /echo/x HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n12"));
	start = wt_now_ms();
	expect_error_and_close(&c, "HTTP/1.1 408 Request Timeout", "408 Request Timeout\n");
	ck_assert_int_ge(wt_now_ms() - start, 250);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/* A client that stops reading: its connection goes once send_timeout passes without any
 * progress, whatever else is configured. */
START_TEST(client_that_does_not_read_is_cut_after_send_timeout)
{
	static const char head[] =
		"POST /echo/x HTTP/1.1\r\nHost: t\r\nContent-Length: 4000000\r\n\r\n";
	struct wt_server s;
	int fd, rcvbuf = 4096;
	char *body;
	long long start;

	wt_serve(&s, "'workers': 1, 'log_level': 'info', "
		     "'http': {'send_timeout': 0.3, 'max_body_size': 4000000}, " ROUTES);
	/* A receive buffer fixed before connecting does not grow: the 4 MB echo cannot fit. */
	fd = socket(s.addr[0].ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&s.addr[0], s.addrlen[0]), 0);
	body = calloc(1, 4000000);
	ck_assert_ptr_nonnull(body);
	ck_assert_int_eq(send(fd, head, sizeof(head) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(head) - 1);
	for (size_t sent = 0; sent < 4000000;) {
		ssize_t n = send(fd, body + sent, 4000000 - sent, MSG_NOSIGNAL);

		ck_assert_int_gt(n, 0);
		sent += (size_t)n;
	}
	free(body);
	start = wt_now_ms();
	/* Its FIN would wait behind the unsent data: the log tells when it went. */
	WT_OK(wt_wait_log(&s, "read nothing for http.send_timeout", WT_TIMEOUT_MS));
	ck_assert_int_ge(wt_now_ms() - start, 250);
	close(fd);
	wt_stop_ok(&s);
}
END_TEST

/* At worker_connections with every connection busy, the worker stops accepting (the
 * kernel queues the client) rather than accepting and dropping; a connection that leaves
 * lets the next one in. */
START_TEST(connection_cap_pauses_accepting)
{
	static const char partial[] = "GET /hello HTTP/1.1\r\n";
	struct wt_server s;
	struct wt_client a, b, c;
	struct wt_response r;
	char byte;

	wt_serve(&s, "'workers': 1, 'worker_connections': 2, 'log_level': 'info', " ROUTES);
	/* A request under way: neither connection is idle, so neither can make room. */
	open_client(&a, &s);
	WT_OK(wt_sends(&a, partial));
	open_client(&b, &s);
	WT_OK(wt_sends(&b, partial));
	WT_OK(wt_wait_log(&s, "accepting paused", WT_TIMEOUT_MS));
	open_client(&c, &s); /* completes in the kernel's listen queue */
	WT_OK(wt_sends(&c, HELLO_REQ));
	/* A round trip on a after c sent: the worker has run, and c still has no answer. The
	 * same write begins a's next request, so a stays busy. */
	WT_OK(wt_sends(&a, "Host: test\r\n\r\nGET /hello HTTP/1.1\r\n"));
	WT_OK(wt_read_response(&a, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	wt_response_free(&r);
	ck_assert_int_eq(recv(c.fd, &byte, 1, MSG_DONTWAIT | MSG_PEEK), -1);
	ck_assert_int_eq(errno, EAGAIN);
	wt_client_close(&a);
	WT_OK(wt_read_response(&c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	wt_response_free(&r);
	WT_OK(wt_wait_log(&s, "accepting again", WT_TIMEOUT_MS));
	wt_client_close(&b);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/* At worker_connections with idle keep-alive connections, the longest-idle one is closed
 * to let a new client in at once, instead of that client waiting for a keep-alive timeout. */
START_TEST(idle_connections_make_room_at_the_cap)
{
	enum {
		CAP = 8
	};
	struct wt_server s;
	struct wt_client c[CAP], fresh;

	wt_serve(&s, "'workers': 1, 'worker_connections': %d, 'log_level': 'debug', " ROUTES, CAP);
	for (int i = 0; i < CAP; i++) {
		open_client(&c[i], &s);
		expect_hello(&c[i]);
	}
	/* Well within the keep-alive timeout (75 s): only a reclaim can answer in time. */
	open_client(&fresh, &s);
	fresh.timeout_ms = wt_scaled_ms(5000);
	expect_hello(&fresh);
	WT_OK(wt_wait_closed(&c[0], WT_TIMEOUT_MS));
	for (int i = 1; i < CAP; i++)
		expect_hello(&c[i]);
	ck_assert(wt_log_contains(&s, "closing the longest-idle keep-alive connection"));
	ck_assert(!wt_log_contains(&s, "accepting paused"));
	for (int i = 0; i < CAP; i++)
		wt_client_close(&c[i]);
	wt_client_close(&fresh);
	wt_stop_ok(&s);
}
END_TEST

/*
 * The idle connection chosen to make room may have a request on its way: it is served, not
 * lost with the connection. The worker is stopped while a new client connects and the
 * idle one sends, so that it finds both at once, the new connection first (on io_uring the
 * receive has completed by then, with the request in a kernel-provided buffer).
 */
START_TEST(reclaimed_connection_with_a_request_in_flight_is_served)
{
	struct wt_server s;
	struct wt_client a, b;
	struct wt_response r;
	pid_t pid;

	wt_serve(&s, "'workers': 1, 'worker_connections': 1, " ROUTES);
	ck_assert_int_eq(wt_workers(&s, &pid, 1), 1);
	open_client(&a, &s);
	expect_hello(&a);
	ck_assert_int_eq(kill(pid, SIGSTOP), 0);
	open_client(&b, &s);
	WT_OK(wt_sends(&b, HELLO_REQ));
	WT_OK(wt_sends(&a, HELLO_REQ));
	ck_assert_int_eq(kill(pid, SIGCONT), 0);
	WT_OK(wt_read_response(&a, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	wt_response_free(&r);
	WT_OK(wt_read_response(&b, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	wt_response_free(&r);
	wt_client_close(&a);
	wt_client_close(&b);
	wt_stop_ok(&s);
}
END_TEST

/* The worker's resident memory in KiB, from /proc/PID/status. */
static long rss_kib(pid_t pid)
{
	char path[64], *text, *line;
	long kib = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	text = wt_read_file(path, NULL);
	ck_assert_msg(text, "cannot read %s", path);
	line = strstr(text, "\nVmRSS:");
	if (line)
		kib = strtol(line + 7, NULL, 10);
	free(text);
	ck_assert_msg(kib > 0, "no VmRSS in %s", path);
	return kib;
}

/*
 * A burst of slow-body clients (as slowhttptest -B makes them) costs a buffer each; once
 * they are gone the worker's memory goes back to the kernel within seconds, not only to
 * the allocator. Measured on the plain allocator only: valgrind and the sanitizers bring
 * their own.
 */
START_TEST(memory_returns_after_a_burst_of_slow_bodies)
{
	enum {
		N = 1000,
		SLACK_KIB = 2048
	};
	static const char head[] = "POST /echo/slow HTTP/1.1\r\nHost: test\r\n"
				   "Content-Length: 100000\r\n\r\n";
	static struct wt_client c[N];
	static char body[3000];
	struct wt_server s;
	long idle, peak, now = 0;
	long long start, deadline;
	pid_t pid;

	if (wt_scaled_ms(1000) > 1000) {
		fprintf(stderr, "memory_returns_after_a_burst_of_slow_bodies: left out under an "
				"instrumented allocator (CK_TIMEOUT_MULTIPLIER)\n");
		return;
	}
	memset(body, 'x', sizeof(body));
	wt_serve(&s, "'workers': 1, " ROUTES);
	ck_assert_int_eq(wt_workers(&s, &pid, 1), 1);
	/* Idle is measured after a first request: what serving needs at all is not the burst. */
	open_client(&c[0], &s);
	expect_hello(&c[0]);
	wt_client_close(&c[0]);
	idle = rss_kib(pid);
	for (int i = 0; i < N; i++) {
		open_client(&c[i], &s);
		WT_OK(wt_sends(&c[i], head));
		WT_OK(wt_send(&c[i], body, sizeof(body)));
	}
	/* Every connection holds part of a body now: at least a buffer block each. */
	deadline = wt_now_ms() + WT_TIMEOUT_MS;
	while ((peak = rss_kib(pid)) < idle + N * 8 && wt_now_ms() < deadline)
		usleep(50 * 1000);
	ck_assert_msg(peak >= idle + N * 8, "the burst did not show: %ld KiB idle, %ld KiB now",
		      idle, peak);
	for (int i = 0; i < N; i++)
		wt_client_close(&c[i]);
	start = wt_now_ms();
	deadline = start + 5000;
	while (wt_now_ms() < deadline && (now = rss_kib(pid)) > idle + SLACK_KIB)
		usleep(100 * 1000);
	fprintf(stderr,
		"worker RSS: %ld KiB idle, %ld KiB with %d slow bodies, %ld KiB %lld ms "
		"after they left\n",
		idle, peak, N, now, wt_now_ms() - start);
	ck_assert_msg(now <= idle + SLACK_KIB,
		      "5 s after the burst: %ld KiB resident (idle %ld KiB, peak %ld KiB)", now,
		      idle, peak);
	wt_stop_ok(&s);
}
END_TEST

/* ---- Strictness and timer regressions -------------------------------------------------
 * Each names the rule it holds the server to. */

/* RFC 9112 5.1: whitespace between a field name and the colon MUST get a 400. */
START_TEST(whitespace_before_colon_is_400)
{
	static const char req[] = "GET /hello HTTP/1.1\r\nHost : test\r\n\r\n";

	expect_rejected(req, sizeof(req) - 1, "HTTP/1.1 400 Bad Request", "400 Bad Request\n");
}
END_TEST

/* RFC 9112 3.2: an HTTP/1.1 request without Host MUST get a 400. */
START_TEST(http11_request_without_host_is_400)
{
	static const char req[] = "GET /hello HTTP/1.1\r\n\r\n";

	expect_rejected(req, sizeof(req) - 1, "HTTP/1.1 400 Bad Request", "400 Bad Request\n");
}
END_TEST

/* RFC 9112 3.2: more than one Host field line MUST get a 400. */
START_TEST(two_host_fields_are_400)
{
	static const char req[] = "GET /hello HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n";

	expect_rejected(req, sizeof(req) - 1, "HTTP/1.1 400 Bad Request", "400 Bad Request\n");
}
END_TEST

/*
 * A request head is CRLF-terminated lines (RFC 9112 2.1): a CR followed by another byte
 * ends neither the head nor a field line, so nothing after it is served as a request.
 */
START_TEST(cr_without_lf_in_the_head_is_400_and_nothing_after_it_is_served)
{
	static const char *const reqs[] = {
		"GET /hello HTTP/1.1\r\nHost: test\r\n\rXGET /hello HTTP/1.1\r\nHost: test\r\n\r\n",
		"GET /hello HTTP/1.1\r\nHost: test\n\rXGET /hello HTTP/1.1\r\nHost: test\r\n\r\n",
		"GET /hello HTTP/1.1\r\nHost: test\r\nA:\rXB: y\r\n\r\n",
	};

	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
		expect_rejected(reqs[i], strlen(reqs[i]), "HTTP/1.1 400 Bad Request",
				"400 Bad Request\n");
}
END_TEST

/* A field name is a token (RFC 9110 5.1); a space inside one is a malformed request. */
START_TEST(space_inside_field_name_is_400)
{
	static const char req[] = "GET /hello HTTP/1.1\r\nHost: test\r\nBad Name: v\r\n\r\n";

	expect_rejected(req, sizeof(req) - 1, "HTTP/1.1 400 Bad Request", "400 Bad Request\n");
}
END_TEST

/*
 * RFC 9112 5.2: a server MUST reject obs-fold with 400 or replace it with SP before the
 * value is interpreted. Either is accepted here; a handler must never see a value with a
 * CR LF inside it.
 */
START_TEST(obs_fold_is_rejected_or_unfolded)
{
	static const char req[] = "GET /echo/fold HTTP/1.1\r\nHost: test\r\n"
				  "X-Fold: a\r\n  folded\r\n\r\n";
	static const char unfolded[] = "GET /echo/fold HTTP/1.1\r\nHost: test\r\n"
				       "X-Fold: a folded\r\n\r\n";
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	serve(&s);
	open_client(&c, &s);
	WT_OK(wt_sends(&c, req));
	WT_OK(wt_read_response(&c, &r, false));
	if (r.status == 400) {
		ck_assert_str_eq(wt_header(&r, "Connection"), "close");
	} else {
		ck_assert_msg(r.status == 200 && strcmp(r.body, unfolded) == 0,
			      "expected 400 or the unfolded echo, got %d with body \"%s\"",
			      r.status, r.body);
	}
	wt_response_free(&r);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/*
 * RFC 9110 6.5.1: trailer fields MUST NOT be merged into the header section unless their
 * definition allows it: echo must not list "X-Trailer: yes" among the headers.
 */
START_TEST(trailer_fields_are_merged_into_headers)
{
	static const char req[] = "POST /echo/trailer HTTP/1.1\r\nHost: test\r\n"
				  "Transfer-Encoding: chunked\r\n\r\n"
				  "5\r\nhello\r\n0\r\nX-Trailer: yes\r\n\r\n";
	static const char echo[] = "POST /echo/trailer HTTP/1.1\r\nHost: test\r\n"
				   "Transfer-Encoding: chunked\r\n\r\nhello";
	struct wt_server s;
	struct wt_response r;

	serve(&s);
	WT_OK(wt_exchanges(&s, req, &r));
	expect_echo(&r, echo, strlen(echo));
	wt_response_free(&r);
	wt_stop_ok(&s);
}
END_TEST

/*
 * A trailer that arrives in a later read than the body, while the chunk framing is being
 * squeezed out of the buffer: whether trailers are dropped or kept, the head fields must
 * reach the handler intact.
 */
START_TEST(trailer_in_a_later_read_corrupts_the_fields)
{
	static const char *const pieces[] = {
		("POST /echo/trailer HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
		 "5\r\nhello\r\n"),
		"3\r\nabc\r\n0\r\nX-Tr",
		"ailer: yes\r\n\r\n",
	};
	static const char head[] = "POST /echo/trailer HTTP/1.1\r\nHost: test\r\n"
				   "Transfer-Encoding: chunked\r\n";
	char dropped[256], kept[256];
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	snprintf(dropped, sizeof(dropped), "%s\r\nhelloabc", head);
	snprintf(kept, sizeof(kept), "%sX-Trailer: yes\r\n\r\nhelloabc", head);
	serve(&s);
	open_client(&c, &s);
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		WT_OK(wt_sends(&c, pieces[i]));
		/* Nothing is answered early; the pause lets each piece be read on its own. */
		if (i + 1 < sizeof(pieces) / sizeof(pieces[0]))
			ck_assert_int_eq(wt_wait_closed(&c, 100), -ETIMEDOUT);
	}
	WT_OK(wt_read_response(&c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	ck_assert_msg(strcmp(r.body, dropped) == 0 || strcmp(r.body, kept) == 0,
		      "the handler saw a corrupted request:\n%s", r.body);
	wt_response_free(&r);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/*
 * Connection timers must be armed from the clock as it is when the wait returns, not as
 * it was before the worker slept: otherwise, after an idle spell longer than the timeout,
 * a new connection's timer is already due and it is closed before its request is read.
 */
START_TEST(timers_start_from_the_clock_after_an_idle_spell)
{
	struct timespec idle = {1, 500000000};
	struct wt_server s;
	struct wt_client c;

	wt_serve(&s,
		 "'workers': 1, 'http': {'keepalive_timeout': 1, 'header_timeout': 1}, " ROUTES);
	/* Not a synchronisation: the quiet time itself is the condition under test. */
	nanosleep(&idle, NULL);
	open_client(&c, &s);
	ck_assert_msg(wt_wait_closed(&c, 300) == -ETIMEDOUT,
		      "a new connection was closed within 300 ms, keepalive_timeout is 1 s");
	expect_hello(&c);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/*
 * "keepalive_timeout": 0 means "no keep-alive", not "no wait for the first request": the
 * request is served with "Connection: close".
 */
START_TEST(keepalive_timeout_zero_still_serves_one_request)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	wt_serve(&s, "'workers': 1, 'http': {'keepalive_timeout': 0}, " ROUTES);
	open_client(&c, &s);
	WT_OK(wt_sends(&c, HELLO_REQ));
	WT_OK(wt_read_response(&c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	ck_assert_str_eq(wt_header(&r, "Connection"), "close");
	ck_assert_str_eq(r.body, "Hello, World!");
	wt_response_free(&r);
	WT_OK(wt_wait_closed(&c, WT_TIMEOUT_MS));
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

static Suite *http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc;

	tc = tcase_create("basics");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, get_has_exact_head_and_body);
	tcase_add_test(tc, head_has_get_headers_and_no_body);
	tcase_add_test(tc, head_length_is_what_get_would_send);
	tcase_add_test(tc, not_found_keeps_the_connection);
	tcase_add_test(tc, head_of_a_missing_path);
	tcase_add_test(tc, request_head_reaches_the_handler);
	suite_add_tcase(s, tc);

	tc = tcase_create("connections");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, keepalive_serves_many_requests);
	tcase_add_test(tc, http10_without_keepalive_closes);
	tcase_add_test(tc, http10_keepalive_stays_open);
	tcase_add_test(tc, http11_connection_close_closes);
	tcase_add_test(tc, pipelined_requests_are_answered_in_order);
	tcase_add_test(tc, pipeline_ending_in_close_is_served_then_closed);
	suite_add_tcase(s, tc);

	tc = tcase_create("bodies");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, post_body_is_echoed_exactly);
	tcase_add_test(tc, large_body_is_echoed_exactly);
	tcase_add_test(tc, binary_body_is_echoed_exactly);
	tcase_add_test(tc, chunked_body_is_decoded);
	tcase_add_test(tc, chunked_body_in_pieces_is_decoded);
	tcase_add_test(tc, expect_continue_gets_100_before_the_body);
	tcase_add_test(tc, expect_continue_with_the_body_sent_at_once);
	tcase_add_test(tc, unknown_expectation_is_417);
	tcase_add_test(tc, body_at_the_limit_is_accepted);
	tcase_add_test(tc, content_length_over_the_limit_is_413);
	tcase_add_test(tc, expect_continue_over_the_limit_gets_413_not_100);
	tcase_add_test(tc, chunked_body_over_the_limit_is_413);
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, garbage_is_400_and_closed);
	tcase_add_test(tc, content_length_with_transfer_encoding_is_400);
	tcase_add_test(tc, conflicting_content_lengths_are_400);
	tcase_add_test(tc, unknown_transfer_coding_is_501);
	tcase_add_test(tc, http2_request_line_is_505);
	tcase_add_test(tc, oversized_header_is_431);
	tcase_add_test(tc, oversized_target_is_414);
	suite_add_tcase(s, tc);

	tc = tcase_create("timeouts");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, partial_head_times_out_with_408);
	tcase_add_test(tc, idle_keepalive_connection_is_closed);
	tcase_add_test(tc, stalled_body_times_out_with_408);
	tcase_add_test(tc, deadlines_count_from_after_a_slow_handler);
	tcase_add_test(tc, client_that_does_not_read_is_cut_after_send_timeout);
	tcase_add_test(tc, connection_cap_pauses_accepting);
	tcase_add_test(tc, idle_connections_make_room_at_the_cap);
	tcase_add_test(tc, reclaimed_connection_with_a_request_in_flight_is_served);
	tcase_add_test(tc, memory_returns_after_a_burst_of_slow_bodies);
	suite_add_tcase(s, tc);

	tc = tcase_create("strictness");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, whitespace_before_colon_is_400);
	tcase_add_test(tc, space_inside_field_name_is_400);
	tcase_add_test(tc, cr_without_lf_in_the_head_is_400_and_nothing_after_it_is_served);
	tcase_add_test(tc, http11_request_without_host_is_400);
	tcase_add_test(tc, two_host_fields_are_400);
	tcase_add_test(tc, obs_fold_is_rejected_or_unfolded);
	tcase_add_test(tc, trailer_fields_are_merged_into_headers);
	tcase_add_test(tc, trailer_in_a_later_read_corrupts_the_fields);
	tcase_add_test(tc, timers_start_from_the_clock_after_an_idle_spell);
	tcase_add_test(tc, keepalive_timeout_zero_still_serves_one_request);
	suite_add_tcase(s, tc);

	return s;
}

CHECK_MAIN(http_suite)

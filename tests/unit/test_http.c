/* tests/unit/test_http.c - the HTTP glue driven with bytes alone: parsing into read-buffer
 * offsets (whole, pipelined, split at every byte), the request accessors handlers see,
 * routing results, framing errors and the responses serialised for them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "server/config.h"
#include "http/conn.h"
#include "http/http1.h"
#include "http/router.h"
#include "server/server.h"
#include "server/worker.h"

extern const struct warren_module warren_builtin_module_echo;

/* What the accessor handler saw, copied out because the request dies after it returns. */
struct seen {
	char method[16], target[256], path[256], query[256], param[64], xtest[64], body[256];
	size_t nhdrs;
	int version;
	bool has_param, has_xtest, has_missing;
	char first_name[64], first_value[64];
	bool at_out_of_range;
};

static struct seen seen;

static void copy(char *dst, size_t len, struct warren_str s)
{
	snprintf(dst, len, "%.*s", (int)s.len, s.base);
}

static int h_accessors(struct warren_request *r, void *data)
{
	struct warren_str v, n;

	(void)data;
	memset(&seen, 0, sizeof(seen));
	copy(seen.method, sizeof(seen.method), warren_req_method(r));
	copy(seen.target, sizeof(seen.target), warren_req_target(r));
	copy(seen.path, sizeof(seen.path), warren_req_path(r));
	copy(seen.query, sizeof(seen.query), warren_req_query(r));
	copy(seen.body, sizeof(seen.body), warren_req_body(r));
	seen.version = warren_req_version(r);
	seen.nhdrs = warren_req_header_count(r);
	seen.has_param = warren_req_param(r, "id", &v);
	if (seen.has_param)
		copy(seen.param, sizeof(seen.param), v);
	seen.has_xtest = warren_req_header(r, "x-TEST", &v);
	if (seen.has_xtest)
		copy(seen.xtest, sizeof(seen.xtest), v);
	seen.has_missing = warren_req_header(r, "X-Missing", &v);
	if (warren_req_header_at(r, 0, &n, &v)) {
		copy(seen.first_name, sizeof(seen.first_name), n);
		copy(seen.first_value, sizeof(seen.first_value), v);
	}
	seen.at_out_of_range = warren_req_header_at(r, seen.nhdrs, &n, &v);
	return warren_resp_body(r, "ok", 2) < 0 ? -ENOMEM : WARREN_DONE;
}

static int h_decline(struct warren_request *r, void *data)
{
	(void)data;
	/* Anything set before declining must not leak into the next route's response. */
	warren_resp_status(r, 299);
	warren_resp_header(r, "X-Declined", "yes");
	warren_resp_body(r, "declined", 8);
	return WARREN_DECLINED;
}

static int h_text(struct warren_request *r, void *data)
{
	const char *text = data;

	return warren_resp_body(r, text, strlen(text)) < 0 ? -ENOMEM : WARREN_DONE;
}

static int h_fail(struct warren_request *r, void *data)
{
	(void)r;
	(void)data;
	return -EIO;
}

static int h_resp_api(struct warren_request *r, void *data)
{
	(void)data;
	ck_assert_int_eq(warren_resp_status(r, 199), -EINVAL);
	ck_assert_int_eq(warren_resp_status(r, 600), -EINVAL);
	ck_assert_int_eq(warren_resp_status(r, 201), 0);
	ck_assert_int_eq(warren_resp_header(r, "Content-Length", "5"), -EINVAL);
	ck_assert_int_eq(warren_resp_header(r, "transfer-encoding", "chunked"), -EINVAL);
	ck_assert_int_eq(warren_resp_header(r, "Connection", "close"), -EINVAL);
	ck_assert_int_eq(warren_resp_header(r, "Bad Name", "x"), -EINVAL);
	ck_assert_int_eq(warren_resp_header(r, "X-Split", "a\r\nInjected: 1"), -EINVAL);
	ck_assert_int_eq(warren_resp_header(r, "", "x"), -EINVAL);
	ck_assert_int_eq(warren_resp_header(r, "X-A", "1"), 0);
	ck_assert_int_eq(warren_resp_header(r, "X-B", ""), 0);
	ck_assert_int_eq(warren_resp_body(r, "zzz", 3), 0);
	ck_assert_int_eq(warren_resp_body(r, "ab", 2), 0);
	ck_assert_int_eq(warren_resp_append(r, "cd", 2), 0);
	ck_assert_int_eq(warren_resp_printf(r, "-%d-%s", 42, "x"), 0);
	ck_assert_ptr_nonnull(warren_req_alloc(r, 100000));
	ck_assert_ptr_nonnull(warren_req_alloc(r, 8));
	return WARREN_DONE;
}

/* Server and Date of its own, in any case: they replace warren's, each sent once. */
static int h_own_headers(struct warren_request *r, void *data)
{
	(void)data;
	if (warren_resp_header(r, "server", "mine/1.0") < 0 ||
	    warren_resp_header(r, "DATE", "Thu, 01 Jan 1970 00:00:00 GMT") < 0)
		return -ENOMEM;
	return WARREN_DONE;
}

static const struct warren_handler handlers[] = {
	{.name = "accessors", .handle = h_accessors}, {.name = "decline", .handle = h_decline},
	{.name = "text", .handle = h_text},	      {.name = "fail", .handle = h_fail},
	{.name = "resp", .handle = h_resp_api},	      {.name = "own", .handle = h_own_headers},
};

static struct server srv;
static struct worker w;
static struct conn c;

static void add_route(const char *path, uint64_t methods, const struct warren_handler *h,
		      void *data)
{
	struct warren_error err;
	struct route_pattern p;

	ck_assert_int_eq(route_pattern_compile(&p, path, &err), 0);
	ck_assert_int_eq(router_add(&srv.router, &p, methods, h, data, strdup(path)), 0);
}

static void setup_with(const char *json)
{
	struct warren_error err = {{0}};
	struct config *cfg;

	if (config_parse(json, strlen(json), "<test>", &cfg, &err) < 0)
		ck_abort_msg("config: %s", err.msg);
	memset(&srv, 0, sizeof(srv));
	srv.cfg = cfg;
	router_init(&srv.router);
	add_route("/acc/:id", 0, &handlers[0], NULL);
	add_route("/d", 0, &handlers[1], NULL);
	add_route("/d", 0, &handlers[2], "second");
	add_route("/fail", 0, &handlers[3], NULL);
	add_route("/resp", 0, &handlers[4], NULL);
	add_route("/only-get", 1ULL << HTTP_GET, &handlers[2], "got");
	add_route("/only-get", 1ULL << HTTP_PUT, &handlers[2], "put");
	add_route("/echo/*", 0, &warren_builtin_module_echo.handlers[0], NULL);
	add_route("/own", 0, &handlers[5], NULL);
	worker_init(&w, &srv, NULL);
	ck_assert_int_eq(http_conn_init(&c, &w.http), 0);
}

static void setup(void)
{
	setup_with("{\"http\": {\"max_header_size\": 2048, \"max_body_size\": 1000}}");
}

static void teardown(void)
{
	http_conn_fini(&c);
	worker_fini(&w);
	router_free(&srv.router);
	config_free(srv.cfg);
}

/* Feeds @len bytes in pieces of at most @step, serving after each piece. */
static void feed_step(const char *data, size_t len, size_t step)
{
	while (len > 0) {
		size_t room = http_rbuf_make_room(&c);
		size_t n = len < step ? len : step;

		ck_assert_uint_gt(room, 0);
		if (n > room)
			n = room;
		memcpy(c.rbuf + c.rlen, data, n);
		c.rlen += n;
		ck_assert_int_eq(http_process(&c), 0);
		data += n;
		len -= n;
		if (c.close_after_write)
			break;
	}
}

static void feed(const char *data)
{
	feed_step(data, strlen(data), SIZE_MAX);
}

/* The output so far with the Date value blanked, as a NUL-terminated string. */
static char *output(void)
{
	char *out = malloc(c.wlen + 1), *d;

	memcpy(out, c.wbuf, c.wlen);
	out[c.wlen] = '\0';
	for (d = out; (d = strstr(d, "\r\nDate: ")); d += 8) {
		char *end = strstr(d + 8, "\r\n");

		ck_assert_ptr_nonnull(end);
		ck_assert_int_eq((int)(end - (d + 8)), 29); /* IMF-fixdate */
		memset(d + 8, 'D', (size_t)(end - (d + 8)));
	}
	return out;
}

#define DATE "Date: DDDDDDDDDDDDDDDDDDDDDDDDDDDDD\r\n"
#define HEAD200 "HTTP/1.1 200 OK\r\nServer: warren\r\n" DATE

static void assert_output(const char *expected)
{
	char *out = output();

	ck_assert_str_eq(out, expected);
	free(out);
}

START_TEST(get_echo)
{
	feed("GET /echo/a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_output(HEAD200
		      "Content-Length: 37\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
		      "GET /echo/a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert(!c.close_after_write);
	ck_assert_uint_eq(c.rlen, 0);
}
END_TEST

START_TEST(accessors)
{
	feed("PUT /acc/42?x=1&y HTTP/1.1\r\nHost: h\r\nX-Test:   spaced value  \t\r\n"
	     "Content-Length: 5\r\n\r\nhello");
	ck_assert_str_eq(seen.method, "PUT");
	ck_assert_str_eq(seen.target, "/acc/42?x=1&y");
	ck_assert_str_eq(seen.path, "/acc/42");
	ck_assert_str_eq(seen.query, "x=1&y");
	ck_assert_str_eq(seen.body, "hello");
	ck_assert_int_eq(seen.version, 11);
	ck_assert_uint_eq(seen.nhdrs, 3);
	ck_assert(seen.has_param);
	ck_assert_str_eq(seen.param, "42");
	ck_assert(seen.has_xtest);
	ck_assert_str_eq(seen.xtest, "spaced value");
	ck_assert(!seen.has_missing);
	ck_assert_str_eq(seen.first_name, "Host");
	ck_assert_str_eq(seen.first_value, "h");
	ck_assert(!seen.at_out_of_range);
}
END_TEST

START_TEST(absolute_form_target)
{
	feed("GET http://example.com/acc/7?q HTTP/1.1\r\nHost: example.com\r\n\r\n");
	ck_assert_str_eq(seen.path, "/acc/7");
	ck_assert_str_eq(seen.query, "q");
	ck_assert_str_eq(seen.param, "7");
}
END_TEST

/* The same requests split at every possible byte boundary must give the same output. */
START_TEST(split_everywhere)
{
	static const char req[] =
		"POST /echo/s HTTP/1.1\r\nHost: a\r\nX-Long: 0123456789abcdef\r\nContent-Length: 4\r\n"
		"\r\nbodyGET /echo/t HTTP/1.1\r\nHost: b\r\n\r\n";
	char *whole;

	feed(req);
	whole = output();
	for (size_t step = 1; step < sizeof(req); step++) {
		teardown();
		setup();
		feed_step(req, sizeof(req) - 1, step);
		{
			char *out = output();

			ck_assert_msg(strcmp(out, whole) == 0, "step %zu differs:\n%s", step, out);
			free(out);
		}
	}
	free(whole);
}
END_TEST

START_TEST(pipelined_in_order)
{
	char req[2048] = "", *out, *p;
	int n = 0;

	for (int i = 0; i < 10; i++) {
		char one[64];

		snprintf(one, sizeof(one), "GET /echo/%d HTTP/1.1\r\nHost: p\r\n\r\n", i);
		strcat(req, one);
	}
	feed(req);
	out = output();
	for (p = out; (p = strstr(p, "HTTP/1.1 200 OK")); p++) {
		char want[32];

		snprintf(want, sizeof(want), "GET /echo/%d HTTP", n);
		ck_assert_ptr_nonnull(strstr(p, want));
		n++;
	}
	ck_assert_int_eq(n, 10);
	free(out);
}
END_TEST

START_TEST(head_has_length_no_body)
{
	feed("HEAD /echo/h HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_output(HEAD200
		      "Content-Length: 34\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
}
END_TEST

START_TEST(http10_closes_unless_keep_alive)
{
	feed("GET /d HTTP/1.0\r\n\r\n");
	assert_output(HEAD200 "Content-Length: 6\r\nConnection: close\r\n\r\nsecond");
	ck_assert(c.close_after_write);
}
END_TEST

START_TEST(http10_keep_alive)
{
	feed("GET /d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	assert_output(HEAD200 "Content-Length: 6\r\nConnection: keep-alive\r\n\r\nsecond");
	ck_assert(!c.close_after_write);
}
END_TEST

/* RFC 9112 section 9.3 decides whether a connection persists; not http-parser's reading. */
static const struct {
	const char *req;
	bool persists;
} persistence[] = {
	{"GET /d HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false},
	{"GET /d HTTP/1.0\r\nConnection: close, keep-alive\r\n\r\n", false},
	{"GET /d HTTP/1.0\r\nProxy-Connection: keep-alive\r\n\r\n", false},
	{"GET /d HTTP/1.0\r\nConnection: TE ,\tKeep-Alive \r\n\r\n", true},
	{"GET /d HTTP/1.1\r\nHost: x\r\nProxy-Connection: close\r\n\r\n", true},
	{"GET /d HTTP/1.1\r\nHost: x\r\nConnection: x-close\r\n\r\n", true},
	{"GET /d HTTP/1.1\r\nHost: x\r\nConnection: te,CLOSE\r\n\r\n", false},
};

START_TEST(connection_options_decide_persistence)
{
	feed(persistence[_i].req);
	ck_assert(strncmp(c.wbuf, "HTTP/1.1 200 OK", 15) == 0);
	ck_assert_int_eq(c.close_after_write, !persistence[_i].persists);
}
END_TEST

START_TEST(connection_close_stops_parsing)
{
	feed("GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /d HTTP/1.1\r\n\r\n");
	assert_output(HEAD200 "Content-Length: 6\r\nConnection: close\r\n\r\nsecond");
	ck_assert(c.close_after_write);
}
END_TEST

START_TEST(declined_goes_to_next_route)
{
	feed("GET /d HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_output(HEAD200 "Content-Length: 6\r\n\r\nsecond");
}
END_TEST

START_TEST(handler_error_is_500)
{
	feed("GET /fail HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_output("HTTP/1.1 500 Internal Server Error\r\nServer: warren\r\n" DATE
		      "Content-Length: 26\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
		      "500 Internal Server Error\n");
	ck_assert(!c.close_after_write);
}
END_TEST

START_TEST(not_found_and_method_not_allowed)
{
	feed("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\nDELETE /only-get HTTP/1.1\r\nHost: x\r\n\r\n"
	     "HEAD /only-get HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_output(
		"HTTP/1.1 404 Not Found\r\nServer: warren\r\n" DATE
		"Content-Length: 14\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
		"404 Not Found\n"
		"HTTP/1.1 405 Method Not Allowed\r\nServer: warren\r\n" DATE
		"Content-Length: 23\r\nAllow: GET, HEAD, PUT\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n\r\n405 Method Not Allowed\n" HEAD200
		"Content-Length: 3\r\n\r\n");
}
END_TEST

START_TEST(response_api)
{
	feed("GET /resp HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_output("HTTP/1.1 201 Created\r\nServer: warren\r\n" DATE
		      "Content-Length: 9\r\nX-A: 1\r\nX-B: \r\n\r\nabcd-42-x");
}
END_TEST

START_TEST(chunked_body)
{
	static const char req[] =
		"POST /echo/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		"3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: t\r\n\r\n";
	char *whole, *out;

	feed(req);
	whole = output();
	ck_assert_ptr_nonnull(strstr(whole, "\r\n\r\nabc0123456789abcdef"));
	ck_assert_ptr_nonnull(strstr(whole, "Content-Length: 81\r\n"));
	/* Trailer fields are dropped, never merged into the header fields. */
	ck_assert_ptr_null(strstr(whole, "X-Trailer"));
	for (size_t step = 1; step < sizeof(req); step++) {
		teardown();
		setup();
		feed_step(req, sizeof(req) - 1, step);
		out = output();
		ck_assert_str_eq(out, whole);
		free(out);
	}
	free(whole);
}
END_TEST

static void assert_error(const char *req, int status)
{
	char want[64];
	char *out;

	feed(req);
	out = output();
	snprintf(want, sizeof(want), "HTTP/1.1 %d ", status);
	ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "want %d, got:\n%s", status, out);
	ck_assert_ptr_nonnull(strstr(out, "\r\nConnection: close\r\n"));
	ck_assert(c.close_after_write);
	free(out);
}

START_TEST(garbage_is_400)
{
	assert_error("\x01\x02 nonsense\r\n\r\n", 400);
}
END_TEST

START_TEST(bad_field_name_is_400)
{
	assert_error("GET /d HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n", 400);
}
END_TEST

START_TEST(obs_fold_is_400)
{
	assert_error("GET /d HTTP/1.1\r\nHost: x\r\nX-Fold: a\r\n b\r\n\r\n", 400);
}
END_TEST

START_TEST(host_rules)
{
	assert_error("GET /d HTTP/1.1\r\n\r\n", 400);
	teardown();
	setup();
	assert_error("GET /d HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
	teardown();
	setup();
	/* HTTP/1.0 predates Host: none is fine, two are not. */
	feed("GET /d HTTP/1.0\r\n\r\n");
	ck_assert(strncmp(c.wbuf, "HTTP/1.1 200 OK", 15) == 0);
}
END_TEST

START_TEST(trailer_size_is_bounded)
{
	char req[8192];
	int n = snprintf(req, sizeof(req),
			 "POST /echo/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
			 "1\r\na\r\n0\r\n");

	for (int i = 0; i < 100; i++)
		n += snprintf(req + n, sizeof(req) - n, "X-T%d: %040d\r\n", i, 0);
	strcpy(req + n, "\r\n");
	assert_error(req, 431);
}
END_TEST

/* What Debian's http-parser 2.9.4 lets through, each closed in warren's own code. */
static const struct {
	const char *req;
	int status;
} lenient[] = {
	{"GET /d HTXP/1.1\r\nHost: x\r\n\r\n", 400},
	{"GET /d HTTP/9.9\r\nHost: x\r\n\r\n", 505},
	{"GET /d\r\n\r\n", 505},
	{"GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"GET /a\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"GET / HTTP/1.1\r\nHost: x\rZ\r\n\r\n", 400},
	{"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
	{"POST /echo/x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"POST /echo/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
	{"POST /echo/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	 "Transfer-Encoding: chunked\r\n\r\n",
	 501},
	{"POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", 400},
	{"POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", 400},
	{"POST /echo/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n",
	 400},
	{"POST /echo/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\rXabc\r\n", 400},
	{"FOO /d HTTP/1.1\r\nHost: x\r\n\r\n", 501},
	{"G\x01T /d HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	/* A CR followed by any byte ends the head or an empty field; the rest would be
	 * served as a second request. */
	{"GET /d HTTP/1.1\r\nHost: x\r\n\rXGET /d HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"GET /d HTTP/1.1\r\nHost: x\n\rXGET /d HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"GET /d HTTP/1.1\r\nHost: x\r\nA:\rXB: y\r\n\r\n", 400},
	{"GET /d HTTP/1.1\r\nHost: x\r\nA: \t\rX\r\n", 400},
	{"GET /d HTTP/1.1\r\nHost: x\r\n\r\r\n", 400},
	/* Bare LF line ends, anywhere in the head. */
	{"GET /d HTTP/1.1\nHost: x\r\n\r\n", 400},
	{"GET /d HTTP/1.1\r\nHost: x\n\r\n", 400},
	{"GET /d HTTP/1.1\r\nHost: x\r\nA:\n\r\n", 400},
	{"GET /d HTTP/1.1\r\nHost: x\r\n\n", 400},
	/* Empty lines before the request line are CRLFs, nothing else. */
	{"\rGET /d HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"\nGET /d HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"\r\n\r\rGET /d HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	/* obs-fold after an empty value leaves no trace in the value. */
	{"GET /d HTTP/1.1\r\nHost: x\r\nA:\r\n b\r\n\r\n", 400},
	{"GET /d HTTP/1.1\r\nHost: x\r\nA:\r\n\tTransfer-Encoding: chunked\r\n\r\n", 400},
	/* A control byte first in a value, where the parser does not look. */
	{"GET /d HTTP/1.1\r\nHost: x\r\nA: \x00b\r\n\r\n", 400},
	{"GET /d HTTP/1.1\r\nHost: x\r\nA:\x7f\r\n\r\n", 400},
	{"GET /d HTTP/1.1\r\nHost: x\r\nA:\t\x01\r\n\r\n", 400},
	/* One space before the target, as after it. */
	{"GET  /d HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"GET /d  HTTP/1.1\r\nHost: x\r\n\r\n", 400},
};

START_TEST(crlf_before_request_line_is_ignored)
{
	char *out;

	feed("\r\n\r\nGET /d HTTP/1.1\r\nHost: x\r\n\r\n"
	     "POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na\r\n"
	     "GET /d HTTP/1.1\r\nHost: x\r\n\r\n");
	out = output();
	ck_assert_int_eq(c.served, 3);
	ck_assert_ptr_null(strstr(out, " 400 "));
	ck_assert(!c.close_after_write);
	free(out);
}
END_TEST

START_TEST(lenient_parser_gaps_are_closed)
{
	assert_error(lenient[_i].req, lenient[_i].status);
}
END_TEST

START_TEST(options_star_is_allowed)
{
	feed("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert(strncmp(c.wbuf, "HTTP/1.1 404 Not Found", 22) == 0);
	ck_assert(!c.close_after_write);
}
END_TEST

START_TEST(cl_and_te_is_400)
{
	assert_error("POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
		     "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		     400);
}
END_TEST

START_TEST(body_too_large_is_413)
{
	assert_error("POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n", 413);
}
END_TEST

START_TEST(chunked_too_large_is_413)
{
	char req[4096];
	int n = snprintf(req, sizeof(req),
			 "POST /echo/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");

	for (int i = 0; i < 3; i++)
		n += snprintf(req + n, sizeof(req) - n, "190\r\n%0400d\r\n", 0);
	assert_error(req, 413);
}
END_TEST

START_TEST(head_too_large_is_431)
{
	char req[4096];
	int n = snprintf(req, sizeof(req), "GET /d HTTP/1.1\r\nHost: x\r\nX-Big: ");

	memset(req + n, 'a', 2500);
	strcpy(req + n + 2500, "\r\n\r\n");
	assert_error(req, 431);
}
END_TEST

START_TEST(too_many_headers_is_431)
{
	teardown();
	setup_with("{\"http\": {\"max_header_size\": 65536}}");
	{
		char req[8192];
		int n = snprintf(req, sizeof(req), "GET /d HTTP/1.1\r\n");

		for (int i = 0; i <= HTTP_MAX_HEADERS; i++)
			n += snprintf(req + n, sizeof(req) - n, "X-%d: v\r\n", i);
		strcpy(req + n, "\r\n");
		assert_error(req, 431);
	}
}
END_TEST

START_TEST(long_target_is_414)
{
	char req[4096];
	int n = snprintf(req, sizeof(req), "GET /");

	memset(req + n, 'a', 2100);
	strcpy(req + n + 2100, " HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_error(req, 414);
}
END_TEST

START_TEST(bad_version_is_505)
{
	assert_error("GET /d HTTP/2.0\r\nHost: x\r\n\r\n", 505);
}
END_TEST

START_TEST(unsupported_coding_is_501)
{
	assert_error("POST /echo/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501);
}
END_TEST

START_TEST(expect_continue)
{
	feed("POST /echo/e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
	assert_output("HTTP/1.1 100 Continue\r\n\r\n");
	feed("hi");
	{
		char *out = output();

		ck_assert(strncmp(out, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", 42) ==
			  0);
		ck_assert_ptr_nonnull(strstr(out, "\r\n\r\nhi"));
		free(out);
	}
}
END_TEST

START_TEST(expect_continue_with_body_present)
{
	/* The body is already here: no interim response is needed. */
	feed("POST /d HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi");
	assert_output(HEAD200 "Content-Length: 6\r\n\r\nsecond");
}
END_TEST

START_TEST(unknown_expectation_is_417)
{
	assert_error("POST /d HTTP/1.1\r\nHost: x\r\nExpect: magic\r\nContent-Length: 2\r\n\r\nhi",
		     417);
}
END_TEST

START_TEST(keepalive_disabled_by_config)
{
	teardown();
	setup_with("{\"http\": {\"keepalive_timeout\": 0}}");
	feed("GET /d HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_output(HEAD200 "Content-Length: 6\r\nConnection: close\r\n\r\nsecond");
}
END_TEST

START_TEST(module_server_and_date_replace_warrens)
{
	feed("GET /own HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_output("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nserver: mine/1.0\r\n"
		      "DATE: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n");
}
END_TEST

START_TEST(server_header_by_config)
{
	teardown();
	setup_with("{\"http\": {\"server_header\": \"shop/2 (x)\"}}");
	feed("GET /d HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_output("HTTP/1.1 200 OK\r\nServer: shop/2 (x)\r\n" DATE
		      "Content-Length: 6\r\n\r\nsecond");
	teardown();
	setup_with("{\"http\": {\"server_header\": false}}");
	feed("GET /d HTTP/1.1\r\nHost: x\r\n\r\nGET /own HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_output("HTTP/1.1 200 OK\r\n" DATE "Content-Length: 6\r\n\r\nsecond"
		      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nserver: mine/1.0\r\n"
		      "DATE: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n");
}
END_TEST

START_TEST(buffer_compacts_between_requests)
{
	/* Many small pipelined requests through a buffer that must be reused, not grown. */
	for (int i = 0; i < 2000; i++) {
		feed("GET /d HTTP/1.1\r\nHost: x\r\n\r\nGET /d HT");
		feed("TP/1.1\r\nHost: x\r\n\r\n");
		c.wlen = 0;
	}
	ck_assert_uint_eq(c.rcap, BUF_BLOCK);
}
END_TEST

static Suite *http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("glue");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, get_echo);
	tcase_add_test(tc, accessors);
	tcase_add_test(tc, absolute_form_target);
	tcase_add_test(tc, split_everywhere);
	tcase_add_test(tc, pipelined_in_order);
	tcase_add_test(tc, head_has_length_no_body);
	tcase_add_test(tc, http10_closes_unless_keep_alive);
	tcase_add_test(tc, http10_keep_alive);
	tcase_add_loop_test(tc, connection_options_decide_persistence, 0, ARRAY_SIZE(persistence));
	tcase_add_test(tc, connection_close_stops_parsing);
	tcase_add_test(tc, declined_goes_to_next_route);
	tcase_add_test(tc, handler_error_is_500);
	tcase_add_test(tc, not_found_and_method_not_allowed);
	tcase_add_test(tc, response_api);
	tcase_add_test(tc, chunked_body);
	tcase_add_test(tc, garbage_is_400);
	tcase_add_test(tc, bad_field_name_is_400);
	tcase_add_test(tc, obs_fold_is_400);
	tcase_add_test(tc, host_rules);
	tcase_add_test(tc, trailer_size_is_bounded);
	tcase_add_test(tc, cl_and_te_is_400);
	tcase_add_loop_test(tc, lenient_parser_gaps_are_closed, 0, ARRAY_SIZE(lenient));
	tcase_add_test(tc, crlf_before_request_line_is_ignored);
	tcase_add_test(tc, options_star_is_allowed);
	tcase_add_test(tc, body_too_large_is_413);
	tcase_add_test(tc, chunked_too_large_is_413);
	tcase_add_test(tc, head_too_large_is_431);
	tcase_add_test(tc, too_many_headers_is_431);
	tcase_add_test(tc, long_target_is_414);
	tcase_add_test(tc, bad_version_is_505);
	tcase_add_test(tc, unsupported_coding_is_501);
	tcase_add_test(tc, expect_continue);
	tcase_add_test(tc, expect_continue_with_body_present);
	tcase_add_test(tc, unknown_expectation_is_417);
	tcase_add_test(tc, keepalive_disabled_by_config);
	tcase_add_test(tc, buffer_compacts_between_requests);
	tcase_add_test(tc, module_server_and_date_replace_warrens);
	tcase_add_test(tc, server_header_by_config);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(http_suite)

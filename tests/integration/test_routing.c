/* tests/integration/test_routing.c - JSON routes as the real server applies them: exact,
 * parameter and prefix paths, methods, 404/405, config order and per-route config. */
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "harness.h"

/* Routes in config order; the hello routes say which one answered. */
#define ROUTES                                                                                     \
	"'workers': 1,"                                                                            \
	"'modules': [{'name': 'hello', 'path': '@PLUGIN_DIR@/hello.so',"                           \
	"             'config': {'text': 'module default'}}],"                                     \
	"'routes': ["                                                                              \
	"  {'match': {'path': '/'}, 'handler': 'hello.greet', 'config': {'text': 'root'}},"        \
	"  {'match': {'path': '/a'}, 'handler': 'hello.greet', 'config': {'text': 'route a'}},"    \
	"  {'match': {'path': '/b'}, 'handler': 'hello.greet', 'config': {'text': 'route b'}},"    \
	"  {'match': {'path': '/default'}, 'handler': 'hello.greet'},"                             \
	"  {'match': {'path': '/created'}, 'handler': 'hello.greet',"                              \
	"   'config': {'text': '{\\'ok\\':true}', 'status': 201,"                                  \
	"              'content_type': 'application/json'}},"                                      \
	"  {'match': {'path': '/users/:id'}, 'handler': 'echo.echo'},"                             \
	"  {'match': {'path': '/users/:id/posts/:post'}, 'handler': 'hello.greet',"                \
	"   'config': {'text': 'a post'}},"                                                        \
	"  {'match': {'path': '/static/*'}, 'handler': 'hello.greet',"                             \
	"   'config': {'text': 'static'}},"                                                        \
	"  {'match': {'path': '/get-only', 'method': 'GET'}, 'handler': 'hello.greet',"            \
	"   'config': {'text': 'got it'}},"                                                        \
	"  {'match': {'path': '/form', 'method': ['GET', 'POST']}, 'handler': 'echo.echo'},"       \
	"  {'match': {'path': '/split', 'method': 'PUT'}, 'handler': 'hello.greet',"               \
	"   'config': {'text': 'put'}},"                                                           \
	"  {'match': {'path': '/split', 'method': 'DELETE'}, 'handler': 'hello.greet',"            \
	"   'config': {'text': 'delete'}},"                                                        \
	"  {'match': {'path': '/first'}, 'handler': 'hello.greet', 'config': {'text': 'first'}},"  \
	"  {'match': {'path': '/first'}, 'handler': 'hello.greet',"                                \
	"   'config': {'text': 'second'}},"                                                        \
	"  {'match': {'path': '/json/*'}, 'handler': 'echo.json'},"                                \
	"  {'match': {'path': '/echo/*'}, 'handler': 'echo.echo'}"                                 \
	"]"

/* Sends "METHOD TARGET" on @c and reads the answer into @r. */
static void ask(struct wt_client *c, const char *method, const char *target, struct wt_response *r)
{
	char req[512];

	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: test\r\n\r\n", method, target);
	WT_OK(wt_sends(c, req));
	WT_OK(wt_read_response(c, r, strcmp(method, "HEAD") == 0));
}

/* Asks for @target and expects "200 OK" with @body. */
static void expect_text(struct wt_client *c, const char *method, const char *target,
			const char *body)
{
	struct wt_response r;

	ask(c, method, target, &r);
	ck_assert_msg(r.status == 200 && strcmp(r.body, body) == 0,
		      "%s %s: expected 200 \"%s\", got %d \"%s\"", method, target, body, r.status,
		      r.body);
	wt_response_free(&r);
}

static void expect_404(struct wt_client *c, const char *target)
{
	struct wt_response r;

	ask(c, "GET", target, &r);
	ck_assert_msg(r.status == 404, "GET %s: expected 404, got %d \"%s\"", target, r.status,
		      r.body);
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 404 Not Found");
	ck_assert_str_eq(r.body, "404 Not Found\n");
	wt_response_free(&r);
}

static void expect_405(struct wt_client *c, const char *method, const char *target,
		       const char *allow)
{
	struct wt_response r;

	ask(c, method, target, &r);
	ck_assert_msg(r.status == 405, "%s %s: expected 405, got %d", method, target, r.status);
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 405 Method Not Allowed");
	ck_assert_str_eq(wt_header(&r, "Allow"), allow);
	ck_assert_uint_eq(wt_header_count(&r, "Allow"), 1);
	ck_assert_str_eq(wt_header(&r, "Content-Type"), "text/plain; charset=utf-8");
	ck_assert_str_eq(r.body, "405 Method Not Allowed\n");
	/* Not a protocol error: the connection stays. */
	ck_assert_ptr_null(wt_header(&r, "Connection"));
	wt_response_free(&r);
}

/* Starts the ROUTES server and a connection to it. */
static void start(struct wt_server *s, struct wt_client *c)
{
	wt_serve(s, ROUTES);
	WT_OK(wt_client_open(c, s, 0));
}

static void finish(struct wt_server *s, struct wt_client *c)
{
	wt_client_close(c);
	wt_stop_ok(s);
}

START_TEST(exact_paths)
{
	struct wt_server s;
	struct wt_client c;

	start(&s, &c);
	expect_text(&c, "GET", "/", "root");
	expect_text(&c, "GET", "/a", "route a");
	expect_text(&c, "GET", "/b", "route b");
	expect_404(&c, "/a/");
	expect_404(&c, "/ab");
	expect_404(&c, "/A");
	expect_404(&c, "/a/b");
	expect_404(&c, "/nothing");
	finish(&s, &c);
}
END_TEST

START_TEST(query_does_not_take_part_in_routing)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	start(&s, &c);
	expect_text(&c, "GET", "/a?x=1&y=/b", "route a");
	expect_text(&c, "GET", "/?", "root");
	ask(&c, "GET", "/users/7?tab=posts", &r);
	ck_assert_str_eq(r.body, "GET /users/7?tab=posts HTTP/1.1\r\nHost: test\r\n\r\n");
	wt_response_free(&r);
	finish(&s, &c);
}
END_TEST

START_TEST(absolute_form_target_is_routed_by_its_path)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	start(&s, &c);
	expect_text(&c, "GET", "http://example.test/b", "route b");
	expect_text(&c, "GET", "http://example.test", "root");
	ask(&c, "GET", "http://example.test/users/9?x", &r);
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	ck_assert_str_eq(r.body,
			 "GET http://example.test/users/9?x HTTP/1.1\r\nHost: test\r\n\r\n");
	wt_response_free(&r);
	finish(&s, &c);
}
END_TEST

START_TEST(route_config_reaches_the_handler)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	start(&s, &c);
	expect_text(&c, "GET", "/a", "route a");
	expect_text(&c, "GET", "/b", "route b");
	/* No route config: the module's own config supplies the text. */
	expect_text(&c, "GET", "/default", "module default");
	ask(&c, "GET", "/created", &r);
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 201 Created");
	ck_assert_str_eq(wt_header(&r, "Content-Type"), "application/json");
	ck_assert_uint_eq(wt_header_count(&r, "Content-Type"), 1);
	ck_assert_str_eq(wt_header(&r, "Content-Length"), "11");
	ck_assert_str_eq(r.body, "{\"ok\":true}");
	wt_response_free(&r);
	finish(&s, &c);
}
END_TEST

START_TEST(module_without_config_uses_its_default)
{
	struct wt_server s;
	struct wt_response r;

	wt_serve(&s, "'workers': 1, 'modules': [" WT_HELLO_MODULE "],"
		     "'routes': [{'match': {'path': '/'}, 'handler': 'hello.greet'}]");
	WT_OK(wt_exchanges(&s, "GET / HTTP/1.1\r\nHost: test\r\n\r\n", &r));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	ck_assert_str_eq(r.body, "Hello, World!");
	wt_response_free(&r);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(path_parameters)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	start(&s, &c);
	ask(&c, "GET", "/users/42", &r);
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	ck_assert_str_eq(r.body, "GET /users/42 HTTP/1.1\r\nHost: test\r\n\r\n");
	wt_response_free(&r);
	ask(&c, "GET", "/users/some%20one", &r);
	ck_assert_str_eq(r.body, "GET /users/some%20one HTTP/1.1\r\nHost: test\r\n\r\n");
	wt_response_free(&r);
	expect_text(&c, "GET", "/users/42/posts/7", "a post");
	/* A parameter is one whole, non-empty segment. */
	expect_404(&c, "/users");
	expect_404(&c, "/users/");
	expect_404(&c, "/users/42/");
	expect_404(&c, "/users/42/posts");
	expect_404(&c, "/users/42/posts/7/x");
	expect_404(&c, "/users//posts/7");
	finish(&s, &c);
}
END_TEST

START_TEST(prefix_routes)
{
	struct wt_server s;
	struct wt_client c;

	start(&s, &c);
	expect_text(&c, "GET", "/static", "static");
	expect_text(&c, "GET", "/static/", "static");
	expect_text(&c, "GET", "/static/site.css", "static");
	expect_text(&c, "GET", "/static/css/deep/site.css", "static");
	expect_text(&c, "POST", "/static/x", "static");
	expect_404(&c, "/staticx");
	expect_404(&c, "/stat");
	expect_404(&c, "/x/static/y");
	finish(&s, &c);
}
END_TEST

START_TEST(single_method_route)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	start(&s, &c);
	expect_text(&c, "GET", "/get-only", "got it");
	/* A GET route answers HEAD too, without the body. */
	ask(&c, "HEAD", "/get-only", &r);
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	ck_assert_str_eq(wt_header(&r, "Content-Length"), "6");
	wt_response_free(&r);
	expect_405(&c, "POST", "/get-only", "GET, HEAD");
	expect_405(&c, "DELETE", "/get-only", "GET, HEAD");
	expect_text(&c, "GET", "/get-only", "got it");
	finish(&s, &c);
}
END_TEST

START_TEST(method_list_route)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	static const char post[] =
		"POST /form HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n\r\na=b";

	start(&s, &c);
	ask(&c, "GET", "/form", &r);
	ck_assert_str_eq(r.body, "GET /form HTTP/1.1\r\nHost: test\r\n\r\n");
	wt_response_free(&r);
	WT_OK(wt_sends(&c, post));
	WT_OK(wt_read_response(&c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	ck_assert_str_eq(r.body, post);
	wt_response_free(&r);
	ask(&c, "HEAD", "/form", &r);
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	wt_response_free(&r);
	expect_405(&c, "DELETE", "/form", "GET, HEAD, POST");
	expect_405(&c, "PUT", "/form", "GET, HEAD, POST");
	finish(&s, &c);
}
END_TEST

START_TEST(allow_lists_every_route_of_the_path)
{
	struct wt_server s;
	struct wt_client c;

	start(&s, &c);
	expect_text(&c, "PUT", "/split", "put");
	expect_text(&c, "DELETE", "/split", "delete");
	expect_405(&c, "GET", "/split", "DELETE, PUT");
	expect_405(&c, "POST", "/split", "DELETE, PUT");
	finish(&s, &c);
}
END_TEST

START_TEST(first_matching_route_wins)
{
	struct wt_server s;
	struct wt_client c;

	start(&s, &c);
	expect_text(&c, "GET", "/first", "first");
	expect_text(&c, "POST", "/first", "first");
	finish(&s, &c);
}
END_TEST

START_TEST(later_route_beats_405)
{
	struct wt_server s;
	struct wt_client c;

	/* 405 is only for a request that no route takes. */
	wt_serve(&s, "'workers': 1, 'modules': [" WT_HELLO_MODULE "],"
		     "'routes': ["
		     "  {'match': {'path': '/x', 'method': 'GET'}, 'handler': 'hello.greet',"
		     "   'config': {'text': 'get x'}},"
		     "  {'match': {'method': 'POST'}, 'handler': 'hello.greet',"
		     "   'config': {'text': 'any post'}},"
		     "  {'handler': 'hello.greet', 'config': {'text': 'fallback'}}"
		     "]");
	WT_OK(wt_client_open(&c, &s, 0));
	expect_text(&c, "GET", "/x", "get x");
	expect_text(&c, "POST", "/x", "any post");
	expect_text(&c, "POST", "/elsewhere/deep", "any post");
	expect_text(&c, "DELETE", "/x", "fallback");
	expect_text(&c, "GET", "/", "fallback");
	expect_text(&c, "GET", "/y/z", "fallback");
	finish(&s, &c);
}
END_TEST

START_TEST(plugin_and_builtin_in_one_server)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	start(&s, &c);
	expect_text(&c, "GET", "/a", "route a");
	ask(&c, "GET", "/echo/mixed", &r);
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	ck_assert_str_eq(r.body, "GET /echo/mixed HTTP/1.1\r\nHost: test\r\n\r\n");
	wt_response_free(&r);
	expect_text(&c, "GET", "/b", "route b");
	finish(&s, &c);
}
END_TEST

/* echo.json: the request as one JSON object, keys sorted; a body that is not UTF-8 in hex. */
START_TEST(echo_json_describes_the_request)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	start(&s, &c);
	WT_OK(wt_sends(&c, "POST /json/a%20b?x=1&y HTTP/1.1\r\nHost: test\r\nX-Q: \"q\"\r\n"
			   "Content-Length: 5\r\n\r\nhello"));
	WT_OK(wt_read_response(&c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	ck_assert_str_eq(wt_header(&r, "Content-Type"), "application/json");
	ck_assert_str_eq(r.body, "{\"body\":\"hello\",\"headers\":[[\"Host\",\"test\"],"
				 "[\"X-Q\",\"\\\"q\\\"\"],[\"Content-Length\",\"5\"]],"
				 "\"method\":\"POST\",\"path\":\"/json/a%20b\",\"query\":\"x=1&y\","
				 "\"remote\":\"127.0.0.1\",\"target\":\"/json/a%20b?x=1&y\","
				 "\"version\":\"HTTP/1.1\"}\n");
	wt_response_free(&r);
	WT_OK(wt_sends(&c, "POST /json/ HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n\xff\x01"));
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_ptr_nonnull(strstr(r.body, "\"body_hex\":\"ff01\""));
	wt_response_free(&r);
	finish(&s, &c);
}
END_TEST

START_TEST(no_routes_means_404)
{
	struct wt_server s;
	struct wt_response r;

	wt_serve(&s, "'workers': 1");
	WT_OK(wt_exchanges(&s, "GET / HTTP/1.1\r\nHost: test\r\n\r\n", &r));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 404 Not Found");
	ck_assert_str_eq(r.body, "404 Not Found\n");
	wt_response_free(&r);
	wt_stop_ok(&s);
}
END_TEST

static Suite *routing_suite(void)
{
	Suite *s = suite_create("routing");
	TCase *tc;

	tc = tcase_create("paths");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, exact_paths);
	tcase_add_test(tc, query_does_not_take_part_in_routing);
	tcase_add_test(tc, absolute_form_target_is_routed_by_its_path);
	tcase_add_test(tc, path_parameters);
	tcase_add_test(tc, prefix_routes);
	tcase_add_test(tc, no_routes_means_404);
	suite_add_tcase(s, tc);

	tc = tcase_create("methods");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, single_method_route);
	tcase_add_test(tc, method_list_route);
	tcase_add_test(tc, allow_lists_every_route_of_the_path);
	tcase_add_test(tc, later_route_beats_405);
	suite_add_tcase(s, tc);

	tc = tcase_create("handlers");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, first_matching_route_wins);
	tcase_add_test(tc, route_config_reaches_the_handler);
	tcase_add_test(tc, module_without_config_uses_its_default);
	tcase_add_test(tc, plugin_and_builtin_in_one_server);
	tcase_add_test(tc, echo_json_describes_the_request);
	suite_add_tcase(s, tc);

	return s;
}

CHECK_MAIN(routing_suite)

/* tests/unit/test_router.c - route pattern compilation, matching, method masks and the
 * first-match walk of core/router.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>

#include "check_main.h"
#include "http/router.h"

#define BIT(m) (UINT64_C(1) << (m))

static int dummy_handle(struct warren_request *r, void *route_data)
{
	(void)r;
	(void)route_data;
	return WARREN_DONE;
}

static const struct warren_handler h_one = {.name = "one", .handle = dummy_handle};
static const struct warren_handler h_two = {.name = "two", .handle = dummy_handle};
static const struct warren_handler h_three = {.name = "three", .handle = dummy_handle};

static void compile_ok(struct route_pattern *p, const char *text)
{
	struct warren_error err = {.msg = ""};
	int ret = route_pattern_compile(p, text, &err);

	ck_assert_msg(ret == 0, "compiling \"%s\" failed (%d): %s", text, ret, err.msg);
}

/* Looks up @name in @m; fails the test when it is missing. */
static struct warren_str param(const struct route_match *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nparams; i++) {
		if (m->params[i].name_len == strlen(name) &&
		    memcmp(m->params[i].name, name, m->params[i].name_len) == 0)
			return m->params[i].value;
	}
	ck_abort_msg("parameter \"%s\" not captured", name);
	return (struct warren_str){0};
}

/* Asserts that parameter @name is exactly the @len bytes at @path + @off. */
static void assert_param(const struct route_match *m, const char *name, const char *path,
			 size_t off, size_t len)
{
	struct warren_str v = param(m, name);

	ck_assert_msg(v.len == len, "\"%s\": length %zu, expected %zu", name, v.len, len);
	ck_assert_msg(v.base == path + off, "\"%s\" does not point at offset %zu of the path", name,
		      off);
}

/* ---- Compile errors ------------------------------------------------------------------ */

static const struct {
	const char *text;
	const char *msg;
} bad_patterns[] = {
	{"users/:id", "\"users/:id\" must start with '/'"},
	{"", "\"\" must start with '/'"},
	{"*", "\"*\" must start with '/'"},
	{"a\tb\"c\\", "\"a\\x09b\\\"c\\\\\" must start with '/'"},
	{"/a/*/b", "'*' is allowed only as the last segment"},
	{"/*/", "'*' is allowed only as the last segment"},
	{"/*/*", "'*' is allowed only as the last segment"},
	{"/a//b", "empty segment in \"/a//b\""},
	{"//", "empty segment in \"//\""},
	{"/a/", "empty segment in \"/a/\""},
	{"/users/:id/", "empty segment in \"/users/:id/\""},
	{"/users/:", "parameter name missing after ':' in \"/users/:\""},
	{"/:/x", "parameter name missing after ':' in \"/:/x\""},
	{"/:i-d", "invalid parameter name \":i-d\" (letters, digits, '_')"},
	{"/:a:b", "invalid parameter name \":a:b\" (letters, digits, '_')"},
	{"/:*", "invalid parameter name \":*\" (letters, digits, '_')"},
	{"/x/:na me", "invalid parameter name \":na me\" (letters, digits, '_')"},
	{"/:id/x/:id", "duplicate parameter \"id\""},
	{"/:a/:b/:c/:d/:e/:f/:g/:h/:i", "more than 8 parameters"},
	{"/a*b", "'*' inside segment \"a*b\": a wildcard must be the whole last segment"},
	{"/static/*.css",
	 "'*' inside segment \"*.css\": a wildcard must be the whole last segment"},
	{"/**", "'*' inside segment \"**\": a wildcard must be the whole last segment"},
	{"/a:b", "':' inside segment \"a:b\": a parameter must be a whole segment"},
	{"/a/b:", "':' inside segment \"b:\": a parameter must be a whole segment"},
};

START_TEST(test_compile_errors)
{
	struct route_pattern p;
	struct warren_error err = {.msg = "untouched"};
	int ret = route_pattern_compile(&p, bad_patterns[_i].text, &err);

	ck_assert_int_eq(ret, -EINVAL);
	ck_assert_str_eq(err.msg, bad_patterns[_i].msg);
	/* A failed compile leaves nothing behind, and freeing it again is harmless. */
	ck_assert_ptr_null(p.text);
	ck_assert_ptr_null(p.segs);
	ck_assert_uint_eq(p.nsegs, 0);
	route_pattern_free(&p);
}
END_TEST

START_TEST(test_compile_null_and_no_err)
{
	struct route_pattern p;
	struct warren_error err;

	ck_assert_int_eq(route_pattern_compile(&p, NULL, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "missing path pattern");
	/* @err is optional. */
	ck_assert_int_eq(route_pattern_compile(&p, "/a//b", NULL), -EINVAL);
	ck_assert_ptr_null(p.segs);
}
END_TEST

START_TEST(test_compile_length_limit)
{
	struct route_pattern p;
	struct warren_error err;
	char text[1026], expected[256];

	memset(text, 'a', sizeof(text));
	text[0] = '/';
	text[1024] = '\0';
	compile_ok(&p, text);
	ck_assert_uint_eq(p.nsegs, 1);
	ck_assert_uint_eq(p.segs[0].len, 1023);
	route_pattern_free(&p);

	text[1024] = 'a';
	text[1025] = '\0';
	ck_assert_int_eq(route_pattern_compile(&p, text, &err), -EINVAL);
	/* The message quotes the first 64 bytes only. */
	snprintf(expected, sizeof(expected), "pattern \"/%.63s...\" is longer than 1024 bytes",
		 text + 1);
	ck_assert_str_eq(err.msg, expected);
}
END_TEST

START_TEST(test_compile_quote_utf8_cut)
{
	struct route_pattern p;
	struct warren_error err;
	char text[128], expected[256];
	size_t i, o = 0;

	/* "x" then 40 "é": byte 64 is inside an "é", so the quote stops before it. */
	text[o++] = 'x';
	for (i = 0; i < 40; i++) {
		text[o++] = '\xc3';
		text[o++] = '\xa9';
	}
	text[o] = '\0';
	ck_assert_int_eq(route_pattern_compile(&p, text, &err), -EINVAL);
	snprintf(expected, sizeof(expected), "\"%.63s...\" must start with '/'", text);
	ck_assert_str_eq(err.msg, expected);
}
END_TEST

/* ---- Compiled structure -------------------------------------------------------------- */

START_TEST(test_compile_shapes)
{
	struct route_pattern p;
	const char *text = "/users/:id/posts/:post_id";

	compile_ok(&p, "/");
	ck_assert_str_eq(p.text, "/");
	ck_assert_uint_eq(p.nsegs, 0);
	ck_assert(!p.prefix);
	route_pattern_free(&p);

	compile_ok(&p, "/*");
	ck_assert_uint_eq(p.nsegs, 0);
	ck_assert(p.prefix);
	route_pattern_free(&p);

	compile_ok(&p, "/static/*");
	ck_assert_uint_eq(p.nsegs, 1);
	ck_assert(p.prefix);
	ck_assert_int_eq(p.segs[0].kind, SEG_LITERAL);
	ck_assert_str_eq(p.segs[0].text, "static");
	route_pattern_free(&p);

	compile_ok(&p, text);
	ck_assert_ptr_ne(p.text, text);
	ck_assert_str_eq(p.text, text);
	ck_assert(!p.prefix);
	ck_assert_uint_eq(p.nsegs, 4);
	ck_assert_int_eq(p.segs[0].kind, SEG_LITERAL);
	ck_assert_str_eq(p.segs[0].text, "users");
	ck_assert_uint_eq(p.segs[0].len, 5);
	ck_assert_int_eq(p.segs[1].kind, SEG_PARAM);
	ck_assert_str_eq(p.segs[1].text, "id");
	ck_assert_uint_eq(p.segs[1].len, 2);
	ck_assert_int_eq(p.segs[2].kind, SEG_LITERAL);
	ck_assert_str_eq(p.segs[2].text, "posts");
	ck_assert_int_eq(p.segs[3].kind, SEG_PARAM);
	ck_assert_str_eq(p.segs[3].text, "post_id");
	ck_assert_uint_eq(p.segs[3].len, 7);
	route_pattern_free(&p);
	ck_assert_ptr_null(p.text);
	route_pattern_free(&p);

	/* Literals take any byte but '/', including ones a client would percent-encode. */
	compile_ok(&p, "/a b/%20/-._~!$&'()+,;=@/\xc3\xa9/.");
	ck_assert_uint_eq(p.nsegs, 5);
	ck_assert_str_eq(p.segs[0].text, "a b");
	ck_assert_str_eq(p.segs[1].text, "%20");
	ck_assert_str_eq(p.segs[2].text, "-._~!$&'()+,;=@");
	ck_assert_str_eq(p.segs[3].text, "\xc3\xa9");
	ck_assert_str_eq(p.segs[4].text, ".");
	route_pattern_free(&p);

	compile_ok(&p, "/:a/:b/:c/:d/:e/:f/:g/:H_9/*");
	ck_assert_uint_eq(p.nsegs, 8);
	ck_assert(p.prefix);
	ck_assert_str_eq(p.segs[7].text, "H_9");
	route_pattern_free(&p);
}
END_TEST

/* ---- Matching tables ----------------------------------------------------------------- */

static const struct {
	const char *pattern;
	const char *path;
	bool match;
} match_table[] = {
	/* exact */
	{"/a", "/a", true},
	{"/a", "/a/", false},
	{"/a", "/ab", false},
	{"/a", "/", false},
	{"/a", "", false},
	{"/a", "a", false},
	{"/a", "/A", false},
	{"/a", "//a", false},
	{"/a", "/a/b", false},
	{"/a/b", "/a/b", true},
	{"/a/b", "/a/b/", false},
	{"/a/b", "/a", false},
	{"/a/b", "/a/", false},
	{"/a/b", "/a//b", false},
	{"/a/b", "/a/bc", false},
	{"/a/b", "/ab", false},
	{"/hello", "/hello", true},
	{"/hello", "/Hello", false},
	/* root */
	{"/", "/", true},
	{"/", "", false},
	{"/", "//", false},
	{"/", "/a", false},
	/* everything */
	{"/*", "/", true},
	{"/*", "/a", true},
	{"/*", "/a/b/", true},
	{"/*", "//", true},
	{"/*", "", false},
	{"/*", "*", false},
	{"/*", "a/b", false},
	/* prefix */
	{"/static/*", "/static", true},
	{"/static/*", "/static/", true},
	{"/static/*", "/static/x/y", true},
	{"/static/*", "/static//x", true},
	{"/static/*", "/staticx", false},
	{"/static/*", "/staticx/y", false},
	{"/static/*", "/stati", false},
	{"/static/*", "/", false},
	{"/static/*", "/Static/x", false},
	{"/static/*", "//static/x", false},
	{"/static/*", "/other/static/x", false},
	{"/a/b/*", "/a/b", true},
	{"/a/b/*", "/a", false},
	{"/a/b/*", "/a/", false},
	{"/a/b/*", "/a/bb", false},
	/* parameters */
	{"/users/:id", "/users/42", true},
	{"/users/:id", "/users/", false},
	{"/users/:id", "/users", false},
	{"/users/:id", "/users/42/", false},
	{"/users/:id", "/users/42/x", false},
	{"/users/:id", "/users//", false},
	{"/users/:id", "/Users/42", false},
	{"/:a/:b", "/x/y", true},
	{"/:a/:b", "/x/", false},
	{"/:a/:b", "//y", false},
	{"/:a/:b", "/x", false},
	{"/:a", "/", false},
	{"/users/:id/*", "/users/7", true},
	{"/users/:id/*", "/users/7/a/b", true},
	{"/users/:id/*", "/users/", false},
	/* percent-encoding is not decoded: bytes compare as sent */
	{"/a%20b", "/a%20b", true},
	{"/a%20b", "/a b", false},
	{"/a%20b", "/a%20B", false},
	{"/a b", "/a b", true},
	{"/a b", "/a%20b", false},
	{"/files/:name", "/files/a%2Fb", true},
	{"/x/*", "/x/%2e%2e/y", true},
	{"/\xc3\xa9t\xc3\xa9", "/\xc3\xa9t\xc3\xa9", true},
	{"/\xc3\xa9t\xc3\xa9", "/%C3%A9t%C3%A9", false},
};

START_TEST(test_match_table)
{
	struct route_pattern p;
	struct route_match m;
	const char *path = match_table[_i].path;
	bool got;

	compile_ok(&p, match_table[_i].pattern);
	memset(&m, 0xa5, sizeof(m));
	got = route_pattern_match(&p, path, strlen(path), &m);
	ck_assert_msg(got == match_table[_i].match, "\"%s\" vs \"%s\": got %d",
		      match_table[_i].pattern, path, got);
	if (!got)
		ck_assert_uint_eq(m.nparams, 0);
	/* @m is optional and does not change the answer. */
	ck_assert(route_pattern_match(&p, path, strlen(path), NULL) == got);
	route_pattern_free(&p);
}
END_TEST

START_TEST(test_match_params_values)
{
	struct route_pattern p;
	struct route_match m;
	const char *path = "/users/alice%20b/posts/99";

	compile_ok(&p, "/users/:user/posts/:post");
	ck_assert(route_pattern_match(&p, path, strlen(path), &m));
	ck_assert_uint_eq(m.nparams, 2);
	ck_assert_uint_eq(m.params[0].name_len, 4);
	ck_assert_mem_eq(m.params[0].name, "user", 4);
	assert_param(&m, "user", path, 7, 9);
	ck_assert_mem_eq(param(&m, "user").base, "alice%20b", 9);
	assert_param(&m, "post", path, 23, 2);
	ck_assert_mem_eq(param(&m, "post").base, "99", 2);
	route_pattern_free(&p);
}
END_TEST

START_TEST(test_match_prefix_rest)
{
	struct route_pattern p;
	struct route_match m;
	const char *path;

	compile_ok(&p, "/static/*");
	path = "/static";
	ck_assert(route_pattern_match(&p, path, strlen(path), &m));
	ck_assert_uint_eq(m.nparams, 1);
	ck_assert_uint_eq(m.params[0].name_len, 1);
	ck_assert_mem_eq(m.params[0].name, "*", 1);
	ck_assert_uint_eq(param(&m, "*").len, 0);

	path = "/static/";
	ck_assert(route_pattern_match(&p, path, strlen(path), &m));
	ck_assert_uint_eq(m.nparams, 1);
	ck_assert_uint_eq(param(&m, "*").len, 0);

	path = "/static/css/site.css";
	ck_assert(route_pattern_match(&p, path, strlen(path), &m));
	assert_param(&m, "*", path, 8, 12);

	path = "/static//x";
	ck_assert(route_pattern_match(&p, path, strlen(path), &m));
	assert_param(&m, "*", path, 8, 2);
	route_pattern_free(&p);

	compile_ok(&p, "/*");
	path = "/";
	ck_assert(route_pattern_match(&p, path, 1, &m));
	ck_assert_uint_eq(m.nparams, 1);
	ck_assert_uint_eq(param(&m, "*").len, 0);
	path = "/a/b/c";
	ck_assert(route_pattern_match(&p, path, strlen(path), &m));
	assert_param(&m, "*", path, 1, 5);
	route_pattern_free(&p);

	compile_ok(&p, "/u/:id/*");
	path = "/u/5/files/x";
	ck_assert(route_pattern_match(&p, path, strlen(path), &m));
	ck_assert_uint_eq(m.nparams, 2);
	assert_param(&m, "id", path, 3, 1);
	assert_param(&m, "*", path, 5, 7);
	ck_assert_mem_eq(m.params[1].name, "*", 1);
	route_pattern_free(&p);

	/* Exact patterns and the root capture nothing. */
	compile_ok(&p, "/");
	m.nparams = 99;
	ck_assert(route_pattern_match(&p, "/", 1, &m));
	ck_assert_uint_eq(m.nparams, 0);
	route_pattern_free(&p);
}
END_TEST

START_TEST(test_match_many_params)
{
	struct route_pattern p;
	struct route_match m;
	const char *path = "/1/22/333/4444/5/6/7/8/rest/of/it";
	static const char *const names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
	static const size_t offs[] = {1, 3, 6, 10, 15, 17, 19, 21};
	static const size_t lens[] = {1, 2, 3, 4, 1, 1, 1, 1};
	size_t i;

	compile_ok(&p, "/:a/:b/:c/:d/:e/:f/:g/:h/*");
	ck_assert(route_pattern_match(&p, path, strlen(path), &m));
	ck_assert_uint_eq(m.nparams, ROUTE_MAX_PARAMS + 1);
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		ck_assert_mem_eq(m.params[i].name, names[i], 1);
		assert_param(&m, names[i], path, offs[i], lens[i]);
	}
	assert_param(&m, "*", path, 23, 10);
	/* One segment short: the last parameter has nothing to take. */
	ck_assert(!route_pattern_match(&p, path, 21, &m));
	ck_assert(!route_pattern_match(&p, path, 20, &m));
	ck_assert_uint_eq(m.nparams, 0);
	route_pattern_free(&p);
}
END_TEST

START_TEST(test_match_nul_bytes)
{
	struct route_pattern p;
	struct route_match m;
	static const char path[] = "/a/x\0y";
	static const char nul_only[] = "/a/\0";
	static const char root_nul[] = "/\0";

	compile_ok(&p, "/a/:id");
	ck_assert(route_pattern_match(&p, path, sizeof(path) - 1, &m));
	assert_param(&m, "id", path, 3, 3);
	ck_assert_mem_eq(param(&m, "id").base, "x\0y", 3);
	ck_assert(route_pattern_match(&p, nul_only, sizeof(nul_only) - 1, &m));
	assert_param(&m, "id", nul_only, 3, 1);
	route_pattern_free(&p);

	/* A NUL does not end the path early: "/a\0" is not "/a". */
	compile_ok(&p, "/a");
	ck_assert(!route_pattern_match(&p, "/a\0", 3, &m));
	ck_assert(!route_pattern_match(&p, "/a\0/", 4, &m));
	ck_assert(route_pattern_match(&p, "/a\0", 2, &m));
	route_pattern_free(&p);

	compile_ok(&p, "/*");
	ck_assert(route_pattern_match(&p, root_nul, 2, &m));
	assert_param(&m, "*", root_nul, 1, 1);
	ck_assert(!route_pattern_match(&p, "\0/", 2, &m));
	route_pattern_free(&p);
}
END_TEST

START_TEST(test_match_long_paths)
{
	struct route_pattern p;
	struct route_match m;
	size_t len = 64 * 1024, i;
	char *path = malloc(len);
	char pattern[1025];

	ck_assert_ptr_nonnull(path);
	/* "/seg/seg/.../seg" with 4-byte segments. */
	for (i = 0; i < len; i++)
		path[i] = i % 4 == 0 ? '/' : 'x';

	compile_ok(&p, "/*");
	ck_assert(route_pattern_match(&p, path, len, &m));
	assert_param(&m, "*", path, 1, len - 1);
	route_pattern_free(&p);

	compile_ok(&p, "/xxx/:a/*");
	ck_assert(route_pattern_match(&p, path, len, &m));
	assert_param(&m, "a", path, 5, 3);
	assert_param(&m, "*", path, 9, len - 9);
	route_pattern_free(&p);

	/* The longest pattern accepted, matched against exactly its own text. */
	memcpy(pattern, path, 1024);
	pattern[1024] = '\0';
	compile_ok(&p, pattern);
	ck_assert_uint_eq(p.nsegs, 256);
	ck_assert(route_pattern_match(&p, path, 1024, &m));
	ck_assert(!route_pattern_match(&p, path, 1023, &m));
	ck_assert(!route_pattern_match(&p, path, 1025, &m));
	ck_assert(!route_pattern_match(&p, path, len, &m));
	route_pattern_free(&p);

	/* One long segment. */
	memset(path + 1, 'y', len - 1);
	compile_ok(&p, "/:big");
	ck_assert(route_pattern_match(&p, path, len, &m));
	assert_param(&m, "big", path, 1, len - 1);
	route_pattern_free(&p);
	free(path);
}
END_TEST

/* ---- Methods ------------------------------------------------------------------------- */

START_TEST(test_method_allowed)
{
	uint64_t get = BIT(HTTP_GET), post = BIT(HTTP_POST), head = BIT(HTTP_HEAD);

	ck_assert(route_method_allowed(0, HTTP_GET));
	ck_assert(route_method_allowed(0, HTTP_DELETE));
	ck_assert(route_method_allowed(0, 200));

	ck_assert(route_method_allowed(get, HTTP_GET));
	ck_assert(route_method_allowed(get, HTTP_HEAD));
	ck_assert(!route_method_allowed(get, HTTP_POST));
	ck_assert(!route_method_allowed(get, HTTP_OPTIONS));

	ck_assert(route_method_allowed(post, HTTP_POST));
	ck_assert(!route_method_allowed(post, HTTP_HEAD));
	ck_assert(!route_method_allowed(post, HTTP_GET));

	/* HEAD does not imply GET. */
	ck_assert(route_method_allowed(head, HTTP_HEAD));
	ck_assert(!route_method_allowed(head, HTTP_GET));

	ck_assert(route_method_allowed(get | post, HTTP_POST));
	ck_assert(!route_method_allowed(get | post, HTTP_PUT));
	ck_assert(!route_method_allowed(get, 64));
	ck_assert(!route_method_allowed(~UINT64_C(0), 64));
	ck_assert(!route_method_allowed(get, 1000));
}
END_TEST

/* ---- Router -------------------------------------------------------------------------- */

static void add_route(struct router *rt, const char *path, uint64_t methods,
		      const struct warren_handler *h, const char *id)
{
	struct route_pattern p;
	char *copy = strdup(id);

	ck_assert_ptr_nonnull(copy);
	compile_ok(&p, path);
	ck_assert_int_eq(router_add(rt, &p, methods, h, (void *)id, copy), 0);
	/* Ownership moved: the caller's struct is emptied. */
	ck_assert_ptr_null(p.text);
	ck_assert_ptr_null(p.segs);
}

static const struct route *next(const struct router *rt, size_t *pos, unsigned method,
				const char *path, struct route_match *m, uint64_t *allow)
{
	return router_next(rt, pos, method, path, strlen(path), m, allow);
}

START_TEST(test_router_empty)
{
	struct router rt;
	struct route_match m;
	size_t pos = 0;
	uint64_t allow = 0;

	router_init(&rt);
	ck_assert_ptr_null(next(&rt, &pos, HTTP_GET, "/", &m, &allow));
	ck_assert_uint_eq(pos, 0);
	ck_assert_uint_eq(allow, 0);
	ck_assert_uint_eq(m.nparams, 0);
	router_free(&rt);
	router_free(&rt);
}
END_TEST

START_TEST(test_router_order_and_continue)
{
	struct router rt;
	struct route_match m;
	const struct route *r;
	size_t pos = 0;
	uint64_t allow = 0;
	const char *path = "/users/42";

	router_init(&rt);
	add_route(&rt, "/health", 0, &h_three, "three.health");
	add_route(&rt, "/users/:id", BIT(HTTP_GET), &h_one, "one.user");
	add_route(&rt, "/users/:name", 0, &h_two, "two.user");
	add_route(&rt, "/*", 0, &h_three, "three.all");
	ck_assert_uint_eq(rt.nroutes, 4);

	/* First match in config order wins. */
	r = next(&rt, &pos, HTTP_GET, path, &m, &allow);
	ck_assert_ptr_eq(r, &rt.routes[1]);
	ck_assert_ptr_eq(r->handler, &h_one);
	ck_assert_str_eq(r->id, "one.user");
	ck_assert_str_eq(r->data, "one.user");
	ck_assert_uint_eq(pos, 2);
	ck_assert_uint_eq(m.nparams, 1);
	assert_param(&m, "id", path, 7, 2);

	/* The handler declined: the walk resumes after it, with the next route's params. */
	r = next(&rt, &pos, HTTP_GET, path, &m, &allow);
	ck_assert_ptr_eq(r, &rt.routes[2]);
	ck_assert_ptr_eq(r->handler, &h_two);
	ck_assert_uint_eq(pos, 3);
	ck_assert_uint_eq(m.nparams, 1);
	ck_assert_mem_eq(m.params[0].name, "name", 4);
	assert_param(&m, "name", path, 7, 2);

	r = next(&rt, &pos, HTTP_GET, path, &m, &allow);
	ck_assert_ptr_eq(r, &rt.routes[3]);
	ck_assert_uint_eq(pos, 4);
	assert_param(&m, "*", path, 1, 8);

	r = next(&rt, &pos, HTTP_GET, path, &m, &allow);
	ck_assert_ptr_null(r);
	ck_assert_uint_eq(pos, 4);
	ck_assert_uint_eq(m.nparams, 0);
	ck_assert_uint_eq(allow, 0);

	/* A method the GET route does not take skips it without touching anything else. */
	pos = 0;
	r = next(&rt, &pos, HTTP_POST, path, &m, &allow);
	ck_assert_ptr_eq(r, &rt.routes[2]);
	ck_assert_uint_eq(pos, 3);
	ck_assert_uint_eq(allow, BIT(HTTP_GET) | BIT(HTTP_HEAD));

	/* Starting past the last route finds nothing. */
	pos = 4;
	ck_assert_ptr_null(next(&rt, &pos, HTTP_GET, "/health", NULL, NULL));
	pos = 0;
	ck_assert_ptr_eq(next(&rt, &pos, HTTP_GET, "/health", NULL, NULL), &rt.routes[0]);
	router_free(&rt);
	ck_assert_ptr_null(rt.routes);
	ck_assert_uint_eq(rt.nroutes, 0);
}
END_TEST

START_TEST(test_router_405_allow)
{
	struct router rt;
	struct route_match m;
	const struct route *r;
	size_t pos = 0;
	uint64_t allow = 0;

	router_init(&rt);
	add_route(&rt, "/a", BIT(HTTP_GET), &h_one, "one.get");
	add_route(&rt, "/b", BIT(HTTP_DELETE), &h_two, "two.b");
	add_route(&rt, "/:x", BIT(HTTP_POST) | BIT(HTTP_PUT), &h_two, "two.any");
	add_route(&rt, "/a/*", BIT(HTTP_PATCH), &h_three, "three.prefix");

	/* No route takes DELETE /a: Allow is every path-matching route's mask, GET adding HEAD. */
	r = next(&rt, &pos, HTTP_DELETE, "/a", &m, &allow);
	ck_assert_ptr_null(r);
	ck_assert_uint_eq(pos, 4);
	ck_assert_uint_eq(m.nparams, 0);
	ck_assert_uint_eq(allow, BIT(HTTP_GET) | BIT(HTTP_HEAD) | BIT(HTTP_POST) | BIT(HTTP_PUT) |
					 BIT(HTTP_PATCH));

	/* HEAD is served by the GET route. */
	pos = 0;
	allow = 0;
	r = next(&rt, &pos, HTTP_HEAD, "/a", &m, &allow);
	ck_assert_ptr_eq(r, &rt.routes[0]);
	ck_assert_uint_eq(allow, 0);

	/* A route that matched the path but not the method leaves its params out of @m. */
	pos = 0;
	allow = 0;
	r = next(&rt, &pos, HTTP_PATCH, "/a", &m, &allow);
	ck_assert_ptr_eq(r, &rt.routes[3]);
	ck_assert_uint_eq(pos, 4);
	ck_assert_uint_eq(m.nparams, 1);
	ck_assert_mem_eq(m.params[0].name, "*", 1);
	ck_assert_uint_eq(allow, BIT(HTTP_GET) | BIT(HTTP_HEAD) | BIT(HTTP_POST) | BIT(HTTP_PUT));

	/* Routes whose path differs never contribute: a POST-only mask adds no HEAD. */
	pos = 0;
	allow = 0;
	r = next(&rt, &pos, HTTP_GET, "/b", &m, &allow);
	ck_assert_ptr_null(r);
	ck_assert_uint_eq(allow, BIT(HTTP_DELETE) | BIT(HTTP_POST) | BIT(HTTP_PUT));

	/* Nothing matches the path at all: 404, not 405. */
	pos = 0;
	allow = 0;
	r = next(&rt, &pos, HTTP_GET, "/c/d", &m, &allow);
	ck_assert_ptr_null(r);
	ck_assert_uint_eq(allow, 0);

	/* @allow is optional. */
	pos = 0;
	ck_assert_ptr_null(next(&rt, &pos, HTTP_DELETE, "/a", &m, NULL));
	router_free(&rt);
}
END_TEST

START_TEST(test_router_growth)
{
	struct router rt;
	const struct route *r;
	char path[32], id[32];
	size_t i, pos;

	router_init(&rt);
	for (i = 0; i < 100; i++) {
		snprintf(path, sizeof(path), "/r%zu", i);
		snprintf(id, sizeof(id), "m.h%zu", i);
		add_route(&rt, path, 0, i % 2 ? &h_one : &h_two, id);
		ck_assert_uint_eq(rt.nroutes, i + 1);
	}
	for (i = 0; i < 100; i++) {
		snprintf(path, sizeof(path), "/r%zu", i);
		snprintf(id, sizeof(id), "m.h%zu", i);
		pos = 0;
		r = next(&rt, &pos, HTTP_GET, path, NULL, NULL);
		ck_assert_ptr_eq(r, &rt.routes[i]);
		ck_assert_str_eq(r->id, id);
		ck_assert_str_eq(r->pattern.text, path);
		ck_assert_uint_eq(pos, i + 1);
	}
	router_free(&rt);
}
END_TEST

/* The first route matching method and path decides; without limits of routes, the server's. */
START_TEST(test_router_body_limit)
{
	struct router rt;

	router_init(&rt);
	add_route(&rt, "/up", 1ULL << HTTP_POST, &h_one, "m.post");
	add_route(&rt, "/up", 0, &h_two, "m.any");
	add_route(&rt, "/*", 0, &h_two, "m.rest");
	ck_assert_uint_eq(router_body_limit(&rt, HTTP_POST, "/up", 3, 100), 100);
	router_set_body_limit(&rt, 7);
	ck_assert_uint_eq(rt.routes[2].max_body_size, 7);
	/* POST /up: the first route has no limit of its own; PUT /up falls to m.any. */
	ck_assert_uint_eq(router_body_limit(&rt, HTTP_POST, "/up", 3, 100), 100);
	ck_assert_uint_eq(router_body_limit(&rt, HTTP_PUT, "/up", 3, 100), 100);
	ck_assert_uint_eq(router_body_limit(&rt, HTTP_PUT, "/other", 6, 100), 7);
	ck_assert_uint_eq(router_body_limit(NULL, HTTP_PUT, "/other", 6, 100), 100);
	router_free(&rt);
}
END_TEST

static Suite *router_suite(void)
{
	Suite *s = suite_create("router");
	TCase *tc;

	tc = tcase_create("compile");
	tcase_add_loop_test(tc, test_compile_errors, 0, ARRAY_SIZE(bad_patterns));
	tcase_add_test(tc, test_compile_null_and_no_err);
	tcase_add_test(tc, test_compile_length_limit);
	tcase_add_test(tc, test_compile_quote_utf8_cut);
	tcase_add_test(tc, test_compile_shapes);
	suite_add_tcase(s, tc);

	tc = tcase_create("match");
	tcase_add_loop_test(tc, test_match_table, 0, ARRAY_SIZE(match_table));
	tcase_add_test(tc, test_match_params_values);
	tcase_add_test(tc, test_match_prefix_rest);
	tcase_add_test(tc, test_match_many_params);
	tcase_add_test(tc, test_match_nul_bytes);
	tcase_add_test(tc, test_match_long_paths);
	suite_add_tcase(s, tc);

	tc = tcase_create("methods");
	tcase_add_test(tc, test_method_allowed);
	suite_add_tcase(s, tc);

	tc = tcase_create("router");
	tcase_add_test(tc, test_router_empty);
	tcase_add_test(tc, test_router_order_and_continue);
	tcase_add_test(tc, test_router_405_allow);
	tcase_add_test(tc, test_router_growth);
	tcase_add_test(tc, test_router_body_limit);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(router_suite)

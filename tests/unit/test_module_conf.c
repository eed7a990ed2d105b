/* tests/unit/test_module_conf.c - the warren_conf_*() helpers modules read their config with:
 * what each accepts, and the exact message, with the JSON path the loader puts in front of
 * it, for each kind of mistake. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "server/config_value.h"
#include "server/module_conf.h"

#define BASE "routes[0].config"

static json_t *root;
static struct warren_error err;
static char full[WARREN_ERROR_MAX * 2 + 8];

static const json_t *load(const char *text)
{
	json_error_t jerr;

	json_decref(root);
	root = json_loads(text, 0, &jerr);
	ck_assert_msg(root != NULL, "bad test JSON %s: %s", text, jerr.text);
	module_conf_error_clear(&err);
	return root;
}

static void teardown(void)
{
	json_decref(root);
	root = NULL;
}

/* What the loader would print: the path of the problem, then the message. */
static const char *message(void)
{
	char where[WARREN_ERROR_MAX];

	module_conf_where(&err, root, BASE, where, sizeof(where));
	snprintf(full, sizeof(full), "%s: %s", where, err.msg);
	return full;
}

#define FAILS(call, msg)                                                                           \
	do {                                                                                       \
		ck_assert_int_eq((call), -EINVAL);                                                 \
		ck_assert_str_eq(message(), (msg));                                                \
	} while (0)

START_TEST(test_int)
{
	const json_t *c = load("{\"n\": 7, \"s\": \"big\", \"r\": 1.5, \"neg\": -3}");
	long long n = 42;

	ck_assert_int_eq(warren_conf_int(c, "n", 0, 1, 10, &n, &err), 0);
	ck_assert_int_eq(n, 7);
	n = 42;
	ck_assert_int_eq(warren_conf_int(c, "absent", 0, 1, 10, &n, &err), 0);
	ck_assert_int_eq(n, 42); /* the default stays */
	ck_assert_int_eq(warren_conf_int(NULL, "n", 0, 1, 10, &n, &err), 0);
	FAILS(warren_conf_int(c, "s", 0, 1, 4096, &n, &err),
	      BASE ".s: expected an integer from 1 to 4096, got string \"big\"");
	FAILS(warren_conf_int(c, "r", 0, 1, 4096, &n, &err),
	      BASE ".r: expected an integer from 1 to 4096, got real 1.5");
	FAILS(warren_conf_int(c, "n", 0, 8, 10, &n, &err),
	      BASE ".n: expected an integer from 8 to 10, got 7");
	FAILS(warren_conf_int(c, "neg", 0, 0, 10, &n, &err),
	      BASE ".neg: expected an integer from 0 to 10, got -3");
	FAILS(warren_conf_int(c, "max", WARREN_CONF_REQUIRED, 1, 9, &n, &err),
	      BASE ".max: missing (expected an integer from 1 to 9)");
	ck_assert_int_eq(n, 42);
}
END_TEST

START_TEST(test_size)
{
	const json_t *c = load("{\"a\": 4096, \"b\": \"64k\", \"c\": \"16M\", \"d\": \"1g\", "
			       "\"bad\": \"big\", \"neg\": -1, \"e\": \"\", \"f\": \"1.5k\", "
			       "\"g\": \"8kb\", \"h\": \"99999999999999999999\", \"t\": true}");
	uint64_t n = 0;

	ck_assert_int_eq(warren_conf_size(c, "a", 0, 0, UINT64_MAX, &n, &err), 0);
	ck_assert_uint_eq(n, 4096);
	ck_assert_int_eq(warren_conf_size(c, "b", 0, 0, UINT64_MAX, &n, &err), 0);
	ck_assert_uint_eq(n, 65536);
	ck_assert_int_eq(warren_conf_size(c, "c", 0, 0, UINT64_MAX, &n, &err), 0);
	ck_assert_uint_eq(n, 16 << 20);
	ck_assert_int_eq(warren_conf_size(c, "d", 0, 0, UINT64_MAX, &n, &err), 0);
	ck_assert_uint_eq(n, 1 << 30);
	FAILS(warren_conf_size(c, "bad", 0, 1, 4096, &n, &err),
	      BASE ".bad: expected a size from 1 to 4k (bytes, or a string like \"64k\" or "
		   "\"16m\"), got string \"big\"");
	FAILS(warren_conf_size(c, "b", 0, 1, 4096, &n, &err),
	      BASE ".b: expected a size from 1 to 4k, got \"64k\"");
	FAILS(warren_conf_size(c, "a", 0, 1, 1000, &n, &err),
	      BASE ".a: expected a size from 1 to 1000, got 4096");
	FAILS(warren_conf_size(c, "neg", 0, 0, 1000, &n, &err),
	      BASE ".neg: expected a size from 0 to 1000, got -1");
	FAILS(warren_conf_size(c, "e", 0, 0, 10, &n, &err),
	      BASE ".e: expected a size from 0 to 10 (bytes, or a string like \"64k\" or "
		   "\"16m\"), got string \"\"");
	FAILS(warren_conf_size(c, "f", 0, 0, 10, &n, &err),
	      BASE ".f: expected a size from 0 to 10 (bytes, or a string like \"64k\" or "
		   "\"16m\"), got string \"1.5k\"");
	FAILS(warren_conf_size(c, "g", 0, 0, 10, &n, &err),
	      BASE ".g: expected a size from 0 to 10 (bytes, or a string like \"64k\" or "
		   "\"16m\"), got string \"8kb\"");
	FAILS(warren_conf_size(c, "h", 0, 0, 10, &n, &err),
	      BASE ".h: expected a size from 0 to 10, got \"99999999999999999999\"");
	FAILS(warren_conf_size(c, "t", 0, 0, 10, &n, &err),
	      BASE ".t: expected a size from 0 to 10 (bytes, or a string like \"64k\" or "
		   "\"16m\"), got boolean true");
	FAILS(warren_conf_size(c, "x", WARREN_CONF_REQUIRED, 1, 16 << 20, &n, &err),
	      BASE ".x: missing (expected a size from 1 to 16m)");
}
END_TEST

START_TEST(test_duration)
{
	const json_t *c = load("{\"a\": 2, \"b\": 0.25, \"c\": \"250ms\", \"d\": \"1.5s\", "
			       "\"e\": \"2m\", \"f\": \"1h\", \"g\": 0.0001, \"bad\": \"soon\", "
			       "\"h\": \"5 s\", \"i\": \"-1s\", \"j\": -1, \"k\": \"s\", "
			       "\"l\": \".5s\"}");
	uint64_t ms = 0;

	ck_assert_int_eq(warren_conf_duration(c, "a", 0, 0, UINT64_MAX, &ms, &err), 0);
	ck_assert_uint_eq(ms, 2000);
	ck_assert_int_eq(warren_conf_duration(c, "b", 0, 0, UINT64_MAX, &ms, &err), 0);
	ck_assert_uint_eq(ms, 250);
	ck_assert_int_eq(warren_conf_duration(c, "c", 0, 0, UINT64_MAX, &ms, &err), 0);
	ck_assert_uint_eq(ms, 250);
	ck_assert_int_eq(warren_conf_duration(c, "d", 0, 0, UINT64_MAX, &ms, &err), 0);
	ck_assert_uint_eq(ms, 1500);
	ck_assert_int_eq(warren_conf_duration(c, "e", 0, 0, UINT64_MAX, &ms, &err), 0);
	ck_assert_uint_eq(ms, 120000);
	ck_assert_int_eq(warren_conf_duration(c, "f", 0, 0, UINT64_MAX, &ms, &err), 0);
	ck_assert_uint_eq(ms, 3600000);
	ck_assert_int_eq(warren_conf_duration(c, "g", 0, 0, UINT64_MAX, &ms, &err), 0);
	ck_assert_uint_eq(ms, 1); /* never 0, which often means "off" */
	ck_assert_int_eq(warren_conf_duration(c, "l", 0, 0, UINT64_MAX, &ms, &err), 0);
	ck_assert_uint_eq(ms, 500);
	FAILS(warren_conf_duration(c, "bad", 0, 0, 60000, &ms, &err),
	      BASE ".bad: expected a duration from 0s to 1m (seconds, or a string like \"250ms\", "
		   "\"2s\" or \"1m\"), got string \"soon\"");
	FAILS(warren_conf_duration(c, "e", 0, 1, 60000, &ms, &err),
	      BASE ".e: expected a duration from 1ms to 1m, got \"2m\"");
	FAILS(warren_conf_duration(c, "a", 0, 0, 1500, &ms, &err),
	      BASE ".a: expected a duration from 0s to 1500ms, got 2");
	FAILS(warren_conf_duration(c, "j", 0, 0, 1500, &ms, &err),
	      BASE ".j: expected a duration from 0s to 1500ms, got -1");
	ck_assert_int_eq(warren_conf_duration(c, "h", 0, 0, 1500, &ms, &err), -EINVAL);
	ck_assert_int_eq(warren_conf_duration(c, "i", 0, 0, 1500, &ms, &err), -EINVAL);
	ck_assert_int_eq(warren_conf_duration(c, "k", 0, 0, 1500, &ms, &err), -EINVAL);
	FAILS(warren_conf_duration(c, "x", WARREN_CONF_REQUIRED, 1000, 90000, &ms, &err),
	      BASE ".x: missing (expected a duration from 1s to 90s)");
}
END_TEST

START_TEST(test_string)
{
	const json_t *c = load("{\"s\": \"zone\", \"e\": \"\", \"n\": 5, \"long\": \"abcdef\", "
			       "\"z\": null}");
	const char *s = "default";

	ck_assert_int_eq(warren_conf_string(c, "absent", 0, 0, &s, &err), 0);
	ck_assert_str_eq(s, "default");
	ck_assert_int_eq(warren_conf_string(c, "s", 0, 4, &s, &err), 0);
	ck_assert_str_eq(s, "zone");
	FAILS(warren_conf_string(c, "e", 0, 0, &s, &err),
	      BASE ".e: expected a non-empty string, got an empty string");
	FAILS(warren_conf_string(c, "n", 0, 0, &s, &err),
	      BASE ".n: expected a non-empty string, got integer 5");
	FAILS(warren_conf_string(c, "z", 0, 0, &s, &err),
	      BASE ".z: expected a non-empty string, got null");
	FAILS(warren_conf_string(c, "long", 0, 5, &s, &err),
	      BASE ".long: expected a non-empty string of at most 5 bytes, got 6 bytes");
	FAILS(warren_conf_string(c, "name", WARREN_CONF_REQUIRED, 64, &s, &err),
	      BASE ".name: missing (expected a non-empty string of at most 64 bytes)");
}
END_TEST

START_TEST(test_enum)
{
	static const char *const levels[] = {"error", "warn", "info", NULL};
	const json_t *c = load("{\"a\": \"info\", \"b\": \"wran\", \"c\": \"loud\", \"d\": 1}");
	unsigned i = 9;

	ck_assert_int_eq(warren_conf_enum(c, "a", 0, levels, &i, &err), 0);
	ck_assert_uint_eq(i, 2);
	FAILS(warren_conf_enum(c, "b", 0, levels, &i, &err),
	      BASE ".b: expected one of \"error\", \"warn\", \"info\", got string \"wran\" (did "
		   "you mean \"warn\"?)");
	FAILS(warren_conf_enum(c, "c", 0, levels, &i, &err),
	      BASE ".c: expected one of \"error\", \"warn\", \"info\", got string \"loud\"");
	FAILS(warren_conf_enum(c, "d", 0, levels, &i, &err),
	      BASE ".d: expected one of \"error\", \"warn\", \"info\", got integer 1");
	ck_assert_uint_eq(i, 2);
}
END_TEST

START_TEST(test_bool)
{
	const json_t *c = load("{\"a\": true, \"b\": false, \"c\": \"yes\", \"d\": 0}");
	bool b = false;

	ck_assert_int_eq(warren_conf_bool(c, "a", 0, &b, &err), 0);
	ck_assert(b);
	ck_assert_int_eq(warren_conf_bool(c, "b", 0, &b, &err), 0);
	ck_assert(!b);
	FAILS(warren_conf_bool(c, "c", 0, &b, &err),
	      BASE ".c: expected true or false, got string \"yes\"");
	FAILS(warren_conf_bool(c, "d", 0, &b, &err),
	      BASE ".d: expected true or false, got integer 0");
	FAILS(warren_conf_bool(c, "e", WARREN_CONF_REQUIRED, &b, &err),
	      BASE ".e: missing (expected true or false)");
}
END_TEST

START_TEST(test_header_name_and_value)
{
	const json_t *c = load("{\"n\": \"X-Request-Id\", \"bad\": \"X Id\", \"empty\": \"\", "
			       "\"v\": \"a\\tb\", \"crlf\": \"a\\r\\nSet-Cookie: x\", "
			       "\"ev\": \"\", \"num\": 3}");
	const char *s = NULL;

	ck_assert_int_eq(warren_conf_header_name(c, "n", 0, &s, &err), 0);
	ck_assert_str_eq(s, "X-Request-Id");
	FAILS(warren_conf_header_name(c, "bad", 0, &s, &err),
	      BASE ".bad: expected a header name (letters, digits and !#$%&'*+-.^_`|~), got "
		   "string \"X Id\"");
	FAILS(warren_conf_header_name(c, "empty", 0, &s, &err),
	      BASE ".empty: expected a header name (letters, digits and !#$%&'*+-.^_`|~), got "
		   "string \"\"");
	ck_assert_int_eq(warren_conf_header_value(c, "v", 0, &s, &err), 0);
	ck_assert_str_eq(s, "a\tb");
	ck_assert_int_eq(warren_conf_header_value(c, "ev", 0, &s, &err), 0);
	ck_assert_str_eq(s, "");
	FAILS(warren_conf_header_value(c, "crlf", 0, &s, &err),
	      BASE ".crlf: expected a header value (text without control characters but tab), "
		   "got string \"a\\x0d\\x0aSet-Cookie: x\"");
	FAILS(warren_conf_header_value(c, "num", 0, &s, &err),
	      BASE ".num: expected a header value (text without control characters but tab), "
		   "got integer 3");
}
END_TEST

/* A map of headers, nested: the message names the member of the nested object. */
START_TEST(test_header_map)
{
	const json_t *c = load("{\"set\": {\"X-Frame-Options\": \"DENY\", \"Bad Name\": \"x\", "
			       "\"Content-Length\": \"1\", \"X-Num\": 1, \"X-Nl\": \"a\\nb\"}}");
	const json_t *set = NULL;
	const char *v = NULL;

	ck_assert_int_eq(warren_conf_object(c, "set", 0, &set, &err), 0);
	ck_assert_int_eq(warren_conf_header(set, "X-Frame-Options", &v, &err), 0);
	ck_assert_str_eq(v, "DENY");
	FAILS(warren_conf_header(set, "Bad Name", &v, &err),
	      BASE ".set[\"Bad Name\"]: not a header name (letters, digits and !#$%&'*+-.^_`|~ "
		   "only)");
	FAILS(warren_conf_header(set, "Content-Length", &v, &err),
	      BASE ".set.Content-Length: warren sets this header itself (message framing)");
	FAILS(warren_conf_header(set, "X-Num", &v, &err),
	      BASE ".set.X-Num: expected a header value (text without control characters but "
		   "tab), got integer 1");
	FAILS(warren_conf_header(set, "X-Nl", &v, &err),
	      BASE ".set.X-Nl: expected a header value (text without control characters but "
		   "tab), got string \"a\\x0ab\"");
}
END_TEST

START_TEST(test_object_and_array)
{
	const json_t *c = load("{\"o\": {\"deep\": {\"n\": \"x\"}}, \"a\": [\"/a\", 5, \"\"], "
			       "\"e\": [], \"s\": \"x\", \"big\": [1, 2, 3]}");
	const json_t *o = NULL, *deep = NULL, *a = NULL;
	const char *s;
	long long n;

	ck_assert_int_eq(warren_conf_object(c, "o", WARREN_CONF_REQUIRED, &o, &err), 0);
	ck_assert_int_eq(warren_conf_object(o, "deep", 0, &deep, &err), 0);
	FAILS(warren_conf_int(deep, "n", 0, 0, 1, &n, &err),
	      BASE ".o.deep.n: expected an integer from 0 to 1, got string \"x\"");
	FAILS(warren_conf_object(c, "s", 0, &o, &err),
	      BASE ".s: expected an object, got string \"x\"");
	FAILS(warren_conf_object(c, "none", WARREN_CONF_REQUIRED, &o, &err),
	      BASE ".none: missing (expected an object)");

	ck_assert_int_eq(warren_conf_array(c, "a", 0, 1, 0, &a, &err), 0);
	ck_assert_int_eq(warren_conf_string(json_array_get(a, 0), NULL, 0, 0, &s, &err), 0);
	ck_assert_str_eq(s, "/a");
	/* Elements are checked with a NULL key: the value is the element itself. */
	FAILS(warren_conf_string(json_array_get(a, 1), NULL, 0, 0, &s, &err),
	      BASE ".a[1]: expected a non-empty string, got integer 5");
	FAILS(warren_conf_string(json_array_get(a, 2), NULL, 0, 0, &s, &err),
	      BASE ".a[2]: expected a non-empty string, got an empty string");
	FAILS(warren_conf_array(c, "e", 0, 1, 0, &a, &err),
	      BASE ".e: expected an array of at least 1 element, got an empty array");
	FAILS(warren_conf_array(c, "big", 0, 1, 2, &a, &err),
	      BASE ".big: expected an array of 1 to 2 elements, got 3");
	FAILS(warren_conf_array(c, "s", 0, 0, 0, &a, &err),
	      BASE ".s: expected an array, got string \"x\"");
	FAILS(warren_conf_error(&err, json_array_get(a, 0), NULL, "%s is not allowed", "/a"),
	      BASE ".a[0]: /a is not allowed");

	/* jansson shares one true (false, null) among all keys: found by identity, it could
	 * be named as another key's, so the message keeps to the path it is sure of. */
	c = load("{\"verbose\": true, \"methods\": [\"GET\", true]}");
	ck_assert_int_eq(warren_conf_array(c, "methods", 0, 1, 0, &a, &err), 0);
	FAILS(warren_conf_string(json_array_get(a, 1), NULL, 0, 0, &s, &err),
	      BASE ": expected a non-empty string, got boolean true");
}
END_TEST

START_TEST(test_keys)
{
	static const char *const known[] = {"max_value_size", "zone", "ttl", NULL};
	static const char *const none[] = {NULL};
	const json_t *c = load("{\"zone\": \"kv\", \"max_value_sise\": 5}");

	FAILS(warren_conf_keys(c, known, &err),
	      BASE ": unknown key \"max_value_sise\" (did you mean \"max_value_size\"?)");
	c = load("{\"zone\": \"kv\", \"colour\": 5}");
	FAILS(warren_conf_keys(c, known, &err),
	      BASE ": unknown key \"colour\" (expected one of: max_value_size, zone, ttl)");
	c = load("{\"o\": {\"TTL\": 1}}");
	FAILS(warren_conf_keys(json_object_get(c, "o"), known, &err),
	      BASE ".o: unknown key \"TTL\" (did you mean \"ttl\"?)");
	c = load("{\"zon\": 1}");
	FAILS(warren_conf_keys(c, known, &err),
	      BASE ": unknown key \"zon\" (did you mean \"zone\"?)");
	c = load("{\"a\": 1}");
	FAILS(warren_conf_keys(c, none, &err), BASE ": unknown key \"a\" (none are allowed here)");
	c = load("{\"zone\": 1, \"ttl\": 2}");
	ck_assert_int_eq(warren_conf_keys(c, known, &err), 0);
}
END_TEST

/* A message the module set itself after a helper failed is not put at the helper's key. */
START_TEST(test_own_message_after_helper)
{
	const json_t *c = load("{\"n\": \"x\"}");
	long long n;

	ck_assert_int_eq(warren_conf_int(c, "n", 0, 0, 1, &n, &err), -EINVAL);
	warren_error_set(&err, "something else");
	ck_assert_str_eq(message(), BASE ": something else");
	ck_assert_int_eq(warren_conf_error(&err, c, "n", "odd"), -EINVAL);
	ck_assert_str_eq(message(), BASE ".n: odd");
	/* A value that is not in the config the loader knows: the key is still named. */
	json_t *other = json_pack("{s:s}", "k", "v");
	ck_assert_int_eq(warren_conf_int(other, "k", 0, 0, 1, &n, &err), -EINVAL);
	ck_assert_str_eq(message(), BASE ".k: expected an integer from 0 to 1, got string \"v\"");
	json_decref(other);
}
END_TEST

START_TEST(test_suggest)
{
	static const char *const keys[] = {"max_body_size", "workers", "config", "ms", NULL};

	ck_assert_str_eq(config_suggest("max_bdoy_size", keys), "max_body_size");
	ck_assert_str_eq(config_suggest("worker", keys), "workers");
	ck_assert_str_eq(config_suggest("conf", keys), "config");
	ck_assert_str_eq(config_suggest("mx", keys), "ms");
	ck_assert_ptr_null(config_suggest("colour", keys));
	ck_assert_ptr_null(config_suggest("", keys));
	ck_assert_ptr_null(config_suggest("ms", keys)); /* itself is not a suggestion */
}
END_TEST

static Suite *module_conf_suite(void)
{
	Suite *s = suite_create("module_conf");
	TCase *tc = tcase_create("helpers");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_int);
	tcase_add_test(tc, test_size);
	tcase_add_test(tc, test_duration);
	tcase_add_test(tc, test_string);
	tcase_add_test(tc, test_enum);
	tcase_add_test(tc, test_bool);
	tcase_add_test(tc, test_header_name_and_value);
	tcase_add_test(tc, test_header_map);
	tcase_add_test(tc, test_object_and_array);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_own_message_after_helper);
	tcase_add_test(tc, test_suggest);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(module_conf_suite)

/* tests/unit/test_config.c - the JSON config loader: parsed values, defaults, and the exact
 * one-line message for each kind of mistake. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <http_parser.h>

#include "check_main.h"
#include "server/address.h"
#include "server/config.h"
#include "http/router.h"

static struct config *parse_ok(const char *json)
{
	struct warren_error err = {{0}};
	struct config *cfg = NULL;
	int ret;

	ret = config_parse(json, strlen(json), "test.json", &cfg, &err);
	ck_assert_msg(ret == 0, "config_parse failed (%d): %s", ret, err.msg);
	ck_assert_ptr_nonnull(cfg);
	return cfg;
}

/* Parses @len bytes that must be refused; returns the message. */
static const char *parse_fail_n(const char *json, size_t len, struct warren_error *err)
{
	struct config *cfg = (struct config *)1;
	int ret;

	memset(err, 0, sizeof(*err));
	ret = config_parse(json, len, NULL, &cfg, err);
	ck_assert_int_eq(ret, -EINVAL);
	ck_assert_ptr_null(cfg);
	return err->msg;
}

static const char *parse_fail(const char *json, struct warren_error *err)
{
	return parse_fail_n(json, strlen(json), err);
}

/* ---- Malformed configs, one exact message each -------------------------------------- */

static const struct bad_case {
	const char *json;
	const char *msg;
} bad_cases[] = {
	/* JSON syntax, reported by jansson with a position. */
	{"{\"workers\": 2,}", "line 1, column 15: string or '}' expected near '}'"},
	{"{\"workers\": 2,\n \"workers\": 3}",
	 "line 2, column 10: duplicate object key near '\"workers\"'"},
	{"{\"event\": \"a\\u0000b\"}",
	 "line 1, column 20: \\u0000 is not allowed in strings near '\"a\\u0000b\"'"},
	{"{\"ev\\u0000\": 1}",
	 "line 1, column 11: NUL byte in object key not supported near '\"ev\\u0000\"'"},
	{"{\"event\": \"a\nb\"}", "line 1, column 12: unexpected newline near '\"a'"},
	{"{} {}", "line 1, column 4: end of file expected near '{'"},
	{"", "line 1, column 0: unexpected token near end of file"},
	{"{\"workers\": 99999999999999999999}",
	 "line 1, column 32: too big integer near '99999999999999999999'"},
	{"{\"workers\": 1e999}", "line 1, column 17: real number overflow near '1e999'"},

	/* Top level. */
	{"[]", "expected a JSON object at the top level, got array"},
	{"\"listen\"", "expected a JSON object at the top level, got string"},
	{"42", "expected a JSON object at the top level, got integer"},
	{"4.5", "expected a JSON object at the top level, got real"},
	{"true", "expected a JSON object at the top level, got boolean"},
	{"null", "expected a JSON object at the top level, got null"},
	{"{\"worker\": 2}", "worker: unknown key (did you mean \"workers\"?)"},
	{"{\"work ers\": 2}", "[\"work ers\"]: unknown key (did you mean \"workers\"?)"},
	{"{\"Workers\": 2}", "Workers: unknown key (did you mean \"workers\"?)"},
	{"{\"colour\": 2}",
	 "colour: unknown key (expected one of: listen, workers, cpu_affinity, event, log_level, "
	 "log_file, pid_file, shutdown_timeout, recover, http, modules, routes, offload_threads, "
	 "worker_connections, watchdog, shared_zones)"},

	/* workers */
	{"{\"workers\": \"many\"}",
	 "workers: expected a positive integer or \"auto\", got string \"many\""},
	{"{\"workers\": 0}", "workers: expected a positive integer or \"auto\", got 0"},
	{"{\"workers\": -3}", "workers: expected a positive integer or \"auto\", got -3"},
	{"{\"workers\": 1.5}", "workers: expected a positive integer or \"auto\", got real 1.5"},
	{"{\"workers\": true}",
	 "workers: expected a positive integer or \"auto\", got boolean true"},
	{"{\"workers\": null}", "workers: expected a positive integer or \"auto\", got null"},
	{"{\"workers\": 1025}", "workers: expected at most 1024 workers or \"auto\", got 1025"},

	/* listen */
	{"{\"listen\": {}}", "listen: expected an array of \"host:port\" strings, got object"},
	{"{\"listen\": \"127.0.0.1:80\"}",
	 "listen: expected an array of \"host:port\" strings, got string \"127.0.0.1:80\""},
	{"{\"listen\": []}", "listen: expected 1 to 64 \"host:port\" strings, got an empty array"},
	{"{\"listen\": [\"*:80\", 8080]}",
	 "listen[1]: expected a \"host:port\" string or an object with \"address\", got integer 8080"},
	{"{\"listen\": [\"127.0.0.1\"]}",
	 "listen[0]: \"127.0.0.1\" has no port (expected host:port, e.g. 127.0.0.1:8080)"},
	{"{\"listen\": [\"127.0.0.1:\"]}",
	 "listen[0]: \"127.0.0.1:\" has no port (expected host:port, e.g. 127.0.0.1:8080)"},
	{"{\"listen\": [\"127.0.0.1:70000\"]}", "listen[0]: port \"70000\" out of range (0-65535)"},
	{"{\"listen\": [\"127.0.0.1:99999999999999999999\"]}",
	 "listen[0]: port \"99999999999999999999\" out of range (0-65535)"},
	{"{\"listen\": [\"127.0.0.1:http\"]}",
	 "listen[0]: port \"http\" is not a decimal number (0-65535)"},
	{"{\"listen\": [\"127.0.0.1:-1\"]}",
	 "listen[0]: port \"-1\" is not a decimal number (0-65535)"},
	{"{\"listen\": [\"1.2.3:80\"]}",
	 "listen[0]: \"1.2.3:80\": not an IPv4 address, [IPv6] literal, * or localhost"},
	{"{\"listen\": [\"example.com:80\"]}",
	 "listen[0]: \"example.com:80\": not an IPv4 address, [IPv6] literal, * or localhost"},
	{"{\"listen\": [\":80\"]}",
	 "listen[0]: \":80\" has no host (expected host:port; *:port for every address)"},
	{"{\"listen\": [\"::1:80\"]}",
	 "listen[0]: \"::1:80\": IPv6 addresses go in brackets (expected [IPv6]:port, e.g. "
	 "[::1]:8080)"},
	{"{\"listen\": [\"[::1:80\"]}",
	 "listen[0]: \"[::1:80\": missing ']' after the IPv6 address (expected [IPv6]:port)"},
	{"{\"listen\": [\"[::1]\"]}",
	 "listen[0]: \"[::1]\" has no port (expected [IPv6]:port, e.g. [::1]:8080)"},
	{"{\"listen\": [\"[::g]:80\"]}",
	 "listen[0]: \"[::g]:80\": \"::g\" is not a numeric IPv6 address"},
	{"{\"listen\": [\"[1.2.3.4]:80\"]}",
	 "listen[0]: \"[1.2.3.4]:80\": \"1.2.3.4\" is not a numeric IPv6 address"},
	{"{\"listen\": [\"127.0.0.1:8080\", \"127.0.0.1:8080\"]}",
	 "listen[1]: duplicate address \"127.0.0.1:8080\" (also listen[0])"},
	{"{\"listen\": [\"localhost:8080\", \"*:8081\", \"127.0.0.1:8080\"]}",
	 "listen[2]: duplicate address \"127.0.0.1:8080\" (also listen[0])"},
	{"{\"listen\": [\"[::1]:80\", \"[0:0::1]:80\"]}",
	 "listen[1]: duplicate address \"[0:0::1]:80\" (also listen[0])"},

	/* listen objects, unix sockets */
	{"{\"listen\": [{\"reuseport\": true}]}",
	 "listen[0].address: missing (expected \"host:port\" or \"unix:/path\")"},
	{"{\"listen\": [{\"address\": \"127.0.0.1:1\", \"backlog\": 0}]}",
	 "listen[0].backlog: expected an integer from 1 to 65535, got 0"},
	{"{\"listen\": [{\"address\": \"127.0.0.1:1\", \"reuseport\": 1}]}",
	 "listen[0].reuseport: expected true or false, got integer 1"},
	{"{\"listen\": [{\"address\": \"127.0.0.1:1\", \"fast\": true}]}",
	 "listen[0].fast: unknown key (expected one of: address, reuseport, backlog, defer_accept)"},
	{"{\"listen\": [\"unix:\"]}",
	 "listen[0]: \"unix:\": no socket path (expected unix:/run/x.sock)"},
	{"{\"listen\": [{\"address\": \"unix:/tmp/x.sock\", \"reuseport\": true}]}",
	 "listen[0]: reuseport and defer_accept need a TCP address, not unix:/tmp/x.sock"},
	{"{\"listen\": [\"unix:/tmp/a.sock\", {\"address\": \"unix:/tmp/a.sock\"}]}",
	 "listen[1].address: duplicate address \"unix:/tmp/a.sock\" (also listen[0])"},

	/* process keys */
	{"{\"cpu_affinity\": true}", "cpu_affinity: expected \"auto\" or false, got boolean true"},
	{"{\"shutdown_timeout\": 0}",
	 "shutdown_timeout: expected a number of seconds above 0 and at most 86400, got 0"},
	{"{\"pid_file\": \"\"}", "pid_file: expected a non-empty file path, got string \"\""},
	{"{\"log_file\": 3}", "log_file: expected a non-empty file path, got integer 3"},
	{"{\"recover\": {\"max\": 0}}", "recover.max: expected an integer from 1 to 100000, got 0"},
	{"{\"recover\": {\"window\": -1}}",
	 "recover.window: expected a number of seconds above 0 and at most 86400, got -1"},
	{"{\"recover\": {\"limit\": 3}}",
	 "recover.limit: unknown key (expected one of: max, window)"},
	{"{\"recover\": 3}", "recover: expected an object, got integer 3"},
	{"{\"watchdog\": {\"warn\": -0.5}}",
	 "watchdog.warn: expected a number of seconds from 0 to 86400, got -0.5"},
	{"{\"watchdog\": {\"kill\": \"30\"}}",
	 "watchdog.kill: expected a number of seconds from 0 to 86400, got string \"30\""},
	{"{\"watchdog\": {\"warn_ms\": 100}}",
	 "watchdog.warn_ms: unknown key (expected one of: warn, kill)"},
	{"{\"watchdog\": true}", "watchdog: expected an object, got boolean true"},
	{"{\"shared_zones\": {\"on_change\": \"keep\"}}",
	 "shared_zones.on_change: expected \"refuse\" or \"recreate\", got string \"keep\""},
	{"{\"shared_zones\": {\"on_changes\": \"refuse\"}}",
	 "shared_zones.on_changes: unknown key (did you mean \"on_change\"?)"},
	{"{\"shared_zones\": {\"when\": \"refuse\"}}",
	 "shared_zones.when: unknown key (expected one of: on_change)"},

	/* event and log_level */
	{"{\"event\": \"kqueue\"}",
	 "event: expected \"auto\", \"io_uring\" or \"epoll\", got string \"kqueue\""},
	{"{\"event\": [\"epoll\"]}",
	 "event: expected \"auto\", \"io_uring\" or \"epoll\", got array"},
	{"{\"log_level\": \"verbose\"}",
	 "log_level: expected one of \"error\", \"warn\", \"info\", \"debug\", got string "
	 "\"verbose\""},
	{"{\"log_level\": 3}",
	 "log_level: expected one of \"error\", \"warn\", \"info\", \"debug\", got integer 3"},

	/* http limits */
	{"{\"http\": []}", "http: expected an object, got array"},
	{"{\"http\": {\"max_body\": 1}}",
	 "http.max_body: unknown key (did you mean \"max_body_size\"?)"},
	{"{\"http\": {\"timeout\": 1}}",
	 "http.timeout: unknown key (expected one of: max_body_size, max_header_size, "
	 "server_header, keepalive_timeout, header_timeout, body_timeout, send_timeout, "
	 "handler_timeout)"},
	{"{\"http\": {\"server_header\": true}}",
	 "http.server_header: expected a non-empty string of printable ASCII (at most 256 bytes, "
	 "no leading or trailing space) or false, got boolean true"},
	{"{\"http\": {\"server_header\": \"\"}}",
	 "http.server_header: expected a non-empty string of printable ASCII (at most 256 bytes, "
	 "no leading or trailing space) or false, got string \"\""},
	{"{\"http\": {\"server_header\": \"a\\r\\nX-Injected: 1\"}}",
	 "http.server_header: expected a non-empty string of printable ASCII (at most 256 bytes, "
	 "no leading or trailing space) or false, got string \"a\\x0d\\x0aX-Injected: 1\""},
	{"{\"http\": {\"server_header\": \" warren\"}}",
	 "http.server_header: expected a non-empty string of printable ASCII (at most 256 bytes, "
	 "no leading or trailing space) or false, got string \" warren\""},
	{"{\"http\": {\"server_header\": \"caf\xc3\xa9\"}}",
	 "http.server_header: expected a non-empty string of printable ASCII (at most 256 bytes, "
	 "no leading or trailing space) or false, got string \"caf\xc3\xa9\""},
	{"{\"http\": {\"body_timeout\": -1}}",
	 "http.body_timeout: expected a number of seconds above 0 and at most 86400, got -1"},
	{"{\"http\": {\"send_timeout\": true}}",
	 "http.send_timeout: expected a number of seconds above 0 and at most 86400, got boolean true"},
	{"{\"worker_connections\": 0}",
	 "worker_connections: expected an integer from 1 to 1000000, got 0"},
	{"{\"http\": {\"handler_timeout\": 0}}",
	 "http.handler_timeout: expected a number of seconds above 0 and at most 86400, got 0"},
	{"{\"offload_threads\": 0}", "offload_threads: expected an integer from 1 to 256, got 0"},
	{"{\"offload_threads\": \"4\"}",
	 "offload_threads: expected an integer from 1 to 256, got string \"4\""},
	{"{\"http\": {\"max_body_size\": -1}}",
	 "http.max_body_size: expected an integer from 0 to 2147483647, got -1"},
	{"{\"http\": {\"max_body_size\": 2147483648}}",
	 "http.max_body_size: expected an integer from 0 to 2147483647, got 2147483648"},
	{"{\"http\": {\"max_body_size\": \"1M\"}}",
	 "http.max_body_size: expected an integer from 0 to 2147483647, got string \"1M\""},
	{"{\"http\": {\"max_header_size\": 10}}",
	 "http.max_header_size: expected an integer from 1024 to 1048576, got 10"},
	{"{\"http\": {\"max_header_size\": 4096.0}}",
	 "http.max_header_size: expected an integer from 1024 to 1048576, got real 4096"},
	{"{\"http\": {\"keepalive_timeout\": -1}}",
	 "http.keepalive_timeout: expected a number of seconds from 0 to 86400, got -1"},
	{"{\"http\": {\"keepalive_timeout\": 86400.5}}",
	 "http.keepalive_timeout: expected a number of seconds from 0 to 86400, got 86400.5"},
	{"{\"http\": {\"keepalive_timeout\": 1e300}}",
	 "http.keepalive_timeout: expected a number of seconds from 0 to 86400, got 1e+300"},
	{"{\"http\": {\"keepalive_timeout\": \"75s\"}}",
	 "http.keepalive_timeout: expected a number of seconds from 0 to 86400, got string "
	 "\"75s\""},
	{"{\"http\": {\"header_timeout\": 0}}",
	 "http.header_timeout: expected a number of seconds above 0 and at most 86400, got 0"},
	{"{\"http\": {\"header_timeout\": -0.25}}",
	 "http.header_timeout: expected a number of seconds above 0 and at most 86400, got -0.25"},
	{"{\"http\": {\"header_timeout\": false}}",
	 "http.header_timeout: expected a number of seconds above 0 and at most 86400, got "
	 "boolean false"},

	/* modules */
	{"{\"modules\": {\"name\": \"hello\"}}",
	 "modules: expected an array of module objects, got object"},
	{"{\"modules\": [\"hello\"]}",
	 "modules[0]: expected an object with \"name\" and optional \"path\", \"config\", got "
	 "string \"hello\""},
	{"{\"modules\": [{\"name\": \"hello\", \"conf\": {}}]}",
	 "modules[0].conf: unknown key (did you mean \"config\"?)"},
	{"{\"modules\": [{\"path\": \"x.so\"}]}", "modules[0].name: missing"},
	{"{\"modules\": [{\"name\": 7}]}",
	 "modules[0].name: expected a module name string, got integer 7"},
	{"{\"modules\": [{\"name\": \"Hello\"}]}",
	 "modules[0].name: invalid module name \"Hello\" (expected 1-64 of a-z, 0-9, _)"},
	{"{\"modules\": [{\"name\": \"\"}]}",
	 "modules[0].name: invalid module name \"\" (expected 1-64 of a-z, 0-9, _)"},
	{"{\"modules\": [{\"name\": \"a.b\"}]}",
	 "modules[0].name: invalid module name \"a.b\" (expected 1-64 of a-z, 0-9, _)"},
	{"{\"modules\": [{\"name\": "
	 "\"a1234567890123456789012345678901234567890123456789012345678901234\"}]}",
	 "modules[0].name: invalid module name \"a123456789012345678901234567890123456789...\" "
	 "(expected 1-64 of a-z, 0-9, _)"},
	{"{\"modules\": [{\"name\": \"hello\"}, {\"name\": \"echo\"}, {\"name\": \"hello\"}]}",
	 "modules[2].name: duplicate module \"hello\" (also modules[0])"},
	{"{\"modules\": [{\"name\": \"hello\", \"path\": \"\"}]}",
	 "modules[0].path: expected a non-empty path to a shared object, got string \"\""},
	{"{\"modules\": [{\"name\": \"hello\", \"path\": null}]}",
	 "modules[0].path: expected a non-empty path to a shared object, got null"},
	{"{\"modules\": [{\"name\": \"hello\", \"config\": []}]}",
	 "modules[0].config: expected an object, got array"},

	/* routes */
	{"{\"routes\": {}}", "routes: expected an array of route objects, got object"},
	{"{\"routes\": [\"hello.greet\"]}",
	 "routes[0]: expected an object with \"handler\" and optional \"match\", \"config\", got "
	 "string \"hello.greet\""},
	{"{\"routes\": [{\"handler\": \"a.b\", \"path\": \"/\"}]}",
	 "routes[0].path: unknown key (expected one of: match, handler, config, max_body_size)"},
	{"{\"routes\": [{\"handler\": \"a.b\", \"max_body_size\": -1}]}",
	 "routes[0].max_body_size: expected an integer from 0 to 2147483647, got -1"},
	{"{\"routes\": [{\"handler\": \"a.b\"}, {\"handler\": \"a.b\", \"max_body_size\": \"1M\"}]}",
	 "routes[1].max_body_size: expected an integer from 0 to 2147483647, got string \"1M\""},
	{"{\"routes\": [{\"handler\": \"a.b\", \"max_body_size\": 2147483648}]}",
	 "routes[0].max_body_size: expected an integer from 0 to 2147483647, got 2147483648"},
	{"{\"routes\": [{\"match\": \"/x\", \"handler\": \"a.b\"}]}",
	 "routes[0].match: expected an object, got string \"/x\""},
	{"{\"routes\": [{\"match\": {\"host\": \"a\"}, \"handler\": \"a.b\"}]}",
	 "routes[0].match.host: unknown key (expected one of: path, method)"},
	{"{\"routes\": [{\"match\": {\"path\": 5}, \"handler\": \"a.b\"}]}",
	 "routes[0].match.path: expected a path pattern string such as \"/users/:id\", got "
	 "integer 5"},
	{"{\"routes\": [{\"match\": {\"method\": 5}, \"handler\": \"a.b\"}]}",
	 "routes[0].match.method: expected a method name or an array of method names, got "
	 "integer 5"},
	{"{\"routes\": [{\"match\": {\"method\": []}, \"handler\": \"a.b\"}]}",
	 "routes[0].match.method: expected a method name or a non-empty array of method names, "
	 "got an empty array"},
	{"{\"routes\": [{\"match\": {\"method\": [\"GET\", \"GTE\"]}, \"handler\": \"a.b\"}]}",
	 "routes[0].match.method[1]: unknown method \"GTE\""},
	{"{\"routes\": [{\"match\": {\"method\": \"get\"}, \"handler\": \"a.b\"}]}",
	 "routes[0].match.method: unknown method \"get\""},
	{"{\"routes\": [{\"match\": {\"method\": [\"GET\", \"POST\", \"GET\"]}, \"handler\": "
	 "\"a.b\"}]}",
	 "routes[0].match.method[2]: duplicate method \"GET\" (also routes[0].match.method[0])"},
	{"{\"routes\": [{\"match\": {\"method\": [\"GET\", null]}, \"handler\": \"a.b\"}]}",
	 "routes[0].match.method[1]: expected a method name such as \"GET\", got null"},
	{"{\"routes\": [{\"handler\": \"a.b\"}, {\"handler\": \"a.b\"}, {\"handler\": \"a.b\"},"
	 " {\"match\": {\"path\": \"/x\"}}]}",
	 "routes[3].handler: missing (expected \"module.handler\")"},
	{"{\"routes\": [{\"handler\": 5}]}",
	 "routes[0].handler: expected a \"module.handler\" string, got integer 5"},
	{"{\"routes\": [{\"handler\": \"\"}]}",
	 "routes[0].handler: expected a \"module.handler\" string, got an empty string"},
	{"{\"routes\": [{\"handler\": \"a.b\", \"config\": \"text\"}]}",
	 "routes[0].config: expected an object, got string \"text\""},

	/* User text in messages: escaped to stay on one line, and cut when long. */
	{"{\"event\": \"a\\nb\\u001b\\\"c\"}",
	 "event: expected \"auto\", \"io_uring\" or \"epoll\", got string \"a\\x0ab\\x1b\\\"c\""},
	{"{\"event\": \"aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeeeeeeee\"}",
	 "event: expected \"auto\", \"io_uring\" or \"epoll\", got string "
	 "\"aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd...\""},
	/* Cut before a multi-byte character rather than through it. */
	{"{\"event\": \"aaaaaaaaaabbbbbbbbbbccccccccccddddddddd\xc3\xa9xyz\"}",
	 "event: expected \"auto\", \"io_uring\" or \"epoll\", got string "
	 "\"aaaaaaaaaabbbbbbbbbbccccccccccddddddddd...\""},
	{"{\"routes\": [{\"match\": {\"ho\\nst\": 1}, \"handler\": \"a.b\"}]}",
	 "routes[0].match[\"ho\\x0ast\"]: unknown key (expected one of: path, method)"},
};

START_TEST(test_bad_config)
{
	const struct bad_case *c = &bad_cases[_i];
	struct warren_error err;

	ck_assert_str_eq(parse_fail(c->json, &err), c->msg);
	ck_assert_ptr_null(strchr(err.msg, '\n'));
}
END_TEST

/* The route pattern's own message comes from the router; the loader adds the JSON path. */
START_TEST(test_bad_route_path)
{
	static const char *const patterns[] = {"users", "", "/a/:", "/a/*/b"};
	struct warren_error err, perr;
	struct route_pattern p;
	char json[256], want[WARREN_ERROR_MAX + 64];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(patterns); i++) {
		memset(&perr, 0, sizeof(perr));
		ck_assert_int_eq(route_pattern_compile(&p, patterns[i], &perr), -EINVAL);
		ck_assert_str_ne(perr.msg, "");
		snprintf(want, sizeof(want), "routes[2].match.path: %s", perr.msg);
		snprintf(json, sizeof(json),
			 "{\"routes\": [{\"handler\": \"a.b\"}, {\"handler\": \"a.b\"},"
			 " {\"match\": {\"path\": \"%s\"}, \"handler\": \"a.b\"}]}",
			 patterns[i]);
		ck_assert_str_eq(parse_fail(json, &err), want);
	}
}
END_TEST

START_TEST(test_too_many_listen)
{
	struct warren_error err;
	struct config *cfg;
	char json[2048];
	size_t i, o;

	/* 64 is the limit; port 0 repeats are fine since each gets its own port. */
	o = (size_t)snprintf(json, sizeof(json), "{\"listen\": [\"*:0\"");
	for (i = 1; i < 64; i++)
		o += (size_t)snprintf(json + o, sizeof(json) - o, ", \"*:0\"");
	snprintf(json + o, sizeof(json) - o, "]}");
	cfg = parse_ok(json);
	ck_assert_uint_eq(cfg->nlisten, 64);
	config_free(cfg);

	snprintf(json + o, sizeof(json) - o, ", \"*:0\"]}");
	ck_assert_str_eq(parse_fail(json, &err),
			 "listen: expected 1 to 64 \"host:port\" strings, got 65");
}
END_TEST

START_TEST(test_nul_byte)
{
	static const char json[] = "{\"event\": \"ep\0oll\"}";
	struct warren_error err;

	ck_assert_str_eq(parse_fail_n(json, sizeof(json) - 1, &err),
			 "line 1, column 14: NUL byte (not allowed in JSON text)");
	/* A NUL after the object is not an end of input either. */
	ck_assert_str_eq(parse_fail_n("{}\0{}", 5, &err),
			 "line 1, column 3: NUL byte (not allowed in JSON text)");
	ck_assert_str_eq(parse_fail_n("{\n\"\xc3\xa9\": \0}", 9, &err),
			 "line 2, column 6: NUL byte (not allowed in JSON text)");
}
END_TEST

START_TEST(test_deep_nesting)
{
	size_t depth = 100000, i;
	struct warren_error err;
	struct config *cfg;
	char *json = malloc(depth * 2 + 64);
	size_t o;

	ck_assert_ptr_nonnull(json);
	memset(json, '[', depth);
	memset(json + depth, ']', depth);
	ck_assert_str_eq(parse_fail_n(json, depth * 2, &err),
			 "line 1, column 2049: maximum parsing depth reached near '['");

	/* Nesting within jansson's limit inside a route config is accepted and freed. */
	o = (size_t)sprintf(json, "{\"routes\": [{\"handler\": \"a.b\", \"config\": {\"x\": ");
	for (i = 0; i < 1000; i++)
		json[o++] = '[';
	for (i = 0; i < 1000; i++)
		json[o++] = ']';
	strcpy(json + o, "}}]}");
	cfg = parse_ok(json);
	ck_assert(json_is_array(json_object_get(cfg->routes[0].config, "x")));
	config_free(cfg);
	free(json);
}
END_TEST

/* ---- Valid configs ------------------------------------------------------------------ */

static void assert_v4(const struct listen_conf *l, const char *text, const char *ip, unsigned port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&l->addr;
	struct in_addr want;

	ck_assert_str_eq(l->text, text);
	ck_assert_int_eq(inet_pton(AF_INET, ip, &want), 1);
	ck_assert_uint_eq(l->addrlen, sizeof(struct sockaddr_in));
	ck_assert_int_eq(sin->sin_family, AF_INET);
	ck_assert_uint_eq(sin->sin_addr.s_addr, want.s_addr);
	ck_assert_uint_eq(ntohs(sin->sin_port), port);
}

static void assert_v6(const struct listen_conf *l, const char *text, const char *ip, unsigned port)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&l->addr;
	struct in6_addr want;

	ck_assert_str_eq(l->text, text);
	ck_assert_int_eq(inet_pton(AF_INET6, ip, &want), 1);
	ck_assert_uint_eq(l->addrlen, sizeof(struct sockaddr_in6));
	ck_assert_int_eq(sin6->sin6_family, AF_INET6);
	ck_assert_mem_eq(&sin6->sin6_addr, &want, sizeof(want));
	ck_assert_uint_eq(ntohs(sin6->sin6_port), port);
}

START_TEST(test_full_config)
{
	struct config *cfg = parse_ok(
		"{\n"
		"  \"listen\": [\"127.0.0.1:8080\", \"[::1]:8443\", \"*:0\", \"localhost:9000\"],\n"
		"  \"workers\": 4,\n"
		"  \"event\": \"epoll\",\n"
		"  \"log_level\": \"debug\",\n"
		"  \"http\": { \"max_body_size\": 0, \"max_header_size\": 1024,\n"
		"            \"keepalive_timeout\": 2.5, \"header_timeout\": 0.0001 },\n"
		"  \"modules\": [\n"
		"    { \"name\": \"hello\", \"path\": \"build/plugins/hello.so\",\n"
		"      \"config\": { \"greeting\": \"hi\" } },\n"
		"    { \"name\": \"static_2\" }\n"
		"  ],\n"
		"  \"routes\": [\n"
		"    { \"match\": { \"path\": \"/users/:id\", \"method\": [\"GET\", \"POST\"] },\n"
		"      \"handler\": \"hello.greet\", \"config\": { \"text\": \"Hello\", \"n\": 3 } },\n"
		"    { \"match\": { \"method\": \"M-SEARCH\" }, \"handler\": \"x.y\" },\n"
		"    { \"handler\": \"static.files\" }\n"
		"  ]\n"
		"}\n");

	ck_assert_str_eq(cfg->file, "test.json");
	ck_assert(json_is_object(cfg->root));

	ck_assert_uint_eq(cfg->nlisten, 4);
	assert_v4(&cfg->listen[0], "127.0.0.1:8080", "127.0.0.1", 8080);
	assert_v6(&cfg->listen[1], "[::1]:8443", "::1", 8443);
	assert_v4(&cfg->listen[2], "*:0", "0.0.0.0", 0);
	assert_v4(&cfg->listen[3], "localhost:9000", "127.0.0.1", 9000);

	ck_assert_uint_eq(cfg->workers, 4);
	ck_assert_int_eq(cfg->event, EVENT_EPOLL);
	ck_assert_int_eq(cfg->log_level, WARREN_LOG_DEBUG);
	ck_assert_uint_eq(cfg->max_body_size, 0);
	ck_assert_uint_eq(cfg->max_header_size, 1024);
	ck_assert_uint_eq(cfg->keepalive_timeout_ms, 2500);
	ck_assert_uint_eq(cfg->header_timeout_ms, 1);

	ck_assert_uint_eq(cfg->nmodules, 2);
	ck_assert_str_eq(cfg->modules[0].name, "hello");
	ck_assert_str_eq(cfg->modules[0].path, "build/plugins/hello.so");
	ck_assert_str_eq(json_string_value(json_object_get(cfg->modules[0].config, "greeting")),
			 "hi");
	ck_assert_str_eq(cfg->modules[1].name, "static_2");
	ck_assert_ptr_null(cfg->modules[1].path);
	ck_assert(json_is_object(cfg->modules[1].config));
	ck_assert_uint_eq(json_object_size(cfg->modules[1].config), 0);

	ck_assert_uint_eq(cfg->nroutes, 3);
	ck_assert_str_eq(cfg->routes[0].path, "/users/:id");
	ck_assert_uint_eq(cfg->routes[0].methods,
			  (UINT64_C(1) << HTTP_GET) | (UINT64_C(1) << HTTP_POST));
	ck_assert_str_eq(cfg->routes[0].handler, "hello.greet");
	ck_assert_str_eq(json_string_value(json_object_get(cfg->routes[0].config, "text")),
			 "Hello");
	ck_assert_int_eq(json_integer_value(json_object_get(cfg->routes[0].config, "n")), 3);

	ck_assert_str_eq(cfg->routes[1].path, "/*");
	ck_assert_uint_eq(cfg->routes[1].methods, UINT64_C(1) << HTTP_MSEARCH);
	ck_assert_str_eq(cfg->routes[1].handler, "x.y");
	ck_assert(json_is_object(cfg->routes[1].config));
	ck_assert_uint_eq(json_object_size(cfg->routes[1].config), 0);

	ck_assert_str_eq(cfg->routes[2].path, "/*");
	ck_assert_uint_eq(cfg->routes[2].methods, 0);
	ck_assert_str_eq(cfg->routes[2].handler, "static.files");
	config_free(cfg);
}
END_TEST

START_TEST(test_process_keys)
{
	struct config *cfg = parse_ok(
		"{\"listen\": [{\"address\": \"127.0.0.1:0\", \"reuseport\": true, \"backlog\": 100,"
		" \"defer_accept\": true}, \"unix:/tmp/w.sock\", {\"address\": \"[::1]:0\"}],"
		" \"cpu_affinity\": \"auto\", \"shutdown_timeout\": 2.5, \"pid_file\": \"/tmp/p\","
		" \"log_file\": \"/tmp/l\", \"recover\": {\"max\": 3, \"window\": 1}}");

	ck_assert_uint_eq(cfg->nlisten, 3);
	ck_assert(cfg->listen[0].reuseport);
	ck_assert(cfg->listen[0].defer_accept);
	ck_assert_int_eq(cfg->listen[0].backlog, 100);
	ck_assert_int_eq(cfg->listen[1].addr.ss_family, AF_UNIX);
	ck_assert_str_eq(((struct sockaddr_un *)&cfg->listen[1].addr)->sun_path, "/tmp/w.sock");
	ck_assert_str_eq(cfg->listen[1].text, "unix:/tmp/w.sock");
	ck_assert_int_eq(cfg->listen[1].backlog, CONFIG_DEFAULT_BACKLOG);
	ck_assert_int_eq(cfg->listen[2].addr.ss_family, AF_INET6);
	ck_assert(!cfg->listen[2].reuseport);
	ck_assert(cfg->cpu_affinity);
	ck_assert_uint_eq(cfg->shutdown_timeout_ms, 2500);
	ck_assert_str_eq(cfg->pid_file, "/tmp/p");
	ck_assert_str_eq(cfg->log_file, "/tmp/l");
	ck_assert_uint_eq(cfg->recover_max, 3);
	ck_assert_uint_eq(cfg->recover_window_ms, 1000);
	config_free(cfg);
	cfg = parse_ok("{\"watchdog\": {\"warn\": 0.25, \"kill\": 0}}");
	ck_assert_uint_eq(cfg->watchdog_warn_ms, 250);
	ck_assert_uint_eq(cfg->watchdog_kill_ms, 0);
	config_free(cfg);
	cfg = parse_ok("{\"cpu_affinity\": false}");
	ck_assert(!cfg->cpu_affinity);
	ck_assert(!cfg->zones_recreate);
	config_free(cfg);
	cfg = parse_ok("{\"shared_zones\": {\"on_change\": \"recreate\"}}");
	ck_assert(cfg->zones_recreate);
	config_free(cfg);
	cfg = parse_ok("{\"shared_zones\": {\"on_change\": \"refuse\"}}");
	ck_assert(!cfg->zones_recreate);
	config_free(cfg);
}
END_TEST

START_TEST(test_defaults)
{
	struct config *cfg = parse_ok("{}");

	ck_assert_uint_eq(cfg->nlisten, 1);
	assert_v4(&cfg->listen[0], "127.0.0.1:8080", "127.0.0.1", 8080);
	ck_assert_uint_eq(cfg->workers, 0);
	ck_assert_int_eq(cfg->event, EVENT_AUTO);
	ck_assert_int_eq(cfg->log_level, WARREN_LOG_INFO);
	ck_assert_uint_eq(cfg->max_body_size, CONFIG_DEFAULT_MAX_BODY_SIZE);
	ck_assert_uint_eq(cfg->max_header_size, CONFIG_DEFAULT_MAX_HEADER_SIZE);
	ck_assert_uint_eq(cfg->keepalive_timeout_ms, CONFIG_DEFAULT_KEEPALIVE_TIMEOUT_MS);
	ck_assert_uint_eq(cfg->header_timeout_ms, CONFIG_DEFAULT_HEADER_TIMEOUT_MS);
	ck_assert_uint_eq(cfg->nmodules, 0);
	ck_assert_ptr_null(cfg->modules);
	ck_assert_uint_eq(cfg->nroutes, 0);
	ck_assert_ptr_null(cfg->routes);
	ck_assert_str_eq(cfg->file, "test.json");
	ck_assert(!cfg->listen[0].reuseport);
	ck_assert(!cfg->listen[0].defer_accept);
	ck_assert_int_eq(cfg->listen[0].backlog, CONFIG_DEFAULT_BACKLOG);
	ck_assert(!cfg->cpu_affinity);
	ck_assert_uint_eq(cfg->shutdown_timeout_ms, CONFIG_DEFAULT_SHUTDOWN_TIMEOUT_MS);
	ck_assert_uint_eq(cfg->recover_max, CONFIG_DEFAULT_RECOVER_MAX);
	ck_assert_uint_eq(cfg->recover_window_ms, CONFIG_DEFAULT_RECOVER_WINDOW_MS);
	ck_assert_uint_eq(cfg->watchdog_warn_ms, CONFIG_DEFAULT_WATCHDOG_WARN_MS);
	ck_assert_uint_eq(cfg->watchdog_kill_ms, CONFIG_DEFAULT_WATCHDOG_KILL_MS);
	ck_assert_ptr_null(cfg->pid_file);
	ck_assert_ptr_null(cfg->log_file);
	config_free(cfg);

	/* Empty sections and an empty http object keep the defaults too. */
	cfg = parse_ok("{\"modules\": [], \"routes\": [], \"http\": {}, \"event\": \"auto\"}");
	ck_assert_uint_eq(cfg->nmodules, 0);
	ck_assert_uint_eq(cfg->nroutes, 0);
	ck_assert_uint_eq(cfg->max_header_size, CONFIG_DEFAULT_MAX_HEADER_SIZE);
	ck_assert_int_eq(cfg->event, EVENT_AUTO);
	config_free(cfg);
}
END_TEST

START_TEST(test_origin_default)
{
	struct warren_error err = {{0}};
	struct config *cfg = NULL;

	ck_assert_int_eq(config_parse("{}", 2, NULL, &cfg, &err), 0);
	ck_assert_str_eq(cfg->file, "<string>");
	config_free(cfg);
}
END_TEST

START_TEST(test_workers)
{
	struct config *cfg;

	cfg = parse_ok("{\"workers\": \"auto\"}");
	ck_assert_uint_eq(cfg->workers, 0);
	config_free(cfg);
	cfg = parse_ok("{\"workers\": 1}");
	ck_assert_uint_eq(cfg->workers, 1);
	config_free(cfg);
	cfg = parse_ok("{\"workers\": 1024}");
	ck_assert_uint_eq(cfg->workers, 1024);
	config_free(cfg);
}
END_TEST

START_TEST(test_log_levels)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	static const enum warren_log_level levels[] = {WARREN_LOG_ERROR, WARREN_LOG_WARN,
						       WARREN_LOG_INFO, WARREN_LOG_DEBUG};
	struct config *cfg;
	char json[64];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(json, sizeof(json), "{\"log_level\": \"%s\"}", names[i]);
		cfg = parse_ok(json);
		ck_assert_int_eq(cfg->log_level, levels[i]);
		config_free(cfg);
	}
}
END_TEST

START_TEST(test_timeouts)
{
	struct config *cfg;

	/* keep-alive 0 disables it; integral seconds; upper bounds are inclusive. */
	cfg = parse_ok("{\"http\": {\"keepalive_timeout\": 0, \"header_timeout\": 86400,"
		       " \"max_body_size\": 2147483647, \"max_header_size\": 1048576}}");
	ck_assert_uint_eq(cfg->keepalive_timeout_ms, 0);
	ck_assert_uint_eq(cfg->header_timeout_ms, 86400000);
	ck_assert_uint_eq(cfg->max_body_size, 2147483647);
	ck_assert_uint_eq(cfg->max_header_size, 1048576);
	config_free(cfg);

	/* Fractions round to the nearest millisecond without float noise. */
	cfg = parse_ok("{\"http\": {\"keepalive_timeout\": 1.1, \"header_timeout\": 0.0015}}");
	ck_assert_uint_eq(cfg->keepalive_timeout_ms, 1100);
	ck_assert_uint_eq(cfg->header_timeout_ms, 2);
	config_free(cfg);

	cfg = parse_ok("{\"http\": {\"keepalive_timeout\": 86400.0, \"header_timeout\": 5}}");
	ck_assert_uint_eq(cfg->keepalive_timeout_ms, 86400000);
	ck_assert_uint_eq(cfg->header_timeout_ms, 5000);
	config_free(cfg);
}
END_TEST

START_TEST(test_ipv6_and_port_zero)
{
	struct config *cfg =
		parse_ok("{\"listen\": [\"[::]:0\", \"[::]:0\", \"[2001:db8::1]:65535\","
			 " \"[::ffff:127.0.0.1]:80\", \"0.0.0.0:0\", \"*:0\"]}");

	ck_assert_uint_eq(cfg->nlisten, 6);
	assert_v6(&cfg->listen[0], "[::]:0", "::", 0);
	assert_v6(&cfg->listen[1], "[::]:0", "::", 0);
	assert_v6(&cfg->listen[2], "[2001:db8::1]:65535", "2001:db8::1", 65535);
	assert_v6(&cfg->listen[3], "[::ffff:127.0.0.1]:80", "::ffff:127.0.0.1", 80);
	assert_v4(&cfg->listen[4], "0.0.0.0:0", "0.0.0.0", 0);
	assert_v4(&cfg->listen[5], "*:0", "0.0.0.0", 0);
	config_free(cfg);
}
END_TEST

START_TEST(test_parse_address)
{
	struct sockaddr_storage ss;
	struct warren_error err;
	socklen_t len;

	ck_assert_int_eq(address_parse("10.1.2.3:00080", &ss, &len, &err), 0);
	ck_assert_uint_eq(len, sizeof(struct sockaddr_in));
	ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&ss)->sin_port), 80);
	ck_assert_uint_eq(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr), 0x0a010203);

	ck_assert_int_eq(address_parse("[fe80::1]:1", &ss, &len, &err), 0);
	ck_assert_uint_eq(len, sizeof(struct sockaddr_in6));
	ck_assert_int_eq(ss.ss_family, AF_INET6);

	/* Errors carry no JSON path: the caller adds it. */
	memset(&err, 0, sizeof(err));
	ck_assert_int_eq(address_parse("localhost", &ss, &len, &err), -EINVAL);
	ck_assert_str_eq(err.msg,
			 "\"localhost\" has no port (expected host:port, e.g. 127.0.0.1:8080)");
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(address_parse("", &ss, &len, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "\"\" has no port (expected host:port, e.g. 127.0.0.1:8080)");
	ck_assert_int_eq(address_parse("1.2.3.4:65536", &ss, &len, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "port \"65536\" out of range (0-65535)");
	ck_assert_int_eq(address_parse("01.2.3.4:80", &ss, &len, &err), -EINVAL);
	ck_assert_str_eq(err.msg,
			 "\"01.2.3.4:80\": not an IPv4 address, [IPv6] literal, * or localhost");
	ck_assert_int_eq(address_parse("[::1]x80", &ss, &len, &err), -EINVAL);
	ck_assert_str_eq(err.msg,
			 "\"[::1]x80\" has no port (expected [IPv6]:port, e.g. [::1]:8080)");
	ck_assert_int_eq(address_parse("[fe80::1%eth0]:80", &ss, &len, &err), -EINVAL);
	ck_assert_str_eq(err.msg,
			 "\"[fe80::1%eth0]:80\": \"fe80::1%eth0\" is not a numeric IPv6 address");
}
END_TEST

/* Absent: "warren"; a string is used as it is; false sends none. */
START_TEST(test_server_header)
{
	struct config *cfg = parse_ok("{}");

	ck_assert_str_eq(cfg->server_header, "warren");
	config_free(cfg);
	cfg = parse_ok("{\"http\": {\"server_header\": \"shop/2.1 (linux)\"}}");
	ck_assert_str_eq(cfg->server_header, "shop/2.1 (linux)");
	config_free(cfg);
	cfg = parse_ok("{\"http\": {\"server_header\": false}}");
	ck_assert_ptr_null(cfg->server_header);
	config_free(cfg);
}
END_TEST

/* A route without max_body_size takes http.max_body_size (SIZE_MAX until the router). */
START_TEST(test_route_max_body_size)
{
	struct config *cfg = parse_ok("{\"http\": {\"max_body_size\": 100}, \"routes\": ["
				      "{\"match\": {\"path\": \"/a\"}, \"handler\": \"a.b\"},"
				      "{\"match\": {\"path\": \"/b\"}, \"handler\": \"a.b\","
				      " \"max_body_size\": 0},"
				      "{\"handler\": \"a.b\", \"max_body_size\": 2147483647}]}");

	ck_assert_uint_eq(cfg->max_body_size, 100);
	ck_assert_uint_eq(cfg->nroutes, 3);
	ck_assert_uint_eq(cfg->routes[0].max_body_size, SIZE_MAX);
	ck_assert_uint_eq(cfg->routes[1].max_body_size, 0);
	ck_assert_uint_eq(cfg->routes[2].max_body_size, 2147483647);
	config_free(cfg);
}
END_TEST

START_TEST(test_methods_mask)
{
	struct config *cfg;
	char json[512];
	int m;

	/* Every http-parser method name is accepted and maps to its own bit. */
	for (m = HTTP_DELETE; m <= HTTP_SOURCE; m++) {
		snprintf(json, sizeof(json),
			 "{\"routes\": [{\"match\": {\"method\": \"%s\"}, \"handler\": \"a.b\"}]}",
			 http_method_str((enum http_method)m));
		cfg = parse_ok(json);
		ck_assert_uint_eq(cfg->routes[0].methods, UINT64_C(1) << m);
		config_free(cfg);
	}

	cfg = parse_ok("{\"routes\": [{\"match\": {\"method\": [\"DELETE\", \"SOURCE\", \"HEAD\"]},"
		       " \"handler\": \"a.b\"}, {\"match\": {}, \"handler\": \"c.d\"}]}");
	ck_assert_uint_eq(cfg->routes[0].methods, (UINT64_C(1) << HTTP_DELETE) |
							  (UINT64_C(1) << HTTP_SOURCE) |
							  (UINT64_C(1) << HTTP_HEAD));
	ck_assert_uint_eq(cfg->routes[1].methods, 0);
	ck_assert_str_eq(cfg->routes[1].path, "/*");
	config_free(cfg);
}
END_TEST

START_TEST(test_config_objects_reachable)
{
	struct config *cfg = parse_ok(
		"{\"modules\": [{\"name\": \"counter\", \"config\": {\"zone\": {\"size\": 4096}}}],"
		" \"routes\": [{\"match\": {\"path\": \"/files/*\"}, \"handler\": \"static.files\","
		" \"config\": {\"root\": \"www\", \"index\": [\"index.html\"]}}]}");
	json_t *zone, *index;

	zone = json_object_get(cfg->modules[0].config, "zone");
	ck_assert_int_eq(json_integer_value(json_object_get(zone, "size")), 4096);
	ck_assert_str_eq(json_string_value(json_object_get(cfg->routes[0].config, "root")), "www");
	index = json_object_get(cfg->routes[0].config, "index");
	ck_assert_str_eq(json_string_value(json_array_get(index, 0)), "index.html");
	ck_assert_str_eq(cfg->routes[0].path, "/files/*");

	/* The borrowed objects are the ones inside the root. */
	ck_assert_ptr_eq(
		cfg->routes[0].config,
		json_object_get(json_array_get(json_object_get(cfg->root, "routes"), 0), "config"));
	config_free(cfg);
}
END_TEST

START_TEST(test_free_null)
{
	config_free(NULL);
}
END_TEST

/* ---- Files -------------------------------------------------------------------------- */

START_TEST(test_load_missing_file)
{
	struct warren_error err = {{0}};
	struct config *cfg = (struct config *)1;

	ck_assert_int_eq(config_load_file("/nonexistent/warren.json", &cfg, &err), -ENOENT);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(err.msg,
			 "cannot read \"/nonexistent/warren.json\": No such file or directory");
}
END_TEST

START_TEST(test_load_directory)
{
	struct warren_error err = {{0}};
	struct config *cfg = NULL;

	ck_assert_int_eq(config_load_file("/", &cfg, &err), -EISDIR);
	ck_assert_str_eq(err.msg, "cannot read \"/\": Is a directory");
}
END_TEST

static void write_temp(char *path, const char *text, off_t size)
{
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	if (text)
		ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	else
		ck_assert_int_eq(ftruncate(fd, size), 0);
	close(fd);
}

START_TEST(test_load_file)
{
	char path[] = "/tmp/warren-test-config-XXXXXX";
	struct warren_error err = {{0}};
	struct config *cfg = NULL;
	int ret;

	write_temp(path, "{\"workers\": 3, \"routes\": [{\"handler\": \"hello.greet\"}]}", 0);
	ret = config_load_file(path, &cfg, &err);
	unlink(path);
	ck_assert_msg(ret == 0, "%s", err.msg);
	ck_assert_str_eq(cfg->file, path);
	ck_assert_uint_eq(cfg->workers, 3);
	ck_assert_str_eq(cfg->routes[0].handler, "hello.greet");
	config_free(cfg);
}
END_TEST

START_TEST(test_load_bad_file)
{
	char path[] = "/tmp/warren-test-config-XXXXXX";
	struct warren_error err = {{0}};
	struct config *cfg = NULL;
	int ret;

	write_temp(path, "{\n  \"workers\": \"many\"\n}\n", 0);
	ret = config_load_file(path, &cfg, &err);
	unlink(path);
	ck_assert_int_eq(ret, -EINVAL);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(err.msg, "workers: expected a positive integer or \"auto\", got string "
				  "\"many\"");
}
END_TEST

START_TEST(test_load_too_large)
{
	char path[] = "/tmp/warren-test-config-XXXXXX";
	char want[128];
	struct warren_error err = {{0}};
	struct config *cfg = NULL;
	int ret;

	write_temp(path, NULL, 16 * 1024 * 1024 + 1);
	ret = config_load_file(path, &cfg, &err);
	unlink(path);
	ck_assert_int_eq(ret, -EFBIG);
	ck_assert_ptr_null(cfg);
	snprintf(want, sizeof(want), "cannot read \"%s\": larger than 16 MiB", path);
	ck_assert_str_eq(err.msg, want);
}
END_TEST

/* Writes @text to @dir/@name. */
static void write_at(const char *dir, const char *name, const char *text)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* Relative paths name files next to the config, not in the current directory. */
START_TEST(test_load_resolves_relative_paths)
{
	char dir[] = "/tmp/warren-test-dir-XXXXXX", path[256], want[256], cwd[4096];
	struct warren_error err = {{0}};
	const struct sockaddr_un *sun;
	struct config *cfg = NULL;
	int ret;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	write_at(dir, "w.json",
		 "{\"listen\": [\"unix:run/w.sock\", \"unix:/abs/w.sock\"],"
		 " \"pid_file\": \"run/w.pid\", \"log_file\": \"../w.log\","
		 " \"modules\": [{\"name\": \"a\", \"path\": \"plugins/a.so\"},"
		 " {\"name\": \"b\", \"path\": \"/lib/b.so\"}]}");
	/* From another directory, through a relative config path. */
	ck_assert_int_eq(chdir("/tmp"), 0);
	snprintf(path, sizeof(path), "%s/w.json", dir + strlen("/tmp/"));
	ret = config_load_file(path, &cfg, &err);
	ck_assert_int_eq(chdir(cwd), 0);
	snprintf(path, sizeof(path), "%s/w.json", dir);
	unlink(path);
	rmdir(dir);
	ck_assert_msg(ret == 0, "%s", err.msg);

	snprintf(want, sizeof(want), "%s/run/w.pid", dir);
	ck_assert_str_eq(cfg->pid_file, want);
	snprintf(want, sizeof(want), "%s/../w.log", dir);
	ck_assert_str_eq(cfg->log_file, want);
	snprintf(want, sizeof(want), "%s/plugins/a.so", dir);
	ck_assert_str_eq(cfg->modules[0].path, want);
	ck_assert_str_eq(cfg->modules[1].path, "/lib/b.so");
	sun = (const struct sockaddr_un *)&cfg->listen[0].addr;
	snprintf(want, sizeof(want), "%s/run/w.sock", dir);
	ck_assert_str_eq(sun->sun_path, want);
	ck_assert_uint_eq(cfg->listen[0].addrlen,
			  offsetof(struct sockaddr_un, sun_path) + strlen(want) + 1);
	ck_assert_str_eq(cfg->listen[0].text, "unix:run/w.sock");
	sun = (const struct sockaddr_un *)&cfg->listen[1].addr;
	ck_assert_str_eq(sun->sun_path, "/abs/w.sock");
	config_free(cfg);
}
END_TEST

/* Loads @json from @dir/c.json and returns the error message (the load must fail). */
static void load_fail_at(const char *dir, const char *json, const char *want)
{
	struct warren_error err = {{0}};
	struct config *cfg = (struct config *)1;
	char path[256];

	write_at(dir, "c.json", json);
	snprintf(path, sizeof(path), "%s/c.json", dir);
	ck_assert_int_eq(config_load_file(path, &cfg, &err), -EINVAL);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(err.msg, want);
}

/* The pid file is deleted at exit: it must not be the log or the config, by any name. */
START_TEST(test_load_pid_file_collisions)
{
	char dir[] = "/tmp/warren-test-dir-XXXXXX", path[256], want[512], sub[300];
	char longname[200];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	ck_assert_int_eq(mkdir(sub, 0755), 0);

	snprintf(want, sizeof(want), "pid_file: \"%s/sub/../w.log\" is also the log_file", dir);
	load_fail_at(dir, "{\"pid_file\": \"sub/../w.log\", \"log_file\": \"w.log\"}", want);
	/* Once the file exists, the same inode by another name (a link) is caught too. */
	write_at(dir, "w.log", "");
	snprintf(path, sizeof(path), "%s/w.log", dir);
	snprintf(want, sizeof(want), "%s/link.log", dir);
	ck_assert_int_eq(symlink(path, want), 0);
	snprintf(want, sizeof(want), "pid_file: \"%s/link.log\" is also the log_file", dir);
	load_fail_at(dir, "{\"pid_file\": \"link.log\", \"log_file\": \"w.log\"}", want);
	snprintf(want, sizeof(want), "pid_file: \"%s/./c.json\" is the configuration file itself",
		 dir);
	load_fail_at(dir, "{\"pid_file\": \"./c.json\"}", want);

	/* A relative unix socket that grows too long once resolved. */
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	longname[100] = '\0';
	snprintf(path, sizeof(path), "{\"listen\": [\"unix:%s\"]}", longname);
	snprintf(want, sizeof(want), "listen[0]: socket path \"%s/%s\" longer than 107 bytes", dir,
		 longname);
	load_fail_at(dir, path, want);

	snprintf(path, sizeof(path), "%s/c.json", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/w.log", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/link.log", dir);
	unlink(path);
	rmdir(sub);
	rmdir(dir);
}
END_TEST

/* ---- Routes that can never match: warnings, not errors ------------------------------- */

#define R(path, method) "{\"match\": {\"path\": \"" path "\"" method "}, \"handler\": \"m.h\"}"
#define GET ", \"method\": \"GET\""
#define ANY ""
#define DECLINES ", unless its handler declines"

static const struct unreachable_case {
	const char *routes;   /* the JSON array's elements */
	const char *warnings; /* one per line, "" when none */
} unreachable_cases[] = {
	/* Identical, and a method subset (a GET route answers HEAD too). */
	{R("/a", GET) "," R("/a", GET),
	 "routes[1] can never match: routes[0] (\"/a\", GET) matches first" DECLINES},
	{R("/a", GET) "," R("/a", ", \"method\": [\"HEAD\", \"GET\"]"),
	 "routes[1] can never match: routes[0] (\"/a\", GET) matches first" DECLINES},
	{R("/a", ", \"method\": [\"GET\", \"POST\"]") "," R("/a", ", \"method\": \"POST\""),
	 "routes[1] can never match: routes[0] (\"/a\", GET, POST) matches first" DECLINES},
	/* A catch-all (also the default match) first. */
	{"{\"handler\": \"m.h\"}," R("/a/:b", GET),
	 "routes[1] can never match: routes[0] (\"/*\", any method) matches first" DECLINES},
	{R("/s/*", ANY) "," R("/s", ANY) "," R("/s/x/*", GET) "," R("/s/:x", ANY),
	 "routes[1] can never match: routes[0] (\"/s/*\", any method) matches first" DECLINES
	 "\nroutes[2] can never match: routes[0] (\"/s/*\", any method) matches first" DECLINES
	 "\nroutes[3] can never match: routes[0] (\"/s/*\", any method) matches first" DECLINES},
	{R("/u/:id", ANY) "," R("/u/me", GET),
	 "routes[1] can never match: routes[0] (\"/u/:id\", any method) matches first" DECLINES},
	/* Paths no request has. */
	{R("/a?b=1", ANY),
	 "routes[0] can never match: match.path \"/a?b=1\": '?' starts the query string, which is "
	 "not part of the path"},
	{R("/caf\\u00e9", ANY) "," R("/a b", ANY),
	 "routes[0] can never match: match.path \"/caf\xc3\xa9\": a request path never holds "
	 "spaces, control bytes or raw non-ASCII bytes (clients percent-encode them; paths are "
	 "compared as received)\n"
	 "routes[1] can never match: match.path \"/a b\": a request path never holds spaces, "
	 "control bytes or raw non-ASCII bytes (clients percent-encode them; paths are compared "
	 "as received)"},
	/* Reachable: narrower first, other methods, a shorter prefix stem, the root alone. */
	{R("/u/me", ANY) "," R("/u/:id", ANY) "," R("/a", GET) "," R("/a", ", \"method\": \"POST\"") "," R("/a", ANY) "," R(
		 "/s/:x",
		 ANY) "," R("/s/*",
			    ANY) "," R("/",
				       ANY) "," R("/u/:id/*",
						  ANY) "," R("/t/x/:y/z",
							     ANY) "," R("/t/*",
									ANY) "," R("/v/:a",
										   ANY) "," R("/v/:a/b",
											      ANY) "," R("/*",
													 ANY),
	 ""},
};

START_TEST(test_unreachable_routes)
{
	const struct unreachable_case *c = &unreachable_cases[_i];
	char json[2048], got[2048] = "";
	struct config *cfg;
	size_t o = 0;

	snprintf(json, sizeof(json), "{\"routes\": [%s]}", c->routes);
	cfg = parse_ok(json);
	for (size_t i = 0; i < cfg->nwarnings; i++)
		o += (size_t)snprintf(got + o, sizeof(got) - o, "%s%s", i ? "\n" : "",
				      cfg->warnings[i]);
	ck_assert_str_eq(got, c->warnings);
	config_free(cfg);
}
END_TEST

#undef R
#undef GET
#undef ANY
#undef DECLINES

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_bad_config, 0, (int)ARRAY_SIZE(bad_cases));
	tcase_add_test(tc, test_bad_route_path);
	tcase_add_test(tc, test_too_many_listen);
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_deep_nesting);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_test(tc, test_full_config);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_process_keys);
	tcase_add_test(tc, test_origin_default);
	tcase_add_test(tc, test_workers);
	tcase_add_test(tc, test_log_levels);
	tcase_add_test(tc, test_timeouts);
	tcase_add_test(tc, test_ipv6_and_port_zero);
	tcase_add_test(tc, test_parse_address);
	tcase_add_test(tc, test_methods_mask);
	tcase_add_test(tc, test_server_header);
	tcase_add_test(tc, test_route_max_body_size);
	tcase_add_test(tc, test_config_objects_reachable);
	tcase_add_test(tc, test_free_null);
	tcase_add_loop_test(tc, test_unreachable_routes, 0, (int)ARRAY_SIZE(unreachable_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_test(tc, test_load_missing_file);
	tcase_add_test(tc, test_load_directory);
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_load_bad_file);
	tcase_add_test(tc, test_load_too_large);
	tcase_add_test(tc, test_load_resolves_relative_paths);
	tcase_add_test(tc, test_load_pid_file_collisions);
	suite_add_tcase(s, tc);

	return s;
}

CHECK_MAIN(config_suite)

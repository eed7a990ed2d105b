/* tests/integration/test_modules.c - module loading through the real binary: ABI checks,
 * unresolvable symbols, failing init, handler resolution errors, and the order and process
 * of every lifecycle hook. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <warren/version.h>

#include "check_main.h"
#include "harness.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define ABI STR(WARREN_ABI_MAJOR) "." STR(WARREN_ABI_MINOR)

/* Writes @members as the config, runs warren -t on it and returns the result. */
static void check_config(struct wt_server *s, struct wt_run *run, const char *members)
{
	char *json = strdup(members);

	/* The harness turns ' into " in its format only, not in arguments. */
	for (char *p = json; *p; p++)
		if (*p == '\'')
			*p = '"';
	wt_init(s);
	wt_config(s, "%s", json);
	free(json);
	ck_assert_int_eq(wt_run_warren(run, WT_TIMEOUT_MS, "-t", "-c", s->conf, (char *)NULL), 0);
}

/* Asserts that warren -t refuses @members with exactly "warren: CONF: @expected\n". */
static void assert_refused(const char *members, const char *expected_fmt)
{
	struct wt_server s;
	struct wt_run run;
	char want[2048], expected[1024];

	check_config(&s, &run, members);
	snprintf(expected, sizeof(expected), expected_fmt, wt_plugin_dir());
	snprintf(want, sizeof(want), "warren: %s: %s\n", s.conf, expected);
	ck_assert_int_eq(run.status, 1);
	ck_assert_str_eq(run.err, want);
	wt_run_free(&run);
	wt_cleanup(&s);
}

START_TEST(other_abi_major_is_refused)
{
	char want[512];

	snprintf(want, sizeof(want),
		 "modules[0].path: \"%%s/abi_major.so\" was built for warren ABI %d.0, but this "
		 "warren " WARREN_VERSION " has ABI " ABI
		 ": rebuild it against warren " WARREN_VERSION " headers",
		 WARREN_ABI_MAJOR + 1);
	assert_refused("'modules': [{'name': 'abi_major', 'path': '@PLUGIN_DIR@/abi_major.so'}]",
		       want);
}
END_TEST

START_TEST(newer_abi_minor_is_refused)
{
	char want[512];

	snprintf(want, sizeof(want),
		 "modules[0].path: \"%%s/abi_minor.so\" was built for warren ABI %d.%d, newer than "
		 "this warren " WARREN_VERSION " (ABI " ABI "): upgrade warren or rebuild it "
		 "against warren " WARREN_VERSION " headers",
		 WARREN_ABI_MAJOR, WARREN_ABI_MINOR + 1);
	assert_refused("'modules': [{'name': 'abi_minor', 'path': '@PLUGIN_DIR@/abi_minor.so'}]",
		       want);
}
END_TEST

START_TEST(missing_symbol_fails_at_load)
{
	struct wt_server s;
	struct wt_run run;
	char path[600];

	check_config(&s, &run,
		     "'modules': [{'name': 'missing_symbol', 'path': "
		     "'@PLUGIN_DIR@/missing_symbol.so'}]");
	snprintf(path, sizeof(path), "%s/missing_symbol.so", wt_plugin_dir());
	ck_assert_int_eq(run.status, 1);
	ck_assert_ptr_nonnull(strstr(run.err, "modules[0].path: cannot load module: "));
	ck_assert_ptr_nonnull(strstr(run.err, path));
	ck_assert_ptr_nonnull(strstr(run.err, "undefined symbol: warren_no_such_function"));
	wt_run_free(&run);
	wt_cleanup(&s);
}
END_TEST

START_TEST(missing_file_is_named)
{
	assert_refused("'modules': [{'name': 'hello', 'path': '@PLUGIN_DIR@/nope.so'}]",
		       "modules[0].path: cannot load module: %s/nope.so: cannot open shared object "
		       "file: No such file or directory");
}
END_TEST

START_TEST(not_a_module_is_refused)
{
	assert_refused(
		"'modules': [{'name': 'x', 'path': '@PLUGIN_DIR@/no_descriptor.so'}]",
		"modules[0].path: \"%s/no_descriptor.so\" is not a warren module (it exports "
		"no \"warren_module\"; define one with WARREN_MODULE())");
}
END_TEST

START_TEST(name_must_match_descriptor)
{
	assert_refused("'modules': [{'name': 'other', 'path': '@PLUGIN_DIR@/hello.so'}]",
		       "modules[0].name: \"%s/hello.so\" defines module \"hello\", not \"other\"");
}
END_TEST

START_TEST(init_failure_is_reported)
{
	assert_refused(
		"'modules': [{'name': 'hello', 'path': '@PLUGIN_DIR@/hello.so'},"
		" {'name': 'init_fail', 'path': '@PLUGIN_DIR@/init_fail.so',"
		"  'config': {'a': 1, 'b': 2}}]",
		"modules[1].config: module \"init_fail\" failed to start: needs a \"secret\" "
		"(got 2 keys)");
}
END_TEST

/* The built-in modules as warren --version lists them, comma-separated ("echo"): a build
 * configured with more static modules names them in its errors too. */
static void builtin_list(char *buf, size_t size)
{
	struct wt_run run;
	const char *line;
	size_t n = 0;

	ck_assert_int_eq(wt_run_warren(&run, WT_TIMEOUT_MS, "--version", (char *)NULL), 0);
	line = strstr(run.out, "built-in modules: ");
	ck_assert_ptr_nonnull(line);
	line += strlen("built-in modules: ");
	buf[0] = '\0';
	while (*line && *line != '\n') {
		size_t len = strcspn(line, " \n");

		n += (size_t)snprintf(buf + n, size - n, "%s%.*s", n ? ", " : "", (int)len, line);
		ck_assert_uint_lt(n, size);
		line += len;
		line += *line == ' ';
	}
	wt_run_free(&run);
}

/*
 * A module built against the 0.2 headers loads and serves, and nothing of what 0.3 added
 * is read from it: its descriptor is followed by poison where the request hooks would be,
 * and its handler by bytes that would read as stream_body. A streaming handler would run
 * before the body came and answer at once, instead of letting the 100 Continue go out.
 */
START_TEST(older_abi_minor_loads_and_serves)
{
	static const char head[] = "POST /v02 HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
				   "Expect: 100-continue\r\n\r\n";
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	wt_serve(&s, "'workers': 1, 'modules': [{'name': 'abi_v02', 'path': "
		     "'@PLUGIN_DIR@/abi_v02.so'}], 'routes': [{'match': {'path': '/v02'}, "
		     "'handler': 'abi_v02.greet'}]");
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_sends(&c, head));
	WT_OK(wt_read_response(&c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 100 Continue");
	wt_response_free(&r);
	WT_OK(wt_sends(&c, "hello"));
	WT_OK(wt_read_response(&c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	ck_assert_str_eq(r.body, "0.2 module, body of 5 bytes\n");
	wt_response_free(&r);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/*
 * A module's config key: the top-level value is its config, a route's value is what
 * warren_req_route_conf() gives its code (handler and hooks alike) for requests on that
 * route; a route without the key, and a request without a route, get NULL.
 */
START_TEST(config_key_reaches_module_and_routes)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	wt_serve(&s,
		 "'workers': 1, 'tag': 'site', "
		 "'modules': [{'name': 'route_key', 'path': '@PLUGIN_DIR@/route_key.so'}], "
		 "'routes': [{'match': {'path': '/a'}, 'handler': 'route_key.show', 'tag': 'a'},"
		 " {'match': {'path': '/off'}, 'handler': 'route_key.show', 'tag': false},"
		 " {'match': {'path': '/plain'}, 'handler': 'route_key.show'}]");
	WT_OK(wt_client_open(&c, &s, 0));
	wt_ask(&c, "GET", "/a", "", &r);
	ck_assert_str_eq(r.body, "route tag: a\n");
	ck_assert_str_eq(wt_header(&r, "X-Tag"), "a");
	wt_response_free(&r);
	wt_ask(&c, "GET", "/off", "", &r);
	ck_assert_str_eq(r.body, "route tag: (off)\n");
	wt_response_free(&r);
	wt_ask(&c, "GET", "/plain", "", &r);
	ck_assert_str_eq(r.body, "route tag: (none)\n");
	ck_assert_str_eq(wt_header(&r, "X-Tag"), "site");
	wt_response_free(&r);
	wt_ask(&c, "GET", "/nowhere", "", &r);
	ck_assert_int_eq(r.status, 404);
	ck_assert_str_eq(wt_header(&r, "X-Tag"), "site");
	wt_response_free(&r);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(config_key_mistakes_are_refused)
{
	/* A key no module owns: the modules' keys are among the suggestions. */
	assert_refused("'modules': [{'name': 'route_key', 'path': '@PLUGIN_DIR@/route_key.so'}],"
		       " 'tga': 'x'",
		       "tga: unknown key (did you mean \"tag\"?)");
	assert_refused("'modules': [{'name': 'route_key', 'path': '@PLUGIN_DIR@/route_key.so'}],"
		       " 'routes': [{'match': {'path': '/'}, 'handler': 'route_key.show',"
		       " 'tagg': 'x'}]",
		       "routes[0].tagg: unknown key (did you mean \"tag\"?)");
	/* Without a plugin that could own it, at once, as any unknown key. */
	assert_refused("'tag': 'x', 'routes': []",
		       "tag: unknown key (expected one of: listen, workers, cpu_affinity, "
		       "event, log_level, log_file, pid_file, shutdown_timeout, recover, http, "
		       "modules, routes, offload_threads, worker_connections, watchdog, "
		       "shared_zones)");
	/* Its config in two places. */
	assert_refused("'tag': 'x', 'modules': [{'name': 'route_key', 'path': "
		       "'@PLUGIN_DIR@/route_key.so', 'config': {'a': 1}}]",
		       "modules[0].config: module \"route_key\" takes its config from the "
		       "top-level \"tag\"; give it there only");
	/* The module's refusals point at the key. */
	assert_refused("'modules': [{'name': 'route_key', 'path': '@PLUGIN_DIR@/route_key.so'}],"
		       " 'routes': [{'match': {'path': '/'}, 'handler': 'route_key.show'},"
		       " {'match': {'path': '/x'}, 'handler': 'route_key.show', 'tag': 'fail'}]",
		       "routes[1].tag: expected a string other than \"fail\", or false");
	assert_refused("'tag': 5, 'modules': [{'name': 'route_key', 'path': "
		       "'@PLUGIN_DIR@/route_key.so'}]",
		       "tag: module \"route_key\" failed to start: expected a string");
	/* A key its module takes only at the top level. */
	assert_refused("'limits': {}, 'modules': [{'name': 'top_key', 'path': "
		       "'@PLUGIN_DIR@/top_key.so'}], 'routes': [{'match': {'path': '/'}, "
		       "'handler': 'echo.echo', 'limits': {}}]",
		       "routes[0].limits: module \"top_key\" takes \"limits\" only at the top "
		       "level");
}
END_TEST

/*
 * Every built-in module is also built as a shared object (build/modules/NAME.so); loaded
 * with a "path", it takes the place of the linked-in one and serves the same.
 */
START_TEST(builtin_module_loads_as_a_plugin)
{
	struct wt_server s;
	struct wt_response r;
	char path[64], *maps;
	pid_t worker;

	wt_serve(&s, "'workers': 1, 'modules': [{'name': 'echo', 'path': "
		     "'@PLUGIN_DIR@/../modules/echo.so'}], 'routes': [{'match': {'path': '/e'}, "
		     "'handler': 'echo.echo'}]");
	WT_OK(wt_exchanges(&s, "GET /e?x HTTP/1.1\r\nHost: t\r\n\r\n", &r));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	ck_assert_ptr_nonnull(strstr(r.body, "GET /e?x HTTP/1.1"));
	wt_response_free(&r);
	/* The worker runs the shared object's code (loaded through a copy), not the binary's. */
	ck_assert_uint_eq(wt_workers(&s, &worker, 1), 1);
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)worker);
	maps = wt_read_file(path, NULL);
	ck_assert_ptr_nonnull(maps);
	ck_assert_ptr_nonnull(strstr(maps, "/memfd:echo.so"));
	free(maps);
	wt_stop_ok(&s);
}
END_TEST

/*
 * A module built against the 0.3 headers loads, and its request hooks run as they did:
 * nothing of what 0.4 added is read from its descriptor, which poison follows (a context
 * size no loader accepts, a bad on_reopen). It gets no request context, and its
 * on_complete sees its request answered.
 */
START_TEST(abi_v03_module_loads_and_serves)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	wt_serve(&s, "'workers': 1, 'modules': [{'name': 'abi_v03', 'path': "
		     "'@PLUGIN_DIR@/abi_v03.so'}], 'routes': [{'match': {'path': '/v03'}, "
		     "'handler': 'abi_v03.greet'}]");
	WT_OK(wt_client_open(&c, &s, 0));
	wt_ask(&c, "GET", "/v03", "", &r);
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	ck_assert_str_eq(r.body, "0.3 module\n");
	ck_assert_str_eq(wt_header(&r, "X-V03-Request"), "1");
	ck_assert_str_eq(wt_header(&r, "X-V03-Ctx"), "none");
	wt_response_free(&r);
	wt_ask(&c, "GET", "/nothing", "", &r);
	ck_assert_int_eq(r.status, 404);
	ck_assert_str_eq(wt_header(&r, "X-V03-Ctx"), "none");
	wt_response_free(&r);
	wt_client_close(&c);
	WT_OK(wt_wait_log(&s, "abi_v03: complete /v03 status=200 aborted=0\n", WT_TIMEOUT_MS));
	WT_OK(wt_wait_log(&s, "abi_v03: complete /nothing status=404 aborted=0\n", WT_TIMEOUT_MS));
	wt_stop_ok(&s);
}
END_TEST

START_TEST(oversized_request_ctx_is_refused)
{
	assert_refused("'modules': [{'name': 'ctx_oversized', 'path': "
		       "'@PLUGIN_DIR@/ctx_oversized.so'}]",
		       "modules[0].path: \"%s/ctx_oversized.so\" asks for 1048576 bytes of "
		       "request context (request_ctx_size); the most is 65536");
}
END_TEST

START_TEST(unknown_builtin_is_refused)
{
	char builtins[256], want[512];

	builtin_list(builtins, sizeof(builtins));
	snprintf(want, sizeof(want),
		 "modules[0].name: no built-in module \"nope\" (built in: %s); give a \"path\" to "
		 "load a plugin",
		 builtins);
	assert_refused("'modules': [{'name': 'nope'}]", want);
}
END_TEST

START_TEST(unknown_handler_lists_available)
{
	char builtins[256];

	assert_refused("'modules': [" WT_HELLO_MODULE "],"
		       "'routes': [{'match': {'path': '/a'}, 'handler': 'hello.greet'},"
		       " {'handler': 'helo'}]",
		       "routes[1].handler: no handler \"helo\" (available: hello.greet, echo.echo, "
		       "echo.json)");
	/* Other built-ins would be listed too, with handler names unknown here. */
	builtin_list(builtins, sizeof(builtins));
	if (strcmp(builtins, "echo") == 0)
		assert_refused("'routes': [{'handler': 'echo.nope'}]",
			       "routes[0].handler: no handler \"echo.nope\" "
			       "(available: echo.echo, echo.json)");
}
END_TEST

/* A route naming a plugin that sits next to a loaded one, but was left out of "modules",
 * is told what to add; a name found nowhere still gets the list of handlers. */
START_TEST(unlisted_plugin_is_named)
{
	assert_refused("'modules': [{'name': 'delay', 'path': '@PLUGIN_DIR@/delay.so'}],"
		       "'routes': [{'handler': 'delay.wait'}, {'handler': 'hello.greet'}]",
		       "routes[1].handler: module \"hello\" is not loaded (add {\"name\": "
		       "\"hello\", \"path\": \"%s/hello.so\"} to \"modules\")");
	assert_refused(
		"'modules': [{'name': 'delay', 'path': '@PLUGIN_DIR@/delay.so'}],"
		"'routes': [{'handler': 'nothere.greet'}]",
		"routes[0].handler: module \"nothere\" is not loaded (add it to \"modules\": "
		"{\"name\": \"nothere\", \"path\": \"PATH/nothere.so\"}; handlers available "
		"now: delay.wait, echo.echo, echo.json)");
	/* A typo of a handler warren has is named, rather than taken for a missing module. */
	assert_refused(
		"'modules': [{'name': 'delay', 'path': '@PLUGIN_DIR@/delay.so'}],"
		"'routes': [{'handler': 'dealy.wait'}]",
		"routes[0].handler: no handler \"dealy.wait\" (did you mean \"delay.wait\"?)");
	/* Not a module name, though "DIR/" "/hello" ".so" is a file: never looked for. */
	assert_refused("'modules': [{'name': 'delay', 'path': '@PLUGIN_DIR@/delay.so'}],"
		       "'routes': [{'handler': '/hello.greet'}]",
		       "routes[0].handler: no handler \"/hello.greet\" (available: delay.wait, "
		       "echo.echo, echo.json)");
}
END_TEST

START_TEST(handler_config_errors_name_the_route)
{
	assert_refused("'modules': [" WT_HELLO_MODULE "], 'routes': [{'handler': 'echo.echo'},"
		       " {'handler': 'hello.greet', 'config': {'status': 42}}]",
		       "routes[1].config.status: expected an integer from 200 to 599, got 42");
	assert_refused("'routes': [{'handler': 'echo.echo', 'config': {'x': 1}}]",
		       "routes[0].config: handler \"echo.echo\" takes no config");
}
END_TEST

START_TEST(test_mode_accepts_good_config)
{
	struct wt_server s;
	struct wt_run run;
	char want[2048];

	check_config(&s, &run,
		     "'modules': [" WT_HELLO_MODULE "], 'routes': [{'match': {'path': '/echo/*'},"
		     " 'handler': 'echo.echo'}, {'handler': 'hello.greet'}]");
	snprintf(want, sizeof(want),
		 "warren: %s: module hello: version 1.0, ABI %d.%d, %s/hello.so\n"
		 "warren: %s: module echo: version 1.0, ABI %d.%d, built-in\n"
		 "warren: %s: configuration is valid (1 listeners, 2 modules, 2 routes)\n",
		 s.conf, WARREN_ABI_MAJOR, WARREN_ABI_MINOR, wt_plugin_dir(), s.conf,
		 WARREN_ABI_MAJOR, WARREN_ABI_MINOR, s.conf);
	ck_assert_int_eq(run.status, 0);
	ck_assert_str_eq(run.err, want);
	wt_run_free(&run);
	wt_cleanup(&s);
}
END_TEST

/* Reads the lifecycle hooks from the hook log ("hook pid tag args..." per line); the
 * prefork hooks are the process suite's business. */
static size_t read_hooks(const char *file, char hooks[][32], pid_t *pids, size_t max)
{
	FILE *f = fopen(file, "r");
	char line[600];
	size_t n = 0;
	int pid;

	ck_assert_msg(f != NULL, "no hook log at %s", file);
	while (n < max && fgets(line, sizeof(line), f)) {
		ck_assert_int_eq(sscanf(line, "%31s %d", hooks[n], &pid), 2);
		if (strncmp(hooks[n], "on_", 3) != 0)
			pids[n++] = pid;
	}
	fclose(f);
	return n;
}

static bool contains_pid(const pid_t *pids, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

START_TEST(lifecycle_hooks_run_in_order_and_process)
{
	struct wt_server s;
	struct wt_response r;
	char file[600], hooks[16][32];
	pid_t pids[16], workers[2], master;
	size_t n;
	int status;

	wt_serve(&s, "'workers': 2, 'modules': [{'name': 'lifecycle', 'path': "
		     "'@PLUGIN_DIR@/lifecycle.so', 'config': {'file': '@DIR@/hooks.log'}}],"
		     "'routes': [{'match': {'path': '/pid'}, 'handler': 'lifecycle.pid'}]");
	master = s.pid;
	WT_OK(wt_wait_workers(&s, 2, 0, workers, WT_TIMEOUT_MS));
	WT_OK(wt_exchanges(&s, "GET /pid HTTP/1.1\r\nHost: t\r\n\r\n", &r));
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, " request 1\n"));
	wt_response_free(&r);
	snprintf(file, sizeof(file), "%s/hooks.log", s.dir);
	ck_assert_int_eq(wt_stop(&s, SIGTERM, WT_TIMEOUT_MS, &status), 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	n = read_hooks(file, hooks, pids, 16);
	ck_assert_uint_eq(n, 6);
	/* init first and fini last, both in the master; each worker between them. */
	ck_assert_str_eq(hooks[0], "init");
	ck_assert_int_eq(pids[0], master);
	ck_assert_str_eq(hooks[5], "fini");
	ck_assert_int_eq(pids[5], master);
	for (size_t i = 1; i < 5; i++) {
		ck_assert_msg(strcmp(hooks[i], "worker_init") == 0 ||
				      strcmp(hooks[i], "worker_exit") == 0,
			      "unexpected hook %s", hooks[i]);
		ck_assert(contains_pid(workers, 2, pids[i]));
	}
	for (size_t w = 0; w < 2; w++) {
		int init_at = -1, exit_at = -1;

		for (size_t i = 1; i < 5; i++) {
			if (pids[i] != workers[w])
				continue;
			if (strcmp(hooks[i], "worker_init") == 0)
				init_at = (int)i;
			else
				exit_at = (int)i;
		}
		ck_assert_int_gt(init_at, 0);
		ck_assert_int_gt(exit_at, init_at);
	}
	wt_cleanup(&s);
}
END_TEST

static Suite *modules_suite(void)
{
	Suite *s = suite_create("modules");
	TCase *tc = tcase_create("loading");

	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, other_abi_major_is_refused);
	tcase_add_test(tc, newer_abi_minor_is_refused);
	tcase_add_test(tc, older_abi_minor_loads_and_serves);
	tcase_add_test(tc, builtin_module_loads_as_a_plugin);
	tcase_add_test(tc, config_key_reaches_module_and_routes);
	tcase_add_test(tc, config_key_mistakes_are_refused);
	tcase_add_test(tc, abi_v03_module_loads_and_serves);
	tcase_add_test(tc, oversized_request_ctx_is_refused);
	tcase_add_test(tc, missing_symbol_fails_at_load);
	tcase_add_test(tc, missing_file_is_named);
	tcase_add_test(tc, not_a_module_is_refused);
	tcase_add_test(tc, name_must_match_descriptor);
	tcase_add_test(tc, init_failure_is_reported);
	tcase_add_test(tc, unknown_builtin_is_refused);
	tcase_add_test(tc, unknown_handler_lists_available);
	tcase_add_test(tc, unlisted_plugin_is_named);
	tcase_add_test(tc, handler_config_errors_name_the_route);
	tcase_add_test(tc, test_mode_accepts_good_config);
	suite_add_tcase(s, tc);

	tc = tcase_create("lifecycle");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, lifecycle_hooks_run_in_order_and_process);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(modules_suite)

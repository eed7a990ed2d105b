/* tests/integration/test_cli.c - the real binary's command line: --version, --help, -t on
 * good and bad configs, and start-up errors (bind, plugin, missing file) with exit status 1. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <warren/version.h>

#include "check_main.h"
#include "harness.h"

#define ROUTES                                                                                     \
	"'modules': [" WT_HELLO_MODULE "],"                                                        \
	"'routes': ["                                                                              \
	"  {'match': {'path': '/hello'}, 'handler': 'hello.greet'},"                               \
	"  {'match': {'path': '/echo/*'}, 'handler': 'echo.echo'}"                                 \
	"]"

/* Asserts that @r exited @status with nothing on stdout and exactly @err on stderr. */
static void expect_exit(const struct wt_run *r, int status, const char *err)
{
	ck_assert_msg(r->status == status, "exit status %d, expected %d; stderr: %s", r->status,
		      status, r->err);
	ck_assert_str_eq(r->out, "");
	ck_assert_str_eq(r->err, err);
}

/* Returns the "#define NAME value" value from include/warren/version.h, quotes stripped. */
static void version_define(const char *name, char *out, size_t len)
{
	char path[512], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/include/warren/version.h", wt_srcdir());
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	out[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		char def[64], value[64];

		if (sscanf(line, "#define %63s %63s", def, value) == 2 && strcmp(def, name) == 0) {
			size_t n = strlen(value);

			if (value[0] == '"' && n >= 2) {
				value[n - 1] = '\0';
				snprintf(out, len, "%s", value + 1);
			} else {
				snprintf(out, len, "%s", value);
			}
		}
	}
	fclose(f);
	ck_assert_msg(out[0] != '\0', "%s defines no %s", path, name);
}

static void check_version(const char *opt)
{
	struct wt_run r;
	char version[64], major[16], minor[16], first[256];
	const char *second;

	version_define("WARREN_VERSION", version, sizeof(version));
	version_define("WARREN_ABI_MAJOR", major, sizeof(major));
	version_define("WARREN_ABI_MINOR", minor, sizeof(minor));
	snprintf(first, sizeof(first), "warren %s (module ABI %s.%s)\n", version, major, minor);

	WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, opt, NULL));
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.err, "");
	ck_assert_msg(strncmp(r.out, first, strlen(first)) == 0, "expected \"%s\", got \"%s\"",
		      first, r.out);
	second = r.out + strlen(first);
	ck_assert_msg(strncmp(second, "built-in modules:", 17) == 0, "got \"%s\"", r.out);
	ck_assert_msg(strstr(second, " echo ") || strstr(second, " echo\n"),
		      "echo is not listed as built in: \"%s\"", second);
	ck_assert_msg(strchr(second, '\n') == r.out + r.out_len - 1, "more than two lines: \"%s\"",
		      r.out);
	wt_run_free(&r);
}

START_TEST(version_long)
{
	check_version("--version");
}
END_TEST

START_TEST(version_short)
{
	check_version("-v");
}
END_TEST

static void check_help(const char *opt)
{
	struct wt_run r;

	WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, opt, NULL));
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.err, "");
	ck_assert_msg(strncmp(r.out, "usage: warren ", 14) == 0, "got \"%s\"", r.out);
	ck_assert_ptr_nonnull(strstr(r.out, "--ready-fd"));
	ck_assert_ptr_nonnull(strstr(r.out, "--test"));
	ck_assert_ptr_nonnull(strstr(r.out, "--config"));
	ck_assert_ptr_nonnull(strstr(r.out, "warren new-plugin NAME [DIR]"));
	wt_run_free(&r);
}

START_TEST(help_long)
{
	check_help("--help");
}
END_TEST

START_TEST(help_short)
{
	check_help("-h");
}
END_TEST

START_TEST(unknown_option_is_a_usage_error)
{
	struct wt_run r;

	WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, "--no-such-option", NULL));
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_ptr_nonnull(strstr(r.err, "usage: warren "));
	wt_run_free(&r);
}
END_TEST

START_TEST(extra_argument_is_a_usage_error)
{
	struct wt_run r;

	WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, "-t", "extra", NULL));
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strncmp(r.err, "warren: unexpected argument \"extra\"\n", 36) == 0,
		      "got \"%s\"", r.err);
	wt_run_free(&r);
}
END_TEST

/* new-plugin from the binary: a directory written once, then refused; a bad name refused
 * with the reason and nothing written; its own help. */
START_TEST(new_plugin_command)
{
	char dir[300], file[400], cmd[400];
	struct wt_server s;
	struct wt_run r;

	wt_init(&s);
	snprintf(dir, sizeof(dir), "%s/mine", s.dir);
	WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, "new-plugin", "mine", dir, NULL));
	ck_assert_msg(r.status == 0, "new-plugin: %d, stderr: %s", r.status, r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "wrote "));
	wt_run_free(&r);
	snprintf(file, sizeof(file), "%s/test_mine.c", dir);
	ck_assert_int_eq(access(file, R_OK), 0);
	WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, "new-plugin", "mine", dir, NULL));
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "already exists"));
	wt_run_free(&r);
	snprintf(dir, sizeof(dir), "%s/bad", s.dir);
	WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, "new-plugin", "Bad", dir, NULL));
	expect_exit(&r, 1,
		    "warren new-plugin: \"Bad\": has the capital 'B' at position 1: warren module "
		    "names are lowercase (a-z, 0-9, _)\n");
	wt_run_free(&r);
	ck_assert_int_eq(access(dir, F_OK), -1);
	WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, "new-plugin", "--help", NULL));
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strncmp(r.out, "usage: warren new-plugin NAME [DIR]\n", 36) == 0, "%s",
		      r.out);
	wt_run_free(&r);
	/* wt_cleanup() removes files, not directories. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/mine'", s.dir);
	ck_assert_int_eq(system(cmd), 0);
	wt_cleanup(&s);
}
END_TEST

START_TEST(ready_fd_must_be_open)
{
	struct wt_server s;
	struct wt_run r;

	wt_init(&s);
	wt_config(&s, "'workers': 1");
	WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, "-c", s.conf, "--ready-fd", "1000", NULL));
	expect_exit(&r, 1, "warren: --ready-fd 1000: not an open file descriptor\n");
	wt_run_free(&r);
	wt_cleanup(&s);
}
END_TEST

START_TEST(test_mode_accepts_a_good_config)
{
	struct wt_server s;
	struct wt_run r;
	char err[2048];

	wt_init(&s);
	wt_config(&s,
		  "'workers': 2, 'http': {'max_body_size': 4096, 'keepalive_timeout': 5}, " ROUTES);
	WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, "-t", "-c", s.conf, NULL));
	snprintf(err, sizeof(err),
		 "warren: %s: module hello: version 1.0, ABI %d.%d, %s/hello.so\n"
		 "warren: %s: module echo: version 1.0, ABI %d.%d, built-in\n"
		 "warren: %s: configuration is valid (1 listeners, 2 modules, 2 routes)\n",
		 s.conf, WARREN_ABI_MAJOR, WARREN_ABI_MINOR, wt_plugin_dir(), s.conf,
		 WARREN_ABI_MAJOR, WARREN_ABI_MINOR, s.conf);
	expect_exit(&r, 0, err);
	wt_run_free(&r);
	wt_cleanup(&s);
}
END_TEST

/* -t names every module it loaded, in load order: the version its descriptor gives (or
 * none), the ABI it was built for (an old one shows as such), and its file or built-in. */
START_TEST(test_mode_lists_modules)
{
	struct wt_server s;
	struct wt_run r;
	char err[2048];

	wt_init(&s);
	wt_config(&s, "'modules': [{'name': 'abi_v02', 'path': '@PLUGIN_DIR@/abi_v02.so'}, "
		      "{'name': 'version', 'path': '@PLUGIN_DIR@/version_a.so'}, {'name': 'echo'}],"
		      "'routes': [{'handler': 'abi_v02.greet'}]");
	WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, "-t", "-c", s.conf, NULL));
	snprintf(err, sizeof(err),
		 "warren: %s: module abi_v02: no version, ABI 0.2, %s/abi_v02.so\n"
		 "warren: %s: module version: no version, ABI %d.%d, %s/version_a.so\n"
		 "warren: %s: module echo: version 1.0, ABI %d.%d, built-in\n"
		 "warren: %s: configuration is valid (1 listeners, 3 modules, 1 routes)\n",
		 s.conf, wt_plugin_dir(), s.conf, WARREN_ABI_MAJOR, WARREN_ABI_MINOR,
		 wt_plugin_dir(), s.conf, WARREN_ABI_MAJOR, WARREN_ABI_MINOR, s.conf);
	expect_exit(&r, 0, err);
	wt_run_free(&r);
	wt_cleanup(&s);
}
END_TEST

/* A module hook that crashes while loading is named, at start-up and under -t, and the
 * exit status still says the process died of it. */
START_TEST(crash_in_a_module_hook_is_named)
{
	static const char *const hooks[] = {"init", "configure"};
	const struct rlimit no_core = {0, 0};
	struct wt_server s;
	struct wt_run r;
	char want[128];

	ck_assert_int_eq(setrlimit(RLIMIT_CORE, &no_core), 0);
	for (size_t i = 0; i < 2; i++) {
		wt_init(&s);
		wt_config(&s,
			  "'modules': [{'name': 'badinit', 'path': '@PLUGIN_DIR@/badinit.so',"
			  " 'config': {'crash': '%s'}}],"
			  " 'routes': [{'match': {'path': '/ok'}, 'handler': 'badinit.ok'}]",
			  hooks[i]);
		snprintf(want, sizeof(want), "warren: module \"badinit\": %s crashed (SIGSEGV)\n",
			 hooks[i]);
		WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, "-t", "-c", s.conf, NULL));
		expect_exit(&r, 128 + SIGSEGV, want);
		wt_run_free(&r);
		WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, "-c", s.conf, NULL));
		expect_exit(&r, 128 + SIGSEGV, want);
		wt_run_free(&r);
		wt_cleanup(&s);
	}
}
END_TEST

START_TEST(test_mode_accepts_the_example_config)
{
	struct wt_server s;
	struct wt_run r;
	char path[512], plugins[600], *text, *at;
	FILE *f;
	long len;

	/* The example names ../build/plugins/hello.so; point it at the plugins under test. */
	snprintf(path, sizeof(path), "%s/conf/warren.json", wt_srcdir());
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(fread(text, 1, (size_t)len, f), len);
	fclose(f);
	at = strstr(text, "\"../build/plugins/");
	ck_assert_msg(at != NULL, "%s no longer loads ../build/plugins/...", path);
	snprintf(plugins, sizeof(plugins), "\"%s/", wt_plugin_dir());

	wt_init(&s);
	*at = '\0';
	wt_write_config(&s, "%s%s%s", text, plugins, at + strlen("\"../build/plugins/"));
	free(text);
	WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, "-t", "-c", s.conf, NULL));
	ck_assert_msg(r.status == 0, "%s is refused: %s", path, r.err);
	ck_assert_ptr_nonnull(strstr(r.err, ": configuration is valid ("));
	wt_run_free(&r);
	wt_cleanup(&s);
}
END_TEST

/* A config refused by -t: the whole file, and the message after "warren: FILE: ". */
struct bad_config {
	const char *text;
	const char *msg;
	bool prefix; /* the message ends in text from a library or the build */
};

/* Every config below starts like this; the rest is what is wrong with it. */
#define L "{'listen': ['127.0.0.1:0'], "

static const struct bad_config bad_configs[] = {
	{.text = L "'workers': 0}",
	 .msg = "workers: expected a positive integer or \"auto\", got 0"},
	{.text = L "'workers': 'many'}",
	 .msg = "workers: expected a positive integer or \"auto\", got string \"many\""},
	{.text = L "'workers': 2000}",
	 .msg = "workers: expected at most 1024 workers or \"auto\", got 2000"},
	{.text = L "'event': 'kqueue'}", .msg = "event: expected ", .prefix = true},
	{.text = L "'log_level': 'loud'}",
	 .msg = "log_level: expected one of \"error\", \"warn\", \"info\", \"debug\", "
		"got string \"loud\""},
	{.text = L "'bogus': 1}",
	 .msg = "bogus: unknown key (expected one of: listen, workers, cpu_affinity, event, "
		"log_level, log_file, pid_file, shutdown_timeout, recover, http, modules, routes, "
		"offload_threads, worker_connections, watchdog, shared_zones)"},
	{.text = "{'listen': '127.0.0.1:0'}",
	 .msg = "listen: expected an array of \"host:port\" strings, got string \"127.0.0.1:0\""},
	{.text = "{'listen': ['127.0.0.1:99999']}",
	 .msg = "listen[0]: port \"99999\" out of range (0-65535)"},
	{.text = "{'listen': ['nohost']}",
	 .msg = "listen[0]: \"nohost\" has no port (expected host:port, e.g. 127.0.0.1:8080)"},
	{.text = "{'listen': ['127.0.0.1:8080', '127.0.0.1:8080']}",
	 .msg = "listen[1]: duplicate address \"127.0.0.1:8080\" (also listen[0])"},
	{.text = L "'http': {'max_body_size': -1}}",
	 .msg = "http.max_body_size: expected an integer from 0 to 2147483647, got -1"},
	{.text = L "'http': {'max_header_size': 10}}",
	 .msg = "http.max_header_size: expected an integer from 1024 to 1048576, got 10"},
	{.text = L "'http': {'header_timeout': 0}}",
	 .msg = "http.header_timeout: expected a number of seconds above 0 and at most 86400, "
		"got 0"},
	{.text = L "'http': {'keepalive_timeout': '5'}}",
	 .msg = "http.keepalive_timeout: expected a number of seconds from 0 to 86400, "
		"got string \"5\""},
	{.text = L "'routes': [{'match': {'path': '/a'}, 'handler': 'echo.echo'},"
		   "{'match': {'path': 'nope'}, 'handler': 'echo.echo'}]}",
	 .msg = "routes[1].match.path: \"nope\" must start with '/'"},
	{.text = L "'routes': [{'match': {'path': '/a/*/b'}, 'handler': 'echo.echo'}]}",
	 .msg = "routes[0].match.path: '*' is allowed only as the last segment"},
	{.text = L "'routes': [{'match': {'path': '/a/:x/:x'}, 'handler': 'echo.echo'}]}",
	 .msg = "routes[0].match.path: duplicate parameter \"x\""},
	{.text = L "'routes': [{'match': {'path': '/a', 'method': 'FETCH'}, "
		   "'handler': 'echo.echo'}]}",
	 .msg = "routes[0].match.method: unknown method \"FETCH\""},
	{.text = L "'routes': [{'match': {'path': '/a', 'method': ['GET', 'GET']}, "
		   "'handler': 'echo.echo'}]}",
	 .msg = "routes[0].match.method[1]: duplicate method \"GET\" "
		"(also routes[0].match.method[0])"},
	{.text = L "'routes': [{'match': {'path': '/a'}}]}",
	 .msg = "routes[0].handler: missing (expected \"module.handler\")"},
	{.text = L "'routes': [{'match': {'path': '/a'}, 'handler': 'nosuch.thing'}]}",
	 .msg = "routes[0].handler: module \"nosuch\" is not loaded (add it to \"modules\": "
		"{\"name\": \"nosuch\", \"path\": \"PATH/nosuch.so\"}; handlers available now: ",
	 .prefix = true},
	{.text = L "'routes': [{'match': {'path': '/a'}, 'handler': 'echo.echo', 'bogus': 1}]}",
	 .msg = "routes[0].bogus: unknown key (expected one of: match, handler, config, "
		"max_body_size)"},
	{.text = L "'routes': [{'match': {'path': '/a'}, 'handler': 'echo.echo', 'config': []}]}",
	 .msg = "routes[0].config: expected an object, got array"},
	{.text = L "'modules': [{'name': 'Bad-Name', 'path': 'x.so'}]}",
	 .msg = "modules[0].name: invalid module name \"Bad-Name\" (expected 1-64 of a-z, 0-9, _)"},
	{.text = L "'modules': [{'name': 'hello', 'path': '@PLUGIN_DIR@/hello.so', "
		   "'config': {'txt': 'x'}}]}",
	 .msg = "modules[0].config: module \"hello\" failed to start: unknown key \"txt\" (did you "
		"mean \"text\"?)"},
	{.text = L "'modules': [{'name': 'hello', 'path': '@PLUGIN_DIR@/hello.so', "
		   "'config': {'text': ''}}]}",
	 .msg = "modules[0].config.text: module \"hello\" failed to start: expected a non-empty "
		"string, got an empty string"},
	{.text = L "'modules': [" WT_HELLO_MODULE "], 'routes': [{'match': {'path': '/a'}, "
		   "'handler': 'hello.greet', 'config': {'content_type': 'a\\r\\nb'}}]}",
	 .msg = "routes[0].config.content_type: expected a header value (text without control "
		"characters but tab), got string \"a\\x0d\\x0ab\""},
	{.text = L "'modules': [" WT_HELLO_MODULE "], 'routes': [{'match': {'path': '/a'}, "
		   "'handler': 'hello.greet', 'config': {'status': 99}}]}",
	 .msg = "routes[0].config.status: expected an integer from 200 to 599, got 99"},
	{.text = "[1]", .msg = "expected a JSON object at the top level, got array"},
	{.text = "{'listen': ['127.0.0.1:0'],", .msg = "line 1, column 27: ", .prefix = true},
};

START_TEST(test_mode_names_the_json_path)
{
	const struct bad_config *bc = &bad_configs[_i];
	struct wt_server s;
	struct wt_run r;
	char expected[1024];

	wt_init(&s);
	wt_write_config_text(&s, bc->text);
	WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, "-t", "-c", s.conf, NULL));
	snprintf(expected, sizeof(expected), "warren: %s: %s%s", s.conf, bc->msg,
		 bc->prefix ? "" : "\n");
	ck_assert_msg(r.status == 1, "case %d: exit status %d, expected 1", _i, r.status);
	ck_assert_str_eq(r.out, "");
	if (bc->prefix)
		ck_assert_msg(strncmp(r.err, expected, strlen(expected)) == 0 &&
				      strchr(r.err, '\n') == r.err + r.err_len - 1,
			      "case %d: expected one line starting \"%s\", got \"%s\"", _i,
			      expected, r.err);
	else
		ck_assert_msg(strcmp(r.err, expected) == 0, "case %d: expected \"%s\", got \"%s\"",
			      _i, expected, r.err);
	wt_run_free(&r);
	wt_cleanup(&s);
}
END_TEST

START_TEST(missing_config_file)
{
	struct wt_server s;
	struct wt_run r;
	char path[512], expected[1200];

	wt_init(&s);
	snprintf(path, sizeof(path), "%s/none.json", s.dir);
	snprintf(expected, sizeof(expected),
		 "warren: %s: cannot read \"%s\": No such file or directory\n", path, path);
	WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, "-t", "-c", path, NULL));
	expect_exit(&r, 1, expected);
	wt_run_free(&r);
	WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, "-c", path, NULL));
	expect_exit(&r, 1, expected);
	wt_run_free(&r);
	wt_cleanup(&s);
}
END_TEST

/* -t and a real start both refuse a plugin that is not there, naming its path. */
START_TEST(missing_plugin_is_named)
{
	struct wt_server s;
	struct wt_run r;
	char expected[1024];

	wt_init(&s);
	wt_config(&s, "'workers': 1, 'modules': [{'name': 'hello', 'path': '@DIR@/missing.so'}],"
		      "'routes': [{'match': {'path': '/'}, 'handler': 'hello.greet'}]");
	snprintf(expected, sizeof(expected),
		 "warren: %s: modules[0].path: cannot load module: %s/missing.so", s.conf, s.dir);
	for (int test = 1; test >= 0; test--) {
		if (test)
			WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, "-t", "-c", s.conf, NULL));
		else
			WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, "-c", s.conf, NULL));
		ck_assert_int_eq(r.status, 1);
		ck_assert_str_eq(r.out, "");
		ck_assert_msg(strncmp(r.err, expected, strlen(expected)) == 0 &&
				      strchr(r.err, '\n') == r.err + r.err_len - 1,
			      "expected one line starting \"%s\", got \"%s\"", expected, r.err);
		wt_run_free(&r);
	}
	wt_cleanup(&s);
}
END_TEST

START_TEST(plugin_under_the_wrong_name)
{
	struct wt_server s;
	struct wt_run r;
	char expected[1024];

	wt_init(&s);
	wt_config(&s, "'modules': [{'name': 'other', 'path': '@PLUGIN_DIR@/hello.so'}]");
	snprintf(expected, sizeof(expected),
		 "warren: %s: modules[0].name: \"%s/hello.so\" defines module \"hello\", not "
		 "\"other\"\n",
		 s.conf, wt_plugin_dir());
	WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, "-t", "-c", s.conf, NULL));
	expect_exit(&r, 1, expected);
	wt_run_free(&r);
	wt_cleanup(&s);
}
END_TEST

/* A listening socket on a kernel-chosen port, held by the test. */
static int hold_port(unsigned short *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

START_TEST(port_in_use_is_a_bind_error)
{
	struct wt_server s;
	struct wt_run r;
	unsigned short port;
	int fd = hold_port(&port);
	char expected[1024];

	wt_init(&s);
	wt_write_config(&s, "{'listen': ['127.0.0.1:%u'], 'event': '%s', 'workers': 1}", port,
			wt_event());
	snprintf(expected, sizeof(expected),
		 "warren: %s: listen[0]: cannot bind 127.0.0.1:%u: Address already in use\n",
		 s.conf, port);
	WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, "-c", s.conf, NULL));
	expect_exit(&r, 1, expected);
	wt_run_free(&r);
	close(fd);
	wt_cleanup(&s);
}
END_TEST

START_TEST(second_listener_bind_error_names_it)
{
	struct wt_server s;
	struct wt_run r;
	unsigned short port;
	int fd = hold_port(&port);
	char expected[1024];

	wt_init(&s);
	wt_write_config(&s,
			"{'listen': ['127.0.0.1:0', '127.0.0.1:%u'], 'event': '%s', 'workers': 1}",
			port, wt_event());
	snprintf(expected, sizeof(expected),
		 "warren: %s: listen[1]: cannot bind 127.0.0.1:%u: Address already in use\n",
		 s.conf, port);
	WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, "-c", s.conf, NULL));
	expect_exit(&r, 1, expected);
	wt_run_free(&r);
	close(fd);
	wt_cleanup(&s);
}
END_TEST

/* Routes that can never match are warned about by -t and logged at start, naming both. */
START_TEST(unreachable_routes_are_warned_about)
{
	struct wt_server s;
	struct wt_run r;
	char want[3072], line[800];

	wt_init(&s);
	wt_config(&s, "'workers': 1, 'modules': [" WT_HELLO_MODULE "], 'routes': ["
		      "{'match': {'path': '/*'}, 'handler': 'hello.greet'},"
		      "{'match': {'path': '/hello', 'method': 'GET'}, 'handler': 'hello.greet'}]");
	snprintf(line, sizeof(line),
		 "warning: routes[1] can never match: routes[0] (\"/*\", any method) matches "
		 "first, unless its handler declines");
	snprintf(want, sizeof(want),
		 "warren: %s: module hello: version 1.0, ABI %d.%d, %s/hello.so\n"
		 "warren: %s: %s\nwarren: %s: configuration is valid (1 listeners, 1 modules, 2 "
		 "routes)\n",
		 s.conf, WARREN_ABI_MAJOR, WARREN_ABI_MINOR, wt_plugin_dir(), s.conf, line, s.conf);
	WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, "-t", "-c", s.conf, NULL));
	expect_exit(&r, 0, want);
	wt_run_free(&r);

	WT_OK(wt_start(&s));
	snprintf(want, sizeof(want), "warn: %s: %s", s.conf, line + strlen("warning: "));
	ck_assert_msg(wt_log_contains(&s, want), "no \"%s\" in the log", want);
	wt_stop_ok(&s);
}
END_TEST

/* Runs warren with the NULL-terminated arguments from directory @cwd. */
static void run_in(const char *cwd, struct wt_run *r, const char *a, const char *b, const char *c)
{
	int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ck_assert_int_ge(here, 0);
	ck_assert_int_eq(chdir(cwd), 0);
	WT_OK(wt_run_warren(r, WT_TIMEOUT_MS, a, b, c, NULL));
	ck_assert_int_eq(fchdir(here), 0);
	close(here);
}

/* The shipped config names its plugin relative to itself: it works from anywhere. */
START_TEST(example_config_works_from_any_directory)
{
	char src[4096], conf[4200], plugin[4200];
	struct wt_run r;

	ck_assert_ptr_nonnull(realpath(wt_srcdir(), src));
	snprintf(plugin, sizeof(plugin), "%s/build/plugins/hello.so", src);
	ck_assert_msg(access(plugin, R_OK) == 0, "%s: %s", plugin, strerror(errno));
	snprintf(conf, sizeof(conf), "%s/conf/warren.json", src);
	run_in("/", &r, "-t", "-c", conf);
	ck_assert_msg(r.status == 0, "%s is refused from /: %s", conf, r.err);
	wt_run_free(&r);
	run_in(src, &r, "-t", "-c", "conf/warren.json");
	ck_assert_msg(r.status == 0, "conf/warren.json is refused from %s: %s", src, r.err);
	wt_run_free(&r);
}
END_TEST

/* pid_file, log_file, plugins and unix sockets given relative to the config's directory. */
START_TEST(relative_paths_follow_the_config)
{
	struct wt_server s;
	struct wt_run r;
	struct stat st;
	char path[600], plugins[600], *log;
	int status, here;

	wt_init(&s);
	snprintf(plugins, sizeof(plugins), "%s/plugins", s.dir);
	ck_assert_ptr_nonnull(realpath(wt_plugin_dir(), path));
	ck_assert_int_eq(symlink(path, plugins), 0);
	wt_write_config(&s,
			"{'listen': ['unix:w.sock'], 'event': '%s', 'workers': 1,"
			" 'pid_file': 'w.pid', 'log_file': 'w.log',"
			" 'modules': [{'name': 'hello', 'path': 'plugins/hello.so'}],"
			" 'routes': [{'match': {'path': '/hello'}, 'handler': 'hello.greet'}]}",
			wt_event());
	run_in("/", &r, "-t", "-c", s.conf);
	ck_assert_msg(r.status == 0, "-t from /: %s", r.err);
	wt_run_free(&r);

	here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_eq(chdir("/"), 0);
	status = wt_start(&s);
	ck_assert_int_eq(fchdir(here), 0);
	close(here);
	WT_OK(status);
	snprintf(path, sizeof(path), "%s/w.sock", s.dir);
	ck_assert_msg(stat(path, &st) == 0 && S_ISSOCK(st.st_mode), "no socket %s", path);
	snprintf(path, sizeof(path), "%s/w.pid", s.dir);
	ck_assert_msg(stat(path, &st) == 0, "no pid file %s", path);
	snprintf(path, sizeof(path), "%s/w.log", s.dir);
	log = wt_read_file(path, NULL);
	ck_assert_msg(log && strstr(log, " ready: 1 worker"), "no ready line in %s", path);
	free(log);
	WT_OK(wt_stop(&s, SIGTERM, WT_TIMEOUT_MS, &status));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	wt_cleanup(&s);
}
END_TEST

/* A pid file that cannot be written is a start-up error (and -t says so), not a log line. */
START_TEST(pid_file_directory_must_exist)
{
	struct wt_server s;
	struct wt_run r;
	char expected[1200];

	wt_init(&s);
	wt_write_config(&s,
			"{'listen': ['127.0.0.1:0'], 'event': '%s', 'workers': 1,"
			" 'pid_file': 'run/warren.pid'}",
			wt_event());
	snprintf(expected, sizeof(expected),
		 "warren: %s: pid_file: cannot create %s/run/warren.pid: No such file or "
		 "directory\n",
		 s.conf, s.dir);
	WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, "-t", "-c", s.conf, NULL));
	expect_exit(&r, 1, expected);
	wt_run_free(&r);
	WT_OK(wt_run_warren(&r, WT_TIMEOUT_MS, "-c", s.conf, NULL));
	expect_exit(&r, 1, expected);
	wt_run_free(&r);
	wt_cleanup(&s);
}
END_TEST

static Suite *cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc;

	tc = tcase_create("options");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, version_long);
	tcase_add_test(tc, version_short);
	tcase_add_test(tc, help_long);
	tcase_add_test(tc, help_short);
	tcase_add_test(tc, unknown_option_is_a_usage_error);
	tcase_add_test(tc, extra_argument_is_a_usage_error);
	tcase_add_test(tc, new_plugin_command);
	tcase_add_test(tc, ready_fd_must_be_open);
	suite_add_tcase(s, tc);

	tc = tcase_create("config_test");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_mode_accepts_a_good_config);
	tcase_add_test(tc, test_mode_lists_modules);
	tcase_add_test(tc, test_mode_accepts_the_example_config);
	tcase_add_test(tc, crash_in_a_module_hook_is_named);
	tcase_add_loop_test(tc, test_mode_names_the_json_path, 0,
			    (int)(sizeof(bad_configs) / sizeof(bad_configs[0])));
	tcase_add_test(tc, missing_config_file);
	tcase_add_test(tc, example_config_works_from_any_directory);
	tcase_add_test(tc, unreachable_routes_are_warned_about);
	suite_add_tcase(s, tc);

	tc = tcase_create("startup_errors");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, missing_plugin_is_named);
	tcase_add_test(tc, plugin_under_the_wrong_name);
	tcase_add_test(tc, port_in_use_is_a_bind_error);
	tcase_add_test(tc, second_listener_bind_error_names_it);
	tcase_add_test(tc, relative_paths_follow_the_config);
	tcase_add_test(tc, pid_file_directory_must_exist);
	suite_add_tcase(s, tc);

	return s;
}

CHECK_MAIN(cli_suite)

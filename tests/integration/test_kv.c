/* tests/integration/test_kv.c - the kv plugin (plugins/kv): its methods and answers, values
 * seen by every worker and kept across reloads, per-route limits, a full zone, a worker
 * killed while it held the store's lock, and precise config errors. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "harness.h"

#define KV_MODULE(config) "{'name': 'kv', 'path': '@PLUGIN_DIR@/kv.so', 'config': " config "}"
#define LIFECYCLE_MODULE                                                                           \
	"{'name': 'lifecycle', 'path': '@PLUGIN_DIR@/lifecycle.so',"                               \
	" 'config': {'file': '@DIR@/hooks.log', 'tag': 'kv'}}"
#define KV_ROUTE(path, config)                                                                     \
	"{'match': {'path': '" path "'}, 'handler': 'kv.store', 'config': " config "}"
#define PID_ROUTE "{'match': {'path': '/pid'}, 'handler': 'lifecycle.pid'}"
#define PID_FILE "'pid_file': '@DIR@/warren.pid'"

/* Sends @method @path with the @len bytes of @body on @c and reads the answer into @r. */
static void kv_ask(struct wt_client *c, const char *method, const char *path, const void *body,
		   size_t len, struct wt_response *r)
{
	char head[512];

	snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: test\r\nContent-Length: %zu\r\n\r\n",
		 method, path, len);
	WT_OK(wt_sends(c, head));
	if (len)
		WT_OK(wt_send(c, body, len));
	WT_OK(wt_read_response(c, r, strcmp(method, "HEAD") == 0));
}

/* @method @path with the text @body must be answered @status with exactly @want. */
static void kv_expect(struct wt_client *c, const char *method, const char *path, const char *body,
		      int status, const char *want)
{
	struct wt_response r;

	kv_ask(c, method, path, body, body ? strlen(body) : 0, &r);
	ck_assert_msg(r.status == status, "%s %s: status %d, expected %d (body \"%s\")", method,
		      path, r.status, status, r.body);
	ck_assert_msg(strcmp(r.body, want) == 0, "%s %s: body \"%s\", expected \"%s\"", method,
		      path, r.body, want);
	wt_response_free(&r);
}

/* The pid of the worker serving @c (lifecycle.pid answers "pid P request N"). */
static pid_t worker_of(struct wt_client *c)
{
	struct wt_response r;
	int pid = 0;

	kv_ask(c, "GET", "/pid", NULL, 0, &r);
	ck_assert_msg(r.status == 200 && sscanf(r.body, "pid %d", &pid) == 1, "/pid: %d %s",
		      r.status, r.body);
	wt_response_free(&r);
	return pid;
}

/* Runs warren -s reload; it must succeed. */
static void reload(const struct wt_server *s)
{
	struct wt_run r;

	WT_OK(wt_run_warren(&r, wt_scaled_ms(WT_TIMEOUT_MS), "-s", "reload", "-c", s->conf, NULL));
	ck_assert_msg(r.status == 0, "warren -s reload exited %d: %s", r.status, r.err);
	wt_run_free(&r);
}

START_TEST(kv_methods)
{
	struct wt_response r;
	struct wt_server s;
	struct wt_client c;

	wt_serve(&s, "'workers': 1, 'modules': [" KV_MODULE("{}") "],"
								  " 'routes': [" KV_ROUTE(
									  "/kv/:key", "{}") "]");
	WT_OK(wt_client_open(&c, &s, 0));
	kv_expect(&c, "GET", "/kv/a", NULL, 404, "no key \"a\"\n");
	kv_expect(&c, "PUT", "/kv/a", "hello", 201, "stored\n");
	kv_ask(&c, "GET", "/kv/a", NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "hello");
	ck_assert_str_eq(wt_header(&r, "Content-Type"), "application/octet-stream");
	wt_response_free(&r);
	kv_ask(&c, "HEAD", "/kv/a", NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(wt_header(&r, "Content-Length"), "5");
	wt_response_free(&r);
	kv_expect(&c, "PUT", "/kv/a", "world!", 204, "");
	kv_expect(&c, "GET", "/kv/a", NULL, 200, "world!");
	kv_expect(&c, "PUT", "/kv/empty", "", 201, "stored\n");
	kv_expect(&c, "GET", "/kv/empty", NULL, 200, "");
	kv_expect(&c, "DELETE", "/kv/a", NULL, 204, "");
	kv_expect(&c, "GET", "/kv/a", NULL, 404, "no key \"a\"\n");
	kv_expect(&c, "DELETE", "/kv/a", NULL, 404, "no key \"a\"\n");
	kv_ask(&c, "POST", "/kv/a", "x", 1, &r);
	ck_assert_int_eq(r.status, 405);
	ck_assert_str_eq(wt_header(&r, "Allow"), "GET, HEAD, PUT, DELETE");
	wt_response_free(&r);
	{
		char path[300] = "/kv/";

		memset(path + 4, 'k', 251);
		path[255] = '\0';
		kv_expect(&c, "PUT", path, "x", 414, "a key of 251 bytes is longer than 250\n");
	}
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/* A value stored through one worker is read through another, and after a reload (new
 * workers, the zone inherited) by the next generation. */
START_TEST(kv_shared_by_workers_and_kept_by_reloads)
{
	struct wt_client a, b;
	struct wt_server s;
	pid_t pa;
	int tries = 0;

	wt_serve(&s, "'workers': 2, " PID_FILE ", 'modules': [" KV_MODULE(
			     "{'size': '1m'}") ", " LIFECYCLE_MODULE "],"
					       " 'routes': [" KV_ROUTE("/kv/:key",
								       "{}") ", " PID_ROUTE "]");
	WT_OK(wt_client_open(&a, &s, 0));
	pa = worker_of(&a);
	kv_expect(&a, "PUT", "/kv/shared", "from one worker", 201, "stored\n");
	/* Fresh connections until one lands on the other worker. */
	for (;;) {
		WT_OK(wt_client_open(&b, &s, 0));
		if (worker_of(&b) != pa)
			break;
		wt_client_close(&b);
		ck_assert_msg(++tries < 500, "every connection went to worker %d", (int)pa);
	}
	kv_expect(&b, "GET", "/kv/shared", NULL, 200, "from one worker");
	kv_expect(&b, "PUT", "/kv/shared", "from the other", 204, "");
	kv_expect(&a, "GET", "/kv/shared", NULL, 200, "from the other");
	wt_client_close(&a);
	wt_client_close(&b);

	reload(&s);
	WT_OK(wt_client_open(&a, &s, 0));
	kv_expect(&a, "GET", "/kv/shared", NULL, 200, "from the other");
	wt_client_close(&a);
	ck_assert(wt_log_contains(&s, "reload: generation 1 serving"));
	wt_stop_ok(&s);
}
END_TEST

#define WRITERS 4
#define EACH 100

/* Clients storing at once through two workers: every value lands, none is torn. */
START_TEST(kv_concurrent_writers)
{
	struct wt_server s;
	struct wt_client c;
	pid_t kids[WRITERS];
	int status;

	wt_serve(&s, "'workers': 2, 'modules': [" KV_MODULE(
			     "{'size': '1m'}") "],"
					       " 'routes': [" KV_ROUTE("/kv/:key", "{}") "]");
	for (int i = 0; i < WRITERS; i++) {
		kids[i] = fork();
		ck_assert_int_ge(kids[i], 0);
		if (kids[i] == 0) {
			struct wt_response r;
			char path[64], value[64];

			close(s.guard_fd);
			if (wt_client_open(&c, &s, 0) < 0)
				_exit(1);
			for (int j = 0; j < EACH; j++) {
				snprintf(path, sizeof(path), "/kv/w%d-%d", i, j);
				snprintf(value, sizeof(value), "value %d of writer %d", j, i);
				kv_ask(&c, "PUT", path, value, strlen(value), &r);
				if (r.status != 201)
					_exit(2);
				wt_response_free(&r);
			}
			_exit(0);
		}
	}
	for (int i = 0; i < WRITERS; i++) {
		ck_assert_int_eq(waitpid(kids[i], &status, 0), kids[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "writer %d ended with wait status 0x%x", i, status);
	}
	WT_OK(wt_client_open(&c, &s, 0));
	for (int i = 0; i < WRITERS; i++) {
		for (int j = 0; j < EACH; j++) {
			char path[64], value[64];

			snprintf(path, sizeof(path), "/kv/w%d-%d", i, j);
			snprintf(value, sizeof(value), "value %d of writer %d", j, i);
			kv_expect(&c, "GET", path, NULL, 200, value);
		}
	}
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/* max_value_size answers 413 and max_keys 507, per route; a full zone answers 507 naming
 * what is free, and what is deleted is free again. */
START_TEST(kv_limits)
{
	static char big[30000];
	struct wt_response r;
	struct wt_server s;
	struct wt_client c;

	memset(big, 'v', sizeof(big));
	wt_serve(
		&s,
		"'workers': 1, 'modules': [" KV_MODULE(
			"{'size': '64k'}") "],"
					   " 'routes': [" KV_ROUTE("/small/:key", "{'max_value_size': 10, 'max_keys': 3}") ", " KV_ROUTE(
						   "/big/:key", "{'max_value_size': 60000}") "]");
	WT_OK(wt_client_open(&c, &s, 0));
	kv_expect(&c, "PUT", "/small/a", "0123456789x", 413,
		  "a value of 11 bytes is over this route's max_value_size (10)\n");
	kv_expect(&c, "PUT", "/small/a", "0123456789", 201, "stored\n");
	kv_expect(&c, "PUT", "/small/b", "b", 201, "stored\n");
	kv_expect(&c, "PUT", "/small/c", "c", 201, "stored\n");
	kv_expect(&c, "PUT", "/small/d", "d", 507,
		  "the store holds 3 keys, this route's max_keys\n");
	kv_expect(&c, "PUT", "/small/c", "cc", 204, ""); /* replacing adds no key */
	kv_expect(&c, "DELETE", "/small/b", NULL, 204, "");
	kv_expect(&c, "PUT", "/small/d", "d", 201, "stored\n");

	/* The same zone through a route with larger limits: it fills up. */
	kv_ask(&c, "PUT", "/big/1", big, sizeof(big), &r);
	ck_assert_int_eq(r.status, 201);
	wt_response_free(&r);
	kv_ask(&c, "PUT", "/big/2", big, sizeof(big), &r);
	ck_assert_int_eq(r.status, 201);
	wt_response_free(&r);
	kv_ask(&c, "PUT", "/big/3", big, sizeof(big), &r);
	ck_assert_int_eq(r.status, 507);
	ck_assert_msg(strstr(r.body, "the store is full: ") == r.body &&
			      strstr(r.body, "this entry needs 30025\n"),
		      "%s", r.body);
	wt_response_free(&r);
	kv_expect(&c, "DELETE", "/big/1", NULL, 204, "");
	kv_ask(&c, "PUT", "/big/3", big, sizeof(big), &r);
	ck_assert_int_eq(r.status, 201);
	wt_response_free(&r);
	kv_ask(&c, "GET", "/big/3", NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	WT_ASSERT_BODY(&r, big, sizeof(big));
	wt_response_free(&r);
	kv_expect(&c, "GET", "/small/a", NULL, 200, "0123456789");
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/* A worker killed in the middle of an update (kvkill took the store's lock and allocated a
 * block it never linked): the next request takes the lock over, frees the lost block,
 * keeps every key, and the store goes on. */
START_TEST(kv_survives_a_worker_killed_mid_update)
{
	struct wt_response r;
	struct wt_server s;
	struct wt_client c;
	pid_t w[1], pid;

	wt_serve(
		&s,
		"'workers': 1, 'modules': [" KV_MODULE(
			"{'size': '64k'}") ", " LIFECYCLE_MODULE
					   ", {'name': 'kvkill', 'path': '@PLUGIN_DIR@/kvkill.so', 'config': {'size': "
					   "65536}}], 'routes': [" KV_ROUTE(
						   "/kv/:key",
						   "{}") ", " PID_ROUTE
							 ", {'match': {'path': '/die'}, 'handler': 'kvkill.die'}]");
	WT_OK(wt_client_open(&c, &s, 0));
	kv_expect(&c, "PUT", "/kv/a", "kept", 201, "stored\n");
	kv_expect(&c, "PUT", "/kv/b", "kept too", 201, "stored\n");
	pid = worker_of(&c);
	WT_OK(wt_sends(&c, "GET /die HTTP/1.1\r\nHost: test\r\n\r\n"));
	ck_assert_int_lt(wt_read_response(&c, &r, false), 0);
	wt_client_close(&c);
	WT_OK(wt_wait_workers(&s, 1, pid, w, wt_scaled_ms(WT_TIMEOUT_MS)));

	WT_OK(wt_client_open(&c, &s, 0));
	kv_expect(&c, "GET", "/kv/a", NULL, 200, "kept");
	ck_assert(wt_log_contains(&s, "warn: kv: zone \"kv.store\": a worker died holding its "
				      "lock; 1 lost blocks freed, 2 keys kept"));
	kv_expect(&c, "GET", "/kv/b", NULL, 200, "kept too");
	kv_expect(&c, "PUT", "/kv/c", "new", 201, "stored\n");
	kv_expect(&c, "DELETE", "/kv/a", NULL, 204, "");
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/* warren -t on @members must fail with exactly "warren: CONF: @expected". */
static void assert_refused(const char *members, const char *expected)
{
	struct wt_server s;
	struct wt_run run;
	char want[2048];
	char *json = strdup(members);

	ck_assert_ptr_nonnull(json);
	for (char *p = json; *p; p++)
		if (*p == '\'')
			*p = '"';
	wt_init(&s);
	wt_config(&s, "%s", json);
	free(json);
	ck_assert_int_eq(wt_run_warren(&run, WT_TIMEOUT_MS, "-t", "-c", s.conf, (char *)NULL), 0);
	snprintf(want, sizeof(want), "warren: %s: %s\n", s.conf, expected);
	ck_assert_int_eq(run.status, 1);
	ck_assert_str_eq(run.err, want);
	wt_run_free(&run);
	wt_cleanup(&s);
}

#define KV_FAILED(key) "modules[0].config" key ": module \"kv\" failed to start: "
#define BAD_SIZE "expected a size from 64k to 1g (bytes, or a string like \"64k\" or \"16m\"), got "

START_TEST(kv_config_errors)
{
	static const struct {
		const char *module, *route, *msg;
	} cases[] = {
		{"{'size': 'big'}", "{}", KV_FAILED(".size") BAD_SIZE "string \"big\""},
		{"{'size': '16x'}", "{}", KV_FAILED(".size") BAD_SIZE "string \"16x\""},
		{"{'size': true}", "{}", KV_FAILED(".size") BAD_SIZE "boolean true"},
		{"{'size': '2g'}", "{}",
		 KV_FAILED(".size") "expected a size from 64k to 1g, got \"2g\""},
		{"{'size': 1000}", "{}",
		 KV_FAILED(".size") "expected a size from 64k to 1g, got 1000"},
		{"{'zone': ''}", "{}",
		 KV_FAILED(".zone") "expected a non-empty string of at most 64 bytes, got an empty "
				    "string"},
		{"{'zone': 'kv.store.with.a.name.longer.than.sixty.four.characters.is.refused'}",
		 "{}",
		 KV_FAILED(
			 ".zone") "expected a non-empty string of at most 64 bytes, got 65 bytes"},
		{"{'sise': '1m'}", "{}",
		 KV_FAILED("") "unknown key \"sise\" (did you mean \"size\"?)"},
		{"{'colour': '1m'}", "{}",
		 KV_FAILED("") "unknown key \"colour\" (expected one of: zone, size)"},
		{"{}", "{'max_value_size': 'big'}",
		 "routes[0].config.max_value_size: expected a size from 1 to 1g (bytes, or a string "
		 "like \"64k\" or \"16m\"), got string \"big\""},
		{"{}", "{'max_value_size': 0}",
		 "routes[0].config.max_value_size: expected a size from 1 to 1g, got 0"},
		{"{'size': '64k'}", "{'max_value_size': '64k'}",
		 "routes[0].config.max_value_size: 65536 bytes cannot fit in zone \"kv.store\" of "
		 "65536 bytes (64023 at most)"},
		{"{}", "{'max_keys': -1}",
		 "routes[0].config.max_keys: expected an integer from 1 to 4294967295, got -1"},
		{"{}", "{'max_key': 3}",
		 "routes[0].config: unknown key \"max_key\" (did you mean \"max_keys\"?)"},
		{"{}", "{'limit': 3}",
		 "routes[0].config: unknown key \"limit\" (expected one of: max_value_size, "
		 "max_keys)"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char members[512];

		snprintf(members, sizeof(members),
			 "'modules': [{'name': 'kv', 'path': '@PLUGIN_DIR@/kv.so', 'config': %s}],"
			 " 'routes': [{'match': {'path': '/kv/:key'}, 'handler': 'kv.store', "
			 "'config': %s}]",
			 cases[i].module, cases[i].route);
		assert_refused(members, cases[i].msg);
	}
}
END_TEST

static Suite *kv_suite(void)
{
	Suite *s = suite_create("kv");
	TCase *tc = tcase_create("kv");

	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, kv_methods);
	tcase_add_test(tc, kv_shared_by_workers_and_kept_by_reloads);
	tcase_add_test(tc, kv_concurrent_writers);
	tcase_add_test(tc, kv_limits);
	tcase_add_test(tc, kv_survives_a_worker_killed_mid_update);
	tcase_add_test(tc, kv_config_errors);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(kv_suite)

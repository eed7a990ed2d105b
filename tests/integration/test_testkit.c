/* tests/integration/test_testkit.c - the test kit (<warren/test.h>) against the real warren:
 * starting and stopping, requests built and raw, chunked and keep-alive responses, and
 * every way a test can go wrong - a bad config, a missing binary, a server that never gets
 * ready or never answers, a test that dies with the server running. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <warren/test.h>

#include "check_main.h"

#define HELLO_CONFIG                                                                               \
	"{\"modules\": [{\"name\": \"hello\", \"path\": \"hello.so\"}],"                           \
	" \"routes\": [{\"match\": {\"path\": \"/hello\"}, \"handler\": \"hello.greet\"}]}"

#define KIT_OK(expr)                                                                               \
	do {                                                                                       \
		int kit_ret_ = (expr);                                                             \
		ck_assert_msg(kit_ret_ == 0, "%s: %s (%s)", #expr, strerror(-kit_ret_),            \
			      warren_test_error());                                                \
	} while (0)

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void assert_error_has(const char *text)
{
	ck_assert_msg(strstr(warren_test_error(), text), "error \"%s\", expected \"%s\" in it",
		      warren_test_error(), text);
}

/* Relative module paths come from WARREN_PLUGIN_DIR; two servers run side by side, each
 * on a port of its own, and each stops cleanly and completely. */
START_TEST(test_start_get_stop)
{
	struct warren_test_server *a, *b;
	struct warren_test_response r;
	pid_t pid;

	KIT_OK(warren_test_start(&a, HELLO_CONFIG, NULL));
	KIT_OK(warren_test_start(&b, HELLO_CONFIG, NULL));
	ck_assert_uint_eq(warren_test_nlisten(a), 1);
	ck_assert_int_gt(warren_test_port(a, 0), 0);
	ck_assert_int_ne(warren_test_port(a, 0), warren_test_port(b, 0));
	ck_assert_int_eq(warren_test_port(a, 1), 0);
	ck_assert_ptr_null(warren_test_address(a, 1));
	ck_assert_msg(strncmp(warren_test_address(a, 0), "127.0.0.1:", 10) == 0, "%s",
		      warren_test_address(a, 0));
	KIT_OK(warren_test_get(a, "/hello", &r));
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "Hello, World!");
	ck_assert_str_eq(warren_test_header(&r, "Content-Type"), "text/plain; charset=utf-8");
	warren_test_response_free(&r);
	KIT_OK(warren_test_get(b, "/nowhere", &r));
	ck_assert_int_eq(r.status, 404);
	warren_test_response_free(&r);
	ck_assert(warren_test_log_contains(a, "ready"));
	pid = warren_test_pid(a);
	KIT_OK(warren_test_stop(a));
	ck_assert_int_eq(kill(-pid, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
	KIT_OK(warren_test_stop(b));
	KIT_OK(warren_test_stop(NULL));
}
END_TEST

/* A built request reaches the handler as built: method, target, headers, a body with its
 * Content-Length, and the Host the kit adds. */
START_TEST(test_structured_request)
{
	static const char *const headers[] = {"X-Test: yes", "Content-Type: text/plain", NULL};
	struct warren_test_request req = {.method = "POST",
					  .target = "/echo?x=1",
					  .headers = headers,
					  .body = "ping",
					  .body_len = 4};
	struct warren_test_server *srv;
	struct warren_test_response r;

	KIT_OK(warren_test_start(
		&srv,
		"{\"routes\": [{\"match\": {\"path\": \"/echo\"}, \"handler\": \"echo.echo\"}]}",
		NULL));
	KIT_OK(warren_test_request(srv, &req, &r));
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strncmp(r.body, "POST /echo?x=1 HTTP/1.1\r\n", 25) == 0, "%s", r.body);
	ck_assert_msg(strstr(r.body, "Host: test\r\n") && strstr(r.body, "X-Test: yes\r\n") &&
			      strstr(r.body, "Content-Length: 4\r\n"),
		      "%s", r.body);
	ck_assert_msg(r.body_len > 4 && strcmp(r.body + r.body_len - 8, "\r\n\r\nping") == 0, "%s",
		      r.body);
	warren_test_response_free(&r);
	/* HEAD: the headers of a GET, no body. */
	req = (struct warren_test_request){.method = "HEAD", .target = "/echo"};
	KIT_OK(warren_test_request(srv, &req, &r));
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(warren_test_header(&r, "Content-Length"));
	ck_assert_uint_eq(r.body_len, 0);
	warren_test_response_free(&r);
	/* No request at all is GET /, which has no route here. */
	KIT_OK(warren_test_request(srv, NULL, &r));
	ck_assert_int_eq(r.status, 404);
	warren_test_response_free(&r);
	/* Raw bytes go as they are: warren's own answer to a malformed request. */
	KIT_OK(warren_test_raw(srv, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 36, &r));
	ck_assert_int_eq(r.status, 400);
	warren_test_response_free(&r);
	KIT_OK(warren_test_stop(srv));
}
END_TEST

/* A streamed response arrives chunked and is joined; keep-alive and pipelining work on one
 * connection, and the server's close after "Connection: close" is seen. */
START_TEST(test_chunked_keepalive)
{
	const char *two = "GET /stream?pieces=3&size=4 HTTP/1.1\r\nHost: t\r\n\r\n"
			  "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n";
	static const char *const close_hdr[] = {"Connection: close", NULL};
	struct warren_test_request last = {.target = "/echo", .headers = close_hdr};
	struct warren_test_server *srv;
	struct warren_test_conn *c;
	struct warren_test_response r;

	KIT_OK(warren_test_start(
		&srv,
		"{\"modules\": [{\"name\": \"api\", \"path\": \"api.so\"}],"
		" \"routes\": [{\"match\": {\"path\": \"/stream\"}, \"handler\": \"api.stream\"},"
		" {\"match\": {\"path\": \"/echo\"}, \"handler\": \"echo.echo\"}]}",
		NULL));
	KIT_OK(warren_test_connect(srv, 0, &c));
	KIT_OK(warren_test_send(c, two, strlen(two)));
	KIT_OK(warren_test_read(c, 0, &r));
	ck_assert_int_eq(r.status, 200);
	ck_assert(r.chunked);
	ck_assert_uint_eq(r.body_len, 12);
	ck_assert_str_eq(warren_test_header(&r, "Transfer-Encoding"), "chunked");
	warren_test_response_free(&r);
	KIT_OK(warren_test_read(c, 0, &r));
	ck_assert_msg(strncmp(r.body, "GET /echo HTTP/1.1", 18) == 0, "%s", r.body);
	warren_test_response_free(&r);
	KIT_OK(warren_test_send_request(c, &last));
	KIT_OK(warren_test_read(c, 0, &r));
	warren_test_response_free(&r);
	KIT_OK(warren_test_wait_closed(c));
	warren_test_close(c);
	KIT_OK(warren_test_stop(srv));
}
END_TEST

START_TEST(test_bad_config)
{
	struct warren_test_server *srv = (void *)1;

	ck_assert_int_eq(warren_test_start(&srv, "{\"routes\": [", NULL), -EINVAL);
	ck_assert_ptr_null(srv);
	assert_error_has("config: line 1, column 12:");
	ck_assert_int_eq(warren_test_start(&srv, "[1]", NULL), -EINVAL);
	assert_error_has("config: expected a JSON object");
	ck_assert_int_eq(warren_test_start(&srv, NULL, NULL), -EINVAL);
	/* What warren itself refuses comes back in its own words. */
	ck_assert_int_eq(warren_test_start(&srv, "{\"bogus\": 1}", NULL), -ECHILD);
	ck_assert_ptr_null(srv);
	assert_error_has("exited with status 1 before it was ready");
	assert_error_has("bogus: unknown key");
	ck_assert_int_eq(warren_test_start(&srv,
					   "{\"modules\": [{\"name\": \"nope\", \"path\": "
					   "\"nope.so\"}]}",
					   NULL),
			 -ECHILD);
	assert_error_has("nope.so");
}
END_TEST

START_TEST(test_missing_binary)
{
	struct warren_test_options opts = {.bin = "/nonexistent/warren"};
	struct warren_test_server *srv;

	ck_assert_int_eq(warren_test_start(&srv, "{}", &opts), -ECHILD);
	assert_error_has("exited with status 127 before it was ready");
	assert_error_has("cannot run /nonexistent/warren: No such file or directory");
}
END_TEST

/* Writes an executable script into a fresh directory; returns the directory. */
static char *write_script(const char *body, char *script, size_t size)
{
	char *dir = strdup("/tmp/warren-kit-test.XXXXXX");
	FILE *f;

	ck_assert_ptr_nonnull(dir);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(script, size, "%s/fake-warren", dir);
	f = fopen(script, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	ck_assert_int_eq(chmod(script, 0755), 0);
	return dir;
}

static pid_t read_pid(const char *path)
{
	FILE *f = fopen(path, "r");
	int pid = 0;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fscanf(f, "%d", &pid), 1);
	fclose(f);
	return (pid_t)pid;
}

/* A server that never reports ready fails the start within its timeout and is killed. */
START_TEST(test_start_timeout)
{
	char script[256], pidfile[256], body[600];
	struct warren_test_options opts = {.timeout_ms = 300};
	struct warren_test_server *srv;
	long long t0;
	char *dir;

	snprintf(pidfile, sizeof(pidfile), "/tmp/warren-kit-test-%d.pid", (int)getpid());
	snprintf(body, sizeof(body), "echo $$ >%s\nexec sleep 60", pidfile);
	dir = write_script(body, script, sizeof(script));
	opts.bin = script;
	t0 = now_ms();
	ck_assert_int_eq(warren_test_start(&srv, "{}", &opts), -ETIMEDOUT);
	ck_assert_int_lt(now_ms() - t0, 5000);
	assert_error_has("was not ready within");
	ck_assert_int_eq(kill(read_pid(pidfile), 0), -1);
	ck_assert_int_eq(errno, ESRCH);
	unlink(pidfile);
	unlink(script);
	rmdir(dir);
	free(dir);
}
END_TEST

/* A listener that accepts (in the backlog) and never answers. */
static int silent_listener(char *addr, size_t size)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	snprintf(addr, size, "127.0.0.1:%d", ntohs(a.sin_port));
	return fd;
}

/* A server that never answers fails the read within the timeout, saying so. */
START_TEST(test_read_timeout)
{
	static const char *const bad[] = {"X-Split: a\r\nInjected: b", NULL};
	struct warren_test_request req = {.headers = bad};
	struct warren_test_conn *c;
	struct warren_test_response r;
	char addr[64];
	int fd = silent_listener(addr, sizeof(addr));
	long long t0;

	KIT_OK(warren_test_connect_to(addr, 200, &c));
	KIT_OK(warren_test_send(c, "GET / HTTP/1.1\r\n\r\n", 18));
	t0 = now_ms();
	ck_assert_int_eq(warren_test_read(c, 0, &r), -ETIMEDOUT);
	ck_assert_int_lt(now_ms() - t0, 5000);
	assert_error_has("no complete response from 127.0.0.1:");
	assert_error_has("(0 bytes came");
	ck_assert_int_eq(warren_test_wait_closed(c), -ETIMEDOUT);
	assert_error_has("kept the connection open");
	/* A header that would smuggle another is refused before anything is sent. */
	ck_assert_int_eq(warren_test_send_request(c, &req), -EINVAL);
	assert_error_has("header 0 \"X-Split: a");
	req = (struct warren_test_request){.method = "GET /x"};
	ck_assert_int_eq(warren_test_send_request(c, &req), -EINVAL);
	assert_error_has("method \"GET /x\"");
	warren_test_close(c);
	close(fd);
	ck_assert_int_eq(warren_test_connect_to("localhost", 200, &c), -EINVAL);
	assert_error_has("expected HOST:PORT");
	ck_assert_ptr_null(c);
	ck_assert_int_eq(warren_test_connect_to("300.1.1.1:80", 200, &c), -EINVAL);
	assert_error_has("300.1.1.1 is no IPv4 address");
}
END_TEST

/*
 * A test that ends without warren_test_stop() - exit() after a failed assertion, or a
 * crash - takes its server with it. Orphans come here (a subreaper) so that they can be
 * seen ending rather than vanishing into init.
 */
static void dies_with_test(bool crash)
{
	int p[2];
	pid_t child, master = 0;
	char dir[4096] = "";
	long long deadline;
	struct stat st;

	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	ck_assert_int_eq(pipe(p), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct warren_test_server *srv;

		close(p[0]);
		if (warren_test_start(&srv, HELLO_CONFIG, NULL) < 0)
			_exit(3);
		master = warren_test_pid(srv);
		if (write(p[1], &master, sizeof(master)) != sizeof(master) ||
		    write(p[1], warren_test_dir(srv), strlen(warren_test_dir(srv))) < 0)
			_exit(4);
		close(p[1]);
		if (crash)
			raise(SIGKILL);
		exit(1);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &master, sizeof(master)), (ssize_t)sizeof(master));
	ck_assert_int_gt(read(p[0], dir, sizeof(dir) - 1), 0);
	close(p[0]);
	ck_assert_int_eq(waitpid(child, NULL, 0), child);
	deadline = now_ms() + 10000;
	/* Reap whatever comes here until nothing of the server's group is left. */
	while (kill(-master, 0) == 0 && now_ms() < deadline) {
		struct timespec ts = {.tv_nsec = 5000000};

		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		nanosleep(&ts, NULL);
	}
	ck_assert_msg(kill(-master, 0) == -1 && errno == ESRCH,
		      "warren's process group %d outlived the test", (int)master);
	/* After exit() the kit cleaned up too; a crash leaves the directory. */
	if (crash) {
		char cmd[4200];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		ck_assert_int_eq(system(cmd), 0);
	} else {
		ck_assert_msg(stat(dir, &st) < 0 && errno == ENOENT, "%s is still there", dir);
	}
}

START_TEST(test_exit_stops_server)
{
	dies_with_test(false);
}
END_TEST

START_TEST(test_crash_stops_server)
{
	dies_with_test(true);
}
END_TEST

static Suite *testkit_suite(void)
{
	Suite *s = suite_create("testkit");
	TCase *tc = tcase_create("kit");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_start_get_stop);
	tcase_add_test(tc, test_structured_request);
	tcase_add_test(tc, test_chunked_keepalive);
	tcase_add_test(tc, test_bad_config);
	tcase_add_test(tc, test_missing_binary);
	tcase_add_test(tc, test_start_timeout);
	tcase_add_test(tc, test_read_timeout);
	tcase_add_test(tc, test_exit_stops_server);
	tcase_add_test(tc, test_crash_stops_server);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(testkit_suite)

/* tests/integration/test_event.c - the event backends as the real server picks them: io_uring
 * serving, and the fallback to epoll when io_uring is refused (a seccomp filter, or
 * WARREN_DISABLE_IO_URING), which "auto" survives and a forced "io_uring" does not. */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check_main.h"
#include "harness.h"

#define ROUTES                                                                                     \
	"'modules': [" WT_HELLO_MODULE "],"                                                        \
	"'routes': ["                                                                              \
	"  {'match': {'path': '/hello', 'method': 'GET'}, 'handler': 'hello.greet'},"              \
	"  {'match': {'path': '/echo/*'}, 'handler': 'echo.echo'}"                                 \
	"]"

#define HELLO_REQ "GET /hello HTTP/1.1\r\nHost: test\r\n\r\n"
#define FALLBACK_LINE "; falling back to epoll"
#define UNAVAILABLE "io_uring is unavailable: "

#if defined(__x86_64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_I386
#elif defined(__riscv) && __riscv_xlen == 64
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_RISCV64
#endif

/* ---- Helpers ------------------------------------------------------------------------ */

/* A server of @workers workers on @event, logging at debug level so the backend shows;
 * @extra (plain JSON, no template quotes) adds members. */
static void configure(struct wt_server *s, const char *event, unsigned workers, const char *extra)
{
	wt_init(s);
	wt_write_config(s,
			"{'listen': ['127.0.0.1:0'], 'event': '%s', 'workers': %u, "
			"'log_level': 'debug', %s" ROUTES "}\n",
			event, workers, extra);
}

static void serve(struct wt_server *s, const char *event, unsigned workers, const char *extra)
{
	configure(s, event, workers, extra);
	WT_OK(wt_start(s));
}

/* How many times @needle is in the server's log. */
static size_t log_count(const struct wt_server *s, const char *needle)
{
	char buf[65536];
	size_t n = 0, len = 0;
	ssize_t k;
	int fd = open(s->log, O_RDONLY | O_CLOEXEC);

	ck_assert_msg(fd >= 0, "%s: %s", s->log, strerror(errno));
	while (len < sizeof(buf) - 1 && (k = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)k;
	close(fd);
	buf[len] = '\0';
	for (const char *p = buf; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void expect_log(const struct wt_server *s, const char *needle)
{
	ck_assert_msg(wt_log_contains(s, needle), "the log has no \"%s\"", needle);
}

static void expect_hello(struct wt_client *c)
{
	struct wt_response r;

	WT_OK(wt_sends(c, HELLO_REQ));
	WT_OK(wt_read_response(c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	ck_assert_str_eq(r.body, "Hello, World!");
	wt_response_free(&r);
}

/* One request on a fresh connection. */
static void expect_served(const struct wt_server *s)
{
	struct wt_client c;

	WT_OK(wt_client_open(&c, s, 0));
	expect_hello(&c);
	wt_client_close(&c);
}

/* Whether this machine lets a process set up an io_uring at all. */
static bool kernel_has_io_uring(char *why, size_t len)
{
	struct io_uring_params p = {0};
	const char *off = getenv("WARREN_DISABLE_IO_URING");
	long fd;

	if (off && *off && strcmp(off, "0") != 0) {
		snprintf(why, len, "WARREN_DISABLE_IO_URING=%s in the environment", off);
		return false;
	}
	fd = syscall(__NR_io_uring_setup, 4, &p);
	if (fd < 0) {
		snprintf(why, len, "io_uring_setup: %s", strerror(errno));
		return false;
	}
	close((int)fd);
	return true;
}

/* ---- Refusing io_uring to the server ------------------------------------------------ */

/*
 * Pre-exec hook: a seccomp filter on the server and everything it forks that makes
 * io_uring_setup fail with the errno *@arg, as a container runtime's profile does.
 */
static void deny_io_uring(void *arg)
{
	int err = *(const int *)arg;
	struct sock_filter filter[] = {
#ifdef NATIVE_AUDIT_ARCH
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
#endif
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(filter) / sizeof(filter[0]), .filter = filter};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
		dprintf(STDERR_FILENO, "test: cannot install the seccomp filter: %s\n",
			strerror(errno));
		_exit(127);
	}
}

/* Pre-exec hook: at most *@arg open files per process. */
static void limit_fds(void *arg)
{
	struct rlimit rl = {.rlim_cur = *(const rlim_t *)arg, .rlim_max = *(const rlim_t *)arg};

	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		dprintf(STDERR_FILENO, "test: setrlimit: %s\n", strerror(errno));
		_exit(127);
	}
}

/* Pre-exec hook: the documented switch for machines without io_uring. */
static void disable_by_env(void *arg)
{
	(void)arg;
	if (setenv("WARREN_DISABLE_IO_URING", "1", 1) < 0)
		_exit(127);
}

/* "auto" under @hook: one line says why io_uring is out, and epoll serves. */
static void expect_fallback(void (*hook)(void *), void *arg, const char *why)
{
	struct wt_server s;
	char line[256];

	configure(&s, "auto", 1, "");
	WT_OK(wt_start_hook(&s, hook, arg));
	expect_served(&s);
	snprintf(line, sizeof(line), UNAVAILABLE "%s", why);
	expect_log(&s, line);
	ck_assert_uint_eq(log_count(&s, UNAVAILABLE), 1);
	ck_assert_uint_eq(log_count(&s, FALLBACK_LINE), 1);
	expect_log(&s, "worker 0 running on epoll");
	ck_assert_uint_eq(log_count(&s, "running on io_uring"), 0);
	wt_stop_ok(&s);
}

/*
 * "io_uring" forced under @hook must not serve, and must say why: the master checks once
 * before it forks, so it exits before it is ready.
 */
static void expect_forced_failure(void (*hook)(void *), void *arg, const char *why)
{
	struct wt_server s;
	char line[256];
	int ret;

	configure(&s, "io_uring", 1, "");
	snprintf(line, sizeof(line), UNAVAILABLE "%s", why);
	ret = wt_start_hook(&s, hook, arg);
	ck_assert_msg(ret == -ECHILD, "warren did not exit before it was ready: %s",
		      ret ? strerror(-ret) : "it started");
	expect_log(&s, line);
	expect_log(&s, "\"event\": \"io_uring\"");
	ck_assert_uint_eq(log_count(&s, "running on"), 0);
	ck_assert_uint_eq(log_count(&s, FALLBACK_LINE), 0);
	wt_cleanup(&s);
}

static const int denials[] = {EPERM, ENOSYS};

START_TEST(auto_falls_back_under_seccomp)
{
	int err = denials[_i];
	char why[128];

	snprintf(why, sizeof(why), "io_uring_setup: %s (", strerror(err));
	expect_fallback(deny_io_uring, &err, why);
}
END_TEST

START_TEST(forced_io_uring_fails_under_seccomp)
{
	int err = denials[_i];
	char why[128];

	snprintf(why, sizeof(why), "io_uring_setup: %s (", strerror(err));
	expect_forced_failure(deny_io_uring, &err, why);
}
END_TEST

START_TEST(auto_falls_back_when_disabled_by_env)
{
	expect_fallback(disable_by_env, NULL,
			"io_uring_setup: disabled by WARREN_DISABLE_IO_URING=1");
}
END_TEST

START_TEST(forced_io_uring_fails_when_disabled_by_env)
{
	expect_forced_failure(disable_by_env, NULL,
			      "io_uring_setup: disabled by WARREN_DISABLE_IO_URING=1");
}
END_TEST

/* Asking for epoll never touches io_uring, so a filter against it changes nothing. */
START_TEST(epoll_needs_no_io_uring)
{
	struct wt_server s;
	int err = EPERM;

	configure(&s, "epoll", 1, "");
	WT_OK(wt_start_hook(&s, deny_io_uring, &err));
	expect_served(&s);
	expect_log(&s, "worker 0 running on epoll");
	ck_assert_uint_eq(log_count(&s, "io_uring"), 0);
	wt_stop_ok(&s);
}
END_TEST

/* ---- Serving on io_uring ------------------------------------------------------------ */

START_TEST(io_uring_serves_get)
{
	struct wt_server s;
	struct wt_response r;

	serve(&s, "io_uring", 1, "");
	WT_OK(wt_exchanges(&s, HELLO_REQ, &r));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	ck_assert_str_eq(wt_header(&r, "Content-Length"), "13");
	ck_assert_str_eq(r.body, "Hello, World!");
	wt_response_free(&r);
	expect_log(&s, "worker 0 running on io_uring");
	ck_assert_uint_eq(log_count(&s, UNAVAILABLE), 0);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(io_uring_keeps_connections_alive)
{
	struct wt_server s;
	struct wt_client c;

	serve(&s, "io_uring", 1, "");
	WT_OK(wt_client_open(&c, &s, 0));
	for (int i = 0; i < 20; i++)
		expect_hello(&c);
	ck_assert_int_eq(wt_wait_closed(&c, 50), -ETIMEDOUT);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(io_uring_answers_ten_pipelined_requests_in_order)
{
	struct wt_server s;
	struct wt_client c;
	char batch[2048];
	size_t len = 0;

	serve(&s, "io_uring", 1, "");
	WT_OK(wt_client_open(&c, &s, 0));
	for (int i = 0; i < 10; i++)
		len += (size_t)snprintf(batch + len, sizeof(batch) - len,
					"GET /echo/pipe/%d HTTP/1.1\r\nHost: test\r\n\r\n", i);
	WT_OK(wt_send(&c, batch, len));
	for (int i = 0; i < 10; i++) {
		struct wt_response r;
		char echo[128];

		snprintf(echo, sizeof(echo), "GET /echo/pipe/%d HTTP/1.1\r\nHost: test\r\n\r\n", i);
		WT_OK(wt_read_response(&c, &r, false));
		WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
		WT_ASSERT_BODY(&r, echo, strlen(echo));
		wt_response_free(&r);
	}
	ck_assert_int_eq(wt_wait_closed(&c, 0), -ETIMEDOUT);
	expect_hello(&c);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/* 100 KiB in (many receives) and back out (likely short writes). */
START_TEST(io_uring_echoes_a_100_kib_body)
{
	enum {
		BODY = 100 * 1024
	};
	static const char head[] =
		"POST /echo/big HTTP/1.1\r\nHost: test\r\nContent-Length: 102400\r\n\r\n";
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	char *req = malloc(sizeof(head) - 1 + BODY);

	ck_assert_ptr_nonnull(req);
	memcpy(req, head, sizeof(head) - 1);
	for (size_t i = 0; i < BODY; i++)
		req[sizeof(head) - 1 + i] = (char)('a' + (i * 7 + i / 251) % 26);
	serve(&s, "io_uring", 1, "");
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_send(&c, req, sizeof(head) - 1 + BODY));
	WT_OK(wt_read_response(&c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	/* echo answers with the request as received: head, then the body. */
	WT_ASSERT_BODY(&r, req, sizeof(head) - 1 + BODY);
	wt_response_free(&r);
	expect_hello(&c);
	wt_client_close(&c);
	free(req);
	wt_stop_ok(&s);
}
END_TEST

/* Every worker has a multishot accept armed on the one shared listener. */
START_TEST(io_uring_accepts_many_connections_in_two_workers)
{
	enum {
		N = 64
	};
	struct wt_server s;
	struct wt_client c[N];

	serve(&s, "io_uring", 2, "");
	for (int i = 0; i < N; i++)
		WT_OK(wt_client_open(&c[i], &s, 0));
	for (int i = 0; i < N; i++)
		WT_OK(wt_sends(&c[i], HELLO_REQ));
	for (int i = 0; i < N; i++) {
		struct wt_response r;

		WT_OK(wt_read_response(&c[i], &r, false));
		WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
		ck_assert_str_eq(r.body, "Hello, World!");
		wt_response_free(&r);
	}
	for (int i = 0; i < N; i++)
		wt_client_close(&c[i]);
	expect_log(&s, "worker 0 running on io_uring");
	expect_log(&s, "worker 1 running on io_uring");
	wt_stop_ok(&s);
}
END_TEST

/* The keep-alive timer closes a connection whose receive is in flight: it is cancelled. */
START_TEST(io_uring_closes_idle_connections)
{
	struct wt_server s;
	struct wt_client c;

	serve(&s, "io_uring", 1, "\"http\": {\"keepalive_timeout\": 0.2}, ");
	WT_OK(wt_client_open(&c, &s, 0));
	expect_hello(&c);
	WT_OK(wt_wait_closed(&c, WT_TIMEOUT_MS));
	wt_client_close(&c);
	expect_served(&s);
	wt_stop_ok(&s);
}
END_TEST

/* Stopping with connections idle in a receive, and mid-request. */
START_TEST(io_uring_stops_with_connections_open)
{
	struct wt_server s;
	struct wt_client idle, busy, fresh;

	serve(&s, "io_uring", 1, "");
	WT_OK(wt_client_open(&idle, &s, 0));
	expect_hello(&idle);
	WT_OK(wt_client_open(&busy, &s, 0));
	WT_OK(wt_sends(&busy, "GET /hello HTTP/1.1\r\nHo"));
	WT_OK(wt_client_open(&fresh, &s, 0));
	/* A request after the others makes sure the worker has taken all three. */
	expect_hello(&fresh);
	wt_stop_ok(&s);
	WT_OK(wt_wait_closed(&idle, WT_TIMEOUT_MS));
	WT_OK(wt_wait_closed(&busy, WT_TIMEOUT_MS));
	wt_client_close(&idle);
	wt_client_close(&busy);
	wt_client_close(&fresh);
}
END_TEST

/* ---- Both backends ------------------------------------------------------------------ */

static const char *const backends[] = {"epoll", "io_uring"};

/*
 * With few fds, the connection cap is lowered to fit, so accepting pauses at the cap
 * (instead of failing with EMFILE) and resumes once connections close: the listener is
 * disarmed (a cancelled multishot poll, on io_uring) and re-armed later.
 */
START_TEST(accepting_pauses_within_the_open_files_limit)
{
	enum {
		N = 100
	};
	rlim_t max_fds = 64;
	struct wt_server s;
	struct wt_client c[N];

	configure(&s, backends[_i], 1, "");
	WT_OK(wt_start_hook(&s, limit_fds, &max_fds));
	for (int i = 0; i < N; i++)
		WT_OK(wt_client_open(&c[i], &s, 0));
	/* 64 fds leave about 32 for connections (fewer under valgrind, which keeps some). */
	WT_OK(wt_wait_log(&s, "worker_connections 10000 lowered to ", WT_TIMEOUT_MS));
	WT_OK(wt_wait_log(&s, " connections, the worker_connections cap: accepting paused",
			  WT_TIMEOUT_MS));
	ck_assert(!wt_log_contains(&s, "Too many open files"));
	for (int i = 0; i < N; i++)
		wt_client_close(&c[i]);
	expect_served(&s);
	wt_stop_ok(&s);
}
END_TEST

static Suite *event_suite(void)
{
	Suite *s = suite_create("event");
	TCase *tc;
	char why[256];
	bool has_io_uring;

	tc = tcase_create("fallback");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, auto_falls_back_under_seccomp, 0, 2);
	tcase_add_loop_test(tc, forced_io_uring_fails_under_seccomp, 0, 2);
	tcase_add_test(tc, auto_falls_back_when_disabled_by_env);
	tcase_add_test(tc, forced_io_uring_fails_when_disabled_by_env);
	tcase_add_test(tc, epoll_needs_no_io_uring);
	suite_add_tcase(s, tc);

	has_io_uring = kernel_has_io_uring(why, sizeof(why));
	if (!has_io_uring)
		fprintf(stderr, "test_event: io_uring serving tests left out: %s\n", why);

	tc = tcase_create("both");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, accepting_pauses_within_the_open_files_limit, 0,
			    has_io_uring ? 2 : 1);
	suite_add_tcase(s, tc);

	if (!has_io_uring)
		return s;
	tc = tcase_create("io_uring");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, io_uring_serves_get);
	tcase_add_test(tc, io_uring_keeps_connections_alive);
	tcase_add_test(tc, io_uring_answers_ten_pipelined_requests_in_order);
	tcase_add_test(tc, io_uring_echoes_a_100_kib_body);
	tcase_add_test(tc, io_uring_accepts_many_connections_in_two_workers);
	tcase_add_test(tc, io_uring_closes_idle_connections);
	tcase_add_test(tc, io_uring_stops_with_connections_open);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(event_suite)

/* tests/integration/test_upgrade.c - connection upgrade (warren_req_upgrade()) on the real
 * server, with the lineecho test plugin's line protocol: pipelined bytes, back-pressure, a
 * close from either side, the stream's timer, the refusals, and stops and reloads while
 * upgraded (graceful within shutdown_timeout, and at once). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "harness.h"

#define LINE_MODULE "{'name': 'lineecho', 'path': '@PLUGIN_DIR@/lineecho.so'}"
#define ROUTES                                                                                     \
	"'modules': [" LINE_MODULE "],"                                                            \
	"'routes': ["                                                                              \
	"  {'match': {'path': '/line'}, 'handler': 'lineecho.echo'},"                              \
	"  {'match': {'path': '/stubborn'}, 'handler': 'lineecho.stubborn'},"                      \
	"  {'match': {'path': '/fickle'}, 'handler': 'lineecho.fickle'},"                          \
	"  {'match': {'path': '/body'}, 'handler': 'lineecho.body'}"                               \
	"]"

#define UPGRADE_HEAD(path)                                                                         \
	"GET " path " HTTP/1.1\r\nHost: test\r\nUpgrade: lineecho\r\nConnection: Upgrade\r\n\r\n"

/* Reads until @len bytes of the stream are buffered. Returns 0, -ETIMEDOUT or -EPIPE. */
static int stream_fill(struct wt_client *c, size_t len)
{
	long long deadline = wt_now_ms() + wt_scaled_ms(WT_TIMEOUT_MS);

	while (c->len < len) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		ssize_t n;

		if (c->cap < len + 1) {
			char *nb = realloc(c->buf, len + 65536);

			ck_assert_ptr_nonnull(nb);
			c->buf = nb;
			c->cap = len + 65535;
		}
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		if (n == 0)
			return -EPIPE;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		if (wt_now_ms() >= deadline)
			return -ETIMEDOUT;
		poll(&pfd, 1, (int)(deadline - wt_now_ms()));
	}
	return 0;
}

/* The stream's next bytes must be exactly @want. */
static void stream_expect(struct wt_client *c, const char *want)
{
	size_t n = strlen(want);

	WT_OK(stream_fill(c, n));
	ck_assert_msg(memcmp(c->buf, want, n) == 0, "expected \"%s\", got \"%.*s\"", want, (int)n,
		      c->buf);
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

/* Opens a connection and switches it to lineecho at @path, sending @after behind the
 * request in the same write; the 101 must name the protocol. */
static void open_stream(struct wt_client *c, const struct wt_server *s, const char *head,
			const char *after)
{
	struct wt_response r;
	char req[512];

	snprintf(req, sizeof(req), "%s%s", head, after);
	WT_OK(wt_client_open(c, s, 0));
	WT_OK(wt_sends(c, req));
	WT_OK(wt_read_response(c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 101 Switching Protocols");
	ck_assert_str_eq(wt_header(&r, "Upgrade"), "lineecho");
	ck_assert_str_eq(wt_header(&r, "Connection"), "Upgrade");
	ck_assert_ptr_null(wt_header(&r, "Content-Length"));
	wt_response_free(&r);
	/* Written by the handler before the 101 went out: it still comes after it. */
	stream_expect(c, "welcome\n");
}

static void expect_log(const struct wt_server *s, const char *line)
{
	WT_OK(wt_wait_log(s, line, wt_scaled_ms(WT_TIMEOUT_MS)));
}

START_TEST(pipelined_bytes_come_first)
{
	struct wt_server s;
	struct wt_client c;

	wt_serve(&s, "'workers': 1, " ROUTES);
	open_stream(&c, &s, UPGRADE_HEAD("/line"), "hello\nagain\n");
	stream_expect(&c, "hello\nagain\n");
	WT_OK(wt_sends(&c, "world\n"));
	stream_expect(&c, "world\n");
	WT_OK(wt_sends(&c, "timer 50\n"));
	stream_expect(&c, "tick\n");
	/* Closed by the module: what it wrote goes out, then the connection closes. */
	WT_OK(wt_sends(&c, "close\n"));
	stream_expect(&c, "bye\n");
	WT_OK(wt_wait_closed(&c, wt_scaled_ms(WT_TIMEOUT_MS)));
	wt_client_close(&c);
	expect_log(&s, "lineecho: stream ended: closed");
	wt_stop_ok(&s);
}
END_TEST

START_TEST(client_close_ends_the_stream)
{
	struct wt_server s;
	struct wt_client c;

	wt_serve(&s, "'workers': 1, " ROUTES);
	open_stream(&c, &s, UPGRADE_HEAD("/line"), "");
	wt_client_close(&c);
	expect_log(&s, "lineecho: stream ended: peer");
	/* The worker serves on: the connection it had is gone. */
	open_stream(&c, &s, UPGRADE_HEAD("/line"), "x\n");
	stream_expect(&c, "x\n");
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/* A client that does not read: writes are refused (nothing buffers without bound), reading
 * pauses, and it all comes out in order once the client reads. */
START_TEST(back_pressure_holds_output_and_input)
{
	enum {
		KIB = 8192
	};
	struct wt_server s;
	struct wt_client c;
	size_t total = (size_t)KIB * 1024;
	char cmd[32];
	size_t i;

	wt_serve(&s, "'workers': 1, " ROUTES);
	open_stream(&c, &s, UPGRADE_HEAD("/line"), "");
	snprintf(cmd, sizeof(cmd), "flood %d\n", KIB);
	WT_OK(wt_sends(&c, cmd));
	/* Read while the server has stopped reading: it holds this until the flood is out. */
	WT_OK(wt_sends(&c, "after\n"));
	WT_OK(stream_fill(&c, total));
	for (i = 0; i < total; i++)
		if (c.buf[i] != 'x')
			break;
	ck_assert_uint_eq(i, total);
	memmove(c.buf, c.buf + total, c.len - total);
	c.len -= total;
	stream_expect(&c, "flooded\n");
	stream_expect(&c, "after\n");
	expect_log(&s, "lineecho: flooded, ");
	ck_assert_msg(!wt_log_contains(&s, "lineecho: flooded, 0 writes refused"),
		      "no write was refused: output buffered without bound");
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/* An upgraded connection counts towards worker_connections, and is never taken for an idle
 * one: at the cap the next client waits until the stream closes. */
START_TEST(upgraded_connection_counts_towards_the_cap)
{
	struct wt_server s;
	struct wt_client c, next;
	struct wt_response r;
	struct pollfd pfd;

	wt_serve(&s, "'workers': 1, 'worker_connections': 1, " ROUTES);
	open_stream(&c, &s, UPGRADE_HEAD("/line"), "");
	WT_OK(wt_client_open(&next, &s, 0));
	WT_OK(wt_sends(&next, "GET /line HTTP/1.1\r\nHost: t\r\n\r\n"));
	expect_log(&s, "the worker_connections cap: accepting paused");
	/* A round trip on the stream: the worker is awake, and still not serving the other. */
	WT_OK(wt_sends(&c, "ping\n"));
	stream_expect(&c, "ping\n");
	pfd = (struct pollfd){.fd = next.fd, .events = POLLIN};
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	WT_OK(wt_sends(&c, "close\n"));
	stream_expect(&c, "bye\n");
	WT_OK(wt_wait_closed(&c, wt_scaled_ms(WT_TIMEOUT_MS)));
	wt_client_close(&c);
	WT_OK(wt_read_response(&next, &r, false));
	ck_assert_int_eq(r.status, 400);
	wt_response_free(&r);
	wt_client_close(&next);
	wt_stop_ok(&s);
}
END_TEST

/* A 101 replaced after the handler asked for it: no switch, the module hears why. */
START_TEST(a_replaced_101_refuses_the_stream)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	wt_serve(&s, "'workers': 1, " ROUTES);
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_sends(&c, UPGRADE_HEAD("/fickle") "hello\n"));
	WT_OK(wt_read_response(&c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 403 Forbidden");
	ck_assert_str_eq(wt_header(&r, "Connection"), "close");
	wt_response_free(&r);
	WT_OK(wt_wait_closed(&c, wt_scaled_ms(WT_TIMEOUT_MS)));
	wt_client_close(&c);
	expect_log(&s, "lineecho: stream ended: refused");
	wt_stop_ok(&s);
}
END_TEST

/* Stream callbacks run under the same protection as handlers: the watchdog's warning and
 * the crash report name the handler that upgraded. */
START_TEST(stream_callbacks_are_watched_like_handlers)
{
	struct wt_server s;
	struct wt_client c;

	wt_serve(&s, "'workers': 1, 'watchdog': {'warn': 0.2}, " ROUTES);
	open_stream(&c, &s, UPGRADE_HEAD("/line"), "");
	WT_OK(wt_sends(&c, "stall\n"));
	stream_expect(&c, "stalled\n");
	expect_log(&s, "lineecho.echo held the event loop for ");
	WT_OK(wt_sends(&c, "crash\n"));
	WT_OK(wt_wait_closed(&c, wt_scaled_ms(WT_TIMEOUT_MS)));
	wt_client_close(&c);
	expect_log(&s, "fatal signal SIGSEGV in lineecho.echo\n");
	expect_log(&s, "respawning");
	/* The new worker upgrades as the old one did. */
	open_stream(&c, &s, UPGRADE_HEAD("/line"), "again\n");
	stream_expect(&c, "again\n");
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

static void expect_refused(const struct wt_server *s, const char *req, int err)
{
	struct wt_response r;
	char body[32];

	snprintf(body, sizeof(body), "refused %d\n", err);
	WT_OK(wt_exchanges(s, req, &r));
	ck_assert_msg(strstr(r.body, body), "expected \"%s\" for %s, got %d \"%s\"", body, req,
		      r.status, r.body);
	ck_assert_ptr_null(wt_header(&r, "Upgrade"));
	wt_response_free(&r);
}

START_TEST(senseless_upgrades_are_refused)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	wt_serve(&s, "'workers': 1, " ROUTES);
	expect_refused(&s, "GET /line HTTP/1.0\r\nUpgrade: lineecho\r\nConnection: Upgrade\r\n\r\n",
		       -EPROTONOSUPPORT);
	expect_refused(&s, "GET /line HTTP/1.1\r\nHost: t\r\n\r\n", -EPROTO);
	expect_refused(&s, "GET /line HTTP/1.1\r\nHost: t\r\nUpgrade: lineecho\r\n\r\n", -EPROTO);
	expect_refused(&s,
		       "GET /line?proto=other HTTP/1.1\r\nHost: t\r\n"
		       "Upgrade: lineecho\r\nConnection: Upgrade\r\n\r\n",
		       -ENOPROTOOPT);
	expect_refused(&s,
		       "GET /line?stream=1 HTTP/1.1\r\nHost: t\r\n"
		       "Upgrade: lineecho\r\nConnection: Upgrade\r\n\r\n",
		       -EALREADY);
	/* The body is still on its way when the handler asks. */
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_sends(&c, "POST /body HTTP/1.1\r\nHost: t\r\nUpgrade: lineecho\r\n"
			   "Connection: Upgrade\r\nContent-Length: 4\r\n\r\n"));
	expect_log(&s, "lineecho: upgrade with the body arriving: -16");
	WT_OK(wt_sends(&c, "body"));
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "body read\n");
	wt_response_free(&r);
	wt_client_close(&c);
	/* A protocol offered among others, with a version, is found. */
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_sends(&c, "GET /line HTTP/1.1\r\nHost: t\r\nUpgrade: foo, LineEcho/2\r\n"
			   "Connection: keep-alive, upgrade\r\n\r\n"));
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_int_eq(r.status, 101);
	wt_response_free(&r);
	stream_expect(&c, "welcome\n");
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/* QUIT: the module hears of the stop and closes; the worker exits without waiting out
 * shutdown_timeout. */
START_TEST(graceful_stop_tells_the_module)
{
	struct wt_server s;
	struct wt_client c;
	long long t0;
	int status;

	wt_serve(&s, "'workers': 1, 'shutdown_timeout': 30, " ROUTES);
	open_stream(&c, &s, UPGRADE_HEAD("/line"), "");
	t0 = wt_now_ms();
	ck_assert_int_eq(kill(s.pid, SIGQUIT), 0);
	stream_expect(&c, "stopping\n");
	WT_OK(wt_wait_closed(&c, wt_scaled_ms(WT_TIMEOUT_MS)));
	wt_client_close(&c);
	WT_OK(wt_stop(&s, 0, wt_scaled_ms(WT_TIMEOUT_MS), &status));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_msg(wt_now_ms() - t0 < 15000, "the stop waited for shutdown_timeout");
	ck_assert(wt_log_contains(&s, "lineecho: stream ended: closed"));
	wt_cleanup(&s);
}
END_TEST

/* A module that ignores the stop is closed when shutdown_timeout has passed. */
START_TEST(stubborn_stream_is_cut_at_shutdown_timeout)
{
	struct wt_server s;
	struct wt_client c;
	int status;

	wt_serve(&s, "'workers': 1, 'shutdown_timeout': 1, " ROUTES);
	open_stream(&c, &s, UPGRADE_HEAD("/stubborn"), "");
	ck_assert_int_eq(kill(s.pid, SIGQUIT), 0);
	stream_expect(&c, "stopping\n");
	/* Still open and served after the stop began. */
	WT_OK(wt_sends(&c, "still\n"));
	stream_expect(&c, "still\n");
	WT_OK(wt_wait_closed(&c, wt_scaled_ms(WT_TIMEOUT_MS)));
	wt_client_close(&c);
	WT_OK(wt_stop(&s, 0, wt_scaled_ms(WT_TIMEOUT_MS), &status));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert(wt_log_contains(&s, "graceful stop timed out"));
	ck_assert(wt_log_contains(&s, "lineecho: stream ended: stopped"));
	wt_cleanup(&s);
}
END_TEST

/* A reload drains the old generation's streams; the new one upgrades as well. */
START_TEST(reload_drains_upgraded_connections)
{
	struct wt_server s;
	struct wt_client c, fresh;

	wt_serve(&s, "'workers': 1, " ROUTES);
	open_stream(&c, &s, UPGRADE_HEAD("/line"), "");
	ck_assert_int_eq(kill(s.pid, SIGHUP), 0);
	stream_expect(&c, "stopping\n");
	WT_OK(wt_wait_closed(&c, wt_scaled_ms(WT_TIMEOUT_MS)));
	wt_client_close(&c);
	expect_log(&s, "generation 0 retired");
	open_stream(&fresh, &s, UPGRADE_HEAD("/line"), "new\n");
	stream_expect(&fresh, "new\n");
	wt_client_close(&fresh);
	wt_stop_ok(&s);
}
END_TEST

/* TERM: streams end at once, and the module is told. */
START_TEST(fast_stop_ends_streams)
{
	struct wt_server s;
	struct wt_client c;
	int status;

	wt_serve(&s, "'workers': 1, " ROUTES);
	open_stream(&c, &s, UPGRADE_HEAD("/stubborn"), "");
	WT_OK(wt_stop(&s, SIGTERM, wt_scaled_ms(WT_TIMEOUT_MS), &status));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	WT_OK(wt_wait_closed(&c, wt_scaled_ms(WT_TIMEOUT_MS)));
	wt_client_close(&c);
	ck_assert(wt_log_contains(&s, "lineecho: stream ended: stopped"));
	wt_cleanup(&s);
}
END_TEST

static Suite *upgrade_suite(void)
{
	Suite *s = suite_create("upgrade");
	TCase *tc;

	tc = tcase_create("stream");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, pipelined_bytes_come_first);
	tcase_add_test(tc, client_close_ends_the_stream);
	tcase_add_test(tc, back_pressure_holds_output_and_input);
	tcase_add_test(tc, senseless_upgrades_are_refused);
	tcase_add_test(tc, upgraded_connection_counts_towards_the_cap);
	tcase_add_test(tc, a_replaced_101_refuses_the_stream);
	tcase_add_test(tc, stream_callbacks_are_watched_like_handlers);
	suite_add_tcase(s, tc);

	tc = tcase_create("stopping");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, graceful_stop_tells_the_module);
	tcase_add_test(tc, stubborn_stream_is_cut_at_shutdown_timeout);
	tcase_add_test(tc, reload_drains_upgraded_connections);
	tcase_add_test(tc, fast_stop_ends_streams);
	suite_add_tcase(s, tc);

	return s;
}

CHECK_MAIN(upgrade_suite)

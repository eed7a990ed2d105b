/* tests/integration/test_api.c - the module ABI through the real binary and the api test
 * plugin: request and response calls, streamed bodies both ways, and async edge cases. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include "check_main.h"
#include "harness.h"

#define API_MODULE "{'name': 'api', 'path': '@PLUGIN_DIR@/api.so'}"

/* Every handler of the plugin under /api/, by its own name. */
#define API_ROUTES                                                                                 \
	"'routes': ["                                                                              \
	"  {'match': {'path': '/api/decode/*'}, 'handler': 'api.decode'},"                         \
	"  {'match': {'path': '/api/addr'}, 'handler': 'api.addr'},"                               \
	"  {'match': {'path': '/api/log'}, 'handler': 'api.log'},"                                 \
	"  {'match': {'path': '/api/cleanup'}, 'handler': 'api.cleanup'},"                         \
	"  {'match': {'path': '/api/headers'}, 'handler': 'api.headers'},"                         \
	"  {'match': {'path': '/api/borrow'}, 'handler': 'api.borrow'},"                           \
	"  {'match': {'path': '/api/file'}, 'handler': 'api.file'},"                               \
	"  {'match': {'path': '/api/stream'}, 'handler': 'api.stream'},"                           \
	"  {'match': {'path': '/api/upload'}, 'handler': 'api.upload'},"                           \
	"  {'match': {'path': '/api/sum'}, 'handler': 'api.sum'},"                                 \
	"  {'match': {'path': '/api/later'}, 'handler': 'api.later'},"                             \
	"  {'match': {'path': '/api/now'}, 'handler': 'api.now'},"                                 \
	"  {'match': {'path': '/api/watch'}, 'handler': 'api.watch'},"                             \
	"  {'match': {'path': '/api/stats'}, 'handler': 'api.stats'}"                              \
	"]"

/* Room for the 8 MiB uploads: the default limit is 1 MiB. */
#define BIG_BODIES "\"max_body_size\": 16777216"

#define MIB (1024 * 1024)

/* One worker: "the server kept serving" means the only worker did, and order is the order. */
static void serve_api(struct wt_server *s, const char *http)
{
	wt_serve(s,
		 "'workers': 1, 'log_level': 'info', 'modules': [" API_MODULE
		 "], 'http': {%s}, " API_ROUTES,
		 http);
}

/* ---- Helpers ------------------------------------------------------------------------- */

/* The byte at @i of every body the plugin generates (see tests/plugins/api.c). */
static unsigned char pattern_at(size_t i)
{
	return (unsigned char)(i % 251);
}

static unsigned char *pattern(size_t from, size_t len)
{
	unsigned char *p = malloc(len ? len : 1);

	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < len; i++)
		p[i] = pattern_at(from + i);
	return p;
}

/* Asserts that @len bytes at @p are the pattern from 0; if not, says where they part. */
static void assert_pattern(const char *what, const void *p, size_t len, size_t want)
{
	unsigned char *expected = pattern(0, want);
	const unsigned char *b = p;
	size_t i = 0;

	ck_assert_msg(len == want, "%s: expected %zu bytes, got %zu", what, want, len);
	/* One assertion for the lot: Check records every assertion, too slow per byte. */
	if (memcmp(b, expected, len) != 0) {
		while (b[i] == expected[i])
			i++;
		ck_abort_msg("%s: byte %zu is 0x%02x, expected 0x%02x", what, i, b[i], expected[i]);
	}
	free(expected);
}

static uint32_t fnv1a(const unsigned char *p, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* One of the plugin's counters, from GET /api/stats on a connection of its own. */
static unsigned long stat_of(const struct wt_server *s, const char *name)
{
	static const char req[] = "GET /api/stats HTTP/1.1\r\nHost: test\r\n\r\n";
	struct wt_response r;
	char needle[64];
	const char *at;
	unsigned long v;

	WT_OK(wt_exchange(s, req, sizeof(req) - 1, &r));
	ck_assert_int_eq(r.status, 200);
	snprintf(needle, sizeof(needle), "\n%s ", name);
	if (strncmp(r.body, needle + 1, strlen(needle) - 1) == 0)
		at = r.body + strlen(needle) - 1;
	else if ((at = strstr(r.body, needle)))
		at += strlen(needle);
	ck_assert_msg(at, "no counter \"%s\" in /api/stats: %s", name, r.body);
	v = strtoul(at, NULL, 10);
	wt_response_free(&r);
	return v;
}

/* Polls the counter until it reaches @n; returns its value then. */
static unsigned long wait_stat(const struct wt_server *s, const char *name, unsigned long n)
{
	long long deadline = wt_now_ms() + WT_TIMEOUT_MS;
	struct timespec step = {.tv_nsec = 5 * 1000000};
	unsigned long v;

	while ((v = stat_of(s, name)) < n) {
		ck_assert_msg(wt_now_ms() < deadline, "counter %s stayed at %lu, below %lu", name,
			      v, n);
		nanosleep(&step, NULL);
	}
	return v;
}

/* Asserts that each of the @n lines is in the log exactly once, in this order. */
static void assert_log_order(const struct wt_server *s, const char *const *needles, size_t n)
{
	char *text = wt_read_file(s->log, NULL);
	const char *prev = NULL;

	ck_assert_ptr_nonnull(text);
	for (size_t i = 0; i < n; i++) {
		const char *at = strstr(text, needles[i]);

		ck_assert_msg(at, "not in the log: \"%s\"", needles[i]);
		ck_assert_msg(!strstr(at + 1, needles[i]), "twice in the log: \"%s\"", needles[i]);
		ck_assert_msg(!prev || at > prev, "\"%s\" logged before \"%s\"", needles[i],
			      needles[i - 1]);
		prev = at;
	}
	free(text);
}

/* The response head with its Date value replaced by "<date>", for exact comparisons. */
static char *head_without_date(const char *head)
{
	const char *d = strstr(head, "\r\nDate: "), *end;
	char *out;

	ck_assert_msg(d, "no Date header in \"%s\"", head);
	d += 8;
	end = strstr(d, "\r\n");
	ck_assert_ptr_nonnull(end);
	ck_assert_int_ne(asprintf(&out, "%.*s<date>%s", (int)(d - head), head, end), -1);
	return out;
}

static void assert_head(const char *head, const char *expected)
{
	char *h = head_without_date(head);

	ck_assert_str_eq(h, expected);
	free(h);
}

/*
 * Reads raw bytes from @c (never read through the harness) until its head and @body_len more
 * have arrived, or until the server closes when @body_len is SIZE_MAX. *head and *body are
 * malloc'd and NUL-terminated.
 */
static void read_raw(struct wt_client *c, size_t body_len, char **head, char **body, size_t *got)
{
	long long deadline = wt_now_ms() + wt_scaled_ms(WT_TIMEOUT_MS);
	size_t len = 0, cap = 65536, head_len = 0;
	char *buf = malloc(cap);

	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(c->len, 0);
	for (;;) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		ssize_t n;
		char *end;

		if (!head_len && len >= 4) {
			buf[len] = '\0';
			end = memmem(buf, len, "\r\n\r\n", 4);
			if (end)
				head_len = (size_t)(end - buf) + 4;
		}
		if (head_len && body_len != SIZE_MAX && len - head_len >= body_len)
			break;
		if (len + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		n = recv(c->fd, buf + len, cap - len - 1, 0);
		if (n > 0) {
			len += (size_t)n;
			continue;
		}
		if (n == 0)
			break;
		ck_assert_msg(errno == EAGAIN || errno == EINTR, "recv: %s", strerror(errno));
		ck_assert_msg(poll(&pfd, 1, (int)(deadline - wt_now_ms())) > 0,
			      "timed out with %zu bytes read", len);
	}
	ck_assert_msg(head_len, "no complete head in %zu bytes", len);
	*head = strndup(buf, head_len);
	*got = len - head_len;
	*body = malloc(*got + 1);
	ck_assert_ptr_nonnull(*head);
	ck_assert_ptr_nonnull(*body);
	memcpy(*body, buf + head_len, *got);
	(*body)[*got] = '\0';
	free(buf);
}

/* Reads and counts what @c receives until the server closes it (never read through the
 * harness before). */
static size_t read_to_eof(struct wt_client *c)
{
	long long deadline = wt_now_ms() + WT_TIMEOUT_MS;
	static char buf[65536];
	size_t total = 0;

	ck_assert_uint_eq(c->len, 0);
	for (;;) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

		if (n > 0) {
			total += (size_t)n;
			continue;
		}
		if (n == 0)
			return total;
		ck_assert_msg(errno == EAGAIN || errno == EINTR, "recv: %s", strerror(errno));
		ck_assert_msg(poll(&pfd, 1, (int)(deadline - wt_now_ms())) > 0,
			      "still open after %zu bytes", total);
	}
}

/* The chunked framing of @first (when not NULL) then @pieces pattern pieces of @size. */
static char *chunked_pieces(const char *first, size_t pieces, size_t size, size_t *len)
{
	char *out = malloc(64 + (first ? strlen(first) + 16 : 0) + pieces * (size + 16));
	size_t n = 0;

	ck_assert_ptr_nonnull(out);
	if (first)
		n += (size_t)sprintf(out + n, "%zx\r\n%s\r\n", strlen(first), first);
	for (size_t i = 0; i < pieces; i++) {
		unsigned char *p = pattern(i * size, size);

		n += (size_t)sprintf(out + n, "%zx\r\n", size);
		memcpy(out + n, p, size);
		n += size;
		n += (size_t)sprintf(out + n, "\r\n");
		free(p);
	}
	n += (size_t)sprintf(out + n, "0\r\n\r\n");
	*len = n;
	return out;
}

static void assert_bytes(const char *what, const char *got, size_t got_len, const char *want,
			 size_t want_len)
{
	size_t i = 0;

	while (i < got_len && i < want_len && got[i] == want[i])
		i++;
	ck_assert_msg(got_len == want_len && i == want_len,
		      "%s: got %zu bytes, expected %zu; they differ from byte %zu on", what,
		      got_len, want_len, i);
}

/* Reads the answer to a request for @pieces pattern pieces of @size: a chunked head, then
 * exactly their framing. Read raw: the harness's client is slow with many chunks. */
static void read_pieces(struct wt_client *c, size_t pieces, size_t size)
{
	char *head, *body, *want;
	size_t got, want_len;

	want = chunked_pieces(NULL, pieces, size, &want_len);
	read_raw(c, want_len, &head, &body, &got);
	ck_assert_msg(strncmp(head, "HTTP/1.1 200 OK\r\n", 17) == 0 &&
			      strstr(head, "\r\nTransfer-Encoding: chunked\r\n"),
		      "unexpected head \"%s\"", head);
	assert_bytes("streamed pieces", body, got, want, want_len);
	free(head);
	free(body);
	free(want);
}

/* ---- Request API --------------------------------------------------------------------- */

START_TEST(path_decoded)
{
	static const struct {
		const char *target, *body;
	} cases[] = {
		{"/api/decode/a%20b/c", "path 0 [/api/decode/a b/c]\n"},
		{"/api/decode/ok%41%62%7e+", "path 0 [/api/decode/okAb~+]\n"},
		{"/api/decode/x%00y", "path EINVAL []\n"},
		{"/api/decode/a%2Fb", "path EINVAL []\n"},
		{"/api/decode/a%2fb", "path EINVAL []\n"},
		{"/api/decode/bad%zz", "path EINVAL []\n"},
		{"/api/decode/bad%4", "path EINVAL []\n"},
		{"/api/decode/bad%", "path EINVAL []\n"},
		{"/api/decode/bad%g1", "path EINVAL []\n"},
		/* Dot segments stay: decoding is all it does. */
		{"/api/decode/x/%2e%2e/y?q=%2F", "path 0 [/api/decode/x/../y]\n"},
	};
	struct wt_server s;
	struct wt_client c;

	serve_api(&s, BIG_BODIES);
	WT_OK(wt_client_open(&c, &s, 0));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		wt_expect(&c, cases[i].target, "", 200, cases[i].body);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(query_param)
{
	struct wt_server s;
	struct wt_client c;

	serve_api(&s, BIG_BODIES);
	WT_OK(wt_client_open(&c, &s, 0));
	/* The first "a" wins; keys are compared decoded ("k[1]", "x y"); the last key asked for
	 * is the empty one. */
	wt_expect(&c,
		  "/api/decode/q?a=1&b=x+y%21&flag&c=&a=2&k%5B1%5D=v%26w&e=%zz&n=%00&plus=%2B"
		  "&x+y=sp&t=%",
		  "X-Keys: a,b,flag,c,missing,k[1],e,n,plus,A,x y,t,\r\n", 200,
		  "path 0 [/api/decode/q]\n"
		  "a 0 [1]\n"
		  "b 0 [x y!]\n"
		  "flag 0 []\n"
		  "c 0 []\n"
		  "missing ENOENT []\n"
		  "k[1] 0 [v&w]\n"
		  "e EINVAL []\n"
		  "n EINVAL []\n"
		  "plus 0 [+]\n"
		  "A ENOENT []\n"
		  "x y 0 [sp]\n"
		  "t EINVAL []\n"
		  " ENOENT []\n");
	/* No query at all, and an empty one. */
	wt_expect(&c, "/api/decode/q", "X-Keys: a\r\n", 200,
		  "path 0 [/api/decode/q]\na ENOENT []\n");
	wt_expect(&c, "/api/decode/q?", "X-Keys: a\r\n", 200,
		  "path 0 [/api/decode/q]\na ENOENT []\n");
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(addresses)
{
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	struct wt_server s;
	struct wt_client c;
	char body[256];

	serve_api(&s, BIG_BODIES);
	WT_OK(wt_client_open(&c, &s, 0));
	ck_assert_int_eq(getsockname(c.fd, (struct sockaddr *)&me, &len), 0);
	snprintf(body, sizeof(body),
		 "remote 127.0.0.1 %u %zu\nlocal 127.0.0.1 %u %zu\nremote_ip 127.0.0.1\n",
		 ntohs(me.sin_port), sizeof(struct sockaddr_in), (unsigned)s.port[0],
		 sizeof(struct sockaddr_in));
	wt_expect(&c, "/api/addr", "", 200, body);
	/* Asked again on the same connection: the same answer. */
	wt_expect(&c, "/api/addr", "", 200, body);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(request_log)
{
	struct wt_server s;
	struct wt_client c;

	serve_api(&s, BIG_BODIES);
	WT_OK(wt_client_open(&c, &s, 0));
	wt_expect(&c, "/api/log?m=hello%20there", "", 200, "logged\n");
	WT_OK(wt_wait_log(&s, "127.0.0.1 GET \"/api/log?m=hello%20there\": api: log hello there\n",
			  WT_TIMEOUT_MS));
	/* The target is quoted in the prefix, its own quotes escaped. */
	wt_expect(&c, "/api/log?m=\"x\"", "", 200, "logged\n");
	WT_OK(wt_wait_log(&s, "127.0.0.1 GET \"/api/log?m=\\\"x\\\"\": api: log \"x\"\n",
			  WT_TIMEOUT_MS));
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(cleanups_in_reverse_order)
{
	static const char *const now[] = {
		"api: complete GET /api/cleanup?tag=c1 status=200 aborted=0\n",
		"api: cleanup 3 of c1\n",
		"api: cleanup 2 of c1\n",
		"api: cleanup 1 of c1\n",
	};
	static const char *const later[] = {
		"api: complete GET /api/cleanup?tag=c2&mode=later status=200 aborted=0\n",
		"api: cleanup 3 of c2\n",
		"api: cleanup 2 of c2\n",
		"api: cleanup 1 of c2\n",
	};
	struct wt_server s;
	struct wt_client c;

	serve_api(&s, BIG_BODIES);
	WT_OK(wt_client_open(&c, &s, 0));
	wt_expect(&c, "/api/cleanup?tag=c1", "", 200, "done c1\n");
	wt_expect(&c, "/api/cleanup?tag=c2&mode=later", "", 200, "done c2\n");
	WT_OK(wt_wait_log(&s, "api: cleanup 1 of c2\n", WT_TIMEOUT_MS));
	ck_assert_uint_eq(stat_of(&s, "cleanups"), 6);
	wt_client_close(&c);
	wt_stop_keep_log(&s);
	/* Checked after the stop: nothing ran twice, not even at the worker's exit. */
	assert_log_order(&s, now, 4);
	assert_log_order(&s, later, 4);
	ck_assert_uint_eq(wt_log_count(&s, "api: abort of"), 0);
	wt_cleanup(&s);
}
END_TEST

START_TEST(client_leaves_async_request)
{
	static const char *const order[] = {
		"api: abort of h1\n",
		"api: complete GET /api/cleanup?tag=h1&mode=hang status=0 aborted=1\n",
		"api: cleanup 3 of h1\n",
		"api: cleanup 2 of h1\n",
		"api: cleanup 1 of h1\n",
	};
	struct wt_server s;
	struct wt_client c;

	serve_api(&s, BIG_BODIES);
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_sends(&c, "GET /api/cleanup?tag=h1&mode=hang HTTP/1.1\r\nHost: test\r\n\r\n"));
	WT_OK(wt_wait_log(&s, "api: waiting h1\n", WT_TIMEOUT_MS));
	wt_client_close(&c);
	WT_OK(wt_wait_log(&s, "api: cleanup 1 of h1\n", WT_TIMEOUT_MS));
	/* The worker goes on serving. */
	WT_OK(wt_client_open(&c, &s, 0));
	wt_expect(&c, "/api/now?n=1", "", 200, "now 1\n");
	ck_assert_uint_eq(stat_of(&s, "aborts"), 1);
	ck_assert_uint_eq(stat_of(&s, "aborted"), 1);
	wt_client_close(&c);
	wt_stop_keep_log(&s);
	assert_log_order(&s, order, 5);
	ck_assert(wt_log_contains(&s, "api: complete GET /api/now?n=1 status=200 aborted=0\n"));
	wt_cleanup(&s);
}
END_TEST

START_TEST(handler_timeout_answers_504)
{
	static const char *const order[] = {
		"api: abort of t1\n",
		"api: complete GET /api/cleanup?tag=t1&mode=hang status=504 aborted=0\n",
		"api: cleanup 3 of t1\n",
		"api: cleanup 2 of t1\n",
		"api: cleanup 1 of t1\n",
	};
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	long long t;

	serve_api(&s, "\"handler_timeout\": 0.3");
	WT_OK(wt_client_open(&c, &s, 0));
	t = wt_now_ms();
	wt_ask(&c, "GET", "/api/cleanup?tag=t1&mode=hang", "X-Api-Hook: 1\r\n", &r);
	ck_assert_msg(wt_now_ms() - t >= 300, "504 after %lld ms, before the 300 ms timeout",
		      wt_now_ms() - t);
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 504 Gateway Timeout");
	ck_assert_str_eq(r.body, "504 Gateway Timeout\n");
	ck_assert_str_eq(wt_header(&r, "Connection"), "close");
	/* on_response saw warren's own status. */
	ck_assert_str_eq(wt_header(&r, "X-Api-Status"), "504");
	wt_response_free(&r);
	WT_OK(wt_wait_closed(&c, WT_TIMEOUT_MS));
	wt_client_close(&c);

	/* A stream that writes more often than the timeout keeps going past it. */
	WT_OK(wt_client_open(&c, &s, 0));
	t = wt_now_ms();
	wt_ask(&c, "GET", "/api/stream?pieces=6&size=5&ms=100", "", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(wt_now_ms() - t >= 500, "six pieces 100 ms apart took %lld ms",
		      wt_now_ms() - t);
	assert_pattern("paced stream", r.body, r.body_len, 30);
	wt_response_free(&r);
	wt_expect(&c, "/api/now?n=1", "", 200, "now 1\n");
	wt_client_close(&c);
	wt_stop_keep_log(&s);
	assert_log_order(&s, order, 5);
	wt_cleanup(&s);
}
END_TEST

START_TEST(hooks_see_status)
{
	char line[256];
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;

	serve_api(&s, BIG_BODIES);
	WT_OK(wt_client_open(&c, &s, 0));
	wt_ask(&c, "GET", "/api/nothing", "X-Api-Hook: 1\r\n", &r);
	ck_assert_int_eq(r.status, 404);
	ck_assert_str_eq(wt_header(&r, "X-Api-Status"), "404");
	wt_response_free(&r);
	wt_ask(&c, "GET", "/api/headers", "X-Api-Hook: 1\r\n", &r);
	ck_assert_int_eq(r.status, 201);
	ck_assert_str_eq(wt_header(&r, "X-Api-Status"), "201");
	wt_response_free(&r);
	wt_ask(&c, "GET", "/api/later?ms=0&n=1", "X-Api-Hook: 1\r\n", &r);
	ck_assert_str_eq(r.body, "later 1\n");
	ck_assert_str_eq(wt_header(&r, "X-Api-Status"), "200");
	/* The length warren sends is known to on_response; the module's context was the same
	 * memory in its handler, its timer and its hook. */
	ck_assert_str_eq(wt_header(&r, "X-Api-Length"), "8");
	ck_assert_str_eq(wt_header(&r, "X-Api-Ctx"), "htr");
	snprintf(line, sizeof(line), "api: hooked /api/later?ms=0&n=1 ctx=htrc length=8 sent=%zu\n",
		 r.head_len + 8);
	wt_response_free(&r);
	/* warren's own 400 to a request it could not read passes on_response too. */
	WT_OK(wt_sends(&c, "GET /api/x HTTP/1.1\r\nX-Api-Hook: 1\r\nno colon\r\n\r\n"));
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(wt_header(&r, "X-Api-Status"), "400");
	ck_assert_str_eq(wt_header(&r, "X-Api-Length"), "16");
	ck_assert_str_eq(wt_header(&r, "X-Api-Ctx"), "r");
	wt_response_free(&r);
	wt_client_close(&c);
	WT_OK(wt_wait_log(&s, "api: complete GET /api/later?ms=0&n=1 status=200 aborted=0\n",
			  WT_TIMEOUT_MS));
	WT_OK(wt_wait_log(&s, line, WT_TIMEOUT_MS));
	WT_OK(wt_wait_log(&s, "api: hooked /api/nothing ctx=rc length=14 sent=", WT_TIMEOUT_MS));
	ck_assert(wt_log_contains(&s, "api: complete GET /api/nothing status=404 aborted=0\n"));
	ck_assert(wt_log_contains(&s, "api: complete GET /api/headers status=201 aborted=0\n"));
	wt_stop_ok(&s);
}
END_TEST

START_TEST(shared_zone_checks)
{
	struct wt_server s;
	struct wt_response r;
	static const char req[] = "GET /api/stats HTTP/1.1\r\nHost: test\r\n\r\n";

	serve_api(&s, BIG_BODIES);
	WT_OK(wt_exchange(&s, req, sizeof(req) - 1, &r));
	/* A bad name, a size of 0 and a known name with another size from init; any from a
	 * handler. */
	ck_assert_ptr_nonnull(strstr(r.body, "\nzone_checks EINVAL EINVAL EEXIST EPERM\n"));
	wt_response_free(&r);
	wt_stop_ok(&s);
}
END_TEST

/* ---- Response API -------------------------------------------------------------------- */

START_TEST(response_headers)
{
	static const char body[] = "status 200\n"
				   "status 199 EINVAL\n"
				   "status 600 EINVAL\n"
				   "status 201 0\n"
				   "status 201\n"
				   "add X-A 1 0\n"
				   "add x-a 2 0\n"
				   "add X-B b 0\n"
				   "get X-A [1]\n"
				   "set X-A 3 0\n"
				   "get x-A [3]\n"
				   "set X-A bad EINVAL\n"
				   "get X-A [3]\n"
				   "add X-Gone 1 0\n"
				   "add X-Gone 2 0\n"
				   "remove x-gone 0\n"
				   "remove X-Gone ENOENT\n"
				   "remove X-Never ENOENT\n"
				   "get X-Gone absent\n"
				   "add X-Last 1 0\n"
				   "remove X-Last 0\n"
				   "add X-After ok 0\n"
				   "add Content-Length EINVAL\n"
				   "set Transfer-Encoding EINVAL\n"
				   "add connection EINVAL\n"
				   "add Bad Name EINVAL\n"
				   "add empty name EINVAL\n"
				   "add X-CRLF EINVAL\n"
				   "set X-LF EINVAL\n"
				   "add X-Empty 0\n"
				   "get X-Empty []\n"
				   "get Content-Length absent\n";
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	char head[512];

	serve_api(&s, BIG_BODIES);
	WT_OK(wt_client_open(&c, &s, 0));
	wt_ask(&c, "GET", "/api/headers", "", &r);
	ck_assert_str_eq(r.body, body);
	snprintf(head, sizeof(head),
		 "HTTP/1.1 201 Created\r\nServer: warren\r\nDate: <date>\r\nContent-Length: %zu\r\n"
		 "X-B: b\r\nX-A: 3\r\nX-After: ok\r\nX-Empty: \r\n\r\n",
		 sizeof(body) - 1);
	assert_head(r.head, head);
	wt_response_free(&r);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(borrowed_bodies)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	unsigned char *p;

	serve_api(&s, BIG_BODIES);
	WT_OK(wt_client_open(&c, &s, 0));

	wt_ask(&c, "GET", "/api/borrow?size=5242880", "", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(wt_header(&r, "Content-Length"), "5242880");
	assert_pattern("5 MiB borrowed", r.body, r.body_len, 5 * MIB);
	wt_response_free(&r);
	ck_assert_uint_eq(wait_stat(&s, "releases", 1), 1);

	/* HEAD: nothing of it is sent, it is given back all the same. */
	wt_ask(&c, "HEAD", "/api/borrow?size=5242880", "", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(wt_header(&r, "Content-Length"), "5242880");
	wt_response_free(&r);
	wt_expect(&c, "/api/now?n=1", "", 200, "now 1\n");
	ck_assert_uint_eq(wait_stat(&s, "releases", 2), 2);

	/* An append copies it first; a new body replaces it; an empty one is given back too. */
	wt_ask(&c, "GET", "/api/borrow?size=10&then=append", "", &r);
	p = pattern(0, 11);
	p[10] = '+';
	WT_ASSERT_BODY(&r, p, 11);
	free(p);
	wt_response_free(&r);
	wt_expect(&c, "/api/borrow?size=10&then=replace", "", 200, "replaced\n");
	/* A timer still armed when the handler answers ends with the answer, though the
	 * request lasts until its 32 MiB are out (for on_complete). */
	wt_ask(&c, "GET", "/api/borrow?size=33554432&then=timer", "", &r);
	ck_assert_uint_eq(r.body_len, 32 * MIB);
	wt_response_free(&r);
	WT_OK(wt_wait_log(&s, "api: complete GET /api/borrow?size=33554432&then=timer status=200",
			  WT_TIMEOUT_MS));
	ck_assert(!wt_log_contains(&s, "a timer of an answered request ran"));
	wt_ask(&c, "GET", "/api/borrow?size=0", "", &r);
	ck_assert_str_eq(wt_header(&r, "Content-Length"), "0");
	ck_assert_uint_eq(r.body_len, 0);
	wt_response_free(&r);
	ck_assert_uint_eq(wait_stat(&s, "releases", 6), 6);

	/* The client leaves before 32 MiB could have been written: still given back once. */
	WT_OK(wt_sends(&c, "GET /api/borrow?size=33554432 HTTP/1.1\r\nHost: test\r\n\r\n"));
	{
		char *head, *body;
		size_t got;

		read_raw(&c, 1, &head, &body, &got);
		ck_assert_ptr_nonnull(strstr(head, "\r\nContent-Length: 33554432\r\n"));
		free(head);
		free(body);
	}
	wt_client_close(&c);
	ck_assert_uint_eq(wait_stat(&s, "releases", 7), 7);
	WT_OK(wt_client_open(&c, &s, 0));
	wt_expect(&c, "/api/now?n=2", "", 200, "now 2\n");
	wt_client_close(&c);
	wt_stop_keep_log(&s);
	ck_assert_uint_eq(wt_log_count(&s, "api: released 5242880 borrowed bytes\n"), 2);
	ck_assert_uint_eq(wt_log_count(&s, "api: released 33554432 borrowed bytes\n"), 2);
	ck_assert_uint_eq(wt_log_count(&s, "api: released"), 7);
	wt_cleanup(&s);
}
END_TEST

/* Writes @len pattern bytes to @path. */
static void write_pattern_file(const char *path, size_t len)
{
	unsigned char *p = pattern(0, len);
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	free(p);
}

START_TEST(file_bodies)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	char path[400], target[600];
	unsigned char *p;

	serve_api(&s, BIG_BODIES);
	snprintf(path, sizeof(path), "%s/data.bin", s.dir);
	write_pattern_file(path, 5 * MIB);
	WT_OK(wt_client_open(&c, &s, 0));

	snprintf(target, sizeof(target), "/api/file?path=%s&len=5242880", path);
	wt_ask(&c, "GET", target, "", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(wt_header(&r, "Content-Length"), "5242880");
	assert_pattern("5 MiB file", r.body, r.body_len, 5 * MIB);
	wt_response_free(&r);

	snprintf(target, sizeof(target), "/api/file?path=%s&off=1000&len=3000", path);
	wt_ask(&c, "GET", target, "", &r);
	p = pattern(1000, 3000);
	WT_ASSERT_BODY(&r, p, 3000);
	free(p);
	wt_response_free(&r);
	wt_ask(&c, "HEAD", target, "", &r);
	ck_assert_str_eq(wt_header(&r, "Content-Length"), "3000");
	wt_response_free(&r);

	/* The last byte, and nothing at the very end. */
	snprintf(target, sizeof(target), "/api/file?path=%s&off=5242879&len=1", path);
	wt_ask(&c, "GET", target, "", &r);
	p = pattern(5 * MIB - 1, 1);
	WT_ASSERT_BODY(&r, p, 1);
	free(p);
	wt_response_free(&r);
	snprintf(target, sizeof(target), "/api/file?path=%s&off=5242880&len=0", path);
	wt_ask(&c, "GET", target, "", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(wt_header(&r, "Content-Length"), "0");
	wt_response_free(&r);

	/* Ranges past the end, and what is not a regular file. */
	snprintf(target, sizeof(target), "/api/file?path=%s&off=5242880&len=1", path);
	wt_expect(&c, target, "", 400, "body_file EINVAL\n");
	snprintf(target, sizeof(target), "/api/file?path=%s&off=5242881&len=0", path);
	wt_expect(&c, target, "", 400, "body_file EINVAL\n");
	snprintf(target, sizeof(target), "/api/file?path=%s&off=0&len=5242881", path);
	wt_expect(&c, target, "", 400, "body_file EINVAL\n");
	snprintf(target, sizeof(target), "/api/file?path=%s&off=4000000&len=2000000", path);
	wt_expect(&c, target, "", 400, "body_file EINVAL\n");
	snprintf(target, sizeof(target), "/api/file?path=%s&len=1", s.dir);
	wt_expect(&c, target, "", 400, "body_file EINVAL\n");
	wt_expect(&c, "/api/file?path=/dev/null&len=0", "", 400, "body_file EINVAL\n");
	wt_expect(&c, "/api/now?n=1", "", 200, "now 1\n");
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(file_shrinks_while_sent)
{
	struct wt_server s;
	struct wt_client c;
	char path[400], target[600], *head, *body;
	int small = 16384;
	size_t got;

	serve_api(&s, BIG_BODIES);
	snprintf(path, sizeof(path), "%s/big.bin", s.dir);
	write_pattern_file(path, 32 * MIB);
	WT_OK(wt_client_open(&c, &s, 0));
	/* A small window keeps most of the file on the server's side of the connection. */
	setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	snprintf(target, sizeof(target),
		 "GET /api/file?path=%s&len=33554432 HTTP/1.1\r\nHost: test\r\n\r\n", path);
	WT_OK(wt_sends(&c, target));
	read_raw(&c, 1, &head, &body, &got);
	ck_assert_ptr_nonnull(strstr(head, "\r\nContent-Length: 33554432\r\n"));
	free(head);
	free(body);
	ck_assert_int_eq(truncate(path, 0), 0);
	/* The promised length cannot be kept: the connection ends short of it. */
	got += read_to_eof(&c);
	ck_assert_msg(got < 32 * MIB, "got all %zu bytes of a file truncated under way", got);
	wt_client_close(&c);
	WT_OK(wt_client_open(&c, &s, 0));
	wt_expect(&c, "/api/now?n=1", "", 200, "now 1\n");
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/* ---- Streamed responses -------------------------------------------------------------- */

/* GET @target on @c must be answered with exactly @head (Date aside) and the framing of
 * @first then 3 pieces of 5 bytes; the connection stays usable. */
static void expect_stream(struct wt_client *c, const char *target, const char *head,
			  const char *first)
{
	char req[512], *got_head, *body, *want;
	size_t got, want_len;

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", target);
	WT_OK(wt_sends(c, req));
	want = chunked_pieces(first, 3, 5, &want_len);
	read_raw(c, want_len, &got_head, &body, &got);
	assert_head(got_head, head);
	assert_bytes(target, body, got, want, want_len);
	free(got_head);
	free(body);
	free(want);
	wt_expect(c, "/api/now?n=1", "", 200, "now 1\n");
}

#define STREAM_HEAD(status, mode)                                                                  \
	"HTTP/1.1 " status "\r\nServer: warren\r\nDate: <date>\r\nTransfer-Encoding: chunked\r\n"  \
	"X-Stream: " mode "\r\nX-Write-Early: EINVAL\r\n\r\n"

START_TEST(stream_chunked_framing)
{
	struct wt_server s;
	struct wt_client c;

	serve_api(&s, BIG_BODIES);
	WT_OK(wt_client_open(&c, &s, 0));
	expect_stream(&c, "/api/stream", STREAM_HEAD("200 OK", "timer"), NULL);
	expect_stream(&c, "/api/stream?first=hi", STREAM_HEAD("200 OK", "timer"), "hi");
	expect_stream(&c, "/api/stream?first=hi&ms=20&status=203", STREAM_HEAD("203 OK", "timer"),
		      "hi");
	expect_stream(&c, "/api/stream?mode=inline&first=hello%20world",
		      STREAM_HEAD("200 OK", "inline"), "hello world");
	/* Begun in the handler, ended from timers. */
	expect_stream(&c, "/api/stream?mode=inline&ms=10", STREAM_HEAD("200 OK", "inline"), NULL);
	wt_client_close(&c);
	WT_OK(wt_wait_log(&s,
			  "api: complete GET /api/stream?mode=inline&ms=10 status=200 "
			  "aborted=0\n",
			  WT_TIMEOUT_MS));
	ck_assert_uint_eq(stat_of(&s, "aborts"), 0);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(stream_borrowed_first_piece)
{
	struct wt_server s;
	struct wt_client c;

	serve_api(&s, BIG_BODIES);
	WT_OK(wt_client_open(&c, &s, 0));
	/* The borrowed body goes out as the first piece, copied, and is given back. */
	expect_stream(&c, "/api/stream?borrow=borrowed%20first%20piece",
		      STREAM_HEAD("200 OK", "timer"), "borrowed first piece");
	expect_stream(&c, "/api/stream?mode=inline&borrow=borrowed%20first%20piece",
		      STREAM_HEAD("200 OK", "inline"), "borrowed first piece");
	ck_assert_uint_eq(wait_stat(&s, "releases", 2), 2);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(stream_http10_and_head)
{
	static const char head10[] =
		"HTTP/1.1 200 OK\r\nServer: warren\r\nDate: <date>\r\n"
		"Connection: close\r\nX-Stream: %s\r\nX-Write-Early: EINVAL\r\n"
		"\r\n";
	static const char *const modes[] = {"timer", "inline"};
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	char *head, *body, want_head[256], req[256];
	unsigned char *want;
	size_t got;

	serve_api(&s, BIG_BODIES);
	/* HTTP/1.0: the bytes as they are, and the end of the connection ends them. */
	for (size_t i = 0; i < 2; i++) {
		WT_OK(wt_client_open(&c, &s, 0));
		snprintf(req, sizeof(req),
			 "GET /api/stream?mode=%s&first=hi&pieces=4&size=7 HTTP/1.0\r\n"
			 "Connection: keep-alive\r\n\r\n",
			 modes[i]);
		WT_OK(wt_sends(&c, req));
		read_raw(&c, SIZE_MAX, &head, &body, &got);
		snprintf(want_head, sizeof(want_head), head10, modes[i]);
		assert_head(head, want_head);
		want = pattern(0, 28);
		ck_assert_uint_eq(got, 30);
		ck_assert_int_eq(memcmp(body, "hi", 2), 0);
		assert_bytes("HTTP/1.0 stream", body + 2, got - 2, (const char *)want, 28);
		free(want);
		free(head);
		free(body);
		wt_client_close(&c);
	}

	/* HEAD: the head of a chunked response and no body; the connection goes on. */
	WT_OK(wt_client_open(&c, &s, 0));
	wt_ask(&c, "HEAD", "/api/stream?pieces=100&size=1000", "", &r);
	assert_head(r.head, STREAM_HEAD("200 OK", "timer"));
	wt_response_free(&r);
	wt_ask(&c, "HEAD", "/api/stream?mode=inline", "", &r);
	assert_head(r.head, STREAM_HEAD("200 OK", "inline"));
	wt_response_free(&r);
	wt_expect(&c, "/api/now?n=1", "", 200, "now 1\n");
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/* 20 MiB in 16 KiB pieces to a client that reads nothing until the server had to wait. */
static void stream_back_pressure(const char *mode)
{
	struct wt_server s;
	struct wt_client c;
	unsigned long eagain, drains;
	char req[256];

	serve_api(&s, BIG_BODIES);
	WT_OK(wt_client_open(&c, &s, 0));
	snprintf(req, sizeof(req),
		 "GET /api/stream?mode=%s&pieces=1280&size=16384 HTTP/1.1\r\nHost: test\r\n\r\n",
		 mode);
	WT_OK(wt_sends(&c, req));
	/* No socket buffers hold 20 MiB: the writer must be told to wait, and the worker
	 * answers others meanwhile. */
	wait_stat(&s, "eagain", 1);
	read_pieces(&c, 1280, 16384);
	wt_expect(&c, "/api/now?n=1", "", 200, "now 1\n");
	eagain = stat_of(&s, "eagain");
	drains = stat_of(&s, "drains");
	/* Every refusal was followed by a drain, and nothing more: the stream ended in one. */
	ck_assert_msg(drains == eagain, "%lu writes refused, %lu drains", eagain, drains);
	ck_assert_uint_eq(stat_of(&s, "aborts"), 0);
	wt_client_close(&c);
	wt_stop_ok(&s);
}

START_TEST(stream_back_pressure_timer)
{
	stream_back_pressure("timer");
}
END_TEST

START_TEST(stream_back_pressure_inline)
{
	stream_back_pressure("inline");
}
END_TEST

/* Pieces paced by a timer keep coming while earlier output waits for a client that does
 * not read: the pending output grows under a write that is in flight. */
START_TEST(stream_paced_to_a_slow_reader)
{
	struct wt_server s;
	struct wt_client c;

	serve_api(&s, BIG_BODIES);
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_sends(&c, "GET /api/stream?pieces=640&size=16384&ms=1 HTTP/1.1\r\n"
			   "Host: test\r\n\r\n"));
	wait_stat(&s, "eagain", 1);
	read_pieces(&c, 640, 16384);
	wt_expect(&c, "/api/now?n=1", "", 200, "now 1\n");
	ck_assert_uint_eq(stat_of(&s, "drains"), stat_of(&s, "eagain"));
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(stream_client_leaves)
{
	struct wt_server s;
	struct wt_client c;
	char *head, *body;
	size_t got;

	serve_api(&s, BIG_BODIES);
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_sends(&c,
		       "GET /api/stream?pieces=1280&size=16384 HTTP/1.1\r\nHost: test\r\n\r\n"));
	read_raw(&c, 1, &head, &body, &got);
	free(head);
	free(body);
	wait_stat(&s, "eagain", 1);
	wt_client_close(&c);
	ck_assert_uint_eq(wait_stat(&s, "aborts", 1), 1);
	WT_OK(wt_wait_log(&s,
			  "api: complete GET /api/stream?pieces=1280&size=16384 status=200 "
			  "aborted=0 cut\n",
			  WT_TIMEOUT_MS));
	ck_assert(wt_log_contains(&s, "api: stream aborted after"));
	WT_OK(wt_client_open(&c, &s, 0));
	wt_expect(&c, "/api/now?n=1", "", 200, "now 1\n");
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/* ---- Request bodies ------------------------------------------------------------------ */

static char *sum_line(const unsigned char *p, size_t len, const char *calls)
{
	char *line;

	ck_assert_int_ne(asprintf(&line, "len=%zu sum=%08x calls=%s again=EALREADY\n", len,
				  fnv1a(p, len), calls),
			 -1);
	return line;
}

/* "len=N sum=X calls=K again=EALREADY": asserts all but K, and returns K. */
static unsigned long expect_sum(const struct wt_response *r, const unsigned char *p, size_t len)
{
	const char *calls = strstr(r->body, " calls=");
	unsigned long k;
	char *want, kbuf[32];

	ck_assert_int_eq(r->status, 200);
	ck_assert_msg(calls, "unexpected answer \"%s\"", r->body);
	k = strtoul(calls + 7, NULL, 10);
	snprintf(kbuf, sizeof(kbuf), "%lu", k);
	want = sum_line(p, len, kbuf);
	ck_assert_str_eq(r->body, want);
	free(want);
	return k;
}

START_TEST(upload_content_length)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	unsigned char *p = pattern(0, 8 * MIB);
	char head[256];

	serve_api(&s, BIG_BODIES);
	WT_OK(wt_client_open(&c, &s, 0));
	c.timeout_ms = wt_scaled_ms(20000);
	/* Streamed: read as it comes, so in more than one piece. */
	snprintf(head, sizeof(head),
		 "POST /api/upload HTTP/1.1\r\nHost: test\r\n"
		 "Content-Length: %d\r\n\r\n",
		 8 * MIB);
	WT_OK(wt_sends(&c, head));
	WT_OK(wt_send(&c, p, 8 * MIB));
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_uint_gt(expect_sum(&r, p, 8 * MIB), 1);
	wt_response_free(&r);
	/* Buffered whole first, the body comes to a reader in one piece. */
	snprintf(head, sizeof(head),
		 "POST /api/sum HTTP/1.1\r\nHost: test\r\n"
		 "Content-Length: %d\r\n\r\n",
		 8 * MIB);
	WT_OK(wt_sends(&c, head));
	WT_OK(wt_send(&c, p, 8 * MIB));
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_uint_eq(expect_sum(&r, p, 8 * MIB), 1);
	wt_response_free(&r);
	/* An empty body is one last call. */
	WT_OK(wt_sends(&c, "POST /api/upload HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n"));
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_uint_eq(expect_sum(&r, p, 0), 1);
	wt_response_free(&r);
	wt_expect(&c, "/api/now?n=1", "", 200, "now 1\n");
	free(p);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/* @len pattern bytes in chunked framing, chunk sizes cycling from 1 to 4093 bytes. */
static char *chunked_body(size_t len, size_t *out_len)
{
	unsigned char *p = pattern(0, len);
	char *out = malloc(len + len / 8 + 4096);
	size_t n = 0, at = 0, size = 1;

	ck_assert_ptr_nonnull(out);
	while (at < len) {
		size_t k = size < len - at ? size : len - at;

		n += (size_t)sprintf(out + n, "%zx\r\n", k);
		memcpy(out + n, p + at, k);
		n += k;
		n += (size_t)sprintf(out + n, "\r\n");
		at += k;
		size = size % 4093 + 97;
	}
	n += (size_t)sprintf(out + n, "0\r\n\r\n");
	free(p);
	*out_len = n;
	return out;
}

START_TEST(upload_chunked_in_small_pieces)
{
	static const char head[] = "POST /api/upload HTTP/1.1\r\nHost: test\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n";
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	size_t len, at = 0;
	char *framed = chunked_body(MIB, &len);
	unsigned char *p = pattern(0, MIB);

	serve_api(&s, BIG_BODIES);
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_sends(&c, head));
	/* Small sends split sizes, CRLFs and data everywhere in the first few chunks. */
	for (size_t piece = 1; at < len; piece = piece < 4096 ? piece * 2 + 1 : piece) {
		size_t k = piece < len - at ? piece : len - at;

		WT_OK(wt_send(&c, framed + at, k));
		at += k;
	}
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_uint_gt(expect_sum(&r, p, MIB), 1);
	wt_response_free(&r);
	/* And buffered whole: one piece. */
	WT_OK(wt_sends(&c, "POST /api/sum HTTP/1.1\r\nHost: test\r\n"
			   "Transfer-Encoding: chunked\r\n\r\n"));
	WT_OK(wt_send(&c, framed, len));
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_uint_eq(expect_sum(&r, p, MIB), 1);
	wt_response_free(&r);
	wt_expect(&c, "/api/now?n=1", "", 200, "now 1\n");
	free(framed);
	free(p);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(upload_over_the_limit)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	size_t len;
	char *framed = chunked_body(MIB + 65536, &len);

	serve_api(&s, "\"max_body_size\": 1048576");
	/* Announced too large: refused before the handler runs. */
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_sends(&c, "POST /api/upload HTTP/1.1\r\nHost: test\r\nContent-Length: 1048577\r\n"
			   "\r\n"));
	WT_OK(wt_read_response(&c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 413 Content Too Large");
	ck_assert_str_eq(r.body, "413 Content Too Large\n");
	ck_assert_str_eq(wt_header(&r, "Connection"), "close");
	wt_response_free(&r);
	WT_OK(wt_wait_closed(&c, WT_TIMEOUT_MS));
	wt_client_close(&c);
	ck_assert_uint_eq(stat_of(&s, "body_calls"), 0);

	/* Chunked: found out under way, with the handler reading; its request is aborted. */
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_sends(&c, "POST /api/upload HTTP/1.1\r\nHost: test\r\n"
			   "Transfer-Encoding: chunked\r\n\r\n"));
	/* The server may stop reading once it has answered: what is not sent is not needed. */
	(void)wt_send(&c, framed, len);
	WT_OK(wt_read_response(&c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 413 Content Too Large");
	ck_assert_str_eq(r.body, "413 Content Too Large\n");
	ck_assert_str_eq(wt_header(&r, "Connection"), "close");
	wt_response_free(&r);
	wt_client_close(&c);
	ck_assert_uint_eq(wait_stat(&s, "aborts", 1), 1);
	WT_OK(wt_wait_log(&s, "api: complete POST /api/upload status=413 aborted=0\n",
			  WT_TIMEOUT_MS));
	ck_assert(wt_log_contains(&s, "api: upload aborted after"));

	WT_OK(wt_client_open(&c, &s, 0));
	wt_expect(&c, "/api/now?n=1", "", 200, "now 1\n");
	wt_client_close(&c);
	free(framed);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(upload_answered_early)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	unsigned char *p = pattern(0, 256 * 1024);
	unsigned long n;

	serve_api(&s, BIG_BODIES);
	/* Answered from the body reader after 64 KiB of 8 MiB. */
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_sends(&c, "POST /api/upload?early=65536 HTTP/1.1\r\nHost: test\r\n"
			   "Content-Length: 8388608\r\n\r\n"));
	WT_OK(wt_send(&c, p, 256 * 1024));
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(sscanf(r.body, "early after %lu\n", &n) == 1 && n >= 65536 && n <= 256 * 1024,
		      "unexpected answer \"%s\"", r.body);
	ck_assert_str_eq(wt_header(&r, "Connection"), "close");
	wt_response_free(&r);
	WT_OK(wt_wait_closed(&c, WT_TIMEOUT_MS));
	wt_client_close(&c);

	/* Answered by the handler itself, before reading anything. */
	WT_OK(wt_client_open(&c, &s, 0));
	WT_OK(wt_sends(&c, "POST /api/upload?now=1 HTTP/1.1\r\nHost: test\r\n"
			   "Content-Length: 8388608\r\n\r\n"));
	WT_OK(wt_send(&c, p, 1000));
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "not reading\n");
	ck_assert_str_eq(wt_header(&r, "Connection"), "close");
	wt_response_free(&r);
	WT_OK(wt_wait_closed(&c, WT_TIMEOUT_MS));
	wt_client_close(&c);

	WT_OK(wt_client_open(&c, &s, 0));
	wt_expect(&c, "/api/now?n=1", "", 200, "now 1\n");
	wt_client_close(&c);
	ck_assert_uint_eq(stat_of(&s, "aborts"), 0);
	WT_OK(wt_wait_log(&s, "api: complete POST /api/upload?now=1 status=200 aborted=0\n",
			  WT_TIMEOUT_MS));
	ck_assert(wt_log_contains(&s, "api: complete POST /api/upload?early=65536 status=200 "
				      "aborted=0\n"));
	free(p);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(upload_expect_continue)
{
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	unsigned char *p = pattern(0, 100000);

	serve_api(&s, BIG_BODIES);
	WT_OK(wt_client_open(&c, &s, 0));
	/* The handler took the request without answering: the client may send the body. */
	WT_OK(wt_sends(&c, "POST /api/upload HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\n"
			   "Content-Length: 100000\r\n\r\n"));
	WT_OK(wt_read_response(&c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 100 Continue");
	wt_response_free(&r);
	WT_OK(wt_send(&c, p, 100000));
	WT_OK(wt_read_response(&c, &r, false));
	expect_sum(&r, p, 100000);
	wt_response_free(&r);
	/* Answered at once: no invitation to send a body that is not wanted. */
	WT_OK(wt_sends(&c, "POST /api/upload?now=1 HTTP/1.1\r\nHost: test\r\n"
			   "Expect: 100-continue\r\nContent-Length: 100000\r\n\r\n"));
	WT_OK(wt_read_response(&c, &r, false));
	WT_ASSERT_STATUS_LINE(&r, "HTTP/1.1 200 OK");
	ck_assert_str_eq(r.body, "not reading\n");
	ck_assert_str_eq(wt_header(&r, "Connection"), "close");
	wt_response_free(&r);
	WT_OK(wt_wait_closed(&c, WT_TIMEOUT_MS));
	free(p);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

/* ---- Asynchronous edge cases --------------------------------------------------------- */

START_TEST(fd_watches)
{
	struct wt_server s;
	struct wt_client c;

	serve_api(&s, BIG_BODIES);
	WT_OK(wt_client_open(&c, &s, 0));
	wt_expect(&c, "/api/watch?mode=read", "", 200,
		  "read events=R got=ping bad=EINVAL,EINVAL\n");
	wt_expect(&c, "/api/watch?mode=write", "", 200,
		  "W read events=R got=pong bad=EINVAL,EINVAL\n");
	/* The far end closed: readable, at end of file, and hung up. */
	wt_expect(&c, "/api/watch?mode=eof", "", 200, "read events=RE eof\n");
	wt_expect(&c, "/api/now?n=1", "", 200, "now 1\n");
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

START_TEST(cancelled_watch_and_timer_never_run)
{
	struct wt_server s;
	struct wt_client c;
	long long t;

	serve_api(&s, BIG_BODIES);
	WT_OK(wt_client_open(&c, &s, 0));
	t = wt_now_ms();
	wt_expect(&c, "/api/watch?mode=cancel", "", 200, "quiet\n");
	ck_assert_msg(wt_now_ms() - t >= 410, "answered after %lld ms", wt_now_ms() - t);
	wt_expect(&c, "/api/watch?mode=cancel", "", 200, "quiet\n");
	ck_assert_uint_eq(stat_of(&s, "stray"), 0);
	wt_client_close(&c);
	wt_stop_keep_log(&s);
	ck_assert(!wt_log_contains(&s, "api: an unwatched fd's callback ran"));
	ck_assert(!wt_log_contains(&s, "api: a cancelled timer ran"));
	wt_cleanup(&s);
}
END_TEST

START_TEST(pipelined_behind_async)
{
	static const char reqs[] =
		"GET /api/later?ms=150&n=1 HTTP/1.1\r\nHost: test\r\n\r\n"
		"GET /api/now?n=2 HTTP/1.1\r\nHost: test\r\n\r\n"
		"GET /api/later?ms=0&n=3 HTTP/1.1\r\nHost: test\r\n\r\n"
		"GET /api/stream?mode=inline&pieces=2&size=3 HTTP/1.1\r\nHost: test\r\n\r\n"
		"GET /api/stream?pieces=2&size=3 HTTP/1.1\r\nHost: test\r\n\r\n"
		"POST /api/sum HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello"
		"GET /api/watch?mode=read HTTP/1.1\r\nHost: test\r\n\r\n"
		"GET /api/now?n=8 HTTP/1.1\r\nHost: test\r\n\r\n";
	struct wt_server s;
	struct wt_client c;
	struct wt_response r;
	char *sum = sum_line((const unsigned char *)"hello", 5, "1");
	long long t;

	serve_api(&s, BIG_BODIES);
	WT_OK(wt_client_open(&c, &s, 0));
	t = wt_now_ms();
	WT_OK(wt_sends(&c, reqs));
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_str_eq(r.body, "later 1\n");
	ck_assert_msg(wt_now_ms() - t >= 150, "answered after %lld ms", wt_now_ms() - t);
	wt_response_free(&r);
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_str_eq(r.body, "now 2\n");
	wt_response_free(&r);
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_str_eq(r.body, "later 3\n");
	wt_response_free(&r);
	for (int i = 0; i < 2; i++) {
		WT_OK(wt_read_response(&c, &r, false));
		ck_assert_str_eq(wt_header(&r, "Transfer-Encoding"), "chunked");
		assert_pattern("pipelined stream", r.body, r.body_len, 6);
		wt_response_free(&r);
	}
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_str_eq(r.body, sum);
	wt_response_free(&r);
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_str_eq(r.body, "read events=R got=ping bad=EINVAL,EINVAL\n");
	wt_response_free(&r);
	WT_OK(wt_read_response(&c, &r, false));
	ck_assert_str_eq(r.body, "now 8\n");
	wt_response_free(&r);
	free(sum);
	wt_client_close(&c);
	wt_stop_ok(&s);
}
END_TEST

static Suite *api_suite(void)
{
	Suite *s = suite_create("api");
	TCase *tc = tcase_create("request");

	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, path_decoded);
	tcase_add_test(tc, query_param);
	tcase_add_test(tc, addresses);
	tcase_add_test(tc, request_log);
	tcase_add_test(tc, cleanups_in_reverse_order);
	tcase_add_test(tc, client_leaves_async_request);
	tcase_add_test(tc, handler_timeout_answers_504);
	tcase_add_test(tc, hooks_see_status);
	tcase_add_test(tc, shared_zone_checks);
	suite_add_tcase(s, tc);

	tc = tcase_create("response");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, response_headers);
	tcase_add_test(tc, borrowed_bodies);
	tcase_add_test(tc, file_bodies);
	tcase_add_test(tc, file_shrinks_while_sent);
	suite_add_tcase(s, tc);

	tc = tcase_create("stream");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, stream_chunked_framing);
	tcase_add_test(tc, stream_borrowed_first_piece);
	tcase_add_test(tc, stream_http10_and_head);
	tcase_add_test(tc, stream_back_pressure_timer);
	tcase_add_test(tc, stream_back_pressure_inline);
	tcase_add_test(tc, stream_paced_to_a_slow_reader);
	tcase_add_test(tc, stream_client_leaves);
	suite_add_tcase(s, tc);

	tc = tcase_create("body");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, upload_content_length);
	tcase_add_test(tc, upload_chunked_in_small_pieces);
	tcase_add_test(tc, upload_over_the_limit);
	tcase_add_test(tc, upload_answered_early);
	tcase_add_test(tc, upload_expect_continue);
	suite_add_tcase(s, tc);

	tc = tcase_create("async");
	tcase_set_timeout(tc, WT_TEST_TIMEOUT_S);
	tcase_add_test(tc, fd_watches);
	tcase_add_test(tc, cancelled_watch_and_timer_never_run);
	tcase_add_test(tc, pipelined_behind_async);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(api_suite)

/* tests/plugins/api.c - module "api" for test_api: one handler per corner of the module ABI
 * that the example plugins leave out, with counters in a shared zone that /api/stats reports. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <warren/module.h>

/* Largest body a request may ask for: big enough for back-pressure, small enough to be safe. */
#define MAX_BODY (64u << 20)

/*
 * What callbacks did, in every worker: many callbacks run when nothing is left to answer
 * with (after the response, after an abort), so only shared memory can tell the test.
 */
struct api_stats {
	atomic_ulong cleanups;	 /* cleanup callbacks run */
	atomic_ulong releases;	 /* borrowed bodies given back */
	atomic_ulong eagain;	 /* stream writes refused with -EAGAIN */
	atomic_ulong drains;	 /* drain callbacks */
	atomic_ulong aborts;	 /* abort callbacks */
	atomic_ulong stray;	 /* callbacks that were cancelled and ran anyway */
	atomic_ulong completes;	 /* on_complete calls for /api/ requests ... */
	atomic_ulong aborted;	 /* ... that saw warren_req_aborted() */
	atomic_ulong body_calls; /* body reader calls */
	int zone_checks[3];	 /* what warren_shm_zone() said to bad calls in init */
};

/* The zone, mapped by the master in init before the workers fork: the same in all of them. */
static struct api_stats *stats;

static void count(atomic_ulong *counter)
{
	atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

static unsigned long load(atomic_ulong *counter)
{
	return atomic_load_explicit(counter, memory_order_relaxed);
}

static const char *err_name(int rc)
{
	switch (rc) {
	case 0:
		return "0";
	case -EINVAL:
		return "EINVAL";
	case -ENOENT:
		return "ENOENT";
	case -ENOMEM:
		return "ENOMEM";
	case -EALREADY:
		return "EALREADY";
	case -EAGAIN:
		return "EAGAIN";
	case -EEXIST:
		return "EEXIST";
	case -EPERM:
		return "EPERM";
	}
	return "other";
}

/* Byte @i of every generated body: a period prime to any power of two, all byte values. */
static unsigned char pattern_at(uint64_t i)
{
	return (unsigned char)(i % 251);
}

static void pattern_fill(unsigned char *p, uint64_t from, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pattern_at(from + i);
}

/* Sets @status and a text body; the result to return from a handler. */
static int answer(struct warren_request *r, int status, const char *fmt, ...) WARREN_PRINTF(3, 4);

static int answer(struct warren_request *r, int status, const char *fmt, ...)
{
	char text[4096];
	va_list ap;
	int n, ret;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= sizeof(text))
		n = sizeof(text) - 1;
	ret = warren_resp_status(r, status);
	if (ret == 0)
		ret = warren_resp_header_set(r, "Content-Type", "text/plain");
	if (ret == 0)
		ret = warren_resp_body(r, text, (size_t)n);
	return ret < 0 ? ret : WARREN_DONE;
}

/* From a callback, where no return value reaches warren: answer and end the request. */
static void answer_later(struct warren_request *r, int status, const char *fmt, ...)
	WARREN_PRINTF(3, 4);

static void answer_later(struct warren_request *r, int status, const char *fmt, ...)
{
	char text[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(text))
		n = sizeof(text) - 1;
	if (warren_resp_status(r, status) < 0 || warren_resp_body(r, text, (size_t)n) < 0) {
		warren_resp_status(r, 500);
		warren_resp_body(r, "", 0);
	}
	if (warren_resp_send(r) < 0)
		warren_log(WARREN_LOG_ERROR, "api: warren_resp_send() refused an async request");
}

/* Query parameter @name as a NUL-terminated string in the pool; @def when absent. */
static int query_str(struct warren_request *r, const char *name, const char *def, const char **out)
{
	struct warren_str v;
	char *s;
	int ret;

	ret = warren_req_query_param(r, name, &v);
	if (ret == -ENOENT) {
		*out = def;
		return 0;
	}
	if (ret < 0)
		return ret;
	s = warren_req_alloc(r, v.len + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s, v.base, v.len);
	s[v.len] = '\0';
	*out = s;
	return 0;
}

/* Query parameter @name as a decimal number up to @max; @def when absent. */
static int query_num(struct warren_request *r, const char *name, uint64_t def, uint64_t max,
		     uint64_t *out)
{
	int ret = warren_req_query_uint(r, name, max, out);

	if (ret == -ENOENT)
		*out = def;
	return ret == -ENOENT ? 0 : ret;
}

static int bad_query(struct warren_request *r)
{
	return answer(r, 400, "bad query\n");
}

/* ---- Request API ------------------------------------------------------------------- */

/*
 * "path RC [decoded]", then "KEY RC [value]" for each query key listed, comma-separated, in
 * the X-Keys request header (a header, so keys can hold what a query cannot say plainly).
 */
static int decode_handler(struct warren_request *r, void *data)
{
	struct warren_str v = {"", 0}, keys;
	int ret;

	(void)data;
	ret = warren_req_path_decoded(r, &v);
	if (warren_resp_printf(r, "path %s [%.*s]\n", err_name(ret), ret ? 0 : (int)v.len, v.base) <
	    0)
		return -ENOMEM;
	if (!warren_req_header(r, "X-Keys", &keys))
		return WARREN_DONE;
	for (size_t at = 0; at <= keys.len;) {
		const char *comma = memchr(keys.base + at, ',', keys.len - at);
		size_t n = comma ? (size_t)(comma - keys.base) - at : keys.len - at;
		char *key = warren_req_alloc(r, n + 1);

		if (!key)
			return -ENOMEM;
		memcpy(key, keys.base + at, n);
		key[n] = '\0';
		v = (struct warren_str){"", 0};
		ret = warren_req_query_param(r, key, &v);
		if (warren_resp_printf(r, "%s %s [%.*s]\n", key, err_name(ret),
				       ret ? 0 : (int)v.len, v.base) < 0)
			return -ENOMEM;
		at += n + 1;
	}
	return WARREN_DONE;
}

static void format_addr(const struct sockaddr *sa, char *ip, size_t iplen, unsigned *port)
{
	snprintf(ip, iplen, "?");
	*port = 0;
	if (!sa)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, (socklen_t)iplen);
		*port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, (socklen_t)iplen);
		*port = ntohs(in6->sin6_port);
	}
}

/* Both ends of the connection as warren_req_addr() and warren_req_remote_ip() see them. */
static int addr_handler(struct warren_request *r, void *data)
{
	char peer[INET6_ADDRSTRLEN], local[INET6_ADDRSTRLEN];
	socklen_t peer_len = 0, local_len = 0;
	const struct sockaddr *sa;
	unsigned peer_port, local_port;
	struct warren_str ip;

	(void)data;
	sa = warren_req_addr(r, false, &peer_len);
	format_addr(sa, peer, sizeof(peer), &peer_port);
	sa = warren_req_addr(r, true, &local_len);
	format_addr(sa, local, sizeof(local), &local_port);
	ip = warren_req_remote_ip(r);
	return answer(r, 200, "remote %s %u %u\nlocal %s %u %u\nremote_ip %.*s\n", peer, peer_port,
		      (unsigned)peer_len, local, local_port, (unsigned)local_len, (int)ip.len,
		      ip.base);
}

static int log_handler(struct warren_request *r, void *data)
{
	const char *m;

	(void)data;
	if (query_str(r, "m", "-", &m) < 0)
		return bad_query(r);
	warren_req_log(r, WARREN_LOG_INFO, "api: log %s", m);
	return answer(r, 200, "logged\n");
}

struct cleanup_arg {
	const char *tag; /* pool memory: cleanups run before the pool goes */
	unsigned k;
};

static void cleanup_run(void *arg)
{
	const struct cleanup_arg *a = arg;

	count(&stats->cleanups);
	warren_log(WARREN_LOG_INFO, "api: cleanup %u of %s", a->k, a->tag);
}

static void cleanup_abort(struct warren_request *r, void *arg)
{
	(void)r;
	count(&stats->aborts);
	warren_log(WARREN_LOG_INFO, "api: abort of %s", (const char *)arg);
}

static void cleanup_timer(struct warren_request *r, void *arg)
{
	answer_later(r, 200, "done %s\n", (const char *)arg);
}

/*
 * Registers cleanups 1..n, which log "api: cleanup K of TAG", then by mode: "now" answers at
 * once, "later" from a timer, "hang" never (so only an abort ends it).
 */
static int cleanup_handler(struct warren_request *r, void *data)
{
	const char *tag, *mode;
	uint64_t n;

	(void)data;
	if (query_str(r, "tag", "-", &tag) < 0 || query_str(r, "mode", "now", &mode) < 0 ||
	    query_num(r, "n", 3, 100, &n) < 0)
		return bad_query(r);
	for (unsigned k = 1; k <= n; k++) {
		struct cleanup_arg *a = warren_req_alloc(r, sizeof(*a));

		if (!a)
			return -ENOMEM;
		a->tag = tag;
		a->k = k;
		if (warren_req_cleanup(r, cleanup_run, a) < 0)
			return -ENOMEM;
	}
	if (strcmp(mode, "now") == 0)
		return answer(r, 200, "done %s\n", tag);
	warren_req_on_abort(r, cleanup_abort, (void *)tag);
	if (strcmp(mode, "later") == 0) {
		if (warren_timer_add(r, 50, cleanup_timer, (void *)tag, NULL) < 0)
			return -ENOMEM;
	} else if (strcmp(mode, "hang") != 0) {
		return bad_query(r);
	}
	warren_req_log(r, WARREN_LOG_INFO, "api: waiting %s", tag);
	return WARREN_ASYNC;
}

/* ---- Response API ------------------------------------------------------------------ */

/* Every header and status call, each result on a line "what RESULT", in order. */
static int headers_handler(struct warren_request *r, void *data)
{
	struct warren_str v;
	char line[256];
	int ret;

	(void)data;
#define STEP(what, call)                                                                           \
	do {                                                                                       \
		ret = (call);                                                                      \
		if (warren_resp_printf(r, "%s %s\n", what, err_name(ret)) < 0)                     \
			return -ENOMEM;                                                            \
	} while (0)
#define GET(what, name)                                                                            \
	do {                                                                                       \
		bool found_ = warren_resp_header_get(r, name, &v);                                 \
		snprintf(line, sizeof(line), "%s %s", what, found_ ? "[" : "absent");              \
		if (warren_resp_printf(r, "%s%.*s%s\n", line, found_ ? (int)v.len : 0,             \
				       found_ ? v.base : "", found_ ? "]" : "") < 0)               \
			return -ENOMEM;                                                            \
	} while (0)

	if (warren_resp_printf(r, "status %d\n", warren_resp_get_status(r)) < 0)
		return -ENOMEM;
	STEP("status 199", warren_resp_status(r, 199));
	STEP("status 600", warren_resp_status(r, 600));
	STEP("status 201", warren_resp_status(r, 201));
	if (warren_resp_printf(r, "status %d\n", warren_resp_get_status(r)) < 0)
		return -ENOMEM;

	STEP("add X-A 1", warren_resp_header(r, "X-A", "1"));
	STEP("add x-a 2", warren_resp_header(r, "x-a", "2"));
	STEP("add X-B b", warren_resp_header(r, "X-B", "b"));
	GET("get X-A", "X-A");
	STEP("set X-A 3", warren_resp_header_set(r, "X-A", "3"));
	GET("get x-A", "x-A");
	STEP("set X-A bad", warren_resp_header_set(r, "X-A", "bad\nvalue"));
	GET("get X-A", "X-A");

	STEP("add X-Gone 1", warren_resp_header(r, "X-Gone", "1"));
	STEP("add X-Gone 2", warren_resp_header(r, "X-Gone", "2"));
	STEP("remove x-gone", warren_resp_header_remove(r, "x-gone"));
	STEP("remove X-Gone", warren_resp_header_remove(r, "X-Gone"));
	STEP("remove X-Never", warren_resp_header_remove(r, "X-Never"));
	GET("get X-Gone", "X-Gone");

	/* Removing the last header leaves the list's tail where the next one goes. */
	STEP("add X-Last 1", warren_resp_header(r, "X-Last", "1"));
	STEP("remove X-Last", warren_resp_header_remove(r, "X-Last"));
	STEP("add X-After ok", warren_resp_header(r, "X-After", "ok"));

	STEP("add Content-Length", warren_resp_header(r, "Content-Length", "5"));
	STEP("set Transfer-Encoding", warren_resp_header_set(r, "Transfer-Encoding", "chunked"));
	STEP("add connection", warren_resp_header(r, "connection", "close"));
	STEP("add Bad Name", warren_resp_header(r, "Bad Name", "x"));
	STEP("add empty name", warren_resp_header(r, "", "x"));
	STEP("add X-CRLF", warren_resp_header(r, "X-CRLF", "a\r\nX-Injected: 1"));
	STEP("set X-LF", warren_resp_header_set(r, "X-LF", "a\nb"));
	STEP("add X-Empty", warren_resp_header(r, "X-Empty", ""));
	GET("get X-Empty", "X-Empty");
	GET("get Content-Length", "Content-Length");
#undef STEP
#undef GET
	return WARREN_DONE;
}

struct borrowed {
	unsigned char *buf;
	size_t len;
};

static void borrow_release(void *arg)
{
	struct borrowed *b = arg;

	warren_log(WARREN_LOG_INFO, "api: released %zu borrowed bytes", b->len);
	free(b->buf);
	free(b);
	count(&stats->releases);
}

/* A malloc'd @len-byte borrowed body (pattern bytes, or @text) that release frees. */
static int borrow(struct warren_request *r, size_t len, const char *text)
{
	struct borrowed *b = malloc(sizeof(*b));
	int ret;

	if (!b)
		return -ENOMEM;
	b->len = text ? strlen(text) : len;
	b->buf = malloc(b->len ? b->len : 1);
	if (!b->buf) {
		free(b);
		return -ENOMEM;
	}
	if (text)
		memcpy(b->buf, text, b->len);
	else
		pattern_fill(b->buf, 0, b->len);
	ret = warren_resp_body_borrow(r, b->buf, b->len, borrow_release, b);
	if (ret < 0) {
		free(b->buf);
		free(b);
	}
	return ret;
}

/*
 * ?size=N pattern bytes as a borrowed body; ?then=append adds "+" after it (a copy is
 * taken first), ?then=replace replaces it with "replaced\n".
 */
/* Must never run: its request was answered before it fired. */
static void answered_timer(struct warren_request *r, void *arg)
{
	(void)arg;
	warren_req_log(r, WARREN_LOG_ERROR, "api: a timer of an answered request ran");
}

static int borrow_handler(struct warren_request *r, void *data)
{
	const char *then;
	uint64_t size;
	int ret;

	(void)data;
	if (query_num(r, "size", 16, MAX_BODY, &size) < 0 ||
	    query_str(r, "then", "none", &then) < 0)
		return bad_query(r);
	ret = warren_resp_header(r, "Content-Type", "application/octet-stream");
	if (ret == 0)
		ret = borrow(r, (size_t)size, NULL);
	if (ret == 0 && strcmp(then, "append") == 0)
		ret = warren_resp_append(r, "+", 1);
	else if (ret == 0 && strcmp(then, "replace") == 0)
		ret = warren_resp_body(r, "replaced\n", 9);
	else if (ret == 0 && strcmp(then, "timer") == 0)
		ret = warren_timer_add(r, 0, answered_timer, NULL, NULL);
	return ret < 0 ? ret : WARREN_DONE;
}

/* ?path=FILE&off=O&len=L as a file body; a refused range is answered 400 "body_file RC". */
static int file_handler(struct warren_request *r, void *data)
{
	uint64_t off, len;
	const char *path;
	int fd, ret;

	(void)data;
	if (query_str(r, "path", NULL, &path) < 0 || !path ||
	    query_num(r, "off", 0, UINT32_MAX, &off) < 0 ||
	    query_num(r, "len", 0, UINT32_MAX, &len) < 0)
		return bad_query(r);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return answer(r, 404, "open: %s\n", strerror(errno));
	ret = warren_resp_body_file(r, fd, (off_t)off, (size_t)len);
	/* warren keeps a duplicate: ours can go at once. */
	close(fd);
	if (ret < 0)
		return answer(r, 400, "body_file %s\n", err_name(ret));
	ret = warren_resp_header(r, "Content-Type", "application/octet-stream");
	return ret < 0 ? ret : WARREN_DONE;
}

/* ---- Streamed responses ------------------------------------------------------------ */

struct stream {
	uint64_t pieces, size, ms;
	uint64_t done; /* pieces queued */
	unsigned char *piece;
};

static void stream_tick(struct warren_request *r, void *arg);

/*
 * Writes pieces until all are queued (then ends the stream), output backs up (then the
 * drain callback resumes), or, with ?ms, one piece per timer tick.
 */
static void pump(struct warren_request *r, struct stream *st)
{
	int ret;

	while (st->done < st->pieces) {
		pattern_fill(st->piece, st->done * st->size, (size_t)st->size);
		ret = warren_resp_stream_write(r, st->piece, (size_t)st->size);
		if (ret == -EAGAIN) {
			count(&stats->eagain);
			return;
		}
		if (ret < 0) {
			warren_req_log(r, WARREN_LOG_ERROR, "api: stream write: %s", err_name(ret));
			break;
		}
		st->done++;
		if (st->ms && st->done < st->pieces) {
			if (warren_timer_add(r, st->ms, stream_tick, st, NULL) == 0)
				return;
			break;
		}
	}
	ret = warren_resp_stream_end(r);
	if (ret < 0)
		warren_log(WARREN_LOG_ERROR, "api: stream end: %s", err_name(ret));
}

static void stream_drain(struct warren_request *r, void *arg)
{
	count(&stats->drains);
	pump(r, arg);
}

static void stream_tick(struct warren_request *r, void *arg)
{
	pump(r, arg);
}

static void stream_start(struct warren_request *r, void *arg)
{
	int ret = warren_resp_stream_begin(r, stream_drain, arg);

	if (ret < 0) {
		warren_req_log(r, WARREN_LOG_ERROR, "api: stream begin: %s", err_name(ret));
		answer_later(r, 500, "stream begin %s\n", err_name(ret));
		return;
	}
	pump(r, arg);
}

static void stream_abort(struct warren_request *r, void *arg)
{
	const struct stream *st = arg;

	count(&stats->aborts);
	warren_req_log(r, WARREN_LOG_INFO, "api: stream aborted after %llu pieces",
		       (unsigned long long)st->done);
}

/*
 * ?pieces=N&size=S pattern bytes as a streamed response, with ?ms between pieces. Before the
 * stream: ?status, ?first=TEXT (a copied body) or ?borrow=TEXT (a borrowed one) as its first
 * piece. ?mode=timer begins from a timer; "inline" begins in the handler, and writes and
 * ends there too unless output backs up or ?ms asks for a pause.
 */
static int stream_handler(struct warren_request *r, void *data)
{
	const char *mode, *first, *borrowed;
	uint64_t status;
	struct stream *st;
	int ret;

	(void)data;
	st = warren_req_alloc(r, sizeof(*st));
	if (!st)
		return -ENOMEM;
	memset(st, 0, sizeof(*st));
	if (query_num(r, "pieces", 3, 1u << 20, &st->pieces) < 0 ||
	    query_num(r, "size", 5, 1u << 20, &st->size) < 0 ||
	    query_num(r, "ms", 0, 10000, &st->ms) < 0 ||
	    query_num(r, "status", 200, 599, &status) < 0 ||
	    query_str(r, "mode", "timer", &mode) < 0 || query_str(r, "first", NULL, &first) < 0 ||
	    query_str(r, "borrow", NULL, &borrowed) < 0 || st->size == 0 ||
	    st->pieces * st->size > MAX_BODY)
		return bad_query(r);
	st->piece = warren_req_alloc(r, (size_t)st->size);
	if (!st->piece)
		return -ENOMEM;
	ret = warren_resp_status(r, (int)status);
	if (ret == 0)
		ret = warren_resp_header(r, "X-Stream", mode);
	/* Nothing to write into before it begins. */
	if (ret == 0)
		ret = warren_resp_header(r, "X-Write-Early",
					 err_name(warren_resp_stream_write(r, "x", 1)));
	if (ret == 0 && first)
		ret = warren_resp_body(r, first, strlen(first));
	if (ret == 0 && borrowed)
		ret = borrow(r, 0, borrowed);
	if (ret < 0)
		return ret;
	warren_req_on_abort(r, stream_abort, st);

	if (strcmp(mode, "timer") == 0) {
		ret = warren_timer_add(r, 0, stream_start, st, NULL);
		return ret < 0 ? ret : WARREN_ASYNC;
	}
	if (strcmp(mode, "inline") != 0)
		return bad_query(r);
	ret = warren_resp_stream_begin(r, stream_drain, st);
	if (ret < 0)
		return ret;
	/* Ended here or not, a handler that began a stream returns WARREN_ASYNC. */
	pump(r, st);
	return WARREN_ASYNC;
}

/* ---- Request bodies ---------------------------------------------------------------- */

struct upload {
	uint64_t len, early;
	uint32_t sum; /* FNV-1a of the body */
	unsigned calls;
	int again; /* what a second warren_req_body_read() said */
};

static void upload_body(struct warren_request *r, struct warren_str chunk, bool last, void *arg)
{
	struct upload *u = arg;

	u->calls++;
	count(&stats->body_calls);
	for (size_t i = 0; i < chunk.len; i++)
		u->sum = (u->sum ^ (unsigned char)chunk.base[i]) * 16777619u;
	u->len += chunk.len;
	if (u->early && u->len >= u->early) {
		answer_later(r, 200, "early after %llu\n", (unsigned long long)u->len);
		return;
	}
	if (last)
		answer_later(r, 200, "len=%llu sum=%08x calls=%u again=%s\n",
			     (unsigned long long)u->len, u->sum, u->calls, err_name(u->again));
}

static void upload_abort(struct warren_request *r, void *arg)
{
	const struct upload *u = arg;

	count(&stats->aborts);
	warren_req_log(r, WARREN_LOG_INFO, "api: upload aborted after %llu bytes",
		       (unsigned long long)u->len);
}

/*
 * Sums the body as it is read: "len=N sum=FNV calls=K again=RC". ?early=N answers once N
 * bytes are in; ?now=1 answers at once without reading.
 */
static int upload_handler(struct warren_request *r, void *data)
{
	struct upload *u;
	uint64_t now;
	int ret;

	(void)data;
	u = warren_req_alloc(r, sizeof(*u));
	if (!u)
		return -ENOMEM;
	memset(u, 0, sizeof(*u));
	u->sum = 2166136261u;
	if (query_num(r, "early", 0, UINT32_MAX, &u->early) < 0 ||
	    query_num(r, "now", 0, 1, &now) < 0)
		return bad_query(r);
	if (now)
		return answer(r, 200, "not reading\n");
	ret = warren_req_body_read(r, upload_body, u);
	if (ret < 0)
		return ret;
	u->again = warren_req_body_read(r, upload_body, u);
	warren_req_on_abort(r, upload_abort, u);
	return WARREN_ASYNC;
}

/* ---- Asynchronous edge cases ------------------------------------------------------- */

/* The module's request context: which of its code ran for the request, in order. */
struct api_ctx {
	char trail[8];
	unsigned n;
};

static void trail(struct warren_request *r, char ch)
{
	struct api_ctx *x = warren_req_ctx(r);

	if (x && x->n < sizeof(x->trail) - 1)
		x->trail[x->n++] = ch;
}

static void later_timer(struct warren_request *r, void *arg)
{
	trail(r, 't');
	answer_later(r, 200, "later %s\n", (const char *)arg);
}

/* "later N" after ?ms; the pipelining tests queue these behind each other. */
static int later_handler(struct warren_request *r, void *data)
{
	const char *n;
	uint64_t ms;
	int ret;

	(void)data;
	if (query_str(r, "n", "-", &n) < 0 || query_num(r, "ms", 0, 60000, &ms) < 0)
		return bad_query(r);
	trail(r, 'h');
	ret = warren_timer_add(r, ms, later_timer, (void *)n, NULL);
	return ret < 0 ? ret : WARREN_ASYNC;
}

static int now_handler(struct warren_request *r, void *data)
{
	const char *n;

	(void)data;
	if (query_str(r, "n", "-", &n) < 0)
		return bad_query(r);
	return answer(r, 200, "now %s\n", n);
}

struct watch_state {
	int fds[2];
	char first[16]; /* events of the write watch, in mode "write" */
	int bad[2];	/* what two invalid watches said */
	struct warren_watch *watch;
	struct warren_timer *doomed;
};

static void events_str(unsigned events, char *out)
{
	if (events & WARREN_FD_READ)
		*out++ = 'R';
	if (events & WARREN_FD_WRITE)
		*out++ = 'W';
	if (events & WARREN_FD_ERROR)
		*out++ = 'E';
	*out = '\0';
}

static void watch_close(void *arg)
{
	struct watch_state *ws = arg;

	for (int i = 0; i < 2; i++)
		if (ws->fds[i] >= 0)
			close(ws->fds[i]);
}

static void on_readable(struct warren_request *r, int fd, unsigned events, void *arg)
{
	struct watch_state *ws = arg;
	char buf[64], ev[8];
	ssize_t n = read(fd, buf, sizeof(buf));

	events_str(events, ev);
	if (n < 0)
		answer_later(r, 200, "%sread events=%s error %s\n", ws->first, ev, strerror(errno));
	else if (n == 0)
		answer_later(r, 200, "%sread events=%s eof\n", ws->first, ev);
	else
		answer_later(r, 200, "%sread events=%s got=%.*s bad=%s,%s\n", ws->first, ev, (int)n,
			     buf, err_name(ws->bad[0]), err_name(ws->bad[1]));
}

static void on_writable(struct warren_request *r, int fd, unsigned events, void *arg)
{
	struct watch_state *ws = arg;
	char ev[8];
	int ret;

	events_str(events, ev);
	snprintf(ws->first, sizeof(ws->first), "%s ", ev);
	if (write(fd, "pong", 4) != 4) {
		answer_later(r, 500, "write: %s\n", strerror(errno));
		return;
	}
	/* A callback may watch again: the first watch is over. */
	ret = warren_fd_watch(r, ws->fds[0], WARREN_FD_READ, on_readable, ws, NULL);
	if (ret < 0)
		answer_later(r, 500, "watch again: %s\n", err_name(ret));
}

static void watch_feed(struct warren_request *r, void *arg)
{
	struct watch_state *ws = arg;

	(void)r;
	if (write(ws->fds[1], "ping", 4) != 4)
		warren_log(WARREN_LOG_ERROR, "api: cannot write to the pipe");
}

static void watch_hangup(struct warren_request *r, void *arg)
{
	struct watch_state *ws = arg;

	(void)r;
	close(ws->fds[1]);
	ws->fds[1] = -1;
}

/* Cancelled: they must never run. They touch nothing, since the request may be gone. */
static void stray_watch(struct warren_request *r, int fd, unsigned events, void *arg)
{
	(void)r;
	(void)fd;
	(void)events;
	(void)arg;
	count(&stats->stray);
	warren_log(WARREN_LOG_ERROR, "api: an unwatched fd's callback ran");
}

static void stray_timer(struct warren_request *r, void *arg)
{
	(void)r;
	(void)arg;
	count(&stats->stray);
	warren_log(WARREN_LOG_ERROR, "api: a cancelled timer ran");
}

static void quiet_timer(struct warren_request *r, void *arg)
{
	(void)arg;
	answer_later(r, 200, "quiet\n");
}

/* Makes the pipe ready, then takes back both the watch on it and the earlier-armed timer. */
static void cancel_both(struct warren_request *r, void *arg)
{
	struct watch_state *ws = arg;

	if (write(ws->fds[1], "x", 1) != 1)
		warren_log(WARREN_LOG_ERROR, "api: cannot write to the pipe");
	warren_fd_unwatch(ws->watch);
	warren_timer_cancel(ws->doomed);
	/* Past the cancelled timer's time: had it stayed armed, it would have run first. */
	if (warren_timer_add(r, 400, quiet_timer, ws, NULL) < 0)
		answer_later(r, 500, "timer: out of memory\n");
}

/*
 * ?mode=read: a timer writes to a pipe whose read end is watched. "write": the write end is
 * watched, its callback writes and watches the read end. "eof": a timer closes the far end
 * of a socketpair. "cancel": a watch and a timer are cancelled before they could run.
 */
static int watch_handler(struct warren_request *r, void *data)
{
	struct watch_state *ws;
	const char *mode;
	int ret;

	(void)data;
	if (query_str(r, "mode", "read", &mode) < 0)
		return bad_query(r);
	ws = warren_req_alloc(r, sizeof(*ws));
	if (!ws)
		return -ENOMEM;
	memset(ws, 0, sizeof(*ws));
	if (strcmp(mode, "eof") == 0)
		ret = socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, ws->fds);
	else
		ret = pipe2(ws->fds, O_NONBLOCK | O_CLOEXEC);
	if (ret < 0)
		return -errno;
	ret = warren_req_cleanup(r, watch_close, ws);
	if (ret < 0) {
		watch_close(ws);
		return ret;
	}
	ws->bad[0] = warren_fd_watch(r, ws->fds[0], 0, on_readable, ws, NULL);
	ws->bad[1] = warren_fd_watch(r, -1, WARREN_FD_READ, on_readable, ws, NULL);

	if (strcmp(mode, "read") == 0) {
		ret = warren_fd_watch(r, ws->fds[0], WARREN_FD_READ, on_readable, ws, NULL);
		if (ret == 0)
			ret = warren_timer_add(r, 20, watch_feed, ws, NULL);
	} else if (strcmp(mode, "write") == 0) {
		ret = warren_fd_watch(r, ws->fds[1], WARREN_FD_WRITE, on_writable, ws, NULL);
	} else if (strcmp(mode, "eof") == 0) {
		ret = warren_fd_watch(r, ws->fds[0], WARREN_FD_READ, on_readable, ws, NULL);
		if (ret == 0)
			ret = warren_timer_add(r, 20, watch_hangup, ws, NULL);
	} else if (strcmp(mode, "cancel") == 0) {
		ret = warren_fd_watch(r, ws->fds[0], WARREN_FD_READ, stray_watch, ws, &ws->watch);
		if (ret == 0)
			ret = warren_timer_add(r, 200, stray_timer, ws, &ws->doomed);
		if (ret == 0)
			ret = warren_timer_add(r, 10, cancel_both, ws, NULL);
	} else {
		return bad_query(r);
	}
	return ret < 0 ? ret : WARREN_ASYNC;
}

static int stats_handler(struct warren_request *r, void *data)
{
	void *mem;

	(void)data;
	return answer(r, 200,
		      "cleanups %lu\nreleases %lu\neagain %lu\ndrains %lu\naborts %lu\n"
		      "stray %lu\ncompletes %lu\naborted %lu\nbody_calls %lu\n"
		      "zone_checks %s %s %s %s\n",
		      load(&stats->cleanups), load(&stats->releases), load(&stats->eagain),
		      load(&stats->drains), load(&stats->aborts), load(&stats->stray),
		      load(&stats->completes), load(&stats->aborted), load(&stats->body_calls),
		      err_name(stats->zone_checks[0]), err_name(stats->zone_checks[1]),
		      err_name(stats->zone_checks[2]),
		      err_name(warren_shm_zone("api.late", 64, &mem)));
}

/* ---- Module ------------------------------------------------------------------------ */

static int api_init(const json_t *config, void **module_data, struct warren_error *err)
{
	void *mem;
	int ret;

	(void)config;
	(void)module_data;
	ret = warren_shm_zone("api.stats", sizeof(struct api_stats), &mem);
	if (ret < 0) {
		warren_error_set(err, "shared zone: %s", strerror(-ret));
		return ret;
	}
	stats = mem;
	stats->zone_checks[0] = warren_shm_zone("", 64, &mem);
	stats->zone_checks[1] = warren_shm_zone("api.empty", 0, &mem);
	stats->zone_checks[2] = warren_shm_zone("api.stats", sizeof(struct api_stats) + 1, &mem);
	return 0;
}

static bool is_api(struct warren_str target)
{
	return target.len >= 5 && memcmp(target.base, "/api/", 5) == 0 &&
	       !(target.len >= 10 && memcmp(target.base, "/api/stats", 10) == 0);
}

/* Tells the test what each request's status was when it ended, whether it was aborted (no
 * response), and whether its response was cut. */
static void api_on_complete(struct warren_request *r, void *module_data)
{
	struct warren_str method = warren_req_method(r), target = warren_req_target(r);
	bool aborted = warren_req_aborted(r);

	(void)module_data;
	if (warren_req_header(r, "X-Api-Hook", NULL)) {
		struct warren_str len = {"-", 1};

		trail(r, 'c');
		warren_resp_header_get(r, "Content-Length", &len);
		warren_log(WARREN_LOG_INFO, "api: hooked %.*s ctx=%s length=%.*s sent=%llu",
			   (int)target.len, target.base,
			   ((struct api_ctx *)warren_req_ctx(r))->trail, (int)len.len, len.base,
			   (unsigned long long)warren_resp_bytes_sent(r, false));
	}
	if (!is_api(target))
		return;
	count(&stats->completes);
	if (aborted)
		count(&stats->aborted);
	warren_log(WARREN_LOG_INFO, "api: complete %.*s %.*s status=%d aborted=%d%s",
		   (int)method.len, method.base, (int)target.len, target.base,
		   warren_resp_get_status(r), aborted,
		   warren_req_outcome(r) == WARREN_OUTCOME_CUT ? " cut" : "");
}

/*
 * With "X-Api-Hook" in the request, reports the status the hook saw (warren's own
 * included), the Content-Length warren will send, and the trail of the module's code that
 * ran for the request, from its request context.
 */
static int api_on_response(struct warren_request *r, void *module_data)
{
	struct warren_str len = {"-", 1};
	char status[16], length[32];
	struct api_ctx *x;

	(void)module_data;
	if (!warren_req_header(r, "X-Api-Hook", NULL))
		return 0;
	trail(r, 'r');
	x = warren_req_ctx(r);
	warren_resp_header_get(r, "Content-Length", &len);
	snprintf(status, sizeof(status), "%d", warren_resp_get_status(r));
	snprintf(length, sizeof(length), "%.*s", (int)len.len, len.base);
	if (warren_resp_header_set(r, "X-Api-Status", status) < 0 ||
	    warren_resp_header_set(r, "X-Api-Length", length) < 0)
		return -ENOMEM;
	return warren_resp_header_set(r, "X-Api-Ctx", x ? x->trail : "(none)");
}

static const struct warren_handler api_handlers[] = {
	{.name = "decode", .handle = decode_handler},
	{.name = "addr", .handle = addr_handler},
	{.name = "log", .handle = log_handler},
	{.name = "cleanup", .handle = cleanup_handler},
	{.name = "headers", .handle = headers_handler},
	{.name = "borrow", .handle = borrow_handler},
	{.name = "file", .handle = file_handler},
	{.name = "stream", .handle = stream_handler},
	{.name = "upload", .handle = upload_handler, .stream_body = true},
	{.name = "sum", .handle = upload_handler},
	{.name = "later", .handle = later_handler},
	{.name = "now", .handle = now_handler},
	{.name = "watch", .handle = watch_handler},
	{.name = "stats", .handle = stats_handler},
	{.name = NULL},
};

WARREN_MODULE(api, .version = "1.0", .handlers = api_handlers, .init = api_init,
	      .on_response = api_on_response, .on_complete = api_on_complete,
	      .request_ctx_size = sizeof(struct api_ctx), );

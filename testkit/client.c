/* testkit/client.c - the test kit's HTTP client: connections with a deadline on every
 * step, requests built from parts or sent raw, and responses read as response.c frames
 * them. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <warren/test.h>

#include "common.h"
#include "server.h"

/* Free room kept in the receive buffer before each recv(). */
#define RECV_ROOM 16384

struct warren_test_conn {
	int fd;
	int timeout_ms;
	bool eof;
	char *buf; /* received, not yet taken by a response */
	size_t len, cap;
	char addr[128];
};

/* Fills @ss from "HOST:PORT", "[IPV6]:PORT" or "unix:PATH". */
static int parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *sslen)
{
	const char *colon = strrchr(addr, ':');
	char host[INET6_ADDRSTRLEN + 2], *end;
	size_t hlen;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (strncmp(addr, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		size_t plen = strlen(addr + 5);

		if (plen == 0 || plen >= sizeof(un->sun_path))
			return kit_fail(-EINVAL, "\"%s\": the socket path is empty or too long",
					addr);
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, addr + 5, plen + 1);
		*sslen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + 1);
		return 0;
	}
	port = colon ? strtol(colon + 1, &end, 10) : 0;
	if (!colon || end == colon + 1 || *end || port <= 0 || port > 65535)
		return kit_fail(-EINVAL, "\"%s\": expected HOST:PORT, [IPV6]:PORT or unix:PATH",
				addr);
	hlen = (size_t)(colon - addr);
	if (hlen >= sizeof(host))
		return kit_fail(-EINVAL, "\"%s\": host too long", addr);
	memcpy(host, addr, hlen);
	host[hlen] = '\0';
	if (hlen > 2 && host[0] == '[' && host[hlen - 1] == ']') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		host[hlen - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
			return kit_fail(-EINVAL, "\"%s\": %s is no IPv6 address", addr, host + 1);
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((unsigned short)port);
		*sslen = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return kit_fail(-EINVAL, "\"%s\": %s is no IPv4 address", addr, host);
		a->sin_family = AF_INET;
		a->sin_port = htons((unsigned short)port);
		*sslen = sizeof(*a);
	}
	return 0;
}

int warren_test_connect_to(const char *addr, int timeout_ms, struct warren_test_conn **conn)
{
	struct sockaddr_storage ss;
	socklen_t sslen = 0, elen = sizeof(int);
	struct warren_test_conn *c;
	long long deadline;
	int err = 0, ret;

	*conn = NULL;
	ret = parse_addr(addr, &ss, &sslen);
	if (ret < 0)
		return ret;
	c = calloc(1, sizeof(*c));
	if (!c)
		return kit_fail(-ENOMEM, "out of memory");
	c->timeout_ms = kit_timeout(timeout_ms);
	snprintf(c->addr, sizeof(c->addr), "%s", addr);
	deadline = kit_now_ms() + c->timeout_ms;
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		ret = kit_fail(-errno, "socket: %s", strerror(errno));
		goto out_free_conn;
	}
	if (connect(c->fd, (struct sockaddr *)&ss, sslen) < 0) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
		int ready;

		if (errno != EINPROGRESS) {
			ret = kit_fail(-errno, "connect to %s: %s", addr, strerror(errno));
			goto out_close_fd;
		}
		do
			ready = poll(&pfd, 1, kit_remaining(deadline));
		while (ready < 0 && errno == EINTR);
		if (ready <= 0) {
			ret = kit_fail(-ETIMEDOUT, "connect to %s: no answer within %d ms", addr,
				       c->timeout_ms);
			goto out_close_fd;
		}
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			err = errno;
		if (err) {
			ret = kit_fail(-err, "connect to %s: %s", addr, strerror(err));
			goto out_close_fd;
		}
	}
	*conn = c;
	return 0;

out_close_fd:
	close(c->fd);
out_free_conn:
	free(c);
	return ret;
}

int warren_test_connect(struct warren_test_server *srv, size_t i, struct warren_test_conn **conn)
{
	const char *addr = warren_test_address(srv, i);

	*conn = NULL;
	if (!addr)
		return kit_fail(-EINVAL, "listener %zu: the server has %zu", i,
				warren_test_nlisten(srv));
	return warren_test_connect_to(addr, kit_server_timeout(srv), conn);
}

void warren_test_close(struct warren_test_conn *conn)
{
	if (!conn)
		return;
	close(conn->fd);
	free(conn->buf);
	free(conn);
}

int warren_test_send(struct warren_test_conn *conn, const void *data, size_t len)
{
	long long deadline = kit_now_ms() + conn->timeout_ms;
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(conn->fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			struct pollfd pfd = {.fd = conn->fd, .events = POLLOUT};

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return kit_fail(-errno, "send to %s: %s", conn->addr,
						strerror(errno));
			if (poll(&pfd, 1, kit_remaining(deadline)) == 0)
				return kit_fail(-ETIMEDOUT,
						"send to %s: %zu bytes not taken within %d ms",
						conn->addr, len, conn->timeout_ms);
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Whether @line has a CR or LF, which would split it into more than what it says. */
static bool has_break(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

/* Whether the header lines include field @name. */
static bool has_field(const char *const *headers, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; headers && headers[i]; i++)
		if (strncasecmp(headers[i], name, n) == 0 && headers[i][n] == ':')
			return true;
	return false;
}

/* The request's bytes as one buffer (free it). A NULL @req is GET /. */
static int build_request(const struct warren_test_request *req, char **out, size_t *outlen)
{
	static const struct warren_test_request get_root;
	const char *method, *target;
	const char *const *h;
	char *buf = NULL, line[64];
	size_t len = 0;
	int ret;

	if (!req)
		req = &get_root;
	method = req->method ? req->method : "GET";
	target = req->target ? req->target : "/";
	h = req->headers;
	if (!*method || has_break(method) || strchr(method, ' '))
		return kit_fail(-EINVAL,
				"method \"%.60s\" is empty or has a space or line break"
				" (warren_test_raw() sends malformed requests)",
				method);
	if (!*target || has_break(target))
		return kit_fail(-EINVAL, "target \"%.60s\" is empty or has a line break", target);
	for (size_t i = 0; h && h[i]; i++)
		if (has_break(h[i]) || !strchr(h[i], ':'))
			return kit_fail(-EINVAL,
					"header %zu \"%.60s\" is no \"Name: value\" line (no CR or "
					"LF; warren_test_raw() sends malformed requests)",
					i, h[i]);
	ret = kit_append(&buf, &len, method, strlen(method));
	ret = ret ?: kit_append(&buf, &len, " ", 1);
	ret = ret ?: kit_append(&buf, &len, target, strlen(target));
	ret = ret ?: kit_append(&buf, &len, " HTTP/1.1\r\n", 11);
	if (!has_field(h, "Host"))
		ret = ret ?: kit_append(&buf, &len, "Host: test\r\n", 12);
	for (size_t i = 0; h && h[i]; i++) {
		ret = ret ?: kit_append(&buf, &len, h[i], strlen(h[i]));
		ret = ret ?: kit_append(&buf, &len, "\r\n", 2);
	}
	if (req->body && !has_field(h, "Content-Length") && !has_field(h, "Transfer-Encoding")) {
		snprintf(line, sizeof(line), "Content-Length: %zu\r\n", req->body_len);
		ret = ret ?: kit_append(&buf, &len, line, strlen(line));
	}
	ret = ret ?: kit_append(&buf, &len, "\r\n", 2);
	if (req->body)
		ret = ret ?: kit_append(&buf, &len, req->body, req->body_len);
	if (ret < 0) {
		free(buf);
		return ret;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

int warren_test_send_request(struct warren_test_conn *conn, const struct warren_test_request *req)
{
	char *buf;
	size_t len;
	int ret = build_request(req, &buf, &len);

	if (ret < 0)
		return ret;
	ret = warren_test_send(conn, buf, len);
	free(buf);
	return ret;
}

/* Receives more bytes. Returns how many, 0 at the end, or -errno (-ETIMEDOUT). */
static int fill(struct warren_test_conn *c, long long deadline)
{
	if (c->eof)
		return 0;
	if (c->cap - c->len < RECV_ROOM) {
		size_t cap = c->cap ? c->cap * 2 : 4 * RECV_ROOM;
		char *nb = realloc(c->buf, cap);

		if (!nb)
			return kit_fail(-ENOMEM, "out of memory");
		c->buf = nb;
		c->cap = cap;
	}
	for (;;) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);

		if (n > 0) {
			c->len += (size_t)n;
			return (int)n;
		}
		if (n == 0) {
			c->eof = true;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		if (poll(&pfd, 1, kit_remaining(deadline)) == 0)
			return -ETIMEDOUT;
	}
}

int warren_test_read(struct warren_test_conn *conn, int flags, struct warren_test_response *r)
{
	long long deadline = kit_now_ms() + conn->timeout_ms;
	char esc[160];
	size_t used;
	int ret;

	memset(r, 0, sizeof(*r));
	for (;;) {
		int k;

		ret = warren_test_parse_response(
			conn->buf, conn->len,
			(flags & WARREN_TEST_HEAD) | (conn->eof ? WARREN_TEST_EOF : 0), r, &used);
		if (ret == 0) {
			memmove(conn->buf, conn->buf + used, conn->len - used);
			conn->len -= used;
			/* Interim answers (100 Continue) come before the one that counts. */
			if (r->status >= 100 && r->status < 200 && r->status != 101) {
				warren_test_response_free(r);
				continue;
			}
			return 0;
		}
		if (ret != -EAGAIN)
			return ret;
		k = fill(conn, deadline);
		if (k == -ETIMEDOUT)
			return kit_fail(-ETIMEDOUT,
					"no complete response from %s within %d ms (%zu bytes "
					"came: \"%s\")",
					conn->addr, conn->timeout_ms, conn->len,
					kit_escape(esc, sizeof(esc), conn->buf, conn->len, 120));
		if (k == -ECONNRESET)
			return kit_fail(-ECONNRESET, "%s reset the connection after %zu bytes",
					conn->addr, conn->len);
		if (k < 0)
			return kit_fail(k, "recv from %s: %s", conn->addr, strerror(-k));
	}
}

int warren_test_wait_closed(struct warren_test_conn *conn)
{
	long long deadline = kit_now_ms() + conn->timeout_ms;
	char esc[160];
	int k;

	if (conn->len == 0) {
		k = fill(conn, deadline);
		if (k == 0 || k == -ECONNRESET)
			return 0;
		if (k == -ETIMEDOUT)
			return kit_fail(-ETIMEDOUT, "%s kept the connection open for %d ms",
					conn->addr, conn->timeout_ms);
		if (k < 0)
			return kit_fail(k, "recv from %s: %s", conn->addr, strerror(-k));
	}
	return kit_fail(-EPROTO, "%s sent \"%s\" instead of closing the connection", conn->addr,
			kit_escape(esc, sizeof(esc), conn->buf, conn->len, 120));
}

/* Puts "@what: " before the error of the call that failed. */
static int say_what(int ret, const char *what)
{
	char why[1024];

	snprintf(why, sizeof(why), "%s", warren_test_error());
	return kit_fail(ret, "%s: %s", what, why);
}

/* One connection, @len bytes, one response, close. */
static int exchange(struct warren_test_server *srv, const char *what, const void *data, size_t len,
		    int flags, struct warren_test_response *r)
{
	struct warren_test_conn *c;
	int ret;

	memset(r, 0, sizeof(*r));
	ret = warren_test_connect(srv, 0, &c);
	if (ret == 0)
		ret = warren_test_send(c, data, len);
	if (ret == 0)
		ret = warren_test_read(c, flags, r);
	warren_test_close(c);
	return ret < 0 ? say_what(ret, what) : 0;
}

int warren_test_request(struct warren_test_server *srv, const struct warren_test_request *req,
			struct warren_test_response *r)
{
	const char *method;
	char *buf, what[160];
	size_t len;
	int ret;

	memset(r, 0, sizeof(*r));
	ret = build_request(req, &buf, &len);
	if (ret < 0)
		return ret;
	method = req && req->method ? req->method : "GET";
	snprintf(what, sizeof(what), "%s %s", method, req && req->target ? req->target : "/");
	ret = exchange(srv, what, buf, len, strcmp(method, "HEAD") == 0 ? WARREN_TEST_HEAD : 0, r);
	free(buf);
	return ret;
}

int warren_test_get(struct warren_test_server *srv, const char *target,
		    struct warren_test_response *r)
{
	struct warren_test_request req = {.target = target};

	return warren_test_request(srv, &req, r);
}

int warren_test_raw(struct warren_test_server *srv, const void *data, size_t len,
		    struct warren_test_response *r)
{
	const char *nl = memchr(data, '\n', len);
	size_t first = nl ? (size_t)(nl - (const char *)data) : len;
	char what[96], esc[64];

	/* Errors name the request by its first line. */
	if (first > 0 && ((const char *)data)[first - 1] == '\r')
		first--;
	snprintf(what, sizeof(what), "request \"%s\"",
		 kit_escape(esc, sizeof(esc), data, first, 40));
	return exchange(srv, what, data, len,
			len >= 5 && memcmp(data, "HEAD ", 5) == 0 ? WARREN_TEST_HEAD : 0, r);
}

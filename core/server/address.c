/* core/server/address.c - listen addresses: "host:port", "[v6]:port" and "unix:/path" read
 * into a sockaddr, written back for messages, and compared, in one place for the config and
 * the listeners. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "base/log.h"
#include "server/address.h"

/* Enough of a user's string to recognise it without flooding a one-line message. */
#define QUOTE_MAX 40
#define QUOTE_BUF (QUOTE_MAX * 4 + 8)

static const char *quote(char *buf, size_t size, const char *s)
{
	return warren__quote(buf, size, s, strlen(s), QUOTE_MAX);
}

static int bad(struct warren_error *err, const char *fmt, ...) WARREN_PRINTF(2, 3);

/* Every mistake is -EINVAL, with a message that the caller prefixes with its JSON path. */
static int bad(struct warren_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int parse_port(const char *text, const char *s, uint16_t *port, struct warren_error *err)
{
	char q[QUOTE_BUF], qt[QUOTE_BUF];
	unsigned long v = 0;
	const char *c;

	if (!*s)
		return bad(err, "%s has no port (expected host:port, e.g. 127.0.0.1:8080)",
			   quote(qt, sizeof(qt), text));
	for (c = s; *c; c++) {
		if (*c < '0' || *c > '9')
			return bad(err, "port %s is not a decimal number (0-65535)",
				   quote(q, sizeof(q), s));
		/* Saturate so that a long run of digits cannot overflow. */
		if (v <= 65535)
			v = v * 10 + (unsigned long)(*c - '0');
	}
	if (v > 65535)
		return bad(err, "port %s out of range (0-65535)", quote(q, sizeof(q), s));
	*port = (uint16_t)v;
	return 0;
}

static int parse_ipv6(const char *text, struct sockaddr_storage *ss, socklen_t *len,
		      struct warren_error *err)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char q[QUOTE_BUF], qh[QUOTE_BUF], host[INET6_ADDRSTRLEN + 1];
	const char *close = strchr(text, ']');
	size_t hlen;
	uint16_t port;
	int ret;

	if (!close)
		return bad(err, "%s: missing ']' after the IPv6 address (expected [IPv6]:port)",
			   quote(q, sizeof(q), text));
	if (close[1] != ':')
		return bad(err, "%s has no port (expected [IPv6]:port, e.g. [::1]:8080)",
			   quote(q, sizeof(q), text));
	hlen = (size_t)(close - text - 1);
	if (hlen >= sizeof(host))
		return bad(err, "%s: not a numeric IPv6 address in brackets",
			   quote(q, sizeof(q), text));
	memcpy(host, text + 1, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
		return bad(err, "%s: %s is not a numeric IPv6 address", quote(q, sizeof(q), text),
			   quote(qh, sizeof(qh), host));
	ret = parse_port(text, close + 2, &port, err);
	if (ret)
		return ret;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	*len = sizeof(*sin6);
	return 0;
}

static int parse_unix(const char *text, struct sockaddr_storage *ss, socklen_t *len,
		      struct warren_error *err)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)ss;
	const char *path = text + 5;
	char q[QUOTE_BUF];
	size_t n = strlen(path);

	if (n == 0)
		return bad(err, "%s: no socket path (expected unix:/run/x.sock)",
			   quote(q, sizeof(q), text));
	if (n >= sizeof(sun->sun_path))
		return bad(err, "%s: socket path longer than %zu bytes", quote(q, sizeof(q), text),
			   sizeof(sun->sun_path) - 1);
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, n + 1);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

int address_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len,
		  struct warren_error *err)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	char q[QUOTE_BUF], host[INET_ADDRSTRLEN + 1];
	const char *colon;
	size_t hlen;
	uint16_t port;
	int ret;

	memset(ss, 0, sizeof(*ss));
	*len = 0;
	if (strncmp(text, "unix:", 5) == 0)
		return parse_unix(text, ss, len, err);
	if (text[0] == '[')
		return parse_ipv6(text, ss, len, err);

	colon = strrchr(text, ':');
	if (!colon)
		return bad(err, "%s has no port (expected host:port, e.g. 127.0.0.1:8080)",
			   quote(q, sizeof(q), text));
	if (memchr(text, ':', (size_t)(colon - text)))
		return bad(err,
			   "%s: IPv6 addresses go in brackets (expected [IPv6]:port, "
			   "e.g. [::1]:8080)",
			   quote(q, sizeof(q), text));
	hlen = (size_t)(colon - text);
	if (hlen == 0)
		return bad(err,
			   "%s has no host (expected host:port; *:port for every "
			   "address)",
			   quote(q, sizeof(q), text));

	if (hlen == 1 && text[0] == '*') {
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
	} else if (hlen == 9 && memcmp(text, "localhost", 9) == 0) {
		/* Fixed rather than resolved: no DNS, and no surprise when it resolves to ::1. */
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		if (hlen >= sizeof(host))
			goto out_bad_host;
		memcpy(host, text, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			goto out_bad_host;
	}
	ret = parse_port(text, colon + 1, &port, err);
	if (ret)
		return ret;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	*len = sizeof(*sin);
	return 0;

out_bad_host:
	return bad(err, "%s: not an IPv4 address, [IPv6] literal, * or localhost",
		   quote(q, sizeof(q), text));
}

void address_format(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_UNIX) {
		snprintf(buf, len, "unix:%s", ((const struct sockaddr_un *)ss)->sun_path);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(a->sin6_port));
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(a->sin_port));
	}
}

bool address_equal(const struct sockaddr_storage *a, socklen_t alen,
		   const struct sockaddr_storage *b, socklen_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

bool address_any_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_UNIX)
		return false; /* never "kernel's choice": two equal paths always collide */
	if (ss->ss_family == AF_INET6)
		return ((const struct sockaddr_in6 *)ss)->sin6_port == 0;
	return ((const struct sockaddr_in *)ss)->sin_port == 0;
}

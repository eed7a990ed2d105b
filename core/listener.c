/* core/listener.c - binds the configured addresses in the master, once, so every worker
 * inherits the same listening sockets and a bind error stops start-up before any fork. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "server.h"

/* The kernel caps this at net.core.somaxconn. */
#define LISTEN_BACKLOG 4096

void sockaddr_format(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(a->sin6_port));
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(a->sin_port));
	}
}

static int bind_one(struct listener *l, struct warren_error *err)
{
	const struct listen_conf *lc = l->conf;
	int one = 1, fd, ret;

	fd = socket(lc->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		warren_error_set(err, "cannot create a socket for %s: %s", lc->text,
				 strerror(errno));
		return ret;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* "[::]:80" next to "0.0.0.0:80" must not collide. */
	if (lc->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&lc->addr, lc->addrlen) < 0) {
		ret = -errno;
		warren_error_set(err, "cannot bind %s: %s", lc->text, strerror(errno));
		goto out_close_fd;
	}
	if (listen(fd, LISTEN_BACKLOG) < 0) {
		ret = -errno;
		warren_error_set(err, "cannot listen on %s: %s", lc->text, strerror(errno));
		goto out_close_fd;
	}
	l->addrlen = sizeof(l->addr);
	if (getsockname(fd, (struct sockaddr *)&l->addr, &l->addrlen) < 0) {
		ret = -errno;
		warren_error_set(err, "getsockname on %s: %s", lc->text, strerror(errno));
		goto out_close_fd;
	}
	l->fd = fd;
	return 0;

out_close_fd:
	close(fd);
	return ret;
}

int server_listen(struct server *srv, struct warren_error *err)
{
	const struct config *cfg = srv->cfg;

	srv->listeners = calloc(cfg->nlisten, sizeof(*srv->listeners));
	if (!srv->listeners) {
		warren_error_set(err, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < cfg->nlisten; i++) {
		struct listener *l = &srv->listeners[i];
		int ret;

		l->conf = &cfg->listen[i];
		l->fd = -1;
		srv->nlisteners = i + 1;
		ret = bind_one(l, err);
		if (ret < 0) {
			warren__error_prefix(err, "listen[%zu]: ", i);
			return ret;
		}
	}
	return 0;
}

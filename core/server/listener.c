/* core/server/listener.c - binds the configured addresses in the master, before any worker exists,
 * so that a bind error stops start-up (or a reload) with the address and the reason. In
 * shared mode the master's listening socket is inherited by every worker; in reuseport
 * mode the master only holds the port and each worker binds its own SO_REUSEPORT socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "server/address.h"
#include "server/listener.h"
#include "server/server.h"

/* Seconds the kernel holds a connection back waiting for the client's first bytes. */
#define DEFER_ACCEPT_S 1

static int new_socket(const struct listen_conf *lc, bool reuseport, struct warren_error *err)
{
	int one = 1, fd;

	fd = socket(lc->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		warren_error_set(err, "cannot create a socket for %s: %s", lc->text,
				 strerror(errno));
		return -errno;
	}
	if (lc->addr.ss_family == AF_UNIX)
		return fd;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* "[::]:80" next to "0.0.0.0:80" must not collide. */
	if (lc->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
		int ret = -errno;

		warren_error_set(err, "SO_REUSEPORT on %s: %s", lc->text, strerror(errno));
		close(fd);
		return ret;
	}
	return fd;
}

static int start_listening(int fd, const struct listen_conf *lc, struct warren_error *err)
{
	int defer = DEFER_ACCEPT_S;

	if (listen(fd, lc->backlog) < 0) {
		warren_error_set(err, "cannot listen on %s: %s", lc->text, strerror(errno));
		return -errno;
	}
	if (lc->defer_accept &&
	    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer)) < 0) {
		warren_error_set(err, "TCP_DEFER_ACCEPT on %s: %s", lc->text, strerror(errno));
		return -errno;
	}
	return 0;
}

/*
 * A socket file left behind by a server that is gone refuses connections; one that still
 * answers belongs to a running server and must not be stolen.
 */
static bool stale_unix_socket(const struct listen_conf *lc)
{
	const char *path = ((const struct sockaddr_un *)&lc->addr)->sun_path;
	struct stat st;
	bool stale;
	int fd;

	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return false;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	stale = connect(fd, (const struct sockaddr *)&lc->addr, lc->addrlen) < 0 &&
		errno == ECONNREFUSED;
	close(fd);
	return stale;
}

static int bind_one(struct listener *l, struct warren_error *err)
{
	const struct listen_conf *lc = l->conf;
	int fd, ret;

	fd = new_socket(lc, lc->reuseport, err);
	if (fd < 0)
		return fd;
	ret = bind(fd, (const struct sockaddr *)&lc->addr, lc->addrlen);
	if (ret < 0 && errno == EADDRINUSE && lc->addr.ss_family == AF_UNIX &&
	    stale_unix_socket(lc)) {
		unlink(((const struct sockaddr_un *)&lc->addr)->sun_path);
		ret = bind(fd, (const struct sockaddr *)&lc->addr, lc->addrlen);
	}
	if (ret < 0) {
		ret = -errno;
		warren_error_set(err, "cannot bind %s: %s", lc->text, strerror(errno));
		goto out_close_fd;
	}
	l->unlink_on_exit = lc->addr.ss_family == AF_UNIX;
	/* In reuseport mode this socket only reserves the port: a listening one would get
	 * its share of connections and nobody would accept them. */
	if (!lc->reuseport) {
		ret = start_listening(fd, lc, err);
		if (ret < 0)
			goto out_close_fd;
	}
	l->addrlen = sizeof(l->addr);
	if (getsockname(fd, (struct sockaddr *)&l->addr, &l->addrlen) < 0) {
		ret = -errno;
		warren_error_set(err, "getsockname on %s: %s", lc->text, strerror(errno));
		goto out_close_fd;
	}
	if (lc->addr.ss_family == AF_UNIX) {
		/* getsockname may shorten sun_path's reported length; keep the config's. */
		memcpy(&l->addr, &lc->addr, lc->addrlen);
		l->addrlen = lc->addrlen;
	}
	l->fd = fd;
	return 0;

out_close_fd:
	close(fd);
	return ret;
}

int listener_worker_fd(const struct listener *l, struct warren_error *err)
{
	const struct listen_conf *lc = l->conf;
	int fd, ret;

	if (!lc->reuseport)
		return l->fd;
	fd = new_socket(lc, true, err);
	if (fd < 0)
		return fd;
	/* The master's socket resolved port 0 already: every worker joins that port. */
	if (bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) < 0) {
		ret = -errno;
		warren_error_set(err, "cannot bind %s: %s", lc->text, strerror(errno));
		goto out_close_fd;
	}
	ret = start_listening(fd, lc, err);
	if (ret < 0)
		goto out_close_fd;
	return fd;

out_close_fd:
	close(fd);
	return ret;
}

/* Whether one of the first @n listeners of @srv is bound to the address of @l. */
static bool has_address(const struct server *srv, size_t n, const struct listener *l)
{
	for (size_t i = 0; srv && i < n; i++)
		if (address_equal(&srv->listeners[i].addr, srv->listeners[i].addrlen, &l->addr,
				  l->addrlen))
			return true;
	return false;
}

/*
 * The same address: the old socket can serve the new generation. Each old socket serves
 * one new listener, so two "host:0" entries keep their two ports.
 */
static struct listener *find_reusable(struct server *old, const struct server *srv, size_t i)
{
	const struct listen_conf *lc = srv->listeners[i].conf;

	for (size_t k = 0; old && k < old->nlisteners; k++) {
		struct listener *o = &old->listeners[k];

		if (o->fd < 0 || has_address(srv, i, o))
			continue;
		/* As configured, or as bound: "host:0" then the port the kernel chose. */
		if (address_equal(&o->conf->addr, o->conf->addrlen, &lc->addr, lc->addrlen) ||
		    address_equal(&o->addr, o->addrlen, &lc->addr, lc->addrlen))
			return o;
	}
	return NULL;
}

/*
 * Gives a socket taken over from the serving generation the options of @lc. Listening
 * again on a listening socket only resizes its queue, so nothing waiting in it is lost.
 * A reuseport socket only holds the port; the new workers bind theirs with @lc.
 * Switching modes would need a second socket on the same port next to the old one,
 * which the kernel refuses unless both have SO_REUSEPORT: that takes a restart.
 */
static int take_over(int fd, const struct listen_conf *was, const struct listen_conf *lc, size_t i,
		     struct warren_error *err)
{
	int off = 0, ret;

	if (was->reuseport != lc->reuseport) {
		warren_error_set(err,
				 "listen[%zu].reuseport: cannot change from %s to %s on reload "
				 "(%s is bound by the serving generation); restart warren to "
				 "apply it",
				 i, was->reuseport ? "true" : "false",
				 lc->reuseport ? "true" : "false", lc->text);
		return -EINVAL;
	}
	if (lc->reuseport || (was->backlog == lc->backlog && was->defer_accept == lc->defer_accept))
		return 0;
	if (was->defer_accept && !lc->defer_accept &&
	    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &off, sizeof(off)) < 0) {
		warren_error_set(err, "listen[%zu]: TCP_DEFER_ACCEPT on %s: %s", i, lc->text,
				 strerror(errno));
		return -errno;
	}
	ret = start_listening(fd, lc, err);
	if (ret < 0) {
		warren__error_prefix(err, "listen[%zu]: ", i);
		return ret;
	}
	log_info("listen[%zu]: %s now has backlog %d%s", i, lc->text, lc->backlog,
		 lc->defer_accept ? ", defer_accept" : "");
	return 0;
}

int server_listen(struct server *srv, struct server *old, struct warren_error *err)
{
	const struct config *cfg = srv->cfg;

	srv->listeners = calloc(cfg->nlisten, sizeof(*srv->listeners));
	if (!srv->listeners) {
		warren_error_set(err, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < cfg->nlisten; i++) {
		struct listener *l = &srv->listeners[i], *o;
		int ret;

		l->conf = &cfg->listen[i];
		l->fd = -1;
		srv->nlisteners = i + 1;
		o = find_reusable(old, srv, i);
		if (o) {
			/* A copy of the descriptor, so each generation closes its own and a
			 * reload that fails later leaves the old one untouched. */
			l->fd = fcntl(o->fd, F_DUPFD_CLOEXEC, 0);
			if (l->fd < 0) {
				warren_error_set(err, "listen[%zu]: dup: %s", i, strerror(errno));
				return -errno;
			}
			l->addr = o->addr;
			l->addrlen = o->addrlen;
			l->unlink_on_exit = o->unlink_on_exit;
			l->was = o->conf;
			ret = take_over(l->fd, o->conf, l->conf, i, err);
			if (ret < 0)
				return ret;
			continue;
		}
		ret = bind_one(l, err);
		if (ret < 0) {
			warren__error_prefix(err, "listen[%zu]: ", i);
			return ret;
		}
	}
	return 0;
}

void server_listen_undo(struct server *srv)
{
	for (size_t i = 0; i < srv->nlisteners; i++) {
		struct listener *l = &srv->listeners[i];
		struct warren_error err = {{0}};

		if (!l->was || l->fd < 0)
			continue;
		if (take_over(l->fd, l->conf, l->was, i, &err) < 0)
			log_error("reload failed, and the serving generation's %s: %s",
				  l->was->text, err.msg);
	}
}

void server_unlink_sockets(struct server *srv, const struct server *keep)
{
	for (size_t i = 0; i < srv->nlisteners; i++) {
		struct listener *l = &srv->listeners[i];

		if (l->unlink_on_exit && !has_address(keep, keep ? keep->nlisteners : 0, l))
			unlink(((const struct sockaddr_un *)&l->addr)->sun_path);
		l->unlink_on_exit = false;
	}
}

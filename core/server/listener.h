/* core/server/listener.h - the listening sockets of a generation: bound in the master before
 * fork, taken over by the next generation on reload, opened per worker in reuseport mode. */
#ifndef WARREN_CORE_LISTENER_H
#define WARREN_CORE_LISTENER_H

#include <sys/socket.h>

#include "base/common.h"

struct listen_conf;
struct server;
struct warren_error;

struct listener {
	const struct listen_conf *conf;
	/*
	 * Shared mode: the listening socket every worker inherits. Reuseport mode: a bound,
	 * never listening socket that holds the port; each worker binds its own.
	 */
	int fd;
	struct sockaddr_storage addr; /* as bound: the real port when the config said 0 */
	socklen_t addrlen;
	bool unlink_on_exit; /* a unix socket file this master created */
	/* Taken over from the serving generation: the options it had there, which a reload
	 * that fails puts back (NULL: bound by this generation). */
	const struct listen_conf *was;
};

/*
 * Binds every configured address, in the master. Sockets of @old (the generation being
 * replaced, or NULL) with the same address are taken over, not rebound, so a reload never
 * drops a connection waiting in a listen queue; a new backlog or defer_accept is applied
 * to them, a changed reuseport is an error (it needs a restart).
 */
int server_listen(struct server *srv, struct server *old, struct warren_error *err);

/*
 * A reload that failed after server_listen(): gives the sockets taken over from the
 * serving generation the backlog and defer_accept they had before, since that generation
 * keeps serving on them.
 */
void server_listen_undo(struct server *srv);

/* In a worker: the socket to accept on for listener @l (its own one in reuseport mode). */
int listener_worker_fd(const struct listener *l, struct warren_error *err);

/* Removes the unix socket files of @srv that this master created, except those that
 * @keep (the generation that stays, or NULL) listens on too. */
void server_unlink_sockets(struct server *srv, const struct server *keep);

#endif /* WARREN_CORE_LISTENER_H */

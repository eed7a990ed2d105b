/* core/http/transport.c - the plain transport: a connection's bytes go to and from its socket
 * as they are, through the reactor (see transport.h for the contract). */
#include <errno.h>
#include <sys/socket.h>

#include "http/transport.h"

static int plain_recv(struct transport *t, struct rx_op *op, void *buf, size_t len, rx_cb cb)
{
	return rx_recv(t->rx, t->h, op, buf, len, cb);
}

static int plain_writev(struct transport *t, struct rx_op *op, const struct iovec *iov, int iovcnt,
			rx_cb cb)
{
	return rx_send(t->rx, t->h, op, iov, iovcnt, cb);
}

static int plain_sendfile(struct transport *t, struct rx_op *op, int fd, off_t *off, size_t len,
			  rx_cb cb)
{
	return rx_sendfile(t->rx, t->h, op, fd, off, len, cb);
}

static int plain_shutdown(struct transport *t)
{
	return shutdown(t->h->fd, SHUT_WR) < 0 ? -errno : 0;
}

static void plain_fini(struct transport *t)
{
	(void)t;
}

const struct transport_ops transport_plain = {
	.recv = plain_recv,
	.writev = plain_writev,
	.sendfile = plain_sendfile,
	.shutdown = plain_shutdown,
	.fini = plain_fini,
};

void transport_plain_init(struct transport *t, struct reactor *rx, struct rx_handle *h)
{
	*t = (struct transport){.ops = &transport_plain, .rx = rx, .h = h};
}

/* core/http/transport.h - how a connection's bytes reach the client: the seam between the HTTP
 * code and the socket, so that an encrypting transport (TLS) can come in without the HTTP code
 * changing. Each connection has one; the plain one hands everything to the reactor.
 *
 * The contract every transport keeps:
 *  - Operations are the reactor's, asynchronous: each returns 0 once posted (the completion
 *    comes through @cb on @op, with the reactor's result convention: bytes, 0 at the end of
 *    the stream, or a negative errno) or a negative errno when it cannot be posted. At most
 *    one receive and one send are in flight, as for the reactor.
 *  - Results count the connection's bytes, not the wire's: a TLS transport reports the
 *    plaintext it took or delivered, and keeps records and partial writes to itself.
 *  - recv with @buf NULL lets the transport choose the buffer when data comes (the plain one
 *    lets the reactor pick from its provided buffers, the io_uring fast path); it reports the
 *    buffer in op->recv.buf/len and the caller gives it back with rx_buf_put(). A transport
 *    that cannot choose completes with -ENOBUFS, and the caller then reads into its own.
 *  - sendfile sends @len bytes of @fd from *@off (advanced as they go). A TLS transport does
 *    it with kTLS, or copies the file through its own buffer: the caller does not know.
 *  - shutdown ends the sending direction (SHUT_WR, or a TLS close_notify first); reading
 *    goes on. fini lets go of the transport's state; the connection closes its handle.
 *  - Readiness (the poll for a hang-up), cancelling and closing stay with the connection's
 *    reactor handle, which every transport shares: the socket is the same.
 */
#ifndef WARREN_CORE_HTTP_TRANSPORT_H
#define WARREN_CORE_HTTP_TRANSPORT_H

#include <sys/types.h>
#include <sys/uio.h>

#include "event/reactor.h"

struct transport;

struct transport_ops {
	int (*recv)(struct transport *t, struct rx_op *op, void *buf, size_t len, rx_cb cb);
	int (*writev)(struct transport *t, struct rx_op *op, const struct iovec *iov, int iovcnt,
		      rx_cb cb);
	int (*sendfile)(struct transport *t, struct rx_op *op, int fd, off_t *off, size_t len,
			rx_cb cb);
	int (*shutdown)(struct transport *t);
	void (*fini)(struct transport *t);
};

struct transport {
	const struct transport_ops *ops;
	struct reactor *rx;
	struct rx_handle *h; /* the connection's socket */
};

/* Bytes as they are, straight through the reactor. */
extern const struct transport_ops transport_plain;

void transport_plain_init(struct transport *t, struct reactor *rx, struct rx_handle *h);

/* The plain transport is called directly, so that a connection without TLS pays one
 * compare for the seam, not an indirect call. */
static inline int transport_recv(struct transport *t, struct rx_op *op, void *buf, size_t len,
				 rx_cb cb)
{
	if (t->ops == &transport_plain)
		return rx_recv(t->rx, t->h, op, buf, len, cb);
	return t->ops->recv(t, op, buf, len, cb);
}

static inline int transport_writev(struct transport *t, struct rx_op *op, const struct iovec *iov,
				   int iovcnt, rx_cb cb)
{
	if (t->ops == &transport_plain)
		return rx_send(t->rx, t->h, op, iov, iovcnt, cb);
	return t->ops->writev(t, op, iov, iovcnt, cb);
}

static inline int transport_sendfile(struct transport *t, struct rx_op *op, int fd, off_t *off,
				     size_t len, rx_cb cb)
{
	return t->ops->sendfile(t, op, fd, off, len, cb);
}

static inline int transport_shutdown(struct transport *t)
{
	return t->ops->shutdown(t);
}

static inline void transport_fini(struct transport *t)
{
	if (t->ops)
		t->ops->fini(t);
}

#endif /* WARREN_CORE_HTTP_TRANSPORT_H */

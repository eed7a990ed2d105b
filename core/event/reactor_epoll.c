/* core/event/reactor_epoll.c - the epoll backend of the completion-style reactor.
 *
 * Connections are registered once, edge-triggered for both directions, so steady state
 * needs no epoll_ctl at all; readiness is cached per handle and an operation is tried
 * at once when the cached state says it may succeed. Completions found at submit time
 * are queued and delivered from run(), so callbacks never nest inside a submit.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "event/reactor_epoll.h"

#define EPOLL_BATCH 256
/* Accepts per wake-up of one listener: fairness between listeners and connections. */
#define ACCEPT_BATCH 32

struct reactor_epoll {
	struct reactor base;
	int epfd;
	struct rx_op *done_head, **done_tail;
	struct rx_handle *closed;
	struct epoll_event events[EPOLL_BATCH];
};

static struct reactor_epoll *to_ep(struct reactor *rx)
{
	return container_of(rx, struct reactor_epoll, base);
}

static void defer(struct reactor_epoll *ep, struct rx_op *op, int res)
{
	op->queued = true;
	op->res = res;
	op->next_done = NULL;
	*ep->done_tail = op;
	ep->done_tail = &op->next_done;
}

static int ep_open(struct reactor *rx, struct rx_handle *h, int fd, unsigned flags)
{
	struct reactor_epoll *ep = to_ep(rx);
	struct epoll_event ev = {0};

	memset(h, 0, sizeof(*h));
	h->fd = fd;
	h->flags = flags;
	/* A first send is tried at once; reads wait for the readiness epoll reports on ADD. */
	h->writable = true;
	if (flags & (RX_F_LISTEN | RX_F_FOREIGN))
		return 0; /* registered while an accept or a poll is armed */
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = h;
	if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	h->registered = true;
	return 0;
}

static void ep_close(struct reactor *rx, struct rx_handle *h, rx_release_fn release)
{
	struct reactor_epoll *ep = to_ep(rx);

	if (h->closed)
		return;
	/*
	 * A listening socket is shared with other processes, so closing our fd would not
	 * remove it from the epoll set; connections are ours alone and leave it on close.
	 */
	if ((h->flags & (RX_F_LISTEN | RX_F_FOREIGN)) && h->registered)
		epoll_ctl(ep->epfd, EPOLL_CTL_DEL, h->fd, NULL);
	h->registered = false;
	if (!(h->flags & RX_F_FOREIGN))
		close(h->fd);
	h->closed = true;
	if (h->rd)
		h->rd->pending = false;
	if (h->wr)
		h->wr->pending = false;
	h->rd = h->wr = NULL;
	h->release = release;
	h->next_closed = ep->closed;
	ep->closed = h;
}

static int ep_accept(struct reactor *rx, struct rx_handle *h, struct rx_op *op)
{
	struct reactor_epoll *ep = to_ep(rx);
	struct epoll_event ev = {0};

	(void)op;
	if (h->registered)
		return 0;
	/* Level-triggered and exclusive: one worker wakes per connection, and what a batch
	 * leaves behind is reported again. */
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	ev.data.ptr = h;
	if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, h->fd, &ev) < 0)
		return -errno;
	h->registered = true;
	return 0;
}

static void do_accept(struct reactor_epoll *ep, struct rx_handle *h)
{
	for (int i = 0; i < ACCEPT_BATCH && h->rd && !h->closed; i++) {
		struct rx_op *op = h->rd;
		int fd = accept4(h->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			op->cb(op, fd);
			continue;
		}
		switch (errno) {
		case EAGAIN:
		case EINTR:
			return;
		case ECONNABORTED:
		case EPROTO:
		case EPERM:
			continue; /* that connection is gone; the next one may be fine */
		default:
			/* Out of fds or memory: stop listening until the owner re-arms. */
			epoll_ctl(ep->epfd, EPOLL_CTL_DEL, h->fd, NULL);
			h->registered = false;
			rx_finish(op, -errno);
			return;
		}
	}
}

static int try_recv(struct reactor_epoll *ep, struct rx_handle *h, struct rx_op *op)
{
	bool choose = !op->recv.buf;
	ssize_t n;

	op->chose = choose;
	/* A block is taken only for data that is there, and given back if none was. */
	if (choose) {
		op->recv.buf = blk_get(ep->base.blocks);
		op->recv.len = BUF_BLOCK;
		if (!op->recv.buf)
			return -ENOMEM;
	}
	n = read(h->fd, op->recv.buf, op->recv.len);
	if (choose && n <= 0) {
		blk_put(ep->base.blocks, op->recv.buf);
		op->recv.buf = NULL;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			h->readable = false;
			return -EAGAIN;
		}
		return -errno;
	}
	/* A short read drained the socket: the next byte brings a new edge. */
	if ((size_t)n < op->recv.len && !h->hup)
		h->readable = false;
	return (int)n;
}

static int try_send(struct rx_handle *h, struct rx_op *op)
{
	ssize_t n;

	if (op->kind == RX_SENDFILE)
		n = sendfile(h->fd, op->sendfile.fd, op->sendfile.offset, op->sendfile.len);
	else
		n = writev(h->fd, op->send.iov, op->send.iovcnt);

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			h->writable = false;
			return -EAGAIN;
		}
		return -errno;
	}
	return (int)n;
}

static int ep_recv(struct reactor *rx, struct rx_handle *h, struct rx_op *op)
{
	int res;

	if (h->readable) {
		res = try_recv(to_ep(rx), h, op);
		if (res != -EAGAIN)
			defer(to_ep(rx), op, res);
	}
	return 0;
}

static int ep_send(struct reactor *rx, struct rx_handle *h, struct rx_op *op)
{
	int res;

	if (h->writable) {
		res = try_send(h, op);
		if (res != -EAGAIN)
			defer(to_ep(rx), op, res);
	}
	return 0;
}

/*
 * A foreign fd is registered one-shot and level-triggered while a poll is armed: its
 * owner does the I/O, so readiness cached here would go stale.
 */
static int ep_poll(struct reactor *rx, struct rx_handle *h, struct rx_op *op)
{
	struct reactor_epoll *ep = to_ep(rx);
	struct epoll_event ev = {0};

	if (!(h->flags & RX_F_FOREIGN)) {
		/* A connection is registered for EPOLLRDHUP already; its edge sets hup. */
		if (op->poll.events != POLLRDHUP)
			return -EINVAL;
		if (h->hup)
			defer(ep, op, POLLRDHUP);
		return 0;
	}
	ev.events = op->poll.events | EPOLLONESHOT;
	ev.data.ptr = h;
	if (epoll_ctl(ep->epfd, h->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, h->fd, &ev) < 0)
		return -errno;
	h->registered = true;
	return 0;
}

static void handle_event(struct reactor_epoll *ep, struct rx_handle *h, uint32_t events)
{
	struct rx_op *op;
	int res;

	if (h->flags & RX_F_LISTEN) {
		if (h->rd)
			do_accept(ep, h);
		return;
	}
	if (h->flags & RX_F_FOREIGN) {
		if (h->rd)
			rx_finish(h->rd,
				  (int)(events & (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP)));
		return;
	}
	if (events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))
		h->hup = true;
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
		h->readable = true;
		op = h->rd;
		if (op && op->kind == RX_POLL) {
			if (h->hup && !op->queued)
				rx_finish(op, POLLRDHUP);
		} else if (op && !op->queued) { /* a queued op already has its result */
			res = try_recv(ep, h, op);
			if (res != -EAGAIN)
				rx_finish(op, res);
		}
	}
	if (h->closed)
		return;
	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
		h->writable = true;
		op = h->wr;
		if (op && !op->queued) {
			res = try_send(h, op);
			if (res != -EAGAIN)
				rx_finish(op, res);
		}
	}
}

/* A receive that chose its buffer and completes unseen returns the buffer. */
static void give_back(struct reactor_epoll *ep, struct rx_op *op)
{
	if (op->kind == RX_RECV && op->chose && op->res > 0) {
		blk_put(ep->base.blocks, op->recv.buf);
		op->recv.buf = NULL;
	}
}

static void ep_cancel(struct reactor *rx, struct rx_handle *h, struct rx_op *op)
{
	struct reactor_epoll *ep = to_ep(rx);

	/* A listener is level-triggered: left registered, it would report readiness forever. */
	if ((h->flags & RX_F_LISTEN) && h->registered) {
		epoll_ctl(ep->epfd, EPOLL_CTL_DEL, h->fd, NULL);
		h->registered = false;
	}
	if (!op->queued)
		return;
	/* Its result is waiting in the done list: unlink it, as the op may be reused now. */
	for (struct rx_op **link = &ep->done_head; *link; link = &(*link)->next_done) {
		if (*link != op)
			continue;
		*link = op->next_done;
		if (!*link)
			ep->done_tail = link;
		break;
	}
	give_back(ep, op);
	op->next_done = NULL;
	op->queued = false;
}

/* The socket says whether data came: a receive that finds none ends as cancelled. */
static int ep_recv_end(struct reactor *rx, struct rx_handle *h, struct rx_op *op)
{
	struct reactor_epoll *ep = to_ep(rx);
	int res;

	if (op->queued)
		return 0; /* its result is in the done list already */
	res = try_recv(ep, h, op);
	defer(ep, op, res == -EAGAIN ? -ECANCELED : res);
	return 0;
}

static void ep_buf_put(struct reactor *rx, void *buf)
{
	blk_put(rx->blocks, buf);
}

static void *ep_buf_keep(struct reactor *rx, void *buf, size_t len, bool *lent)
{
	(void)rx;
	(void)len;
	*lent = false; /* it is a cached block already */
	return buf;
}

static void drain_done(struct reactor_epoll *ep)
{
	while (ep->done_head) {
		struct rx_op *op = ep->done_head;
		int res = op->res;

		ep->done_head = op->next_done;
		if (!ep->done_head)
			ep->done_tail = &ep->done_head;
		op->next_done = NULL;
		op->queued = false;
		if (op->h->closed) {
			give_back(ep, op);
			continue;
		}
		rx_finish(op, res);
	}
}

static void release_closed(struct reactor_epoll *ep)
{
	while (ep->closed) {
		struct rx_handle *h = ep->closed;

		ep->closed = h->next_closed;
		if (h->release)
			h->release(h);
	}
}

static int ep_run(struct reactor *rx, int timeout_ms)
{
	struct reactor_epoll *ep = to_ep(rx);
	int n;

	timeout_ms = rx_run_posted(rx, timeout_ms);
	/* Callbacks run now may arm timers that the caller's timeout does not know of. */
	if (ep->done_head)
		timeout_ms = 0;
	drain_done(ep);
	if (ep->closed || ep->done_head || !post_queue_empty(&rx->posted))
		timeout_ms = 0;
	rx_beat(rx);
	n = epoll_wait(ep->epfd, ep->events, EPOLL_BATCH, timeout_ms);
	rx_beat(rx);
	if (n < 0) {
		if (errno != EINTR)
			return -errno;
		n = 0;
	}
	if (rx->wake)
		rx->wake(rx->wake_arg);
	for (int i = 0; i < n; i++) {
		struct rx_handle *h = ep->events[i].data.ptr;

		/* Released memory is never touched: releases wait for the end of the batch. */
		if (!h->closed)
			handle_event(ep, h, ep->events[i].events);
	}
	drain_done(ep);
	release_closed(ep);
	return 0;
}

static void ep_destroy(struct reactor *rx)
{
	struct reactor_epoll *ep = to_ep(rx);

	release_closed(ep);
	close(ep->epfd);
	free(ep);
}

static const struct reactor_ops epoll_ops = {
	.name = "epoll",
	.open = ep_open,
	.close = ep_close,
	.accept = ep_accept,
	.recv = ep_recv,
	.send = ep_send,
	.poll = ep_poll,
	.sendfile = ep_send,
	.cancel = ep_cancel,
	.recv_end = ep_recv_end,
	.buf_put = ep_buf_put,
	.buf_keep = ep_buf_keep,
	.run = ep_run,
	.destroy = ep_destroy,
};

int reactor_epoll_create(struct reactor **out, struct warren_error *err)
{
	struct reactor_epoll *ep = calloc(1, sizeof(*ep));

	if (!ep) {
		warren_error_set(err, "out of memory");
		return -ENOMEM;
	}
	ep->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ep->epfd < 0) {
		int ret = -errno;

		warren_error_set(err, "epoll_create1: %s", strerror(errno));
		free(ep);
		return ret;
	}
	ep->base.ops = &epoll_ops;
	post_queue_init(&ep->base.posted);
	ep->done_tail = &ep->done_head;
	*out = &ep->base;
	return 0;
}

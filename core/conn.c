/* core/conn.c - a client connection's life on the reactor: read, serve, write, time out,
 * close. The connection is half-duplex on purpose: while responses are being written
 * it does not read, so the read buffer never moves under an in-flight receive and a
 * client that does not read its responses cannot make the server buffer without bound. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "log.h"

/* After an error response, how long to drain what the client still sends, so that
 * closing does not reset the connection before the client has read the response. */
#define LINGER_MS 2000

static void conn_continue(struct conn *c);

static void conn_release(struct rx_handle *h)
{
	struct conn *c = container_of(h, struct conn, h);

	http_conn_fini(c);
	free(c);
}

static void conn_close(struct conn *c)
{
	struct worker *w = c->w;

	if (c->state == CONN_CLOSED)
		return;
	c->state = CONN_CLOSED;
	timer_cancel(&w->timers, &c->timer);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->nconns--;
	rx_close(w->rx, &c->h, conn_release);
}

static void arm_timer(struct conn *c, unsigned ms)
{
	if (timer_set(&c->w->timers, &c->timer, c->w->now_ms + ms) < 0)
		conn_close(c);
}

static void on_write(struct rx_op *op, int res);
static void on_read(struct rx_op *op, int res);

static void start_write(struct conn *c)
{
	int ret;

	if (c->h.wr)
		return; /* on_write continues */
	c->wiov.iov_base = c->wbuf + c->wsent;
	c->wiov.iov_len = c->wlen - c->wsent;
	c->state = CONN_WRITING;
	ret = rx_send(c->w->rx, &c->h, &c->wr_op, &c->wiov, 1, on_write);
	if (ret < 0) {
		conn_close(c);
		return;
	}
	arm_timer(c, c->w->cfg->header_timeout_ms);
}

static void start_linger(struct conn *c)
{
	c->state = CONN_LINGERING;
	shutdown(c->h.fd, SHUT_WR);
	arm_timer(c, LINGER_MS);
	if (c->state == CONN_CLOSED || c->h.rd)
		return;
	if (rx_recv(c->w->rx, &c->h, &c->rd_op, c->rbuf, c->rcap, on_read) < 0)
		conn_close(c);
}

/* Serves what is buffered (when no I/O is in flight) and decides what to wait for next. */
static void conn_advance(struct conn *c)
{
	if (c->state == CONN_CLOSED)
		return;
	if (!c->h.wr && !c->h.rd && !c->close_after_write && c->rpos < c->rlen &&
	    http_process(c) < 0) {
		conn_close(c);
		return;
	}
	conn_continue(c);
}

static void conn_continue(struct conn *c)
{
	const struct config *cfg = c->w->cfg;
	size_t room;

	if (c->wsent < c->wlen) {
		start_write(c);
		return;
	}
	if (c->h.wr)
		return;
	c->wlen = c->wsent = 0;
	if (c->close_after_write) {
		start_linger(c);
		return;
	}
	/* A graceful stop closes a connection once it is idle; a reload's drain gives it a
	 * moment, as its last response may have promised keep-alive to a client that is
	 * sending the next request right now (answered with "Connection: close"). */
	if (c->w->stopping && !c->request_begun && !c->w->drain_idle_ms) {
		conn_close(c);
		return;
	}
	if (c->h.rd)
		return;
	room = http_rbuf_make_room(c);
	if (room == 0) {
		if (http_respond_error(c, c->req.headers_done ? 413 : 431) < 0)
			conn_close(c);
		else
			start_write(c);
		return;
	}
	c->state = CONN_READING;
	if (rx_recv(c->w->rx, &c->h, &c->rd_op, c->rbuf + c->rlen, room, on_read) < 0) {
		conn_close(c);
		return;
	}
	/*
	 * Idle between requests: the keep-alive timeout; a new connection gets the header
	 * timeout for its first request. A head must arrive whole within header_timeout of
	 * its first byte, however slowly it trickles in; a body only has to keep moving.
	 */
	if (!c->request_begun) {
		unsigned ms = c->served ? cfg->keepalive_timeout_ms : cfg->header_timeout_ms;

		if (c->w->stopping && c->w->drain_idle_ms < ms)
			ms = c->w->drain_idle_ms;
		arm_timer(c, ms);
	} else if (c->req.headers_done)
		arm_timer(c, cfg->header_timeout_ms);
	else if (!c->head_deadline_set) {
		c->head_deadline_set = true;
		arm_timer(c, cfg->header_timeout_ms);
	}
}

static void on_read(struct rx_op *op, int res)
{
	struct conn *c = container_of(op, struct conn, rd_op);

	if (res <= 0) {
		conn_close(c);
		return;
	}
	if (c->state == CONN_LINGERING) {
		/* Discard, and keep reading until the client closes or the timer fires. */
		if (rx_recv(c->w->rx, &c->h, &c->rd_op, c->rbuf, c->rcap, on_read) < 0)
			conn_close(c);
		return;
	}
	c->rlen += (size_t)res;
	if (!c->request_begun)
		c->head_deadline_set = false;
	conn_advance(c);
}

static void on_write(struct rx_op *op, int res)
{
	struct conn *c = container_of(op, struct conn, wr_op);

	if (res < 0) {
		conn_close(c);
		return;
	}
	c->wsent += (size_t)res;
	if (c->wsent < c->wlen) {
		start_write(c);
		return;
	}
	c->wlen = c->wsent = 0;
	conn_advance(c);
}

static void on_timeout(struct timer *t)
{
	struct conn *c = container_of(t, struct conn, timer);

	if (c->state == CONN_READING && c->request_begun && !c->close_after_write) {
		if (http_respond_error(c, 408) < 0)
			conn_close(c);
		else
			conn_continue(c);
		return;
	}
	conn_close(c);
}

int conn_accept(struct worker *w, int fd)
{
	struct conn *c = calloc(1, sizeof(*c));
	int one = 1, ret;

	if (!c)
		return -ENOMEM;
	/* Whole responses go out in one write; Nagle would only delay the last segment. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ret = http_conn_init(c, w);
	if (ret < 0)
		goto out_free_conn;
	ret = rx_open(w->rx, &c->h, fd, 0);
	if (ret < 0)
		goto out_fini_http;
	timer_init(&c->timer, on_timeout);
	c->state = CONN_READING;
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	w->nconns++;
	conn_continue(c);
	return 0;

out_fini_http:
	http_conn_fini(c);
out_free_conn:
	free(c);
	return ret;
}

void conn_close_all(struct worker *w)
{
	while (w->conns)
		conn_close(w->conns);
}

void conn_close_idle(struct worker *w)
{
	struct conn *c = w->conns;

	while (c) {
		struct conn *next = c->next;

		if (c->state == CONN_READING && !c->request_begun)
			conn_close(c);
		c = next;
	}
}

void conn_drain_idle(struct worker *w, unsigned ms)
{
	for (struct conn *c = w->conns; c; c = c->next)
		if (c->state == CONN_READING && !c->request_begun &&
		    c->timer.deadline > w->now_ms + ms)
			arm_timer(c, ms);
}

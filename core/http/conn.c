/* core/http/conn.c - a client connection's life on the reactor: read, serve, write, time out,
 * close. The connection is half-duplex on purpose: while responses are being written
 * it does not read, so the read buffer never moves under an in-flight receive and a
 * client that does not read its responses cannot make the server buffer without bound. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/conn.h"
#include "http/http1.h"
#include "http/request.h"
#include "http/response.h"
#include "http/upgrade.h"
#include "base/log.h"

/* After an error response, how long to drain what the client still sends, so that
 * closing does not reset the connection before the client has read the response. */
#define LINGER_MS 2000

static void conn_continue(struct conn *c);

/*
 * Keep-alive connections waiting for their next request, oldest first: at the cap the
 * oldest one makes room for a new client. Joining and leaving are O(1), once per request.
 */
static void idle_add(struct conn *c)
{
	struct http_loop *loop = c->loop;

	c->idle = true;
	c->idle_next = NULL;
	c->idle_prev = loop->idle_tail;
	if (loop->idle_tail)
		loop->idle_tail->idle_next = c;
	else
		loop->idle_head = c;
	loop->idle_tail = c;
	loop->nidle++;
	if (loop->accept_paused)
		loop->may_accept(loop);
}

static void idle_remove(struct conn *c)
{
	struct http_loop *loop = c->loop;

	if (c->reclaiming) {
		c->reclaiming = false;
		loop->reclaiming--;
	}
	if (!c->idle)
		return;
	c->idle = false;
	loop->nidle--;
	if (c->idle_prev)
		c->idle_prev->idle_next = c->idle_next;
	else
		loop->idle_head = c->idle_next;
	if (c->idle_next)
		c->idle_next->idle_prev = c->idle_prev;
	else
		loop->idle_tail = c->idle_prev;
	c->idle_prev = c->idle_next = NULL;
}

void conn_free(struct conn *c)
{
	if (c->stream)
		upgrade_free(c->stream);
	transport_fini(&c->tp);
	http_conn_fini(c);
	free(c);
}

static void conn_release(struct rx_handle *h)
{
	struct conn *c = container_of(h, struct conn, h);

	/* Offloaded work still running may write into the request's memory. */
	if (c->jobs) {
		c->released = true;
		return;
	}
	conn_free(c);
}

void conn_close(struct conn *c)
{
	struct http_loop *loop = c->loop;

	if (c->state == CONN_CLOSED)
		return;
	c->state = CONN_CLOSED;
	idle_remove(c);
	timer_cancel(loop->timers, &c->timer);
	rx_post_cancel(loop->rx, &c->kick);
	/* The request that upgraded (its 101 still going out) ends first, so that on_close is
	 * the last the stream's module hears; it may write nothing then, only free. */
	request_abort(&c->req);
	if (c->stream)
		upgrade_end(c->stream,
			    loop->stopping ? WARREN_STREAM_STOPPED : WARREN_STREAM_ERROR);
	if (c->prev)
		c->prev->next = c->next;
	else
		loop->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	loop->nconns--;
	rx_close(loop->rx, &c->h, conn_release);
	if (loop->accept_paused)
		loop->may_accept(loop);
}

static void arm_timer(struct conn *c, unsigned ms)
{
	if (timer_set(c->loop->timers, &c->timer, http_loop_now(c->loop) + ms) < 0)
		conn_close(c);
}

static void on_write(struct rx_op *op, int res);
static void on_read(struct rx_op *op, int res);
static void wait_for_request(struct conn *c);
static void arm_read_timer(struct conn *c);

static bool output_pending(const struct conn *c)
{
	return c->wsent < c->wlen || c->ext.kind != OUT_NONE;
}

/* Writes what wbuf holds, then a body that is not in it: borrowed memory in the same
 * writev, a file with sendfile once wbuf is out. */
static void start_write(struct conn *c)
{
	struct out_ext *e = &c->ext;
	int n = 0, ret;

	if (c->h.wr)
		return; /* on_write continues */
	c->state = CONN_WRITING;
	if (c->wsent < c->wlen) {
		c->ext_iov[n].iov_base = c->wbuf + c->wsent;
		c->ext_iov[n++].iov_len = c->wlen - c->wsent;
	}
	if (e->kind == OUT_BORROWED) {
		c->ext_iov[n].iov_base = (char *)e->data + e->sent;
		c->ext_iov[n++].iov_len = e->len - e->sent;
	}
	if (n > 0)
		ret = transport_writev(&c->tp, &c->wr_op, c->ext_iov, n, on_write);
	else
		ret = transport_sendfile(&c->tp, &c->wr_op, e->fd, &e->off, e->len - e->sent,
					 on_write);
	if (ret < 0) {
		conn_close(c);
		return;
	}
	arm_timer(c, c->loop->limits.send_timeout_ms);
}

/* A receive into @buf, or (NULL) into a buffer the reactor chooses when data comes. */
static int post_recv(struct conn *c, char *buf, size_t len)
{
	c->recv_chosen = !buf;
	return transport_recv(&c->tp, &c->rd_op, buf, len, on_read);
}

void conn_linger(struct conn *c)
{
	c->state = CONN_LINGERING;
	transport_shutdown(&c->tp);
	arm_timer(c, LINGER_MS);
	if (c->state == CONN_CLOSED || c->h.rd)
		return;
	/* What arrives now is thrown away: into buffers the reactor chooses and takes back. */
	if (post_recv(c, NULL, 0) < 0)
		conn_close(c);
}

/* Serves what is buffered (when no I/O is in flight) and decides what to wait for next. */
static void conn_advance(struct conn *c)
{
	/* An upgraded connection's I/O is the stream's (upgrade.c). */
	if (c->state == CONN_CLOSED || c->state == CONN_UPGRADED)
		return;
	/* A response that on_complete waits for is out: the next request may come. */
	if (c->req.sending && !c->h.wr && !output_pending(c))
		request_sent(&c->req);
	/* The watch for a hang-up only lasts while the request is held, not while its answer
	 * goes out: a client that half-closes after its request still gets the whole of it. */
	if (c->h.rd == &c->rd_op && c->rd_op.kind == RX_POLL &&
	    (!http_request_held(c) || c->req.sending))
		rx_cancel(c->loop->rx, &c->h, &c->rd_op);
	if (!c->h.wr && !c->h.rd && !c->close_after_write && c->rpos < c->rlen) {
		if (http_process(c) < 0) {
			conn_close(c);
			return;
		}
		http_rbuf_done(c);
	}
	conn_continue(c);
}

static void conn_continue(struct conn *c)
{
	size_t room;

	if (output_pending(c)) {
		start_write(c);
		return;
	}
	if (c->h.wr)
		return;
	c->wlen = c->wsent = 0;
	if (upgrade_active(c)) {
		/* The 101 is out: the stream takes the connection over. */
		upgrade_start(c);
		return;
	}
	if (c->close_after_write) {
		conn_linger(c);
		return;
	}
	if (http_request_held(c)) {
		wait_for_request(c);
		return;
	}
	/* A graceful stop closes a connection once it is idle; a reload's drain gives it a
	 * moment, as its last response may have promised keep-alive to a client that is
	 * sending the next request right now (answered with "Connection: close"). */
	if (c->loop->stopping && !c->request_begun && !c->loop->drain_idle_ms) {
		conn_close(c);
		return;
	}
	if (c->h.rd)
		return;
	http_conn_trim(c);
	if (!c->rbuf) {
		/* Nothing buffered: the buffer is chosen when data comes, not held meanwhile. */
		c->state = CONN_READING;
		if (post_recv(c, NULL, 0) < 0) {
			conn_close(c);
			return;
		}
		arm_read_timer(c);
		if (c->served && !c->request_begun)
			idle_add(c);
		return;
	}
	room = http_rbuf_make_room(c);
	if (room == 0 && http_holds_buffer(c)) {
		/* A body reader that does not keep up: the client waits (TCP back-pressure). */
		wait_for_request(c);
		return;
	}
	if (room == 0) {
		if (http_fail(c, http_overflow_status(c)) < 0)
			conn_close(c);
		else
			start_write(c);
		return;
	}
	c->state = CONN_READING;
	if (post_recv(c, c->rbuf + c->rlen, room) < 0) {
		conn_close(c);
		return;
	}
	arm_read_timer(c);
}

static void arm_read_timer(struct conn *c)
{
	const struct http_limits *cfg = &c->loop->limits;

	/*
	 * Idle between requests: the keep-alive timeout; a new connection gets the header
	 * timeout for its first request. A head must arrive whole within header_timeout of
	 * its first byte, however slowly it trickles in; a body only has to keep moving.
	 */
	if (!c->request_begun) {
		unsigned ms = c->served ? cfg->keepalive_timeout_ms : cfg->header_timeout_ms;

		if (c->loop->stopping && c->loop->drain_idle_ms < ms)
			ms = c->loop->drain_idle_ms;
		arm_timer(c, ms);
	} else if (c->req.headers_done)
		arm_timer(c, cfg->body_timeout_ms);
	else if (!c->head_deadline_set) {
		c->head_deadline_set = true;
		arm_timer(c, cfg->header_timeout_ms);
	}
}

static void on_hangup(struct rx_op *op, int res)
{
	struct conn *c = container_of(op, struct conn, rd_op);

	(void)res;
	conn_close(c);
}

/* While the request is held elsewhere nothing is read: only a hang-up is watched for, so
 * that the request hears of it, and the HTTP layer's deadline is kept. */
static void wait_for_request(struct conn *c)
{
	unsigned ms;

	c->state = CONN_READING;
	if (!c->h.rd && rx_poll(c->loop->rx, &c->h, &c->rd_op, POLLRDHUP, on_hangup) < 0) {
		conn_close(c);
		return;
	}
	if (http_hold_timeout(c, &ms))
		arm_timer(c, ms);
}

static void on_read(struct rx_op *op, int res)
{
	struct conn *c = container_of(op, struct conn, rd_op);
	bool chosen = c->recv_chosen, reclaimed = c->reclaiming;

	idle_remove(c);
	/* A request came before the reclaim could end the receive: it is served, and
	 * another idle connection has to make room. */
	if (reclaimed && (res > 0 || res == -ENOBUFS))
		c->loop->make_room(c->loop);
	if (res == -ENOBUFS && chosen && c->state != CONN_LINGERING) {
		/* The reactor ran out of buffers to choose from: read into one of ours. */
		if (http_rbuf_make_room(c) == 0)
			conn_close(c);
		else
			conn_continue(c);
		return;
	}
	if (res <= 0) {
		/* A buffer chosen when the receive was posted (io_uring without a ring). */
		if (chosen && op->recv.buf)
			rx_buf_put(c->loop->rx, op->recv.buf);
		conn_close(c);
		return;
	}
	if (c->state == CONN_LINGERING) {
		/* Discard, and keep reading until the client closes or the timer fires. A
		 * receive posted before lingering began read into rbuf, which is ours. */
		if (chosen)
			rx_buf_put(c->loop->rx, op->recv.buf);
		if (post_recv(c, NULL, 0) < 0)
			conn_close(c);
		return;
	}
	if (chosen)
		http_rbuf_take(c, op->recv.buf, op->recv.len, (size_t)res);
	else
		c->rlen += (size_t)res;
	if (!c->request_begun)
		c->head_deadline_set = false;
	conn_advance(c);
}

static void on_write(struct rx_op *op, int res)
{
	struct conn *c = container_of(op, struct conn, wr_op);
	size_t n = (size_t)res, from_wbuf = c->wlen - c->wsent;

	response_wbuf_sent(c);

	/* 0 from sendfile: the file ended before the length that was promised. */
	if (res < 0 || (res == 0 && op->kind == RX_SENDFILE)) {
		conn_close(c);
		return;
	}
	c->wtotal += n;
	if (n > from_wbuf) {
		c->wsent = c->wlen;
		c->ext.sent += n - from_wbuf;
		if (c->ext.sent == c->ext.len)
			response_ext_release(&c->ext);
	} else {
		c->wsent += n;
	}
	if (output_pending(c)) {
		start_write(c);
		return;
	}
	c->wlen = c->wsent = 0;
	http_output_drained(c);
	if (c->state == CONN_CLOSED)
		return;
	conn_advance(c);
}

static void on_timeout(struct timer *t)
{
	struct conn *c = container_of(t, struct conn, timer);
	int status = http_timeout_status(c);

	/* 408 only for a request still arriving; otherwise the connection just closes. */
	if (status == 408 &&
	    (c->state != CONN_READING || !c->request_begun || c->close_after_write))
		status = 0;
	if (c->h.wr)
		log_info("closing a connection whose client read nothing for http.send_timeout "
			 "(%u ms)",
			 c->loop->limits.send_timeout_ms);
	if (status && !c->h.wr && http_fail(c, status) == 0) {
		conn_advance(c);
		return;
	}
	conn_close(c);
}

static void on_kick(void *arg)
{
	struct conn *c = arg;

	if (http_resume(c) < 0) {
		conn_close(c);
		return;
	}
	http_deliver_body(c);
	if (c->state != CONN_CLOSED)
		conn_advance(c);
}

void conn_kick(struct conn *c)
{
	if (c->state != CONN_CLOSED)
		rx_post(c->loop->rx, &c->kick);
}

void conn_flush(struct conn *c)
{
	if (c->state != CONN_CLOSED && output_pending(c))
		start_write(c);
}

/* ---- What the connection does for the request it carries ------------------------------ */

static struct conn *carrier_conn(const struct req_carrier *ca)
{
	return container_of(ca, struct conn, carrier);
}

static void carrier_resume(struct req_carrier *ca)
{
	conn_kick(carrier_conn(ca));
}

static void carrier_flush(struct req_carrier *ca)
{
	conn_flush(carrier_conn(ca));
}

static size_t carrier_backlog(const struct req_carrier *ca)
{
	const struct conn *c = carrier_conn(ca);

	return c->wlen - c->wsent;
}

static void carrier_answer(struct req_carrier *ca)
{
	struct conn *c = carrier_conn(ca);

	if (request_complete(&c->req) < 0) {
		/* Out of memory for the response: the client gets the connection closed. */
		c->close_after_write = true;
		c->wlen = c->wsent;
	}
	conn_kick(c);
}

static int carrier_address(struct req_carrier *ca, bool local, struct sockaddr *sa, socklen_t *len)
{
	struct conn *c = carrier_conn(ca);
	int ret;

	if (c->h.closed)
		return -EBADF;
	ret = local ? getsockname(c->h.fd, sa, len) : getpeername(c->h.fd, sa, len);
	return ret < 0 ? -errno : 0;
}

static bool carrier_closed(const struct req_carrier *ca)
{
	return carrier_conn(ca)->state == CONN_CLOSED;
}

static void carrier_job_start(struct req_carrier *ca)
{
	carrier_conn(ca)->jobs++;
}

static void carrier_job_end(struct req_carrier *ca)
{
	carrier_conn(ca)->jobs--;
}

/* The memory of a request stays while offloaded jobs may write into it. */
static void carrier_jobs_back(struct req_carrier *ca)
{
	struct conn *c = carrier_conn(ca);

	if (c->jobs)
		return;
	request_jobs_done(&c->req);
	if (c->released)
		conn_free(c);
	else if (c->state != CONN_CLOSED)
		conn_kick(c);
}

static void carrier_pin(struct req_carrier *ca)
{
	http_settle_buffer(carrier_conn(ca));
}

static int carrier_stream_head(struct req_carrier *ca)
{
	return http_stream_head(carrier_conn(ca));
}

static int carrier_stream_body(struct req_carrier *ca, const void *data, size_t len)
{
	return response_stream_chunk(carrier_conn(ca), data, len);
}

static int carrier_upgrade(struct req_carrier *ca, struct warren_stream *s)
{
	return upgrade_bind(s, carrier_conn(ca));
}

static int carrier_finish(struct req_carrier *ca)
{
	return http_finish(carrier_conn(ca));
}

static void carrier_release(struct req_carrier *ca)
{
	http_request_release(carrier_conn(ca));
}

const struct req_carrier_ops conn_carrier_ops = {
	.resume = carrier_resume,
	.flush = carrier_flush,
	.backlog = carrier_backlog,
	.answer = carrier_answer,
	.address = carrier_address,
	.closed = carrier_closed,
	.job_start = carrier_job_start,
	.job_end = carrier_job_end,
	.jobs_back = carrier_jobs_back,
	.pin = carrier_pin,
	.stream_head = carrier_stream_head,
	.stream_body = carrier_stream_body,
	.upgrade = carrier_upgrade,
	.finish = carrier_finish,
	.release = carrier_release,
};

int conn_accept(struct http_loop *loop, int fd)
{
	struct conn *c = calloc(1, sizeof(*c));
	int one = 1, ret;

	if (!c)
		return -ENOMEM;
	/* Whole responses go out in one write; Nagle would only delay the last segment. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ret = http_conn_init(c, loop);
	if (ret < 0)
		goto out_free_conn;
	ret = rx_open(loop->rx, &c->h, fd, 0);
	if (ret < 0)
		goto out_fini_http;
	transport_plain_init(&c->tp, loop->rx, &c->h);
	timer_init(&c->timer, on_timeout);
	post_init(&c->kick, on_kick, c);
	c->state = CONN_READING;
	c->next = loop->conns;
	if (loop->conns)
		loop->conns->prev = c;
	loop->conns = c;
	loop->nconns++;
	conn_continue(c);
	return 0;

out_fini_http:
	http_conn_fini(c);
out_free_conn:
	free(c);
	return ret;
}

void conn_close_all(struct http_loop *loop)
{
	while (loop->conns)
		conn_close(loop->conns);
}

void conn_close_idle(struct http_loop *loop)
{
	struct conn *c = loop->conns;

	while (c) {
		struct conn *next = c->next;

		if (c->stream)
			upgrade_stop(c->stream);
		else if (c->state == CONN_READING && !c->request_begun)
			conn_close(c);
		c = next;
	}
}

int conn_reclaim_idle(struct http_loop *loop)
{
	struct conn *c = loop->idle_head;
	int ret;

	for (; c && c->reclaiming; c = c->idle_next)
		;
	if (!c)
		return -ENOENT;
	/* Not closed at once: the receive may hold the first bytes of a next request. */
	ret = rx_recv_end(loop->rx, &c->h, &c->rd_op);
	if (ret < 0)
		return ret;
	c->reclaiming = true;
	loop->reclaiming++;
	log_debug("worker %u: closing the longest-idle keep-alive connection to make room",
		  loop->id);
	return 0;
}

void conn_drain_idle(struct http_loop *loop, unsigned ms)
{
	for (struct conn *c = loop->conns; c; c = c->next) {
		if (c->stream)
			upgrade_stop(c->stream);
		else if (c->state == CONN_READING && !c->request_begun &&
			 c->timer.deadline > loop->now_ms + ms)
			arm_timer(c, ms);
	}
}

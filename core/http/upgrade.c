/* core/http/upgrade.c - connections handed over to modules after "101 Switching Protocols"
 * (warren_req_upgrade()): the checks of the handshake, then a full-duplex byte stream on the
 * connection's transport with the module's back-pressure, timer and close. The connection
 * stays in the worker's list, so that the connection cap counts it and a stop reaches it. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "http/conn.h"
#include "http/http1.h"
#include "http/parse.h"
#include "http/request.h"
#include "http/response.h"
#include "http/upgrade.h"

/* Output waiting for the client before a write is refused (as for a streamed response). */
#define STREAM_HIGH_WATER (64 * 1024)
/* Our own read buffer, when the reactor has none to choose for a receive. */
#define STREAM_RBUF 16384
/* The first version of struct warren_upgrade_ops: everything up to on_close. */
#define UPGRADE_OPS_V1_SIZE                                                                        \
	(offsetof(struct warren_upgrade_ops, on_close) +                                           \
	 sizeof(((struct warren_upgrade_ops *)0)->on_close))

struct warren_stream {
	struct conn *c;
	struct warren_upgrade_ops ops; /* the module's, padded with NULL to our size */
	void *arg;
	const char *id; /* the upgrading handler's route, for crash reports and logs */
	bool live;	/* the 101 went out: the connection's bytes are the module's */
	bool paused;	/* the module stopped delivery (warren_stream_pause()) */
	bool closing;	/* warren_stream_close(): output goes out, then the close */
	bool ended;	/* on_close ran or runs: no module call any more */
	bool refused;	/* the response that went out was not the 101 */
	bool failed;	/* a write could not be posted: ends from the loop */
	bool stop_told;
	bool want_drain; /* a write was refused: on_drain once the output is out */
	bool recv_chosen;
	struct timer timer;	 /* the module's (warren_stream_timer()) */
	struct timer send_timer; /* output that does not move: http.send_timeout */
	warren_stream_timer_fn timer_fn;
	void *timer_arg;
	struct rx_post kick; /* moves the stream on from the loop, never inside a module call */
	char *held;	     /* read, not delivered yet (pipelined, or read while paused) */
	size_t held_len;
	char *out; /* being written: the send in flight points into it */
	size_t out_cap, out_len, out_sent;
	char *next; /* written by the module behind it */
	size_t next_cap, next_len;
	char *rbuf; /* NULL while receives let the reactor choose the buffer */
	struct iovec iov;
};

static void stream_progress(struct warren_stream *s);

static struct http_loop *stream_loop(const struct warren_stream *s)
{
	return s->c->loop;
}

/* Module calls run under a crash context naming the handler that upgraded, and count for
 * the watchdog's warning like a handler's. */
#define STREAM_CALL(s, call)                                                                       \
	do {                                                                                       \
		struct http_loop *loop_ = stream_loop(s);                                          \
		module_enter(loop_, NULL, (s)->id);                                                \
		call;                                                                              \
		module_leave(loop_, NULL);                                                         \
	} while (0)

bool upgrade_active(const struct conn *c)
{
	return c->stream && !c->stream->ended && !c->stream->refused;
}

static size_t stream_backlog(const struct warren_stream *s)
{
	return s->out_len - s->out_sent + s->next_len;
}

void upgrade_end(struct warren_stream *s, enum warren_stream_end why)
{
	struct http_loop *loop = stream_loop(s);

	if (s->ended)
		return;
	s->ended = true;
	timer_cancel(loop->timers, &s->timer);
	timer_cancel(loop->timers, &s->send_timer);
	rx_post_cancel(loop->rx, &s->kick);
	free(s->held);
	s->held = NULL;
	s->held_len = 0;
	if (s->refused)
		why = WARREN_STREAM_REFUSED;
	if (s->ops.on_close)
		STREAM_CALL(s, s->ops.on_close(s, why, s->arg));
}

void upgrade_free(struct warren_stream *s)
{
	struct blk_cache *blocks = stream_loop(s)->blocks;

	buf_release(blocks, &s->out, &s->out_cap);
	buf_release(blocks, &s->next, &s->next_cap);
	free(s->rbuf);
	free(s->held);
	free(s);
}

/* Ends the stream for @why and the connection at once. */
static void stream_fail(struct warren_stream *s, enum warren_stream_end why)
{
	struct conn *c = s->c;

	upgrade_end(s, why);
	conn_close(c);
}

static void kick(struct warren_stream *s)
{
	if (!s->ended)
		rx_post(stream_loop(s)->rx, &s->kick);
}

static int held_append(struct warren_stream *s, const char *data, size_t len)
{
	char *nb = realloc(s->held, s->held_len + len);

	if (!nb)
		return -ENOMEM;
	memcpy(nb + s->held_len, data, len);
	s->held = nb;
	s->held_len += len;
	return 0;
}

static void on_write(struct rx_op *op, int res);

/* Writes what is queued, once the 101 is out and while no send is in flight. */
static int stream_flush(struct warren_stream *s)
{
	struct conn *c = s->c;
	struct http_loop *loop = c->loop;
	int ret;

	if (!s->live || s->ended || c->h.wr)
		return 0;
	if (s->out_sent == s->out_len) {
		char *b = s->out;
		size_t cap = s->out_cap;

		s->out_len = s->out_sent = 0;
		if (!s->next_len)
			return 0;
		/* The queue becomes what is sent; the old buffer takes what comes next. */
		s->out = s->next;
		s->out_cap = s->next_cap;
		s->out_len = s->next_len;
		s->next = b;
		s->next_cap = cap;
		s->next_len = 0;
	}
	s->iov = (struct iovec){s->out + s->out_sent, s->out_len - s->out_sent};
	ret = transport_writev(&c->tp, &c->wr_op, &s->iov, 1, on_write);
	if (ret < 0)
		return ret;
	if (timer_set(loop->timers, &s->send_timer,
		      http_loop_now(loop) + loop->limits.send_timeout_ms) < 0)
		return -ENOMEM;
	return 0;
}

static void on_write(struct rx_op *op, int res)
{
	struct conn *c = container_of(op, struct conn, wr_op);
	struct warren_stream *s = c->stream;

	timer_cancel(c->loop->timers, &s->send_timer);
	if (s->ended)
		return;
	if (res < 0) {
		stream_fail(s, res == -EPIPE || res == -ECONNRESET ? WARREN_STREAM_PEER :
								     WARREN_STREAM_ERROR);
		return;
	}
	s->out_sent += (size_t)res;
	if (stream_flush(s) < 0) {
		stream_fail(s, WARREN_STREAM_ERROR);
		return;
	}
	if (s->want_drain && stream_backlog(s) == 0 && !s->closing) {
		s->want_drain = false;
		if (s->ops.on_drain)
			STREAM_CALL(s, s->ops.on_drain(s, s->arg));
	}
	stream_progress(s);
}

static void on_send_timeout(struct timer *t)
{
	struct warren_stream *s = container_of(t, struct warren_stream, send_timer);

	log_info("closing an upgraded connection (%s) whose client read nothing for "
		 "http.send_timeout (%u ms)",
		 s->id, stream_loop(s)->limits.send_timeout_ms);
	stream_fail(s, WARREN_STREAM_TIMEOUT);
}

static void on_read(struct rx_op *op, int res);

static void on_hangup(struct rx_op *op, int res)
{
	struct conn *c = container_of(op, struct conn, rd_op);

	(void)res;
	stream_fail(c->stream, WARREN_STREAM_PEER);
}

/* Keeps the right read posted: a receive while bytes may be delivered, else (paused, or
 * bytes waiting) only the watch for a hang-up. */
static void stream_read(struct warren_stream *s)
{
	struct conn *c = s->c;
	struct http_loop *loop = c->loop;
	int ret;

	if (s->closing || s->ended)
		return;
	if (s->paused || s->held_len) {
		if (!c->h.rd && rx_poll(loop->rx, &c->h, &c->rd_op, POLLRDHUP, on_hangup) < 0)
			stream_fail(s, WARREN_STREAM_ERROR);
		return;
	}
	if (c->h.rd == &c->rd_op && c->rd_op.kind == RX_POLL)
		rx_cancel(loop->rx, &c->h, &c->rd_op);
	if (c->h.rd)
		return;
	s->recv_chosen = !s->rbuf;
	ret = transport_recv(&c->tp, &c->rd_op, s->rbuf, s->rbuf ? STREAM_RBUF : 0, on_read);
	if (ret < 0)
		stream_fail(s, WARREN_STREAM_ERROR);
}

static void on_read(struct rx_op *op, int res)
{
	struct conn *c = container_of(op, struct conn, rd_op);
	struct warren_stream *s = c->stream;
	struct reactor *rx = c->loop->rx;
	bool chosen = s->recv_chosen;
	char *buf = chosen ? op->recv.buf : s->rbuf;

	if (s->ended) {
		/* Closed by the module while this receive was in flight: the connection
		 * lingers on as any closing connection does. */
		if (chosen && buf && res != -ENOBUFS)
			rx_buf_put(rx, buf);
		if (res <= 0 && res != -ENOBUFS)
			conn_close(c);
		else
			conn_linger(c);
		return;
	}
	if (res == -ENOBUFS && chosen) {
		/* The reactor ran out of buffers to choose from: read into one of ours. */
		s->rbuf = malloc(STREAM_RBUF);
		if (!s->rbuf)
			stream_fail(s, WARREN_STREAM_ERROR);
		else
			stream_read(s);
		return;
	}
	if (res <= 0) {
		if (chosen && buf)
			rx_buf_put(rx, buf);
		stream_fail(s, res == 0 || res == -ECONNRESET ? WARREN_STREAM_PEER :
								WARREN_STREAM_ERROR);
		return;
	}
	if (s->closing) {
		/* Nothing more is delivered once the module closed. */
	} else if (s->paused) {
		if (held_append(s, buf, (size_t)res) < 0) {
			if (chosen)
				rx_buf_put(rx, buf);
			stream_fail(s, WARREN_STREAM_ERROR);
			return;
		}
	} else {
		STREAM_CALL(s, s->ops.on_read(s, buf, (size_t)res, s->arg));
	}
	if (chosen)
		rx_buf_put(rx, buf);
	stream_progress(s);
}

/* Closed by the module and everything written is out: the module hears of it, and the
 * connection shuts its sending side and reads until the client closes (briefly). */
static void stream_finish(struct warren_stream *s)
{
	struct conn *c = s->c;

	if (c->h.rd == &c->rd_op && c->rd_op.kind == RX_POLL)
		rx_cancel(c->loop->rx, &c->h, &c->rd_op);
	upgrade_end(s, WARREN_STREAM_CLOSED);
	conn_linger(c);
}

/* Moves the stream on after anything happened: output, the close, what waits for the
 * module, the next read. */
static void stream_progress(struct warren_stream *s)
{
	if (s->ended || !s->live)
		return;
	if (s->failed) {
		stream_fail(s, WARREN_STREAM_ERROR);
		return;
	}
	if (stream_flush(s) < 0) {
		stream_fail(s, WARREN_STREAM_ERROR);
		return;
	}
	if (s->closing) {
		if (!s->c->h.wr)
			stream_finish(s);
		return;
	}
	if (s->held_len && !s->paused) {
		char *data = s->held;
		size_t len = s->held_len;

		/* Taken out first: the module may pause again, and reads that follow wait. */
		s->held = NULL;
		s->held_len = 0;
		STREAM_CALL(s, s->ops.on_read(s, data, len, s->arg));
		free(data);
		if (s->ended)
			return;
		if (s->closing) {
			stream_progress(s);
			return;
		}
	}
	stream_read(s);
}

static void on_kick(void *arg)
{
	struct warren_stream *s = arg;

	if (s->refused) {
		upgrade_end(s, WARREN_STREAM_REFUSED);
		return;
	}
	stream_progress(s);
}

static void on_timer(struct timer *t)
{
	struct warren_stream *s = container_of(t, struct warren_stream, timer);
	warren_stream_timer_fn fn = s->timer_fn;

	s->timer_fn = NULL;
	if (fn && !s->ended && !s->closing)
		STREAM_CALL(s, fn(s, s->timer_arg));
}

void upgrade_start(struct conn *c)
{
	struct warren_stream *s = c->stream;
	size_t extra = c->rlen - c->rpos;

	c->state = CONN_UPGRADED;
	timer_cancel(c->loop->timers, &c->timer);
	if (c->h.rd == &c->rd_op && c->rd_op.kind == RX_POLL)
		rx_cancel(c->loop->rx, &c->h, &c->rd_op);
	/* What the client sent behind the request is the module's, and comes first. */
	if (extra && held_append(s, c->rbuf + c->rpos, extra) < 0) {
		stream_fail(s, WARREN_STREAM_ERROR);
		return;
	}
	c->rlen = c->rpos;
	/* The HTTP buffers go back; the stream has its own. */
	http_conn_trim(c);
	s->live = true;
	kick(s);
}

void upgrade_refuse(struct conn *c)
{
	struct warren_stream *s = c->stream;

	s->refused = true;
	kick(s);
}

void upgrade_stop(struct warren_stream *s)
{
	if (s->stop_told || s->ended || s->refused)
		return;
	s->stop_told = true;
	if (s->closing || !s->ops.on_stop)
		return;
	STREAM_CALL(s, s->ops.on_stop(s, s->arg));
}

int upgrade_bind(struct warren_stream *s, struct conn *c)
{
	if (c->stream)
		return -EALREADY;
	c->stream = s;
	s->c = c;
	timer_init(&s->timer, on_timer);
	timer_init(&s->send_timer, on_send_timeout);
	post_init(&s->kick, on_kick, s);
	return 0;
}

/* ---- The public calls ------------------------------------------------------------------ */

/* Whether the comma-separated @list names @token (case-insensitively, spaces around). */
static bool list_has(struct warren_str list, const char *token, bool versioned)
{
	const char *p = list.base, *end = list.base + list.len;
	size_t n = strlen(token);

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p)), *e = comma ? comma : end;
		const char *b = p;

		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		/* "websocket" is offered by "websocket", and by "websocket/13" too when the
		 * module names no version. */
		if ((size_t)(e - b) >= n && strncasecmp(b, token, n) == 0 &&
		    ((size_t)(e - b) == n || (versioned && b[n] == '/')))
			return true;
		p = comma ? comma + 1 : end;
	}
	return false;
}

/* The request asks to switch: an Upgrade field, and "upgrade" in a Connection field. */
static bool asks_upgrade(const struct warren_request *r, struct warren_str *offer)
{
	struct warren_str name, value;
	bool conn = false, up = false;

	for (size_t i = 0; warren_req_header_at(r, i, &name, &value); i++) {
		if (name.len == 10 && strncasecmp(name.base, "connection", 10) == 0)
			conn = conn || list_has(value, "upgrade", false);
		else if (name.len == 7 && strncasecmp(name.base, "upgrade", 7) == 0 && !up) {
			up = true;
			*offer = value;
		}
	}
	return conn && up;
}

/* A protocol name as the Upgrade field carries it: a token, "/", a token. */
static bool valid_protocol(const char *p)
{
	const char *slash = strchr(p, '/');
	size_t n = slash ? (size_t)(slash - p) : strlen(p);

	if (n == 0 || !parse_is_token(p, n))
		return false;
	return !slash || (slash[1] && parse_is_token(slash + 1, strlen(slash + 1)));
}

WARREN_API int warren_req_upgrade(struct warren_request *r, const char *protocol,
				  const struct warren_upgrade_ops *ops, void *arg,
				  struct warren_stream **stream)
{
	struct warren_str offer;
	struct warren_stream *s;
	int ret;

	if (!r || !protocol || !valid_protocol(protocol) || !ops || !stream ||
	    ops->size < UPGRADE_OPS_V1_SIZE || !ops->on_read)
		return -EINVAL;
	if (r->upgraded || r->streaming)
		return -EALREADY;
	/* A handler's answer: a hook that switched would leave the handler a request that is
	 * no longer HTTP. */
	if (!request_answerable(r) || r->hook)
		return -EINVAL;
	if (r->version != 11)
		return -EPROTONOSUPPORT;
	if (!asks_upgrade(r, &offer))
		return -EPROTO;
	if (!list_has(offer, protocol, !strchr(protocol, '/')))
		return -ENOPROTOOPT;
	if (!r->complete)
		return -EBUSY;
	if (r->carrier->loop->stopping)
		return -ESHUTDOWN;
	if (!r->carrier->ops->upgrade)
		return -EOPNOTSUPP;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	memcpy(&s->ops, ops, ops->size < sizeof(s->ops) ? ops->size : sizeof(s->ops));
	s->ops.size = sizeof(s->ops);
	s->arg = arg;
	s->id = handler_id(r);
	response_header_remove(r, "upgrade");
	ret = response_header_add(r, "Upgrade", protocol);
	if (ret < 0)
		goto out_free;
	ret = r->carrier->ops->upgrade(r->carrier, s);
	if (ret < 0)
		goto out_header;
	response_body_drop(r);
	r->status = 101;
	r->upgraded = true;
	*stream = s;
	if (r->phase == REQ_ASYNC)
		r->carrier->ops->answer(r->carrier);
	return 0;

out_header:
	response_header_remove(r, "upgrade");
out_free:
	free(s);
	return ret;
}

WARREN_API int warren_stream_write(struct warren_stream *s, const void *data, size_t len)
{
	if (!s || (!data && len))
		return -EINVAL;
	if (s->closing || s->ended)
		return -EPIPE;
	if (len == 0)
		return 0;
	if (stream_backlog(s) >= STREAM_HIGH_WATER) {
		s->want_drain = true;
		return -EAGAIN;
	}
	if (len > SIZE_MAX - s->next_len)
		return -ENOMEM;
	if (buf_reserve(stream_loop(s)->blocks, &s->next, &s->next_cap, s->next_len + len) < 0)
		return -ENOMEM;
	memcpy(s->next + s->next_len, data, len);
	s->next_len += len;
	if (stream_flush(s) < 0) {
		/* Told from the loop: this call must not end the stream under the module. */
		s->failed = true;
		kick(s);
	}
	return 0;
}

WARREN_API int warren_stream_pause(struct warren_stream *s, bool paused)
{
	if (!s)
		return -EINVAL;
	if (s->closing || s->ended)
		return -EPIPE;
	if (s->paused != paused) {
		s->paused = paused;
		/* Resuming: what waits is delivered, and reading starts, from the loop. */
		if (!paused)
			kick(s);
	}
	return 0;
}

WARREN_API int warren_stream_timer(struct warren_stream *s, uint64_t ms, warren_stream_timer_fn fn,
				   void *arg)
{
	struct http_loop *loop;

	if (!s)
		return -EINVAL;
	if (s->closing || s->ended)
		return -EPIPE;
	loop = stream_loop(s);
	timer_cancel(loop->timers, &s->timer);
	s->timer_fn = fn;
	s->timer_arg = arg;
	if (!fn)
		return 0;
	if (timer_set(loop->timers, &s->timer, http_loop_now(loop) + ms) < 0) {
		s->timer_fn = NULL;
		return -ENOMEM;
	}
	return 0;
}

WARREN_API int warren_stream_close(struct warren_stream *s)
{
	if (!s)
		return -EINVAL;
	if (s->closing || s->ended)
		return -EPIPE;
	s->closing = true;
	timer_cancel(stream_loop(s)->timers, &s->timer);
	s->timer_fn = NULL;
	free(s->held);
	s->held = NULL;
	s->held_len = 0;
	kick(s);
	return 0;
}

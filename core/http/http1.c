/* core/http/http1.c - HTTP/1.1 on a connection's buffers: the read buffer, and the pipeline
 * that parses what is buffered, decodes chunked bodies and moves each request on in order.
 * Nothing here touches a socket, so the tests can drive it with bytes alone. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "http/chunked.h"
#include "http/conn.h"
#include "http/http1.h"
#include "http/parse.h"
#include "http/request.h"
#include "http/response.h"
#include "http/upgrade.h"

/* ---- The read buffer ---------------------------------------------------------------- */

static void rbuf_release(struct conn *c)
{
	if (c->rbuf_lent)
		rx_buf_put(c->loop->rx, c->rbuf);
	else if (c->rbuf)
		buf_release(c->loop->blocks, &c->rbuf, &c->rcap);
	c->rbuf = NULL;
	c->rcap = 0;
	c->rbuf_lent = false;
}

/* Drops the requests already served from the front. */
static void rbuf_compact(struct conn *c)
{
	if (c->req_start == 0)
		return;
	memmove(c->rbuf, c->rbuf + c->req_start, c->rlen - c->req_start);
	c->rlen -= c->req_start;
	c->rpos -= c->req_start;
	c->req_start = 0;
}

/*
 * Gives the read buffer @cap bytes (at least what it holds), as a buffer of ours: a
 * reactor's is copied out and given back. On failure the buffer stays as it was.
 */
static void rbuf_resize(struct conn *c, size_t cap)
{
	char *nb = NULL;

	if (cap < c->rlen)
		return;
	if (!c->rbuf_lent && c->rbuf) {
		if (cap != c->rcap && (nb = realloc(c->rbuf, cap))) {
			c->rbuf = nb;
			c->rcap = cap;
		}
		return;
	}
	if (cap == BUF_BLOCK)
		nb = blk_get(c->loop->blocks);
	else
		nb = malloc(cap);
	if (!nb)
		return;
	if (c->rlen)
		memcpy(nb, c->rbuf, c->rlen);
	if (c->rbuf_lent)
		rx_buf_put(c->loop->rx, c->rbuf);
	c->rbuf = nb;
	c->rcap = cap;
	c->rbuf_lent = false;
}

int http_conn_init(struct conn *c, struct http_loop *loop)
{
	/* No buffer yet: one comes with the first bytes. */
	memset(c, 0, sizeof(*c));
	c->loop = loop;
	c->ext.fd = -1;
	pool_init(&c->pool, loop->blocks);
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->carrier = (struct req_carrier){
		.ops = &conn_carrier_ops,
		.loop = loop,
		.pool = &c->pool,
		.rbuf = &c->rbuf,
		.req_start = &c->req_start,
		.jobs = &c->jobs,
		.written = &c->wtotal,
		.served = &c->served,
	};
	c->req.carrier = &c->carrier;
	request_reset(&c->req);
	return 0;
}

void http_conn_fini(struct conn *c)
{
	response_fini(&c->req);
	response_ext_release(&c->ext);
	rbuf_release(c);
	buf_release(c->loop->blocks, &c->wbuf, &c->wcap);
	response_wbuf_sent(c);
	pool_destroy(&c->pool);
}

void http_settle_buffer(struct conn *c)
{
	rbuf_compact(c);
	if (c->rcap - c->rlen < BUF_BLOCK / 2)
		rbuf_resize(c, c->rcap * 2);
}

/*
 * Runs the chunked decoder over what is buffered and slides any following bytes (the next
 * pipelined request) down behind the decoded body. Returns CHUNKED_MORE, CHUNKED_DONE, or
 * the error status to answer with.
 */
static int decode_body(struct conn *c)
{
	struct warren_request *r = &c->req;
	size_t out = c->req_start + r->body_off + r->body_len, in = c->rpos;
	int ret;

	ret = chunked_decode(&r->dechunk, c->rbuf, &in, c->rlen, &out, r->body_total, r->max_body,
			     c->loop->limits.max_header_size);
	if (ret == -EFBIG)
		return 413;
	if (ret == -EMSGSIZE)
		return 431;
	if (ret < 0)
		return 400;
	r->body_total += (uint32_t)(out - c->req_start - r->body_off - r->body_len);
	r->body_len = (uint32_t)(out - c->req_start - r->body_off);
	memmove(c->rbuf + out, c->rbuf + in, c->rlen - in);
	c->rlen = out + (c->rlen - in);
	c->rpos = out;
	return ret;
}

/* Moves the request on; one whose rest is another protocol ends the connection. */
static int advance(struct conn *c)
{
	if (c->parser.upgrade)
		c->req.persist = false;
	return request_advance(&c->req);
}

void http_deliver_body(struct conn *c)
{
	struct warren_request *r = &c->req;
	size_t at;

	if (!request_deliver_body(r))
		return;
	/* Delivered: what follows the body moves down over it, so the buffer stays small. */
	at = c->req_start + r->body_off;
	memmove(c->rbuf + at, c->rbuf + c->rpos, c->rlen - c->rpos);
	c->rlen = at + (c->rlen - c->rpos);
	c->rpos = at;
	r->body_len = 0;
}

/* The message is complete: the request goes as far as it can, and a reader gets the end. */
static int serve(struct conn *c)
{
	int ret;

	c->req.complete = true;
	ret = advance(c);
	if (ret < 0)
		return ret;
	http_deliver_body(c);
	return 0;
}

/* A client waiting for "100 Continue" gets it once a handler may read the body: not
 * after an answer, nor while an on_request hook has yet to decide. */
static int send_continue(struct conn *c)
{
	const struct warren_request *r = &c->req;

	if (r->expect_continue && !r->continue_sent && !r->complete && r->phase < REQ_ANSWERED &&
	    !request_hook_holds(r) && !c->close_after_write)
		return response_continue(c);
	return 0;
}

/* The head is in and the body is on its way. */
static int body_pending(struct conn *c)
{
	int ret = advance(c);

	if (ret < 0)
		return ret;
	http_deliver_body(c);
	return send_continue(c);
}

int http_resume(struct conn *c)
{
	int ret = request_resume(&c->req);

	if (ret < 0)
		return ret;
	return send_continue(c);
}

bool http_holds_buffer(const struct conn *c)
{
	const struct warren_request *r = &c->req;

	return r->phase == REQ_MODULE || r->phase == REQ_ASYNC || r->phase == REQ_ENDING ||
	       r->sending;
}

int http_fail(struct conn *c, int status)
{
	const struct warren_request *r = &c->req;

	if (r->phase == REQ_MODULE || r->phase == REQ_ASYNC)
		return request_fail(&c->req, status);
	if (r->phase == REQ_READING && !c->close_after_write)
		return request_reject(&c->req, status);
	if (r->phase != REQ_READING && !c->close_after_write)
		return 0; /* answered, waiting for offloaded work: nothing to add */
	return response_error(c, status);
}

/* Where the next byte queued goes in the count of bytes written on the connection. */
static uint64_t out_pos(const struct conn *c)
{
	return c->wtotal + (c->wlen - c->wsent) + (c->ext.len - c->ext.sent);
}

int http_stream_head(struct conn *c)
{
	c->req.out_begin = out_pos(c);
	return response_stream_head(c);
}

int http_finish(struct conn *c)
{
	struct warren_request *r = &c->req;
	int ret;

	c->served++;
	if (!r->streaming)
		r->out_begin = out_pos(c);
	ret = r->streaming ? response_stream_end(c) : response_write(c);
	r->out_end = out_pos(c);
	if (!r->keep_alive)
		c->close_after_write = true;
	if (c->stream) {
		/* Nothing after the request is HTTP any more, switched or not. */
		c->close_after_write = true;
		/* A 101 that could not be written (no memory for it) switched nothing either. */
		if (!r->upgraded || r->status != 101 || ret < 0)
			upgrade_refuse(c);
	}
	return ret;
}

void http_request_release(struct conn *c)
{
	bool complete = c->req.complete;

	pool_reset(&c->pool);
	/* Nothing of this request may be taken for the next one's, whose first bytes
	 * (a stray CRLF, say) can arrive before its message begins. */
	request_reset(&c->req);
	if (complete) {
		c->req_start = c->rpos;
		c->request_begun = false;
	}
}

int http_process(struct conn *c)
{
	while (!c->close_after_write && c->wlen < CONN_WBUF_HIGH && c->ext.kind == OUT_NONE) {
		struct warren_request *r = &c->req;
		enum http_errno err;
		size_t n;
		int ret;

		/* A request in a module's hands holds the connection until it is answered. */
		if (http_request_held(c))
			break;
		if (r->chunked && r->headers_done && c->request_begun) {
			ret = decode_body(c);
			if (ret > CHUNKED_DONE)
				return http_fail(c, ret) == -ENOMEM ? -ENOMEM : 0;
			if (ret == CHUNKED_MORE)
				return body_pending(c);
			if (serve(c) < 0)
				return -ENOMEM;
			continue;
		}
		if (c->rpos >= c->rlen)
			break;
		n = http_parser_execute(&c->parser, &parse_settings, c->rbuf + c->rpos,
					c->rlen - c->rpos);
		err = HTTP_PARSER_ERRNO(&c->parser);
		c->request_begun = true;
		c->rpos += n;
		if (err == HPE_OK) {
			/* An Upgrade request's body still arriving is read like any other: the
			 * handler may switch once it is in (or the connection closes after). */
			if (r->headers_done)
				return body_pending(c);
			break; /* all consumed, the head is incomplete */
		}
		if (err != HPE_PAUSED)
			return http_fail(c, parse_error_status(c)) == -ENOMEM ? -ENOMEM : 0;
		http_parser_pause(&c->parser, 0);
		if (r->chunked) {
			/* The head ends here; the body is decoded on the next turn. */
			r->body_off = (uint32_t)(c->rpos - c->req_start);
			continue;
		}
		if (serve(c) < 0)
			return -ENOMEM;
	}
	if (c->rpos == c->rlen && c->req_start == c->rpos && !c->request_begun) {
		/* Nothing partial is buffered: start over at the front, no copy needed. */
		c->rpos = c->rlen = c->req_start = 0;
	}
	return 0;
}

size_t http_rbuf_make_room(struct conn *c)
{
	const struct http_limits *cfg = &c->loop->limits;
	size_t body = c->req.headers_done ? c->req.max_body : cfg->max_body_size;
	size_t limit = cfg->max_header_size + body + BUF_BLOCK;

	if (!c->rbuf) {
		rbuf_resize(c, BUF_BLOCK);
		return c->rcap;
	}
	if (c->rlen < c->rcap || http_holds_buffer(c))
		return c->rcap - c->rlen;
	rbuf_compact(c);
	if (c->rlen < c->rcap)
		return c->rcap - c->rlen;
	if (c->rcap >= limit)
		return 0;
	rbuf_resize(c, c->rcap * 2 > limit ? limit : c->rcap * 2);
	return c->rcap - c->rlen;
}

void http_rbuf_take(struct conn *c, void *buf, size_t cap, size_t len)
{
	c->rbuf = rx_buf_keep(c->loop->rx, buf, len, &c->rbuf_lent);
	c->rcap = cap;
	c->rlen = len;
	c->rpos = c->req_start = 0;
}

void http_rbuf_done(struct conn *c)
{
	if (c->rbuf && c->rlen == 0 && !c->request_begun && !http_holds_buffer(c))
		rbuf_release(c);
}

void http_conn_trim(struct conn *c)
{
	struct http_loop *loop = c->loop;

	if (http_holds_buffer(c))
		return;
	if (c->wlen == 0)
		buf_release(loop->blocks, &c->wbuf, &c->wcap);
	if (c->rlen > c->req_start || c->request_begun) {
		/* A partial request stays, in a buffer of ours: the reactor's are few. */
		if (c->rbuf_lent) {
			rbuf_compact(c);
			rbuf_resize(c, BUF_BLOCK);
		}
		return;
	}
	rbuf_release(c);
	c->rlen = c->rpos = c->req_start = 0;
	buf_release(loop->blocks, &c->req.resp_body, &c->req.resp_cap);
	pool_release(&c->pool);
}

bool http_request_held(const struct conn *c)
{
	const struct warren_request *r = &c->req;

	return (r->phase == REQ_ASYNC && r->complete) || r->phase == REQ_ENDING || r->sending;
}

bool http_hold_timeout(const struct conn *c, unsigned *ms)
{
	const struct warren_request *r = &c->req;
	uint64_t now = http_loop_now(c->loop);

	if (r->phase == REQ_ASYNC && r->complete)
		*ms = r->async_deadline > now ? (unsigned)(r->async_deadline - now) : 0;
	else if (r->phase != REQ_ENDING)
		*ms = c->loop->limits.body_timeout_ms;
	else
		return false;
	return true;
}

int http_overflow_status(const struct conn *c)
{
	return c->req.headers_done ? 413 : 431;
}

int http_timeout_status(const struct conn *c)
{
	const struct warren_request *r = &c->req;
	size_t plen;
	const char *path;

	if (r->phase != REQ_ASYNC || !r->complete)
		return 408;
	/* A module that neither answers nor writes within handler_timeout: 504, as a proxy
	 * answers for an upstream that does not. */
	path = request_path(r, &plen);
	log_warn("%s did not answer %s %.*s within http.handler_timeout (%u ms): 504",
		 *handler_id(r) ? handler_id(r) : "?", http_method_str((enum http_method)r->method),
		 (int)plen, path, c->loop->limits.handler_timeout_ms);
	return 504;
}

void http_output_drained(struct conn *c)
{
	struct warren_request *r = &c->req;

	if (!r->want_drain || !r->streaming || r->phase >= REQ_ANSWERED)
		return;
	r->want_drain = false;
	request_refresh_deadline(r);
	module_enter(c->loop, r, handler_id(r));
	r->drain_fn(r, r->drain_arg);
	module_leave(c->loop, r);
}

/* core/http.h - connections and the requests parsed on them: HTTP/1.1 framing on top of
 * http-parser, dispatch to routes, and response serialisation. */
#ifndef WARREN_CORE_HTTP_H
#define WARREN_CORE_HTTP_H

#include <http_parser.h>

#include "chunked.h"

#include "pool.h"
#include "router.h"
#include "timer.h"
#include "worker.h"

#define HTTP_MAX_HEADERS 100
#define CONN_RBUF_INITIAL 8192
/* Pipelined responses are batched up to this much output before it is flushed. */
#define CONN_WBUF_HIGH (256 * 1024)

/* A header field as offsets from the start of its request in the read buffer. */
struct http_hdr {
	uint32_t name_off, name_len;
	uint32_t value_off, value_len;
};

struct resp_hdr {
	struct resp_hdr *next;
	char *name, *value;
	size_t name_len, value_len;
};

struct warren_request {
	struct conn *c;

	/* Parsed request; offsets are relative to c->rbuf + c->req_start, so they survive
	 * the buffer being compacted or grown while the request arrives. */
	uint32_t url_off, url_len;
	uint32_t path_off, path_len;
	uint32_t query_off, query_len;
	uint32_t body_off, body_len;
	bool chunked; /* the body is being decoded by dechunk */
	struct chunked dechunk;
	bool expect_continue; /* "Expect: 100-continue" with a body still to come */
	bool continue_sent;
	struct http_hdr hdrs[HTTP_MAX_HEADERS];
	unsigned nhdrs;
	unsigned method; /* enum http_method */
	uint8_t version; /* 10 or 11 */
	bool in_value;	 /* the last header callback was for a value */
	bool headers_done;
	bool keep_alive;
	int err_status; /* set by a parser callback that rejects the request */

	const struct route *route;
	struct route_match match;

	/* Response being built. */
	int status;
	struct resp_hdr *resp_hdrs, **resp_tail;
};

enum conn_state {
	CONN_READING,
	CONN_WRITING,
	CONN_LINGERING, /* response sent, reading and discarding until the client closes */
	CONN_CLOSED,
};

struct conn {
	struct rx_handle h;
	struct rx_op rd_op, wr_op;
	struct worker *w;
	struct conn *prev, *next;
	struct timer timer;
	enum conn_state state;

	http_parser parser;
	char *rbuf;
	size_t rcap, rlen;
	size_t rpos;		/* bytes handed to the parser */
	size_t req_start;	/* where the request being parsed begins */
	unsigned served;	/* requests answered on this connection */
	bool request_begun;	/* bytes of the next request have arrived */
	bool head_deadline_set; /* header_timeout runs from the request's first byte */
	bool close_after_write;

	char *wbuf;
	size_t wcap, wlen, wsent;
	struct iovec wiov;

	char *body; /* response body of the request being handled */
	size_t body_len, body_cap;

	struct pool pool;
	struct warren_request req;
};

/* Prepares @c for its first request; no socket is involved (tests drive it by hand). */
int http_conn_init(struct conn *c, struct worker *w);
void http_conn_fini(struct conn *c);

/*
 * Parses what is buffered in c->rbuf[rpos..rlen), serves every complete request in order
 * and appends the responses to c->wbuf. Stops early when the output is large or the
 * connection must close (c->close_after_write). Returns 0, or -ENOMEM.
 */
int http_process(struct conn *c);

/* Makes room to read more into c->rbuf (compacting or growing within the limits).
 * Returns the free space, or 0 when the request would exceed every limit. */
size_t http_rbuf_make_room(struct conn *c);

/* Appends a complete error response (status, text body, Connection: close). */
int http_respond_error(struct conn *c, int status);

const char *http_reason(int status);

/* True when @s is a non-empty RFC 9110 token (a valid field name or method). */
bool http_is_token(const char *s, size_t len);

/* Accepts a new connection on @fd into the worker. */
int conn_accept(struct worker *w, int fd);
/* Closes every connection of the worker at once. */
void conn_close_all(struct worker *w);
/* Closes the connections that wait for a next request (graceful stop). */
void conn_close_idle(struct worker *w);
/* Gives connections that wait for a next request at most @ms more (reload drain). */
void conn_drain_idle(struct worker *w, unsigned ms);

#endif /* WARREN_CORE_HTTP_H */

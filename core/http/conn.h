/* core/http/conn.h - a client connection's life on the reactor: read, serve, write, time out,
 * close. */
#ifndef WARREN_CORE_HTTP_CONN_H
#define WARREN_CORE_HTTP_CONN_H

#include <http_parser.h>
#include <sys/uio.h>

#include "base/pool.h"
#include "base/timer.h"
#include "event/reactor.h"
#include "http/request.h"
#include "http/transport.h"
#include "http/loop.h"

/* Pipelined responses are batched up to this much output before it is flushed. */
#define CONN_WBUF_HIGH (256 * 1024)

enum conn_state {
	CONN_READING,
	CONN_WRITING,
	CONN_LINGERING, /* response sent, reading and discarding until the client closes */
	CONN_UPGRADED,	/* after a 101: the bytes are a module's stream's (upgrade.c) */
	CONN_CLOSED,
};

struct conn {
	struct rx_handle h;
	struct transport tp; /* every read and write of h goes through it */
	struct rx_op rd_op, wr_op;
	struct http_loop *loop;
	struct conn *prev, *next;
	struct conn *idle_prev, *idle_next; /* in the worker's idle list, oldest first */
	bool idle;			    /* in that list: waiting for a next request */
	bool reclaiming;		    /* its receive is being ended to close it (make_room) */
	struct timer timer;
	enum conn_state state;

	http_parser parser;
	char *rbuf; /* NULL while nothing is buffered: an idle connection holds no buffer */
	size_t rcap, rlen;
	bool rbuf_lent;	    /* rbuf is the reactor's (a provided buffer): give back, never grow */
	bool recv_chosen;   /* the receive in flight lets the reactor choose its buffer */
	size_t rpos;	    /* bytes handed to the parser */
	size_t req_start;   /* where the request being parsed begins */
	unsigned served;    /* requests answered on this connection */
	bool request_begun; /* bytes of the next request have arrived */
	bool head_deadline_set; /* header_timeout runs from the request's first byte */
	bool close_after_write;

	char *wbuf;
	size_t wcap, wlen, wsent;
	uint64_t wtotal; /* bytes written on the connection, for each response's count */
	char *wstale;	 /* what wbuf was when the send in flight was made, until it completes */
	size_t wstale_cap;

	struct out_ext ext; /* a borrowed or file body being written after wbuf */
	struct iovec ext_iov[2];
	struct rx_post
		kick;  /* resumes the connection on the next loop turn after an async answer */
	unsigned jobs; /* offloaded jobs not yet back: the memory must stay */
	bool released; /* the reactor let go; free once jobs is 0 */

	struct pool pool;
	struct warren_stream *stream; /* a module asked to take the connection over (101) */
	struct req_carrier carrier;   /* what req knows of the connection */
	struct warren_request req;    /* HTTP/1.1 carries one request at a time */
};

/* Where the request being parsed begins: its offsets count from here. */
static inline const char *conn_req_base(const struct conn *c)
{
	return c->rbuf + c->req_start;
}

/* From the module API: schedules conn_advance() from the loop (never nested in a call). */
void conn_kick(struct conn *c);
/* Starts writing what is buffered, if nothing is being written. */
void conn_flush(struct conn *c);
/* Closes the connection at once (a stream on it hears of it first). */
void conn_close(struct conn *c);
/* Shuts the sending side and reads and discards until the client closes, briefly. */
void conn_linger(struct conn *c);
/* Frees a connection whose reactor handle was released and whose jobs are back. */
void conn_free(struct conn *c);

/* Accepts a new connection on @fd into the worker. */
int conn_accept(struct http_loop *loop, int fd);
/* Closes every connection of the worker at once. */
void conn_close_all(struct http_loop *loop);
/* Closes the connections that wait for a next request (graceful stop). */
void conn_close_idle(struct http_loop *loop);
/* Gives connections that wait for a next request at most @ms more (reload drain). */
void conn_drain_idle(struct http_loop *loop, unsigned ms);
/* Starts closing the longest-idle keep-alive connection, to make room at the cap: it
 * closes once its receive has ended, unless a request came first. Returns 0, -ENOENT
 * when no connection is idle, or the reactor's error when the receive cannot end now. */
int conn_reclaim_idle(struct http_loop *loop);

/* What conn.c does for the requests it carries. */
extern const struct req_carrier_ops conn_carrier_ops;

#endif /* WARREN_CORE_HTTP_CONN_H */

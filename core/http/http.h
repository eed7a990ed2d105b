/* core/http/http.h - connections and the requests parsed on them: HTTP/1.1 framing on top of
 * http-parser, dispatch to routes, and response serialisation. */
#ifndef WARREN_CORE_HTTP_H
#define WARREN_CORE_HTTP_H

#include <http_parser.h>
#include <sys/socket.h>

#include "http/chunked.h"

#include "base/pool.h"
#include "base/shm.h"
#include "http/router.h"
#include "base/timer.h"
#include "server/worker.h"

#define HTTP_MAX_HEADERS 100
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

/* A response body that is not in the connection's body buffer. */
enum out_kind {
	OUT_NONE,
	OUT_BORROWED, /* the module's memory, given back through release */
	OUT_FILE,     /* a range of a file, sent with sendfile */
};

struct out_ext {
	enum out_kind kind;
	const char *data;
	void (*release)(void *arg);
	void *arg;
	int fd;
	off_t off;
	size_t len, sent;
};

struct req_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

struct req_cleanup {
	struct req_cleanup *next;
	void (*fn)(void *arg);
	void *arg;
};

struct warren_timer {
	struct timer t;
	struct warren_request *r;
	struct warren_timer *next; /* the request's timers, for cancelling them at its end */
	warren_timer_fn fn;
	void *arg;
};

struct warren_watch {
	struct rx_handle h;
	struct rx_op op;
	struct warren_request *r;
	struct warren_watch *next; /* the request's watches */
	warren_fd_fn fn;
	void *arg;
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
	struct http_hdr *hdrs; /* from the pool, grown as fields arrive */
	unsigned nhdrs, hdrs_cap;
	unsigned method; /* enum http_method */
	uint8_t version; /* 10 or 11 */
	bool in_value;	 /* the last header callback was for a value */
	bool headers_done;
	bool persist; /* the version and Connection field let the connection go on */
	bool keep_alive;
	int err_status; /* set by a parser callback that rejects the request */

	const struct route *route;
	struct route_match match;
	size_t route_pos; /* where the router walk goes on after a decline */
	uint64_t allow;	  /* methods of routes whose path matched, for a 405 */

	/* Life in a module's hands. */
	bool started;		/* on_request hooks ran: on_complete is owed */
	bool complete;		/* the whole message (body included) has been parsed */
	bool async;		/* a handler returned WARREN_ASYNC and has not answered yet */
	bool answered;		/* the response is decided; nothing more may change it */
	bool streaming;		/* a streamed response's head is out */
	bool aborted;		/* ended without the module's response */
	bool ending;		/* over, waiting for offloaded work before its cleanups run */
	bool want_drain;	/* a stream write was refused: call drain once output is out */
	bool stream_ended;	/* the handler ended its stream before returning */
	bool lock_released;	/* its module code returned holding a zone lock: 500 */
	uint32_t body_total;	/* body bytes decoded so far, delivered or not */
	warren_body_fn body_fn; /* streaming reader */
	void *body_arg;
	warren_abort_fn abort_fn;
	void *abort_arg;
	warren_drain_fn drain_fn;
	void *drain_arg;
	uint64_t async_deadline; /* handler_timeout from the last sign of progress */
	struct req_cleanup *cleanups;
	struct warren_timer *timers;
	struct warren_watch *watches;

	/* Response being built. */
	int status;
	struct resp_hdr *resp_hdrs, **resp_tail;
	struct out_ext body_ext;
	struct req_addr *addr[2]; /* peer and local address, from the pool once asked for */
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
	struct conn *idle_prev, *idle_next; /* in the worker's idle list, oldest first */
	bool idle;			    /* in that list: waiting for a next request */
	bool reclaiming; /* its receive is being ended to close it (worker_make_room()) */
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
	char *wstale; /* what wbuf was when the send in flight was made, until it completes */
	size_t wstale_cap;

	char *body; /* response body of the request being handled */
	size_t body_len, body_cap;
	struct out_ext ext; /* a borrowed or file body being written after wbuf */
	struct iovec ext_iov[2];
	struct timer kick; /* resumes the connection from the loop after an async answer */
	unsigned jobs;	   /* offloaded jobs not yet back: the memory must stay */
	bool released;	   /* the reactor let go; free once jobs is 0 */

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
 * Returns the free space, or 0 when the request would exceed every limit or when the
 * buffer may not move (see http_holds_buffer()). */
size_t http_rbuf_make_room(struct conn *c);
/* True while a module holds the request, whose strings point into the read buffer. */
bool http_holds_buffer(const struct conn *c);
/*
 * Before a receive: buffers of a connection with nothing in flight go back to the
 * worker's cache, and a partial request in a reactor's buffer moves to one of our own.
 */
void http_conn_trim(struct conn *c);
/* A receive that chose its buffer completed with data: it becomes the read buffer. */
void http_rbuf_take(struct conn *c, void *buf, size_t cap, size_t len);
/* Everything read has been served: the read buffer goes back before the writes start. */
void http_rbuf_done(struct conn *c);

/* Appends a complete error response (status, text body, Connection: close). */
int http_respond_error(struct conn *c, int status);

const char *http_reason(int status);
/* The request's path as sent ("/" for an absolute-form target without one). */
const char *http_request_path(const struct conn *c, size_t *len);

/* True when @s is a non-empty RFC 9110 token (a valid field name or method). */
bool http_is_token(const char *s, size_t len);

/* Serialises the response of a request that is over from the module's side and ends
 * the request; used by warren_resp_send() and the stream calls. */
int http_complete(struct conn *c);
/* Ends the request without the module's response (client gone, or the worker stops). */
void http_abort(struct conn *c);
/* Ends the request with warren's error response @status (a timeout, a body over the
 * limit), aborting it first if a module holds it; the connection closes after it.
 * Returns 0, -ENOMEM, or -EPIPE when a streamed response was cut (close at once). */
int http_fail(struct conn *c, int status);
/* Sends a streamed response's head (and any body set so far as its first piece). */
int http_stream_begin(struct conn *c);
/* A borrowed or file body was written out (or will never be): give it back. */
void http_ext_done(struct conn *c);
/* The send in flight completed: a write buffer replaced meanwhile can go. */
void http_wbuf_sent(struct conn *c);
/* Gives back a borrowed or file body set on the response and not sent. */
void http_body_ext_drop(struct warren_request *r);
/* Called when the last offloaded job of a connection came back. */
void http_jobs_done(struct conn *c);
/* Passes body bytes that arrived to a streaming reader; @last at the end. */
void http_deliver_body(struct conn *c);
/* Appends one chunk (or, for HTTP/1.0, the raw bytes) of a streamed response. */
int http_stream_chunk(struct conn *c, const void *data, size_t len);

/* Module code runs under a crash context naming it, for a fatal signal's report. */
static inline void module_enter(struct conn *c, const char *what)
{
	c->w->crash = (struct crash_context){.what = what, .c = c};
	shm_call_enter();
}

/* Logs that the module call ending now held the loop for @ms (watchdog.warn). */
void module_stalled(struct conn *c, uint64_t ms);
/* The module call ending now kept a zone lock: releases it, and fails the request. */
void module_kept_lock(struct conn *c);

static inline void module_leave(struct conn *c)
{
	struct worker *w = c->w;

	/* One coarse clock read per call: the cost of the watchdog's warning. */
	if (w->stall_warn_ms) {
		uint64_t now = timer_coarse_ms();

		if (now >= w->stall_mark + w->stall_warn_ms)
			module_stalled(c, now - w->stall_mark);
		w->stall_mark = now;
	}
	if (shm_call_kept())
		module_kept_lock(c);
	shm_call_leave();
	w->crash = (struct crash_context){0};
}

/* The id of the route whose handler holds the request, for a callback of that handler. */
static inline const char *handler_id(const struct conn *c)
{
	return c->req.route ? c->req.route->id : "";
}

/* Closes a watch without calling it (core/async.c). */
void async_watch_close(struct worker *w, struct warren_watch *wt);

/* From the module API: schedules conn_advance() from the loop (never nested in a call). */
void conn_kick(struct conn *c);
/* Starts writing what is buffered, if nothing is being written. */
void conn_flush(struct conn *c);
/* Frees a connection whose reactor handle was released and whose jobs are back. */
void conn_free(struct conn *c);

/* Accepts a new connection on @fd into the worker. */
int conn_accept(struct worker *w, int fd);
/* Closes every connection of the worker at once. */
void conn_close_all(struct worker *w);
/* Closes the connections that wait for a next request (graceful stop). */
void conn_close_idle(struct worker *w);
/* Gives connections that wait for a next request at most @ms more (reload drain). */
void conn_drain_idle(struct worker *w, unsigned ms);
/* Starts closing the longest-idle keep-alive connection, to make room at the cap: it
 * closes once its receive has ended, unless a request came first. Returns 0, -ENOENT
 * when no connection is idle, or the reactor's error when the receive cannot end now. */
int conn_reclaim_idle(struct worker *w);

#endif /* WARREN_CORE_HTTP_H */

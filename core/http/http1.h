/* core/http/http1.h - HTTP/1.1 on a connection's buffers: the read buffer and the pipeline of
 * requests parsed from it. */
#ifndef WARREN_CORE_HTTP_HTTP1_H
#define WARREN_CORE_HTTP_HTTP1_H

#include <stdbool.h>
#include <stddef.h>

struct conn;
struct http_loop;

/* Prepares @c for its first request; no socket is involved (tests drive it by hand). */
int http_conn_init(struct conn *c, struct http_loop *loop);
void http_conn_fini(struct conn *c);

/*
 * Parses what is buffered in c->rbuf[rpos..rlen), serves every complete request in order
 * and appends the responses to c->wbuf. Stops early when the output is large or the
 * connection must close (c->close_after_write). Returns 0, or -ENOMEM.
 */
int http_process(struct conn *c);

/* Ends c->req with warren's error response @status (a timeout, a body over the limit,
 * a malformed message), aborting it first if a module holds it; the connection closes
 * after it. Returns 0, -ENOMEM, or -EPIPE when a streamed response was cut (close at once). */
int http_fail(struct conn *c, int status);
/* The carrier's finish: c->req's response (or a streamed one's end) goes into the write
 * buffer, the request counts as served, and without keep-alive the connection closes. */
int http_finish(struct conn *c);
/* Writes a streamed response's head (and what body was set), counting where it begins. */
int http_stream_head(struct conn *c);
/* The carrier's release: c->req's memory goes, and the next request starts after it. */
void http_request_release(struct conn *c);
/* Passes body bytes that arrived to c->req's streaming reader; those it took go from the
 * read buffer. */
void http_deliver_body(struct conn *c);
/* An on_request hook let c->req go on (warren_req_continue()): the next hooks and the
 * handler run now. Returns 0 or -ENOMEM. */
int http_resume(struct conn *c);

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
/*
 * Once a module holds a request, the read buffer must stay where it is (the request's
 * strings point into it); a body read piece by piece needs room behind the head, so
 * earlier requests are dropped from the front and a full buffer grows, now.
 */
void http_settle_buffer(struct conn *c);

/*
 * The request is out of the connection's hands (an answer, or work it started, is awaited):
 * nothing is read meanwhile, only a hang-up is watched for.
 */
bool http_request_held(const struct conn *c);
/* How long the connection may wait for a held request (or for a body reader that does not
 * keep up) in @ms; false when it waits without a deadline. */
bool http_hold_timeout(const struct conn *c, unsigned *ms);
/* The status when the read buffer is full at every limit: 413 for a body, 431 for a head. */
int http_overflow_status(const struct conn *c);
/* The connection's timer ran out while reading: 504 (logged) for a request whose answer
 * did not come within handler_timeout, else 408. */
int http_timeout_status(const struct conn *c);
/* Everything written went out: a streamed response whose write was refused may go on. */
void http_output_drained(struct conn *c);

#endif /* WARREN_CORE_HTTP_HTTP1_H */

/* core/http/http.h - HTTP/1.1 on a connection's buffers: parsing, routing to module handlers
 * and serialising responses. */
#ifndef WARREN_CORE_HTTP_H
#define WARREN_CORE_HTTP_H

#include "http/conn.h"

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
}

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
	w->crash = (struct crash_context){0};
}

/* The id of the route whose handler holds the request, for a callback of that handler. */
static inline const char *handler_id(const struct conn *c)
{
	return c->req.route ? c->req.route->id : "";
}

#endif /* WARREN_CORE_HTTP_H */

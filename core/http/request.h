/* core/http/request.h - a request as parsed from the read buffer and the response a module
 * builds for it. */
#ifndef WARREN_CORE_HTTP_REQUEST_H
#define WARREN_CORE_HTTP_REQUEST_H

#include <assert.h>
#include <http_parser.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "base/pool.h"
#include "base/shm.h"
#include "base/timer.h"
#include "http/chunked.h"
#include "http/loop.h"
#include "http/router.h"

struct warren_stream;
struct warren_timer;
struct warren_watch;

#define HTTP_MAX_HEADERS 100

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

/* A response body that is not in the request's body buffer. */
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

struct req_carrier;

/*
 * What a request asks of what carries it: an HTTP/1.1 connection (conn.c) today, one stream
 * of a multiplexed connection later. The request never assumes that it owns a connection.
 */
struct req_carrier_ops {
	/* Moves the request on from the loop, never nested in the module call asking. */
	void (*resume)(struct req_carrier *ca);
	/* Starts sending the response output queued so far. */
	void (*flush)(struct req_carrier *ca);
	/* Response bytes queued and not sent yet. */
	size_t (*backlog)(const struct req_carrier *ca);
	/* The module answered (an async response, or the end of a stream): the response goes
	 * out, or without memory for it the connection is cut. */
	void (*answer)(struct req_carrier *ca);
	/* The peer's address, or with @local ours: 0 or a negative errno. */
	int (*address)(struct req_carrier *ca, bool local, struct sockaddr *sa, socklen_t *len);
	/* True once the client is gone: nothing of the request may run any more. */
	bool (*closed)(const struct req_carrier *ca);
	/* Offloaded work holds the request's memory: job_start() for each job, job_end() as it
	 * comes back, then jobs_back() once its done callback ran (the memory may go then). */
	void (*job_start)(struct req_carrier *ca);
	void (*job_end)(struct req_carrier *ca);
	void (*jobs_back)(struct req_carrier *ca);

	/* The rest writes and ends the response, for the request's life (request.c) and the
	 * stream calls: once per request or per streamed piece, never per header. */

	/* A module is about to hold a request whose body is still arriving: what the request
	 * points into stays where it is from now on, with room behind it for the body. */
	void (*pin)(struct req_carrier *ca);
	/* Writes a streamed response's head, and any body set so far as its first piece. */
	int (*stream_head)(struct req_carrier *ca);
	/* Writes one piece of a streamed response's body. */
	int (*stream_body)(struct req_carrier *ca, const void *data, size_t len);
	/* A module takes the connection over once the 101 is out (warren_req_upgrade()); NULL
	 * where it cannot be handed over (a stream of a multiplexed connection). 0 or -errno. */
	int (*upgrade)(struct req_carrier *ca, struct warren_stream *s);
	/* The response is final: writes it whole (or a streamed one's end) and counts the
	 * request served; without keep_alive nothing follows it. 0 or -ENOMEM. */
	int (*finish)(struct req_carrier *ca);
	/* The request is over and its cleanups ran: its memory goes (an HTTP/1.1 connection
	 * makes it ready for the next request). */
	void (*release)(struct req_carrier *ca);
};

struct req_carrier {
	const struct req_carrier_ops *ops;
	struct http_loop *loop;
	struct pool *pool;	 /* the request's memory, reset when it ends */
	char *const *rbuf;	 /* the buffer holding the request (it may move) */
	const size_t *req_start; /* where in it the request begins */
	const unsigned *jobs;	 /* offloaded jobs not back yet: the memory has to stay */
	const uint64_t *written; /* response bytes written on it so far, all requests' */
	const unsigned *served;	 /* requests answered on it so far */
};

/*
 * Where a request is in its life. The body arrives independently of the phase (see
 * complete), and a streamed response can be under way in MODULE or ASYNC.
 *
 *   READING ---> MODULE <--> ASYNC
 *      ^ |          |           |
 *      | +-------+  v           |
 *      +-------- ANSWERED <-----+
 *      |            |
 *      |            v
 *      +--------- ENDING
 *
 * READING   no module has seen it: its head or the body a handler waits for is arriving.
 *           Straight to ANSWERED when warren rejects it itself (bad framing, a timeout).
 * MODULE    on_request hooks run (on_complete is owed); hooks or handlers decide now.
 * ASYNC     a handler, or an on_request hook (then hook is set), returned WARREN_ASYNC
 *           and has not answered yet; a hook's warren_req_continue() goes back to MODULE
 *           (from the loop, once resuming was seen) for the next hooks and the handler.
 * ANSWERED  the response is decided, or the request aborted: nothing may change it.
 * ENDING    over, waiting for offloaded work before its cleanups run.
 *
 * READING is also where request_reset() puts a request that ended (ANSWERED, ENDING) or
 * one that never left it.
 */
enum req_phase {
	REQ_READING,
	REQ_MODULE,
	REQ_ASYNC,
	REQ_ANSWERED,
	REQ_ENDING,
};

struct warren_request {
	struct req_carrier *carrier; /* the connection (or stream) it came on */

	/* Parsed request; offsets are relative to c->rbuf + c->req_start, so they survive
	 * the buffer being compacted or grown while the request arrives. */
	uint32_t url_off, url_len;
	uint32_t path_off, path_len;
	uint32_t query_off, query_len;
	uint32_t body_off, body_len;
	uint32_t max_body; /* its route's limit or http.max_body_size, once the head is in */
	bool chunked;	   /* the body is being decoded by dechunk */
	struct chunked dechunk;
	bool expect_continue; /* "Expect: 100-continue" with a body still to come */
	bool continue_sent;
	struct http_hdr *hdrs; /* from the pool, grown as fields arrive */
	unsigned nhdrs, hdrs_cap;
	unsigned method; /* enum http_method */
	uint8_t version; /* 10 or 11 */
	bool in_value;	 /* the last header callback was for a value */
	bool headers_done;
	bool persist; /* the version, Connection field (and no upgrade) let the connection go on */
	bool keep_alive;
	int err_status; /* set by a parser callback that rejects the request */

	const struct route *route;
	const struct req_hook *hook; /* the on_request hook running, or holding it (ASYNC) */
	size_t hook_pos;	     /* the next on_request hook to run */
	bool resuming;		     /* the holding hook continued: the loop moves it on */
	uint8_t holder;		     /* counts continues: offloaded jobs of a hook stay its own */
	struct route_match match;
	size_t route_pos; /* where the router walk goes on after a decline */
	uint64_t allow;	  /* methods of routes whose path matched, for a 405 */

	/* Life in a module's hands. */
	enum req_phase phase; /* changed by request_set_phase() alone */
	/* Orthogonal to the phase: */
	bool complete;		/* the whole message (body included) has been parsed */
	bool streaming;		/* a streamed response's head is out */
	bool aborted;		/* ended without the module's response (ANSWERED or ENDING) */
	bool want_drain;	/* a stream write was refused: call drain once output is out */
	bool stream_ended;	/* the handler ended its stream before returning */
	bool upgraded;		/* answered with a 101: the connection goes to a module */
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
	char *resp_body; /* its body, unless body_ext holds one; the buffer outlives the request */
	size_t resp_len, resp_cap;
	struct out_ext body_ext;
	struct req_addr *addr[2]; /* peer and local address, from the pool once asked for */

	/* What an access log asks for; nothing here costs a request that nobody asks. */
	uint64_t start_ms; /* monotonic, the loop's clock when its first byte was read */
	unsigned conn_seq; /* requests answered on its connection before it */
	bool rejected;	 /* warren answered it before any module saw it (on_request did not run) */
	bool head_final; /* on_response runs or ran: the response's length is decided */
	bool sending;	 /* answered; on_complete waits until the response is written out */
	uint8_t outcome; /* enum warren_outcome once over, 0 (pending) before */
	uint32_t head_len;  /* bytes of its response head, once written */
	size_t clen;	    /* the Content-Length it was written with */
	uint64_t out_begin; /* where its response starts in the carrier's count of written bytes */
	uint64_t out_end;   /* and where it ends, once finished */
	uint64_t sent;	    /* response bytes written, set when it is over */
	char *id;	    /* warren_req_id(), formatted on the first call */
	void *ctx;	    /* modules' request contexts, allocated on the first warren_req_ctx() */
};

/* Whether @to may follow @from (the transitions drawn above enum req_phase). */
static inline bool request_phase_legal(enum req_phase from, enum req_phase to)
{
	static const unsigned char next[] = {
		[REQ_READING] = 1 << REQ_READING | 1 << REQ_MODULE | 1 << REQ_ANSWERED,
		[REQ_MODULE] = 1 << REQ_ASYNC | 1 << REQ_ANSWERED,
		[REQ_ASYNC] = 1 << REQ_ANSWERED | 1 << REQ_MODULE,
		[REQ_ANSWERED] = 1 << REQ_ENDING | 1 << REQ_READING,
		[REQ_ENDING] = 1 << REQ_READING,
	};

	return next[from] & (1 << to);
}

static inline void request_set_phase(struct warren_request *r, enum req_phase to)
{
	assert(request_phase_legal(r->phase, to));
	r->phase = to;
}

/* A module holds it (MODULE, ASYNC) and may still decide its response: what the calls
 * that answer, stream, read the body or wait for something need. */
static inline bool request_answerable(const struct warren_request *r)
{
	return (r->phase == REQ_MODULE || r->phase == REQ_ASYNC) && !r->aborted && !r->resuming;
}

/* An on_request hook keeps the request: no handler has seen it yet. */
static inline bool request_hook_holds(const struct warren_request *r)
{
	return r->phase == REQ_ASYNC && r->hook;
}

/* Where the request's offsets count from. */
static inline const char *request_bytes(const struct warren_request *r)
{
	return *r->carrier->rbuf + *r->carrier->req_start;
}

/* The id of the hook or the route's handler that holds the request, for its callbacks. */
static inline const char *handler_id(const struct warren_request *r)
{
	if (r->hook)
		return r->hook->id;
	return r->route ? r->route->id : "";
}

/* Module code runs under a crash context naming it, for a fatal signal's report. */
static inline void module_enter(struct http_loop *loop, const struct warren_request *r,
				const char *what)
{
	/* Code running for a request is the module's of the on_request hook holding it, or
	 * else of its route's handler, unless a hook says otherwise (request.c):
	 * warren_req_ctx() gives that module's context, warren_req_route_conf() its
	 * route config. */
	loop->crash = (struct crash_context){.what = what,
					     .r = r,
					     .ctx = !r	     ? 0 :
						    r->hook  ? r->hook->ctx :
						    r->route ? r->route->ctx :
							       0,
					     .key = !r	     ? 0 :
						    r->hook  ? r->hook->key :
						    r->route ? r->route->key :
							       0};
	shm_call_enter();
}

/* Logs that the module call ending now held the loop for @ms (watchdog.warn). */
void module_stalled(struct http_loop *loop, const struct warren_request *r, uint64_t ms);
/* The module call ending now kept a zone lock: releases it, and fails the request. */
void module_kept_lock(struct http_loop *loop, struct warren_request *r);

static inline void module_leave(struct http_loop *loop, struct warren_request *r)
{
	/* One coarse clock read per call: the cost of the watchdog's warning. */
	if (loop->stall_warn_ms) {
		uint64_t now = timer_coarse_ms();

		if (now >= loop->stall_mark + loop->stall_warn_ms)
			module_stalled(loop, r, now - loop->stall_mark);
		loop->stall_mark = now;
	}
	if (shm_call_kept())
		module_kept_lock(loop, r);
	shm_call_leave();
	loop->crash = (struct crash_context){0};
}

/* Makes @r a fresh request of its carrier; its body buffer empties but stays. */
void request_reset(struct warren_request *r);
/* The request's path as sent ("/" for an absolute-form target without one). */
const char *request_path(const struct warren_request *r, size_t *len);
/*
 * Moves the request on as far as it can go. Called when its head is in (a route whose
 * handler streams the body runs now) and when the whole message is. Returns 0 or -ENOMEM.
 */
int request_advance(struct warren_request *r);
/* The hook holding the request called warren_req_continue(): what it left armed is
 * cancelled, and the loop is asked to move the request on (request_resume()). */
void request_continue(struct warren_request *r);
/* From the loop: runs the next hooks and the handler of a request whose hook continued.
 * Returns 0 (also when there is nothing to resume) or -ENOMEM. */
int request_resume(struct warren_request *r);
/* Passes body bytes that arrived to a streaming reader; the end once the message is
 * complete. True when the reader took a piece and reads on: those bytes may go. */
bool request_deliver_body(struct warren_request *r);
/* Serialises the response of a request that is over from the module's side and ends
 * the request; used by warren_resp_send() and the stream calls. */
int request_complete(struct warren_request *r);
/* Ends the request without the module's response (client gone, or the worker stops); one
 * whose response was being written out is cut. */
void request_abort(struct warren_request *r);
/* warren's own error response to a request no module holds yet (bad framing, a timeout
 * while it arrived): on_response and on_complete see it, on_request does not. */
int request_reject(struct warren_request *r, int status);
/* The response of a request that is sending was written out whole: on_complete runs and
 * the request ends. */
void request_sent(struct warren_request *r);
/* Ends a request a module holds (MODULE, ASYNC) with warren's error response @status
 * (a timeout, a body over the limit), aborting it first; nothing follows it.
 * Returns 0, -ENOMEM, or -EPIPE when a streamed response was cut (close at once). */
int request_fail(struct warren_request *r, int status);
/* Runs on_response hooks and sends a streamed response's head (and any body set so far
 * as its first piece). */
int request_stream_begin(struct warren_request *r);
/* A sign of progress from the handler: handler_timeout runs again from now. */
void request_refresh_deadline(struct warren_request *r);
/* Called when the last offloaded job of the request came back. */
void request_jobs_done(struct warren_request *r);

#endif /* WARREN_CORE_HTTP_REQUEST_H */

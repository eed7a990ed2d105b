/* core/http/request.c - the life of a request in modules' hands: on_request hooks, the
 * route walk over handlers, on_response and on_complete, and its end (answered, aborted,
 * failed), with its memory kept until offloaded work is back. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "http/async.h"
#include "http/request.h"
#include "http/response.h"

void request_reset(struct warren_request *r)
{
	struct req_carrier *ca = r->carrier;
	char *body = r->resp_body;
	size_t cap = r->resp_cap;

	assert(request_phase_legal(r->phase, REQ_READING));
	memset(r, 0, sizeof(*r));
	/* Until the head is parsed, an error response is written as for a GET. */
	r->method = HTTP_GET;
	r->status = 200;
	r->resp_tail = &r->resp_hdrs;
	r->body_ext.fd = -1;
	r->carrier = ca;
	/* The body buffer is kept for the next request, as the pool's blocks are. */
	r->resp_body = body;
	r->resp_cap = cap;
}

const char *request_path(const struct warren_request *r, size_t *len)
{
	*len = r->path_len;
	if (r->path_off == UINT32_MAX)
		return "/";
	return request_bytes(r) + r->path_off;
}

/* A module call made under a crash context naming @id; its result is the call's. */
#define CALL_MODULE(r, id, call)                                                                   \
	({                                                                                         \
		module_enter((r)->carrier->loop, (r), (id));                                       \
		__auto_type ret_ = (call);                                                         \
		module_leave((r)->carrier->loop, (r));                                             \
		ret_;                                                                              \
	})

/* A hook runs as its own module's code, whatever route the request has. */
static void hook_enter(struct http_loop *loop, const struct warren_request *r,
		       const struct req_hook *h)
{
	module_enter(loop, r, h->id);
	loop->crash.ctx = h->ctx;
	loop->crash.key = h->key;
}

static void log_module_error(const struct warren_request *r, const char *id, int rc)
{
	size_t plen;
	const char *path = request_path(r, &plen);

	if (rc < 0)
		log_error("%s failed on %s %.*s: %s", id, http_method_str(r->method), (int)plen,
			  path, strerror(-rc));
	else
		log_error("%s returned %d, which is not a valid result there", id, rc);
}

static void cancel_async(struct warren_request *r);

/*
 * A hook lets the request go on (it declined, or continued what it kept): what it armed
 * was for its own answer and would run as another module's code, so the next hooks and
 * the handler start with none of it, and its offloaded jobs' done callbacks do not run.
 */
static void hook_let_go(struct warren_request *r)
{
	if (!r->timers && !r->watches && !r->abort_fn && !r->body_fn && !*r->carrier->jobs)
		return;
	cancel_async(r);
	r->abort_fn = NULL;
	r->body_fn = NULL;
	r->holder++;
}

/*
 * Runs the on_request hooks from where they stopped: WARREN_DECLINED once every one let
 * the request go on, WARREN_ASYNC when one keeps it (r->hook), or WARREN_DONE when one
 * answered (or failed).
 */
static int run_on_request(struct warren_request *r)
{
	struct http_loop *loop = r->carrier->loop;

	while (r->hook_pos < loop->n_on_request) {
		const struct req_hook *h = &loop->on_request[r->hook_pos++];
		int rc;

		r->hook = h;
		rc = CALL_MODULE(r, h->id, h->on_request(r, h->data));
		if (rc == WARREN_DECLINED) {
			hook_let_go(r);
			continue;
		}
		/* A module built before 0.4 never meant to keep the request: a 500, as then. */
		if (rc == WARREN_ASYNC && h->may_hold) {
			if (!r->stream_ended)
				return WARREN_ASYNC;
			rc = WARREN_DONE;
		}
		r->hook = NULL;
		if (rc != WARREN_DONE) {
			log_module_error(r, h->id, rc);
			response_status_page(r, 500);
		}
		return WARREN_DONE;
	}
	r->hook = NULL;
	return WARREN_DECLINED;
}

/*
 * on_response and on_complete may run inside module code (warren_resp_send() from a
 * timer, a stream begun by a handler): the caller's crash context, and with it its
 * module's request context, is put back once the hooks have run.
 */
static void run_on_response(struct warren_request *r)
{
	struct http_loop *loop = r->carrier->loop;
	const struct crash_context outer = loop->crash;

	r->head_final = true;
	for (size_t i = 0; i < loop->n_on_response; i++) {
		const struct req_hook *h = &loop->on_response[i];
		int rc;

		hook_enter(loop, r, h);
		rc = h->on_response(r, h->data);
		module_leave(loop, r);

		if (rc != 0)
			log_module_error(r, h->id, rc);
	}
	loop->crash = outer;
}

static void run_on_complete(struct warren_request *r)
{
	struct http_loop *loop = r->carrier->loop;
	const struct crash_context outer = loop->crash;

	for (size_t i = 0; i < loop->n_on_complete; i++) {
		const struct req_hook *h = &loop->on_complete[i];

		hook_enter(loop, r, h);
		h->on_complete(r, h->data);
		module_leave(loop, r);
	}
	loop->crash = outer;
}

/* The result of run_handlers() when the next route must wait for the whole body. */
#define RUN_WAIT (-1000)

/*
 * Walks the routes from where the walk stopped: WARREN_DONE (the response is set, by a
 * handler or as 404/405/500), WARREN_ASYNC, or RUN_WAIT while the body is incomplete
 * and the next route's handler wants it whole.
 */
static int run_handlers(struct warren_request *r)
{
	size_t plen;
	const char *path = request_path(r, &plen);

	for (;;) {
		size_t pos = r->route_pos;
		const struct route *rt = router_next(r->carrier->loop->router, &pos, r->method,
						     path, plen, &r->match, &r->allow);
		int rc;

		if (!rt)
			break;
		if (!r->complete && !rt->stream_body)
			return RUN_WAIT;
		r->route_pos = pos;
		r->route = rt;
		rc = CALL_MODULE(r, rt->id, rt->handler->handle(r, rt->data));
		if (r->upgraded) {
			/* The 101 is the answer, whatever the handler says after asking for it. */
			if (rc != WARREN_DONE && rc != WARREN_ASYNC)
				log_module_error(r, rt->id, rc);
			return WARREN_DONE;
		}
		if (rc == WARREN_DONE || rc == WARREN_ASYNC)
			return rc;
		if (rc == WARREN_DECLINED) {
			response_reset(r);
			r->body_fn = NULL;
			continue;
		}
		log_module_error(r, rt->id, rc);
		response_status_page(r, 500);
		return WARREN_DONE;
	}
	r->route = NULL;
	if (r->allow) {
		if (response_405(r, r->allow) < 0)
			response_status_page(r, 500);
		return WARREN_DONE;
	}
	response_status_page(r, 404);
	return WARREN_DONE;
}

/* Whether the first route left to try reads the body itself (so runs before it is in). */
static bool next_route_streams(const struct warren_request *r)
{
	struct route_match m;
	uint64_t allow = 0;
	size_t plen, pos = r->route_pos;
	const char *path = request_path(r, &plen);
	const struct route *rt =
		router_next(r->carrier->loop->router, &pos, r->method, path, plen, &m, &allow);

	return rt && rt->stream_body;
}

static void cancel_async(struct warren_request *r)
{
	struct http_loop *loop = r->carrier->loop;

	for (struct warren_timer *t = r->timers; t; t = t->next)
		timer_cancel(loop->timers, &t->t);
	r->timers = NULL;
	while (r->watches) {
		struct warren_watch *wt = r->watches;

		r->watches = wt->next;
		async_watch_close(loop, wt);
	}
}

static void request_end(struct warren_request *r);

/* Settles what the request's outcome says of it (bytes sent), runs on_complete and ends it. */
static void request_over(struct warren_request *r, enum warren_outcome outcome)
{
	const struct req_carrier *ca = r->carrier;
	uint64_t len = r->out_end > r->out_begin ? r->out_end - r->out_begin : 0;
	uint64_t done = *ca->written > r->out_begin ? *ca->written - r->out_begin : 0;

	r->outcome = (uint8_t)outcome;
	if (outcome == WARREN_OUTCOME_ANSWERED)
		r->sent = len;
	else if (outcome == WARREN_OUTCOME_CUT)
		r->sent = done < len ? done : len;
	run_on_complete(r);
	request_end(r);
}

/* Runs the cleanups; then the carrier lets the request's memory go. */
static void request_release(struct warren_request *r)
{
	while (r->cleanups) {
		struct req_cleanup *cl = r->cleanups;

		r->cleanups = cl->next;
		cl->fn(cl->arg);
	}
	response_ext_release(&r->body_ext);
	r->carrier->ops->release(r->carrier);
}

/* The request is over: nothing of it may run any more; its memory goes once jobs are back. */
static void request_end(struct warren_request *r)
{
	cancel_async(r);
	if (*r->carrier->jobs) {
		request_set_phase(r, REQ_ENDING);
		return;
	}
	request_release(r);
}

void request_jobs_done(struct warren_request *r)
{
	if (r->phase == REQ_ENDING)
		request_release(r);
}

int request_complete(struct warren_request *r)
{
	int ret;

	/* Answered already by on_request hooks, or by an abort. */
	if (r->phase != REQ_ANSWERED)
		request_set_phase(r, REQ_ANSWERED);
	/* The rest of the body is still on its way: the connection cannot carry another. */
	if (!r->complete)
		r->keep_alive = false;
	if (r->streaming) {
		/* Its head is out: only the close can tell that it went wrong. */
		if (r->lock_released)
			r->keep_alive = false;
	} else {
		run_on_response(r);
		/* Module code kept a zone lock: what it answered may rest on half-updated data. */
		if (r->lock_released)
			response_status_page(r, 500);
	}
	ret = r->carrier->ops->finish(r->carrier);
	/* on_complete and cleanups see the response written out (or cut): until then the
	 * request holds its connection. Without them nothing waits, and pipelined responses
	 * keep going out together. */
	if (ret == 0 && (r->carrier->loop->n_on_complete || r->cleanups)) {
		/* Answered: its timers and watches end now, as they did when it ended here. */
		cancel_async(r);
		r->sending = true;
		return 0;
	}
	request_over(r, ret == 0 ? WARREN_OUTCOME_ANSWERED : WARREN_OUTCOME_CUT);
	return ret;
}

void request_sent(struct warren_request *r)
{
	r->sending = false;
	request_over(r, WARREN_OUTCOME_ANSWERED);
}

void request_refresh_deadline(struct warren_request *r)
{
	struct http_loop *loop = r->carrier->loop;

	r->async_deadline = http_loop_now(loop) + loop->limits.handler_timeout_ms;
}

int request_stream_begin(struct warren_request *r)
{
	response_stream_prepare(r);
	run_on_response(r);
	return r->carrier->ops->stream_head(r->carrier);
}

/* Tells the module its request is over before it answered; nothing may change it now. */
static void abort_notify(struct warren_request *r)
{
	struct http_loop *loop = r->carrier->loop;

	r->aborted = true;
	cancel_async(r);
	if (r->phase == REQ_ASYNC && r->abort_fn) {
		module_enter(loop, r, handler_id(r));
		r->abort_fn(r, r->abort_arg);
		module_leave(loop, r);
	}
	request_set_phase(r, REQ_ANSWERED);
	r->body_fn = NULL;
}

void request_abort(struct warren_request *r)
{
	if (r->sending) {
		/* The connection failed before the response was all out. */
		r->sending = false;
		request_over(r, WARREN_OUTCOME_CUT);
		return;
	}
	if (r->phase != REQ_MODULE && r->phase != REQ_ASYNC)
		return;
	/* A streamed response's head is out already: that one is cut, not unanswered. */
	r->outcome = r->streaming ? WARREN_OUTCOME_CUT : WARREN_OUTCOME_ABORTED;
	abort_notify(r);
	r->out_end = *r->carrier->written + r->carrier->ops->backlog(r->carrier);
	request_over(r, (enum warren_outcome)r->outcome);
}

int request_reject(struct warren_request *r, int status)
{
	r->rejected = true;
	if (!r->start_ms) {
		/* Bytes too wrong to begin a message. */
		r->start_ms = r->carrier->loop->now_ms;
		r->conn_seq = *r->carrier->served;
	}
	request_set_phase(r, REQ_ANSWERED);
	response_status_page(r, status);
	r->keep_alive = false;
	return request_complete(r);
}

int request_fail(struct warren_request *r, int status)
{
	assert(r->phase == REQ_MODULE || r->phase == REQ_ASYNC);
	abort_notify(r);
	if (r->streaming) {
		/* The head is out: all that can be said is to cut the body short. */
		r->keep_alive = false;
		r->out_end = *r->carrier->written + r->carrier->ops->backlog(r->carrier);
		request_over(r, WARREN_OUTCOME_CUT);
		return -EPIPE;
	}
	response_status_page(r, status);
	r->keep_alive = false;
	return request_complete(r);
}

/* Starts the module part of a request: keep-alive is decided, on_request runs next. */
static void request_start(struct warren_request *r)
{
	const struct http_loop *loop = r->carrier->loop;

	request_set_phase(r, REQ_MODULE);
	r->keep_alive = r->persist && loop->limits.keepalive_timeout_ms > 0 && !loop->stopping;
}

/* A hook or handler keeps the request, within handler_timeout. */
static int request_hold(struct warren_request *r)
{
	request_set_phase(r, REQ_ASYNC);
	request_refresh_deadline(r);
	return 0;
}

int request_advance(struct warren_request *r)
{
	int rc;

	if (r->phase != REQ_READING && r->phase != REQ_MODULE)
		return 0;
	if (r->phase == REQ_READING) {
		if (!r->complete && !next_route_streams(r))
			return 0;
		if (!r->complete)
			r->carrier->ops->pin(r->carrier);
		request_start(r);
	}
	rc = run_on_request(r);
	if (rc == WARREN_ASYNC)
		return request_hold(r);
	if (rc == WARREN_DONE) {
		request_set_phase(r, REQ_ANSWERED);
		return request_complete(r);
	}
	rc = run_handlers(r);
	if (rc == RUN_WAIT)
		return 0;
	if (rc == WARREN_ASYNC && !r->stream_ended)
		return request_hold(r);
	return request_complete(r);
}

void request_continue(struct warren_request *r)
{
	hook_let_go(r);
	r->resuming = true;
	r->carrier->ops->resume(r->carrier);
}

int request_resume(struct warren_request *r)
{
	if (!r->resuming || r->phase != REQ_ASYNC)
		return 0;
	r->resuming = false;
	request_set_phase(r, REQ_MODULE);
	return request_advance(r);
}

bool request_deliver_body(struct warren_request *r)
{
	warren_body_fn fn = r->body_fn;
	struct http_loop *loop = r->carrier->loop;
	struct warren_str chunk;
	bool last = r->complete;

	if (!fn || r->phase >= REQ_ANSWERED || (!last && r->body_len == 0))
		return false;
	chunk = (struct warren_str){request_bytes(r) + r->body_off, r->body_len};
	if (last)
		r->body_fn = NULL;
	module_enter(loop, r, handler_id(r));
	fn(r, chunk, last, r->body_arg);
	module_leave(loop, r);
	return !last && r->body_fn == fn && r->phase < REQ_ANSWERED;
}

/* The request line, as much as a log line shows of it, when the request has one. */
#define TARGET_SHOWN 200

void module_stalled(struct http_loop *loop, const struct warren_request *r, uint64_t ms)
{
	const char *what = loop->crash.what ? loop->crash.what : "?";

	/* A stream's callbacks (an upgraded connection) have no request. */
	if (!r || !r->headers_done || !*r->carrier->rbuf) {
		log_warn("worker %u: %s held the event loop for %llu ms (watchdog.warn is %u ms)",
			 loop->id, what, (unsigned long long)ms, loop->stall_warn_ms);
		return;
	}
	log_warn("worker %u: %s held the event loop for %llu ms (watchdog.warn is %u ms) "
		 "while serving \"%s %.*s%s\"",
		 loop->id, what, (unsigned long long)ms, loop->stall_warn_ms,
		 http_method_str((enum http_method)r->method),
		 (int)(r->url_len < TARGET_SHOWN ? r->url_len : TARGET_SHOWN),
		 request_bytes(r) + r->url_off, r->url_len > TARGET_SHOWN ? "..." : "");
}

void module_kept_lock(struct http_loop *loop, struct warren_request *r)
{
	bool open = r && r->phase < REQ_ANSWERED && !r->aborted;

	shm_release_held(!open	      ? "" :
			 r->streaming ? ", closing the connection after the response" :
					", answering 500",
			 "worker %u: %s", loop->id, loop->crash.what ? loop->crash.what : "?");
	/* Whatever it answers, the data under the lock may be half-updated. */
	if (open)
		r->lock_released = true;
}

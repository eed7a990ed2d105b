/* core/http/async.h - what lets a handler answer later: request timers, watches on the
 * module's file descriptors, and each worker's offload threads. */
#ifndef WARREN_CORE_HTTP_ASYNC_H
#define WARREN_CORE_HTTP_ASYNC_H

#include "base/timer.h"
#include "event/reactor.h"
#include "http/request.h"

struct http_loop;

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

/* Closes a watch without calling it. */
void async_watch_close(struct http_loop *loop, struct warren_watch *wt);
/* Stops the offload threads (waiting briefly for running jobs) before the worker exits. */
void offload_stop(struct http_loop *loop);

/*
 * True on an offload thread, where only a work function runs: calls that read the loop's
 * state (which module runs now) must refuse it. Per thread by nature, so not in the loop.
 */
extern _Thread_local bool async_offload_thread;

#endif /* WARREN_CORE_HTTP_ASYNC_H */

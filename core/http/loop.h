/* core/http/loop.h - the state the HTTP layer keeps per event loop: what its connections,
 * requests and offload threads share. A worker embeds one and fills it in; the HTTP layer
 * asks the worker for nothing but the two calls at the end. */
#ifndef WARREN_CORE_HTTP_LOOP_H
#define WARREN_CORE_HTTP_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/pool.h"
#include "base/timer.h"
#include "event/reactor.h"
#include "http/router.h"

struct offload;
struct warren_request;

/* The http settings of the configuration, copied by the worker. */
struct http_limits {
	size_t max_header_size, max_body_size;
	unsigned header_timeout_ms, body_timeout_ms, keepalive_timeout_ms, send_timeout_ms;
	unsigned handler_timeout_ms, shutdown_timeout_ms;
	unsigned offload_threads;
	const char *server; /* the Server header's value (the config's); NULL: none is sent */
	size_t server_len;
};

/* A module's request hook, resolved once so that requests need no size checks. */
struct req_hook {
	const char *id; /* "module.on_request", for logs and crash reports */
	void *data;	/* the module's data from init */
	bool may_hold;	/* on_request: its module knows WARREN_ASYNC there (ABI 0.4) */
	uint32_t ctx;	/* 1 + the offset of the module's request context; 0: none */
	uint16_t key;	/* 1 + the module's config_key slot in routes' keyconf; 0: none */
	union {
		int (*on_request)(struct warren_request *r, void *module_data);
		int (*on_response)(struct warren_request *r, void *module_data);
		void (*on_complete)(struct warren_request *r, void *module_data);
	};
};

/* What the loop runs now, for a fatal signal's report; set around every module call. */
struct crash_context {
	const char *what;		/* "hello.greet", or a hook name */
	const struct warren_request *r; /* the request being served, or NULL */
	uint32_t ctx;			/* the running module's request context, as in req_hook */
	uint16_t key;			/* the running module's config_key slot, as in req_hook */
};

struct http_loop {
	struct reactor *rx;
	struct timer_heap *timers;
	struct blk_cache *blocks; /* buffers of connections with data in flight */
	struct http_limits limits;
	const struct router *router;
	/* Request hooks of every module, in module order. */
	const struct req_hook *on_request, *on_response, *on_complete;
	size_t n_on_request, n_on_response, n_on_complete;
	unsigned id;	    /* the worker's, for logs */
	size_t ctx_size;    /* every module's request contexts together; 0: none asked */
	uint64_t id_epoch;  /* the worker's start (wall clock, us): request ids begin with it */
	uint64_t id_seq;    /* request ids given out */
	int64_t wall_delta; /* wall clock minus now_ms, in ms, from the last loop turn */

	uint64_t now_ms; /* monotonic, refreshed once per loop turn */
	time_t date_sec;
	char date[40]; /* "Sun, 06 Nov 1994 08:49:37 GMT" for the Date header */
	/* "\r\nServer: warren\r\nDate: <date>" as every response head has them, rebuilt with
	 * the date (response_fields_update()); the Date field starts at fields_date. */
	char fields[320];
	size_t fields_len, fields_date;

	struct conn *conns; /* every open connection, for shutdown */
	size_t nconns;
	struct conn *idle_head, *idle_tail; /* keep-alive connections between requests */
	size_t nidle;
	size_t reclaiming;	    /* of those, being closed to make room at the cap */
	bool accept_paused;	    /* at the cap: a connection going idle or away may resume */
	bool stopping;		    /* take no next request on a connection */
	unsigned drain_idle_ms;	    /* stopping for a reload: how long idle connections may stay */
	struct offload *offload;    /* threads for warren_offload(), started on first use */
	struct crash_context crash; /* what runs now, for a fatal signal's report */
	unsigned stall_warn_ms;	    /* watchdog.warn; 0: off */
	uint64_t stall_mark;	    /* coarse ms: the loop woke, or the last module call ended */

	/* The worker's: a connection closed or went idle while accepting was paused (it may
	 * resume), and a reclaimed idle connection brought a request (another must go). */
	void (*may_accept)(struct http_loop *l);
	void (*make_room)(struct http_loop *l);
};

/*
 * The time a new deadline counts from: now_ms, moved on to the coarse clock when the turn
 * has lasted longer than a tick since it was read (a slow handler, a slow machine), so that
 * a timeout is not cut short by the work done before it in the same turn. The coarse clock
 * is read from memory the kernel updates, without a system call; never moves back.
 */
static inline uint64_t http_loop_now(struct http_loop *loop)
{
	uint64_t now = timer_coarse_ms();

	if (now > loop->now_ms)
		loop->now_ms = now;
	return loop->now_ms;
}

#endif /* WARREN_CORE_HTTP_LOOP_H */

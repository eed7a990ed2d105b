/* core/server/worker.h - the state of one worker process: its reactor, timers, listeners and
 * connections. A worker is created after fork and owns everything here alone. */
#ifndef WARREN_CORE_WORKER_H
#define WARREN_CORE_WORKER_H

#include <sys/signalfd.h>
#include <sys/types.h>
#include <time.h>

#include "event/reactor.h"
#include "http/loop.h"
#include "server/server.h"
#include "base/timer.h"

struct worker;

/*
 * A worker's loop progress (reactor.beat), in memory the master maps before fork and
 * watches: a count that stays even, with the loop outside its wait, for watchdog.kill
 * means a stuck worker. One cache line each, so workers do not write to a shared one.
 */
struct worker_beat {
	_Alignas(64) uint64_t count;
};

struct worker_listener {
	struct worker *w;
	struct listener *l;
	struct rx_handle h;
	struct rx_op op;
	struct timer retry; /* re-arms accept after running out of fds */
};

struct worker {
	struct server *srv;
	const struct config *cfg;
	struct reactor *rx;
	struct timer_heap timers;
	struct blk_cache blocks; /* buffers of connections with data in flight */

	struct worker_listener *listeners;
	size_t nlisteners;

	struct rx_handle sig_h; /* signalfd: TERM/INT/QUIT arrive as reads */
	struct rx_op sig_op;
	struct signalfd_siginfo siginfo;

	/* The HTTP layer's share: connections, the clock and Date text, stop state, offload
	 * threads and what module code runs now. */
	struct http_loop http;

	struct timer stop_timer; /* bounds a graceful stop */
	struct timer trim_timer; /* gives unused buffer blocks back, every BLOCK_TRIM_MS */
	size_t trim_nconns;	 /* connections at the last trim: fewer now, memory to return */
	pid_t master;
	unsigned listening; /* listener handles not yet released by the reactor */
	unsigned id;
	unsigned max_conns; /* worker_connections, lowered to fit the open-files limit */
	bool fast_stop;	    /* TERM/INT: connections are cut, not finished */
};

/* Runs a worker in the freshly forked child of @master; never returns. Once it accepts
 * connections it writes its pid to @notify_fd. Its loop counts its progress in @beat. */
__attribute__((noreturn)) void worker_main(struct server *srv, unsigned id, pid_t master,
					   int notify_fd, struct worker_beat *beat);

/* Worker set-up without the process parts, shared with the tests: no reactor when
 * @rx is NULL (the HTTP glue can then be driven by hand). */
int worker_init(struct worker *w, struct server *srv, struct reactor *rx);
void worker_fini(struct worker *w);
/* A connection closed, or went idle (at the cap it can make room for a new one):
 * accepting resumes if it had paused and a new connection fits now. */
void worker_may_accept(struct worker *w);
/* Above max_conns: starts closing idle connections until the count fits again; accepting
 * pauses if they do not suffice. */
void worker_make_room(struct worker *w);
/* Refreshes http.now_ms and, when the second changed, the Date header text. */
void worker_update_time(struct worker *w);

#endif /* WARREN_CORE_WORKER_H */

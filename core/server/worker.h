/* core/server/worker.h - the state of one worker process: its reactor, timers, listeners and
 * connections. A worker is created after fork and owns everything here alone. */
#ifndef WARREN_CORE_WORKER_H
#define WARREN_CORE_WORKER_H

#include <sys/signalfd.h>
#include <sys/types.h>
#include <time.h>

#include "server/crash.h"
#include "event/reactor.h"
#include "server/server.h"
#include "base/timer.h"

struct conn;
struct offload;
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
	uint64_t now_ms;	 /* monotonic, refreshed once per loop turn */

	struct worker_listener *listeners;
	size_t nlisteners;

	struct rx_handle sig_h; /* signalfd: TERM/INT/QUIT arrive as reads */
	struct rx_op sig_op;
	struct signalfd_siginfo siginfo;

	struct offload *offload; /* threads for warren_offload(), started on first use */
	struct conn *conns;	 /* every open connection, for shutdown */
	size_t nconns;
	struct conn *idle_head, *idle_tail; /* keep-alive connections between requests */
	size_t nidle;
	size_t reclaiming; /* of those, being closed to make room at max_conns */

	time_t date_sec;
	char date[40]; /* "Sun, 06 Nov 1994 08:49:37 GMT" for the Date header */

	struct timer stop_timer; /* bounds a graceful stop */
	struct timer trim_timer; /* gives unused buffer blocks back, every BLOCK_TRIM_MS */
	size_t trim_nconns;	 /* connections at the last trim: fewer now, memory to return */
	pid_t master;
	unsigned drain_idle_ms;	    /* stopping for a reload: how long idle connections may stay */
	struct crash_context crash; /* what runs now, for a fatal signal's report */
	unsigned stall_warn_ms;	    /* watchdog.warn; 0: off */
	uint64_t stall_mark;	    /* coarse ms: the loop woke, or the last module call ended */
	unsigned listening;	    /* listener handles not yet released by the reactor */
	unsigned id;
	unsigned max_conns; /* worker_connections, lowered to fit the open-files limit */
	bool accept_paused; /* at max_conns: the listeners wait, connections queue */
	bool stopping;
	bool fast_stop; /* TERM/INT: connections are cut, not finished */
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
/* Refreshes now_ms and, when the second changed, the Date header text. */
void worker_update_time(struct worker *w);

#endif /* WARREN_CORE_WORKER_H */

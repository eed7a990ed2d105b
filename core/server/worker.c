/* core/server/worker.c - one worker process: created by fork in the master, it runs its own
 * reactor over the inherited listening sockets until told to stop. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/async.h"
#include "http/conn.h"
#include "http/response.h"
#include "base/log.h"
#include "server/backend.h"
#include "server/crash.h"
#include "server/worker.h"

/* How long to wait before accepting again after running out of fds. */
#define ACCEPT_RETRY_MS 100
/* Draining for a reload: how long an idle keep-alive connection may still bring one
 * more request (answered with "Connection: close") before it is closed. */
#define DRAIN_IDLE_MS 1000
/* Fds a worker keeps apart from connections: listeners, signals, ring, logs, modules. */
#define OWN_FDS 64
/* At most this many idle connections are being closed at once to make room at the cap:
 * each holds its fd until its receive has ended, beyond max_conns. */
#define RECLAIM_MAX 32
/* How often free buffer blocks that went unused are given back to the system. */
#define BLOCK_TRIM_MS 1000

void worker_update_time(struct worker *w)
{
	struct timespec ts, now;
	struct tm tm;

	w->http.now_ms = timer_now_ms();
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	if (ts.tv_sec == w->http.date_sec)
		return;
	w->http.date_sec = ts.tv_sec;
	/* Wall-clock times of requests are their monotonic ones moved by this, measured once
	 * a second with the precise clock: the coarse one would make them jitter by a tick. */
	clock_gettime(CLOCK_REALTIME, &now);
	w->http.wall_delta =
		(int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 - (int64_t)timer_now_ms();
	gmtime_r(&ts.tv_sec, &tm);
	strftime(w->http.date, sizeof(w->http.date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	response_fields_update(&w->http);
}

static void on_wake(void *arg)
{
	struct worker *w = arg;

	worker_update_time(w);
	/* A module call is timed from here or from the end of the call before it. */
	if (w->http.stall_warn_ms)
		w->http.stall_mark = timer_coarse_ms();
}

static void http_may_accept(struct http_loop *l)
{
	worker_may_accept(container_of(l, struct worker, http));
}

static void http_make_room(struct http_loop *l)
{
	worker_make_room(container_of(l, struct worker, http));
}

/* The HTTP layer's view of the worker: its reactor, timers and buffers, the http settings
 * and the routes and hooks of the generation it serves. */
static void http_loop_init(struct worker *w)
{
	const struct config *cfg = w->cfg;
	const struct server *srv = w->srv;
	struct http_loop *l = &w->http;
	struct timespec ts;

	l->rx = w->rx;
	l->timers = &w->timers;
	l->blocks = &w->blocks;
	l->limits = (struct http_limits){
		.max_header_size = cfg->max_header_size,
		.max_body_size = cfg->max_body_size,
		.header_timeout_ms = cfg->header_timeout_ms,
		.body_timeout_ms = cfg->body_timeout_ms,
		.keepalive_timeout_ms = cfg->keepalive_timeout_ms,
		.send_timeout_ms = cfg->send_timeout_ms,
		.handler_timeout_ms = cfg->handler_timeout_ms,
		.shutdown_timeout_ms = cfg->shutdown_timeout_ms,
		.offload_threads = cfg->offload_threads,
		.server = cfg->server_header,
		.server_len = cfg->server_header ? strlen(cfg->server_header) : 0,
	};
	l->router = &srv->router;
	l->on_request = srv->on_request;
	l->on_response = srv->on_response;
	l->on_complete = srv->on_complete;
	l->n_on_request = srv->n_on_request;
	l->n_on_response = srv->n_on_response;
	l->n_on_complete = srv->n_on_complete;
	l->ctx_size = srv->ctx_size;
	l->date_sec = -1;
	/* Request ids start with the worker's start, to the microsecond: a worker that
	 * replaces one of the same index, or a restarted server, gives out other ids. */
	clock_gettime(CLOCK_REALTIME, &ts);
	l->id_epoch = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	l->stall_warn_ms = cfg->watchdog_warn_ms;
	l->stall_mark = timer_coarse_ms();
	l->may_accept = http_may_accept;
	l->make_room = http_make_room;
}

int worker_init(struct worker *w, struct server *srv, struct reactor *rx)
{
	memset(w, 0, sizeof(*w));
	w->srv = srv;
	w->cfg = srv->cfg;
	w->rx = rx;
	http_loop_init(w);
	w->max_conns = srv->cfg->worker_connections;
	blk_cache_init(&w->blocks);
	worker_update_time(w);
	if (rx) {
		rx->wake = on_wake;
		rx->wake_arg = w;
		rx->blocks = &w->blocks;
	}
	return 0;
}

void worker_fini(struct worker *w)
{
	timer_heap_free(&w->timers);
	blk_cache_fini(&w->blocks);
	free(w->listeners);
	w->listeners = NULL;
}

static void on_accept(struct rx_op *op, int res);
static void pause_accepting(struct worker *w);

static void arm_accept(struct worker_listener *wl)
{
	int ret = rx_accept(wl->w->rx, &wl->h, &wl->op, on_accept);

	if (ret < 0) {
		log_error("cannot accept on %s: %s", wl->l->conf->text, strerror(-ret));
		timer_set(&wl->w->timers, &wl->retry,
			  http_loop_now(&wl->w->http) + ACCEPT_RETRY_MS);
	}
}

static void on_accept_retry(struct timer *t)
{
	arm_accept(container_of(t, struct worker_listener, retry));
}

static void on_accept(struct rx_op *op, int res)
{
	struct worker_listener *wl = container_of(op, struct worker_listener, op);
	int ret;

	if (res < 0) {
		/* Out of fds or memory: pause accepting instead of spinning on the error. */
		log_error("accept on %s: %s; pausing for %d ms", wl->l->conf->text, strerror(-res),
			  ACCEPT_RETRY_MS);
		timer_set(&wl->w->timers, &wl->retry,
			  http_loop_now(&wl->w->http) + ACCEPT_RETRY_MS);
		return;
	}
	/* Handed over while stopping at once (see the loop in worker_main): no answer. */
	if (wl->w->fast_stop) {
		close(res);
		return;
	}
	ret = conn_accept(&wl->w->http, res);
	if (ret < 0) {
		log_warn("dropping a connection on %s: %s", wl->l->conf->text, strerror(-ret));
		close(res);
	}
	worker_make_room(wl->w);
}

/* Connections that stay open: those being reclaimed are on their way out. */
static size_t staying(const struct worker *w)
{
	return w->http.nconns - w->http.reclaiming;
}

/* Whether an idle connection can still be closed to make room for a new one. */
static bool can_reclaim(const struct worker *w)
{
	return w->http.nidle > w->http.reclaiming && w->http.reclaiming < RECLAIM_MAX;
}

/*
 * At the cap the longest-idle keep-alive connections make room for new clients, as in
 * nginx; only when every connection is busy does the worker stop accepting.
 */
void worker_make_room(struct worker *w)
{
	while (staying(w) > w->max_conns) {
		if (conn_reclaim_idle(&w->http) < 0) {
			pause_accepting(w);
			return;
		}
	}
	if (staying(w) >= w->max_conns && !can_reclaim(w))
		pause_accepting(w);
}

/*
 * At the connection cap the listeners stop accepting instead of accepting and dropping:
 * new clients wait in the listen queue (or go to another worker) until one leaves.
 */
static void pause_accepting(struct worker *w)
{
	if (w->http.accept_paused)
		return;
	w->http.accept_paused = true;
	log_warn("worker %u: %zu connections, the worker_connections cap: accepting paused", w->id,
		 w->http.nconns);
	for (size_t i = 0; i < w->nlisteners; i++) {
		struct worker_listener *wl = &w->listeners[i];

		timer_cancel(&w->timers, &wl->retry);
		rx_cancel(w->rx, &wl->h, &wl->op);
	}
}

void worker_may_accept(struct worker *w)
{
	if (!w->http.accept_paused || w->http.stopping ||
	    (staying(w) >= w->max_conns && !can_reclaim(w)))
		return;
	w->http.accept_paused = false;
	log_info("worker %u: %s: accepting again", w->id,
		 staying(w) < w->max_conns ? "below the worker_connections cap" :
					     "an idle connection can make room");
	for (size_t i = 0; i < w->nlisteners; i++)
		if (!w->listeners[i].h.closed && !w->listeners[i].h.rd)
			arm_accept(&w->listeners[i]);
}

static void listener_released(struct rx_handle *h)
{
	struct worker_listener *wl = container_of(h, struct worker_listener, h);

	wl->w->listening--;
}

/*
 * Draining for a reload: what already waits in the listen queue was promised an answer by
 * the kernel, and a wake-up meant for it may have come to this worker alone (exclusive
 * wake-ups), so take it all before letting go: each is served with "Connection: close".
 */
static void take_queued(struct worker *w, int fd)
{
	for (int i = 0; i < 4096; i++) {
		int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (c < 0)
			return;
		if (conn_accept(&w->http, c) < 0)
			close(c);
	}
}

static void stop_listening(struct worker *w)
{
	for (size_t i = 0; i < w->nlisteners; i++) {
		struct worker_listener *wl = &w->listeners[i];
		int fd = -1;

		timer_cancel(&w->timers, &wl->retry);
		if (wl->h.closed)
			continue;
		/* The reactor closes its fd; a copy keeps the queue reachable until emptied. */
		if (w->http.drain_idle_ms)
			fd = fcntl(wl->h.fd, F_DUPFD_CLOEXEC, 0);
		rx_close(w->rx, &wl->h, listener_released);
		if (fd >= 0) {
			take_queued(w, fd);
			close(fd);
		}
	}
}

/*
 * After a burst the cache holds what the busiest moment needed; what then goes unused
 * for a whole period is freed, so a quiet worker shrinks back to nothing. free() alone
 * keeps the memory in the process (blocks sit between longer-lived allocations, so the
 * heap top rarely moves): malloc_trim() gives the free pages back to the kernel, once a
 * period at most and only after blocks or connections went away.
 */
static void on_trim(struct timer *t)
{
	struct worker *w = container_of(t, struct worker, trim_timer);

	if (blk_cache_trim(&w->blocks) > 0 || w->http.nconns < w->trim_nconns)
		malloc_trim(0);
	w->trim_nconns = w->http.nconns;
	if (!w->http.stopping)
		timer_set(&w->timers, &w->trim_timer, w->http.now_ms + BLOCK_TRIM_MS);
}

static void on_stop_deadline(struct timer *t)
{
	struct worker *w = container_of(t, struct worker, stop_timer);

	log_warn("worker %u: graceful stop timed out, closing %zu connections", w->id,
		 w->http.nconns);
	conn_close_all(&w->http);
	/* Nor wait longer for the reactor to let go of the listeners: with no master left
	 * to kill this worker, the deadline must end it. */
	w->listening = 0;
}

/* Stops taking connections; the loop ends once the last one is closed. */
static void begin_stop(struct worker *w)
{
	if (!w->http.stopping)
		timer_set(&w->timers, &w->stop_timer,
			  http_loop_now(&w->http) + w->cfg->shutdown_timeout_ms);
	w->http.stopping = true;
	stop_listening(w);
}

static void on_signal(struct rx_op *op, int res)
{
	struct worker *w = container_of(op, struct worker, sig_op);
	int ret;

	if (res != (int)sizeof(w->siginfo)) {
		log_error("reading signals: %s", res < 0 ? strerror(-res) : "short read");
		w->fast_stop = true;
		begin_stop(w);
		conn_close_all(&w->http);
		return;
	}
	switch (w->siginfo.ssi_signo) {
	case SIGQUIT:
		/* The kernel's PR_SET_PDEATHSIG arrives as SIGQUIT too: tell them apart. */
		if (getppid() != w->master) {
			log_warn("worker %u: the master died; finishing in-flight requests", w->id);
			server_hook_master_death(w->srv);
		} else {
			log_info("worker %u: graceful stop", w->id);
		}
		/* Graceful: finish what is in flight, close what is idle, take nothing new. */
		w->http.drain_idle_ms = 0;
		begin_stop(w);
		conn_close_idle(&w->http);
		break;
	case SIGUSR2:
		/* Reload: the new generation accepts already. An idle connection may still
		 * carry a request its client is sending right now, so it gets a moment. */
		log_debug("worker %u: draining", w->id);
		w->http.drain_idle_ms = DRAIN_IDLE_MS;
		begin_stop(w);
		conn_drain_idle(&w->http, DRAIN_IDLE_MS);
		break;
	case SIGUSR1:
		if (w->cfg->log_file) {
			ret = warren__log_open(w->cfg->log_file);
			if (ret < 0)
				log_error("cannot reopen %s: %s", w->cfg->log_file, strerror(-ret));
		}
		/* The modules' own files (their logs) follow warren's, so rotation works. */
		server_hook_reopen(w->srv, true);
		break;
	default:
		w->fast_stop = true;
		begin_stop(w);
		conn_close_all(&w->http);
		return;
	}
	rx_recv(w->rx, &w->sig_h, &w->sig_op, &w->siginfo, sizeof(w->siginfo), on_signal);
}

static int open_listeners(struct worker *w, struct warren_error *err)
{
	struct server *srv = w->srv;
	int fd;

	w->listeners = calloc(srv->nlisteners, sizeof(*w->listeners));
	if (!w->listeners) {
		warren_error_set(err, "out of memory");
		return -ENOMEM;
	}
	w->nlisteners = srv->nlisteners;
	for (size_t i = 0; i < srv->nlisteners; i++) {
		struct worker_listener *wl = &w->listeners[i];
		int ret;

		wl->w = w;
		wl->l = &srv->listeners[i];
		timer_init(&wl->retry, on_accept_retry);
		fd = listener_worker_fd(wl->l, err);
		if (fd < 0)
			return fd;
		ret = rx_open(w->rx, &wl->h, fd, RX_F_LISTEN);
		if (ret < 0) {
			warren_error_set(err, "cannot watch %s: %s", wl->l->conf->text,
					 strerror(-ret));
			return ret;
		}
		w->listening++;
		arm_accept(wl);
	}
	return 0;
}

/* TERM/INT: stop now. QUIT: graceful stop (also the master-death signal). USR2: drain
 * for a reload. USR1: reopen the log file, then the modules' files (on_reopen). */
static void worker_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
}

static int open_signals(struct worker *w)
{
	sigset_t set;
	int fd, ret;

	worker_signals(&set);
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = rx_open(w->rx, &w->sig_h, fd, 0);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return rx_recv(w->rx, &w->sig_h, &w->sig_op, &w->siginfo, sizeof(w->siginfo), on_signal);
}

static void set_process_signals(void)
{
	sigset_t set;

	/* What the worker acts on stays blocked and arrives through the signalfd; HUP is
	 * the master's, so a stray one sent to a worker must not kill it. */
	signal(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	worker_signals(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
}

/* cpu_affinity "auto": worker i runs on the i-th CPU of the inherited mask. */
static void pin_cpu(unsigned id)
{
	cpu_set_t allowed, one;
	unsigned n = 0, want;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0 || CPU_COUNT(&allowed) == 0)
		return;
	want = id % (unsigned)CPU_COUNT(&allowed);
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &allowed) || n++ != want)
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one) < 0)
			log_warn("worker %u: cannot pin to CPU %d: %s", id, cpu, strerror(errno));
		return;
	}
}

/*
 * A connection is one fd: a cap above the open-files limit would end in accept errors,
 * so it is lowered to what fits beside the fds a worker needs for itself and modules.
 */
static void fit_open_files(struct worker *w)
{
	struct rlimit rl;
	rlim_t fit;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return;
	fit = rl.rlim_cur > OWN_FDS * 2 ? rl.rlim_cur - OWN_FDS : rl.rlim_cur / 2;
	if (fit >= w->max_conns)
		return;
	log_warn("worker %u: worker_connections %u lowered to %lu to fit the open-files limit "
		 "(%lu; raise it with ulimit -n)",
		 w->id, w->max_conns, (unsigned long)fit, (unsigned long)rl.rlim_cur);
	w->max_conns = (unsigned)fit;
}

void worker_main(struct server *srv, unsigned id, pid_t master, int notify_fd,
		 struct worker_beat *beat)
{
	struct warren_error err = {{0}};
	struct reactor *rx;
	struct worker w;
	int32_t me;
	int ret;

	/* Learn of the master's death at once, as a graceful stop; the getppid() check
	 * closes the race with a master that died between fork and prctl. */
	if (prctl(PR_SET_PDEATHSIG, SIGQUIT) < 0 || getppid() != master)
		_exit(1);
	set_process_signals();
	if (srv->cfg->cpu_affinity)
		pin_cpu(id);
	if (crash_guard_install(&w) < 0)
		log_warn("worker %u: no crash reports: %s", id, strerror(errno));

	ret = backend_create(srv->cfg->event, &rx, &err);
	if (ret < 0) {
		log_error("worker %u: %s", id, err.msg);
		_exit(1);
	}
	worker_init(&w, srv, rx);
	/* Even: running. Whatever a worker that had this slot before left there is gone. */
	__atomic_store_n(&beat->count, 0, __ATOMIC_RELAXED);
	rx->beat = &beat->count;
	w.id = id;
	w.http.id = id;
	w.master = master;
	timer_init(&w.stop_timer, on_stop_deadline);
	timer_init(&w.trim_timer, on_trim);
	timer_set(&w.timers, &w.trim_timer, w.http.now_ms + BLOCK_TRIM_MS);
	/* http-parser's own cap on a head is process-wide; ours must be the one that bites. */
	if (srv->cfg->max_header_size >= HTTP_MAX_HEADER_SIZE)
		http_parser_set_max_header_size((uint32_t)srv->cfg->max_header_size + 1024);
	ret = open_signals(&w);
	if (ret < 0) {
		log_error("worker %u: cannot watch signals: %s", id, strerror(-ret));
		_exit(1);
	}
	ret = open_listeners(&w, &err);
	if (ret < 0) {
		log_error("worker %u: %s", id, err.msg);
		_exit(1);
	}
	ret = server_worker_init(srv, &err);
	if (ret < 0) {
		log_error("worker %u: %s", id, err.msg);
		_exit(1);
	}
	fit_open_files(&w);
	log_debug("worker %u running on %s", id, rx->ops->name);
	/* Tell the master this worker accepts: a reload switches over only then. */
	me = (int32_t)getpid();
	if (write(notify_fd, &me, sizeof(me)) != (ssize_t)sizeof(me))
		log_warn("worker %u: cannot notify the master: %s", id, strerror(errno));
	close(notify_fd);

	/*
	 * A stopping worker runs until its last connection is done and its listeners are
	 * released: an io_uring accept may still hand over a connection the kernel took
	 * before the cancel, and that client is waiting for an answer.
	 */
	while (!w.http.stopping || w.http.nconns > 0 || w.listening > 0) {
		ret = reactor_run(rx, timer_next_ms(&w.timers, w.http.now_ms));
		if (ret < 0) {
			log_error("worker %u: event loop: %s", id, strerror(-ret));
			break;
		}
		/* Callbacks may have run long; expire against the clock as it is now. */
		worker_update_time(&w);
		timer_run(&w.timers, w.http.now_ms);
	}

	/* Cleanups of requests whose jobs were still out are module code: before worker_exit. */
	offload_stop(&w.http);
	server_worker_exit(srv);
	rx_close(rx, &w.sig_h, NULL);
	stop_listening(&w);
	/* One more turn lets the reactor release what was closed. */
	reactor_run(rx, 0);
	reactor_destroy(rx);
	worker_fini(&w);
	exit(ret < 0 ? 1 : 0);
}

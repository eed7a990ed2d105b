/* core/worker.c - one worker process: created by fork in the master, it runs its own
 * reactor over the inherited listening sockets until told to stop. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "worker.h"

/* How long to wait before accepting again after running out of fds. */
#define ACCEPT_RETRY_MS 100
/* Bound on a graceful stop (SIGQUIT) before the remaining connections are cut. */
#define GRACEFUL_STOP_MS 10000

void worker_update_time(struct worker *w)
{
	struct timespec ts;
	struct tm tm;

	w->now_ms = timer_now_ms();
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	if (ts.tv_sec == w->date_sec)
		return;
	w->date_sec = ts.tv_sec;
	gmtime_r(&ts.tv_sec, &tm);
	strftime(w->date, sizeof(w->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void on_wake(void *arg)
{
	worker_update_time(arg);
}

int worker_init(struct worker *w, struct server *srv, struct reactor *rx)
{
	memset(w, 0, sizeof(*w));
	w->srv = srv;
	w->cfg = srv->cfg;
	w->rx = rx;
	w->date_sec = -1;
	worker_update_time(w);
	if (rx) {
		rx->wake = on_wake;
		rx->wake_arg = w;
	}
	return 0;
}

void worker_fini(struct worker *w)
{
	timer_heap_free(&w->timers);
	free(w->listeners);
	w->listeners = NULL;
}

static void on_accept(struct rx_op *op, int res);

static void arm_accept(struct worker_listener *wl)
{
	int ret = rx_accept(wl->w->rx, &wl->h, &wl->op, on_accept);

	if (ret < 0) {
		log_error("cannot accept on %s: %s", wl->l->conf->text, strerror(-ret));
		timer_set(&wl->w->timers, &wl->retry, wl->w->now_ms + ACCEPT_RETRY_MS);
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
		timer_set(&wl->w->timers, &wl->retry, wl->w->now_ms + ACCEPT_RETRY_MS);
		return;
	}
	ret = conn_accept(wl->w, res);
	if (ret < 0) {
		log_warn("dropping a connection on %s: %s", wl->l->conf->text, strerror(-ret));
		close(res);
	}
}

static void stop_listening(struct worker *w)
{
	for (size_t i = 0; i < w->nlisteners; i++) {
		struct worker_listener *wl = &w->listeners[i];

		timer_cancel(&w->timers, &wl->retry);
		if (!wl->h.closed)
			rx_close(w->rx, &wl->h, NULL);
	}
}

static void on_stop_deadline(struct timer *t)
{
	struct worker *w = container_of(t, struct worker, stop_timer);

	log_warn("worker %u: graceful stop timed out, closing %zu connections", w->id, w->nconns);
	conn_close_all(w);
}

static void on_signal(struct rx_op *op, int res)
{
	struct worker *w = container_of(op, struct worker, sig_op);

	if (res != (int)sizeof(w->siginfo)) {
		log_error("reading signals: %s", res < 0 ? strerror(-res) : "short read");
		w->stopping = true;
		stop_listening(w);
		conn_close_all(w);
		return;
	}
	switch (w->siginfo.ssi_signo) {
	case SIGQUIT:
		/* Graceful: finish what is in flight, close what is idle, take nothing new. */
		log_info("worker %u: graceful stop", w->id);
		w->stopping = true;
		stop_listening(w);
		conn_close_idle(w);
		timer_set(&w->timers, &w->stop_timer, w->now_ms + GRACEFUL_STOP_MS);
		break;
	default:
		w->stopping = true;
		stop_listening(w);
		conn_close_all(w);
		return;
	}
	rx_recv(w->rx, &w->sig_h, &w->sig_op, &w->siginfo, sizeof(w->siginfo), on_signal);
}

static int open_listeners(struct worker *w)
{
	struct server *srv = w->srv;

	w->listeners = calloc(srv->nlisteners, sizeof(*w->listeners));
	if (!w->listeners)
		return -ENOMEM;
	w->nlisteners = srv->nlisteners;
	for (size_t i = 0; i < srv->nlisteners; i++) {
		struct worker_listener *wl = &w->listeners[i];
		int ret;

		wl->w = w;
		wl->l = &srv->listeners[i];
		timer_init(&wl->retry, on_accept_retry);
		ret = rx_open(w->rx, &wl->h, wl->l->fd, RX_F_LISTEN);
		if (ret < 0)
			return ret;
		arm_accept(wl);
	}
	return 0;
}

static int open_signals(struct worker *w)
{
	sigset_t set;
	int fd, ret;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
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

	/* TERM/INT/QUIT stay blocked and arrive through the signalfd; the master owns
	 * HUP and USR1, so a stray one sent to a worker must not kill it. */
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigprocmask(SIG_SETMASK, &set, NULL);
}

void worker_main(struct server *srv, unsigned id, pid_t master)
{
	struct warren_error err = {{0}};
	struct reactor *rx;
	struct worker w;
	int ret;

	/* Die with the master; the getppid() check closes the race with a master that died
	 * between fork and prctl. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != master)
		_exit(1);
	set_process_signals();
	if (crash_guard_install(&w) < 0)
		log_warn("worker %u: no crash reports: %s", id, strerror(errno));

	ret = reactor_create(srv->cfg->event, &rx, &err);
	if (ret < 0) {
		log_error("worker %u: %s", id, err.msg);
		_exit(1);
	}
	worker_init(&w, srv, rx);
	w.id = id;
	timer_init(&w.stop_timer, on_stop_deadline);
	/* http-parser's own cap on a head is process-wide; ours must be the one that bites. */
	if (srv->cfg->max_header_size >= HTTP_MAX_HEADER_SIZE)
		http_parser_set_max_header_size((uint32_t)srv->cfg->max_header_size + 1024);
	ret = open_signals(&w);
	if (ret == 0)
		ret = open_listeners(&w);
	if (ret < 0) {
		log_error("worker %u: cannot start: %s", id, strerror(-ret));
		_exit(1);
	}
	ret = server_worker_init(srv, &err);
	if (ret < 0) {
		log_error("worker %u: %s", id, err.msg);
		_exit(1);
	}
	log_debug("worker %u running on %s", id, rx->ops->name);

	while (!w.stopping || w.nconns > 0) {
		ret = reactor_run(rx, timer_next_ms(&w.timers, w.now_ms));
		if (ret < 0) {
			log_error("worker %u: event loop: %s", id, strerror(-ret));
			break;
		}
		/* Callbacks may have run long; expire against the clock as it is now. */
		worker_update_time(&w);
		timer_run(&w.timers, w.now_ms);
	}

	server_worker_exit(srv);
	rx_close(rx, &w.sig_h, NULL);
	stop_listening(&w);
	/* One more turn lets the reactor release what was closed. */
	reactor_run(rx, 0);
	reactor_destroy(rx);
	worker_fini(&w);
	exit(ret < 0 ? 1 : 0);
}

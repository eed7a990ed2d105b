/* core/http/async.c - what lets a handler answer later: request timers, watches on the module's
 * file descriptors, and each worker's offload threads, whose results come back to the
 * event loop through an eventfd. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/crash_thread.h"
#include "http/async.h"
#include "http/request.h"
#include "base/log.h"

struct offload_job {
	struct offload_job *next;
	struct warren_request *r;
	const char *what; /* the handler that queued it, for a crash report */
	uint8_t holder;	  /* the request's holder then: a hook that continued gets no done */
	void (*work)(void *arg);
	void (*done)(struct warren_request *r, void *arg);
	void *arg;
};

struct offload {
	struct http_loop *loop;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct offload_job *queue, **queue_tail;       /* waiting for a thread */
	struct offload_job *finished, **finished_tail; /* back, waiting for the loop */
	bool stop;
	pthread_t *threads;
	unsigned nthreads;
	int efd;
	struct rx_handle h;
	struct rx_op op;
	uint64_t count;
};

/* ---- Timers ---------------------------------------------------------------------------- */

static void unlink_timer(struct warren_timer *t)
{
	for (struct warren_timer **link = &t->r->timers; *link; link = &(*link)->next) {
		if (*link == t) {
			*link = t->next;
			break;
		}
	}
}

static void on_request_timer(struct timer *tm)
{
	struct warren_timer *t = container_of(tm, struct warren_timer, t);
	struct warren_request *r = t->r;
	struct http_loop *loop = r->carrier->loop;

	unlink_timer(t);
	module_enter(loop, r, handler_id(r));
	t->fn(r, t->arg);
	module_leave(loop, r);
}

WARREN_API int warren_timer_add(struct warren_request *r, uint64_t ms, warren_timer_fn fn,
				void *arg, struct warren_timer **timer)
{
	struct http_loop *loop = r->carrier->loop;
	struct warren_timer *t;

	if (!fn || !request_answerable(r))
		return -EINVAL;
	if (ms > UINT64_MAX / 2)
		ms = UINT64_MAX / 2;
	t = pool_alloc(r->carrier->pool, sizeof(*t));
	if (!t)
		return -ENOMEM;
	timer_init(&t->t, on_request_timer);
	t->r = r;
	t->fn = fn;
	t->arg = arg;
	if (timer_set(loop->timers, &t->t, http_loop_now(loop) + ms) < 0)
		return -ENOMEM;
	t->next = r->timers;
	r->timers = t;
	if (timer)
		*timer = t;
	return 0;
}

WARREN_API void warren_timer_cancel(struct warren_timer *t)
{
	if (!t || !timer_armed(&t->t))
		return;
	timer_cancel(t->r->carrier->loop->timers, &t->t);
	unlink_timer(t);
}

/* ---- Watches --------------------------------------------------------------------------- */

static void watch_free(struct rx_handle *h)
{
	free(container_of(h, struct warren_watch, h));
}

void async_watch_close(struct http_loop *loop, struct warren_watch *wt)
{
	rx_close(loop->rx, &wt->h, watch_free);
}

static void unlink_watch(struct warren_watch *wt)
{
	for (struct warren_watch **link = &wt->r->watches; *link; link = &(*link)->next) {
		if (*link == wt) {
			*link = wt->next;
			break;
		}
	}
}

static void on_watch(struct rx_op *op, int res)
{
	struct warren_watch *wt = container_of(op, struct warren_watch, op);
	struct warren_request *r = wt->r;
	struct http_loop *loop = r->carrier->loop;
	warren_fd_fn fn = wt->fn;
	void *arg = wt->arg;
	int fd = wt->h.fd;
	unsigned events = 0;

	if (res < 0)
		events = WARREN_FD_ERROR;
	else {
		if (res & POLLIN)
			events |= WARREN_FD_READ;
		if (res & POLLOUT)
			events |= WARREN_FD_WRITE;
		if (res & (POLLERR | POLLHUP | POLLNVAL))
			events |= WARREN_FD_ERROR;
	}
	/* One-shot: the watch is gone before its callback, which may watch the fd again. */
	unlink_watch(wt);
	async_watch_close(loop, wt);
	module_enter(loop, r, handler_id(r));
	fn(r, fd, events, arg);
	module_leave(loop, r);
}

WARREN_API int warren_fd_watch(struct warren_request *r, int fd, unsigned events, warren_fd_fn fn,
			       void *arg, struct warren_watch **watch)
{
	struct http_loop *loop = r->carrier->loop;
	struct warren_watch *wt;
	unsigned mask = 0;
	int ret;

	if (!fn || fd < 0 || !request_answerable(r) ||
	    !(events & (WARREN_FD_READ | WARREN_FD_WRITE)) ||
	    (events & ~(unsigned)(WARREN_FD_READ | WARREN_FD_WRITE)))
		return -EINVAL;
	if (events & WARREN_FD_READ)
		mask |= POLLIN;
	if (events & WARREN_FD_WRITE)
		mask |= POLLOUT;
	wt = calloc(1, sizeof(*wt));
	if (!wt)
		return -ENOMEM;
	ret = rx_open(loop->rx, &wt->h, fd, RX_F_FOREIGN);
	if (ret < 0) {
		free(wt);
		return ret;
	}
	wt->r = r;
	wt->fn = fn;
	wt->arg = arg;
	ret = rx_poll(loop->rx, &wt->h, &wt->op, mask, on_watch);
	if (ret < 0) {
		async_watch_close(loop, wt);
		return ret;
	}
	wt->next = r->watches;
	r->watches = wt;
	if (watch)
		*watch = wt;
	return 0;
}

WARREN_API void warren_fd_unwatch(struct warren_watch *wt)
{
	if (!wt)
		return;
	unlink_watch(wt);
	async_watch_close(wt->r->carrier->loop, wt);
}

/* ---- Offload threads ------------------------------------------------------------------- */

_Thread_local bool async_offload_thread;

static void *offload_thread(void *arg)
{
	struct offload *o = arg;

	async_offload_thread = true;
	pthread_mutex_lock(&o->lock);
	for (;;) {
		struct offload_job *j;
		uint64_t one = 1;

		while (!o->stop && !o->queue)
			pthread_cond_wait(&o->wake, &o->lock);
		if (o->stop)
			break;
		j = o->queue;
		o->queue = j->next;
		if (!o->queue)
			o->queue_tail = &o->queue;
		pthread_mutex_unlock(&o->lock);

		crash_thread_enter(j->what, " (offload work)");
		j->work(j->arg);
		crash_thread_leave();

		pthread_mutex_lock(&o->lock);
		j->next = NULL;
		*o->finished_tail = j;
		o->finished_tail = &j->next;
		/* The eventfd counter never blocks a writer short of 2^64 - 1 wake-ups. */
		if (write(o->efd, &one, sizeof(one)) < 0)
			log_error("offload: cannot wake the worker: %s", strerror(errno));
	}
	pthread_mutex_unlock(&o->lock);
	return NULL;
}

/* A job is back (or dropped): its request's carrier may free what waited for it. */
static void job_finish(struct offload_job *j, bool run_done)
{
	struct warren_request *r = j->r;
	struct req_carrier *ca = r->carrier;

	ca->ops->job_end(ca);
	if (run_done && !ca->ops->closed(ca) && request_answerable(r) && j->holder == r->holder) {
		module_enter(ca->loop, r, handler_id(r));
		j->done(r, j->arg);
		module_leave(ca->loop, r);
	}
	free(j);
	ca->ops->jobs_back(ca);
}

static void on_offload_wake(struct rx_op *op, int res);

static void offload_arm(struct offload *o)
{
	int ret = rx_recv(o->loop->rx, &o->h, &o->op, &o->count, sizeof(o->count), on_offload_wake);

	if (ret < 0)
		log_error("offload: cannot wait for finished jobs: %s", strerror(-ret));
}

static void on_offload_wake(struct rx_op *op, int res)
{
	struct offload *o = container_of(op, struct offload, op);
	struct offload_job *done;

	(void)res;
	pthread_mutex_lock(&o->lock);
	done = o->finished;
	o->finished = NULL;
	o->finished_tail = &o->finished;
	pthread_mutex_unlock(&o->lock);
	while (done) {
		struct offload_job *j = done;

		done = j->next;
		job_finish(j, true);
	}
	offload_arm(o);
}

static void offload_free(struct offload *o)
{
	free(o->threads);
	pthread_cond_destroy(&o->wake);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

static void offload_release(struct rx_handle *h)
{
	offload_free(container_of(h, struct offload, h));
}

/*
 * Tells the threads to exit once their job is done; true when all of them did within
 * @ms. A job's cleanups are module code that must run, but one that blocks for good
 * must not hold the worker's exit for longer than a stop may take.
 */
static bool offload_join(struct offload *o, unsigned ms)
{
	struct timespec deadline;

	pthread_mutex_lock(&o->lock);
	o->stop = true;
	pthread_cond_broadcast(&o->wake);
	pthread_mutex_unlock(&o->lock);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (long)(ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	for (unsigned i = 0; i < o->nthreads; i++) {
		if (pthread_timedjoin_np(o->threads[i], NULL, &deadline) != 0) {
			for (; i < o->nthreads; i++)
				pthread_detach(o->threads[i]);
			return false;
		}
	}
	return true;
}

static int offload_start(struct http_loop *loop)
{
	unsigned want = loop->limits.offload_threads;
	struct offload *o = calloc(1, sizeof(*o));
	int ret;

	if (!o)
		return -ENOMEM;
	o->loop = loop;
	o->queue_tail = &o->queue;
	o->finished_tail = &o->finished;
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->wake, NULL);
	o->threads = calloc(want, sizeof(*o->threads));
	if (!o->threads) {
		ret = -ENOMEM;
		goto out_free;
	}
	o->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (o->efd < 0) {
		ret = -errno;
		goto out_free;
	}
	for (unsigned i = 0; i < want; i++) {
		ret = pthread_create(&o->threads[o->nthreads], NULL, offload_thread, o);
		if (ret == 0)
			o->nthreads++;
		else
			log_warn("offload: started %u of %u threads: %s", o->nthreads, want,
				 strerror(ret));
	}
	if (o->nthreads == 0) {
		ret = -EAGAIN;
		goto out_close_efd;
	}
	ret = rx_open(loop->rx, &o->h, o->efd, 0);
	if (ret < 0)
		goto out_join;
	loop->offload = o;
	offload_arm(o);
	return 0;

out_join:
	/* Idle threads: they exit at once, and must be gone before o is freed. */
	pthread_mutex_lock(&o->lock);
	o->stop = true;
	pthread_cond_broadcast(&o->wake);
	pthread_mutex_unlock(&o->lock);
	for (unsigned i = 0; i < o->nthreads; i++)
		pthread_join(o->threads[i], NULL);
out_close_efd:
	close(o->efd);
out_free:
	offload_free(o);
	return ret;
}

void offload_stop(struct http_loop *loop)
{
	struct offload *o = loop->offload;
	struct offload_job *left;

	if (!o)
		return;
	loop->offload = NULL;
	if (!offload_join(o, loop->limits.shutdown_timeout_ms)) {
		/* The memory stays with the thread that is still running. */
		log_warn("offload: a job is still running as the worker stops");
		return;
	}
	/* Jobs never started, and results never collected: their connections are gone. */
	pthread_mutex_lock(&o->lock);
	left = o->queue;
	o->queue = NULL;
	pthread_mutex_unlock(&o->lock);
	while (left) {
		struct offload_job *j = left;

		left = j->next;
		job_finish(j, false);
	}
	left = o->finished;
	o->finished = NULL;
	while (left) {
		struct offload_job *j = left;

		left = j->next;
		job_finish(j, false);
	}
	rx_close(loop->rx, &o->h, offload_release);
}

WARREN_API int warren_offload(struct warren_request *r, void (*work)(void *arg),
			      void (*done)(struct warren_request *r, void *arg), void *arg)
{
	struct http_loop *loop = r->carrier->loop;
	struct offload_job *j;
	int ret;

	if (!work || !done || !request_answerable(r))
		return -EINVAL;
	if (!loop->offload) {
		ret = offload_start(loop);
		if (ret < 0)
			return ret;
	}
	j = malloc(sizeof(*j));
	if (!j)
		return -ENOMEM;
	*j = (struct offload_job){.r = r,
				  .what = handler_id(r),
				  .holder = r->holder,
				  .work = work,
				  .done = done,
				  .arg = arg};
	r->carrier->ops->job_start(r->carrier);
	pthread_mutex_lock(&loop->offload->lock);
	*loop->offload->queue_tail = j;
	loop->offload->queue_tail = &j->next;
	pthread_cond_signal(&loop->offload->wake);
	pthread_mutex_unlock(&loop->offload->lock);
	return 0;
}

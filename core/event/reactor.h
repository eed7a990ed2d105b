/* core/event/reactor.h - the completion-style event loop interface every worker runs on.
 *
 * Callers ask for operations ("accept on this socket", "receive into this buffer",
 * "send these iovecs") and get a callback when each completes, which is io_uring's
 * native model; the epoll backend emulates it by doing the syscall once the fd is ready.
 * Connection and HTTP code are written once against this interface.
 */
#ifndef WARREN_CORE_REACTOR_H
#define WARREN_CORE_REACTOR_H

#include <errno.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "base/common.h"
#include "base/pool.h"
#include "event/post.h"

struct reactor;
struct rx_op;
struct rx_handle;

/*
 * Completion callback. @res is what the syscall returned: a new fd (accept), a byte
 * count (recv: 0 means end of stream; send: may be short), or a negative errno.
 * Callbacks only ever run from reactor_run(), never from inside a submit call.
 */
typedef void (*rx_cb)(struct rx_op *op, int res);

/* Called once no completion can reference the handle any more: memory may be freed. */
typedef void (*rx_release_fn)(struct rx_handle *h);

enum rx_op_kind {
	RX_ACCEPT,
	RX_RECV,
	RX_SEND,
	RX_POLL,     /* a one-shot wait for readiness; the result is the poll(2) revents */
	RX_SENDFILE, /* sendfile(2) from a file to the handle once it is writable */
};

struct rx_op {
	rx_cb cb;
	struct rx_handle *h;
	enum rx_op_kind kind;
	bool pending; /* submitted and not completed */
	union {
		struct {
			void *buf;
			size_t len;
		} recv;
		struct {
			const struct iovec *iov;
			int iovcnt;
		} send;
		struct {
			unsigned events; /* POLLIN and/or POLLOUT */
		} poll;
		struct {
			int fd;
			off_t *offset; /* advanced by what was sent */
			size_t len;
		} sendfile;
	};
	/* backend-private */
	bool queued;
	bool chose;   /* a receive whose buffer the backend chose */
	uint16_t tag; /* io_uring: which arming of a re-armed request is current */
	int res;
	struct rx_op *next_done;
};

enum {
	RX_F_LISTEN = 1 << 0, /* a listening socket shared between workers */
	/*
	 * Somebody else's fd (a module's), only ever polled: the reactor neither reads,
	 * writes nor closes it, and caches no readiness, since others do its I/O.
	 */
	RX_F_FOREIGN = 1 << 1,
};

struct rx_handle {
	int fd;
	unsigned flags;
	bool closed;
	/* backend-private */
	bool readable, writable, hup, registered;
	bool is_socket;	   /* io_uring: native RECV/WRITEV; anything else is polled */
	unsigned inflight; /* io_uring: submissions whose last completion has not come */
	struct rx_op *rd, *wr;
	rx_release_fn release;
	struct rx_handle *next_closed;
};

struct reactor_ops {
	const char *name;
	/* Registers @fd (non-blocking) with the reactor. */
	int (*open)(struct reactor *rx, struct rx_handle *h, int fd, unsigned flags);
	/*
	 * Drops pending operations without calling their callbacks, closes the fd (unless
	 * RX_F_FOREIGN), and calls @release once the backend holds no reference to @h any more.
	 */
	void (*close)(struct reactor *rx, struct rx_handle *h, rx_release_fn release);
	/*
	 * Submit @op, which rx_accept/rx_recv/rx_send have checked, filled in and made the
	 * handle's pending read or write. On failure the wrappers undo that.
	 * accept is multishot: the callback runs once per accepted connection until the
	 * handle is closed; a negative result (e.g. -EMFILE) disarms it.
	 */
	int (*accept)(struct reactor *rx, struct rx_handle *h, struct rx_op *op);
	int (*recv)(struct reactor *rx, struct rx_handle *h, struct rx_op *op);
	int (*send)(struct reactor *rx, struct rx_handle *h, struct rx_op *op);
	/*
	 * A poll is the handle's read; a sendfile its write. A poll waits for POLLIN and
	 * POLLOUT only on RX_F_FOREIGN handles; on a connection it waits for POLLRDHUP (the
	 * peer closed or reset), without taking any data.
	 */
	int (*poll)(struct reactor *rx, struct rx_handle *h, struct rx_op *op);
	int (*sendfile)(struct reactor *rx, struct rx_handle *h, struct rx_op *op);
	/* Drops @op, pending on @h, without running its callback; @op may be reused at once. */
	void (*cancel)(struct reactor *rx, struct rx_handle *h, struct rx_op *op);
	/* See rx_recv_end(). */
	int (*recv_end)(struct reactor *rx, struct rx_handle *h, struct rx_op *op);
	/* Takes back a buffer a receive chose (see rx_recv()). */
	void (*buf_put)(struct reactor *rx, void *buf);
	/* See rx_buf_keep(). */
	void *(*buf_keep)(struct reactor *rx, void *buf, size_t len, bool *lent);
	/*
	 * Runs what was posted before the call (rx_post()), then waits up to @timeout_ms (-1:
	 * no limit; 0 while anything is posted) and runs every completion that arrived.
	 */
	int (*run)(struct reactor *rx, int timeout_ms);
	void (*destroy)(struct reactor *rx);
};

struct reactor {
	const struct reactor_ops *ops;
	/* Called by run() as soon as the wait returns, before any callback: the owner's
	 * clock must be fresh when callbacks arm timers after a long sleep. */
	void (*wake)(void *arg);
	void *wake_arg;
	/* Where buffers chosen for receives come from when the kernel does not provide them. */
	struct blk_cache *blocks;
	/*
	 * When set, run() counts here, in memory another process reads: one step just before
	 * it waits in the kernel (odd while it waits) and one as the wait returns (even while
	 * callbacks run). A count that stays even for long is a loop stuck in a callback; an
	 * idle loop is never mistaken for one.
	 */
	uint64_t *beat;
	/* Work for the next turn (rx_post()); backends run it first thing in run(). */
	struct post_queue posted;
};

/* Which backend to run on. The event layer knows no config: core/server translates. */
enum rx_backend {
	RX_BACKEND_AUTO = 0, /* io_uring when this process may use it, else epoll */
	RX_BACKEND_IO_URING,
	RX_BACKEND_EPOLL,
};

/*
 * Creates the backend @backend names. RX_BACKEND_AUTO tries io_uring and, if this process
 * may not use it, logs one line saying why and runs on epoll; RX_BACKEND_IO_URING fails
 * instead, with only the reason io_uring is unavailable in @err (the caller knows who
 * asked for it and says so).
 */
int reactor_create(enum rx_backend backend, struct reactor **out, struct warren_error *err);

/*
 * For the master, once before fork: checks that @*backend can run in this process, so a
 * forced io_uring that is unavailable fails at start-up (the bare reason in @err, as for
 * reactor_create()) instead of in every worker, and turns RX_BACKEND_AUTO into
 * RX_BACKEND_EPOLL (logging why, once) when io_uring is unavailable. Leaves no ring behind.
 */
int reactor_probe(enum rx_backend *backend, struct warren_error *err);

static inline int rx_open(struct reactor *rx, struct rx_handle *h, int fd, unsigned flags)
{
	return rx->ops->open(rx, h, fd, flags);
}

static inline void rx_close(struct reactor *rx, struct rx_handle *h, rx_release_fn release)
{
	rx->ops->close(rx, h, release);
}

/* What every submission shares: one pending read and one pending write per handle. */
static inline int rx_submit(struct reactor *rx, struct rx_handle *h, struct rx_op *op,
			    enum rx_op_kind kind, rx_cb cb,
			    int (*submit)(struct reactor *, struct rx_handle *, struct rx_op *))
{
	struct rx_op **slot = kind == RX_SEND || kind == RX_SENDFILE ? &h->wr : &h->rd;
	int ret;

	if (h->closed)
		return -EBADF;
	if (*slot)
		return -EBUSY;
	op->cb = cb;
	op->h = h;
	op->kind = kind;
	op->pending = true;
	*slot = op;
	ret = submit(rx, h, op);
	if (ret < 0 && *slot == op) {
		*slot = NULL;
		op->pending = false;
	}
	return ret;
}

static inline int rx_accept(struct reactor *rx, struct rx_handle *h, struct rx_op *op, rx_cb cb)
{
	return rx_submit(rx, h, op, RX_ACCEPT, cb, rx->ops->accept);
}

/*
 * Receives into @buf, or, when @buf is NULL, into a BUF_BLOCK buffer the backend chooses
 * once data is there (io_uring: from its provided-buffer ring; epoll: a cached block), so
 * a connection waiting for its next request holds no buffer. The completion then finds it
 * in op->recv.buf (op->recv.len its size); the caller owns it until rx_buf_put(). A
 * choosing receive may fail with -ENOBUFS when the ring is empty: try again with a buffer.
 */
static inline int rx_recv(struct reactor *rx, struct rx_handle *h, struct rx_op *op, void *buf,
			  size_t len, rx_cb cb)
{
	op->recv.buf = buf;
	op->recv.len = len > INT32_MAX ? INT32_MAX : len;
	return rx_submit(rx, h, op, RX_RECV, cb, rx->ops->recv);
}

static inline int rx_send(struct reactor *rx, struct rx_handle *h, struct rx_op *op,
			  const struct iovec *iov, int iovcnt, rx_cb cb)
{
	op->send.iov = iov;
	op->send.iovcnt = iovcnt;
	return rx_submit(rx, h, op, RX_SEND, cb, rx->ops->send);
}

static inline void rx_cancel(struct reactor *rx, struct rx_handle *h, struct rx_op *op)
{
	if (!op->pending || h->closed)
		return;
	rx->ops->cancel(rx, h, op);
	if (h->rd == op)
		h->rd = NULL;
	else if (h->wr == op)
		h->wr = NULL;
	op->pending = false;
}

/*
 * Ends the receive @op pending on @h early, for a connection about to be closed: its
 * callback still runs, from run(), with what it received if data came first (nothing the
 * client sent is lost), else with -ECANCELED. Returns 0, or a negative errno when the
 * backend cannot end it now (it then stays pending as it was).
 */
static inline int rx_recv_end(struct reactor *rx, struct rx_handle *h, struct rx_op *op)
{
	if (!op->pending || h->closed || op->kind != RX_RECV)
		return -EINVAL;
	return rx->ops->recv_end(rx, h, op);
}

static inline void rx_buf_put(struct reactor *rx, void *buf)
{
	rx->ops->buf_put(rx, buf);
}

/*
 * The caller keeps a chosen buffer holding @len bytes: returns the buffer to use, which
 * is either the caller's own block now (*@lent false: blk_put() it when done) or still
 * the reactor's (*@lent true: rx_buf_put() it, and soon, since the reactor has few). A
 * reactor short of its own buffers copies the bytes into a block instead.
 */
static inline void *rx_buf_keep(struct reactor *rx, void *buf, size_t len, bool *lent)
{
	return rx->ops->buf_keep(rx, buf, len, lent);
}

/* Waits once for @events (see reactor_ops.poll). */
static inline int rx_poll(struct reactor *rx, struct rx_handle *h, struct rx_op *op,
			  unsigned events, rx_cb cb)
{
	op->poll.events = events;
	return rx_submit(rx, h, op, RX_POLL, cb, rx->ops->poll);
}

/* Sends up to @len bytes of @fd from *@offset, which is advanced; the result is the count. */
static inline int rx_sendfile(struct reactor *rx, struct rx_handle *h, struct rx_op *op, int fd,
			      off_t *offset, size_t len, rx_cb cb)
{
	op->sendfile.fd = fd;
	op->sendfile.offset = offset;
	op->sendfile.len = len > INT32_MAX ? INT32_MAX : len;
	return rx_submit(rx, h, op, RX_SENDFILE, cb, rx->ops->sendfile);
}

/*
 * Has @p's fn called from the next reactor_run(), before that run waits; the run waits
 * with a zero timeout if anything is still posted then. Posting what is posted already
 * does nothing; what a posted fn posts runs on the turn after. Set @p up with post_init()
 * and keep it alive while posted, or take it back with rx_post_cancel().
 */
static inline void rx_post(struct reactor *rx, struct rx_post *p)
{
	post_add(&rx->posted, p);
}

/* Takes @p back if it is posted: its fn will not run. */
static inline void rx_post_cancel(struct reactor *rx, struct rx_post *p)
{
	(void)rx;
	post_cancel(p);
}

/* For backends: first thing in run(); returns the timeout the wait may use after it. */
static inline int rx_run_posted(struct reactor *rx, int timeout_ms)
{
	post_queue_run(&rx->posted);
	return post_queue_empty(&rx->posted) ? timeout_ms : 0;
}

/* For backends, around the wait in the kernel: see reactor.beat. */
static inline void rx_beat(struct reactor *rx)
{
	if (rx->beat)
		__atomic_store_n(rx->beat, *rx->beat + 1, __ATOMIC_RELAXED);
}

/* For backends: ends a one-shot operation (or a disarmed accept) and runs its callback. */
static inline void rx_finish(struct rx_op *op, int res)
{
	struct rx_handle *h = op->h;

	op->pending = false;
	if (h->rd == op)
		h->rd = NULL;
	else if (h->wr == op)
		h->wr = NULL;
	op->cb(op, res);
}

static inline int reactor_run(struct reactor *rx, int timeout_ms)
{
	return rx->ops->run(rx, timeout_ms);
}

static inline void reactor_destroy(struct reactor *rx)
{
	if (rx) {
		/* What is still posted is dropped, never run: its owners see it unposted. */
		post_queue_drop(&rx->posted);
		rx->ops->destroy(rx);
	}
}

#endif /* WARREN_CORE_REACTOR_H */

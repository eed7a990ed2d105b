/* core/event/reactor_uring.c - the io_uring backend of the completion-style reactor: every
 * operation is a submission, and its completion runs the caller's callback from run().
 *
 * Connections use the native operations (RECV, WRITEV); a sendfile waits in a poll for
 * POLLOUT, then calls sendfile(2). A listener is not an IORING_OP_ACCEPT but a multishot
 * POLLIN poll whose every wake-up runs accept4() until the queue is empty (submit_op()
 * says why): on a listener the workers share, each worker's poll wakes for a connection,
 * the first accept4() takes it and the others find EAGAIN. Other fds (the worker's
 * signalfd) are polled, then read or written with the plain syscall as the epoll backend
 * does: they are cold, and the result never depends on how a kernel's io_uring treats a
 * non-blocking file that is not a socket.
 *
 * A closed handle may still be named by submissions in flight: close cancels them, and
 * the fd is closed and the handle released only once the last of their completions is in.
 * Keeping the fd open until then also means that a submission still queued for it can
 * never reach a newer file that happens to get the same number.
 */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>
/* Memcheck cannot see the kernel fill a buffer behind a completion: the backend tells it. */
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#else
#define VALGRIND_MAKE_MEM_DEFINED(addr, len) ((void)(addr), (void)(len))
#define RUNNING_ON_VALGRIND 0
#endif
/* Under valgrind, how long the loop sleeps between two looks at the ring (see ur_run()). */
#define VALGRIND_NAP_NS 1000000

#include "event/reactor_uring.h"

#define RING_ENTRIES 1024
/* Submitting a full queue frees it at once; a kernel short of memory gets a few tries. */
#define SQE_TRIES 4
/* How long destroy() waits for the completions of cancelled operations. */
#define DRAIN_MS 1000
#define DRAIN_STEP_MS 10
/*
 * Receive buffers the kernel picks from as data arrives. Few are needed: each goes back
 * as soon as its data is parsed (or copied, if a request is left partial), and when the
 * ring runs dry a connection receives into a block of its own instead.
 */
#define PBUF_COUNT 128
#define PBUF_GROUP 0
#define PBUF_RING_BYTES (PBUF_COUNT * sizeof(struct io_uring_buf))

struct reactor_uring {
	struct reactor base;
	struct io_uring ring;
	struct io_uring_buf_ring *pbuf_ring; /* NULL: the kernel cannot provide buffers */
	char *pbufs;			     /* PBUF_COUNT blocks */
	unsigned pbufs_out;		     /* handed to callers, not yet put back */
	struct rx_handle *closed;	     /* closed, not yet released */
	unsigned releasable;		     /* how many of those have no submission in flight */
	bool destroying;
};

static struct reactor_uring *to_ur(struct reactor *rx)
{
	return container_of(rx, struct reactor_uring, base);
}

/* ---- user_data ------------------------------------------------------------------------ */

/*
 * A submission's user_data is its rx_op with a tag in the low bits, or 0 for one whose
 * completion needs no handling (a cancellation). Anything else, such as liburing's own
 * LIBURING_UDATA_TIMEOUT, is ignored as well.
 */
enum ud_kind {
	UD_IGNORE = 0,
	UD_ACCEPT = 2, /* a listener's multishot poll */
	UD_OP = 4,     /* everything else */
};

#define UD_KIND_MASK 7ULL
_Static_assert(_Alignof(struct rx_op) > UD_KIND_MASK, "rx_op pointers must leave tag bits");

/*
 * The op's arming rides in the top 16 bits, above any user-space address: after a cancel,
 * the old arming's completion still comes, and must not be taken for one of the op's next
 * use. One bit is not enough: an op cancelled twice before the first completion arrives
 * would be back to the first arming's tag (a held request's hang-up watch, cancelled and
 * armed again within one loop turn, is exactly that).
 */
#define UD_GEN_SHIFT 48
#define UD_PTR_MASK ((1ULL << UD_GEN_SHIFT) - 1)

static uint64_t ud_from_op(struct rx_op *op)
{
	/* Linux gives user space no address above 2^47 (2^56 with 5-level paging only when
	 * mmap() is asked for one), and warren never asks. */
	assert(((uint64_t)(uintptr_t)op & ~UD_PTR_MASK) == 0);
	return (uint64_t)(uintptr_t)op | (uint64_t)op->tag << UD_GEN_SHIFT |
	       (op->kind == RX_ACCEPT ? UD_ACCEPT : UD_OP);
}

static enum ud_kind ud_kind(uint64_t ud)
{
	switch (ud & UD_KIND_MASK) {
	case UD_OP:
		return UD_OP;
	case UD_ACCEPT:
		return UD_ACCEPT;
	default:
		return UD_IGNORE;
	}
}

/* A completion of an arming of @op that was cancelled and replaced. */
static bool ud_stale(uint64_t ud, const struct rx_op *op)
{
	return (uint16_t)(ud >> UD_GEN_SHIFT) != op->tag;
}

static struct rx_op *ud_op(uint64_t ud)
{
	return (struct rx_op *)(uintptr_t)(ud & UD_PTR_MASK & ~UD_KIND_MASK);
}

/* ---- submitting ----------------------------------------------------------------------- */

static struct io_uring_sqe *get_sqe(struct reactor_uring *ur)
{
	for (int i = 0; i < SQE_TRIES; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ur->ring);
		int ret;

		if (sqe)
			return sqe;
		ret = io_uring_submit(&ur->ring);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			break;
	}
	return NULL;
}

/* Queues @op's next submission: the operation itself, or a poll for a non-socket. */
static int submit_op(struct reactor_uring *ur, struct rx_op *op)
{
	struct rx_handle *h = op->h;
	struct io_uring_sqe *sqe = get_sqe(ur);

	if (!sqe)
		return -ENOBUFS;
	switch (op->kind) {
	case RX_ACCEPT:
		/*
		 * A multishot poll, and accept4() here, rather than IORING_OP_ACCEPT: the
		 * kernel's accept waits exclusively, so a wake-up can go to a worker that is
		 * just cancelling its accept for a reload; the connection then sits in the
		 * shared queue with nobody woken for it. A poll wakes every worker.
		 */
		io_uring_prep_poll_multishot(sqe, h->fd, POLLIN);
		break;
	case RX_RECV:
		if (!h->is_socket) {
			io_uring_prep_poll_add(sqe, h->fd, POLLIN);
		} else if (op->recv.buf) {
			io_uring_prep_recv(sqe, h->fd, op->recv.buf, op->recv.len, 0);
		} else if (ur->pbuf_ring) {
			io_uring_prep_recv(sqe, h->fd, NULL, BUF_BLOCK, 0);
			sqe->flags |= IOSQE_BUFFER_SELECT;
			sqe->buf_group = PBUF_GROUP;
		} else {
			/* No ring: the buffer is chosen now and held while the receive waits. */
			op->recv.buf = blk_get(ur->base.blocks);
			op->recv.len = BUF_BLOCK;
			if (!op->recv.buf) {
				io_uring_prep_nop(sqe);
				io_uring_sqe_set_data64(sqe, UD_IGNORE);
				return -ENOMEM;
			}
			io_uring_prep_recv(sqe, h->fd, op->recv.buf, op->recv.len, 0);
		}
		break;
	case RX_SEND:
		if (h->is_socket)
			io_uring_prep_writev(sqe, h->fd, op->send.iov, (unsigned)op->send.iovcnt,
					     0);
		else
			io_uring_prep_poll_add(sqe, h->fd, POLLOUT);
		break;
	case RX_POLL:
		io_uring_prep_poll_add(sqe, h->fd, op->poll.events);
		break;
	case RX_SENDFILE:
		/* io_uring has no sendfile; splice would need a pipe per connection. */
		io_uring_prep_poll_add(sqe, h->fd, POLLOUT);
		break;
	}
	io_uring_sqe_set_data64(sqe, ud_from_op(op));
	op->queued = true;
	h->inflight++;
	return 0;
}

static int cancel_op(struct reactor_uring *ur, struct rx_op *op)
{
	struct io_uring_sqe *sqe = get_sqe(ur);

	if (!sqe)
		return -ENOBUFS;
	io_uring_prep_cancel64(sqe, ud_from_op(op), 0);
	io_uring_sqe_set_data64(sqe, UD_IGNORE);
	return 0;
}

/* ---- the operations ------------------------------------------------------------------- */

static int ur_open(struct reactor *rx, struct rx_handle *h, int fd, unsigned flags)
{
	struct stat st;

	(void)rx;
	memset(h, 0, sizeof(*h));
	h->fd = fd;
	h->flags = flags;
	if (fstat(fd, &st) < 0)
		return -errno;
	h->is_socket = S_ISSOCK(st.st_mode);
	return 0;
}

/* The last completion of a closed handle is in: nothing names its fd or memory any more. */
static void closed_idle(struct reactor_uring *ur, struct rx_handle *h)
{
	if (!(h->flags & RX_F_FOREIGN))
		close(h->fd);
	ur->releasable++;
}

static void ur_close(struct reactor *rx, struct rx_handle *h, rx_release_fn release)
{
	struct reactor_uring *ur = to_ur(rx);
	struct rx_op *ops[2] = {h->rd, h->wr};
	bool stuck = false;

	if (h->closed)
		return;
	h->closed = true;
	h->release = release;
	h->rd = h->wr = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		if (!ops[i])
			continue;
		ops[i]->pending = false;
		/* Until cancelled, the kernel holds the file: a receive would wait for the peer. */
		if (ops[i]->queued && cancel_op(ur, ops[i]) < 0)
			stuck = true;
	}
	/*
	 * No room to cancel (the kernel refuses submissions): a connection is ours alone, and
	 * shutting it down completes what waits on it. A shared listener must not be shut
	 * down; destroy() reclaims it.
	 */
	if (stuck && h->is_socket && !(h->flags & (RX_F_LISTEN | RX_F_FOREIGN)))
		shutdown(h->fd, SHUT_RDWR);
	h->next_closed = ur->closed;
	ur->closed = h;
	if (h->inflight == 0)
		closed_idle(ur, h);
}

static int ur_accept(struct reactor *rx, struct rx_handle *h, struct rx_op *op)
{
	if (!h->is_socket)
		return -ENOTSOCK;
	return submit_op(to_ur(rx), op);
}

static void ur_cancel(struct reactor *rx, struct rx_handle *h, struct rx_op *op)
{
	(void)h;
	if (!op->queued)
		return;
	/* The completion still comes (inflight counts it) and is stale under the new tag.
	 * Without room to cancel, the operation ends with the handle's close. */
	cancel_op(to_ur(rx), op);
	op->tag++;
	op->queued = false;
}

/*
 * The kernel decides: the receive completes with -ECANCELED, or with the data that came
 * first (and complete_io() reads what a cancel overtook). Unlike ur_cancel(), the arming
 * stays current, so that completion is handled.
 */
static int ur_recv_end(struct reactor *rx, struct rx_handle *h, struct rx_op *op)
{
	(void)h;
	if (!op->queued)
		return -EAGAIN;
	return cancel_op(to_ur(rx), op);
}

/* Receives and sends: nothing to check beyond what the interface wrappers did. */
static int ur_submit(struct reactor *rx, struct rx_handle *h, struct rx_op *op)
{
	(void)h;
	return submit_op(to_ur(rx), op);
}

/* ---- completions ---------------------------------------------------------------------- */

/* Errors that concern one connection only, not the listener (as accept(2) reports them). */
static bool accept_error_is_transient(int res)
{
	switch (res) {
	case -ECONNABORTED:
	case -EPROTO:
	case -EPERM:
	case -EINTR:
	case -EAGAIN:
		return true;
	default:
		return false;
	}
}

static void complete_accept(struct reactor_uring *ur, struct rx_op *op, int res)
{
	struct rx_handle *h = op->h;
	int ret;

	/* A multishot poll reports readiness once per wake-up, not while it lasts: empty
	 * the queue now, or what is left waits for the next connection. */
	while (res >= 0 && h->rd == op && !h->closed) {
		int fd = accept4(h->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			op->cb(op, fd);
			continue;
		}
		if (errno == EAGAIN)
			break; /* emptied, or another worker took it */
		if (accept_error_is_transient(-errno))
			continue;
		/* Out of fds or memory: stop accepting until the owner re-arms; the next
		 * arming polls afresh and finds what still waits. */
		res = -errno;
		if (op->queued && cancel_op(ur, op) == 0) {
			op->tag++;
			op->queued = false;
		}
		rx_finish(op, res);
		return;
	}
	if (res < 0 && !op->queued && res != -ECANCELED && !accept_error_is_transient(res)) {
		rx_finish(op, res);
		return;
	}
	/* The kernel ends a multishot poll now and then (a full completion queue, say); the
	 * caller asked for connections until it closes the handle. */
	if (op->queued || h->closed || h->rd != op)
		return;
	ret = submit_op(ur, op);
	if (ret < 0)
		rx_finish(op, ret);
}

/* Operations submitted as a poll, whose syscall is made once the fd is ready. */
static bool polled_first(const struct rx_op *op)
{
	return op->kind == RX_SENDFILE || (!op->h->is_socket && op->kind != RX_POLL);
}

/* The syscall a poll completion stands for. */
static int poll_ready_io(struct rx_op *op)
{
	ssize_t n;

	if (op->kind == RX_RECV)
		n = read(op->h->fd, op->recv.buf, op->recv.len);
	else if (op->kind == RX_SENDFILE)
		n = sendfile(op->h->fd, op->sendfile.fd, op->sendfile.offset, op->sendfile.len);
	else
		n = writev(op->h->fd, op->send.iov, op->send.iovcnt);
	if (n < 0)
		return errno == EINTR ? -EAGAIN : -errno;
	return (int)n;
}

static bool is_pbuf(const struct reactor_uring *ur, const void *buf)
{
	const char *p = buf;

	return ur->pbufs && p >= ur->pbufs && p < ur->pbufs + (size_t)PBUF_COUNT * BUF_BLOCK;
}

static void pbuf_recycle(struct reactor_uring *ur, unsigned bid)
{
	io_uring_buf_ring_add(ur->pbuf_ring, ur->pbufs + (size_t)bid * BUF_BLOCK, BUF_BLOCK,
			      (unsigned short)bid, io_uring_buf_ring_mask(PBUF_COUNT), 0);
	io_uring_buf_ring_advance(ur->pbuf_ring, 1);
}

static void ur_buf_put(struct reactor *rx, void *buf)
{
	struct reactor_uring *ur = to_ur(rx);

	if (is_pbuf(ur, buf)) {
		ur->pbufs_out--;
		pbuf_recycle(ur, (unsigned)(((char *)buf - ur->pbufs) / BUF_BLOCK));
	} else {
		blk_put(rx->blocks, buf);
	}
}

/*
 * A provided buffer normally goes back as soon as its data is parsed. One kept longer (a
 * request a module answers later) would be missing from the ring, and receives armed for
 * other connections wait for a buffer that way: once a quarter of the ring is out, what
 * is kept is copied into a block and the ring gets its buffer back at once.
 */
static void *ur_buf_keep(struct reactor *rx, void *buf, size_t len, bool *lent)
{
	struct reactor_uring *ur = to_ur(rx);
	char *nb;

	*lent = is_pbuf(ur, buf);
	if (!*lent || ur->pbufs_out <= PBUF_COUNT / 4 || !(nb = blk_get(rx->blocks)))
		return buf;
	memcpy(nb, buf, len);
	ur_buf_put(rx, buf);
	*lent = false;
	return nb;
}

/* A completion that carries a provided buffer: it becomes the receive's, or goes back. */
static void take_pbuf(struct reactor_uring *ur, struct rx_op *op, int res, unsigned cflags)
{
	unsigned bid = cflags >> IORING_CQE_BUFFER_SHIFT;

	if (res <= 0 || op->kind != RX_RECV) {
		pbuf_recycle(ur, bid);
		return;
	}
	op->recv.buf = ur->pbufs + (size_t)bid * BUF_BLOCK;
	op->recv.len = BUF_BLOCK;
	ur->pbufs_out++;
}

/*
 * A receive ended by ur_recv_end() (only those reach a callback as cancelled): the kernel
 * may cancel one whose data is already in the socket, its wake-up still queued as task
 * work. One non-blocking read tells; a buffer the receive was to choose is a block.
 */
static int recv_ended(struct reactor_uring *ur, struct rx_op *op)
{
	bool chose = !op->recv.buf;
	ssize_t n;

	if (chose) {
		op->recv.buf = blk_get(ur->base.blocks);
		op->recv.len = BUF_BLOCK;
		if (!op->recv.buf)
			return -ECANCELED;
	}
	n = recv(op->h->fd, op->recv.buf, op->recv.len, MSG_DONTWAIT);
	if (n > 0)
		return (int)n;
	if (chose) {
		blk_put(ur->base.blocks, op->recv.buf);
		op->recv.buf = NULL;
	}
	if (n == 0)
		return 0;
	return errno == EAGAIN || errno == EINTR ? -ECANCELED : -errno;
}

static void complete_io(struct reactor_uring *ur, struct rx_op *op, int res)
{
	/* A poll result is an event mask: the fd is ready (or in error) for the syscall. */
	if (polled_first(op) && res >= 0)
		res = poll_ready_io(op);
	else if (op->kind == RX_RECV && res == -ECANCELED && op->h->is_socket)
		res = recv_ended(ur, op);
	else if (op->kind == RX_RECV && res > 0)
		VALGRIND_MAKE_MEM_DEFINED(op->recv.buf, (size_t)res);
	if (res == -EAGAIN || res == -EINTR) {
		res = submit_op(ur, op);
		if (res == 0)
			return;
	}
	rx_finish(op, res);
}

static void complete(struct reactor_uring *ur, const struct io_uring_cqe *cqe)
{
	struct rx_op *op = ud_op(cqe->user_data);
	struct rx_handle *h = op->h;
	bool stale = ud_stale(cqe->user_data, op);

	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		if (!stale)
			op->queued = false;
		h->inflight--;
	}
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		if (h->closed || ur->destroying || stale)
			pbuf_recycle(ur, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		else
			take_pbuf(ur, op, cqe->res, cqe->flags);
	}
	if (h->closed || ur->destroying) {
		if (h->closed && h->inflight == 0)
			closed_idle(ur, h);
		return;
	}
	if (stale)
		return;
	if (op->kind == RX_ACCEPT)
		complete_accept(ur, op, cqe->res);
	else
		complete_io(ur, op, cqe->res);
}

/* One pass over the completion queue, given back to the kernel in one step. */
static void reap(struct reactor_uring *ur)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&ur->ring, head, cqe) {
		if (ud_kind(cqe->user_data) != UD_IGNORE)
			complete(ur, cqe);
		n++;
	}
	io_uring_cq_advance(&ur->ring, n);
}

static void release_idle(struct reactor_uring *ur)
{
	struct rx_handle **link = &ur->closed;

	while (ur->releasable > 0 && *link) {
		struct rx_handle *h = *link;

		if (h->inflight > 0) {
			link = &h->next_closed;
			continue;
		}
		*link = h->next_closed;
		ur->releasable--;
		if (h->release)
			h->release(h);
	}
}

static int ur_run(struct reactor *rx, int timeout_ms)
{
	struct reactor_uring *ur = to_ur(rx);
	struct io_uring_cqe *cqe;
	int ret;

	timeout_ms = rx_run_posted(rx, timeout_ms);
	/* Handles closed outside run() (from timers or posted work) need no turn of their own. */
	release_idle(ur);
	rx_beat(rx);
	/*
	 * Valgrind holds its global lock while a thread waits inside io_uring_enter, so an
	 * offload thread could not post its eventfd until the wait ended by itself. Under
	 * valgrind the loop submits, naps in nanosleep (which lets the other threads run)
	 * and looks again, instead of waiting in the kernel.
	 */
	if (RUNNING_ON_VALGRIND && timeout_ms != 0 && io_uring_cq_ready(&ur->ring) == 0) {
		struct timespec nap = {.tv_nsec = VALGRIND_NAP_NS};

		io_uring_submit(&ur->ring);
		nanosleep(&nap, NULL);
		timeout_ms = 0;
	}
	/* Completions already queued are handled now; the kernel may have more to post. */
	if (timeout_ms == 0 || io_uring_cq_ready(&ur->ring) > 0) {
		ret = io_uring_submit_and_get_events(&ur->ring);
	} else if (timeout_ms < 0) {
		ret = io_uring_submit_and_wait(&ur->ring, 1);
	} else {
		struct __kernel_timespec ts = {
			.tv_sec = timeout_ms / 1000,
			.tv_nsec = (long long)(timeout_ms % 1000) * 1000000,
		};

		ret = io_uring_submit_and_wait_timeout(&ur->ring, &cqe, 1, &ts, NULL);
	}
	rx_beat(rx);
	/* -EBUSY and -EAGAIN: the kernel wants completions reaped before it takes more. */
	if (ret < 0 && ret != -EINTR && ret != -ETIME && ret != -EBUSY && ret != -EAGAIN)
		return ret;
	if (rx->wake)
		rx->wake(rx->wake_arg);
	reap(ur);
	release_idle(ur);
	return 0;
}

static bool closed_in_flight(const struct reactor_uring *ur)
{
	for (const struct rx_handle *h = ur->closed; h; h = h->next_closed)
		if (h->inflight > 0)
			return true;
	return false;
}

static void ur_destroy(struct reactor *rx)
{
	struct reactor_uring *ur = to_ur(rx);
	struct __kernel_timespec ts = {.tv_nsec = DRAIN_STEP_MS * 1000000LL};
	struct io_uring_cqe *cqe;

	/*
	 * Cancelled operations complete promptly; waiting for them keeps the kernel from
	 * touching a buffer once its owner has been released. No callback runs here.
	 */
	ur->destroying = true;
	for (int i = 0; i < DRAIN_MS / DRAIN_STEP_MS && closed_in_flight(ur); i++) {
		io_uring_submit_and_wait_timeout(&ur->ring, &cqe, 1, &ts, NULL);
		reap(ur);
	}
	if (ur->pbuf_ring) {
		io_uring_unregister_buf_ring(&ur->ring, PBUF_GROUP);
		munmap(ur->pbuf_ring, PBUF_RING_BYTES);
		free(ur->pbufs);
	}
	io_uring_queue_exit(&ur->ring);
	while (ur->closed) {
		struct rx_handle *h = ur->closed;

		ur->closed = h->next_closed;
		if (h->inflight > 0)
			close(h->fd);
		if (h->release)
			h->release(h);
	}
	free(ur);
}

static const struct reactor_ops uring_ops = {
	.name = "io_uring",
	.open = ur_open,
	.close = ur_close,
	.accept = ur_accept,
	.recv = ur_submit,
	.send = ur_submit,
	.poll = ur_submit,
	.sendfile = ur_submit,
	.cancel = ur_cancel,
	.recv_end = ur_recv_end,
	.buf_put = ur_buf_put,
	.buf_keep = ur_buf_keep,
	.run = ur_run,
	.destroy = ur_destroy,
};

/* ---- creating the ring ---------------------------------------------------------------- */

static const struct {
	int op;
	const char *name;
} needed_ops[] = {
	{IORING_OP_RECV, "RECV"},
	{IORING_OP_WRITEV, "WRITEV"},
	{IORING_OP_POLL_ADD, "POLL_ADD"},
	{IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
};

static const char *setup_hint(int ret)
{
	switch (ret) {
	case -EPERM:
		return " (denied by a seccomp filter or the kernel.io_uring_disabled sysctl)";
	case -ENOSYS:
		return " (a kernel without io_uring, or a seccomp filter)";
	default:
		return "";
	}
}

/* The most capable setup the kernel accepts: each step back drops flags it rejected. */
static int setup_ring(struct io_uring *ring, struct warren_error *err)
{
	static const unsigned tries[] = {
		/* Completions are posted when run() asks for them, never by interrupting us. */
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
		0,
	};
	const char *off = getenv("WARREN_DISABLE_IO_URING");
	int ret = -EINVAL;

	/* For machines (CI) and tests that must run without io_uring: refused, like seccomp. */
	if (off && *off && strcmp(off, "0") != 0) {
		warren_error_set(err, "io_uring_setup: disabled by WARREN_DISABLE_IO_URING=%s",
				 off);
		return -EPERM;
	}
	for (size_t i = 0; i < ARRAY_SIZE(tries) && ret == -EINVAL; i++) {
		struct io_uring_params p = {.flags = tries[i]};

		ret = io_uring_queue_init_params(RING_ENTRIES, ring, &p);
	}
	if (ret < 0)
		warren_error_set(err, "io_uring_setup: %s%s", strerror(-ret), setup_hint(ret));
	return ret;
}

static int check_kernel(struct io_uring *ring, struct warren_error *err)
{
	struct io_uring_probe *probe;
	int ret = 0;

	if ((ring->features & (IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG)) !=
	    (IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG)) {
		warren_error_set(err,
				 "io_uring lacks NODROP or EXT_ARG (Linux 5.19 or later needed)");
		return -EOPNOTSUPP;
	}
	probe = io_uring_get_probe_ring(ring);
	if (!probe) {
		warren_error_set(err, "io_uring cannot tell which operations it supports");
		return -EOPNOTSUPP;
	}
	for (size_t i = 0; i < ARRAY_SIZE(needed_ops); i++) {
		if (!io_uring_opcode_supported(probe, needed_ops[i].op)) {
			warren_error_set(
				err, "io_uring lacks the %s operation (Linux 5.19 or later needed)",
				needed_ops[i].name);
			ret = -EOPNOTSUPP;
			break;
		}
	}
	io_uring_free_probe(probe);
	return ret;
}

/* Registers the provided-buffer ring; without it (an old kernel), receives bring their own. */
static void setup_pbufs(struct reactor_uring *ur)
{
	struct io_uring_buf_reg reg = {0};
	void *ring;

	ring = mmap(NULL, PBUF_RING_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		    0);
	if (ring == MAP_FAILED)
		return;
	ur->pbufs = malloc((size_t)PBUF_COUNT * BUF_BLOCK);
	reg.ring_addr = (unsigned long)ring;
	reg.ring_entries = PBUF_COUNT;
	reg.bgid = PBUF_GROUP;
	if (!ur->pbufs || io_uring_register_buf_ring(&ur->ring, &reg, 0) < 0) {
		free(ur->pbufs);
		ur->pbufs = NULL;
		munmap(ring, PBUF_RING_BYTES);
		return;
	}
	ur->pbuf_ring = ring;
	io_uring_buf_ring_init(ur->pbuf_ring);
	for (unsigned i = 0; i < PBUF_COUNT; i++)
		io_uring_buf_ring_add(ur->pbuf_ring, ur->pbufs + (size_t)i * BUF_BLOCK, BUF_BLOCK,
				      (unsigned short)i, io_uring_buf_ring_mask(PBUF_COUNT),
				      (int)i);
	io_uring_buf_ring_advance(ur->pbuf_ring, PBUF_COUNT);
}

int reactor_uring_create(struct reactor **out, struct warren_error *err)
{
	struct reactor_uring *ur = calloc(1, sizeof(*ur));
	int ret;

	if (!ur) {
		warren_error_set(err, "out of memory");
		return -ENOMEM;
	}
	ret = setup_ring(&ur->ring, err);
	if (ret < 0)
		goto out_free_ur;
	ret = check_kernel(&ur->ring, err);
	if (ret < 0)
		goto out_exit_ring;
	setup_pbufs(ur);
	ur->base.ops = &uring_ops;
	post_queue_init(&ur->base.posted);
	*out = &ur->base;
	return 0;

out_exit_ring:
	io_uring_queue_exit(&ur->ring);
out_free_ur:
	free(ur);
	return ret;
}

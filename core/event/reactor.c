/* core/event/reactor.c - picks the event backend a worker runs on: io_uring where this process
 * may use it, epoll otherwise, as the caller asks. */
#include <errno.h>

#include "base/log.h"
#include "event/reactor.h"
#include "event/reactor_epoll.h"
#include "event/reactor_uring.h"

static void auto_falls_back(const struct warren_error *why)
{
	log_warn("io_uring is unavailable: %s; falling back to epoll", why->msg);
}

int reactor_create(enum rx_backend backend, struct reactor **out, struct warren_error *err)
{
	struct warren_error why = {{0}};

	switch (backend) {
	case RX_BACKEND_IO_URING:
		return reactor_uring_create(out, err);
	case RX_BACKEND_AUTO:
		if (reactor_uring_create(out, &why) == 0)
			return 0;
		auto_falls_back(&why);
		return reactor_epoll_create(out, err);
	case RX_BACKEND_EPOLL:
		return reactor_epoll_create(out, err);
	}
	warren_error_set(err, "unknown event backend %d", (int)backend);
	return -EINVAL;
}

int reactor_probe(enum rx_backend *backend, struct warren_error *err)
{
	struct warren_error why = {{0}};
	struct reactor *rx;
	int ret;

	if (*backend == RX_BACKEND_EPOLL)
		return 0;
	ret = reactor_uring_create(&rx, &why);
	if (ret == 0) {
		/* "auto" stays "auto": a worker that cannot set up its own ring still falls back. */
		reactor_destroy(rx);
		return 0;
	}
	if (*backend == RX_BACKEND_IO_URING) {
		*err = why;
		return ret;
	}
	auto_falls_back(&why);
	*backend = RX_BACKEND_EPOLL;
	return 0;
}

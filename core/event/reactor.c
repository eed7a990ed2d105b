/* core/event/reactor.c - picks the event backend a worker runs on: io_uring where this process
 * may use it, epoll otherwise, as the config's "event" asks. */
#include <errno.h>

#include "base/log.h"
#include "event/reactor.h"

/* The config forced io_uring: the reason it cannot run goes to the caller, not to a log. */
static void forced_failed(struct warren_error *err, const struct warren_error *why)
{
	warren_error_set(
		err,
		"io_uring is unavailable: %s (the config asks for \"event\": \"io_uring\"; "
		"\"auto\" would fall back to epoll)",
		why->msg);
}

static void auto_falls_back(const struct warren_error *why)
{
	log_warn("io_uring is unavailable: %s; falling back to epoll", why->msg);
}

int reactor_create(enum event_backend backend, struct reactor **out, struct warren_error *err)
{
	struct warren_error why = {{0}};
	int ret;

	switch (backend) {
	case EVENT_IO_URING:
		ret = reactor_uring_create(out, &why);
		if (ret < 0)
			forced_failed(err, &why);
		return ret;
	case EVENT_AUTO:
		if (reactor_uring_create(out, &why) == 0)
			return 0;
		auto_falls_back(&why);
		return reactor_epoll_create(out, err);
	case EVENT_EPOLL:
		return reactor_epoll_create(out, err);
	}
	warren_error_set(err, "unknown event backend %d", (int)backend);
	return -EINVAL;
}

int reactor_probe(enum event_backend *backend, struct warren_error *err)
{
	struct warren_error why = {{0}};
	struct reactor *rx;
	int ret;

	if (*backend == EVENT_EPOLL)
		return 0;
	ret = reactor_uring_create(&rx, &why);
	if (ret == 0) {
		/* "auto" stays "auto": a worker that cannot set up its own ring still falls back. */
		reactor_destroy(rx);
		return 0;
	}
	if (*backend == EVENT_IO_URING) {
		forced_failed(err, &why);
		return ret;
	}
	auto_falls_back(&why);
	*backend = EVENT_EPOLL;
	return 0;
}

/* core/server/backend.c - the config's "event" setting turned into the event layer's
 * backend choice, and errors that name the setting when a forced io_uring cannot run. */
#include "server/backend.h"

static enum rx_backend to_rx(enum event_backend event)
{
	switch (event) {
	case EVENT_IO_URING:
		return RX_BACKEND_IO_URING;
	case EVENT_EPOLL:
		return RX_BACKEND_EPOLL;
	case EVENT_AUTO:
		break;
	}
	return RX_BACKEND_AUTO;
}

/* The config forced io_uring: the reason it cannot run goes to the caller, not to a log. */
static void forced_failed(struct warren_error *err, const struct warren_error *why)
{
	warren_error_set(
		err,
		"io_uring is unavailable: %s (the config asks for \"event\": \"io_uring\"; "
		"\"auto\" would fall back to epoll)",
		why->msg);
}

int backend_create(enum event_backend event, struct reactor **out, struct warren_error *err)
{
	struct warren_error why = {{0}};
	int ret;

	ret = reactor_create(to_rx(event), out, &why);
	if (ret < 0) {
		if (event == EVENT_IO_URING)
			forced_failed(err, &why);
		else
			*err = why;
	}
	return ret;
}

int backend_probe(enum event_backend *event, struct warren_error *err)
{
	struct warren_error why = {{0}};
	enum rx_backend backend = to_rx(*event);
	int ret;

	ret = reactor_probe(&backend, &why);
	if (ret < 0) {
		forced_failed(err, &why);
		return ret;
	}
	if (backend == RX_BACKEND_EPOLL)
		*event = EVENT_EPOLL;
	return 0;
}

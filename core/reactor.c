/* core/reactor.c - picks the event backend a worker runs on. */
#include <errno.h>

#include "reactor.h"

int reactor_create(enum event_backend backend, struct reactor **out, struct warren_error *err)
{
	switch (backend) {
	case EVENT_AUTO:
	case EVENT_EPOLL:
		return reactor_epoll_create(out, err);
	}
	warren_error_set(err, "unknown event backend %d", (int)backend);
	return -EINVAL;
}

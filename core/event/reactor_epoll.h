/* core/event/reactor_epoll.h - the epoll backend of the reactor (reactor.h). */
#ifndef WARREN_CORE_REACTOR_EPOLL_H
#define WARREN_CORE_REACTOR_EPOLL_H

#include "event/reactor.h"

/* An epoll reactor for the calling process; reactor_create() picks it or io_uring. */
int reactor_epoll_create(struct reactor **out, struct warren_error *err);

#endif /* WARREN_CORE_REACTOR_EPOLL_H */

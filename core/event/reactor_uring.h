/* core/event/reactor_uring.h - the io_uring backend of the reactor (reactor.h). */
#ifndef WARREN_CORE_REACTOR_URING_H
#define WARREN_CORE_REACTOR_URING_H

#include "event/reactor.h"

/*
 * One ring for the calling process, which alone may submit to it: create it after fork.
 * WARREN_DISABLE_IO_URING=1 in the environment makes it fail as if the kernel refused.
 */
int reactor_uring_create(struct reactor **out, struct warren_error *err);

#endif /* WARREN_CORE_REACTOR_URING_H */

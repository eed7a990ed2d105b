/* core/server/backend.h - the config's "event" setting turned into the event layer's
 * backend choice, so that core/event never sees the config. */
#ifndef WARREN_CORE_BACKEND_H
#define WARREN_CORE_BACKEND_H

#include "event/reactor.h"
#include "server/config.h"

/* reactor_create() for the backend the config's "event" names. */
int backend_create(enum event_backend event, struct reactor **out, struct warren_error *err);

/*
 * reactor_probe() for the config's "event": fails when the config forces io_uring and this
 * process may not use it, and turns "auto" into "epoll" (logging why, once) then.
 */
int backend_probe(enum event_backend *event, struct warren_error *err);

#endif /* WARREN_CORE_BACKEND_H */

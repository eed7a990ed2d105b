/* core/http/upgrade.h - connections handed over to a module after "101 Switching Protocols":
 * what the connection and the request's life ask of the upgraded stream. */
#ifndef WARREN_CORE_HTTP_UPGRADE_H
#define WARREN_CORE_HTTP_UPGRADE_H

#include <stdbool.h>

#include <warren/module.h>

struct conn;

/* Attaches the stream a module asked for to the connection carrying its request. */
int upgrade_bind(struct warren_stream *s, struct conn *c);
/* The 101 went out (or, refused, the response that replaced it): the stream takes the
 * connection over, with what the client sent after the request delivered first. */
void upgrade_start(struct conn *c);
/* The response that went out is not the 101 the module asked for (a hook changed it):
 * the module hears of it from the loop and the connection closes after the response. */
void upgrade_refuse(struct conn *c);
/* The worker is stopping: the module is told once (on_stop). */
void upgrade_stop(struct warren_stream *s);
/* The connection closes under the stream: the module is told why (once). */
void upgrade_end(struct warren_stream *s, enum warren_stream_end why);
/* The connection is freed: the stream's memory goes (no completion can reach it now). */
void upgrade_free(struct warren_stream *s);
/* True while @c carries a stream that has not ended: the HTTP side stays out of it. */
bool upgrade_active(const struct conn *c);

#endif /* WARREN_CORE_HTTP_UPGRADE_H */

/* core/http/response.h - a request's response: the status, headers and body a module (or
 * warren's own status pages) sets on the request, and their HTTP/1.1 serialisation into
 * the connection's write buffer. */
#ifndef WARREN_CORE_HTTP_RESPONSE_H
#define WARREN_CORE_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stdint.h>

#include "http/request.h"

struct conn;

const char *response_reason(int status);

/* Rebuilds @loop's Server and Date fields after its date changed. */
void response_fields_update(struct http_loop *loop);

/* Gives a body that is not ours back: the module's release, or our duplicate fd. */
void response_ext_release(struct out_ext *e);

/* ---- Status, headers and body, set on the request ---- */

/* Forgets status, headers and body set so far. */
void response_reset(struct warren_request *r);
/* warren's "405 Method Not Allowed" with the Allow field of @allow's methods. */
int response_405(struct warren_request *r, uint64_t allow);
/* warren's page for @status: a short text body (none when out of memory). */
void response_status_page(struct warren_request *r, int status);
/* Marks the response as streamed, and its framing (no keep-alive without chunks). */
void response_stream_prepare(struct warren_request *r);

/* Headers and body, unchecked: request_api.c checks what modules pass. */
int response_header_add(struct warren_request *r, const char *name, const char *value);
/* Removes every field named @name; true when there was one. */
bool response_header_remove(struct warren_request *r, const char *name);
const struct resp_hdr *response_header_find(const struct warren_request *r, const char *name);
/* Drops any body set so far. */
void response_body_drop(struct warren_request *r);
/* Room for @extra more body bytes (a borrowed body is copied in first): where they go, or
 * NULL without memory. response_body_added() then counts what was written there. */
char *response_body_space(struct warren_request *r, size_t extra);
void response_body_added(struct warren_request *r, size_t len);
/* Appending after a borrowed body: its bytes are copied first, then given back. */
int response_body_to_buffer(struct warren_request *r);
int response_body_append(struct warren_request *r, const void *data, size_t len);
int response_body_set(struct warren_request *r, const void *data, size_t len);
/* Gives back the body buffer and any body that is not ours, for good. */
void response_fini(struct warren_request *r);

/* ---- HTTP/1.1: c->req's response serialised into the connection's write buffer ---- */

/* The send in flight completed: a write buffer replaced meanwhile can go. */
void response_wbuf_sent(struct conn *c);
/* Serialises c->req's whole response: head, then the body copied or queued behind it. */
int response_write(struct conn *c);
/* Writes a streamed response's head, and any body set so far as its first piece. */
int response_stream_head(struct conn *c);
/* Appends one chunk (or, for HTTP/1.0, the raw bytes) of a streamed response. */
int response_stream_chunk(struct conn *c, const void *data, size_t len);
/* The last chunk of a streamed response (nothing for an unframed HTTP/1.0 one). */
int response_stream_end(struct conn *c);
/* The interim "100 Continue"; the client waits for it before it sends the body. */
int response_continue(struct conn *c);
/* Appends a complete error response (status, text body, Connection: close). */
int response_error(struct conn *c, int status);
/* The Content-Length the response is sent with, once on_response runs: false before, and
 * for a response without one (streamed, or a status without a body). */
bool response_length(const struct warren_request *r, size_t *len);

#endif /* WARREN_CORE_HTTP_RESPONSE_H */

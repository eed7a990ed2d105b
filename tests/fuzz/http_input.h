/* tests/fuzz/http_input.h - drives arbitrary bytes through the whole request path (parser,
 * strict checks, chunked bodies, router, handlers, response writer) on an in-memory
 * connection; shared by the libFuzzer target and the unit test that replays its corpus. */
#ifndef WARREN_TESTS_HTTP_INPUT_H
#define WARREN_TESTS_HTTP_INPUT_H

#include <stddef.h>
#include <stdint.h>

struct conn;

/*
 * Feeds @size bytes to @c in reads of at most @step bytes, as a reactor would, serving
 * after each; @written(c, arg) then sees the output, which counts as sent afterwards.
 * Stops when the connection is to close, or its buffer can take no more.
 */
void http_input_feed(struct conn *c, const uint8_t *data, size_t size, size_t step,
		     void (*written)(const struct conn *c, void *arg), void *arg);

/* Runs one input. The first byte picks how the rest is split into reads, so that every
 * split point of the buffer logic gets exercised. Aborts on a broken invariant. */
void http_input_run(const uint8_t *data, size_t size);

#endif /* WARREN_TESTS_HTTP_INPUT_H */

/* core/http/chunked.h - strict decoder for chunked request bodies (RFC 9112 section 7.1). */
#ifndef WARREN_CORE_CHUNKED_H
#define WARREN_CORE_CHUNKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of chunk extensions allowed on one chunk-size line. */
#define CHUNKED_EXT_MAX 256

struct chunked {
	uint8_t state;
	bool in_quote, escaped, in_ext; /* in_ext: past the first ';' */
	unsigned digits;
	uint64_t size; /* of the chunk being read, then what is left of it */
	size_t ext_len;
	size_t trailer_len;
	/* The trailer name read so far, matched against the framing fields' names. */
	uint8_t name_pos, name_may_frame; /* a bit per name in chunked.c's framing_fields */
};

enum chunked_result {
	CHUNKED_MORE = 0, /* all input consumed; the body goes on */
	CHUNKED_DONE = 1, /* last chunk, trailers and final CRLF consumed */
};

static inline void chunked_init(struct chunked *d)
{
	*d = (struct chunked){0};
}

/*
 * Decodes buf[*in, len) in place: chunk data is appended at buf[*out] (*out <= *in, as
 * framing only ever shrinks), and both offsets advance. Trailer fields are checked and
 * dropped. Returns CHUNKED_MORE, CHUNKED_DONE (then *in is just past the body), or
 * -EPROTO (malformed: 400), -EFBIG (decoded body would pass @max_body: 413) or
 * -EMSGSIZE (trailer section over @max_trailer: 431).
 */
int chunked_decode(struct chunked *d, char *buf, size_t *in, size_t len, size_t *out,
		   size_t body_len, size_t max_body, size_t max_trailer);

#endif /* WARREN_CORE_CHUNKED_H */

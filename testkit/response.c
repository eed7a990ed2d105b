/* testkit/response.c - parses an HTTP/1.x response out of received bytes, as RFC 9112
 * frames it: status line, header fields, then a body by HEAD/status, chunked,
 * Content-Length or the end of the connection. Strict enough that a server bug shows as
 * a precise error, never as a crash or a silently wrong body. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <warren/test.h>

#include "common.h"

/* A head larger than this is a server bug, not something to wait for. */
#define MAX_HEAD (64 * 1024)
/* Bodies beyond this are not what a test is about. */
#define MAX_BODY (1ULL << 30)
#define MAX_FIELDS 1000

/* Input being parsed: @pos moves as lines and bytes are taken. */
struct input {
	const char *data;
	size_t len;
	size_t pos;
	bool eof;
};

/*
 * Takes the next line: *@line and *@n are its text without the CR LF (or LF). Returns 0,
 * -EAGAIN if no line end has arrived yet, -EPROTO if none can come or the line is too
 * long.
 */
static int next_line(struct input *in, const char *what, const char **line, size_t *n)
{
	const char *start = in->data + in->pos;
	size_t avail = in->len - in->pos;
	const char *nl = memchr(start, '\n', avail);
	char esc[64];

	if (!nl) {
		if (avail > MAX_HEAD)
			return kit_fail(-EPROTO, "%s: no line end in %d bytes", what, MAX_HEAD);
		if (in->eof)
			return kit_fail(-EPROTO, "%s: the connection closed in the line \"%s\"",
					what, kit_escape(esc, sizeof(esc), start, avail, 40));
		return -EAGAIN;
	}
	*line = start;
	*n = (size_t)(nl - start);
	if (*n > 0 && start[*n - 1] == '\r')
		(*n)--;
	in->pos += (size_t)(nl - start) + 1;
	return 0;
}

static bool is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static void free_fields(struct warren_test_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
}

/*
 * Reads header fields up to the empty line into *@out / *@nout (headers or trailers).
 * Returns 0, -EAGAIN, -EPROTO, -ENOMEM.
 */
static int parse_fields(struct input *in, const char *what, struct warren_test_header **out,
			size_t *nout)
{
	struct warren_test_header *h = NULL;
	size_t n = 0, cap = 0;
	char esc[128];
	int ret;

	for (;;) {
		const char *line, *colon, *v, *e;
		size_t len, nlen;

		ret = next_line(in, what, &line, &len);
		if (ret < 0)
			goto out_free_fields;
		if (len == 0)
			break;
		kit_escape(esc, sizeof(esc), line, len, 60);
		if (line[0] == ' ' || line[0] == '\t') {
			ret = kit_fail(-EPROTO, "%s: obsolete line folding in \"%s\"", what, esc);
			goto out_free_fields;
		}
		colon = memchr(line, ':', len);
		nlen = colon ? (size_t)(colon - line) : 0;
		for (size_t i = 0; i < nlen; i++)
			if (!is_tchar((unsigned char)line[i]))
				nlen = 0;
		if (nlen == 0) {
			ret = kit_fail(-EPROTO, "%s: \"%s\" is no \"Name: value\" field", what,
				       esc);
			goto out_free_fields;
		}
		if (n == MAX_FIELDS) {
			ret = kit_fail(-EPROTO, "%s: more than %d fields", what, MAX_FIELDS);
			goto out_free_fields;
		}
		if (n == cap) {
			struct warren_test_header *nh;

			cap = cap ? cap * 2 : 16;
			nh = realloc(h, cap * sizeof(*h));
			if (!nh) {
				ret = kit_fail(-ENOMEM, "out of memory");
				goto out_free_fields;
			}
			h = nh;
		}
		for (v = colon + 1, e = line + len; v < e && (*v == ' ' || *v == '\t'); v++)
			;
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		h[n].name = dup_n(line, nlen);
		h[n].value = dup_n(v, (size_t)(e - v));
		n++;
		if (!h[n - 1].name || !h[n - 1].value) {
			ret = kit_fail(-ENOMEM, "out of memory");
			goto out_free_fields;
		}
	}
	*out = h;
	*nout = n;
	return 0;

out_free_fields:
	free_fields(h, n);
	return ret;
}

static int parse_status_line(struct input *in, struct warren_test_response *r)
{
	const char *line;
	size_t len;
	char esc[128];
	int ret;

	if (in->len == 0 && in->eof)
		return kit_fail(-EPROTO, "no response: the connection closed first");
	ret = next_line(in, "status line", &line, &len);
	if (ret < 0)
		return ret;
	/* "HTTP/1.x NNN" then the end or " reason". */
	if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[7] < '0' || line[7] > '9' ||
	    line[8] != ' ' || line[9] < '1' || line[9] > '9' || line[10] < '0' || line[10] > '9' ||
	    line[11] < '0' || line[11] > '9' || (len > 12 && line[12] != ' '))
		return kit_fail(-EPROTO, "status line \"%s\" is not \"HTTP/1.x NNN reason\"",
				kit_escape(esc, sizeof(esc), line, len, 80));
	r->minor = line[7] - '0';
	r->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	r->reason = len > 12 ? dup_n(line + 13, len - 13) : dup_n("", 0);
	return r->reason ? 0 : kit_fail(-ENOMEM, "out of memory");
}

/* The Content-Length all such headers agree on, as *@n; 1 if there is none. */
static int content_length(const struct warren_test_response *r, unsigned long long *n)
{
	bool seen = false;

	for (size_t i = 0; i < r->nheaders; i++) {
		const char *v = r->headers[i].value;
		unsigned long long k = 0;

		if (strcasecmp(r->headers[i].name, "Content-Length") != 0)
			continue;
		if (!*v)
			return kit_fail(-EPROTO, "Content-Length is empty");
		for (const char *p = v; *p; p++) {
			if (*p < '0' || *p > '9')
				return kit_fail(-EPROTO, "Content-Length \"%.60s\" is not a number",
						v);
			k = k * 10 + (unsigned)(*p - '0');
			if (k > MAX_BODY)
				return kit_fail(-EPROTO,
						"Content-Length %.60s is over the kit's %llu bytes",
						v, MAX_BODY);
		}
		if (seen && k != *n)
			return kit_fail(-EPROTO, "Content-Length given twice: %llu and %llu", *n,
					k);
		*n = k;
		seen = true;
	}
	return seen ? 0 : 1;
}

/* Whether the last coding of the Transfer-Encoding fields is chunked; *@present if any. */
static bool ends_chunked(const struct warren_test_response *r, bool *present)
{
	const char *last = NULL, *c;
	size_t n;

	*present = false;
	for (size_t i = 0; i < r->nheaders; i++) {
		if (strcasecmp(r->headers[i].name, "Transfer-Encoding") == 0) {
			*present = true;
			last = r->headers[i].value;
		}
	}
	if (!last)
		return false;
	/* The last comma-separated coding, without whitespace or parameters. */
	c = strrchr(last, ',');
	c = c ? c + 1 : last;
	while (*c == ' ' || *c == '\t')
		c++;
	n = strcspn(c, " \t;");
	return n == 7 && strncasecmp(c, "chunked", 7) == 0;
}

/*
 * Walks the chunks up to the last (size 0) one, adding their sizes to *@blen and, when @body
 * is not NULL, copying their data there. Returns 0, -EAGAIN, or -EPROTO.
 */
static int walk_chunks(struct input *in, char *body, size_t *blen)
{
	char esc[64];
	int ret;

	for (;;) {
		const char *line;
		size_t len, digits, avail, crlf;
		unsigned long long size = 0;

		ret = next_line(in, "chunk size line", &line, &len);
		if (ret < 0)
			return ret;
		digits = 0;
		while (digits < len && line[digits] &&
		       strchr("0123456789abcdefABCDEF", line[digits]))
			digits++;
		if (digits == 0 || (digits < len && line[digits] != ';' && line[digits] != ' ' &&
				    line[digits] != '\t'))
			return kit_fail(-EPROTO, "chunk size \"%s\" is not hexadecimal",
					kit_escape(esc, sizeof(esc), line, len, 40));
		for (size_t i = 0; i < digits; i++) {
			char c = line[i];

			size = size * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
			if (size > MAX_BODY || *blen + size > MAX_BODY)
				return kit_fail(
					-EPROTO, "chunk size \"%s\" is over the kit's %llu bytes",
					kit_escape(esc, sizeof(esc), line, len, 40), MAX_BODY);
		}
		if (size == 0)
			break;
		avail = in->len - in->pos;
		/* The chunk's data, then CRLF (or a bare LF). */
		if (avail > size && in->data[in->pos + size] != '\r' &&
		    in->data[in->pos + size] != '\n')
			return kit_fail(-EPROTO,
					"chunk of %llu bytes not followed by CRLF but \"%s\"", size,
					kit_escape(esc, sizeof(esc), in->data + in->pos + size,
						   avail - size, 8));
		crlf = avail > size && in->data[in->pos + size] == '\n' ? 1 : 2;
		if (avail < size + crlf) {
			if (!in->eof)
				return -EAGAIN;
			return kit_fail(-EPROTO,
					"the connection closed in a chunk of %llu bytes "
					"(%zu received)",
					size, avail);
		}
		if (crlf == 2 && in->data[in->pos + size + 1] != '\n')
			return kit_fail(
				-EPROTO, "chunk of %llu bytes not followed by CRLF but \"%s\"",
				size,
				kit_escape(esc, sizeof(esc), in->data + in->pos + size, 2, 2));
		if (body)
			memcpy(body + *blen, in->data + in->pos, (size_t)size);
		*blen += (size_t)size;
		in->pos += (size_t)size + crlf;
	}
	return 0;
}

/* Copies nothing until the whole body and its trailers are there: a response that arrives
 * in many reads is walked once per read, not copied once per read. */
static int parse_chunked(struct input *in, struct warren_test_response *r)
{
	struct input scan = *in;
	size_t total = 0, n = 0;
	int ret;

	ret = walk_chunks(&scan, NULL, &total);
	if (ret == 0)
		ret = parse_fields(&scan, "trailer", &r->trailers, &r->ntrailers);
	if (ret < 0)
		return ret;
	r->body = malloc(total + 1);
	if (!r->body)
		return kit_fail(-ENOMEM, "out of memory");
	walk_chunks(in, r->body, &n);
	r->body[n] = '\0';
	r->body_len = n;
	r->chunked = true;
	in->pos = scan.pos;
	return 0;
}

static int take_body(struct input *in, struct warren_test_response *r, size_t n)
{
	r->body = dup_n(in->data + in->pos, n);
	if (!r->body)
		return kit_fail(-ENOMEM, "out of memory");
	r->body_len = n;
	in->pos += n;
	return 0;
}

static int parse_body(struct input *in, struct warren_test_response *r, int flags)
{
	unsigned long long n = 0;
	bool te;
	int ret;

	if ((flags & WARREN_TEST_HEAD) || r->status < 200 || r->status == 204 || r->status == 304)
		return take_body(in, r, 0);
	if (ends_chunked(r, &te))
		return parse_chunked(in, r);
	/* A Transfer-Encoding that does not end in chunked runs to the close (RFC 9112
	 * 6.3), whatever Content-Length says. */
	ret = te ? 1 : content_length(r, &n);
	if (ret < 0)
		return ret;
	if (ret == 0) {
		if (in->len - in->pos >= n)
			return take_body(in, r, (size_t)n);
		if (in->eof)
			return kit_fail(-EPROTO,
					"the connection closed in the body: %zu of %llu bytes came",
					in->len - in->pos, n);
		return -EAGAIN;
	}
	if (!in->eof)
		return -EAGAIN;
	return take_body(in, r, in->len - in->pos);
}

int warren_test_parse_response(const void *data, size_t len, int flags,
			       struct warren_test_response *r, size_t *used)
{
	/* No bytes may come as NULL (a buffer not yet allocated): nothing to read there. */
	struct input in = {.data = data ? data : "",
			   .len = data ? len : 0,
			   .eof = flags & WARREN_TEST_EOF};
	int ret;

	memset(r, 0, sizeof(*r));
	ret = parse_status_line(&in, r);
	if (ret == 0)
		ret = parse_fields(&in, "header", &r->headers, &r->nheaders);
	if (ret == 0)
		ret = parse_body(&in, r, flags);
	if (ret == 0) {
		r->raw = dup_n(in.data, in.pos);
		r->raw_len = in.pos;
		ret = r->raw ? 0 : kit_fail(-ENOMEM, "out of memory");
	}
	if (ret < 0) {
		warren_test_response_free(r);
		if (ret == -EAGAIN)
			kit_fail(ret, "incomplete response (%zu bytes so far)", len);
		return ret;
	}
	if (used)
		*used = in.pos;
	return 0;
}

void warren_test_response_free(struct warren_test_response *r)
{
	free(r->reason);
	free_fields(r->headers, r->nheaders);
	free_fields(r->trailers, r->ntrailers);
	free(r->body);
	free(r->raw);
	memset(r, 0, sizeof(*r));
}

const char *warren_test_header(const struct warren_test_response *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

size_t warren_test_header_count(const struct warren_test_response *r, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nheaders; i++)
		n += strcasecmp(r->headers[i].name, name) == 0;
	return n;
}

/* core/http/http.c - HTTP/1.1 on a connection's buffers: http-parser callbacks that record the
 * request as offsets into the read buffer, routing to module handlers, and serialising
 * responses into the write buffer. Nothing here touches a socket, so the tests can drive
 * it with bytes alone. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http/chunked.h"
#include "http/async.h"
#include "http/http.h"
#include "base/log.h"

static struct conn *parser_conn(http_parser *p)
{
	return container_of(p, struct conn, parser);
}

static const char *req_base(const struct conn *c)
{
	return c->rbuf + c->req_start;
}

static uint32_t req_off(const struct conn *c, const char *at)
{
	return (uint32_t)(at - req_base(c));
}

static int reject(struct conn *c, int status)
{
	if (!c->req.err_status)
		c->req.err_status = status;
	return -1;
}

static void request_reset(struct warren_request *r)
{
	struct conn *c = r->c;

	memset(r, 0, sizeof(*r));
	/* Until the head is parsed, an error response is written as for a GET. */
	r->method = HTTP_GET;
	r->status = 200;
	r->resp_tail = &r->resp_hdrs;
	r->body_ext.fd = -1;
	r->c = c;
	c->body_len = 0;
}

static int on_message_begin(http_parser *p)
{
	struct conn *c = parser_conn(p);

	request_reset(&c->req);
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct conn *c = parser_conn(p);
	struct warren_request *r = &c->req;

	if (r->url_len == 0)
		r->url_off = req_off(c, at);
	r->url_len += len;
	if (r->url_len > c->w->cfg->max_header_size)
		return reject(c, 414);
	return 0;
}

static bool head_too_big(const struct conn *c, const char *at, size_t len)
{
	return (size_t)(at + len - req_base(c)) > c->w->cfg->max_header_size;
}

/* Room for more fields, from the pool: most requests need the first 16 only. */
static int grow_hdrs(struct conn *c)
{
	struct warren_request *r = &c->req;
	unsigned cap = r->hdrs_cap ? r->hdrs_cap * 2 : 16;
	struct http_hdr *h;

	if (cap > HTTP_MAX_HEADERS)
		cap = HTTP_MAX_HEADERS;
	h = pool_alloc(&c->pool, cap * sizeof(*h));
	if (!h)
		return -ENOMEM;
	if (r->nhdrs)
		memcpy(h, r->hdrs, r->nhdrs * sizeof(*h));
	r->hdrs = h;
	r->hdrs_cap = cap;
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct conn *c = parser_conn(p);
	struct warren_request *r = &c->req;
	struct http_hdr *h;

	if (head_too_big(c, at, len))
		return reject(c, 431);
	if (r->nhdrs == 0 || r->in_value) {
		if (r->nhdrs == HTTP_MAX_HEADERS)
			return reject(c, 431);
		if (r->nhdrs == r->hdrs_cap && grow_hdrs(c) < 0)
			return reject(c, 500);
		h = &r->hdrs[r->nhdrs++];
		h->name_off = req_off(c, at);
		h->name_len = 0;
		/* A field with an empty value gets no value callback at all. */
		h->value_off = h->name_off;
		h->value_len = 0;
		r->in_value = false;
	} else {
		h = &r->hdrs[r->nhdrs - 1];
	}
	h->name_len += len;
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct conn *c = parser_conn(p);
	struct warren_request *r = &c->req;
	struct http_hdr *h = &r->hdrs[r->nhdrs - 1];

	if (head_too_big(c, at, len))
		return reject(c, 431);
	if (!r->in_value) {
		h->value_off = req_off(c, at);
		h->value_len = 0;
		r->in_value = true;
	}
	h->value_len += len;
	return 0;
}

/* RFC 9110 token characters, the only ones a field name may hold. */
static const bool tchar[256] = {
	['!'] = true,	      ['#'] = true,	    ['$'] = true, ['%'] = true,
	['&'] = true,	      ['\''] = true,	    ['*'] = true, ['+'] = true,
	['-'] = true,	      ['.'] = true,	    ['^'] = true, ['_'] = true,
	['`'] = true,	      ['|'] = true,	    ['~'] = true, ['0' ... '9'] = true,
	['A' ... 'Z'] = true, ['a' ... 'z'] = true,
};

bool http_is_token(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!tchar[(unsigned char)s[i]])
			return false;
	return true;
}

static bool slice_eq(const char *base, uint32_t off, uint32_t len, const char *s)
{
	size_t n = strlen(s);

	return len == n && strncasecmp(base + off, s, n) == 0;
}

/* Splits the target into path and query; only origin-form, absolute-form and "*". */
static int split_target(struct conn *c, struct warren_request *r)
{
	const char *url = req_base(c) + r->url_off;
	struct http_parser_url u;
	const char *q;

	if (r->url_len == 0)
		return -1;
	if (url[0] == '/' || (r->url_len == 1 && url[0] == '*')) {
		q = memchr(url, '?', r->url_len);
		r->path_off = r->url_off;
		r->path_len = q ? (uint32_t)(q - url) : r->url_len;
		r->query_off = r->url_off + r->path_len + (q ? 1 : 0);
		r->query_len = r->url_len - r->path_len - (q ? 1 : 0);
		return 0;
	}
	if (r->method == HTTP_CONNECT) {
		r->path_off = r->url_off;
		r->path_len = r->url_len;
		return 0;
	}
	http_parser_url_init(&u);
	if (http_parser_parse_url(url, r->url_len, 0, &u) != 0 || !(u.field_set & (1 << UF_SCHEMA)))
		return -1;
	if (u.field_set & (1 << UF_PATH)) {
		r->path_off = r->url_off + u.field_data[UF_PATH].off;
		r->path_len = u.field_data[UF_PATH].len;
	} else {
		/* "http://host" means the root; point at a constant "/". */
		r->path_off = UINT32_MAX;
		r->path_len = 1;
	}
	if (u.field_set & (1 << UF_QUERY)) {
		r->query_off = r->url_off + u.field_data[UF_QUERY].off;
		r->query_len = u.field_data[UF_QUERY].len;
	}
	return 0;
}

/*
 * What http-parser lets through in the request line: more than one space around the
 * target, any "HT?P/" prefix before the version, and tabs, control bytes or bytes >= 0x80
 * in the target. "*" is OPTIONS-only.
 */
static bool valid_request_line(const struct conn *c, const struct warren_request *r)
{
	const char *base = req_base(c), *t = base + r->url_off;

	/* The method is at least one letter, so t[-2] is in the request. */
	if (r->url_off < 2 || t[-1] != ' ' || t[-2] == ' ' ||
	    (size_t)r->url_off + r->url_len + 6 > c->rlen - c->req_start ||
	    memcmp(t + r->url_len, " HTTP/", 6) != 0)
		return false;
	for (uint32_t i = 0; i < r->url_len; i++) {
		unsigned char ch = (unsigned char)t[i];

		if (ch <= 0x20 || ch >= 0x7f)
			return false;
	}
	return !(r->url_len == 1 && t[0] == '*' && r->method != HTTP_OPTIONS);
}

/*
 * Whether the head, from where this request's bytes start to its blank line, is made of
 * CRLF-terminated lines and nothing else. http-parser (built without HTTP_PARSER_STRICT, as
 * Debian's is) takes a CR followed by any byte as a line end after an empty field value and
 * as the blank line that ends the head, a bare LF as a line end everywhere, and any lone CR
 * or LF before the request line as an empty line: a front proxy that frames such a message
 * differently forwards bytes that warren reads as another request. Once every line ends in
 * CRLF and holds no other CR, the parser's lines are exactly these, so its head ends at this
 * blank line too. Empty lines before the request line are allowed as CRLFs (RFC 9112 section
 * 2.2); a field line that starts with whitespace is obs-fold, refused wherever it appears
 * (after an empty value, the parser drops the fold without a trace in the value).
 * Two memchr() calls a line over bytes already in the buffer, no second parse: the parser
 * has seen the blank line's last byte before it calls on_headers_complete().
 */
static bool head_is_crlf_lines(const char *s, size_t len)
{
	const char *end = s + len;
	bool request_line = false;

	for (;;) {
		const char *lf = memchr(s, '\n', (size_t)(end - s));

		if (!lf || lf == s || lf[-1] != '\r' || memchr(s, '\r', (size_t)(lf - 1 - s)))
			return false;
		if (lf - 1 == s) {
			if (request_line)
				return true;
		} else if (!request_line) {
			request_line = true;
		} else if (*s == ' ' || *s == '\t') {
			return false;
		}
		s = lf + 1;
	}
}

/* RFC 3986 reg-name, IP-literal and port characters: what a Host value may hold. */
static const bool hostchar[256] = {
	['a' ... 'z'] = true, ['A' ... 'Z'] = true, ['0' ... '9'] = true, ['-'] = true,
	['.'] = true,	      ['_'] = true,	    ['~'] = true,	  ['%'] = true,
	['!'] = true,	      ['$'] = true,	    ['&'] = true,	  ['\''] = true,
	['('] = true,	      [')'] = true,	    ['*'] = true,	  ['+'] = true,
	[','] = true,	      [';'] = true,	    ['='] = true,	  [':'] = true,
	['['] = true,	      [']'] = true,
};

/* RFC 3986 host [ ":" port ] (may be empty). */
static bool valid_host(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!hostchar[(unsigned char)s[i]])
			return false;
	return true;
}

/*
 * Notes the "close" and "keep-alive" options of one Connection field (RFC 9112 section
 * 9.3: close ends the connection; otherwise 1.1 persists and 1.0 only with keep-alive).
 * http-parser's own answer lets a 1.0 request's keep-alive win over its close, and reads
 * Proxy-Connection, which is no Connection field, as one.
 */
static void connection_options(const char *v, size_t len, bool *close, bool *keep)
{
	const char *end = v + len;

	while (v < end) {
		const char *comma = memchr(v, ',', (size_t)(end - v)), *te = comma ? comma : end;

		while (v < te && (*v == ' ' || *v == '\t'))
			v++;
		while (te > v && (te[-1] == ' ' || te[-1] == '\t'))
			te--;
		if (te - v == 5 && strncasecmp(v, "close", 5) == 0)
			*close = true;
		else if (te - v == 10 && strncasecmp(v, "keep-alive", 10) == 0)
			*keep = true;
		v = comma ? comma + 1 : end;
	}
}

static int on_headers_complete(http_parser *p)
{
	struct conn *c = parser_conn(p);
	struct warren_request *r = &c->req;
	const char *base = req_base(c);
	bool has_cl = false, has_te = false, close = false, keep = false;
	unsigned tes = 0;
	unsigned hosts = 0, te = 0;
	const struct config *cfg = c->w->cfg;

	r->headers_done = true;
	r->method = p->method;
	if (!head_is_crlf_lines(base, c->rlen - c->req_start))
		return reject(c, 400);
	if (p->http_major != 1 || p->http_minor > 1)
		return reject(c, 505);
	r->version = p->http_minor ? 11 : 10;
	if (!valid_request_line(c, r) || split_target(c, r) < 0)
		return reject(c, 400);

	for (unsigned i = 0; i < r->nhdrs; i++) {
		struct http_hdr *h = &r->hdrs[i];

		/*
		 * http-parser accepts names with spaces ("Transfer-Encoding : chunked" would
		 * still frame the body), which hide fields from whoever reads the request
		 * next. It checks every byte of a value for control characters but the first
		 * (a NUL there passed); what follows OWS can only be a visible byte. (No value
		 * holds a CR or LF: the head is CRLF lines without obs-fold.)
		 */
		if (!http_is_token(base + h->name_off, h->name_len) ||
		    (h->value_len > 0 &&
		     ((unsigned char)base[h->value_off] <= 0x20 || base[h->value_off] == 0x7f)))
			return reject(c, 400);
		/* http-parser keeps trailing whitespace of values; OWS is not part of them. */
		while (h->value_len > 0 && (base[h->value_off + h->value_len - 1] == ' ' ||
					    base[h->value_off + h->value_len - 1] == '\t'))
			h->value_len--;
		if (slice_eq(base, h->name_off, h->name_len, "content-length"))
			has_cl = true;
		else if (slice_eq(base, h->name_off, h->name_len, "transfer-encoding"))
			te = i + 1, has_te = true, tes++;
		else if (slice_eq(base, h->name_off, h->name_len, "host") && hosts++ == 0 &&
			 !valid_host(base + h->value_off, h->value_len))
			return reject(c, 400);
		else if (slice_eq(base, h->name_off, h->name_len, "connection"))
			connection_options(base + h->value_off, h->value_len, &close, &keep);
	}
	r->persist = !close && (r->version == 11 || keep);
	/* RFC 9112 section 3.2: exactly one Host in 1.1, at most one in 1.0. */
	if (hosts > 1 || (r->version == 11 && hosts == 0))
		return reject(c, 400);
	/* Both framings at once is the classic smuggling vector: refuse, never guess. */
	if (has_cl && has_te)
		return reject(c, 400);
	if (has_te) {
		const struct http_hdr *h = &r->hdrs[te - 1];

		/* A 1.0 peer may not know chunked at all: framing it so would desync. */
		if (r->version == 10)
			return reject(c, 400);
		/* Only "chunked", once: other codings would reach handlers still encoded. */
		if (tes > 1 || !slice_eq(base, h->value_off, h->value_len, "chunked"))
			return reject(c, 501);
		r->chunked = true;
		chunked_init(&r->dechunk);
	}
	if (has_cl && p->content_length > cfg->max_body_size)
		return reject(c, 413);

	for (unsigned i = 0; i < r->nhdrs; i++) {
		struct http_hdr *h = &r->hdrs[i];

		if (!slice_eq(base, h->name_off, h->name_len, "expect"))
			continue;
		if (!slice_eq(base, h->value_off, h->value_len, "100-continue"))
			return reject(c, 417);
		/* Only promised here; http_process() sends it if the body is not there yet. */
		r->expect_continue = r->version == 11 && (has_te || p->content_length > 0);
	}
	/* A chunked body is decoded by chunked_decode(), not http-parser: "skip the body"
	 * makes the parser end the message here and start the next one after it. */
	return r->chunked ? 1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct conn *c = parser_conn(p);
	struct warren_request *r = &c->req;

	/* Content-Length bodies only (chunked ones are decoded apart): the pieces are
	 * contiguous in the buffer. */
	if ((size_t)r->body_total + len > c->w->cfg->max_body_size)
		return reject(c, 413);
	if (r->body_len == 0)
		r->body_off = req_off(c, at);
	r->body_len += len;
	r->body_total += len;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	/* Stop after each request so it is served before the next one is parsed. */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings parser_settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

const char *http_reason(int status)
{
	/* One line per status reads as the table it is. */
	/* clang-format off */
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	}
	/* clang-format on */
	if (status >= 200 && status < 300)
		return "OK";
	if (status >= 300 && status < 400)
		return "Redirect";
	if (status >= 400 && status < 500)
		return "Client Error";
	return "Server Error";
}

/* ---- The read buffer ---------------------------------------------------------------- */

static void rbuf_release(struct conn *c)
{
	if (c->rbuf_lent)
		rx_buf_put(c->w->rx, c->rbuf);
	else if (c->rbuf)
		buf_release(&c->w->blocks, &c->rbuf, &c->rcap);
	c->rbuf = NULL;
	c->rcap = 0;
	c->rbuf_lent = false;
}

/* Drops the requests already served from the front. */
static void rbuf_compact(struct conn *c)
{
	if (c->req_start == 0)
		return;
	memmove(c->rbuf, c->rbuf + c->req_start, c->rlen - c->req_start);
	c->rlen -= c->req_start;
	c->rpos -= c->req_start;
	c->req_start = 0;
}

/*
 * Gives the read buffer @cap bytes (at least what it holds), as a buffer of ours: a
 * reactor's is copied out and given back. On failure the buffer stays as it was.
 */
static void rbuf_resize(struct conn *c, size_t cap)
{
	char *nb = NULL;

	if (cap < c->rlen)
		return;
	if (!c->rbuf_lent && c->rbuf) {
		if (cap != c->rcap && (nb = realloc(c->rbuf, cap))) {
			c->rbuf = nb;
			c->rcap = cap;
		}
		return;
	}
	if (cap == BUF_BLOCK)
		nb = blk_get(&c->w->blocks);
	else
		nb = malloc(cap);
	if (!nb)
		return;
	if (c->rlen)
		memcpy(nb, c->rbuf, c->rlen);
	if (c->rbuf_lent)
		rx_buf_put(c->w->rx, c->rbuf);
	c->rbuf = nb;
	c->rcap = cap;
	c->rbuf_lent = false;
}

int http_conn_init(struct conn *c, struct worker *w)
{
	/* No buffer yet: one comes with the first bytes. */
	memset(c, 0, sizeof(*c));
	c->w = w;
	c->ext.fd = -1;
	pool_init(&c->pool, &w->blocks);
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->req.c = c;
	request_reset(&c->req);
	return 0;
}

/* Gives a body that is not ours back: the module's release, or our duplicate fd. */
static void ext_release(struct out_ext *e)
{
	if (e->kind == OUT_BORROWED && e->release)
		e->release(e->arg);
	else if (e->kind == OUT_FILE)
		close(e->fd);
	*e = (struct out_ext){.fd = -1};
}

void http_ext_done(struct conn *c)
{
	ext_release(&c->ext);
}

void http_body_ext_drop(struct warren_request *r)
{
	ext_release(&r->body_ext);
}

void http_conn_fini(struct conn *c)
{
	ext_release(&c->req.body_ext);
	ext_release(&c->ext);
	rbuf_release(c);
	buf_release(&c->w->blocks, &c->wbuf, &c->wcap);
	http_wbuf_sent(c);
	buf_release(&c->w->blocks, &c->body, &c->body_cap);
	pool_destroy(&c->pool);
}

static void run_on_response(struct conn *c);

/* ---- Output ------------------------------------------------------------------------ */

/*
 * Output may be added while a send is in flight (an async answer, a streamed piece), and
 * that send points into wbuf: growing it then copies it to a new buffer and keeps the old
 * one until the send completes, instead of reallocating under the kernel's feet.
 */
static int wbuf_reserve(struct conn *c, size_t n)
{
	char *nb;
	size_t cap;

	if (c->wlen + n <= c->wcap || !c->h.wr || c->wstale)
		return buf_reserve(&c->w->blocks, &c->wbuf, &c->wcap, c->wlen + n);
	for (cap = c->wcap * 2; cap < c->wlen + n; cap *= 2)
		;
	nb = malloc(cap);
	if (!nb)
		return -ENOMEM;
	memcpy(nb, c->wbuf, c->wlen);
	c->wstale = c->wbuf;
	c->wstale_cap = c->wcap;
	c->wbuf = nb;
	c->wcap = cap;
	return 0;
}

void http_wbuf_sent(struct conn *c)
{
	if (c->wstale)
		buf_release(&c->w->blocks, &c->wstale, &c->wstale_cap);
}

static char *put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

#define PUT_LIT(p, s) put((p), (s), sizeof(s) - 1)

static char *put_uint(char *p, size_t v)
{
	char tmp[24];
	int i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return put(p, tmp + i, sizeof(tmp) - i);
}

static bool status_has_body(int status)
{
	return status != 204 && status != 304 && !(status >= 100 && status < 200);
}

/* Whether body bytes go on the wire at all (never for HEAD, 204 or 304). */
static bool sends_body(const struct warren_request *r)
{
	return status_has_body(r->status) && r->method != HTTP_HEAD;
}

/* A streamed response is chunked unless the client speaks HTTP/1.0 or gets no body. */
static bool stream_chunked(const struct warren_request *r)
{
	return r->version == 11 && status_has_body(r->status);
}

/*
 * Serialises the status line and headers of c->req's response into the write buffer,
 * with room reserved for @extra more bytes. A streamed response announces chunked
 * framing instead of a length.
 */
static int write_head(struct conn *c, size_t extra)
{
	struct warren_request *r = &c->req;
	const char *reason = http_reason(r->status);
	bool body = status_has_body(r->status);
	size_t len = r->body_ext.kind != OUT_NONE ? r->body_ext.len : c->body_len;
	size_t need = 160 + strlen(reason) + strlen(c->w->date) + extra;
	char *p;

	for (struct resp_hdr *h = r->resp_hdrs; h; h = h->next)
		need += h->name_len + h->value_len + 4;
	if (wbuf_reserve(c, need) < 0)
		return -ENOMEM;
	p = c->wbuf + c->wlen;
	p = PUT_LIT(p, "HTTP/1.1 ");
	p = put_uint(p, (size_t)r->status);
	*p++ = ' ';
	p = put(p, reason, strlen(reason));
	p = PUT_LIT(p, "\r\nServer: warren\r\nDate: ");
	p = put(p, c->w->date, strlen(c->w->date));
	if (r->streaming) {
		if (stream_chunked(r))
			p = PUT_LIT(p, "\r\nTransfer-Encoding: chunked");
	} else if (body) {
		p = PUT_LIT(p, "\r\nContent-Length: ");
		p = put_uint(p, len);
	}
	if (!r->keep_alive)
		p = PUT_LIT(p, "\r\nConnection: close");
	else if (r->version == 10)
		p = PUT_LIT(p, "\r\nConnection: keep-alive");
	for (struct resp_hdr *h = r->resp_hdrs; h; h = h->next) {
		p = PUT_LIT(p, "\r\n");
		p = put(p, h->name, h->name_len);
		p = PUT_LIT(p, ": ");
		p = put(p, h->value, h->value_len);
	}
	p = PUT_LIT(p, "\r\n\r\n");
	c->wlen = (size_t)(p - c->wbuf);
	return 0;
}

/* Serialises c->req's whole response: head, then the body copied or queued behind it. */
static int write_response(struct conn *c)
{
	struct warren_request *r = &c->req;
	bool send = sends_body(r);

	if (write_head(c, send && r->body_ext.kind == OUT_NONE ? c->body_len : 0) < 0)
		return -ENOMEM;
	if (!send || (r->body_ext.kind != OUT_NONE && r->body_ext.len == 0)) {
		ext_release(&r->body_ext);
	} else if (r->body_ext.kind != OUT_NONE) {
		/* Written after wbuf, and nothing is queued behind it until it is out. */
		c->ext = r->body_ext;
		r->body_ext = (struct out_ext){.fd = -1};
	} else if (c->body_len) {
		memcpy(c->wbuf + c->wlen, c->body, c->body_len);
		c->wlen += c->body_len;
	}
	return 0;
}

int http_stream_chunk(struct conn *c, const void *data, size_t len)
{
	struct warren_request *r = &c->req;
	char *p;

	if (!sends_body(r) || len == 0)
		return 0;
	if (wbuf_reserve(c, len + 32) < 0)
		return -ENOMEM;
	p = c->wbuf + c->wlen;
	if (stream_chunked(r)) {
		p += sprintf(p, "%zx\r\n", len);
		p = put(p, data, len);
		p = PUT_LIT(p, "\r\n");
	} else {
		p = put(p, data, len);
	}
	c->wlen = (size_t)(p - c->wbuf);
	return 0;
}

/* The last chunk of a streamed response (nothing for an unframed HTTP/1.0 one). */
static int write_stream_end(struct conn *c)
{
	static const char last[] = "0\r\n\r\n";

	if (!sends_body(&c->req) || !stream_chunked(&c->req))
		return 0;
	if (wbuf_reserve(c, sizeof(last) - 1) < 0)
		return -ENOMEM;
	memcpy(c->wbuf + c->wlen, last, sizeof(last) - 1);
	c->wlen += sizeof(last) - 1;
	return 0;
}

int http_stream_begin(struct conn *c)
{
	struct warren_request *r = &c->req;
	int ret;

	r->streaming = true;
	/* Without chunked framing, only the end of the connection ends the body. */
	if (!stream_chunked(r))
		r->keep_alive = false;
	run_on_response(c);
	ret = write_head(c, 0);
	if (ret == 0 && c->body_len)
		ret = http_stream_chunk(c, c->body, c->body_len);
	c->body_len = 0;
	return ret;
}

static void response_reset(struct warren_request *r)
{
	r->status = 200;
	r->resp_hdrs = NULL;
	r->resp_tail = &r->resp_hdrs;
	r->c->body_len = 0;
	ext_release(&r->body_ext);
}

static int set_text_body(struct conn *c, const char *text)
{
	return warren_resp_body(&c->req, text, strlen(text));
}

/* ---- Hooks, handlers and the life of a request ------------------------------------- */

static int respond_405(struct conn *c, uint64_t allow)
{
	struct warren_request *r = &c->req;
	char list[512];
	size_t n = 0;

	response_reset(r);
	r->status = 405;
	list[0] = '\0';
	for (unsigned m = 0; m < 64; m++) {
		const char *name;
		int k;

		if (!(allow & (1ULL << m)))
			continue;
		name = http_method_str((enum http_method)m);
		k = snprintf(list + n, sizeof(list) - n, "%s%s", n ? ", " : "", name);
		if (k < 0 || (size_t)k >= sizeof(list) - n)
			break;
		n += (size_t)k;
	}
	if (warren_resp_header(r, "Allow", list) < 0 ||
	    warren_resp_header(r, "Content-Type", "text/plain; charset=utf-8") < 0 ||
	    set_text_body(c, "405 Method Not Allowed\n") < 0)
		return -ENOMEM;
	return 0;
}

static void respond_status(struct conn *c, int status)
{
	char text[96];

	response_reset(&c->req);
	c->req.status = status;
	snprintf(text, sizeof(text), "%d %s\n", status, http_reason(status));
	if (warren_resp_header(&c->req, "Content-Type", "text/plain; charset=utf-8") < 0 ||
	    set_text_body(c, text) < 0)
		c->body_len = 0;
}

/* An error before (or instead of) any module seeing the request: the connection closes. */
int http_respond_error(struct conn *c, int status)
{
	respond_status(c, status);
	c->req.keep_alive = false;
	c->close_after_write = true;
	return write_response(c);
}

const char *http_request_path(const struct conn *c, size_t *len)
{
	const struct warren_request *r = &c->req;

	*len = r->path_len;
	if (r->path_off == UINT32_MAX)
		return "/";
	return req_base(c) + r->path_off;
}

/* A module call made under a crash context naming @id; its result is the call's. */
#define CALL_MODULE(c, id, call)                                                                   \
	({                                                                                         \
		module_enter((c), (id));                                                           \
		__auto_type ret_ = (call);                                                         \
		module_leave(c);                                                                   \
		ret_;                                                                              \
	})

static void log_module_error(struct conn *c, const char *id, int rc)
{
	struct warren_request *r = &c->req;
	size_t plen;
	const char *path = http_request_path(c, &plen);

	if (rc < 0)
		log_error("%s failed on %s %.*s: %s", id, http_method_str(r->method), (int)plen,
			  path, strerror(-rc));
	else
		log_error("%s returned %d, which is not a valid result there", id, rc);
}

/* Returns WARREN_DECLINED to go on, or WARREN_DONE when a hook answered (or failed). */
static int run_on_request(struct conn *c)
{
	const struct server *srv = c->w->srv;

	for (size_t i = 0; i < srv->n_on_request; i++) {
		const struct req_hook *h = &srv->on_request[i];
		int rc = CALL_MODULE(c, h->id, h->on_request(&c->req, h->data));

		if (rc == WARREN_DECLINED)
			continue;
		if (rc != WARREN_DONE) {
			log_module_error(c, h->id, rc);
			respond_status(c, 500);
		}
		return WARREN_DONE;
	}
	return WARREN_DECLINED;
}

static void run_on_response(struct conn *c)
{
	const struct server *srv = c->w->srv;

	for (size_t i = 0; i < srv->n_on_response; i++) {
		const struct req_hook *h = &srv->on_response[i];
		int rc = CALL_MODULE(c, h->id, h->on_response(&c->req, h->data));

		if (rc != 0)
			log_module_error(c, h->id, rc);
	}
}

static void run_on_complete(struct conn *c)
{
	const struct server *srv = c->w->srv;

	for (size_t i = 0; i < srv->n_on_complete; i++) {
		const struct req_hook *h = &srv->on_complete[i];

		module_enter(c, h->id);
		h->on_complete(&c->req, h->data);
		module_leave(c);
	}
}

/* The result of run_handlers() when the next route must wait for the whole body. */
#define RUN_WAIT (-1000)

/*
 * Walks the routes from where the walk stopped: WARREN_DONE (the response is set, by a
 * handler or as 404/405/500), WARREN_ASYNC, or RUN_WAIT while the body is incomplete
 * and the next route's handler wants it whole.
 */
static int run_handlers(struct conn *c)
{
	struct warren_request *r = &c->req;
	size_t plen;
	const char *path = http_request_path(c, &plen);

	for (;;) {
		size_t pos = r->route_pos;
		const struct route *rt = router_next(&c->w->srv->router, &pos, r->method, path,
						     plen, &r->match, &r->allow);
		int rc;

		if (!rt)
			break;
		if (!r->complete && !rt->stream_body)
			return RUN_WAIT;
		r->route_pos = pos;
		r->route = rt;
		rc = CALL_MODULE(c, rt->id, rt->handler->handle(r, rt->data));
		if (rc == WARREN_DONE || rc == WARREN_ASYNC)
			return rc;
		if (rc == WARREN_DECLINED) {
			response_reset(r);
			r->body_fn = NULL;
			continue;
		}
		log_module_error(c, rt->id, rc);
		respond_status(c, 500);
		return WARREN_DONE;
	}
	r->route = NULL;
	if (r->allow) {
		if (respond_405(c, r->allow) < 0)
			respond_status(c, 500);
		return WARREN_DONE;
	}
	respond_status(c, 404);
	return WARREN_DONE;
}

/* Whether the first route left to try reads the body itself (so runs before it is in). */
static bool next_route_streams(struct conn *c)
{
	struct warren_request *r = &c->req;
	struct route_match m;
	uint64_t allow = 0;
	size_t plen, pos = r->route_pos;
	const char *path = http_request_path(c, &plen);
	const struct route *rt =
		router_next(&c->w->srv->router, &pos, r->method, path, plen, &m, &allow);

	return rt && rt->stream_body;
}

static void cancel_async(struct conn *c)
{
	struct warren_request *r = &c->req;

	for (struct warren_timer *t = r->timers; t; t = t->next)
		timer_cancel(&c->w->timers, &t->t);
	r->timers = NULL;
	while (r->watches) {
		struct warren_watch *wt = r->watches;

		r->watches = wt->next;
		async_watch_close(c->w, wt);
	}
}

/* Runs the cleanups and makes the connection ready for its next request. */
static void request_release(struct conn *c)
{
	struct warren_request *r = &c->req;
	bool complete = r->complete;

	while (r->cleanups) {
		struct req_cleanup *cl = r->cleanups;

		r->cleanups = cl->next;
		cl->fn(cl->arg);
	}
	ext_release(&r->body_ext);
	pool_reset(&c->pool);
	/* Nothing of this request may be taken for the next one's, whose first bytes
	 * (a stray CRLF, say) can arrive before its message begins. */
	request_reset(r);
	if (complete) {
		c->req_start = c->rpos;
		c->request_begun = false;
	}
}

/* The request is over: nothing of it may run any more; its memory goes once jobs are back. */
static void request_end(struct conn *c)
{
	cancel_async(c);
	if (c->jobs) {
		c->req.ending = true;
		return;
	}
	request_release(c);
}

void http_jobs_done(struct conn *c)
{
	if (c->req.ending)
		request_release(c);
}

int http_complete(struct conn *c)
{
	struct warren_request *r = &c->req;
	int ret;

	r->answered = true;
	r->async = false;
	/* The rest of the body is still on its way: the connection cannot carry another. */
	if (!r->complete) {
		r->keep_alive = false;
		c->close_after_write = true;
	}
	c->served++;
	if (r->streaming) {
		ret = write_stream_end(c);
	} else {
		if (r->started)
			run_on_response(c);
		ret = write_response(c);
	}
	if (!r->keep_alive)
		c->close_after_write = true;
	if (r->started)
		run_on_complete(c);
	request_end(c);
	return ret;
}

/* Tells the module its request is over before it answered. */
static void abort_notify(struct conn *c)
{
	struct warren_request *r = &c->req;

	r->aborted = true;
	cancel_async(c);
	if (r->async && r->abort_fn) {
		module_enter(c, handler_id(c));
		r->abort_fn(r, r->abort_arg);
		module_leave(c);
	}
	r->async = false;
	r->body_fn = NULL;
}

void http_abort(struct conn *c)
{
	struct warren_request *r = &c->req;

	if (!r->started || r->answered)
		return;
	abort_notify(c);
	r->answered = true;
	run_on_complete(c);
	request_end(c);
}

/*
 * Ends a request with warren's own error response (a timeout, a body over the limit);
 * one that a module holds is aborted first. The connection closes after it.
 */
int http_fail(struct conn *c, int status)
{
	struct warren_request *r = &c->req;

	if (!r->started || r->answered) {
		if (r->answered && !c->close_after_write)
			return 0; /* answered, waiting for offloaded work: nothing to add */
		return http_respond_error(c, status);
	}
	abort_notify(c);
	if (r->streaming) {
		/* The head is out: all that can be said is to cut the body short. */
		r->answered = true;
		r->keep_alive = false;
		run_on_complete(c);
		request_end(c);
		return -EPIPE;
	}
	respond_status(c, status);
	r->keep_alive = false;
	return http_complete(c);
}

/*
 * Once a module holds a request, the read buffer must stay where it is (the request's
 * strings point into it); a body read piece by piece needs room behind the head, so
 * earlier requests are dropped from the front and a full buffer grows, now.
 */
static void settle_buffer(struct conn *c)
{
	rbuf_compact(c);
	if (c->rcap - c->rlen < BUF_BLOCK / 2)
		rbuf_resize(c, c->rcap * 2);
}

/* Starts the module part of a request: keep-alive is decided and on_request runs. */
static void request_start(struct conn *c)
{
	struct warren_request *r = &c->req;

	r->started = true;
	r->keep_alive = r->persist && c->w->cfg->keepalive_timeout_ms > 0 && !c->parser.upgrade &&
			!c->w->stopping;
	if (run_on_request(c) == WARREN_DONE)
		r->answered = true;
}

/*
 * Moves the request on as far as it can go. Called when its head is in (a route whose
 * handler streams the body runs now) and when the whole message is.
 */
static int advance_request(struct conn *c)
{
	struct warren_request *r = &c->req;
	int rc;

	if (r->async || r->answered || r->ending)
		return 0;
	if (!r->started) {
		if (!r->complete && !next_route_streams(c))
			return 0;
		if (!r->complete)
			settle_buffer(c);
		request_start(c);
		if (r->answered)
			return http_complete(c);
	}
	rc = run_handlers(c);
	if (rc == RUN_WAIT)
		return 0;
	if (rc == WARREN_ASYNC && !r->stream_ended) {
		r->async = true;
		r->async_deadline = c->w->now_ms + c->w->cfg->handler_timeout_ms;
		return 0;
	}
	return http_complete(c);
}

void http_deliver_body(struct conn *c)
{
	struct warren_request *r = &c->req;
	warren_body_fn fn = r->body_fn;
	struct warren_str chunk;
	bool last = r->complete;

	if (!fn || r->answered || (!last && r->body_len == 0))
		return;
	chunk = (struct warren_str){req_base(c) + r->body_off, r->body_len};
	if (last)
		r->body_fn = NULL;
	module_enter(c, handler_id(c));
	fn(r, chunk, last, r->body_arg);
	module_leave(c);
	if (last || r->body_fn != fn || r->answered)
		return;
	/* Delivered: what follows the body moves down over it, so the buffer stays small. */
	{
		size_t at = c->req_start + r->body_off;

		memmove(c->rbuf + at, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen = at + (c->rlen - c->rpos);
		c->rpos = at;
		r->body_len = 0;
	}
}

/* The client waits for this interim response before it sends the body. Nothing can be
 * queued behind it: the request it answers is the last one buffered. */
static int send_continue(struct conn *c)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	if (wbuf_reserve(c, sizeof(cont) - 1) < 0)
		return -ENOMEM;
	memcpy(c->wbuf + c->wlen, cont, sizeof(cont) - 1);
	c->wlen += sizeof(cont) - 1;
	c->req.continue_sent = true;
	return 0;
}

static int parser_error_status(const struct conn *c)
{
	if (c->req.err_status)
		return c->req.err_status;
	switch (HTTP_PARSER_ERRNO(&c->parser)) {
	case HPE_INVALID_METHOD: {
		/* A well-formed method warren does not know is "not implemented"; anything
		 * else in that place is garbage. */
		const char *m = req_base(c), *sp = memchr(m, ' ', c->rlen - c->req_start);

		return sp && http_is_token(m, (size_t)(sp - m)) ? 501 : 400;
	}
	case HPE_HEADER_OVERFLOW:
		return 431;
	case HPE_INVALID_VERSION:
		return 505;
	default:
		return 400;
	}
}

/*
 * Runs the chunked decoder over what is buffered and slides any following bytes (the next
 * pipelined request) down behind the decoded body. Returns CHUNKED_MORE, CHUNKED_DONE, or
 * the error status to answer with.
 */
static int decode_body(struct conn *c)
{
	struct warren_request *r = &c->req;
	size_t out = c->req_start + r->body_off + r->body_len, in = c->rpos;
	int ret;

	ret = chunked_decode(&r->dechunk, c->rbuf, &in, c->rlen, &out, r->body_total,
			     c->w->cfg->max_body_size, c->w->cfg->max_header_size);
	if (ret == -EFBIG)
		return 413;
	if (ret == -EMSGSIZE)
		return 431;
	if (ret < 0)
		return 400;
	r->body_total += (uint32_t)(out - c->req_start - r->body_off - r->body_len);
	r->body_len = (uint32_t)(out - c->req_start - r->body_off);
	memmove(c->rbuf + out, c->rbuf + in, c->rlen - in);
	c->rlen = out + (c->rlen - in);
	c->rpos = out;
	return ret;
}

/* The message is complete: the request goes as far as it can, and a reader gets the end. */
static int serve(struct conn *c)
{
	int ret;

	c->req.complete = true;
	ret = advance_request(c);
	if (ret < 0)
		return ret;
	http_deliver_body(c);
	return 0;
}

/* The head is in and the body is on its way. */
static int body_pending(struct conn *c)
{
	struct warren_request *r = &c->req;
	int ret = advance_request(c);

	if (ret < 0)
		return ret;
	http_deliver_body(c);
	if (r->expect_continue && !r->continue_sent && !r->answered && !c->close_after_write)
		return send_continue(c);
	return 0;
}

bool http_holds_buffer(const struct conn *c)
{
	const struct warren_request *r = &c->req;

	return (r->started && !r->answered) || r->ending;
}

int http_process(struct conn *c)
{
	while (!c->close_after_write && c->wlen < CONN_WBUF_HIGH && c->ext.kind == OUT_NONE) {
		struct warren_request *r = &c->req;
		enum http_errno err;
		size_t n;
		int ret;

		/* A request in a module's hands holds the connection until it is answered. */
		if (r->ending || (r->async && r->complete))
			break;
		if (r->chunked && r->headers_done && c->request_begun) {
			ret = decode_body(c);
			if (ret > CHUNKED_DONE)
				return http_fail(c, ret) == -ENOMEM ? -ENOMEM : 0;
			if (ret == CHUNKED_MORE)
				return body_pending(c);
			if (serve(c) < 0)
				return -ENOMEM;
			continue;
		}
		if (c->rpos >= c->rlen)
			break;
		n = http_parser_execute(&c->parser, &parser_settings, c->rbuf + c->rpos,
					c->rlen - c->rpos);
		err = HTTP_PARSER_ERRNO(&c->parser);
		c->request_begun = true;
		c->rpos += n;
		if (err == HPE_OK) {
			if (c->parser.upgrade) {
				/* The rest would be another protocol; not served here. */
				return http_respond_error(c, 501);
			}
			if (r->headers_done)
				return body_pending(c);
			break; /* all consumed, the head is incomplete */
		}
		if (err != HPE_PAUSED)
			return http_fail(c, parser_error_status(c)) == -ENOMEM ? -ENOMEM : 0;
		http_parser_pause(&c->parser, 0);
		if (r->chunked) {
			/* The head ends here; the body is decoded on the next turn. */
			r->body_off = (uint32_t)(c->rpos - c->req_start);
			continue;
		}
		if (serve(c) < 0)
			return -ENOMEM;
	}
	if (c->rpos == c->rlen && c->req_start == c->rpos && !c->request_begun) {
		/* Nothing partial is buffered: start over at the front, no copy needed. */
		c->rpos = c->rlen = c->req_start = 0;
	}
	return 0;
}

size_t http_rbuf_make_room(struct conn *c)
{
	const struct config *cfg = c->w->cfg;
	size_t limit = cfg->max_header_size + cfg->max_body_size + BUF_BLOCK;

	if (!c->rbuf) {
		rbuf_resize(c, BUF_BLOCK);
		return c->rcap;
	}
	if (c->rlen < c->rcap || http_holds_buffer(c))
		return c->rcap - c->rlen;
	rbuf_compact(c);
	if (c->rlen < c->rcap)
		return c->rcap - c->rlen;
	if (c->rcap >= limit)
		return 0;
	rbuf_resize(c, c->rcap * 2 > limit ? limit : c->rcap * 2);
	return c->rcap - c->rlen;
}

void http_rbuf_take(struct conn *c, void *buf, size_t cap, size_t len)
{
	c->rbuf = rx_buf_keep(c->w->rx, buf, len, &c->rbuf_lent);
	c->rcap = cap;
	c->rlen = len;
	c->rpos = c->req_start = 0;
}

void http_rbuf_done(struct conn *c)
{
	if (c->rbuf && c->rlen == 0 && !c->request_begun && !http_holds_buffer(c))
		rbuf_release(c);
}

void http_conn_trim(struct conn *c)
{
	struct worker *w = c->w;

	if (http_holds_buffer(c))
		return;
	if (c->wlen == 0)
		buf_release(&w->blocks, &c->wbuf, &c->wcap);
	if (c->rlen > c->req_start || c->request_begun) {
		/* A partial request stays, in a buffer of ours: the reactor's are few. */
		if (c->rbuf_lent) {
			rbuf_compact(c);
			rbuf_resize(c, BUF_BLOCK);
		}
		return;
	}
	rbuf_release(c);
	c->rlen = c->rpos = c->req_start = 0;
	buf_release(&w->blocks, &c->body, &c->body_cap);
	pool_release(&c->pool);
}

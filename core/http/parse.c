/* core/http/parse.c - http-parser callbacks that record a request as offsets into the read
 * buffer, the RFC 9110/9112 checks http-parser leaves out, and the splitting of the target
 * into path and query. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "http/conn.h"
#include "http/parse.h"
#include "http/request.h"

static struct conn *parser_conn(http_parser *p)
{
	return container_of(p, struct conn, parser);
}

static uint32_t req_off(const struct conn *c, const char *at)
{
	return (uint32_t)(at - conn_req_base(c));
}

static int reject(struct conn *c, int status)
{
	if (!c->req.err_status)
		c->req.err_status = status;
	return -1;
}

static int on_message_begin(http_parser *p)
{
	struct conn *c = parser_conn(p);

	request_reset(&c->req);
	c->req.start_ms = c->loop->now_ms;
	c->req.conn_seq = c->served;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct conn *c = parser_conn(p);
	struct warren_request *r = &c->req;

	if (r->url_len == 0)
		r->url_off = req_off(c, at);
	r->url_len += len;
	if (r->url_len > c->loop->limits.max_header_size)
		return reject(c, 414);
	return 0;
}

static bool head_too_big(const struct conn *c, const char *at, size_t len)
{
	return (size_t)(at + len - conn_req_base(c)) > c->loop->limits.max_header_size;
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

bool parse_is_token(const char *s, size_t len)
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
	const char *url = conn_req_base(c) + r->url_off;
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
	const char *base = conn_req_base(c), *t = base + r->url_off;

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
	const char *base = conn_req_base(c);
	bool has_cl = false, has_te = false, close = false, keep = false;
	unsigned tes = 0;
	unsigned hosts = 0, te = 0;
	const struct http_limits *cfg = &c->loop->limits;
	const char *path;
	size_t plen;

	r->headers_done = true;
	r->method = p->method;
	if (!head_is_crlf_lines(base, c->rlen - c->req_start))
		return reject(c, 400);
	if (p->http_major != 1 || p->http_minor > 1)
		return reject(c, 505);
	r->version = p->http_minor ? 11 : 10;
	if (!valid_request_line(c, r) || split_target(c, r) < 0)
		return reject(c, 400);
	/* The route decides before any of the body is read: a 413 can come at once. Without
	 * limits of routes there is nothing to look up. */
	r->max_body = (uint32_t)cfg->max_body_size;
	if (c->loop->router && c->loop->router->body_limits) {
		path = request_path(r, &plen);
		r->max_body = (uint32_t)router_body_limit(c->loop->router, r->method, path, plen,
							  cfg->max_body_size);
	}

	for (unsigned i = 0; i < r->nhdrs; i++) {
		struct http_hdr *h = &r->hdrs[i];

		/*
		 * http-parser accepts names with spaces ("Transfer-Encoding : chunked" would
		 * still frame the body), which hide fields from whoever reads the request
		 * next. It checks every byte of a value for control characters but the first
		 * (a NUL there passed); what follows OWS can only be a visible byte. (No value
		 * holds a CR or LF: the head is CRLF lines without obs-fold.)
		 */
		if (!parse_is_token(base + h->name_off, h->name_len) ||
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
	if (has_cl && p->content_length > r->max_body)
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
	if ((size_t)r->body_total + len > r->max_body)
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

const http_parser_settings parse_settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

int parse_error_status(const struct conn *c)
{
	if (c->req.err_status)
		return c->req.err_status;
	switch (HTTP_PARSER_ERRNO(&c->parser)) {
	case HPE_INVALID_METHOD: {
		/* A well-formed method warren does not know is "not implemented"; anything
		 * else in that place is garbage. */
		const char *m = conn_req_base(c), *sp = memchr(m, ' ', c->rlen - c->req_start);

		return sp && parse_is_token(m, (size_t)(sp - m)) ? 501 : 400;
	}
	case HPE_HEADER_OVERFLOW:
		return 431;
	case HPE_INVALID_VERSION:
		return 505;
	default:
		return 400;
	}
}

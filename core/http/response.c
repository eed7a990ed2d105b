/* core/http/response.c - the response side of a request: reason phrases, warren's own status
 * pages, the headers and body set on the request, and the HTTP/1.1 serialisation (status
 * line, headers with warren's framing, chunks, 100-continue) into a connection's write
 * buffer, which is the only part that knows the connection. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http/conn.h"
#include "http/response.h"

const char *response_reason(int status)
{
	/* One line per status reads as the table it is. */
	/* clang-format off */
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
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
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 507: return "Insufficient Storage";
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

/* Gives a body that is not ours back: the module's release, or our duplicate fd. */
void response_ext_release(struct out_ext *e)
{
	if (e->kind == OUT_BORROWED && e->release)
		e->release(e->arg);
	else if (e->kind == OUT_FILE)
		close(e->fd);
	*e = (struct out_ext){.fd = -1};
}

void response_fields_update(struct http_loop *loop)
{
	const struct http_limits *lim = &loop->limits;
	int n = 0;

	/* Both fields are checked for length where they come from (config, strftime). */
	if (lim->server_len)
		n = snprintf(loop->fields, sizeof(loop->fields), "\r\nServer: %.*s",
			     (int)lim->server_len, lim->server);
	loop->fields_date = (size_t)n;
	n += snprintf(loop->fields + n, sizeof(loop->fields) - (size_t)n, "\r\nDate: %s",
		      loop->date);
	loop->fields_len = (size_t)n < sizeof(loop->fields) ? (size_t)n : sizeof(loop->fields) - 1;
}

/* ---- Framing rules --------------------------------------------------------------------- */

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

/* ---- Status, headers and body, set on the request ------------------------------------- */

void response_reset(struct warren_request *r)
{
	r->status = 200;
	r->resp_hdrs = NULL;
	r->resp_tail = &r->resp_hdrs;
	r->resp_len = 0;
	response_ext_release(&r->body_ext);
}

static int set_text_body(struct warren_request *r, const char *text)
{
	return response_body_set(r, text, strlen(text));
}

int response_405(struct warren_request *r, uint64_t allow)
{
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
	if (response_header_add(r, "Allow", list) < 0 ||
	    response_header_add(r, "Content-Type", "text/plain; charset=utf-8") < 0 ||
	    set_text_body(r, "405 Method Not Allowed\n") < 0)
		return -ENOMEM;
	return 0;
}

void response_status_page(struct warren_request *r, int status)
{
	char text[96];

	response_reset(r);
	r->status = status;
	snprintf(text, sizeof(text), "%d %s\n", status, response_reason(status));
	if (response_header_add(r, "Content-Type", "text/plain; charset=utf-8") < 0 ||
	    set_text_body(r, text) < 0)
		r->resp_len = 0;
}

/* A streamed response: chunked framing unless HTTP/1.0, where only the end of the
 * connection can end the body. */
void response_stream_prepare(struct warren_request *r)
{
	r->streaming = true;
	if (!stream_chunked(r))
		r->keep_alive = false;
}

int response_header_add(struct warren_request *r, const char *name, const char *value)
{
	struct resp_hdr *h;
	size_t nlen = strlen(name), vlen = strlen(value);

	h = pool_alloc(r->carrier->pool, sizeof(*h) + nlen + vlen + 2);
	if (!h)
		return -ENOMEM;
	h->name = (char *)(h + 1);
	h->value = h->name + nlen + 1;
	memcpy(h->name, name, nlen + 1);
	memcpy(h->value, value, vlen + 1);
	h->name_len = nlen;
	h->value_len = vlen;
	h->next = NULL;
	*r->resp_tail = h;
	r->resp_tail = &h->next;
	return 0;
}

static bool name_is(const struct resp_hdr *h, const char *name)
{
	return strcasecmp(h->name, name) == 0;
}

bool response_header_remove(struct warren_request *r, const char *name)
{
	struct resp_hdr **link = &r->resp_hdrs;
	bool found = false;

	while (*link) {
		if (name_is(*link, name)) {
			*link = (*link)->next;
			found = true;
			continue;
		}
		link = &(*link)->next;
	}
	/* The tail pointer may have pointed into a removed entry. */
	r->resp_tail = link;
	return found;
}

const struct resp_hdr *response_header_find(const struct warren_request *r, const char *name)
{
	for (const struct resp_hdr *h = r->resp_hdrs; h; h = h->next)
		if (name_is(h, name))
			return h;
	return NULL;
}

void response_body_drop(struct warren_request *r)
{
	r->resp_len = 0;
	if (r->body_ext.kind != OUT_NONE)
		response_ext_release(&r->body_ext);
}

static int body_reserve(struct warren_request *r, size_t extra)
{
	if (extra > SIZE_MAX / 2 - r->resp_len)
		return -ENOMEM;
	return buf_reserve(r->carrier->loop->blocks, &r->resp_body, &r->resp_cap,
			   r->resp_len + extra);
}

char *response_body_space(struct warren_request *r, size_t extra)
{
	if (r->body_ext.kind != OUT_NONE && response_body_to_buffer(r) < 0)
		return NULL;
	if (body_reserve(r, extra) < 0)
		return NULL;
	return r->resp_body + r->resp_len;
}

void response_body_added(struct warren_request *r, size_t len)
{
	r->resp_len += len;
}

int response_body_to_buffer(struct warren_request *r)
{
	struct out_ext e = r->body_ext;
	int ret;

	if (e.kind == OUT_NONE)
		return 0;
	if (e.kind == OUT_FILE)
		return -EINVAL;
	r->body_ext.kind = OUT_NONE;
	r->resp_len = 0;
	ret = response_body_append(r, e.data, e.len);
	r->body_ext = e;
	if (ret < 0)
		return ret;
	response_ext_release(&r->body_ext);
	return 0;
}

int response_body_append(struct warren_request *r, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	if (r->body_ext.kind != OUT_NONE && response_body_to_buffer(r) < 0)
		return -ENOMEM;
	if (body_reserve(r, len) < 0)
		return -ENOMEM;
	memcpy(r->resp_body + r->resp_len, data, len);
	r->resp_len += len;
	return 0;
}

int response_body_set(struct warren_request *r, const void *data, size_t len)
{
	response_body_drop(r);
	return response_body_append(r, data, len);
}

void response_fini(struct warren_request *r)
{
	response_ext_release(&r->body_ext);
	buf_release(r->carrier->loop->blocks, &r->resp_body, &r->resp_cap);
	r->resp_len = 0;
}

/* ---- HTTP/1.1: the response serialised into the connection's write buffer ------------ */

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
		return buf_reserve(c->loop->blocks, &c->wbuf, &c->wcap, c->wlen + n);
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

void response_wbuf_sent(struct conn *c)
{
	if (c->wstale)
		buf_release(c->loop->blocks, &c->wstale, &c->wstale_cap);
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

/*
 * Serialises the status line and headers of c->req's response into the write buffer,
 * with room reserved for @extra more bytes. A streamed response announces chunked
 * framing instead of a length.
 */
static int write_head(struct conn *c, size_t extra)
{
	struct warren_request *r = &c->req;
	const char *reason = response_reason(r->status);
	bool body = status_has_body(r->status);
	const struct http_loop *loop = c->loop;
	size_t from = 0, to = loop->fields_len; /* of warren's Server and Date fields */
	size_t len = r->body_ext.kind != OUT_NONE ? r->body_ext.len : r->resp_len;
	size_t need = 160 + strlen(reason) + loop->fields_len + extra;
	char *p;

	/* A module's Server or Date replaces warren's; names are compared only for the
	 * headers a module set, and only when the length fits. */
	for (struct resp_hdr *h = r->resp_hdrs; h; h = h->next) {
		need += h->name_len + h->value_len + 4;
		if (h->name_len == 6 && name_is(h, "server"))
			from = loop->fields_date;
		else if (h->name_len == 4 && name_is(h, "date"))
			to = loop->fields_date;
	}
	if (wbuf_reserve(c, need) < 0)
		return -ENOMEM;
	p = c->wbuf + c->wlen;
	p = PUT_LIT(p, "HTTP/1.1 ");
	p = put_uint(p, (size_t)r->status);
	*p++ = ' ';
	p = put(p, reason, strlen(reason));
	if (to > from)
		p = put(p, loop->fields + from, to - from);
	if (r->streaming) {
		if (stream_chunked(r))
			p = PUT_LIT(p, "\r\nTransfer-Encoding: chunked");
	} else if (body) {
		p = PUT_LIT(p, "\r\nContent-Length: ");
		p = put_uint(p, len);
		r->clen = len;
	}
	if (r->upgraded && r->status == 101)
		p = PUT_LIT(p, "\r\nConnection: Upgrade");
	else if (!r->keep_alive)
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
	r->head_len = (uint32_t)(p - (c->wbuf + c->wlen));
	c->wlen = (size_t)(p - c->wbuf);
	return 0;
}

/* Serialises c->req's whole response: head, then the body copied or queued behind it. */
int response_write(struct conn *c)
{
	struct warren_request *r = &c->req;
	bool send = sends_body(r);

	if (write_head(c, send && r->body_ext.kind == OUT_NONE ? r->resp_len : 0) < 0)
		return -ENOMEM;
	if (!send || (r->body_ext.kind != OUT_NONE && r->body_ext.len == 0)) {
		response_ext_release(&r->body_ext);
	} else if (r->body_ext.kind != OUT_NONE) {
		/* Written after wbuf, and nothing is queued behind it until it is out. */
		c->ext = r->body_ext;
		r->body_ext = (struct out_ext){.fd = -1};
	} else if (r->resp_len) {
		memcpy(c->wbuf + c->wlen, r->resp_body, r->resp_len);
		c->wlen += r->resp_len;
	}
	return 0;
}

int response_stream_chunk(struct conn *c, const void *data, size_t len)
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
int response_stream_end(struct conn *c)
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

int response_stream_head(struct conn *c)
{
	struct warren_request *r = &c->req;
	int ret = write_head(c, 0);

	if (ret == 0 && r->resp_len)
		ret = response_stream_chunk(c, r->resp_body, r->resp_len);
	r->resp_len = 0;
	return ret;
}

bool response_length(const struct warren_request *r, size_t *len)
{
	if (!r->head_final || r->streaming || !status_has_body(r->status))
		return false;
	if (r->head_len)
		*len = r->clen; /* written: the body may have moved to the connection */
	else
		*len = r->body_ext.kind != OUT_NONE ? r->body_ext.len : r->resp_len;
	return true;
}

/* An error before (or instead of) any module seeing the request: the connection closes. */
int response_error(struct conn *c, int status)
{
	response_status_page(&c->req, status);
	c->req.keep_alive = false;
	c->close_after_write = true;
	return response_write(c);
}

/* The client waits for this interim response before it sends the body. Nothing can be
 * queued behind it: the request it answers is the last one buffered. */
int response_continue(struct conn *c)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	if (wbuf_reserve(c, sizeof(cont) - 1) < 0)
		return -ENOMEM;
	memcpy(c->wbuf + c->wlen, cont, sizeof(cont) - 1);
	c->wlen += sizeof(cont) - 1;
	c->req.continue_sent = true;
	return 0;
}

/* core/request_api.c - the request and response calls of the public module ABI. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

static struct warren_str slice(const struct warren_request *r, uint32_t off, uint32_t len)
{
	struct warren_str s = {r->c->rbuf + r->c->req_start + off, len};

	if (len == 0)
		s.base = "";
	return s;
}

WARREN_API struct warren_str warren_req_method(const struct warren_request *r)
{
	const char *m = http_method_str((enum http_method)r->method);

	return (struct warren_str){m, strlen(m)};
}

WARREN_API struct warren_str warren_req_target(const struct warren_request *r)
{
	return slice(r, r->url_off, r->url_len);
}

WARREN_API struct warren_str warren_req_path(const struct warren_request *r)
{
	if (r->path_off == UINT32_MAX)
		return (struct warren_str){"/", 1};
	return slice(r, r->path_off, r->path_len);
}

WARREN_API struct warren_str warren_req_query(const struct warren_request *r)
{
	return slice(r, r->query_off, r->query_len);
}

WARREN_API int warren_req_version(const struct warren_request *r)
{
	return r->version;
}

WARREN_API bool warren_req_header(const struct warren_request *r, const char *name,
				  struct warren_str *value)
{
	const char *base = r->c->rbuf + r->c->req_start;
	size_t n = strlen(name);

	for (unsigned i = 0; i < r->nhdrs; i++) {
		const struct http_hdr *h = &r->hdrs[i];

		if (h->name_len == n && strncasecmp(base + h->name_off, name, n) == 0) {
			if (value)
				*value = slice(r, h->value_off, h->value_len);
			return true;
		}
	}
	return false;
}

WARREN_API size_t warren_req_header_count(const struct warren_request *r)
{
	return r->nhdrs;
}

WARREN_API bool warren_req_header_at(const struct warren_request *r, size_t i,
				     struct warren_str *name, struct warren_str *value)
{
	const struct http_hdr *h;

	if (i >= r->nhdrs)
		return false;
	h = &r->hdrs[i];
	if (name)
		*name = slice(r, h->name_off, h->name_len);
	if (value)
		*value = slice(r, h->value_off, h->value_len);
	return true;
}

WARREN_API bool warren_req_param(const struct warren_request *r, const char *name,
				 struct warren_str *value)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < r->match.nparams; i++) {
		const struct route_param *p = &r->match.params[i];

		if (p->name_len == n && memcmp(p->name, name, n) == 0) {
			if (value)
				*value = p->value.len ? p->value : (struct warren_str){"", 0};
			return true;
		}
	}
	return false;
}

WARREN_API struct warren_str warren_req_body(const struct warren_request *r)
{
	return slice(r, r->body_off, r->body_len);
}

WARREN_API void *warren_req_alloc(struct warren_request *r, size_t size)
{
	return pool_alloc(&r->c->pool, size);
}

WARREN_API int warren_resp_status(struct warren_request *r, int status)
{
	if (status < 200 || status > 599)
		return -EINVAL;
	r->status = status;
	return 0;
}

static bool valid_header(const char *name, const char *value)
{
	static const char *const reserved[] = {"content-length", "transfer-encoding", "connection"};

	if (!http_is_token(name, strlen(name)))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(reserved); i++)
		if (strcasecmp(name, reserved[i]) == 0)
			return false;
	for (const char *p = value; *p; p++)
		if (*p == '\r' || *p == '\n')
			return false;
	return true;
}

WARREN_API int warren_resp_header(struct warren_request *r, const char *name, const char *value)
{
	struct resp_hdr *h;
	size_t nlen, vlen;

	if (!name || !value || !valid_header(name, value))
		return -EINVAL;
	nlen = strlen(name);
	vlen = strlen(value);
	h = pool_alloc(&r->c->pool, sizeof(*h) + nlen + vlen + 2);
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

static int body_reserve(struct conn *c, size_t extra)
{
	if (extra > SIZE_MAX / 2 - c->body_len)
		return -ENOMEM;
	return mem_grow(&c->body, &c->body_cap, c->body_len + extra, 1024);
}

WARREN_API int warren_resp_append(struct warren_request *r, const void *data, size_t len)
{
	struct conn *c = r->c;

	if (len == 0)
		return 0;
	if (body_reserve(c, len) < 0)
		return -ENOMEM;
	memcpy(c->body + c->body_len, data, len);
	c->body_len += len;
	return 0;
}

WARREN_API int warren_resp_body(struct warren_request *r, const void *data, size_t len)
{
	r->c->body_len = 0;
	return warren_resp_append(r, data, len);
}

WARREN_API int warren_resp_printf(struct warren_request *r, const char *fmt, ...)
{
	struct conn *c = r->c;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	/* +1 for the NUL vsnprintf writes; it is not part of the body. */
	if (body_reserve(c, (size_t)n + 1) < 0)
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(c->body + c->body_len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	c->body_len += (size_t)n;
	return 0;
}

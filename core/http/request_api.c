/* core/http/request_api.c - the request and response calls of the public module ABI: checks of
 * what a module passes, over the engine's own functions, which never call back into here. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "http/parse.h"
#include "http/request.h"
#include "http/response.h"

static struct warren_str slice(const struct warren_request *r, uint32_t off, uint32_t len)
{
	struct warren_str s = {request_bytes(r) + off, len};

	if (len == 0)
		s.base = "";
	return s;
}

WARREN_API struct warren_str warren_req_method(const struct warren_request *r)
{
	/* A request rejected before its head was in has no method yet. */
	const char *m = r->headers_done ? http_method_str((enum http_method)r->method) : "";

	return (struct warren_str){m, strlen(m)};
}

/* http_parser's methods (enum http_method) as the ABI numbers them; the rest are OTHER. */
static const unsigned char method_ids[] = {
	[HTTP_GET] = WARREN_METHOD_GET,	      [HTTP_HEAD] = WARREN_METHOD_HEAD,
	[HTTP_POST] = WARREN_METHOD_POST,     [HTTP_PUT] = WARREN_METHOD_PUT,
	[HTTP_DELETE] = WARREN_METHOD_DELETE, [HTTP_OPTIONS] = WARREN_METHOD_OPTIONS,
	[HTTP_PATCH] = WARREN_METHOD_PATCH,   [HTTP_CONNECT] = WARREN_METHOD_CONNECT,
	[HTTP_TRACE] = WARREN_METHOD_TRACE,
};

WARREN_API enum warren_method warren_req_method_id(const struct warren_request *r)
{
	/* As warren_req_method(): no method before the head is in. */
	if (!r->headers_done || r->method >= sizeof(method_ids))
		return WARREN_METHOD_OTHER;
	return (enum warren_method)method_ids[r->method];
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
	const char *base = request_bytes(r);
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

static int url_decode(struct warren_request *r, struct warren_str in, bool form, bool path,
		      struct warren_str *out);

WARREN_API int warren_req_param_decoded(struct warren_request *r, const char *name,
					struct warren_str *value)
{
	struct warren_str raw;

	if (!name)
		return -EINVAL;
	if (!warren_req_param(r, name, &raw))
		return -ENOENT;
	if (!value)
		value = &raw;
	/* A parameter is a piece of the path: the path's rules, so "%2F" cannot split it. */
	return url_decode(r, raw, false, true, value);
}

WARREN_API struct warren_str warren_req_body(const struct warren_request *r)
{
	return slice(r, r->body_off, r->body_len);
}

WARREN_API void *warren_req_alloc(struct warren_request *r, size_t size)
{
	return pool_alloc(r->carrier->pool, size);
}

WARREN_API void *warren_req_zalloc(struct warren_request *r, size_t n, size_t size)
{
	size_t total;
	void *p;

	if (__builtin_mul_overflow(n, size, &total))
		return NULL;
	p = pool_alloc(r->carrier->pool, total);
	if (p)
		memset(p, 0, total);
	return p;
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
	size_t len = strlen(name);

	if (!parse_is_token(name, len))
		return false;
	/* The framing headers are warren's (compared only when the length matches). */
	if ((len == 14 && strcasecmp(name, "content-length") == 0) ||
	    (len == 17 && strcasecmp(name, "transfer-encoding") == 0) ||
	    (len == 10 && strcasecmp(name, "connection") == 0))
		return false;
	return value[strcspn(value, "\r\n")] == '\0';
}

WARREN_API int warren_resp_header(struct warren_request *r, const char *name, const char *value)
{
	if (!name || !value || !valid_header(name, value))
		return -EINVAL;
	return response_header_add(r, name, value);
}

WARREN_API int warren_resp_append(struct warren_request *r, const void *data, size_t len)
{
	return response_body_append(r, data, len);
}

WARREN_API int warren_resp_body(struct warren_request *r, const void *data, size_t len)
{
	return response_body_set(r, data, len);
}

WARREN_API int warren_resp_printf(struct warren_request *r, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	/* +1 for the NUL vsnprintf writes; it is not part of the body. */
	p = response_body_space(r, (size_t)n + 1);
	if (!p)
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	response_body_added(r, (size_t)n);
	return 0;
}

WARREN_API int warren_resp_get_status(const struct warren_request *r)
{
	/* No status went out to a client that left first. */
	return r->outcome == WARREN_OUTCOME_ABORTED ? 0 : r->status;
}

WARREN_API int warren_resp_header_remove(struct warren_request *r, const char *name)
{
	if (!name)
		return -EINVAL;
	return response_header_remove(r, name) ? 0 : -ENOENT;
}

WARREN_API int warren_resp_header_set(struct warren_request *r, const char *name, const char *value)
{
	if (!name || !value || !valid_header(name, value))
		return -EINVAL;
	response_header_remove(r, name);
	return response_header_add(r, name, value);
}

WARREN_API bool warren_resp_header_get(const struct warren_request *r, const char *name,
				       struct warren_str *value)
{
	const struct resp_hdr *h = name ? response_header_find(r, name) : NULL;
	size_t len;

	if (!h && name && strcasecmp(name, "Content-Length") == 0 && response_length(r, &len)) {
		/* warren's framing, never in the list: told once it is decided. */
		char *text = pool_alloc(r->carrier->pool, 24);

		if (!text)
			return false;
		if (value)
			*value = (struct warren_str){text, (size_t)snprintf(text, 24, "%zu", len)};
		return true;
	}
	if (!h)
		return false;
	if (value)
		*value = (struct warren_str){h->value, h->value_len};
	return true;
}

WARREN_API int warren_resp_body_borrow(struct warren_request *r, const void *data, size_t len,
				       void (*release)(void *arg), void *arg)
{
	if (!data && len)
		return -EINVAL;
	response_body_drop(r);
	r->body_ext = (struct out_ext){
		.kind = OUT_BORROWED,
		.data = data,
		.len = len,
		.release = release,
		.arg = arg,
		.fd = -1,
	};
	return 0;
}

WARREN_API int warren_resp_body_file(struct warren_request *r, int fd, off_t offset, size_t len)
{
	struct stat st;
	int dup_fd;

	if (fd < 0 || offset < 0)
		return -EINVAL;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (uint64_t)offset > (uint64_t)st.st_size ||
	    len > (uint64_t)st.st_size - (uint64_t)offset)
		return -EINVAL;
	dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0)
		return -errno;
	response_body_drop(r);
	r->body_ext = (struct out_ext){
		.kind = OUT_FILE,
		.fd = dup_fd,
		.off = offset,
		.len = len,
	};
	return 0;
}

/* ---- Requests a module keeps ---------------------------------------------------------- */

WARREN_API int warren_req_cleanup(struct warren_request *r, void (*fn)(void *arg), void *arg)
{
	struct req_cleanup *cl;

	if (!fn)
		return -EINVAL;
	cl = pool_alloc(r->carrier->pool, sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	cl->fn = fn;
	cl->arg = arg;
	cl->next = r->cleanups;
	r->cleanups = cl;
	return 0;
}

WARREN_API void warren_req_on_abort(struct warren_request *r, warren_abort_fn fn, void *arg)
{
	r->abort_fn = fn;
	r->abort_arg = arg;
}

WARREN_API int warren_req_body_read(struct warren_request *r, warren_body_fn fn, void *arg)
{
	if (!fn || !request_answerable(r))
		return -EINVAL;
	if (r->body_fn)
		return -EALREADY;
	r->body_fn = fn;
	r->body_arg = arg;
	/* What is buffered already comes from the loop, never from inside this call. */
	r->carrier->ops->resume(r->carrier);
	return 0;
}

WARREN_API int warren_resp_send(struct warren_request *r)
{
	if (r->phase != REQ_ASYNC || !request_answerable(r) || r->streaming)
		return -EINVAL;
	r->carrier->ops->answer(r->carrier);
	return 0;
}

WARREN_API int warren_req_continue(struct warren_request *r)
{
	if (!request_hook_holds(r) || !request_answerable(r) || r->streaming)
		return -EINVAL;
	request_continue(r);
	return 0;
}

WARREN_API int warren_resp_stream_begin(struct warren_request *r, warren_drain_fn drain, void *arg)
{
	int ret;

	if (!request_answerable(r) || r->streaming || r->upgraded || r->body_ext.kind == OUT_FILE)
		return -EINVAL;
	/* A borrowed body goes out copied, like every streamed piece. */
	ret = response_body_to_buffer(r);
	if (ret < 0)
		return ret;
	r->drain_fn = drain;
	r->drain_arg = arg;
	ret = request_stream_begin(r);
	if (ret < 0)
		return ret;
	request_refresh_deadline(r);
	r->carrier->ops->flush(r->carrier);
	return 0;
}

/* Output a streamed response may have waiting before a write is refused. */
#define STREAM_HIGH_WATER (64 * 1024)

WARREN_API int warren_resp_stream_write(struct warren_request *r, const void *data, size_t len)
{
	int ret;

	if (!request_answerable(r) || !r->streaming || (!data && len))
		return -EINVAL;
	if (r->carrier->ops->backlog(r->carrier) >= STREAM_HIGH_WATER) {
		r->want_drain = true;
		return -EAGAIN;
	}
	ret = r->carrier->ops->stream_body(r->carrier, data, len);
	if (ret < 0)
		return ret;
	request_refresh_deadline(r);
	r->carrier->ops->flush(r->carrier);
	return 0;
}

WARREN_API int warren_resp_stream_end(struct warren_request *r)
{
	if (!request_answerable(r) || !r->streaming)
		return -EINVAL;
	/* From inside the handler, returning is what ends the request. */
	if (r->phase != REQ_ASYNC) {
		r->stream_ended = true;
		return 0;
	}
	r->carrier->ops->answer(r->carrier);
	return 0;
}

/* ---- Decoding, addresses, logging ----------------------------------------------------- */

/*
 * Decodes percent-escapes (and '+' as a space when @form) of @in into the pool. "%00" is
 * refused everywhere (C strings end there), "%2F" in a path (it would read as a '/').
 */
static int url_decode(struct warren_request *r, struct warren_str in, bool form, bool path,
		      struct warren_str *out)
{
	char *buf = pool_alloc(r->carrier->pool, in.len + 1);
	size_t n = 0;

	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < in.len; i++) {
		char ch = in.base[i];

		if (ch == '%') {
			int hi = i + 2 < in.len ? hex_value((unsigned char)in.base[i + 1]) : -1;
			int lo = hi >= 0 ? hex_value((unsigned char)in.base[i + 2]) : -1;

			if (hi < 0 || lo < 0)
				return -EINVAL;
			ch = (char)(hi << 4 | lo);
			if (ch == '\0' || (path && ch == '/'))
				return -EINVAL;
			i += 2;
		} else if (form && ch == '+') {
			ch = ' ';
		}
		buf[n++] = ch;
	}
	buf[n] = '\0';
	*out = (struct warren_str){buf, n};
	return 0;
}

WARREN_API int warren_req_path_decoded(struct warren_request *r, struct warren_str *out)
{
	return url_decode(r, warren_req_path(r), false, true, out);
}

WARREN_API int warren_req_query_param(struct warren_request *r, const char *name,
				      struct warren_str *value)
{
	struct warren_str q = warren_req_query(r);
	size_t want = name ? strlen(name) : 0;
	const char *p = q.base, *end = q.base + q.len;

	if (!name)
		return -EINVAL;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		struct warren_str key = {p, (size_t)((eq ? eq : stop) - p)}, decoded;
		int ret;

		/* Keys are compared decoded: "a%5Bb%5D" is the parameter "a[b]". */
		ret = url_decode(r, key, true, false, &decoded);
		if (ret < 0)
			return ret;
		if (decoded.len == want && memcmp(decoded.base, name, want) == 0) {
			struct warren_str raw = {eq ? eq + 1 : stop,
						 eq ? (size_t)(stop - eq - 1) : 0};

			return value ? url_decode(r, raw, true, false, value) : 0;
		}
		p = stop + 1;
	}
	return -ENOENT;
}

WARREN_API int warren_req_query_uint(struct warren_request *r, const char *name, uint64_t max,
				     uint64_t *out)
{
	struct warren_str v;
	uint64_t n = 0;
	int ret;

	ret = warren_req_query_param(r, name, &v);
	if (ret < 0)
		return ret;
	if (v.len == 0)
		return -EINVAL;
	for (size_t i = 0; i < v.len; i++) {
		unsigned digit = (unsigned char)v.base[i] - '0';

		/* Checked before it is added, so that no value wraps round past @max. */
		if (digit > 9 || n > max / 10 || digit > max - n * 10)
			return -EINVAL;
		n = n * 10 + digit;
	}
	*out = n;
	return 0;
}

WARREN_API const struct sockaddr *warren_req_addr(struct warren_request *r, bool local,
						  socklen_t *len)
{
	struct req_addr *a = r->addr[local];

	if (!a) {
		a = pool_alloc(r->carrier->pool, sizeof(*a));
		if (!a)
			return NULL;
		a->len = sizeof(a->ss);
		if (r->carrier->ops->address(r->carrier, local, (struct sockaddr *)&a->ss,
					     &a->len) < 0)
			return NULL;
		r->addr[local] = a;
	}
	if (len)
		*len = a->len;
	return (const struct sockaddr *)&a->ss;
}

WARREN_API struct warren_str warren_req_remote_ip(struct warren_request *r)
{
	const struct sockaddr *sa = warren_req_addr(r, false, NULL);
	char *buf;

	if (!sa)
		return (struct warren_str){"", 0};
	if (sa->sa_family == AF_UNIX)
		return (struct warren_str){"unix", 4};
	buf = pool_alloc(r->carrier->pool, INET6_ADDRSTRLEN);
	if (!buf)
		return (struct warren_str){"", 0};
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf,
			  INET6_ADDRSTRLEN);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
			  INET6_ADDRSTRLEN);
	else
		buf[0] = '\0';
	return (struct warren_str){buf, strlen(buf)};
}

WARREN_API void warren_req_log(struct warren_request *r, enum warren_log_level level,
			       const char *fmt, ...)
{
	struct warren_str method = warren_req_method(r), target = warren_req_target(r);
	struct warren_str ip = warren_req_remote_ip(r);
	char msg[1024], quoted[4 * 200 + 8];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	warren__quote(quoted, sizeof(quoted), target.base, target.len, 200);
	warren_log(level, "%.*s %.*s %s: %s", (int)ip.len, ip.base, (int)method.len, method.base,
		   quoted, msg);
}

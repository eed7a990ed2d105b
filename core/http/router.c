/* core/http/router.c - compiles route path patterns and picks, per request, the first route in
 * config order whose path and method fit. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>

#include "base/log.h"
#include "http/router.h"

#define ROUTE_MAX_PATTERN 1024

/* Enough of a user's text to recognise it in a message without flooding the log. */
#define QUOTE_MAX 64

/* Worst case: every byte escaped as \xNN, plus quotes, "..." and NUL. */
#define QUOTE_BUF (QUOTE_MAX * 4 + 8)

/* The name under which a prefix pattern captures the rest of the path. */
static const char rest_name[] = "*";

#define METHOD_BIT(m) (UINT64_C(1) << (m))

static const char *quote(char *buf, size_t size, const char *s, size_t len)
{
	return warren__quote(buf, size, s, len, QUOTE_MAX);
}

static int fail(struct warren_error *err, const char *fmt, ...) WARREN_PRINTF(2, 3);

static int fail(struct warren_error *err, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* Checks a ":name" segment (@s points at the ':'). */
static int check_param(const char *s, size_t n, const char *text, size_t len,
		       struct warren_error *err)
{
	char q[QUOTE_BUF];
	size_t i;

	if (n == 1)
		return fail(err, "parameter name missing after ':' in %s",
			    quote(q, sizeof(q), text, len));
	for (i = 1; i < n; i++) {
		if (!is_name_char(s[i]))
			return fail(err, "invalid parameter name %s (letters, digits, '_')",
				    quote(q, sizeof(q), s, n));
	}
	return 0;
}

static int check_literal(const char *s, size_t n, struct warren_error *err)
{
	char q[QUOTE_BUF];

	/*
	 * A '*' or ':' in the middle of a segment reads like a glob or a parameter but
	 * would only ever match itself; refusing it keeps such a route from silently
	 * never matching.
	 */
	if (memchr(s, '*', n))
		return fail(err, "'*' inside segment %s: a wildcard must be the whole last segment",
			    quote(q, sizeof(q), s, n));
	if (memchr(s, ':', n))
		return fail(err, "':' inside segment %s: a parameter must be a whole segment",
			    quote(q, sizeof(q), s, n));
	return 0;
}

static bool has_param(const struct route_seg *segs, size_t nsegs, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < nsegs; i++) {
		if (segs[i].kind == SEG_PARAM && segs[i].len == len &&
		    memcmp(segs[i].text, name, len) == 0)
			return true;
	}
	return false;
}

/*
 * The segment array and the NUL-terminated segment strings share one allocation
 * (p->segs), so the per-request match walks one block and freeing is one call.
 */
int route_pattern_compile(struct route_pattern *p, const char *text, struct warren_error *err)
{
	char q[QUOTE_BUF];
	size_t len, maxsegs, nsegs = 0, nparams = 0;
	const char *s, *end;
	char *strings;
	int ret;

	memset(p, 0, sizeof(*p));
	if (!text)
		return fail(err, "missing path pattern");
	len = strnlen(text, ROUTE_MAX_PATTERN + 1);
	if (len > ROUTE_MAX_PATTERN)
		return fail(err, "pattern %s is longer than %d bytes",
			    quote(q, sizeof(q), text, len), ROUTE_MAX_PATTERN);
	if (text[0] != '/')
		return fail(err, "%s must start with '/'", quote(q, sizeof(q), text, len));

	/* Every segment follows a '/', so their count bounds the array. */
	maxsegs = 0;
	for (s = text; *s; s++)
		maxsegs += *s == '/';

	p->text = strdup(text);
	p->segs = malloc(maxsegs * sizeof(*p->segs) + len + 1);
	if (!p->text || !p->segs) {
		ret = -ENOMEM;
		if (err)
			snprintf(err->msg, sizeof(err->msg), "out of memory");
		goto out_free;
	}
	strings = (char *)(p->segs + maxsegs);

	/* "/" is the only pattern with a trailing '/': it has no segments at all. */
	if (len == 1)
		return 0;

	for (s = text + 1;; s = end + 1) {
		struct route_seg *seg = &p->segs[nsegs];
		size_t n;

		end = strchrnul(s, '/');
		n = (size_t)(end - s);
		if (n == 0) {
			ret = fail(err, "empty segment in %s", quote(q, sizeof(q), text, len));
			goto out_free;
		}
		if (n == 1 && s[0] == '*') {
			if (*end) {
				ret = fail(err, "'*' is allowed only as the last segment");
				goto out_free;
			}
			p->prefix = true;
			break;
		}
		if (s[0] == ':') {
			ret = check_param(s, n, text, len, err);
			if (ret)
				goto out_free;
			if (nparams == ROUTE_MAX_PARAMS) {
				ret = fail(err, "more than %d parameters", ROUTE_MAX_PARAMS);
				goto out_free;
			}
			if (has_param(p->segs, nsegs, s + 1, n - 1)) {
				ret = fail(err, "duplicate parameter %s",
					   quote(q, sizeof(q), s + 1, n - 1));
				goto out_free;
			}
			nparams++;
			seg->kind = SEG_PARAM;
			s++;
			n--;
		} else {
			ret = check_literal(s, n, err);
			if (ret)
				goto out_free;
			seg->kind = SEG_LITERAL;
		}
		memcpy(strings, s, n);
		strings[n] = '\0';
		seg->text = strings;
		seg->len = n;
		strings += n + 1;
		nsegs++;
		if (!*end)
			break;
	}
	p->nsegs = nsegs;
	return 0;

out_free:
	route_pattern_free(p);
	return ret;
}

void route_pattern_free(struct route_pattern *p)
{
	free(p->text);
	free(p->segs);
	memset(p, 0, sizeof(*p));
}

/*
 * Runs for every request against every route tried, so it never allocates and reads
 * each path byte at most twice (memchr, then memcmp).
 */
bool route_pattern_match(const struct route_pattern *p, const char *path, size_t len,
			 struct route_match *m)
{
	size_t i, np = 0;
	size_t pos = 0; /* the '/' before the next segment, or len */

	if (len == 0 || path[0] != '/')
		goto out_nomatch;
	if (p->nsegs == 0 && !p->prefix) {
		if (len != 1)
			goto out_nomatch;
		goto out_match;
	}
	for (i = 0; i < p->nsegs; i++) {
		const struct route_seg *seg = &p->segs[i];
		size_t start, n;
		const char *slash;

		if (pos == len)
			goto out_nomatch;
		start = pos + 1;
		slash = memchr(path + start, '/', len - start);
		pos = slash ? (size_t)(slash - path) : len;
		n = pos - start;
		if (seg->kind == SEG_LITERAL) {
			if (n != seg->len || memcmp(path + start, seg->text, n) != 0)
				goto out_nomatch;
		} else {
			if (n == 0)
				goto out_nomatch;
			if (m) {
				m->params[np].name = seg->text;
				m->params[np].name_len = seg->len;
				m->params[np].value.base = path + start;
				m->params[np].value.len = n;
			}
			np++;
		}
	}
	if (!p->prefix) {
		if (pos != len)
			goto out_nomatch;
		goto out_match;
	}
	// "/static/*" takes "/static" and "/static/..." but never "/staticx".
	if (m) {
		size_t rest = pos == len ? len : pos + 1;

		m->params[np].name = rest_name;
		m->params[np].name_len = sizeof(rest_name) - 1;
		m->params[np].value.base = path + rest;
		m->params[np].value.len = len - rest;
	}
	np++;
out_match:
	if (m)
		m->nparams = np;
	return true;
out_nomatch:
	if (m)
		m->nparams = 0;
	return false;
}

bool route_method_allowed(uint64_t methods, unsigned method)
{
	if (methods == 0)
		return true;
	if (method >= 64)
		return false;
	if (methods & METHOD_BIT(method))
		return true;
	/* A GET route answers HEAD too; the HTTP layer drops the body. */
	return method == HTTP_HEAD && (methods & METHOD_BIT(HTTP_GET));
}

void router_init(struct router *rt)
{
	rt->routes = NULL;
	rt->nroutes = 0;
	rt->body_limits = false;
}

/*
 * The router keeps no capacity field: the array holds max(4, next power of two)
 * entries, so it is full exactly when the count is 0 or a power of two >= 4.
 */
static bool router_full(size_t n)
{
	return n == 0 || (n >= 4 && (n & (n - 1)) == 0);
}

int router_add(struct router *rt, struct route_pattern *pattern, uint64_t methods,
	       const struct warren_handler *handler, void *data, char *id)
{
	struct route *r;

	if (router_full(rt->nroutes)) {
		size_t cap = rt->nroutes ? rt->nroutes * 2 : 4;
		struct route *routes = reallocarray(rt->routes, cap, sizeof(*routes));

		if (!routes)
			return -ENOMEM;
		rt->routes = routes;
	}
	r = &rt->routes[rt->nroutes++];
	/* Every field the caller does not set later starts zero: keyconf in particular is
	 * only allocated when a module key stands in the route. */
	*r = (struct route){.pattern = *pattern,
			    .methods = methods,
			    .handler = handler,
			    .data = data,
			    .id = id,
			    .max_body_size = SIZE_MAX};
	/* The caller's copy no longer owns anything; freeing it now is harmless. */
	memset(pattern, 0, sizeof(*pattern));
	return 0;
}

void router_free(struct router *rt)
{
	size_t i;

	for (i = 0; i < rt->nroutes; i++) {
		route_pattern_free(&rt->routes[i].pattern);
		free(rt->routes[i].id);
	}
	free(rt->routes);
	router_init(rt);
}

void router_set_body_limit(struct router *rt, size_t max_body_size)
{
	rt->routes[rt->nroutes - 1].max_body_size = max_body_size;
	rt->body_limits = true;
}

size_t router_body_limit(const struct router *rt, unsigned method, const char *path, size_t len,
			 size_t fallback)
{
	size_t pos = 0;
	const struct route *r;

	/* Without any limit of a route's own, no request pays for a route walk. */
	if (!rt || !rt->body_limits)
		return fallback;
	r = router_next(rt, &pos, method, path, len, NULL, NULL);
	return r && r->max_body_size != SIZE_MAX ? r->max_body_size : fallback;
}

const struct route *router_next(const struct router *rt, size_t *pos, unsigned method,
				const char *path, size_t len, struct route_match *m,
				uint64_t *allow)
{
	size_t i;

	for (i = *pos; i < rt->nroutes; i++) {
		const struct route *r = &rt->routes[i];

		if (!route_method_allowed(r->methods, method)) {
			/* Only a path match makes this route part of a 405's Allow. */
			if (allow && route_pattern_match(&r->pattern, path, len, NULL)) {
				*allow |= r->methods;
				if (r->methods & METHOD_BIT(HTTP_GET))
					*allow |= METHOD_BIT(HTTP_HEAD);
			}
			continue;
		}
		if (route_pattern_match(&r->pattern, path, len, m)) {
			*pos = i + 1;
			return r;
		}
	}
	*pos = rt->nroutes;
	if (m)
		m->nparams = 0;
	return NULL;
}

/* core/http/router.h - route path patterns and first-match routing in config order. */
#ifndef WARREN_CORE_ROUTER_H
#define WARREN_CORE_ROUTER_H

#include "base/common.h"

#define ROUTE_MAX_PARAMS 8

enum route_seg_kind {
	SEG_LITERAL, /* "users": matches exactly these bytes */
	SEG_PARAM,   /* ":id": matches one non-empty segment, captured as "id" */
};

struct route_seg {
	enum route_seg_kind kind;
	char *text; /* literal bytes, or the parameter name without ':' */
	size_t len;
};

// A compiled path pattern (line comments: a block comment cannot quote "/*"):
//   "/a/b"        exact: only "/a/b"
//   "/users/:id"  one non-empty segment per parameter
//   "/static/*"   prefix: "/static", "/static/" and everything below; the rest after
//                 "/static/" is captured as parameter "*"
//   "/"           only "/"; "/*" matches every path
struct route_pattern {
	char *text;
	struct route_seg *segs;
	size_t nsegs;
	bool prefix; // ends with "/*"
};

struct route_param {
	const char *name; /* points into the pattern; "*" for the prefix rest */
	size_t name_len;
	struct warren_str value; /* slice of the request path */
};

struct route_match {
	size_t nparams;
	struct route_param params[ROUTE_MAX_PARAMS + 1]; /* + the prefix rest */
};

struct route {
	struct route_pattern pattern;
	uint64_t methods; /* bit (1 << enum http_method); 0 = any; GET implies HEAD */
	const struct warren_handler *handler;
	void *data;	      /* from the handler's configure callback */
	char *id;	      /* "module.handler", for logs */
	bool stream_body;     /* the handler runs once the head is in, and reads the body itself */
	size_t max_body_size; /* for requests it is the first to match; SIZE_MAX: the server's */
	uint32_t ctx;	      /* its module's request context, as in struct req_hook */
	uint16_t key;	      /* its module's config_key slot, as in struct req_hook */
	/* What modules' configure_route made of their keys in this route, by slot - 1; NULL
	 * when the route sets none. */
	void **keyconf;
};

struct router {
	struct route *routes;
	size_t nroutes;
	bool body_limits; /* some route has a max_body_size of its own */
};

/*
 * Compiles @text into @p. On error returns -EINVAL and sets @err to what is wrong
 * (without a JSON path; the caller prefixes it), e.g. "must start with '/'".
 */
int route_pattern_compile(struct route_pattern *p, const char *text, struct warren_error *err);
void route_pattern_free(struct route_pattern *p);

/* Matches a raw request path (no query); fills @m with the parameters. */
bool route_pattern_match(const struct route_pattern *p, const char *path, size_t len,
			 struct route_match *m);

/* True when @methods (a route's mask) admits @method (enum http_method). */
bool route_method_allowed(uint64_t methods, unsigned method);

void router_init(struct router *rt);
/* Appends a route; the router takes ownership of @pattern's contents and @id. */
int router_add(struct router *rt, struct route_pattern *pattern, uint64_t methods,
	       const struct warren_handler *handler, void *data, char *id);
void router_free(struct router *rt);
/* Gives the route last added a body limit of its own. */
void router_set_body_limit(struct router *rt, size_t max_body_size);
/* The body limit of a request: that of the first route matching it, else @fallback. */
size_t router_body_limit(const struct router *rt, unsigned method, const char *path, size_t len,
			 size_t fallback);

/*
 * Returns the next route at or after index *pos whose pattern matches @path and whose
 * methods admit @method, and sets *pos past it so a declined request can continue the
 * walk. Routes whose path matches but whose methods do not add their mask to *allow
 * (for a 405's Allow header). Returns NULL when no further route matches.
 */
const struct route *router_next(const struct router *rt, size_t *pos, unsigned method,
				const char *path, size_t len, struct route_match *m,
				uint64_t *allow);

#endif /* WARREN_CORE_ROUTER_H */

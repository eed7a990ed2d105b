/* tests/plugins/gate.c - an on_request hook that decides later, as an auth module asking a
 * remote service would: it keeps the request (WARREN_ASYNC), waits on a request timer, then
 * lets it go on (warren_req_continue()) or answers it. The request header
 * "X-Gate: MODE MS" picks what it does after MS milliseconds: "pass" continues, "deny"
 * answers 403, "hang" never decides (the client leaves, the worker stops, or
 * http.handler_timeout answers 504), "skip" arms a timer and an abort callback for MS
 * and then declines at once (neither may run: what a hook armed goes with it). Every
 * step is logged, "gate: ..." with the target.
 * Its handlers show the ABI 0.4 request calls: the method as an enum, decoded route
 * parameters and zeroed pool memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <warren/module.h>

struct gate {
	struct warren_request *r;
	char mode[8];
	struct warren_timer *stray; /* armed and never fired: continue must cancel it */
	char target[128];
};

static void gate_log(struct gate *g, const char *what)
{
	warren_log(WARREN_LOG_INFO, "gate: %s %s", what, g->target);
}

static void on_cleanup(void *arg)
{
	struct gate *g = arg;
	char *p = warren_req_zalloc(g->r, 1, 64);

	/* The pool is still there for cleanups. */
	if (!p || p[63])
		gate_log(g, "pool in cleanup failed");
	gate_log(g, "cleanup");
	free(g);
}

static void on_abort(struct warren_request *r, void *arg)
{
	(void)r;
	gate_log(arg, "abort");
}

static void stray_timer(struct warren_request *r, void *arg)
{
	(void)r;
	gate_log(arg, "stray timer ran");
}

static void decide(struct warren_request *r, void *arg)
{
	struct gate *g = arg;
	int ret;

	if (strcmp(g->mode, "pass") == 0) {
		ret = warren_req_continue(r);
		gate_log(g, ret == 0 ? "pass" : "continue failed");
		/* Once continued, the hook has no say: both are refused. */
		if (warren_req_continue(r) != -EINVAL || warren_resp_send(r) != -EINVAL)
			gate_log(g, "second decision accepted");
		return;
	}
	warren_resp_status(r, 403);
	warren_resp_header(r, "Content-Type", "text/plain");
	warren_resp_body(r, "gate says no\n", 13);
	/* Sending ends the request: its cleanup frees g. */
	gate_log(g, "deny");
	if (warren_resp_send(r) < 0)
		warren_log(WARREN_LOG_ERROR, "gate: deny failed");
}

static int gate_on_request(struct warren_request *r, void *module_data)
{
	struct warren_str spec, target = warren_req_target(r);
	struct gate *g;
	unsigned ms = 0;
	char text[32];

	(void)module_data;
	if (!warren_req_header(r, "X-Gate", &spec))
		return WARREN_DECLINED;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	if (warren_req_cleanup(r, on_cleanup, g) < 0) {
		free(g);
		return -ENOMEM;
	}
	g->r = r;
	snprintf(g->target, sizeof(g->target), "%.*s", (int)target.len, target.base);
	/* Request strings are slices, not C strings. */
	snprintf(text, sizeof(text), "%.*s", (int)spec.len, spec.base);
	if (sscanf(text, "%7s %u", g->mode, &ms) < 1)
		return -EINVAL;
	/* From the hook itself, before it returned WARREN_ASYNC: not yet. */
	if (warren_req_continue(r) != -EINVAL)
		gate_log(g, "early continue accepted");
	warren_req_on_abort(r, on_abort, g);
	if (strcmp(g->mode, "skip") == 0) {
		if (warren_timer_add(r, ms, stray_timer, g, NULL) < 0)
			return -ENOMEM;
		gate_log(g, "skip");
		return WARREN_DECLINED;
	}
	gate_log(g, "wait");
	if (strcmp(g->mode, "hang") == 0)
		return WARREN_ASYNC;
	if (warren_timer_add(r, ms, decide, g, NULL) < 0 ||
	    warren_timer_add(r, 3600 * 1000, stray_timer, g, &g->stray) < 0)
		return -ENOMEM;
	return WARREN_ASYNC;
}

static const char *method_name(enum warren_method m)
{
	static const char *const names[] = {
		[WARREN_METHOD_OTHER] = "OTHER",     [WARREN_METHOD_GET] = "GET",
		[WARREN_METHOD_HEAD] = "HEAD",	     [WARREN_METHOD_POST] = "POST",
		[WARREN_METHOD_PUT] = "PUT",	     [WARREN_METHOD_DELETE] = "DELETE",
		[WARREN_METHOD_OPTIONS] = "OPTIONS", [WARREN_METHOD_PATCH] = "PATCH",
		[WARREN_METHOD_CONNECT] = "CONNECT", [WARREN_METHOD_TRACE] = "TRACE",
	};

	return (unsigned)m < sizeof(names) / sizeof(names[0]) ? names[m] : "?";
}

static const char *err_name(int ret)
{
	switch (ret) {
	case 0:
		return "0";
	case -ENOENT:
		return "ENOENT";
	case -EINVAL:
		return "EINVAL";
	case -ENOMEM:
		return "ENOMEM";
	default:
		return "other";
	}
}

/* "METHOD-ID name=RC [value] missing=RC zeroed=yes body=N". */
static int show_handler(struct warren_request *r, void *data)
{
	struct warren_str v = {"", 0}, body = warren_req_body(r);
	unsigned char *z;
	bool zeroed = true;
	int ret, missing;

	(void)data;
	ret = warren_req_param_decoded(r, "name", &v);
	missing = warren_req_param_decoded(r, "nope", NULL);
	z = warren_req_zalloc(r, 64, 4);
	if (!z)
		return -ENOMEM;
	for (size_t i = 0; i < 256; i++)
		zeroed = zeroed && z[i] == 0;
	/* Overflowing sizes fail rather than give a small block. */
	if (warren_req_zalloc(r, SIZE_MAX / 2, 4) || warren_req_alloc(r, SIZE_MAX))
		zeroed = false;
	/* Dirty the pool behind: the next request on the connection reuses this memory, so
	 * its zeroed block would show what was here if zeroing were missing. */
	z = warren_req_alloc(r, 4096);
	if (!z)
		return -ENOMEM;
	memset(z, 0xa5, 4096);
	if (warren_resp_printf(r, "%s name=%s [%.*s] missing=%s zeroed=%s body=%zu\n",
			       method_name(warren_req_method_id(r)), err_name(ret),
			       ret ? 0 : (int)v.len, v.base, err_name(missing),
			       zeroed ? "yes" : "no", body.len) < 0)
		return -ENOMEM;
	return WARREN_DONE;
}

struct count {
	size_t n;
};

static void count_body(struct warren_request *r, struct warren_str chunk, bool last, void *arg)
{
	struct count *c = arg;

	c->n += chunk.len;
	if (!last)
		return;
	warren_resp_printf(r, "streamed %zu\n", c->n);
	warren_resp_send(r);
}

/* Reads the body as it comes (stream_body): the hook ran once the head was in. */
static int stream_handler(struct warren_request *r, void *data)
{
	struct count *c = warren_req_zalloc(r, 1, sizeof(*c));

	(void)data;
	if (!c || warren_req_body_read(r, count_body, c) < 0)
		return -ENOMEM;
	return WARREN_ASYNC;
}

static void later_answer(struct warren_request *r, void *arg)
{
	(void)arg;
	warren_resp_printf(r, "later\n");
	warren_resp_send(r);
}

/* Answers after "?ms=N" milliseconds: a handler that holds the request meanwhile. */
static int later_handler(struct warren_request *r, void *data)
{
	uint64_t ms = 0;

	(void)data;
	if (warren_req_query_uint(r, "ms", 60000, &ms) == -EINVAL ||
	    warren_timer_add(r, ms, later_answer, NULL, NULL) < 0)
		return -EINVAL;
	return WARREN_ASYNC;
}

static const struct warren_handler gate_handlers[] = {
	{.name = "show", .handle = show_handler},
	{.name = "later", .handle = later_handler},
	{.name = "stream", .handle = stream_handler, .stream_body = true},
	{.name = NULL},
};

WARREN_MODULE(gate, .version = "1.0", .handlers = gate_handlers, .on_request = gate_on_request, );

/* tests/plugins/abi_v03.c - a module as built against the ABI 0.3 headers, whose on_request
 * hook returns WARREN_ASYNC: 0.3 knew no hook that keeps a request, so it must still get
 * a 500 rather than a request held until http.handler_timeout. */
#include <errno.h>
#include <stddef.h>

#include <warren/module.h>

static int hook(struct warren_request *r, void *module_data)
{
	(void)module_data;
	return warren_req_header(r, "X-Async", NULL) ? WARREN_ASYNC : WARREN_DECLINED;
}

static int greet(struct warren_request *r, void *route_data)
{
	(void)route_data;
	return warren_resp_printf(r, "0.3 module\n") < 0 ? -ENOMEM : WARREN_DONE;
}

static const struct warren_handler handlers[] = {
	{.name = "greet", .handle = greet},
	{.name = NULL},
};

/* By hand, as WARREN_MODULE() would have filled it in with the 0.3 headers: the
 * descriptor ended with on_complete then. */
WARREN_API const struct warren_module warren_module = {
	.abi_major = 0,
	.abi_minor = 3,
	.struct_size = offsetof(struct warren_module, request_ctx_size),
	.handler_size = sizeof(struct warren_handler),
	.name = "abi_v03",
	.handlers = handlers,
	.on_request = hook,
};

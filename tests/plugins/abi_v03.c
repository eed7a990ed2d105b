/* tests/plugins/abi_v03.c - a module as built against the ABI 0.3 headers: its descriptor
 * ends where 0.3 ended (after on_complete) and poison follows, so a loader that reads the
 * fields added since (request_ctx_size, on_reopen) refuses the module for an absurd context
 * size or calls a bad pointer instead of passing. Its request hooks are 0.3's, and report
 * what they see so that the test can tell they behave as they did. 0.3 knew no hook that
 * keeps a request: one returning WARREN_ASYNC must still get a 500, not a request held until
 * http.handler_timeout. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <warren/module.h>

/* struct warren_module as it was in 0.3. */
struct module_v03 {
	uint16_t abi_major, abi_minor;
	uint32_t struct_size, handler_size;
	const char *name, *version;
	const struct warren_handler *handlers;
	void *init, *worker_init, *worker_exit, *fini;
	void *on_child_spawn, *on_master_ready, *on_child_recover, *on_master_death;
	int (*on_request)(struct warren_request *r, void *module_data);
	int (*on_response)(struct warren_request *r, void *module_data);
	void (*on_complete)(struct warren_request *r, void *module_data);
};

_Static_assert(sizeof(struct module_v03) == offsetof(struct warren_module, request_ctx_size),
	       "the 0.3 descriptor ends where request_ctx_size begins");

static int greet(struct warren_request *r, void *route_data)
{
	(void)route_data;
	return warren_resp_printf(r, "0.3 module\n") < 0 ? -ENOMEM : WARREN_DONE;
}

static int v03_on_request(struct warren_request *r, void *module_data)
{
	(void)module_data;
	if (warren_req_header(r, "X-Async", NULL))
		return WARREN_ASYNC;
	return warren_resp_header(r, "X-V03-Request", "1") < 0 ? -ENOMEM : WARREN_DECLINED;
}

/* A module that asked for no context gets none, also when its descriptor cannot say. */
static int v03_on_response(struct warren_request *r, void *module_data)
{
	(void)module_data;
	return warren_resp_header(r, "X-V03-Ctx", warren_req_ctx(r) ? "some" : "none");
}

static void v03_on_complete(struct warren_request *r, void *module_data)
{
	struct warren_str target = warren_req_target(r);

	(void)module_data;
	warren_log(WARREN_LOG_INFO, "abi_v03: complete %.*s status=%d aborted=%d", (int)target.len,
		   target.base, warren_resp_get_status(r), warren_req_aborted(r));
}

static const struct warren_handler handlers[] = {
	{.name = "greet", .handle = greet},
	{.name = NULL},
};

WARREN_API const struct {
	struct module_v03 m;
	uintptr_t poison[2]; /* where request_ctx_size and on_reopen would be */
} warren_module = {
	.m =
		{
			.abi_major = WARREN_ABI_MAJOR,
			.abi_minor = 3,
			.struct_size = sizeof(struct module_v03),
			.handler_size = sizeof(struct warren_handler),
			.name = "abi_v03",
			.handlers = handlers,
			.on_request = v03_on_request,
			.on_response = v03_on_response,
			.on_complete = v03_on_complete,
		},
	.poison = {UINTPTR_MAX, 1},
};

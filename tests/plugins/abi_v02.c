/* tests/plugins/abi_v02.c - a module as built against the ABI 0.2 headers: its descriptor
 * and handler entries end where 0.2 ended, and poison follows each, so a loader that reads
 * fields added since (request hooks, stream_body) crashes or misroutes instead of passing. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <warren/module.h>

/* struct warren_handler as it was in 0.2. */
struct handler_v02 {
	const char *name;
	warren_handler_fn handle;
	warren_configure_fn configure;
	warren_release_fn release;
};

/* struct warren_module as it was in 0.2. */
struct module_v02 {
	uint16_t abi_major, abi_minor;
	uint32_t struct_size, handler_size;
	const char *name, *version;
	const struct handler_v02 *handlers;
	void *init, *worker_init, *worker_exit, *fini;
	void *on_child_spawn, *on_master_ready, *on_child_recover, *on_master_death;
};

_Static_assert(sizeof(struct module_v02) == offsetof(struct warren_module, on_request),
	       "the 0.2 descriptor ends where the request hooks begin");
_Static_assert(sizeof(struct handler_v02) == offsetof(struct warren_handler, stream_body),
	       "the 0.2 handler entry ends where stream_body begins");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "a pointer's first byte in memory is its lowest");

/* Answers with the body it was given: a handler taken for a streaming one would run
 * before the body is in, and answer with less. */
static int greet(struct warren_request *r, void *route_data)
{
	struct warren_str body = warren_req_body(r);

	(void)route_data;
	return warren_resp_printf(r, "0.2 module, body of %zu bytes\n", body.len) < 0 ? -ENOMEM :
											WARREN_DONE;
}

/*
 * Entries are 0.2-sized and back to back, so where a 0.3 reader would look for the first
 * entry's stream_body lies the first byte of the second entry's name pointer: an odd
 * address, so that byte is never 0.
 */
static const char names[] __attribute__((aligned(8))) = "_other";

static const struct handler_v02 handlers[] = {
	{"greet", greet, NULL, NULL},
	{names + 1, greet, NULL, NULL},
	{NULL, NULL, NULL, NULL},
};

WARREN_API const struct {
	struct module_v02 m;
	uintptr_t poison[3]; /* where on_request, on_response and on_complete would be */
} warren_module = {
	.m =
		{
			.abi_major = WARREN_ABI_MAJOR,
			.abi_minor = 2,
			.struct_size = sizeof(struct module_v02),
			.handler_size = sizeof(struct handler_v02),
			.name = "abi_v02",
			.handlers = handlers,
		},
	.poison = {1, 1, 1},
};

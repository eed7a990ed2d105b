/* tests/plugins/crash.c - a handler that crashes its worker on every request, to drive the
 * master's recovery into its back-off. */
#include <signal.h>

#include <warren/module.h>

static int crash(struct warren_request *r, void *data)
{
	(void)r;
	(void)data;
	raise(SIGSEGV);
	return WARREN_DONE;
}

static const struct warren_handler handlers[] = {
	{.name = "now", .handle = crash},
	{.name = NULL},
};

WARREN_MODULE(crash, .handlers = handlers, );

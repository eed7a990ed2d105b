/* tests/plugins/missing_symbol.c - calls an API function warren does not export, so that
 * dlopen(RTLD_NOW) must fail at load time instead of at the first request. */
#include <warren/module.h>

void warren_no_such_function(struct warren_request *r);

static int handle(struct warren_request *r, void *data)
{
	(void)data;
	warren_no_such_function(r);
	return WARREN_DONE;
}

static const struct warren_handler handlers[] = {
	{.name = "h", .handle = handle},
	{.name = NULL},
};

WARREN_MODULE(missing_symbol, .handlers = handlers, );

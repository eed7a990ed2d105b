/* tests/plugins/version_b.c - module "version" answering "B": two builds of one module,
 * so a test can replace the .so at a path and check that a reload runs the new code. */
#include <warren/module.h>

static int get(struct warren_request *r, void *data)
{
	(void)data;
	return warren_resp_body(r, "B", 1) < 0 ? -12 : WARREN_DONE;
}

static const struct warren_handler handlers[] = {
	{.name = "get", .handle = get},
	{.name = NULL},
};

WARREN_MODULE(version, .handlers = handlers, );

/* tests/plugins/init_fail.c - a module whose init refuses its config, with a reason. */
#include <errno.h>

#include <warren/module.h>

static int init(const json_t *config, void **data, struct warren_error *err)
{
	(void)data;
	warren_error_set(err, "needs a \"secret\" (got %zu keys)", json_object_size(config));
	return -EINVAL;
}

WARREN_MODULE(init_fail, .init = init, );

/* tests/plugins/top_key.c - a module that owns the config key "limits" at the top level
 * only (no configure_route), so that the key is refused in a route. */
#include <errno.h>

#include <warren/module.h>

static int limits_init(const json_t *config, void **module_data, struct warren_error *err)
{
	(void)module_data, (void)err;
	return json_is_object(config) ? 0 : -EINVAL;
}

WARREN_MODULE(top_key, .version = "1", .init = limits_init, .config_key = "limits");

/* skeleton.c - the skeleton warren plugin: answers with a greeting configured per route.
 *
 * Module config (optional): { "greeting": "text every route starts from" }
 * Route config (optional):  { "text": "...", "status": 200 }
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <warren/module.h>

#define DEFAULT_GREETING "Hello from skeleton\n"

/* What one route answers, made by skeleton_configure() in the master before the workers
 * fork; handlers only read it. */
struct skeleton_route {
	char *text;
	size_t len;
	int status;
};

static int skeleton_init(const json_t *config, void **module_data, struct warren_error *err)
{
	static const char *const keys[] = {"greeting", NULL};
	const char *greeting = DEFAULT_GREETING;

	/* A key the plugin does not know is a mistake in the config: warren names it and the
	 * key it probably meant. */
	if (warren_conf_keys(config, keys, err) < 0 ||
	    warren_conf_string(config, "greeting", 0, 0, &greeting, err) < 0)
		return -EINVAL;
	*module_data = strdup(greeting);
	return *module_data ? 0 : -ENOMEM;
}

static void skeleton_fini(void *module_data)
{
	free(module_data);
}

static void skeleton_route_free(void *route_data)
{
	struct skeleton_route *route = route_data;

	free(route->text);
	free(route);
}

static int skeleton_configure(const json_t *config, void *module_data, void **route_data,
			      struct warren_error *err)
{
	static const char *const keys[] = {"text", "status", NULL};
	const char *text = module_data;
	struct skeleton_route *route;
	long long status = 200;

	if (warren_conf_keys(config, keys, err) < 0 ||
	    warren_conf_string(config, "text", 0, 0, &text, err) < 0 ||
	    warren_conf_int(config, "status", 0, 200, 599, &status, err) < 0)
		return -EINVAL;
	route = calloc(1, sizeof(*route));
	if (!route)
		return -ENOMEM;
	route->text = strdup(text);
	if (!route->text) {
		free(route);
		return -ENOMEM;
	}
	route->len = strlen(text);
	route->status = (int)status;
	*route_data = route;
	return 0;
}

static int skeleton_hello(struct warren_request *r, void *route_data)
{
	const struct skeleton_route *route = route_data;
	int ret;

	ret = warren_resp_status(r, route->status);
	if (ret == 0)
		ret = warren_resp_header(r, "Content-Type", "text/plain; charset=utf-8");
	if (ret == 0)
		ret = warren_resp_body(r, route->text, route->len);
	return ret < 0 ? ret : WARREN_DONE;
}

static const struct warren_handler skeleton_handlers[] = {
	{.name = "hello",
	 .handle = skeleton_hello,
	 .configure = skeleton_configure,
	 .release = skeleton_route_free},
	{.name = NULL},
};

WARREN_MODULE(skeleton, .version = "0.1.0", .handlers = skeleton_handlers, .init = skeleton_init,
	      .fini = skeleton_fini);

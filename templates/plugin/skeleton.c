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
	const char *greeting = DEFAULT_GREETING;
	json_error_t jerr;

	/* JSON_STRICT: a key the plugin does not know is a mistake in the config. */
	if (json_unpack_ex((json_t *)config, &jerr, JSON_STRICT, "{s?s}", "greeting", &greeting) <
	    0) {
		warren_error_set(err, "%s", jerr.text);
		return -EINVAL;
	}
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
	const char *text = module_data;
	struct skeleton_route *route;
	json_error_t jerr;
	int status = 200;

	if (json_unpack_ex((json_t *)config, &jerr, JSON_STRICT, "{s?s, s?i}", "text", &text,
			   "status", &status) < 0) {
		warren_error_set(err, "%s", jerr.text);
		return -EINVAL;
	}
	if (status < 200 || status > 599) {
		warren_error_set(err, "status: expected 200 to 599, got %d", status);
		return -EINVAL;
	}
	route = calloc(1, sizeof(*route));
	if (!route)
		return -ENOMEM;
	route->text = strdup(text);
	if (!route->text) {
		free(route);
		return -ENOMEM;
	}
	route->len = strlen(text);
	route->status = status;
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

/* tests/plugins/route_key.c - a module that owns the config key "tag": its top-level value
 * (a string) is the module's config, a route's value (a string, or false) that route's.
 * route_key.show answers with what warren_req_route_conf() gives the handler, and an
 * on_response hook puts what it gives the hook in X-Tag, so that the tests see both
 * callers. A route value "fail" is refused, to check where the error points. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <warren/module.h>

/* What a route with "tag": false stores: the route says "no tag", unlike a route without. */
static char untagged[] = "(off)";

static int tag_init(const json_t *config, void **module_data, struct warren_error *err)
{
	/* Without a top-level "tag", the config is an empty object. */
	if (json_is_object(config) && json_object_size(config) == 0) {
		*module_data = "(default)";
		return 0;
	}
	if (!json_is_string(config)) {
		warren_error_set(err, "expected a string");
		return -EINVAL;
	}
	*module_data = (void *)json_string_value(config);
	return 0;
}

static int tag_configure_route(const json_t *value, void *module_data, void **route_conf,
			       struct warren_error *err)
{
	(void)module_data;
	if (json_is_false(value)) {
		*route_conf = untagged;
		return 0;
	}
	if (!json_is_string(value) || strcmp(json_string_value(value), "fail") == 0) {
		warren_error_set(err, "expected a string other than \"fail\", or false");
		return -EINVAL;
	}
	*route_conf = strdup(json_string_value(value));
	return *route_conf ? 0 : -ENOMEM;
}

static void tag_release_route(void *route_conf)
{
	if (route_conf != untagged)
		free(route_conf);
}

static int show(struct warren_request *r, void *route_data)
{
	const char *tag = warren_req_route_conf(r);

	(void)route_data;
	return warren_resp_printf(r, "route tag: %s\n", tag ? tag : "(none)") < 0 ? -ENOMEM :
										    WARREN_DONE;
}

static int tag_on_response(struct warren_request *r, void *module_data)
{
	const char *tag = warren_req_route_conf(r);

	return warren_resp_header(r, "X-Tag", tag ? tag : module_data);
}

static const struct warren_handler handlers[] = {
	{.name = "show", .handle = show},
	{.name = NULL},
};

WARREN_MODULE(route_key, .version = "1", .handlers = handlers, .init = tag_init,
	      .on_response = tag_on_response, .config_key = "tag",
	      .configure_route = tag_configure_route, .release_route = tag_release_route);

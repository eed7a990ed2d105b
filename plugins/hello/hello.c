/* plugins/hello/hello.c - a loadable example: answers with a greeting configured per route.
 *
 * Module config (optional):  { "text": "default greeting" }
 * Route config (optional):   { "text": "Hello!", "status": 200, "content_type": "text/plain" }
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <warren/module.h>

#define DEFAULT_TEXT "Hello, World!"

struct greeting {
	char *text;
	size_t len;
	int status;
	char *content_type;
};

static int hello_init(const json_t *config, void **module_data, struct warren_error *err)
{
	static const char *const keys[] = {"text", NULL};
	const char *text = DEFAULT_TEXT;

	if (warren_conf_keys(config, keys, err) < 0 ||
	    warren_conf_string(config, "text", 0, 0, &text, err) < 0)
		return -EINVAL;
	*module_data = strdup(text);
	return *module_data ? 0 : -ENOMEM;
}

static void hello_fini(void *module_data)
{
	free(module_data);
}

static void greeting_free(void *data)
{
	struct greeting *g = data;

	free(g->text);
	free(g->content_type);
	free(g);
}

static int greet_configure(const json_t *config, void *module_data, void **route_data,
			   struct warren_error *err)
{
	static const char *const keys[] = {"text", "status", "content_type", NULL};
	const char *text = module_data, *type = "text/plain; charset=utf-8";
	struct greeting *g;
	long long status = 200;

	if (warren_conf_keys(config, keys, err) < 0 ||
	    warren_conf_string(config, "text", 0, 0, &text, err) < 0 ||
	    warren_conf_int(config, "status", 0, 200, 599, &status, err) < 0 ||
	    warren_conf_header_value(config, "content_type", 0, &type, err) < 0)
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->text = strdup(text);
	g->content_type = strdup(type);
	if (!g->text || !g->content_type) {
		greeting_free(g);
		return -ENOMEM;
	}
	g->len = strlen(text);
	g->status = (int)status;
	*route_data = g;
	return 0;
}

static int greet(struct warren_request *r, void *route_data)
{
	const struct greeting *g = route_data;
	int ret;

	ret = warren_resp_status(r, g->status);
	if (ret == 0)
		ret = warren_resp_header(r, "Content-Type", g->content_type);
	if (ret == 0)
		ret = warren_resp_body(r, g->text, g->len);
	return ret < 0 ? ret : WARREN_DONE;
}

static const struct warren_handler hello_handlers[] = {
	{.name = "greet", .handle = greet, .configure = greet_configure, .release = greeting_free},
	{.name = NULL},
};

WARREN_MODULE(hello, .version = "1.0", .handlers = hello_handlers, .init = hello_init,
	      .fini = hello_fini, );

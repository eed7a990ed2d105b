/* tests/plugins/badinit.c - a module that misbehaves in the hook its config names ("crash":
 * "init", "configure", "fini" or "worker_init"), to test that the master survives it and
 * names the module and the hook. With "fail": true worker_init returns an error instead of
 * crashing; with "hang": true init never returns. With "only_if": PATH it misbehaves only
 * while that file exists, so a generation can start well and go bad later. Its handler "ok"
 * answers 200 "ok". */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <warren/module.h>

static const char *crash_in(const json_t *config)
{
	const char *hook = json_string_value(json_object_get(config, "crash"));
	const char *only_if = json_string_value(json_object_get(config, "only_if"));

	if (only_if && access(only_if, F_OK) != 0)
		return "";
	return hook ? hook : "";
}

static int init(const json_t *config, void **data, struct warren_error *err)
{
	(void)err;
	*data = (void *)config;
	if (strcmp(crash_in(config), "init") != 0)
		return 0;
	if (json_is_true(json_object_get(config, "hang")))
		for (;;)
			pause();
	raise(SIGSEGV);
	return 0;
}

static void fini(void *data)
{
	if (strcmp(crash_in(data), "fini") == 0)
		raise(SIGSEGV);
}

static int worker_init(void *data)
{
	if (strcmp(crash_in(data), "worker_init") != 0)
		return 0;
	if (json_is_true(json_object_get(data, "fail")))
		return -EADDRNOTAVAIL;
	raise(SIGSEGV);
	return 0;
}

static int configure(const json_t *config, void *module_data, void **route_data,
		     struct warren_error *err)
{
	(void)config;
	(void)route_data;
	(void)err;
	if (strcmp(crash_in(module_data), "configure") == 0)
		raise(SIGSEGV);
	return 0;
}

static int ok(struct warren_request *r, void *data)
{
	(void)data;
	warren_resp_status(r, 200);
	warren_resp_body(r, "ok", 2);
	return WARREN_DONE;
}

static const struct warren_handler handlers[] = {
	{.name = "ok", .handle = ok, .configure = configure},
	{.name = NULL},
};

WARREN_MODULE(badinit, .init = init, .fini = fini, .worker_init = worker_init,
	      .handlers = handlers, );

/* tests/plugins/lifecycle.c - records every lifecycle hook call, one line each with the
 * process id, to the file named by its module config, and counts requests per worker. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <warren/module.h>

struct state {
	char *file;
	unsigned long requests; /* per worker, after fork */
};

static void record(const struct state *s, const char *what)
{
	FILE *f = fopen(s->file, "a");

	if (!f)
		return;
	fprintf(f, "%s %d\n", what, (int)getpid());
	fclose(f);
}

static int init(const json_t *config, void **data, struct warren_error *err)
{
	const char *file = json_string_value(json_object_get(config, "file"));
	struct state *s;

	if (!file) {
		warren_error_set(err, "\"file\" (a path) is required");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->file = strdup(file);
	if (!s->file) {
		free(s);
		return -ENOMEM;
	}
	*data = s;
	record(s, "init");
	return 0;
}

static int worker_init(void *data)
{
	record(data, "worker_init");
	return 0;
}

static void worker_exit(void *data)
{
	record(data, "worker_exit");
}

static void fini(void *data)
{
	struct state *s = data;

	record(s, "fini");
	free(s->file);
	free(s);
}

static int configure(const json_t *config, void *module_data, void **route_data,
		     struct warren_error *err)
{
	(void)config;
	(void)err;
	*route_data = module_data;
	return 0;
}

static int handle(struct warren_request *r, void *data)
{
	struct state *s = data;

	return warren_resp_printf(r, "pid %d request %lu\n", (int)getpid(), ++s->requests) < 0 ?
		       -ENOMEM :
		       WARREN_DONE;
}

static const struct warren_handler handlers[] = {
	{.name = "pid", .handle = handle, .configure = configure},
	{.name = NULL},
};

WARREN_MODULE(lifecycle, .handlers = handlers, .init = init, .worker_init = worker_init,
	      .worker_exit = worker_exit, .fini = fini, );

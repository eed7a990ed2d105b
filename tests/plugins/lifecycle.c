/* tests/plugins/lifecycle.c - records every lifecycle and prefork hook call, one line each
 * with the hook's name, the calling process and its arguments, to the file named by its
 * module config ("file"); its handler answers with the worker's pid and request count.
 * An optional "tag" in the config is written into every line, to tell generations apart. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <warren/module.h>

struct state {
	char *file;
	char tag[32];
	unsigned long requests; /* per worker, after fork */
};

/* One line per call: "<hook> <pid> <tag> [args...]"; O_APPEND keeps lines whole. */
static void record(const struct state *s, const char *what, const char *args)
{
	FILE *f = fopen(s->file, "a");

	if (!f)
		return;
	fprintf(f, "%s %d %s%s%s\n", what, (int)getpid(), s->tag, *args ? " " : "", args);
	fclose(f);
}

static int init(const json_t *config, void **data, struct warren_error *err)
{
	const char *file = json_string_value(json_object_get(config, "file"));
	const char *tag = json_string_value(json_object_get(config, "tag"));
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
	snprintf(s->tag, sizeof(s->tag), "%s", tag ? tag : "-");
	*data = s;
	record(s, "init", "");
	return 0;
}

static int worker_init(void *data)
{
	record(data, "worker_init", "");
	return 0;
}

static void worker_exit(void *data)
{
	record(data, "worker_exit", "");
}

static void on_child_spawn(void *data, pid_t pid)
{
	char args[32];

	snprintf(args, sizeof(args), "%d", (int)pid);
	record(data, "on_child_spawn", args);
}

static void on_master_ready(void *data, const pid_t *pids, size_t n)
{
	char args[512];
	size_t len = 0;

	args[0] = '\0';
	for (size_t i = 0; i < n && len < sizeof(args) - 16; i++)
		len += (size_t)snprintf(args + len, sizeof(args) - len, "%s%d", i ? " " : "",
					(int)pids[i]);
	record(data, "on_master_ready", args);
}

static void on_child_recover(void *data, pid_t old_pid, pid_t new_pid)
{
	char args[64];

	snprintf(args, sizeof(args), "%d %d", (int)old_pid, (int)new_pid);
	record(data, "on_child_recover", args);
}

static void on_master_death(void *data)
{
	record(data, "on_master_death", "");
}

static void fini(void *data)
{
	struct state *s = data;

	record(s, "fini", "");
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
	      .worker_exit = worker_exit, .fini = fini, .on_child_spawn = on_child_spawn,
	      .on_master_ready = on_master_ready, .on_child_recover = on_child_recover,
	      .on_master_death = on_master_death, );

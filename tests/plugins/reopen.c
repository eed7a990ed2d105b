/* tests/plugins/reopen.c - a module with a log of its own, as an access-log module would keep
 * one: opened in init, written by its handler, reopened by on_reopen (USR1) so that the log
 * can be rotated. Module config: {"file": "path"}. Each process writes what it does:
 * "master PID opened", "master PID reopened", "worker PID reopened", "request PID". */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <warren/module.h>

/* Per process: a worker's descriptor is its own once it reopened. */
static int log_fd = -1;
static bool in_worker;

static int open_log(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

	return fd < 0 ? -errno : fd;
}

static int init(const json_t *config, void **module_data, struct warren_error *err)
{
	static const char *const keys[] = {"file", NULL};
	const char *file = NULL;
	int fd;

	if (warren_conf_keys(config, keys, err) < 0 ||
	    warren_conf_string(config, "file", WARREN_CONF_REQUIRED, 0, &file, err) < 0)
		return -EINVAL;
	fd = open_log(file);
	if (fd < 0)
		return warren_conf_error(err, config, "file", "%s", strerror(-fd));
	*module_data = strdup(file);
	if (!*module_data) {
		close(fd);
		return -ENOMEM;
	}
	log_fd = fd;
	dprintf(log_fd, "master %d opened\n", (int)getpid());
	return 0;
}

static int worker_init(void *module_data)
{
	(void)module_data;
	in_worker = true;
	return 0;
}

static void on_reopen(void *module_data)
{
	int fd = open_log(module_data);

	if (fd < 0) {
		warren_log(WARREN_LOG_ERROR, "reopen: cannot reopen %s: %s",
			   (const char *)module_data, strerror(-fd));
		return;
	}
	close(log_fd);
	log_fd = fd;
	dprintf(log_fd, "%s %d reopened\n", in_worker ? "worker" : "master", (int)getpid());
}

static void fini(void *module_data)
{
	close(log_fd);
	log_fd = -1;
	free(module_data);
}

static int write_line(struct warren_request *r, void *route_data)
{
	(void)route_data;
	dprintf(log_fd, "request %d\n", (int)getpid());
	return warren_resp_printf(r, "written by %d\n", (int)getpid()) < 0 ? -ENOMEM : WARREN_DONE;
}

static const struct warren_handler handlers[] = {
	{.name = "write", .handle = write_line},
	{.name = NULL},
};

WARREN_MODULE(reopen, .handlers = handlers, .init = init, .worker_init = worker_init, .fini = fini,
	      .on_reopen = on_reopen, );

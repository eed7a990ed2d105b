/* core/server/main.c - command line: run the server, test a config (-t), signal a running one (-s),
 * print the version. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/backend.h"
#include "server/config.h"
#include "server/config_docs.h"
#include "server/control.h"
#include "server/crash.h"
#include "base/log.h"
#include "server/master.h"
#include "server/new_plugin.h"
#include "server/pidfile.h"
#include "server/server.h"

#define DEFAULT_CONFIG "conf/warren.json"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: warren [-c FILE] [-t] [--ready-fd N]\n"
		"       warren [-c FILE] -s stop|quit|reload|reopen\n"
		"       warren new-plugin NAME [DIR]\n"
		"\n"
		"  -c, --config FILE  configuration to serve (default: " DEFAULT_CONFIG ")\n"
		"  -t, --test         check the configuration and module loading, then exit:\n"
		"                     0 if it would start, 1 (with the error) if not\n"
		"      --ready-fd N   once every worker accepts, write \"listen ADDR\" lines and\n"
		"                     \"ready PID\" to file descriptor N and close it\n"
		"  -s, --signal ACT   signal the master named by the config's pid_file and wait:\n"
		"                     stop (TERM), quit (QUIT, graceful), reload (HUP; reports\n"
		"                     success or the exact error), reopen (USR1, log file)\n"
		"  -v, --version      print the version, ABI and built-in modules\n"
		"  -h, --help         print this help\n"
		"\n"
		"new-plugin writes a new directory DIR (default: NAME) with a plugin to start\n"
		"from: source, Makefile, sample config, README and a test using the test kit.\n"
		"\n"
		"Signals to the master: TERM/INT stop at once, QUIT stops gracefully, HUP reloads\n"
		"the configuration and modules without dropping connections, USR1 reopens the log.\n");
}

static void version(void)
{
	printf("warren " WARREN_VERSION " (module ABI %d.%d)\n", WARREN_ABI_MAJOR,
	       WARREN_ABI_MINOR);
	printf("built-in modules:");
	for (size_t i = 0; warren__builtin_modules[i]; i++)
		printf(" %s", warren__builtin_modules[i]->name);
	printf("%s\n", warren__builtin_modules[0] ? "" : " none");
}

static int parse_fd(const char *arg)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || *end || end == arg || v < 0 || v > 65535)
		return -1;
	if (fcntl((int)v, F_GETFD) < 0)
		return -1;
	return (int)v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"test", no_argument, NULL, 't'},
		{"ready-fd", required_argument, NULL, 'r'},
		{"signal", required_argument, NULL, 's'},
		{"version", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		/* Not in the usage: make config-docs runs it to write the README and schema. */
		{"config-docs", required_argument, NULL, 'D'},
		{NULL, 0, NULL, 0},
	};
	const char *file = DEFAULT_CONFIG, *action = NULL;
	struct warren_error err = {{0}};
	struct config *cfg;
	struct server *srv;
	bool test = false;
	int ready_fd = -1, opt, ret;

	/* A command of its own, with arguments of its own: before the server's options. */
	if (argc > 1 && strcmp(argv[1], "new-plugin") == 0)
		return new_plugin_main(argc - 1, argv + 1);
	while ((opt = getopt_long(argc, argv, "c:ts:vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			file = optarg;
			break;
		case 't':
			test = true;
			break;
		case 's':
			action = optarg;
			break;
		case 'r':
			ready_fd = parse_fd(optarg);
			if (ready_fd < 0) {
				fprintf(stderr,
					"warren: --ready-fd %s: not an open file descriptor\n",
					optarg);
				return 1;
			}
			break;
		case 'v':
			version();
			return 0;
		case 'D':
			ret = config_docs_print(optarg, stdout);
			if (ret == -EINVAL)
				fprintf(stderr,
					"warren: --config-docs=%s: expected readme or schema\n",
					optarg);
			else if (ret < 0)
				fprintf(stderr, "warren: --config-docs=%s: %s\n", optarg,
					strerror(-ret));
			return ret < 0 ? 1 : 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "warren: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 1;
	}

	if (action)
		return control_run(file, action);
	if (config_load_file(file, &cfg, &err) < 0) {
		fprintf(stderr, "warren: %s: %s\n", file, err.msg);
		return 1;
	}
	warren__log_set_level(cfg->log_level);
	/* Once, before any module runs or a worker forks: a forced io_uring that this machine
	 * refuses is a start-up error, and "auto" settles on epoll with one log line. */
	if (backend_probe(&cfg->event, &err) < 0) {
		fprintf(stderr, "warren: %s: %s\n", file, err.msg);
		config_free(cfg);
		return 1;
	}
	if (pidfile_check(cfg, test, &err) < 0) {
		fprintf(stderr, "warren: %s: %s\n", file, err.msg);
		config_free(cfg);
		return 1;
	}
	/* A module hook that crashes is named before the process dies of it; reloads run
	 * their hooks in a trial child first, which reports through the same page. */
	if (hook_trace_map() < 0 || crash_guard_hooks() < 0)
		fprintf(stderr, "warren: cannot watch module hooks for crashes: %s\n",
			strerror(errno));
	if (server_load(cfg, 0, &srv, &err) < 0) {
		fprintf(stderr, "warren: %s: %s\n", file, err.msg);
		return 1;
	}
	if (test) {
		char prefix[PATH_MAX + 16];

		snprintf(prefix, sizeof(prefix), "warren: %s: ", file);
		server_print_modules(srv, stderr, prefix);
		for (size_t i = 0; i < srv->cfg->nwarnings; i++)
			fprintf(stderr, "warren: %s: warning: %s\n", file, srv->cfg->warnings[i]);
		fprintf(stderr,
			"warren: %s: configuration is valid (%zu listeners, %zu modules, %zu routes)\n",
			file, srv->cfg->nlisten, srv->nmods, srv->router.nroutes);
		server_free(srv);
		return 0;
	}
	if (server_listen(srv, NULL, &err) < 0) {
		fprintf(stderr, "warren: %s: %s\n", file, err.msg);
		server_free(srv);
		return 1;
	}
	if (srv->cfg->log_file) {
		ret = warren__log_open(srv->cfg->log_file);
		if (ret < 0) {
			fprintf(stderr, "warren: %s: log_file: cannot open %s: %s\n", file,
				srv->cfg->log_file, strerror(-ret));
			server_unlink_sockets(srv, NULL);
			server_free(srv);
			return 1;
		}
	}
	for (size_t i = 0; i < srv->cfg->nwarnings; i++)
		log_warn("%s: %s", file, srv->cfg->warnings[i]);
	return master_run(srv, file, ready_fd);
}

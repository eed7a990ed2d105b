/* core/server/config.h - the parsed, validated JSON configuration (no modules loaded yet). */
#ifndef WARREN_CORE_CONFIG_H
#define WARREN_CORE_CONFIG_H

#include <sys/socket.h>

#include <jansson.h>

#include "base/common.h"
#include "http/router.h"

/* Defaults; config_table.c holds them with every key, and README.md "Configuration"
 * shows them (make config-docs). */
#define CONFIG_DEFAULT_MAX_BODY_SIZE (1024 * 1024)
#define CONFIG_DEFAULT_MAX_HEADER_SIZE (16 * 1024)
#define CONFIG_DEFAULT_KEEPALIVE_TIMEOUT_MS 75000
#define CONFIG_DEFAULT_HEADER_TIMEOUT_MS 30000
/* An asynchronous request may go this long without finishing or writing. */
#define CONFIG_DEFAULT_HANDLER_TIMEOUT_MS 60000
#define CONFIG_DEFAULT_OFFLOAD_THREADS 4
/* A body may pause this long between two reads; a client this long without reading. */
#define CONFIG_DEFAULT_BODY_TIMEOUT_MS 30000
#define CONFIG_DEFAULT_SEND_TIMEOUT_MS 30000
/* Per worker; lowered at start-up to what the open-files limit allows. */
#define CONFIG_DEFAULT_WORKER_CONNECTIONS 10000
#define CONFIG_MAX_WORKERS 1024
#define CONFIG_DEFAULT_BACKLOG 4096
#define CONFIG_DEFAULT_SHUTDOWN_TIMEOUT_MS 10000
#define CONFIG_DEFAULT_RECOVER_MAX 10
#define CONFIG_DEFAULT_RECOVER_WINDOW_MS 10000
/* One module call may hold the event loop this long before a warning names it ... */
#define CONFIG_DEFAULT_WATCHDOG_WARN_MS 100
/* ... and a worker may make no loop progress this long before the master kills it. */
#define CONFIG_DEFAULT_WATCHDOG_KILL_MS 30000

enum event_backend {
	EVENT_AUTO = 0, /* io_uring when the kernel allows it, else epoll */
	EVENT_IO_URING,
	EVENT_EPOLL,
};

struct listen_conf {
	char *text;		      /* as written in the config, for messages */
	struct sockaddr_storage addr; /* AF_INET, AF_INET6 or AF_UNIX */
	socklen_t addrlen;
	bool reuseport;	   /* one SO_REUSEPORT socket per worker, bound by the worker */
	bool defer_accept; /* TCP_DEFER_ACCEPT: wake only once the client has sent data */
	int backlog;
};

struct module_conf {
	char *name;
	char *path;	/* NULL: a built-in module; absolute once loaded from a file */
	json_t *config; /* borrowed from config->root; an empty object when absent */
};

struct route_conf {
	char *path; /* pattern; the catch-all prefix pattern when the match has none */
	struct route_pattern pattern; /* @path compiled; moved into the router by server_load() */
	uint64_t methods;	      /* bit (1 << enum http_method); 0 = any method */
	char *handler;		      /* "module.handler", not yet resolved */
	json_t *config;		      /* borrowed from config->root; an empty object when absent */
	size_t max_body_size;	      /* SIZE_MAX: http.max_body_size */
};

/*
 * A key of the top level or of a route that the table does not know: a module's
 * config_key (struct warren_module), which server.c hands to that module once the modules
 * are loaded, or a mistake it then reports with config_unknown_key().
 */
struct config_ext {
	const char *key; /* borrowed from config->root */
	json_t *value;	 /* borrowed from config->root */
	long route;	 /* the route's index; -1: the top level */
	bool builtin;	 /* a built-in module owns the key */
};

struct config {
	char *file; /* path it was read from, or "<string>" */
	json_t *root;

	struct listen_conf *listen;
	size_t nlisten;

	unsigned workers;  /* 0 = "auto" */
	bool cpu_affinity; /* pin worker i to the i-th allowed CPU */
	enum event_backend event;
	enum warren_log_level log_level;

	size_t max_body_size;
	size_t max_header_size;
	const char *server_header; /* NULL: none; borrowed from root, or a literal */
	unsigned keepalive_timeout_ms;
	unsigned header_timeout_ms;
	unsigned handler_timeout_ms;
	unsigned body_timeout_ms;
	unsigned send_timeout_ms;
	unsigned worker_connections; /* accepting pauses at this many open connections */
	unsigned offload_threads;    /* per worker, started with the first warren_offload() */

	unsigned shutdown_timeout_ms; /* bound on a graceful stop or a reload's drain */
	unsigned recover_max;	      /* deaths tolerated within recover_window_ms ... */
	unsigned recover_window_ms;   /* ... before respawns back off */
	unsigned watchdog_warn_ms;    /* 0: no warning for a module call that stalls the loop */
	unsigned watchdog_kill_ms;    /* 0: a stuck worker is never killed */
	bool zones_recreate;	      /* shared_zones.on_change: "recreate" (else "refuse") */
	char *pid_file;		      /* NULL: none; absolute once loaded from a file */
	char *log_file;		      /* NULL: stderr; absolute once loaded from a file */

	struct module_conf *modules;
	size_t nmodules;

	struct route_conf *routes;
	size_t nroutes;

	struct config_ext *ext; /* in the order they appear, the top level's first */
	size_t next;

	/* Mistakes that do not stop the server (routes that can never match), one line each,
	 * for the log and for -t. */
	char **warnings;
	size_t nwarnings;
};

/*
 * Parses and validates @text. On failure returns a negative errno and fills @err with
 * one line: "line L, column C: ..." for JSON syntax, "json.path: what was expected"
 * for everything else. @origin names the source in the result (a file path).
 */
int config_parse(const char *text, size_t len, const char *origin, struct config **out,
		 struct warren_error *err);

/*
 * Reads @path and calls config_parse(); I/O errors name the file and errno text. Relative
 * paths (modules[].path, pid_file, log_file, unix: listeners) are then made absolute
 * against the directory of @path, and a pid_file that names the log_file or the config
 * file itself is refused.
 */
int config_load_file(const char *path, struct config **out, struct warren_error *err);

/* Whether two paths name the same file (the same inode, or the same name in the same
 * directory for a file that does not exist yet). */
bool config_same_file(const char *a, const char *b);

void config_free(struct config *cfg);

/*
 * Fills @err with why @key of @ext is not known: the JSON path, then "did you mean" among
 * the table's keys there, the built-in modules' config keys and @more (NULL-terminated
 * names, may be NULL), or else the list of what is allowed. Returns -EINVAL.
 */
int config_unknown_key(const struct config_ext *ext, const char *const *more,
		       struct warren_error *err);

#endif /* WARREN_CORE_CONFIG_H */

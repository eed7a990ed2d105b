/* core/server/config_table.c - every configuration key in one table: what config.c accepts,
 * the defaults it starts from, and what the README table and the JSON Schema say. A key
 * added here is parsed, defaulted, documented and listed in unknown-key messages. */
#include <string.h>

#include "server/config.h"
#include "server/config_table.h"

/* Where a row's value goes: a field of struct config, or of a listen entry. */
#define CFG(field)                                                                                 \
	.offset = offsetof(struct config, field), .width = sizeof(((struct config *)0)->field)
#define LISTEN(field)                                                                              \
	.offset = offsetof(struct listen_conf, field),                                             \
	.width = sizeof(((struct listen_conf *)0)->field)

static const char *const event_names[] = {
	[EVENT_AUTO] = "auto",
	[EVENT_IO_URING] = "io_uring",
	[EVENT_EPOLL] = "epoll",
	NULL,
};

static const char *const zone_change_names[] = {
	"refuse",
	"recreate",
	NULL,
};

static const char *const log_level_names[] = {
	[WARREN_LOG_ERROR] = "error",
	[WARREN_LOG_WARN] = "warn",
	[WARREN_LOG_INFO] = "info",
	[WARREN_LOG_DEBUG] = "debug",
	NULL,
};

/*
 * Rows in the order the keys are listed in unknown-key messages and in the README; the
 * values are checked in this order too. A list's element rows follow the list's row.
 */
const struct config_row config_table[] = {
	{
		.path = "listen",
		.kind = CONFIG_LIST,
		.min = 1,
		.max = CONFIG_MAX_LISTEN,
		.custom = CONFIG_CUSTOM_LISTEN,
		.type_doc = "array of addresses (1-64)",
		.default_doc = "`[\"127.0.0.1:8080\"]`",
		.schema = "{\"type\": \"array\", \"minItems\": 1, \"maxItems\": 64, \"items\": "
			  "{\"oneOf\": [{\"$ref\": \"#/$defs/address\"}, {\"$ref\": "
			  "\"#/$defs/listen\"}]}}",
		.description =
			"addresses: `\"127.0.0.1:8080\"`, `\"[::1]:8080\"`, `\"*:8080\"` "
			"(all IPv4), `\"localhost:8080\"`, `\"unix:/run/warren.sock\"` (or "
			"`\"unix:run/w.sock\"`, next to the config); port `0` lets the kernel "
			"choose (the bound port is logged and reported on `--ready-fd`). An "
			"entry may be an object with `address` and the options below",
	},
	{
		.path = "listen[].address",
		.kind = CONFIG_CUSTOM,
		.flags = CONFIG_REQUIRED,
		.custom = CONFIG_CUSTOM_LISTEN_ADDRESS,
		.type_doc = "address",
		.schema = "{\"$ref\": \"#/$defs/address\"}",
		.description = "the address of an object entry, written as in a string entry",
	},
	{
		.path = "listen[].reuseport",
		.kind = CONFIG_BOOL,
		.def = false,
		LISTEN(reuseport),
		.description = "one `SO_REUSEPORT` socket per worker, bound by the worker (the "
			       "kernel spreads connections evenly); otherwise one socket bound by "
			       "the master is shared. TCP only. A reload cannot switch it for an "
			       "address already bound (it says so): restart",
	},
	{
		.path = "listen[].backlog",
		.kind = CONFIG_SIZE,
		.min = 1,
		.max = 65535,
		.def = CONFIG_DEFAULT_BACKLOG,
		LISTEN(backlog),
		.description = "listen queue length (capped by `net.core.somaxconn`); a reload "
			       "applies a new value (and `defer_accept`) to the socket in place, "
			       "without losing queued connections",
	},
	{
		.path = "listen[].defer_accept",
		.kind = CONFIG_BOOL,
		.def = false,
		LISTEN(defer_accept),
		.description = "`TCP_DEFER_ACCEPT`: wake a worker only once the client has sent "
			       "data. TCP only",
	},
	{
		.path = "workers",
		.kind = CONFIG_COUNT_OR_AUTO,
		.min = 1,
		.max = CONFIG_MAX_WORKERS,
		.def = 0,
		CFG(workers),
		.description =
			"number of worker processes, or `\"auto\"`: one per CPU this "
			"process may run on, capped by the cgroup CPU quota (v2 `cpu.max` or "
			"v1 `cpu.cfs_quota_us`, rounded up)",
	},
	{
		.path = "cpu_affinity",
		.kind = CONFIG_AUTO_OR_FALSE,
		.def = false,
		CFG(cpu_affinity),
		.description = "`\"auto\"` pins worker *i* to the *i*-th allowed CPU; `false` "
			       "leaves scheduling to the kernel",
	},
	{
		.path = "event",
		.kind = CONFIG_ENUM,
		.def = EVENT_AUTO,
		CFG(event),
		.names = event_names,
		.expected = "\"auto\", \"io_uring\" or \"epoll\"",
		.description =
			"event backend: `\"auto\"` (io_uring if the kernel allows it, else "
			"epoll), `\"io_uring\"` or `\"epoll\"`; `WARREN_DISABLE_IO_URING=1` in "
			"the environment makes io_uring count as unavailable",
	},
	{
		.path = "log_level",
		.kind = CONFIG_ENUM,
		.def = WARREN_LOG_INFO,
		CFG(log_level),
		.names = log_level_names,
		.expected = "one of \"error\", \"warn\", \"info\", \"debug\"",
		.description = "the least severe messages logged, to `log_file` when there is "
			       "one, else to stderr",
	},
	{
		.path = "log_file",
		.kind = CONFIG_PATH,
		CFG(log_file),
		.default_doc = "stderr",
		.description = "append log lines here instead of stderr, from the moment the "
			       "listeners are bound (what comes before, `-t`'s output and start-up "
			       "errors go to stderr); reopened on USR1 (`warren -s reopen` reports "
			       "it)",
	},
	{
		.path = "pid_file",
		.kind = CONFIG_PATH,
		CFG(pid_file),
		.default_doc = "none",
		.description = "file holding the master's pid, written once it serves; needed by "
			       "`warren -s`. Start-up (and `-t`) fails if it cannot be created "
			       "there, if it names the `log_file` or the config file, or if it "
			       "names a master that still runs; a reload cannot change it",
	},
	{
		.path = "shutdown_timeout",
		.kind = CONFIG_SECONDS,
		.def = CONFIG_DEFAULT_SHUTDOWN_TIMEOUT_MS,
		CFG(shutdown_timeout_ms),
		.description = "seconds a graceful stop (QUIT), a reload's drain or a "
			       "master-death exit may take before connections are cut",
	},
	{
		.path = "recover",
		.kind = CONFIG_SECTION,
		.description = "how warren reacts to workers that die",
	},
	{
		.path = "recover.max",
		.kind = CONFIG_SIZE,
		.min = 1,
		.max = 100000,
		.def = CONFIG_DEFAULT_RECOVER_MAX,
		CFG(recover_max),
		.description = "more than `max` workers dying before they are ready within "
			       "`window` seconds delay further respawns (1 s, doubling up to "
			       "30 s); of workers dying while serving, `max` per `window` are "
			       "logged one by one",
	},
	{
		.path = "recover.window",
		.kind = CONFIG_SECONDS,
		.def = CONFIG_DEFAULT_RECOVER_WINDOW_MS,
		CFG(recover_window_ms),
		.description = "the window of `recover.max`, in seconds",
	},
	{
		.path = "http",
		.kind = CONFIG_SECTION,
		.description = "limits and timeouts of HTTP connections",
	},
	{
		.path = "http.max_body_size",
		.kind = CONFIG_SIZE,
		.min = 0,
		.max = 2147483647,
		.def = CONFIG_DEFAULT_MAX_BODY_SIZE,
		CFG(max_body_size),
		.description = "largest request body in bytes (413 above it)",
	},
	{
		.path = "http.max_header_size",
		.kind = CONFIG_SIZE,
		.min = 1024,
		.max = 1048576,
		.def = CONFIG_DEFAULT_MAX_HEADER_SIZE,
		CFG(max_header_size),
		.description = "largest request head in bytes (431 above it; a target longer "
			       "than this is 414)",
	},
	{
		.path = "http.server_header",
		.kind = CONFIG_CUSTOM,
		.custom = CONFIG_CUSTOM_SERVER_HEADER,
		.type_doc = "string or `false`",
		.default_doc = "`\"warren\"`",
		.schema = "{\"oneOf\": [{\"type\": \"string\", \"minLength\": 1, \"maxLength\": "
			  "256, \"pattern\": \"^[!-~]([ -~]*[!-~])?$\"}, {\"const\": false}], "
			  "\"default\": \"warren\"}",
		.description = "the `Server` header's value (printable ASCII, at most 256 bytes), "
			       "or `false` to send none; a `Server` or `Date` header a module sets "
			       "replaces warren's",
	},
	{
		.path = "http.keepalive_timeout",
		.kind = CONFIG_SECONDS,
		.flags = CONFIG_ZERO_OK,
		.def = CONFIG_DEFAULT_KEEPALIVE_TIMEOUT_MS,
		CFG(keepalive_timeout_ms),
		.description = "seconds a connection may wait for the first byte of its next "
			       "request after a response; `0` disables keep-alive",
	},
	{
		.path = "http.header_timeout",
		.kind = CONFIG_SECONDS,
		.def = CONFIG_DEFAULT_HEADER_TIMEOUT_MS,
		CFG(header_timeout_ms),
		.description = "seconds a new connection may wait for its first byte, and a "
			       "request head may take from its first byte (408 after it, once a "
			       "byte came)",
	},
	{
		.path = "http.body_timeout",
		.kind = CONFIG_SECONDS,
		.def = CONFIG_DEFAULT_BODY_TIMEOUT_MS,
		CFG(body_timeout_ms),
		.description = "seconds a request body may pause between two reads (408 after "
			       "it)",
	},
	{
		.path = "http.send_timeout",
		.kind = CONFIG_SECONDS,
		.def = CONFIG_DEFAULT_SEND_TIMEOUT_MS,
		CFG(send_timeout_ms),
		.description = "seconds a client may go without reading any of its response "
			       "before the connection is closed",
	},
	{
		.path = "http.handler_timeout",
		.kind = CONFIG_SECONDS,
		.def = CONFIG_DEFAULT_HANDLER_TIMEOUT_MS,
		CFG(handler_timeout_ms),
		.description = "seconds an asynchronous handler may go without answering or "
			       "writing (504 after it, with a warning naming the handler; the "
			       "module's abort callback runs)",
	},
	{
		.path = "modules",
		.kind = CONFIG_LIST,
		.custom = CONFIG_CUSTOM_MODULES,
		.type_doc = "array of objects",
		.default_doc = "`[]`",
		.description = "modules to load, in order (built-ins that a route names load "
			       "without an entry)",
	},
	{
		.path = "modules[].name",
		.kind = CONFIG_CUSTOM,
		.flags = CONFIG_REQUIRED,
		.custom = CONFIG_CUSTOM_MODULE_NAME,
		.type_doc = "name (1-64 of a-z, 0-9, _)",
		.schema = "{\"type\": \"string\", \"pattern\": \"^[a-z0-9_]{1,64}$\"}",
		.description = "the module's name, unique in the list",
	},
	{
		.path = "modules[].path",
		.kind = CONFIG_PATH,
		.offset = offsetof(struct module_conf, path),
		.width = sizeof(char *),
		.expected = "a non-empty path to a shared object",
		.default_doc = "built-in",
		.description = "a plugin `.so`; absent for a built-in module",
	},
	{
		.path = "modules[].config",
		.kind = CONFIG_CUSTOM,
		.custom = CONFIG_CUSTOM_CONFIG_OBJECT,
		.offset = offsetof(struct module_conf, config),
		.type_doc = "object",
		.default_doc = "`{}`",
		.schema = "{\"type\": \"object\"}",
		.description = "passed to the module's `init`",
	},
	{
		.path = "routes",
		.kind = CONFIG_LIST,
		.custom = CONFIG_CUSTOM_ROUTES,
		.type_doc = "array of objects",
		.default_doc = "`[]`",
		.description = "tried in order; the first whose `match` fits and whose handler "
			       "does not decline answers",
	},
	{
		.path = "routes[].match",
		.kind = CONFIG_SECTION,
		.description = "which requests the route takes",
	},
	{
		.path = "routes[].match.path",
		.kind = CONFIG_CUSTOM,
		.custom = CONFIG_CUSTOM_ROUTE_PATH,
		.type_doc = "path pattern",
		.default_doc = "`\"/*\"`",
		.schema = "{\"type\": \"string\", \"pattern\": \"^/\"}",
		.description = "`\"/a/b\"`, `\"/users/:id\"` (one segment per parameter), "
			       "`\"/static/*\"` (a prefix), `\"/*\"` (every path); see below",
	},
	{
		.path = "routes[].match.method",
		.kind = CONFIG_CUSTOM,
		.custom = CONFIG_CUSTOM_ROUTE_METHOD,
		.type_doc = "method or array of methods",
		.default_doc = "any method",
		.schema = "{\"oneOf\": [{\"$ref\": \"#/$defs/method\"}, {\"type\": \"array\", "
			  "\"minItems\": 1, \"uniqueItems\": true, \"items\": {\"$ref\": "
			  "\"#/$defs/method\"}}]}",
		.description = "a route that allows `GET` also answers `HEAD`",
	},
	{
		.path = "routes[].handler",
		.kind = CONFIG_CUSTOM,
		.flags = CONFIG_REQUIRED,
		.custom = CONFIG_CUSTOM_ROUTE_HANDLER,
		.type_doc = "`\"module.handler\"`",
		.schema = "{\"type\": \"string\", \"minLength\": 1}",
		.description = "the handler that answers",
	},
	{
		.path = "routes[].config",
		.kind = CONFIG_CUSTOM,
		.custom = CONFIG_CUSTOM_CONFIG_OBJECT,
		.offset = offsetof(struct route_conf, config),
		.type_doc = "object",
		.default_doc = "`{}`",
		.schema = "{\"type\": \"object\"}",
		.description = "handed once, in the master, to the handler's `configure` "
			       "callback",
	},
	{
		.path = "routes[].max_body_size",
		.kind = CONFIG_SIZE,
		.min = 0,
		.max = 2147483647,
		.def = -1,
		.offset = offsetof(struct route_conf, max_body_size),
		.width = sizeof(((struct route_conf *)0)->max_body_size),
		.default_doc = "`http.max_body_size`",
		.description = "largest request body in bytes for requests this route is the "
			       "first to match (method and path), above or below "
			       "`http.max_body_size`: a `Content-Length` over it is answered 413 "
			       "before the body is read (instead of `100 Continue`), a chunked "
			       "body once it passes it",
	},
	{
		.path = "offload_threads",
		.kind = CONFIG_SIZE,
		.min = 1,
		.max = 256,
		.def = CONFIG_DEFAULT_OFFLOAD_THREADS,
		CFG(offload_threads),
		.description = "threads per worker for `warren_offload()`, started with the "
			       "first job",
	},
	{
		.path = "worker_connections",
		.kind = CONFIG_SIZE,
		.min = 1,
		.max = 1000000,
		.def = CONFIG_DEFAULT_WORKER_CONNECTIONS,
		CFG(worker_connections),
		.description = "connections one worker holds open; at the cap a new client makes "
			       "the longest-idle keep-alive connection close, and only when every "
			       "connection is busy does the worker stop accepting (clients wait in "
			       "the listen queue) until one closes or goes idle. Lowered at "
			       "start-up, with a warning, to fit the open-files limit",
	},
	{
		.path = "watchdog",
		.kind = CONFIG_SECTION,
		.description = "stalled event loops",
	},
	{
		.path = "watchdog.warn",
		.kind = CONFIG_SECONDS,
		.flags = CONFIG_ZERO_OK,
		.def = CONFIG_DEFAULT_WATCHDOG_WARN_MS,
		CFG(watchdog_warn_ms),
		.description = "seconds one module call (handler, hook or callback) may hold its "
			       "worker's event loop before a warning names it and its request; `0` "
			       "turns it off",
	},
	{
		.path = "watchdog.kill",
		.kind = CONFIG_SECONDS,
		.flags = CONFIG_ZERO_OK,
		.def = CONFIG_DEFAULT_WATCHDOG_KILL_MS,
		CFG(watchdog_kill_ms),
		.description =
			"seconds a worker's event loop may go without progress (stuck "
			"outside its wait, e.g. in a handler that sleeps or waits for a lock "
			"for ever) before the master aborts it: its last log line names the "
			"module call and the request, and it is respawned as after a crash; "
			"an idle worker is never stuck. `0` turns it off",
	},
	{
		.path = "shared_zones",
		.kind = CONFIG_SECTION,
		.description = "modules' shared-memory zones across reloads",
	},
	{
		.path = "shared_zones.on_change",
		.kind = CONFIG_ENUM,
		.def = 0,
		CFG(zones_recreate),
		.names = zone_change_names,
		.expected = "\"refuse\" or \"recreate\"",
		.description = "what a reload does when a module asks for an existing zone with "
			       "another size or layout version: `\"refuse\"` fails the reload "
			       "with both sizes and versions and keeps the zone's contents; "
			       "`\"recreate\"` gives the new generation a new, empty zone (workers "
			       "of the old one keep theirs until they exit)",
	},
};

const size_t config_table_rows = ARRAY_SIZE(config_table);

const char *config_row_key(const struct config_row *row)
{
	const char *dot = strrchr(row->path, '.');

	return dot ? dot + 1 : row->path;
}

bool config_row_in(const struct config_row *row, const char *parent)
{
	const char *key = config_row_key(row);
	size_t n = strlen(parent);

	if (!n)
		return key == row->path;
	return (size_t)(key - row->path) == n + 1 && strncmp(row->path, parent, n) == 0;
}

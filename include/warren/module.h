/* warren/module.h - the module ABI: everything a handler module may use.
 *
 * A module is one C source that defines a descriptor with WARREN_MODULE(). Built as a
 * shared object it is loaded with dlopen() by the master before the workers fork; built
 * with -DWARREN_BUILTIN it is linked into the warren binary and listed in the table that
 * configure generates. Both ways use this header only: core structures stay opaque and
 * are reached through the functions below, so a module keeps working across warren
 * releases of the same ABI major.
 *
 * Threading and processes: init and configure run once, in the master, before fork.
 * worker_init, handlers and worker_exit run in every worker, on its single event-loop
 * thread. fini runs in the master at shutdown.
 */
#ifndef WARREN_MODULE_H
#define WARREN_MODULE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include <warren/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Marks a symbol that the warren binary exports to modules. */
#define WARREN_API __attribute__((visibility("default")))

/** Lets the compiler check printf-style arguments. */
#define WARREN_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

/**
 * A request being served. Valid from the moment a handler is called until it
 * returns; every pointer obtained from it (strings, pool memory) lives as long.
 */
struct warren_request;

/** Where init and configure callbacks describe why they failed. */
struct warren_error;

/**
 * A read-only byte string that is not NUL-terminated: request strings are slices of
 * the connection's read buffer, never copies.
 */
struct warren_str {
	const char *base; /**< first byte; may be NULL when len is 0 */
	size_t len;	  /**< number of bytes */
};

/** What a handler returns when it did not fail. */
enum warren_result {
	/** The response is complete: status, headers and body are set. */
	WARREN_DONE = 0,
	/** Not mine: the router tries the next route that matches the request. */
	WARREN_DECLINED = 1,
};

/**
 * A request handler.
 * @r: the request; answer it through the warren_resp_*() calls.
 * @route_data: what the handler's configure callback returned for this route
 *	(NULL when it has none).
 * Returns WARREN_DONE, WARREN_DECLINED, or a negative errno, which the core turns
 * into "500 Internal Server Error" and logs.
 */
typedef int (*warren_handler_fn)(struct warren_request *r, void *route_data);

/**
 * Parses a route's "config" object once, in the master, before the workers fork.
 * @config: the route's "config" value; an empty object when the route has none.
 * @module_data: what the module's init callback stored (NULL without init).
 * @route_data: out; passed to every call of the handler for this route.
 * @err: on failure, describe the problem with warren_error_set(); the config loader
 *	prefixes it with the JSON path of the route ("routes[3].config: ...").
 * Returns 0 or a negative errno.
 */
typedef int (*warren_configure_fn)(const json_t *config, void *module_data, void **route_data,
				   struct warren_error *err);

/** Frees what a configure callback allocated; called in the master at shutdown. */
typedef void (*warren_release_fn)(void *route_data);

/**
 * One named handler of a module. Routes refer to it as "module.handler". A module's
 * handlers form an array ended by an entry whose name is NULL.
 */
struct warren_handler {
	/** Name used in routes after the module name and a dot. */
	const char *name;
	/** Called for every request routed here. Required. */
	warren_handler_fn handle;
	/** Optional: parses the route's "config". Without it, a route config is an error. */
	warren_configure_fn configure;
	/** Optional: frees route data made by configure. */
	warren_release_fn release;
};

/**
 * The module descriptor. Define it with WARREN_MODULE(), never by hand: the macro
 * fills in the version and size fields that the loader checks. Fields are only ever
 * added at the end.
 */
struct warren_module {
	/** WARREN_ABI_MAJOR the module was built against. */
	uint16_t abi_major;
	/** WARREN_ABI_MINOR the module was built against. */
	uint16_t abi_minor;
	/** sizeof(struct warren_module) the module was built with. */
	uint32_t struct_size;
	/** sizeof(struct warren_handler) the module was built with. */
	uint32_t handler_size;
	/** Module name, as used in the config and in "module.handler" ids. */
	const char *name;
	/** Free-form module version, shown by warren -t. Optional. */
	const char *version;
	/** Handlers, ended by an entry with a NULL name. Optional. */
	const struct warren_handler *handlers;
	/**
	 * Master, before fork: set up from the module's "config" object (an empty object
	 * when the config has none) and store module-wide data in *module_data.
	 * Returns 0, or a negative errno with @err set; warren then refuses to start.
	 */
	int (*init)(const json_t *config, void **module_data, struct warren_error *err);
	/** Each worker, after fork, before it accepts connections. 0 or -errno. */
	int (*worker_init)(void *module_data);
	/** Each worker, when it stops. */
	void (*worker_exit)(void *module_data);
	/** Master, at shutdown, after every worker has stopped. */
	void (*fini)(void *module_data);

	/* ---- ABI 0.2: prefork hooks. Each may be NULL. ---- */

	/**
	 * Master, right after a worker process of this module's generation was forked:
	 * at start-up, on reload, and when a dead worker is replaced (then before
	 * on_child_recover).
	 */
	void (*on_child_spawn)(void *module_data, pid_t pid);
	/**
	 * Master, once every worker of this module's generation has started and is
	 * accepting connections: at start-up, and after a reload for the new generation.
	 * @pids lists the @n workers.
	 */
	void (*on_master_ready)(void *module_data, const pid_t *pids, size_t n);
	/** Master, when @new_pid has replaced @old_pid, a worker that died unexpectedly. */
	void (*on_child_recover)(void *module_data, pid_t old_pid, pid_t new_pid);
	/**
	 * Worker, as soon as it learns that the master has died. The worker then stops
	 * accepting, finishes the requests in flight (bounded by shutdown_timeout) and exits.
	 */
	void (*on_master_death)(void *module_data);
};

#ifdef WARREN_BUILTIN
#define WARREN__MODULE_SYMBOL(mod) warren_builtin_module_##mod
#define WARREN__MODULE_DECL(mod) const struct warren_module WARREN__MODULE_SYMBOL(mod)
#else
#define WARREN__MODULE_DECL(mod) WARREN_API const struct warren_module warren_module
#endif

/**
 * Defines the module descriptor. @mod is the module name as a bare identifier; the
 * rest are designated initializers for struct warren_module:
 *
 *	WARREN_MODULE(hello,
 *		.version = "1.0",
 *		.handlers = hello_handlers,
 *	);
 *
 * Built as a shared object this exports the symbol "warren_module"; built with
 * -DWARREN_BUILTIN it defines "warren_builtin_module_<mod>" for the built-in table.
 */
/* clang-format off */
#define WARREN_MODULE(mod, ...)                                                                    \
	extern WARREN__MODULE_DECL(mod);                                                           \
	WARREN__MODULE_DECL(mod) = {                                                               \
		.abi_major = WARREN_ABI_MAJOR,                                                     \
		.abi_minor = WARREN_ABI_MINOR,                                                     \
		.struct_size = sizeof(struct warren_module),                                       \
		.handler_size = sizeof(struct warren_handler),                                     \
		.name = #mod,                                                                      \
		__VA_ARGS__}
/* clang-format on */

/* ---- Request ------------------------------------------------------------------------- */

/** The request method as sent, e.g. "GET". */
WARREN_API struct warren_str warren_req_method(const struct warren_request *r);

/** The request target as sent: path and query, e.g. "/search?q=x". */
WARREN_API struct warren_str warren_req_target(const struct warren_request *r);

/** The path part of the target, still percent-encoded, e.g. "/a%20b". */
WARREN_API struct warren_str warren_req_path(const struct warren_request *r);

/** The query after '?', without the '?'; empty when there is none. */
WARREN_API struct warren_str warren_req_query(const struct warren_request *r);

/** The HTTP version: 10 for HTTP/1.0, 11 for HTTP/1.1. */
WARREN_API int warren_req_version(const struct warren_request *r);

/**
 * Looks up a request header by name, case-insensitively.
 * @name: NUL-terminated field name.
 * @value: out, the first field's value with surrounding whitespace removed.
 * Returns true when the header is present.
 */
WARREN_API bool warren_req_header(const struct warren_request *r, const char *name,
				  struct warren_str *value);

/** The number of header fields in the request. */
WARREN_API size_t warren_req_header_count(const struct warren_request *r);

/**
 * The @i-th header field in the order received (0-based).
 * Returns false when @i is out of range.
 */
WARREN_API bool warren_req_header_at(const struct warren_request *r, size_t i,
				     struct warren_str *name, struct warren_str *value);

/**
 * A parameter of the matched route: "id" for a route path "/users/:id", or "*" for
 * the part of the path matched by the wildcard that ends a prefix route. Values are still
 * percent-encoded.
 * Returns true when the route defines the parameter.
 */
WARREN_API bool warren_req_param(const struct warren_request *r, const char *name,
				 struct warren_str *value);

/** The whole request body (empty when there is none). */
WARREN_API struct warren_str warren_req_body(const struct warren_request *r);

/**
 * Allocates @size bytes from the request's pool, aligned for any type. The memory is
 * released when the request ends; never free it. Returns NULL when out of memory.
 */
WARREN_API void *warren_req_alloc(struct warren_request *r, size_t size);

/* ---- Response ------------------------------------------------------------------------ */

/**
 * Sets the response status (200 when never set).
 * Returns 0, or -EINVAL unless 200 <= @status <= 599.
 */
WARREN_API int warren_resp_status(struct warren_request *r, int status);

/**
 * Adds a response header; both strings are copied. warren owns the framing headers:
 * Content-Length, Transfer-Encoding and Connection are refused, and so are names that
 * are not HTTP tokens and values containing CR, LF or NUL.
 * Returns 0, -EINVAL for a refused header, or -ENOMEM.
 */
WARREN_API int warren_resp_header(struct warren_request *r, const char *name, const char *value);

/**
 * Replaces the response body with a copy of @len bytes at @data.
 * Returns 0 or -ENOMEM.
 */
WARREN_API int warren_resp_body(struct warren_request *r, const void *data, size_t len);

/**
 * Appends a copy of @len bytes at @data to the response body.
 * Returns 0 or -ENOMEM.
 */
WARREN_API int warren_resp_append(struct warren_request *r, const void *data, size_t len);

/**
 * Appends printf-formatted text to the response body.
 * Returns 0, -EINVAL for a bad format, or -ENOMEM.
 */
WARREN_API int warren_resp_printf(struct warren_request *r, const char *fmt, ...)
	WARREN_PRINTF(2, 3);

/* ---- Memory shared by all workers ---------------------------------------------------- */

/**
 * Reserves a zone of @size bytes of memory shared by the master and every worker, for
 * counters, rate limits and caches that must agree across workers. Only callable from a
 * module's init callback (before the workers fork). The zone starts zeroed and lives as
 * long as the master: a reload that asks again for the same @name and @size gets the
 * same memory back, so counters survive it.
 * @name: 1 to 64 characters; prefix it with the module name ("counter.hits").
 * @out: where the zone's address is stored; the same in every process.
 * Returns 0; -EPERM outside init; -EINVAL for a bad name or a size of 0 or over 1 GiB;
 * -EEXIST when @name exists with another size; -ENOMEM.
 *
 * Use C11 atomics (<stdatomic.h>) for counters. For anything larger, put a
 * pthread_mutex_t in the zone, set it up once with warren_shm_mutex_init() and take it
 * with warren_shm_lock(): a worker can die holding it, which a robust mutex survives.
 */
WARREN_API int warren_shm_zone(const char *name, size_t size, void **out);

/** Initialises a process-shared, robust mutex inside a shared zone. 0 or -errno. */
WARREN_API int warren_shm_mutex_init(pthread_mutex_t *m);

/**
 * Locks a mutex made by warren_shm_mutex_init(). When its previous owner died while
 * holding it, the lock is taken anyway and 1 is returned: the data it protects may be
 * half-updated and should be checked or reset. Returns 0, 1, or -errno.
 */
WARREN_API int warren_shm_lock(pthread_mutex_t *m);

/** Unlocks a mutex taken with warren_shm_lock(). 0 or -errno. */
WARREN_API int warren_shm_unlock(pthread_mutex_t *m);

/* ---- Errors and logging -------------------------------------------------------------- */

/** Describes why an init or configure callback failed (printf-style). */
WARREN_API void warren_error_set(struct warren_error *err, const char *fmt, ...)
	WARREN_PRINTF(2, 3);

/** Log levels, most severe first. */
enum warren_log_level {
	WARREN_LOG_ERROR = 0,
	WARREN_LOG_WARN = 1,
	WARREN_LOG_INFO = 2,
	WARREN_LOG_DEBUG = 3,
};

/** Writes one line to warren's log, stamped with time, pid and @level. */
WARREN_API void warren_log(enum warren_log_level level, const char *fmt, ...) WARREN_PRINTF(2, 3);

#ifdef __cplusplus
}
#endif

#endif /* WARREN_MODULE_H */

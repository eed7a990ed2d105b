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
 * worker_init, the request hooks, handlers, and every callback of a request (timers,
 * watches, offload completions, body readers) run in every worker, on its single
 * event-loop thread; only the work function given to warren_offload() runs elsewhere.
 * worker_exit runs in each worker as it stops, fini in the master at shutdown.
 */
#ifndef WARREN_MODULE_H
#define WARREN_MODULE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
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
 * A request being served. Valid from the moment a hook or handler sees it until the
 * request ends, after its on_complete hooks and cleanups: once its response is complete
 * (a handler returned WARREN_DONE, or an asynchronous one called warren_resp_send() or
 * warren_resp_stream_end()) and written out, or when it is aborted (see
 * warren_req_on_abort()). A handler must not use it after answering. Every pointer
 * obtained from it (strings, pool memory) lives exactly as long.
 */
struct warren_request;

/** A timer armed with warren_timer_add(). */
struct warren_timer;

/** A file-descriptor watch armed with warren_fd_watch(). */
struct warren_watch;

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
	/**
	 * Not mine: the router tries the next route that matches the request. From an
	 * on_request hook: carry on with the next hook and then the handler.
	 */
	WARREN_DECLINED = 1,
	/**
	 * The handler keeps the request and finishes it later, from a timer, a
	 * file-descriptor watch or an offloaded job, with warren_resp_send() (or
	 * warren_resp_stream_end() for a streamed response). The worker serves other
	 * connections meanwhile. Since ABI 0.4 an on_request hook may return it too, and
	 * later either answer or call warren_req_continue().
	 */
	WARREN_ASYNC = 2,
};

/** Log levels, most severe first. */
enum warren_log_level {
	WARREN_LOG_ERROR = 0,
	WARREN_LOG_WARN = 1,
	WARREN_LOG_INFO = 2,
	WARREN_LOG_DEBUG = 3,
};

/**
 * A request handler.
 * @r: the request; answer it through the warren_resp_*() calls.
 * @route_data: what the handler's configure callback returned for this route
 *	(NULL when it has none).
 * Returns WARREN_DONE, WARREN_DECLINED, WARREN_ASYNC, or a negative errno, which the
 * core turns into "500 Internal Server Error" and logs. A handler that declines must not
 * have armed timers, watches or offloaded jobs for the request.
 */
typedef int (*warren_handler_fn)(struct warren_request *r, void *route_data);

/**
 * Parses a route's "config" object once, in the master, before the workers fork.
 * @config: the route's "config" value; an empty object when the route has none.
 * @module_data: what the module's init callback stored (NULL without init).
 * @route_data: out; passed to every call of the handler for this route.
 * @err: on failure, describe the problem with warren_error_set() or the warren_conf_*()
 *	helpers; the config loader prefixes it with the JSON path of the route's config
 *	("routes[3].config: ..."), and of the key a helper named ("routes[3].config.ms: ...").
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

	/* ---- ABI 0.3 ---- */

	/**
	 * Call the handler as soon as the request head is parsed, before its body has
	 * arrived; it then reads the body as it comes with warren_req_body_read() and
	 * nothing of it is buffered whole. Without it, the handler runs once the whole
	 * body (up to http.max_body_size) is in memory.
	 */
	bool stream_body;
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

	/* ---- ABI 0.3: request hooks. Each may be NULL; they run in module order. ---- */

	/**
	 * Worker, for every request whose head parsed, before its handler runs (for a
	 * handler with stream_body: once the head is in; otherwise once the whole body is).
	 * Return WARREN_DECLINED to let the request go on, WARREN_DONE after answering it
	 * yourself (e.g. warren_resp_status(r, 401)): the remaining hooks and the handler
	 * are skipped. A negative errno answers "500 Internal Server Error".
	 * Since ABI 0.4 (a module built against 0.4 or later): WARREN_ASYNC keeps the
	 * request, as an asynchronous handler does (timers, watches, offload, abort
	 * callback, http.handler_timeout); it is then answered with warren_resp_send() or
	 * let go on with warren_req_continue().
	 */
	int (*on_request)(struct warren_request *r, void *module_data);
	/**
	 * Worker, before the response head is serialised, for every response warren sends:
	 * handlers', hooks', warren's own 404, 405, 500 and 504, and (without on_request
	 * having run, see warren_req_rejected()) its 400, 408, 413, 414, 417, 431, 501 and
	 * 505 to requests it could not read. May change the status and headers; the body
	 * is already decided. 0, or a negative errno, which is logged and otherwise ignored.
	 */
	int (*on_response)(struct warren_request *r, void *module_data);
	/**
	 * Worker, once per request whose response on_response saw, and per request a module
	 * held that ended without one: after its response was written out to the client
	 * (handed to the kernel whole) or the connection failed first, or when it ended
	 * unanswered. warren_req_outcome() tells which. For access logs and metrics; the
	 * request and its response can still be read, not changed.
	 */
	void (*on_complete)(struct warren_request *r, void *module_data);

	/* ---- ABI 0.4 ---- */

	/**
	 * Bytes of per-request context warren allocates, zeroed, for this module on every
	 * request, reached with warren_req_ctx(). 0: none; at most 65536.
	 */
	size_t request_ctx_size;
	/**
	 * Master and each worker, on USR1 (warren -s reopen), after warren reopened its own
	 * log: reopen the module's own files (its logs) so that rotation works. May be NULL.
	 */
	void (*on_reopen)(void *module_data);

	/* ---- ABI 0.5 ---- */

	/**
	 * A key of the config that this module owns, at the top level and in every route
	 * (e.g. "access_log"). Naming it loads the module: a built-in one, or a plugin listed
	 * in "modules". The top-level value is the module's config, passed to init (instead
	 * of the "config" of its "modules" entry, which must then be absent). NULL: none.
	 */
	const char *config_key;
	/**
	 * Master, before fork: parses the value of config_key in a route, as a handler's
	 * configure does its route's "config"; what it stores in *route_conf is what
	 * warren_req_route_conf() gives the module for requests on that route. Errors are
	 * prefixed with the key's JSON path ("routes[3].access_log: ..."). Required when the
	 * key may appear in routes; without it the key is refused there.
	 */
	int (*configure_route)(const json_t *value, void *module_data, void **route_conf,
			       struct warren_error *err);
	/** Master, at shutdown: frees what configure_route stored. May be NULL. */
	void (*release_route)(void *route_conf);
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

/**
 * The request method as sent, e.g. "GET"; empty for a request rejected before its head
 * was read (warren_req_rejected()).
 */
WARREN_API struct warren_str warren_req_method(const struct warren_request *r);

/** Request methods as numbers, for a switch (ABI 0.4). */
enum warren_method {
	/** Any other method warren accepts (see warren_req_method() for its name). */
	WARREN_METHOD_OTHER = 0,
	WARREN_METHOD_GET = 1,
	WARREN_METHOD_HEAD = 2,
	WARREN_METHOD_POST = 3,
	WARREN_METHOD_PUT = 4,
	WARREN_METHOD_DELETE = 5,
	WARREN_METHOD_OPTIONS = 6,
	WARREN_METHOD_PATCH = 7,
	WARREN_METHOD_CONNECT = 8,
	WARREN_METHOD_TRACE = 9,
};

/**
 * The request method as an enum warren_method, without comparing strings: a method
 * without a constant of its own is WARREN_METHOD_OTHER, and so is the method of a request
 * rejected before its head was read (ABI 0.4).
 */
WARREN_API enum warren_method warren_req_method_id(const struct warren_request *r);

/** The request target as sent: path and query, e.g. "/search?q=x". */
WARREN_API struct warren_str warren_req_target(const struct warren_request *r);

/** The path part of the target, still percent-encoded, e.g. "/a%20b". */
WARREN_API struct warren_str warren_req_path(const struct warren_request *r);

/** The query after '?', without the '?'; empty when there is none. */
WARREN_API struct warren_str warren_req_query(const struct warren_request *r);

/**
 * The HTTP version: 10 for HTTP/1.0, 11 for HTTP/1.1; 0 for a request warren rejected
 * before its head was read (warren_req_rejected()).
 */
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

/**
 * A parameter of the matched route (as warren_req_param()) with its percent-escapes
 * decoded into the request's pool, by the rules of warren_req_path_decoded(): "%00", a
 * '%' not followed by two hex digits and an encoded '/' are refused (ABI 0.4). @value
 * may be NULL to check the parameter only.
 * Returns 0, -ENOENT when the route has no such parameter, -EINVAL, or -ENOMEM.
 */
WARREN_API int warren_req_param_decoded(struct warren_request *r, const char *name,
					struct warren_str *value);

/** The whole request body (empty when there is none). */
WARREN_API struct warren_str warren_req_body(const struct warren_request *r);

/**
 * Allocates @size bytes from the request's pool, aligned for any type; they are not
 * zeroed. The memory is released when the request ends, after its cleanups (which may
 * still allocate); never free it. Returns NULL when out of memory.
 */
WARREN_API void *warren_req_alloc(struct warren_request *r, size_t size);

/**
 * Like warren_req_alloc() for @n objects of @size bytes each, zeroed, as calloc(3): NULL
 * when @n * @size overflows or memory runs out (ABI 0.4).
 */
WARREN_API void *warren_req_zalloc(struct warren_request *r, size_t n, size_t size);

/**
 * Runs @fn(@arg) when the request ends, however it ends (answered, aborted, or with its
 * worker stopping), after every other callback of the request: the place to free what
 * async work allocated with malloc(). Cleanups run in reverse order of registration.
 * Returns 0 or -ENOMEM (then @fn is not registered; nothing was run).
 */
WARREN_API int warren_req_cleanup(struct warren_request *r, void (*fn)(void *arg), void *arg);

/**
 * The path with percent-escapes decoded (into the request's pool). Refuses "%00", a '%'
 * not followed by two hex digits, and (so that "/a%2Fb" cannot pose as "/a/b") an
 * encoded '/'. Dot segments are not resolved. Returns 0, -EINVAL, or -ENOMEM.
 */
WARREN_API int warren_req_path_decoded(struct warren_request *r, struct warren_str *out);

/**
 * Looks up a parameter of the query string ("a=1&b=x+y"), decoding '+' and
 * percent-escapes of the first one named @name into the request's pool. A parameter
 * without '=' has an empty value.
 * Returns 0, -ENOENT when the query has no such parameter, -EINVAL for a bad escape
 * (or "%00"), or -ENOMEM.
 */
WARREN_API int warren_req_query_param(struct warren_request *r, const char *name,
				      struct warren_str *value);

/**
 * A query parameter (as warren_req_query_param() finds it) read as a decimal number from
 * 0 to @max: plain digits only, so "1e3", "-5", "+5", " 5" and "" are refused rather than
 * read as something they do not say.
 * Returns 0 with *@out set; -ENOENT when absent (*@out untouched); -EINVAL for anything but
 * digits, a number above @max, or a bad escape; -ENOMEM.
 */
WARREN_API int warren_req_query_uint(struct warren_request *r, const char *name, uint64_t max,
				     uint64_t *out);

/**
 * The address of the client (@local false) or the one it connected to (@local true), as
 * sockaddr_in, sockaddr_in6 or sockaddr_un. @len is set to its length when not NULL.
 * Returns NULL when the system cannot tell (the client already left).
 */
WARREN_API const struct sockaddr *warren_req_addr(struct warren_request *r, bool local,
						  socklen_t *len);

/**
 * Formats the client's address as text ("192.0.2.1", "2001:db8::1", or "unix" for a unix
 * socket) into the request's pool. Returns an empty string when unknown.
 */
WARREN_API struct warren_str warren_req_remote_ip(struct warren_request *r);

/**
 * True when the request ended without any response: the client left before it was
 * answered, or the worker stopped (warren_req_outcome() is WARREN_OUTCOME_ABORTED). False
 * after warren's own 504 or 413, which the client receives; true already inside the abort
 * callback of a client that left.
 */
WARREN_API bool warren_req_aborted(const struct warren_request *r);

/**
 * Logs like warren_log(), prefixed with the request's method, target and client
 * address so that lines of one request can be found together.
 */
WARREN_API void warren_req_log(struct warren_request *r, enum warren_log_level level,
			       const char *fmt, ...) WARREN_PRINTF(3, 4);

/**
 * Receives the request body piece by piece.
 * @chunk: the next bytes of the decoded body (Content-Length or chunked framing both
 *	arrive as plain bytes), valid during the call only; may be empty when @last.
 * @last: true on the final call, once the whole body has been delivered.
 */
typedef void (*warren_body_fn)(struct warren_request *r, struct warren_str chunk, bool last,
			       void *arg);

/**
 * Asks for the body as it arrives, from a handler that declared stream_body (or, for
 * the body already buffered whole, from any handler; it then comes in one piece). @fn
 * runs from the event loop, never inside this call; the handler returns WARREN_ASYNC
 * and answers when it likes, even before the body is all in (the connection then closes
 * after the response). A body over the route's max_body_size (http.max_body_size unless
 * the route sets one) is answered with 413 by warren
 * (the abort callback runs; the 413 is the request's response). Returns 0, -EALREADY when
 * a reader is set, -EINVAL.
 */
WARREN_API int warren_req_body_read(struct warren_request *r, warren_body_fn fn, void *arg);

/* ---- Asynchronous handlers ---------------------------------------------------------- */

/**
 * Called when an asynchronous request ends without being answered: the client closed
 * the connection, http.handler_timeout passed (warren answers 504), or the worker is
 * stopping. Timers and watches of the request are cancelled first, and nothing of the
 * request may be used after this returns; cleanups run afterwards.
 */
typedef void (*warren_abort_fn)(struct warren_request *r, void *arg);

/** Registers the request's abort callback (one; a second call replaces the first). */
WARREN_API void warren_req_on_abort(struct warren_request *r, warren_abort_fn fn, void *arg);

/**
 * Finishes a request whose handler (or, since ABI 0.4, on_request hook) returned
 * WARREN_ASYNC: the status, headers and body set so far are sent, and the request ends.
 * Returns 0, or -EINVAL when the request is not asynchronous or already answered.
 */
WARREN_API int warren_resp_send(struct warren_request *r);

/**
 * Lets a request that an on_request hook kept (it returned WARREN_ASYNC) go on, as if
 * the hook had returned WARREN_DECLINED: the next hooks and then the handler run, from
 * the event loop, never inside this call. The timers and watches the hook left armed are
 * cancelled, its abort callback and body reader are forgotten, and done callbacks of its
 * offloaded jobs no longer run (their cleanups still wait for them); the same happens when
 * a hook returns WARREN_DECLINED with any of these set. The request itself cannot be
 * changed: a result for the handler goes through the module's per-request context or
 * memory from the request's pool. Returns 0, or -EINVAL when no hook keeps the request
 * (from a handler, twice, after answering or streaming, or once aborted). (ABI 0.4)
 */
WARREN_API int warren_req_continue(struct warren_request *r);

/** Runs on the worker's event loop when a timer fires. */
typedef void (*warren_timer_fn)(struct warren_request *r, void *arg);

/**
 * Calls @fn(@r, @arg) once, @ms milliseconds from now, on the worker's loop. A timer
 * belongs to its request: it is cancelled when the request ends. @timer, when not NULL,
 * receives a handle for warren_timer_cancel(), valid until the timer fires.
 * Returns 0 or -ENOMEM.
 */
WARREN_API int warren_timer_add(struct warren_request *r, uint64_t ms, warren_timer_fn fn,
				void *arg, struct warren_timer **timer);

/** Cancels a timer that has not fired yet. */
WARREN_API void warren_timer_cancel(struct warren_timer *timer);

/** What warren_fd_watch() waits for, and what its callback was told. */
enum warren_fd_events {
	WARREN_FD_READ = 1 << 0,  /**< readable (or at end of file) */
	WARREN_FD_WRITE = 1 << 1, /**< writable */
	WARREN_FD_ERROR = 1 << 2, /**< error or hang-up; reported whatever was asked */
};

/** Runs on the worker's loop when a watched fd is ready; @events says for what. */
typedef void (*warren_fd_fn)(struct warren_request *r, int fd, unsigned events, void *arg);

/**
 * Waits, once, for @fd (the module's, e.g. a socket to a backend; set it non-blocking)
 * to be ready for @events, then calls @fn; watch again to wait again. The watch belongs
 * to its request and is cancelled when the request ends; the fd is never closed by
 * warren. @watch, when not NULL, receives a handle for warren_fd_unwatch(), valid until
 * @fn runs. Returns 0, -EINVAL for bad @events, -ENOMEM, or what the kernel said.
 */
WARREN_API int warren_fd_watch(struct warren_request *r, int fd, unsigned events, warren_fd_fn fn,
			       void *arg, struct warren_watch **watch);

/** Stops a watch whose callback has not run yet. */
WARREN_API void warren_fd_unwatch(struct warren_watch *watch);

/**
 * Runs @work(@arg) on one of the worker's offload threads, then @done(@r, @arg) back on
 * the worker's loop: the way to call blocking libraries without blocking the worker.
 * @work must not call any warren function. If the request ends first (client gone),
 * @done is not called, but the request's cleanups wait until @work has returned, so
 * @arg may be freed there. The threads (config "offload_threads", 4 by default) start
 * with the first job; a stopping worker waits up to shutdown_timeout for jobs still
 * running. Returns 0, -ENOMEM, or -EAGAIN when threads cannot be started.
 */
WARREN_API int warren_offload(struct warren_request *r, void (*work)(void *arg),
			      void (*done)(struct warren_request *r, void *arg), void *arg);

/* ---- Response ------------------------------------------------------------------------ */

/**
 * Sets the response status (200 when never set).
 * Returns 0, or -EINVAL unless 200 <= @status <= 599.
 */
WARREN_API int warren_resp_status(struct warren_request *r, int status);

/**
 * The response status set so far (200 unless changed); 0 once the request ended without
 * any response (warren_req_aborted()).
 */
WARREN_API int warren_resp_get_status(const struct warren_request *r);

/**
 * Adds a response header; both strings are copied. warren owns the framing headers:
 * Content-Length, Transfer-Encoding and Connection are refused, and so are names that
 * are not HTTP tokens and values containing CR, LF or NUL.
 * Returns 0, -EINVAL for a refused header, or -ENOMEM.
 */
WARREN_API int warren_resp_header(struct warren_request *r, const char *name, const char *value);

/**
 * Sets a response header: removes every header named @name (case-insensitively), then
 * adds it. Same rules and results as warren_resp_header().
 */
WARREN_API int warren_resp_header_set(struct warren_request *r, const char *name,
				      const char *value);

/** Removes every response header named @name. Returns 0, or -ENOENT when there was none. */
WARREN_API int warren_resp_header_remove(struct warren_request *r, const char *name);

/**
 * Looks up a response header set so far by name, case-insensitively (the first one).
 * "Content-Length", which warren sets itself, is found from on_response on (also in
 * on_complete): the length the body is sent with; not for a streamed response or a
 * status without a body. Returns true when present.
 */
WARREN_API bool warren_resp_header_get(const struct warren_request *r, const char *name,
				       struct warren_str *value);

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

/**
 * Makes @len bytes at @data the response body without copying them. warren reads them
 * until they are written to the client, then calls @release(@arg) (may be NULL), also
 * when the connection fails first. Replaces any body set before; a later append copies
 * the borrowed bytes first. Returns 0 or -ENOMEM (then @release is not called).
 */
WARREN_API int warren_resp_body_borrow(struct warren_request *r, const void *data, size_t len,
				       void (*release)(void *arg), void *arg);

/**
 * Makes @len bytes of the file @fd, from @offset, the response body; they go out with
 * sendfile(2), never through user space. warren uses its own duplicate of @fd, so the
 * caller may close @fd at once. A file that shrinks before it is sent ends the
 * connection (the length was promised). Returns 0, -EINVAL (not a regular file, or the
 * range passes its end), or -errno from dup.
 */
WARREN_API int warren_resp_body_file(struct warren_request *r, int fd, off_t offset, size_t len);

/** Told that a streamed response has room for more (see warren_resp_stream_write()). */
typedef void (*warren_drain_fn)(struct warren_request *r, void *arg);

/**
 * Starts a streamed response, from a handler (which then returns WARREN_ASYNC) or from a
 * callback of an asynchronous request: the status and headers set so far are sent now,
 * and the body follows in pieces with "Transfer-Encoding: chunked" (HTTP/1.0: unframed,
 * and the connection closes at the end). Any body set before is sent as the first piece.
 * @drain, when not NULL, runs each time output refused with -EAGAIN has been written out.
 * Returns 0, -EINVAL when already started or answered (or with a file body set).
 */
WARREN_API int warren_resp_stream_begin(struct warren_request *r, warren_drain_fn drain, void *arg);

/**
 * Queues a copy of @len bytes as the next piece of a streamed response. Returns 0;
 * -EAGAIN when output already waits for the client (nothing was queued: wait for the
 * drain callback); -EINVAL when no stream was begun; -ENOMEM.
 */
WARREN_API int warren_resp_stream_write(struct warren_request *r, const void *data, size_t len);

/**
 * Ends a streamed response; the request is then over (called from the handler itself:
 * once the handler returns). Returns 0 or -EINVAL.
 */
WARREN_API int warren_resp_stream_end(struct warren_request *r);

/* ---- Request life and access logs (ABI 0.4) ----------------------------------------- */

/**
 * The calling module's context for @r: request_ctx_size bytes of its descriptor, zeroed
 * when the request began, the same memory in every call of the module for the request
 * (on_request, handlers and their callbacks, on_response, on_complete; also for warren's
 * own error responses), released when it ends. NULL when the module asked for none, when
 * called from no module's code for a request (the work function of warren_offload()), or
 * out of memory.
 */
WARREN_API void *warren_req_ctx(struct warren_request *r);

/**
 * What the calling module's configure_route stored for the route @r is on (ABI 0.5): the
 * parsed value of the module's config_key in that route. NULL when the route does not set
 * the key, when @r has no route (a request warren rejected, a path no route matches), or
 * when called from no module's code (the work function of warren_offload()).
 */
WARREN_API void *warren_req_route_conf(struct warren_request *r);

/** How a request ended; what on_complete and cleanups see. */
enum warren_outcome {
	/** Not over yet. */
	WARREN_OUTCOME_PENDING = 0,
	/**
	 * Answered: its whole response (status warren_resp_get_status()) was written to the
	 * connection, i.e. handed to the kernel; whether the client read it is not known.
	 */
	WARREN_OUTCOME_ANSWERED = 1,
	/**
	 * Ended without any response: the client left before it was answered (or the
	 * worker stopped). warren_resp_get_status() is 0.
	 */
	WARREN_OUTCOME_ABORTED = 2,
	/**
	 * The response was begun but not all written: the connection failed, timed out
	 * (http.send_timeout) or was cut (a streamed response past handler_timeout).
	 * warren_resp_bytes_sent() says how much went out.
	 */
	WARREN_OUTCOME_CUT = 3,
};

/** How the request ended; WARREN_OUTCOME_PENDING before on_complete. */
WARREN_API enum warren_outcome warren_req_outcome(const struct warren_request *r);

/**
 * True when warren answered the request itself before any module saw it, as it could not
 * read it: bad framing (400, 413, 414, 417, 431, 501, 505) or a timeout while it arrived
 * (408). on_request did not run; method, target and headers are what was parsed of it,
 * possibly empty.
 */
WARREN_API bool warren_req_rejected(const struct warren_request *r);

/**
 * When the request's first byte was read, in milliseconds: with @wall false on the
 * monotonic clock (CLOCK_MONOTONIC), with @wall true since the Unix epoch. Read once per
 * event-loop turn, not per request: requests read in one turn share it.
 */
WARREN_API uint64_t warren_req_start_ms(const struct warren_request *r, bool wall);

/** Milliseconds from warren_req_start_ms() until now (in on_complete: the request's time). */
WARREN_API uint64_t warren_req_elapsed_ms(const struct warren_request *r);

/** Bytes of the request body received so far, as decoded (without chunked framing). */
WARREN_API uint64_t warren_req_body_bytes(const struct warren_request *r);

/**
 * Bytes of the response written to the connection, head and body; with @body_only the
 * body's alone (with a streamed response's chunk framing). Exact in on_complete and
 * cleanups; 0 before.
 */
WARREN_API uint64_t warren_resp_bytes_sent(const struct warren_request *r, bool body_only);

/**
 * A printable id of the request, 32 lowercase hex digits, unique across the workers of a
 * server and its restarts (made of the worker's start time, its index and a count).
 * Made on the first call, from the request's pool; the same for every later call.
 */
WARREN_API struct warren_str warren_req_id(struct warren_request *r);

/** The index of the worker serving the request (0 to workers - 1). */
WARREN_API unsigned warren_req_worker(const struct warren_request *r);

/**
 * The route whose handler holds or answered the request: its index in the config's
 * "routes", or -1 when none did (404, 405, an answer from on_request, a rejected
 * request). @handler, when not NULL, receives its "module.handler" (NULL for -1).
 */
WARREN_API int warren_req_route(const struct warren_request *r, const char **handler);

/**
 * How many requests were answered on the request's connection before it: 0 for the
 * first, more on a reused (keep-alive) connection.
 */
WARREN_API unsigned warren_req_conn_requests(const struct warren_request *r);

/* ---- Connection upgrade (ABI 0.4) ----------------------------------------------------- */

/**
 * A connection a handler took over with warren_req_upgrade(): after "101 Switching
 * Protocols" its bytes are the module's, both ways, through the worker's event loop. The
 * handle is valid from warren_req_upgrade() until on_close has returned.
 */
struct warren_stream;

/** Why a stream ended, as on_close is told. */
enum warren_stream_end {
	/** The module called warren_stream_close(); what it wrote went out first. */
	WARREN_STREAM_CLOSED = 0,
	/** The client closed the connection (end of stream) or reset it. */
	WARREN_STREAM_PEER = 1,
	/** A read or write failed, or warren ran out of memory for the stream. */
	WARREN_STREAM_ERROR = 2,
	/** The client read nothing of what was written for http.send_timeout. */
	WARREN_STREAM_TIMEOUT = 3,
	/** The worker stopped: at once (TERM), or shutdown_timeout after on_stop. */
	WARREN_STREAM_STOPPED = 4,
	/**
	 * The switch never happened: an on_response hook changed the 101, or module code
	 * kept a zone lock and the client got a 500 instead.
	 */
	WARREN_STREAM_REFUSED = 5,
};

/**
 * What warren tells the module that owns a stream. Every callback runs on the worker's
 * loop, never nested in a warren_stream_*() call, under the same crash and watchdog
 * protection as a handler (reports name the route's handler).
 */
struct warren_upgrade_ops {
	/** sizeof(struct warren_upgrade_ops) as the module was built: fields are only ever
	 *  added at the end, and those a smaller size leaves out read as NULL. */
	size_t size;
	/**
	 * Bytes from the client, in order; valid during the call only. The first call carries
	 * what the client sent after the upgrade request without waiting for the 101 (it may
	 * come before the module's first write has gone out). Required.
	 */
	void (*on_read)(struct warren_stream *s, const void *data, size_t len, void *arg);
	/** A write refused with -EAGAIN may be retried: everything queued went out. Optional. */
	void (*on_drain)(struct warren_stream *s, void *arg);
	/**
	 * The server is stopping (graceful stop, reload, or the master died): finish and
	 * close; after shutdown_timeout warren closes the stream itself (WARREN_STREAM_STOPPED).
	 * Called at most once; optional. A stream still being switched when the stop begins
	 * is told as well.
	 */
	void (*on_stop)(struct warren_stream *s, void *arg);
	/**
	 * The stream ended, for @why: called exactly once, last, for every stream that
	 * warren_req_upgrade() returned, also when the module closed it. Free the module's
	 * state here; @s is invalid once this returns. Optional.
	 */
	void (*on_close)(struct warren_stream *s, enum warren_stream_end why, void *arg);
};

/**
 * Answers the request with "101 Switching Protocols" to @protocol and hands the connection
 * over: once the 101 is out, what the client sends goes to @ops->on_read and what the
 * module writes with warren_stream_write() goes to the client, through the connection's
 * transport (plain TCP today, TLS alike). Call it from a handler, which then returns
 * WARREN_DONE (the request ends there; its on_complete hooks and cleanups run once the
 * 101 is written, before any stream callback), or from a callback of an asynchronous
 * request, which it ends; never from an on_request hook. Response headers set
 * before (e.g. Sec-WebSocket-Accept) go out with the 101; a body set before is dropped.
 * warren writes "Connection: Upgrade" and "Upgrade: @protocol". The connection still counts
 * towards the worker's connections and is closed at a stop, after on_stop.
 * @protocol: the protocol the client offered in its Upgrade field ("websocket"),
 *	compared case-insensitively.
 * @ops: the stream's callbacks (with .size set), copied; @arg is passed to each.
 * @stream: out, the new stream's handle.
 * Returns 0; -EINVAL when the request cannot be answered now (answered, aborted, held or
 * run by an on_request hook) or for bad arguments; -EALREADY when a streamed response began or the request
 * is upgraded already; -EPROTONOSUPPORT for an HTTP/1.0 request; -EPROTO when the request
 * does not ask for an upgrade ("Upgrade" field and "upgrade" in "Connection"); -ENOPROTOOPT
 * when @protocol is not one the client offered; -EBUSY while the request body is still
 * arriving; -ESHUTDOWN when the worker is stopping; -EOPNOTSUPP where the connection cannot
 * be handed over; -ENOMEM. On failure nothing changed: answer the request as usual.
 */
WARREN_API int warren_req_upgrade(struct warren_request *r, const char *protocol,
				  const struct warren_upgrade_ops *ops, void *arg,
				  struct warren_stream **stream);

/**
 * Queues a copy of @len bytes for the client. Returns 0; -EAGAIN when 64 KiB or more
 * already wait for the client (nothing was queued: on_drain says when to try again);
 * -EPIPE once the stream is closing or ended; -EINVAL; -ENOMEM.
 */
WARREN_API int warren_stream_write(struct warren_stream *s, const void *data, size_t len);

/**
 * Stops (@paused true) or resumes delivering the client's bytes to on_read: the module's
 * own back-pressure, e.g. while its writes are refused. While paused nothing more is read,
 * so the client's sends stall once the kernel's buffers fill; a hang-up is still noticed.
 * Bytes already read wait and come first on resuming. Returns 0, or -EPIPE once closing.
 */
WARREN_API int warren_stream_pause(struct warren_stream *s, bool paused);

/** Runs when a stream's timer fires. */
typedef void (*warren_stream_timer_fn)(struct warren_stream *s, void *arg);

/**
 * Arms the stream's one timer: @fn(@s, @arg) runs once, @ms milliseconds from now (a
 * ping interval, an idle timeout). Arming again replaces the previous timer; @fn NULL
 * cancels it. The timer is cancelled when the stream closes. Returns 0, -EPIPE once
 * closing, or -ENOMEM.
 */
WARREN_API int warren_stream_timer(struct warren_stream *s, uint64_t ms, warren_stream_timer_fn fn,
				   void *arg);

/**
 * Closes the stream: nothing more is read or delivered, what was written goes out, then
 * the connection's sending side is shut and on_close runs with WARREN_STREAM_CLOSED (from
 * the loop, never inside this call). warren then reads and discards briefly until the
 * client closes, so that the client gets every byte. Returns 0, or -EPIPE when closing
 * already.
 */
WARREN_API int warren_stream_close(struct warren_stream *s);

/* ---- Memory shared by all workers ---------------------------------------------------- */

/**
 * Reserves a zone of @size bytes of memory shared by the master and every worker, for
 * counters, rate limits and caches that must agree across workers. Only callable from a
 * module's init callback (before the workers fork). The zone starts zeroed and lives as
 * long as the master: a reload that asks again for the same @name and @size gets the
 * same memory back, so counters survive it. Same as warren_shm_zone_ex() with no options
 * (layout version 0, no init callback).
 * @name: 1 to 64 characters; prefix it with the module name ("counter.hits").
 * @out: where the zone's address is stored; the same in every process.
 * Returns 0; -EPERM outside init; -EINVAL for a bad name or a size of 0 or over 1 GiB;
 * -EEXIST when @name exists with another size and the config's shared_zones.on_change
 * is "refuse" (warren adds the sizes to the module's error); -ENOMEM.
 *
 * Use C11 atomics (<stdatomic.h>) for counters. For anything larger, use
 * warren_shm_zone_ex() with an init callback that sets up a pthread_mutex_t in the zone
 * with warren_shm_mutex_init() when the zone is new, and take it with warren_shm_lock().
 */
WARREN_API int warren_shm_zone(const char *name, size_t size, void **out);

/* ---- Zones with options, and a heap inside them (ABI 0.4) ---------------------------- */

/**
 * Sets up a zone's contents; see struct warren_shm_opts.
 * @mem: the zone, @size bytes.
 * @inherited: false when the memory is new (zeroed: at start-up, for a zone first asked
 *	for by this reload, or one re-created because its size or layout version changed);
 *	true when it is the previous generation's zone, still in use by its workers.
 * @arg: the options' arg.
 * Returns 0 or a negative errno (then the module's init fails and a new zone is dropped,
 * so the next try sees it new again).
 */
typedef int (*warren_shm_init_fn)(void *mem, size_t size, bool inherited, void *arg);

/**
 * Options of warren_shm_zone_ex(). Make them with WARREN_SHM_OPTS(), which sets
 * struct_size: fields are only ever added at the end, and warren reads only those the
 * module was built with.
 */
struct warren_shm_opts {
	/** sizeof(struct warren_shm_opts) the module was built with. */
	uint32_t struct_size;
	/**
	 * The version of what the module keeps in the zone. Raise it when that layout
	 * changes: a reload that asks for a zone with another version (or size) than the one
	 * that exists never hands the old bytes to the new code. Depending on the config's
	 * shared_zones.on_change the reload is refused, naming the zone and both versions
	 * and sizes ("refuse", the default), or the zone is made afresh ("recreate").
	 */
	uint32_t version;
	/**
	 * Called in the master by warren_shm_zone_ex() before it returns, every time it
	 * returns 0: put the zone's mutex and data structures in place when !inherited.
	 * When inherited, the workers of the generation being replaced are using the zone
	 * at that very moment: touch nothing without its lock. Like init itself it runs
	 * twice per reload (in the trial load first; see docs/process-model.md). Optional.
	 */
	warren_shm_init_fn init;
	/** Passed to init. */
	void *arg;
};

/** Options for warren_shm_zone_ex(), e.g. WARREN_SHM_OPTS(.version = 2, .init = my_init). */
#define WARREN_SHM_OPTS(...)                                                                       \
	((struct warren_shm_opts){.struct_size = sizeof(struct warren_shm_opts), __VA_ARGS__})

/**
 * warren_shm_zone() with options: a layout version, and an init callback told whether
 * the memory is new or inherited from the previous generation.
 * @opts: may be NULL (version 0, no callback).
 * @err: the module init callback's @err; on failure it says what went wrong, naming the zone
 *	(for a changed zone: the sizes and versions, and what the operator can do). May be
 *	NULL.
 * Returns what warren_shm_zone() does, -EINVAL for opts without a struct_size, or what
 * the init callback returned.
 */
WARREN_API int warren_shm_zone_ex(const char *name, size_t size, const struct warren_shm_opts *opts,
				  void **out, struct warren_error *err);

/** Initialises a process-shared, robust mutex inside a shared zone. 0 or -errno. */
WARREN_API int warren_shm_mutex_init(pthread_mutex_t *m);

/**
 * Locks a mutex made by warren_shm_mutex_init(). When its previous owner died while
 * holding it, the lock is taken anyway and 1 is returned: the data it protects may be
 * half-updated and should be checked or reset (for a heap: warren_shm_heap_check()).
 * Returns 0, 1, or -errno: -ENOLCK when the thread holds 8 already. Unlock before
 * returning: a lock still held when the callback returns is released by warren, with a
 * warning, and an unanswered request gets a 500.
 */
WARREN_API int warren_shm_lock(pthread_mutex_t *m);

/** Unlocks a mutex taken with warren_shm_lock(). 0 or -errno. */
WARREN_API int warren_shm_unlock(pthread_mutex_t *m);

/**
 * A heap inside shared memory: variable-sized blocks allocated and freed by any worker.
 * It has no lock of its own: every call but warren_shm_heap_init() must be made under
 * the lock that guards the zone (or from a zone init callback for a new zone, when no
 * one else sees it yet). Blocks are 16-byte aligned, and their addresses are the same
 * in every process (zones are mapped once, by the master, before it forks), so they may
 * be stored in the zone as plain pointers.
 *
 * A worker that dies in the middle of an allocation or free cannot corrupt the chain
 * of blocks: it is always updated by single stores, in an order that keeps it walkable.
 * What may be left behind is repaired by warren_shm_heap_check() (free lists, counts)
 * or lost (the one block the dead worker was being given). Call it when
 * warren_shm_lock() returns 1; the next allocation or free repairs it anyway.
 */
struct warren_shm_heap;

/**
 * Makes the @size bytes at @mem an empty heap; *@out is where it starts (@mem rounded up
 * to 16 bytes). Call it from a zone's init callback when the zone is new. Returns 0, or
 * -EINVAL when @size cannot hold the heap's header (320 bytes) and one block.
 */
WARREN_API int warren_shm_heap_init(void *mem, size_t size, struct warren_shm_heap **out);

/**
 * Allocates @size bytes (uninitialised). Each block costs 16 bytes more, rounded up to a
 * multiple of 16. Returns NULL when @size is 0 or no free block is large enough (the heap
 * is full, or too fragmented: warren_shm_heap_stats() tells which).
 */
WARREN_API void *warren_shm_alloc(struct warren_shm_heap *h, size_t size);

/**
 * Frees a block from warren_shm_alloc(); neighbouring free blocks merge. NULL is ignored;
 * a pointer that is not a live block of @h is logged and ignored.
 */
WARREN_API void warren_shm_free(struct warren_shm_heap *h, void *p);

/** The usable size of a block from warren_shm_alloc() (at least what was asked for). */
WARREN_API size_t warren_shm_block_size(const struct warren_shm_heap *h, const void *p);

/**
 * Checks the heap (walks every block). Returns 0 when it was consistent; 1 when it had
 * to be repaired (an operation was cut short by a dead worker): the free lists and counts
 * were rebuilt, every block is either free or allocated, and an allocated block may be
 * one that no one holds (the module's own structures tell); -EUCLEAN when the blocks
 * themselves are overwritten (a module wrote outside its blocks): call
 * warren_shm_heap_reset(); -EINVAL when @h is not a heap.
 */
WARREN_API int warren_shm_heap_check(struct warren_shm_heap *h);

/** Frees every block at once: the heap is as warren_shm_heap_init() left it. */
WARREN_API void warren_shm_heap_reset(struct warren_shm_heap *h);

/** What warren_shm_heap_stats() reports, in bytes (block headers included) and blocks. */
struct warren_shm_heap_stats {
	size_t capacity;     /**< bytes for blocks: the heap's size minus its header */
	size_t used;	     /**< in allocated blocks */
	size_t free;	     /**< in free blocks */
	size_t largest_free; /**< the largest size warren_shm_alloc() can give now */
	size_t used_blocks;  /**< allocated blocks */
	size_t free_blocks;  /**< free blocks */
};

/** Fills @st (under the lock, like every heap call). */
WARREN_API void warren_shm_heap_stats(const struct warren_shm_heap *h,
				      struct warren_shm_heap_stats *st);

/* ---- Module and route configuration -------------------------------------------------- */

/*
 * Helpers for init and configure callbacks that read a config object and, when a value is
 * wrong, describe it the way warren describes mistakes in its own config: the loader puts
 * the full JSON path of the key in front of the message, nested objects and array elements
 * included, and suggests the key a typo meant:
 *
 *	routes[0].config.max_value_size: expected a size from 1 to 4k, got string "big"
 *	routes[0].config: unknown key "max_value_sise" (did you mean "max_value_size"?)
 *
 * Each reads the member @key of the object @obj. Without WARREN_CONF_REQUIRED an absent key
 * (or a NULL @obj) leaves *@out untouched, so set the default first; a JSON null counts as
 * a value, and a wrong one. With @key NULL, @obj is the value itself: use that for array
 * elements (json_array_get()) and for values found while iterating an object. Each returns
 * 0, or -EINVAL with @err set; return that from the callback. Strings stay owned by the
 * config, which lives until fini and every route's release: copy what you keep longer.
 */

/** Flag: the key must be present (an absent one is an error saying "missing"). */
#define WARREN_CONF_REQUIRED 0x1u

/** An integer from @min to @max. */
WARREN_API int warren_conf_int(const json_t *obj, const char *key, unsigned flags, long long min,
			       long long max, long long *out, struct warren_error *err);

/**
 * A size in bytes from @min to @max: an integer, or a string of digits with a suffix k, m
 * or g (powers of 1024; either case): 4096, "64k", "16m".
 */
WARREN_API int warren_conf_size(const json_t *obj, const char *key, unsigned flags, uint64_t min,
				uint64_t max, uint64_t *out, struct warren_error *err);

/**
 * A duration, stored in milliseconds, from @min_ms to @max_ms: a number of seconds
 * (fractions allowed), as in warren's own config, or a string with a unit ms, s, m or h:
 * 30, 0.25, "250ms", "2s", "1.5m". A positive duration under 1 ms counts as 1 ms.
 */
WARREN_API int warren_conf_duration(const json_t *obj, const char *key, unsigned flags,
				    uint64_t min_ms, uint64_t max_ms, uint64_t *out_ms,
				    struct warren_error *err);

/** A non-empty string of at most @max_len bytes (0: no limit). */
WARREN_API int warren_conf_string(const json_t *obj, const char *key, unsigned flags,
				  size_t max_len, const char **out, struct warren_error *err);

/**
 * One of the strings @choices (ended by NULL); *@out receives its index. A near miss is
 * answered with the choice it probably meant.
 */
WARREN_API int warren_conf_enum(const json_t *obj, const char *key, unsigned flags,
				const char *const *choices, unsigned *out,
				struct warren_error *err);

/** true or false. */
WARREN_API int warren_conf_bool(const json_t *obj, const char *key, unsigned flags, bool *out,
				struct warren_error *err);

/** A string that is an HTTP field name (an RFC 9110 token, e.g. "X-Request-Id"). */
WARREN_API int warren_conf_header_name(const json_t *obj, const char *key, unsigned flags,
				       const char **out, struct warren_error *err);

/**
 * A string that can be sent as an HTTP field value: no control characters but tab (so no
 * CR, LF or NUL); may be empty.
 */
WARREN_API int warren_conf_header_value(const json_t *obj, const char *key, unsigned flags,
					const char **out, struct warren_error *err);

/**
 * A member of an object of headers ({"X-Frame-Options": "DENY", ...}): @key must be a field
 * name and its value a field value (as above), which *@value receives. warren owns the
 * framing headers, so Content-Length, Transfer-Encoding and Connection are refused.
 * Iterate the object with json_object_foreach() and call this for each key.
 */
WARREN_API int warren_conf_header(const json_t *obj, const char *key, const char **value,
				  struct warren_error *err);

/** An object, for nested settings; *@out points into the config. */
WARREN_API int warren_conf_object(const json_t *obj, const char *key, unsigned flags,
				  const json_t **out, struct warren_error *err);

/**
 * An array of @min to @max elements (@max 0: no limit); *@out points into the config.
 * Check each element with a helper and a NULL key: warren_conf_string(json_array_get(a,
 * i), NULL, ...).
 */
WARREN_API int warren_conf_array(const json_t *obj, const char *key, unsigned flags, size_t min,
				 size_t max, const json_t **out, struct warren_error *err);

/**
 * Refuses keys of @obj that are not in @known (ended by NULL), naming the one a typo
 * probably meant. Call it on every object you read, so that no misspelt key is ignored.
 */
WARREN_API int warren_conf_keys(const json_t *obj, const char *const *known,
				struct warren_error *err);

/**
 * Sets @err like warren_error_set(), about the value at @key of @obj (@key NULL: about
 * @obj itself), so that the loader names its path: for checks of your own, e.g.
 * warren_conf_error(err, config, "paths", "must not be empty"). Returns -EINVAL.
 */
WARREN_API int warren_conf_error(struct warren_error *err, const json_t *obj, const char *key,
				 const char *fmt, ...) WARREN_PRINTF(4, 5);

/* ---- Errors and logging -------------------------------------------------------------- */

/** Describes why an init or configure callback failed (printf-style). */
WARREN_API void warren_error_set(struct warren_error *err, const char *fmt, ...)
	WARREN_PRINTF(2, 3);

/** Writes one line to warren's log, stamped with time, pid and @level. */
WARREN_API void warren_log(enum warren_log_level level, const char *fmt, ...) WARREN_PRINTF(2, 3);

#ifdef __cplusplus
}
#endif

#endif /* WARREN_MODULE_H */

/* warren/test.h - the test kit: runs a real warren with a plugin under test and talks HTTP
 * to it, for a plugin's own test suite.
 *
 * Link with `pkg-config --cflags --libs warren-test`. The kit works with any test
 * framework (it calls none; every function reports through its return value and
 * warren_test_error()) and needs only the warren binary at run time:
 *
 *	struct warren_test_server *srv;
 *	struct warren_test_response r;
 *
 *	if (warren_test_start(&srv, "{\"modules\": [{\"name\": \"hello\", \"path\": \"hello.so\"}],"
 *				    " \"routes\": [{\"match\": {\"path\": \"/\"},"
 *				    " \"handler\": \"hello.greet\"}]}", NULL) < 0)
 *		fail("%s", warren_test_error());
 *	if (warren_test_get(srv, "/", &r) < 0) ...
 *	... r.status, warren_test_header(&r, "Content-Type"), r.body, r.body_len ...
 *	warren_test_response_free(&r);
 *	warren_test_stop(srv);
 *
 * Each server is a child process, the master of a warren started as
 * `warren -c CONFIG --ready-fd N` in its own process group, with a private temporary
 * directory for its config and log. It is stopped by pid: by warren_test_stop(), else at
 * exit() of the test process (an assertion that failed half-way), else by the kernel when
 * the thread that started it dies (a crash). Every wait is bounded, so a server that hangs
 * fails the test instead of hanging it.
 *
 * Environment: WARREN_BIN is the warren to run (default: the one installed with the kit);
 * WARREN_PLUGIN_DIR the directory relative module paths are taken from (default: the
 * current directory); WARREN_TEST_EVENT, when set, becomes the config's "event" if it has
 * none; CK_TIMEOUT_MULTIPLIER, above 1, stretches every timeout as it stretches Check's
 * (a run under valgrind). Start and stop servers from one thread: the list of running
 * servers is not locked, and a server dies with the thread that started it.
 */
#ifndef WARREN_TEST_H
#define WARREN_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Marks a function of the kit's library. */
#define WARREN_TEST_API __attribute__((visibility("default")))

/** How long the kit waits for any one step (start, connect, send, a response, stop). */
#define WARREN_TEST_TIMEOUT_MS 10000

/** A running warren, from warren_test_start() to warren_test_stop(). */
struct warren_test_server;

/** One client connection, from warren_test_connect() to warren_test_close(). */
struct warren_test_conn;

/** How to start a server; every member may be left 0 or NULL. */
struct warren_test_options {
	/** The warren binary; NULL: $WARREN_BIN, else the one installed with the kit. */
	const char *bin;
	/**
	 * The directory that relative "path"s in the config's "modules" are taken from;
	 * NULL: $WARREN_PLUGIN_DIR, else the current directory. Other relative paths
	 * (log_file, pid_file, unix: listeners) land in the server's own directory.
	 */
	const char *plugin_dir;
	/** The limit for each step, in ms; 0: WARREN_TEST_TIMEOUT_MS. */
	int timeout_ms;
};

/**
 * Starts warren with @config, a JSON object as in a config file. "listen" defaults to
 * ["127.0.0.1:0"] (a port the kernel picks: warren_test_port() says which) and "workers"
 * to 1; anything the config sets is kept. Returns once every worker accepts, as warren's
 * --ready-fd reports it.
 *
 * Returns 0 and *@srv; -EINVAL for a config that is no JSON object (the error gives line
 * and column); -ETIMEDOUT if warren was not ready in time (it is killed); -ECHILD if it
 * exited first (a config or plugin error: warren's own message is in the error); -errno
 * for a failed system call. On failure nothing is left running and warren's log, if it
 * said anything, is printed to stderr.
 */
WARREN_TEST_API int warren_test_start(struct warren_test_server **srv, const char *config,
				      const struct warren_test_options *opts);

/**
 * Stops @srv with SIGTERM, waits for its master to exit, kills whatever of its process
 * group remains, removes its directory and frees it. NULL is a no-op.
 *
 * Returns 0 if warren exited with status 0, left no process behind and its log has no
 * sanitizer report; -ETIMEDOUT if it had to be killed; -EIO for any other unclean end
 * (the error says which, and the log is printed to stderr). @srv is gone either way.
 */
WARREN_TEST_API int warren_test_stop(struct warren_test_server *srv);

/** The master's pid. */
WARREN_TEST_API pid_t warren_test_pid(const struct warren_test_server *srv);

/** How many listeners the server reported (the config's "listen" entries). */
WARREN_TEST_API size_t warren_test_nlisten(const struct warren_test_server *srv);

/** Listener @i as warren reported it: "127.0.0.1:PORT", "[::1]:PORT" or "unix:PATH". */
WARREN_TEST_API const char *warren_test_address(const struct warren_test_server *srv, size_t i);

/** The TCP port of listener @i; 0 for a unix socket or an @i out of range. */
WARREN_TEST_API int warren_test_port(const struct warren_test_server *srv, size_t i);

/** The server's private directory (its config, log, and relative files). */
WARREN_TEST_API const char *warren_test_dir(const struct warren_test_server *srv);

/**
 * What the server wrote to stdout and stderr so far, NUL-terminated; free() it. NULL if it
 * cannot be read (the error says why).
 */
WARREN_TEST_API char *warren_test_log(const struct warren_test_server *srv);

/** Whether the server's log contains @text. */
WARREN_TEST_API bool warren_test_log_contains(const struct warren_test_server *srv,
					      const char *text);

/**
 * Why the last failing warren_test_* call in this thread failed, e.g. "GET /: no complete
 * response from 127.0.0.1:40123 within 10000 ms (0 bytes came: \"\")" or "chunk size \"zz\"
 * is not hexadecimal"; "" before any failure.
 */
WARREN_TEST_API const char *warren_test_error(void);

/* ---- Requests and responses ---------------------------------------------------------- */

/** A request to send; NULL and 0 members take the defaults. */
struct warren_test_request {
	/** NULL: "GET". */
	const char *method;
	/** NULL: "/". */
	const char *target;
	/**
	 * Header lines "Name: value" (no CRLF), NULL-terminated; NULL: none. "Host: test"
	 * is added unless a Host is given, and "Content-Length" when there is a body and no
	 * Content-Length or Transfer-Encoding is given.
	 */
	const char *const *headers;
	/** The body, sent as is (NULL: none). */
	const void *body;
	size_t body_len;
};

/** One header field of a response. */
struct warren_test_header {
	char *name;
	char *value; /* without the whitespace around it */
};

/** A response as received; release it with warren_test_response_free(). */
struct warren_test_response {
	int status;   /* 100 to 999 */
	int minor;    /* HTTP/1.minor */
	char *reason; /* the reason phrase, maybe "" */
	struct warren_test_header *headers;
	size_t nheaders;
	struct warren_test_header *trailers; /* after a chunked body */
	size_t ntrailers;
	char *body; /* decoded (chunks joined), NUL-terminated; "" when there is none */
	size_t body_len;
	bool chunked; /* whether the body came chunked */
	char *raw;    /* every byte of the response as received, NUL-terminated */
	size_t raw_len;
};

/** For warren_test_parse_response() and warren_test_read(): the response to a HEAD. */
#define WARREN_TEST_HEAD 0x1
/** For warren_test_parse_response(): no more bytes will come (the peer closed). */
#define WARREN_TEST_EOF 0x2

/**
 * Parses one response at the start of the @len bytes at @data, framed as RFC 9112 says:
 * no body for a HEAD (@flags has WARREN_TEST_HEAD), 1xx, 204 or 304; else chunked,
 * Content-Length, or the end of the connection (@flags has WARREN_TEST_EOF once it came).
 * Line ends may be CRLF or LF.
 *
 * Returns 0 with *@r filled and *@used the bytes it took; -EAGAIN if @data holds only part
 * of a response; -EPROTO if it is malformed (the error says where); -ENOMEM. *@r needs
 * warren_test_response_free() only after 0.
 */
WARREN_TEST_API int warren_test_parse_response(const void *data, size_t len, int flags,
					       struct warren_test_response *r, size_t *used);

/** Frees what @r holds and zeroes it; a zeroed @r is fine. */
WARREN_TEST_API void warren_test_response_free(struct warren_test_response *r);

/** The value of @r's first header @name (any case), NULL if it has none. */
WARREN_TEST_API const char *warren_test_header(const struct warren_test_response *r,
					       const char *name);

/** How many headers @name (any case) @r has. */
WARREN_TEST_API size_t warren_test_header_count(const struct warren_test_response *r,
						const char *name);

/**
 * Sends @req (NULL: GET /) on a new connection to @srv's first listener, reads the
 * response (interim 1xx ones skipped) and closes. Returns 0; -ETIMEDOUT when a step took
 * longer than the server's timeout; -ECONNRESET or -EPROTO (closed early, malformed);
 * -EINVAL for a request that cannot be built (a line break in a header); -errno.
 */
WARREN_TEST_API int warren_test_request(struct warren_test_server *srv,
					const struct warren_test_request *req,
					struct warren_test_response *r);

/** warren_test_request() of GET @target with no headers beyond Host. */
WARREN_TEST_API int warren_test_get(struct warren_test_server *srv, const char *target,
				    struct warren_test_response *r);

/**
 * Sends the @len bytes at @data as they are (a malformed request, several pipelined) on a
 * new connection, reads one response and closes. A request starting "HEAD " is recognised.
 */
WARREN_TEST_API int warren_test_raw(struct warren_test_server *srv, const void *data, size_t len,
				    struct warren_test_response *r);

/* ---- Connections: keep-alive, pipelining, partial sends ------------------------------ */

/** Connects to @srv's listener @i. Returns 0 and *@conn, or -errno. */
WARREN_TEST_API int warren_test_connect(struct warren_test_server *srv, size_t i,
					struct warren_test_conn **conn);

/**
 * Connects to @addr ("HOST:PORT", "[IPV6]:PORT" or "unix:PATH") with @timeout_ms for it
 * and for every later step (0: WARREN_TEST_TIMEOUT_MS). Returns 0 and *@conn, or -errno.
 */
WARREN_TEST_API int warren_test_connect_to(const char *addr, int timeout_ms,
					   struct warren_test_conn **conn);

/** Sends the @len bytes at @data. Returns 0, -ETIMEDOUT, or -errno (-EPIPE: closed). */
WARREN_TEST_API int warren_test_send(struct warren_test_conn *conn, const void *data, size_t len);

/**
 * Sends @req (NULL: GET /), built as warren_test_request() builds it. Returns as
 * warren_test_send(), or -EINVAL as warren_test_request().
 */
WARREN_TEST_API int warren_test_send_request(struct warren_test_conn *conn,
					     const struct warren_test_request *req);

/**
 * Reads the next response on @conn into @r, skipping interim 1xx ones (not 101); @flags
 * may hold WARREN_TEST_HEAD. Bytes after it stay buffered for the next call. Returns 0,
 * -ETIMEDOUT, -ECONNRESET, -EPROTO (malformed, or the connection closed mid-response).
 */
WARREN_TEST_API int warren_test_read(struct warren_test_conn *conn, int flags,
				     struct warren_test_response *r);

/**
 * Waits for the server to close @conn. Returns 0 on a close or reset; -ETIMEDOUT if it
 * stays open; -EPROTO if bytes arrive instead.
 */
WARREN_TEST_API int warren_test_wait_closed(struct warren_test_conn *conn);

/** Closes @conn and frees it; NULL is a no-op. */
WARREN_TEST_API void warren_test_close(struct warren_test_conn *conn);

#ifdef __cplusplus
}
#endif

#endif /* WARREN_TEST_H */

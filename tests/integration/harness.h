/* tests/integration/harness.h - runs the real warren binary for the integration suites:
 * generated configs, start/stop by pid, worker inspection and a raw HTTP/1.1 client. */
#ifndef WARREN_TESTS_HARNESS_H
#define WARREN_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <check.h>

#define WT_MAX_LISTEN 8
#define WT_MAX_HEADERS 64

/* Deadline for anything the server should do promptly (start, answer, stop). */
#define WT_TIMEOUT_MS 10000

/* Check's own per-test limit; every harness deadline stays well below it. */
#define WT_TEST_TIMEOUT_S 30

/*
 * One server under test. Lives in a private temporary directory holding the generated
 * config (warren.json) and everything the server writes to stdout/stderr (warren.log).
 * A guard process watches the test: if the test dies before wt_cleanup() (a failed
 * assertion exits at once), the guard stops the server, prints its config and log to
 * stderr and removes the directory.
 */
struct wt_server {
	char dir[256];
	char conf[300];
	char log[300];
	pid_t pid;   /* the master; 0 before start and once reaped */
	int pidfd;   /* the master's pidfd, -1 when the kernel has none */
	pid_t guard; /* 0 once told that all went well */
	int guard_fd;
	size_t nlisten;
	struct sockaddr_storage addr[WT_MAX_LISTEN];
	socklen_t addrlen[WT_MAX_LISTEN];
	unsigned short port[WT_MAX_LISTEN];
};

/* ---- Environment (set by `make check`, with fallbacks relative to the cwd) ---------- */

const char *wt_bin(void);	 /* WARREN_BIN, else build/warren */
const char *wt_plugin_dir(void); /* WARREN_PLUGIN_DIR, else build/plugins */
const char *wt_srcdir(void);	 /* WARREN_SRCDIR, else . */
const char *wt_event(void);	 /* WARREN_TEST_EVENT, else auto */

/* @ms stretched by CK_TIMEOUT_MULTIPLIER (valgrind, sanitizers) when that is above 1. */
int wt_scaled_ms(int ms);

/* ---- Configuration ------------------------------------------------------------------ */

/*
 * Config templates are printf formats in which every ' becomes " before formatting
 * (write \\u0027 for a real apostrophe), so JSON reads naturally inside C strings.
 * After formatting, @PLUGIN_DIR@ and @DIR@ (the server's directory) are replaced.
 */

/* Creates the temporary directory and the guard. Aborts the test on failure. */
void wt_init(struct wt_server *s);

/* Writes the template, as is apart from the substitutions above, to s->conf. */
void wt_write_config(struct wt_server *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The same for a template that is no printf format (any '%' stays as it is). */
void wt_write_config_text(struct wt_server *s, const char *text);

/*
 * Writes {"listen": ["127.0.0.1:0"], "event": "<wt_event()>", <members>}: the kernel
 * picks the port and the event backend is the one under test.
 */
void wt_config(struct wt_server *s, const char *members_fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The hello plugin (WARREN_PLUGIN_DIR/hello.so) as a "modules" entry, without config. */
#define WT_HELLO_MODULE "{'name': 'hello', 'path': '@PLUGIN_DIR@/hello.so'}"

/* ---- Running the server ------------------------------------------------------------- */

/*
 * Starts warren -c s->conf --ready-fd N and waits (bounded) for its "listen ADDR" and
 * "ready PID" lines ("unix:/path" ones become AF_UNIX listeners with port 0). Returns 0,
 * -ETIMEDOUT, or -ECHILD if it exited first; on failure the log is printed and nothing is
 * left running.
 */
int wt_start(struct wt_server *s);

/*
 * wt_start() that calls @hook(@arg) in the child just before exec, once its output goes to
 * the log: to restrict the server (a seccomp filter) or change its environment. The hook
 * reports a failure on stderr and _exit()s.
 */
int wt_start_hook(struct wt_server *s, void (*hook)(void *arg), void *arg);

/* wt_init() + wt_config() + wt_start(), asserting success. */
void wt_serve(struct wt_server *s, const char *members_fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Sends @sig to the master (none when 0) and waits up to @timeout_ms for it to exit,
 * SIGKILLing it after that. *status gets the wait status. Returns 0; -ETIMEDOUT if it had
 * to be killed; -EBUSY if any process of its group (a worker, a zombie) outlived it -
 * those are killed and reaped before returning.
 */
int wt_stop(struct wt_server *s, int sig, int timeout_ms, int *status);

/* TERM, then asserts exit status 0 and nothing left behind, then wt_cleanup(). */
void wt_stop_ok(struct wt_server *s);
/* The same but for wt_cleanup(): the log can still be read (call wt_cleanup() after). */
void wt_stop_keep_log(struct wt_server *s);

/* Tells the guard that the test got this far, removes the directory. */
void wt_cleanup(struct wt_server *s);

/* Prints the config and the server's log to stderr. */
void wt_dump(const struct wt_server *s);

/* Reads a whole file into a NUL-terminated malloc'd buffer (free it); NULL if it cannot. */
char *wt_read_file(const char *path, size_t *len);

/* ---- Inspecting processes ----------------------------------------------------------- */

/* Live (non-zombie) children of the master, ascending. Returns how many (may exceed max). */
size_t wt_workers(const struct wt_server *s, pid_t *pids, size_t max);

/* Number of zombie children of @parent. */
size_t wt_zombies(pid_t parent);

/*
 * Waits (bounded) until the master has exactly @n live children, no zombie ones, and
 * @gone (when > 0) is none of them. Fills @pids (room for @n). Returns 0 or -ETIMEDOUT.
 */
int wt_wait_workers(const struct wt_server *s, size_t n, pid_t gone, pid_t *pids, int timeout_ms);

/* Whether process @pid exists (a zombie counts). */
bool wt_pid_exists(pid_t pid);

/* Whether the server's log contains @needle; the wait variant polls until it does. */
bool wt_log_contains(const struct wt_server *s, const char *needle);
int wt_wait_log(const struct wt_server *s, const char *needle, int timeout_ms);
/* How many times @needle is in the server's log. */
size_t wt_log_count(const struct wt_server *s, const char *needle);

/* ---- One-shot runs (-t, --version, start-up errors) --------------------------------- */

struct wt_run {
	int status; /* exit code, 128 + signal, or -1 when it had to be killed */
	char *out;  /* stdout, NUL-terminated */
	size_t out_len;
	char *err; /* stderr, NUL-terminated */
	size_t err_len;
};

/* Runs wt_bin() with the NULL-terminated arguments, capturing both outputs. */
int wt_run_warren(struct wt_run *r, int timeout_ms, ...) __attribute__((sentinel));
void wt_run_free(struct wt_run *r);

/* ---- Raw HTTP client ---------------------------------------------------------------- */

struct wt_client {
	int fd;
	char *buf; /* received, not yet consumed */
	size_t len, cap;
	bool eof;
	int timeout_ms; /* per call; WT_TIMEOUT_MS unless changed */
};

struct wt_header {
	char *name;
	char *value;
};

struct wt_response {
	int status;
	int minor; /* the 1.x of the status line */
	char reason[64];
	char *head; /* the raw head up to and including the blank line, NUL-terminated */
	size_t head_len;
	struct wt_header hdrs[WT_MAX_HEADERS];
	size_t nhdrs;
	char *body; /* decoded body, NUL-terminated */
	size_t body_len;
	char *hdr_store;
};

/* Connects to listener @i of @s. Returns 0 or -errno. */
int wt_client_open(struct wt_client *c, const struct wt_server *s, size_t i);
void wt_client_close(struct wt_client *c);

/* Sends all of @data (bounded by the timeout). Returns 0 or -errno. */
int wt_send(struct wt_client *c, const void *data, size_t len);
int wt_sends(struct wt_client *c, const char *text);

/*
 * Reads one response. @no_body: it answers HEAD, so it has no body whatever its headers
 * say. The body is framed by Content-Length, chunked, or EOF; 1xx/204/304 have none.
 * Returns 0, -ETIMEDOUT, -ECONNRESET, -EPROTO (malformed, or EOF too early).
 */
int wt_read_response(struct wt_client *c, struct wt_response *r, bool no_body);
void wt_response_free(struct wt_response *r);

/*
 * Waits for the server to close the connection: 0 on EOF or reset, -ETIMEDOUT if it stays
 * open, -EPROTO if bytes arrive instead (they stay in the buffer).
 */
int wt_wait_closed(struct wt_client *c, int timeout_ms);

/* One connection, one request (raw bytes), one response, close. HEAD is recognised. */
int wt_exchange(const struct wt_server *s, const char *request, size_t len, struct wt_response *r);
int wt_exchanges(const struct wt_server *s, const char *request, struct wt_response *r);

/* Sends "@method @target HTTP/1.1" with Host and the @extra header lines (each ending in
 * CRLF, or ""), and reads the response into @r (free it). Asserts both steps. */
void wt_ask(struct wt_client *c, const char *method, const char *target, const char *extra,
	    struct wt_response *r);
/* GET @target (with @extra) must be answered @status with exactly @body. */
void wt_expect(struct wt_client *c, const char *target, const char *extra, int status,
	       const char *body);

/* First value of header @name (case-insensitive), NULL if absent; and how many there are. */
const char *wt_header(const struct wt_response *r, const char *name);
size_t wt_header_count(const struct wt_response *r, const char *name);

/* Milliseconds on the monotonic clock. */
long long wt_now_ms(void);

/* ---- Assertions --------------------------------------------------------------------- */

/* Asserts that a harness call returning 0 or -errno succeeded, naming the call. */
#define WT_OK(expr)                                                                                \
	do {                                                                                       \
		int wt_ret_ = (expr);                                                              \
		ck_assert_msg(wt_ret_ == 0, "%s failed: %s", #expr, strerror(-wt_ret_));           \
	} while (0)

/* Asserts the exact status line of @r, e.g. "HTTP/1.1 200 OK". */
#define WT_ASSERT_STATUS_LINE(r, line)                                                             \
	ck_assert_msg(strncmp((r)->head, line "\r\n", sizeof(line "\r\n") - 1) == 0,               \
		      "status line: expected \"%s\", got \"%.*s\"", line,                          \
		      (int)strcspn((r)->head, "\r\n"), (r)->head)

/*
 * Whether @r's body is exactly the @len bytes at @data; if not, @why says where they part
 * (offset and an escaped excerpt of both sides).
 */
bool wt_body_equals(const struct wt_response *r, const void *data, size_t len, char *why,
		    size_t whylen);

/* Asserts that @r's body is exactly the @len bytes at @data. */
#define WT_ASSERT_BODY(r, data, len)                                                               \
	do {                                                                                       \
		char wt_why_[512];                                                                 \
		ck_assert_msg(wt_body_equals((r), (data), (len), wt_why_, sizeof(wt_why_)), "%s",  \
			      wt_why_);                                                            \
	} while (0)

#endif /* WARREN_TESTS_HARNESS_H */

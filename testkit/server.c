/* testkit/server.c - runs warren for a test: writes the config into a private directory,
 * starts the binary with --ready-fd, waits for its report, and stops it by pid however
 * the test ends. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <warren/test.h>

#include "common.h"
#include "server.h"

/* The warren that was installed with the kit; the build sets it from the prefix. */
#ifndef WARREN_TEST_DEFAULT_BIN
#define WARREN_TEST_DEFAULT_BIN "warren"
#endif

/* Enough of the log's end to say why warren did not start. */
#define LOG_TAIL 600

struct warren_test_server {
	pid_t pid;   /* the master; 0 once reaped */
	int pidfd;   /* -1 where the kernel has none */
	pid_t owner; /* the process that started it: only it may stop it */
	int timeout_ms;
	char dir[PATH_MAX];
	char conf[PATH_MAX + 16];
	char log[PATH_MAX + 16];
	char **addrs;
	size_t naddrs;
	struct warren_test_server *next; /* in the list of running servers */
};

/* Servers started and not yet stopped, for the exit handler. */
static struct warren_test_server *running;
static bool exit_handler_set;

int kit_server_timeout(const struct warren_test_server *srv)
{
	return srv->timeout_ms;
}

pid_t warren_test_pid(const struct warren_test_server *srv)
{
	return srv->pid;
}

size_t warren_test_nlisten(const struct warren_test_server *srv)
{
	return srv->naddrs;
}

const char *warren_test_address(const struct warren_test_server *srv, size_t i)
{
	return i < srv->naddrs ? srv->addrs[i] : NULL;
}

int warren_test_port(const struct warren_test_server *srv, size_t i)
{
	const char *a = warren_test_address(srv, i), *colon;

	if (!a || strncmp(a, "unix:", 5) == 0 || !(colon = strrchr(a, ':')))
		return 0;
	return atoi(colon + 1);
}

const char *warren_test_dir(const struct warren_test_server *srv)
{
	return srv->dir;
}

/* Reads a whole file into a NUL-terminated malloc'd buffer. */
static char *read_file(const char *path, size_t *lenp)
{
	char *buf = NULL, chunk[8192];
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		kit_fail(-errno, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (kit_append(&buf, &len, "", 0) < 0)
		goto out_close_fd;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			kit_fail(-errno, "%s: %s", path, strerror(errno));
			goto out_free_buf;
		}
		if (kit_append(&buf, &len, chunk, (size_t)n) < 0)
			goto out_free_buf;
	}
	close(fd);
	if (lenp)
		*lenp = len;
	return buf;

out_free_buf:
	free(buf);
	buf = NULL;
out_close_fd:
	close(fd);
	return buf;
}

char *warren_test_log(const struct warren_test_server *srv)
{
	return read_file(srv->log, NULL);
}

bool warren_test_log_contains(const struct warren_test_server *srv, const char *text)
{
	char *log = warren_test_log(srv);
	bool found = log && strstr(log, text);

	free(log);
	return found;
}

/* Prints the server's log to stderr, where a failed test's output is read. */
static void dump_log(const struct warren_test_server *srv, const char *why)
{
	size_t len = 0;
	char *log = read_file(srv->log, &len);

	fprintf(stderr, "warren_test: %s; warren's log (%s):\n", why, srv->log);
	if (log && len) {
		fwrite(log, 1, len, stderr);
		if (log[len - 1] != '\n')
			fputc('\n', stderr);
	} else {
		fprintf(stderr, "(%s)\n", log ? "empty" : "cannot be read");
	}
	fprintf(stderr, "warren_test: end of the log\n");
	fflush(stderr);
	free(log);
}

/* The last lines of the log, on one line, for an error message. */
static void log_tail(const struct warren_test_server *srv, char *out, size_t size)
{
	size_t len = 0, from;
	char *log = read_file(srv->log, &len);

	out[0] = '\0';
	if (!log)
		return;
	while (len > 0 && (log[len - 1] == '\n' || log[len - 1] == ' '))
		log[--len] = '\0';
	from = len > LOG_TAIL ? len - LOG_TAIL : 0;
	for (size_t i = from; i < len; i++)
		if (log[i] == '\n')
			log[i] = ' ';
	snprintf(out, size, "%s%s", from ? "..." : "", log + from);
	free(log);
}

static void remove_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(path);
}

static void describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "ended with wait status 0x%x", status);
}

/* Waits until the master has exited, without reaping it: while it is a zombie its pid,
 * which is also its process group's id, cannot be reused. */
static int wait_exit(const struct warren_test_server *srv, long long deadline)
{
	for (;;) {
		siginfo_t si = {0};

		if (waitid(P_PID, (id_t)srv->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
			return -errno;
		if (si.si_pid == srv->pid)
			return 0;
		if (kit_now_ms() >= deadline)
			return -ETIMEDOUT;
		if (srv->pidfd >= 0) {
			struct pollfd pfd = {.fd = srv->pidfd, .events = POLLIN};

			poll(&pfd, 1, kit_remaining(deadline));
		} else {
			struct timespec ts = {.tv_nsec = 1000000};

			nanosleep(&ts, NULL);
		}
	}
}

/*
 * Stops the master with @sig (none when 0) and waits for it, killing its whole group if it
 * takes longer than the timeout; then kills what of the group outlived it and reaps it.
 * *@status gets the wait status. Returns 0, -ETIMEDOUT (killed), or -EBUSY (leftovers).
 */
static int terminate(struct warren_test_server *srv, int sig, int *status)
{
	long long deadline = kit_now_ms() + srv->timeout_ms;
	int ret = 0;

	*status = 0;
	if (sig)
		kill(srv->pid, sig);
	if (wait_exit(srv, deadline) == -ETIMEDOUT) {
		kill(-srv->pid, SIGKILL);
		kill(srv->pid, SIGKILL);
		wait_exit(srv, kit_now_ms() + srv->timeout_ms);
		ret = -ETIMEDOUT;
	}
	while (waitpid(srv->pid, status, 0) < 0 && errno == EINTR)
		;
	/* Reaped, the master is no longer in its group: what is left there it left behind.
	 * A pid that is still some group's id is never given to a new process, so this
	 * reaches nothing else. */
	if (kill(-srv->pid, 0) == 0) {
		kill(-srv->pid, SIGKILL);
		if (ret == 0)
			ret = -EBUSY;
	}
	if (srv->pidfd >= 0)
		close(srv->pidfd);
	srv->pidfd = -1;
	srv->pid = 0;
	return ret;
}

static void unlink_running(struct warren_test_server *srv)
{
	for (struct warren_test_server **p = &running; *p; p = &(*p)->next) {
		if (*p == srv) {
			*p = srv->next;
			break;
		}
	}
}

static void free_server(struct warren_test_server *srv)
{
	unlink_running(srv);
	remove_dir(srv->dir);
	for (size_t i = 0; i < srv->naddrs; i++)
		free(srv->addrs[i]);
	free(srv->addrs);
	free(srv);
}

/* At exit() of a test that never stopped its servers (an assertion failed half-way):
 * they must not outlive it, and their logs likely say what went wrong. */
static void stop_leftovers(void)
{
	struct warren_test_server **p = &running;

	while (*p) {
		struct warren_test_server *srv = *p;
		int status;

		if (srv->owner != getpid()) {
			/* Started before a fork(): the parent's to stop. */
			p = &srv->next;
			continue;
		}
		dump_log(srv, "the test exited with warren still running: stopping it");
		if (srv->pid > 0)
			terminate(srv, SIGTERM, &status);
		free_server(srv);
	}
}

/* Reads the config, makes relative module paths absolute against @plugin_dir, and adds
 * the defaults a test wants: an ephemeral port, one worker. */
static int prepare_config(const char *config, const char *plugin_dir, json_t **out)
{
	json_error_t jerr;
	json_t *root, *modules, *m;
	const char *event = getenv("WARREN_TEST_EVENT");
	size_t i;
	int ret = 0;

	if (!config)
		return kit_fail(-EINVAL, "config: NULL (expected a JSON object)");
	root = json_loads(config, 0, &jerr);
	if (!root)
		return kit_fail(-EINVAL, "config: line %d, column %d: %s", jerr.line, jerr.column,
				jerr.text);
	if (!json_is_object(root)) {
		ret = kit_fail(-EINVAL, "config: expected a JSON object");
		goto out_put_root;
	}
	if (!json_object_get(root, "listen"))
		ret = json_object_set_new(root, "listen", json_pack("[s]", "127.0.0.1:0"));
	if (!ret && !json_object_get(root, "workers"))
		ret = json_object_set_new(root, "workers", json_integer(1));
	if (!ret && event && *event && !json_object_get(root, "event"))
		ret = json_object_set_new(root, "event", json_string(event));
	if (ret) {
		ret = kit_fail(-ENOMEM, "out of memory");
		goto out_put_root;
	}
	modules = json_object_get(root, "modules");
	json_array_foreach(modules, i, m) {
		json_t *path = json_object_get(m, "path");
		const char *p = json_string_value(path);
		char *abs;

		/* Anything else is for warren to refuse, with its own message. */
		if (!p || !*p || p[0] == '/')
			continue;
		if (asprintf(&abs, "%s/%s", plugin_dir, p) < 0) {
			ret = kit_fail(-ENOMEM, "out of memory");
			goto out_put_root;
		}
		ret = json_string_set(path, abs);
		free(abs);
		if (ret) {
			ret = kit_fail(-ENOMEM, "out of memory");
			goto out_put_root;
		}
	}
	*out = root;
	return 0;

out_put_root:
	json_decref(root);
	return ret;
}

/* The absolute directory relative module paths are taken from. */
static int find_plugin_dir(const struct warren_test_options *opts, char *out, size_t size)
{
	const char *dir = opts && opts->plugin_dir ? opts->plugin_dir : getenv("WARREN_PLUGIN_DIR");
	char cwd[PATH_MAX];

	if (!getcwd(cwd, sizeof(cwd)))
		return kit_fail(-errno, "getcwd: %s", strerror(errno));
	if (!dir || !*dir)
		dir = ".";
	if (dir[0] == '/')
		snprintf(out, size, "%s", dir);
	else if ((size_t)snprintf(out, size, "%s/%s", cwd, dir) >= size)
		return kit_fail(-ENAMETOOLONG, "plugin directory %s/%s: name too long", cwd, dir);
	return 0;
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void __attribute__((noreturn))
run_child(const struct warren_test_server *srv, const char *bin, int ready_fd, pid_t parent)
{
	char fdarg[16], *p = fdarg + sizeof(fdarg);
	sigset_t none;
	int null, log, rfd;

	/* A group of its own, so that its workers can be stopped as one; and the test's
	 * death, however it comes, stops it. */
	setpgid(0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
		_exit(127);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	null = open("/dev/null", O_RDONLY);
	log = open(srv->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (null < 0 || log < 0)
		_exit(127);
	dup2(null, STDIN_FILENO);
	dup2(log, STDOUT_FILENO);
	dup2(log, STDERR_FILENO);
	rfd = dup(ready_fd); /* without O_CLOEXEC: this one is for warren */
	if (rfd < 0)
		_exit(127);
	*--p = '\0';
	do
		*--p = (char)('0' + rfd % 10);
	while ((rfd /= 10) > 0);
	if (strchr(bin, '/'))
		execl(bin, "warren", "-c", srv->conf, "--ready-fd", p, (char *)NULL);
	else
		execlp(bin, "warren", "-c", srv->conf, "--ready-fd", p, (char *)NULL);
	dprintf(STDERR_FILENO, "warren_test: cannot run %s: %s\n", bin, strerror(errno));
	_exit(127);
}

static int add_addr(struct warren_test_server *srv, const char *addr)
{
	char **na = realloc(srv->addrs, (srv->naddrs + 1) * sizeof(*na));

	if (!na)
		return kit_fail(-ENOMEM, "out of memory");
	srv->addrs = na;
	na[srv->naddrs] = strdup(addr);
	if (!na[srv->naddrs])
		return kit_fail(-ENOMEM, "out of memory");
	srv->naddrs++;
	return 0;
}

/* Parses the ready-fd report: "listen ADDR" lines, then "ready PID". */
static int parse_ready(struct warren_test_server *srv, char *text)
{
	bool ready = false;
	char *save = NULL;
	int ret;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "listen ", 7) == 0 && !ready) {
			ret = add_addr(srv, line + 7);
			if (ret < 0)
				return ret;
		} else if (strncmp(line, "ready ", 6) == 0 && !ready &&
			   atoi(line + 6) == (int)srv->pid) {
			ready = true;
		} else {
			return kit_fail(-EPROTO, "warren's --ready-fd report has \"%.80s\"", line);
		}
	}
	if (!ready)
		return -ECHILD;
	if (srv->naddrs == 0)
		return kit_fail(-EPROTO, "warren reported ready without a listener");
	return 0;
}

/* Reads the ready-fd pipe to its end or the deadline. */
static int wait_ready(struct warren_test_server *srv, int fd)
{
	long long deadline = kit_now_ms() + srv->timeout_ms;
	char *text = NULL, chunk[512];
	size_t len = 0;
	int ret;

	ret = kit_append(&text, &len, "", 0);
	while (ret == 0) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int ready = poll(&pfd, 1, kit_remaining(deadline));
		ssize_t n;

		/* A signal of the test's own: wait on, never read a pipe that may block. */
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready == 0) {
			ret = -ETIMEDOUT;
			break;
		}
		if (ready < 0) {
			ret = -errno;
			break;
		}
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			ret = parse_ready(srv, text);
			break;
		}
		ret = kit_append(&text, &len, chunk, (size_t)n);
	}
	free(text);
	return ret;
}

int warren_test_start(struct warren_test_server **srvp, const char *config,
		      const struct warren_test_options *opts)
{
	const char *bin = opts && opts->bin ? opts->bin : getenv("WARREN_BIN");
	const char *tmp = getenv("TMPDIR");
	char plugin_dir[PATH_MAX], how[96], tail[LOG_TAIL + 8];
	struct warren_test_server *srv;
	json_t *root = NULL;
	int p[2], ret, status;

	*srvp = NULL;
	if (!bin || !*bin)
		bin = WARREN_TEST_DEFAULT_BIN;
	ret = find_plugin_dir(opts, plugin_dir, sizeof(plugin_dir));
	if (ret < 0)
		return ret;
	ret = prepare_config(config, plugin_dir, &root);
	if (ret < 0)
		return ret;
	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		ret = kit_fail(-ENOMEM, "out of memory");
		goto out_put_root;
	}
	srv->pidfd = -1;
	srv->owner = getpid();
	srv->timeout_ms = kit_timeout(opts ? opts->timeout_ms : 0);
	snprintf(srv->dir, sizeof(srv->dir), "%s/warren-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(srv->dir)) {
		ret = kit_fail(-errno, "mkdtemp %s: %s", srv->dir, strerror(errno));
		goto out_free_srv;
	}
	snprintf(srv->conf, sizeof(srv->conf), "%s/warren.json", srv->dir);
	snprintf(srv->log, sizeof(srv->log), "%s/warren.log", srv->dir);
	if (json_dump_file(root, srv->conf, JSON_INDENT(2)) < 0) {
		ret = kit_fail(-EIO, "cannot write %s", srv->conf);
		goto out_free_srv;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		ret = kit_fail(-errno, "pipe: %s", strerror(errno));
		goto out_free_srv;
	}
	if (!exit_handler_set && atexit(stop_leftovers) == 0)
		exit_handler_set = true;
	srv->pid = fork();
	if (srv->pid < 0) {
		ret = kit_fail(-errno, "fork: %s", strerror(errno));
		srv->pid = 0;
		close(p[0]);
		close(p[1]);
		goto out_free_srv;
	}
	if (srv->pid == 0)
		run_child(srv, bin, p[1], srv->owner);
	setpgid(srv->pid, srv->pid); /* here too: whichever runs first, it holds */
	close(p[1]);
	srv->pidfd = (int)syscall(SYS_pidfd_open, srv->pid, 0U);
	srv->next = running;
	running = srv;

	ret = wait_ready(srv, p[0]);
	close(p[0]);
	if (ret == 0) {
		json_decref(root);
		*srvp = srv;
		return 0;
	}
	if (ret == -ECHILD) {
		terminate(srv, 0, &status);
		describe_status(status, how, sizeof(how));
		log_tail(srv, tail, sizeof(tail));
		ret = kit_fail(-ECHILD, "warren (%s) %s before it was ready: %s", bin, how, tail);
	} else if (ret == -ETIMEDOUT) {
		terminate(srv, SIGKILL, &status);
		ret = kit_fail(-ETIMEDOUT, "warren (%s) was not ready within %d ms: killed", bin,
			       srv->timeout_ms);
	} else {
		terminate(srv, SIGKILL, &status);
	}
	dump_log(srv, "warren did not start");
out_free_srv:
	free_server(srv);
out_put_root:
	json_decref(root);
	return ret;
}

/* Words in a log that mean a sanitizer caught a bug, in a worker it may not have ended. */
static const char *const sanitizer_reports[] = {
	"ERROR: AddressSanitizer",
	"ERROR: LeakSanitizer",
	"runtime error:",
};

int warren_test_stop(struct warren_test_server *srv)
{
	char how[96], why[256] = "";
	int ret, status;

	if (!srv)
		return 0;
	if (srv->owner != getpid())
		return kit_fail(-EPERM, "warren (pid %d) was started by process %d, not this one",
				(int)srv->pid, (int)srv->owner);
	ret = terminate(srv, SIGTERM, &status);
	describe_status(status, how, sizeof(how));
	if (ret == -ETIMEDOUT)
		snprintf(why, sizeof(why), "warren did not exit within %d ms of SIGTERM: killed",
			 srv->timeout_ms);
	else if (ret == -EBUSY)
		snprintf(why, sizeof(why), "processes of warren outlived its master: killed");
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		snprintf(why, sizeof(why), "warren %s after SIGTERM", how);
	for (size_t i = 0; !*why && i < sizeof(sanitizer_reports) / sizeof(*sanitizer_reports); i++)
		if (warren_test_log_contains(srv, sanitizer_reports[i]))
			snprintf(why, sizeof(why), "warren's log has \"%s\"", sanitizer_reports[i]);
	if (*why) {
		dump_log(srv, why);
		ret = kit_fail(ret == -ETIMEDOUT ? -ETIMEDOUT : -EIO, "%s (see its log above)",
			       why);
	}
	free_server(srv);
	return ret;
}

/* tests/integration/harness.c - starts and stops the real warren binary for the integration
 * suites, watches its processes through /proc, and talks raw HTTP/1.1 to it (responses are
 * parsed by the test kit, testkit/response.c). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <warren/test.h>

#include "harness.h"

/* Between two looks at a state that has no event to wait on (a respawned worker, a log
 * line). Only ever the pause of a polling loop with a deadline. */
#define POLL_STEP_MS 5

/* ---- Small helpers ------------------------------------------------------------------ */

long long wt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining(long long deadline)
{
	long long left = deadline - wt_now_ms();

	return left < 0 ? 0 : (int)left;
}

static void pause_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v && *v ? v : fallback;
}

const char *wt_bin(void)
{
	return env_or("WARREN_BIN", "build/warren");
}

const char *wt_plugin_dir(void)
{
	static char abs[4096];
	const char *dir = env_or("WARREN_PLUGIN_DIR", "build/plugins");

	/* Configs live in a temporary directory, against which warren resolves relative
	 * paths: hand them an absolute one. */
	if (dir[0] == '/' || !realpath(dir, abs))
		return dir;
	return abs;
}

const char *wt_srcdir(void)
{
	return env_or("WARREN_SRCDIR", ".");
}

const char *wt_event(void)
{
	return env_or("WARREN_TEST_EVENT", "auto");
}

int wt_scaled_ms(int ms)
{
	/* Check's own multiplier says how much slower than usual this run is allowed to be. */
	double k = atof(env_or("CK_TIMEOUT_MULTIPLIER", "1"));

	return k > 1 ? (int)(ms * k) : ms;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads a whole file into a NUL-terminated malloc'd buffer; NULL if it cannot. */
static char *read_file(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	for (;;) {
		ssize_t k;

		if (cap - n < 4096) {
			char *nb = realloc(buf, cap ? cap * 2 : 8192);

			if (!nb)
				goto out_free_buf;
			buf = nb;
			cap = cap ? cap * 2 : 8192;
		}
		k = read(fd, buf + n, cap - n - 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			goto out_free_buf;
		if (k == 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;

out_free_buf:
	free(buf);
	close(fd);
	return NULL;
}

char *wt_read_file(const char *path, size_t *len)
{
	return read_file(path, len);
}

static void dump_file(const char *what, const char *path)
{
	size_t len;
	char *text = read_file(path, &len);

	fprintf(stderr, "---- %s (%s) ----\n", what, path);
	if (text) {
		fwrite(text, 1, len, stderr);
		if (len && text[len - 1] != '\n')
			fputc('\n', stderr);
	} else if (errno == ENOENT) {
		fprintf(stderr, "(none: the server was not started)\n");
	} else {
		fprintf(stderr, "(cannot read: %s)\n", strerror(errno));
	}
	fprintf(stderr, "---- end of %s ----\n", what);
	fflush(stderr);
	free(text);
}

void wt_dump(const struct wt_server *s)
{
	dump_file("warren config", s->conf);
	dump_file("warren log", s->log);
}

static void remove_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	rmdir(path);
}

/* ---- /proc -------------------------------------------------------------------------- */

struct proc_stat {
	char state;
	pid_t ppid;
	pid_t pgrp;
};

static bool read_stat(pid_t pid, struct proc_stat *st)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses; the fields follow the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return false;
	return sscanf(p + 1, " %c %d %d", &st->state, &st->ppid, &st->pgrp) == 3;
}

/* Calls @fn for every process; stops early when it returns false. */
static void for_each_process(bool (*fn)(pid_t pid, const struct proc_stat *st, void *arg),
			     void *arg)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		struct proc_stat st;
		char *end;
		long v = strtol(e->d_name, &end, 10);

		if (*end || v <= 0 || !read_stat((pid_t)v, &st))
			continue;
		if (!fn((pid_t)v, &st, arg))
			break;
	}
	closedir(d);
}

bool wt_pid_exists(pid_t pid)
{
	struct proc_stat st;

	return read_stat(pid, &st);
}

struct pid_list {
	pid_t match; /* the parent or group looked for */
	pid_t *pids;
	size_t n, max;
	size_t zombies;
};

static void list_add(struct pid_list *l, pid_t pid)
{
	size_t i;

	if (l->n < l->max) {
		/* Keep it sorted, so two listings compare element by element. */
		for (i = l->n; i > 0 && l->pids[i - 1] > pid; i--)
			l->pids[i] = l->pids[i - 1];
		l->pids[i] = pid;
	}
	l->n++;
}

static bool collect_child(pid_t pid, const struct proc_stat *st, void *arg)
{
	struct pid_list *l = arg;

	if (st->ppid != l->match)
		return true;
	if (st->state == 'Z' || st->state == 'X')
		l->zombies++;
	else
		list_add(l, pid);
	return true;
}

static bool collect_group(pid_t pid, const struct proc_stat *st, void *arg)
{
	struct pid_list *l = arg;

	if (st->pgrp == l->match && pid != l->match)
		list_add(l, pid);
	return true;
}

size_t wt_workers(const struct wt_server *s, pid_t *pids, size_t max)
{
	struct pid_list l = {.match = s->pid, .pids = pids, .max = max};

	for_each_process(collect_child, &l);
	return l.n;
}

size_t wt_zombies(pid_t parent)
{
	struct pid_list l = {.match = parent};

	for_each_process(collect_child, &l);
	return l.zombies;
}

int wt_wait_workers(const struct wt_server *s, size_t n, pid_t gone, pid_t *pids, int timeout_ms)
{
	long long deadline = wt_now_ms() + timeout_ms;

	for (;;) {
		struct pid_list l = {.match = s->pid, .pids = pids, .max = n};
		bool ok;

		for_each_process(collect_child, &l);
		ok = l.n == n && l.zombies == 0;
		for (size_t i = 0; ok && gone > 0 && i < n; i++)
			ok = pids[i] != gone;
		if (ok)
			return 0;
		if (wt_now_ms() >= deadline)
			return -ETIMEDOUT;
		pause_ms(POLL_STEP_MS);
	}
}

/* Kills what is left of process group @pgrp and reaps it: the test is a child subreaper,
 * so whatever the master left behind was reparented here. Returns how many there were. */
static size_t kill_group_members(pid_t pgrp, long long deadline)
{
	pid_t pids[64];
	struct pid_list l = {.match = pgrp, .pids = pids, .max = 64};
	size_t found;

	for_each_process(collect_group, &l);
	found = l.n;
	for (size_t i = 0; i < l.n && i < l.max; i++) {
		struct proc_stat st = {0};

		read_stat(pids[i], &st);
		fprintf(stderr, "harness: pid %d (state %c, ppid %d) outlived master %d\n",
			(int)pids[i], st.state, (int)st.ppid, (int)pgrp);
	}
	while (l.n > 0 && wt_now_ms() < deadline) {
		kill(-pgrp, SIGKILL);
		for (size_t i = 0; i < l.n && i < l.max; i++)
			waitpid(pids[i], NULL, WNOHANG);
		pause_ms(1);
		l.n = 0;
		for_each_process(collect_group, &l);
	}
	return found;
}

/* ---- The guard ---------------------------------------------------------------------- */

static void guard_say(const struct wt_server *s, const char *msg)
{
	if (s->guard > 0)
		write_all(s->guard_fd, msg, strlen(msg));
}

struct group_probe {
	pid_t pgrp;
	bool alive;
};

static bool probe_group(pid_t pid, const struct proc_stat *st, void *arg)
{
	struct group_probe *g = arg;

	(void)pid;
	if (st->pgrp == g->pgrp && st->state != 'Z' && st->state != 'X') {
		g->alive = true;
		return false;
	}
	return true;
}

/*
 * Runs in its own process for the lifetime of one wt_server. The test writes "P<pid>\n"
 * when the master started, "R" once it reaped it and "D" when it is done; end of file
 * without "D" means the test died, and then the server must not outlive it and its log
 * is what explains the failure.
 */
static void __attribute__((noreturn)) guard_main(const struct wt_server *s, int rfd)
{
	pid_t server = 0;
	bool done = false, in_pid = false;
	char buf[256];
	ssize_t n;

	for (;;) {
		n = read(rfd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			char ch = buf[i];

			if (in_pid && ch >= '0' && ch <= '9') {
				server = server * 10 + (ch - '0');
				continue;
			}
			in_pid = false;
			if (ch == 'P') {
				in_pid = true;
				server = 0;
				done = false;
			} else if (ch == 'R') {
				server = 0;
			} else if (ch == 'D') {
				done = true;
			}
		}
	}
	if (done)
		_exit(0);
	if (server > 0) {
		long long deadline = wt_now_ms() + 7000;
		struct group_probe g = {.pgrp = server, .alive = true};

		kill(-server, SIGTERM);
		while (g.alive && wt_now_ms() < deadline) {
			g.alive = false;
			for_each_process(probe_group, &g);
			if (g.alive)
				pause_ms(10);
		}
		kill(-server, SIGKILL);
	}
	fprintf(stderr, "harness: the test ended early; what warren was given and said:\n");
	wt_dump(s);
	remove_dir(s->dir);
	_exit(0);
}

static void close_all_but(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;

	/* close_range() needs lo <= hi: empty ranges are skipped. */
	if (lo > 3)
		syscall(SYS_close_range, 3U, (unsigned)lo - 1, 0U);
	if (hi > lo + 1)
		syscall(SYS_close_range, (unsigned)lo + 1, (unsigned)hi - 1, 0U);
	syscall(SYS_close_range, (unsigned)hi + 1, ~0U, 0U);
}

static void start_guard(struct wt_server *s)
{
	int p[2];
	pid_t pid;

	ck_assert_msg(pipe2(p, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		/* Check kills the test's process group when the test ends: step out of it. */
		setpgid(0, 0);
		signal(SIGPIPE, SIG_IGN);
		close_all_but(p[0], STDERR_FILENO);
		guard_main(s, p[0]);
	}
	close(p[0]);
	s->guard = pid;
	s->guard_fd = p[1];
}

/* ---- Configuration ------------------------------------------------------------------ */

void wt_init(struct wt_server *s)
{
	const char *tmp = env_or("TMPDIR", "/tmp");

	memset(s, 0, sizeof(*s));
	s->pidfd = -1;
	s->guard_fd = -1;
	snprintf(s->dir, sizeof(s->dir), "%s/warren-test.XXXXXX", tmp);
	ck_assert_msg(mkdtemp(s->dir) != NULL, "mkdtemp %s: %s", s->dir, strerror(errno));
	snprintf(s->conf, sizeof(s->conf), "%s/warren.json", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/warren.log", s->dir);
	/* Workers orphaned by a dying master are reparented here, where they can be seen
	 * and reaped, instead of to an init that may never reap them. */
	ck_assert_msg(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0, "PR_SET_CHILD_SUBREAPER: %s",
		      strerror(errno));
	start_guard(s);
}

/* Turns the ' of a template into ", so JSON can be written without backslashes. */
static char *unquote_template(const char *fmt)
{
	char *t = strdup(fmt);

	ck_assert_msg(t != NULL, "out of memory");
	for (char *p = t; *p; p++)
		if (*p == '\'')
			*p = '"';
	return t;
}

static char *vformat(const char *fmt, va_list ap)
{
	char *t = unquote_template(fmt), *out;
	int n;

	/* The format is built at run time from a checked literal. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	n = vasprintf(&out, t, ap);
#pragma GCC diagnostic pop
	free(t);
	ck_assert_msg(n >= 0, "out of memory");
	return out;
}

/* Returns @text with every @from replaced by @to; frees @text. */
static char *replace_all(char *text, const char *from, const char *to)
{
	size_t flen = strlen(from), tlen = strlen(to), count = 0;
	const char *p, *q;
	char *out, *o;

	for (p = text; (p = strstr(p, from)); p += flen)
		count++;
	if (count == 0)
		return text;
	out = malloc(strlen(text) + count * tlen + 1);
	ck_assert_msg(out != NULL, "out of memory");
	o = out;
	for (q = text; (p = strstr(q, from)); q = p + flen) {
		memcpy(o, q, (size_t)(p - q));
		o += p - q;
		memcpy(o, to, tlen);
		o += tlen;
	}
	strcpy(o, q);
	free(text);
	return out;
}

static void write_text(struct wt_server *s, char *text)
{
	int fd, ret;

	text = replace_all(text, "@PLUGIN_DIR@", wt_plugin_dir());
	text = replace_all(text, "@DIR@", s->dir);
	fd = open(s->conf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_msg(fd >= 0, "%s: %s", s->conf, strerror(errno));
	ret = write_all(fd, text, strlen(text));
	close(fd);
	free(text);
	ck_assert_msg(ret == 0, "%s: %s", s->conf, strerror(-ret));
}

void wt_write_config(struct wt_server *s, const char *fmt, ...)
{
	va_list ap;
	char *text;

	va_start(ap, fmt);
	text = vformat(fmt, ap);
	va_end(ap);
	write_text(s, text);
}

void wt_write_config_text(struct wt_server *s, const char *text)
{
	write_text(s, unquote_template(text));
}

static void vconfig(struct wt_server *s, const char *members_fmt, va_list ap)
{
	char *members = vformat(members_fmt, ap), *text;

	ck_assert_msg(asprintf(&text, "{\"listen\": [\"127.0.0.1:0\"], \"event\": \"%s\"%s%s}\n",
			       wt_event(), *members ? ", " : "", members) >= 0,
		      "out of memory");
	free(members);
	write_text(s, text);
}

void wt_config(struct wt_server *s, const char *members_fmt, ...)
{
	va_list ap;

	va_start(ap, members_fmt);
	vconfig(s, members_fmt, ap);
	va_end(ap);
}

/* ---- Starting and stopping ---------------------------------------------------------- */

static void describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "ended with wait status 0x%x", status);
}

static const char *start_error(int ret)
{
	switch (ret) {
	case -ETIMEDOUT:
		return "no \"ready\" line in time";
	case -ECHILD:
		return "it exited before it was ready";
	default:
		return "it broke the ready-fd protocol";
	}
}

static int pidfd_of(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0U);
}

/* In the child between fork and exec: a clean signal state, its own process group (so
 * everything it forks can be found and killed as one), and death with the test. */
static void child_setup(pid_t parent, int pdeathsig)
{
	sigset_t none;

	setpgid(0, 0);
	if (prctl(PR_SET_PDEATHSIG, pdeathsig) < 0 || getppid() != parent)
		_exit(127);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
}

static bool parse_listen(struct wt_server *s, const char *addr)
{
	const char *colon = strrchr(addr, ':');
	char host[64];
	size_t hlen;
	long port;
	char *end;
	size_t i = s->nlisten;

	if (!colon || i == WT_MAX_LISTEN)
		return false;
	if (strncmp(addr, "unix:", 5) == 0) {
		struct sockaddr_un *a = (struct sockaddr_un *)&s->addr[i];
		size_t plen = strlen(addr + 5);

		if (plen == 0 || plen >= sizeof(a->sun_path))
			return false;
		memset(&s->addr[i], 0, sizeof(s->addr[i]));
		a->sun_family = AF_UNIX;
		memcpy(a->sun_path, addr + 5, plen + 1);
		s->addrlen[i] = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + 1);
		s->port[i] = 0;
		s->nlisten++;
		return true;
	}
	port = strtol(colon + 1, &end, 10);
	if (*end || port <= 0 || port > 65535)
		return false;
	hlen = (size_t)(colon - addr);
	if (hlen >= sizeof(host))
		return false;
	memcpy(host, addr, hlen);
	host[hlen] = '\0';
	memset(&s->addr[i], 0, sizeof(s->addr[i]));
	if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&s->addr[i];

		host[hlen - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
			return false;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((unsigned short)port);
		s->addrlen[i] = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&s->addr[i];

		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return false;
		a->sin_family = AF_INET;
		a->sin_port = htons((unsigned short)port);
		s->addrlen[i] = sizeof(*a);
	}
	s->port[i] = (unsigned short)port;
	s->nlisten++;
	return true;
}

/* Parses the ready-fd protocol: "listen ADDR" lines, then "ready PID". */
static int parse_ready(struct wt_server *s, char *text)
{
	bool ready = false;

	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (strncmp(line, "listen ", 7) == 0) {
			if (ready || !parse_listen(s, line + 7)) {
				fprintf(stderr, "harness: bad ready-fd line \"%s\"\n", line);
				return -EPROTO;
			}
		} else if (strncmp(line, "ready ", 6) == 0) {
			if (ready || atoi(line + 6) != (int)s->pid) {
				fprintf(stderr, "harness: bad ready-fd line \"%s\" (master %d)\n",
					line, (int)s->pid);
				return -EPROTO;
			}
			ready = true;
		} else {
			fprintf(stderr, "harness: unexpected ready-fd line \"%s\"\n", line);
			return -EPROTO;
		}
	}
	if (!ready)
		return -ECHILD;
	return s->nlisten > 0 ? 0 : -EPROTO;
}

/* Waits until the master has exited, without reaping it: while it is a zombie its pid,
 * which is also its process group id, cannot be reused. */
static int wait_exit_nowait(pid_t pid, int pidfd, long long deadline)
{
	for (;;) {
		siginfo_t si = {0};

		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
			return -errno;
		if (si.si_pid == pid)
			return 0;
		if (wt_now_ms() >= deadline)
			return -ETIMEDOUT;
		if (pidfd >= 0) {
			struct pollfd pfd = {.fd = pidfd, .events = POLLIN};

			poll(&pfd, 1, remaining(deadline));
		} else {
			pause_ms(1);
		}
	}
}

int wt_start_hook(struct wt_server *s, void (*hook)(void *arg), void *arg)
{
	char fdarg[16], how[64], *text = NULL;
	size_t len = 0, cap = 0;
	long long deadline;
	pid_t parent = getpid();
	int p[2], ret, status;

	ck_assert_msg(s->pid == 0, "wt_start: already running");
	s->nlisten = 0;
	ck_assert_msg(pipe2(p, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
	s->pid = fork();
	ck_assert_msg(s->pid >= 0, "fork: %s", strerror(errno));
	if (s->pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		int log = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		int rfd = dup(p[1]); /* without O_CLOEXEC: this one is for warren */

		child_setup(parent, SIGTERM);
		if (null < 0 || log < 0 || rfd < 0)
			_exit(127);
		dup2(null, STDIN_FILENO);
		dup2(log, STDOUT_FILENO);
		dup2(log, STDERR_FILENO);
		snprintf(fdarg, sizeof(fdarg), "%d", rfd);
		if (hook)
			hook(arg);
		execl(wt_bin(), "warren", "-c", s->conf, "--ready-fd", fdarg, (char *)NULL);
		dprintf(STDERR_FILENO, "harness: cannot run %s: %s\n", wt_bin(), strerror(errno));
		_exit(127);
	}
	setpgid(s->pid, s->pid); /* also here, so that it holds whichever runs first */
	close(p[1]);
	s->pidfd = pidfd_of(s->pid);
	snprintf(fdarg, sizeof(fdarg), "P%d\n", (int)s->pid);
	guard_say(s, fdarg); /* from now on the guard can stop it */

	deadline = wt_now_ms() + WT_TIMEOUT_MS;
	ret = -ETIMEDOUT;
	for (;;) {
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		ssize_t n;

		if (cap - len < 256) {
			char *nb = realloc(text, cap + 4096);

			ck_assert_msg(nb != NULL, "out of memory");
			text = nb;
			cap += 4096;
		}
		if (poll(&pfd, 1, remaining(deadline)) == 0)
			break;
		n = read(p[0], text + len, cap - len - 1);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			text[len] = '\0';
			ret = parse_ready(s, text);
			break;
		}
		len += (size_t)n;
	}
	close(p[0]);
	free(text);
	if (ret == 0)
		return 0;

	/* The guard prints the log if the test gives up on this. */
	wt_stop(s, ret == -ECHILD ? 0 : SIGKILL, 2000, &status);
	describe_status(status, how, sizeof(how));
	fprintf(stderr, "harness: warren did not become ready: %s; it %s\n", start_error(ret), how);
	return ret;
}

int wt_start(struct wt_server *s)
{
	return wt_start_hook(s, NULL, NULL);
}

void wt_serve(struct wt_server *s, const char *members_fmt, ...)
{
	va_list ap;
	int ret;

	wt_init(s);
	va_start(ap, members_fmt);
	vconfig(s, members_fmt, ap);
	va_end(ap);
	ret = wt_start(s);
	ck_assert_msg(ret == 0, "warren did not start: %s", start_error(ret));
}

int wt_stop(struct wt_server *s, int sig, int timeout_ms, int *status)
{
	long long deadline = wt_now_ms() + timeout_ms;
	int ret = 0;

	*status = 0;
	if (s->pid <= 0)
		return -ESRCH;
	if (sig)
		kill(s->pid, sig);
	if (wait_exit_nowait(s->pid, s->pidfd, deadline) < 0) {
		fprintf(stderr, "harness: warren (pid %d) did not exit within %d ms; killing it\n",
			(int)s->pid, timeout_ms);
		kill(-s->pid, SIGKILL);
		kill(s->pid, SIGKILL);
		wait_exit_nowait(s->pid, s->pidfd, wt_now_ms() + WT_TIMEOUT_MS);
		ret = -ETIMEDOUT;
	}
	/* Everything it started is in its process group; nothing may remain, not even a
	 * zombie. */
	if (kill_group_members(s->pid, wt_now_ms() + WT_TIMEOUT_MS) > 0 && ret == 0)
		ret = -EBUSY;
	while (waitpid(s->pid, status, 0) < 0 && errno == EINTR)
		;
	if (s->pidfd >= 0)
		close(s->pidfd);
	s->pidfd = -1;
	s->pid = 0;
	guard_say(s, "R");
	return ret;
}

void wt_stop_ok(struct wt_server *s)
{
	wt_stop_keep_log(s);
	wt_cleanup(s);
}

void wt_stop_keep_log(struct wt_server *s)
{
	char how[64];
	int status, ret;

	ret = wt_stop(s, SIGTERM, WT_TIMEOUT_MS, &status);
	describe_status(status, how, sizeof(how));
	ck_assert_msg(ret != -ETIMEDOUT, "warren did not stop on SIGTERM");
	ck_assert_msg(ret != -EBUSY, "processes of warren outlived its master");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "warren %s after SIGTERM, expected exit status 0", how);
	/* A worker's sanitizer report ends only that worker; its words are in the log. */
	ck_assert_msg(!wt_log_contains(s, "ERROR: AddressSanitizer") &&
			      !wt_log_contains(s, "ERROR: LeakSanitizer") &&
			      !wt_log_contains(s, "runtime error:"),
		      "a sanitizer reported an error (see the log)");
}

size_t wt_log_count(const struct wt_server *s, const char *needle)
{
	char *text = wt_read_file(s->log, NULL);
	size_t n = 0;

	for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(text);
	return n;
}

void wt_ask(struct wt_client *c, const char *method, const char *target, const char *extra,
	    struct wt_response *r)
{
	char req[2048];

	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: test\r\n%s\r\n", method, target, extra);
	WT_OK(wt_sends(c, req));
	WT_OK(wt_read_response(c, r, strcmp(method, "HEAD") == 0));
}

void wt_expect(struct wt_client *c, const char *target, const char *extra, int status,
	       const char *body)
{
	struct wt_response r;

	wt_ask(c, "GET", target, extra, &r);
	ck_assert_msg(r.status == status && strcmp(r.body, body) == 0,
		      "GET %s [%s]: expected %d \"%s\", got %d \"%s\"", target, extra, status, body,
		      r.status, r.body);
	wt_response_free(&r);
}

void wt_cleanup(struct wt_server *s)
{
	if (s->pid > 0) {
		int status;

		wt_stop(s, SIGTERM, WT_TIMEOUT_MS, &status);
	}
	if (s->guard > 0) {
		guard_say(s, "D");
		close(s->guard_fd);
		while (waitpid(s->guard, NULL, 0) < 0 && errno == EINTR)
			;
		s->guard = 0;
		s->guard_fd = -1;
	}
	remove_dir(s->dir);
}

bool wt_log_contains(const struct wt_server *s, const char *needle)
{
	char *text = read_file(s->log, NULL);
	bool found = text && strstr(text, needle);

	free(text);
	return found;
}

int wt_wait_log(const struct wt_server *s, const char *needle, int timeout_ms)
{
	long long deadline = wt_now_ms() + timeout_ms;

	while (!wt_log_contains(s, needle)) {
		if (wt_now_ms() >= deadline)
			return -ETIMEDOUT;
		pause_ms(POLL_STEP_MS);
	}
	return 0;
}

/* ---- One-shot runs ------------------------------------------------------------------ */

static int append(char **buf, size_t *len, const char *data, size_t n)
{
	char *nb = realloc(*buf, *len + n + 1);

	if (!nb)
		return -ENOMEM;
	memcpy(nb + *len, data, n);
	*len += n;
	nb[*len] = '\0';
	*buf = nb;
	return 0;
}

int wt_run_warren(struct wt_run *r, int timeout_ms, ...)
{
	const char *argv[32];
	long long deadline = wt_now_ms() + timeout_ms;
	int out[2], err[2], status = 0, pidfd;
	pid_t parent = getpid(), pid;
	size_t argc = 0;
	struct pollfd pfd[2];
	va_list ap;
	bool killed = false;

	memset(r, 0, sizeof(*r));
	ck_assert(append(&r->out, &r->out_len, "", 0) == 0);
	ck_assert(append(&r->err, &r->err_len, "", 0) == 0);
	argv[argc++] = "warren";
	va_start(ap, timeout_ms);
	for (const char *a; (a = va_arg(ap, const char *)) && argc < 31;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;

	ck_assert_msg(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0, "PR_SET_CHILD_SUBREAPER: %s",
		      strerror(errno));
	ck_assert_msg(pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0, "pipe: %s",
		      strerror(errno));
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		child_setup(parent, SIGKILL);
		if (null < 0)
			_exit(127);
		dup2(null, STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		execv(wt_bin(), (char *const *)argv);
		dprintf(STDERR_FILENO, "harness: cannot run %s: %s\n", wt_bin(), strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	pidfd = pidfd_of(pid);
	close(out[1]);
	close(err[1]);
	pfd[0] = (struct pollfd){.fd = out[0], .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = err[0], .events = POLLIN};
	while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
		int n = poll(pfd, 2, remaining(deadline));

		if (n == 0) {
			killed = true;
			break;
		}
		for (int i = 0; i < 2; i++) {
			char buf[4096];
			ssize_t k;

			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			k = read(pfd[i].fd, buf, sizeof(buf));
			if (k > 0) {
				ck_assert(append(i ? &r->err : &r->out,
						 i ? &r->err_len : &r->out_len, buf,
						 (size_t)k) == 0);
			} else if (k == 0 || errno != EINTR) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
			}
		}
	}
	for (int i = 0; i < 2; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	if (killed || wait_exit_nowait(pid, pidfd, deadline) < 0) {
		killed = true;
		kill(-pid, SIGKILL);
		wait_exit_nowait(pid, pidfd, wt_now_ms() + WT_TIMEOUT_MS);
	}
	kill_group_members(pid, wt_now_ms() + WT_TIMEOUT_MS);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (pidfd >= 0)
		close(pidfd);
	if (killed)
		r->status = -1;
	else if (WIFEXITED(status))
		r->status = WEXITSTATUS(status);
	else
		r->status = 128 + WTERMSIG(status);
	return killed ? -ETIMEDOUT : 0;
}

void wt_run_free(struct wt_run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

/* ---- HTTP client -------------------------------------------------------------------- */

int wt_client_open(struct wt_client *c, const struct wt_server *s, size_t i)
{
	long long deadline = wt_now_ms() + WT_TIMEOUT_MS;
	int fd, err = 0;
	socklen_t elen = sizeof(err);

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->timeout_ms = WT_TIMEOUT_MS;
	if (i >= s->nlisten)
		return -EINVAL;
	fd = socket(s->addr[i].ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&s->addr[i], s->addrlen[i]) < 0) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};

		if (errno != EINPROGRESS) {
			err = errno;
			goto out_close_fd;
		}
		if (poll(&pfd, 1, remaining(deadline)) <= 0) {
			err = ETIMEDOUT;
			goto out_close_fd;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			err = errno;
		if (err)
			goto out_close_fd;
	}
	c->fd = fd;
	return 0;

out_close_fd:
	close(fd);
	return -err;
}

void wt_client_close(struct wt_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = 0;
}

int wt_send(struct wt_client *c, const void *data, size_t len)
{
	long long deadline = wt_now_ms() + c->timeout_ms;
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			if (poll(&pfd, 1, remaining(deadline)) == 0)
				return -ETIMEDOUT;
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int wt_sends(struct wt_client *c, const char *text)
{
	return wt_send(c, text, strlen(text));
}

/* Receives more bytes. Returns how many, 0 at EOF, or -errno (-ETIMEDOUT). */
static int fill(struct wt_client *c, long long deadline)
{
	if (c->eof)
		return 0;
	if (c->cap - c->len < 16384) {
		size_t cap = c->cap ? c->cap * 2 : 65536;
		char *nb = realloc(c->buf, cap + 1);

		if (!nb)
			return -ENOMEM;
		c->buf = nb;
		c->cap = cap;
	}
	for (;;) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);

		if (n > 0) {
			c->len += (size_t)n;
			return (int)n;
		}
		if (n == 0) {
			c->eof = true;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		if (poll(&pfd, 1, remaining(deadline)) == 0)
			return -ETIMEDOUT;
	}
}

static void consume(struct wt_client *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

/* Copies the kit's parse of a response into the harness's form: the head as raw text, the
 * header fields in one block. Stricter than the kit where warren must be: CRLF line ends,
 * at most WT_MAX_HEADERS fields, one Content-Length. */
static int from_kit(struct wt_response *r, const struct warren_test_response *k)
{
	const char *end = strstr(k->raw, "\r\n\r\n");
	size_t store = 0;
	char *p;

	if (!end || k->nheaders > WT_MAX_HEADERS)
		return -EPROTO;
	r->status = k->status;
	r->minor = k->minor;
	snprintf(r->reason, sizeof(r->reason), "%s", k->reason);
	r->head_len = (size_t)(end - k->raw) + 4;
	r->head = strndup(k->raw, r->head_len);
	r->body = malloc(k->body_len + 1);
	for (size_t i = 0; i < k->nheaders; i++)
		store += strlen(k->headers[i].name) + strlen(k->headers[i].value) + 2;
	r->hdr_store = malloc(store + 1);
	if (!r->head || !r->body || !r->hdr_store)
		return -ENOMEM;
	memcpy(r->body, k->body, k->body_len + 1);
	r->body_len = k->body_len;
	p = r->hdr_store;
	for (size_t i = 0; i < k->nheaders; i++) {
		r->hdrs[i].name = strcpy(p, k->headers[i].name);
		p += strlen(p) + 1;
		r->hdrs[i].value = strcpy(p, k->headers[i].value);
		p += strlen(p) + 1;
	}
	r->nhdrs = k->nheaders;
	return wt_header_count(r, "Content-Length") > 1 ? -EPROTO : 0;
}

int wt_read_response(struct wt_client *c, struct wt_response *r, bool no_body)
{
	long long deadline = wt_now_ms() + c->timeout_ms;
	struct warren_test_response k;
	size_t used;
	int ret;

	memset(r, 0, sizeof(*r));
	/* The test kit frames and parses; this side receives, with the harness's deadline. */
	for (;;) {
		ret = warren_test_parse_response(c->buf ? c->buf : "", c->len,
						 (no_body ? WARREN_TEST_HEAD : 0) |
							 (c->eof ? WARREN_TEST_EOF : 0),
						 &k, &used);
		if (ret != -EAGAIN)
			break;
		if (c->eof)
			return -EPROTO;
		ret = fill(c, deadline);
		if (ret < 0)
			return ret;
	}
	if (ret < 0)
		return ret;
	ret = from_kit(r, &k);
	warren_test_response_free(&k);
	if (ret < 0) {
		wt_response_free(r);
		return ret;
	}
	consume(c, used);
	return 0;
}

void wt_response_free(struct wt_response *r)
{
	free(r->head);
	free(r->body);
	free(r->hdr_store);
	memset(r, 0, sizeof(*r));
}

int wt_wait_closed(struct wt_client *c, int timeout_ms)
{
	long long deadline = wt_now_ms() + timeout_ms;
	int k;

	if (c->len > 0)
		return -EPROTO;
	k = fill(c, deadline);
	if (k == 0 || k == -ECONNRESET)
		return 0;
	if (k > 0)
		return -EPROTO;
	return k;
}

int wt_exchange(const struct wt_server *s, const char *request, size_t len, struct wt_response *r)
{
	struct wt_client c;
	int ret;

	memset(r, 0, sizeof(*r));
	ret = wt_client_open(&c, s, 0);
	if (ret < 0)
		return ret;
	ret = wt_send(&c, request, len);
	if (ret == 0)
		ret = wt_read_response(&c, r, len >= 5 && memcmp(request, "HEAD ", 5) == 0);
	wt_client_close(&c);
	return ret;
}

int wt_exchanges(const struct wt_server *s, const char *request, struct wt_response *r)
{
	return wt_exchange(s, request, strlen(request), r);
}

const char *wt_header(const struct wt_response *r, const char *name)
{
	for (size_t i = 0; i < r->nhdrs; i++)
		if (strcasecmp(r->hdrs[i].name, name) == 0)
			return r->hdrs[i].value;
	return NULL;
}

size_t wt_header_count(const struct wt_response *r, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nhdrs; i++)
		n += strcasecmp(r->hdrs[i].name, name) == 0;
	return n;
}

/* Writes up to @max bytes of @data from @off as C-escaped text. */
static void excerpt(char *out, size_t size, const char *data, size_t len, size_t off, size_t max)
{
	size_t o = 0;

	for (size_t i = off; i < len && i < off + max && o + 5 < size; i++) {
		unsigned char ch = (unsigned char)data[i];

		if (ch == '\r')
			o += (size_t)snprintf(out + o, size - o, "\\r");
		else if (ch == '\n')
			o += (size_t)snprintf(out + o, size - o, "\\n");
		else if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", ch);
		else
			out[o++] = (char)ch;
	}
	out[o] = '\0';
}

bool wt_body_equals(const struct wt_response *r, const void *data, size_t len, char *why,
		    size_t whylen)
{
	const char *want = data;
	char got_text[200], want_text[200];
	size_t i, from;

	for (i = 0; i < r->body_len && i < len && r->body[i] == want[i]; i++)
		;
	if (i == len && i == r->body_len) {
		snprintf(why, whylen, "bodies are equal");
		return true;
	}
	from = i > 16 ? i - 16 : 0;
	excerpt(got_text, sizeof(got_text), r->body, r->body_len, from, 40);
	excerpt(want_text, sizeof(want_text), want, len, from, 40);
	snprintf(why, whylen,
		 "body: %zu bytes, expected %zu; they part at offset %zu: "
		 "got \"%s\", expected \"%s\" (from offset %zu)",
		 r->body_len, len, i, got_text, want_text, from);
	return false;
}

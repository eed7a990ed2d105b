/* core/master.c - the master process: forks the workers after everything is loaded and
 * bound, supervises them (respawn with a rate limit), and turns signals into stops. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "master.h"
#include "timer.h"
#include "worker.h"

/* More deaths than this within RECOVER_WINDOW_MS delay further respawns. */
#define RECOVER_MAX 10
#define RECOVER_WINDOW_MS 10000
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
/* After TERM/INT, workers get this long before SIGKILL. */
#define FAST_STOP_MS 5000
/* After QUIT: the workers' own graceful bound plus a margin. */
#define GRACEFUL_STOP_MS 12000

struct worker_slot {
	pid_t pid;	     /* 0 when not running */
	uint64_t respawn_at; /* when pid is 0 and not stopping */
};

struct master {
	struct server *srv;
	pid_t pid;
	int sigfd;
	int ready_fd;
	struct worker_slot *slots;
	unsigned nworkers;
	unsigned alive;
	uint64_t deaths[RECOVER_MAX + 1]; /* ring of recent death times */
	unsigned ndeaths;
	unsigned backoff_ms;
	bool stopping;
	uint64_t stop_deadline;
};

unsigned master_auto_workers(void)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 1;
	n = CPU_COUNT(&set);
	return n > 0 ? (unsigned)n : 1;
}

static void describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status)) {
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		const char *abbrev = sigabbrev_np(WTERMSIG(status));

		snprintf(buf, len, "was killed by signal %d (SIG%s)%s", WTERMSIG(status),
			 abbrev ? abbrev : "?", WCOREDUMP(status) ? ", core dumped" : "");
	} else {
		snprintf(buf, len, "stopped with status 0x%x", status);
	}
}

static int spawn(struct master *m, unsigned i)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_error("cannot fork worker %u: %s", i, strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		close(m->sigfd);
		if (m->ready_fd >= 0)
			close(m->ready_fd);
		worker_main(m->srv, i, m->pid);
	}
	m->slots[i].pid = pid;
	m->alive++;
	log_info("worker %u started, pid %d", i, (int)pid);
	return 0;
}

/* Decides when the next respawn may happen: at once, unless workers keep dying. */
static uint64_t respawn_time(struct master *m, uint64_t now)
{
	unsigned recent = 0;

	m->deaths[m->ndeaths++ % ARRAY_SIZE(m->deaths)] = now;
	for (unsigned i = 0; i < ARRAY_SIZE(m->deaths) && i < m->ndeaths; i++)
		if (now - m->deaths[i] < RECOVER_WINDOW_MS)
			recent++;
	if (recent <= RECOVER_MAX) {
		m->backoff_ms = 0;
		return now;
	}
	m->backoff_ms = m->backoff_ms ? m->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (m->backoff_ms > BACKOFF_MAX_MS)
		m->backoff_ms = BACKOFF_MAX_MS;
	log_error("workers are crashing repeatedly (%u deaths in %d s); next respawn in %u ms",
		  recent, RECOVER_WINDOW_MS / 1000, m->backoff_ms);
	return now + m->backoff_ms;
}

static void reap(struct master *m)
{
	uint64_t now = timer_now_ms();
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		char how[96];
		unsigned i;

		for (i = 0; i < m->nworkers && m->slots[i].pid != pid; i++)
			;
		if (i == m->nworkers)
			continue; /* not ours (a module's helper, say) */
		m->slots[i].pid = 0;
		m->alive--;
		describe_status(status, how, sizeof(how));
		if (m->stopping) {
			log_info("worker %u (pid %d) %s", i, (int)pid, how);
			continue;
		}
		log_error("worker %u (pid %d) %s; respawning", i, (int)pid, how);
		m->slots[i].respawn_at = respawn_time(m, now);
	}
}

static void stop(struct master *m, int sig, unsigned ms)
{
	if (m->stopping && sig == SIGQUIT)
		return; /* a fast stop is never turned back into a slow one */
	log_info("%s: stopping %u workers", sig == SIGQUIT ? "graceful stop" : "fast stop",
		 m->alive);
	m->stopping = true;
	m->stop_deadline = timer_now_ms() + ms;
	for (unsigned i = 0; i < m->nworkers; i++)
		if (m->slots[i].pid > 0)
			kill(m->slots[i].pid, sig);
}

static void handle_signal(struct master *m, const struct signalfd_siginfo *si)
{
	switch (si->ssi_signo) {
	case SIGCHLD:
		reap(m);
		break;
	case SIGTERM:
	case SIGINT:
		stop(m, SIGTERM, FAST_STOP_MS);
		break;
	case SIGQUIT:
		stop(m, SIGQUIT, GRACEFUL_STOP_MS);
		break;
	case SIGHUP:
		log_warn("SIGHUP: configuration reload is not available in this version; ignored");
		break;
	case SIGUSR1:
		log_info("SIGUSR1: logs go to stderr, nothing to reopen");
		break;
	}
}

static int next_timeout(const struct master *m, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	if (m->stopping) {
		next = m->stop_deadline;
	} else {
		for (unsigned i = 0; i < m->nworkers; i++)
			if (m->slots[i].pid == 0 && m->slots[i].respawn_at < next)
				next = m->slots[i].respawn_at;
	}
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

static void announce_ready(struct master *m)
{
	struct server *srv = m->srv;
	char addr[80];
	FILE *f;

	for (size_t i = 0; i < srv->nlisteners; i++) {
		sockaddr_format(&srv->listeners[i].addr, addr, sizeof(addr));
		log_info("listening on %s", addr);
	}
	log_info("warren " WARREN_VERSION " ready: %u workers", m->nworkers);
	if (m->ready_fd < 0)
		return;
	/* One line per listener, then "ready PID": tests and supervisors wait on this. */
	f = fdopen(m->ready_fd, "w");
	if (!f) {
		close(m->ready_fd);
		m->ready_fd = -1;
		return;
	}
	for (size_t i = 0; i < srv->nlisteners; i++) {
		sockaddr_format(&srv->listeners[i].addr, addr, sizeof(addr));
		fprintf(f, "listen %s\n", addr);
	}
	fprintf(f, "ready %d\n", (int)m->pid);
	fclose(f);
	m->ready_fd = -1;
}

static int open_signalfd(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, set, NULL) < 0)
		return -errno;
	return signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int master_run(struct server *srv, int ready_fd)
{
	struct master m = {.srv = srv, .ready_fd = ready_fd, .pid = getpid()};
	sigset_t set;
	int ret = 0;

	/* A client that goes away mid-write must cost an EPIPE, not the process. */
	signal(SIGPIPE, SIG_IGN);
	m.sigfd = open_signalfd(&set);
	if (m.sigfd < 0) {
		log_error("signalfd: %s", strerror(errno));
		return 1;
	}
	m.nworkers = srv->cfg->workers ? srv->cfg->workers : master_auto_workers();
	m.slots = calloc(m.nworkers, sizeof(*m.slots));
	if (!m.slots) {
		log_error("out of memory");
		ret = 1;
		goto out_close_sigfd;
	}
	for (unsigned i = 0; i < m.nworkers; i++) {
		if (spawn(&m, i) < 0) {
			stop(&m, SIGTERM, FAST_STOP_MS);
			ret = 1;
			break;
		}
	}
	if (!m.stopping)
		announce_ready(&m);

	while (!m.stopping || m.alive > 0) {
		struct pollfd pfd = {.fd = m.sigfd, .events = POLLIN};
		struct signalfd_siginfo si;
		uint64_t now;

		if (poll(&pfd, 1, next_timeout(&m, timer_now_ms())) < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			break;
		}
		while (read(m.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			handle_signal(&m, &si);
		/* Signals coalesce: a second SIGCHLD may have merged into the first. */
		reap(&m);
		now = timer_now_ms();
		if (m.stopping) {
			if (now >= m.stop_deadline && m.alive > 0) {
				log_warn("%u workers did not stop in time; killing them", m.alive);
				for (unsigned i = 0; i < m.nworkers; i++)
					if (m.slots[i].pid > 0)
						kill(m.slots[i].pid, SIGKILL);
				m.stop_deadline = UINT64_MAX;
			}
			continue;
		}
		for (unsigned i = 0; i < m.nworkers; i++)
			if (m.slots[i].pid == 0 && m.slots[i].respawn_at <= now && spawn(&m, i) < 0)
				m.slots[i].respawn_at = now + BACKOFF_MIN_MS;
	}
	log_info("all workers stopped; exiting");
	free(m.slots);
out_close_sigfd:
	close(m.sigfd);
	if (m.ready_fd >= 0)
		close(m.ready_fd);
	return ret;
}

/* core/master.c - the master process: forks a generation of workers once everything is
 * loaded and bound, supervises them (respawn with a rate limit), reloads the config into a
 * new generation without dropping connections, and turns signals into stops.
 *
 * A generation is one loaded config (struct server) and its workers. At any time there is
 * the serving generation, at most one starting during a reload, and older ones draining.
 * A new generation replaces the serving one only once every one of its workers reported
 * ready; if one dies first, the reload is undone and the old generation never noticed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "master.h"
#include "reactor.h"
#include "shm.h"
#include "timer.h"
#include "worker.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
/* After TERM/INT, workers get this long before SIGKILL. */
#define FAST_STOP_MS 5000
/* Beyond shutdown_timeout, what a draining worker gets before SIGKILL. */
#define DRAIN_MARGIN_MS 2000
/* Deaths remembered for the rate limit; recover.max above this counts as this. */
#define DEATHS_MAX 1024
/* A worker the watchdog signalled gets this long to write its report before SIGKILL. */
#define WATCHDOG_GRACE_MS 5000

struct worker_slot {
	pid_t pid;	     /* 0 when not running */
	pid_t last_pid;	     /* the one that died, for on_child_recover */
	uint64_t respawn_at; /* when pid is 0 */
	bool ready;
	uint64_t beat;	     /* watchdog: the worker's beat count last seen ... */
	uint64_t beat_since; /* ... and since when it has not moved */
	pid_t wd_pid;	     /* the worker the watchdog signalled, SIGKILLed at wd_kill_at */
	uint64_t wd_kill_at;
};

struct generation {
	struct server *srv;
	struct worker_slot *slots;
	struct worker_beat *beats; /* shared with the workers, one each (core/worker.h) */
	unsigned nworkers;
	unsigned alive;
	unsigned ready;
	bool serving;		 /* every worker reported ready once */
	bool draining;		 /* told to finish and exit; nothing is respawned */
	uint64_t kill_at;	 /* draining: SIGKILL what is left after this */
	pid_t requester;	 /* who asked for this reload (-s reload), 0 if nobody */
	struct generation *next; /* in the list of draining generations */
};

struct master {
	pid_t pid;
	const char *conf_path;
	int sigfd;
	int notify_rd, notify_wr; /* workers write their pid once ready */
	int ready_fd;
	char *pid_file;
	struct generation *cur;	    /* serving, or starting at boot */
	struct generation *pending; /* a reload that is starting */
	struct generation *old;	    /* draining */
	uint64_t *deaths;	    /* ring of recent death times */
	unsigned ndeaths;
	unsigned backoff_ms;
	bool stopping;
	int exit_code;
	uint64_t stop_deadline;
	uint64_t watchdog_at; /* next look at the workers' beats */
};

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

/* ---- Generations ------------------------------------------------------------------ */

static struct generation *gen_new(struct server *srv)
{
	struct generation *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->srv = srv;
	g->nworkers = srv->cfg->workers ? srv->cfg->workers : master_auto_workers();
	g->slots = calloc(g->nworkers, sizeof(*g->slots));
	if (!g->slots)
		goto out_free_gen;
	/* Mapped before fork, so that each worker writes where the master reads. */
	g->beats = mmap(NULL, g->nworkers * sizeof(*g->beats), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g->beats == MAP_FAILED)
		goto out_free_slots;
	return g;

out_free_slots:
	free(g->slots);
out_free_gen:
	free(g);
	return NULL;
}

static void gen_unmap(struct generation *g)
{
	munmap(g->beats, g->nworkers * sizeof(*g->beats));
}

static void gen_free(struct master *m, struct generation *g)
{
	/* Socket files the serving generation still listens on stay. */
	server_unlink_sockets(g->srv, m->cur && m->cur != g ? m->cur->srv : NULL);
	server_free(g->srv);
	gen_unmap(g);
	free(g->slots);
	free(g);
}

static void gen_signal(struct generation *g, int sig)
{
	for (unsigned i = 0; i < g->nworkers; i++)
		if (g->slots[i].pid > 0)
			kill(g->slots[i].pid, sig);
}

static void close_listeners(const struct generation *g, const struct generation *keep)
{
	for (size_t i = 0; g && g != keep && i < g->srv->nlisteners; i++)
		if (g->srv->listeners[i].fd >= 0)
			close(g->srv->listeners[i].fd);
}

/*
 * In a new worker: sockets of other generations must not stay open here, or an address
 * dropped by a reload would keep accepting into a queue nobody serves.
 */
static void close_other_listeners(const struct master *m, const struct generation *g)
{
	close_listeners(m->cur, g);
	close_listeners(m->pending, g);
	for (const struct generation *o = m->old; o; o = o->next)
		close_listeners(o, g);
}

static int spawn(struct master *m, struct generation *g, unsigned i)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_error("cannot fork worker %u: %s", i, strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		close(m->sigfd);
		close(m->notify_rd);
		if (m->ready_fd >= 0)
			close(m->ready_fd);
		close_other_listeners(m, g);
		worker_main(g->srv, i, m->pid, m->notify_wr, &g->beats[i]);
	}
	g->slots[i].pid = pid;
	g->slots[i].ready = false;
	g->alive++;
	log_info("worker %u started, pid %d (generation %u)", i, (int)pid, g->srv->generation);
	server_hook_child_spawn(g->srv, pid);
	return 0;
}

static int spawn_all(struct master *m, struct generation *g)
{
	for (unsigned i = 0; i < g->nworkers; i++) {
		int ret = spawn(m, g, i);

		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Moves a generation to the draining list and tells its workers to finish. */
static void drain(struct master *m, struct generation *g, int sig)
{
	g->draining = true;
	g->kill_at = timer_now_ms() + g->srv->cfg->shutdown_timeout_ms + DRAIN_MARGIN_MS;
	gen_signal(g, sig);
	g->next = m->old;
	m->old = g;
	if (g->alive == 0)
		g->kill_at = 0; /* retired by the next sweep */
}

/* ---- Reload status, pid file ------------------------------------------------------ */

static void write_file_atomic(const char *path, const char *text)
{
	char tmp[4200];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_error("cannot write %s: %s", tmp, strerror(errno));
		return;
	}
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) < 0 ||
	    rename(tmp, path) < 0) {
		log_error("cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
	}
}

/* "warren -s reload" waits for a line naming its own pid in PID_FILE.reload. */
static void reload_status(struct master *m, pid_t requester, const char *fmt, ...)
	WARREN_PRINTF(3, 4);

static void reload_status(struct master *m, pid_t requester, const char *fmt, ...)
{
	char path[4200], text[1024];
	va_list ap;
	int n;

	if (!m->pid_file)
		return;
	n = snprintf(text, sizeof(text), "%d ", (int)requester);
	va_start(ap, fmt);
	vsnprintf(text + n, sizeof(text) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	strcat(text, "\n");
	snprintf(path, sizeof(path), "%s.reload", m->pid_file);
	write_file_atomic(path, text);
}

/* ---- Events ------------------------------------------------------------------------ */

static void announce_ready(struct master *m, struct generation *g)
{
	struct server *srv = g->srv;
	char addr[128];
	pid_t *pids;
	FILE *f;

	pids = calloc(g->nworkers, sizeof(*pids));
	for (unsigned i = 0; pids && i < g->nworkers; i++)
		pids[i] = g->slots[i].pid;
	if (pids)
		server_hook_master_ready(srv, pids, g->nworkers);
	free(pids);
	if (srv->generation > 0)
		return;

	for (size_t i = 0; i < srv->nlisteners; i++) {
		sockaddr_format(&srv->listeners[i].addr, addr, sizeof(addr));
		log_info("listening on %s%s", addr,
			 srv->listeners[i].conf->reuseport ? " (reuseport)" : "");
	}
	log_info("warren " WARREN_VERSION " ready: %u worker%s", g->nworkers,
		 g->nworkers == 1 ? "" : "s");
	if (m->pid_file) {
		char text[32];

		snprintf(text, sizeof(text), "%d\n", (int)m->pid);
		write_file_atomic(m->pid_file, text);
	}
	if (m->ready_fd < 0)
		return;
	/* One line per listener, then "ready PID": tests and supervisors wait on this. */
	f = fdopen(m->ready_fd, "w");
	m->ready_fd = -1;
	if (!f)
		return;
	for (size_t i = 0; i < srv->nlisteners; i++) {
		sockaddr_format(&srv->listeners[i].addr, addr, sizeof(addr));
		fprintf(f, "listen %s\n", addr);
	}
	fprintf(f, "ready %d\n", (int)m->pid);
	fclose(f);
}

static void worker_ready(struct master *m, pid_t pid)
{
	struct generation *gens[] = {m->cur, m->pending};

	for (size_t k = 0; k < ARRAY_SIZE(gens); k++) {
		struct generation *g = gens[k];

		for (unsigned i = 0; g && i < g->nworkers; i++) {
			if (g->slots[i].pid != pid || g->slots[i].ready)
				continue;
			g->slots[i].ready = true;
			if (g->serving || ++g->ready < g->nworkers)
				return;
			g->serving = true;
			announce_ready(m, g);
			if (g != m->pending)
				return;
			/* The reload is complete: the new generation takes over. */
			log_info("reload: generation %u serving, draining generation %u",
				 g->srv->generation, m->cur->srv->generation);
			drain(m, m->cur, SIGUSR2);
			m->cur = g;
			m->pending = NULL;
			reload_status(m, g->requester, "ok generation %u", g->srv->generation);
			return;
		}
	}
}

static void read_notifications(struct master *m)
{
	int32_t pids[64];
	ssize_t n;

	while ((n = read(m->notify_rd, pids, sizeof(pids))) > 0)
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(pids[0]); i++)
			worker_ready(m, (pid_t)pids[i]);
}

/* Decides when the next respawn may happen: at once, unless workers keep dying. */
static uint64_t respawn_time(struct master *m, uint64_t now)
{
	const struct config *cfg = m->cur->srv->cfg;
	unsigned keep = cfg->recover_max < DEATHS_MAX ? cfg->recover_max + 1 : DEATHS_MAX;
	unsigned recent = 0;

	m->deaths[m->ndeaths++ % keep] = now;
	for (unsigned i = 0; i < keep && i < m->ndeaths; i++)
		if (now - m->deaths[i] < cfg->recover_window_ms)
			recent++;
	if (recent <= cfg->recover_max) {
		m->backoff_ms = 0;
		return now;
	}
	m->backoff_ms = m->backoff_ms ? m->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (m->backoff_ms > BACKOFF_MAX_MS)
		m->backoff_ms = BACKOFF_MAX_MS;
	log_error("workers are crashing repeatedly (%u deaths within %u ms, recover.max is %u); "
		  "next respawn in %u ms",
		  recent, cfg->recover_window_ms, cfg->recover_max, m->backoff_ms);
	return now + m->backoff_ms;
}

static void abort_reload(struct master *m, const char *why)
{
	struct generation *g = m->pending;

	log_error("reload failed: %s; generation %u keeps serving", why, m->cur->srv->generation);
	reload_status(m, g->requester, "error %s", why);
	m->pending = NULL;
	drain(m, g, SIGTERM);
}

static void worker_died(struct master *m, pid_t pid, int status)
{
	struct generation *gens[] = {m->cur, m->pending};
	char how[96], why[160];

	describe_status(status, how, sizeof(how));
	for (struct generation *g = m->old; g; g = g->next) {
		for (unsigned i = 0; i < g->nworkers; i++) {
			if (g->slots[i].pid != pid)
				continue;
			g->slots[i].pid = 0;
			g->alive--;
			log_info("worker %u (pid %d, generation %u) %s", i, (int)pid,
				 g->srv->generation, how);
			return;
		}
	}
	for (size_t k = 0; k < ARRAY_SIZE(gens); k++) {
		struct generation *g = gens[k];

		for (unsigned i = 0; g && i < g->nworkers; i++) {
			struct worker_slot *slot = &g->slots[i];

			if (slot->pid != pid)
				continue;
			slot->pid = 0;
			g->alive--;
			if (m->stopping) {
				log_info("worker %u (pid %d) %s", i, (int)pid, how);
				return;
			}
			if (!g->serving) {
				snprintf(
					why, sizeof(why),
					"worker %u (pid %d) of generation %u %s before it was ready",
					i, (int)pid, g->srv->generation, how);
				if (g == m->pending) {
					abort_reload(m, why);
				} else {
					/* At start-up: a worker that cannot start will not start
					 * on the next try either. */
					log_error("%s; stopping", why);
					m->exit_code = 1;
					m->stopping = true;
					m->stop_deadline = timer_now_ms() + FAST_STOP_MS;
					gen_signal(g, SIGTERM);
				}
				return;
			}
			log_error("worker %u (pid %d) %s; respawning", i, (int)pid, how);
			slot->last_pid = pid;
			slot->respawn_at = respawn_time(m, timer_now_ms());
			return;
		}
	}
}

static void reap(struct master *m)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		worker_died(m, pid, status);
}

static void reload(struct master *m, pid_t requester)
{
	struct warren_error err = {{0}};
	struct generation *g;
	struct config *cfg;
	struct server *srv;

	if (m->pending) {
		log_warn("reload: one is already in progress; ignored");
		reload_status(m, requester, "error a reload is already in progress");
		return;
	}
	log_info("reload: reading %s", m->conf_path);
	if (config_load_file(m->conf_path, &cfg, &err) < 0)
		goto out_fail;
	if (reactor_probe(&cfg->event, &err) < 0) {
		config_free(cfg);
		goto out_fail;
	}
	if (server_load(cfg, m->cur->srv->generation + 1, &srv, &err) < 0)
		goto out_fail;
	if (server_listen(srv, m->cur->srv, &err) < 0) {
		server_free(srv);
		goto out_fail;
	}
	g = gen_new(srv);
	if (!g) {
		server_free(srv);
		warren_error_set(&err, "out of memory");
		goto out_fail;
	}
	g->requester = requester;
	m->pending = g;
	warren__log_set_level(cfg->log_level);
	if (spawn_all(m, g) < 0)
		abort_reload(m, "cannot fork the new workers");
	return;

out_fail:
	log_error("reload failed: %s: %s; generation %u keeps serving", m->conf_path, err.msg,
		  m->cur->srv->generation);
	reload_status(m, requester, "error %s: %s", m->conf_path, err.msg);
}

static void reopen_logs(struct master *m)
{
	const char *file = m->cur->srv->cfg->log_file;
	int ret;

	if (file) {
		ret = warren__log_open(file);
		if (ret < 0)
			log_error("cannot reopen %s: %s", file, strerror(-ret));
		else
			log_info("log file reopened");
	}
	gen_signal(m->cur, SIGUSR1);
	for (struct generation *g = m->old; g; g = g->next)
		gen_signal(g, SIGUSR1);
}

static unsigned alive(const struct master *m);

static void stop(struct master *m, int sig, unsigned ms)
{
	if (m->stopping && sig == SIGQUIT)
		return; /* a fast stop is never turned back into a slow one */
	log_info("%s: stopping %u workers", sig == SIGQUIT ? "graceful stop" : "fast stop",
		 alive(m));
	m->stopping = true;
	m->stop_deadline = timer_now_ms() + ms;
	gen_signal(m->cur, sig);
	if (m->pending)
		gen_signal(m->pending, sig);
	for (struct generation *g = m->old; g; g = g->next)
		gen_signal(g, sig);
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
		stop(m, SIGQUIT, m->cur->srv->cfg->shutdown_timeout_ms + DRAIN_MARGIN_MS);
		break;
	case SIGHUP:
		if (!m->stopping && m->cur->serving)
			reload(m, (pid_t)si->ssi_pid);
		else
			reload_status(m, (pid_t)si->ssi_pid, "error the server is %s",
				      m->stopping ? "stopping" : "still starting");
		break;
	case SIGUSR1:
		reopen_logs(m);
		break;
	}
}

/* Retires drained generations and kills what outlived its drain. */
static void sweep(struct master *m, uint64_t now)
{
	struct generation **p = &m->old;

	while (*p) {
		struct generation *g = *p;

		if (g->alive == 0) {
			*p = g->next;
			log_info("generation %u retired", g->srv->generation);
			gen_free(m, g);
			continue;
		}
		if (g->kill_at && now >= g->kill_at) {
			log_warn(
				"generation %u: %u workers still draining after %u ms; killing them",
				g->srv->generation, g->alive, g->srv->cfg->shutdown_timeout_ms);
			gen_signal(g, SIGKILL);
			g->kill_at = 0;
		}
		p = &g->next;
	}
}

/* ---- Watchdog ---------------------------------------------------------------------- */

/* How often the beats are looked at: a few times per watchdog.kill; 0 when it is off. */
static unsigned watchdog_tick_ms(const struct master *m)
{
	unsigned kill_ms = m->cur->srv->cfg->watchdog_kill_ms;

	if (!kill_ms)
		return 0;
	return kill_ms / 4 < 50 ? 50 : kill_ms / 4 > 1000 ? 1000 : kill_ms / 4;
}

/*
 * A worker whose loop has not waited nor woken for watchdog.kill is stuck in a callback
 * (a module that sleeps, spins or waits for a lock that will never come free): SIGABRT,
 * queued with the time, lets its crash handler name the module call and the request
 * before it dies; the death is then an ordinary crash, respawned as one.
 */
static void watchdog_generation(struct generation *g, uint64_t now)
{
	unsigned kill_ms = g->srv->cfg->watchdog_kill_ms;

	for (unsigned i = 0; kill_ms && i < g->nworkers; i++) {
		struct worker_slot *slot = &g->slots[i];
		uint64_t beat = __atomic_load_n(&g->beats[i].count, __ATOMIC_RELAXED);

		if (slot->pid == 0)
			continue;
		if (slot->wd_kill_at && slot->wd_pid == slot->pid) {
			if (now >= slot->wd_kill_at) {
				log_error(
					"worker %u (pid %d) did not die of the watchdog's SIGABRT; "
					"killing it",
					i, (int)slot->pid);
				kill(slot->pid, SIGKILL);
				slot->wd_kill_at = UINT64_MAX;
			}
			continue;
		}
		/* Odd: waiting for events, which is progress however long it lasts. */
		if (!slot->ready || beat != slot->beat || (beat & 1)) {
			slot->beat = beat;
			slot->beat_since = now;
			slot->wd_kill_at = 0;
			continue;
		}
		if (now - slot->beat_since < kill_ms)
			continue;
		log_error("worker %u (pid %d): no event loop progress for %u ms (watchdog.kill); "
			  "aborting it",
			  i, (int)slot->pid, kill_ms);
		sigqueue(slot->pid, SIGABRT, (union sigval){.sival_int = (int)kill_ms});
		slot->wd_pid = slot->pid;
		slot->wd_kill_at = now + WATCHDOG_GRACE_MS;
	}
}

static void watchdog(struct master *m, uint64_t now)
{
	unsigned tick = watchdog_tick_ms(m);

	if (!tick || now < m->watchdog_at)
		return;
	m->watchdog_at = now + tick;
	watchdog_generation(m->cur, now);
	if (m->pending)
		watchdog_generation(m->pending, now);
	for (struct generation *g = m->old; g; g = g->next)
		watchdog_generation(g, now);
}

static int next_timeout(const struct master *m, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	if (m->stopping)
		next = m->stop_deadline;
	else if (watchdog_tick_ms(m))
		next = m->watchdog_at;
	for (unsigned i = 0; !m->stopping && m->cur->serving && i < m->cur->nworkers; i++)
		if (m->cur->slots[i].pid == 0 && m->cur->slots[i].respawn_at < next)
			next = m->cur->slots[i].respawn_at;
	for (const struct generation *g = m->old; g; g = g->next)
		if (g->kill_at && g->kill_at < next)
			next = g->kill_at;
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

static void respawn_due(struct master *m, uint64_t now)
{
	struct generation *g = m->cur;

	for (unsigned i = 0; g->serving && i < g->nworkers; i++) {
		struct worker_slot *slot = &g->slots[i];

		if (slot->pid != 0 || slot->respawn_at > now)
			continue;
		if (spawn(m, g, i) < 0) {
			slot->respawn_at = now + BACKOFF_MIN_MS;
			continue;
		}
		if (slot->last_pid) {
			server_hook_child_recover(g->srv, slot->last_pid, slot->pid);
			slot->last_pid = 0;
		}
	}
}

static unsigned alive(const struct master *m)
{
	unsigned n = m->cur->alive + (m->pending ? m->pending->alive : 0);

	for (const struct generation *g = m->old; g; g = g->next)
		n += g->alive;
	return n;
}

static int open_signalfd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void loop(struct master *m)
{
	while (!m->stopping || alive(m) > 0) {
		struct pollfd pfd[2] = {{.fd = m->sigfd, .events = POLLIN},
					{.fd = m->notify_rd, .events = POLLIN}};
		struct signalfd_siginfo si;
		uint64_t now;

		if (poll(pfd, 2, next_timeout(m, timer_now_ms())) < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			break;
		}
		/* Readiness first: a worker that reported ready and then died is a crash,
		 * not a failed start. */
		read_notifications(m);
		while (read(m->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			handle_signal(m, &si);
		/* Signals coalesce: a second SIGCHLD may have merged into the first. */
		reap(m);
		now = timer_now_ms();
		sweep(m, now);
		if (!m->stopping) {
			respawn_due(m, now);
			watchdog(m, now);
			continue;
		}
		if (now >= m->stop_deadline && alive(m) > 0) {
			log_warn("%u workers did not stop in time; killing them", alive(m));
			gen_signal(m->cur, SIGKILL);
			if (m->pending)
				gen_signal(m->pending, SIGKILL);
			for (struct generation *g = m->old; g; g = g->next)
				gen_signal(g, SIGKILL);
			m->stop_deadline = UINT64_MAX;
		}
	}
}

int master_run(struct server *srv, const char *conf_path, int ready_fd)
{
	struct master m = {
		.pid = getpid(),
		.conf_path = conf_path,
		.ready_fd = ready_fd,
		.notify_rd = -1,
		.notify_wr = -1,
	};
	int fds[2];

	/* A client that goes away mid-write must cost an EPIPE, not the process. */
	signal(SIGPIPE, SIG_IGN);
	m.sigfd = open_signalfd();
	if (m.sigfd < 0 || pipe2(fds, O_CLOEXEC) < 0) {
		log_error("cannot set up the master: %s", strerror(errno));
		server_free(srv);
		return 1;
	}
	m.notify_rd = fds[0];
	m.notify_wr = fds[1];
	fcntl(m.notify_rd, F_SETFL, O_NONBLOCK);
	m.deaths = calloc(DEATHS_MAX, sizeof(*m.deaths));
	m.cur = gen_new(srv);
	if (srv->cfg->pid_file)
		m.pid_file = strdup(srv->cfg->pid_file);
	if (!m.deaths || !m.cur || (srv->cfg->pid_file && !m.pid_file)) {
		log_error("out of memory");
		if (!m.cur)
			server_free(srv);
		m.exit_code = 1;
		goto out_free;
	}
	if (spawn_all(&m, m.cur) < 0) {
		m.exit_code = 1;
		stop(&m, SIGTERM, FAST_STOP_MS);
	}
	loop(&m);
	log_info("all workers stopped; exiting");

out_free:
	while (m.old) {
		struct generation *g = m.old;

		m.old = g->next;
		gen_free(&m, g);
	}
	if (m.pending)
		gen_free(&m, m.pending);
	if (m.cur) {
		server_unlink_sockets(m.cur->srv, NULL);
		server_free(m.cur->srv);
		gen_unmap(m.cur);
		free(m.cur->slots);
		free(m.cur);
	}
	if (m.pid_file) {
		char path[4200];

		unlink(m.pid_file);
		snprintf(path, sizeof(path), "%s.reload", m.pid_file);
		unlink(path);
		free(m.pid_file);
	}
	shm_release_all();
	free(m.deaths);
	close(m.sigfd);
	close(m.notify_rd);
	close(m.notify_wr);
	if (m.ready_fd >= 0)
		close(m.ready_fd);
	return m.exit_code;
}

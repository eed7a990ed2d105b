/* core/server/master.c - the master process: forks a generation of workers once everything is
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
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/address.h"
#include "server/crash.h"
#include "base/log.h"
#include "server/backend.h"
#include "server/cpus.h"
#include "server/master.h"
#include "server/pidfile.h"
#include "server/watchdog.h"
#include "base/shm.h"
#include "base/timer.h"
#include "server/worker.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
/* After TERM/INT, workers get this long before SIGKILL. */
#define FAST_STOP_MS 5000
/* Beyond shutdown_timeout, what a draining worker gets before SIGKILL. */
#define DRAIN_MARGIN_MS 2000
/* Deaths remembered for the rate limit; recover.max above this counts as this. */
#define DEATHS_MAX 1024
/* Room for the last error line of each worker, in a page it shares with the master. */
#define NOTE_LEN 512
/* What module hooks run in a guarded child (a trial load) get to return. */
#define GUARDED_MS 10000
/* A worker the watchdog signalled gets this long to write its report before SIGKILL. */
#define WATCHDOG_GRACE_MS 5000

struct worker_slot {
	pid_t pid;	     /* 0 when not running */
	pid_t last_pid;	     /* the one that died, for on_child_recover */
	uint64_t respawn_at; /* when pid is 0 */
	bool ready;
	struct watchdog_clock wd;
};

struct generation {
	struct server *srv;
	struct worker_slot *slots;
	char *notes;		   /* NOTE_LEN per slot, shared: each worker's last error line */
	struct worker_beat *beats; /* shared with the workers, one each (core/worker.h) */
	unsigned nworkers;
	unsigned alive;
	unsigned ready;
	bool serving;		 /* every worker reported ready once */
	bool draining;		 /* told to finish and exit; nothing is respawned */
	uint64_t kill_at;	 /* draining: SIGKILL what is left after this */
	unsigned reload;	 /* the number of the reload that made it, 0 at start-up */
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
	uint64_t *deaths;	    /* ring of recent deaths before ready */
	unsigned ndeaths;
	unsigned backoff_ms;
	uint64_t crashes_since; /* start of the window of crash_log() */
	unsigned crashes;	/* deaths of ready workers within it */
	unsigned reloads_started, reloads_done;
	bool reload_asked;	  /* a SIGHUP came that no reload started since answers */
	char reload_result[1024]; /* of the last reload that finished */
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

/* ---- Module code that must not take the master down -------------------------------- */

/*
 * Runs @fn in a forked child and waits for it, at most GUARDED_MS: there, module code that
 * crashes or hangs costs the child, not the master and the generation it serves. The
 * child sends the error @fn gave over a pipe; a crash or a hang is reported with the
 * module and hook it was in (the hook trace is a shared page). Returns 0 when @fn
 * returned 0, else fills @err.
 */
static int run_guarded(int (*fn)(void *arg, struct warren_error *err), void *arg,
		       struct warren_error *err)
{
	uint64_t deadline = timer_now_ms() + GUARDED_MS;
	char where[128];
	size_t got = 0;
	int fds[2], status = 0, ret;
	bool hung = false;
	pid_t pid;

	hook_leave();
	if (pipe2(fds, O_CLOEXEC) < 0) {
		ret = -errno;
		warren_error_set(err, "cannot make a pipe: %s", strerror(-ret));
		return ret;
	}
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		warren_error_set(err, "cannot fork: %s", strerror(-ret));
		close(fds[0]);
		close(fds[1]);
		return ret;
	}
	if (pid == 0) {
		close(fds[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		ret = fn(arg, err);
		if (ret < 0 && write(fds[1], err->msg, strlen(err->msg)) < 0)
			ret = -EIO;
		_exit(ret < 0 ? 1 : 0);
	}
	close(fds[1]);
	err->msg[0] = '\0';
	for (;;) {
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		uint64_t now = timer_now_ms();
		ssize_t n;

		ret = now < deadline ? poll(&pfd, 1, (int)(deadline - now)) : 0;
		if (ret == 0) {
			hung = true;
			break;
		}
		if (ret < 0)
			continue; /* EINTR: the deadline is checked again */
		n = read(fds[0], err->msg + got, sizeof(err->msg) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (got += (size_t)n) == sizeof(err->msg) - 1)
			break;
	}
	err->msg[got] = '\0';
	close(fds[0]);
	if (hung)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!hung && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	hook_trace_describe(where, sizeof(where));
	if (hung) {
		warren_error_set(err, "%s did not return within %d s", where[0] ? where : "loading",
				 GUARDED_MS / 1000);
	} else if (WIFSIGNALED(status)) {
		const char *abbrev = sigabbrev_np(WTERMSIG(status));

		warren_error_set(err, "%s crashed (SIG%s)", where[0] ? where : "loading",
				 abbrev ? abbrev : "?");
	} else if (!got) {
		warren_error_set(err, "the trial load exited with status %d",
				 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	return -ECANCELED;
}

/* In a guarded child: the whole load of a new generation, init and configure of every
 * module and then their fini, without binding anything. */
static int trial_load(void *arg, struct warren_error *err)
{
	const struct master *m = arg;
	struct config *cfg;
	struct server *srv;
	int ret;

	ret = config_load_file(m->conf_path, &cfg, err);
	if (ret < 0)
		return ret;
	ret = server_load(cfg, m->cur->srv->generation + 1, &srv, err);
	if (ret < 0)
		return ret;
	server_free(srv);
	return 0;
}

/* ---- Generations ------------------------------------------------------------------ */

static struct generation *gen_new(struct server *srv)
{
	struct generation *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->srv = srv;
	g->nworkers = srv->cfg->workers ? srv->cfg->workers : cpus_usable();
	g->slots = calloc(g->nworkers, sizeof(*g->slots));
	if (!g->slots)
		goto out_free_gen;
	/* Mapped before fork, so that each worker writes where the master reads. */
	g->beats = mmap(NULL, g->nworkers * sizeof(*g->beats), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g->beats == MAP_FAILED)
		goto out_free_slots;
	g->notes = mmap(NULL, (size_t)g->nworkers * NOTE_LEN, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g->notes == MAP_FAILED)
		goto out_unmap_beats;
	return g;

out_unmap_beats:
	munmap(g->beats, g->nworkers * sizeof(*g->beats));
out_free_slots:
	free(g->slots);
out_free_gen:
	free(g);
	return NULL;
}

static void gen_unmap(struct generation *g)
{
	munmap(g->notes, (size_t)g->nworkers * NOTE_LEN);
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
		warren__log_keep_errors(g->notes + (size_t)i * NOTE_LEN, NOTE_LEN);
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
	int ret = pidfile_write(path, text);

	if (ret < 0)
		log_error("cannot write %s: %s", path, strerror(-ret));
}

/*
 * PID_FILE.reload is one line, "STARTED DONE RESULT": how many reloads have started, and
 * the number and result ("ok generation N" or "error ...") of the last one that finished.
 * "warren -s reload" notes STARTED before it signals and then waits for a DONE beyond it:
 * a reload that started after it asked, so it read the config the caller meant. SIGHUPs
 * that arrive together, or during a reload, coalesce into the next reload, and every one
 * of their callers gets its answer.
 */
static void reload_status(struct master *m, const char *fmt, ...) WARREN_PRINTF(2, 3);

static void reload_status(struct master *m, const char *fmt, ...)
{
	char path[4200], text[1100];
	va_list ap;

	if (!m->pid_file)
		return;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(m->reload_result, sizeof(m->reload_result), fmt, ap);
		va_end(ap);
	}
	snprintf(text, sizeof(text), "%u %u %s\n", m->reloads_started, m->reloads_done,
		 m->reload_result[0] ? m->reload_result : "-");
	snprintf(path, sizeof(path), "%s.reload", m->pid_file);
	write_file_atomic(path, text);
}

static void reload_done(struct master *m, unsigned reload, const char *fmt, ...)
	WARREN_PRINTF(3, 4);

static void reload_done(struct master *m, unsigned reload, const char *fmt, ...)
{
	char result[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(result, sizeof(result), fmt, ap);
	va_end(ap);
	m->reloads_done = reload;
	reload_status(m, "%s", result);
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
		address_format(&srv->listeners[i].addr, addr, sizeof(addr));
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
		address_format(&srv->listeners[i].addr, addr, sizeof(addr));
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
			watchdog_ready(&g->slots[i].wd,
				       __atomic_load_n(&g->beats[i].count, __ATOMIC_RELAXED),
				       timer_now_ms());
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
			reload_done(m, g->reload, "ok generation %u", g->srv->generation);
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

/*
 * Decides when a worker that died before it was ready may be respawned: at once, unless
 * that keeps happening (a broken worker_init will not mend itself). @none_alive: the
 * generation has no worker left, which it may not stay for longer than the first step.
 */
static uint64_t respawn_time(struct master *m, uint64_t now, bool none_alive)
{
	const struct config *cfg = m->cur->srv->cfg;
	unsigned keep = cfg->recover_max < DEATHS_MAX ? cfg->recover_max + 1 : DEATHS_MAX;
	unsigned recent = 0, delay;

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
	delay = none_alive && m->backoff_ms > BACKOFF_MIN_MS ? BACKOFF_MIN_MS : m->backoff_ms;
	log_error("workers keep dying before they are ready (%u deaths within %u ms, recover.max "
		  "is %u); next respawn in %u ms%s",
		  recent, cfg->recover_window_ms, cfg->recover_max, delay,
		  delay < m->backoff_ms ? " (no worker is alive: the back-off is cut short)" : "");
	return now + delay;
}

/* Says how many deaths crash_log() kept quiet once their window is over. */
static void crash_log_roll(struct master *m, uint64_t now)
{
	const struct config *cfg = m->cur->srv->cfg;

	if (!m->crashes || now - m->crashes_since < cfg->recover_window_ms)
		return;
	if (m->crashes > cfg->recover_max)
		log_error("%u more worker deaths within %u ms were not logged one by one",
			  m->crashes - cfg->recover_max, cfg->recover_window_ms);
	m->crashes = 0;
}

/*
 * A worker that dies while serving is replaced at once, however often it happens: the
 * cause is one request (a poison URL), not the worker, and a back-off would turn that
 * request into an outage of the whole site. Only the log is limited: recover.max lines
 * per recover.window, then one line counting the rest.
 */
static void crash_log(struct master *m, unsigned i, pid_t pid, const char *how, uint64_t now)
{
	crash_log_roll(m, now);
	if (!m->crashes++)
		m->crashes_since = now;
	if (m->crashes <= m->cur->srv->cfg->recover_max)
		log_error("worker %u (pid %d) %s; respawning", i, (int)pid, how);
}

static void abort_reload(struct master *m, const char *why)
{
	struct generation *g = m->pending;

	log_error("reload failed: %s; generation %u keeps serving", why, m->cur->srv->generation);
	server_listen_undo(g->srv);
	reload_done(m, g->reload, "error %s", why);
	m->pending = NULL;
	drain(m, g, SIGTERM);
}

static void worker_died(struct master *m, pid_t pid, int status)
{
	struct generation *gens[] = {m->cur, m->pending};
	char how[96], why[800];

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
				const char *note = g->notes + (size_t)i * NOTE_LEN;

				snprintf(why, sizeof(why),
					 "worker %u (pid %d) of generation %u %s before it was "
					 "ready%s%s",
					 i, (int)pid, g->srv->generation, how, note[0] ? ": " : "",
					 note);
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
			slot->last_pid = pid;
			if (slot->ready) {
				slot->respawn_at = timer_now_ms();
				crash_log(m, i, pid, how, slot->respawn_at);
				return;
			}
			log_error("worker %u (pid %d) %s before it was ready; respawning", i,
				  (int)pid, how);
			slot->respawn_at = respawn_time(m, timer_now_ms(), g->alive == 0);
			return;
		}
	}
}

static void reap(struct master *m)
{
	int status;
	pid_t pid;

	/* A worker that reported ready and then died is a crash, not a failed start. */
	read_notifications(m);
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		worker_died(m, pid, status);
}

/* "warren -s" finds the master by its pid file: moving it would lose the master. */
static bool same_pid_file(const struct master *m, const struct config *cfg,
			  struct warren_error *err)
{
	const char *now = m->pid_file, *next = cfg->pid_file;

	if (now && next ? config_same_file(now, next) : now == next)
		return true;
	warren_error_set(err,
			 "pid_file: cannot change on reload (from %s to %s): put the old value "
			 "back, or restart warren to apply it",
			 now ? now : "none", next ? next : "none");
	return false;
}

static void reload(struct master *m)
{
	struct warren_error err = {{0}};
	struct generation *g;
	struct config *cfg;
	struct server *srv;

	m->reload_asked = false;
	m->reloads_started++;
	reload_status(m, NULL);
	log_info("reload: reading %s", m->conf_path);
	/* A module that crashes or hangs in init, configure or fini does so in a trial child
	 * first, not in the master: see docs/process-model.md. */
	if (run_guarded(trial_load, m, &err) < 0)
		goto out_fail;
	if (config_load_file(m->conf_path, &cfg, &err) < 0)
		goto out_fail;
	if (!same_pid_file(m, cfg, &err)) {
		config_free(cfg);
		goto out_fail;
	}
	for (size_t i = 0; i < cfg->nwarnings; i++)
		log_warn("reload: %s: %s", m->conf_path, cfg->warnings[i]);
	if (backend_probe(&cfg->event, &err) < 0) {
		config_free(cfg);
		goto out_fail;
	}
	if (server_load(cfg, m->cur->srv->generation + 1, &srv, &err) < 0)
		goto out_fail;
	if (server_listen(srv, m->cur->srv, &err) < 0) {
		server_listen_undo(srv);
		server_free(srv);
		goto out_fail;
	}
	g = gen_new(srv);
	if (!g) {
		server_free(srv);
		warren_error_set(&err, "out of memory");
		goto out_fail;
	}
	g->reload = m->reloads_started;
	m->pending = g;
	warren__log_set_level(cfg->log_level);
	if (spawn_all(m, g) < 0)
		abort_reload(m, "cannot fork the new workers");
	return;

out_fail:
	log_error("reload failed: %s: %s; generation %u keeps serving", m->conf_path, err.msg,
		  m->cur->srv->generation);
	reload_done(m, m->reloads_started, "error %s: %s", m->conf_path, err.msg);
}

/*
 * "warren -s reopen" waits for a line naming its own pid in PID_FILE.reopen: "PID ok WHAT"
 * or "PID error WHY". Reopens are instant, so unlike reloads they need no queue.
 */
static void reopen_status(struct master *m, pid_t requester, const char *fmt, ...)
	WARREN_PRINTF(3, 4);

static void reopen_status(struct master *m, pid_t requester, const char *fmt, ...)
{
	char path[4200], text[1100];
	va_list ap;
	int n;

	if (!m->pid_file)
		return;
	n = snprintf(text, sizeof(text), "%d ", (int)requester);
	va_start(ap, fmt);
	vsnprintf(text + n, sizeof(text) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	strcat(text, "\n");
	snprintf(path, sizeof(path), "%s.reopen", m->pid_file);
	write_file_atomic(path, text);
}

static void reopen_logs(struct master *m, pid_t requester)
{
	const char *file = m->cur->srv->cfg->log_file;
	int ret;

	if (file) {
		ret = warren__log_open(file);
		if (ret < 0) {
			log_error("cannot reopen %s: %s", file, strerror(-ret));
			reopen_status(m, requester, "error cannot reopen %s: %s", file,
				      strerror(-ret));
		} else {
			log_info("log file reopened");
			reopen_status(m, requester, "ok log file %s reopened by master pid %d",
				      file, (int)m->pid);
		}
	} else {
		reopen_status(m, requester,
			      "ok no log_file: master pid %d logs to stderr, nothing to reopen",
			      (int)m->pid);
	}
	/* Every generation the master holds has its modules' data, and their files, open. */
	server_hook_reopen(m->cur->srv, false);
	if (m->pending)
		server_hook_reopen(m->pending->srv, false);
	for (struct generation *g = m->old; g; g = g->next)
		server_hook_reopen(g->srv, false);
	/* A reload's workers still starting too: they inherited the master's blocked USR1,
	 * so it waits for their signalfd, and they go on writing to the new files. */
	gen_signal(m->cur, SIGUSR1);
	if (m->pending)
		gen_signal(m->pending, SIGUSR1);
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
	if (m->pending) {
		gen_signal(m->pending, sig);
		reload_done(m, m->pending->reload, "error the server is stopping");
	}
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
		if (!m->stopping) {
			m->reload_asked = true; /* started by the loop when it can */
			break;
		}
		m->reloads_started++;
		reload_done(m, m->reloads_started, "error the server is stopping");
		break;
	case SIGUSR1:
		reopen_logs(m, (pid_t)si->ssi_pid);
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
			unsigned gen = g->srv->generation;

			*p = g->next;
			/* Logged once its modules' fini ran: the line says the generation is gone. */
			gen_free(m, g);
			log_info("generation %u retired", gen);
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
		switch (watchdog_look(&slot->wd, slot->pid, slot->ready, beat, now, kill_ms,
				      WATCHDOG_GRACE_MS)) {
		case WATCHDOG_NONE:
			break;
		case WATCHDOG_ABORT:
			log_error("worker %u (pid %d): no event loop progress for %u ms "
				  "(watchdog.kill); aborting it",
				  i, (int)slot->pid, kill_ms);
			sigqueue(slot->pid, SIGABRT, (union sigval){.sival_int = (int)kill_ms});
			break;
		case WATCHDOG_KILL:
			log_error("worker %u (pid %d) did not die of the watchdog's SIGABRT; "
				  "killing it",
				  i, (int)slot->pid);
			kill(slot->pid, SIGKILL);
			break;
		}
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
	if (m->crashes > m->cur->srv->cfg->recover_max &&
	    m->crashes_since + m->cur->srv->cfg->recover_window_ms < next)
		next = m->crashes_since + m->cur->srv->cfg->recover_window_ms;
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
		read_notifications(m);
		while (read(m->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			handle_signal(m, &si);
		/* Signals coalesce: a second SIGCHLD may have merged into the first. */
		reap(m);
		now = timer_now_ms();
		sweep(m, now);
		crash_log_roll(m, now);
		if (!m->stopping) {
			/* One reload at a time; SIGHUPs meanwhile are answered by the next one. */
			if (m->reload_asked && m->cur->serving && !m->pending)
				reload(m);
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
	reload_status(&m, NULL);
	if (crash_budget_map() < 0)
		log_warn("crash reports of workers will not be rate-limited: %s", strerror(errno));
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
		snprintf(path, sizeof(path), "%s.reopen", m.pid_file);
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

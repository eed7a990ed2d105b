/* core/server/control.c - "warren -s ACTION": signals the master named by the config's pid_file and,
 * unlike a bare kill, waits and says whether it worked (a reload reports the new
 * generation or the exact error, a reopen which file it reopened; stop and quit wait until
 * the master is gone). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/config.h"
#include "server/control.h"
#include "base/timer.h"

#define POLL_MS 10
#define RELOAD_WAIT_MS 30000
#define STOP_WAIT_MARGIN_MS 5000

static void pause_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Gone, or a zombie nobody has reaped yet: either way it stopped. */
static bool process_gone(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	return p && p[1] == ' ' && p[2] == 'Z';
}

static int read_pid(const char *file, pid_t *pid)
{
	FILE *f = fopen(file, "r");
	int v = 0, n;

	if (!f) {
		fprintf(stderr, "warren: cannot read pid file %s: %s (is warren running?)\n", file,
			strerror(errno));
		return -1;
	}
	n = fscanf(f, "%d", &v);
	fclose(f);
	if (n != 1 || v <= 1) {
		fprintf(stderr, "warren: pid file %s does not hold a process id\n", file);
		return -1;
	}
	*pid = v;
	if (process_gone(*pid)) {
		fprintf(stderr, "warren: no process %d: the pid file %s is stale\n", v, file);
		return -1;
	}
	return 0;
}

/*
 * The master keeps "STARTED DONE RESULT" in PID_FILE.reload: how many reloads have started,
 * and the number and result ("ok generation N", "error ...") of the last one to finish.
 * Reads it into @line (RESULT at *result); 0 when the file is not there yet.
 */
static unsigned read_reloads(const char *path, unsigned *done, char *line, size_t len,
			     const char **result)
{
	unsigned started = 0;
	int at = 0;
	FILE *f = fopen(path, "r");

	*done = 0;
	*result = "";
	if (!f)
		return 0;
	if (fgets(line, (int)len, f) && sscanf(line, "%u %u %n", &started, done, &at) == 2 &&
	    at > 0) {
		line[strcspn(line, "\n")] = '\0';
		*result = line + at;
	}
	fclose(f);
	return started;
}

/*
 * The answer to this caller, or NULL while there is none. A reload is answered by one that
 * started after @before reloads had (one that read the config after this caller asked;
 * reloads asked for together, or during one, share the next one). A reopen is answered by
 * the line "PID ok WHAT" or "PID error WHY" in PID_FILE.reopen that names this process.
 */
static const char *read_answer(const char *path, int sig, unsigned before, char *line, size_t len)
{
	char mine[32];
	const char *what;
	unsigned done;
	bool got;
	FILE *f;

	if (sig == SIGHUP) {
		read_reloads(path, &done, line, len, &what);
		return done > before ? what : NULL;
	}
	f = fopen(path, "r");
	if (!f)
		return NULL;
	snprintf(mine, sizeof(mine), "%d ", (int)getpid());
	got = fgets(line, (int)len, f) && strncmp(line, mine, strlen(mine)) == 0;
	fclose(f);
	if (!got)
		return NULL;
	line[strcspn(line, "\n")] = '\0';
	return line + strlen(mine);
}

/* Prints "warren: @before WHAT @after" for "ok WHAT", or "warren: @action failed: WHY". */
static int wait_answer(const char *path, int sig, unsigned before, pid_t master, const char *action,
		       const char *prefix, const char *suffix)
{
	uint64_t deadline = timer_now_ms() + RELOAD_WAIT_MS;
	char line[1100];

	while (timer_now_ms() < deadline) {
		const char *what = read_answer(path, sig, before, line, sizeof(line));

		if (what) {
			if (strncmp(what, "ok ", 3) == 0) {
				printf("warren: %s%s%s\n", prefix, what + 3, suffix);
				return 0;
			}
			fprintf(stderr, "warren: %s failed: %s\n", action,
				strncmp(what, "error ", 6) == 0 ? what + 6 : what);
			return 1;
		}
		if (process_gone(master)) {
			fprintf(stderr, "warren: the master (pid %d) exited during the %s\n",
				(int)master, action);
			return 1;
		}
		pause_ms(POLL_MS);
	}
	fprintf(stderr, "warren: no answer to the %s from pid %d within %d s\n", action,
		(int)master, RELOAD_WAIT_MS / 1000);
	return 1;
}

static int wait_gone(pid_t master, unsigned ms)
{
	uint64_t deadline = timer_now_ms() + ms;

	while (timer_now_ms() < deadline) {
		if (process_gone(master)) {
			printf("warren: stopped (pid %d)\n", (int)master);
			return 0;
		}
		pause_ms(POLL_MS);
	}
	fprintf(stderr, "warren: pid %d is still running after %u s\n", (int)master, ms / 1000);
	return 1;
}

int control_run(const char *file, const char *action)
{
	static const struct {
		const char *name;
		int sig;
	} actions[] = {{"stop", SIGTERM},
		       {"quit", SIGQUIT},
		       {"reload", SIGHUP},
		       {"reopen", SIGUSR1}};
	struct warren_error err = {{0}};
	struct config *cfg;
	char path[4200], line[1100];
	unsigned before = 0, done;
	int sig = 0, ret = 1;
	const char *what;
	pid_t master;

	for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
		if (strcmp(action, actions[i].name) == 0)
			sig = actions[i].sig;
	if (!sig) {
		fprintf(stderr, "warren: -s %s: expected stop, quit, reload or reopen\n", action);
		return 1;
	}
	if (config_load_file(file, &cfg, &err) < 0) {
		fprintf(stderr, "warren: %s: %s\n", file, err.msg);
		return 1;
	}
	if (!cfg->pid_file) {
		fprintf(stderr, "warren: %s: -s needs \"pid_file\" in the configuration\n", file);
		goto out_free_cfg;
	}
	if (read_pid(cfg->pid_file, &master) < 0)
		goto out_free_cfg;
	snprintf(path, sizeof(path), "%s.reload", cfg->pid_file);
	if (sig == SIGHUP)
		before = read_reloads(path, &done, line, sizeof(line), &what);
	if (kill(master, sig) < 0) {
		fprintf(stderr, "warren: cannot signal pid %d: %s\n", (int)master, strerror(errno));
		goto out_free_cfg;
	}
	switch (sig) {
	case SIGHUP:
		ret = wait_answer(path, sig, before, master, "reload", "reload done: ", " serving");
		break;
	case SIGUSR1:
		snprintf(path, sizeof(path), "%s.reopen", cfg->pid_file);
		ret = wait_answer(path, sig, 0, master, "reopen", "", "");
		break;
	case SIGTERM:
		ret = wait_gone(master, STOP_WAIT_MARGIN_MS * 2);
		break;
	case SIGQUIT:
		ret = wait_gone(master, cfg->shutdown_timeout_ms + STOP_WAIT_MARGIN_MS);
		break;
	default:
		ret = 0;
	}

out_free_cfg:
	config_free(cfg);
	return ret;
}

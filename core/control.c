/* core/control.c - "warren -s ACTION": signals the master named by the config's pid_file and,
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

#include "config.h"
#include "control.h"
#include "timer.h"

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
 * For reload and reopen the master writes "<requester pid> ok WHAT" or "<requester pid>
 * error WHY" to PID_FILE.reload. Prints "warren: @before WHAT @after" or "warren: @action
 * failed: WHY".
 */
static int wait_answer(const char *pid_file, pid_t master, const char *action, const char *before,
		       const char *after)
{
	uint64_t deadline = timer_now_ms() + RELOAD_WAIT_MS;
	char path[4200], line[1100], mine[32];

	snprintf(path, sizeof(path), "%s.reload", pid_file);
	snprintf(mine, sizeof(mine), "%d ", (int)getpid());
	while (timer_now_ms() < deadline) {
		FILE *f = fopen(path, "r");

		if (f) {
			bool got = fgets(line, sizeof(line), f) &&
				   strncmp(line, mine, strlen(mine)) == 0;

			fclose(f);
			if (got) {
				const char *what = line + strlen(mine);

				line[strcspn(line, "\n")] = '\0';
				if (strncmp(what, "ok", 2) == 0) {
					printf("warren: %s%s%s\n", before, what + 3, after);
					return 0;
				}
				fprintf(stderr, "warren: %s failed: %s\n", action,
					strncmp(what, "error ", 6) == 0 ? what + 6 : what);
				return 1;
			}
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
	int sig = 0, ret = 1;
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
	if (kill(master, sig) < 0) {
		fprintf(stderr, "warren: cannot signal pid %d: %s\n", (int)master, strerror(errno));
		goto out_free_cfg;
	}
	switch (sig) {
	case SIGHUP:
		ret = wait_answer(cfg->pid_file, master, "reload", "reload done: ", " serving");
		break;
	case SIGUSR1:
		ret = wait_answer(cfg->pid_file, master, "reopen", "", "");
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

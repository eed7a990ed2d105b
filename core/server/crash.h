/* core/server/crash.h - the last words of a worker killed by a fatal signal. */
#ifndef WARREN_CORE_CRASH_H
#define WARREN_CORE_CRASH_H

#include <stddef.h>

struct worker;

/*
 * Installs handlers for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT (on an alternate
 * stack, so a stack overflow is reported too) that log which module code was running and
 * on which request line, then die of the same signal so the master sees the real cause.
 * A SIGABRT the master queued is its watchdog's, and is reported as such.
 */
int crash_guard_install(struct worker *w);

/*
 * Maps the page on which the workers forked after it share one budget for crash reports:
 * recover.max lines per recover.window, so that a URL that crashes every worker it reaches
 * cannot flood the log. A report over budget is not written; the worker still dies of
 * its signal, and the master counts the deaths it did not log one by one.
 */
int crash_budget_map(void);

/*
 * Which module hook the master is running (init, configure, fini), for a report that
 * names it if it crashes or hangs. Kept in one shared page mapped before any module code
 * runs, so that it is also what a forked child doing a trial load was running when it died.
 */
struct hook_trace {
	char module[64];
	char hook[32];
};

/* Maps the page; before the first module hook runs. */
int hook_trace_map(void);
void hook_enter(const char *module, const char *hook);
void hook_leave(void);
/* What runs now: "module \"x\": init", or "" outside any module hook. */
void hook_trace_describe(char *buf, size_t len);
/* In the master at start-up and for -t: a fatal signal in a module hook first prints
 * "warren: module "x": init crashed (SIGSEGV)", then kills the process as before. */
int crash_guard_hooks(void);

#endif /* WARREN_CORE_CRASH_H */

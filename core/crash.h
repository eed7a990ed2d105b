/* core/crash.h - the last words of a worker killed by a fatal signal. */
#ifndef WARREN_CORE_CRASH_H
#define WARREN_CORE_CRASH_H

struct conn;
struct worker;

/* What the worker is running, for the crash report; set around every module call. */
struct crash_context {
	const char *what;     /* "hello.greet", or a hook name */
	const struct conn *c; /* the request being served, or NULL */
};

/*
 * Installs handlers for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT (on an alternate
 * stack, so a stack overflow is reported too) that log which module code was running and
 * on which request line, then die of the same signal so the master sees the real cause.
 * A SIGABRT the master queued is its watchdog's, and is reported as such.
 */
int crash_guard_install(struct worker *w);

#endif /* WARREN_CORE_CRASH_H */

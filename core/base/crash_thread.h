/* core/base/crash_thread.h - which module code a thread other than the loop runs, for the
 * report of a fatal signal that thread takes. */
#ifndef WARREN_CORE_BASE_CRASH_THREAD_H
#define WARREN_CORE_BASE_CRASH_THREAD_H

/*
 * Module code run outside a request (worker_init, worker_exit) or on an offload thread:
 * the report names @what followed by @suffix ("badinit" ".worker_init", "slowlookup.resolve"
 * " (offload work)"). Both must outlive the call. Per thread, because offload threads run
 * module code while the loop runs other module code, and a fault is reported by the
 * thread that took it.
 */
void crash_thread_enter(const char *what, const char *suffix);
void crash_thread_leave(void);
/* What the calling thread runs (NULL outside crash_thread_enter()), and its suffix;
 * async-signal-safe. */
const char *crash_thread_what(const char **suffix);

#endif /* WARREN_CORE_BASE_CRASH_THREAD_H */

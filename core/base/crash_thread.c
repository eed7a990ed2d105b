/* core/base/crash_thread.c - which module code a thread other than the loop runs, for the
 * report of a fatal signal that thread takes. */
#include <stddef.h>

#include "base/crash_thread.h"
#include "base/shm.h"

/* Per thread, see crash_thread.h; read by a signal handler on the same thread. */
static __thread const char *thread_what, *thread_suffix;

void crash_thread_enter(const char *what, const char *suffix)
{
	thread_what = what;
	thread_suffix = suffix;
	shm_call_enter();
}

void crash_thread_leave(void)
{
	if (shm_call_kept())
		shm_release_held("", "%s%s", thread_what ? thread_what : "?",
				 thread_suffix ? thread_suffix : "");
	shm_call_leave();
	thread_what = NULL;
}

const char *crash_thread_what(const char **suffix)
{
	*suffix = thread_suffix;
	return thread_what;
}

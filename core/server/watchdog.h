/* core/server/watchdog.h - the master's clock of one worker's loop progress: when a worker
 * that is ready has made none for watchdog.kill, and when the one it signalled is overdue. */
#ifndef WARREN_CORE_WATCHDOG_H
#define WARREN_CORE_WATCHDOG_H

#include <sys/types.h>

#include "base/common.h"

struct watchdog_clock {
	uint64_t beat;	  /* the worker's beat count last seen ... */
	uint64_t since;	  /* ... and since when it has not moved */
	pid_t signalled;  /* the worker sent SIGABRT, to be SIGKILLed at kill_at */
	uint64_t kill_at; /* 0: none signalled; UINT64_MAX: SIGKILL sent */
};

enum watchdog_action {
	WATCHDOG_NONE,
	WATCHDOG_ABORT, /* stuck for kill_ms: SIGABRT it (the clock now waits for its death) */
	WATCHDOG_KILL,	/* it did not die of SIGABRT within @grace_ms: SIGKILL it */
};

/* The worker reported ready at @now with beat count @beat: its clock starts there. */
void watchdog_ready(struct watchdog_clock *wc, uint64_t beat, uint64_t now);

/*
 * One look at worker @pid (@ready: it reported ready) whose beat count is @beat at @now.
 * A count that moved, or is odd (the loop is waiting for events), is progress.
 */
enum watchdog_action watchdog_look(struct watchdog_clock *wc, pid_t pid, bool ready, uint64_t beat,
				   uint64_t now, unsigned kill_ms, unsigned grace_ms);

#endif /* WARREN_CORE_WATCHDOG_H */

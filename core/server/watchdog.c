/* core/server/watchdog.c - the clock the master keeps per worker for watchdog.kill, apart
 * from the signals and the logging so that its timing can be tested on its own. */
#include "server/watchdog.h"

void watchdog_ready(struct watchdog_clock *wc, uint64_t beat, uint64_t now)
{
	/* Not at a look taken before: a worker ready before the first look would be
	 * measured from a zeroed clock and found stuck at once. */
	wc->beat = beat;
	wc->since = now;
	wc->kill_at = 0;
}

enum watchdog_action watchdog_look(struct watchdog_clock *wc, pid_t pid, bool ready, uint64_t beat,
				   uint64_t now, unsigned kill_ms, unsigned grace_ms)
{
	if (wc->kill_at && wc->signalled == pid) {
		if (now < wc->kill_at)
			return WATCHDOG_NONE;
		wc->kill_at = UINT64_MAX;
		return WATCHDOG_KILL;
	}
	if (!ready || beat != wc->beat || (beat & 1)) {
		wc->beat = beat;
		wc->since = now;
		wc->kill_at = 0;
		return WATCHDOG_NONE;
	}
	if (now - wc->since < kill_ms)
		return WATCHDOG_NONE;
	wc->signalled = pid;
	wc->kill_at = now + grace_ms;
	return WATCHDOG_ABORT;
}

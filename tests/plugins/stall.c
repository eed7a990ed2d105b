/* tests/plugins/stall.c - handlers that hold their worker's event loop, for the watchdog
 * tests: one for a while (a blocking call made on the loop), one for ever (a deadlock);
 * and one that holds it for a while and then answers from a request timer. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <warren/module.h>

/* Longer than the tests' watchdog.warn, far shorter than their watchdog.kill. */
#define SLEEP_MS 300
#define TIMER_MS 300

static int answer(struct warren_request *r, const char *text)
{
	if (warren_resp_body(r, text, strlen(text)) < 0)
		return -ENOMEM;
	return WARREN_DONE;
}

static int sleep_handler(struct warren_request *r, void *data)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = SLEEP_MS * 1000000L};

	(void)data;
	while (nanosleep(&ts, &ts) < 0)
		;
	return answer(r, "slept\n");
}

static void timer_answer(struct warren_request *r, void *arg)
{
	(void)arg;
	if (warren_resp_body(r, "timer\n", 6) < 0)
		warren_resp_status(r, 500);
	warren_resp_send(r);
}

/* Arms a timer of TIMER_MS after the sleep: it must count from then, not from before. */
static int sleep_timer_handler(struct warren_request *r, void *data)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = SLEEP_MS * 1000000L};

	(void)data;
	while (nanosleep(&ts, &ts) < 0)
		;
	if (warren_timer_add(r, TIMER_MS, timer_answer, NULL, NULL) < 0)
		return -ENOMEM;
	return WARREN_ASYNC;
}

static int forever_handler(struct warren_request *r, void *data)
{
	(void)r;
	(void)data;
	for (;;)
		pause();
	return WARREN_DONE;
}

static const struct warren_handler handlers[] = {
	{.name = "sleep", .handle = sleep_handler},
	{.name = "forever", .handle = forever_handler},
	{.name = "sleep_timer", .handle = sleep_timer_handler},
	{.name = NULL},
};

WARREN_MODULE(stall, .handlers = handlers, );

/* tests/plugins/crash.c - handlers that crash their worker on every request: "now" in the
 * handler itself, "offload" in the work it hands to an offload thread. */
#include <errno.h>
#include <signal.h>

#include <warren/module.h>

static int crash(struct warren_request *r, void *data)
{
	(void)r;
	(void)data;
	raise(SIGSEGV);
	return WARREN_DONE;
}

static void crash_work(void *arg)
{
	(void)arg;
	raise(SIGSEGV);
}

static void never_done(struct warren_request *r, void *arg)
{
	(void)arg;
	warren_resp_status(r, 500);
	warren_resp_send(r);
}

static int crash_offload(struct warren_request *r, void *data)
{
	(void)data;
	if (warren_offload(r, crash_work, never_done, NULL) < 0)
		return -EIO;
	return WARREN_ASYNC;
}

static const struct warren_handler handlers[] = {
	{.name = "now", .handle = crash},
	{.name = "offload", .handle = crash_offload},
	{.name = NULL},
};

WARREN_MODULE(crash, .handlers = handlers, );

/* plugins/blocking/blocking.c - calls a blocking function (nanosleep) the way any blocking
 * library call should be made: on an offload thread, answering from the loop afterwards.
 *
 * Handler blocking.sleep. Route config (optional): { "ms": 100 }
 *   ms:  how long the offload thread sleeps, 0 to 60000 milliseconds (100 by default).
 * A query parameter "?ms=N" (0 to 60000) overrides it for one request; any other value of
 * it is answered with 400. The response is "slept <ms> ms\n".
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <warren/module.h>

#define DEFAULT_MS 100
#define MAX_MS 60000

/*
 * One offloaded sleep. malloc'd rather than taken from the pool to show the general rule:
 * the request's cleanups run only once the work function has returned, so a cleanup is
 * the one safe place to free what the work function uses.
 */
struct job {
	uint32_t ms;
	bool answered; /* loop thread only: the request got its response */
};

static int sleep_configure(const json_t *config, void *module_data, void **route_data,
			   struct warren_error *err)
{
	static const char *const keys[] = {"ms", NULL};
	long long ms = DEFAULT_MS;
	uint32_t *data;

	(void)module_data;
	if (warren_conf_keys(config, keys, err) < 0 ||
	    warren_conf_int(config, "ms", 0, 0, MAX_MS, &ms, err) < 0)
		return -EINVAL;
	data = malloc(sizeof(*data));
	if (!data)
		return -ENOMEM;
	*data = (uint32_t)ms;
	*route_data = data;
	return 0;
}

static int answer_text(struct warren_request *r, int status, const char *text)
{
	int ret;

	ret = warren_resp_status(r, status);
	if (ret == 0)
		ret = warren_resp_header(r, "Content-Type", "text/plain; charset=utf-8");
	if (ret == 0)
		ret = warren_resp_body(r, text, strlen(text));
	return ret;
}

/* Offload thread: no warren calls here, only the blocking call itself. */
static void work(void *arg)
{
	const struct job *job = arg;
	struct timespec left = {
		.tv_sec = job->ms / 1000,
		.tv_nsec = (long)(job->ms % 1000) * 1000000,
	};

	while (nanosleep(&left, &left) < 0 && errno == EINTR)
		;
}

/* Back on the loop, and only if the request is still there. */
static void done(struct warren_request *r, void *arg)
{
	struct job *job = arg;
	int ret;

	job->answered = true;
	ret = warren_resp_header(r, "Content-Type", "text/plain; charset=utf-8");
	if (ret == 0)
		ret = warren_resp_printf(r, "slept %u ms\n", job->ms);
	if (ret < 0) {
		warren_req_log(r, WARREN_LOG_ERROR, "blocking: cannot build the response: %s",
			       strerror(-ret));
		warren_resp_status(r, 500);
		warren_resp_body(r, "", 0);
	}
	warren_resp_send(r);
}

static void job_release(void *arg)
{
	struct job *job = arg;

	if (!job->answered)
		warren_log(WARREN_LOG_DEBUG, "blocking: a %u ms sleep outlived its request",
			   job->ms);
	free(job);
}

static int sleep_handler(struct warren_request *r, void *route_data)
{
	const uint32_t *route_ms = route_data;
	uint64_t ms = *route_ms;
	struct job *job;
	int ret;

	ret = warren_req_query_uint(r, "ms", MAX_MS, &ms);
	if (ret == -EINVAL) {
		ret = answer_text(r, 400, "ms: expected an integer from 0 to 60000\n");
		return ret < 0 ? ret : WARREN_DONE;
	}
	if (ret < 0 && ret != -ENOENT)
		return ret;
	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	job->ms = (uint32_t)ms;
	ret = warren_req_cleanup(r, job_release, job);
	if (ret < 0) {
		free(job);
		return ret;
	}
	ret = warren_offload(r, work, done, job);
	if (ret < 0) {
		job->answered = true; /* nothing was started that could outlive the request */
		if (ret != -EAGAIN)
			return ret;
		/* No thread to run it on: a passing condition, so 503 rather than 500. */
		warren_req_log(r, WARREN_LOG_ERROR, "blocking: cannot start offload threads");
		ret = answer_text(r, 503, "503 Service Unavailable\n");
		return ret < 0 ? ret : WARREN_DONE;
	}
	warren_req_log(r, WARREN_LOG_DEBUG, "blocking: sleeping %u ms on an offload thread",
		       job->ms);
	return WARREN_ASYNC;
}

static const struct warren_handler blocking_handlers[] = {
	{.name = "sleep", .handle = sleep_handler, .configure = sleep_configure, .release = free},
	{.name = NULL},
};

WARREN_MODULE(blocking, .version = "1.0", .handlers = blocking_handlers, );

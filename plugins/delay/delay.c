/* plugins/delay/delay.c - answers after a delay without holding up the worker: the handler
 * arms a request timer and returns WARREN_ASYNC, and the timer sends the response.
 *
 * Handler delay.wait. Route config (optional): { "ms": 100, "text": "body to send" }
 *   ms:    the delay, 0 to 60000 milliseconds (100 by default);
 *   text:  the response body (default "waited <ms> ms\n").
 * A query parameter "?ms=N" (0 to 60000) overrides the route's delay for one request;
 * any other value of it is answered with 400.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <warren/module.h>

#define DEFAULT_MS 100
#define MAX_MS 60000

struct delay_route {
	uint32_t ms;
	char *text; /* NULL: say how long we waited */
};

/* What the timer needs once the handler has returned. */
struct pending {
	const struct delay_route *route;
	uint32_t ms;
};

static void delay_route_free(void *data)
{
	struct delay_route *d = data;

	free(d->text);
	free(d);
}

static int wait_configure(const json_t *config, void *module_data, void **route_data,
			  struct warren_error *err)
{
	static const char *const keys[] = {"ms", "text", NULL};
	long long ms = DEFAULT_MS;
	const char *text = NULL;
	struct delay_route *d;

	(void)module_data;
	if (warren_conf_keys(config, keys, err) < 0 ||
	    warren_conf_int(config, "ms", 0, 0, MAX_MS, &ms, err) < 0 ||
	    warren_conf_string(config, "text", 0, 0, &text, err) < 0)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->ms = (uint32_t)ms;
	if (text) {
		d->text = strdup(text);
		if (!d->text) {
			free(d);
			return -ENOMEM;
		}
	}
	*route_data = d;
	return 0;
}

static int bad_request(struct warren_request *r)
{
	int ret;

	ret = warren_resp_status(r, 400);
	if (ret == 0)
		ret = warren_resp_header(r, "Content-Type", "text/plain; charset=utf-8");
	if (ret == 0)
		ret = warren_resp_printf(r, "ms: expected an integer from 0 to %d\n", MAX_MS);
	return ret < 0 ? ret : WARREN_DONE;
}

static void fire(struct warren_request *r, void *arg)
{
	const struct pending *p = arg;
	int ret;

	ret = warren_resp_header(r, "Content-Type", "text/plain; charset=utf-8");
	if (ret == 0 && p->route->text)
		ret = warren_resp_body(r, p->route->text, strlen(p->route->text));
	else if (ret == 0)
		ret = warren_resp_printf(r, "waited %u ms\n", p->ms);
	if (ret < 0) {
		/* No handler return value is left to carry the error: answer 500 ourselves. */
		warren_req_log(r, WARREN_LOG_ERROR, "delay: cannot build the response: %s",
			       strerror(-ret));
		warren_resp_status(r, 500);
		warren_resp_body(r, "", 0);
	}
	warren_resp_send(r);
}

static void aborted(struct warren_request *r, void *arg)
{
	const struct pending *p = arg;

	/* warren cancels the timer itself; this only tells whoever reads the debug log. */
	warren_req_log(r, WARREN_LOG_DEBUG, "delay: aborted before %u ms passed", p->ms);
}

static int wait_handler(struct warren_request *r, void *route_data)
{
	const struct delay_route *d = route_data;
	struct pending *p;
	uint64_t ms = d->ms;
	int ret;

	ret = warren_req_query_uint(r, "ms", MAX_MS, &ms);
	if (ret == -EINVAL)
		return bad_request(r);
	if (ret < 0 && ret != -ENOENT)
		return ret;
	/* Pool memory: it lives exactly as long as the request, which outlives the timer. */
	p = warren_req_alloc(r, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->route = d;
	p->ms = (uint32_t)ms;
	ret = warren_timer_add(r, ms, fire, p, NULL);
	if (ret < 0)
		return ret;
	warren_req_on_abort(r, aborted, p);
	warren_req_log(r, WARREN_LOG_DEBUG, "delay: waiting %u ms", p->ms);
	return WARREN_ASYNC;
}

static const struct warren_handler delay_handlers[] = {
	{.name = "wait",
	 .handle = wait_handler,
	 .configure = wait_configure,
	 .release = delay_route_free},
	{.name = NULL},
};

WARREN_MODULE(delay, .version = "1.0", .handlers = delay_handlers, );

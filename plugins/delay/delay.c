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
	json_int_t ms = DEFAULT_MS;
	const char *text = NULL;
	struct delay_route *d;
	json_error_t jerr;

	(void)module_data;
	if (json_unpack_ex((json_t *)config, &jerr, JSON_STRICT, "{s?I, s?s}", "ms", &ms, "text",
			   &text) < 0) {
		warren_error_set(err, "%s", jerr.text);
		return -EINVAL;
	}
	if (ms < 0 || ms > MAX_MS) {
		warren_error_set(err, "ms: expected 0 to %d, got %" JSON_INTEGER_FORMAT, MAX_MS,
				 ms);
		return -EINVAL;
	}
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

/*
 * The "ms" query parameter: 0 when absent (*ms untouched), 1 when valid, or -EINVAL for
 * anything but plain decimal digits within range, so that "1e3" or "-5" are not taken
 * for something they do not say.
 */
static int query_ms(struct warren_request *r, uint32_t *ms)
{
	struct warren_str v;
	uint32_t n = 0;
	int ret;

	ret = warren_req_query_param(r, "ms", &v);
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	if (v.len == 0)
		return -EINVAL;
	for (size_t i = 0; i < v.len; i++) {
		if (v.base[i] < '0' || v.base[i] > '9')
			return -EINVAL;
		n = n * 10 + (uint32_t)(v.base[i] - '0');
		if (n > MAX_MS)
			return -EINVAL;
	}
	*ms = n;
	return 1;
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
	uint32_t ms = d->ms;
	int ret;

	ret = query_ms(r, &ms);
	if (ret == -EINVAL)
		return bad_request(r);
	if (ret < 0)
		return ret;
	/* Pool memory: it lives exactly as long as the request, which outlives the timer. */
	p = warren_req_alloc(r, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->route = d;
	p->ms = ms;
	ret = warren_timer_add(r, ms, fire, p, NULL);
	if (ret < 0)
		return ret;
	warren_req_on_abort(r, aborted, p);
	warren_req_log(r, WARREN_LOG_DEBUG, "delay: waiting %u ms", ms);
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

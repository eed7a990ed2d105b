/* plugins/counter/counter.c - counts requests across every worker in a shared-memory zone,
 * the answer to prefork's "no global state": the count is exact however many workers
 * serve, and it survives a reload because the zone is looked up again by name.
 *
 * Module config (optional): { "zone": "counter.hits" }
 * Handler counter.count answers "<n>\n", n being this request's number across all workers.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <warren/module.h>

struct counter {
	atomic_ulong hits;
};

static int counter_init(const json_t *config, void **module_data, struct warren_error *err)
{
	static const char *const keys[] = {"zone", NULL};
	const char *zone = "counter.hits";
	void *mem;
	int ret;

	if (warren_conf_keys(config, keys, err) < 0 ||
	    warren_conf_string(config, "zone", 0, 64, &zone, err) < 0)
		return -EINVAL;
	ret = warren_shm_zone(zone, sizeof(struct counter), &mem);
	if (ret < 0) {
		warren_conf_error(err, config, "zone", "shared zone \"%s\": %s", zone,
				  strerror(-ret));
		return ret;
	}
	*module_data = mem;
	return 0;
}

static int configure(const json_t *config, void *module_data, void **route_data,
		     struct warren_error *err)
{
	(void)config;
	(void)err;
	*route_data = module_data;
	return 0;
}

static int count(struct warren_request *r, void *route_data)
{
	struct counter *c = route_data;
	unsigned long n = atomic_fetch_add_explicit(&c->hits, 1, memory_order_relaxed) + 1;
	int ret;

	ret = warren_resp_header(r, "Content-Type", "text/plain");
	if (ret == 0)
		ret = warren_resp_printf(r, "%lu\n", n);
	return ret < 0 ? ret : WARREN_DONE;
}

static const struct warren_handler counter_handlers[] = {
	{.name = "count", .handle = count, .configure = configure},
	{.name = NULL},
};

WARREN_MODULE(counter, .version = "1.0", .handlers = counter_handlers, .init = counter_init, );

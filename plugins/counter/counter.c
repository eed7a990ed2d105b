/* plugins/counter/counter.c - counts requests across every worker in a shared-memory zone,
 * the answer to prefork's "no global state": the count is exact however many workers
 * serve, and it survives a reload because the zone is looked up again by name.
 *
 * The worked example of a zone: a counter kept with an atomic, and the busiest second so
 * far, several fields that change together and so are kept under the zone's lock. The
 * zone's init callback sets the lock up when the memory is new, and leaves the zone of
 * the previous generation alone, since its workers are using it.
 *
 * Module config (optional): { "zone": "counter.hits" }
 * Handler counter.count answers "<n>\n", n being this request's number across all workers.
 * Handler counter.stats answers {"hits": n, "since": t, "peak_per_second": p, "peak_at": t}.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <warren/module.h>

/* Raise it when struct counter changes: warren then never hands the old bytes to new code. */
#define COUNTER_LAYOUT 1

struct counter {
	atomic_ulong hits;    /* no lock needed: one atomic add */
	pthread_mutex_t lock; /* guards the rest */
	int64_t since;	      /* when the zone was made */
	int64_t second;	      /* the second being counted ... */
	uint64_t in_second;   /* ... and its requests so far */
	int64_t peak_at;      /* the busiest second so far ... */
	uint64_t peak;	      /* ... and its requests */
};

static int zone_init(void *mem, size_t size, bool inherited, void *arg)
{
	struct counter *c = mem;
	const char *name = arg;

	(void)size;
	if (inherited) {
		/* The previous generation's workers count in it right now: read only. */
		warren_log(WARREN_LOG_INFO, "counter: zone \"%s\" kept, at %lu requests", name,
			   atomic_load(&c->hits));
		return 0;
	}
	/* New memory is zeroed and seen by no one yet. */
	c->since = time(NULL);
	return warren_shm_mutex_init(&c->lock);
}

static int counter_init(const json_t *config, void **module_data, struct warren_error *err)
{
	static const char *const keys[] = {"zone", NULL};
	struct warren_shm_opts opts = WARREN_SHM_OPTS(.version = COUNTER_LAYOUT, .init = zone_init);
	const char *zone = "counter.hits";

	if (warren_conf_keys(config, keys, err) < 0 ||
	    warren_conf_string(config, "zone", 0, 64, &zone, err) < 0)
		return -EINVAL;
	opts.arg = (void *)zone;
	/* On failure err names the zone, and for a changed one what the operator can do. */
	return warren_shm_zone_ex(zone, sizeof(struct counter), &opts, module_data, err);
}

static int configure(const json_t *config, void *module_data, void **route_data,
		     struct warren_error *err)
{
	(void)config;
	(void)err;
	*route_data = module_data;
	return 0;
}

/* Counts this request in its second, under the lock. */
static void count_second(struct counter *c)
{
	int64_t now = time(NULL);
	int ret = warren_shm_lock(&c->lock);

	if (ret < 0)
		return;
	if (ret == 1) {
		/* Its last holder died mid-update: the current second may be half counted.
		 * Start it over; the peak is one store and stands. */
		c->second = 0;
	}
	if (c->second != now) {
		c->second = now;
		c->in_second = 0;
	}
	if (++c->in_second > c->peak) {
		c->peak = c->in_second;
		c->peak_at = now;
	}
	warren_shm_unlock(&c->lock);
}

static int count(struct warren_request *r, void *route_data)
{
	struct counter *c = route_data;
	unsigned long n = atomic_fetch_add_explicit(&c->hits, 1, memory_order_relaxed) + 1;
	int ret;

	count_second(c);
	ret = warren_resp_header(r, "Content-Type", "text/plain");
	if (ret == 0)
		ret = warren_resp_printf(r, "%lu\n", n);
	return ret < 0 ? ret : WARREN_DONE;
}

static int stats(struct warren_request *r, void *route_data)
{
	struct counter *c = route_data;
	int64_t peak_at;
	uint64_t peak;
	int ret;

	ret = warren_shm_lock(&c->lock);
	if (ret < 0)
		return ret;
	peak = c->peak;
	peak_at = c->peak_at;
	warren_shm_unlock(&c->lock);
	ret = warren_resp_header(r, "Content-Type", "application/json");
	if (ret == 0)
		ret = warren_resp_printf(
			r,
			"{\"hits\": %lu, \"since\": %lld, \"peak_per_second\": %llu, "
			"\"peak_at\": %lld}\n",
			atomic_load(&c->hits), (long long)c->since, (unsigned long long)peak,
			(long long)peak_at);
	return ret < 0 ? ret : WARREN_DONE;
}

static const struct warren_handler counter_handlers[] = {
	{.name = "count", .handle = count, .configure = configure},
	{.name = "stats", .handle = stats, .configure = configure},
	{.name = NULL},
};

WARREN_MODULE(counter, .version = "1.1", .handlers = counter_handlers, .init = counter_init, );

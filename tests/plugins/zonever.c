/* tests/plugins/zonever.c - a shared zone whose size and layout version come from the config,
 * so that reloads can change them: "get" says which version made the zone and its value,
 * "incr" adds one, "wait" answers the same once a file exists (a request kept in flight
 * across a reload). The init callback logs whether the zone was new or inherited.
 *
 * Module config: { "version": 1, "size": 4096, "legacy": false, "trigger": "/path" }
 * ("legacy": ask with warren_shm_zone(), as a module built before the options did).
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <warren/module.h>

struct zone {
	atomic_ulong value;
	uint32_t made_with; /* the layout version that set the zone up */
};

struct state {
	struct zone *z;
	const char *trigger;
};

static struct state state;

static int zone_init(void *mem, size_t size, bool inherited, void *arg)
{
	struct zone *z = mem;

	warren_log(WARREN_LOG_INFO, "zonever: zone of %zu bytes %s", size,
		   inherited ? "inherited" : "new");
	if (!inherited)
		z->made_with = (uint32_t)(uintptr_t)arg;
	return 0;
}

static int init(const json_t *config, void **data, struct warren_error *err)
{
	json_int_t version = 1, size = 4096;
	const char *trigger = NULL;
	int legacy = 0, ret;
	json_error_t jerr;
	void *mem;

	if (json_unpack_ex((json_t *)config, &jerr, JSON_STRICT, "{s?I s?I s?b s?s}", "version",
			   &version, "size", &size, "legacy", &legacy, "trigger", &trigger) < 0) {
		warren_error_set(err, "%s", jerr.text);
		return -EINVAL;
	}
	if (legacy) {
		ret = warren_shm_zone("zonever.z", (size_t)size, &mem);
		if (ret < 0)
			warren_error_set(err, "shared zone \"zonever.z\": %s", strerror(-ret));
	} else {
		struct warren_shm_opts opts =
			WARREN_SHM_OPTS(.version = (uint32_t)version, .init = zone_init,
					.arg = (void *)(uintptr_t)version);

		ret = warren_shm_zone_ex("zonever.z", (size_t)size, &opts, &mem, err);
	}
	if (ret < 0)
		return ret;
	state.z = mem;
	state.trigger = trigger;
	*data = &state;
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

static int answer(struct warren_request *r, const struct state *st)
{
	return warren_resp_printf(r, "version %u value %lu\n", st->z->made_with,
				  atomic_load(&st->z->value));
}

static int get(struct warren_request *r, void *data)
{
	int ret = answer(r, data);

	return ret < 0 ? ret : WARREN_DONE;
}

static int incr(struct warren_request *r, void *data)
{
	struct state *st = data;
	int ret;

	atomic_fetch_add(&st->z->value, 1);
	ret = answer(r, st);
	return ret < 0 ? ret : WARREN_DONE;
}

static void poll_trigger(struct warren_request *r, void *arg)
{
	struct state *st = arg;

	if (access(st->trigger, F_OK) == 0) {
		answer(r, st);
		warren_resp_send(r);
	} else if (warren_timer_add(r, 10, poll_trigger, st, NULL) < 0) {
		warren_resp_status(r, 500);
		warren_resp_send(r);
	}
}

static int wait_trigger(struct warren_request *r, void *data)
{
	struct state *st = data;
	int ret;

	if (!st->trigger)
		return -EINVAL;
	warren_log(WARREN_LOG_INFO, "zonever: waiting for %s", st->trigger);
	ret = warren_timer_add(r, 10, poll_trigger, st, NULL);
	return ret < 0 ? ret : WARREN_ASYNC;
}

static const struct warren_handler handlers[] = {
	{.name = "get", .handle = get, .configure = configure},
	{.name = "incr", .handle = incr, .configure = configure},
	{.name = "wait", .handle = wait_trigger, .configure = configure},
	{.name = NULL},
};

WARREN_MODULE(zonever, .handlers = handlers, .init = init, );

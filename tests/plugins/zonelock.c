/* tests/plugins/zonelock.c - handlers that use the locks of a shared zone well and badly:
 * "keep" returns still holding one, "offload_keep" does so in offload work, "die" kills
 * its worker holding one, "take" takes and gives it back and says whether its last owner
 * died, "many" takes locks until refused, "send_locked" answers from a timer while it
 * holds one (the hooks then run inside that callback; on_complete is one of them). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include <warren/module.h>

#define NLOCKS 32

struct state {
	atomic_int ready;
	pthread_mutex_t lock[NLOCKS];
	unsigned long taken;
};

static int init(const json_t *config, void **data, struct warren_error *err)
{
	struct state *st;
	void *mem;
	int ret;

	(void)config;
	ret = warren_shm_zone("zonelock.state", sizeof(*st), &mem);
	if (ret < 0) {
		warren_error_set(err, "shared zone: %s", strerror(-ret));
		return ret;
	}
	st = mem;
	/* A reload gets the same zone back, with its mutexes set up already. */
	for (int i = 0; !atomic_load(&st->ready) && i < NLOCKS; i++) {
		ret = warren_shm_mutex_init(&st->lock[i]);
		if (ret < 0) {
			warren_error_set(err, "mutex: %s", strerror(-ret));
			return ret;
		}
	}
	atomic_store(&st->ready, 1);
	*data = st;
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

static int keep(struct warren_request *r, void *data)
{
	struct state *st = data;
	int ret = warren_shm_lock(&st->lock[0]);

	if (ret < 0)
		return ret;
	st->taken++;
	ret = warren_resp_printf(r, "kept\n");
	return ret < 0 ? ret : WARREN_DONE;
}

static void keep_work(void *arg)
{
	struct state *st = arg;

	if (warren_shm_lock(&st->lock[0]) >= 0)
		st->taken++;
}

static void keep_done(struct warren_request *r, void *arg)
{
	(void)arg;
	warren_resp_printf(r, "kept\n");
	warren_resp_send(r);
}

static int offload_keep(struct warren_request *r, void *data)
{
	if (warren_offload(r, keep_work, keep_done, data) < 0)
		return -EIO;
	return WARREN_ASYNC;
}

static int die(struct warren_request *r, void *data)
{
	struct state *st = data;

	(void)r;
	if (warren_shm_lock(&st->lock[0]) < 0)
		return -EIO;
	raise(SIGKILL);
	return WARREN_DONE;
}

static int take(struct warren_request *r, void *data)
{
	struct state *st = data;
	int died = warren_shm_lock(&st->lock[0]), ret;
	unsigned long n;

	if (died < 0)
		return died;
	n = ++st->taken;
	ret = warren_shm_unlock(&st->lock[0]);
	if (ret < 0)
		return ret;
	ret = warren_resp_printf(r, "taken %lu, owner died %d\n", n, died);
	return ret < 0 ? ret : WARREN_DONE;
}

static int many(struct warren_request *r, void *data)
{
	struct state *st = data;
	int n = 0, ret = 0;

	while (n < NLOCKS && (ret = warren_shm_lock(&st->lock[n])) >= 0)
		n++;
	for (int i = n; i-- > 0;)
		if (warren_shm_unlock(&st->lock[i]) < 0)
			return -EIO;
	ret = warren_resp_printf(r, "took %d, then %s\n", n, ret < 0 ? strerror(-ret) : "none");
	return ret < 0 ? ret : WARREN_DONE;
}

static void send_locked_timer(struct warren_request *r, void *arg)
{
	struct state *st = arg;

	if (warren_shm_lock(&st->lock[0]) < 0) {
		warren_resp_status(r, 500);
		warren_resp_send(r);
		return;
	}
	warren_resp_printf(r, "sent\n");
	warren_resp_send(r);
	st->taken++;
	if (warren_shm_unlock(&st->lock[0]) < 0)
		st->taken += 1000;
}

static int send_locked(struct warren_request *r, void *data)
{
	if (warren_timer_add(r, 1, send_locked_timer, data, NULL) < 0)
		return -ENOMEM;
	return WARREN_ASYNC;
}

static void on_complete(struct warren_request *r, void *module_data)
{
	(void)r;
	(void)module_data;
}

static const struct warren_handler handlers[] = {
	{.name = "keep", .handle = keep, .configure = configure},
	{.name = "offload_keep", .handle = offload_keep, .configure = configure},
	{.name = "die", .handle = die, .configure = configure},
	{.name = "take", .handle = take, .configure = configure},
	{.name = "many", .handle = many, .configure = configure},
	{.name = "send_locked", .handle = send_locked, .configure = configure},
	{.name = NULL},
};

WARREN_MODULE(zonelock, .init = init, .handlers = handlers, .on_complete = on_complete, );

/* tests/plugins/kvkill.c - dies in the middle of an update of the kv plugin's store: "die"
 * takes the store's lock, allocates a block that nothing will ever link, and kills its own
 * worker, so that the next kv request finds the lock's owner dead and a lost block.
 * It asks for kv's zone by name, size and layout version, and knows the two fields that
 * start it (plugins/kv/kv.c, struct kv_zone): load it after kv.
 *
 * Module config: { "size": 1048576 } (kv's zone size, in bytes)
 */
#include <errno.h>
#include <signal.h>

#include <warren/module.h>

struct kv_zone_head {
	pthread_mutex_t lock;
	struct warren_shm_heap *heap;
};

static int init(const json_t *config, void **data, struct warren_error *err)
{
	struct warren_shm_opts opts = WARREN_SHM_OPTS(.version = 1);
	json_int_t size = 1048576;
	json_error_t jerr;

	if (json_unpack_ex((json_t *)config, &jerr, JSON_STRICT, "{s?I}", "size", &size) < 0) {
		warren_error_set(err, "%s", jerr.text);
		return -EINVAL;
	}
	return warren_shm_zone_ex("kv.store", (size_t)size, &opts, data, err);
}

static int configure(const json_t *config, void *module_data, void **route_data,
		     struct warren_error *err)
{
	(void)config;
	(void)err;
	*route_data = module_data;
	return 0;
}

static int die(struct warren_request *r, void *data)
{
	struct kv_zone_head *z = data;

	(void)r;
	if (warren_shm_lock(&z->lock) < 0)
		return -EIO;
	if (!warren_shm_alloc(z->heap, 100))
		return -ENOMEM;
	raise(SIGKILL);
	return -EIO;
}

static const struct warren_handler handlers[] = {
	{.name = "die", .handle = die, .configure = configure},
	{.name = NULL},
};

WARREN_MODULE(kvkill, .handlers = handlers, .init = init, );

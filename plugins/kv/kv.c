/* plugins/kv/kv.c - a key-value store shared by every worker: GET, PUT and DELETE /kv/:key.
 *
 * Keys and values live in one shared zone, a hash table followed by a heap
 * (warren_shm_alloc()), so the memory reserved is the zone size the config gives, and each
 * entry takes what its key and value need. The zone survives reloads; its init callback
 * builds the table only in new memory. Every access takes the zone's lock; a worker that
 * died holding it is recovered from by the next one (see kv_recover()).
 *
 * Module config (optional): { "zone": "kv.store", "size": "16m" }
 *   size: the zone, in bytes or with a suffix k, m or g (powers of 1024), 64k to 1g;
 *   1m by default. zone: its name, "kv.store" by default.
 * Route config (optional):  { "max_value_size": "4k", "max_keys": 100000 }
 *   max_value_size: largest value a PUT through the route may store (larger: 413), at most
 *   what the empty zone could hold;
 *   max_keys: a PUT through the route that adds a key to a store holding that many
 *   keys already gets 507 (as does one that finds the zone full).
 * The route's path names the key: "/kv/:key" (or a prefix route: the rest of the path),
 * as sent: percent-escapes are part of the key, 1 to 250 bytes (414 beyond).
 * GET and HEAD answer the value (404 without one), PUT stores the body (201 new, 204
 * replaced), DELETE removes it (204, or 404).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <warren/module.h>

/* Raise it when struct kv_zone or struct kv_entry changes. */
#define KV_LAYOUT 1
#define KV_KEY_MAX 250
#define KV_SIZE_MIN (64 * 1024)
#define KV_SIZE_MAX (1024 * 1024 * 1024)
#define KV_DEFAULT_SIZE (1024 * 1024)
#define KV_DEFAULT_VALUE_MAX 4096
#define KV_DEFAULT_KEYS_MAX 100000

/* Stores to the table must reach memory in the order written: see kv_recover(). */
#define ORDER() __atomic_signal_fence(__ATOMIC_SEQ_CST)

struct kv_entry {
	struct kv_entry *next; /* in its bucket */
	uint32_t hash;
	uint32_t klen;
	uint32_t vlen;
	char data[]; /* key, then value */
};

/* The zone: this header, the buckets, then the heap the entries come from. */
struct kv_zone {
	pthread_mutex_t lock; /* guards everything below */
	struct warren_shm_heap *heap;
	uint64_t nkeys;
	uint32_t nbuckets; /* a power of two */
	struct kv_entry *buckets[];
};

struct kv {
	struct kv_zone *z;
	char *zone; /* its name */
	size_t size;
	size_t value_max; /* the largest value the empty zone could hold */
};

struct kv_route {
	struct kv *kv;
	size_t max_value;
	size_t max_keys;
};

/* ---- The table ------------------------------------------------------------------------ */

/* About one bucket per 512 bytes of zone: a table of 2 MiB for a zone of 1 GiB. */
static uint32_t buckets_for(size_t size)
{
	uint32_t n = 64;

	while (n < (1U << 18) && (size_t)n * 512 < size)
		n *= 2;
	return n;
}

static uint32_t hash_key(const char *key, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	return h;
}

/* Where the entry for @key is linked from: the link holding it, or the NULL ending its
 * bucket. */
static struct kv_entry **find(struct kv_zone *z, const char *key, size_t len, uint32_t hash)
{
	struct kv_entry **pp = &z->buckets[hash & (z->nbuckets - 1)];

	while (*pp &&
	       ((*pp)->hash != hash || (*pp)->klen != len || memcmp((*pp)->data, key, len) != 0))
		pp = &(*pp)->next;
	return pp;
}

/* Whether @e is an allocated block big enough for the entry it claims to be. */
static bool entry_ok(const struct kv_zone *z, const struct kv_entry *e, uint32_t bucket)
{
	size_t have = warren_shm_block_size(z->heap, e);

	/* Each subtraction only once what it takes is known to be there: an overwritten
	 * length must not wrap around into a pass. */
	return have >= sizeof(*e) && e->klen <= KV_KEY_MAX && e->klen <= have - sizeof(*e) &&
	       have - sizeof(*e) - e->klen >= e->vlen && (e->hash & (z->nbuckets - 1)) == bucket;
}

static void kv_clear(struct kv_zone *z)
{
	memset(z->buckets, 0, z->nbuckets * sizeof(*z->buckets));
	warren_shm_heap_reset(z->heap);
	z->nkeys = 0;
}

/* Copies every entry into malloc()ed memory. 0 or -ENOMEM (then *@n were copied). */
static int copy_out(const struct kv_zone *z, struct kv_entry ***copies, size_t *n)
{
	size_t cap = 0;

	for (uint32_t b = 0; b < z->nbuckets; b++) {
		for (const struct kv_entry *e = z->buckets[b]; e; e = e->next) {
			size_t len = sizeof(*e) + e->klen + e->vlen;

			if (*n == cap) {
				struct kv_entry **more;

				cap = cap ? 2 * cap : 64;
				more = realloc(*copies, cap * sizeof(**copies));
				if (!more)
					return -ENOMEM;
				*copies = more;
			}
			(*copies)[*n] = malloc(len);
			if (!(*copies)[*n])
				return -ENOMEM;
			memcpy((*copies)[(*n)++], e, len);
		}
	}
	return 0;
}

/* Copies the entries out, empties the heap and puts them back: frees the blocks no entry
 * holds. Returns the number of entries, or -ENOMEM (then the store is left empty). */
static long kv_compact(struct kv_zone *z)
{
	struct kv_entry **copies = NULL;
	size_t n = 0;
	long ret = copy_out(z, &copies, &n);

	kv_clear(z);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		struct kv_entry *c = copies[i], *e;
		size_t len = sizeof(*c) + c->klen + c->vlen;
		uint32_t b = c->hash & (z->nbuckets - 1);

		/* Always room: they fitted before, with the lost blocks besides. */
		e = warren_shm_alloc(z->heap, len);
		if (!e)
			break;
		memcpy(e, c, len);
		e->next = z->buckets[b];
		z->buckets[b] = e;
		z->nkeys++;
	}
	if (ret == 0)
		ret = (long)z->nkeys;
	for (size_t i = 0; i < n; i++)
		free(copies[i]);
	free(copies);
	return ret;
}

/*
 * The lock's last holder died, maybe half-way through an update. Entries are filled before
 * the one store that links them, and unlinked before they are freed, so the table itself
 * is whole; what can be left is an entry allocated and not yet linked, or unlinked and not
 * yet freed (a block no one holds), a heap call cut short (warren_shm_heap_check() repairs
 * it) and a key count off by one. The count is redone and lost blocks are reclaimed. Only
 * if the heap or the table are overwritten (a bug, not a death) is the store emptied.
 */
static void kv_recover(struct kv *kv)
{
	struct kv_zone *z = kv->z;
	struct warren_shm_heap_stats st;
	uint64_t n = 0;
	long kept;

	if (warren_shm_heap_check(z->heap) < 0)
		goto out_clear;
	warren_shm_heap_stats(z->heap, &st);
	for (uint32_t b = 0; b < z->nbuckets; b++) {
		for (struct kv_entry *e = z->buckets[b]; e; e = e->next) {
			/* More entries than blocks: a chain loops. */
			if (!entry_ok(z, e, b) || ++n > st.used_blocks)
				goto out_clear;
		}
	}
	z->nkeys = n;
	if (st.used_blocks == n) {
		warren_log(WARREN_LOG_WARN,
			   "kv: zone \"%s\": a worker died holding its lock; %" PRIu64
			   " keys intact",
			   kv->zone, n);
		return;
	}
	kept = kv_compact(z);
	warren_log(WARREN_LOG_WARN,
		   "kv: zone \"%s\": a worker died holding its lock; %zu lost blocks freed, %ld "
		   "keys kept%s",
		   kv->zone, st.used_blocks - n, kept < 0 ? 0 : kept,
		   kept < 0 ? " (out of memory: the store was emptied)" : "");
	return;
out_clear:
	kv_clear(z);
	warren_log(WARREN_LOG_ERROR,
		   "kv: zone \"%s\": its table or heap was overwritten; the store was emptied",
		   kv->zone);
}

static int kv_lock(struct kv *kv)
{
	int ret = warren_shm_lock(&kv->z->lock);

	if (ret == 1) {
		kv_recover(kv);
		ret = 0;
	}
	return ret;
}

/* ---- Requests ----------------------------------------------------------------------- */

/* Answers @status with a one-line text body. */
static int reply(struct warren_request *r, int status, const char *fmt, ...) WARREN_PRINTF(3, 4);

static int reply(struct warren_request *r, int status, const char *fmt, ...)
{
	char line[300];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ret = warren_resp_status(r, status);
	if (status == 204)
		return ret < 0 ? ret : WARREN_DONE;
	if (ret == 0)
		ret = warren_resp_header(r, "Content-Type", "text/plain");
	if (ret == 0)
		ret = warren_resp_printf(r, "%s\n", line);
	return ret < 0 ? ret : WARREN_DONE;
}

static int kv_get(struct warren_request *r, struct kv *kv, struct warren_str key, uint32_t hash)
{
	struct kv_entry *e;
	int ret = kv_lock(kv);

	if (ret < 0)
		return ret;
	e = *find(kv->z, key.base, key.len, hash);
	/* Copied while the lock keeps the entry from being freed under us. */
	if (e)
		ret = warren_resp_body(r, e->data + e->klen, e->vlen);
	warren_shm_unlock(&kv->z->lock);
	if (!e)
		return reply(r, 404, "no key \"%.*s\"", (int)key.len, key.base);
	if (ret == 0)
		ret = warren_resp_header(r, "Content-Type", "application/octet-stream");
	return ret < 0 ? ret : WARREN_DONE;
}

static int kv_put(struct warren_request *r, struct kv_route *rt, struct warren_str key,
		  uint32_t hash)
{
	struct warren_str value = warren_req_body(r);
	struct kv_zone *z = rt->kv->z;
	struct warren_shm_heap_stats st;
	struct kv_entry **pp, *e, *old;
	size_t need = sizeof(*e) + key.len + value.len;
	uint64_t nkeys;
	int ret;

	if (value.len > rt->max_value)
		return reply(r, 413,
			     "a value of %zu bytes is over this route's max_value_size (%zu)",
			     value.len, rt->max_value);
	ret = kv_lock(rt->kv);
	if (ret < 0)
		return ret;
	pp = find(z, key.base, key.len, hash);
	old = *pp;
	nkeys = z->nkeys;
	e = !old && nkeys >= rt->max_keys ? NULL : warren_shm_alloc(z->heap, need);
	if (!e) {
		warren_shm_heap_stats(z->heap, &st);
		warren_shm_unlock(&z->lock);
		if (!old && nkeys >= rt->max_keys)
			return reply(r, 507,
				     "the store holds %" PRIu64 " keys, this route's max_keys",
				     nkeys);
		return reply(r, 507,
			     "the store is full: %zu bytes free, the largest block holds %zu, "
			     "this entry needs %zu",
			     st.free, st.largest_free, need);
	}
	e->hash = hash;
	e->klen = (uint32_t)key.len;
	e->vlen = (uint32_t)value.len;
	memcpy(e->data, key.base, key.len);
	if (value.len)
		memcpy(e->data + key.len, value.base, value.len);
	e->next = old ? old->next : NULL;
	ORDER();
	*pp = e; /* the one store that makes it visible, and unlinks the old entry */
	ORDER();
	if (old)
		warren_shm_free(z->heap, old);
	else
		z->nkeys++;
	warren_shm_unlock(&z->lock);
	return reply(r, old ? 204 : 201, "stored");
}

static int kv_delete(struct warren_request *r, struct kv *kv, struct warren_str key, uint32_t hash)
{
	struct kv_entry **pp, *e;
	int ret = kv_lock(kv);

	if (ret < 0)
		return ret;
	pp = find(kv->z, key.base, key.len, hash);
	e = *pp;
	if (e) {
		*pp = e->next;
		ORDER();
		warren_shm_free(kv->z->heap, e);
		kv->z->nkeys--;
	}
	warren_shm_unlock(&kv->z->lock);
	if (!e)
		return reply(r, 404, "no key \"%.*s\"", (int)key.len, key.base);
	return reply(r, 204, "deleted");
}

static bool method_is(struct warren_str m, const char *name)
{
	return m.len == strlen(name) && memcmp(m.base, name, m.len) == 0;
}

static int kv_handle(struct warren_request *r, void *route_data)
{
	struct kv_route *rt = route_data;
	struct warren_str m = warren_req_method(r), key;
	uint32_t hash;
	int ret;

	if (!warren_req_param(r, "key", &key) && !warren_req_param(r, "*", &key)) {
		warren_req_log(r, WARREN_LOG_ERROR,
			       "kv.store: the route's path names no key (\"/kv/:key\")");
		return -EINVAL;
	}
	if (key.len == 0)
		return reply(r, 404, "no key in the path");
	if (key.len > KV_KEY_MAX)
		return reply(r, 414, "a key of %zu bytes is longer than %d", key.len, KV_KEY_MAX);
	hash = hash_key(key.base, key.len);
	if (method_is(m, "GET") || method_is(m, "HEAD"))
		return kv_get(r, rt->kv, key, hash);
	if (method_is(m, "PUT"))
		return kv_put(r, rt, key, hash);
	if (method_is(m, "DELETE"))
		return kv_delete(r, rt->kv, key, hash);
	ret = warren_resp_header(r, "Allow", "GET, HEAD, PUT, DELETE");
	return ret < 0 ? ret : reply(r, 405, "%.*s is not allowed", (int)m.len, m.base);
}

/* ---- Set-up --------------------------------------------------------------------------- */

/* The bytes of a zone of @size before its heap. */
static size_t table_size(size_t size)
{
	return sizeof(struct kv_zone) + buckets_for(size) * sizeof(struct kv_entry *);
}

static int zone_init(void *mem, size_t size, bool inherited, void *arg)
{
	struct kv_zone *z = mem;
	size_t table = table_size(size);
	int ret;

	(void)arg;
	/* The previous generation's table, in use by its workers right now: ours as it is. */
	if (inherited)
		return 0;
	z->nbuckets = buckets_for(size);
	ret = warren_shm_mutex_init(&z->lock);
	if (ret < 0)
		return ret;
	return warren_shm_heap_init((char *)mem + table, size - table, &z->heap);
}

static int kv_init(const json_t *config, void **module_data, struct warren_error *err)
{
	static const char *const keys[] = {"zone", "size", NULL};
	struct warren_shm_opts opts = WARREN_SHM_OPTS(.version = KV_LAYOUT, .init = zone_init);
	const char *zone = "kv.store";
	uint64_t size = KV_DEFAULT_SIZE;
	struct kv *kv;
	void *mem;
	int ret;

	if (warren_conf_keys(config, keys, err) < 0 ||
	    warren_conf_string(config, "zone", 0, 64, &zone, err) < 0 ||
	    warren_conf_size(config, "size", 0, KV_SIZE_MIN, KV_SIZE_MAX, &size, err) < 0)
		return -EINVAL;
	kv = calloc(1, sizeof(*kv));
	if (!kv)
		return -ENOMEM;
	kv->size = (size_t)size;
	kv->zone = strdup(zone);
	if (!kv->zone) {
		ret = -ENOMEM;
		goto out_free;
	}
	ret = warren_shm_zone_ex(kv->zone, kv->size, &opts, &mem, err);
	if (ret < 0)
		goto out_free_name;
	kv->z = mem;
	/* Less the heap's header and block header, the entry's and a one-byte key. */
	kv->value_max = kv->size - table_size(kv->size) - 400 - sizeof(struct kv_entry) - 1;
	*module_data = kv;
	return 0;

out_free_name:
	free(kv->zone);
out_free:
	free(kv);
	return ret;
}

static void kv_fini(void *module_data)
{
	struct kv *kv = module_data;

	free(kv->zone);
	free(kv);
}

static int kv_configure(const json_t *config, void *module_data, void **route_data,
			struct warren_error *err)
{
	static const char *const keys[] = {"max_value_size", "max_keys", NULL};
	struct kv *kv = module_data;
	uint64_t max_value = KV_DEFAULT_VALUE_MAX;
	long long max_keys = KV_DEFAULT_KEYS_MAX;
	struct kv_route *rt;

	/* Not a look at the zone: the previous generation's workers are using it. */
	if (max_value > kv->value_max)
		max_value = kv->value_max;
	if (warren_conf_keys(config, keys, err) < 0 ||
	    warren_conf_size(config, "max_value_size", 0, 1, KV_SIZE_MAX, &max_value, err) < 0 ||
	    warren_conf_int(config, "max_keys", 0, 1, UINT32_MAX, &max_keys, err) < 0)
		return -EINVAL;
	if (max_value > kv->value_max)
		return warren_conf_error(err, config, "max_value_size",
					 "%" PRIu64 " bytes cannot fit in zone \"%s\" of %zu bytes "
					 "(%zu at most)",
					 max_value, kv->zone, kv->size, kv->value_max);
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	rt->kv = kv;
	rt->max_value = (size_t)max_value;
	rt->max_keys = (size_t)max_keys;
	*route_data = rt;
	return 0;
}

static const struct warren_handler kv_handlers[] = {
	{.name = "store", .handle = kv_handle, .configure = kv_configure, .release = free},
	{.name = NULL},
};

WARREN_MODULE(kv, .version = "1.0", .handlers = kv_handlers, .init = kv_init, .fini = kv_fini, );

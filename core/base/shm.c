/* core/base/shm.c - shared-memory zones that modules reserve in init: anonymous shared mappings
 * made in the master before fork, so every worker sees the same bytes at the same address.
 *
 * The registry is process-wide state, like the log level: the public call gets no
 * context, and zones must outlive a configuration generation so that a reload hands a
 * module its old counters back. A zone asked for with another size or layout version is
 * replaced only if the operator said so, and the old one stays mapped in the master
 * until no generation holds it: the master forks replacements for dead workers of the
 * generation still serving during a reload, and they must find it where their module
 * data points.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/log.h"
#include "base/shm.h"

#define ZONE_NAME_MAX 64
#define ZONE_SIZE_MAX (1UL << 30)
/* Zone locks one thread may hold at once; a module needing more gets -ENOLCK. */
#define HELD_MAX 8
/* Module calls nested in one another (a handler's warren_resp_send() runs the hooks) whose
 * locks are told apart; a call deeper than this is checked with the one around it. */
#define CALLS_MAX 8

struct shm_zone {
	struct shm_zone *next;
	char name[ZONE_NAME_MAX + 1];
	size_t size;
	uint32_t version;    /* the layout version it was asked for with */
	unsigned generation; /* that made it */
	unsigned users;	     /* generations holding it (struct shm_gen) */
	bool stale;	     /* replaced by a zone of the same name: goes with its last user */
	void *addr;
};

static struct {
	struct shm_zone *zones; /* stale ones included: old workers still map them */
	struct shm_gen *gen;	/* the generation whose module init is running */
	char refusal[WARREN_ERROR_MAX];
} registry;

/*
 * The zone locks the calling thread holds, so that module code returning with one still
 * held can be caught and the lock given back (shm_release_held()) before another worker
 * blocks on it for ever. Per thread, because offload threads run module code while the
 * loop runs other module code. base[] holds, for each module call running, how many locks
 * were held when it began: those are not its own.
 */
static __thread struct {
	pthread_mutex_t *locks[HELD_MAX];
	unsigned n;
	unsigned base[CALLS_MAX];
	unsigned depth;
} held;

void shm_begin(struct shm_gen *g)
{
	registry.gen = g;
	registry.refusal[0] = '\0';
}

void shm_end(void)
{
	registry.gen = NULL;
}

const char *shm_refusal(void)
{
	return registry.refusal;
}

static struct shm_zone *zone_find(const char *name)
{
	for (struct shm_zone *z = registry.zones; z; z = z->next)
		if (!z->stale && strcmp(z->name, name) == 0)
			return z;
	return NULL;
}

static void zone_unmap(struct shm_zone *z)
{
	for (struct shm_zone **p = &registry.zones; *p; p = &(*p)->next) {
		if (*p == z) {
			*p = z->next;
			break;
		}
	}
	munmap(z->addr, z->size);
	free(z);
}

/*
 * A zone replaced by a reload is still the serving generation's when that reload failed
 * or was undone. A later reload asking for it as it was gets it back, rather than a new
 * empty one, and the replacement no generation took is dropped.
 */
static struct shm_zone *zone_revive(struct shm_zone *live, size_t size, uint32_t version)
{
	struct shm_zone *z;

	for (z = registry.zones; z; z = z->next)
		if (z->stale && z->size == size && z->version == version &&
		    strcmp(z->name, live->name) == 0)
			break;
	if (!z || live->users)
		return live;
	log_info("shared zone \"%s\": back to its %zu bytes, layout version %u of generation %u, "
		 "still in use",
		 z->name, z->size, z->version, z->generation);
	z->stale = false;
	zone_unmap(live);
	return z;
}

static int gen_hold(struct shm_gen *g, struct shm_zone *z)
{
	if (g->n == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 8;
		struct shm_zone **zones = realloc(g->zones, cap * sizeof(*zones));

		if (!zones)
			return -ENOMEM;
		g->zones = zones;
		g->cap = cap;
	}
	g->zones[g->n++] = z;
	z->users++;
	return 0;
}

void shm_gen_release(struct shm_gen *g)
{
	for (size_t i = 0; i < g->n; i++) {
		struct shm_zone *z = g->zones[i];

		if (--z->users == 0 && z->stale) {
			log_debug("shared zone \"%s\" of generation %u: unmapped, no generation "
				  "uses it any more",
				  z->name, z->generation);
			zone_unmap(z);
		}
	}
	free(g->zones);
	g->zones = NULL;
	g->n = g->cap = 0;
}

/* Sets @err (when there is one) and returns @ret. */
static int zone_fail(struct warren_error *err, int ret, const char *fmt, ...) WARREN_PRINTF(3, 4);

static int zone_fail(struct warren_error *err, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return ret;
}

static bool gen_holds(const struct shm_gen *g, const struct shm_zone *z)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->zones[i] == z)
			return true;
	return false;
}

/*
 * Why the zone cannot be handed out: the operator chose to keep changed zones, or two
 * modules of one configuration disagree about it (then there is nothing to replace).
 * Kept in the registry too, for modules that call warren_shm_zone(), which has no @err:
 * the loader adds it to the error their init returns.
 */
static int zone_refuse(const struct shm_zone *z, size_t size, uint32_t version,
		       struct warren_error *err)
{
	if (gen_holds(registry.gen, z))
		snprintf(registry.refusal, sizeof(registry.refusal),
			 "shared zone \"%s\" is already used by this configuration with %zu "
			 "bytes, layout version %u; asked again for %zu bytes, version %u: two "
			 "modules cannot share a zone name",
			 z->name, z->size, z->version, size, version);
	else
		snprintf(registry.refusal, sizeof(registry.refusal),
			 "shared zone \"%s\" exists with %zu bytes, layout version %u (since "
			 "generation %u); asked for %zu bytes, version %u: refused, the zone is "
			 "kept as it is; set shared_zones.on_change to \"recreate\" to replace "
			 "it with an empty one on reload, or restart warren",
			 z->name, z->size, z->version, z->generation, size, version);
	return zone_fail(err, -EEXIST, "%s", registry.refusal);
}

static struct shm_zone *zone_map(const char *name, size_t size, uint32_t version)
{
	struct shm_zone *z = calloc(1, sizeof(*z));

	if (!z)
		return NULL;
	/* Made by the master before it forks: every worker it forks afterwards inherits the
	 * mapping at this address, so pointers into a zone are valid in all of them. */
	z->addr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (z->addr == MAP_FAILED) {
		free(z);
		return NULL;
	}
	snprintf(z->name, sizeof(z->name), "%s", name);
	z->size = size;
	z->version = version;
	z->generation = registry.gen->generation;
	return z;
}

WARREN_API int warren_shm_zone_ex(const char *name, size_t size, const struct warren_shm_opts *opts,
				  void **out, struct warren_error *err)
{
	struct warren_shm_opts o = {0};
	struct shm_zone *old, *z;
	bool inherited;
	size_t len;
	int ret;

	if (!registry.gen)
		return zone_fail(err, -EPERM,
				 "shared zones can only be reserved from a module's init callback");
	if (!name || !out)
		return zone_fail(err, -EINVAL, "shared zone: no name, or nowhere to store it");
	len = strlen(name);
	if (len == 0 || len > ZONE_NAME_MAX)
		return zone_fail(err, -EINVAL,
				 "shared zone \"%.80s\": a name has 1 to %d characters, not %zu",
				 name, ZONE_NAME_MAX, len);
	if (size == 0 || size > ZONE_SIZE_MAX)
		return zone_fail(err, -EINVAL,
				 "shared zone \"%s\": size %zu is out of range (1 byte to 1 GiB)",
				 name, size);
	if (opts) {
		if (opts->struct_size <
		    offsetof(struct warren_shm_opts, version) + sizeof(o.version))
			return zone_fail(err, -EINVAL,
					 "shared zone \"%s\": options without a struct_size (make "
					 "them with WARREN_SHM_OPTS())",
					 name);
		memcpy(&o, opts, opts->struct_size < sizeof(o) ? opts->struct_size : sizeof(o));
	}
	old = zone_find(name);
	if (old && (old->size != size || old->version != o.version))
		old = zone_revive(old, size, o.version);
	inherited = old && old->size == size && old->version == o.version;
	if (old && !inherited && (!registry.gen->recreate || gen_holds(registry.gen, old)))
		return zone_refuse(old, size, o.version, err);
	z = inherited ? old : zone_map(name, size, o.version);
	if (!z)
		return zone_fail(err, -ENOMEM, "shared zone \"%s\": cannot map %zu bytes", name,
				 size);
	ret = gen_hold(registry.gen, z);
	if (ret < 0) {
		zone_fail(err, ret, "shared zone \"%s\": out of memory", name);
		goto out_unmap;
	}
	if (o.init) {
		ret = o.init(z->addr, size, inherited, o.arg);
		if (ret < 0) {
			if (err && !err->msg[0])
				zone_fail(err, ret,
					  "shared zone \"%s\": its init callback failed: %s", name,
					  strerror(-ret));
			goto out_unhold;
		}
	}
	if (!inherited) {
		z->next = registry.zones;
		registry.zones = z;
		log_debug("shared zone \"%s\": %zu bytes, layout version %u", name, size,
			  o.version);
	}
	if (old && !inherited) {
		log_warn(
			"shared zone \"%s\": replaced by an empty one of %zu bytes, layout version "
			"%u (was %zu bytes, version %u); workers still using the old one keep it "
			"until they exit",
			name, size, o.version, old->size, old->version);
		old->stale = true;
		if (!old->users)
			zone_unmap(old);
	}
	*out = z->addr;
	return 0;

out_unhold:
	registry.gen->n--;
	z->users--;
out_unmap:
	/* A zone whose init failed is dropped: the next try must see it new. */
	if (!inherited) {
		munmap(z->addr, z->size);
		free(z);
	}
	return ret;
}

WARREN_API int warren_shm_zone(const char *name, size_t size, void **out)
{
	return warren_shm_zone_ex(name, size, NULL, out, NULL);
}

void shm_release_all(void)
{
	while (registry.zones) {
		struct shm_zone *z = registry.zones;

		registry.zones = z->next;
		munmap(z->addr, z->size);
		free(z);
	}
}

WARREN_API int warren_shm_mutex_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t attr;
	int ret;

	ret = pthread_mutexattr_init(&attr);
	if (ret)
		return -ret;
	ret = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	if (!ret)
		ret = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	if (!ret)
		ret = pthread_mutex_init(m, &attr);
	pthread_mutexattr_destroy(&attr);
	return -ret;
}

WARREN_API int warren_shm_lock(pthread_mutex_t *m)
{
	int ret;

	if (held.n == HELD_MAX) {
		log_error("warren_shm_lock: a module wants more than %d shared-zone locks at once; "
			  "refused (ENOLCK)",
			  HELD_MAX);
		return -ENOLCK;
	}
	ret = pthread_mutex_lock(m);
	if (ret == EOWNERDEAD) {
		/* A worker died holding it: take it over, and tell the caller. */
		pthread_mutex_consistent(m);
		held.locks[held.n++] = m;
		return 1;
	}
	if (ret)
		return -ret;
	held.locks[held.n++] = m;
	return 0;
}

/* Drops @m from the locks this thread holds (the last time it was taken). */
static void forget(pthread_mutex_t *m)
{
	for (unsigned i = held.n; i-- > 0;) {
		if (held.locks[i] != m)
			continue;
		memmove(&held.locks[i], &held.locks[i + 1], (held.n - i - 1) * sizeof(*held.locks));
		held.n--;
		return;
	}
}

WARREN_API int warren_shm_unlock(pthread_mutex_t *m)
{
	int ret = pthread_mutex_unlock(m);

	if (ret)
		return -ret;
	forget(m);
	return 0;
}

void shm_call_enter(void)
{
	if (held.depth < CALLS_MAX)
		held.base[held.depth] = held.n;
	held.depth++;
}

/* How many of the locks held belong to calls that ended or the one running now. */
static unsigned call_base(void)
{
	if (held.depth == 0)
		return 0;
	return held.depth <= CALLS_MAX ? held.base[held.depth - 1] : held.n;
}

bool shm_call_kept(void)
{
	return held.n > call_base();
}

void shm_call_leave(void)
{
	if (held.depth)
		held.depth--;
}

/* The name of the zone @p lies in, for a log line. */
static const char *zone_of(const void *p)
{
	for (const struct shm_zone *z = registry.zones; z; z = z->next)
		if ((const char *)p >= (const char *)z->addr &&
		    (const char *)p < (const char *)z->addr + z->size)
			return z->name;
	return "?";
}

unsigned shm_release_held(const char *then, const char *fmt, ...)
{
	unsigned n = 0, base = call_base();
	char who[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(who, sizeof(who), fmt, ap);
	va_end(ap);

	while (held.n > base) {
		pthread_mutex_t *m = held.locks[--held.n];
		int ret = pthread_mutex_unlock(m);

		n++;
		if (ret)
			log_warn(
				"%s returned holding the lock of zone \"%s\"; cannot release it: %s",
				who, zone_of(m), strerror(ret));
		else
			log_warn("%s returned holding the lock of zone \"%s\"; released%s", who,
				 zone_of(m), then);
	}
	return n;
}

/* core/base/shm.c - shared-memory zones that modules reserve in init: anonymous shared mappings
 * made in the master before fork, so every worker sees the same bytes at the same address.
 *
 * The registry is process-wide state, like the log level: the public call gets no
 * context, and zones must outlive a configuration generation so that a reload hands a
 * module its old counters back.
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

struct zone {
	struct zone *next;
	char name[ZONE_NAME_MAX + 1];
	size_t size;
	void *addr;
};

static struct {
	struct zone *zones;
	bool allowed;
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

void shm_allow(bool allowed)
{
	registry.allowed = allowed;
}

WARREN_API int warren_shm_zone(const char *name, size_t size, void **out)
{
	struct zone *z;
	size_t len;

	if (!registry.allowed)
		return -EPERM;
	if (!name || !out || size == 0 || size > ZONE_SIZE_MAX)
		return -EINVAL;
	len = strlen(name);
	if (len == 0 || len > ZONE_NAME_MAX)
		return -EINVAL;
	for (z = registry.zones; z; z = z->next) {
		if (strcmp(z->name, name) != 0)
			continue;
		if (z->size != size)
			return -EEXIST;
		*out = z->addr;
		return 0;
	}
	z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	z->addr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (z->addr == MAP_FAILED) {
		free(z);
		return -ENOMEM;
	}
	memcpy(z->name, name, len + 1);
	z->size = size;
	z->next = registry.zones;
	registry.zones = z;
	log_debug("shared zone \"%s\": %zu bytes", name, size);
	*out = z->addr;
	return 0;
}

void shm_release_all(void)
{
	while (registry.zones) {
		struct zone *z = registry.zones;

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
	for (const struct zone *z = registry.zones; z; z = z->next)
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

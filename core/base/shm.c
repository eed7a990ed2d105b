/* core/base/shm.c - shared-memory zones that modules reserve in init: anonymous shared mappings
 * made in the master before fork, so every worker sees the same bytes at the same address.
 *
 * The registry is process-wide state, like the log level: the public call gets no
 * context, and zones must outlive a configuration generation so that a reload hands a
 * module its old counters back.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/log.h"
#include "base/shm.h"

#define ZONE_NAME_MAX 64
#define ZONE_SIZE_MAX (1UL << 30)

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
	int ret = pthread_mutex_lock(m);

	if (ret == EOWNERDEAD) {
		/* A worker died holding it: take it over, and tell the caller. */
		pthread_mutex_consistent(m);
		return 1;
	}
	return -ret;
}

WARREN_API int warren_shm_unlock(pthread_mutex_t *m)
{
	return -pthread_mutex_unlock(m);
}

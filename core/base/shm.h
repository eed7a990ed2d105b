/* core/base/shm.h - named shared-memory zones, mapped by the master before fork. */
#ifndef WARREN_CORE_SHM_H
#define WARREN_CORE_SHM_H

#include "base/common.h"

/* warren_shm_zone() works only between these two calls (a module's init). */
void shm_allow(bool allowed);

/* Unmaps every zone (master exit). */
void shm_release_all(void);

/* Whether the calling thread holds a lock taken with warren_shm_lock(). */
bool shm_locks_held(void);

/*
 * Module code (@who: "worker 0: mymod.handler") returned holding zone locks: releases
 * each, with a warning naming the zone that ends with @then (", answering 500", or "").
 * Returns how many there were.
 */
unsigned shm_release_held(const char *who, const char *then);

#endif /* WARREN_CORE_SHM_H */

/* core/base/shm.h - named shared-memory zones, mapped by the master before fork. */
#ifndef WARREN_CORE_SHM_H
#define WARREN_CORE_SHM_H

#include "base/common.h"

struct shm_zone;

/* The zones one generation asked for: each stays mapped while a generation holds it. */
struct shm_gen {
	struct shm_zone **zones;
	size_t n, cap;
	unsigned generation;
	bool recreate; /* shared_zones.on_change: replace a changed zone instead of refusing */
};

/* warren_shm_zone() works only between these two calls (a module's init), for @g. */
void shm_begin(struct shm_gen *g);
void shm_end(void);

/* Why a zone was refused since shm_begin() (sizes, versions, what to do); "" if none. */
const char *shm_refusal(void);

/* @g is gone: a replaced zone that no generation holds any more is unmapped. */
void shm_gen_release(struct shm_gen *g);

/* Unmaps every zone (master exit). */
void shm_release_all(void);

/*
 * Around each call into module code on this thread: the call that ends has kept a zone
 * lock it took when shm_call_kept() says so; shm_release_held() then gives it back.
 * Calls nest (hooks run from a handler's warren_resp_send()): an inner call's check
 * leaves the locks the outer one holds alone.
 */
void shm_call_enter(void);
bool shm_call_kept(void);
void shm_call_leave(void);

/*
 * Module code returned holding zone locks it took: releases each, with a warning that
 * names the code (@fmt: "worker %u: %s" for "worker 0: mymod.handler") and the zone and
 * ends with @then (", answering 500", or ""). Returns how many there were.
 */
unsigned shm_release_held(const char *then, const char *fmt, ...) WARREN_PRINTF(2, 3);

#endif /* WARREN_CORE_SHM_H */

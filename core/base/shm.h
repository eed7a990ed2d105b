/* core/base/shm.h - named shared-memory zones, mapped by the master before fork. */
#ifndef WARREN_CORE_SHM_H
#define WARREN_CORE_SHM_H

#include "base/common.h"

/* warren_shm_zone() works only between these two calls (a module's init). */
void shm_allow(bool allowed);

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

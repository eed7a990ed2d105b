/* core/base/shm.h - named shared-memory zones, mapped by the master before fork. */
#ifndef WARREN_CORE_SHM_H
#define WARREN_CORE_SHM_H

#include "base/common.h"

/* warren_shm_zone() works only between these two calls (a module's init). */
void shm_allow(bool allowed);

/* Unmaps every zone (master exit). */
void shm_release_all(void);

#endif /* WARREN_CORE_SHM_H */

/* core/server/cpus.h - how many CPUs this process may really use ("workers": "auto"). */
#ifndef WARREN_CORE_CPUS_H
#define WARREN_CORE_CPUS_H

/* The CPUs of the affinity mask, capped by the cgroup's CPU quota; at least 1. */
unsigned cpus_usable(void);

#endif /* WARREN_CORE_CPUS_H */

/* core/server/master.h - the supervising master process. */
#ifndef WARREN_CORE_MASTER_H
#define WARREN_CORE_MASTER_H

#include "server/server.h"

/*
 * Forks the workers of @srv (already loaded and bound), announces readiness on
 * @ready_fd (if >= 0) once every worker is accepting, and supervises until stopped;
 * SIGHUP re-reads @conf_path into a new generation. Takes ownership of @srv. Returns
 * the process exit code.
 */
int master_run(struct server *srv, const char *conf_path, int ready_fd);

#endif /* WARREN_CORE_MASTER_H */

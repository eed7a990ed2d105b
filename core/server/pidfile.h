/* core/server/pidfile.h - the master's pid file, which "warren -s" finds the server by. */
#ifndef WARREN_CORE_PIDFILE_H
#define WARREN_CORE_PIDFILE_H

#include <stdbool.h>

#include "server/config.h"

/*
 * Before anything is bound: fails when no file can be created where cfg->pid_file goes,
 * or (unless @test_only, for -t) when it names a warren master that still runs. Does
 * nothing without a pid_file.
 */
int pidfile_check(const struct config *cfg, bool test_only, struct warren_error *err);

/* Replaces @path with @text atomically. Returns 0 or -errno. */
int pidfile_write(const char *path, const char *text);

#endif /* WARREN_CORE_PIDFILE_H */

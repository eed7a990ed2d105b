/* core/log.h - process-wide log lines on stderr: time, pid, level, message. */
#ifndef WARREN_CORE_LOG_H
#define WARREN_CORE_LOG_H

#include <stdarg.h>

#include "common.h"

/* Lines above this level are dropped; set once from the config before fork. */
void warren__log_set_level(enum warren_log_level level);
void warren__log_v(enum warren_log_level level, const char *fmt, va_list ap);
/*
 * Points stderr (and so every log line) at @path, opened for appending; called at start
 * and again on SIGUSR1 so rotated logs are let go. Returns 0 or -errno.
 */
int warren__log_open(const char *path);

#define log_error(...) warren_log(WARREN_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) warren_log(WARREN_LOG_WARN, __VA_ARGS__)
#define log_info(...) warren_log(WARREN_LOG_INFO, __VA_ARGS__)
#define log_debug(...) warren_log(WARREN_LOG_DEBUG, __VA_ARGS__)

#endif /* WARREN_CORE_LOG_H */

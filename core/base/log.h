/* core/base/log.h - process-wide log lines on stderr: time, pid, level, message. */
#ifndef WARREN_CORE_LOG_H
#define WARREN_CORE_LOG_H

#include <stdarg.h>

#include "base/common.h"

/* Lines above this level are dropped; set once from the config before fork. */
void warren__log_set_level(enum warren_log_level level);
void warren__log_v(enum warren_log_level level, const char *fmt, va_list ap);
/*
 * Points stderr (and so every log line) at @path, opened for appending; called at start
 * and again on SIGUSR1 so rotated logs are let go. Returns 0 or -errno.
 */
int warren__log_open(const char *path);
/*
 * From now on, copies the message of every error line (and a crash report) into @buf,
 * NUL-terminated: a worker keeps its last error where the master can read it (a shared
 * page), so that a worker that dies before it is ready is reported with its cause.
 */
void warren__log_keep_errors(char *buf, size_t len);
/* Stores @msg as the last error; async-signal-safe, for the crash handler. */
void warren__log_note(const char *msg, size_t len);

#define log_error(...) warren_log(WARREN_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) warren_log(WARREN_LOG_WARN, __VA_ARGS__)
#define log_info(...) warren_log(WARREN_LOG_INFO, __VA_ARGS__)
#define log_debug(...) warren_log(WARREN_LOG_DEBUG, __VA_ARGS__)

/*
 * Writes @s (@len bytes, not NUL-terminated) quoted into @buf for an error message:
 * control bytes as \xNN, '"' and '\\' escaped, cut after @max bytes with "...". @size
 * must be at least 4 * @max + 8. Returns @buf.
 */
const char *warren__quote(char *buf, size_t size, const char *s, size_t len, size_t max);

/* Like warren_error_set() but prefixes what is already in @err with a path. */
void warren__error_prefix(struct warren_error *err, const char *fmt, ...) WARREN_PRINTF(2, 3);

#endif /* WARREN_CORE_LOG_H */

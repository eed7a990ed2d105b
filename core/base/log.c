/* core/base/log.c - log lines on stderr, and the error-carrier helpers modules use. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

/*
 * This file's process-wide mutable state, two pieces, both because warren_log() is
 * public API and gets no context to find them in. The level is fixed from the config
 * before fork, so a worker never races on it.
 */
static enum warren_log_level max_level = WARREN_LOG_INFO;
/*
 * Where this worker keeps its last error: set once after fork, before any other thread
 * exists, and read by the crash handler, which can reach nothing else (see log.h).
 */
static char *note;
static size_t note_size;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void warren__log_set_level(enum warren_log_level level)
{
	max_level = level;
}

void warren__log_keep_errors(char *buf, size_t len)
{
	note = len ? buf : NULL;
	note_size = len;
	if (note)
		note[0] = '\0';
}

void warren__log_note(const char *msg, size_t len)
{
	if (!note)
		return;
	if (len > note_size - 1)
		len = note_size - 1;
	memcpy(note, msg, len);
	note[len] = '\0';
}

void warren__log_v(enum warren_log_level level, const char *fmt, va_list ap)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	int n, m;

	if (level > max_level)
		return;
	if ((unsigned)level >= ARRAY_SIZE(level_names))
		level = WARREN_LOG_DEBUG;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
		     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ [%d] %s: ", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     ts.tv_nsec / 1000000, (int)getpid(), level_names[level]);
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	if (level == WARREN_LOG_ERROR)
		warren__log_note(line + n, strnlen(line + n, sizeof(line) - n));
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line, so lines of different workers never interleave. */
	while (write(STDERR_FILENO, line, n) < 0 && errno == EINTR)
		;
}

int warren__log_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	/* dup2 keeps descriptor 2, so fprintf(stderr) and sanitizer reports follow too. */
	if (fd != STDERR_FILENO) {
		if (dup2(fd, STDERR_FILENO) < 0) {
			int ret = -errno;

			close(fd);
			return ret;
		}
		close(fd);
	}
	return 0;
}

WARREN_API void warren_log(enum warren_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	warren__log_v(level, fmt, ap);
	va_end(ap);
}

WARREN_API void warren_error_set(struct warren_error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

void warren__error_prefix(struct warren_error *err, const char *fmt, ...)
{
	char rest[WARREN_ERROR_MAX];
	size_t n, m;
	va_list ap;
	int k;

	memcpy(rest, err->msg, sizeof(rest));
	rest[sizeof(rest) - 1] = '\0';
	va_start(ap, fmt);
	k = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	n = k < 0 ? 0 : (size_t)k;
	if (n >= sizeof(err->msg) - 1)
		return;
	m = strlen(rest);
	if (m > sizeof(err->msg) - 1 - n)
		m = sizeof(err->msg) - 1 - n;
	memcpy(err->msg + n, rest, m);
	err->msg[n + m] = '\0';
}

/*
 * Config text may hold anything and the message ends up on a terminal or in a log: control
 * bytes are escaped so the message stays one line, and long text is cut on a UTF-8 boundary
 * so that one huge value cannot push the rest of the message out of its 512 bytes.
 */
const char *warren__quote(char *buf, size_t size, const char *s, size_t len, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0, n = len;

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	buf[o++] = '"';
	for (i = 0; i < n && o + 8 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 0xf];
		} else {
			buf[o++] = (char)c;
		}
	}
	if (i < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* testkit/common.h - what the test kit's files share: the last error, clocks and
 * timeouts. Internal to the kit's library. */
#ifndef WARREN_TESTKIT_COMMON_H
#define WARREN_TESTKIT_COMMON_H

#include <stddef.h>

/* Records why the current call fails, for warren_test_error(); returns @ret. */
int kit_fail(int ret, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Milliseconds on the monotonic clock. */
long long kit_now_ms(void);

/* What is left until @deadline, in ms, for poll(); never negative. */
int kit_remaining(long long deadline);

/* @ms (WARREN_TEST_TIMEOUT_MS when 0) stretched by CK_TIMEOUT_MULTIPLIER when above 1. */
int kit_timeout(int ms);

/* Appends the @n bytes at @data to the NUL-terminated *@buf of *@len bytes. */
int kit_append(char **buf, size_t *len, const void *data, size_t n);

/* @data as C-escaped text for a message, at most @max bytes of it. */
const char *kit_escape(char *out, size_t size, const void *data, size_t len, size_t max);

#endif /* WARREN_TESTKIT_COMMON_H */

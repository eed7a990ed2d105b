/* testkit/common.c - the test kit's last error, its clock, and buffer and escaping functions. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <warren/test.h>

#include "common.h"

/* Per thread: a request made from another thread does not overwrite the reason a test is
 * about to print. */
static _Thread_local char last_error[1024];

const char *warren_test_error(void)
{
	return last_error;
}

int kit_fail(int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return ret;
}

long long kit_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int kit_remaining(long long deadline)
{
	long long left = deadline - kit_now_ms();

	return left < 0 ? 0 : left > 1000000000 ? 1000000000 : (int)left;
}

int kit_timeout(int ms)
{
	/* Check's multiplier says how much slower than usual this run may be (valgrind,
	 * sanitizers); the kit's waits stretch with the framework's own limits. */
	const char *env = getenv("CK_TIMEOUT_MULTIPLIER");
	double k = env ? strtod(env, NULL) : 1;

	if (ms <= 0)
		ms = WARREN_TEST_TIMEOUT_MS;
	return k > 1 && k < 1000 ? (int)(ms * k) : ms;
}

int kit_append(char **buf, size_t *len, const void *data, size_t n)
{
	char *nb = realloc(*buf, *len + n + 1);

	if (!nb)
		return kit_fail(-ENOMEM, "out of memory");
	if (n)
		memcpy(nb + *len, data, n);
	*len += n;
	nb[*len] = '\0';
	*buf = nb;
	return 0;
}

const char *kit_escape(char *out, size_t size, const void *data, size_t len, size_t max)
{
	const unsigned char *p = data;
	size_t o = 0;

	for (size_t i = 0; i < len && i < max && o + 5 < size; i++) {
		unsigned char ch = p[i];

		if (ch == '\r')
			o += (size_t)snprintf(out + o, size - o, "\\r");
		else if (ch == '\n')
			o += (size_t)snprintf(out + o, size - o, "\\n");
		else if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", ch);
		else
			out[o++] = (char)ch;
	}
	if (len > max && o + 4 < size)
		o += (size_t)snprintf(out + o, size - o, "...");
	out[o] = '\0';
	return out;
}

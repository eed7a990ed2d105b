/* core/server/config_value.c - describing configuration values in messages, suggesting the
 * key a typo meant, and reading sizes and durations: one implementation for warren's own
 * config and for the helpers that modules parse their config with. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "server/config_value.h"

/* Keys longer than this are never typos of a key anyone would write. */
#define SUGGEST_MAX 64

const char *config_quote(char *buf, size_t size, const char *s)
{
	return warren__quote(buf, size, s, strlen(s), CONFIG_QUOTE_MAX);
}

const char *config_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "real";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		break;
	}
	return "null";
}

/* The shortest text that reads back as @v, so 0.1 prints as "0.1", not "0.10000000000000001". */
static void format_real(char *buf, size_t size, double v)
{
	int prec;

	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

const char *config_describe(char *buf, size_t size, const json_t *v)
{
	char q[CONFIG_QUOTE_BUF];

	switch (json_typeof(v)) {
	case JSON_STRING:
		snprintf(buf, size, "string %s", config_quote(q, sizeof(q), json_string_value(v)));
		break;
	case JSON_INTEGER:
		snprintf(buf, size, "integer %" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		format_real(q, sizeof(q), json_real_value(v));
		snprintf(buf, size, "real %s", q);
		break;
	case JSON_TRUE:
		snprintf(buf, size, "boolean true");
		break;
	case JSON_FALSE:
		snprintf(buf, size, "boolean false");
		break;
	default:
		snprintf(buf, size, "%s", config_type_name(v));
		break;
	}
	return buf;
}

const char *config_describe_number(char *buf, size_t size, const json_t *v)
{
	if (json_is_integer(v))
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		format_real(buf, size, json_real_value(v));
	return buf;
}

/* Keys are shown bare when that cannot be misread, else quoted and escaped. */
static bool is_plain_key(const char *key)
{
	size_t i;

	for (i = 0; key[i]; i++) {
		unsigned char c = (unsigned char)key[i];

		if (i >= CONFIG_QUOTE_MAX || c <= 0x20 || c >= 0x7f || strchr("\"\\.[]", c))
			return false;
	}
	return i > 0;
}

void config_path_key(char *buf, size_t size, const char *key)
{
	char q[CONFIG_QUOTE_BUF];
	size_t n = strnlen(buf, size);

	if (n >= size)
		return;
	if (is_plain_key(key))
		snprintf(buf + n, size - n, "%s%s", n ? "." : "", key);
	else
		snprintf(buf + n, size - n, "[%s]", config_quote(q, sizeof(q), key));
}

/* Optimal string alignment distance, case-insensitively: a swap of neighbours is one edit. */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
	size_t d[SUGGEST_MAX + 1][SUGGEST_MAX + 1];

	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int ca = tolower((unsigned char)a[i - 1]),
			    cb = tolower((unsigned char)b[j - 1]);
			size_t best = d[i - 1][j - 1] + (ca != cb);

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

const char *config_suggest(const char *key, const char *const *candidates)
{
	size_t lk = strlen(key), best = SIZE_MAX, limit;
	const char *found = NULL;

	if (lk == 0 || lk > SUGGEST_MAX)
		return NULL;
	/* One edit in a short key already makes it another word; longer keys allow more. */
	limit = lk / 3 < 1 ? 1 : lk / 3 > 3 ? 3 : lk / 3;
	for (size_t i = 0; candidates[i]; i++) {
		const char *c = candidates[i];
		size_t lc = strlen(c), d;

		if (lc > SUGGEST_MAX || strcmp(c, key) == 0)
			continue;
		d = edit_distance(key, lk, c, lc);
		/* A key cut short ("conf" for "config") is as good as one edit. */
		if (d > limit && lk >= 3 && lc > lk && strncasecmp(c, key, lk) == 0)
			d = limit;
		if (d <= limit && d < best) {
			best = d;
			found = c;
		}
	}
	return found;
}

/* A power of 1024 for a size suffix, 0 for none, or -1 when @s is not a suffix. */
static int size_shift(const char *s)
{
	if (!s[0])
		return 0;
	if (s[1])
		return -1;
	switch (s[0]) {
	case 'k':
	case 'K':
		return 10;
	case 'm':
	case 'M':
		return 20;
	case 'g':
	case 'G':
		return 30;
	}
	return -1;
}

int config_size_value(const json_t *v, uint64_t *bytes)
{
	const char *s;
	uint64_t n = 0;
	size_t i;
	int shift;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return -ERANGE;
		*bytes = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -EINVAL;
	s = json_string_value(v);
	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		n = n * 10 + (uint64_t)(s[i] - '0');
	}
	shift = size_shift(s + i);
	if (i == 0 || shift < 0)
		return -EINVAL;
	if (n > UINT64_MAX >> shift)
		return -ERANGE;
	*bytes = n << shift;
	return 0;
}

/* Milliseconds per unit of a duration suffix, or 0 when @s is not one. */
static double duration_unit(const char *s)
{
	if (strcmp(s, "ms") == 0)
		return 1;
	if (strcmp(s, "s") == 0)
		return 1000;
	if (strcmp(s, "m") == 0)
		return 60000;
	if (strcmp(s, "h") == 0)
		return 3600000;
	return 0;
}

/* Digits with an optional fraction, nothing else: no sign, exponent, "inf" or spaces. */
static size_t decimal_length(const char *s)
{
	size_t i = 0, digits = 0;

	while (s[i] >= '0' && s[i] <= '9')
		i++, digits++;
	if (s[i] == '.') {
		i++;
		while (s[i] >= '0' && s[i] <= '9')
			i++, digits++;
	}
	return digits ? i : 0;
}

int config_duration_value(const json_t *v, uint64_t *ms)
{
	double x, unit = 1000;

	if (json_is_number(v)) {
		x = json_number_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = decimal_length(s);

		unit = n ? duration_unit(s + n) : 0;
		if (!unit)
			return -EINVAL;
		x = strtod(s, NULL);
	} else {
		return -EINVAL;
	}
	if (x < 0 || isnan(x))
		return -ERANGE;
	x *= unit;
	if (x >= 18446744073709551616.0)
		return -ERANGE;
	*ms = (uint64_t)(x + 0.5);
	if (*ms == 0 && x > 0)
		*ms = 1;
	return 0;
}

const char *config_format_size(char *buf, size_t size, uint64_t bytes)
{
	static const char units[] = "gmk";

	for (int i = 0; i < 3; i++) {
		unsigned shift = 30 - 10 * (unsigned)i;

		if (bytes && bytes % (UINT64_C(1) << shift) == 0) {
			snprintf(buf, size, "%llu%c", (unsigned long long)(bytes >> shift),
				 units[i]);
			return buf;
		}
	}
	snprintf(buf, size, "%llu", (unsigned long long)bytes);
	return buf;
}

const char *config_format_duration(char *buf, size_t size, uint64_t ms)
{
	if (ms && ms % 3600000 == 0)
		snprintf(buf, size, "%lluh", (unsigned long long)(ms / 3600000));
	else if (ms && ms % 60000 == 0)
		snprintf(buf, size, "%llum", (unsigned long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, size, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, size, "%llums", (unsigned long long)ms);
	return buf;
}

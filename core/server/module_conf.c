/* core/server/module_conf.c - the warren_conf_*() helpers that modules read their config
 * with: typed values with ranges, sizes, durations, header names and values, unknown keys
 * with a suggestion. They word their messages as config.c words warren's own and record
 * which value was wrong, so the loader can name its full JSON path. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "server/config_value.h"
#include "server/module_conf.h"

/* "expected one of ..." lists, "an integer from ... to ..." and the like. */
#define EXPECTED_BUF 256

/*
 * Where the last message a helper wrote is about: the value @at of the config, then the key
 * @key inside it (".key", "[\"k.y\"]" or ""). struct warren_error is the core's one message
 * buffer and stays that; the place is kept beside it, with a copy of the message so that
 * the loader uses it only while the message is still the helper's (a module may set
 * another with warren_error_set() after a helper failed). Helpers run in the master, from
 * init and configure; thread-local all the same, so that no call elsewhere can race.
 */
static _Thread_local struct {
	const struct warren_error *err;
	const json_t *at;
	char key[CONFIG_QUOTE_BUF + 8];
	char msg[WARREN_ERROR_MAX];
} place;

static void set_place(const struct warren_error *err, const json_t *obj, const char *key)
{
	place.err = err;
	place.at = obj;
	place.key[0] = '\0';
	/* The path of @obj is never empty (the loader's base comes first): "." joins. */
	if (key) {
		config_path_key(place.key, sizeof(place.key), key);
		if (place.key[0] != '[')
			snprintf(place.key, sizeof(place.key), ".%s", key);
	}
	snprintf(place.msg, sizeof(place.msg), "%s", err->msg);
}

/* Every failure goes through the public call, so that a module's own message and the
 * helpers' are placed alike. */
WARREN_API int warren_conf_error(struct warren_error *err, const json_t *obj, const char *key,
				 const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	set_place(err, obj, key);
	return -EINVAL;
}

/* "expected <what>, got string \"x\"" about the value at @key of @obj. */
static int fail_value(struct warren_error *err, const json_t *obj, const char *key,
		      const char *expected, const json_t *v)
{
	char what[CONFIG_DESCRIBE_BUF];

	return warren_conf_error(err, obj, key, "expected %s, got %s", expected,
				 config_describe(what, sizeof(what), v));
}

/*
 * The value to check: the member @key of @obj, or @obj itself when @key is NULL. Returns
 * 1 when there is one, 0 when it is absent and may be, -EINVAL when it had to be there.
 */
static int lookup(const json_t *obj, const char *key, unsigned flags, const char *expected,
		  const json_t **v, struct warren_error *err)
{
	*v = key ? json_object_get(obj, key) : obj;
	if (*v)
		return 1;
	if (flags & WARREN_CONF_REQUIRED)
		return warren_conf_error(err, obj, key, "missing (expected %s)", expected);
	return 0;
}

WARREN_API int warren_conf_int(const json_t *obj, const char *key, unsigned flags, long long min,
			       long long max, long long *out, struct warren_error *err)
{
	char expected[EXPECTED_BUF], what[CONFIG_DESCRIBE_BUF];
	const json_t *v;
	int ret;

	snprintf(expected, sizeof(expected), "an integer from %lld to %lld", min, max);
	ret = lookup(obj, key, flags, expected, &v, err);
	if (ret <= 0)
		return ret;
	if (!json_is_integer(v))
		return fail_value(err, obj, key, expected, v);
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return warren_conf_error(err, obj, key, "expected %s, got %s", expected,
					 config_describe_number(what, sizeof(what), v));
	*out = json_integer_value(v);
	return 0;
}

/* A value that has the right form but not the right size: as written. */
static const char *describe_written(char *buf, size_t size, const json_t *v)
{
	char q[CONFIG_QUOTE_BUF];

	if (json_is_string(v))
		snprintf(buf, size, "%s", config_quote(q, sizeof(q), json_string_value(v)));
	else
		config_describe_number(buf, size, v);
	return buf;
}

WARREN_API int warren_conf_size(const json_t *obj, const char *key, unsigned flags, uint64_t min,
				uint64_t max, uint64_t *out, struct warren_error *err)
{
	char expected[EXPECTED_BUF], what[CONFIG_DESCRIBE_BUF], lo[32], hi[32];
	const json_t *v;
	uint64_t n;
	int ret;

	snprintf(expected, sizeof(expected), "a size from %s to %s",
		 config_format_size(lo, sizeof(lo), min), config_format_size(hi, sizeof(hi), max));
	ret = lookup(obj, key, flags, expected, &v, err);
	if (ret <= 0)
		return ret;
	ret = config_size_value(v, &n);
	if (ret == -EINVAL)
		return warren_conf_error(
			err, obj, key,
			"expected %s (bytes, or a string like \"64k\" or \"16m\"), got %s",
			expected, config_describe(what, sizeof(what), v));
	if (ret < 0 || n < min || n > max)
		return warren_conf_error(err, obj, key, "expected %s, got %s", expected,
					 describe_written(what, sizeof(what), v));
	*out = n;
	return 0;
}

WARREN_API int warren_conf_duration(const json_t *obj, const char *key, unsigned flags,
				    uint64_t min_ms, uint64_t max_ms, uint64_t *out_ms,
				    struct warren_error *err)
{
	char expected[EXPECTED_BUF], what[CONFIG_DESCRIBE_BUF], lo[32], hi[32];
	const json_t *v;
	uint64_t ms;
	int ret;

	snprintf(expected, sizeof(expected), "a duration from %s to %s",
		 config_format_duration(lo, sizeof(lo), min_ms),
		 config_format_duration(hi, sizeof(hi), max_ms));
	ret = lookup(obj, key, flags, expected, &v, err);
	if (ret <= 0)
		return ret;
	ret = config_duration_value(v, &ms);
	if (ret == -EINVAL)
		return warren_conf_error(
			err, obj, key,
			"expected %s (seconds, or a string like \"250ms\", \"2s\" or \"1m\"), "
			"got %s",
			expected, config_describe(what, sizeof(what), v));
	if (ret < 0 || ms < min_ms || ms > max_ms)
		return warren_conf_error(err, obj, key, "expected %s, got %s", expected,
					 describe_written(what, sizeof(what), v));
	*out_ms = ms;
	return 0;
}

/* A string value, checked for type and NULs (a config built with JSON_ALLOW_NUL). */
static int get_string(const json_t *obj, const char *key, unsigned flags, const char *expected,
		      const char **s, struct warren_error *err)
{
	const json_t *v;
	int ret;

	ret = lookup(obj, key, flags, expected, &v, err);
	if (ret <= 0)
		return ret;
	if (!json_is_string(v))
		return fail_value(err, obj, key, expected, v);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return warren_conf_error(err, obj, key, "expected %s, got a string with a NUL byte",
					 expected);
	*s = json_string_value(v);
	return 1;
}

WARREN_API int warren_conf_string(const json_t *obj, const char *key, unsigned flags,
				  size_t max_len, const char **out, struct warren_error *err)
{
	char expected[EXPECTED_BUF];
	const char *s;
	int ret;

	if (max_len)
		snprintf(expected, sizeof(expected), "a non-empty string of at most %zu bytes",
			 max_len);
	else
		snprintf(expected, sizeof(expected), "a non-empty string");
	ret = get_string(obj, key, flags, expected, &s, err);
	if (ret <= 0)
		return ret;
	if (!*s)
		return warren_conf_error(err, obj, key, "expected %s, got an empty string",
					 expected);
	if (max_len && strlen(s) > max_len)
		return warren_conf_error(err, obj, key, "expected %s, got %zu bytes", expected,
					 strlen(s));
	*out = s;
	return 0;
}

WARREN_API int warren_conf_enum(const json_t *obj, const char *key, unsigned flags,
				const char *const *choices, unsigned *out, struct warren_error *err)
{
	char expected[EXPECTED_BUF], q[CONFIG_QUOTE_BUF], what[CONFIG_DESCRIBE_BUF];
	const char *guess;
	const json_t *v;
	size_t o = 0;
	int ret;

	o = (size_t)snprintf(expected, sizeof(expected), "one of");
	for (size_t i = 0; choices[i] && o < sizeof(expected); i++)
		o += (size_t)snprintf(expected + o, sizeof(expected) - o, "%s %s", i ? "," : "",
				      config_quote(q, sizeof(q), choices[i]));
	ret = lookup(obj, key, flags, expected, &v, err);
	if (ret <= 0)
		return ret;
	for (unsigned i = 0; json_is_string(v) && choices[i]; i++) {
		if (strcmp(json_string_value(v), choices[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	guess = json_is_string(v) ? config_suggest(json_string_value(v), choices) : NULL;
	if (guess)
		return warren_conf_error(err, obj, key, "expected %s, got %s (did you mean %s?)",
					 expected, config_describe(what, sizeof(what), v),
					 config_quote(q, sizeof(q), guess));
	return fail_value(err, obj, key, expected, v);
}

WARREN_API int warren_conf_bool(const json_t *obj, const char *key, unsigned flags, bool *out,
				struct warren_error *err)
{
	const char *expected = "true or false";
	const json_t *v;
	int ret;

	ret = lookup(obj, key, flags, expected, &v, err);
	if (ret <= 0)
		return ret;
	if (!json_is_boolean(v))
		return fail_value(err, obj, key, expected, v);
	*out = json_is_true(v);
	return 0;
}

/* RFC 9110 token: what warren_resp_header() accepts as a name. */
static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c && strchr("!#$%&'*+-.^_`|~", c))))
			return false;
	}
	return true;
}

/* RFC 9110 field-value: no control bytes but tab, so no CR, LF or NUL. */
static bool is_field_value(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return false;
	return true;
}

#define HEADER_NAME_EXPECTED "a header name (letters, digits and !#$%&'*+-.^_`|~)"
#define HEADER_VALUE_EXPECTED "a header value (text without control characters but tab)"

/* A string that @valid accepts, described as @expected when it does not. */
static int get_checked_string(const json_t *obj, const char *key, unsigned flags,
			      const char *expected, bool (*valid)(const char *s), const char **out,
			      struct warren_error *err)
{
	const char *s;
	int ret;

	ret = get_string(obj, key, flags, expected, &s, err);
	if (ret <= 0)
		return ret;
	if (!valid(s))
		return fail_value(err, obj, key, expected, key ? json_object_get(obj, key) : obj);
	*out = s;
	return 0;
}

WARREN_API int warren_conf_header_name(const json_t *obj, const char *key, unsigned flags,
				       const char **out, struct warren_error *err)
{
	return get_checked_string(obj, key, flags, HEADER_NAME_EXPECTED, is_token, out, err);
}

WARREN_API int warren_conf_header_value(const json_t *obj, const char *key, unsigned flags,
					const char **out, struct warren_error *err)
{
	return get_checked_string(obj, key, flags, HEADER_VALUE_EXPECTED, is_field_value, out, err);
}

WARREN_API int warren_conf_header(const json_t *obj, const char *key, const char **value,
				  struct warren_error *err)
{
	if (!key)
		return warren_conf_error(err, obj, NULL, "no header name given");
	if (!is_token(key))
		return warren_conf_error(err, obj, key,
					 "not a header name (letters, digits and "
					 "!#$%%&'*+-.^_`|~ only)");
	if (strcasecmp(key, "Content-Length") == 0 || strcasecmp(key, "Transfer-Encoding") == 0 ||
	    strcasecmp(key, "Connection") == 0)
		return warren_conf_error(err, obj, key,
					 "warren sets this header itself (message framing)");
	return warren_conf_header_value(obj, key, WARREN_CONF_REQUIRED, value, err);
}

WARREN_API int warren_conf_object(const json_t *obj, const char *key, unsigned flags,
				  const json_t **out, struct warren_error *err)
{
	const json_t *v;
	int ret;

	ret = lookup(obj, key, flags, "an object", &v, err);
	if (ret <= 0)
		return ret;
	if (!json_is_object(v))
		return fail_value(err, obj, key, "an object", v);
	*out = v;
	return 0;
}

WARREN_API int warren_conf_array(const json_t *obj, const char *key, unsigned flags, size_t min,
				 size_t max, const json_t **out, struct warren_error *err)
{
	char expected[EXPECTED_BUF];
	const json_t *v;
	size_t n;
	int ret;

	if (max)
		snprintf(expected, sizeof(expected), "an array of %zu to %zu elements", min, max);
	else if (min)
		snprintf(expected, sizeof(expected), "an array of at least %zu element%s", min,
			 min == 1 ? "" : "s");
	else
		snprintf(expected, sizeof(expected), "an array");
	ret = lookup(obj, key, flags, expected, &v, err);
	if (ret <= 0)
		return ret;
	if (!json_is_array(v))
		return fail_value(err, obj, key, expected, v);
	n = json_array_size(v);
	if (n == 0 && min)
		return warren_conf_error(err, obj, key, "expected %s, got an empty array",
					 expected);
	if (n < min || (max && n > max))
		return warren_conf_error(err, obj, key, "expected %s, got %zu", expected, n);
	*out = v;
	return 0;
}

WARREN_API int warren_conf_keys(const json_t *obj, const char *const *known,
				struct warren_error *err)
{
	char q[CONFIG_QUOTE_BUF], list[EXPECTED_BUF];
	const char *key, *guess;
	const json_t *v;
	size_t o = 0, i;

	json_object_foreach((json_t *)obj, key, v) {
		for (i = 0; known[i] && strcmp(known[i], key) != 0; i++)
			;
		if (known[i])
			continue;
		config_quote(q, sizeof(q), key);
		guess = config_suggest(key, known);
		if (guess)
			return warren_conf_error(err, obj, NULL,
						 "unknown key %s (did you mean \"%s\"?)", q, guess);
		list[0] = '\0';
		for (i = 0; known[i] && o < sizeof(list); i++)
			o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "",
					      known[i]);
		if (!known[0])
			return warren_conf_error(err, obj, NULL,
						 "unknown key %s (none are allowed here)", q);
		return warren_conf_error(err, obj, NULL, "unknown key %s (expected one of: %s)", q,
					 list);
	}
	return 0;
}

/* Appends to @buf the path from @node down to @target; false when @target is not there. */
static bool find_path(const json_t *node, const json_t *target, char *buf, size_t size)
{
	size_t len = strnlen(buf, size);
	const char *key;
	json_t *v;
	size_t i;

	if (node == target)
		return true;
	if (json_is_object(node)) {
		json_object_foreach((json_t *)node, key, v) {
			config_path_key(buf, size, key);
			if (find_path(v, target, buf, size))
				return true;
			buf[len] = '\0';
		}
	} else if (json_is_array(node)) {
		json_array_foreach(node, i, v) {
			snprintf(buf + len, size - len, "[%zu]", i);
			if (find_path(v, target, buf, size))
				return true;
			buf[len] = '\0';
		}
	}
	return false;
}

void module_conf_where(const struct warren_error *err, const json_t *root, const char *base,
		       char *buf, size_t size)
{
	size_t n;

	snprintf(buf, size, "%s", base);
	if (place.err != err || strncmp(place.msg, err->msg, sizeof(place.msg)) != 0)
		return;
	/* Keys are appended as ".key" to a path that is never empty: @base comes first. */
	n = strnlen(buf, size);
	/* jansson has one true, one false and one null for every document: found by identity,
	 * such a value could be another key's. Then only the config's own path is certain. */
	if (place.at && (json_is_boolean(place.at) || json_is_null(place.at)))
		return;
	if (place.at && !find_path(root, place.at, buf, size))
		buf[n] = '\0';
	n = strnlen(buf, size);
	snprintf(buf + n, size - n, "%s", place.key);
}

void module_conf_error_clear(struct warren_error *err)
{
	err->msg[0] = '\0';
	place.err = NULL;
}

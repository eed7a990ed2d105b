/* core/server/config_value.h - the words and units of configuration messages, shared by
 * warren's own config (config.c) and the helpers modules parse theirs with (module_conf.c):
 * what a wrong value is, how a key is written in a path, which known key a typo meant,
 * and sizes ("64k") and durations ("250ms") written as text. */
#ifndef WARREN_CORE_CONFIG_VALUE_H
#define WARREN_CORE_CONFIG_VALUE_H

#include <stdint.h>

#include <jansson.h>

#include "base/common.h"

/* Enough of a user's string to recognise it without flooding a one-line message. */
#define CONFIG_QUOTE_MAX 40
/* Worst case: every byte escaped as \xNN, plus quotes, "..." and NUL. */
#define CONFIG_QUOTE_BUF (CONFIG_QUOTE_MAX * 4 + 8)
/* A type name followed by a quoted string or a number. */
#define CONFIG_DESCRIBE_BUF (CONFIG_QUOTE_BUF + 16)

/* @s quoted and escaped for a message, cut after CONFIG_QUOTE_MAX bytes. */
const char *config_quote(char *buf, size_t size, const char *s);

/* "object", "string", "integer", ... */
const char *config_type_name(const json_t *v);

/* What a value of the wrong type is, for "... got <this>": `string "big"`, `integer 5`. */
const char *config_describe(char *buf, size_t size, const json_t *v);

/* A number of the right type that is out of range: just the number. */
const char *config_describe_number(char *buf, size_t size, const json_t *v);

/*
 * Appends @key to the JSON path in @buf (@size bytes, NUL-terminated): ".key", or
 * "[\"quoted key\"]" when a bare key could be misread (dots, brackets, spaces, control
 * bytes, very long), or "key" alone at the start of an empty path.
 */
void config_path_key(char *buf, size_t size, const char *key);

/*
 * The candidate that @key most likely misspells: one a few edits away (letters swapped,
 * dropped, added or changed; case ignored) or that @key starts, so "max_value_sise" gives
 * "max_value_size" and "conf" gives "config". @candidates ends with NULL; a candidate
 * equal to @key is never suggested. NULL when none is close enough.
 */
const char *config_suggest(const char *key, const char *const *candidates);

/*
 * A size: a JSON integer (bytes), or a string of digits with an optional suffix k, m or g
 * (either case; powers of 1024): "512", "64k", "16m". Returns 0, -EINVAL for anything else,
 * -ERANGE above UINT64_MAX.
 */
int config_size_value(const json_t *v, uint64_t *bytes);

/*
 * A duration in milliseconds: a JSON number of seconds (fractions allowed), or a string of
 * a number and a unit ms, s, m or h: "250ms", "2s", "1.5m". A positive duration shorter
 * than a millisecond counts as 1 ms, never as 0 ("off" in many places). Returns 0,
 * -EINVAL for anything else, -ERANGE above UINT64_MAX ms.
 */
int config_duration_value(const json_t *v, uint64_t *ms);

/* @bytes in the largest unit that writes it exactly: "16m", "1500", "4k". */
const char *config_format_size(char *buf, size_t size, uint64_t bytes);

/* @ms in the largest unit that writes it exactly: "1h", "90s", "250ms". */
const char *config_format_duration(char *buf, size_t size, uint64_t ms);

#endif /* WARREN_CORE_CONFIG_VALUE_H */

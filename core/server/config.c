/* core/server/config.c - reads the JSON configuration and checks every value, so that later stages
 * (module loading, routing, listeners) only ever see a well-formed struct config. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <http_parser.h>

#include "base/log.h"
#include "server/address.h"
#include "server/config.h"
#include "server/config_table.h"
#include "server/config_value.h"
#include "server/server.h"
#include "http/router.h"

#define CONFIG_MAX_FILE_SIZE (16 * 1024 * 1024)

#define QUOTE_BUF CONFIG_QUOTE_BUF
/* File names are worth showing in full; they are cut only when absurdly long. */
#define QUOTE_PATH_MAX 256
#define QUOTE_PATH_BUF (QUOTE_PATH_MAX * 4 + 8)

/* "routes[18446744073709551615].match.method[18446744073709551615]" fits easily. */
#define JPATH_BUF 128
#define DESCRIBE_BUF CONFIG_DESCRIBE_BUF
/* More keys than any object of the config has. */
#define SECTION_KEYS_MAX 64

#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_ROUTE_PATH "/*"

#define XX(num, name, string) +1
enum {
	METHOD_COUNT = 0 HTTP_METHOD_MAP(XX)
};
#undef XX

_Static_assert(METHOD_COUNT <= 64, "route method masks are 64 bits wide");

static const char *quote_n(char *buf, size_t size, const char *s, size_t max)
{
	return warren__quote(buf, size, s, strlen(s), max);
}

static const char *quote(char *buf, size_t size, const char *s)
{
	return config_quote(buf, size, s);
}

static int fail(struct warren_error *err, const char *path, const char *fmt, ...)
	WARREN_PRINTF(3, 4);

/* Sets "path: message"; every validation error goes through here and is -EINVAL. */
static int fail(struct warren_error *err, const char *path, const char *fmt, ...)
{
	size_t n = 0;
	va_list ap;

	if (path && *path) {
		n = (size_t)snprintf(err->msg, sizeof(err->msg), "%s: ", path);
		if (n >= sizeof(err->msg))
			return -EINVAL;
	}
	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof(err->msg) - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int fail_nomem(struct warren_error *err)
{
	snprintf(err->msg, sizeof(err->msg), "out of memory");
	return -ENOMEM;
}

/* Puts "path: " in front of a message that a helper wrote without knowing where it was. */
static void prefix_error(struct warren_error *err, const char *path)
{
	size_t plen = strlen(path) + 2, mlen = strnlen(err->msg, sizeof(err->msg) - 1);

	if (plen >= sizeof(err->msg))
		return;
	if (mlen > sizeof(err->msg) - 1 - plen)
		mlen = sizeof(err->msg) - 1 - plen;
	memmove(err->msg + plen, err->msg, mlen);
	err->msg[plen + mlen] = '\0';
	memcpy(err->msg, path, plen - 2);
	memcpy(err->msg + plen - 2, ": ", 2);
}

/* Paths are at most three levels of our own key names and indexes, so they always fit;
 * the length checks only keep the compiler's truncation analysis quiet. */
static const char *jpath_index(char *buf, const char *parent, size_t i)
{
	if (snprintf(buf, JPATH_BUF, "%s[%zu]", parent, i) >= JPATH_BUF)
		buf[JPATH_BUF - 1] = '\0';
	return buf;
}

static const char *jpath_key(char *buf, const char *parent, const char *key)
{
	int n;

	if (*parent)
		n = snprintf(buf, JPATH_BUF, "%s.%s", parent, key);
	else
		n = snprintf(buf, JPATH_BUF, "%s", key);
	if (n >= JPATH_BUF)
		buf[JPATH_BUF - 1] = '\0';
	return buf;
}

static int fail_type(struct warren_error *err, const char *path, const char *expected,
		     const json_t *v)
{
	char what[DESCRIBE_BUF];

	return fail(err, path, "expected %s, got %s", expected,
		    config_describe(what, sizeof(what), v));
}

static bool is_known(const char *key, const char *parent)
{
	for (size_t i = 0; i < config_table_rows; i++)
		if (config_row_in(&config_table[i], parent) &&
		    strcmp(key, config_row_key(&config_table[i])) == 0)
			return true;
	return false;
}

/* Where the walk is: list elements are parsed into their own structs, at @index. */
struct walk {
	struct config *cfg;
	size_t index;
	struct warren_error *err;
};

/* Module config keys (struct warren_module.config_key) may stand at the top level and in
 * routes. */
#define MODULE_KEYS_MAX 32

static bool takes_module_keys(const char *parent)
{
	return !*parent || strcmp(parent, "routes[]") == 0;
}

/* Whether a built-in module owns @key; each is compiled against this ABI, so has the field. */
static bool builtin_owns(const char *key)
{
	for (size_t i = 0; warren__builtin_modules[i]; i++)
		if (warren__builtin_modules[i]->config_key &&
		    strcmp(warren__builtin_modules[i]->config_key, key) == 0)
			return true;
	return false;
}

/*
 * The keys allowed in the object at @parent, into @keys (room for SECTION_KEYS_MAX +
 * MODULE_KEYS_MAX + 1): the table's rows there and, where modules' keys may stand, the
 * built-in modules' and @more.
 */
static void allowed_keys(const char **keys, const char *parent, const char *const *more)
{
	size_t n = 0, m = 0;

	for (size_t i = 0; i < config_table_rows; i++)
		if (config_row_in(&config_table[i], parent) && n < SECTION_KEYS_MAX)
			keys[n++] = config_row_key(&config_table[i]);
	if (takes_module_keys(parent)) {
		for (size_t i = 0; warren__builtin_modules[i] && m < MODULE_KEYS_MAX; i++)
			if (warren__builtin_modules[i]->config_key)
				keys[n++] = warren__builtin_modules[i]->config_key, m++;
		for (size_t i = 0; more && more[i] && m < MODULE_KEYS_MAX; i++)
			keys[n++] = more[i], m++;
	}
	keys[n] = NULL;
}

static int unknown_key(const char *key, const char *path, const char *parent,
		       const char *const *more, struct warren_error *err)
{
	const char *keys[SECTION_KEYS_MAX + MODULE_KEYS_MAX + 1], *guess;
	char list[384], at[JPATH_BUF];
	size_t o = 0;

	allowed_keys(keys, parent, more);
	snprintf(at, sizeof(at), "%s", path);
	config_path_key(at, sizeof(at), key);
	guess = config_suggest(key, keys);
	if (guess)
		return fail(err, at, "unknown key (did you mean \"%s\"?)", guess);
	for (size_t i = 0; keys[i] && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", o ? ", " : "", keys[i]);
	return fail(err, at, "unknown key (expected one of: %s)", list);
}

int config_unknown_key(const struct config_ext *ext, const char *const *more,
		       struct warren_error *err)
{
	char path[JPATH_BUF];

	if (ext->route < 0)
		return unknown_key(ext->key, "", "", more, err);
	jpath_index(path, "routes", (size_t)ext->route);
	return unknown_key(ext->key, path, "routes[]", more, err);
}

/* Keeps @key of the object at @parent for the module that owns it (struct config_ext). */
static int add_ext(struct config *cfg, const char *key, json_t *v, long route, bool builtin,
		   struct warren_error *err)
{
	struct config_ext *grown = realloc(cfg->ext, (cfg->next + 1) * sizeof(*grown));

	if (!grown)
		return fail_nomem(err);
	cfg->ext = grown;
	cfg->ext[cfg->next++] =
		(struct config_ext){.key = key, .value = v, .route = route, .builtin = builtin};
	return 0;
}

/* A key no built-in module owns can only be a plugin's: without one, it is a mistake. */
static int check_ext(const struct config *cfg, struct warren_error *err)
{
	for (size_t i = 0; i < cfg->nmodules; i++)
		if (cfg->modules[i].path)
			return 0;
	for (size_t i = 0; i < cfg->next; i++)
		if (!cfg->ext[i].builtin)
			return config_unknown_key(&cfg->ext[i], NULL, err);
	return 0;
}

/*
 * Typos in key names are the most common config mistake; never ignore them silently, and
 * name the key that was probably meant. The keys allowed in the object at @path are the
 * table's rows in @parent; at the top level and in routes also modules' config keys, which
 * are kept for server.c unless the key is a likely typo of one the table or a built-in
 * module knows.
 */
static int check_keys(struct walk *w, const json_t *obj, const char *path, const char *parent)
{
	const char *keys[SECTION_KEYS_MAX + MODULE_KEYS_MAX + 1], *key;
	json_t *v;
	int ret;

	json_object_foreach((json_t *)obj, key, v) {
		bool builtin;

		if (is_known(key, parent))
			continue;
		if (!takes_module_keys(parent))
			return unknown_key(key, path, parent, NULL, w->err);
		builtin = builtin_owns(key);
		if (!builtin) {
			allowed_keys(keys, parent, NULL);
			if (config_suggest(key, keys))
				return unknown_key(key, path, parent, NULL, w->err);
		}
		ret = add_ext(w->cfg, key, v, *parent ? (long)w->index : -1, builtin, w->err);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- The table walker --------------------------------------------------------------- */

typedef int (*custom_fn)(struct walk *w, const struct config_row *row, json_t *parent, json_t *v,
			 void *base, const char *path);

static int run_custom(struct walk *w, const struct config_row *row, json_t *parent, json_t *v,
		      void *base, const char *path);

static void store(void *field, size_t width, unsigned long long v)
{
	switch (width) {
	case 1:
		*(uint8_t *)field = (uint8_t)v;
		break;
	case 2:
		*(uint16_t *)field = (uint16_t)v;
		break;
	case 4:
		*(uint32_t *)field = (uint32_t)v;
		break;
	default:
		*(uint64_t *)field = (uint64_t)v;
		break;
	}
}

/* Whether @row belongs to the struct that @list's elements (NULL: struct config) are. */
static bool row_in_struct(const struct config_row *row, const char *list)
{
	const char *open = strchr(row->path, '[');

	if (!list)
		return !open;
	return open && (size_t)(open - row->path) == strlen(list) &&
	       strncmp(row->path, list, strlen(list)) == 0;
}

/* Puts the table's defaults into @base: struct config, or an element of @list. */
static void set_defaults(void *base, const char *list)
{
	for (size_t i = 0; i < config_table_rows; i++) {
		const struct config_row *row = &config_table[i];

		if (row->kind == CONFIG_SECTION || row->kind == CONFIG_LIST ||
		    row->kind == CONFIG_CUSTOM || row->kind == CONFIG_PATH ||
		    !row_in_struct(row, list))
			continue;
		store((char *)base + row->offset, row->width, (unsigned long long)row->def);
	}
}

static int get_size(const struct config_row *row, const json_t *v, const char *path, void *field,
		    struct warren_error *err)
{
	char what[DESCRIBE_BUF];

	if (!json_is_integer(v))
		return fail(err, path, "expected an integer from %lld to %lld, got %s", row->min,
			    row->max, config_describe(what, sizeof(what), v));
	if (json_integer_value(v) < row->min || json_integer_value(v) > row->max)
		return fail(err, path, "expected an integer from %lld to %lld, got %s", row->min,
			    row->max, config_describe_number(what, sizeof(what), v));
	store(field, row->width, (unsigned long long)json_integer_value(v));
	return 0;
}

/* Seconds in the file (fractions allowed), milliseconds inside. */
static int get_seconds(const struct config_row *row, const json_t *v, const char *path,
		       unsigned *ms, struct warren_error *err)
{
	bool allow_zero = row->flags & CONFIG_ZERO_OK;
	char what[DESCRIBE_BUF], expected[64];
	double s;

	snprintf(expected, sizeof(expected),
		 allow_zero ? "a number of seconds from 0 to %d" :
			      "a number of seconds above 0 and at most %d",
		 CONFIG_MAX_SECONDS);
	if (!json_is_number(v))
		return fail_type(err, path, expected, v);
	s = json_number_value(v);
	if (s < 0 || (s == 0 && !allow_zero) || s > CONFIG_MAX_SECONDS)
		return fail(err, path, "expected %s, got %s", expected,
			    config_describe_number(what, sizeof(what), v));
	*ms = (unsigned)(s * 1000 + 0.5);
	/* A tiny positive timeout must not turn into 0, which means "disabled" or "none". */
	if (*ms == 0 && s > 0)
		*ms = 1;
	return 0;
}

static int get_enum(const struct config_row *row, const json_t *v, const char *path, void *field,
		    struct warren_error *err)
{
	const char *s = json_string_value(v);

	for (size_t i = 0; s && row->names[i]; i++) {
		if (strcmp(s, row->names[i]) == 0) {
			store(field, row->width, i);
			return 0;
		}
	}
	return fail_type(err, path, row->expected, v);
}

/* "auto" (0) or a count, e.g. workers. */
static int get_count_or_auto(const struct config_row *row, const json_t *v, const char *path,
			     void *field, struct warren_error *err)
{
	char what[DESCRIBE_BUF];
	json_int_t n;

	if (json_is_string(v) && strcmp(json_string_value(v), "auto") == 0) {
		store(field, row->width, 0);
		return 0;
	}
	if (!json_is_integer(v))
		return fail_type(err, path, "a positive integer or \"auto\"", v);
	n = json_integer_value(v);
	if (n < row->min)
		return fail(err, path, "expected a positive integer or \"auto\", got %s",
			    config_describe_number(what, sizeof(what), v));
	if (n > row->max)
		return fail(err, path, "expected at most %lld %s or \"auto\", got %s", row->max,
			    config_row_key(row), config_describe_number(what, sizeof(what), v));
	store(field, row->width, (unsigned long long)n);
	return 0;
}

/* Checks the value @v of @row and stores it at @field. */
static int get_value(const struct config_row *row, const json_t *v, const char *path, void *field,
		     struct warren_error *err)
{
	switch (row->kind) {
	case CONFIG_SIZE:
		return get_size(row, v, path, field, err);
	case CONFIG_SECONDS:
		return get_seconds(row, v, path, field, err);
	case CONFIG_BOOL:
		if (!json_is_boolean(v))
			return fail_type(err, path, "true or false", v);
		*(bool *)field = json_is_true(v);
		return 0;
	case CONFIG_PATH:
		if (!json_is_string(v) || json_string_value(v)[0] == '\0')
			return fail_type(err, path,
					 row->expected ? row->expected : "a non-empty file path",
					 v);
		*(char **)field = strdup(json_string_value(v));
		return *(char **)field ? 0 : fail_nomem(err);
	case CONFIG_ENUM:
		return get_enum(row, v, path, field, err);
	case CONFIG_COUNT_OR_AUTO:
		return get_count_or_auto(row, v, path, field, err);
	case CONFIG_AUTO_OR_FALSE:
		if (!(json_is_string(v) && strcmp(json_string_value(v), "auto") == 0) &&
		    !json_is_false(v))
			return fail_type(err, path, "\"auto\" or false", v);
		*(bool *)field = json_is_string(v);
		return 0;
	default:
		return fail(err, path, "no parser for this key");
	}
}

/*
 * Parses the object @obj at JSON path @path, whose keys are the table's rows in @parent,
 * into @base. An absent object (@obj NULL) is walked too: its values keep their defaults,
 * and the rows parsed by code of their own see that their value is absent.
 */
static int walk_object(struct walk *w, const char *parent, json_t *obj, void *base,
		       const char *path)
{
	char p[JPATH_BUF];
	int ret = 0;

	if (obj)
		ret = check_keys(w, obj, path, parent);
	for (size_t i = 0; !ret && i < config_table_rows; i++) {
		const struct config_row *row = &config_table[i];
		json_t *v;

		if (!config_row_in(row, parent))
			continue;
		v = obj ? json_object_get(obj, config_row_key(row)) : NULL;
		jpath_key(p, path, config_row_key(row));
		if (row->kind == CONFIG_SECTION) {
			if (v && !json_is_object(v))
				return fail_type(w->err, p, "an object", v);
			ret = walk_object(w, row->path, v, base, p);
		} else if (row->kind == CONFIG_LIST || row->kind == CONFIG_CUSTOM) {
			ret = run_custom(w, row, obj, v, base, p);
		} else if (v) {
			ret = get_value(row, v, p, (char *)base + row->offset, w->err);
		}
	}
	return ret;
}

/*
 * Handlers and module init callbacks always get an object; an absent "config" becomes an
 * empty one attached to @parent, so it is owned (and freed) by the root like the others.
 */
static int custom_config_object(struct walk *w, const struct config_row *row, json_t *parent,
				json_t *v, void *base, const char *path)
{
	if (!v) {
		v = json_object();
		if (!v || json_object_set_new(parent, "config", v))
			return fail_nomem(w->err);
	} else if (!json_is_object(v)) {
		return fail_type(w->err, path, "an object", v);
	}
	*(json_t **)((char *)base + row->offset) = v;
	return 0;
}

/*
 * Checks that @v is an array and allocates zeroed room for its elements, @size bytes each.
 * An absent or empty array gives NULL and 0.
 */
static int list_alloc(const json_t *v, const char *key, const char *expected, size_t size,
		      void **items, size_t *count, struct warren_error *err)
{
	*items = NULL;
	*count = 0;
	if (!v)
		return 0;
	if (!json_is_array(v))
		return fail_type(err, key, expected, v);
	if (json_array_size(v) == 0)
		return 0;
	*items = calloc(json_array_size(v), size);
	if (!*items)
		return fail_nomem(err);
	*count = json_array_size(v);
	return 0;
}

/* ---- Listen addresses --------------------------------------------------------------- */

static int add_listen(struct config *cfg, size_t i, const char *text, const char *path,
		      struct warren_error *err)
{
	struct listen_conf *l = &cfg->listen[i];
	char q[QUOTE_BUF], other[JPATH_BUF];
	size_t j;
	int ret;

	ret = address_parse(text, &l->addr, &l->addrlen, err);
	if (ret) {
		prefix_error(err, path);
		return ret;
	}
	/* Port 0 asks the kernel for a fresh port each time, so those never collide. */
	for (j = 0; j < i && !address_any_port(&l->addr); j++) {
		if (address_equal(&cfg->listen[j].addr, cfg->listen[j].addrlen, &l->addr,
				  l->addrlen))
			return fail(err, path, "duplicate address %s (also %s)",
				    quote(q, sizeof(q), text), jpath_index(other, "listen", j));
	}
	l->text = strdup(text);
	if (!l->text)
		return fail_nomem(err);
	return 0;
}

static int custom_listen_address(struct walk *w, const struct config_row *row, json_t *parent,
				 json_t *v, void *base, const char *path)
{
	(void)row, (void)parent, (void)base;
	if (!v)
		return fail(w->err, path, "missing (expected \"host:port\" or \"unix:/path\")");
	if (!json_is_string(v))
		return fail_type(w->err, path, "a \"host:port\" or \"unix:/path\" string", v);
	return add_listen(w->cfg, w->index, json_string_value(v), path, w->err);
}

/* A listen entry is "host:port", or an object with that as "address" plus options. */
static int parse_listen_entry(struct walk *w, json_t *item, const char *p)
{
	struct listen_conf *l = &w->cfg->listen[w->index];
	int ret;

	set_defaults(l, "listen");
	if (json_is_string(item))
		return add_listen(w->cfg, w->index, json_string_value(item), p, w->err);
	if (!json_is_object(item))
		return fail_type(w->err, p, "a \"host:port\" string or an object with \"address\"",
				 item);
	ret = walk_object(w, "listen[]", item, l, p);
	if (ret)
		return ret;
	if (l->addr.ss_family == AF_UNIX && (l->reuseport || l->defer_accept))
		return fail(w->err, p, "reuseport and defer_accept need a TCP address, not %s",
			    l->text);
	return 0;
}

static int custom_listen(struct walk *w, const struct config_row *row, json_t *parent, json_t *v,
			 void *base, const char *path)
{
	struct config *cfg = w->cfg;
	char p[JPATH_BUF];
	json_t *item;
	size_t i, n;
	int ret;

	(void)parent, (void)base;
	if (!v) {
		cfg->listen = calloc(1, sizeof(*cfg->listen));
		if (!cfg->listen)
			return fail_nomem(w->err);
		cfg->nlisten = 1;
		set_defaults(&cfg->listen[0], "listen");
		return add_listen(cfg, 0, DEFAULT_LISTEN, path, w->err);
	}
	if (!json_is_array(v))
		return fail_type(w->err, path, "an array of \"host:port\" strings", v);
	n = json_array_size(v);
	if (n == 0)
		return fail(w->err, path,
			    "expected %lld to %lld \"host:port\" strings, got an empty array",
			    row->min, row->max);
	if (n > (size_t)row->max)
		return fail(w->err, path, "expected %lld to %lld \"host:port\" strings, got %zu",
			    row->min, row->max, n);
	cfg->listen = calloc(n, sizeof(*cfg->listen));
	if (!cfg->listen)
		return fail_nomem(w->err);
	cfg->nlisten = n;
	json_array_foreach(v, i, item) {
		w->index = i;
		ret = parse_listen_entry(w, item, jpath_index(p, path, i));
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- Modules ------------------------------------------------------------------------ */

static bool is_module_name(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		if (i >= CONFIG_MAX_NAME)
			return false;
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	}
	return i > 0;
}

static int custom_module_name(struct walk *w, const struct config_row *row, json_t *parent,
			      json_t *v, void *base, const char *path)
{
	struct module_conf *m = base;
	char other[JPATH_BUF], q[QUOTE_BUF];
	const char *s;

	(void)row, (void)parent;
	if (!v)
		return fail(w->err, path, "missing");
	if (!json_is_string(v))
		return fail_type(w->err, path, "a module name string", v);
	s = json_string_value(v);
	if (!is_module_name(s))
		return fail(w->err, path, "invalid module name %s (expected 1-%d of a-z, 0-9, _)",
			    quote(q, sizeof(q), s), CONFIG_MAX_NAME);
	for (size_t j = 0; j < w->index; j++) {
		if (strcmp(w->cfg->modules[j].name, s) == 0)
			return fail(w->err, path, "duplicate module %s (also %s)",
				    quote(q, sizeof(q), s), jpath_index(other, "modules", j));
	}
	m->name = strdup(s);
	return m->name ? 0 : fail_nomem(w->err);
}

/* Walks each element of the array @v, which must be an object, into @items (@size bytes each). */
static int walk_each(struct walk *w, json_t *v, const char *path, const char *section,
		     const char *item_what, void *items, size_t size, size_t count)
{
	char p[JPATH_BUF];
	json_t *item;
	size_t i;
	int ret = 0;

	for (i = 0; !ret && i < count; i++) {
		item = json_array_get(v, i);
		jpath_index(p, path, i);
		if (!json_is_object(item))
			return fail_type(w->err, p, item_what, item);
		w->index = i;
		ret = walk_object(w, section, item, (char *)items + i * size, p);
	}
	return ret;
}

static int custom_modules(struct walk *w, const struct config_row *row, json_t *parent, json_t *v,
			  void *base, const char *path)
{
	struct config *cfg = w->cfg;
	void *items;
	int ret;

	(void)row, (void)parent, (void)base;
	ret = list_alloc(v, path, "an array of module objects", sizeof(*cfg->modules), &items,
			 &cfg->nmodules, w->err);
	cfg->modules = items;
	if (!ret)
		ret = walk_each(w, v, path, "modules[]",
				"an object with \"name\" and optional \"path\", \"config\"",
				cfg->modules, sizeof(*cfg->modules), cfg->nmodules);
	return ret;
}

/* ---- Routes ------------------------------------------------------------------------- */

static int method_from_name(const char *s)
{
	int m;

	for (m = 0; m < METHOD_COUNT; m++) {
		if (strcmp(http_method_str((enum http_method)m), s) == 0)
			return m;
	}
	return -1;
}

static int add_method(const json_t *v, const char *path, const char *list_path, size_t *first,
		      size_t i, uint64_t *mask, struct warren_error *err)
{
	char q[QUOTE_BUF], other[JPATH_BUF];
	const char *s;
	int m;

	if (!json_is_string(v))
		return fail_type(err, path, "a method name such as \"GET\"", v);
	s = json_string_value(v);
	m = method_from_name(s);
	if (m < 0)
		return fail(err, path, "unknown method %s", quote(q, sizeof(q), s));
	if (*mask & (UINT64_C(1) << m))
		return fail(err, path, "duplicate method %s (also %s)", quote(q, sizeof(q), s),
			    jpath_index(other, list_path, first[m]));
	first[m] = i;
	*mask |= UINT64_C(1) << m;
	return 0;
}

static int custom_route_method(struct walk *w, const struct config_row *row, json_t *parent,
			       json_t *v, void *base, const char *path)
{
	struct route_conf *r = base;
	size_t first[METHOD_COUNT], i;
	char p[JPATH_BUF];
	const json_t *item;
	int ret;

	(void)row, (void)parent;
	r->methods = 0;
	if (!v)
		return 0;
	if (json_is_string(v))
		return add_method(v, path, path, first, 0, &r->methods, w->err);
	if (!json_is_array(v))
		return fail_type(w->err, path, "a method name or an array of method names", v);
	if (json_array_size(v) == 0)
		return fail(w->err, path,
			    "expected a method name or a non-empty array of method names, "
			    "got an empty array");
	json_array_foreach(v, i, item) {
		ret = add_method(item, jpath_index(p, path, i), path, first, i, &r->methods,
				 w->err);
		if (ret)
			return ret;
	}
	return 0;
}

static int custom_route_path(struct walk *w, const struct config_row *row, json_t *parent,
			     json_t *v, void *base, const char *path)
{
	struct route_conf *r = base;
	const char *text = DEFAULT_ROUTE_PATH;
	int ret;

	(void)row, (void)parent;
	if (v) {
		if (!json_is_string(v))
			return fail_type(w->err, path,
					 "a path pattern string such as \"/users/:id\"", v);
		text = json_string_value(v);
	}
	/* Compiled once: check_reachable() reads it, then server_load() moves it into the
	 * router. */
	ret = route_pattern_compile(&r->pattern, text, w->err);
	if (ret) {
		prefix_error(w->err, path);
		return ret;
	}
	r->path = strdup(text);
	return r->path ? 0 : fail_nomem(w->err);
}

static int custom_route_handler(struct walk *w, const struct config_row *row, json_t *parent,
				json_t *v, void *base, const char *path)
{
	struct route_conf *r = base;

	(void)row, (void)parent;
	if (!v)
		return fail(w->err, path, "missing (expected \"module.handler\")");
	if (!json_is_string(v))
		return fail_type(w->err, path, "a \"module.handler\" string", v);
	if (!*json_string_value(v))
		return fail(w->err, path,
			    "expected a \"module.handler\" string, got an empty string");
	r->handler = strdup(json_string_value(v));
	return r->handler ? 0 : fail_nomem(w->err);
}

/* The longest Server value: a product and version or two, not a place to hide data. */
#define SERVER_HEADER_MAX 256

/* A field value that needs no trimming or quoting: printable ASCII, inner spaces. */
static bool plain_field_value(const char *s, size_t len)
{
	if (len == 0 || s[0] == ' ' || s[len - 1] == ' ')
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < ' ' || s[i] > '~')
			return false;
	return true;
}

static int custom_server_header(struct walk *w, const struct config_row *row, json_t *parent,
				json_t *v, void *base, const char *path)
{
	static const char expected[] = "a non-empty string of printable ASCII (at most 256 "
				       "bytes, no leading or trailing space) or false";
	char what[DESCRIBE_BUF];

	(void)row, (void)parent, (void)base;
	if (!v) {
		w->cfg->server_header = "warren";
		return 0;
	}
	if (json_is_false(v)) {
		w->cfg->server_header = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return fail_type(w->err, path, expected, v);
	if (json_string_length(v) > SERVER_HEADER_MAX ||
	    !plain_field_value(json_string_value(v), json_string_length(v)))
		return fail(w->err, path, "expected %s, got %s", expected,
			    config_describe(what, sizeof(what), v));
	w->cfg->server_header = json_string_value(v);
	return 0;
}

static int add_warning(struct config *cfg, struct warren_error *err, const char *fmt, ...)
	WARREN_PRINTF(3, 4);

static int add_warning(struct config *cfg, struct warren_error *err, const char *fmt, ...)
{
	char **w = reallocarray(cfg->warnings, cfg->nwarnings + 1, sizeof(*w));
	va_list ap;
	int n;

	if (!w)
		return fail_nomem(err);
	cfg->warnings = w;
	va_start(ap, fmt);
	n = vasprintf(&w[cfg->nwarnings], fmt, ap);
	va_end(ap);
	if (n < 0)
		return fail_nomem(err);
	cfg->nwarnings++;
	return 0;
}

/* The methods a route answers: GET brings HEAD; 0 is every method. */
static uint64_t answered_methods(uint64_t methods)
{
	if (methods & (UINT64_C(1) << HTTP_GET))
		methods |= UINT64_C(1) << HTTP_HEAD;
	return methods;
}

/* Whether every path that @b matches is matched by @a too. */
static bool pattern_covers(const struct route_pattern *a, const struct route_pattern *b)
{
	size_t i;

	for (i = 0; i < a->nsegs; i++) {
		/* A prefix @b also matches its bare stem, which is shorter than @a. */
		if (i >= b->nsegs)
			return false;
		if (a->segs[i].kind == SEG_PARAM)
			continue; /* any segment of @b is non-empty */
		if (b->segs[i].kind != SEG_LITERAL || b->segs[i].len != a->segs[i].len ||
		    memcmp(b->segs[i].text, a->segs[i].text, a->segs[i].len) != 0)
			return false;
	}
	return a->prefix || (b->nsegs == a->nsegs && !b->prefix);
}

static bool route_covers(const struct route_conf *a, const struct route_conf *b)
{
	uint64_t am = answered_methods(a->methods), bm = answered_methods(b->methods);

	if (am && (!bm || (bm & ~am)))
		return false;
	return pattern_covers(&a->pattern, &b->pattern);
}

/* "GET, POST" or "any method". */
static void describe_methods(char *buf, size_t size, uint64_t methods)
{
	size_t o = 0;

	buf[0] = '\0';
	if (!methods) {
		snprintf(buf, size, "any method");
		return;
	}
	for (int m = 0; m < METHOD_COUNT && o < size; m++)
		if (methods & (UINT64_C(1) << m))
			o += (size_t)snprintf(buf + o, size - o, "%s%s", o ? ", " : "",
					      http_method_str((enum http_method)m));
}

/* Bytes a request path never holds: the query starts at '?', and the parser refuses
 * spaces, control bytes and raw bytes >= 0x7f (clients send them percent-encoded). */
static const char *never_in_path(const char *path)
{
	for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
		if (*c == '?')
			return "'?' starts the query string, which is not part of the path";
		if (*c <= 0x20 || *c >= 0x7f)
			return "a request path never holds spaces, control bytes or raw non-ASCII "
			       "bytes (clients percent-encode them; paths are compared as received)";
	}
	return NULL;
}

/*
 * A route that an earlier one always takes first is a mistake the server can run with,
 * so it is a warning, not an error. Warren cannot know whether the earlier handler ever
 * declines (which would hand the request on), so the warning says that.
 */
static int check_reachable(struct config *cfg, struct warren_error *err)
{
	char q[QUOTE_BUF], methods[256];
	const char *why;
	int ret = 0;

	for (size_t j = 0; !ret && j < cfg->nroutes; j++) {
		const struct route_conf *r = &cfg->routes[j];

		why = never_in_path(r->path);
		if (why) {
			ret = add_warning(cfg, err,
					  "routes[%zu] can never match: match.path %s: %s", j,
					  quote(q, sizeof(q), r->path), why);
			continue;
		}
		for (size_t i = 0; i < j; i++) {
			const struct route_conf *first = &cfg->routes[i];

			if (!route_covers(first, r))
				continue;
			describe_methods(methods, sizeof(methods), first->methods);
			ret = add_warning(
				cfg, err,
				"routes[%zu] can never match: routes[%zu] (%s, %s) matches first, "
				"unless its handler declines",
				j, i, quote(q, sizeof(q), first->path), methods);
			break;
		}
	}
	return ret;
}

static int custom_routes(struct walk *w, const struct config_row *row, json_t *parent, json_t *v,
			 void *base, const char *path)
{
	struct config *cfg = w->cfg;
	void *items;
	int ret;

	(void)row, (void)parent, (void)base;
	ret = list_alloc(v, path, "an array of route objects", sizeof(*cfg->routes), &items,
			 &cfg->nroutes, w->err);
	cfg->routes = items;
	for (size_t i = 0; i < cfg->nroutes; i++)
		set_defaults(&cfg->routes[i], "routes");
	if (!ret)
		ret = walk_each(w, v, path, "routes[]",
				"an object with \"handler\" and optional \"match\", \"config\"",
				cfg->routes, sizeof(*cfg->routes), cfg->nroutes);
	return ret ? ret : check_reachable(cfg, w->err);
}

/* The code behind the table's CONFIG_CUSTOM and CONFIG_LIST rows. */
static const custom_fn customs[] = {
	[CONFIG_CUSTOM_LISTEN] = custom_listen,
	[CONFIG_CUSTOM_LISTEN_ADDRESS] = custom_listen_address,
	[CONFIG_CUSTOM_MODULES] = custom_modules,
	[CONFIG_CUSTOM_MODULE_NAME] = custom_module_name,
	[CONFIG_CUSTOM_CONFIG_OBJECT] = custom_config_object,
	[CONFIG_CUSTOM_ROUTES] = custom_routes,
	[CONFIG_CUSTOM_ROUTE_PATH] = custom_route_path,
	[CONFIG_CUSTOM_ROUTE_METHOD] = custom_route_method,
	[CONFIG_CUSTOM_ROUTE_HANDLER] = custom_route_handler,
	[CONFIG_CUSTOM_SERVER_HEADER] = custom_server_header,
};

static int run_custom(struct walk *w, const struct config_row *row, json_t *parent, json_t *v,
		      void *base, const char *path)
{
	if ((size_t)row->custom >= ARRAY_SIZE(customs) || !customs[row->custom])
		return fail(w->err, path, "no parser for this key");
	return customs[row->custom](w, row, parent, v, base, path);
}

/* The part of @path after its last '/'. */
static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* ---- Entry points ------------------------------------------------------------------- */

/*
 * jansson quotes the text near the error, which may hold control bytes; and its message for
 * an escaped NUL names a library flag that means nothing to someone editing a config.
 */
static int fail_syntax(struct warren_error *err, const json_error_t *jerr)
{
	static const char nul_text[] = "\\u0000 is not allowed without JSON_ALLOW_NUL";
	char text[sizeof(jerr->text) * 4 + 32];
	size_t i = 0, o = 0;

	if (json_error_code(jerr) == json_error_null_character &&
	    strncmp(jerr->text, nul_text, sizeof(nul_text) - 1) == 0) {
		o = (size_t)snprintf(text, sizeof(text), "\\u0000 is not allowed in strings");
		i = sizeof(nul_text) - 1;
	}
	for (; i < sizeof(jerr->text) && jerr->text[i]; i++) {
		unsigned char c = (unsigned char)jerr->text[i];

		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(text + o, sizeof(text) - o, "\\x%02x", c);
		else
			text[o++] = (char)c;
	}
	text[o] = '\0';
	if (jerr->line < 0)
		return fail(err, NULL, "%s", text);
	return fail(err, NULL, "line %d, column %d: %s", jerr->line, jerr->column, text);
}

/*
 * jansson reads a NUL byte as the end of the input and then reports a puzzling "end of file
 * expected near end of file"; name the byte instead, counting columns as jansson does.
 */
static int check_nul(const char *text, size_t len, struct warren_error *err)
{
	const char *nul = memchr(text, '\0', len), *c;
	int line = 1, column = 0;

	if (!nul)
		return 0;
	for (c = text; c <= nul; c++) {
		if (*c == '\n') {
			line++;
			column = 0;
		} else if (((unsigned char)*c & 0xc0) != 0x80) {
			column++;
		}
	}
	return fail(err, NULL, "line %d, column %d: NUL byte (not allowed in JSON text)", line,
		    column);
}

int config_parse(const char *text, size_t len, const char *origin, struct config **out,
		 struct warren_error *err)
{
	json_error_t jerr;
	struct config *cfg;
	struct walk w;
	json_t *root;
	int ret;

	*out = NULL;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return fail_nomem(err);
	set_defaults(cfg, NULL);
	cfg->file = strdup(origin ? origin : "<string>");
	if (!cfg->file) {
		ret = fail_nomem(err);
		goto out_free_cfg;
	}

	/*
	 * JSON_DECODE_ANY so that a top-level string or number gets our "expected a JSON
	 * object" message instead of a syntax error; \u0000 stays rejected (no
	 * JSON_ALLOW_NUL), so every string can be handled as a C string.
	 */
	if (!text) {
		text = "";
		len = 0;
	}
	ret = check_nul(text, len, err);
	if (ret)
		goto out_free_cfg;
	cfg->root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!cfg->root) {
		ret = fail_syntax(err, &jerr);
		goto out_free_cfg;
	}
	root = cfg->root;
	if (!json_is_object(root)) {
		ret = fail(err, NULL, "expected a JSON object at the top level, got %s",
			   config_type_name(root));
		goto out_free_cfg;
	}

	w.cfg = cfg;
	w.err = err;
	ret = walk_object(&w, "", root, cfg, "");
	if (ret)
		goto out_free_cfg;
	ret = check_ext(cfg, err);
	if (ret)
		goto out_free_cfg;

	*out = cfg;
	return 0;

out_free_cfg:
	config_free(cfg);
	return ret;
}

/* Reads to the end rather than trusting st_size, so pipes and /dev/stdin work too. */
static int read_all(int fd, char **out, size_t *outlen)
{
	size_t cap = 4096, len = 0;
	struct stat st;
	char *buf, *nbuf;
	ssize_t n;

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if (st.st_size > CONFIG_MAX_FILE_SIZE)
			return -EFBIG;
		/* One spare byte, so that EOF shows up without growing the buffer. */
		cap = (size_t)st.st_size + 1;
	}
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			if (cap > CONFIG_MAX_FILE_SIZE)
				goto out_too_big;
			cap = cap * 2 > CONFIG_MAX_FILE_SIZE ? CONFIG_MAX_FILE_SIZE + 1 : cap * 2;
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				free(buf);
				return -ENOMEM;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			int ret = -errno;

			if (ret == -EINTR)
				continue;
			free(buf);
			return ret;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > CONFIG_MAX_FILE_SIZE)
		goto out_too_big;
	*out = buf;
	*outlen = len;
	return 0;

out_too_big:
	free(buf);
	return -EFBIG;
}

/* Prefixes @dir (absolute, with a trailing '/') to a relative *@path. */
static int resolve(const char *dir, char **path, struct warren_error *err)
{
	char *abs;

	if (!*path || (*path)[0] == '/')
		return 0;
	if (asprintf(&abs, "%s%s", dir, *path) < 0)
		return fail_nomem(err);
	free(*path);
	*path = abs;
	return 0;
}

static int resolve_unix(const char *dir, struct listen_conf *l, const char *path,
			struct warren_error *err)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&l->addr;
	char q[QUOTE_PATH_BUF];
	size_t dlen = strlen(dir), n = strlen(sun->sun_path);

	if (sun->sun_path[0] == '/')
		return 0;
	if (dlen + n >= sizeof(sun->sun_path)) {
		char *abs;

		if (asprintf(&abs, "%s%s", dir, sun->sun_path) < 0)
			return fail_nomem(err);
		fail(err, path, "socket path %s longer than %zu bytes",
		     quote_n(q, sizeof(q), abs, QUOTE_PATH_MAX), sizeof(sun->sun_path) - 1);
		free(abs);
		return -EINVAL;
	}
	memmove(sun->sun_path + dlen, sun->sun_path, n + 1);
	memcpy(sun->sun_path, dir, dlen);
	l->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + dlen + n + 1);
	return 0;
}

/*
 * Relative paths in a config file name files next to it, wherever warren was started
 * from; made absolute here so that every later message and comparison sees one name.
 */
static int resolve_paths(struct config *cfg, const char *file, struct warren_error *err)
{
	char cwd[PATH_MAX], *dir, p[JPATH_BUF];
	const char *slash = strrchr(file, '/');
	int ret = 0;

	if (file[0] == '/') {
		dir = strndup(file, (size_t)(slash - file) + 1);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return fail(err, NULL, "cannot resolve relative paths: getcwd: %s",
				    strerror(errno));
		if (asprintf(&dir, "%s/%.*s", strcmp(cwd, "/") ? cwd : "",
			     slash ? (int)(slash - file) + 1 : 0, file) < 0)
			dir = NULL;
	}
	if (!dir)
		return fail_nomem(err);
	for (size_t i = 0; !ret && i < cfg->nmodules; i++)
		ret = resolve(dir, &cfg->modules[i].path, err);
	for (size_t i = 0; !ret && i < cfg->nlisten; i++)
		if (cfg->listen[i].addr.ss_family == AF_UNIX)
			ret = resolve_unix(dir, &cfg->listen[i], jpath_index(p, "listen", i), err);
	if (!ret)
		ret = resolve(dir, &cfg->pid_file, err);
	if (!ret)
		ret = resolve(dir, &cfg->log_file, err);
	free(dir);
	return ret;
}

/*
 * Whether @a and @b name the same file: the same inode when both exist, else the same
 * name in the same (canonical) directory.
 */
bool config_same_file(const char *a, const char *b)
{
	char *da, *db, *ra, *rb;
	struct stat sa, sb;
	bool same = false;

	if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
		return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
	if (strcmp(basename_of(a), basename_of(b)) != 0)
		return false;
	da = strndup(a, (size_t)(basename_of(a) - a));
	db = strndup(b, (size_t)(basename_of(b) - b));
	ra = da ? realpath(*da ? da : ".", NULL) : NULL;
	rb = db ? realpath(*db ? db : ".", NULL) : NULL;
	same = ra && rb ? strcmp(ra, rb) == 0 : strcmp(a, b) == 0;
	free(ra);
	free(rb);
	free(da);
	free(db);
	return same;
}

/* The pid file is removed when the master exits: it must not be a file warren needs. */
static int check_pid_file(const struct config *cfg, const char *file, struct warren_error *err)
{
	char q[QUOTE_PATH_BUF];

	if (!cfg->pid_file)
		return 0;
	quote_n(q, sizeof(q), cfg->pid_file, QUOTE_PATH_MAX);
	if (cfg->log_file && config_same_file(cfg->pid_file, cfg->log_file))
		return fail(err, "pid_file", "%s is also the log_file", q);
	if (config_same_file(cfg->pid_file, file))
		return fail(err, "pid_file", "%s is the configuration file itself", q);
	return 0;
}

int config_load_file(const char *path, struct config **out, struct warren_error *err)
{
	char q[QUOTE_PATH_BUF];
	size_t len = 0;
	char *buf = NULL;
	int fd, ret;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out_error;
	}
	ret = read_all(fd, &buf, &len);
	close(fd);
	if (ret)
		goto out_error;
	ret = config_parse(buf, len, path, out, err);
	free(buf);
	if (!ret)
		ret = resolve_paths(*out, path, err);
	if (!ret)
		ret = check_pid_file(*out, path, err);
	if (ret && *out) {
		config_free(*out);
		*out = NULL;
	}
	return ret;

out_error:
	quote_n(q, sizeof(q), path, QUOTE_PATH_MAX);
	if (ret == -EFBIG)
		fail(err, NULL, "cannot read %s: larger than %d MiB", q,
		     CONFIG_MAX_FILE_SIZE / (1024 * 1024));
	else
		fail(err, NULL, "cannot read %s: %s", q, strerror(-ret));
	return ret;
}

void config_free(struct config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->nlisten; i++)
		free(cfg->listen[i].text);
	free(cfg->listen);
	for (i = 0; i < cfg->nmodules; i++) {
		free(cfg->modules[i].name);
		free(cfg->modules[i].path);
	}
	free(cfg->modules);
	for (i = 0; i < cfg->nroutes; i++) {
		free(cfg->routes[i].path);
		free(cfg->routes[i].handler);
		route_pattern_free(&cfg->routes[i].pattern);
	}
	free(cfg->routes);
	for (i = 0; i < cfg->nwarnings; i++)
		free(cfg->warnings[i]);
	free(cfg->warnings);
	free(cfg->ext);
	json_decref(cfg->root);
	free(cfg->pid_file);
	free(cfg->log_file);
	free(cfg->file);
	free(cfg);
}

/* core/server/config_table.h - the configuration's keys as data: one row per JSON key with
 * its kind, limits, default, place in the parsed struct and description. config.c walks it
 * to parse and to name the keys allowed; config_docs.c prints the README table and the
 * JSON Schema from it. */
#ifndef WARREN_CORE_CONFIG_TABLE_H
#define WARREN_CORE_CONFIG_TABLE_H

#include <stddef.h>

#include "base/common.h"

#define CONFIG_MAX_SECONDS 86400
#define CONFIG_MAX_LISTEN 64
#define CONFIG_MAX_NAME 64

enum config_kind {
	CONFIG_SECTION,	      /* an object whose keys are the rows below it */
	CONFIG_LIST,	      /* an array of objects, elements are "path[]" */
	CONFIG_SIZE,	      /* an integer from min to max */
	CONFIG_SECONDS,	      /* seconds (fractions allowed) from min to 86400, kept as ms */
	CONFIG_BOOL,	      /* true or false */
	CONFIG_PATH,	      /* a non-empty string, kept as a copy */
	CONFIG_ENUM,	      /* one of names[], kept as its index */
	CONFIG_COUNT_OR_AUTO, /* "auto" (kept as 0) or an integer from min to max */
	CONFIG_AUTO_OR_FALSE, /* "auto" (kept as true) or false */
	CONFIG_CUSTOM,	      /* parsed by config.c's function number @custom */
};

/* The rows config.c parses with code of its own, by what they are. */
enum config_custom {
	CONFIG_CUSTOM_NONE = 0,
	CONFIG_CUSTOM_LISTEN,	      /* the listen list: strings or objects */
	CONFIG_CUSTOM_LISTEN_ADDRESS, /* listen[].address */
	CONFIG_CUSTOM_MODULES,	      /* the modules list */
	CONFIG_CUSTOM_MODULE_NAME,    /* modules[].name: required, unique */
	CONFIG_CUSTOM_CONFIG_OBJECT,  /* modules[].config, routes[].config */
	CONFIG_CUSTOM_ROUTES,	      /* the routes list */
	CONFIG_CUSTOM_ROUTE_PATH,     /* routes[].match.path: compiled */
	CONFIG_CUSTOM_ROUTE_METHOD,   /* routes[].match.method */
	CONFIG_CUSTOM_ROUTE_HANDLER,  /* routes[].handler: required */
	CONFIG_CUSTOM_SERVER_HEADER,  /* http.server_header: a string, or false */
};

/* A section or list that is absent is walked as if empty; such rows keep their defaults. */
#define CONFIG_ZERO_OK 0x1  /* CONFIG_SECONDS: 0 is allowed (and means "off" or "none") */
#define CONFIG_REQUIRED 0x2 /* the enclosing object must have it */

struct config_row {
	const char *path; /* "http.max_body_size"; "listen[].backlog" inside list elements */
	enum config_kind kind;
	unsigned flags;
	long long min, max; /* CONFIG_SIZE, CONFIG_COUNT_OR_AUTO; CONFIG_LIST: element count */
	long long def;	    /* in the unit kept: bytes, ms, index, 0 or 1; CONFIG_SIZE below
			     * min: taken from elsewhere (default_doc says where) */
	size_t offset;	    /* in struct config, or in the element of the enclosing list */
	size_t width;	    /* sizeof the field at @offset */
	const char *const *names; /* CONFIG_ENUM, NULL-terminated */
	const char *expected;	  /* "expected ..." for a wrong value, when not derived */
	enum config_custom custom;
	const char *type_doc;	 /* README "Type" column, when not derived from @kind */
	const char *default_doc; /* README "Default" column, when not derived from @def */
	const char *schema;	 /* JSON Schema of the value, when not derived from @kind */
	const char *description; /* one line, for the README */
};

extern const struct config_row config_table[];
extern const size_t config_table_rows;

/* The last component of @row's path: "backlog" for "listen[].backlog". */
const char *config_row_key(const struct config_row *row);

/* Whether @row sits directly in the object at @parent ("" for the top level, "http",
 * "listen[]"). */
bool config_row_in(const struct config_row *row, const char *parent);

#endif /* WARREN_CORE_CONFIG_TABLE_H */

/* core/server/config_docs.c - the configuration reference as the README's table and as a
 * JSON Schema, both from config_table.c, so that neither can drift from what config.c
 * accepts (make config-docs writes them; a test checks the README's copy). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>
#include <jansson.h>

#include "server/config_docs.h"
#include "server/config_table.h"
#include "server/server.h"

#define SCHEMA_DIALECT "https://json-schema.org/draft/2020-12/schema"
/* IPv4 (or * or localhost), [IPv6], each with a port; or a unix socket path. The parser
 * checks the numbers themselves. */
#define ADDRESS_PATTERN                                                                            \
	"^(unix:.+|(\\*|localhost|[0-9]{1,3}(\\.[0-9]{1,3}){3}|\\[[0-9A-Fa-f:.]+\\]):[0-9]{1,5})$"

/* ---- README table ------------------------------------------------------------------- */

/* Seconds as written in a config: 75, 0.1. */
static void format_seconds(char *buf, size_t size, long long ms)
{
	snprintf(buf, size, "%g", (double)ms / 1000);
}

static void type_doc(const struct config_row *row, char *buf, size_t size)
{
	size_t o = 0;

	if (row->type_doc) {
		snprintf(buf, size, "%s", row->type_doc);
		return;
	}
	switch (row->kind) {
	case CONFIG_SIZE:
		snprintf(buf, size, "integer, %lld to %lld", row->min, row->max);
		break;
	case CONFIG_SECONDS:
		snprintf(buf, size, "seconds, %s to %d",
			 row->flags & CONFIG_ZERO_OK ? "0" : "above 0", CONFIG_MAX_SECONDS);
		break;
	case CONFIG_BOOL:
		snprintf(buf, size, "boolean");
		break;
	case CONFIG_PATH:
		snprintf(buf, size, "file path");
		break;
	case CONFIG_ENUM:
		buf[0] = '\0';
		for (size_t i = 0; row->names[i] && o < size; i++)
			o += (size_t)snprintf(buf + o, size - o, "%s`\"%s\"`",
					      i == 0		? "" :
					      row->names[i + 1] ? ", " :
								  " or ",
					      row->names[i]);
		break;
	case CONFIG_COUNT_OR_AUTO:
		snprintf(buf, size, "integer, %lld to %lld, or `\"auto\"`", row->min, row->max);
		break;
	case CONFIG_AUTO_OR_FALSE:
		snprintf(buf, size, "`\"auto\"` or `false`");
		break;
	default:
		snprintf(buf, size, "object");
		break;
	}
}

static void default_doc(const struct config_row *row, char *buf, size_t size)
{
	char s[32];

	if (row->default_doc) {
		snprintf(buf, size, "%s", row->default_doc);
		return;
	}
	if (row->flags & CONFIG_REQUIRED) {
		snprintf(buf, size, "required");
		return;
	}
	switch (row->kind) {
	case CONFIG_SIZE:
		snprintf(buf, size, "`%lld`", row->def);
		break;
	case CONFIG_SECONDS:
		format_seconds(s, sizeof(s), row->def);
		snprintf(buf, size, "`%s`", s);
		break;
	case CONFIG_BOOL:
	case CONFIG_AUTO_OR_FALSE:
		snprintf(buf, size, "`%s`",
			 row->def ? (row->kind == CONFIG_BOOL ? "true" : "\"auto\"") : "false");
		break;
	case CONFIG_ENUM:
		snprintf(buf, size, "`\"%s\"`", row->names[row->def]);
		break;
	case CONFIG_COUNT_OR_AUTO:
		if (row->def)
			snprintf(buf, size, "`%lld`", row->def);
		else
			snprintf(buf, size, "`\"auto\"`");
		break;
	default:
		snprintf(buf, size, "none");
		break;
	}
}

static int print_readme(FILE *out)
{
	char type[256], def[128];

	fprintf(out, "| key | type | default | meaning |\n|---|---|---|---|\n");
	for (size_t i = 0; i < config_table_rows; i++) {
		const struct config_row *row = &config_table[i];

		/* A section's keys are listed with their full paths. */
		if (row->kind == CONFIG_SECTION)
			continue;
		type_doc(row, type, sizeof(type));
		default_doc(row, def, sizeof(def));
		fprintf(out, "| `%s` | %s | %s | %s |\n", row->path, type, def, row->description);
	}
	/* The keys built-in modules own (struct warren_module.config_key) stand at the top level
	 * and in routes; what they take is the module's to say. */
	for (size_t i = 0; warren__builtin_modules[i]; i++) {
		const char *key = warren__builtin_modules[i]->config_key;

		if (key)
			fprintf(out,
				"| `%s`, `routes[].%s` | module | | read by the built-in module `%s` |\n",
				key, key, warren__builtin_modules[i]->name);
	}
	return 0;
}

/* ---- JSON Schema -------------------------------------------------------------------- */

static json_t *object_schema(const char *parent);

static json_t *seconds_schema(const struct config_row *row)
{
	if (row->flags & CONFIG_ZERO_OK)
		return json_pack("{s:s, s:i, s:i}", "type", "number", "minimum", 0, "maximum",
				 CONFIG_MAX_SECONDS);
	return json_pack("{s:s, s:i, s:i}", "type", "number", "exclusiveMinimum", 0, "maximum",
			 CONFIG_MAX_SECONDS);
}

static json_t *enum_schema(const struct config_row *row)
{
	json_t *names = json_array();

	for (size_t i = 0; names && row->names[i]; i++)
		json_array_append_new(names, json_string(row->names[i]));
	return json_pack("{s:o}", "enum", names);
}

/* The value a row has when absent, in the file's units; NULL when there is none to give. */
static json_t *default_value(const struct config_row *row)
{
	switch (row->kind) {
	case CONFIG_SIZE:
		/* Below the minimum it is no value: default_doc says where it comes from. */
		return row->def < row->min ? NULL : json_integer(row->def);
	case CONFIG_SECONDS:
		return json_real((double)row->def / 1000);
	case CONFIG_BOOL:
		return json_boolean(row->def);
	case CONFIG_ENUM:
		return json_string(row->names[row->def]);
	case CONFIG_COUNT_OR_AUTO:
		return row->def ? json_integer(row->def) : json_string("auto");
	case CONFIG_AUTO_OR_FALSE:
		return row->def ? json_string("auto") : json_false();
	default:
		return NULL;
	}
}

static json_t *row_schema(const struct config_row *row)
{
	char items[128];
	json_t *s, *def;

	if (row->schema) {
		s = json_loads(row->schema, 0, NULL);
	} else {
		switch (row->kind) {
		case CONFIG_SECTION:
			s = object_schema(row->path);
			break;
		case CONFIG_LIST:
			snprintf(items, sizeof(items), "%s[]", row->path);
			s = json_pack("{s:s, s:o}", "type", "array", "items", object_schema(items));
			break;
		case CONFIG_SIZE:
			s = json_pack("{s:s, s:I, s:I}", "type", "integer", "minimum",
				      (json_int_t)row->min, "maximum", (json_int_t)row->max);
			break;
		case CONFIG_SECONDS:
			s = seconds_schema(row);
			break;
		case CONFIG_BOOL:
			s = json_pack("{s:s}", "type", "boolean");
			break;
		case CONFIG_PATH:
			s = json_pack("{s:s, s:i}", "type", "string", "minLength", 1);
			break;
		case CONFIG_ENUM:
			s = enum_schema(row);
			break;
		case CONFIG_COUNT_OR_AUTO:
			s = json_pack("{s:[{s:s}, {s:s, s:I, s:I}]}", "oneOf", "const", "auto",
				      "type", "integer", "minimum", (json_int_t)row->min, "maximum",
				      (json_int_t)row->max);
			break;
		case CONFIG_AUTO_OR_FALSE:
			s = json_pack("{s:[s, b]}", "enum", "auto", 0);
			break;
		default:
			s = NULL;
			break;
		}
	}
	if (!s)
		return NULL;
	json_object_set_new(s, "description", json_string(row->description));
	def = default_value(row);
	if (def)
		json_object_set_new(s, "default", def);
	return s;
}

/* The object whose keys are the table's rows in @parent, and at the top level and in routes
 * the built-in modules' keys; unknown keys are errors (a plugin's key included: the schema
 * cannot know which plugins a config loads). */
static json_t *object_schema(const char *parent)
{
	json_t *props = json_object(), *required = json_array(), *s;

	if (!props || !required)
		goto out_nomem;
	for (size_t i = 0; i < config_table_rows; i++) {
		const struct config_row *row = &config_table[i];

		if (!config_row_in(row, parent))
			continue;
		if (json_object_set_new(props, config_row_key(row), row_schema(row)))
			goto out_nomem;
		if (row->flags & CONFIG_REQUIRED)
			json_array_append_new(required, json_string(config_row_key(row)));
	}
	for (size_t i = 0; warren__builtin_modules[i] && (!*parent || !strcmp(parent, "routes[]"));
	     i++) {
		const struct warren_module *m = warren__builtin_modules[i];
		char what[128];

		if (!m->config_key)
			continue;
		snprintf(what, sizeof(what), "read by the built-in module \"%s\"", m->name);
		if (json_object_set_new(props, m->config_key,
					json_pack("{s:s}", "description", what)))
			goto out_nomem;
	}
	s = json_pack("{s:s, s:o, s:b}", "type", "object", "properties", props,
		      "additionalProperties", 0);
	if (s && json_array_size(required))
		json_object_set(s, "required", required);
	json_decref(required);
	return s;

out_nomem:
	json_decref(props);
	json_decref(required);
	return NULL;
}

static json_t *method_schema(void)
{
	json_t *names = json_array();

#define XX(num, name, string) json_array_append_new(names, json_string(#string));
	if (names)
		HTTP_METHOD_MAP(XX)
#undef XX
	return json_pack("{s:o, s:s}", "enum", names, "description", "an HTTP method, in capitals");
}

static int print_schema(FILE *out)
{
	json_t *schema, *body, *defs;
	int ret = 0;

	defs = json_pack("{s:{s:s, s:s, s:s}, s:o, s:o}", "address", "type", "string", "pattern",
			 ADDRESS_PATTERN, "description",
			 "\"host:port\" (IPv4, *, localhost), \"[IPv6]:port\" or \"unix:/path\"",
			 "listen", object_schema("listen[]"), "method", method_schema());
	body = object_schema("");
	schema =
		json_pack("{s:s, s:s}", "$schema", SCHEMA_DIALECT, "title", "warren configuration");
	if (!schema || !body || !defs || json_object_update(schema, body) ||
	    json_object_set(schema, "$defs", defs)) {
		ret = -ENOMEM;
		goto out_free;
	}
	if (json_dumpf(schema, out, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) < 0 ||
	    fputc('\n', out) == EOF)
		ret = -EIO;

out_free:
	json_decref(defs);
	json_decref(body);
	json_decref(schema);
	return ret;
}

int config_docs_print(const char *format, FILE *out)
{
	if (strcmp(format, "readme") == 0)
		return print_readme(out);
	if (strcmp(format, "schema") == 0)
		return print_schema(out);
	return -EINVAL;
}

/* tests/unit/test_config_docs.c - the configuration reference that README.md and
 * docs/warren.schema.json carry is the one config_table.c prints (make config-docs), and
 * the table itself is sound. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "check_main.h"
#include "server/config.h"
#include "server/config_docs.h"
#include "server/config_table.h"

#define README_BEGIN "<!-- BEGIN config table: make config-docs writes it -->\n"
#define README_END "<!-- END config table -->\n"

static char *read_source(const char *rel)
{
	const char *src = getenv("WARREN_SRCDIR");
	char path[4096];
	size_t len = 0;
	char *text = NULL;
	FILE *f, *out;

	snprintf(path, sizeof(path), "%s/%s", src ? src : ".", rel);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	out = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(out);
	for (int c; (c = fgetc(f)) != EOF;)
		fputc(c, out);
	fclose(f);
	fclose(out);
	return text;
}

static char *generated(const char *format)
{
	size_t len = 0;
	char *text = NULL;
	FILE *out = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(config_docs_print(format, out), 0);
	fclose(out);
	return text;
}

START_TEST(test_readme_table_up_to_date)
{
	char *readme = read_source("README.md"), *table = generated("readme");
	char *begin = strstr(readme, README_BEGIN), *end;

	ck_assert_msg(begin != NULL, "README.md has no \"%.30s\" marker", README_BEGIN);
	begin += strlen(README_BEGIN);
	end = strstr(begin, README_END);
	ck_assert_ptr_nonnull(end);
	*end = '\0';
	ck_assert_msg(strcmp(begin, table) == 0,
		      "README.md's configuration table is stale: run make config-docs");
	free(readme);
	free(table);
}
END_TEST

START_TEST(test_schema_up_to_date)
{
	char *file = read_source("docs/warren.schema.json"), *schema = generated("schema");

	ck_assert_msg(strcmp(file, schema) == 0,
		      "docs/warren.schema.json is stale: run make config-docs");
	free(file);
	free(schema);
}
END_TEST

START_TEST(test_unknown_format)
{
	ck_assert_int_eq(config_docs_print("html", stdout), -EINVAL);
}
END_TEST

/* Every row that fills a field says how wide it is, and paths are unique. */
START_TEST(test_table_rows)
{
	for (size_t i = 0; i < config_table_rows; i++) {
		const struct config_row *row = &config_table[i];

		ck_assert_ptr_nonnull(row->description);
		if (row->kind != CONFIG_SECTION && row->kind != CONFIG_LIST &&
		    row->kind != CONFIG_CUSTOM)
			ck_assert_msg(row->width == 1 || row->width == 2 || row->width == 4 ||
					      row->width == 8,
				      "%s: no field width", row->path);
		if (row->kind == CONFIG_ENUM)
			ck_assert_ptr_nonnull(row->names);
		if (row->kind == CONFIG_CUSTOM || row->kind == CONFIG_LIST)
			ck_assert_msg(row->custom != CONFIG_CUSTOM_NONE, "%s: no parser",
				      row->path);
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(row->path, config_table[j].path);
	}
}
END_TEST

/* The defaults the documents show are the ones a config without keys gets. */
START_TEST(test_documented_defaults)
{
	struct warren_error err;
	struct config *cfg;

	ck_assert_int_eq(config_parse("{}", 2, NULL, &cfg, &err), 0);
	for (size_t i = 0; i < config_table_rows; i++) {
		const struct config_row *row = &config_table[i];
		unsigned long long got = 0;

		if (row->kind == CONFIG_SECTION || row->kind == CONFIG_LIST ||
		    row->kind == CONFIG_CUSTOM || row->kind == CONFIG_PATH ||
		    strchr(row->path, '['))
			continue;
		memcpy(&got, (char *)cfg + row->offset, row->width);
		ck_assert_msg(got == (unsigned long long)row->def, "%s: %llu, documented %lld",
			      row->path, got, row->def);
	}
	ck_assert_int_eq(cfg->listen[0].backlog, CONFIG_DEFAULT_BACKLOG);
	config_free(cfg);
}
END_TEST

/* The schema is JSON, names its dialect and forbids unknown keys at the top. */
START_TEST(test_schema_shape)
{
	char *text = generated("schema");
	json_t *schema = json_loads(text, 0, NULL);

	ck_assert_ptr_nonnull(schema);
	ck_assert_str_eq(json_string_value(json_object_get(schema, "$schema")),
			 "https://json-schema.org/draft/2020-12/schema");
	ck_assert(json_is_false(json_object_get(schema, "additionalProperties")));
	ck_assert_ptr_nonnull(
		json_object_get(json_object_get(schema, "properties"), "worker_connections"));
	json_decref(schema);
	free(text);
}
END_TEST

static Suite *config_docs_suite(void)
{
	Suite *s = suite_create("config_docs");
	TCase *tc = tcase_create("docs");

	tcase_add_test(tc, test_readme_table_up_to_date);
	tcase_add_test(tc, test_schema_up_to_date);
	tcase_add_test(tc, test_unknown_format);
	tcase_add_test(tc, test_table_rows);
	tcase_add_test(tc, test_documented_defaults);
	tcase_add_test(tc, test_schema_shape);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(config_docs_suite)

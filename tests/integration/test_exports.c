/* tests/integration/test_exports.c - the warren binary exports exactly the functions that
 * include/warren/module.h marks WARREN_API: nothing internal leaks to plugins, nothing
 * promised is missing. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"

#define MAX_NAMES 8192

struct names {
	char *v[MAX_NAMES];
	size_t n;
};

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v && *v ? v : fallback;
}

static void add(struct names *s, const char *name, size_t len)
{
	for (size_t i = 0; i < s->n; i++)
		if (strlen(s->v[i]) == len && strncmp(s->v[i], name, len) == 0)
			return;
	ck_assert_uint_lt(s->n, MAX_NAMES);
	s->v[s->n++] = strndup(name, len);
}

static bool has(const struct names *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], name) == 0)
			return true;
	return false;
}

/* Every "WARREN_API <type> <name>(" declaration of the public header. */
static void header_names(struct names *s)
{
	char path[4096], *text;
	const char *p;
	FILE *f;
	long len;

	snprintf(path, sizeof(path), "%s/include/warren/module.h", env_or("WARREN_SRCDIR", "."));
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	ck_assert_uint_eq(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	for (p = text; (p = strstr(p, "\nWARREN_API ")); p++) {
		const char *paren = strchr(p, '('), *end, *start;

		ck_assert_ptr_nonnull(paren);
		end = paren;
		start = end;
		while (start > p && (isalnum((unsigned char)start[-1]) || start[-1] == '_'))
			start--;
		if (strncmp(start, "warren_", 7) == 0 && strncmp(start, "warren_module", 13) != 0)
			add(s, start, (size_t)(end - start));
	}
	free(text);
}

/* Defined dynamic symbols of the binary that plugins could bind to. */
static void binary_names(struct names *s)
{
	char cmd[4200], line[512];
	FILE *p;

	/* Under check-valgrind WARREN_BIN is a wrapper script; the binary is this one. */
	snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s'",
		 env_or("WARREN_REAL_BIN", env_or("WARREN_BIN", "build/warren")));
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (fgets(line, sizeof(line), p)) {
		char addr[64], type[8], name[256];

		if (sscanf(line, "%63s %7s %255s", addr, type, name) != 3)
			continue;
		/* Copy-relocated libc data (stdout, optarg) is glibc's, not warren's API. */
		if (strchr(name, '@'))
			continue;
		add(s, name, strlen(name));
	}
	ck_assert_int_eq(pclose(p), 0);
}

START_TEST(exports_match_header)
{
	static struct names hdr, bin;
	bool sanitized;

	header_names(&hdr);
	binary_names(&bin);
	ck_assert_uint_ge(hdr.n, 15);
	for (size_t i = 0; i < hdr.n; i++)
		ck_assert_msg(has(&bin, hdr.v[i]), "%s is declared WARREN_API but not exported",
			      hdr.v[i]);
	/* A sanitizer runtime linked into the binary exports its own interceptors; then only
	 * warren's own names can be judged. */
	sanitized = false;
	for (size_t i = 0; i < bin.n; i++)
		if (strncmp(bin.v[i], "__asan", 6) == 0 || strncmp(bin.v[i], "__ubsan", 7) == 0)
			sanitized = true;
	for (size_t i = 0; i < bin.n; i++) {
		if (sanitized && strncmp(bin.v[i], "warren", 6) != 0)
			continue;
		ck_assert_msg(has(&hdr, bin.v[i]), "%s is exported but not public API", bin.v[i]);
	}
}
END_TEST

static Suite *exports_suite(void)
{
	Suite *s = suite_create("exports");
	TCase *tc = tcase_create("abi");

	tcase_add_test(tc, exports_match_header);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(exports_suite)

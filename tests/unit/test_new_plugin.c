/* tests/unit/test_new_plugin.c - warren new-plugin: which names it takes and the exact
 * reason for each it refuses; what it writes (the templates as embedded match the files in
 * templates/plugin); that it overwrites nothing and leaves nothing half-written. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "server/config_table.h"
#include "server/new_plugin.h"

static char tmpdir[256];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/warren-new-plugin.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t cap = 0;
	ssize_t n;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	n = getdelim(&text, &cap, '\0', f);
	ck_assert_msg(n >= 0 || feof(f), "cannot read %s", path);
	fclose(f);
	if (n < 0) {
		/* Empty: getdelim() reads nothing. */
		free(text);
		text = strdup("");
		ck_assert_ptr_nonnull(text);
	}
	return text;
}

static void refused(const char *name, const char *why)
{
	char got[512];

	ck_assert_msg(!new_plugin_name_ok(name, got, sizeof(got)), "\"%s\" accepted", name);
	ck_assert_msg(strcmp(got, why) == 0, "\"%s\": got \"%s\", expected \"%s\"", name, got, why);
}

START_TEST(test_names)
{
	char why[512], longest[CONFIG_MAX_NAME + 2];

	ck_assert(new_plugin_name_ok("greet", why, sizeof(why)));
	ck_assert(new_plugin_name_ok("a", why, sizeof(why)));
	ck_assert(new_plugin_name_ok("rate_limit2", why, sizeof(why)));
	memset(longest, 'a', CONFIG_MAX_NAME);
	longest[CONFIG_MAX_NAME] = '\0';
	ck_assert(new_plugin_name_ok(longest, why, sizeof(why)));
	longest[CONFIG_MAX_NAME] = 'a';
	longest[CONFIG_MAX_NAME + 1] = '\0';
	ck_assert(!new_plugin_name_ok(longest, why, sizeof(why)));
	ck_assert_msg(strstr(why, "65 characters, more than the 64 of a module name"), "%s", why);

	refused("", "the name is empty: expected a C identifier of a-z, 0-9 and _");
	refused("2fa", "\"2fa\": starts with the digit '2': a C identifier starts with a letter");
	refused("Greet", "\"Greet\": has the capital 'G' at position 1: warren module names are "
			 "lowercase (a-z, 0-9, _)");
	refused("rate-limit", "\"rate-limit\": has '-' at position 5: a C identifier has only "
			      "a-z, 0-9 and _ (try _ instead)");
	refused("a/b", "\"a/b\": has '/' at position 2: a C identifier has only a-z, 0-9 and _");
	refused("a b", "\"a b\": has a space at position 2: a C identifier has only a-z, 0-9 "
		       "and _");
	refused("caf\xc3\xa9", "\"caf\xc3\xa9\": has the byte 0xc3 at position 4: a C identifier "
			       "has only a-z, 0-9 and _");
	refused("_x", "\"_x\": starts with _: C reserves such names at file scope");
	refused("warren", "\"warren\": starts with \"warren\", the prefix of warren's own API");
	refused("static", "\"static\": is a C keyword");
	refused("bool", "\"bool\": is a C keyword");
}
END_TEST

/* What the binary carries is what templates/plugin holds: the build regenerates it. */
START_TEST(test_embedded_templates_match_files)
{
	const char *src = getenv("WARREN_SRCDIR");
	size_t n = 0;

	for (const struct template_file *t = template_files; t->name; t++, n++) {
		char path[4096], *text;

		snprintf(path, sizeof(path), "%s/templates/plugin/%s", src ? src : ".", t->name);
		text = read_text(path);
		ck_assert_msg(strcmp(text, t->text) == 0, "%s differs from its embedded copy",
			      path);
		free(text);
	}
	ck_assert_uint_ge(n, 6);
}
END_TEST

START_TEST(test_create)
{
	static const char *const files[] = {"demo.c",	"test_demo.c", "demo.json",
					    "Makefile", "README.md",   ".gitignore"};
	char dir[512], path[600], why[512], *text;

	make_tmpdir();
	snprintf(dir, sizeof(dir), "%s/demo", tmpdir);
	ck_assert_msg(new_plugin_create("demo", dir, why, sizeof(why)) == 0, "%s", why);
	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		text = read_text(path);
		ck_assert_msg(!strstr(text, TEMPLATE_NAME), "%s still says %s", path,
			      TEMPLATE_NAME);
		free(text);
	}
	text = read_text(strcat(strcpy(path, dir), "/demo.c"));
	ck_assert_ptr_nonnull(strstr(text, "WARREN_MODULE(demo, "));
	free(text);

	/* A second time: refused, and what is there stays as it is. */
	snprintf(path, sizeof(path), "%s/demo.c", dir);
	ck_assert_int_eq(truncate(path, 0), 0);
	ck_assert_int_eq(new_plugin_create("demo", dir, why, sizeof(why)), -EEXIST);
	ck_assert_msg(strstr(why, "demo already exists: new-plugin writes a new directory and "
				  "overwrites nothing"),
		      "%s", why);
	text = read_text(path);
	ck_assert_str_eq(text, "");
	free(text);

	/* A refused name writes nothing. */
	snprintf(dir, sizeof(dir), "%s/Bad", tmpdir);
	ck_assert_int_eq(new_plugin_create("Bad", dir, why, sizeof(why)), -EINVAL);
	ck_assert_int_eq(access(dir, F_OK), -1);
	remove_tmpdir();
}
END_TEST

/* A write that fails half-way (here: a file size limit) takes back what was written. */
START_TEST(test_failed_write_leaves_nothing)
{
	struct rlimit old, small = {.rlim_cur = 100};
	char dir[512], why[512];
	int ret;

	make_tmpdir();
	snprintf(dir, sizeof(dir), "%s/demo", tmpdir);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	small.rlim_max = old.rlim_max;
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
	ret = new_plugin_create("demo", dir, why, sizeof(why));
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	ck_assert_int_eq(ret, -EFBIG);
	ck_assert_msg(strstr(why, "cannot write ") && strstr(why, "File too large"), "%s", why);
	ck_assert_int_eq(access(dir, F_OK), -1);
	remove_tmpdir();
}
END_TEST

static Suite *new_plugin_suite(void)
{
	Suite *s = suite_create("new_plugin");
	TCase *tc = tcase_create("new_plugin");

	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_embedded_templates_match_files);
	tcase_add_test(tc, test_create);
	tcase_add_test(tc, test_failed_write_leaves_nothing);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(new_plugin_suite)

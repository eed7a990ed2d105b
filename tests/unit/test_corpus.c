/* tests/unit/test_corpus.c - replays every input kept in tests/fuzz/corpus/http through the
 * fuzz harness: seeds and regression inputs from fuzzing runs must keep passing. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "http_input.h"

static const char *corpus_dir(char *buf, size_t len)
{
	const char *src = getenv("WARREN_SRCDIR");

	snprintf(buf, len, "%s/tests/fuzz/corpus/http", src && *src ? src : ".");
	return buf;
}

static size_t read_file(const char *path, unsigned char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

START_TEST(replay_corpus)
{
	static unsigned char buf[1 << 20];
	char dir[4096], path[8192];
	struct dirent *e;
	size_t count = 0;
	DIR *d;

	d = opendir(corpus_dir(dir, sizeof(dir)));
	ck_assert_msg(d != NULL, "no corpus at %s", dir);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		http_input_run(buf, read_file(path, buf, sizeof(buf)));
		count++;
	}
	closedir(d);
	ck_assert_uint_ge(count, 10);
}
END_TEST

static Suite *corpus_suite(void)
{
	Suite *s = suite_create("corpus");
	TCase *tc = tcase_create("http");

	tcase_add_test(tc, replay_corpus);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(corpus_suite)

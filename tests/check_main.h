/* tests/check_main.h - the main() every Check test program shares. */
#ifndef WARREN_TESTS_CHECK_MAIN_H
#define WARREN_TESTS_CHECK_MAIN_H

#include <stdlib.h>

#include <check.h>

/* Runs one suite (forked tests, Check's normal output) and exits 0 only if all passed. */
#define CHECK_MAIN(suite_fn)                                                                       \
	int main(void)                                                                             \
	{                                                                                          \
		SRunner *sr = srunner_create(suite_fn());                                          \
		int failed;                                                                        \
		srunner_run_all(sr, CK_NORMAL);                                                    \
		failed = srunner_ntests_failed(sr);                                                \
		srunner_free(sr);                                                                  \
		return failed ? EXIT_FAILURE : EXIT_SUCCESS;                                       \
	}

#endif /* WARREN_TESTS_CHECK_MAIN_H */

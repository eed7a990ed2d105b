/* test_skeleton.c - the skeleton plugin's tests: a real warren loads skeleton.so, and the
 * warren test kit (<warren/test.h>) sends it requests. Run with make check. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <warren/test.h>

/* Relative module paths are taken from WARREN_PLUGIN_DIR (make check sets it). */
#define CONFIG                                                                                     \
	"{\"modules\": [{\"name\": \"skeleton\", \"path\": \"skeleton.so\"}],"                     \
	" \"routes\": ["                                                                           \
	"  {\"match\": {\"path\": \"/\"}, \"handler\": \"skeleton.hello\"},"                       \
	"  {\"match\": {\"path\": \"/custom\"}, \"handler\": \"skeleton.hello\","                  \
	"   \"config\": {\"text\": \"made to order\\n\", \"status\": 201}}]}"

/* Asserts that a kit call returned 0, with the kit's reason if not. */
#define KIT_OK(call) ck_assert_msg((call) == 0, "%s: %s", #call, warren_test_error())

START_TEST(test_hello)
{
	struct warren_test_server *srv;
	struct warren_test_response r;

	KIT_OK(warren_test_start(&srv, CONFIG, NULL));
	KIT_OK(warren_test_get(srv, "/", &r));
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "Hello from skeleton\n");
	ck_assert_str_eq(warren_test_header(&r, "Content-Type"), "text/plain; charset=utf-8");
	warren_test_response_free(&r);
	KIT_OK(warren_test_stop(srv));
}
END_TEST

START_TEST(test_route_config)
{
	struct warren_test_server *srv;
	struct warren_test_response r;

	KIT_OK(warren_test_start(&srv, CONFIG, NULL));
	KIT_OK(warren_test_get(srv, "/custom", &r));
	ck_assert_int_eq(r.status, 201);
	ck_assert_str_eq(r.body, "made to order\n");
	warren_test_response_free(&r);
	KIT_OK(warren_test_stop(srv));
}
END_TEST

/* A config the plugin refuses stops warren at start-up, with the plugin's message. */
START_TEST(test_bad_config)
{
	struct warren_test_server *srv;

	ck_assert_int_eq(
		warren_test_start(&srv,
				  "{\"modules\": [{\"name\": \"skeleton\", \"path\": "
				  "\"skeleton.so\", \"config\": {\"greting\": \"typo\"}}]}",
				  NULL),
		-ECHILD);
	ck_assert_msg(
		strstr(warren_test_error(), "unknown key \"greting\" (did you mean \"greeting\"?)"),
		"%s", warren_test_error());
}
END_TEST

int main(void)
{
	Suite *s = suite_create("skeleton");
	TCase *tc = tcase_create("requests");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_hello);
	tcase_add_test(tc, test_route_config);
	tcase_add_test(tc, test_bad_config);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

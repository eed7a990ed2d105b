/* tests/unit/test_shm.c - the locks of shared zones (core/base/shm.c): the count of locks a
 * thread holds, their release when module code returns holding them, and a robust
 * mutex whose owner died. */
#include <errno.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/shm.h"
#include "check_main.h"

#define NLOCKS 16

static pthread_mutex_t *zone_locks(const char *name)
{
	void *mem = NULL;

	shm_allow(true);
	ck_assert_int_eq(warren_shm_zone(name, NLOCKS * sizeof(pthread_mutex_t), &mem), 0);
	shm_allow(false);
	for (int i = 0; i < NLOCKS; i++)
		ck_assert_int_eq(warren_shm_mutex_init((pthread_mutex_t *)mem + i), 0);
	return mem;
}

/* Eight locks at once; the ninth is refused before it is taken. */
START_TEST(test_lock_limit)
{
	pthread_mutex_t *m = zone_locks("test.limit");

	ck_assert(!shm_call_kept());
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(warren_shm_lock(&m[i]), 0);
	ck_assert(shm_call_kept());
	ck_assert_int_eq(warren_shm_lock(&m[8]), -ENOLCK);
	ck_assert_int_eq(pthread_mutex_trylock(&m[8]), 0);
	ck_assert_int_eq(pthread_mutex_unlock(&m[8]), 0);
	/* Given back in any order; each one given back makes room again. */
	ck_assert_int_eq(warren_shm_unlock(&m[3]), 0);
	ck_assert_int_eq(warren_shm_lock(&m[8]), 0);
	ck_assert_int_eq(warren_shm_lock(&m[9]), -ENOLCK);
	for (int i = 0; i < 9; i++)
		if (i != 3)
			ck_assert_int_eq(warren_shm_unlock(&m[i]), 0);
	ck_assert(!shm_call_kept());
}
END_TEST

/* What a call returned holding is unlocked, and counted; what it gave back is not. */
START_TEST(test_release_held)
{
	pthread_mutex_t *m = zone_locks("test.release");

	ck_assert_uint_eq(shm_release_held("", "test"), 0);
	ck_assert_int_eq(warren_shm_lock(&m[0]), 0);
	ck_assert_int_eq(warren_shm_lock(&m[1]), 0);
	ck_assert_int_eq(warren_shm_lock(&m[2]), 0);
	ck_assert_int_eq(warren_shm_unlock(&m[1]), 0);
	ck_assert_uint_eq(shm_release_held("", "test"), 2);
	ck_assert(!shm_call_kept());
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(pthread_mutex_trylock(&m[i]), 0);
		ck_assert_int_eq(pthread_mutex_unlock(&m[i]), 0);
	}
}
END_TEST

/* A call nested in another (a hook run from a handler's warren_resp_send()) answers for
 * the locks it took, not for those of the call around it. */
START_TEST(test_nested_calls)
{
	pthread_mutex_t *m = zone_locks("test.nested");

	shm_call_enter();
	ck_assert_int_eq(warren_shm_lock(&m[0]), 0);
	shm_call_enter();
	ck_assert(!shm_call_kept());
	ck_assert_int_eq(warren_shm_lock(&m[1]), 0);
	ck_assert(shm_call_kept());
	ck_assert_uint_eq(shm_release_held("", "inner"), 1);
	ck_assert(!shm_call_kept());
	shm_call_leave();
	ck_assert_int_eq(pthread_mutex_trylock(&m[0]), EBUSY);
	ck_assert_int_eq(pthread_mutex_trylock(&m[1]), 0);
	ck_assert_int_eq(pthread_mutex_unlock(&m[1]), 0);
	ck_assert(shm_call_kept());
	ck_assert_int_eq(warren_shm_unlock(&m[0]), 0);
	ck_assert(!shm_call_kept());
	shm_call_leave();

	/* Deeper than the calls told apart: checked with the call around them. */
	for (int i = 0; i < 12; i++)
		shm_call_enter();
	ck_assert_int_eq(warren_shm_lock(&m[2]), 0);
	ck_assert(!shm_call_kept());
	for (int i = 0; i < 4; i++)
		shm_call_leave();
	ck_assert(shm_call_kept());
	ck_assert_uint_eq(shm_release_held("", "deep"), 1);
	for (int i = 0; i < 8; i++)
		shm_call_leave();
	ck_assert(!shm_call_kept());
}
END_TEST

/* A process that dies holding a lock: the next taker gets it, told so once. */
START_TEST(test_owner_died)
{
	pthread_mutex_t *m = zone_locks("test.owner");
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (warren_shm_lock(&m[0]) != 0)
			_exit(1);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(warren_shm_lock(&m[0]), 1);
	ck_assert(shm_call_kept());
	ck_assert_int_eq(warren_shm_unlock(&m[0]), 0);
	ck_assert_int_eq(warren_shm_lock(&m[0]), 0);
	ck_assert_int_eq(warren_shm_unlock(&m[0]), 0);
	ck_assert(!shm_call_kept());
}
END_TEST

static Suite *shm_suite(void)
{
	Suite *s = suite_create("shm");
	TCase *tc = tcase_create("locks");

	tcase_add_test(tc, test_lock_limit);
	tcase_add_test(tc, test_release_held);
	tcase_add_test(tc, test_nested_calls);
	tcase_add_test(tc, test_owner_died);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(shm_suite)

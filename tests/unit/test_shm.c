/* tests/unit/test_shm.c - shared zones (core/base/shm.c): the locks a thread holds, their
 * release when module code returns holding them, a robust mutex whose owner died; zones
 * asked for again by a later generation (init callback, changed size or layout version);
 * and the heap inside a zone (core/base/shm_heap.c): exhaustion, fragmentation, cycles of
 * allocations and frees, and workers killed in the middle of one. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/shm.h"
#include "check_main.h"

#define NLOCKS 16

static struct shm_gen test_gen;

static pthread_mutex_t *zone_locks(const char *name)
{
	void *mem = NULL;

	shm_begin(&test_gen);
	ck_assert_int_eq(warren_shm_zone(name, NLOCKS * sizeof(pthread_mutex_t), &mem), 0);
	shm_end();
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

/* ---- Zones across generations ---- */

struct init_log {
	unsigned calls, inherited;
	void *mem;
	int fail; /* returned by the callback when not 0 */
};

static int record_init(void *mem, size_t size, bool inherited, void *arg)
{
	struct init_log *log = arg;

	ck_assert_uint_gt(size, 0);
	log->calls++;
	log->inherited += inherited;
	log->mem = mem;
	if (!inherited)
		*(unsigned *)mem = 42;
	return log->fail;
}

/* Asks for @name as a module of generation @g would, from its init. */
static int ask(struct shm_gen *g, const char *name, size_t size, uint32_t version,
	       struct init_log *log, void **mem, struct warren_error *err)
{
	struct warren_shm_opts o =
		WARREN_SHM_OPTS(.version = version, .init = record_init, .arg = log);
	int ret;

	err->msg[0] = '\0';
	shm_begin(g);
	ret = warren_shm_zone_ex(name, size, &o, mem, err);
	shm_end();
	return ret;
}

/* Whether @p is still mapped in this process (asked of /proc, not by touching it). */
static bool mapped(void *p)
{
	unsigned long lo, hi, at = (unsigned long)p;
	bool found = false;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	ck_assert_ptr_nonnull(f);
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%lx-%lx", &lo, &hi) == 2 && at >= lo && at < hi;
	fclose(f);
	return found;
}

/* The first generation gets new memory, the next one the same memory, told it is inherited. */
START_TEST(test_zone_inherited)
{
	struct shm_gen g0 = {.generation = 0}, g1 = {.generation = 1};
	struct init_log log = {0};
	struct warren_error err;
	void *a = NULL, *b = NULL;

	ck_assert_int_eq(ask(&g0, "test.inherit", 4096, 3, &log, &a, &err), 0);
	ck_assert_uint_eq(log.calls, 1);
	ck_assert_uint_eq(log.inherited, 0);
	ck_assert_ptr_eq(log.mem, a);
	ck_assert_uint_eq(*(unsigned *)a, 42);
	*(unsigned *)a = 7;
	ck_assert_int_eq(ask(&g1, "test.inherit", 4096, 3, &log, &b, &err), 0);
	ck_assert_ptr_eq(a, b);
	ck_assert_uint_eq(log.calls, 2);
	ck_assert_uint_eq(log.inherited, 1);
	ck_assert_uint_eq(*(unsigned *)b, 7);
	/* Old generation gone: the zone is still the one the next generation holds. */
	shm_gen_release(&g0);
	ck_assert(mapped(b));
	shm_gen_release(&g1);
	/* Not replaced, so kept for a later generation that asks again. */
	ck_assert(mapped(b));
}
END_TEST

/* A changed size or version is refused, by default, naming both; nothing changes. */
START_TEST(test_zone_changed_refused)
{
	struct shm_gen g0 = {.generation = 0}, g1 = {.generation = 1};
	struct init_log log = {0};
	struct warren_error err;
	void *a = NULL, *b = NULL;

	ck_assert_int_eq(ask(&g0, "test.refuse", 4096, 1, &log, &a, &err), 0);
	b = a;
	ck_assert_int_eq(ask(&g1, "test.refuse", 8192, 1, &log, &b, &err), -EEXIST);
	ck_assert_ptr_eq(b, a);
	ck_assert_msg(strstr(err.msg, "shared zone \"test.refuse\" exists with 4096 bytes, layout "
				      "version 1 (since generation 0); asked for 8192 bytes, "
				      "version 1"),
		      "%s", err.msg);
	ck_assert_msg(strstr(err.msg, "shared_zones.on_change"), "%s", err.msg);
	ck_assert_str_eq(shm_refusal(), err.msg);
	ck_assert_int_eq(ask(&g1, "test.refuse", 4096, 2, &log, &b, &err), -EEXIST);
	ck_assert_msg(strstr(err.msg, "layout version 1 (since generation 0); asked for 4096 "
				      "bytes, version 2"),
		      "%s", err.msg);
	ck_assert_uint_eq(log.calls, 1);
	ck_assert_uint_eq(g1.n, 0);
	/* warren_shm_zone() is version 0: another version, so refused as well, and the
	 * loader finds out why through shm_refusal(). */
	shm_begin(&g1);
	ck_assert_str_eq(shm_refusal(), "");
	ck_assert_int_eq(warren_shm_zone("test.refuse", 4096, &b), -EEXIST);
	shm_end();
	ck_assert_msg(strstr(shm_refusal(), "asked for 4096 bytes, version 0"), "%s",
		      shm_refusal());
	/* The same as before is still handed out. */
	ck_assert_int_eq(ask(&g1, "test.refuse", 4096, 1, &log, &b, &err), 0);
	ck_assert_ptr_eq(b, a);
	shm_gen_release(&g0);
	shm_gen_release(&g1);
}
END_TEST

/* With "recreate", the new generation gets an empty zone; the old one stays mapped until
 * the last generation holding it is gone. */
START_TEST(test_zone_changed_recreated)
{
	struct shm_gen g0 = {.generation = 0}, g1 = {.generation = 1, .recreate = true};
	struct shm_gen g2 = {.generation = 2, .recreate = true};
	struct init_log log = {0};
	struct warren_error err;
	void *a = NULL, *b = NULL, *c = NULL;

	ck_assert_int_eq(ask(&g0, "test.recreate", 4096, 1, &log, &a, &err), 0);
	*(unsigned *)a = 7;
	ck_assert_int_eq(ask(&g1, "test.recreate", 4096, 2, &log, &b, &err), 0);
	ck_assert_ptr_ne(a, b);
	ck_assert_uint_eq(log.inherited, 0);
	ck_assert_uint_eq(*(unsigned *)b, 42);
	ck_assert_uint_eq(*(unsigned *)a, 7); /* the old generation's workers still use it */
	shm_gen_release(&g0);
	ck_assert(!mapped(a));
	ck_assert(mapped(b));
	/* A size change, replacing a zone no generation holds: unmapped at once. */
	shm_gen_release(&g1);
	ck_assert_int_eq(ask(&g2, "test.recreate", 8192, 2, &log, &c, &err), 0);
	ck_assert(!mapped(b));
	ck_assert(mapped(c));
	/* Within one generation there is nothing to replace: two modules disagree. */
	b = NULL;
	ck_assert_int_eq(ask(&g2, "test.recreate", 4096, 2, &log, &b, &err), -EEXIST);
	ck_assert_str_eq(err.msg,
			 "shared zone \"test.recreate\" is already used by this "
			 "configuration with 8192 bytes, layout version 2; asked again for "
			 "4096 bytes, version 2: two modules cannot share a zone name");
	ck_assert_ptr_null(b);
	ck_assert_int_eq(ask(&g2, "test.recreate", 8192, 2, &log, &b, &err), 0);
	ck_assert_ptr_eq(b, c);
	shm_gen_release(&g2);
}
END_TEST

/* A reload that replaced a zone and then failed: the next one asking for the zone as it
 * was gets the serving generation's zone back, not an empty one. */
START_TEST(test_zone_revived)
{
	struct shm_gen g0 = {.generation = 0}, g1 = {.generation = 1, .recreate = true};
	struct shm_gen g2 = {.generation = 2, .recreate = true};
	struct init_log log = {0};
	struct warren_error err;
	void *a = NULL, *b = NULL, *c = NULL;

	ck_assert_int_eq(ask(&g0, "test.revive", 4096, 1, &log, &a, &err), 0);
	*(unsigned *)a = 7;
	ck_assert_int_eq(ask(&g1, "test.revive", 4096, 2, &log, &b, &err), 0);
	ck_assert_ptr_ne(a, b);
	shm_gen_release(&g1); /* that reload failed */
	ck_assert(mapped(a));
	ck_assert_int_eq(ask(&g2, "test.revive", 4096, 1, &log, &c, &err), 0);
	ck_assert_ptr_eq(c, a);
	ck_assert_uint_eq(log.inherited, 1);
	ck_assert_uint_eq(*(unsigned *)c, 7);
	ck_assert(!mapped(b));
	shm_gen_release(&g0);
	ck_assert(mapped(a)); /* g2 holds it, and it is no longer replaced */
	shm_gen_release(&g2);
	ck_assert(mapped(a));
}
END_TEST

/* A new zone whose init callback fails is dropped: the next try sees it new again. An
 * inherited one stays. */
START_TEST(test_zone_init_fails)
{
	struct shm_gen g0 = {.generation = 0}, g1 = {.generation = 1};
	struct init_log log = {.fail = -EIO};
	struct warren_error err;
	void *a = NULL, *b = NULL;

	ck_assert_int_eq(ask(&g0, "test.initfail", 4096, 0, &log, &a, &err), -EIO);
	ck_assert_str_eq(
		err.msg,
		"shared zone \"test.initfail\": its init callback failed: Input/output error");
	ck_assert_ptr_null(a);
	ck_assert_uint_eq(g0.n, 0);
	log.fail = 0;
	ck_assert_int_eq(ask(&g0, "test.initfail", 4096, 0, &log, &a, &err), 0);
	ck_assert_uint_eq(log.inherited, 0);
	log.fail = -EIO;
	ck_assert_int_eq(ask(&g1, "test.initfail", 4096, 0, &log, &b, &err), -EIO);
	ck_assert_uint_eq(log.inherited, 1);
	ck_assert_uint_eq(g1.n, 0);
	shm_gen_release(&g0);
	ck_assert(mapped(a));
	shm_gen_release(&g1);
}
END_TEST

/* Outside init, bad names and sizes, options without a size: precise refusals. */
START_TEST(test_zone_bad_requests)
{
	struct warren_shm_opts raw = {0};
	struct shm_gen g = {0};
	struct warren_error err = {{0}};
	char longname[80];
	void *mem = NULL;

	ck_assert_int_eq(warren_shm_zone("test.perm", 64, &mem), -EPERM);
	ck_assert_int_eq(warren_shm_zone_ex("test.perm", 64, NULL, &mem, &err), -EPERM);
	ck_assert_str_eq(err.msg,
			 "shared zones can only be reserved from a module's init callback");
	shm_begin(&g);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(warren_shm_zone_ex(longname, 64, NULL, &mem, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "a name has 1 to 64 characters, not 79"), "%s", err.msg);
	ck_assert_int_eq(warren_shm_zone_ex("", 64, NULL, &mem, &err), -EINVAL);
	ck_assert_int_eq(warren_shm_zone_ex("test.size", 0, NULL, &mem, &err), -EINVAL);
	ck_assert_str_eq(err.msg,
			 "shared zone \"test.size\": size 0 is out of range (1 byte to 1 GiB)");
	ck_assert_int_eq(warren_shm_zone_ex("test.size", (1UL << 30) + 1, NULL, &mem, &err),
			 -EINVAL);
	ck_assert_int_eq(warren_shm_zone_ex("test.opts", 64, &raw, &mem, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "WARREN_SHM_OPTS"), "%s", err.msg);
	ck_assert_int_eq(warren_shm_zone(NULL, 64, &mem), -EINVAL);
	shm_end();
	ck_assert_uint_eq(g.n, 0);
}
END_TEST

/* ---- The heap ---- */

static void *zone_of_size(const char *name, size_t size)
{
	struct shm_gen g = {0};
	void *zone = NULL;

	shm_begin(&g);
	ck_assert_int_eq(warren_shm_zone(name, size, &zone), 0);
	shm_end();
	free(g.zones);
	return zone;
}

static struct warren_shm_heap *heap_in(const char *name, size_t size, void **zone)
{
	struct warren_shm_heap *h = NULL;

	*zone = zone_of_size(name, size);
	ck_assert_int_eq(warren_shm_heap_init(*zone, size, &h), 0);
	return h;
}

static void assert_accounted(struct warren_shm_heap *h)
{
	struct warren_shm_heap_stats st;

	ck_assert_int_eq(warren_shm_heap_check(h), 0);
	warren_shm_heap_stats(h, &st);
	ck_assert_uint_eq(st.used + st.free, st.capacity);
}

START_TEST(test_heap_basics)
{
	static uint64_t junk[64];
	struct warren_shm_heap_stats st;
	struct warren_shm_heap *h;
	void *zone, *p, *q;

	ck_assert_int_eq(warren_shm_heap_init(NULL, 4096, &h), -EINVAL);
	ck_assert_int_eq(warren_shm_heap_init(&st, sizeof(st), &h), -EINVAL);
	h = heap_in("test.heap.basics", 4096 + 1, &zone);
	warren_shm_heap_stats(h, &st);
	ck_assert_uint_eq(st.used, 0);
	ck_assert_uint_eq(st.free_blocks, 1);
	ck_assert_uint_eq(st.largest_free, st.capacity - 16);
	ck_assert_uint_ge(st.capacity, 4096 - 400);
	ck_assert_ptr_null(warren_shm_alloc(h, 0));
	ck_assert_ptr_null(warren_shm_alloc(h, st.capacity));
	p = warren_shm_alloc(h, 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq((uintptr_t)p % 16, 0);
	ck_assert_uint_eq(warren_shm_block_size(h, p), 16);
	q = warren_shm_alloc(h, 100);
	ck_assert_uint_ge(warren_shm_block_size(h, q), 100);
	memset(q, 0xab, 100);
	memset(p, 0xcd, 16);
	assert_accounted(h);
	warren_shm_heap_stats(h, &st);
	ck_assert_uint_eq(st.used_blocks, 2);
	ck_assert_uint_eq(st.used, 32 + 128);
	/* What is not a live block is ignored, and does no harm. */
	warren_shm_free(h, (char *)q + 16);
	warren_shm_free(h, &st);
	warren_shm_free(h, NULL);
	warren_shm_free(h, p);
	warren_shm_free(h, p);
	assert_accounted(h);
	warren_shm_free(h, q);
	warren_shm_heap_stats(h, &st);
	ck_assert_uint_eq(st.free_blocks, 1);
	ck_assert_uint_eq(st.used, 0);
	ck_assert_ptr_null(warren_shm_alloc(NULL, 8));
	ck_assert_int_eq(warren_shm_heap_check((struct warren_shm_heap *)junk), -EINVAL);
}
END_TEST

/* Allocation until nothing fits: every byte accounted for, and all of it comes back. */
START_TEST(test_heap_exhaustion)
{
	struct warren_shm_heap_stats st;
	struct warren_shm_heap *h;
	static void *blocks[2048];
	size_t n = 0;
	void *zone;

	h = heap_in("test.heap.full", 64 * 1024, &zone);
	while ((blocks[n] = warren_shm_alloc(h, 100 + n % 50)) != NULL) {
		memset(blocks[n], (int)n, 100 + n % 50);
		n++;
		ck_assert_uint_lt(n, 2048);
	}
	warren_shm_heap_stats(h, &st);
	ck_assert_uint_eq(st.used_blocks, n);
	ck_assert_uint_lt(st.largest_free, 100 + n % 50);
	ck_assert_uint_lt(st.free, 200); /* all but a tail too small for the next one */
	assert_accounted(h);
	/* Contents intact: nothing overlapped. */
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;

		while (k < 100 + i % 50 && ((unsigned char *)blocks[i])[k] == (unsigned char)i)
			k++;
		ck_assert_msg(k == 100 + i % 50, "block %zu overwritten at byte %zu", i, k);
	}
	for (size_t i = 0; i < n; i++)
		warren_shm_free(h, blocks[i]);
	warren_shm_heap_stats(h, &st);
	ck_assert_uint_eq(st.free_blocks, 1);
	ck_assert_uint_eq(st.largest_free, st.capacity - 16);
}
END_TEST

/* Every other block freed: plenty free, but no room for a large one until neighbours
 * come back and merge. */
START_TEST(test_heap_fragmentation)
{
	struct warren_shm_heap_stats st;
	struct warren_shm_heap *h;
	static void *blocks[256];
	size_t n = 0;
	void *zone, *big;

	h = heap_in("test.heap.frag", 64 * 1024, &zone);
	while (n < 256 && (blocks[n] = warren_shm_alloc(h, 240)) != NULL)
		n++;
	ck_assert_uint_gt(n, 200);
	for (size_t i = 0; i < n; i += 2)
		warren_shm_free(h, blocks[i]);
	warren_shm_heap_stats(h, &st);
	ck_assert_uint_gt(st.free, 20000);
	ck_assert_uint_lt(st.largest_free, 512);
	ck_assert_ptr_null(warren_shm_alloc(h, 1000));
	assert_accounted(h);
	/* Small ones still fit in the holes. */
	big = warren_shm_alloc(h, 100);
	ck_assert_ptr_nonnull(big);
	warren_shm_free(h, big);
	/* Freeing the blocks in between merges each hole with both neighbours. */
	for (size_t i = 1; i < n; i += 2)
		warren_shm_free(h, blocks[i]);
	warren_shm_heap_stats(h, &st);
	ck_assert_uint_eq(st.free_blocks, 1);
	ck_assert_uint_eq(st.used, 0);
	big = warren_shm_alloc(h, st.largest_free);
	ck_assert_ptr_nonnull(big);
	warren_shm_heap_stats(h, &st);
	ck_assert_uint_eq(st.free, 0);
	assert_accounted(h);
}
END_TEST

static uint32_t rnd(uint32_t *state)
{
	*state = *state * 1103515245 + 12345;
	return *state >> 8;
}

/* Random sizes allocated and freed in random order, with a check after every step; each
 * block keeps the pattern written into it. */
START_TEST(test_heap_cycles)
{
	struct warren_shm_heap_stats st;
	struct warren_shm_heap *h;
	static unsigned char *blocks[200];
	static size_t sizes[200];
	uint32_t seed = 1;
	void *zone;

	h = heap_in("test.heap.cycles", 256 * 1024, &zone);
	for (int step = 0; step < 6000; step++) {
		unsigned i = rnd(&seed) % 200;

		if (blocks[i]) {
			size_t k = 0;

			while (k < sizes[i] && blocks[i][k] == (unsigned char)(i + k))
				k++;
			ck_assert_msg(k == sizes[i], "block %u overwritten at byte %zu", i, k);
			warren_shm_free(h, blocks[i]);
			blocks[i] = NULL;
		} else {
			sizes[i] = 1 + rnd(&seed) % (rnd(&seed) % 8 ? 200 : 8000);
			blocks[i] = warren_shm_alloc(h, sizes[i]);
			if (blocks[i])
				for (size_t k = 0; k < sizes[i]; k++)
					blocks[i][k] = (unsigned char)(i + k);
		}
		if (step % 50 == 0)
			assert_accounted(h);
	}
	for (unsigned i = 0; i < 200; i++)
		warren_shm_free(h, blocks[i]);
	warren_shm_heap_stats(h, &st);
	ck_assert_uint_eq(st.free_blocks, 1);
	ck_assert_uint_eq(st.used_blocks, 0);
}
END_TEST

/* A module that wrote over a block header: the check says so, and a reset starts over. */
START_TEST(test_heap_overwritten)
{
	struct warren_shm_heap_stats st;
	struct warren_shm_heap *h;
	void *zone;
	char *p, *q;

	h = heap_in("test.heap.overwrite", 8192, &zone);
	p = warren_shm_alloc(h, 64);
	q = warren_shm_alloc(h, 64);
	ck_assert_ptr_nonnull(q);
	memset(p, 0x5a, 64 + 8); /* 8 bytes into the next block's header */
	ck_assert_int_eq(warren_shm_heap_check(h), -EUCLEAN);
	warren_shm_heap_reset(h);
	ck_assert_int_eq(warren_shm_heap_check(h), 0);
	warren_shm_heap_stats(h, &st);
	ck_assert_uint_eq(st.used, 0);
	ck_assert_ptr_nonnull(warren_shm_alloc(h, 64));
}
END_TEST

struct crash_zone {
	pthread_mutex_t lock;
	atomic_uint ops;
	struct warren_shm_heap *heap;
	void *blocks[64];
};

/* In a child: allocates and frees under the lock for ever, counting operations. */
static void churn(struct crash_zone *z, uint32_t seed)
{
	for (;;) {
		unsigned i = rnd(&seed) % 64;

		if (warren_shm_lock(&z->lock) < 0)
			_exit(1);
		if (z->blocks[i]) {
			warren_shm_free(z->heap, z->blocks[i]);
			z->blocks[i] = NULL;
		} else {
			z->blocks[i] = warren_shm_alloc(z->heap, 1 + rnd(&seed) % 3000);
		}
		atomic_fetch_add(&z->ops, 1);
		warren_shm_unlock(&z->lock);
	}
}

/*
 * Workers killed at random moments, often in the middle of an allocation or a free: the
 * next holder of the lock is told, and the check repairs what was cut short; the chain of
 * blocks is never broken, and the heap goes on serving.
 */
START_TEST(test_heap_killed_mid_update)
{
	struct crash_zone *z;
	struct warren_shm_heap_stats st;
	unsigned repaired = 0, died = 0;
	int ret;

	z = zone_of_size("test.heap.crash", 512 * 1024);
	ck_assert_int_eq(warren_shm_mutex_init(&z->lock), 0);
	ck_assert_int_eq(warren_shm_heap_init(z + 1, 512 * 1024 - sizeof(*z), &z->heap), 0);
	for (unsigned round = 0; round < 40; round++) {
		unsigned start = atomic_load(&z->ops), want = 20 + round * 37 % 500;
		pid_t pid = fork();
		int status;

		ck_assert_int_ge(pid, 0);
		if (pid == 0)
			churn(z, round + 1);
		while (atomic_load(&z->ops) - start < want)
			sched_yield();
		ck_assert_int_eq(kill(pid, SIGKILL), 0);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ret = warren_shm_lock(&z->lock);
		ck_assert_int_ge(ret, 0);
		if (ret == 1 && round % 2) {
			/* A module that does not check: the next call repairs what was cut
			 * short before it goes on. */
			died++;
			warren_shm_free(z->heap, warren_shm_alloc(z->heap, 100));
		} else if (ret == 1) {
			died++;
			ret = warren_shm_heap_check(z->heap);
			ck_assert_int_ge(ret, 0);
			repaired += ret;
		}
		ck_assert_int_eq(warren_shm_heap_check(z->heap), 0);
		/* The block being handed out when the child died may be lost: forget the
		 * child's blocks by their pointers, and see that the rest frees cleanly. */
		for (unsigned i = 0; i < 64; i++) {
			if (z->blocks[i] && warren_shm_block_size(z->heap, z->blocks[i]))
				warren_shm_free(z->heap, z->blocks[i]);
			z->blocks[i] = NULL;
		}
		ck_assert_int_eq(warren_shm_heap_check(z->heap), 0);
		warren_shm_heap_reset(z->heap);
		ck_assert_int_eq(warren_shm_unlock(&z->lock), 0);
	}
	warren_shm_heap_stats(z->heap, &st);
	ck_assert_uint_eq(st.used, 0);
	ck_assert_uint_gt(died, 0);
	/* Printed so that a run shows how often a kill hit mid-update. */
	printf("heap: %u of 40 children died holding the lock; the check repaired %u\n", died,
	       repaired);
}
END_TEST

static Suite *shm_suite(void)
{
	Suite *s = suite_create("shm");
	TCase *tc = tcase_create("locks");
	TCase *zones = tcase_create("zones");
	TCase *heap = tcase_create("heap");

	tcase_add_test(tc, test_lock_limit);
	tcase_add_test(tc, test_release_held);
	tcase_add_test(tc, test_nested_calls);
	tcase_add_test(tc, test_owner_died);
	suite_add_tcase(s, tc);
	tcase_add_test(zones, test_zone_inherited);
	tcase_add_test(zones, test_zone_changed_refused);
	tcase_add_test(zones, test_zone_changed_recreated);
	tcase_add_test(zones, test_zone_revived);
	tcase_add_test(zones, test_zone_init_fails);
	tcase_add_test(zones, test_zone_bad_requests);
	suite_add_tcase(s, zones);
	tcase_add_test(heap, test_heap_basics);
	tcase_add_test(heap, test_heap_exhaustion);
	tcase_add_test(heap, test_heap_fragmentation);
	tcase_add_test(heap, test_heap_cycles);
	tcase_add_test(heap, test_heap_overwritten);
	tcase_add_test(heap, test_heap_killed_mid_update);
	tcase_set_timeout(heap, 60);
	suite_add_tcase(s, heap);
	return s;
}

CHECK_MAIN(shm_suite)

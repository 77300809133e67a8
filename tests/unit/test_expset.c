/*
 * Unit tests for authd's expiring set: the replay cache and the challenge
 * store depend on it forgetting nothing early and refusing when full.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../authd/expset.h"

static void
make_key(uint8_t key[EXPSET_KEY_LEN], uint64_t n)
{
	uint64_t h = n * 0x9e3779b97f4a7c15ull;

	memset(key, 0, EXPSET_KEY_LEN);
	memcpy(key, &h, sizeof(h));
	memcpy(key + 8, &n, sizeof(n));
}

static void
test_add_contains_expire(void **state)
{
	struct expset *set = expset_new(4, 10.0);
	uint8_t a[EXPSET_KEY_LEN], b[EXPSET_KEY_LEN];

	(void)state;
	assert_non_null(set);
	make_key(a, 1);
	make_key(b, 2);
	assert_int_equal(expset_add(set, a, 100.0), EXPSET_ADDED);
	assert_int_equal(expset_add(set, a, 101.0), EXPSET_PRESENT);
	assert_true(expset_contains(set, a, 109.9));
	assert_false(expset_contains(set, b, 105.0));
	/* Lifetime over: the key is forgotten and may be added again. */
	assert_false(expset_contains(set, a, 110.0));
	assert_int_equal(expset_add(set, a, 110.0), EXPSET_ADDED);
	expset_free(set);
}

static void
test_full_refuses(void **state)
{
	struct expset *set = expset_new(3, 10.0);
	uint8_t k[EXPSET_KEY_LEN];
	uint64_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		make_key(k, i);
		assert_int_equal(expset_add(set, k, 0.0), EXPSET_ADDED);
	}
	make_key(k, 99);
	/* Full: refuse rather than evict a live key (that would reopen a
	 * replay window). */
	assert_int_equal(expset_add(set, k, 5.0), EXPSET_FULL);
	for (i = 0; i < 3; i++) {
		make_key(k, i);
		assert_true(expset_contains(set, k, 5.0));
	}
	make_key(k, 99);
	assert_int_equal(expset_add(set, k, 10.0), EXPSET_ADDED);
	assert_int_equal(expset_count(set, 10.0), 1);
	expset_free(set);
}

static void
test_take_is_single_use(void **state)
{
	struct expset *set = expset_new(8, 30.0);
	uint8_t k[EXPSET_KEY_LEN];

	(void)state;
	make_key(k, 7);
	assert_int_equal(expset_add(set, k, 0.0), EXPSET_ADDED);
	assert_true(expset_take(set, k, 1.0));
	assert_false(expset_take(set, k, 1.0));
	assert_false(expset_contains(set, k, 1.0));
	expset_free(set);
}

/*
 * Many keys with colliding hash slots, taken and expired in mixed order:
 * the index must still find every live key (backward-shift deletion).
 */
static void
test_collisions_and_deletion(void **state)
{
	enum { N = 4096 };
	struct expset *set = expset_new(N, 1000.0);
	uint8_t k[EXPSET_KEY_LEN];
	uint64_t i;

	(void)state;
	for (i = 0; i < N; i++) {
		memset(k, 0, sizeof(k));
		/* Same low bits for groups of 16: long probe chains. */
		k[0] = (uint8_t)(i / 16);
		memcpy(k + 8, &i, sizeof(i));
		assert_int_equal(
		    expset_add(set, k, (double)i / N), EXPSET_ADDED);
	}
	for (i = 0; i < N; i += 3) {
		memset(k, 0, sizeof(k));
		k[0] = (uint8_t)(i / 16);
		memcpy(k + 8, &i, sizeof(i));
		assert_true(expset_take(set, k, 1.0));
	}
	for (i = 0; i < N; i++) {
		memset(k, 0, sizeof(k));
		k[0] = (uint8_t)(i / 16);
		memcpy(k + 8, &i, sizeof(i));
		assert_int_equal(expset_contains(set, k, 1.0), i % 3 != 0);
	}
	assert_int_equal(expset_count(set, 1.0), N - (N + 2) / 3);
	expset_free(set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_contains_expire),
	    cmocka_unit_test(test_full_refuses),
	    cmocka_unit_test(test_take_is_single_use),
	    cmocka_unit_test(test_collisions_and_deletion),
	};

	return cmocka_run_group_tests_name("expset", tests, NULL, NULL);
}

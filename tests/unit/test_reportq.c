/*
 * proxyd's queue of access records (proxyd/reportq.c): accesses of one
 * session join its last record exactly as docs/AUDIT.md says, records in
 * a batch in flight never change, the bounds hold, and the ring keeps
 * records whole and in order across many wraps (checked against a
 * simple model).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../proxyd/reportq.h"

static const char addr_a[] = "0x00000000000000000000000000000000000000aa";
static const char addr_b[] = "0x00000000000000000000000000000000000000bb";

static enum reportq_result
add(struct reportq *q, struct reportq_ref *ref, const char *addr,
    enum access_action action, const char *topic, uint64_t bytes, uint64_t ms)
{
	return reportq_add(q, ref, addr, action, (const uint8_t *)topic,
	    strlen(topic), bytes, ms);
}

static const struct reportq_rec *
nth(const struct reportq *q, uint64_t n)
{
	struct reportq_iter it;
	const struct reportq_rec *r = NULL;

	reportq_iter_begin(q, &it);
	for (uint64_t i = 0; i <= n; i++)
		r = reportq_iter_next(q, &it);
	return r;
}

static void
test_join_rules(void **state)
{
	struct reportq q;
	struct reportq_ref s1 = {0, 0}, s2 = {0, 0};
	const struct reportq_rec *r;

	(void)state;
	reportq_init(&q, 100, 0);
	assert_int_equal(
	    add(&q, &s1, addr_a, ACCESS_PUBLISH, "t", 10, 5000), REPORTQ_ADDED);
	/* Same session, topic, action and second: one record. */
	assert_int_equal(
	    add(&q, &s1, addr_a, ACCESS_PUBLISH, "t", 7, 5999), REPORTQ_JOINED);
	r = nth(&q, 0);
	assert_int_equal(r->count, 2);
	assert_int_equal(r->bytes, 17);
	assert_int_equal(r->first_ms, 5000);
	assert_int_equal(r->last_ms, 5999);
	assert_memory_equal(r->address, addr_a, ACCESS_ADDRESS_LEN);
	/* The next second starts a record. */
	assert_int_equal(
	    add(&q, &s1, addr_a, ACCESS_PUBLISH, "t", 1, 6000), REPORTQ_ADDED);
	/* Another session's access is its own record. */
	assert_int_equal(
	    add(&q, &s2, addr_b, ACCESS_PUBLISH, "t", 1, 6001), REPORTQ_ADDED);
	/* Only consecutive accesses join: t, u, t is three records. */
	assert_int_equal(
	    add(&q, &s1, addr_a, ACCESS_PUBLISH, "u", 1, 6002), REPORTQ_ADDED);
	assert_int_equal(
	    add(&q, &s1, addr_a, ACCESS_PUBLISH, "t", 1, 6003), REPORTQ_ADDED);
	/* Another action is another record. */
	assert_int_equal(
	    add(&q, &s1, addr_a, ACCESS_DELIVERY, "t", 1, 6004), REPORTQ_ADDED);
	assert_int_equal(add(&q, &s1, addr_a, ACCESS_DELIVERY, "t", 1, 6005),
	    REPORTQ_JOINED);
	assert_int_equal(reportq_len(&q), 6);
	r = nth(&q, 5);
	assert_int_equal(r->action, ACCESS_DELIVERY);
	assert_int_equal(r->count, 2);
	assert_int_equal(r->topic_len, 1);
	assert_memory_equal(r->topic, "t", 1);
	reportq_free(&q);
}

static void
test_frozen_records_do_not_change(void **state)
{
	struct reportq q;
	struct reportq_ref s = {0, 0};

	(void)state;
	reportq_init(&q, 100, 0);
	assert_int_equal(
	    add(&q, &s, addr_a, ACCESS_PUBLISH, "t", 1, 1000), REPORTQ_ADDED);
	reportq_freeze(&q, 1);
	/* In a batch in flight: the access makes a new record. */
	assert_int_equal(
	    add(&q, &s, addr_a, ACCESS_PUBLISH, "t", 1, 1001), REPORTQ_ADDED);
	assert_int_equal(
	    add(&q, &s, addr_a, ACCESS_PUBLISH, "t", 1, 1002), REPORTQ_JOINED);
	assert_int_equal(nth(&q, 0)->count, 1);
	assert_int_equal(nth(&q, 1)->count, 2);
	reportq_pop(&q, 1);
	assert_int_equal(reportq_len(&q), 1);
	assert_int_equal(nth(&q, 0)->count, 2);
	/* Popped records are gone for joining too. */
	reportq_pop(&q, 1);
	assert_int_equal(
	    add(&q, &s, addr_a, ACCESS_PUBLISH, "t", 1, 1003), REPORTQ_ADDED);
	assert_int_equal(nth(&q, 0)->count, 1);
	reportq_pop(&q, 5);
	assert_int_equal(reportq_len(&q), 0);
	reportq_free(&q);
}

static void
test_record_bound(void **state)
{
	struct reportq q;
	struct reportq_ref s = {0, 0};
	char topic[8];

	(void)state;
	reportq_init(&q, 3, 0);
	for (int i = 0; i < 3; i++) {
		snprintf(topic, sizeof(topic), "t%d", i);
		assert_int_equal(
		    add(&q, &s, addr_a, ACCESS_PUBLISH, topic, 0, 100),
		    REPORTQ_ADDED);
	}
	/* Joining needs no room; a new record does. */
	assert_int_equal(
	    add(&q, &s, addr_a, ACCESS_PUBLISH, "t2", 0, 101), REPORTQ_JOINED);
	assert_int_equal(
	    add(&q, &s, addr_a, ACCESS_PUBLISH, "x", 0, 102), REPORTQ_FULL);
	assert_int_equal(s.no, 0);
	assert_int_equal(
	    add(&q, &s, addr_a, ACCESS_PUBLISH, "t2", 0, 103), REPORTQ_FULL);
	reportq_pop(&q, 1);
	assert_int_equal(
	    add(&q, &s, addr_a, ACCESS_PUBLISH, "x", 0, 104), REPORTQ_ADDED);
	reportq_free(&q);
}

/* ---- The ring against a model ------------------------------------------- */

struct model_rec {
	size_t topic_len;
	uint8_t fill;
	uint64_t ms;
};

static void
test_ring_wraps_keep_records_whole(void **state)
{
	static uint8_t topic[ACCESS_TOPIC_MAX];
	struct model_rec *model = calloc(4096, sizeof(*model));
	size_t head = 0, tail = 0; /* model indexes, no wrap needed */
	struct reportq q;
	struct reportq_ref ref;
	uint64_t seed = 12345, ms = 0, full = 0, popped = 0;

	(void)state;
	assert_non_null(model);
	/* The smallest ring: two records with the longest topic. */
	reportq_init(&q, 1000000, 0);
	for (int step = 0; step < 3000; step++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		if ((seed >> 33) % 3 != 0) {
			size_t len = 1 + (size_t)((seed >> 20) % 9000);
			uint8_t fill = (uint8_t)(seed >> 40);

			if ((seed >> 50) % 17 == 0)
				len = ACCESS_TOPIC_MAX;
			memset(topic, fill, len);
			ref.no = 0;
			ms += 1000; /* never joins */
			switch (reportq_add(&q, &ref, addr_a, ACCESS_PUBLISH,
			    topic, len, len, ms)) {
			case REPORTQ_ADDED:
				assert_true(tail < 4096);
				model[tail].topic_len = len;
				model[tail].fill = fill;
				model[tail].ms = ms;
				tail++;
				break;
			case REPORTQ_FULL:
				full++;
				break;
			case REPORTQ_JOINED:
				fail();
			}
		} else if (tail > head) {
			uint64_t n = 1 + (seed >> 24) % (tail - head);

			reportq_pop(&q, n);
			head += n;
			popped += n;
		}
		/* Everything queued reads back whole and in order. */
		assert_int_equal(reportq_len(&q), tail - head);
		{
			struct reportq_iter it;
			const struct reportq_rec *r;
			size_t i = head;

			reportq_iter_begin(&q, &it);
			while ((r = reportq_iter_next(&q, &it)) != NULL) {
				assert_true(i < tail);
				assert_int_equal(
				    r->topic_len, model[i].topic_len);
				assert_int_equal(r->first_ms, model[i].ms);
				assert_int_equal(r->bytes, model[i].topic_len);
				assert_true(
				    (const uint8_t *)r->topic + r->topic_len <=
				    q.ring + q.cap);
				for (size_t k = 0; k < r->topic_len; k += 97)
					assert_int_equal((uint8_t)r->topic[k],
					    model[i].fill);
				i++;
			}
			assert_int_equal(i, tail);
		}
		assert_true(q.used <= q.cap);
		/* The model's array is small: empty both and start over. */
		if (tail > 4000) {
			reportq_pop(&q, reportq_len(&q));
			head = tail = 0;
		}
	}
	/* Both the bound and the wrap were exercised. */
	assert_true(full > 0);
	assert_true(popped > 100);
	reportq_free(&q);
	free(model);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_join_rules),
	    cmocka_unit_test(test_frozen_records_do_not_change),
	    cmocka_unit_test(test_record_bound),
	    cmocka_unit_test(test_ring_wraps_keep_records_whole),
	};

	return cmocka_run_group_tests_name("reportq", tests, NULL, NULL);
}

/*
 * reportd's spool (reportd/spool.c): batches stored once however often
 * they come, records in the period of their first access, late records
 * kept apart from summaries already built, a full database refusing a
 * batch whole and taking it once there is room again, summaries marked
 * done only when every topic's is submitted, and erasure that keeps the
 * leaves other records' proofs need.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../reportd/spool.h"

#define PERIOD 600
/* The start of a period of PERIOD seconds (2023-11-14T22:10:00Z). */
#define T0 1699999800ull

static char db_path[64];

static const char addr_a[] = "0x00000000000000000000000000000000000000aa";
static const char addr_b[] = "0x00000000000000000000000000000000000000bb";
static const char addr_c[] = "0x00000000000000000000000000000000000000cc";

static int
spool_setup(void **state)
{
	char err[256];
	int fd;

	snprintf(db_path, sizeof(db_path), "/tmp/flytrap-spool-XXXXXX");
	if ((fd = mkstemp(db_path)) < 0)
		return -1;
	close(fd);
	*state = spool_open(db_path, err, sizeof(err));
	return *state == NULL ? -1 : 0;
}

static int
spool_teardown(void **state)
{
	char wal[96];

	spool_close(*state);
	unlink(db_path);
	snprintf(wal, sizeof(wal), "%s-wal", db_path);
	unlink(wal);
	snprintf(wal, sizeof(wal), "%s-shm", db_path);
	unlink(wal);
	return 0;
}

static struct access_record
rec(const char *address, const char *topic, unsigned action, uint64_t s)
{
	struct access_record r;

	memset(&r, 0, sizeof(r));
	r.address = address;
	r.topic = topic;
	r.topic_len = strlen(topic);
	r.action = action;
	r.first_ms = r.last_ms = s * 1000 + 123;
	r.count = 2;
	r.bytes = action == ACCESS_SUBSCRIBE ? 0 : 10;
	return r;
}

static void
store(struct spool *sp, uint64_t instance, uint64_t seq,
    const struct access_record *r, size_t n, bool want_dup, uint64_t want_late)
{
	bool dup = !want_dup;
	uint64_t late = 99;

	assert_int_equal(
	    spool_store_batch(sp, instance, seq, r, n, PERIOD, T0, &dup, &late),
	    SPOOL_OK);
	assert_int_equal(dup, want_dup);
	if (!want_dup)
		assert_int_equal(late, want_late);
}

static void
count_row(void *arg, const struct spool_row *row)
{
	(void)row;
	(*(unsigned *)arg)++;
}

static unsigned
count_records(struct spool *sp, const char *address)
{
	struct spool_filter f;
	unsigned n = 0;

	memset(&f, 0, sizeof(f));
	f.address = address;
	f.limit = 1000;
	assert_int_equal(spool_records(sp, &f, count_row, &n), SPOOL_OK);
	return n;
}

static void
test_batches_stored_once(void **state)
{
	struct spool *sp = *state;
	struct access_record r[2] = {
	    rec(addr_a, "t", ACCESS_PUBLISH, T0 + 1),
	    rec(addr_b, "t", ACCESS_SUBSCRIBE, T0 + 2),
	};
	struct spool_figures f;

	store(sp, 7, 1, r, 2, false, 0);
	/* The same batch again (its answer was lost): not stored twice. */
	store(sp, 7, 1, r, 2, true, 0);
	/* The same sequence number from another proxyd is another batch. */
	store(sp, 8, 1, r, 1, false, 0);
	assert_int_equal(spool_figures(sp, &f), SPOOL_OK);
	assert_int_equal(f.records, 3);
	assert_int_equal(f.accesses, 6);
	assert_int_equal(f.batches, 2);
	assert_int_equal(count_records(sp, NULL), 3);
	assert_int_equal(count_records(sp, addr_a), 2);
	assert_true(spool_batches_trim(sp, T0 + 1) == SPOOL_OK);
	assert_int_equal(spool_figures(sp, &f), SPOOL_OK);
	assert_int_equal(f.batches, 0);
}

static void
collect_topic(void *arg, const char *topic, size_t len)
{
	char *out = arg;

	strncat(out, topic, len);
	strcat(out, ";");
}

static void
collect_address(void *arg, const char *address)
{
	char *out = arg;

	strcat(out, address + 38); /* the last 4 digits */
	strcat(out, ";");
}

static void
test_summary_flow_and_late_records(void **state)
{
	struct spool *sp = *state;
	struct access_record r[5] = {
	    rec(addr_b, "t", ACCESS_PUBLISH, T0 + 1),
	    rec(addr_a, "t", ACCESS_PUBLISH, T0 + 2),
	    rec(addr_c, "t", ACCESS_DELIVERY, T0 + 3),
	    rec(addr_a, "u", ACCESS_SUBSCRIBE, T0 + PERIOD - 1),
	    rec(addr_a, "t", ACCESS_PUBLISH, T0 + PERIOD), /* next period */
	};
	uint8_t(*leaves)[AUDIT_HASH_LEN] = NULL;
	struct spool_summary sum, got;
	char text[256];
	uint64_t start;
	size_t n;
	bool done;

	store(sp, 1, 1, r, 5, false, 0);
	assert_int_equal(
	    spool_next_unsummarised(sp, T0 - PERIOD, &start), SPOOL_MISSING);
	assert_int_equal(spool_next_unsummarised(sp, T0, &start), SPOOL_OK);
	assert_int_equal(start, T0);
	text[0] = '\0';
	assert_int_equal(
	    spool_period_topics(sp, T0, collect_topic, text), SPOOL_OK);
	assert_string_equal(text, "t;u;");
	assert_int_equal(
	    spool_topic_leaves(sp, T0, "t", 1, &leaves, &n), SPOOL_OK);
	assert_int_equal(n, 3);
	assert_true(memcmp(leaves[0], leaves[1], AUDIT_HASH_LEN) < 0);
	assert_true(memcmp(leaves[1], leaves[2], AUDIT_HASH_LEN) < 0);
	text[0] = '\0';
	assert_int_equal(
	    spool_topic_addresses(sp, T0, "t", 1, true, collect_address, text),
	    SPOOL_OK);
	assert_string_equal(text, "00aa;00bb;");
	text[0] = '\0';
	assert_int_equal(
	    spool_topic_addresses(sp, T0, "t", 1, false, collect_address, text),
	    SPOOL_OK);
	assert_string_equal(text, "00cc;");

	/* Build the period: two summaries, then the period itself. */
	memset(&sum, 0, sizeof(sum));
	sum.period = T0;
	sum.period_end = T0 + PERIOD;
	sum.records = n;
	sum.publishers = 2;
	sum.subscribers = 1;
	audit_merkle_root(leaves, n, sum.root);
	assert_int_equal(spool_begin(sp), SPOOL_OK);
	sum.topic = "t";
	sum.topic_len = 1;
	sum.reason = "pub=a,b sub=c records=3";
	assert_int_equal(spool_summary_add(sp, &sum), SPOOL_OK);
	sum.topic = "u";
	sum.reason = "pub= sub=a records=1";
	assert_int_equal(spool_summary_add(sp, &sum), SPOOL_OK);
	assert_int_equal(
	    spool_period_add(sp, T0, T0 + PERIOD, 2, 4, T0 + 700), SPOOL_OK);
	assert_int_equal(spool_commit(sp), SPOOL_OK);
	free(leaves);
	assert_int_equal(
	    spool_next_unsummarised(sp, T0, &start), SPOOL_MISSING);

	/* A record of that period arriving now is late. */
	r[0] = rec(addr_b, "t", ACCESS_PUBLISH, T0 + 5);
	store(sp, 1, 2, r, 1, false, 1);
	assert_int_equal(
	    spool_topic_leaves(sp, T0, "t", 1, &leaves, &n), SPOOL_OK);
	assert_int_equal(n, 3);
	free(leaves);

	/* Submissions, in order; done with the last one. */
	assert_int_equal(spool_next_unsubmitted(sp, &got), SPOOL_OK);
	assert_string_equal(got.topic, "t");
	assert_string_equal(got.reason, "pub=a,b sub=c records=3");
	assert_int_equal(got.tx, 0);
	assert_int_equal(
	    spool_summary_submitted(sp, T0, "t", 1, 11, T0 + 701, &done),
	    SPOOL_OK);
	assert_false(done);
	spool_summary_free(&got);
	assert_int_equal(spool_next_unsubmitted(sp, &got), SPOOL_OK);
	assert_string_equal(got.topic, "u");
	spool_summary_free(&got);
	assert_int_equal(
	    spool_summary_submitted(sp, T0, "u", 1, 12, T0 + 702, &done),
	    SPOOL_OK);
	assert_true(done);
	assert_int_equal(spool_next_unsubmitted(sp, &got), SPOOL_MISSING);
	assert_int_equal(spool_summary_get(sp, T0, "t", 1, &got), SPOOL_OK);
	assert_int_equal(got.tx, 11);
	assert_memory_equal(got.root, sum.root, AUDIT_HASH_LEN);
	spool_summary_free(&got);
	/* Accepted again after a restart: still done once. */
	assert_int_equal(
	    spool_summary_submitted(sp, T0, "u", 1, 12, T0 + 703, &done),
	    SPOOL_OK);
	assert_false(done);
}

static void
test_full_database_refuses_whole_batches(void **state)
{
	struct spool *sp = *state;
	static char topic[3000];
	struct access_record r[200];
	struct spool_figures f;
	uint64_t late;
	bool dup;
	size_t i;

	memset(topic, 'x', sizeof(topic) - 1);
	for (i = 0; i < 200; i++)
		r[i] = rec(addr_a, topic, ACCESS_PUBLISH, T0 + i);
	store(sp, 1, 1, r, 1, false, 0);
	/* As on a full disk: the database cannot grow. */
	assert_true(spool_limit_pages(sp, 1));
	assert_int_equal(
	    spool_store_batch(sp, 1, 2, r, 200, PERIOD, T0, &dup, &late),
	    SPOOL_ERROR);
	assert_non_null(strstr(spool_error(sp), "full"));
	assert_int_equal(spool_figures(sp, &f), SPOOL_OK);
	assert_int_equal(f.records, 1);
	assert_int_equal(f.batches, 1);
	/* Room again: the same batch goes in, once. */
	assert_true(spool_limit_pages(sp, 0));
	store(sp, 1, 2, r, 200, false, 0);
	store(sp, 1, 2, r, 200, true, 0);
	assert_int_equal(spool_figures(sp, &f), SPOOL_OK);
	assert_int_equal(f.records, 201);
}

static void
test_erase_keeps_summarised_leaves(void **state)
{
	struct spool *sp = *state;
	struct access_record r[3] = {
	    rec(addr_a, "t", ACCESS_PUBLISH, T0 + 1),
	    rec(addr_b, "t", ACCESS_PUBLISH, T0 + 2),
	    rec(addr_a, "t", ACCESS_PUBLISH, T0 + PERIOD + 1),
	};
	uint8_t(*leaves)[AUDIT_HASH_LEN] = NULL;
	struct spool_figures f;
	struct spool_row row;
	uint64_t n;
	size_t nl;

	store(sp, 1, 1, r, 3, false, 0);
	assert_int_equal(spool_begin(sp), SPOOL_OK);
	assert_int_equal(
	    spool_period_add(sp, T0, T0 + PERIOD, 1, 2, T0 + 700), SPOOL_OK);
	assert_int_equal(spool_commit(sp), SPOOL_OK);

	assert_int_equal(spool_erase(sp, addr_a, &n), SPOOL_OK);
	assert_int_equal(n, 2);
	assert_int_equal(count_records(sp, addr_a), 0);
	assert_int_equal(count_records(sp, NULL), 1);
	/* The summarised period still has both leaves. */
	assert_int_equal(
	    spool_topic_leaves(sp, T0, "t", 1, &leaves, &nl), SPOOL_OK);
	assert_int_equal(nl, 2);
	free(leaves);
	assert_int_equal(spool_record_get(sp, 1, &row), SPOOL_OK);
	assert_true(row.erased);
	assert_int_equal(row.rec.address[0], '\0');
	/* The unsummarised record is gone entirely. */
	assert_int_equal(spool_record_get(sp, 3, &row), SPOOL_MISSING);
	assert_int_equal(spool_figures(sp, &f), SPOOL_OK);
	assert_int_equal(f.records, 1);
	assert_int_equal(f.erased, 1);
}

static void
test_record_listing_filters_and_pages(void **state)
{
	struct spool *sp = *state;
	struct access_record r[6];
	struct spool_filter f;
	unsigned n;
	size_t i;

	for (i = 0; i < 6; i++)
		r[i] = rec(i % 2 ? addr_a : addr_b, i < 3 ? "t" : "u",
		    ACCESS_PUBLISH, T0 + i * PERIOD / 2);
	store(sp, 1, 1, r, 6, false, 0);
	memset(&f, 0, sizeof(f));
	f.limit = 4;
	n = 0;
	assert_int_equal(spool_records(sp, &f, count_row, &n), SPOOL_OK);
	assert_int_equal(n, 4);
	f.after = 4;
	n = 0;
	assert_int_equal(spool_records(sp, &f, count_row, &n), SPOOL_OK);
	assert_int_equal(n, 2);
	memset(&f, 0, sizeof(f));
	f.limit = 100;
	f.topic = "u";
	f.topic_len = 1;
	f.address = addr_a;
	n = 0;
	assert_int_equal(spool_records(sp, &f, count_row, &n), SPOOL_OK);
	assert_int_equal(n, 2); /* records 4 and 6 */
	memset(&f, 0, sizeof(f));
	f.limit = 100;
	f.has_period = true;
	f.period = T0;
	n = 0;
	assert_int_equal(spool_records(sp, &f, count_row, &n), SPOOL_OK);
	assert_int_equal(n, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_batches_stored_once, spool_setup, spool_teardown),
	    cmocka_unit_test_setup_teardown(test_summary_flow_and_late_records,
		spool_setup, spool_teardown),
	    cmocka_unit_test_setup_teardown(
		test_full_database_refuses_whole_batches, spool_setup,
		spool_teardown),
	    cmocka_unit_test_setup_teardown(test_erase_keeps_summarised_leaves,
		spool_setup, spool_teardown),
	    cmocka_unit_test_setup_teardown(
		test_record_listing_filters_and_pages, spool_setup,
		spool_teardown),
	};

	return cmocka_run_group_tests_name("spool", tests, NULL, NULL);
}

/*
 * Unit tests for chaind's sqlite store: cached access answers are found,
 * forgotten exactly as events require, and a reorganisation undoes events
 * and entries from the fork on.
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

#include "../../chaind/store.h"

static char db_path[64];

static int
store_setup(void **state)
{
	char err[256];
	int fd;

	snprintf(db_path, sizeof(db_path), "/tmp/flytrap-store-XXXXXX");
	if ((fd = mkstemp(db_path)) < 0)
		return -1;
	close(fd);
	*state = store_open(db_path, err, sizeof(err));
	return *state == NULL ? -1 : 0;
}

static int
store_teardown(void **state)
{
	char wal[80];

	store_close(*state);
	unlink(db_path);
	snprintf(wal, sizeof(wal), "%s-wal", db_path);
	unlink(wal);
	snprintf(wal, sizeof(wal), "%s-shm", db_path);
	unlink(wal);
	return 0;
}

static void
make_access(struct store_access *a, uint64_t pub, uint64_t sub)
{
	memset(a, 0, sizeof(*a));
	a->exists = true;
	a->pub_expiry = pub;
	a->sub_expiry = sub;
	a->sensitive = true;
	snprintf(a->countries, sizeof(a->countries), "DEFR");
	a->block = 7;
}

static void
test_meta_roundtrip(void **state)
{
	struct store *st = *state;
	uint64_t v = 0;

	assert_int_equal(store_meta_get(st, "synced", &v), STORE_MISSING);
	assert_int_equal(store_meta_set(st, "synced", UINT64_MAX), STORE_OK);
	assert_int_equal(store_meta_get(st, "synced", &v), STORE_OK);
	assert_true(v == UINT64_MAX);
}

static void
test_access_cache_and_forget(void **state)
{
	struct store *st = *state;
	struct store_access a, b;
	const char *alice = "0x1111111111111111111111111111111111111111";
	const char *bob = "0x2222222222222222222222222222222222222222";

	make_access(&a, STORE_FOREVER, 12345);
	assert_int_equal(store_access_get(st, "t/#", alice, &b), STORE_MISSING);
	assert_int_equal(store_access_put(st, "t/#", alice, &a), STORE_OK);
	assert_int_equal(store_access_put(st, "t/#", bob, &a), STORE_OK);
	assert_int_equal(store_access_put(st, "u", alice, &a), STORE_OK);
	assert_int_equal(store_access_get(st, "t/#", alice, &b), STORE_OK);
	/* "Forever" survives the trip through sqlite's signed INTEGER. */
	assert_true(b.pub_expiry == STORE_FOREVER);
	assert_true(b.sub_expiry == 12345);
	assert_true(b.sensitive && b.exists);
	assert_string_equal(b.countries, "DEFR");
	assert_int_equal(store_access_count(st), 3);

	/* A grant event forgets exactly (entry, target). */
	assert_int_equal(store_access_forget(st, "t/#", alice), STORE_OK);
	assert_int_equal(store_access_get(st, "t/#", alice, &b), STORE_MISSING);
	assert_int_equal(store_access_get(st, "t/#", bob, &b), STORE_OK);
	assert_int_equal(store_access_get(st, "u", alice, &b), STORE_OK);
	/* A topic change forgets every address on that entry only. */
	assert_int_equal(store_access_forget(st, "t/#", NULL), STORE_OK);
	assert_int_equal(store_access_get(st, "t/#", bob, &b), STORE_MISSING);
	assert_int_equal(store_access_get(st, "u", alice, &b), STORE_OK);
	assert_int_equal(store_access_forget_all(st), STORE_OK);
	assert_int_equal(store_access_count(st), 0);
}

static bool
collect(void *arg, const char *name, size_t len)
{
	char *out = arg;

	strncat(out, name, len);
	strcat(out, ";");
	return true;
}

static void
test_events_topics_reorg(void **state)
{
	struct store *st = *state;
	struct store_event ev;
	char names[256] = "", hash[67];
	uint64_t b;

	for (b = 10; b <= 14; b++) {
		char name[16];

		memset(&ev, 0, sizeof(ev));
		ev.block = b;
		snprintf(ev.tx_hash, sizeof(ev.tx_hash), "0x%064llx",
		    (unsigned long long)b);
		ev.time = 1000 + b;
		snprintf(ev.source, sizeof(ev.source), "0x%040d", 1);
		snprintf(ev.target, sizeof(ev.target), "0x%040d", 2);
		snprintf(
		    name, sizeof(name), "topic/%llu", (unsigned long long)b);
		ev.name = name;
		ev.name_len = strlen(name);
		ev.reason = "";
		assert_int_equal(store_event_add(st, &ev), STORE_OK);
		assert_int_equal(
		    store_topic_add(st, name, strlen(name), b), STORE_OK);
		assert_int_equal(store_block_put(st, b, ev.tx_hash), STORE_OK);
	}
	assert_int_equal(store_event_count(st), 5);
	/* The same (block, log index) twice is one event, not two. */
	assert_int_equal(store_event_add(st, &ev), STORE_OK);
	assert_int_equal(store_event_count(st), 5);

	assert_int_equal(store_events_drop_from(st, 13), STORE_OK);
	assert_int_equal(store_topics_drop_from(st, 13), STORE_OK);
	assert_int_equal(store_blocks_trim(st, 13, 11), STORE_OK);
	assert_int_equal(store_event_count(st), 3);
	assert_int_equal(store_topics_each(st, collect, names), STORE_OK);
	assert_string_equal(names, "topic/10;topic/11;topic/12;");
	assert_int_equal(store_block_get(st, 13, hash), STORE_MISSING);
	assert_int_equal(store_block_get(st, 10, hash), STORE_MISSING);
	assert_int_equal(store_block_get(st, 12, hash), STORE_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_meta_roundtrip, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(
		test_access_cache_and_forget, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(
		test_events_topics_reorg, store_setup, store_teardown),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}

/*
 * Unit tests for chaind's sqlite store: cached access answers are found,
 * forgotten exactly as events require, and a reorganisation undoes events
 * and entries from the fork on; alerts are kept, deduplicated and counted
 * against the budget; Banned events are read after a cursor whose ids a
 * reorganisation never hands out twice.
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
#include "auth.h"

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

/* ---- Alerts ------------------------------------------------------------ */

static void
make_alert(struct store_alert *a, unsigned action, const char *subject,
    uint64_t until, uint64_t time, unsigned outcome)
{
	memset(a, 0, sizeof(*a));
	a->time = time;
	a->action = action;
	a->ip = "192.0.2.7";
	a->ip_hash = "ip-hmac:0123456789abcdef0123456789abcdef0123456789abcdef"
		     "0123456789abcdef";
	a->subject = subject;
	a->subject_len = strlen(subject);
	a->address = "";
	a->reason =
	    action == ALERT_BANNED ? "3 failures" : "country=US publish";
	a->reason_len = strlen(a->reason);
	a->until = until;
	a->outcome = outcome;
}

static void
test_alert_ban_dedup(void **state)
{
	struct store *st = *state;
	struct store_alert a;
	uint64_t id = 0, id2 = 0, tx = 0;
	const char *ip = "192.0.2.7";
	static const uint8_t call[4] = {1, 2, 3, 4};

	assert_int_equal(
	    store_alert_find_ban(st, ip, strlen(ip), 5000), STORE_MISSING);
	/* Kept but not written (over budget): not a duplicate later. */
	make_alert(&a, ALERT_BANNED, ip, 5000, 1000, ALERT_OVER_BUDGET);
	assert_int_equal(store_alert_add(st, &a, &id), STORE_OK);
	assert_true(id > 0);
	assert_int_equal(
	    store_alert_find_ban(st, ip, strlen(ip), 5000), STORE_MISSING);

	assert_int_equal(
	    store_tx_add(st, "alert", call, sizeof(call), 1000, &tx), STORE_OK);
	make_alert(&a, ALERT_BANNED, ip, 5000, 1001, ALERT_QUEUED);
	a.tx = tx;
	assert_int_equal(store_alert_add(st, &a, &id2), STORE_OK);
	assert_true(id2 > id);
	assert_int_equal(
	    store_alert_find_ban(st, ip, strlen(ip), 5000), STORE_OK);
	/* Another end is another ban; another subject too. */
	assert_int_equal(
	    store_alert_find_ban(st, ip, strlen(ip), 6000), STORE_MISSING);
	assert_int_equal(
	    store_alert_find_ban(st, "192.0.2.8", 9, 5000), STORE_MISSING);
	/* A wrong country with that subject is no ban. */
	make_alert(&a, ALERT_WRONG_COUNTRY, "192.0.2.9", 0, 1001, ALERT_QUEUED);
	assert_int_equal(store_alert_add(st, &a, NULL), STORE_OK);
	assert_int_equal(
	    store_alert_find_ban(st, "192.0.2.9", 9, 0), STORE_MISSING);
	/* A ban whose transaction failed was never written: write again. */
	assert_int_equal(
	    store_tx_finish(st, tx, STORE_TX_FAILED, 0, "reverted"), STORE_OK);
	assert_int_equal(
	    store_alert_find_ban(st, ip, strlen(ip), 5000), STORE_MISSING);
}

static void
test_alert_country_dedup_window(void **state)
{
	struct store *st = *state;
	struct store_alert a;
	const char *topic = "plant/1/temp";
	const char *hash = "ip-hmac:0123456789abcdef0123456789abcdef0123456789"
			   "abcdef0123456789abcdef";

	make_alert(&a, ALERT_WRONG_COUNTRY, topic, 0, 10000, ALERT_QUEUED);
	assert_int_equal(store_alert_add(st, &a, NULL), STORE_OK);
	/* Within the hour that began at 7000: found; from 10001 on: not. */
	assert_int_equal(store_alert_find_country(
			     st, "192.0.2.7", hash, topic, strlen(topic), 7000),
	    STORE_OK);
	assert_int_equal(store_alert_find_country(st, "192.0.2.7", hash, topic,
			     strlen(topic), 10001),
	    STORE_MISSING);
	/* Another IP, or another topic, is another alert. */
	assert_int_equal(store_alert_find_country(
			     st, "192.0.2.8", hash, topic, strlen(topic), 7000),
	    STORE_MISSING);
	assert_int_equal(
	    store_alert_find_country(st, "192.0.2.7", hash, "plant/2", 7, 7000),
	    STORE_MISSING);
	/* Only written alerts count. */
	make_alert(&a, ALERT_WRONG_COUNTRY, "other", 0, 10000, ALERT_DUPLICATE);
	assert_int_equal(store_alert_add(st, &a, NULL), STORE_OK);
	assert_int_equal(
	    store_alert_find_country(st, "192.0.2.7", hash, "other", 5, 7000),
	    STORE_MISSING);
}

static void
test_alert_budget_count(void **state)
{
	struct store *st = *state;
	struct store_alert a;
	uint64_t n = 99, t;
	char subject[32];

	assert_int_equal(store_alert_count_queued(st, 0, &n), STORE_OK);
	assert_int_equal(n, 0);
	for (t = 1000; t < 1010; t++) {
		snprintf(subject, sizeof(subject), "10.0.0.%u", (unsigned)t);
		make_alert(&a, ALERT_BANNED, subject, t + 300, t,
		    t % 2 ? ALERT_OVER_BUDGET : ALERT_QUEUED);
		assert_int_equal(store_alert_add(st, &a, NULL), STORE_OK);
	}
	/* Queued at 1000, 1002, ..., 1008: five, three of them from 1004. */
	assert_int_equal(store_alert_count_queued(st, 0, &n), STORE_OK);
	assert_int_equal(n, 5);
	assert_int_equal(store_alert_count_queued(st, 1004, &n), STORE_OK);
	assert_int_equal(n, 3);
	assert_int_equal(store_alert_count_queued(st, 1009, &n), STORE_OK);
	assert_int_equal(n, 0);
}

/* ---- Ban sync ---------------------------------------------------------- */

static void
add_event(struct store *st, uint64_t block, uint64_t log_index, unsigned action,
    const char *name, const char *reason)
{
	struct store_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.block = block;
	ev.log_index = log_index;
	snprintf(ev.tx_hash, sizeof(ev.tx_hash), "0x%064llx",
	    (unsigned long long)(block * 100 + log_index));
	ev.time = 1000 + block;
	ev.action = action;
	snprintf(ev.source, sizeof(ev.source), "0x%040d", 1);
	snprintf(ev.target, sizeof(ev.target), "0x%040d", 0);
	ev.name = name;
	ev.name_len = strlen(name);
	ev.reason = reason;
	ev.reason_len = strlen(reason);
	assert_int_equal(store_event_add(st, &ev), STORE_OK);
}

struct collected {
	size_t limit;
	size_t n;
	uint64_t ids[64];
	char names[64][32];
};

static bool
collect_event(void *arg, uint64_t id, const struct store_event *ev)
{
	struct collected *c = arg;

	assert_int_equal(ev->action, 6);
	c->ids[c->n] = id;
	snprintf(c->names[c->n], sizeof(c->names[0]), "%.*s", (int)ev->name_len,
	    ev->name);
	return ++c->n < c->limit;
}

static void
test_ban_events_after_cursor(void **state)
{
	struct store *st = *state;
	struct collected c;
	uint64_t b, cursor;
	char name[32];

	/* Banned events in blocks 1..10, with an AddPub among them. */
	for (b = 1; b <= 10; b++) {
		snprintf(name, sizeof(name), "net:10.%u.0.0/16", (unsigned)b);
		add_event(st, b, 0, 6, name, "until=99999 test");
		if (b == 5)
			add_event(st, b, 1, 1, "topic", "");
	}
	/* Pages of four: 4, 4, 2, then nothing, ids growing. */
	memset(&c, 0, sizeof(c));
	c.limit = 4;
	assert_int_equal(
	    store_events_after(st, 6, 0, collect_event, &c), STORE_OK);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.names[0], "net:10.1.0.0/16");
	assert_string_equal(c.names[3], "net:10.4.0.0/16");
	cursor = c.ids[3];
	c.n = 0;
	assert_int_equal(
	    store_events_after(st, 6, cursor, collect_event, &c), STORE_OK);
	assert_int_equal(c.n, 4);
	assert_true(c.ids[0] > cursor);
	assert_string_equal(c.names[0], "net:10.5.0.0/16");
	cursor = c.ids[3];
	c.n = 0;
	assert_int_equal(
	    store_events_after(st, 6, cursor, collect_event, &c), STORE_OK);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.names[1], "net:10.10.0.0/16");
	cursor = c.ids[1];
	c.n = 0;
	assert_int_equal(
	    store_events_after(st, 6, cursor, collect_event, &c), STORE_OK);
	assert_int_equal(c.n, 0);

	/*
	 * A reorganisation drops blocks 9 and 10; their replacements get ids
	 * above the cursor a reader already holds, so it misses nothing.
	 */
	assert_int_equal(store_events_drop_from(st, 9), STORE_OK);
	add_event(st, 9, 0, 6, "net:10.99.0.0/16", "until=99999 again");
	c.n = 0;
	assert_int_equal(
	    store_events_after(st, 6, cursor, collect_event, &c), STORE_OK);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.names[0], "net:10.99.0.0/16");
	assert_true(c.ids[0] > cursor);
	/* Ids also survive closing and opening the database. */
	cursor = c.ids[0];
	assert_int_equal(store_events_drop_from(st, 9), STORE_OK);
	store_close(st);
	{
		char err[256];

		*state = st = store_open(db_path, err, sizeof(err));
		assert_non_null(st);
	}
	add_event(st, 9, 0, 6, "net:10.98.0.0/16", "until=99999 third");
	c.n = 0;
	assert_int_equal(
	    store_events_after(st, 6, cursor, collect_event, &c), STORE_OK);
	assert_int_equal(c.n, 1);
	assert_true(c.ids[0] > cursor);
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
	    cmocka_unit_test_setup_teardown(
		test_alert_ban_dedup, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(
		test_alert_country_dedup_window, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(
		test_alert_budget_count, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(
		test_ban_events_after_cursor, store_setup, store_teardown),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}

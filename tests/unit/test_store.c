/*
 * Unit tests for chaind's sqlite store: cached access answers are found,
 * forgotten exactly as events require, and a reorganisation undoes events
 * and entries from the fork on; alerts are kept, deduplicated and counted
 * against the budget; Banned events are read after a cursor whose ids a
 * reorganisation never hands out twice; the audit queries' searches
 * merge in chain order and page without gaps, summary roots, grant
 * expiries and entry settings follow reorganisations, and erasure takes
 * exactly a person's alert rows.
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

/* The wallet's "once:" purposes find the transaction that has not failed. */
static void
test_tx_find_purpose(void **state)
{
	struct store *st = *state;
	const uint8_t call[4] = {1, 2, 3, 4};
	const char *key = "once:summary:1800:abcd";
	uint64_t first = 0, second = 0, found = 0;

	assert_int_equal(store_tx_find_purpose(st, key, &found), STORE_MISSING);
	assert_int_equal(
	    store_tx_add(st, key, call, sizeof(call), 10, &first), STORE_OK);
	assert_int_equal(store_tx_find_purpose(st, key, &found), STORE_OK);
	assert_true(found == first);
	assert_int_equal(
	    store_tx_find_purpose(st, "once:other", &found), STORE_MISSING);
	/* Sent and done still count; a failed one does not. */
	assert_int_equal(
	    store_tx_finish(st, first, STORE_TX_FAILED, 0, "x"), STORE_OK);
	assert_int_equal(store_tx_find_purpose(st, key, &found), STORE_MISSING);
	assert_int_equal(
	    store_tx_add(st, key, call, sizeof(call), 11, &second), STORE_OK);
	assert_int_equal(
	    store_tx_finish(st, second, STORE_TX_DONE, 5, NULL), STORE_OK);
	assert_int_equal(store_tx_find_purpose(st, key, &found), STORE_OK);
	assert_true(found == second);
}

/* ---- Audit queries ------------------------------------------------------ */

/* An event at time `time` from `source` to `target`. */
static void
add_audit_event(struct store *st, uint64_t block, uint64_t log_index,
    uint64_t time, unsigned action, const char *name, const char *source,
    const char *target, const char *reason)
{
	struct store_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.block = block;
	ev.log_index = log_index;
	snprintf(ev.tx_hash, sizeof(ev.tx_hash), "0x%064llx",
	    (unsigned long long)(block * 100 + log_index));
	ev.time = time;
	ev.action = action;
	snprintf(ev.source, sizeof(ev.source), "%s", source);
	snprintf(ev.target, sizeof(ev.target), "%s", target);
	ev.name = name;
	ev.name_len = strlen(name);
	ev.reason = reason;
	ev.reason_len = strlen(reason);
	assert_int_equal(store_event_add(st, &ev), STORE_OK);
}

struct found {
	size_t n;
	uint64_t ids[64];
	uint64_t times[64];
	unsigned actions[64];
	size_t stop_after; /* 0: never */
};

static bool
found_event(void *arg, uint64_t id, const struct store_event *ev)
{
	struct found *f = arg;

	assert_true(f->n < 64);
	f->ids[f->n] = id;
	f->times[f->n] = ev->time;
	f->actions[f->n] = ev->action;
	f->n++;
	return f->stop_after == 0 || f->n < f->stop_after;
}

static size_t
find(struct store *st, const struct store_event_query *q, struct found *f)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(store_events_find(st, q, found_event, f), STORE_OK);
	return f->n;
}

#define OWNER "0x00000000000000000000000000000000000000aa"
#define ALICE "0x00000000000000000000000000000000000000a1"
#define BOB "0x00000000000000000000000000000000000000b0"

/*
 * Filters combine, parts merge in chain order, an event found through
 * two roles or names comes once, limit and cursor page without a gap.
 */
static void
test_events_find(void **state)
{
	struct store *st = *state;
	struct store_event_query q;
	const char *names[2] = {"a/#", "b"};
	struct found f, g;
	uint64_t n = 0;
	size_t i;

	/* Blocks 1..6, times 100..600 (block 3 and 4 share a second). */
	add_audit_event(st, 1, 0, 100, 0, "a/#", OWNER, OWNER, "");
	add_audit_event(st, 1, 1, 100, 0, "b", OWNER, OWNER, "");
	add_audit_event(st, 2, 0, 200, 1, "a/#", OWNER, ALICE, "g1");
	add_audit_event(st, 3, 0, 300, 2, "b", OWNER, BOB, "g2");
	add_audit_event(st, 4, 0, 300, 6, "ip-hmac:x", BOB, ALICE, "until=1");
	add_audit_event(st, 5, 0, 500, 3, "a/#", OWNER, ALICE, "r1");
	add_audit_event(st, 6, 0, 600, 1, "b", ALICE, ALICE, "paid:5");

	memset(&q, 0, sizeof(q));
	q.to = UINT64_MAX; /* beyond sqlite's range: clamped */
	assert_int_equal(find(st, &q, &f), 7);
	for (i = 1; i < f.n; i++)
		assert_true(f.ids[i] > f.ids[i - 1]);
	assert_int_equal(store_events_count(st, &q, &n), STORE_OK);
	assert_true(n == 7);

	/* By address, both roles: ALICE's event to herself comes once. */
	q.address = ALICE;
	q.roles = STORE_ROLE_SOURCE | STORE_ROLE_TARGET;
	assert_int_equal(find(st, &q, &f), 4);
	assert_int_equal(f.actions[0], 1);
	assert_int_equal(f.actions[3], 1);
	assert_true(f.times[3] == 600);
	assert_int_equal(store_events_count(st, &q, &n), STORE_OK);
	assert_true(n == 4);
	q.roles = STORE_ROLE_SOURCE;
	assert_int_equal(find(st, &q, &f), 1);

	/* Names and actions: the parts merge by time, then id. */
	memset(&q, 0, sizeof(q));
	q.to = UINT64_MAX;
	q.names = names;
	q.n_names = 2;
	q.actions = 1u << 1 | 1u << 2 | 1u << 3;
	assert_int_equal(find(st, &q, &f), 4);
	assert_int_equal(f.actions[0], 1);
	assert_int_equal(f.actions[1], 2);
	assert_int_equal(f.actions[2], 3);
	assert_int_equal(f.actions[3], 1);
	/* With an address too. */
	q.address = ALICE;
	q.roles = STORE_ROLE_TARGET;
	assert_int_equal(find(st, &q, &f), 3);
	/* Time range, inclusive, and the shared second. */
	memset(&q, 0, sizeof(q));
	q.from = 300;
	q.to = 300;
	assert_int_equal(find(st, &q, &f), 2);
	assert_int_equal(f.actions[0], 2);
	assert_int_equal(f.actions[1], 6);
	/* Actions alone lead the index: one part each. */
	memset(&q, 0, sizeof(q));
	q.to = UINT64_MAX;
	q.actions = 1u << 6 | 1u << 0;
	assert_int_equal(find(st, &q, &f), 3);
	assert_int_equal(f.actions[2], 6);

	/* Pages of two, by cursor, give every event once and in order. */
	memset(&q, 0, sizeof(q));
	q.to = UINT64_MAX;
	memset(&g, 0, sizeof(g));
	q.limit = 2;
	for (;;) {
		assert_true(find(st, &q, &f) <= 2);
		for (i = 0; i < f.n; i++)
			g.ids[g.n++] = f.ids[i];
		if (f.n < 2)
			break;
		q.after = f.ids[f.n - 1];
	}
	assert_int_equal(g.n, 7);
	for (i = 1; i < g.n; i++)
		assert_true(g.ids[i] > g.ids[i - 1]);
	/* A callback that stops ends the search. */
	memset(&q, 0, sizeof(q));
	q.to = UINT64_MAX;
	memset(&f, 0, sizeof(f));
	f.stop_after = 3;
	assert_int_equal(store_events_find(st, &q, found_event, &f), STORE_OK);
	assert_int_equal(f.n, 3);

	/* Text search, for erasure. */
	memset(&f, 0, sizeof(f));
	assert_int_equal(store_events_reason_contains(
			     st, 1u << 1, "paid:", 0, 0, found_event, &f),
	    STORE_OK);
	assert_int_equal(f.n, 1);
}

struct roots {
	size_t n;
	char roots[8][67];
	uint64_t ids[8];
};

static bool
found_root(void *arg, uint64_t id, const struct store_event *ev,
    const char *root, uint64_t start, uint64_t end)
{
	struct roots *r = arg;

	assert_int_equal(ev->action, 7);
	assert_true(end > start);
	r->ids[r->n] = id;
	snprintf(r->roots[r->n++], 67, "%s", root);
	return true;
}

static void
add_summary(struct store *st, uint64_t block, const char *name, char digit,
    uint64_t start, uint64_t end)
{
	struct store_summary_root r;

	add_audit_event(st, block, 0, block * 100, 7, name, OWNER,
	    "0x0000000000000000000000000000000000000000", "records=1");
	memset(&r, 0, sizeof(r));
	r.block = block;
	r.log_index = 1;
	snprintf(r.tx_hash, sizeof(r.tx_hash), "0x%064llx",
	    (unsigned long long)(block * 100));
	memset(r.root, digit, 66);
	r.root[0] = '0';
	r.root[1] = 'x';
	r.name = name;
	r.name_len = strlen(name);
	r.period_start = start;
	r.period_end = end;
	assert_int_equal(store_summary_root_add(st, &r), STORE_OK);
}

/* Roots are linked to their Summary; periods are found by overlap. */
static void
test_summary_roots(void **state)
{
	struct store *st = *state;
	struct roots r;
	char root[67];
	uint64_t s = 0, e = 0;

	add_summary(st, 1, "t", '1', 0, 1800);
	add_summary(st, 2, "t", '2', 1800, 3600);
	add_summary(st, 3, "u", '3', 1800, 3600);
	add_summary(st, 4, "t", '4', 3600, 5400);
	assert_true(store_summary_count(st) == 4);
	assert_int_equal(store_summary_root_get(st, 2, root, &s, &e), STORE_OK);
	assert_true(s == 1800 && e == 3600 && root[2] == '2');
	assert_int_equal(
	    store_summary_root_get(st, 99, root, &s, &e), STORE_MISSING);

	memset(&r, 0, sizeof(r));
	assert_int_equal(store_summaries_overlapping(
			     st, "t", 2000, 4000, 0, 0, found_root, &r),
	    STORE_OK);
	assert_int_equal(r.n, 2);
	assert_true(r.roots[0][2] == '2' && r.roots[1][2] == '4');
	/* Paged by one, after the first. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_summaries_overlapping(
			     st, "t", 0, 10000, 0, 1, found_root, &r),
	    STORE_OK);
	assert_int_equal(r.n, 1);
	assert_true(r.roots[0][2] == '1');
	assert_int_equal(store_summaries_overlapping(
			     st, "t", 0, 10000, r.ids[0], 0, found_root, &r),
	    STORE_OK);
	assert_int_equal(r.n, 3);
	assert_int_equal(store_summaries_overlapping(
			     st, "t", 0, 10000, 77, 0, found_root, &r),
	    STORE_MISSING);

	/* A reorganisation takes the roots of its blocks away too. */
	assert_int_equal(store_events_drop_from(st, 4), STORE_OK);
	assert_true(store_summary_count(st) == 3);
}

/* Grants wait for their expiry; settings for their re-reading. */
static void
test_grant_expiry_and_topic_details(void **state)
{
	struct store *st = *state;
	struct store_topic_details d;
	char target[43], *name = NULL;
	uint64_t id = 0, block = 0, expiry = 0, mark = 0;
	unsigned action = 0;
	bool known = true, stale = false;

	add_audit_event(st, 1, 0, 100, 0, "a", OWNER, OWNER, "");
	add_audit_event(st, 2, 0, 200, 1, "a", OWNER, ALICE, "g");
	add_audit_event(st, 3, 0, 300, 2, "a", OWNER, BOB, "g");

	assert_int_equal(
	    store_grant_expiry_next(st, 0, &id, &block, &action, target, &name),
	    STORE_OK);
	assert_true(id == 2 && block == 2 && action == 1);
	assert_string_equal(target, ALICE);
	assert_string_equal(name, "a");
	free(name);
	assert_int_equal(
	    store_grant_expiry_get(st, 2, &known, &expiry), STORE_MISSING);
	assert_int_equal(
	    store_grant_expiry_put(st, 2, true, STORE_FOREVER), STORE_OK);
	assert_int_equal(
	    store_grant_expiry_get(st, 2, &known, &expiry), STORE_OK);
	assert_true(known && expiry == STORE_FOREVER);
	assert_int_equal(store_grant_expiry_put(st, 3, false, 0), STORE_OK);
	assert_int_equal(
	    store_grant_expiry_get(st, 3, &known, &expiry), STORE_OK);
	assert_false(known);
	/* None left: the cursor skips to the newest event. */
	assert_int_equal(
	    store_grant_expiry_next(st, 0, &id, &block, &action, target, &name),
	    STORE_MISSING);
	assert_true(id == 3);
	/* A reorganisation forgets what the undone grants left. */
	assert_int_equal(store_events_drop_from(st, 3), STORE_OK);
	add_audit_event(st, 3, 0, 300, 2, "a", OWNER, BOB, "again");
	assert_int_equal(
	    store_grant_expiry_next(st, 3, &id, &block, &action, target, &name),
	    STORE_OK);
	assert_true(id == 4);
	free(name);

	/* Settings: read after a change, kept only if not changed since. */
	assert_int_equal(store_topic_add(st, "a", 1, 1), STORE_OK);
	assert_int_equal(store_topic_details_stale(st, "a", 1, 10), STORE_OK);
	assert_int_equal(
	    store_topic_details_get(st, "a", &d, &stale), STORE_MISSING);
	assert_int_equal(
	    store_topic_details_next_stale(st, &name, &mark), STORE_OK);
	assert_string_equal(name, "a");
	assert_true(mark == 10);
	free(name);
	memset(&d, 0, sizeof(d));
	d.exists = d.sensitive = true;
	snprintf(d.pub_price, sizeof(d.pub_price), "1000");
	snprintf(d.sub_price, sizeof(d.sub_price), "0");
	snprintf(d.countries, sizeof(d.countries), "DEFR");
	d.block = 5;
	/* Changed again meanwhile: this answer is too old to keep. */
	assert_int_equal(store_topic_details_stale(st, "a", 1, 11), STORE_OK);
	assert_int_equal(store_topic_details_put(st, "a", 10, &d), STORE_OK);
	assert_int_equal(
	    store_topic_details_get(st, "a", &d, &stale), STORE_MISSING);
	d.sensitive = true;
	d.block = 5;
	snprintf(d.pub_price, sizeof(d.pub_price), "1000");
	snprintf(d.countries, sizeof(d.countries), "DEFR");
	assert_int_equal(store_topic_details_put(st, "a", 11, &d), STORE_OK);
	memset(&d, 0, sizeof(d));
	assert_int_equal(
	    store_topic_details_get(st, "a", &d, &stale), STORE_OK);
	assert_false(stale);
	assert_true(d.sensitive && d.block == 5);
	assert_string_equal(d.pub_price, "1000");
	assert_string_equal(d.countries, "DEFR");
	assert_int_equal(
	    store_topic_details_next_stale(st, &name, &mark), STORE_MISSING);
	/* After a reorganisation every entry is read again. */
	assert_int_equal(store_topic_details_stale_all(st), STORE_OK);
	assert_int_equal(
	    store_topic_details_get(st, "a", &d, &stale), STORE_OK);
	assert_true(stale);
}

static bool
found_hash(void *arg, const char *hash)
{
	snprintf(arg, 80, "%s", hash);
	return true;
}

/* Erasure deletes a person's alert rows and nobody else's. */
static void
test_alerts_erase(void **state)
{
	struct store *st = *state;
	struct store_alert a;
	char hash[80] = "";
	uint64_t removed = 0;

	memset(&a, 0, sizeof(a));
	a.time = 1;
	a.action = ALERT_BANNED;
	a.ip = "192.0.2.1";
	a.ip_hash = "ip-hmac:aa";
	a.subject = "192.0.2.1";
	a.subject_len = strlen(a.subject);
	a.address = ALICE;
	a.reason = "";
	assert_int_equal(store_alert_add(st, &a, NULL), STORE_OK);
	a.ip = "192.0.2.2";
	a.ip_hash = "ip-hmac:bb";
	a.subject = "192.0.2.2";
	a.address = "";
	assert_int_equal(store_alert_add(st, &a, NULL), STORE_OK);
	a.ip = "";
	a.ip_hash = "";
	a.subject = BOB;
	a.subject_len = strlen(BOB);
	assert_int_equal(store_alert_add(st, &a, NULL), STORE_OK);

	assert_int_equal(
	    store_alert_ip_hashes(st, "192.0.2.1", found_hash, hash), STORE_OK);
	assert_string_equal(hash, "ip-hmac:aa");
	assert_int_equal(
	    store_alerts_erase_ip(st, "192.0.2.1", &removed), STORE_OK);
	assert_true(removed == 1);
	assert_int_equal(
	    store_alerts_erase_address(st, ALICE, &removed), STORE_OK);
	assert_true(removed == 0);
	/* An address ban names the address as its subject. */
	assert_int_equal(
	    store_alerts_erase_address(st, BOB, &removed), STORE_OK);
	assert_true(removed == 1);
	assert_int_equal(store_erase_flush(st), STORE_OK);
	assert_int_equal(
	    store_alerts_erase_ip(st, "192.0.2.2", &removed), STORE_OK);
	assert_true(removed == 1);
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
	    cmocka_unit_test_setup_teardown(
		test_tx_find_purpose, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(
		test_events_find, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(
		test_summary_roots, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_grant_expiry_and_topic_details,
		store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(
		test_alerts_erase, store_setup, store_teardown),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}

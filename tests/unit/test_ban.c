/*
 * Unit tests for authd's ban table: counting, automatic bans and their
 * escalation, manual and chain bans of every kind, the attempt rate, the
 * table's bound, and the bans file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../authd/ban.h"
#include "hex.h"

/* ---- Helpers --------------------------------------------------------------- */

struct events {
	int starts, extends, ends, lifts;
	char last_subject[BAN_SUBJECT_STRLEN];
	char last_reason[BAN_REASON_MAX + 1];
	double last_until;
	enum ban_origin last_origin;
	uint32_t last_bans;
	bool last_had_ip;
};

static void
on_event(const struct ban_event *ev, void *arg)
{
	struct events *e = arg;

	switch (ev->type) {
	case BAN_EVENT_START:
		e->starts++;
		break;
	case BAN_EVENT_EXTEND:
		e->extends++;
		break;
	case BAN_EVENT_END:
		e->ends++;
		break;
	case BAN_EVENT_LIFT:
		e->lifts++;
		break;
	}
	snprintf(
	    e->last_subject, sizeof(e->last_subject), "%s", ev->subject_text);
	snprintf(e->last_reason, sizeof(e->last_reason), "%s", ev->reason);
	e->last_until = ev->until;
	e->last_origin = ev->origin;
	e->last_bans = ev->bans;
	e->last_had_ip = ev->ip != NULL;
}

static struct ban_config
config(void)
{
	struct ban_config c;

	memset(&c, 0, sizeof(c));
	c.threshold = 3;
	c.address_threshold = 2;
	c.window = 600;
	c.duration = 300;
	c.escalation = 2;
	c.max_duration = 1000;
	c.memory = 86400;
	c.max_entries = 1000;
	return c;
}

static struct ban_table *
table(const struct ban_config *c, struct events *ev)
{
	struct ban_table *t = ban_table_new(c, ev ? on_event : NULL, ev);
	uint8_t key[32];

	assert_non_null(t);
	memset(key, 0x42, sizeof(key));
	assert_true(ban_set_hmac_key(t, key, sizeof(key)));
	return t;
}

static struct netaddr
ip(const char *s)
{
	struct netaddr a;

	assert_true(netaddr_parse(s, strlen(s), &a));
	return a;
}

static struct ban_subject
subject(const char *s)
{
	struct ban_subject out;
	char err[256];

	if (!ban_subject_parse(s, strlen(s), &out, err, sizeof(err)))
		fail_msg("%s: %s", s, err);
	return out;
}

static bool
banned(struct ban_table *t, double now, const char *addr)
{
	struct netaddr a = ip(addr);
	double until;

	return ban_check_ip(t, now, &a, &until, NULL);
}

static double
banned_until(struct ban_table *t, double now, const char *addr)
{
	struct netaddr a = ip(addr);
	double until = -1;

	assert_true(ban_check_ip(t, now, &a, &until, NULL));
	return until;
}

static enum ban_outcome
fail_ip(struct ban_table *t, double now, const char *addr)
{
	struct netaddr a = ip(addr);

	return ban_record_ip_failure(
	    t, now, &a, NULL, (enum ban_cause)AUTH_BAD_SIGNATURE);
}

static void
address_of(uint8_t out[20], uint8_t n)
{
	memset(out, 0, 20);
	out[0] = 0xab;
	out[19] = n;
}

/* ---- Counting and automatic bans ---------------------------------------- */

static void
test_threshold(void **state)
{
	struct ban_config c = config();
	struct events ev = {0};
	struct ban_table *t = table(&c, &ev);
	struct netaddr a = ip("192.0.2.1");

	(void)state;
	assert_int_equal(fail_ip(t, 100, "192.0.2.1"), BAN_COUNTED);
	assert_int_equal(ban_record_ip_failure(
			     t, 101, &a, NULL, (enum ban_cause)AUTH_EXPIRED),
	    BAN_COUNTED);
	assert_false(banned(t, 101, "192.0.2.1"));
	assert_int_equal(ban_record_ip_failure(
			     t, 102, &a, NULL, (enum ban_cause)AUTH_REPLAYED),
	    BAN_STARTED);
	assert_true(banned(t, 102, "192.0.2.1"));
	assert_true(banned_until(t, 102, "192.0.2.1") == 402);
	assert_false(banned(t, 102, "192.0.2.2"));
	assert_int_equal(ev.starts, 1);
	assert_string_equal(ev.last_subject, "192.0.2.1");
	assert_int_equal(ev.last_origin, BAN_ORIGIN_AUTO);
	assert_true(ev.last_had_ip);
	assert_string_equal(
	    ev.last_reason, "3 failures: bad-signature, expired, replayed");
	/* Banned: further failures are not counted and start nothing. */
	assert_int_equal(fail_ip(t, 103, "192.0.2.1"), BAN_UNCHANGED);
	assert_int_equal(ev.starts, 1);
	ban_table_free(t);
}

static void
test_threshold_zero_never_bans(void **state)
{
	struct ban_config c = config();
	struct ban_table *t;
	int i;

	(void)state;
	c.threshold = 0;
	t = table(&c, NULL);
	for (i = 0; i < 10; i++)
		assert_int_equal(fail_ip(t, 100 + i, "192.0.2.1"), BAN_OFF);
	assert_false(banned(t, 200, "192.0.2.1"));
	ban_table_free(t);
}

static void
test_window_restarts_count(void **state)
{
	struct ban_config c = config();
	struct ban_table *t = table(&c, NULL);

	(void)state;
	fail_ip(t, 0, "192.0.2.1");
	fail_ip(t, 1, "192.0.2.1");
	/* The last failure is older than the window: the count starts over. */
	assert_int_equal(fail_ip(t, 602, "192.0.2.1"), BAN_COUNTED);
	assert_int_equal(fail_ip(t, 603, "192.0.2.1"), BAN_COUNTED);
	assert_false(banned(t, 603, "192.0.2.1"));
	/* Within the window of the last one: the third bans. */
	assert_int_equal(fail_ip(t, 1200, "192.0.2.1"), BAN_STARTED);
	ban_table_free(t);
}

static void
test_success_resets_count(void **state)
{
	struct ban_config c = config();
	struct ban_table *t = table(&c, NULL);
	struct netaddr a = ip("192.0.2.1");

	(void)state;
	fail_ip(t, 0, "192.0.2.1");
	fail_ip(t, 1, "192.0.2.1");
	ban_record_ip_success(t, 2, &a);
	assert_int_equal(fail_ip(t, 3, "192.0.2.1"), BAN_COUNTED);
	assert_int_equal(fail_ip(t, 4, "192.0.2.1"), BAN_COUNTED);
	assert_false(banned(t, 4, "192.0.2.1"));
	assert_int_equal(fail_ip(t, 5, "192.0.2.1"), BAN_STARTED);
	ban_table_free(t);
}

static void
test_ban_expires(void **state)
{
	struct ban_config c = config();
	struct events ev = {0};
	struct ban_table *t = table(&c, &ev);

	(void)state;
	fail_ip(t, 100, "192.0.2.1");
	fail_ip(t, 100, "192.0.2.1");
	fail_ip(t, 100, "192.0.2.1");
	assert_true(banned(t, 399.9, "192.0.2.1"));
	/* Over at its end, whether or not ban_expire ran. */
	assert_false(banned(t, 400, "192.0.2.1"));
	ban_expire(t, 399);
	assert_int_equal(ev.ends, 0);
	ban_expire(t, 401);
	assert_int_equal(ev.ends, 1);
	assert_string_equal(ev.last_subject, "192.0.2.1");
	/* Counting starts from zero after a ban. */
	assert_int_equal(fail_ip(t, 402, "192.0.2.1"), BAN_COUNTED);
	ban_table_free(t);
}

/* Bans ip three times in a row; returns the length of the last ban. */
static double
ban_once(struct ban_table *t, double now, const char *addr)
{
	fail_ip(t, now, addr);
	fail_ip(t, now, addr);
	assert_int_equal(fail_ip(t, now, addr), BAN_STARTED);
	return banned_until(t, now, addr) - now;
}

static void
test_escalation_and_cap(void **state)
{
	struct ban_config c = config();
	struct events ev = {0};
	struct ban_table *t = table(&c, &ev);
	double now = 1000;

	(void)state;
	assert_true(ban_once(t, now, "192.0.2.1") == 300);
	now += 300;
	assert_true(ban_once(t, now, "192.0.2.1") == 600);
	assert_int_equal(ev.last_bans, 2);
	now += 600;
	/* 1200 would be next: the cap says 1000. */
	assert_true(ban_once(t, now, "192.0.2.1") == 1000);
	now += 1000;
	assert_true(ban_once(t, now, "192.0.2.1") == 1000);
	assert_int_equal(ev.last_bans, 4);
	/* Another IP starts at the beginning. */
	assert_true(ban_once(t, now, "192.0.2.2") == 300);
	ban_table_free(t);
}

static void
test_memory_of_past_bans(void **state)
{
	struct ban_config c = config();
	struct events ev = {0};
	struct ban_table *t;
	double now = 1000;

	(void)state;
	c.memory = 3600;
	t = table(&c, &ev);
	assert_true(ban_once(t, now, "192.0.2.1") == 300);
	/* Ended at 1300; 1300 + 3599 is still a repeat. */
	now = 1300 + 3599;
	assert_true(ban_once(t, now, "192.0.2.1") == 600);
	/* Ended at now + 600; an hour after that it is forgotten. */
	now = now + 600 + 3600;
	ban_expire(t, now);
	assert_true(ban_once(t, now, "192.0.2.1") == 300);
	assert_int_equal(ev.last_bans, 1);
	ban_table_free(t);
}

static void
test_address_bans(void **state)
{
	struct ban_config c = config();
	struct events ev = {0};
	struct ban_table *t = table(&c, &ev);
	struct netaddr a = ip("192.0.2.1"), b = ip("198.51.100.2");
	uint8_t addr[20], other[20];
	double until;
	const char *why;

	(void)state;
	address_of(addr, 1);
	address_of(other, 2);
	assert_int_equal(ban_record_address_failure(
			     t, 10, addr, &a, BAN_CAUSE_DENIED_PUBLISH),
	    BAN_COUNTED);
	/* A successful login (of its IP) does not reset an address. */
	ban_record_ip_success(t, 11, &a);
	ban_record_ip_success(t, 11, &b);
	assert_false(ban_check_address(t, 11, addr, &until, &why));
	/* From another IP: the key is what counts. */
	assert_int_equal(ban_record_address_failure(
			     t, 12, addr, &b, BAN_CAUSE_DENIED_SUBSCRIBE),
	    BAN_STARTED);
	assert_true(ban_check_address(t, 12, addr, &until, &why));
	assert_true(until == 312);
	assert_non_null(strstr(why, "0xab"));
	assert_false(ban_check_address(t, 12, other, &until, &why));
	assert_string_equal(
	    ev.last_subject, "0xab00000000000000000000000000000000000001");
	assert_string_equal(
	    ev.last_reason, "2 denials: denied publish, denied subscribe");
	/* The IPs are not banned by it. */
	assert_false(banned(t, 12, "192.0.2.1"));
	/* Only the window resets an address's count. */
	assert_int_equal(ban_record_address_failure(
			     t, 20, other, NULL, BAN_CAUSE_WRONG_COUNTRY),
	    BAN_COUNTED);
	assert_int_equal(ban_record_address_failure(
			     t, 700, other, NULL, BAN_CAUSE_WRONG_COUNTRY),
	    BAN_COUNTED);
	assert_false(ban_check_address(t, 700, other, &until, &why));
	ban_table_free(t);
}

/* ---- Manual bans ------------------------------------------------------------ */

static void
test_manual_ip_and_unban(void **state)
{
	struct ban_config c = config();
	struct events ev = {0};
	struct ban_table *t = table(&c, &ev);
	struct ban_subject s = subject("192.0.2.9");

	(void)state;
	fail_ip(t, 10, "192.0.2.9");
	fail_ip(t, 10, "192.0.2.9");
	assert_int_equal(
	    ban_add_manual(t, 10, &s, 60, "scanning"), BAN_STARTED);
	assert_true(banned_until(t, 10, "192.0.2.9") == 70);
	assert_int_equal(ev.last_origin, BAN_ORIGIN_MANUAL);
	assert_string_equal(ev.last_reason, "scanning");
	assert_false(ev.last_had_ip);
	assert_int_equal(ban_remove(t, 20, &s), BAN_LIFTED);
	assert_int_equal(ev.lifts, 1);
	assert_false(banned(t, 20, "192.0.2.9"));
	/* Unban cleared the count: two more failures do not ban. */
	assert_int_equal(fail_ip(t, 21, "192.0.2.9"), BAN_COUNTED);
	assert_int_equal(fail_ip(t, 21, "192.0.2.9"), BAN_COUNTED);
	assert_false(banned(t, 21, "192.0.2.9"));
	assert_int_equal(ban_remove(t, 22, &s), BAN_NOT_FOUND);
	/* Until lifted. */
	assert_int_equal(ban_add_manual(t, 30, &s, 0, "forever"), BAN_STARTED);
	assert_true(banned_until(t, 1e12, "192.0.2.9") == 0);
	ban_expire(t, 1e12);
	assert_true(banned(t, 1e12, "192.0.2.9"));
	ban_table_free(t);
}

static void
test_manual_ranges_v4_v6(void **state)
{
	struct ban_config c = config();
	struct ban_table *t = table(&c, NULL);
	struct ban_subject r4 = subject("10.0.0.0/8");
	struct ban_subject r6 = subject("2001:db8::/32");
	struct ban_stats st;

	(void)state;
	assert_int_equal(r4.kind, BAN_KIND_RANGE);
	assert_int_equal(ban_add_manual(t, 0, &r4, 0, "lab"), BAN_STARTED);
	assert_int_equal(ban_add_manual(t, 0, &r6, 100, "doc"), BAN_STARTED);
	assert_true(banned(t, 1, "10.1.2.3"));
	assert_true(banned(t, 1, "::ffff:10.200.0.1")); /* mapped: IPv4 */
	assert_false(banned(t, 1, "11.0.0.1"));
	assert_true(banned(t, 1, "2001:db8:ffff::1"));
	assert_false(banned(t, 1, "2001:db9::1"));
	assert_true(banned_until(t, 1, "2001:db8::1") == 100);
	/* Lifting an IP inside the range does not lift the range. */
	{
		struct ban_subject one = subject("10.1.2.3");

		assert_int_equal(ban_remove(t, 2, &one), BAN_NOT_FOUND);
	}
	assert_true(banned(t, 2, "10.1.2.3"));
	assert_int_equal(ban_remove(t, 2, &r4), BAN_LIFTED);
	assert_false(banned(t, 2, "10.1.2.3"));
	ban_expire(t, 100);
	assert_false(banned(t, 100, "2001:db8::1"));
	ban_get_stats(t, &st);
	assert_int_equal(st.active[BAN_ORIGIN_MANUAL], 0);
	assert_int_equal(st.tracked, 0); /* ranges go with their bans */
	ban_table_free(t);
}

static void
test_manual_address(void **state)
{
	struct ban_config c = config();
	struct ban_table *t = table(&c, NULL);
	struct ban_subject s =
	    subject("0xAB00000000000000000000000000000000000007");
	uint8_t addr[20];
	double until;

	(void)state;
	address_of(addr, 7);
	assert_int_equal(s.kind, BAN_KIND_ADDRESS);
	assert_int_equal(
	    ban_add_manual(t, 0, &s, 0, "stolen key"), BAN_STARTED);
	assert_true(ban_check_address(t, 5, addr, &until, NULL));
	assert_int_equal(ban_remove(t, 6, &s), BAN_LIFTED);
	assert_false(ban_check_address(t, 6, addr, &until, NULL));
	ban_table_free(t);
}

static void
check_refused(const char *s, const char *needle)
{
	struct ban_subject out;
	char err[256];

	assert_false(ban_subject_parse(s, strlen(s), &out, err, sizeof(err)));
	if (strstr(err, needle) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", s, err, needle);
}

static void
test_subject_parse_and_format(void **state)
{
	struct ban_subject s;
	char text[BAN_SUBJECT_STRLEN];

	(void)state;
	s = subject("192.0.2.1/32");
	assert_int_equal(s.kind, BAN_KIND_IP);
	ban_subject_format(&s, text);
	assert_string_equal(text, "192.0.2.1");
	s = subject("2001:DB8:0::1");
	ban_subject_format(&s, text);
	assert_string_equal(text, "2001:db8::1");
	s = subject("2001:db8::/48");
	ban_subject_format(&s, text);
	assert_string_equal(text, "2001:db8::/48");
	s = subject("ip-hmac:1CDA995CE5BA8714B60CF1207C4F07B1E1324F4B7075BD1EF"
		    "9A9DD9F3A15F48B");
	assert_int_equal(s.kind, BAN_KIND_IP_HMAC);
	ban_subject_format(&s, text);
	assert_string_equal(text,
	    "ip-hmac:1cda995ce5ba8714b60cf1207c4f07b1e13"
	    "24f4b7075bd1ef9a9dd9f3a15f48b");
	check_refused("10.1.2.3/8", "the range containing it is 10.0.0.0/8");
	check_refused("10.0.0.0/33", "prefix length");
	check_refused("10.0.0.300/8", "not an IP address");
	check_refused("0x1234", "0x and 40 hex digits");
	check_refused("ip-hmac:abcd", "64 hex digits");
	check_refused("hello\nworld", "hello?world");
	check_refused("", "empty");
}

/* ---- Chain bans ------------------------------------------------------------- */

static void
test_chain_ip_hmac(void **state)
{
	struct ban_config c = config();
	struct events ev = {0};
	struct ban_table *t = table(&c, &ev);
	struct ban_subject s = subject("ip-hmac:1cda995ce5ba8714b60cf1207c4f07b"
				       "1e1324f4b7075bd1ef9a9dd9f3a15f48b");
	struct ban_subject s6 = subject("ip-hmac:c269d6447afc6f80667c0803a6b88"
					"76fa6583f73003c77dda6a1afee80848d1a");
	struct netaddr a = ip("192.0.2.7");
	uint8_t h[32], want[32];
	char list[4096];
	char *json;

	(void)state;
	/* HMAC-SHA256 of the canonical text under 32 bytes of 0x42. */
	ban_ip_hmac(t, &a, h);
	assert_true(hex_decode_exact("1cda995ce5ba8714b60cf1207c4f07b1e1324f4b7"
				     "075bd1ef9a9dd9f3a15f48b",
	    64, want, 32));
	assert_memory_equal(h, want, 32);
	assert_int_equal(ban_add_chain(t, 100, &s, 500, "until=500 3 failures"),
	    BAN_STARTED);
	assert_int_equal(ban_add_chain(t, 100, &s6, 500, "v6"), BAN_STARTED);
	assert_int_equal(ev.starts, 2);
	assert_int_equal(ev.last_origin, BAN_ORIGIN_CHAIN);
	assert_true(banned(t, 101, "192.0.2.7"));
	assert_true(banned_until(t, 101, "192.0.2.7") == 500);
	assert_true(banned(t, 101, "2001:db8:0:0::7"));
	assert_true(banned(t, 101, "::ffff:192.0.2.7"));
	assert_false(banned(t, 101, "192.0.2.8"));
	/* Over: ignored; the same again: unchanged. */
	assert_int_equal(ban_add_chain(t, 600, &s, 550, "old"), BAN_EXPIRED);
	assert_int_equal(ban_add_chain(t, 101, &s, 400, "dup"), BAN_UNCHANGED);
	json = ban_list_json(t, 101);
	assert_non_null(json);
	snprintf(list, sizeof(list), "%s", json);
	free(json);
	assert_non_null(strstr(list, "\"kind\":\"ip-hmac\""));
	assert_non_null(strstr(list, "\"origin\":\"chain\""));
	ban_expire(t, 500);
	assert_false(banned(t, 500, "192.0.2.7"));
	assert_int_equal(ev.ends, 2);
	ban_table_free(t);
}

static void
test_chain_never_shortens(void **state)
{
	struct ban_config c = config();
	struct events ev = {0};
	struct ban_table *t = table(&c, &ev);
	struct ban_subject s = subject("192.0.2.1");
	struct ban_subject r = subject("198.51.100.0/24");

	(void)state;
	ban_once(t, 100, "192.0.2.1"); /* until 400 */
	assert_int_equal(
	    ban_add_chain(t, 110, &s, 300, "short"), BAN_UNCHANGED);
	assert_true(banned_until(t, 110, "192.0.2.1") == 400);
	assert_int_equal(ban_add_chain(t, 120, &s, 900, "long"), BAN_EXTENDED);
	assert_int_equal(ev.extends, 1);
	assert_int_equal(ev.starts, 1);
	assert_true(banned_until(t, 120, "192.0.2.1") == 900);
	/* A manual ban until lifted stays so. */
	assert_int_equal(ban_add_manual(t, 130, &r, 0, "ours"), BAN_STARTED);
	assert_int_equal(
	    ban_add_chain(t, 130, &r, 5000, "theirs"), BAN_UNCHANGED);
	assert_true(banned_until(t, 130, "198.51.100.4") == 0);
	ban_table_free(t);
}

/* ---- Attempt rate ------------------------------------------------------------ */

static void
test_token_bucket(void **state)
{
	struct ban_config c = config();
	struct ban_table *t;
	struct netaddr a = ip("192.0.2.1"), b = ip("192.0.2.2");
	double until;
	int i;

	(void)state;
	c.connect_rate = 1;
	c.connect_burst = 3;
	t = table(&c, NULL);
	for (i = 0; i < 3; i++)
		assert_int_equal(ban_check_connect(t, 10, &a, &until), CONN_OK);
	assert_int_equal(ban_check_connect(t, 10, &a, &until), CONN_DROP);
	assert_int_equal(ban_check_connect(t, 10.5, &a, &until), CONN_DROP);
	/* Another IP has its own bucket. */
	assert_int_equal(ban_check_connect(t, 10.5, &b, &until), CONN_OK);
	assert_int_equal(ban_check_connect(t, 11, &a, &until), CONN_OK);
	assert_int_equal(ban_check_connect(t, 11, &a, &until), CONN_DROP);
	/* Refilled to the burst, no further. */
	for (i = 0; i < 3; i++)
		assert_int_equal(
		    ban_check_connect(t, 100, &a, &until), CONN_OK);
	assert_int_equal(ban_check_connect(t, 100, &a, &until), CONN_DROP);
	/* Banned: answered as such, within the rate. */
	ban_once(t, 200, "192.0.2.2");
	assert_int_equal(ban_check_connect(t, 201, &b, &until), CONN_BANNED);
	assert_true(until == 500);
	ban_table_free(t);

	/* Rate 0: no limit. */
	c.connect_rate = 0;
	t = table(&c, NULL);
	for (i = 0; i < 100; i++)
		assert_int_equal(ban_check_connect(t, 10, &a, &until), CONN_OK);
	ban_table_free(t);
}

/* ---- The bound ----------------------------------------------------------------- */

static void
test_bound_keeps_bans(void **state)
{
	struct ban_config c = config();
	struct ban_table *t;
	struct ban_stats st;
	struct ban_subject s;
	char text[32];
	int i;

	(void)state;
	c.max_entries = 4;
	t = table(&c, NULL);
	ban_once(t, 100, "192.0.2.1");
	ban_once(t, 100, "192.0.2.2");
	for (i = 0; i < 50; i++) {
		snprintf(text, sizeof(text), "203.0.113.%d", i);
		assert_int_equal(fail_ip(t, 100 + i, text), BAN_COUNTED);
	}
	ban_get_stats(t, &st);
	assert_true(st.tracked <= 4);
	assert_true(banned(t, 200, "192.0.2.1"));
	assert_true(banned(t, 200, "192.0.2.2"));
	/* The oldest counters went: 203.0.113.0 starts over. */
	assert_int_equal(fail_ip(t, 200, "203.0.113.0"), BAN_COUNTED);
	assert_int_equal(fail_ip(t, 200, "203.0.113.0"), BAN_COUNTED);
	assert_int_equal(fail_ip(t, 200, "203.0.113.0"), BAN_STARTED);
	/* The most recent one still counts. */
	assert_int_equal(fail_ip(t, 201, "203.0.113.49"), BAN_COUNTED);
	ban_once(t, 201, "203.0.113.48");
	/* Every entry banned: a new IP is not tracked... */
	assert_int_equal(fail_ip(t, 202, "203.0.113.99"), BAN_FULL);
	/* ...but an operator's ban always is. */
	s = subject("203.0.113.99");
	assert_int_equal(ban_add_manual(t, 202, &s, 0, "by hand"), BAN_STARTED);
	assert_true(banned(t, 203, "203.0.113.99"));
	ban_get_stats(t, &st);
	assert_int_equal(st.active[BAN_ORIGIN_AUTO], 4);
	assert_int_equal(st.active[BAN_ORIGIN_MANUAL], 1);
	/* Idle counters are forgotten by ban_expire. */
	ban_expire(t, 1e6);
	ban_get_stats(t, &st);
	assert_int_equal(st.tracked, 1);
	ban_table_free(t);
}

static void
test_many_entries(void **state)
{
	struct ban_config c = config();
	struct ban_table *t;
	struct netaddr a;
	struct ban_stats st;
	uint32_t i;

	(void)state;
	c.max_entries = 20000;
	t = table(&c, NULL);
	memset(&a, 0, sizeof(a));
	a.family = AF_INET6;
	a.bytes[0] = 0x20;
	a.bytes[1] = 0x01;
	for (i = 0; i < 50000; i++) {
		memcpy(a.bytes + 12, &i, sizeof(i));
		ban_record_ip_failure(
		    t, i, &a, NULL, (enum ban_cause)AUTH_BAD_SIGNATURE);
	}
	ban_get_stats(t, &st);
	assert_int_equal(st.tracked, 20000);
	i = 49999;
	memcpy(a.bytes + 12, &i, sizeof(i));
	assert_int_equal(ban_record_ip_failure(t, i, &a, NULL,
			     (enum ban_cause)AUTH_BAD_SIGNATURE),
	    BAN_COUNTED);
	assert_int_equal(ban_record_ip_failure(t, i, &a, NULL,
			     (enum ban_cause)AUTH_BAD_SIGNATURE),
	    BAN_STARTED);
	ban_table_free(t);
}

/* ---- The bans file --------------------------------------------------------------- */

static void
temp_path(char *out, size_t len, const char *name)
{
	const char *dir = getenv("TMPDIR");

	snprintf(out, len, "%s/flytrap-test-ban-%ld-%s",
	    dir != NULL && *dir != '\0' ? dir : "/tmp", (long)getpid(), name);
	unlink(out);
}

static void
test_save_load_round_trip(void **state)
{
	struct ban_config c = config();
	struct events ev = {0};
	struct ban_table *t = table(&c, &ev), *u;
	struct ban_subject r = subject("10.0.0.0/8");
	struct ban_subject a =
	    subject("0xab00000000000000000000000000000000000003");
	struct ban_subject h = subject("ip-hmac:1cda995ce5ba8714b60cf1207c4f07b"
				       "1e1324f4b7075bd1ef9a9dd9f3a15f48b");
	char path[512], err[512];
	char *before, *after;
	struct ban_stats st;
	struct stat sb;
	size_t loaded;

	(void)state;
	temp_path(path, sizeof(path), "bans.json");
	ban_once(t, 100, "192.0.2.1");
	assert_int_equal(
	    ban_add_manual(t, 100, &r, 0, "lab \"net\""), BAN_STARTED);
	assert_int_equal(ban_add_manual(t, 100, &a, 50, "key"), BAN_STARTED);
	assert_int_equal(
	    ban_add_chain(t, 100, &h, 1000, "theirs"), BAN_STARTED);
	assert_true(ban_dirty(t));
	assert_int_equal(ban_save(t, 100, path, err, sizeof(err)), BAN_FILE_OK);
	assert_false(ban_dirty(t));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	u = table(&c, NULL);
	assert_int_equal(
	    ban_load(u, 120, path, &loaded, err, sizeof(err)), BAN_FILE_OK);
	assert_int_equal(loaded, 3);
	assert_false(ban_dirty(u));
	assert_true(banned_until(u, 120, "192.0.2.1") == 400);
	assert_true(banned_until(u, 120, "10.9.9.9") == 0);
	assert_false(banned(u, 120, "192.0.2.7")); /* chain: not saved */
	ban_get_stats(u, &st);
	assert_int_equal(st.active[BAN_ORIGIN_AUTO], 1);
	assert_int_equal(st.active[BAN_ORIGIN_MANUAL], 2);
	assert_int_equal(st.active[BAN_ORIGIN_CHAIN], 0);
	assert_int_equal(st.started, 0);
	/* The same list, but for the chain ban. */
	ban_remove(t, 120, &h);
	before = ban_list_json(t, 120);
	after = ban_list_json(u, 120);
	assert_non_null(before);
	assert_non_null(after);
	{
		json_t *x = json_loads(before, 0, NULL),
		       *y = json_loads(after, 0, NULL);

		assert_int_equal(json_array_size(x), 3);
		/* Order may differ: compare as sets. */
		for (size_t i = 0; i < json_array_size(x); i++) {
			bool found = false;

			for (size_t j = 0; j < json_array_size(y); j++)
				found = found ||
				    json_equal(json_array_get(x, i),
					json_array_get(y, j));
			assert_true(found);
		}
		json_decref(x);
		json_decref(y);
	}
	free(before);
	free(after);
	/* No events for what was loaded. */
	ban_table_free(u);
	ban_table_free(t);
	unlink(path);
}

static void
test_load_drops_expired(void **state)
{
	struct ban_config c = config();
	struct ban_table *t = table(&c, NULL), *u;
	struct ban_subject s = subject("192.0.2.5");
	char path[512], err[512];
	size_t loaded;

	(void)state;
	temp_path(path, sizeof(path), "expired.json");
	ban_once(t, 100, "192.0.2.1"); /* until 400 */
	assert_int_equal(ban_add_manual(t, 100, &s, 1000, "x"), BAN_STARTED);
	assert_int_equal(ban_save(t, 100, path, err, sizeof(err)), BAN_FILE_OK);
	u = table(&c, NULL);
	assert_int_equal(
	    ban_load(u, 500, path, &loaded, err, sizeof(err)), BAN_FILE_OK);
	assert_int_equal(loaded, 1);
	assert_false(banned(u, 500, "192.0.2.1"));
	assert_true(banned(u, 500, "192.0.2.5"));
	/* Written again without it at the next save. */
	assert_true(ban_dirty(u));
	ban_table_free(u);
	ban_table_free(t);
	unlink(path);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_load_errors(void **state)
{
	struct ban_config c = config();
	struct ban_table *t = table(&c, NULL);
	char path[512], err[512];
	size_t loaded;

	(void)state;
	temp_path(path, sizeof(path), "corrupt.json");
	/* Missing: nothing to load. */
	assert_int_equal(
	    ban_load(t, 0, path, &loaded, err, sizeof(err)), BAN_FILE_OK);
	assert_int_equal(loaded, 0);
	write_file(path, "{\"version\": 1, \"bans\": [");
	assert_int_equal(
	    ban_load(t, 0, path, &loaded, err, sizeof(err)), BAN_FILE_FORMAT);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "not valid JSON"));
	write_file(path, "[1, 2]");
	assert_int_equal(
	    ban_load(t, 0, path, &loaded, err, sizeof(err)), BAN_FILE_FORMAT);
	assert_non_null(strstr(err, "not a bans file"));
	write_file(path, "{\"version\": 2, \"bans\": []}");
	assert_int_equal(
	    ban_load(t, 0, path, &loaded, err, sizeof(err)), BAN_FILE_FORMAT);
	assert_non_null(strstr(err, "version 2"));
	write_file(path,
	    "{\"version\": 1, \"bans\": [{\"subject\": \"10.1.2.3/8\", "
	    "\"origin\": \"manual\", \"reason\": \"\", \"since\": 0, "
	    "\"until\": 0, \"bans\": 1}]}");
	assert_int_equal(
	    ban_load(t, 0, path, &loaded, err, sizeof(err)), BAN_FILE_FORMAT);
	assert_non_null(strstr(err, "ban 1"));
	assert_non_null(strstr(err, "host bits"));
	write_file(path,
	    "{\"version\": 1, \"bans\": [{\"subject\": \"10.1.2.3\", "
	    "\"origin\": \"manual\", \"reason\": \"\", \"since\": 0, "
	    "\"bans\": 1}]}");
	assert_int_equal(
	    ban_load(t, 0, path, &loaded, err, sizeof(err)), BAN_FILE_FORMAT);
	assert_non_null(strstr(err, "until"));
	ban_table_free(t);
	unlink(path);
}

static void
test_reason_is_printable_utf8(void **state)
{
	struct ban_config c = config();
	struct events ev = {0};
	struct ban_table *t = table(&c, &ev);
	struct ban_subject s = subject("192.0.2.1");
	char *json;

	(void)state;
	assert_int_equal(
	    ban_add_manual(t, 0, &s, 0, "caf\xc3\xa9\x01\xff!"), BAN_STARTED);
	/* (Split so that no trigraph forms.) */
	assert_string_equal(ev.last_reason,
	    "caf\xc3\xa9?"
	    "?!");
	json = ban_list_json(t, 1);
	assert_non_null(json);
	assert_non_null(strstr(json,
	    "\"reason\":\"caf\xc3\xa9?"
	    "?!\""));
	free(json);
	ban_table_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_threshold),
	    cmocka_unit_test(test_threshold_zero_never_bans),
	    cmocka_unit_test(test_window_restarts_count),
	    cmocka_unit_test(test_success_resets_count),
	    cmocka_unit_test(test_ban_expires),
	    cmocka_unit_test(test_escalation_and_cap),
	    cmocka_unit_test(test_memory_of_past_bans),
	    cmocka_unit_test(test_address_bans),
	    cmocka_unit_test(test_manual_ip_and_unban),
	    cmocka_unit_test(test_manual_ranges_v4_v6),
	    cmocka_unit_test(test_manual_address),
	    cmocka_unit_test(test_subject_parse_and_format),
	    cmocka_unit_test(test_chain_ip_hmac),
	    cmocka_unit_test(test_chain_never_shortens),
	    cmocka_unit_test(test_token_bucket),
	    cmocka_unit_test(test_bound_keeps_bans),
	    cmocka_unit_test(test_many_entries),
	    cmocka_unit_test(test_save_load_round_trip),
	    cmocka_unit_test(test_load_drops_expired),
	    cmocka_unit_test(test_load_errors),
	    cmocka_unit_test(test_reason_is_printable_utf8),
	};

	return cmocka_run_group_tests_name("ban", tests, NULL, NULL);
}

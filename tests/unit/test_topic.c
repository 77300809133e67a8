/*
 * Topic matching for authorisation (topic.c): vectors tagged with the spec
 * rules they test, then brute-force cross-checks over every topic and
 * filter of a small alphabet: topic_matches() against an independent
 * recursive matcher, topic_covers() against its definition.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "topic.h"

static bool
matches(const char *filter, const char *topic)
{
	return topic_matches(filter, strlen(filter), topic, strlen(topic));
}

static bool
covers(const char *entry, const char *filter)
{
	return topic_covers(entry, strlen(entry), filter, strlen(filter));
}

struct match_vector {
	const char *filter;
	const char *topic;
	bool expected;
};

static void
check_matches(const struct match_vector *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (matches(v[i].filter, v[i].topic) != v[i].expected)
			fail_msg("topic_matches(\"%s\", \"%s\") should be %s",
			    v[i].filter, v[i].topic,
			    v[i].expected ? "true" : "false");
}

static void
test_matches_literal(void **state)
{
	static const struct match_vector v[] = {
	    {"a", "a", true},
	    {"a/b", "a/b", true},
	    {"a/b", "a/c", false},
	    {"a/b", "a", false},
	    {"a", "a/b", false},
	    {"a/b", "a/b/", false},
	    /* [MQTT-4.7.3-1] levels may be empty, and are distinct. */
	    {"/", "/", true},
	    {"a//b", "a//b", true},
	    {"a//b", "a/b", false},
	    {"/a", "a", false},
	    /* Case and bytes matter: no folding, no normalisation. */
	    {"A", "a", false},
	    {"caf\xc3\xa9", "caf\xc3\xa9", true},
	    {"sensors/temp", "sensors/temp ", false},
	};

	(void)state;
	check_matches(v, sizeof(v) / sizeof(v[0]));
}

static void
test_matches_wildcards(void **state)
{
	static const struct match_vector v[] = {
	    /* 4.7.1.2: '#' matches the parent and any number of levels. */
	    {"sport/tennis/player1/#", "sport/tennis/player1", true},
	    {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
	    {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon",
		true},
	    {"sport/#", "sport", true},
	    {"sport/#", "sports", false},
	    {"#", "a", true},
	    {"#", "a/b/c", true},
	    {"#", "/", true},
	    {"a/#", "a/", true},
	    {"a/#", "b/a", false},
	    /* 4.7.1.3: '+' matches exactly one level, possibly empty. */
	    {"sport/tennis/+", "sport/tennis/player1", true},
	    {"sport/tennis/+", "sport/tennis/player1/ranking", false},
	    {"sport/+", "sport", false},
	    {"sport/+", "sport/", true},
	    {"+", "a", true},
	    {"+", "a/b", false},
	    {"+/+", "/finance", true},
	    {"/+", "/finance", true},
	    {"+", "/finance", false},
	    {"+/tennis/#", "sport/tennis/x", true},
	    {"+/tennis/#", "sport/tennis", true},
	    {"+/tennis/#", "sport/golf/x", false},
	    {"a/+/c", "a/b/c", true},
	    {"a/+/c", "a//c", true},
	    {"a/+/c", "a/b/d", false},
	    {"+/#", "a", true},
	    {"+/+/#", "a", false},
	};

	(void)state;
	check_matches(v, sizeof(v) / sizeof(v[0]));
}

static void
test_matches_dollar_topics(void **state)
{
	static const struct match_vector v[] = {
	    /* [MQTT-4.7.2-1] first-level wildcards never match '$' topics. */
	    {"#", "$SYS/broker/uptime", false},
	    {"+/monitor/Clients", "$SYS/monitor/Clients", false},
	    {"+", "$SYS", false},
	    {"$SYS/#", "$SYS/broker/uptime", true},
	    {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
	    {"$SYS/#", "$SYS", true},
	    {"$SYS", "$SYS", true},
	    /* Only the first level: elsewhere '$' is an ordinary byte. */
	    {"a/+", "a/$x", true},
	    {"a/#", "a/$x/y", true},
	    {"$share/g/a", "$share/g/a", true},
	};

	(void)state;
	check_matches(v, sizeof(v) / sizeof(v[0]));
}

static void
test_matches_invalid_input(void **state)
{
	static const struct match_vector v[] = {
	    /* [MQTT-4.7.1-1], [MQTT-4.7.1-2]: broken filters match nothing. */
	    {"a#", "a#", false},
	    {"a/b#", "a/b#", false},
	    {"#/a", "x/a", false},
	    {"a/#/b", "a/x/b", false},
	    {"a+", "a+", false},
	    {"+a", "ba", false},
	    {"a/+b/c", "a/xb/c", false},
	    {"sport+", "sport+", false},
	    /* Empty filters and topics [MQTT-4.7.3-1]. */
	    {"", "", false},
	    {"", "a", false},
	    {"a", "", false},
	    {"#", "", false},
	    /* A topic with wildcards is no topic [MQTT-3.3.2-2]. */
	    {"+", "+", false},
	    {"#", "#", false},
	    {"a/+", "a/#", false},
	    {"a/#", "a/b+", false},
	};

	(void)state;
	check_matches(v, sizeof(v) / sizeof(v[0]));
}

static void
test_matches_uses_lengths(void **state)
{
	(void)state;
	/* Only the given bytes are read: no NUL needed, none looked for. */
	assert_true(topic_matches("a/bXXX", 3, "a/bYYY", 3));
	assert_false(topic_matches("a/b", 3, "a/bc", 4));
	assert_true(topic_matches("a/#junk", 3, "a/q", 3));
	assert_true(topic_matches("+", 1, "a\0b", 3));
}

struct cover_vector {
	const char *entry;
	const char *filter;
	bool expected;
};

static void
test_covers_vectors(void **state)
{
	static const struct cover_vector v[] = {
	    {"sensors/+/temp", "sensors/a/temp", true},
	    {"sensors/+/temp", "sensors/+/temp", true},
	    {"sensors/+/temp", "sensors/#", false},
	    {"sensors/+/temp", "sensors/+/+", false},
	    {"sensors/+/temp", "+/a/temp", false},
	    {"a/#", "a/+/b", true},
	    {"a/#", "a", true},
	    {"a/#", "a/#", true},
	    {"a/#", "a/b/#", true},
	    {"a/#", "+/b", false},
	    {"a/#", "#", false},
	    {"a/+", "a/#", false},
	    {"a/+", "a", false},
	    {"a/+", "a/+", true},
	    {"a/+", "a/b", true},
	    {"a/+", "a/b/c", false},
	    {"a/b", "a/b", true},
	    {"a/b", "a/+", false},
	    {"a", "a/#", false},
	    /* "#" covers everything that cannot match a '$' topic. */
	    {"#", "#", true},
	    {"#", "+/#", true},
	    {"#", "a/b/c", true},
	    {"#", "+", true},
	    {"#", "$SYS/#", false},
	    {"#", "$SYS", false},
	    {"+/#", "#", true},
	    {"+/#", "a", true},
	    {"+/#", "$SYS/x", false},
	    {"+/+/#", "#", false},
	    {"+/+/#", "+/#", false},
	    /* "/#" has no parent topic ("" is none): "/+/#" covers it. */
	    {"/+/#", "/#", true},
	    {"/+/#", "+/#", false},
	    {"a/+/#", "a/#", false},
	    {"+", "$SYS", false},
	    {"$SYS/#", "$SYS/+/x", true},
	    {"$SYS/#", "#", false},
	    {"$SYS/#", "+/x", false},
	    /* Invalid on either side: nothing covered. */
	    {"a#", "a#", false},
	    {"a/#/b", "a/x/b", false},
	    {"a/#", "a/b+", false},
	    {"", "", false},
	    {"#", "", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (covers(v[i].entry, v[i].filter) != v[i].expected)
			fail_msg("topic_covers(\"%s\", \"%s\") should be %s",
			    v[i].entry, v[i].filter,
			    v[i].expected ? "true" : "false");
}

/* ---- Brute force over a small alphabet ---------------------------------- */

#define MAX_LEVELS 4
#define NAME_MAX_LEN 32

struct name_set {
	char (*names)[NAME_MAX_LEN];
	size_t count;
	size_t cap;
};

static void
set_add(struct name_set *s, const char *name)
{
	if (s->count == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->names = realloc(s->names, s->cap * sizeof(*s->names));
		assert_non_null(s->names);
	}
	snprintf(s->names[s->count++], NAME_MAX_LEN, "%s", name);
}

/*
 * Every non-empty string of 1..max_levels levels over `alphabet`, where
 * '#' appears only as the last level (no other invalid filters are
 * generated: the vectors above cover those).
 */
static void
generate(
    struct name_set *out, const char *const *alphabet, size_t n, int max_levels)
{
	size_t idx[MAX_LEVELS];
	char buf[NAME_MAX_LEN];
	int levels, i;
	bool ok;

	for (levels = 1; levels <= max_levels; levels++) {
		memset(idx, 0, sizeof(idx));
		for (;;) {
			ok = true;
			buf[0] = '\0';
			for (i = 0; i < levels; i++) {
				if (strcmp(alphabet[idx[i]], "#") == 0 &&
				    i != levels - 1)
					ok = false;
				if (i > 0)
					strcat(buf, "/");
				strcat(buf, alphabet[idx[i]]);
			}
			/* An empty string is neither topic nor filter. */
			if (ok && buf[0] != '\0')
				set_add(out, buf);
			for (i = levels - 1; i >= 0; i--) {
				if (++idx[i] < n)
					break;
				idx[i] = 0;
			}
			if (i < 0)
				break;
		}
	}
}

/* Splits into levels (views into s); returns the count. */
static int
split(const char *s, const char *lv[], size_t lens[])
{
	int n = 0;
	const char *p = s, *slash;

	for (;;) {
		slash = strchr(p, '/');
		lv[n] = p;
		lens[n] = slash ? (size_t)(slash - p) : strlen(p);
		n++;
		if (slash == NULL)
			return n;
		p = slash + 1;
	}
}

static bool
lv_is(const char *lv, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(lv, lit, len) == 0;
}

/* The reference: the spec's rules written as plainly as possible. */
static bool
ref_match_from(const char *const *f, const size_t *fl, int nf, int i,
    const char *const *t, const size_t *tl, int nt, int j)
{
	if (i == nf)
		return j == nt;
	if (lv_is(f[i], fl[i], "#"))
		return true;
	if (j == nt)
		return false;
	if (!lv_is(f[i], fl[i], "+") &&
	    !(fl[i] == tl[j] && memcmp(f[i], t[j], fl[i]) == 0))
		return false;
	return ref_match_from(f, fl, nf, i + 1, t, tl, nt, j + 1);
}

static bool
ref_matches(const char *filter, const char *topic)
{
	const char *f[MAX_LEVELS + 2], *t[MAX_LEVELS + 2];
	size_t fl[MAX_LEVELS + 2], tl[MAX_LEVELS + 2];
	int nf = split(filter, f, fl), nt = split(topic, t, tl);

	if (topic[0] == '$' &&
	    (lv_is(f[0], fl[0], "#") || lv_is(f[0], fl[0], "+")))
		return false;
	return ref_match_from(f, fl, nf, 0, t, tl, nt, 0);
}

static const char *const filter_alphabet[] = {"a", "b", "", "$x", "+", "#"};
/* "c" appears in no filter: it tells '+' from every literal. */
static const char *const topic_alphabet[] = {"a", "b", "c", "", "$x"};

struct universe {
	struct name_set filters;
	struct name_set topics;
	uint8_t *m; /* m[f * topics + t]: filter f matches topic t */
};

static void
universe_build(struct universe *u)
{
	memset(u, 0, sizeof(*u));
	/* Filters up to 3 levels, topics one deeper to tell '#' apart. */
	generate(&u->filters, filter_alphabet,
	    sizeof(filter_alphabet) / sizeof(filter_alphabet[0]), 3);
	generate(&u->topics, topic_alphabet,
	    sizeof(topic_alphabet) / sizeof(topic_alphabet[0]), 4);
	u->m = calloc(u->filters.count * u->topics.count, 1);
	assert_non_null(u->m);
	for (size_t f = 0; f < u->filters.count; f++)
		for (size_t t = 0; t < u->topics.count; t++)
			u->m[f * u->topics.count + t] =
			    matches(u->filters.names[f], u->topics.names[t]);
}

static void
universe_free(struct universe *u)
{
	free(u->filters.names);
	free(u->topics.names);
	free(u->m);
}

static void
test_matches_brute_force(void **state)
{
	struct universe u;
	size_t checked = 0, hits = 0;

	(void)state;
	universe_build(&u);
	for (size_t f = 0; f < u.filters.count; f++) {
		for (size_t t = 0; t < u.topics.count; t++) {
			const char *fs = u.filters.names[f];
			const char *ts = u.topics.names[t];
			bool got = u.m[f * u.topics.count + t];

			if (got != ref_matches(fs, ts))
				fail_msg("topic_matches(\"%s\", \"%s\") = %d, "
					 "reference says %d",
				    fs, ts, got, !got);
			checked++;
			hits += got;
		}
	}
	/* The universe is not trivial either way. */
	assert_true(checked > 100000);
	assert_true(hits > 1000 && hits < checked / 2);
	universe_free(&u);
}

static void
test_covers_brute_force(void **state)
{
	struct universe u;
	size_t nt, e, f, t, covered = 0;
	const uint8_t *me, *mf;
	bool expected;

	(void)state;
	universe_build(&u);
	nt = u.topics.count;
	for (e = 0; e < u.filters.count; e++) {
		me = u.m + e * nt;
		for (f = 0; f < u.filters.count; f++) {
			mf = u.m + f * nt;
			/* Covered: no topic the filter matches escapes. */
			expected = true;
			for (t = 0; t < nt && expected; t++)
				if (mf[t] && !me[t])
					expected = false;
			if (covers(u.filters.names[e], u.filters.names[f]) !=
			    expected)
				fail_msg("topic_covers(\"%s\", \"%s\") should "
					 "be %s",
				    u.filters.names[e], u.filters.names[f],
				    expected ? "true" : "false");
			covered += expected;
		}
	}
	assert_true(covered > u.filters.count); /* beyond e == f */
	universe_free(&u);
}

static void
test_covers_literal_filter_is_matches(void **state)
{
	struct universe u;

	(void)state;
	/* A filter without wildcards is a topic: the two questions agree. */
	universe_build(&u);
	for (size_t e = 0; e < u.filters.count; e++)
		for (size_t t = 0; t < u.topics.count; t++)
			assert_int_equal(
			    covers(u.filters.names[e], u.topics.names[t]),
			    u.m[e * u.topics.count + t]);
	universe_free(&u);
}

/* ---- Shared subscriptions ----------------------------------------------- */

static void
check_strip(const char *in, bool stripped, const char *out)
{
	const char *f = in;
	size_t len = strlen(in);

	assert_int_equal(topic_strip_share(&f, &len), stripped);
	assert_int_equal(len, strlen(out));
	assert_memory_equal(f, out, len);
}

static void
test_strip_share(void **state)
{
	(void)state;
	/* v5 4.8.2: $share/{ShareName}/{filter}. */
	check_strip("$share/group/sensors/#", true, "sensors/#");
	check_strip("$share/g/a", true, "a");
	check_strip("$share/g/+", true, "+");
	check_strip("$share/g//", true, "/");
	check_strip("$share/g/$SYS/#", true, "$SYS/#");
	/* Not shared subscriptions: left alone. */
	check_strip("sensors/#", false, "sensors/#");
	check_strip("$share", false, "$share");
	check_strip("$share/", false, "$share/");
	check_strip("$share/g", false, "$share/g");
	check_strip("$share/g/", false, "$share/g/");
	check_strip("$share//a", false, "$share//a");
	check_strip("$SHARE/g/a", false, "$SHARE/g/a");
	check_strip("$shared/g/a", false, "$shared/g/a");
	check_strip("a/$share/g/b", false, "a/$share/g/b");
	/* Only once: the inner filter is judged as it stands. */
	check_strip("$share/g/$share/h/x", true, "$share/h/x");
}

/* ---- ${address} --------------------------------------------------------- */

#define ADDR "0x00112233445566778899aabbccddeeff00112233"

static void
check_expand(const char *entry, const char *expected)
{
	char out[256];
	size_t n;

	n = topic_expand_address(entry, strlen(entry), ADDR, out, sizeof(out));
	assert_int_equal(n, strlen(expected));
	assert_string_equal(out, expected);
}

static void
test_expand_address(void **state)
{
	(void)state;
	check_expand("users/${address}/#", "users/" ADDR "/#");
	check_expand("${address}", ADDR);
	check_expand("${address}/${address}", ADDR "/" ADDR);
	check_expand("${address}${address}", ADDR ADDR);
	check_expand("no/placeholder", "no/placeholder");
	check_expand("", "");
	/* Only the exact literal is replaced. */
	check_expand("${ADDRESS}/$address/${addr}/{address}",
	    "${ADDRESS}/$address/${addr}/{address}");
	check_expand("$${address}}", "$" ADDR "}");
	check_expand("${address", "${address");
}

static void
test_expand_address_truncates_like_snprintf(void **state)
{
	const char *entry = "u/${address}/x";
	size_t full = strlen("u/" ADDR "/x");
	char out[16];

	(void)state;
	memset(out, 'Z', sizeof(out));
	assert_int_equal(
	    topic_expand_address(entry, strlen(entry), ADDR, out, sizeof(out)),
	    full);
	assert_int_equal(strlen(out), sizeof(out) - 1);
	assert_memory_equal(out, "u/" ADDR, sizeof(out) - 1);
	/* No room at all: nothing written, length still reported. */
	out[0] = 'Z';
	assert_int_equal(
	    topic_expand_address(entry, strlen(entry), ADDR, out, 0), full);
	assert_int_equal(out[0], 'Z');
	/* Exactly enough. */
	{
		char exact[64];

		assert_true(full < sizeof(exact));
		assert_int_equal(topic_expand_address(entry, strlen(entry),
				     ADDR, exact, full + 1),
		    full);
		assert_string_equal(exact, "u/" ADDR "/x");
		assert_int_equal(topic_expand_address(
				     entry, strlen(entry), ADDR, exact, full),
		    full);
		assert_int_equal(strlen(exact), full - 1);
	}
	/* Only elen bytes of the entry are read. */
	assert_int_equal(
	    topic_expand_address("${address}tail", 10, ADDR, out, sizeof(out)),
	    strlen(ADDR));
}

static void
test_expanded_entry_matches(void **state)
{
	char entry[128];
	size_t n;

	(void)state;
	n = topic_expand_address(
	    "users/${address}/#", 18, ADDR, entry, sizeof(entry));
	assert_true(n < sizeof(entry));
	assert_true(topic_matches(entry, n, "users/" ADDR "/t", 50));
	assert_false(topic_matches(entry, n,
	    "users/0x0000000000000000000000000000000000000000/t", 50));
	assert_true(topic_covers(entry, n, "users/" ADDR "/+/x", 52));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_matches_literal),
	    cmocka_unit_test(test_matches_wildcards),
	    cmocka_unit_test(test_matches_dollar_topics),
	    cmocka_unit_test(test_matches_invalid_input),
	    cmocka_unit_test(test_matches_uses_lengths),
	    cmocka_unit_test(test_covers_vectors),
	    cmocka_unit_test(test_matches_brute_force),
	    cmocka_unit_test(test_covers_brute_force),
	    cmocka_unit_test(test_covers_literal_filter_is_matches),
	    cmocka_unit_test(test_strip_share),
	    cmocka_unit_test(test_expand_address),
	    cmocka_unit_test(test_expand_address_truncates_like_snprintf),
	    cmocka_unit_test(test_expanded_entry_matches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for authd's fair work queue: jobs of one IP in arrival order,
 * one IP per turn, newcomers at the end of the turn, removal from
 * anywhere, and the bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../authd/workq.h"

/* A job as a caller embeds the queue's part: its IP and a label. */
struct job {
	struct workq_item item;
	int ip;
	int n;
};

/* 192.0.2.<n>, or 2001:db8::<n> for n >= 1000. */
static struct netaddr
ip_of(int n)
{
	struct netaddr a;
	char text[NETADDR_STRLEN];

	if (n < 1000)
		snprintf(text, sizeof(text), "192.0.2.%d", n);
	else
		snprintf(text, sizeof(text), "2001:db8::%x", n);
	assert_true(netaddr_parse(text, strlen(text), &a));
	return a;
}

static void
push(struct workq *q, struct job *j, int ip, int n)
{
	struct netaddr a = ip_of(ip);

	j->ip = ip;
	j->n = n;
	assert_int_equal(workq_push(q, &a, &j->item), WORKQ_QUEUED);
}

/* Pops one job and checks whose it is (ip, n). */
static void
expect_pop(struct workq *q, int ip, int n)
{
	struct job *j = (struct job *)workq_pop(q);

	assert_non_null(j);
	assert_int_equal(j->ip, ip);
	assert_int_equal(j->n, n);
	assert_null(j->item.flow);
}

static void
test_empty(void **state)
{
	struct workq *q = workq_new(8);

	(void)state;
	assert_non_null(q);
	assert_null(workq_pop(q));
	assert_int_equal(workq_length(q), 0);
	assert_int_equal(workq_ips(q), 0);
	workq_free(q);
}

static void
test_one_ip_in_arrival_order(void **state)
{
	struct workq *q = workq_new(8);
	struct job j[4];

	(void)state;
	for (int i = 0; i < 4; i++)
		push(q, &j[i], 1, i);
	assert_int_equal(workq_length(q), 4);
	assert_int_equal(workq_ips(q), 1);
	for (int i = 0; i < 4; i++)
		expect_pop(q, 1, i);
	assert_null(workq_pop(q));
	assert_int_equal(workq_ips(q), 0);
	workq_free(q);
}

/* The flood case: many jobs of a few IPs do not hold up another's. */
static void
test_round_robin(void **state)
{
	struct workq *q = workq_new(64);
	struct job a[5], b[1], c[2];

	(void)state;
	for (int i = 0; i < 5; i++)
		push(q, &a[i], 1, i);
	push(q, &b[0], 2, 0);
	push(q, &c[0], 1003, 0);
	push(q, &c[1], 1003, 1);
	expect_pop(q, 1, 0);
	expect_pop(q, 2, 0);
	expect_pop(q, 1003, 0);
	expect_pop(q, 1, 1);
	expect_pop(q, 1003, 1);
	for (int i = 2; i < 5; i++)
		expect_pop(q, 1, i);
	assert_null(workq_pop(q));
	workq_free(q);
}

/* An IP that starts waiting is served after every IP already waiting. */
static void
test_newcomer_ends_the_turn(void **state)
{
	struct workq *q = workq_new(64);
	struct job a[3], b[3], c[1], d[1];

	(void)state;
	for (int i = 0; i < 3; i++) {
		push(q, &a[i], 1, i);
		push(q, &b[i], 2, i);
	}
	expect_pop(q, 1, 0);
	/* b is next in this turn, then a: c after both. */
	push(q, &c[0], 3, 0);
	expect_pop(q, 2, 0);
	push(q, &d[0], 4, 0);
	expect_pop(q, 1, 1);
	expect_pop(q, 3, 0);
	/* d waits for a, c and b once each, as they were waiting. */
	expect_pop(q, 2, 1);
	expect_pop(q, 4, 0);
	expect_pop(q, 1, 2);
	expect_pop(q, 2, 2);
	assert_null(workq_pop(q));
	workq_free(q);
}

/* Same IP whatever its spelling; IPv4 and IPv6 never mix. */
static void
test_ip_identity(void **state)
{
	struct workq *q = workq_new(8);
	struct netaddr v4, mapped, v6;
	struct workq_item i1, i2, i3;

	(void)state;
	assert_true(netaddr_parse("192.0.2.1", 9, &v4));
	assert_true(netaddr_parse("::ffff:192.0.2.1", 16, &mapped));
	assert_true(netaddr_parse("::c000:201", 10, &v6));
	assert_int_equal(workq_push(q, &v4, &i1), WORKQ_QUEUED);
	assert_int_equal(workq_push(q, &mapped, &i2), WORKQ_QUEUED);
	assert_int_equal(workq_push(q, &v6, &i3), WORKQ_QUEUED);
	assert_int_equal(workq_ips(q), 2);
	assert_ptr_equal(workq_pop(q), &i1);
	assert_ptr_equal(workq_pop(q), &i3);
	assert_ptr_equal(workq_pop(q), &i2);
	workq_free(q);
}

/* A connection that goes away takes its jobs out from anywhere. */
static void
test_remove(void **state)
{
	struct workq *q = workq_new(64);
	struct job a[3], b[1], c[2];

	(void)state;
	for (int i = 0; i < 3; i++)
		push(q, &a[i], 1, i);
	push(q, &b[0], 2, 0);
	push(q, &c[0], 3, 0);
	push(q, &c[1], 3, 1);
	/* The middle of a flow, then a whole flow that is next in turn. */
	workq_remove(q, &a[1].item);
	expect_pop(q, 1, 0);
	workq_remove(q, &b[0].item);
	assert_null(b[0].item.flow);
	assert_int_equal(workq_ips(q), 2);
	expect_pop(q, 3, 0);
	/* Removing twice, or a job already taken, is harmless. */
	workq_remove(q, &b[0].item);
	workq_remove(q, &a[0].item);
	expect_pop(q, 1, 2);
	workq_remove(q, &c[1].item);
	assert_null(workq_pop(q));
	assert_int_equal(workq_length(q), 0);
	assert_int_equal(workq_ips(q), 0);
	/* The queue works on after it emptied. */
	push(q, &b[0], 2, 5);
	expect_pop(q, 2, 5);
	workq_free(q);
}

static void
test_bound(void **state)
{
	struct workq *q = workq_new(3);
	struct job j[4];
	struct netaddr a = ip_of(9);

	(void)state;
	for (int i = 0; i < 3; i++)
		push(q, &j[i], i, i);
	assert_int_equal(workq_push(q, &a, &j[3].item), WORKQ_FULL);
	assert_int_equal(workq_length(q), 3);
	expect_pop(q, 0, 0);
	push(q, &j[3], 9, 3);
	/* Freed with jobs queued: they are the caller's. */
	workq_free(q);
}

/*
 * Many IPs with random pushes, pops and removals: every job comes out
 * once, each IP's in order, and while an IP waits no other IP is served
 * twice before it.
 */
static void
test_random(void **state)
{
	enum { IPS = 37, JOBS = 4000 };
	struct workq *q = workq_new(JOBS);
	struct job *jobs = calloc(JOBS, sizeof(*jobs));
	/* ahead[i][k]: jobs of k taken since i was last served or joined. */
	int last[IPS], queued[IPS], ahead[IPS][IPS];
	int pushed = 0, out = 0, removed = 0, r, ip;
	unsigned seed = 12345;
	struct job *j;

	(void)state;
	assert_non_null(jobs);
	for (int i = 0; i < IPS; i++)
		last[i] = -1;
	memset(queued, 0, sizeof(queued));
	memset(ahead, 0, sizeof(ahead));
	while (out + removed < JOBS) {
		seed = seed * 1103515245 + 12345;
		r = (int)((seed >> 16) % 10);
		if (pushed < JOBS && r < 5) {
			ip = (int)((seed >> 8) % IPS);
			if (queued[ip]++ == 0)
				memset(ahead[ip], 0, sizeof(ahead[ip]));
			push(q, &jobs[pushed], ip, pushed);
			pushed++;
		} else if (r < 9) {
			if ((j = (struct job *)workq_pop(q)) == NULL)
				continue;
			assert_true(j->n > last[j->ip]);
			last[j->ip] = j->n;
			queued[j->ip]--;
			for (int i = 0; i < IPS; i++)
				if (i != j->ip && ahead[j->ip][i] > 1)
					fail_msg("ip %d served twice before "
						 "ip %d",
					    i, j->ip);
			memset(ahead[j->ip], 0, sizeof(ahead[j->ip]));
			for (int i = 0; i < IPS; i++)
				if (i != j->ip)
					ahead[i][j->ip]++;
			out++;
		} else if (pushed > 0) {
			j = &jobs[(seed >> 4) % (unsigned)pushed];
			if (j->item.flow != NULL) {
				workq_remove(q, &j->item);
				queued[j->ip]--;
				removed++;
			}
		}
		assert_int_equal(
		    workq_length(q), (size_t)(pushed - out - removed));
	}
	assert_null(workq_pop(q));
	free(jobs);
	workq_free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_one_ip_in_arrival_order),
	    cmocka_unit_test(test_round_robin),
	    cmocka_unit_test(test_newcomer_ends_the_turn),
	    cmocka_unit_test(test_ip_identity),
	    cmocka_unit_test(test_remove),
	    cmocka_unit_test(test_bound),
	    cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Event-loop helpers for unit tests that drive a real libev loop: run it
 * until a condition holds (each test's hard-timeout timer fails it if it
 * never does), or for a while.
 */
#ifndef FLYTRAP_TEST_LOOP_H
#define FLYTRAP_TEST_LOOP_H

#include <stdbool.h>
#include <time.h>

#include <ev.h>

/* Runs loop until cond holds. */
#define TEST_RUN_UNTIL(loop, cond)                                             \
	do {                                                                   \
		while (!(cond))                                                \
			ev_run((loop), EVRUN_ONCE);                            \
	} while (0)

static inline double
test_now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void
test_flag_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	*(bool *)w->data = true;
}

/* Runs loop for `seconds`, whatever else happens meanwhile. */
static inline void
test_run_for(struct ev_loop *loop, double seconds)
{
	ev_timer t;
	bool done = false;

	ev_timer_init(&t, test_flag_cb, seconds, 0.);
	t.data = &done;
	ev_timer_start(loop, &t);
	TEST_RUN_UNTIL(loop, done);
	ev_timer_stop(loop, &t);
}

#endif

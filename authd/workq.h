/*
 * A work queue that is fair between client IPs: jobs wait per IP in
 * arrival order, and are taken round robin, one per IP per turn, so an IP
 * with many jobs waiting delays another IP's job by at most one of its own.
 * authd queues its signature checks in it.
 */
#ifndef FLYTRAP_WORKQ_H
#define FLYTRAP_WORKQ_H

#include <stddef.h>

#include "netaddr.h"

#define WORKQ_WUR __attribute__((warn_unused_result))

struct workq;
struct workq_flow;

/*
 * What the queue keeps of a job: embedded in the caller's job, which it
 * owns (the queue never frees one). The fields are the queue's.
 */
struct workq_item {
	struct workq_item *prev, *next; /* in its IP's queue, oldest first */
	struct workq_flow *flow; /* NULL while not queued */
};

enum workq_status {
	WORKQ_QUEUED = 0,
	WORKQ_FULL, /* the queue holds its maximum of jobs */
	WORKQ_NO_MEMORY,
};

/* A queue of at most max_items jobs; NULL if out of memory. */
struct workq *workq_new(size_t max_items);
/* Frees the queue; jobs still queued are forgotten, not freed. */
void workq_free(struct workq *q);

/*
 * Queues it behind the jobs of ip. An IP without jobs waiting joins the
 * end of the turn: it is served after every IP already waiting has had
 * one job taken. Returns WORKQ_QUEUED, or WORKQ_FULL / WORKQ_NO_MEMORY
 * (it is then not queued).
 */
enum workq_status workq_push(
    struct workq *q, const struct netaddr *ip, struct workq_item *it) WORKQ_WUR;

/* Takes the next job in turn; NULL when the queue is empty. */
struct workq_item *workq_pop(struct workq *q);

/* Takes a queued job out of the queue, wherever it waits. */
void workq_remove(struct workq *q, struct workq_item *it);

/* Jobs queued. */
size_t workq_length(const struct workq *q);
/* IPs with jobs queued. */
size_t workq_ips(const struct workq *q);

#endif

/*
 * The fair work queue (see workq.h). Each IP with jobs waiting is a flow:
 * its jobs in a list, oldest first. The flows form a ring in turn order
 * with a cursor on the flow served next; a flow leaves the ring when its
 * last job is taken. Flows are found by IP in a balanced tree (tsearch),
 * so no choice of addresses makes a lookup slow.
 */
#include "workq.h"

#include <search.h>
#include <stdlib.h>
#include <string.h>

struct workq_flow {
	struct netaddr ip; /* bytes past the family's length are zero */
	struct workq_flow *prev, *next; /* in the ring */
	struct workq_item *head, *tail;
	size_t n;
};

struct workq {
	void *tree; /* the flows, by IP */
	struct workq_flow *cursor; /* served next; NULL when empty */
	size_t items, max_items, flows;
};

/* The total order of the tree: family, then the address bytes. */
static int
workq_flow_cmp(const void *a, const void *b)
{
	const struct workq_flow *x = a, *y = b;

	if (x->ip.family != y->ip.family)
		return x->ip.family < y->ip.family ? -1 : 1;
	return memcmp(x->ip.bytes, y->ip.bytes, sizeof(x->ip.bytes));
}

/* The flow of ip, created (at the end of the turn) if it has none. */
static struct workq_flow *
workq_flow_get(struct workq *q, const struct netaddr *ip)
{
	struct workq_flow probe, *f, **found;

	memset(&probe, 0, sizeof(probe));
	probe.ip.family = ip->family;
	memcpy(probe.ip.bytes, ip->bytes, ip->family == AF_INET ? 4 : 16);
	if ((found = tfind(&probe, &q->tree, workq_flow_cmp)) != NULL)
		return *found;
	if ((f = malloc(sizeof(*f))) == NULL)
		return NULL;
	*f = probe;
	if (tsearch(f, &q->tree, workq_flow_cmp) == NULL) {
		free(f);
		return NULL;
	}
	/* Just before the cursor: the last of the current turn. */
	if (q->cursor == NULL) {
		f->prev = f->next = f;
		q->cursor = f;
	} else {
		f->next = q->cursor;
		f->prev = q->cursor->prev;
		f->prev->next = f;
		q->cursor->prev = f;
	}
	q->flows++;
	return f;
}

/* Takes an empty flow out of the ring and the tree, and frees it. */
static void
workq_flow_drop(struct workq *q, struct workq_flow *f)
{
	if (f->next == f) {
		q->cursor = NULL;
	} else {
		f->prev->next = f->next;
		f->next->prev = f->prev;
		if (q->cursor == f)
			q->cursor = f->next;
	}
	(void)tdelete(f, &q->tree, workq_flow_cmp);
	q->flows--;
	free(f);
}

struct workq *
workq_new(size_t max_items)
{
	struct workq *q = calloc(1, sizeof(*q));

	if (q != NULL)
		q->max_items = max_items;
	return q;
}

void
workq_free(struct workq *q)
{
	if (q == NULL)
		return;
	tdestroy(q->tree, free);
	free(q);
}

enum workq_status
workq_push(struct workq *q, const struct netaddr *ip, struct workq_item *it)
{
	struct workq_flow *f;

	if (q->items >= q->max_items)
		return WORKQ_FULL;
	if ((f = workq_flow_get(q, ip)) == NULL)
		return WORKQ_NO_MEMORY;
	it->flow = f;
	it->next = NULL;
	it->prev = f->tail;
	if (f->tail != NULL)
		f->tail->next = it;
	else
		f->head = it;
	f->tail = it;
	f->n++;
	q->items++;
	return WORKQ_QUEUED;
}

void
workq_remove(struct workq *q, struct workq_item *it)
{
	struct workq_flow *f = it->flow;

	if (f == NULL)
		return;
	if (it->prev != NULL)
		it->prev->next = it->next;
	else
		f->head = it->next;
	if (it->next != NULL)
		it->next->prev = it->prev;
	else
		f->tail = it->prev;
	it->prev = it->next = NULL;
	it->flow = NULL;
	f->n--;
	q->items--;
	if (f->n == 0)
		workq_flow_drop(q, f);
}

struct workq_item *
workq_pop(struct workq *q)
{
	struct workq_flow *f = q->cursor;
	struct workq_item *it;

	if (f == NULL)
		return NULL;
	it = f->head;
	/* The turn moves on first: removing the flow keeps it moved. */
	q->cursor = f->next;
	workq_remove(q, it);
	return it;
}

size_t
workq_length(const struct workq *q)
{
	return q->items;
}

size_t
workq_ips(const struct workq *q)
{
	return q->flows;
}

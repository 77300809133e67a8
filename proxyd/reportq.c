/*
 * The ring of access records behind proxyd/report.c (see reportq.h). A
 * record never straddles the ring's end: when it does not fit there, the
 * rest of the end is skipped (a wrap mark, size 0) and it goes at the
 * start.
 */
#include "reportq.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define REPORTQ_ALIGN 8
#define REPORTQ_HEADER offsetof(struct reportq_rec, topic)

static size_t
reportq_entry_size(size_t topic_len)
{
	return (REPORTQ_HEADER + topic_len + REPORTQ_ALIGN - 1) &
	    ~(size_t)(REPORTQ_ALIGN - 1);
}

static struct reportq_rec *
reportq_at(const struct reportq *q, size_t off)
{
	return (struct reportq_rec *)(void *)(q->ring + off);
}

void
reportq_init(struct reportq *q, uint64_t max_records, size_t max_bytes)
{
	size_t least = 2 * reportq_entry_size(ACCESS_TOPIC_MAX);

	memset(q, 0, sizeof(*q));
	if (max_bytes < least)
		max_bytes = least;
	q->cap = max_bytes & ~(size_t)(REPORTQ_ALIGN - 1);
	q->max_records = max_records;
	q->first_no = q->next_no = 1;
}

void
reportq_free(struct reportq *q)
{
	free(q->ring);
	q->ring = NULL;
}

/* Finds room for an entry of sz bytes; false when there is none. */
static bool
reportq_room(struct reportq *q, size_t sz, size_t *off)
{
	size_t waste;

	if (q->used == 0)
		q->head = q->tail = 0;
	if (q->cap - q->used < sz)
		return false;
	if (q->tail > q->head || (q->tail == q->head && q->used == 0)) {
		/* Free: [tail, cap) and [0, head). */
		if (q->cap - q->tail >= sz) {
			*off = q->tail;
		} else if (q->head >= sz) {
			waste = q->cap - q->tail;
			reportq_at(q, q->tail)->size = 0;
			q->used += waste;
			*off = 0;
		} else {
			return false;
		}
	} else {
		/* Free: [tail, head); none when tail == head (full). */
		if (q->head - q->tail < sz)
			return false;
		*off = q->tail;
	}
	q->used += sz;
	q->tail = *off + sz;
	if (q->tail == q->cap)
		q->tail = 0;
	return true;
}

enum reportq_result
reportq_add(struct reportq *q, struct reportq_ref *ref,
    const char address[ACCESS_ADDRESS_LEN], enum access_action action,
    const uint8_t *topic, size_t topic_len, uint64_t bytes, uint64_t now_ms)
{
	struct reportq_rec *r;
	size_t sz, off;

	if (ref->no >= q->first_no + q->frozen && ref->no < q->next_no) {
		r = reportq_at(q, ref->off);
		if (r->action == action && r->topic_len == topic_len &&
		    r->first_ms / 1000 == now_ms / 1000 &&
		    memcmp(r->topic, topic, topic_len) == 0) {
			if (now_ms > r->last_ms)
				r->last_ms = now_ms;
			r->count++;
			r->bytes += bytes;
			return REPORTQ_JOINED;
		}
	}
	ref->no = 0;
	if (topic_len == 0 || topic_len > ACCESS_TOPIC_MAX ||
	    reportq_len(q) >= q->max_records)
		return REPORTQ_FULL;
	if (q->ring == NULL && (q->ring = malloc(q->cap)) == NULL)
		return REPORTQ_FULL;
	sz = reportq_entry_size(topic_len);
	if (!reportq_room(q, sz, &off))
		return REPORTQ_FULL;
	r = reportq_at(q, off);
	r->size = (uint32_t)sz;
	r->topic_len = (uint16_t)topic_len;
	r->action = (uint8_t)action;
	r->unused = 0;
	r->first_ms = r->last_ms = now_ms;
	r->count = 1;
	r->bytes = bytes;
	memcpy(r->address, address, ACCESS_ADDRESS_LEN);
	memcpy(r->topic, topic, topic_len);
	ref->no = q->next_no++;
	ref->off = off;
	return REPORTQ_ADDED;
}

void
reportq_iter_begin(const struct reportq *q, struct reportq_iter *it)
{
	it->off = q->head;
	it->left = reportq_len(q);
}

const struct reportq_rec *
reportq_iter_next(const struct reportq *q, struct reportq_iter *it)
{
	const struct reportq_rec *r;

	if (it->left == 0)
		return NULL;
	if (it->off == q->cap || reportq_at(q, it->off)->size == 0)
		it->off = 0;
	r = reportq_at(q, it->off);
	it->off += r->size;
	it->left--;
	return r;
}

void
reportq_freeze(struct reportq *q, uint64_t n)
{
	q->frozen = n;
}

void
reportq_pop(struct reportq *q, uint64_t n)
{
	struct reportq_rec *r;

	if (n > reportq_len(q))
		n = reportq_len(q);
	while (n-- > 0) {
		if (q->head == q->cap || reportq_at(q, q->head)->size == 0) {
			q->used -= q->cap - q->head;
			q->head = 0;
		}
		r = reportq_at(q, q->head);
		q->used -= r->size;
		q->head += r->size;
		if (q->head == q->cap)
			q->head = 0;
		q->first_no++;
	}
	/* A wrap mark left at the head goes with the records before it. */
	if (reportq_len(q) > 0 && q->head != 0 &&
	    reportq_at(q, q->head)->size == 0) {
		q->used -= q->cap - q->head;
		q->head = 0;
	}
	if (q->used == 0)
		q->head = q->tail = 0;
	q->frozen = 0;
}

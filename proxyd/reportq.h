/*
 * proxyd's bounded queue of access records waiting for reportd
 * (docs/AUDIT.md): one preallocated ring of variable-size records, so
 * recording an access allocates nothing; consecutive accesses of one
 * session to one topic with one action in the same second are one record.
 */
#ifndef FLYTRAP_REPORTQ_H
#define FLYTRAP_REPORTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit.h"

/* One record in the ring, 8-byte aligned, the topic right after it. */
struct reportq_rec {
	uint32_t size; /* bytes of the entry, padding included; 0: wrap */
	uint16_t topic_len; /* 1..65535 */
	uint8_t action; /* enum access_action */
	uint8_t unused;
	uint64_t first_ms;
	uint64_t last_ms;
	uint64_t count;
	uint64_t bytes;
	char address[ACCESS_ADDRESS_LEN];
	char topic[];
};

struct reportq {
	uint8_t *ring; /* NULL until the first record */
	size_t cap; /* bytes, a multiple of 8 */
	size_t head; /* the oldest record's offset */
	size_t tail; /* where the next record goes */
	size_t used; /* bytes taken, the skipped end of a wrap included */
	uint64_t max_records;
	uint64_t first_no; /* the oldest record's number */
	uint64_t next_no; /* the number the next record gets (from 1) */
	uint64_t frozen; /* records from the head in a batch in flight */
};

/* A session's last record, so its next access may join it. */
struct reportq_ref {
	uint64_t no; /* 0: none */
	size_t off;
};

enum reportq_result {
	REPORTQ_ADDED, /* a new record */
	REPORTQ_JOINED, /* counted in the session's last record */
	REPORTQ_FULL, /* no room: the access is not recorded */
};

/*
 * Sets up an empty queue of at most max_records records in at most
 * max_bytes bytes (rounded down to a multiple of 8, and raised so that
 * a record with the longest topic fits). Memory is taken on first use.
 */
void reportq_init(struct reportq *q, uint64_t max_records, size_t max_bytes);
void reportq_free(struct reportq *q);

static inline uint64_t
reportq_len(const struct reportq *q)
{
	return q->next_no - q->first_no;
}

/*
 * Records one access at now_ms by the session whose last record is *ref
 * (updated). It joins that record when the record is still in the queue
 * and not in a batch in flight, with the same action and topic, and
 * first_ms in the same second as now_ms; otherwise it is a new record
 * (count 1). REPORTQ_FULL (also when out of memory) leaves *ref empty.
 * topic_len must be 1..ACCESS_TOPIC_MAX.
 */
enum reportq_result reportq_add(struct reportq *q, struct reportq_ref *ref,
    const char address[ACCESS_ADDRESS_LEN], enum access_action action,
    const uint8_t *topic, size_t topic_len, uint64_t bytes, uint64_t now_ms);

/* Walks records from the oldest: start with *cursor = the queue's head. */
struct reportq_iter {
	size_t off;
	uint64_t left;
};
void reportq_iter_begin(const struct reportq *q, struct reportq_iter *it);
/* The next record, or NULL after the last one. */
const struct reportq_rec *reportq_iter_next(
    const struct reportq *q, struct reportq_iter *it);

/*
 * Marks the n oldest records as sent in a batch: they no longer change
 * (no access joins them) until reportq_pop takes them out.
 */
void reportq_freeze(struct reportq *q, uint64_t n);
/* Drops the n oldest records (stored by reportd); ends the freeze. */
void reportq_pop(struct reportq *q, uint64_t n);

#endif

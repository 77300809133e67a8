/*
 * reportd's durable spool (sqlite, WAL, synchronous = FULL): the access
 * records proxyd sent, the batches already stored (for deduplication), the
 * periods summarised and each topic's summary with its Merkle root and the
 * wallet's transaction id.
 */
#ifndef FLYTRAP_SPOOL_H
#define FLYTRAP_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit.h"

#define SPOOL_WUR __attribute__((warn_unused_result))

struct spool;

enum spool_status {
	SPOOL_OK = 0,
	SPOOL_MISSING, /* no such row */
	SPOOL_ERROR, /* sqlite failed: spool_error() says why */
};

/* Opens (creating) the database; NULL with a message in err on failure. */
struct spool *spool_open(const char *path, char *err, size_t errlen);
void spool_close(struct spool *sp);
/* sqlite's message for the last failure. */
const char *spool_error(struct spool *sp);
/*
 * Caps the database at `pages` pages (0: no cap), so that tests can make
 * it run out of room as on a full disk. False if sqlite refused.
 */
bool spool_limit_pages(struct spool *sp, uint64_t pages);

/* Transactions around the writes of a summary. */
enum spool_status spool_begin(struct spool *sp) SPOOL_WUR;
enum spool_status spool_commit(struct spool *sp) SPOOL_WUR;
void spool_rollback(struct spool *sp);

/* The start of the period of period_s seconds that holds Unix ms t. */
static inline uint64_t
spool_period_of(uint64_t t_ms, uint64_t period_s)
{
	return t_ms / 1000 / period_s * period_s;
}

/* ---- Records ------------------------------------------------------------ */

/*
 * Stores the n valid records of batch (instance, seq) in one transaction,
 * each in the period of its first_ms. A batch stored before is not stored
 * again: *duplicate is set and nothing changes. A record whose period has
 * already been summarised is kept but marked late (it is in no summary);
 * *late counts them. SPOOL_ERROR leaves the database as it was.
 */
enum spool_status spool_store_batch(struct spool *sp, uint64_t instance,
    uint64_t seq, const struct access_record *recs, size_t n, uint64_t period_s,
    uint64_t now, bool *duplicate, uint64_t *late) SPOOL_WUR;
/* Forgets which batches were stored before `before` (Unix s). */
enum spool_status spool_batches_trim(
    struct spool *sp, uint64_t before) SPOOL_WUR;

/* One stored record; its strings live until the callback returns. */
struct spool_row {
	uint64_t id;
	uint64_t period;
	bool late; /* arrived after its period was summarised */
	bool erased; /* its fields erased; only the leaf is left */
	struct access_record rec;
	uint8_t leaf[AUDIT_HASH_LEN];
};

/* What to list; NULL / false / 0 for "any". */
struct spool_filter {
	const char *address; /* 0x lowercase */
	const char *topic;
	size_t topic_len;
	bool has_period;
	uint64_t period; /* a period's start */
	uint64_t after; /* ids above this */
	unsigned limit; /* rows at most, >= 1 */
};

/* Calls fn for each record matching f (erased ones never), in id order. */
enum spool_status spool_records(struct spool *sp, const struct spool_filter *f,
    void (*fn)(void *arg, const struct spool_row *row), void *arg) SPOOL_WUR;
/* One record by id (erased or not); its strings live until the next call. */
enum spool_status spool_record_get(
    struct spool *sp, uint64_t id, struct spool_row *out) SPOOL_WUR;
/*
 * Erases the address's records: those of summarised periods keep their
 * leaf (and period and topic), so the other records' proofs still hold;
 * the others go. *n counts both.
 */
enum spool_status spool_erase(
    struct spool *sp, const char *address, uint64_t *n) SPOOL_WUR;

/* ---- Periods and summaries ---------------------------------------------- */

/*
 * The earliest period start at or before `last` that has records and has
 * not been summarised; SPOOL_MISSING when there is none.
 */
enum spool_status spool_next_unsummarised(
    struct spool *sp, uint64_t last, uint64_t *start) SPOOL_WUR;
/* Calls fn with each topic the period's (in-time) records name, sorted. */
enum spool_status spool_period_topics(struct spool *sp, uint64_t start,
    void (*fn)(void *arg, const char *topic, size_t len), void *arg) SPOOL_WUR;
/*
 * The leaves of the period's in-time records of one topic, erased ones
 * included, in the tree's order: *leaves is malloc'd (free it), *n >= 0.
 */
enum spool_status spool_topic_leaves(struct spool *sp, uint64_t start,
    const char *topic, size_t len, uint8_t (**leaves)[AUDIT_HASH_LEN],
    size_t *n) SPOOL_WUR;
/*
 * Calls fn with each distinct address, sorted, that published (publishers)
 * or subscribed / was delivered to (!publishers) on the topic in the
 * period, erased records left out.
 */
enum spool_status spool_topic_addresses(struct spool *sp, uint64_t start,
    const char *topic, size_t len, bool publishers,
    void (*fn)(void *arg, const char *address), void *arg) SPOOL_WUR;

/* One topic's summary of one period. */
struct spool_summary {
	uint64_t period; /* start, Unix s */
	uint64_t period_end; /* exclusive */
	char *topic; /* NUL-terminated; malloc'd when read */
	size_t topic_len;
	uint8_t root[AUDIT_HASH_LEN];
	uint64_t records; /* leaves of the tree */
	uint64_t publishers;
	uint64_t subscribers;
	char *reason; /* the on-chain text; malloc'd when read */
	uint64_t tx; /* chaind's transaction id; 0: not submitted yet */
};

void spool_summary_free(struct spool_summary *s);
enum spool_status spool_summary_add(
    struct spool *sp, const struct spool_summary *s) SPOOL_WUR;
/* Records that period [start, end) is summarised (inside the same
 * transaction as its summaries): its later records are late. */
enum spool_status spool_period_add(struct spool *sp, uint64_t start,
    uint64_t end, uint64_t topics, uint64_t records, uint64_t now) SPOOL_WUR;
/* The first summary (by period, then topic) not submitted yet. */
enum spool_status spool_next_unsubmitted(
    struct spool *sp, struct spool_summary *out) SPOOL_WUR;
/*
 * Records the wallet's transaction id for a summary; when it was the
 * period's last one, marks the period done (at now) and sets *done.
 */
enum spool_status spool_summary_submitted(struct spool *sp, uint64_t period,
    const char *topic, size_t len, uint64_t tx, uint64_t now,
    bool *done) SPOOL_WUR;
/* A summary by period and topic (SPOOL_MISSING: none). */
enum spool_status spool_summary_get(struct spool *sp, uint64_t period,
    const char *topic, size_t len, struct spool_summary *out) SPOOL_WUR;
/* Calls fn for each summary of a period, by topic (for logs). */
enum spool_status spool_period_summaries(struct spool *sp, uint64_t period,
    void (*fn)(void *arg, const struct spool_summary *s), void *arg) SPOOL_WUR;

/* Figures for the status query. */
struct spool_figures {
	uint64_t records; /* kept, late ones included, erased ones not */
	uint64_t accesses; /* their counts added up */
	uint64_t late;
	uint64_t erased;
	uint64_t batches; /* remembered for deduplication */
	uint64_t periods_done;
	uint64_t periods_pending; /* summarised, not all submitted */
	uint64_t summaries;
	uint64_t summaries_pending;
	uint64_t last_done; /* start of the latest done period; 0 none */
};
enum spool_status spool_figures(
    struct spool *sp, struct spool_figures *out) SPOOL_WUR;
/* Summaries not yet accepted by the wallet (cheap: for metrics). */
enum spool_status spool_summaries_pending(
    struct spool *sp, uint64_t *n) SPOOL_WUR;

#endif

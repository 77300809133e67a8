/*
 * chaind's sqlite database (WAL): every contract event indexed by time,
 * topic, address and action; the topic entries the contract knows; the
 * cache of `access` answers; recent block hashes for reorg detection; and
 * a few counters that must survive restarts.
 */
#ifndef FLYTRAP_STORE_H
#define FLYTRAP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_WUR __attribute__((warn_unused_result))

/* Expiry meaning "forever" (the contract's type(uint64).max). */
#define STORE_FOREVER UINT64_MAX

struct store;

enum store_status {
	STORE_OK = 0,
	STORE_MISSING, /* no such row */
	STORE_ERROR, /* sqlite failed; logged */
};

/* One ACLChange event as chaind keeps it. Addresses are 0x lowercase. */
struct store_event {
	uint64_t block;
	uint64_t log_index;
	char tx_hash[67];
	uint64_t time; /* the event's timestamp field (block time) */
	unsigned action;
	char source[43];
	char target[43];
	const char *name;
	size_t name_len;
	const char *reason;
	size_t reason_len;
};

/* The contract's answer to access(name, address), as cached. */
struct store_access {
	bool exists;
	uint64_t pub_expiry;
	uint64_t sub_expiry;
	bool sensitive;
	char countries[512]; /* concatenated alpha-2 codes */
	uint64_t block; /* block the answer was read at */
};

/* Opens (creating) the database; NULL with a message in err on failure. */
struct store *store_open(const char *path, char *err, size_t errlen);
void store_close(struct store *st);

enum store_status store_meta_get(
    struct store *st, const char *key, uint64_t *value) STORE_WUR;
enum store_status store_meta_set(
    struct store *st, const char *key, uint64_t value) STORE_WUR;

/* Transactions around a batch of event writes (one block range). */
enum store_status store_begin(struct store *st) STORE_WUR;
enum store_status store_commit(struct store *st) STORE_WUR;
void store_rollback(struct store *st);

enum store_status store_event_add(
    struct store *st, const struct store_event *ev) STORE_WUR;
/* Removes the events of blocks >= from (a reorganised chain). */
enum store_status store_events_drop_from(
    struct store *st, uint64_t from) STORE_WUR;
uint64_t store_event_count(struct store *st);

/* Topic entries, in creation order. */
enum store_status store_topic_add(
    struct store *st, const char *name, size_t len, uint64_t block) STORE_WUR;
enum store_status store_topics_drop_from(
    struct store *st, uint64_t from) STORE_WUR;
/* Calls fn for every known entry; stops early when fn returns false. */
enum store_status store_topics_each(struct store *st,
    bool (*fn)(void *arg, const char *name, size_t len), void *arg) STORE_WUR;

enum store_status store_access_get(struct store *st, const char *name,
    const char *address, struct store_access *out) STORE_WUR;
enum store_status store_access_put(struct store *st, const char *name,
    const char *address, const struct store_access *a) STORE_WUR;
/* Forgets cached answers for (name, address), or for every address. */
enum store_status store_access_forget(
    struct store *st, const char *name, const char *address_or_null) STORE_WUR;
enum store_status store_access_forget_all(struct store *st) STORE_WUR;
uint64_t store_access_count(struct store *st);

enum store_status store_block_put(
    struct store *st, uint64_t number, const char *hash) STORE_WUR;
enum store_status store_block_get(
    struct store *st, uint64_t number, char hash[67]) STORE_WUR;
/* Forgets hashes of blocks >= from, and of blocks < keep_from. */
enum store_status store_blocks_trim(
    struct store *st, uint64_t from, uint64_t keep_from) STORE_WUR;

/* ---- The wallet's transactions ---------------------------------------- */

enum store_tx_state {
	STORE_TX_QUEUED = 0, /* accepted, no nonce yet */
	STORE_TX_SENT = 1, /* signed with a nonce, broadcast, not final */
	STORE_TX_DONE = 2, /* mined and confirmed, status 1 */
	STORE_TX_FAILED = 3, /* reverted, or refused before it got a nonce */
};

/* A transaction as the wallet keeps it; buffers are malloc'ed. */
struct store_tx {
	uint64_t id;
	char purpose[64];
	uint8_t *data; /* call data to the contract */
	size_t data_len;
	uint64_t nonce;
	char hash[67];
	uint8_t *raw; /* the signed transaction, for re-broadcasting */
	size_t raw_len;
};

void store_tx_free(struct store_tx *tx);
enum store_status store_tx_add(struct store *st, const char *purpose,
    const uint8_t *data, size_t len, uint64_t now, uint64_t *id) STORE_WUR;
/* The oldest queued transaction, or STORE_MISSING. */
enum store_status store_tx_next_queued(
    struct store *st, struct store_tx *out) STORE_WUR;
/* Records nonce, hash and raw bytes, and the wallet's next nonce, at once. */
enum store_status store_tx_mark_sent(struct store *st, uint64_t id,
    uint64_t nonce, const char *hash, const uint8_t *raw,
    size_t raw_len) STORE_WUR;
enum store_status store_tx_finish(struct store *st, uint64_t id,
    enum store_tx_state state, uint64_t block, const char *error) STORE_WUR;
/* The sent, unfinished transaction with the lowest nonce, or MISSING. */
enum store_status store_tx_next_sent(
    struct store *st, uint64_t after_id, struct store_tx *out) STORE_WUR;
uint64_t store_tx_pending(struct store *st);

#endif

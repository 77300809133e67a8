/*
 * chaind's sqlite database (WAL): every contract event indexed by time,
 * topic, address and action; the topic entries the contract knows; the
 * cache of `access` answers; recent block hashes for reorg detection; the
 * wallet's transactions; the alerts authd asked for; and a few counters
 * that must survive restarts.
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
/*
 * Calls fn(arg, id, event) for each event of `action` whose id is above
 * `after`, in id order, until fn returns false. An event's id is given
 * when it is stored and only grows: the ids of events a reorganisation
 * dropped are never given again, so a cursor over ids misses nothing
 * (an event stored again after a reorganisation gets a new id). The
 * event's strings live until fn returns. STORE_OK or STORE_ERROR.
 */
enum store_status store_events_after(struct store *st, unsigned action,
    uint64_t after,
    bool (*fn)(void *arg, uint64_t id, const struct store_event *ev),
    void *arg) STORE_WUR;

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

/* ---- Alerts ------------------------------------------------------------ */

/*
 * One alert as chaind keeps it locally, whatever its outcome. The clear
 * IP is personal data: it stays here (indexed by ip, ip_hash and address
 * for erasure) and goes on-chain only with [chaind] alert_ip = clear.
 */
struct store_alert {
	uint64_t time; /* when chaind got it (Unix s) */
	unsigned action; /* enum alert_action */
	const char *ip; /* "" or canonical text */
	const char *ip_hash; /* "" or ip-hmac:<64 hex> */
	const char *subject; /* the ban's subject, or the topic */
	size_t subject_len;
	const char *address; /* "" or 0x lowercase */
	const char *reason; /* as authd sent it */
	size_t reason_len;
	uint64_t until; /* ban end (0: until lifted; WrongCountry 0) */
	unsigned outcome; /* enum alert_outcome */
	uint64_t tx; /* the wallet's transaction id, 0: none */
};

/* Records an alert; its id in *id (when not NULL). */
enum store_status store_alert_add(
    struct store *st, const struct store_alert *a, uint64_t *id) STORE_WUR;
/*
 * STORE_OK if a Banned alert for (subject, until) was handed to the wallet
 * (and its transaction has not failed), STORE_MISSING if not.
 */
enum store_status store_alert_find_ban(struct store *st, const char *subject,
    size_t len, uint64_t until) STORE_WUR;
/*
 * STORE_OK if a WrongCountry alert for (ip, ip_hash, topic) was handed to
 * the wallet at or after `since` (and its transaction has not failed),
 * STORE_MISSING if not.
 */
enum store_status store_alert_find_country(struct store *st, const char *ip,
    const char *ip_hash, const char *topic, size_t len,
    uint64_t since) STORE_WUR;
/* How many alerts were handed to the wallet at or after `since`. */
enum store_status store_alert_count_queued(
    struct store *st, uint64_t since, uint64_t *n) STORE_WUR;

#endif

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

/* The longest purpose kept, NUL included (an idempotency key fits). */
#define STORE_TX_PURPOSE_MAX 160

/* A transaction as the wallet keeps it; buffers are malloc'ed. */
struct store_tx {
	uint64_t id;
	char purpose[STORE_TX_PURPOSE_MAX];
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

/* ---- Audit queries (chaind/audit.c) ------------------------------------ */

/* Which side of an event an address filter looks at. */
#define STORE_ROLE_SOURCE 1u
#define STORE_ROLE_TARGET 2u

/*
 * The events store_events_find returns: those matching every filter
 * given. Times are the events' timestamps, both bounds inclusive.
 */
struct store_event_query {
	const char *const *names; /* entry names (NUL-terminated); */
	size_t n_names; /* 0: any name */
	const char *address; /* 0x lowercase, or NULL: any */
	unsigned roles; /* STORE_ROLE_*: where to look for address */
	uint32_t actions; /* bit (1u << action) per action; 0: any */
	uint64_t from, to; /* time range */
	uint64_t after; /* an event id: only the events after it; 0: all */
	size_t limit; /* most events to return; 0: no limit */
};

/*
 * Calls fn(arg, id, event) for each event matching q in chain order (by
 * time, then id, which is the order the chain emitted them in), until fn
 * returns false or q->limit events were given. An event matching through
 * several names or roles is given once. Every part of the search is an
 * index range, so the cost grows with the events returned, not with the
 * table. The event's strings live until fn returns. STORE_OK or
 * STORE_ERROR.
 */
enum store_status store_events_find(struct store *st,
    const struct store_event_query *q,
    bool (*fn)(void *arg, uint64_t id, const struct store_event *ev),
    void *arg) STORE_WUR;
/* How many events match q (its after and limit are ignored). */
enum store_status store_events_count(
    struct store *st, const struct store_event_query *q, uint64_t *n) STORE_WUR;
/*
 * Events of the actions in the mask whose reason contains `needle`, after
 * id `after`, in id order, at most limit (0: all). A scan of those
 * actions' events: for rare administrative questions (erasure), not for
 * the audit queries.
 */
enum store_status store_events_reason_contains(struct store *st,
    uint32_t actions, const char *needle, uint64_t after, size_t limit,
    bool (*fn)(void *arg, uint64_t id, const struct store_event *ev),
    void *arg) STORE_WUR;

/*
 * A SummaryRoot event: the Merkle root of a Summary, emitted right after
 * its Summary ACLChange (the previous log of the same transaction).
 */
struct store_summary_root {
	uint64_t block;
	uint64_t log_index;
	char tx_hash[67];
	char root[67]; /* 0x + 64 lowercase hex digits */
	const char *name;
	size_t name_len;
	uint64_t period_start, period_end;
};

/*
 * Stores a SummaryRoot, linked to its Summary event when that is stored
 * (same block and transaction, previous log index).
 */
enum store_status store_summary_root_add(
    struct store *st, const struct store_summary_root *r) STORE_WUR;
/* The root of Summary event `event_id`: STORE_OK, STORE_MISSING (none). */
enum store_status store_summary_root_get(struct store *st, uint64_t event_id,
    char root[67], uint64_t *period_start, uint64_t *period_end) STORE_WUR;
/*
 * Summaries of entry `name` whose period overlaps [from, to], by the end
 * of their period, then id; after: a Summary event id, only those after
 * it in that order. fn gets the Summary event and its root.
 */
enum store_status store_summaries_overlapping(struct store *st,
    const char *name, uint64_t from, uint64_t to, uint64_t after, size_t limit,
    bool (*fn)(void *arg, uint64_t id, const struct store_event *ev,
	const char *root, uint64_t period_start, uint64_t period_end),
    void *arg) STORE_WUR;

/*
 * The expiry a grant event (AddPub, AddSub) left, as the contract answered
 * access(name, target) at the end of the event's block; known = false
 * when the node could not tell (its state for that block is pruned).
 */
enum store_status store_grant_expiry_put(
    struct store *st, uint64_t event_id, bool known, uint64_t expiry) STORE_WUR;
/* STORE_OK with *known and *expiry, STORE_MISSING when not read yet. */
enum store_status store_grant_expiry_get(struct store *st, uint64_t event_id,
    bool *known, uint64_t *expiry) STORE_WUR;
/*
 * The first grant event with an id above `after` whose expiry has not
 * been read: its id, block, action, target and name (malloc'd, the caller
 * frees it). STORE_MISSING when there is none.
 */
enum store_status store_grant_expiry_next(struct store *st, uint64_t after,
    uint64_t *id, uint64_t *block, unsigned *action, char target[43],
    char **name) STORE_WUR;

/* An entry's settings as the contract's topic(name) answered them. */
struct store_topic_details {
	bool exists;
	bool sensitive;
	bool self_service;
	char pub_price[80]; /* wei, decimal */
	char sub_price[80];
	uint64_t period; /* seconds a purchase lasts; 0: forever */
	char countries[512]; /* concatenated alpha-2 codes */
	uint64_t block; /* the block they were read at */
};

/*
 * Marks an entry's settings as changed by event `mark` (its id): they are
 * read again, and an answer asked before this mark is not kept.
 */
enum store_status store_topic_details_stale(
    struct store *st, const char *name, size_t len, uint64_t mark) STORE_WUR;
/* Every entry's settings must be read again (after a reorganisation). */
enum store_status store_topic_details_stale_all(struct store *st) STORE_WUR;
/* An entry whose settings must be read: name (malloc'd) and its mark. */
enum store_status store_topic_details_next_stale(
    struct store *st, char **name, uint64_t *mark) STORE_WUR;
/* Stores settings read for `name`, unless it was marked again since. */
enum store_status store_topic_details_put(struct store *st, const char *name,
    uint64_t mark, const struct store_topic_details *d) STORE_WUR;
/*
 * STORE_OK with the last settings read (*stale tells whether a newer
 * change is still to be read), STORE_MISSING if none were read yet.
 */
enum store_status store_topic_details_get(struct store *st, const char *name,
    struct store_topic_details *d, bool *stale) STORE_WUR;

/*
 * The owner an entry was last transferred to (TopicChanged "owner"):
 * STORE_OK, or STORE_MISSING when it never was (its creator owns it).
 */
enum store_status store_topic_owner(
    struct store *st, const char *name, char owner[43]) STORE_WUR;

/*
 * Calls fn for each transfer of entry `name` (TopicChanged "owner") up to
 * time `to`, in chain order, until it returns false.
 */
enum store_status store_topic_transfers(struct store *st, const char *name,
    uint64_t to,
    bool (*fn)(void *arg, uint64_t id, const struct store_event *ev),
    void *arg) STORE_WUR;

/* Counts for the audit status: stored SummaryRoot events. */
uint64_t store_summary_count(struct store *st);

/*
 * Erasure of local alert rows. The IP hashes of the rows naming `ip`
 * (distinct, each once to fn), then the rows themselves: those whose ip
 * is `ip`, or (for an address) whose address or subject is it. *removed
 * counts the rows deleted.
 */
enum store_status store_alert_ip_hashes(struct store *st, const char *ip,
    bool (*fn)(void *arg, const char *ip_hash), void *arg) STORE_WUR;
enum store_status store_alerts_erase_ip(
    struct store *st, const char *ip, uint64_t *removed) STORE_WUR;
enum store_status store_alerts_erase_address(
    struct store *st, const char *address, uint64_t *removed) STORE_WUR;
/*
 * After an erasure: moves the write-ahead log into the database and
 * empties it, so that no copy of the erased rows stays in it (the
 * deletions themselves overwrite the rows' bytes).
 */
enum store_status store_erase_flush(struct store *st) STORE_WUR;

/* ---- Idempotent submissions -------------------------------------------- */

/*
 * The oldest transaction whose purpose is `purpose` and which has not
 * failed: STORE_OK with its id, STORE_MISSING when there is none.
 */
enum store_status store_tx_find_purpose(
    struct store *st, const char *purpose, uint64_t *id) STORE_WUR;

#endif

/*
 * chaind's sqlite database (see store.h). Statements are prepared once;
 * every query is a primary-key or index lookup, so none of them holds the
 * event loop for long. 64-bit unsigned values are stored bit for bit in
 * sqlite's signed INTEGER.
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "auth.h"
#include "log.h"

enum store_stmt {
	Q_META_GET,
	Q_META_SET,
	Q_EVENT_ADD,
	Q_EVENTS_DROP,
	Q_EVENT_COUNT,
	Q_TOPIC_ADD,
	Q_TOPICS_DROP,
	Q_TOPICS_EACH,
	Q_ACCESS_GET,
	Q_ACCESS_PUT,
	Q_ACCESS_FORGET,
	Q_ACCESS_FORGET_NAME,
	Q_ACCESS_FORGET_ALL,
	Q_ACCESS_COUNT,
	Q_BLOCK_PUT,
	Q_BLOCK_GET,
	Q_BLOCKS_TRIM,
	Q_TX_ADD,
	Q_TX_NEXT_QUEUED,
	Q_TX_MARK_SENT,
	Q_TX_FINISH,
	Q_TX_NEXT_SENT,
	Q_TX_PENDING,
	Q_EVENT_SEQ_KEEP,
	Q_EVENTS_AFTER,
	Q_ALERT_ADD,
	Q_ALERT_FIND_BAN,
	Q_ALERT_FIND_COUNTRY,
	Q_ALERT_COUNT_QUEUED,
	Q_BEGIN,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_COUNT
};

static const char *const store_sql[Q_COUNT] = {
    [Q_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [Q_META_SET] = "INSERT INTO meta(key, value) VALUES(?1, ?2) "
		   "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    /*
     * An event's rowid is its id for cursors (IPC_BAN_SYNC): one above
     * every id ever given, including those of events a reorganisation
     * dropped (meta event_seq), so an id is never given twice.
     */
    [Q_EVENT_ADD] = "INSERT OR REPLACE INTO events(rowid, block, log_index, "
		    "tx_hash, time, action, source, target, name, reason) "
		    "VALUES(max(coalesce((SELECT max(rowid) FROM events), 0), "
		    "coalesce((SELECT value FROM meta "
		    "WHERE key = 'event_seq'), 0)) + 1, "
		    "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [Q_EVENTS_DROP] = "DELETE FROM events WHERE block >= ?1",
    [Q_EVENT_COUNT] = "SELECT count(*) FROM events",
    [Q_TOPIC_ADD] = "INSERT OR IGNORE INTO topics(name, block) "
		    "VALUES(?1, ?2)",
    [Q_TOPICS_DROP] = "DELETE FROM topics WHERE block >= ?1",
    [Q_TOPICS_EACH] = "SELECT name FROM topics ORDER BY rowid",
    [Q_ACCESS_GET] = "SELECT present, pub_expiry, sub_expiry, sensitive, "
		     "countries, block FROM access "
		     "WHERE name = ?1 AND address = ?2",
    [Q_ACCESS_PUT] = "INSERT OR REPLACE INTO access(name, address, "
		     "present, pub_expiry, sub_expiry, sensitive, "
		     "countries, block) "
		     "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [Q_ACCESS_FORGET] = "DELETE FROM access WHERE name = ?1 AND "
			"address = ?2",
    [Q_ACCESS_FORGET_NAME] = "DELETE FROM access WHERE name = ?1",
    [Q_ACCESS_FORGET_ALL] = "DELETE FROM access",
    [Q_ACCESS_COUNT] = "SELECT count(*) FROM access",
    [Q_BLOCK_PUT] = "INSERT OR REPLACE INTO blocks(number, hash) "
		    "VALUES(?1, ?2)",
    [Q_BLOCK_GET] = "SELECT hash FROM blocks WHERE number = ?1",
    [Q_BLOCKS_TRIM] = "DELETE FROM blocks WHERE number >= ?1 OR "
		      "number < ?2",
    [Q_TX_ADD] = "INSERT INTO txs(purpose, data, state, created) "
		 "VALUES(?1, ?2, 0, ?3)",
    [Q_TX_NEXT_QUEUED] = "SELECT id, purpose, data FROM txs "
			 "WHERE state = 0 ORDER BY id LIMIT 1",
    [Q_TX_MARK_SENT] = "UPDATE txs SET state = 1, nonce = ?2, hash = ?3, "
		       "raw = ?4 WHERE id = ?1",
    [Q_TX_FINISH] = "UPDATE txs SET state = ?2, block = ?3, error = ?4 "
		    "WHERE id = ?1",
    [Q_TX_NEXT_SENT] = "SELECT id, purpose, data, nonce, hash, raw "
		       "FROM txs WHERE state = 1 AND id > ?1 "
		       "ORDER BY id LIMIT 1",
    [Q_TX_PENDING] = "SELECT count(*) FROM txs WHERE state IN (0, 1)",
    [Q_EVENT_SEQ_KEEP] = "INSERT INTO meta(key, value) "
			 "SELECT 'event_seq', coalesce(max(rowid), 0) "
			 "FROM events WHERE true ON CONFLICT(key) DO UPDATE "
			 "SET value = max(value, excluded.value)",
    [Q_EVENTS_AFTER] = "SELECT rowid, block, log_index, tx_hash, time, "
		       "action, source, target, name, reason FROM events "
		       "WHERE action = ?1 AND rowid > ?2 ORDER BY rowid",
    [Q_ALERT_ADD] = "INSERT INTO alerts(time, action, ip, ip_hash, "
		    "subject, address, reason, until, outcome, tx) "
		    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    /* A queued alert whose transaction failed does not count as written. */
    [Q_ALERT_FIND_BAN] = "SELECT 1 FROM alerts WHERE action = ?1 AND "
			 "subject = ?2 AND outcome = ?3 AND until = ?4 AND "
			 "NOT EXISTS (SELECT 1 FROM txs WHERE "
			 "txs.id = alerts.tx AND txs.state = ?5) LIMIT 1",
    [Q_ALERT_FIND_COUNTRY] = "SELECT 1 FROM alerts WHERE action = ?1 AND "
			     "subject = ?2 AND outcome = ?3 AND "
			     "time >= ?4 AND ip = ?5 AND ip_hash = ?6 AND "
			     "NOT EXISTS (SELECT 1 FROM txs WHERE "
			     "txs.id = alerts.tx AND txs.state = ?7) LIMIT 1",
    [Q_ALERT_COUNT_QUEUED] = "SELECT count(*) FROM alerts "
			     "WHERE outcome = ?1 AND time >= ?2",
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
};

static const char store_schema[] =
    "PRAGMA journal_mode = WAL;"
    "PRAGMA synchronous = NORMAL;"
    "CREATE TABLE IF NOT EXISTS meta("
    "  key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS events("
    "  block INTEGER NOT NULL, log_index INTEGER NOT NULL,"
    "  tx_hash TEXT NOT NULL, time INTEGER NOT NULL,"
    "  action INTEGER NOT NULL, source TEXT NOT NULL,"
    "  target TEXT NOT NULL, name TEXT NOT NULL, reason TEXT NOT NULL,"
    "  PRIMARY KEY(block, log_index));"
    "CREATE INDEX IF NOT EXISTS events_time ON events(time);"
    "CREATE INDEX IF NOT EXISTS events_name ON events(name, time);"
    "CREATE INDEX IF NOT EXISTS events_target ON events(target, time);"
    "CREATE INDEX IF NOT EXISTS events_source ON events(source, time);"
    "CREATE INDEX IF NOT EXISTS events_action ON events(action, time);"
    "CREATE TABLE IF NOT EXISTS topics("
    "  name TEXT PRIMARY KEY, block INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS access("
    "  name TEXT NOT NULL, address TEXT NOT NULL,"
    "  present INTEGER NOT NULL, pub_expiry INTEGER NOT NULL,"
    "  sub_expiry INTEGER NOT NULL, sensitive INTEGER NOT NULL,"
    "  countries TEXT NOT NULL, block INTEGER NOT NULL,"
    "  PRIMARY KEY(name, address));"
    "CREATE TABLE IF NOT EXISTS blocks("
    "  number INTEGER PRIMARY KEY, hash TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS txs("
    "  id INTEGER PRIMARY KEY, purpose TEXT NOT NULL, data BLOB NOT NULL,"
    "  state INTEGER NOT NULL, created INTEGER NOT NULL,"
    "  nonce INTEGER, hash TEXT, raw BLOB, block INTEGER, error TEXT);"
    "CREATE INDEX IF NOT EXISTS txs_state ON txs(state, id);"
    /* With the implicit rowid: the Banned events after a cursor. */
    "CREATE INDEX IF NOT EXISTS events_action_id ON events(action);"
    /*
     * Every alert authd asked for, whatever became of it. The clear IP is
     * personal data kept only here: indexed by ip and address so that a
     * person's rows are found (and erased) without a scan.
     */
    "CREATE TABLE IF NOT EXISTS alerts("
    "  id INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
    "  action INTEGER NOT NULL, ip TEXT NOT NULL, ip_hash TEXT NOT NULL,"
    "  subject TEXT NOT NULL, address TEXT NOT NULL, reason TEXT NOT NULL,"
    "  until INTEGER NOT NULL, outcome INTEGER NOT NULL,"
    "  tx INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS alerts_ip ON alerts(ip);"
    "CREATE INDEX IF NOT EXISTS alerts_ip_hash ON alerts(ip_hash);"
    "CREATE INDEX IF NOT EXISTS alerts_address ON alerts(address);"
    "CREATE INDEX IF NOT EXISTS alerts_subject ON "
    "  alerts(action, subject, outcome);"
    "CREATE INDEX IF NOT EXISTS alerts_outcome ON alerts(outcome, time);";

struct store {
	sqlite3 *db;
	sqlite3_stmt *stmt[Q_COUNT];
};

/* Resets a statement for reuse and clears its bindings. */
static sqlite3_stmt *
store_prepare(struct store *st, enum store_stmt q)
{
	sqlite3_stmt *s = st->stmt[q];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

/* Runs a statement that returns no rows. */
static enum store_status
store_exec(struct store *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		log_err("sqlite: %s", sqlite3_errmsg(st->db));
		return STORE_ERROR;
	}
	return STORE_OK;
}

/*
 * Steps a query that returns at most one row: STORE_OK with a row to
 * read, STORE_MISSING when there is none, STORE_ERROR (logged) on failure.
 * The caller resets the statement after reading.
 */
static enum store_status
store_step_row(struct store *st, sqlite3_stmt *s)
{
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		return STORE_OK;
	case SQLITE_DONE:
		return STORE_MISSING;
	default:
		log_err("sqlite: %s", sqlite3_errmsg(st->db));
		return STORE_ERROR;
	}
}

static void
bind_u64(sqlite3_stmt *s, int i, uint64_t v)
{
	sqlite3_bind_int64(s, i, (sqlite3_int64)v);
}

static void
bind_text(sqlite3_stmt *s, int i, const char *text, size_t len)
{
	/* An empty string may come as NULL (from msgpack): text, not NULL. */
	sqlite3_bind_text(
	    s, i, text != NULL ? text : "", (int)len, SQLITE_TRANSIENT);
}

static uint64_t
column_u64(sqlite3_stmt *s, int i)
{
	return (uint64_t)sqlite3_column_int64(s, i);
}

static uint64_t
store_count(struct store *st, enum store_stmt q)
{
	sqlite3_stmt *s = store_prepare(st, q);
	uint64_t n = 0;

	if (sqlite3_step(s) == SQLITE_ROW)
		n = column_u64(s, 0);
	sqlite3_reset(s);
	return n;
}

struct store *
store_open(const char *path, char *err, size_t errlen)
{
	struct store *st;
	char *msg = NULL;
	int q;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &st->db,
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
		    SQLITE_OPEN_NOMUTEX,
		NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
		    st->db ? sqlite3_errmsg(st->db) : "cannot open");
		store_close(st);
		return NULL;
	}
	/* A busy database must not hold the loop for long. */
	sqlite3_busy_timeout(st->db, 100);
	if (sqlite3_exec(st->db, store_schema, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, msg ? msg : "schema");
		sqlite3_free(msg);
		store_close(st);
		return NULL;
	}
	for (q = 0; q < Q_COUNT; q++) {
		if (sqlite3_prepare_v3(st->db, store_sql[q], -1,
			SQLITE_PREPARE_PERSISTENT, &st->stmt[q],
			NULL) != SQLITE_OK) {
			snprintf(err, errlen, "%s: %s", path,
			    sqlite3_errmsg(st->db));
			store_close(st);
			return NULL;
		}
	}
	return st;
}

void
store_close(struct store *st)
{
	int q;

	if (st == NULL)
		return;
	for (q = 0; q < Q_COUNT; q++)
		sqlite3_finalize(st->stmt[q]);
	sqlite3_close(st->db);
	free(st);
}

enum store_status
store_meta_get(struct store *st, const char *key, uint64_t *value)
{
	sqlite3_stmt *s = store_prepare(st, Q_META_GET);
	enum store_status r;

	bind_text(s, 1, key, strlen(key));
	if ((r = store_step_row(st, s)) == STORE_OK) {
		*value = column_u64(s, 0);
	}
	sqlite3_reset(s);
	return r;
}

enum store_status
store_meta_set(struct store *st, const char *key, uint64_t value)
{
	sqlite3_stmt *s = store_prepare(st, Q_META_SET);

	bind_text(s, 1, key, strlen(key));
	bind_u64(s, 2, value);
	return store_exec(st, s);
}

enum store_status
store_begin(struct store *st)
{
	return store_exec(st, store_prepare(st, Q_BEGIN));
}

enum store_status
store_commit(struct store *st)
{
	return store_exec(st, store_prepare(st, Q_COMMIT));
}

void
store_rollback(struct store *st)
{
	(void)store_exec(st, store_prepare(st, Q_ROLLBACK));
}

enum store_status
store_event_add(struct store *st, const struct store_event *ev)
{
	sqlite3_stmt *s = store_prepare(st, Q_EVENT_ADD);

	bind_u64(s, 1, ev->block);
	bind_u64(s, 2, ev->log_index);
	bind_text(s, 3, ev->tx_hash, strlen(ev->tx_hash));
	bind_u64(s, 4, ev->time);
	bind_u64(s, 5, ev->action);
	bind_text(s, 6, ev->source, strlen(ev->source));
	bind_text(s, 7, ev->target, strlen(ev->target));
	bind_text(s, 8, ev->name, ev->name_len);
	bind_text(s, 9, ev->reason, ev->reason_len);
	return store_exec(st, s);
}

enum store_status
store_events_drop_from(struct store *st, uint64_t from)
{
	sqlite3_stmt *s;

	/* Remember the highest id first: the next event gets a new one. */
	if (store_exec(st, store_prepare(st, Q_EVENT_SEQ_KEEP)) != STORE_OK)
		return STORE_ERROR;
	s = store_prepare(st, Q_EVENTS_DROP);
	bind_u64(s, 1, from);
	return store_exec(st, s);
}

enum store_status
store_events_after(struct store *st, unsigned action, uint64_t after,
    bool (*fn)(void *arg, uint64_t id, const struct store_event *ev), void *arg)
{
	sqlite3_stmt *s = store_prepare(st, Q_EVENTS_AFTER);
	struct store_event ev;
	enum store_status r = STORE_OK;
	int rc;

	bind_u64(s, 1, action);
	bind_u64(s, 2, after);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&ev, 0, sizeof(ev));
		ev.block = column_u64(s, 1);
		ev.log_index = column_u64(s, 2);
		snprintf(ev.tx_hash, sizeof(ev.tx_hash), "%s",
		    (const char *)sqlite3_column_text(s, 3));
		ev.time = column_u64(s, 4);
		ev.action = (unsigned)sqlite3_column_int(s, 5);
		snprintf(ev.source, sizeof(ev.source), "%s",
		    (const char *)sqlite3_column_text(s, 6));
		snprintf(ev.target, sizeof(ev.target), "%s",
		    (const char *)sqlite3_column_text(s, 7));
		ev.name = (const char *)sqlite3_column_text(s, 8);
		ev.name_len = (size_t)sqlite3_column_bytes(s, 8);
		ev.reason = (const char *)sqlite3_column_text(s, 9);
		ev.reason_len = (size_t)sqlite3_column_bytes(s, 9);
		if (!fn(arg, column_u64(s, 0), &ev))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_err("sqlite: %s", sqlite3_errmsg(st->db));
		r = STORE_ERROR;
	}
	sqlite3_reset(s);
	return r;
}

uint64_t
store_event_count(struct store *st)
{
	return store_count(st, Q_EVENT_COUNT);
}

enum store_status
store_topic_add(struct store *st, const char *name, size_t len, uint64_t block)
{
	sqlite3_stmt *s = store_prepare(st, Q_TOPIC_ADD);

	bind_text(s, 1, name, len);
	bind_u64(s, 2, block);
	return store_exec(st, s);
}

enum store_status
store_topics_drop_from(struct store *st, uint64_t from)
{
	sqlite3_stmt *s = store_prepare(st, Q_TOPICS_DROP);

	bind_u64(s, 1, from);
	return store_exec(st, s);
}

enum store_status
store_topics_each(struct store *st,
    bool (*fn)(void *arg, const char *name, size_t len), void *arg)
{
	sqlite3_stmt *s = store_prepare(st, Q_TOPICS_EACH);
	enum store_status r = STORE_OK;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (!fn(arg, (const char *)sqlite3_column_text(s, 0),
			(size_t)sqlite3_column_bytes(s, 0)))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_err("sqlite: %s", sqlite3_errmsg(st->db));
		r = STORE_ERROR;
	}
	sqlite3_reset(s);
	return r;
}

enum store_status
store_access_get(struct store *st, const char *name, const char *address,
    struct store_access *out)
{
	sqlite3_stmt *s = store_prepare(st, Q_ACCESS_GET);
	enum store_status r;

	bind_text(s, 1, name, strlen(name));
	bind_text(s, 2, address, strlen(address));
	if ((r = store_step_row(st, s)) == STORE_OK) {
		out->exists = sqlite3_column_int(s, 0) != 0;
		out->pub_expiry = column_u64(s, 1);
		out->sub_expiry = column_u64(s, 2);
		out->sensitive = sqlite3_column_int(s, 3) != 0;
		snprintf(out->countries, sizeof(out->countries), "%s",
		    (const char *)sqlite3_column_text(s, 4));
		out->block = column_u64(s, 5);
	}
	sqlite3_reset(s);
	return r;
}

enum store_status
store_access_put(struct store *st, const char *name, const char *address,
    const struct store_access *a)
{
	sqlite3_stmt *s = store_prepare(st, Q_ACCESS_PUT);

	bind_text(s, 1, name, strlen(name));
	bind_text(s, 2, address, strlen(address));
	sqlite3_bind_int(s, 3, a->exists);
	bind_u64(s, 4, a->pub_expiry);
	bind_u64(s, 5, a->sub_expiry);
	sqlite3_bind_int(s, 6, a->sensitive);
	bind_text(s, 7, a->countries, strlen(a->countries));
	bind_u64(s, 8, a->block);
	return store_exec(st, s);
}

enum store_status
store_access_forget(
    struct store *st, const char *name, const char *address_or_null)
{
	sqlite3_stmt *s;

	if (address_or_null == NULL) {
		s = store_prepare(st, Q_ACCESS_FORGET_NAME);
		bind_text(s, 1, name, strlen(name));
	} else {
		s = store_prepare(st, Q_ACCESS_FORGET);
		bind_text(s, 1, name, strlen(name));
		bind_text(s, 2, address_or_null, strlen(address_or_null));
	}
	return store_exec(st, s);
}

enum store_status
store_access_forget_all(struct store *st)
{
	return store_exec(st, store_prepare(st, Q_ACCESS_FORGET_ALL));
}

uint64_t
store_access_count(struct store *st)
{
	return store_count(st, Q_ACCESS_COUNT);
}

enum store_status
store_block_put(struct store *st, uint64_t number, const char *hash)
{
	sqlite3_stmt *s = store_prepare(st, Q_BLOCK_PUT);

	bind_u64(s, 1, number);
	bind_text(s, 2, hash, strlen(hash));
	return store_exec(st, s);
}

enum store_status
store_block_get(struct store *st, uint64_t number, char hash[67])
{
	sqlite3_stmt *s = store_prepare(st, Q_BLOCK_GET);
	enum store_status r;

	bind_u64(s, 1, number);
	if ((r = store_step_row(st, s)) == STORE_OK) {
		snprintf(
		    hash, 67, "%s", (const char *)sqlite3_column_text(s, 0));
	}
	sqlite3_reset(s);
	return r;
}

enum store_status
store_blocks_trim(struct store *st, uint64_t from, uint64_t keep_from)
{
	sqlite3_stmt *s = store_prepare(st, Q_BLOCKS_TRIM);

	bind_u64(s, 1, from);
	bind_u64(s, 2, keep_from);
	return store_exec(st, s);
}

/* ---- The wallet's transactions ---------------------------------------- */

void
store_tx_free(struct store_tx *tx)
{
	free(tx->data);
	free(tx->raw);
	memset(tx, 0, sizeof(*tx));
}

static bool
column_blob(sqlite3_stmt *s, int i, uint8_t **out, size_t *len)
{
	size_t n = (size_t)sqlite3_column_bytes(s, i);
	const void *p = sqlite3_column_blob(s, i);

	if ((*out = malloc(n ? n : 1)) == NULL)
		return false;
	if (n > 0)
		memcpy(*out, p, n);
	*len = n;
	return true;
}

enum store_status
store_tx_add(struct store *st, const char *purpose, const uint8_t *data,
    size_t len, uint64_t now, uint64_t *id)
{
	sqlite3_stmt *s = store_prepare(st, Q_TX_ADD);
	enum store_status r;

	bind_text(s, 1, purpose, strlen(purpose));
	sqlite3_bind_blob(s, 2, data, (int)len, SQLITE_TRANSIENT);
	bind_u64(s, 3, now);
	if ((r = store_exec(st, s)) == STORE_OK)
		*id = (uint64_t)sqlite3_last_insert_rowid(st->db);
	return r;
}

/* Reads id, purpose, data (and nonce, hash, raw when `sent`). */
static enum store_status
store_tx_row(struct store *st, sqlite3_stmt *s, bool sent, struct store_tx *out)
{
	enum store_status r;

	memset(out, 0, sizeof(*out));
	if ((r = store_step_row(st, s)) == STORE_OK) {
		out->id = column_u64(s, 0);
		snprintf(out->purpose, sizeof(out->purpose), "%s",
		    (const char *)sqlite3_column_text(s, 1));
		r = column_blob(s, 2, &out->data, &out->data_len) ? STORE_OK
								  : STORE_ERROR;
		if (r == STORE_OK && sent) {
			out->nonce = column_u64(s, 3);
			snprintf(out->hash, sizeof(out->hash), "%s",
			    (const char *)sqlite3_column_text(s, 4));
			if (!column_blob(s, 5, &out->raw, &out->raw_len))
				r = STORE_ERROR;
		}
	}
	sqlite3_reset(s);
	if (r != STORE_OK)
		store_tx_free(out);
	return r;
}

enum store_status
store_tx_next_queued(struct store *st, struct store_tx *out)
{
	return store_tx_row(
	    st, store_prepare(st, Q_TX_NEXT_QUEUED), false, out);
}

enum store_status
store_tx_next_sent(struct store *st, uint64_t after_id, struct store_tx *out)
{
	sqlite3_stmt *s = store_prepare(st, Q_TX_NEXT_SENT);

	bind_u64(s, 1, after_id);
	return store_tx_row(st, s, true, out);
}

enum store_status
store_tx_mark_sent(struct store *st, uint64_t id, uint64_t nonce,
    const char *hash, const uint8_t *raw, size_t raw_len)
{
	sqlite3_stmt *s;

	if (store_begin(st) != STORE_OK)
		return STORE_ERROR;
	s = store_prepare(st, Q_TX_MARK_SENT);
	bind_u64(s, 1, id);
	bind_u64(s, 2, nonce);
	bind_text(s, 3, hash, strlen(hash));
	sqlite3_bind_blob(s, 4, raw, (int)raw_len, SQLITE_TRANSIENT);
	if (store_exec(st, s) != STORE_OK ||
	    store_meta_set(st, "next_nonce", nonce + 1) != STORE_OK ||
	    store_commit(st) != STORE_OK) {
		store_rollback(st);
		return STORE_ERROR;
	}
	return STORE_OK;
}

enum store_status
store_tx_finish(struct store *st, uint64_t id, enum store_tx_state state,
    uint64_t block, const char *error)
{
	sqlite3_stmt *s = store_prepare(st, Q_TX_FINISH);

	bind_u64(s, 1, id);
	sqlite3_bind_int(s, 2, (int)state);
	bind_u64(s, 3, block);
	if (error != NULL)
		bind_text(s, 4, error, strlen(error));
	return store_exec(st, s);
}

uint64_t
store_tx_pending(struct store *st)
{
	return store_count(st, Q_TX_PENDING);
}

/* ---- Alerts ------------------------------------------------------------ */

enum store_status
store_alert_add(struct store *st, const struct store_alert *a, uint64_t *id)
{
	sqlite3_stmt *s = store_prepare(st, Q_ALERT_ADD);
	enum store_status r;

	bind_u64(s, 1, a->time);
	bind_u64(s, 2, a->action);
	bind_text(s, 3, a->ip, strlen(a->ip));
	bind_text(s, 4, a->ip_hash, strlen(a->ip_hash));
	bind_text(s, 5, a->subject, a->subject_len);
	bind_text(s, 6, a->address, strlen(a->address));
	bind_text(s, 7, a->reason, a->reason_len);
	bind_u64(s, 8, a->until);
	bind_u64(s, 9, a->outcome);
	bind_u64(s, 10, a->tx);
	if ((r = store_exec(st, s)) == STORE_OK && id != NULL)
		*id = (uint64_t)sqlite3_last_insert_rowid(st->db);
	return r;
}

/* Steps a "SELECT 1 ... LIMIT 1": STORE_OK if there is a row. */
static enum store_status
store_exists(struct store *st, sqlite3_stmt *s)
{
	enum store_status r = store_step_row(st, s);

	sqlite3_reset(s);
	return r;
}

enum store_status
store_alert_find_ban(
    struct store *st, const char *subject, size_t len, uint64_t until)
{
	sqlite3_stmt *s = store_prepare(st, Q_ALERT_FIND_BAN);

	bind_u64(s, 1, ALERT_BANNED);
	bind_text(s, 2, subject, len);
	bind_u64(s, 3, ALERT_QUEUED);
	bind_u64(s, 4, until);
	bind_u64(s, 5, STORE_TX_FAILED);
	return store_exists(st, s);
}

enum store_status
store_alert_find_country(struct store *st, const char *ip, const char *ip_hash,
    const char *topic, size_t len, uint64_t since)
{
	sqlite3_stmt *s = store_prepare(st, Q_ALERT_FIND_COUNTRY);

	bind_u64(s, 1, ALERT_WRONG_COUNTRY);
	bind_text(s, 2, topic, len);
	bind_u64(s, 3, ALERT_QUEUED);
	bind_u64(s, 4, since);
	bind_text(s, 5, ip, strlen(ip));
	bind_text(s, 6, ip_hash, strlen(ip_hash));
	bind_u64(s, 7, STORE_TX_FAILED);
	return store_exists(st, s);
}

enum store_status
store_alert_count_queued(struct store *st, uint64_t since, uint64_t *n)
{
	sqlite3_stmt *s = store_prepare(st, Q_ALERT_COUNT_QUEUED);
	enum store_status r;

	bind_u64(s, 1, ALERT_QUEUED);
	bind_u64(s, 2, since);
	r = store_step_row(st, s);
	if (r == STORE_OK)
		*n = column_u64(s, 0);
	sqlite3_reset(s);
	return r == STORE_MISSING ? STORE_ERROR : r;
}

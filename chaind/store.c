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
#include "sqldb.h"

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
	Q_EVENT_TIME_AT,
	Q_SUMMARY_ROOT_ADD,
	Q_SUMMARY_SPAN_KEEP,
	Q_SUMMARY_ROOT_GET,
	Q_SUMMARIES_OVERLAP,
	Q_SUMMARY_COUNT,
	Q_GRANT_EXPIRY_PUT,
	Q_GRANT_EXPIRY_GET,
	Q_GRANT_EXPIRY_NEXT,
	Q_EVENT_MAX_ID,
	Q_TOPIC_DETAILS_STALE,
	Q_TOPIC_DETAILS_STALE_ALL,
	Q_TOPIC_DETAILS_FORGET_GONE,
	Q_TOPIC_DETAILS_NEXT,
	Q_TOPIC_DETAILS_PUT,
	Q_TOPIC_DETAILS_GET,
	Q_ALERT_IP_HASHES,
	Q_ALERTS_ERASE_IP,
	Q_ALERTS_ERASE_ADDRESS,
	Q_SUMMARY_ROOTS_DROP,
	Q_GRANT_EXPIRY_DROP,
	Q_TOPIC_OWNER,
	Q_TOPIC_TRANSFERS,
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
    /* The time of an event, or of the one before it if it is gone. */
    [Q_EVENT_TIME_AT] = "SELECT time FROM events WHERE rowid <= ?1 "
			"ORDER BY rowid DESC LIMIT 1",
    /* The Summary event is the previous log of the same transaction. */
    [Q_SUMMARY_ROOT_ADD] = "INSERT OR REPLACE INTO summary_roots(block, "
			   "log_index, tx_hash, event_id, root, name, "
			   "period_start, period_end) VALUES(?1, ?2, ?3, "
			   "(SELECT rowid FROM events WHERE block = ?1 AND "
			   "log_index = ?2 - 1 AND tx_hash = ?3 AND "
			   "action = 7), ?4, ?5, ?6, ?7)",
    /* The longest period seen bounds the search for overlapping ones. */
    [Q_SUMMARY_SPAN_KEEP] = "INSERT INTO meta(key, value) "
			    "VALUES('summary_span', ?1) ON CONFLICT(key) DO "
			    "UPDATE SET value = max(value, excluded.value)",
    [Q_SUMMARY_ROOT_GET] = "SELECT root, period_start, period_end "
			   "FROM summary_roots WHERE event_id = ?1",
    [Q_SUMMARIES_OVERLAP] =
	"SELECT e.rowid, e.block, e.log_index, e.tx_hash, e.time, e.action, "
	"e.source, e.target, e.name, e.reason, r.root, r.period_start, "
	"r.period_end FROM summary_roots AS r "
	"INDEXED BY summary_roots_period JOIN events AS e "
	"ON e.rowid = r.event_id WHERE r.name = ?1 AND "
	"r.period_end >= ?2 AND r.period_end <= ?3 AND "
	"r.period_start <= ?4 AND (r.period_end, r.event_id) > (?5, ?6) "
	"ORDER BY r.period_end, r.event_id LIMIT ?7",
    [Q_SUMMARY_COUNT] = "SELECT count(*) FROM summary_roots",
    [Q_GRANT_EXPIRY_PUT] = "INSERT OR REPLACE INTO grant_expiry("
			   "event_id, expiry) VALUES(?1, ?2)",
    [Q_GRANT_EXPIRY_GET] = "SELECT expiry FROM grant_expiry "
			   "WHERE event_id = ?1",
    [Q_GRANT_EXPIRY_NEXT] = "SELECT rowid, block, action, target, name "
			    "FROM events WHERE rowid > ?1 AND "
			    "action IN (1, 2) AND NOT EXISTS (SELECT 1 FROM "
			    "grant_expiry WHERE event_id = events.rowid) "
			    "ORDER BY rowid LIMIT 1",
    [Q_EVENT_MAX_ID] = "SELECT coalesce(max(rowid), 0) FROM events",
    [Q_TOPIC_DETAILS_STALE] = "INSERT INTO topic_details(name, stale) "
			      "VALUES(?1, ?2) ON CONFLICT(name) DO UPDATE "
			      "SET stale = excluded.stale",
    [Q_TOPIC_DETAILS_STALE_ALL] = "UPDATE topic_details SET stale = "
				  "-1 WHERE stale = 0",
    [Q_TOPIC_DETAILS_FORGET_GONE] = "DELETE FROM topic_details WHERE "
				    "name NOT IN (SELECT name FROM topics)",
    [Q_TOPIC_DETAILS_NEXT] = "SELECT name, stale FROM topic_details "
			     "WHERE stale != 0 LIMIT 1",
    [Q_TOPIC_DETAILS_PUT] = "UPDATE topic_details SET stale = 0, "
			    "present = ?3, sensitive = ?4, self_service = ?5, "
			    "pub_price = ?6, sub_price = ?7, period = ?8, "
			    "countries = ?9, block = ?10 "
			    "WHERE name = ?1 AND stale = ?2",
    [Q_TOPIC_DETAILS_GET] = "SELECT stale, present, sensitive, "
			    "self_service, pub_price, sub_price, period, "
			    "countries, block FROM topic_details "
			    "WHERE name = ?1 AND block IS NOT NULL",
    [Q_ALERT_IP_HASHES] = "SELECT DISTINCT ip_hash FROM alerts "
			  "WHERE ip = ?1 AND ip_hash != ''",
    [Q_ALERTS_ERASE_IP] = "DELETE FROM alerts WHERE ip = ?1",
    /* An address ban names the address as its subject. */
    [Q_ALERTS_ERASE_ADDRESS] = "DELETE FROM alerts WHERE address = ?1 OR "
			       "(action = ?2 AND subject = ?1)",
    [Q_SUMMARY_ROOTS_DROP] = "DELETE FROM summary_roots WHERE block >= ?1",
    /* The events of the undone blocks were the newest ones. */
    [Q_GRANT_EXPIRY_DROP] = "DELETE FROM grant_expiry WHERE event_id > "
			    "(SELECT coalesce(max(rowid), 0) FROM events)",
    /* The last transfer of an entry (TopicChanged "owner"). */
    [Q_TOPIC_OWNER] = "SELECT target FROM events INDEXED BY events_owner "
		      "WHERE name = ?1 AND action = 8 AND reason = 'owner' "
		      "ORDER BY time DESC, rowid DESC LIMIT 1",
    [Q_TOPIC_TRANSFERS] = "SELECT rowid, block, log_index, tx_hash, time, "
			  "action, source, target, name, reason FROM events "
			  "INDEXED BY events_owner WHERE name = ?1 AND "
			  "action = 8 AND reason = 'owner' AND time <= ?2 "
			  "ORDER BY time, rowid",
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
    "CREATE INDEX IF NOT EXISTS txs_purpose ON txs(purpose, id);"
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
    "CREATE INDEX IF NOT EXISTS alerts_outcome ON alerts(outcome, time);"
    /*
     * For the audit queries (audit.c): each list is read along one of
     * these in (time, id) order, which is chain order.
     */
    "CREATE INDEX IF NOT EXISTS events_name_action ON "
    "  events(name, action, time);"
    "CREATE INDEX IF NOT EXISTS events_target_name ON "
    "  events(target, name, time);"
    "CREATE INDEX IF NOT EXISTS events_source_name ON "
    "  events(source, name, time);"
    /* Transfers of entries (TopicChanged "owner"), a few among many. */
    "CREATE INDEX IF NOT EXISTS events_owner ON events(name, time) "
    "  WHERE action = 8 AND reason = 'owner';"
    /* SummaryRoot events, each linked to its Summary event. */
    "CREATE TABLE IF NOT EXISTS summary_roots("
    "  block INTEGER NOT NULL, log_index INTEGER NOT NULL,"
    "  tx_hash TEXT NOT NULL, event_id INTEGER, root TEXT NOT NULL,"
    "  name TEXT NOT NULL, period_start INTEGER NOT NULL,"
    "  period_end INTEGER NOT NULL, PRIMARY KEY(block, log_index));"
    "CREATE INDEX IF NOT EXISTS summary_roots_event ON "
    "  summary_roots(event_id);"
    "CREATE INDEX IF NOT EXISTS summary_roots_period ON "
    "  summary_roots(name, period_end, event_id);"
    /* What a grant event left: the expiry (NULL: the node could not say). */
    "CREATE TABLE IF NOT EXISTS grant_expiry("
    "  event_id INTEGER PRIMARY KEY, expiry INTEGER);"
    /*
     * Each entry's settings as topic(name) last answered; stale is the
     * id of the event that changed them since (0: current).
     */
    "CREATE TABLE IF NOT EXISTS topic_details("
    "  name TEXT PRIMARY KEY, stale INTEGER NOT NULL, present INTEGER,"
    "  sensitive INTEGER, self_service INTEGER, pub_price TEXT,"
    "  sub_price TEXT, period INTEGER, countries TEXT, block INTEGER);"
    "CREATE INDEX IF NOT EXISTS topic_details_stale ON "
    "  topic_details(stale) WHERE stale != 0;";

struct store {
	sqlite3 *db;
	sqlite3_stmt *stmt[Q_COUNT];
};

/* A statement of the table, reset for reuse. */
static sqlite3_stmt *
store_prepare(struct store *st, enum store_stmt q)
{
	return sqldb_reset(st->stmt[q]);
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

static uint64_t
store_count(struct store *st, enum store_stmt q)
{
	sqlite3_stmt *s = store_prepare(st, q);
	uint64_t n = 0;

	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqldb_column_u64(s, 0);
	sqlite3_reset(s);
	return n;
}

struct store *
store_open(const char *path, char *err, size_t errlen)
{
	struct store *st;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	st->db = sqldb_open(
	    path, store_schema, store_sql, Q_COUNT, st->stmt, err, errlen);
	if (st->db == NULL) {
		free(st);
		return NULL;
	}
	return st;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	sqldb_close(st->db, st->stmt, Q_COUNT);
	free(st);
}

enum store_status
store_meta_get(struct store *st, const char *key, uint64_t *value)
{
	sqlite3_stmt *s = store_prepare(st, Q_META_GET);
	enum store_status r;

	sqldb_bind_text(s, 1, key, strlen(key));
	if ((r = store_step_row(st, s)) == STORE_OK) {
		*value = sqldb_column_u64(s, 0);
	}
	sqlite3_reset(s);
	return r;
}

enum store_status
store_meta_set(struct store *st, const char *key, uint64_t value)
{
	sqlite3_stmt *s = store_prepare(st, Q_META_SET);

	sqldb_bind_text(s, 1, key, strlen(key));
	sqldb_bind_u64(s, 2, value);
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

	sqldb_bind_u64(s, 1, ev->block);
	sqldb_bind_u64(s, 2, ev->log_index);
	sqldb_bind_text(s, 3, ev->tx_hash, strlen(ev->tx_hash));
	sqldb_bind_u64(s, 4, ev->time);
	sqldb_bind_u64(s, 5, ev->action);
	sqldb_bind_text(s, 6, ev->source, strlen(ev->source));
	sqldb_bind_text(s, 7, ev->target, strlen(ev->target));
	sqldb_bind_text(s, 8, ev->name, ev->name_len);
	sqldb_bind_text(s, 9, ev->reason, ev->reason_len);
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
	sqldb_bind_u64(s, 1, from);
	if (store_exec(st, s) != STORE_OK)
		return STORE_ERROR;
	/* What the audit queries learnt from those blocks goes with them. */
	s = store_prepare(st, Q_SUMMARY_ROOTS_DROP);
	sqldb_bind_u64(s, 1, from);
	if (store_exec(st, s) != STORE_OK)
		return STORE_ERROR;
	return store_exec(st, store_prepare(st, Q_GRANT_EXPIRY_DROP));
}

enum store_status
store_events_after(struct store *st, unsigned action, uint64_t after,
    bool (*fn)(void *arg, uint64_t id, const struct store_event *ev), void *arg)
{
	sqlite3_stmt *s = store_prepare(st, Q_EVENTS_AFTER);
	struct store_event ev;
	enum store_status r = STORE_OK;
	int rc;

	sqldb_bind_u64(s, 1, action);
	sqldb_bind_u64(s, 2, after);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&ev, 0, sizeof(ev));
		ev.block = sqldb_column_u64(s, 1);
		ev.log_index = sqldb_column_u64(s, 2);
		snprintf(ev.tx_hash, sizeof(ev.tx_hash), "%s",
		    (const char *)sqlite3_column_text(s, 3));
		ev.time = sqldb_column_u64(s, 4);
		ev.action = (unsigned)sqlite3_column_int(s, 5);
		snprintf(ev.source, sizeof(ev.source), "%s",
		    (const char *)sqlite3_column_text(s, 6));
		snprintf(ev.target, sizeof(ev.target), "%s",
		    (const char *)sqlite3_column_text(s, 7));
		ev.name = (const char *)sqlite3_column_text(s, 8);
		ev.name_len = (size_t)sqlite3_column_bytes(s, 8);
		ev.reason = (const char *)sqlite3_column_text(s, 9);
		ev.reason_len = (size_t)sqlite3_column_bytes(s, 9);
		if (!fn(arg, sqldb_column_u64(s, 0), &ev))
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

	sqldb_bind_text(s, 1, name, len);
	sqldb_bind_u64(s, 2, block);
	return store_exec(st, s);
}

enum store_status
store_topics_drop_from(struct store *st, uint64_t from)
{
	sqlite3_stmt *s = store_prepare(st, Q_TOPICS_DROP);

	sqldb_bind_u64(s, 1, from);
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

	sqldb_bind_text(s, 1, name, strlen(name));
	sqldb_bind_text(s, 2, address, strlen(address));
	if ((r = store_step_row(st, s)) == STORE_OK) {
		out->exists = sqlite3_column_int(s, 0) != 0;
		out->pub_expiry = sqldb_column_u64(s, 1);
		out->sub_expiry = sqldb_column_u64(s, 2);
		out->sensitive = sqlite3_column_int(s, 3) != 0;
		snprintf(out->countries, sizeof(out->countries), "%s",
		    (const char *)sqlite3_column_text(s, 4));
		out->block = sqldb_column_u64(s, 5);
	}
	sqlite3_reset(s);
	return r;
}

enum store_status
store_access_put(struct store *st, const char *name, const char *address,
    const struct store_access *a)
{
	sqlite3_stmt *s = store_prepare(st, Q_ACCESS_PUT);

	sqldb_bind_text(s, 1, name, strlen(name));
	sqldb_bind_text(s, 2, address, strlen(address));
	sqlite3_bind_int(s, 3, a->exists);
	sqldb_bind_u64(s, 4, a->pub_expiry);
	sqldb_bind_u64(s, 5, a->sub_expiry);
	sqlite3_bind_int(s, 6, a->sensitive);
	sqldb_bind_text(s, 7, a->countries, strlen(a->countries));
	sqldb_bind_u64(s, 8, a->block);
	return store_exec(st, s);
}

enum store_status
store_access_forget(
    struct store *st, const char *name, const char *address_or_null)
{
	sqlite3_stmt *s;

	if (address_or_null == NULL) {
		s = store_prepare(st, Q_ACCESS_FORGET_NAME);
		sqldb_bind_text(s, 1, name, strlen(name));
	} else {
		s = store_prepare(st, Q_ACCESS_FORGET);
		sqldb_bind_text(s, 1, name, strlen(name));
		sqldb_bind_text(s, 2, address_or_null, strlen(address_or_null));
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

	sqldb_bind_u64(s, 1, number);
	sqldb_bind_text(s, 2, hash, strlen(hash));
	return store_exec(st, s);
}

enum store_status
store_block_get(struct store *st, uint64_t number, char hash[67])
{
	sqlite3_stmt *s = store_prepare(st, Q_BLOCK_GET);
	enum store_status r;

	sqldb_bind_u64(s, 1, number);
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

	sqldb_bind_u64(s, 1, from);
	sqldb_bind_u64(s, 2, keep_from);
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

	sqldb_bind_text(s, 1, purpose, strlen(purpose));
	sqlite3_bind_blob(s, 2, data, (int)len, SQLITE_TRANSIENT);
	sqldb_bind_u64(s, 3, now);
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
		out->id = sqldb_column_u64(s, 0);
		snprintf(out->purpose, sizeof(out->purpose), "%s",
		    (const char *)sqlite3_column_text(s, 1));
		r = column_blob(s, 2, &out->data, &out->data_len) ? STORE_OK
								  : STORE_ERROR;
		if (r == STORE_OK && sent) {
			out->nonce = sqldb_column_u64(s, 3);
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

	sqldb_bind_u64(s, 1, after_id);
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
	sqldb_bind_u64(s, 1, id);
	sqldb_bind_u64(s, 2, nonce);
	sqldb_bind_text(s, 3, hash, strlen(hash));
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

	sqldb_bind_u64(s, 1, id);
	sqlite3_bind_int(s, 2, (int)state);
	sqldb_bind_u64(s, 3, block);
	if (error != NULL)
		sqldb_bind_text(s, 4, error, strlen(error));
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

	sqldb_bind_u64(s, 1, a->time);
	sqldb_bind_u64(s, 2, a->action);
	sqldb_bind_text(s, 3, a->ip, strlen(a->ip));
	sqldb_bind_text(s, 4, a->ip_hash, strlen(a->ip_hash));
	sqldb_bind_text(s, 5, a->subject, a->subject_len);
	sqldb_bind_text(s, 6, a->address, strlen(a->address));
	sqldb_bind_text(s, 7, a->reason, a->reason_len);
	sqldb_bind_u64(s, 8, a->until);
	sqldb_bind_u64(s, 9, a->outcome);
	sqldb_bind_u64(s, 10, a->tx);
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

	sqldb_bind_u64(s, 1, ALERT_BANNED);
	sqldb_bind_text(s, 2, subject, len);
	sqldb_bind_u64(s, 3, ALERT_QUEUED);
	sqldb_bind_u64(s, 4, until);
	sqldb_bind_u64(s, 5, STORE_TX_FAILED);
	return store_exists(st, s);
}

enum store_status
store_alert_find_country(struct store *st, const char *ip, const char *ip_hash,
    const char *topic, size_t len, uint64_t since)
{
	sqlite3_stmt *s = store_prepare(st, Q_ALERT_FIND_COUNTRY);

	sqldb_bind_u64(s, 1, ALERT_WRONG_COUNTRY);
	sqldb_bind_text(s, 2, topic, len);
	sqldb_bind_u64(s, 3, ALERT_QUEUED);
	sqldb_bind_u64(s, 4, since);
	sqldb_bind_text(s, 5, ip, strlen(ip));
	sqldb_bind_text(s, 6, ip_hash, strlen(ip_hash));
	sqldb_bind_u64(s, 7, STORE_TX_FAILED);
	return store_exists(st, s);
}

enum store_status
store_alert_count_queued(struct store *st, uint64_t since, uint64_t *n)
{
	sqlite3_stmt *s = store_prepare(st, Q_ALERT_COUNT_QUEUED);
	enum store_status r;

	sqldb_bind_u64(s, 1, ALERT_QUEUED);
	sqldb_bind_u64(s, 2, since);
	r = store_step_row(st, s);
	if (r == STORE_OK)
		*n = sqldb_column_u64(s, 0);
	sqlite3_reset(s);
	return r == STORE_MISSING ? STORE_ERROR : r;
}

/* ---- Audit queries ----------------------------------------------------- */

/* Times and periods beyond sqlite's signed range are the largest it has. */
static uint64_t
clamp_i64(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : v;
}

/* One ordered index range of store_events_find, stepped in a merge. */
struct store_cursor {
	sqlite3_stmt *s;
	bool has_row;
	uint64_t time, id;
};

/* Appends the IN list of the actions in mask: " AND action IN (1,2)". */
static void
store_actions_sql(uint32_t mask, char *out, size_t cap)
{
	size_t len;
	unsigned a;

	len = (size_t)snprintf(out, cap, " AND action IN (");
	for (a = 0; a < 32 && len < cap; a++)
		if (mask & (1u << a))
			len += (size_t)snprintf(out + len, cap - len, "%s%u",
			    out[len - 1] == '(' ? "" : ",", a);
	if (len < cap)
		snprintf(out + len, cap - len, ")");
}

/*
 * Prepares one part of a search: events of one name (or any), with the
 * address in one role (or any), of one action (action >= 0) or of the
 * query's mask. The index is chosen here rather than left to the planner,
 * which has no statistics: each is an equality prefix followed by time,
 * so rows come in (time, id) order without sorting. With count, the part
 * counts instead, and a target part leaves out the events whose source
 * is the address too (the source part counted them).
 */
static enum store_status
store_events_part(struct store *st, const struct store_event_query *q,
    const char *name, unsigned role, int action, bool count,
    uint64_t after_time, sqlite3_stmt **out)
{
	char sql[1024], actions[160] = "";
	const char *index, *where_role = "";

	if (action >= 0)
		snprintf(actions, sizeof(actions), " AND action = %d", action);
	else if (q->actions != 0)
		store_actions_sql(q->actions, actions, sizeof(actions));
	if (q->address != NULL)
		where_role = role == STORE_ROLE_SOURCE ? " AND source = ?6"
		    : count && (q->roles == 0 || (q->roles & STORE_ROLE_SOURCE))
		    ? " AND target = ?6 AND source != ?6"
		    : " AND target = ?6";
	if (name != NULL && q->address != NULL)
		index = role == STORE_ROLE_SOURCE ? "events_source_name"
						  : "events_target_name";
	else if (name != NULL)
		index = action >= 0 ? "events_name_action" : "events_name";
	else if (q->address != NULL)
		index = role == STORE_ROLE_SOURCE ? "events_source"
						  : "events_target";
	else if (action >= 0)
		index = "events_action";
	else
		index = "events_time";
	snprintf(sql, sizeof(sql),
	    "SELECT %s FROM events INDEXED BY %s "
	    "WHERE time >= ?1 AND time <= ?2%s%s%s%s%s",
	    count ? "count(*)"
		  : "rowid, block, log_index, tx_hash, time, action, source, "
		    "target, name, reason",
	    index, count ? "" : " AND (time, rowid) > (?3, ?4)",
	    name != NULL ? " AND name = ?5" : "", where_role, actions,
	    count ? "" : " ORDER BY time, rowid LIMIT ?7");
	if (sqlite3_prepare_v2(st->db, sql, -1, out, NULL) != SQLITE_OK) {
		log_err("sqlite: %s", sqlite3_errmsg(st->db));
		return STORE_ERROR;
	}
	/* Rows after the cursor are at or after its time: start there. */
	sqldb_bind_u64(*out, 1,
	    clamp_i64(!count && after_time > q->from ? after_time : q->from));
	sqldb_bind_u64(*out, 2, clamp_i64(q->to));
	if (!count) {
		sqldb_bind_u64(*out, 3, after_time);
		sqldb_bind_u64(*out, 4, q->after);
		sqlite3_bind_int64(*out, 7,
		    q->limit > 0 && q->limit < (size_t)INT64_MAX
			? (sqlite3_int64)q->limit
			: -1);
	}
	if (name != NULL)
		sqldb_bind_text(*out, 5, name, strlen(name));
	if (q->address != NULL)
		sqldb_bind_text(*out, 6, q->address, strlen(q->address));
	return STORE_OK;
}

/*
 * The parts of a search: one per name, per role of the address, and per
 * action when the actions lead the index. Returns how many were made in
 * *n (the array is malloc'd), or STORE_ERROR.
 */
static enum store_status
store_events_parts(struct store *st, const struct store_event_query *q,
    bool count, uint64_t after_time, sqlite3_stmt ***out, size_t *n)
{
	unsigned roles = q->roles != 0
	    ? q->roles & (STORE_ROLE_SOURCE | STORE_ROLE_TARGET)
	    : STORE_ROLE_SOURCE | STORE_ROLE_TARGET;
	size_t n_names = q->n_names > 0 ? q->n_names : 1;
	size_t n_roles = q->address == NULL                    ? 1
	    : roles == (STORE_ROLE_SOURCE | STORE_ROLE_TARGET) ? 2
							       : 1;
	bool split = q->address == NULL && q->actions != 0;
	size_t n_actions = split ? (size_t)__builtin_popcount(q->actions) : 1;
	size_t i, r, a, k = 0;
	sqlite3_stmt **parts;

	if (q->address != NULL && roles == 0)
		return STORE_ERROR;
	if ((parts = calloc(n_names * n_roles * n_actions, sizeof(*parts))) ==
	    NULL)
		return STORE_ERROR;
	for (i = 0; i < n_names; i++) {
		for (r = 0; r < n_roles; r++) {
			unsigned role = n_roles == 2
			    ? (r == 0 ? STORE_ROLE_SOURCE : STORE_ROLE_TARGET)
			    : roles;
			int action = -1;

			for (a = 0; a < n_actions; a++) {
				if (split) {
					do
						action++;
					while (!(q->actions & (1u << action)));
				}
				if (store_events_part(st, q,
					q->n_names > 0 ? q->names[i] : NULL,
					role, action, count, after_time,
					&parts[k]) != STORE_OK)
					goto fail;
				k++;
			}
		}
	}
	*out = parts;
	*n = k;
	return STORE_OK;
fail:
	while (k > 0)
		sqlite3_finalize(parts[--k]);
	free(parts);
	return STORE_ERROR;
}

static void
store_parts_free(sqlite3_stmt **parts, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		sqlite3_finalize(parts[i]);
	free(parts);
}

/* Steps one cursor: STORE_OK (row or end) or STORE_ERROR. */
static enum store_status
store_cursor_step(struct store *st, struct store_cursor *c)
{
	switch (sqlite3_step(c->s)) {
	case SQLITE_ROW:
		c->has_row = true;
		c->id = sqldb_column_u64(c->s, 0);
		c->time = sqldb_column_u64(c->s, 4);
		return STORE_OK;
	case SQLITE_DONE:
		c->has_row = false;
		return STORE_OK;
	default:
		c->has_row = false;
		log_err("sqlite: %s", sqlite3_errmsg(st->db));
		return STORE_ERROR;
	}
}

/* The event of the current row of a full-column statement. */
static void
store_event_row(sqlite3_stmt *s, struct store_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->block = sqldb_column_u64(s, 1);
	ev->log_index = sqldb_column_u64(s, 2);
	snprintf(ev->tx_hash, sizeof(ev->tx_hash), "%s",
	    (const char *)sqlite3_column_text(s, 3));
	ev->time = sqldb_column_u64(s, 4);
	ev->action = (unsigned)sqlite3_column_int(s, 5);
	snprintf(ev->source, sizeof(ev->source), "%s",
	    (const char *)sqlite3_column_text(s, 6));
	snprintf(ev->target, sizeof(ev->target), "%s",
	    (const char *)sqlite3_column_text(s, 7));
	ev->name = (const char *)sqlite3_column_text(s, 8);
	ev->name_len = (size_t)sqlite3_column_bytes(s, 8);
	ev->reason = (const char *)sqlite3_column_text(s, 9);
	ev->reason_len = (size_t)sqlite3_column_bytes(s, 9);
}

enum store_status
store_events_find(struct store *st, const struct store_event_query *q,
    bool (*fn)(void *arg, uint64_t id, const struct store_event *ev), void *arg)
{
	struct store_cursor *cur = NULL;
	struct store_event ev;
	sqlite3_stmt **parts = NULL, *s;
	enum store_status r = STORE_OK;
	uint64_t after_time = 0, id;
	size_t n = 0, i, given = 0;
	struct store_cursor *best;

	if (q->after > 0) {
		/* Chain order is (time, id): start after the cursor's time. */
		s = store_prepare(st, Q_EVENT_TIME_AT);
		sqldb_bind_u64(s, 1, q->after);
		if ((r = store_step_row(st, s)) == STORE_OK)
			after_time = sqldb_column_u64(s, 0);
		sqlite3_reset(s);
		if (r == STORE_ERROR)
			return r;
		r = STORE_OK;
	}
	if (store_events_parts(st, q, false, after_time, &parts, &n) !=
	    STORE_OK)
		return STORE_ERROR;
	if ((cur = calloc(n, sizeof(*cur))) == NULL) {
		store_parts_free(parts, n);
		return STORE_ERROR;
	}
	for (i = 0; i < n && r == STORE_OK; i++) {
		cur[i].s = parts[i];
		r = store_cursor_step(st, &cur[i]);
	}
	/* Merge the parts; an event found by several is given once. */
	while (r == STORE_OK) {
		best = NULL;
		for (i = 0; i < n; i++)
			if (cur[i].has_row &&
			    (best == NULL || cur[i].time < best->time ||
				(cur[i].time == best->time &&
				    cur[i].id < best->id)))
				best = &cur[i];
		if (best == NULL)
			break;
		id = best->id;
		store_event_row(best->s, &ev);
		given++;
		if (!fn(arg, id, &ev))
			break;
		if (q->limit > 0 && given == q->limit)
			break;
		for (i = 0; i < n && r == STORE_OK; i++)
			if (cur[i].has_row && cur[i].id == id)
				r = store_cursor_step(st, &cur[i]);
	}
	free(cur);
	store_parts_free(parts, n);
	return r;
}

enum store_status
store_events_count(
    struct store *st, const struct store_event_query *q, uint64_t *n)
{
	sqlite3_stmt **parts = NULL;
	enum store_status r = STORE_OK;
	size_t k = 0, i;

	*n = 0;
	if (store_events_parts(st, q, true, 0, &parts, &k) != STORE_OK)
		return STORE_ERROR;
	for (i = 0; i < k && r == STORE_OK; i++) {
		if ((r = store_step_row(st, parts[i])) == STORE_OK)
			*n += sqldb_column_u64(parts[i], 0);
		else if (r == STORE_MISSING)
			r = STORE_ERROR;
	}
	store_parts_free(parts, k);
	return r;
}

enum store_status
store_events_reason_contains(struct store *st, uint32_t actions,
    const char *needle, uint64_t after, size_t limit,
    bool (*fn)(void *arg, uint64_t id, const struct store_event *ev), void *arg)
{
	struct store_event ev;
	char sql[512], list[160];
	enum store_status r = STORE_OK;
	sqlite3_stmt *s;
	int rc;

	store_actions_sql(actions, list, sizeof(list));
	snprintf(sql, sizeof(sql),
	    "SELECT rowid, block, log_index, tx_hash, time, action, source, "
	    "target, name, reason FROM events WHERE rowid > ?1%s AND "
	    "instr(reason, ?2) > 0 ORDER BY rowid LIMIT ?3",
	    actions != 0 ? list : "");
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		log_err("sqlite: %s", sqlite3_errmsg(st->db));
		return STORE_ERROR;
	}
	sqldb_bind_u64(s, 1, after);
	sqldb_bind_text(s, 2, needle, strlen(needle));
	sqlite3_bind_int64(s, 3,
	    limit > 0 && limit < (size_t)INT64_MAX ? (sqlite3_int64)limit : -1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		store_event_row(s, &ev);
		if (!fn(arg, sqldb_column_u64(s, 0), &ev))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_err("sqlite: %s", sqlite3_errmsg(st->db));
		r = STORE_ERROR;
	}
	sqlite3_finalize(s);
	return r;
}

enum store_status
store_summary_root_add(struct store *st, const struct store_summary_root *r)
{
	uint64_t start = clamp_i64(r->period_start);
	uint64_t end = clamp_i64(r->period_end);
	sqlite3_stmt *s = store_prepare(st, Q_SUMMARY_ROOT_ADD);

	sqldb_bind_u64(s, 1, r->block);
	sqldb_bind_u64(s, 2, r->log_index);
	sqldb_bind_text(s, 3, r->tx_hash, strlen(r->tx_hash));
	sqldb_bind_text(s, 4, r->root, strlen(r->root));
	sqldb_bind_text(s, 5, r->name, r->name_len);
	sqldb_bind_u64(s, 6, start);
	sqldb_bind_u64(s, 7, end);
	if (store_exec(st, s) != STORE_OK)
		return STORE_ERROR;
	s = store_prepare(st, Q_SUMMARY_SPAN_KEEP);
	sqldb_bind_u64(s, 1, end > start ? end - start : 0);
	return store_exec(st, s);
}

enum store_status
store_summary_root_get(struct store *st, uint64_t event_id, char root[67],
    uint64_t *period_start, uint64_t *period_end)
{
	sqlite3_stmt *s = store_prepare(st, Q_SUMMARY_ROOT_GET);
	enum store_status r;

	sqldb_bind_u64(s, 1, event_id);
	if ((r = store_step_row(st, s)) == STORE_OK) {
		snprintf(
		    root, 67, "%s", (const char *)sqlite3_column_text(s, 0));
		*period_start = sqldb_column_u64(s, 1);
		*period_end = sqldb_column_u64(s, 2);
	}
	sqlite3_reset(s);
	return r;
}

enum store_status
store_summaries_overlapping(struct store *st, const char *name, uint64_t from,
    uint64_t to, uint64_t after, size_t limit,
    bool (*fn)(void *arg, uint64_t id, const struct store_event *ev,
	const char *root, uint64_t period_start, uint64_t period_end),
    void *arg)
{
	uint64_t span = 0, after_end = 0, start, bound;
	struct store_event ev;
	enum store_status r;
	sqlite3_stmt *s;
	char root[67];
	int rc;

	from = clamp_i64(from);
	to = clamp_i64(to);
	if (after > 0 &&
	    (r = store_summary_root_get(st, after, root, &start, &after_end)) !=
		STORE_OK)
		return r; /* STORE_MISSING: no such cursor */
	if (store_meta_get(st, "summary_span", &span) == STORE_ERROR)
		return STORE_ERROR;
	/*
	 * A period that overlaps [from, to] ends at or after from, and no
	 * later than to plus the longest period ever seen: one index range.
	 */
	bound = to + span < to ? (uint64_t)INT64_MAX : clamp_i64(to + span);
	s = store_prepare(st, Q_SUMMARIES_OVERLAP);
	sqldb_bind_text(s, 1, name, strlen(name));
	sqldb_bind_u64(s, 2, from);
	sqldb_bind_u64(s, 3, bound);
	sqldb_bind_u64(s, 4, to);
	sqldb_bind_u64(s, 5, after_end);
	sqldb_bind_u64(s, 6, after);
	sqlite3_bind_int64(s, 7,
	    limit > 0 && limit < (size_t)INT64_MAX ? (sqlite3_int64)limit : -1);
	r = STORE_OK;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		store_event_row(s, &ev);
		if (!fn(arg, sqldb_column_u64(s, 0), &ev,
			(const char *)sqlite3_column_text(s, 10),
			sqldb_column_u64(s, 11), sqldb_column_u64(s, 12)))
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
store_summary_count(struct store *st)
{
	return store_count(st, Q_SUMMARY_COUNT);
}

enum store_status
store_grant_expiry_put(
    struct store *st, uint64_t event_id, bool known, uint64_t expiry)
{
	sqlite3_stmt *s = store_prepare(st, Q_GRANT_EXPIRY_PUT);

	sqldb_bind_u64(s, 1, event_id);
	if (known)
		sqldb_bind_u64(s, 2, expiry);
	return store_exec(st, s);
}

enum store_status
store_grant_expiry_get(
    struct store *st, uint64_t event_id, bool *known, uint64_t *expiry)
{
	sqlite3_stmt *s = store_prepare(st, Q_GRANT_EXPIRY_GET);
	enum store_status r;

	sqldb_bind_u64(s, 1, event_id);
	if ((r = store_step_row(st, s)) == STORE_OK) {
		*known = sqlite3_column_type(s, 0) != SQLITE_NULL;
		*expiry = *known ? sqldb_column_u64(s, 0) : 0;
	}
	sqlite3_reset(s);
	return r;
}

enum store_status
store_grant_expiry_next(struct store *st, uint64_t after, uint64_t *id,
    uint64_t *block, unsigned *action, char target[43], char **name)
{
	sqlite3_stmt *s = store_prepare(st, Q_GRANT_EXPIRY_NEXT);
	enum store_status r;

	sqldb_bind_u64(s, 1, after);
	if ((r = store_step_row(st, s)) == STORE_OK) {
		*id = sqldb_column_u64(s, 0);
		*block = sqldb_column_u64(s, 1);
		*action = (unsigned)sqlite3_column_int(s, 2);
		snprintf(
		    target, 43, "%s", (const char *)sqlite3_column_text(s, 3));
		*name = strndup((const char *)sqlite3_column_text(s, 4),
		    (size_t)sqlite3_column_bytes(s, 4));
		if (*name == NULL)
			r = STORE_ERROR;
	}
	sqlite3_reset(s);
	if (r == STORE_MISSING) {
		/* Nothing to read up to the newest event: skip past it. */
		*id = store_count(st, Q_EVENT_MAX_ID);
	}
	return r;
}

enum store_status
store_topic_details_stale(
    struct store *st, const char *name, size_t len, uint64_t mark)
{
	sqlite3_stmt *s = store_prepare(st, Q_TOPIC_DETAILS_STALE);

	sqldb_bind_text(s, 1, name, len);
	sqldb_bind_u64(s, 2, mark);
	return store_exec(st, s);
}

enum store_status
store_topic_details_stale_all(struct store *st)
{
	if (store_exec(st, store_prepare(st, Q_TOPIC_DETAILS_FORGET_GONE)) !=
	    STORE_OK)
		return STORE_ERROR;
	return store_exec(st, store_prepare(st, Q_TOPIC_DETAILS_STALE_ALL));
}

enum store_status
store_topic_details_next_stale(struct store *st, char **name, uint64_t *mark)
{
	sqlite3_stmt *s = store_prepare(st, Q_TOPIC_DETAILS_NEXT);
	enum store_status r;

	if ((r = store_step_row(st, s)) == STORE_OK) {
		*name = strndup((const char *)sqlite3_column_text(s, 0),
		    (size_t)sqlite3_column_bytes(s, 0));
		*mark = sqldb_column_u64(s, 1);
		if (*name == NULL)
			r = STORE_ERROR;
	}
	sqlite3_reset(s);
	return r;
}

enum store_status
store_topic_details_put(struct store *st, const char *name, uint64_t mark,
    const struct store_topic_details *d)
{
	sqlite3_stmt *s = store_prepare(st, Q_TOPIC_DETAILS_PUT);

	sqldb_bind_text(s, 1, name, strlen(name));
	sqldb_bind_u64(s, 2, mark);
	sqlite3_bind_int(s, 3, d->exists);
	sqlite3_bind_int(s, 4, d->sensitive);
	sqlite3_bind_int(s, 5, d->self_service);
	sqldb_bind_text(s, 6, d->pub_price, strlen(d->pub_price));
	sqldb_bind_text(s, 7, d->sub_price, strlen(d->sub_price));
	sqldb_bind_u64(s, 8, d->period);
	sqldb_bind_text(s, 9, d->countries, strlen(d->countries));
	sqldb_bind_u64(s, 10, d->block);
	return store_exec(st, s);
}

enum store_status
store_topic_details_get(struct store *st, const char *name,
    struct store_topic_details *d, bool *stale)
{
	sqlite3_stmt *s = store_prepare(st, Q_TOPIC_DETAILS_GET);
	enum store_status r;

	memset(d, 0, sizeof(*d));
	sqldb_bind_text(s, 1, name, strlen(name));
	if ((r = store_step_row(st, s)) == STORE_OK) {
		*stale = sqlite3_column_int64(s, 0) != 0;
		d->exists = sqlite3_column_int(s, 1) != 0;
		d->sensitive = sqlite3_column_int(s, 2) != 0;
		d->self_service = sqlite3_column_int(s, 3) != 0;
		snprintf(d->pub_price, sizeof(d->pub_price), "%s",
		    (const char *)sqlite3_column_text(s, 4));
		snprintf(d->sub_price, sizeof(d->sub_price), "%s",
		    (const char *)sqlite3_column_text(s, 5));
		d->period = sqldb_column_u64(s, 6);
		snprintf(d->countries, sizeof(d->countries), "%s",
		    (const char *)sqlite3_column_text(s, 7));
		d->block = sqldb_column_u64(s, 8);
	}
	sqlite3_reset(s);
	return r;
}

/*
 * Runs a deletion with secure_delete on, so that the deleted rows' bytes
 * are overwritten rather than left in free pages of the file.
 */
static enum store_status
store_secure_exec(struct store *st, sqlite3_stmt *s)
{
	enum store_status r;

	if (sqlite3_exec(st->db, "PRAGMA secure_delete = ON", NULL, NULL,
		NULL) != SQLITE_OK) {
		log_err("sqlite: %s", sqlite3_errmsg(st->db));
		sqlite3_reset(s);
		return STORE_ERROR;
	}
	r = store_exec(st, s);
	(void)sqlite3_exec(
	    st->db, "PRAGMA secure_delete = OFF", NULL, NULL, NULL);
	return r;
}

enum store_status
store_alert_ip_hashes(struct store *st, const char *ip,
    bool (*fn)(void *arg, const char *ip_hash), void *arg)
{
	sqlite3_stmt *s = store_prepare(st, Q_ALERT_IP_HASHES);
	enum store_status r = STORE_OK;
	int rc;

	sqldb_bind_text(s, 1, ip, strlen(ip));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (!fn(arg, (const char *)sqlite3_column_text(s, 0)))
			break;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_err("sqlite: %s", sqlite3_errmsg(st->db));
		r = STORE_ERROR;
	}
	sqlite3_reset(s);
	return r;
}

enum store_status
store_alerts_erase_ip(struct store *st, const char *ip, uint64_t *removed)
{
	sqlite3_stmt *s = store_prepare(st, Q_ALERTS_ERASE_IP);
	enum store_status r;

	sqldb_bind_text(s, 1, ip, strlen(ip));
	if ((r = store_secure_exec(st, s)) == STORE_OK)
		*removed = (uint64_t)sqlite3_changes(st->db);
	return r;
}

enum store_status
store_alerts_erase_address(
    struct store *st, const char *address, uint64_t *removed)
{
	sqlite3_stmt *s = store_prepare(st, Q_ALERTS_ERASE_ADDRESS);
	enum store_status r;

	sqldb_bind_text(s, 1, address, strlen(address));
	sqldb_bind_u64(s, 2, ALERT_BANNED);
	if ((r = store_secure_exec(st, s)) == STORE_OK)
		*removed = (uint64_t)sqlite3_changes(st->db);
	return r;
}

enum store_status
store_erase_flush(struct store *st)
{
	if (sqlite3_exec(st->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL,
		NULL) != SQLITE_OK) {
		log_err("sqlite: %s", sqlite3_errmsg(st->db));
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* ---- Idempotent submissions (wallet.c, "once:" purposes) --------------- */

enum store_status
store_tx_find_purpose(struct store *st, const char *purpose, uint64_t *id)
{
	sqlite3_stmt *s;
	enum store_status r;

	/* Rare (one per summary): prepared per call, indexed by purpose. */
	if (sqlite3_prepare_v2(st->db,
		"SELECT id FROM txs WHERE purpose = ?1 AND state != ?2 "
		"ORDER BY id LIMIT 1",
		-1, &s, NULL) != SQLITE_OK) {
		log_err("sqlite: %s", sqlite3_errmsg(st->db));
		return STORE_ERROR;
	}
	sqldb_bind_text(s, 1, purpose, strlen(purpose));
	sqldb_bind_u64(s, 2, STORE_TX_FAILED);
	if ((r = store_step_row(st, s)) == STORE_OK)
		*id = sqldb_column_u64(s, 0);
	sqlite3_finalize(s);
	return r;
}

enum store_status
store_topic_owner(struct store *st, const char *name, char owner[43])
{
	sqlite3_stmt *s = store_prepare(st, Q_TOPIC_OWNER);
	enum store_status r;

	sqldb_bind_text(s, 1, name, strlen(name));
	if ((r = store_step_row(st, s)) == STORE_OK)
		snprintf(
		    owner, 43, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	return r;
}

enum store_status
store_topic_transfers(struct store *st, const char *name, uint64_t to,
    bool (*fn)(void *arg, uint64_t id, const struct store_event *ev), void *arg)
{
	sqlite3_stmt *s = store_prepare(st, Q_TOPIC_TRANSFERS);
	struct store_event ev;
	enum store_status r = STORE_OK;
	int rc;

	sqldb_bind_text(s, 1, name, strlen(name));
	sqldb_bind_u64(s, 2, clamp_i64(to));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		store_event_row(s, &ev);
		if (!fn(arg, sqldb_column_u64(s, 0), &ev))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_err("sqlite: %s", sqlite3_errmsg(st->db));
		r = STORE_ERROR;
	}
	sqlite3_reset(s);
	return r;
}

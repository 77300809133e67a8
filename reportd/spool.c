/*
 * reportd's sqlite spool (see spool.h). Statements are prepared once,
 * except the record listing, whose WHERE clause depends on its filters;
 * every query is a primary-key or index lookup. 64-bit unsigned values
 * are stored bit for bit in sqlite's signed INTEGER.
 */
#include "spool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "sqldb.h"
enum spool_stmt {
	Q_BEGIN,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_BATCH_SEEN,
	Q_BATCH_ADD,
	Q_BATCHES_TRIM,
	Q_PERIOD_BUILT,
	Q_RECORD_ADD,
	Q_RECORD_GET,
	Q_ERASE_KEEP,
	Q_ERASE_DROP,
	Q_NEXT_UNSUMMARISED,
	Q_PERIOD_TOPICS,
	Q_TOPIC_LEAVES,
	Q_TOPIC_PUBLISHERS,
	Q_TOPIC_SUBSCRIBERS,
	Q_SUMMARY_ADD,
	Q_PERIOD_ADD,
	Q_NEXT_UNSUBMITTED,
	Q_SUMMARY_SET_TX,
	Q_PERIOD_LEFT,
	Q_PERIOD_DONE,
	Q_SUMMARY_GET,
	Q_PERIOD_SUMMARIES,
	Q_FIG_RECORDS,
	Q_FIG_BATCHES,
	Q_FIG_PERIODS,
	Q_FIG_SUMMARIES,
	Q_COUNT
};

#define SUMMARY_COLUMNS                                                        \
	"period, period_end, topic, root, records, publishers, subscribers, "  \
	"reason, tx"
#define RECORD_COLUMNS                                                         \
	"id, period, late, erased, address, topic, action, first_ms, "         \
	"last_ms, count, bytes, leaf"

static const char *const spool_sql[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_BATCH_SEEN] = "SELECT 1 FROM batches WHERE instance = ?1 AND seq = ?2",
    [Q_BATCH_ADD] = "INSERT INTO batches(instance, seq, time, records) "
		    "VALUES(?1, ?2, ?3, ?4)",
    [Q_BATCHES_TRIM] = "DELETE FROM batches WHERE time < ?1",
    [Q_PERIOD_BUILT] = "SELECT 1 FROM periods WHERE start = ?1",
    [Q_RECORD_ADD] = "INSERT INTO records(period, late, address, topic, "
		     "action, first_ms, last_ms, count, bytes, leaf) "
		     "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [Q_RECORD_GET] = "SELECT " RECORD_COLUMNS " FROM records WHERE id = ?1",
    /* A summarised record keeps what its tree needs: period, topic, leaf. */
    [Q_ERASE_KEEP] = "UPDATE records SET erased = 1, address = '', "
		     "action = 0, first_ms = 0, last_ms = 0, count = 0, "
		     "bytes = 0 WHERE address = ?1 AND late = 0 AND "
		     "period IN (SELECT start FROM periods)",
    [Q_ERASE_DROP] = "DELETE FROM records WHERE address = ?1",
    [Q_NEXT_UNSUMMARISED] = "SELECT min(period) FROM records WHERE "
			    "late = 0 AND period <= ?1 AND period NOT IN "
			    "(SELECT start FROM periods)",
    [Q_PERIOD_TOPICS] = "SELECT DISTINCT topic FROM records "
			"WHERE period = ?1 AND late = 0 ORDER BY topic",
    [Q_TOPIC_LEAVES] = "SELECT leaf FROM records WHERE period = ?1 AND "
		       "topic = ?2 AND late = 0 ORDER BY leaf",
    [Q_TOPIC_PUBLISHERS] = "SELECT DISTINCT address FROM records "
			   "WHERE period = ?1 AND topic = ?2 AND late = 0 "
			   "AND erased = 0 AND action = 1 ORDER BY address",
    [Q_TOPIC_SUBSCRIBERS] = "SELECT DISTINCT address FROM records "
			    "WHERE period = ?1 AND topic = ?2 AND late = 0 "
			    "AND erased = 0 AND action IN (2, 3) "
			    "ORDER BY address",
    [Q_SUMMARY_ADD] = "INSERT INTO summaries(" SUMMARY_COLUMNS ") "
		      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0)",
    [Q_PERIOD_ADD] = "INSERT INTO periods(start, end, topics, records, "
		     "built, done) VALUES(?1, ?2, ?3, ?4, ?5, 0)",
    [Q_NEXT_UNSUBMITTED] = "SELECT " SUMMARY_COLUMNS " FROM summaries "
			   "WHERE tx = 0 ORDER BY period, topic LIMIT 1",
    [Q_SUMMARY_SET_TX] = "UPDATE summaries SET tx = ?3 "
			 "WHERE period = ?1 AND topic = ?2",
    [Q_PERIOD_LEFT] = "SELECT count(*) FROM summaries "
		      "WHERE period = ?1 AND tx = 0",
    [Q_PERIOD_DONE] = "UPDATE periods SET done = ?2 "
		      "WHERE start = ?1 AND done = 0",
    [Q_SUMMARY_GET] = "SELECT " SUMMARY_COLUMNS " FROM summaries "
		      "WHERE period = ?1 AND topic = ?2",
    [Q_PERIOD_SUMMARIES] = "SELECT " SUMMARY_COLUMNS " FROM summaries "
			   "WHERE period = ?1 ORDER BY topic",
    [Q_FIG_RECORDS] = "SELECT count(*), coalesce(sum(count), 0), "
		      "coalesce(sum(late), 0), coalesce(sum(erased), 0) "
		      "FROM records",
    [Q_FIG_BATCHES] = "SELECT count(*) FROM batches",
    [Q_FIG_PERIODS] = "SELECT coalesce(sum(done > 0), 0), "
		      "coalesce(sum(done = 0), 0), "
		      "coalesce(max(CASE WHEN done > 0 THEN start END), 0) "
		      "FROM periods",
    [Q_FIG_SUMMARIES] = "SELECT count(*), coalesce(sum(tx = 0), 0) "
			"FROM summaries",
};

static const char spool_schema[] =
    "PRAGMA journal_mode = WAL;"
    "PRAGMA synchronous = FULL;"
    /* Erased records leave no bytes behind in the file. */
    "PRAGMA secure_delete = ON;"
    "CREATE TABLE IF NOT EXISTS batches("
    "  instance INTEGER NOT NULL, seq INTEGER NOT NULL,"
    "  time INTEGER NOT NULL, records INTEGER NOT NULL,"
    "  PRIMARY KEY(instance, seq)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS batches_time ON batches(time);"
    "CREATE TABLE IF NOT EXISTS records("
    "  id INTEGER PRIMARY KEY, period INTEGER NOT NULL,"
    "  late INTEGER NOT NULL, erased INTEGER NOT NULL DEFAULT 0,"
    "  address TEXT NOT NULL, topic TEXT NOT NULL,"
    "  action INTEGER NOT NULL, first_ms INTEGER NOT NULL,"
    "  last_ms INTEGER NOT NULL, count INTEGER NOT NULL,"
    "  bytes INTEGER NOT NULL, leaf BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS records_period ON "
    "  records(period, late, topic);"
    "CREATE INDEX IF NOT EXISTS records_address ON records(address, id);"
    "CREATE INDEX IF NOT EXISTS records_topic ON records(topic, id);"
    "CREATE TABLE IF NOT EXISTS periods("
    "  start INTEGER PRIMARY KEY, end INTEGER NOT NULL,"
    "  topics INTEGER NOT NULL, records INTEGER NOT NULL,"
    "  built INTEGER NOT NULL, done INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS summaries("
    "  period INTEGER NOT NULL, period_end INTEGER NOT NULL,"
    "  topic TEXT NOT NULL, root BLOB NOT NULL,"
    "  records INTEGER NOT NULL, publishers INTEGER NOT NULL,"
    "  subscribers INTEGER NOT NULL, reason TEXT NOT NULL,"
    "  tx INTEGER NOT NULL, PRIMARY KEY(period, topic));"
    "CREATE INDEX IF NOT EXISTS summaries_tx ON summaries(tx);";

struct spool {
	sqlite3 *db;
	sqlite3_stmt *stmt[Q_COUNT];
	char error[256];
	/* spool_record_get's strings. */
	char row_address[ACCESS_ADDRESS_LEN + 1];
	char *row_topic;
};

/* ---- Helpers ------------------------------------------------------------ */

static sqlite3_stmt *
spool_prepare(struct spool *sp, enum spool_stmt q)
{
	return sqldb_reset(sp->stmt[q]);
}

static enum spool_status
spool_fail(struct spool *sp)
{
	snprintf(sp->error, sizeof(sp->error), "%s", sqlite3_errmsg(sp->db));
	return SPOOL_ERROR;
}

/* Runs a statement that returns no rows. */
static enum spool_status
spool_exec(struct spool *sp, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc != SQLITE_DONE) {
		spool_fail(sp);
		sqlite3_reset(s);
		return SPOOL_ERROR;
	}
	sqlite3_reset(s);
	return SPOOL_OK;
}

/* Steps to the next row: SPOOL_OK (a row), SPOOL_MISSING (no more). */
static enum spool_status
spool_step(struct spool *sp, sqlite3_stmt *s)
{
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		return SPOOL_OK;
	case SQLITE_DONE:
		return SPOOL_MISSING;
	default:
		return spool_fail(sp);
	}
}

static void
column_hash(sqlite3_stmt *s, int i, uint8_t out[AUDIT_HASH_LEN])
{
	const void *b = sqlite3_column_blob(s, i);

	memset(out, 0, AUDIT_HASH_LEN);
	if (b != NULL && sqlite3_column_bytes(s, i) == AUDIT_HASH_LEN)
		memcpy(out, b, AUDIT_HASH_LEN);
}

/* ---- Opening -------------------------------------------------------------- */

struct spool *
spool_open(const char *path, char *err, size_t errlen)
{
	struct spool *sp;

	if ((sp = calloc(1, sizeof(*sp))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sp->db = sqldb_open(
	    path, spool_schema, spool_sql, Q_COUNT, sp->stmt, err, errlen);
	if (sp->db == NULL) {
		free(sp);
		return NULL;
	}
	return sp;
}

void
spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	sqldb_close(sp->db, sp->stmt, Q_COUNT);
	free(sp->row_topic);
	free(sp);
}

const char *
spool_error(struct spool *sp)
{
	return sp->error[0] != '\0' ? sp->error : "no error";
}

bool
spool_limit_pages(struct spool *sp, uint64_t pages)
{
	char sql[64];

	/* sqlite's own ceiling when lifting the cap. */
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %llu",
	    (unsigned long long)(pages != 0 ? pages : 4294967294ull));
	return sqlite3_exec(sp->db, sql, NULL, NULL, NULL) == SQLITE_OK;
}

enum spool_status
spool_begin(struct spool *sp)
{
	return spool_exec(sp, spool_prepare(sp, Q_BEGIN));
}

enum spool_status
spool_commit(struct spool *sp)
{
	return spool_exec(sp, spool_prepare(sp, Q_COMMIT));
}

void
spool_rollback(struct spool *sp)
{
	/* After some failures sqlite has rolled back already: no matter. */
	if (sqlite3_get_autocommit(sp->db) == 0)
		(void)spool_exec(sp, spool_prepare(sp, Q_ROLLBACK));
}

/* ---- Records -------------------------------------------------------------- */

/* Whether period `start` has been summarised: SPOOL_OK yes, MISSING no. */
static enum spool_status
spool_period_built(struct spool *sp, uint64_t start)
{
	sqlite3_stmt *s = spool_prepare(sp, Q_PERIOD_BUILT);
	enum spool_status r;

	sqldb_bind_u64(s, 1, start);
	r = spool_step(sp, s);
	sqlite3_reset(s);
	return r;
}

static enum spool_status
spool_record_add(
    struct spool *sp, const struct access_record *r, uint64_t period, bool late)
{
	sqlite3_stmt *s = spool_prepare(sp, Q_RECORD_ADD);
	uint8_t leaf[AUDIT_HASH_LEN];

	audit_leaf(r, leaf);
	sqldb_bind_u64(s, 1, period);
	sqldb_bind_u64(s, 2, late);
	sqldb_bind_text(s, 3, r->address, ACCESS_ADDRESS_LEN);
	sqldb_bind_text(s, 4, r->topic, r->topic_len);
	sqldb_bind_u64(s, 5, r->action);
	sqldb_bind_u64(s, 6, r->first_ms);
	sqldb_bind_u64(s, 7, r->last_ms);
	sqldb_bind_u64(s, 8, r->count);
	sqldb_bind_u64(s, 9, r->bytes);
	sqlite3_bind_blob(s, 10, leaf, AUDIT_HASH_LEN, SQLITE_TRANSIENT);
	return spool_exec(sp, s);
}

enum spool_status
spool_store_batch(struct spool *sp, uint64_t instance, uint64_t seq,
    const struct access_record *recs, size_t n, uint64_t period_s, uint64_t now,
    bool *duplicate, uint64_t *late)
{
	uint64_t period, known_period = UINT64_MAX;
	bool period_late = false;
	enum spool_status r;
	sqlite3_stmt *s;
	size_t i;

	*duplicate = false;
	*late = 0;
	if (spool_begin(sp) != SPOOL_OK)
		return SPOOL_ERROR;
	s = spool_prepare(sp, Q_BATCH_SEEN);
	sqldb_bind_u64(s, 1, instance);
	sqldb_bind_u64(s, 2, seq);
	r = spool_step(sp, s);
	sqlite3_reset(s);
	if (r == SPOOL_OK)
		*duplicate = true;
	if (r != SPOOL_MISSING)
		goto out;
	for (i = 0; i < n; i++) {
		period = spool_period_of(recs[i].first_ms, period_s);
		if (period != known_period) {
			if ((r = spool_period_built(sp, period)) == SPOOL_ERROR)
				goto out;
			period_late = r == SPOOL_OK;
			known_period = period;
		}
		if ((r = spool_record_add(sp, &recs[i], period, period_late)) !=
		    SPOOL_OK)
			goto out;
		*late += period_late;
	}
	s = spool_prepare(sp, Q_BATCH_ADD);
	sqldb_bind_u64(s, 1, instance);
	sqldb_bind_u64(s, 2, seq);
	sqldb_bind_u64(s, 3, now);
	sqldb_bind_u64(s, 4, n);
	if ((r = spool_exec(sp, s)) == SPOOL_OK &&
	    (r = spool_commit(sp)) == SPOOL_OK)
		return SPOOL_OK;
out:
	spool_rollback(sp);
	if (*duplicate)
		return SPOOL_OK;
	*late = 0;
	return SPOOL_ERROR;
}

enum spool_status
spool_batches_trim(struct spool *sp, uint64_t before)
{
	sqlite3_stmt *s = spool_prepare(sp, Q_BATCHES_TRIM);

	sqldb_bind_u64(s, 1, before);
	return spool_exec(sp, s);
}

/* Reads a RECORD_COLUMNS row; strings point into the statement. */
static void
spool_read_row(sqlite3_stmt *s, struct spool_row *row)
{
	size_t len;

	row->id = sqldb_column_u64(s, 0);
	row->period = sqldb_column_u64(s, 1);
	row->late = sqldb_column_u64(s, 2) != 0;
	row->erased = sqldb_column_u64(s, 3) != 0;
	row->rec.address = sqldb_column_text(s, 4, &len);
	row->rec.topic = sqldb_column_text(s, 5, &row->rec.topic_len);
	row->rec.action = (unsigned)sqldb_column_u64(s, 6);
	row->rec.first_ms = sqldb_column_u64(s, 7);
	row->rec.last_ms = sqldb_column_u64(s, 8);
	row->rec.count = sqldb_column_u64(s, 9);
	row->rec.bytes = sqldb_column_u64(s, 10);
	column_hash(s, 11, row->leaf);
}

enum spool_status
spool_records(struct spool *sp, const struct spool_filter *f,
    void (*fn)(void *arg, const struct spool_row *row), void *arg)
{
	char sql[512];
	struct spool_row row;
	enum spool_status r;
	sqlite3_stmt *s;

	/* Only the given filters, so that sqlite picks the right index. */
	snprintf(sql, sizeof(sql),
	    "SELECT " RECORD_COLUMNS " FROM records WHERE erased = 0 AND "
	    "id > ?1%s%s%s ORDER BY id LIMIT ?5",
	    f->address != NULL ? " AND address = ?2" : "",
	    f->topic != NULL ? " AND topic = ?3" : "",
	    f->has_period ? " AND period = ?4" : "");
	if (sqlite3_prepare_v2(sp->db, sql, -1, &s, NULL) != SQLITE_OK)
		return spool_fail(sp);
	sqldb_bind_u64(s, 1, f->after);
	if (f->address != NULL)
		sqldb_bind_text(s, 2, f->address, strlen(f->address));
	if (f->topic != NULL)
		sqldb_bind_text(s, 3, f->topic, f->topic_len);
	if (f->has_period)
		sqldb_bind_u64(s, 4, f->period);
	sqldb_bind_u64(s, 5, f->limit);
	while ((r = spool_step(sp, s)) == SPOOL_OK) {
		spool_read_row(s, &row);
		fn(arg, &row);
	}
	sqlite3_finalize(s);
	return r == SPOOL_MISSING ? SPOOL_OK : SPOOL_ERROR;
}

enum spool_status
spool_record_get(struct spool *sp, uint64_t id, struct spool_row *out)
{
	sqlite3_stmt *s = spool_prepare(sp, Q_RECORD_GET);
	enum spool_status r;

	sqldb_bind_u64(s, 1, id);
	if ((r = spool_step(sp, s)) == SPOOL_OK) {
		spool_read_row(s, out);
		/* Copies: the row outlives the statement. */
		snprintf(sp->row_address, sizeof(sp->row_address), "%s",
		    out->rec.address);
		free(sp->row_topic);
		if ((sp->row_topic = malloc(out->rec.topic_len + 1)) == NULL) {
			sqlite3_reset(s);
			snprintf(sp->error, sizeof(sp->error), "out of memory");
			return SPOOL_ERROR;
		}
		memcpy(sp->row_topic, out->rec.topic, out->rec.topic_len);
		sp->row_topic[out->rec.topic_len] = '\0';
		out->rec.address = sp->row_address;
		out->rec.topic = sp->row_topic;
	}
	sqlite3_reset(s);
	return r;
}

enum spool_status
spool_erase(struct spool *sp, const char *address, uint64_t *n)
{
	sqlite3_stmt *s;

	*n = 0;
	if (spool_begin(sp) != SPOOL_OK)
		return SPOOL_ERROR;
	s = spool_prepare(sp, Q_ERASE_KEEP);
	sqldb_bind_text(s, 1, address, strlen(address));
	if (spool_exec(sp, s) != SPOOL_OK)
		goto fail;
	*n = (uint64_t)sqlite3_changes(sp->db);
	s = spool_prepare(sp, Q_ERASE_DROP);
	sqldb_bind_text(s, 1, address, strlen(address));
	if (spool_exec(sp, s) != SPOOL_OK)
		goto fail;
	*n += (uint64_t)sqlite3_changes(sp->db);
	if (spool_commit(sp) != SPOOL_OK)
		goto fail;
	/*
	 * Nor in the write-ahead log: move it into the file and empty it.
	 * Done is done if this fails; sqlite's next checkpoint does it.
	 */
	(void)sqlite3_exec(
	    sp->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	return SPOOL_OK;
fail:
	spool_rollback(sp);
	*n = 0;
	return SPOOL_ERROR;
}

/* ---- Periods and summaries ------------------------------------------------ */

enum spool_status
spool_next_unsummarised(struct spool *sp, uint64_t last, uint64_t *start)
{
	sqlite3_stmt *s = spool_prepare(sp, Q_NEXT_UNSUMMARISED);
	enum spool_status r;

	sqldb_bind_u64(s, 1, last);
	if ((r = spool_step(sp, s)) == SPOOL_OK) {
		if (sqlite3_column_type(s, 0) == SQLITE_NULL)
			r = SPOOL_MISSING;
		else
			*start = sqldb_column_u64(s, 0);
	}
	sqlite3_reset(s);
	return r;
}

enum spool_status
spool_period_topics(struct spool *sp, uint64_t start,
    void (*fn)(void *arg, const char *topic, size_t len), void *arg)
{
	sqlite3_stmt *s = spool_prepare(sp, Q_PERIOD_TOPICS);
	enum spool_status r;
	const char *t;
	size_t len;

	sqldb_bind_u64(s, 1, start);
	while ((r = spool_step(sp, s)) == SPOOL_OK) {
		t = sqldb_column_text(s, 0, &len);
		fn(arg, t, len);
	}
	sqlite3_reset(s);
	return r == SPOOL_MISSING ? SPOOL_OK : SPOOL_ERROR;
}

enum spool_status
spool_topic_leaves(struct spool *sp, uint64_t start, const char *topic,
    size_t len, uint8_t (**leaves)[AUDIT_HASH_LEN], size_t *n)
{
	sqlite3_stmt *s = spool_prepare(sp, Q_TOPIC_LEAVES);
	uint8_t(*out)[AUDIT_HASH_LEN] = NULL, (*grown)[AUDIT_HASH_LEN];
	size_t count = 0, cap = 0;
	enum spool_status r;

	sqldb_bind_u64(s, 1, start);
	sqldb_bind_text(s, 2, topic, len);
	while ((r = spool_step(sp, s)) == SPOOL_OK) {
		if (count == cap) {
			cap = cap ? 2 * cap : 64;
			if ((grown = realloc(out, cap * AUDIT_HASH_LEN)) ==
			    NULL) {
				snprintf(sp->error, sizeof(sp->error),
				    "out of memory");
				r = SPOOL_ERROR;
				break;
			}
			out = grown;
		}
		column_hash(s, 0, out[count++]);
	}
	sqlite3_reset(s);
	if (r != SPOOL_MISSING) {
		free(out);
		return SPOOL_ERROR;
	}
	*leaves = out;
	*n = count;
	return SPOOL_OK;
}

enum spool_status
spool_topic_addresses(struct spool *sp, uint64_t start, const char *topic,
    size_t len, bool publishers, void (*fn)(void *arg, const char *address),
    void *arg)
{
	sqlite3_stmt *s = spool_prepare(
	    sp, publishers ? Q_TOPIC_PUBLISHERS : Q_TOPIC_SUBSCRIBERS);
	enum spool_status r;
	size_t n;

	sqldb_bind_u64(s, 1, start);
	sqldb_bind_text(s, 2, topic, len);
	while ((r = spool_step(sp, s)) == SPOOL_OK)
		fn(arg, sqldb_column_text(s, 0, &n));
	sqlite3_reset(s);
	return r == SPOOL_MISSING ? SPOOL_OK : SPOOL_ERROR;
}

void
spool_summary_free(struct spool_summary *s)
{
	free(s->topic);
	free(s->reason);
	s->topic = s->reason = NULL;
}

enum spool_status
spool_summary_add(struct spool *sp, const struct spool_summary *sum)
{
	sqlite3_stmt *s = spool_prepare(sp, Q_SUMMARY_ADD);

	sqldb_bind_u64(s, 1, sum->period);
	sqldb_bind_u64(s, 2, sum->period_end);
	sqldb_bind_text(s, 3, sum->topic, sum->topic_len);
	sqlite3_bind_blob(s, 4, sum->root, AUDIT_HASH_LEN, SQLITE_TRANSIENT);
	sqldb_bind_u64(s, 5, sum->records);
	sqldb_bind_u64(s, 6, sum->publishers);
	sqldb_bind_u64(s, 7, sum->subscribers);
	sqldb_bind_text(s, 8, sum->reason, strlen(sum->reason));
	return spool_exec(sp, s);
}

enum spool_status
spool_period_add(struct spool *sp, uint64_t start, uint64_t end,
    uint64_t topics, uint64_t records, uint64_t now)
{
	sqlite3_stmt *s = spool_prepare(sp, Q_PERIOD_ADD);

	sqldb_bind_u64(s, 1, start);
	sqldb_bind_u64(s, 2, end);
	sqldb_bind_u64(s, 3, topics);
	sqldb_bind_u64(s, 4, records);
	sqldb_bind_u64(s, 5, now);
	return spool_exec(sp, s);
}

static char *
spool_strndup(const char *s, size_t len)
{
	char *out = malloc(len + 1);

	if (out != NULL) {
		memcpy(out, s, len);
		out[len] = '\0';
	}
	return out;
}

/* Reads a SUMMARY_COLUMNS row into out (strings malloc'd). */
static enum spool_status
spool_read_summary(struct spool *sp, sqlite3_stmt *s, struct spool_summary *out)
{
	const char *t;
	size_t len;

	memset(out, 0, sizeof(*out));
	out->period = sqldb_column_u64(s, 0);
	out->period_end = sqldb_column_u64(s, 1);
	t = sqldb_column_text(s, 2, &out->topic_len);
	out->topic = spool_strndup(t, out->topic_len);
	column_hash(s, 3, out->root);
	out->records = sqldb_column_u64(s, 4);
	out->publishers = sqldb_column_u64(s, 5);
	out->subscribers = sqldb_column_u64(s, 6);
	t = sqldb_column_text(s, 7, &len);
	out->reason = spool_strndup(t, len);
	out->tx = sqldb_column_u64(s, 8);
	if (out->topic == NULL || out->reason == NULL) {
		spool_summary_free(out);
		snprintf(sp->error, sizeof(sp->error), "out of memory");
		return SPOOL_ERROR;
	}
	return SPOOL_OK;
}

enum spool_status
spool_next_unsubmitted(struct spool *sp, struct spool_summary *out)
{
	sqlite3_stmt *s = spool_prepare(sp, Q_NEXT_UNSUBMITTED);
	enum spool_status r;

	if ((r = spool_step(sp, s)) == SPOOL_OK)
		r = spool_read_summary(sp, s, out);
	sqlite3_reset(s);
	return r;
}

enum spool_status
spool_summary_submitted(struct spool *sp, uint64_t period, const char *topic,
    size_t len, uint64_t tx, uint64_t now, bool *done)
{
	sqlite3_stmt *s;
	uint64_t left = 1;

	*done = false;
	if (spool_begin(sp) != SPOOL_OK)
		return SPOOL_ERROR;
	s = spool_prepare(sp, Q_SUMMARY_SET_TX);
	sqldb_bind_u64(s, 1, period);
	sqldb_bind_text(s, 2, topic, len);
	sqldb_bind_u64(s, 3, tx);
	if (spool_exec(sp, s) != SPOOL_OK)
		goto fail;
	s = spool_prepare(sp, Q_PERIOD_LEFT);
	sqldb_bind_u64(s, 1, period);
	if (spool_step(sp, s) != SPOOL_OK) {
		sqlite3_reset(s);
		goto fail;
	}
	left = sqldb_column_u64(s, 0);
	sqlite3_reset(s);
	if (left == 0) {
		s = spool_prepare(sp, Q_PERIOD_DONE);
		sqldb_bind_u64(s, 1, period);
		sqldb_bind_u64(s, 2, now != 0 ? now : 1);
		if (spool_exec(sp, s) != SPOOL_OK)
			goto fail;
		*done = sqlite3_changes(sp->db) > 0;
	}
	if (spool_commit(sp) == SPOOL_OK)
		return SPOOL_OK;
fail:
	spool_rollback(sp);
	*done = false;
	return SPOOL_ERROR;
}

enum spool_status
spool_summary_get(struct spool *sp, uint64_t period, const char *topic,
    size_t len, struct spool_summary *out)
{
	sqlite3_stmt *s = spool_prepare(sp, Q_SUMMARY_GET);
	enum spool_status r;

	sqldb_bind_u64(s, 1, period);
	sqldb_bind_text(s, 2, topic, len);
	if ((r = spool_step(sp, s)) == SPOOL_OK)
		r = spool_read_summary(sp, s, out);
	sqlite3_reset(s);
	return r;
}

enum spool_status
spool_period_summaries(struct spool *sp, uint64_t period,
    void (*fn)(void *arg, const struct spool_summary *s), void *arg)
{
	sqlite3_stmt *s = spool_prepare(sp, Q_PERIOD_SUMMARIES);
	struct spool_summary sum;
	enum spool_status r;

	sqldb_bind_u64(s, 1, period);
	while ((r = spool_step(sp, s)) == SPOOL_OK) {
		if ((r = spool_read_summary(sp, s, &sum)) != SPOOL_OK)
			break;
		fn(arg, &sum);
		spool_summary_free(&sum);
	}
	sqlite3_reset(s);
	return r == SPOOL_MISSING ? SPOOL_OK : SPOOL_ERROR;
}

enum spool_status
spool_figures(struct spool *sp, struct spool_figures *out)
{
	sqlite3_stmt *s;

	memset(out, 0, sizeof(*out));
	s = spool_prepare(sp, Q_FIG_RECORDS);
	if (spool_step(sp, s) != SPOOL_OK)
		goto fail;
	out->records = sqldb_column_u64(s, 0) - sqldb_column_u64(s, 3);
	out->accesses = sqldb_column_u64(s, 1);
	out->late = sqldb_column_u64(s, 2);
	out->erased = sqldb_column_u64(s, 3);
	sqlite3_reset(s);
	s = spool_prepare(sp, Q_FIG_BATCHES);
	if (spool_step(sp, s) != SPOOL_OK)
		goto fail;
	out->batches = sqldb_column_u64(s, 0);
	sqlite3_reset(s);
	s = spool_prepare(sp, Q_FIG_PERIODS);
	if (spool_step(sp, s) != SPOOL_OK)
		goto fail;
	out->periods_done = sqldb_column_u64(s, 0);
	out->periods_pending = sqldb_column_u64(s, 1);
	out->last_done = sqldb_column_u64(s, 2);
	sqlite3_reset(s);
	s = spool_prepare(sp, Q_FIG_SUMMARIES);
	if (spool_step(sp, s) != SPOOL_OK)
		goto fail;
	out->summaries = sqldb_column_u64(s, 0);
	out->summaries_pending = sqldb_column_u64(s, 1);
	sqlite3_reset(s);
	return SPOOL_OK;
fail:
	sqlite3_reset(s);
	return SPOOL_ERROR;
}

enum spool_status
spool_summaries_pending(struct spool *sp, uint64_t *n)
{
	sqlite3_stmt *s = spool_prepare(sp, Q_FIG_SUMMARIES);
	enum spool_status r = spool_step(sp, s);

	if (r == SPOOL_OK)
		*n = sqldb_column_u64(s, 1);
	sqlite3_reset(s);
	return r == SPOOL_OK ? SPOOL_OK : SPOOL_ERROR;
}

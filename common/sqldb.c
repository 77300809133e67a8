/*
 * sqlite helpers shared by chaind's store and reportd's spool.
 */
#include <stdio.h>

#include "sqldb.h"

sqlite3 *
sqldb_open(const char *path, const char *schema, const char *const *sql,
    size_t n, sqlite3_stmt **stmts, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	char *msg = NULL;
	size_t q;

	for (q = 0; q < n; q++)
		stmts[q] = NULL;
	if (sqlite3_open_v2(path, &db,
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
		    SQLITE_OPEN_NOMUTEX,
		NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
		    db != NULL ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return NULL;
	}
	/* A busy database must not hold the event loop for long. */
	sqlite3_busy_timeout(db, 100);
	if (sqlite3_exec(db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(
		    err, errlen, "%s: %s", path, msg != NULL ? msg : "schema");
		sqlite3_free(msg);
		sqlite3_close(db);
		return NULL;
	}
	for (q = 0; q < n; q++) {
		if (sqlite3_prepare_v3(db, sql[q], -1,
			SQLITE_PREPARE_PERSISTENT, &stmts[q],
			NULL) != SQLITE_OK) {
			snprintf(
			    err, errlen, "%s: %s", path, sqlite3_errmsg(db));
			sqldb_close(db, stmts, n);
			return NULL;
		}
	}
	return db;
}

void
sqldb_close(sqlite3 *db, sqlite3_stmt **stmts, size_t n)
{
	for (size_t q = 0; q < n; q++) {
		sqlite3_finalize(stmts[q]);
		stmts[q] = NULL;
	}
	sqlite3_close(db);
}

sqlite3_stmt *
sqldb_reset(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

void
sqldb_bind_u64(sqlite3_stmt *s, int i, uint64_t v)
{
	sqlite3_bind_int64(s, i, (sqlite3_int64)v);
}

void
sqldb_bind_text(sqlite3_stmt *s, int i, const char *text, size_t len)
{
	sqlite3_bind_text(
	    s, i, text != NULL ? text : "", (int)len, SQLITE_TRANSIENT);
}

uint64_t
sqldb_column_u64(sqlite3_stmt *s, int i)
{
	return (uint64_t)sqlite3_column_int64(s, i);
}

const char *
sqldb_column_text(sqlite3_stmt *s, int i, size_t *len)
{
	const char *t = (const char *)sqlite3_column_text(s, i);

	*len = (size_t)sqlite3_column_bytes(s, i);
	return t != NULL ? t : "";
}

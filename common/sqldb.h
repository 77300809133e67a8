/*
 * The sqlite plumbing chaind's store and reportd's spool share: a database
 * opened with its schema and a fixed table of prepared statements, and the
 * binding and reading helpers both use. What a failure means stays with
 * each caller.
 */
#ifndef FLYTRAP_SQLDB_H
#define FLYTRAP_SQLDB_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/*
 * Opens (creating) the database at path, runs `schema`, and prepares the
 * `n` statements of `sql` into `stmts`. Returns the handle, or NULL with a
 * message naming the file in err (nothing is left open then).
 */
sqlite3 *sqldb_open(const char *path, const char *schema,
    const char *const *sql, size_t n, sqlite3_stmt **stmts, char *err,
    size_t errlen);
/* Finalizes the statements and closes the database; NULL is harmless. */
void sqldb_close(sqlite3 *db, sqlite3_stmt **stmts, size_t n);

/* Resets a statement for reuse and clears its bindings. */
sqlite3_stmt *sqldb_reset(sqlite3_stmt *s);

void sqldb_bind_u64(sqlite3_stmt *s, int i, uint64_t v);
/* NULL text binds as the empty string, never as SQL NULL. */
void sqldb_bind_text(sqlite3_stmt *s, int i, const char *text, size_t len);
uint64_t sqldb_column_u64(sqlite3_stmt *s, int i);
/* A column's text (never NULL) and its length. */
const char *sqldb_column_text(sqlite3_stmt *s, int i, size_t *len);

#endif

/* db.h - the one storage interface, with SQLite and PostgreSQL behind it.
 *
 * A `db` is one connection, used by one thread at a time (the server keeps
 * one per worker thread). SQL text is shared by both backends where it can
 * be: placeholders are $1, $2, ... (on SQLite they are bound by name), and
 * RETURNING / ON CONFLICT work on both. Values are always bound, typed:
 *
 *   type     in the program        PostgreSQL          SQLite
 *   TEXT     char *                text                TEXT
 *   INT      int64_t               bigint/integer      INTEGER
 *   BOOL     int (0/1)             boolean             INTEGER 0/1
 *   JSON     char * (JSON text)    jsonb               TEXT
 *   UUID     char * (canonical)    uuid                TEXT
 *   TS       int64_t microseconds  timestamptz         TEXT, canonical form
 *   DATE     int32_t days          date                TEXT YYYY-MM-DD
 *   DEC      int64_t scaled        numeric(p,scale)    INTEGER scaled
 *
 * DEC covers money (scale 2: paise), quantities (scale 3) and rates; the
 * backends convert, so no floating point ever touches these values.
 *
 * Errors carry PostgreSQL's SQLSTATE codes on both backends (23505 unique
 * violation, 23503 foreign key, 23502 not null, 23514 check, 40001
 * serialization, 08006 connection), so callers map them one way. */
#ifndef MUNSHI_DB_DB_H
#define MUNSHI_DB_DB_H

#include <stddef.h>
#include <stdint.h>

typedef struct db db;
typedef struct db_res db_res;

typedef enum { DB_SQLITE, DB_POSTGRES } db_kind;

typedef enum {
  DBT_NULL,
  DBT_TEXT,
  DBT_INT,
  DBT_BOOL,
  DBT_JSON,
  DBT_UUID,
  DBT_TS,
  DBT_DATE,
  DBT_DEC
} db_type;

/* A bound parameter. Text-like types use s; INT, BOOL, TS, DEC use i;
 * DATE uses i as days; DEC also sets scale. */
typedef struct db_val {
  db_type type;
  int scale;
  int64_t i;
  const char *s;
} db_val;

static inline db_val db_null(void) { return (db_val){.type = DBT_NULL}; }
static inline db_val db_text(const char *s) { return (db_val){.type = DBT_TEXT, .s = s}; }
static inline db_val db_int(int64_t i) { return (db_val){.type = DBT_INT, .i = i}; }
static inline db_val db_bool(int b) { return (db_val){.type = DBT_BOOL, .i = b != 0}; }
static inline db_val db_json(const char *s) { return (db_val){.type = DBT_JSON, .s = s}; }
static inline db_val db_uuid(const char *s) { return (db_val){.type = DBT_UUID, .s = s}; }
static inline db_val db_ts(int64_t us) { return (db_val){.type = DBT_TS, .i = us}; }
static inline db_val db_date(int32_t days) { return (db_val){.type = DBT_DATE, .i = days}; }
static inline db_val db_dec(int64_t v, int scale) { return (db_val){.type = DBT_DEC, .i = v, .scale = scale}; }
static inline db_val db_money(int64_t paise) { return db_dec(paise, 2); }

typedef struct db_err {
  char code[6];       /* SQLSTATE, "" when none */
  char message[256];  /* the database's message, safe to show */
} db_err;

/* Opens a connection. url: "sqlite:PATH" (PATH may be ":memory:") or
 * "postgres://..." / "postgresql://...". SQLite is opened in WAL mode with
 * busy_timeout set before anything else, foreign keys on and
 * case_sensitive_like on. PostgreSQL sessions run with TimeZone UTC. */
int db_open(const char *url, db **out, db_err *err);
/* Closes the connection and frees its cached statements. Accepts NULL. */
void db_close(db *d);
db_kind db_kind_of(const db *d);

/* Runs SQL text with no parameters; it may hold several statements (DDL,
 * migrations). */
int db_exec(db *d, const char *sql, db_err *err);

/* Runs one statement with n bound parameters. When out is not NULL it gets
 * the result, which the caller frees with db_res_free (also on a statement
 * that returns no rows). Statements are prepared once per connection and
 * cached by their text, so callers should reuse the same text. Text
 * holding several statements is refused (use db_exec); so is a parameter
 * count that differs from the $N the text uses; a UUID parameter that is
 * not a UUID fails with 22P02 (SQLite lower-cases UUIDs as PostgreSQL does). */
int db_query(db *d, const char *sql, const db_val *params, int n,
             db_res **out, db_err *err);

/* db_query for a statement whose best plan depends neither on the values
 * bound nor on how big the tables are: it reaches its rows by a primary or
 * unique key, or inserts VALUES. PostgreSQL then keeps one generic plan for
 * it per connection (re-made when ANALYZE changes the statistics) instead
 * of planning it with its values at every run, as every other statement
 * is (postgres.c): planning was a third of an invoice's cost. The same as
 * db_query on SQLite. Counts for db_fault_after like db_query. */
int db_query_fixed(db *d, const char *sql, const db_val *params, int n,
                   db_res **out, db_err *err);

/* Tests only: the nth db_query of this thread from now on fails with
 * SQLSTATE 58030 (an I/O error), as a database may at any statement; 0
 * turns it off. Used to show that an operation failing anywhere leaves
 * nothing behind. */
void db_fault_after(int nth);
/* How many db_query calls remain before the fault (0: it fired, or off). */
int db_fault_pending(void);

/* Transactions. db_begin(d, 1) takes the write lock at once (SQLite's
 * BEGIN IMMEDIATE), which avoids upgrade deadlocks; db_begin(d, 0) is a
 * read transaction. On both backends a statement that fails inside a
 * transaction dooms it, as PostgreSQL does: later statements fail with
 * 25P02 until db_rollback (or ROLLBACK TO SAVEPOINT), and db_commit rolls
 * back and fails with 25P02. When db_commit fails the transaction is over.
 * A caller retries the whole transaction on 40001. db_rollback never fails
 * loudly and is harmless outside a transaction. */
int db_begin(db *d, int write, db_err *err);
int db_commit(db *d, db_err *err);
void db_rollback(db *d);

/* Results. Rows and columns count from 0. Reads of NULL give 0, or "" for
 * text (db_res_isnull tells NULL from empty).
 * A value that cannot be read as the asked type (a timestamp column read
 * with db_res_dec, an expression giving 12.345 read at scale 2: the SQL is
 * wrong, not the data) is logged and reads as DB_BAD_VALUE from
 * db_res_dec / db_res_ts, DB_BAD_DATE from db_res_date and 0 from
 * db_res_int / db_res_bool. db_res_dec accepts extra fractional zeros
 * ("12.5000" at scale 2) and never rounds; on SQLite an INTEGER cell (or
 * a whole REAL, such as avg() of a money column) is taken as already
 * scaled, text as a decimal in plain units. */
#define DB_BAD_VALUE INT64_MIN
#define DB_BAD_DATE INT32_MIN
int db_res_rows(const db_res *r);
int db_res_cols(const db_res *r);
const char *db_res_colname(const db_res *r, int col);
/* Rows changed by an INSERT/UPDATE/DELETE without RETURNING. */
int64_t db_res_changes(const db_res *r);
int db_res_isnull(const db_res *r, int row, int col);
const char *db_res_text(const db_res *r, int row, int col); /* TEXT, UUID, JSON */
int64_t db_res_int(const db_res *r, int row, int col);
int db_res_bool(const db_res *r, int row, int col);
int64_t db_res_ts(const db_res *r, int row, int col);   /* microseconds */
int32_t db_res_date(const db_res *r, int row, int col); /* days */
int64_t db_res_dec(const db_res *r, int row, int col, int scale);
void db_res_free(db_res *r);

/* Migrations (migrate.c): applies every migration of the backend that is
 * not yet recorded in schema_migrations, each in its own transaction.
 * Re-running is a no-op. *applied gets how many ran (may be NULL). */
int db_migrate(db *d, int *applied, db_err *err);

/* ---- change notification (the live feed, src/realtime/) ---------------- */

/* Commit listeners, process-wide: fn(cls) is called after every commit of
 * a connection of this process that wrote something, explicit or
 * autocommit. SQLite: from the WAL hook, once the write lock is released
 * (an in-memory database has no WAL and never calls them). PostgreSQL:
 * after a COMMIT of a transaction in which an INSERT, UPDATE, DELETE or
 * MERGE (or a db_exec script) ran, and after such a statement run on its
 * own. It runs on the committing thread, so it must be quick and must not
 * block: wake your own thread. At most DB_COMMIT_LISTENERS at once; 0, or
 * -1 when full. */
#define DB_COMMIT_LISTENERS 8
typedef void (*db_commit_fn)(void *cls);
int db_on_commit(db_commit_fn fn, void *cls);
/* Removes what db_on_commit added; after it returns fn is not running
 * with cls and will not be called again. */
void db_on_commit_remove(db_commit_fn fn, void *cls);

/* PostgreSQL: LISTEN on channel (lower-case letters, digits and '_'),
 * then wait up to timeout_ms for a notification on this connection, or
 * for wake_fd (-1: none) to become readable (the caller drains it).
 * db_wait_notify returns 1 when at least one notification arrived (all
 * queued ones are consumed), 2 when wake_fd is readable, 0 on timeout, -1
 * with err set when the connection broke (the caller reopens it and
 * listens again). SQLite: both fail with 0A000. */
int db_listen(db *d, const char *channel, db_err *err);
int db_wait_notify(db *d, int timeout_ms, int wake_fd, db_err *err);

#endif

/* db_int.h - what the storage backends share, private to src/db/.
 *
 * db.c dispatches every call of db.h through a small table of operations
 * that each backend (sqlite.c, postgres.c) fills in; a connection and a
 * result begin with a common header so db.c can find that table. Typed
 * reads of results (int, bool, decimal, timestamp, date) are written once in
 * db.c on top of two primitives a backend provides: the cell as text, and
 * the cell as a native integer when the backend stores one. The statement
 * cache keyed by SQL text is shared too; each backend keeps its own kind of
 * handle in it. Nothing outside src/db/ includes this file. */
#ifndef MUNSHI_DB_DB_INT_H
#define MUNSHI_DB_DB_INT_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

/* Magic numbers guard the structs that cross the API (a stale or foreign
 * pointer trips an assertion instead of corrupting memory). */
#define DB_MAGIC 0x6d756e64u     /* "mund" */
#define DB_RES_MAGIC 0x6d756e72u /* "munr" */

/* Statement-cache bound per connection: enough for every statement the
 * program's fixed SQL texts make, small enough that generated texts (bulk
 * inserts of varying width) cannot grow it without limit. */
#define DB_STMT_CACHE_MAX 256

struct db_ops {
  void (*close)(db *d);
  int (*exec)(db *d, const char *sql, db_err *err);
  int (*query)(db *d, const char *sql, const db_val *params, int n,
               db_res **out, db_err *err);
  /* db_query_fixed; NULL: query serves for both */
  int (*query_fixed)(db *d, const char *sql, const db_val *params, int n,
                     db_res **out, db_err *err);
  int (*begin)(db *d, int write, db_err *err);
  int (*commit)(db *d, db_err *err);
  void (*rollback)(db *d);
  /* db_listen / db_wait_notify; NULL: not supported (SQLite) */
  int (*listen)(db *d, const char *channel, db_err *err);
  int (*wait_notify)(db *d, int timeout_ms, int wake_fd, db_err *err);
};

struct db {
  uint32_t magic;
  db_kind kind;
  const struct db_ops *ops;
};

struct db_res_ops {
  int (*rows)(const db_res *r);
  int (*cols)(const db_res *r);
  const char *(*colname)(const db_res *r, int col);
  int64_t (*changes)(const db_res *r);
  /* The cell as text, or NULL for SQL NULL. Row and column are in range. */
  const char *(*text)(const db_res *r, int row, int col);
  /* 1 and *out set when the backend holds the cell as a number with an
   * integer value; -1 when it holds a number that is not an integer (an
   * SQLite REAL like 2.5); 0 when the cell is text (or NULL). */
  int (*native_int)(const db_res *r, int row, int col, int64_t *out);
  void (*free)(db_res *r);
};

struct db_res {
  uint32_t magic;
  const struct db_res_ops *ops;
};

/* Backends. url is what follows the scheme for SQLite ("sqlite:" removed)
 * and the whole URL for PostgreSQL. */
int db_sqlite_open(const char *path, db **out, db_err *err);
int db_pg_open(const char *url, db **out, db_err *err);

/* Calls the commit listeners (db_on_commit); backends call it after a
 * commit that wrote. */
void db_commit_fire(void);

/* Fills err (which may be NULL) with a SQLSTATE and a printf-style message;
 * returns -1 so callers can `return db_err_set(...)`. */
int db_err_set(db_err *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void db_err_clear(db_err *err);

/* A statement cache keyed by SQL text: open addressing over a power-of-two
 * table, no deletion of single entries (when it is full the owner clears it
 * all, which is rare and keeps this simple). The cache copies the key; the
 * handle belongs to the owner, who frees it in stmt_cache_clear's callback. */
struct stmt_cache_entry {
  char *sql; /* NULL: empty slot */
  uint64_t hash;
  void *handle;
};

struct stmt_cache {
  struct stmt_cache_entry *slots;
  size_t nslots; /* power of two, at least twice max */
  size_t count;
  size_t max;
};

void stmt_cache_init(struct stmt_cache *c, size_t max);
/* The handle cached for sql, or NULL. */
void *stmt_cache_get(const struct stmt_cache *c, const char *sql);
int stmt_cache_full(const struct stmt_cache *c);
/* Adds sql -> handle; the caller has checked the cache is not full and sql
 * is not in it. */
void stmt_cache_put(struct stmt_cache *c, const char *sql, void *handle);
/* Empties the cache, handing each handle to free_handle(handle, arg). */
void stmt_cache_clear(struct stmt_cache *c,
                      void (*free_handle)(void *handle, void *arg), void *arg);
/* Clears and releases the table. */
void stmt_cache_free(struct stmt_cache *c,
                     void (*free_handle)(void *handle, void *arg), void *arg);

#endif

/* sqlite.c - the SQLite backend of db.h.
 *
 * One sqlite3 connection per db, used by one thread (opened NOMUTEX: the
 * server never shares a connection, so SQLite's per-call mutex would be pure
 * cost). The connection runs in WAL mode so readers never block the writer;
 * busy_timeout is set before the journal-mode switch because that switch
 * itself takes a lock another starting process may hold. Writes take the
 * lock at BEGIN IMMEDIATE, so a transaction never fails half-way on a lock
 * upgrade. Statements are prepared once and cached by their SQL text; $N
 * placeholders are bound by name, which lets SQLite and PostgreSQL run the
 * same text. A result is copied out of the statement into one allocation
 * (the statement is reset at once and can serve the next call), holding
 * each cell as NULL, an integer or text. Extended result codes are mapped to
 * PostgreSQL's SQLSTATE codes so callers handle errors one way. */
#include <assert.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/textfold.h"
#include "base/timeutil.h"
#include "base/uuid.h"
#include "db/db_int.h"

#define SQ_BUSY_TIMEOUT_MS 5000

/* Writers of this process queue on a mutex instead of in SQLite's busy
 * handler, which sleeps in steps of up to 100 ms while the lock is taken:
 * under a write load that sleeping, not the work, set the tail latency.
 * Other processes on the same file still meet busy_timeout. The wait is
 * bounded by the same timeout, and ends in SQLITE_BUSY as before. */
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

static int write_lock_take(void) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += SQ_BUSY_TIMEOUT_MS / 1000;
  return pthread_mutex_timedlock(&write_lock, &until) == 0 ? 0 : -1;
}

struct sq {
  struct db base;
  sqlite3 *conn;
  struct stmt_cache cache; /* SQL text -> sqlite3_stmt * */
  int in_tx;               /* between db_begin and db_commit / db_rollback */
  int holds_write_lock;    /* write_lock taken by db_begin(d, 1) */
  int doomed;              /* a statement failed inside the transaction */
};

/* CELL_REAL: a REAL that is not a whole number (whole ones are CELL_INT,
 * see db_res_dec); its text is SQLite's rendering of it. */
enum { CELL_NULL, CELL_INT, CELL_REAL, CELL_TEXT };

struct sq_cell {
  int64_t i;
  size_t off; /* into the result's text area (CELL_INT has text too) */
  int type;
};

/* Row 0 of cells holds the column names, so rows of data start at 1. */
struct sq_res {
  struct db_res base;
  int rows, cols;
  int64_t changes;
  const struct sq_cell *cells;
  const char *text;
};

/* ---- checkpoints off the commit path ---- */

/* SQLite checkpoints the WAL into the database file inside the COMMIT that
 * passes wal_autocheckpoint pages, with the write lock held; that fsync is
 * what made a commit now and then take tens of milliseconds. Instead every
 * connection asks, from its WAL hook, a thread of this process to run a
 * PASSIVE checkpoint on a connection of its own: PASSIVE takes no lock a
 * writer or reader needs, so commits go on meanwhile. Should the WAL still
 * grow far past the mark (the thread cannot keep up, or readers pin old
 * pages), the committing connection checkpoints itself as SQLite would. */
#define SQ_CKPT_PAGES 1000
#define SQ_CKPT_RESTART_PAGES (4 * SQ_CKPT_PAGES)
#define SQ_CKPT_INLINE_PAGES (16 * SQ_CKPT_PAGES)
#define SQ_CKPT_BUSY_MS 20
#define SQ_CKPT_FILES 8

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  char *pending[SQ_CKPT_FILES]; /* files waiting for a checkpoint */
  int restart[SQ_CKPT_FILES];   /* ... that must also restart their WAL */
  char *path[SQ_CKPT_FILES];    /* the thread's connections, by file */
  sqlite3 *conn[SQ_CKPT_FILES];
  int next_evict;
} ckpt = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, {0}, {0}, {0}, 0};
static pthread_once_t ckpt_once = PTHREAD_ONCE_INIT;

static sqlite3 *ckpt_conn(const char *path) {
  for (int i = 0; i < SQ_CKPT_FILES; i++)
    if (ckpt.path[i] && !strcmp(ckpt.path[i], path)) return ckpt.conn[i];
  int slot = ckpt.next_evict;
  ckpt.next_evict = (slot + 1) % SQ_CKPT_FILES;
  sqlite3_close(ckpt.conn[slot]);
  free(ckpt.path[slot]);
  ckpt.path[slot] = NULL;
  ckpt.conn[slot] = NULL;
  sqlite3 *c = NULL;
  if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK) {
    sqlite3_close(c);
    return NULL;
  }
  sqlite3_busy_timeout(c, SQ_CKPT_BUSY_MS);
  /* A connection finds out that the file is in WAL mode, and opens the
   * WAL, only when it first reads; until then a checkpoint on it does
   * nothing at all (and says so with a log size of -1). */
  if (sqlite3_exec(c, "SELECT 1 FROM sqlite_master LIMIT 1", NULL, NULL, NULL) !=
      SQLITE_OK) {
    sqlite3_close(c);
    return NULL;
  }
  ckpt.path[slot] = xstrdup(path);
  ckpt.conn[slot] = c;
  return c;
}

/* A PASSIVE checkpoint copies the WAL into the database but cannot make
 * the WAL start over while a reader still uses it, and under a steady mix
 * of reads and writes some reader always does: the WAL would only grow.
 * Past SQ_CKPT_RESTART_PAGES the thread therefore runs a RESTART
 * checkpoint, which waits (up to SQ_CKPT_BUSY_MS) for the readers of the
 * moment to finish; it holds the process's write lock meanwhile, so this
 * process's writers queue on the mutex rather than in SQLite's busy
 * handler. */
static void ckpt_run(sqlite3 *c, int restart) {
  /* The bulk of the copying (and its fsync) without any lock; a RESTART
   * then has only the frames written meanwhile left to copy while this
   * process's writers wait. */
  sqlite3_wal_checkpoint_v2(c, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
  if (!restart) return;
  if (write_lock_take()) return;
  sqlite3_wal_checkpoint_v2(c, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
  pthread_mutex_unlock(&write_lock);
}

static void *ckpt_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&ckpt.mu);
  for (;;) {
    char *path = NULL;
    int restart = 0;
    for (int i = 0; i < SQ_CKPT_FILES && !path; i++)
      if (ckpt.pending[i]) {
        path = ckpt.pending[i];
        restart = ckpt.restart[i];
        ckpt.pending[i] = NULL;
        ckpt.restart[i] = 0;
      }
    if (!path) {
      pthread_cond_wait(&ckpt.cv, &ckpt.mu);
      continue;
    }
    /* Only this thread uses the connections; the mutex guards the lists. */
    sqlite3 *c = ckpt_conn(path);
    pthread_mutex_unlock(&ckpt.mu);
    if (c) ckpt_run(c, restart);
    free(path);
    pthread_mutex_lock(&ckpt.mu);
  }
  return NULL;
}

static void ckpt_start(void) {
  pthread_t t;
  if (pthread_create(&t, NULL, ckpt_main, NULL) == 0) pthread_detach(t);
}

static void ckpt_request(const char *path, int restart) {
  pthread_once(&ckpt_once, ckpt_start);
  pthread_mutex_lock(&ckpt.mu);
  int free_slot = -1, queued = -1;
  for (int i = 0; i < SQ_CKPT_FILES; i++) {
    if (ckpt.pending[i] && !strcmp(ckpt.pending[i], path)) queued = i;
    if (!ckpt.pending[i] && free_slot < 0) free_slot = i;
  }
  if (queued >= 0) {
    ckpt.restart[queued] |= restart;
  } else if (free_slot >= 0) {
    ckpt.pending[free_slot] = xstrdup(path);
    ckpt.restart[free_slot] = restart;
  }
  pthread_cond_signal(&ckpt.cv);
  pthread_mutex_unlock(&ckpt.mu);
}

static int wal_hook(void *arg, sqlite3 *conn, const char *schema, int pages) {
  (void)arg;
  /* SQLite calls this after every commit that wrote, with the write lock
   * released: the moment the live feed wants to hear of (db_on_commit). */
  db_commit_fire();
  if (pages < SQ_CKPT_PAGES) return SQLITE_OK;
  if (pages >= SQ_CKPT_INLINE_PAGES) {
    sqlite3_wal_checkpoint_v2(conn, schema, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
  }
  const char *path = sqlite3_db_filename(conn, schema);
  if (path && path[0]) ckpt_request(path, pages >= SQ_CKPT_RESTART_PAGES);
  return SQLITE_OK;
}

/* ---- errors ---- */

static const char *sq_sqlstate(int rc, const char *msg) {
  switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return "23505";
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return "23503";
    case SQLITE_CONSTRAINT_NOTNULL:
      return "23502";
    case SQLITE_CONSTRAINT_CHECK:
      return "23514";
  }
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      return "23000";
    case SQLITE_BUSY: /* still locked after busy_timeout: retry the tx */
    case SQLITE_LOCKED:
      return "40001";
    case SQLITE_FULL:
      return "53100";
    case SQLITE_NOMEM:
      return "53200";
    case SQLITE_READONLY:
      return "25006";
    case SQLITE_INTERRUPT:
      return "57014";
    case SQLITE_TOOBIG:
      return "54000";
    case SQLITE_MISMATCH:
      return "42804";
    case SQLITE_CANTOPEN:
    case SQLITE_NOTADB:
      return "08006";
    case SQLITE_ERROR:
      /* Plain SQLITE_ERROR covers SQL mistakes; name the common ones the
       * way PostgreSQL would so tests and logs read the same. */
      if (!strncmp(msg, "no such table", 13)) return "42P01";
      if (!strncmp(msg, "no such column", 14)) return "42703";
      if (strstr(msg, "syntax error")) return "42601";
      return "XX000";
  }
  return "XX000";
}

static int sq_fail(struct sq *s, int rc, db_err *err) {
  const char *msg = sqlite3_errmsg(s->conn);
  return db_err_set(err, sq_sqlstate(rc, msg), "%s", msg);
}

/* ---- statements ---- */

static void finalize_cb(void *handle, void *arg) {
  (void)arg;
  sqlite3_finalize(handle);
}

static int only_space(const char *p) {
  for (; *p; p++)
    if (*p != ';' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
      return 0;
  return 1;
}

static int sq_prepare(struct sq *s, const char *sql, sqlite3_stmt **out,
                      db_err *err) {
  sqlite3_stmt *st = stmt_cache_get(&s->cache, sql);
  if (st) {
    *out = st;
    return 0;
  }
  const char *tail = NULL;
  int rc = sqlite3_prepare_v3(s->conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
                              &tail);
  if (rc != SQLITE_OK) return sq_fail(s, rc, err);
  if (!st) return db_err_set(err, "42601", "empty statement");
  /* PostgreSQL refuses several statements in one prepared statement;
   * refuse them here too instead of silently running only the first. */
  if (tail && !only_space(tail)) {
    sqlite3_finalize(st);
    return db_err_set(err, "42601",
                      "cannot run several statements in one query");
  }
  if (stmt_cache_full(&s->cache))
    stmt_cache_clear(&s->cache, finalize_cb, NULL);
  stmt_cache_put(&s->cache, sql, st);
  *out = st;
  return 0;
}

static int sq_bind(struct sq *s, sqlite3_stmt *st, const db_val *params, int n,
                   db_err *err) {
  if (sqlite3_bind_parameter_count(st) != n)
    return db_err_set(err, "08P01",
                      "%d parameters given, but the statement has %d", n,
                      sqlite3_bind_parameter_count(st));
  for (int k = 0; k < n; k++) {
    char name[16];
    snprintf(name, sizeof name, "$%d", k + 1);
    /* SQLite numbers named parameters by first appearance, which is
     * usually $1, $2, ... in order; look the name up only when not. */
    const char *at = sqlite3_bind_parameter_name(st, k + 1);
    int idx = at && !strcmp(at, name) ? k + 1
                                      : sqlite3_bind_parameter_index(st, name);
    if (!idx) return db_err_set(err, "42P02", "there is no parameter %s", name);
    const db_val *v = &params[k];
    char tmp[TS_TEXT_LEN + 8];
    int rc;
    switch (v->type) {
      case DBT_NULL:
        rc = sqlite3_bind_null(st, idx);
        break;
      case DBT_TEXT:
      case DBT_JSON:
        rc = v->s ? sqlite3_bind_text(st, idx, v->s, -1, SQLITE_STATIC)
                  : sqlite3_bind_null(st, idx);
        break;
      case DBT_UUID:
        if (!v->s) {
          rc = sqlite3_bind_null(st, idx);
          break;
        }
        /* PostgreSQL's uuid type validates and lower-cases; TEXT would
         * keep "ABC..." and "abc..." as two ids, so do the same here. */
        if (uuid_normalize(v->s, tmp))
          return db_err_set(err, "22P02",
                            "invalid input syntax for type uuid: \"%.40s\"",
                            v->s);
        rc = sqlite3_bind_text(st, idx, tmp, -1, SQLITE_TRANSIENT);
        break;
      case DBT_INT:
      case DBT_DEC: /* already scaled: the column holds the same integer */
        rc = sqlite3_bind_int64(st, idx, v->i);
        break;
      case DBT_BOOL:
        rc = sqlite3_bind_int64(st, idx, v->i != 0);
        break;
      case DBT_TS:
        ts_format(v->i, tmp);
        rc = sqlite3_bind_text(st, idx, tmp, -1, SQLITE_TRANSIENT);
        break;
      case DBT_DATE:
        date_format((int32_t)v->i, tmp);
        rc = sqlite3_bind_text(st, idx, tmp, -1, SQLITE_TRANSIENT);
        break;
      default:
        return db_err_set(err, "XX000", "unknown parameter type %d",
                          (int)v->type);
    }
    if (rc != SQLITE_OK) return sq_fail(s, rc, err);
  }
  return 0;
}

/* ---- results ---- */

struct res_builder {
  struct sq_cell *cells;
  size_t ncells, cap;
  buf text;
};

static void push_cell(struct res_builder *b, int type, int64_t i, const void *p,
                      size_t len) {
  if (b->ncells == b->cap) {
    b->cap = b->cap ? 2 * b->cap : 64;
    b->cells = xrealloc(b->cells, b->cap * sizeof *b->cells);
  }
  struct sq_cell *c = &b->cells[b->ncells++];
  c->type = type;
  c->i = i;
  c->off = b->text.len;
  if (type != CELL_NULL) {
    buf_append(&b->text, p, len); /* no cap on this buf: cannot fail */
    buf_putc(&b->text, '\0');
  }
}

static void push_column(struct res_builder *b, sqlite3_stmt *st, int c) {
  switch (sqlite3_column_type(st, c)) {
    case SQLITE_NULL:
      push_cell(b, CELL_NULL, 0, NULL, 0);
      break;
    case SQLITE_INTEGER: {
      /* Read the integer before the text: the text call converts. */
      int64_t i = sqlite3_column_int64(st, c);
      const unsigned char *t = sqlite3_column_text(st, c);
      push_cell(b, CELL_INT, i, t, (size_t)sqlite3_column_bytes(st, c));
      break;
    }
    case SQLITE_FLOAT: {
      double v = sqlite3_column_double(st, c);
      const unsigned char *t = sqlite3_column_text(st, c);
      size_t len = (size_t)sqlite3_column_bytes(st, c);
      /* The range test comes first (and fails for NaN): casting a double
       * outside int64's range is undefined. */
      if (v >= -9223372036854775808.0 && v < 9223372036854775808.0 &&
          v == (double)(int64_t)v)
        push_cell(b, CELL_INT, (int64_t)v, t, len);
      else
        push_cell(b, CELL_REAL, 0, t, len);
      break;
    }
    default: { /* TEXT, and BLOB read through its text form */
      const unsigned char *t = sqlite3_column_text(st, c);
      if (!t) {
        push_cell(b, CELL_NULL, 0, NULL, 0);
        break;
      }
      push_cell(b, CELL_TEXT, 0, t, (size_t)sqlite3_column_bytes(st, c));
    }
  }
}

static const struct db_res_ops sq_res_ops;

/* Copies what the builder gathered into one allocation and frees it. */
static db_res *finish_res(struct res_builder *b, int cols, int64_t changes) {
  size_t head = sizeof(struct sq_res);
  head = (head + alignof(struct sq_cell) - 1) & ~(alignof(struct sq_cell) - 1);
  size_t cells_sz = b->ncells * sizeof(struct sq_cell);
  char *mem = xmalloc(head + cells_sz + b->text.len + 1);
  struct sq_res *r = (struct sq_res *)mem;
  struct sq_cell *cells = (struct sq_cell *)(mem + head);
  char *text = mem + head + cells_sz;
  if (cells_sz) memcpy(cells, b->cells, cells_sz);
  if (b->text.len) memcpy(text, b->text.data, b->text.len);
  text[b->text.len] = '\0';
  r->base.magic = DB_RES_MAGIC;
  r->base.ops = &sq_res_ops;
  r->cols = cols;
  r->rows = cols ? (int)(b->ncells / (size_t)cols) - 1 : 0;
  r->changes = changes;
  r->cells = cells;
  r->text = text;
  free(b->cells);
  b->cells = NULL;
  b->ncells = b->cap = 0;
  buf_free(&b->text);
  return &r->base;
}

static const struct sq_res *SQR(const db_res *r) {
  return (const struct sq_res *)r;
}

static int sq_res_rows(const db_res *r) {
  return SQR(r)->rows;
}
static int sq_res_cols(const db_res *r) {
  return SQR(r)->cols;
}
static int64_t sq_res_changes(const db_res *r) {
  return SQR(r)->changes;
}

static const struct sq_cell *sq_cell_at(const db_res *r, int row, int col) {
  const struct sq_res *q = SQR(r);
  return &q->cells[(size_t)(row + 1) * (size_t)q->cols + (size_t)col];
}

static const char *sq_res_colname(const db_res *r, int col) {
  return SQR(r)->text + sq_cell_at(r, -1, col)->off;
}

static const char *sq_res_text(const db_res *r, int row, int col) {
  const struct sq_cell *c = sq_cell_at(r, row, col);
  return c->type == CELL_NULL ? NULL : SQR(r)->text + c->off;
}

static int sq_res_native_int(const db_res *r, int row, int col, int64_t *out) {
  const struct sq_cell *c = sq_cell_at(r, row, col);
  if (c->type == CELL_REAL) return -1;
  if (c->type != CELL_INT) return 0;
  *out = c->i;
  return 1;
}

static void sq_res_free(db_res *r) {
  free(r);
}

static const struct db_res_ops sq_res_ops = {
    .rows = sq_res_rows,
    .cols = sq_res_cols,
    .colname = sq_res_colname,
    .changes = sq_res_changes,
    .text = sq_res_text,
    .native_int = sq_res_native_int,
    .free = sq_res_free,
};

/* ---- operations ---- */

static int sq_query_raw(struct sq *s, const char *sql, const db_val *params,
                        int n, db_res **out, db_err *err) {
  sqlite3_stmt *st = NULL;
  if (sq_prepare(s, sql, &st, err)) return -1;
  int ret = -1;
  struct res_builder b = {0};
  buf_init(&b.text, 0);
  if (sq_bind(s, st, params, n, err)) goto out;
  int cols = sqlite3_column_count(st);
  if (out)
    for (int c = 0; c < cols; c++) {
      const char *name = sqlite3_column_name(st, c);
      if (!name) name = "?";
      push_cell(&b, CELL_TEXT, 0, name, strlen(name));
    }
  int rc;
  /* A write outside a transaction takes the process's write lock for
   * itself; inside one, db_begin took it already. */
  int lock = !s->holds_write_lock && !sqlite3_stmt_readonly(st);
  if (lock && write_lock_take()) {
    rc = SQLITE_BUSY;
  } else {
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
      if (out)
        for (int c = 0; c < cols; c++) push_column(&b, st, c);
    if (lock) pthread_mutex_unlock(&write_lock);
  }
  if (rc != SQLITE_DONE) {
    sq_fail(s, rc, err);
    goto out;
  }
  if (out) {
    /* sqlite3_changes keeps the count of the last write; a read must not
     * report it again. */
    int64_t changes =
        sqlite3_stmt_readonly(st) ? 0 : sqlite3_changes64(s->conn);
    *out = finish_res(&b, cols, changes);
  }
  ret = 0;
out:
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  free(b.cells);
  buf_free(&b.text);
  return ret;
}

static int sq_exec_raw(struct sq *s, const char *sql, db_err *err) {
  char *msg = NULL;
  int rc = sqlite3_exec(s->conn, sql, NULL, NULL, &msg);
  if (rc == SQLITE_OK) return 0;
  const char *m = msg ? msg : sqlite3_errstr(rc);
  db_err_set(err, sq_sqlstate(rc, m), "%s", m);
  sqlite3_free(msg);
  return -1;
}

/* PostgreSQL dooms a transaction at its first failed statement: later
 * statements are refused until ROLLBACK (or ROLLBACK TO a savepoint), and
 * COMMIT rolls back. SQLite would only undo the failed statement and let
 * the rest commit; the same rules are applied here so that a business
 * operation behaves the same on both backends. A transaction SQLite undid
 * on its own (after SQLITE_FULL, say) counts as doomed too. */
static int is_rollback(const char *sql) {
  while (*sql == ' ' || *sql == '\t' || *sql == '\n' || *sql == '\r') sql++;
  return strncasecmp(sql, "ROLLBACK", 8) == 0;
}

static int tx_refuses(struct sq *s, const char *sql, db_err *err) {
  if (!s->in_tx || is_rollback(sql)) return 0;
  if (!s->doomed && !sqlite3_get_autocommit(s->conn)) return 0;
  return db_err_set(err, "25P02",
                    "current transaction is aborted, commands ignored "
                    "until end of transaction block");
}

static void tx_after(struct sq *s, const char *sql, int rc) {
  if (!s->in_tx) return;
  if (rc)
    s->doomed = 1;
  else if (sqlite3_get_autocommit(s->conn))
    s->in_tx = s->doomed = 0; /* the SQL itself said COMMIT or ROLLBACK */
  else if (is_rollback(sql))
    s->doomed = 0; /* ROLLBACK TO SAVEPOINT recovers the transaction */
}

static int sq_query(db *d, const char *sql, const db_val *params, int n,
                    db_res **out, db_err *err) {
  struct sq *s = (struct sq *)d;
  if (tx_refuses(s, sql, err)) return -1;
  int rc = sq_query_raw(s, sql, params, n, out, err);
  tx_after(s, sql, rc);
  return rc;
}

static int sq_exec(db *d, const char *sql, db_err *err) {
  struct sq *s = (struct sq *)d;
  if (tx_refuses(s, sql, err)) return -1;
  int rc = sq_exec_raw(s, sql, err);
  tx_after(s, sql, rc);
  return rc;
}

static int sq_run(struct sq *s, const char *sql, db_err *err) {
  return sq_query_raw(s, sql, NULL, 0, NULL, err);
}

static void release_write_lock(struct sq *s) {
  if (!s->holds_write_lock) return;
  s->holds_write_lock = 0;
  pthread_mutex_unlock(&write_lock);
}

static int sq_begin(db *d, int write, db_err *err) {
  struct sq *s = (struct sq *)d;
  if (write) {
    if (write_lock_take())
      return db_err_set(err, "40001", "database is locked (timed out)");
    s->holds_write_lock = 1;
  }
  if (sq_run(s, write ? "BEGIN IMMEDIATE" : "BEGIN", err)) {
    release_write_lock(s);
    return -1;
  }
  s->in_tx = 1;
  s->doomed = 0;
  return 0;
}

static void sq_rollback(db *d) {
  struct sq *s = (struct sq *)d;
  s->in_tx = s->doomed = 0;
  if (!sqlite3_get_autocommit(s->conn)) {
    db_err ignored;
    sq_run(s, "ROLLBACK", &ignored);
  }
  release_write_lock(s);
}

static int sq_commit(db *d, db_err *err) {
  struct sq *s = (struct sq *)d;
  if (s->in_tx && (s->doomed || sqlite3_get_autocommit(s->conn))) {
    sq_rollback(d);
    return db_err_set(err, "25P02",
                      "the transaction was rolled back after an error");
  }
  s->in_tx = s->doomed = 0;
  if (sq_run(s, "COMMIT", err) == 0) {
    release_write_lock(s);
    return 0;
  }
  /* A failed COMMIT (SQLITE_BUSY) leaves the transaction open; db.h
   * promises it is over, as on PostgreSQL. */
  sq_rollback(d);
  return -1;
}

static void sq_close(db *d) {
  struct sq *s = (struct sq *)d;
  if (s->in_tx) sq_rollback(d);
  release_write_lock(s);
  stmt_cache_free(&s->cache, finalize_cb, NULL);
  sqlite3_close(s->conn);
  free(s);
}

static const struct db_ops sq_ops = {
    .close = sq_close,
    .exec = sq_exec,
    .query = sq_query,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
};

/* Speed settings that change no result: checkpoints by the thread above.
 * No memory map (mmap_size 0): SQLite drops a connection's map whenever
 * another connection changed the database file, which a checkpoint does,
 * so under writes every connection unmapped, mapped again and faulted its
 * pages back in after each checkpoint — munmap, page faults and the TLB
 * shootdowns they send to every core were a fifth of the process's CPU in
 * the chat benchmark, and reads were faster without the map too (get_one
 * ~37,000 → ~52,000/s, get_50 ~4,500 → ~6,300/s; docs/performance.md). An
 * in-memory database has no WAL; there this is a no-op. */
static void sq_tune(struct sq *s) {
  db_err ignored;
  sq_exec_raw(s, "PRAGMA mmap_size=0; PRAGMA wal_autocheckpoint=0", &ignored);
  sqlite3_wal_hook(s->conn, wal_hook, NULL);
}

/* Creates a missing database file with mode 0600 before SQLite does (it
 * would use 0644 less the umask): the books are nobody else's to read.
 * SQLite gives the -wal and -shm files the mode of the database file, so
 * they follow. An existing file keeps the mode it has. */
static void create_private(const char *path) {
  if (!path[0] || !strcmp(path, ":memory:") || !strncmp(path, "file:", 5))
    return;
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd >= 0) close(fd); /* errors show up in sqlite3_open_v2 */
}

/* munshi_fold(text): text lower-cased and NFC-normalised (base/textfold.h),
 * so that ilike on SQLite folds Unicode as PostgreSQL's ILIKE does; SQLite's
 * own lower() folds only ASCII. NULL stays NULL; text that is not UTF-8 is
 * returned as it is. */
static void sq_fold(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
    sqlite3_result_null(ctx);
    return;
  }
  const char *s = (const char *)sqlite3_value_text(argv[0]);
  size_t n = (size_t)sqlite3_value_bytes(argv[0]), len;
  char *f = s ? textfold(s, n, &len) : NULL;
  if (f)
    sqlite3_result_text64(ctx, f, len, free, SQLITE_UTF8);
  else
    sqlite3_result_value(ctx, argv[0]);
}

int db_sqlite_open(const char *path, db **out, db_err *err) {
  sqlite3 *conn = NULL;
  create_private(path);
  int rc = sqlite3_open_v2(
      path, &conn,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    db_err_set(err, "08006", "cannot open SQLite database %s: %s", path,
               conn ? sqlite3_errmsg(conn) : sqlite3_errstr(rc));
    sqlite3_close(conn);
    return -1;
  }
  struct sq *s = xcalloc(1, sizeof *s);
  s->base.magic = DB_MAGIC;
  s->base.kind = DB_SQLITE;
  s->base.ops = &sq_ops;
  s->conn = conn;
  stmt_cache_init(&s->cache, DB_STMT_CACHE_MAX);
  sqlite3_extended_result_codes(conn, 1);
  /* Order matters: busy_timeout first, so that switching to WAL (which
   * needs a lock) waits for another starting process instead of failing. */
  sqlite3_busy_timeout(conn, SQ_BUSY_TIMEOUT_MS);
  sqlite3_create_function_v2(
      conn, "munshi_fold", 1,
      SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL, sq_fold,
      NULL, NULL, NULL);
  if (sq_exec_raw(s, "PRAGMA journal_mode=WAL", err) ||
      sq_exec_raw(s,
                  "PRAGMA synchronous=NORMAL;"
                  "PRAGMA foreign_keys=ON;"
                  "PRAGMA case_sensitive_like=ON",
                  err)) {
    sq_close(&s->base);
    return -1;
  }
  sq_tune(s);
  *out = &s->base;
  return 0;
}

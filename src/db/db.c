/* db.c - the backend-neutral half of the storage layer (see db.h).
 *
 * It picks the backend from the URL, forwards each call through the
 * backend's table of operations, and implements once, for both backends,
 * the typed reads of results (so SQLite and PostgreSQL parse timestamps,
 * dates and decimals the same way), the error helpers and the statement
 * cache keyed by SQL text. */
#include "db/db.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/dec.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "db/db_int.h"

/* ---- errors ---- */

int db_err_set(db_err *err, const char *code, const char *fmt, ...) {
  if (!err) return -1;
  snprintf(err->code, sizeof err->code, "%s", code ? code : "XX000");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  /* libpq's messages end in a newline; a message is one line. */
  size_t n = strlen(err->message);
  while (n && (err->message[n - 1] == '\n' || err->message[n - 1] == ' '))
    err->message[--n] = '\0';
  return -1;
}

void db_err_clear(db_err *err) {
  if (!err) return;
  err->code[0] = '\0';
  err->message[0] = '\0';
}

/* ---- connections ---- */

static int has_prefix(const char *s, const char *p) {
  return strncmp(s, p, strlen(p)) == 0;
}

int db_open(const char *url, db **out, db_err *err) {
  *out = NULL;
  db_err_clear(err);
  if (!url) return db_err_set(err, "08006", "no database URL given");
  if (has_prefix(url, "sqlite:")) {
    const char *path = url + strlen("sqlite:");
    /* sqlite:///abs/path and sqlite://rel are accepted as spelled by
     * other tools; the plain form is sqlite:PATH. */
    if (has_prefix(path, "//")) path += 2;
    if (!*path) return db_err_set(err, "08006", "empty SQLite path in URL");
    return db_sqlite_open(path, out, err);
  }
  if (has_prefix(url, "postgres://") || has_prefix(url, "postgresql://"))
    return db_pg_open(url, out, err);
  return db_err_set(err, "08006",
                    "unknown database URL scheme (want sqlite:PATH or "
                    "postgres://...)");
}

static void check_db(const db *d) {
  assert(d && d->magic == DB_MAGIC);
  (void)d;
}

void db_close(db *d) {
  if (!d) return;
  check_db(d);
  d->ops->close(d);
}

db_kind db_kind_of(const db *d) {
  check_db(d);
  return d->kind;
}

int db_exec(db *d, const char *sql, db_err *err) {
  check_db(d);
  db_err_clear(err);
  return d->ops->exec(d, sql, err);
}

/* Fault injection for tests (db_fault_after): per thread, so a test's
 * failures never reach another thread's connection. */
static _Thread_local int fault_countdown;

void db_fault_after(int nth) { fault_countdown = nth > 0 ? nth : 0; }
int db_fault_pending(void) { return fault_countdown; }

static int query_with(db *d, int fixed, const char *sql, const db_val *params,
                      int n, db_res **out, db_err *err) {
  check_db(d);
  db_err_clear(err);
  if (out) *out = NULL;
  if (n < 0 || (n > 0 && !params))
    return db_err_set(err, "XX000", "bad parameter list");
  if (fault_countdown > 0 && --fault_countdown == 0)
    return db_err_set(err, "58030", "injected fault (db_fault_after)");
  if (fixed && d->ops->query_fixed)
    return d->ops->query_fixed(d, sql, params, n, out, err);
  return d->ops->query(d, sql, params, n, out, err);
}

int db_query(db *d, const char *sql, const db_val *params, int n, db_res **out,
             db_err *err) {
  return query_with(d, 0, sql, params, n, out, err);
}

int db_query_fixed(db *d, const char *sql, const db_val *params, int n,
                   db_res **out, db_err *err) {
  return query_with(d, 1, sql, params, n, out, err);
}

int db_begin(db *d, int write, db_err *err) {
  check_db(d);
  db_err_clear(err);
  return d->ops->begin(d, write, err);
}

int db_commit(db *d, db_err *err) {
  check_db(d);
  db_err_clear(err);
  return d->ops->commit(d, err);
}

void db_rollback(db *d) {
  if (!d) return;
  check_db(d);
  d->ops->rollback(d);
}

/* ---- change notification ---- */

/* The listeners are called under the mutex, which is what lets
 * db_on_commit_remove promise that a removed listener is not running; they
 * are quick by contract (they wake a thread). The count lets a commit skip
 * the mutex when nobody listens, which is the usual case outside serve. */
static pthread_mutex_t commit_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
  db_commit_fn fn;
  void *cls;
} commit_fns[DB_COMMIT_LISTENERS];
static atomic_int commit_nfns;

int db_on_commit(db_commit_fn fn, void *cls) {
  int rc = -1;
  pthread_mutex_lock(&commit_mu);
  for (int i = 0; i < DB_COMMIT_LISTENERS && rc; i++)
    if (!commit_fns[i].fn) {
      commit_fns[i].fn = fn;
      commit_fns[i].cls = cls;
      atomic_fetch_add(&commit_nfns, 1);
      rc = 0;
    }
  pthread_mutex_unlock(&commit_mu);
  return rc;
}

void db_on_commit_remove(db_commit_fn fn, void *cls) {
  pthread_mutex_lock(&commit_mu);
  for (int i = 0; i < DB_COMMIT_LISTENERS; i++)
    if (commit_fns[i].fn == fn && commit_fns[i].cls == cls) {
      commit_fns[i].fn = NULL;
      commit_fns[i].cls = NULL;
      atomic_fetch_sub(&commit_nfns, 1);
      break;
    }
  pthread_mutex_unlock(&commit_mu);
}

void db_commit_fire(void) {
  if (atomic_load_explicit(&commit_nfns, memory_order_relaxed) == 0) return;
  pthread_mutex_lock(&commit_mu);
  for (int i = 0; i < DB_COMMIT_LISTENERS; i++)
    if (commit_fns[i].fn) commit_fns[i].fn(commit_fns[i].cls);
  pthread_mutex_unlock(&commit_mu);
}

int db_listen(db *d, const char *channel, db_err *err) {
  check_db(d);
  db_err_clear(err);
  if (!d->ops->listen)
    return db_err_set(err, "0A000", "LISTEN needs PostgreSQL");
  size_t n = channel ? strlen(channel) : 0;
  if (n == 0 || n > 63) return db_err_set(err, "22023", "bad channel name");
  for (size_t i = 0; i < n; i++) {
    char c = channel[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      return db_err_set(err, "22023", "bad channel name");
  }
  return d->ops->listen(d, channel, err);
}

int db_wait_notify(db *d, int timeout_ms, int wake_fd, db_err *err) {
  check_db(d);
  db_err_clear(err);
  if (!d->ops->wait_notify)
    return db_err_set(err, "0A000", "notifications need PostgreSQL");
  return d->ops->wait_notify(d, timeout_ms < 0 ? 0 : timeout_ms, wake_fd, err);
}

/* ---- results ---- */

static void check_res(const db_res *r) {
  assert(r && r->magic == DB_RES_MAGIC);
  (void)r;
}

int db_res_rows(const db_res *r) {
  check_res(r);
  return r->ops->rows(r);
}

int db_res_cols(const db_res *r) {
  check_res(r);
  return r->ops->cols(r);
}

const char *db_res_colname(const db_res *r, int col) {
  check_res(r);
  if (col < 0 || col >= r->ops->cols(r)) return NULL;
  return r->ops->colname(r, col);
}

int64_t db_res_changes(const db_res *r) {
  check_res(r);
  return r->ops->changes(r);
}

/* Defensive: an out-of-range cell is a caller bug; it reads as NULL rather
 * than as memory past the result. */
static int in_range(const db_res *r, int row, int col) {
  check_res(r);
  int ok =
      row >= 0 && col >= 0 && row < r->ops->rows(r) && col < r->ops->cols(r);
  assert(ok);
  return ok;
}

static const char *cell(const db_res *r, int row, int col) {
  return in_range(r, row, col) ? r->ops->text(r, row, col) : NULL;
}

int db_res_isnull(const db_res *r, int row, int col) {
  return cell(r, row, col) == NULL;
}

const char *db_res_text(const db_res *r, int row, int col) {
  /* "" rather than NULL: a NULL handed to printf's %s or strcmp is a crash
   * or "(null)" in the data; callers that care ask db_res_isnull. */
  const char *s = cell(r, row, col);
  return s ? s : "";
}

static void bad_value(const db_res *r, int col, const char *type,
                      const char *text) {
  log_warn("db: column %s holds \"%.40s\", not a %s", r->ops->colname(r, col),
           text, type);
}

int64_t db_res_int(const db_res *r, int row, int col) {
  if (!in_range(r, row, col)) return 0;
  int64_t v;
  int native = r->ops->native_int(r, row, col, &v);
  if (native > 0) return v;
  const char *s = r->ops->text(r, row, col);
  if (!s) return 0;
  if (native < 0) {
    bad_value(r, col, "integer", s);
    return 0;
  }
  errno = 0;
  char *end;
  long long ll = strtoll(s, &end, 10);
  if (errno || end == s || *end) {
    bad_value(r, col, "integer", s);
    return 0;
  }
  return (int64_t)ll;
}

int db_res_bool(const db_res *r, int row, int col) {
  if (!in_range(r, row, col)) return 0;
  int64_t v;
  if (r->ops->native_int(r, row, col, &v) > 0) return v != 0;
  const char *s = r->ops->text(r, row, col);
  if (!s) return 0;
  if (!strcmp(s, "t") || !strcmp(s, "true") || !strcmp(s, "1")) return 1;
  if (strcmp(s, "f") && strcmp(s, "false") && strcmp(s, "0"))
    bad_value(r, col, "boolean", s);
  return 0;
}

int64_t db_res_ts(const db_res *r, int row, int col) {
  const char *s = cell(r, row, col);
  if (!s) return 0;
  int64_t t;
  if (ts_parse(s, &t)) {
    bad_value(r, col, "timestamp", s);
    return DB_BAD_VALUE;
  }
  return t;
}

int32_t db_res_date(const db_res *r, int row, int col) {
  const char *s = cell(r, row, col);
  if (!s) return 0;
  int32_t days;
  if (date_parse(s, &days)) {
    bad_value(r, col, "date", s);
    return DB_BAD_DATE;
  }
  return days;
}

/* Parses decimal text at scale. PostgreSQL prints a column's own scale
 * ("12.50" for numeric(14,2)), but an expression may carry more digits
 * ("12.5000" from a product): extra fractional digits are accepted when they
 * are all zeros; anything else would need rounding, which this layer never
 * does silently, so it is an error (round in SQL instead). */
static int dec_read(const char *s, int scale, int64_t *out) {
  return dec_parse_zeros(s, strlen(s), scale, out);
}

int64_t db_res_dec(const db_res *r, int row, int col, int scale) {
  if (!in_range(r, row, col)) return 0;
  int64_t v;
  /* SQLite stores DEC columns as integers already scaled by the column's
   * scale, which is the one the caller asks for; arithmetic on them stays
   * in those units, so a REAL result (avg(), x * 1.5) is scaled too and
   * reads as it is when it is whole. A fractional one would need rounding,
   * which is the caller's to do in SQL. Text is a decimal in plain units
   * ('12.50'), as on PostgreSQL. */
  int native = r->ops->native_int(r, row, col, &v);
  if (native > 0) return v;
  const char *s = r->ops->text(r, row, col);
  if (!s) return 0;
  if (native < 0 || dec_read(s, scale, &v)) {
    bad_value(r, col, "decimal", s);
    return DB_BAD_VALUE;
  }
  return v;
}

void db_res_free(db_res *r) {
  if (!r) return;
  check_res(r);
  r->ops->free(r);
}

/* ---- statement cache ---- */

static uint64_t sql_hash(const char *s) {
  uint64_t h = 14695981039346656037ull; /* FNV-1a */
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ull;
  }
  return h;
}

void stmt_cache_init(struct stmt_cache *c, size_t max) {
  size_t n = 16;
  while (n < 2 * max) n *= 2;
  c->slots = xcalloc(n, sizeof *c->slots);
  c->nslots = n;
  c->count = 0;
  c->max = max;
}

void *stmt_cache_get(const struct stmt_cache *c, const char *sql) {
  uint64_t h = sql_hash(sql);
  size_t mask = c->nslots - 1;
  for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
    const struct stmt_cache_entry *e = &c->slots[i];
    if (!e->sql) return NULL;
    if (e->hash == h && !strcmp(e->sql, sql)) return e->handle;
  }
}

int stmt_cache_full(const struct stmt_cache *c) {
  return c->count >= c->max;
}

void stmt_cache_put(struct stmt_cache *c, const char *sql, void *handle) {
  assert(c->count < c->max);
  uint64_t h = sql_hash(sql);
  size_t mask = c->nslots - 1;
  size_t i = (size_t)h & mask;
  while (c->slots[i].sql) i = (i + 1) & mask;
  c->slots[i].sql = xstrdup(sql);
  c->slots[i].hash = h;
  c->slots[i].handle = handle;
  c->count++;
}

void stmt_cache_clear(struct stmt_cache *c,
                      void (*free_handle)(void *handle, void *arg), void *arg) {
  if (!c->slots) return;
  for (size_t i = 0; i < c->nslots; i++) {
    struct stmt_cache_entry *e = &c->slots[i];
    if (!e->sql) continue;
    if (free_handle) free_handle(e->handle, arg);
    free(e->sql);
    e->sql = NULL;
    e->handle = NULL;
  }
  c->count = 0;
}

void stmt_cache_free(struct stmt_cache *c,
                     void (*free_handle)(void *handle, void *arg), void *arg) {
  stmt_cache_clear(c, free_handle, arg);
  free(c->slots);
  c->slots = NULL;
  c->nslots = 0;
}

/* migrate.c - applies the backend's versioned migrations (see db.h).
 *
 * The SQL of each migration is compiled in (migrations.h, generated from
 * src/db/migrations/<backend>/NNNN_name.sql). schema_migrations records
 * which versions ran. Each migration and its record are written in one
 * transaction, so a crash leaves either both or neither. Several servers
 * may start against one PostgreSQL database at the same moment: each
 * migration's transaction first takes a transaction-scoped advisory lock
 * and then checks again whether the version is recorded, so exactly one of
 * them applies it and the others skip it. On SQLite BEGIN IMMEDIATE already
 * serializes writers, and the same re-check follows. */
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "db/db.h"
#include "db/migrations.h"

/* The key of the advisory lock: any constant every munshi shares; this one
 * is "munshimg" in ASCII, unlikely to collide with another application's. */
#define MIGRATE_LOCK_SQL "SELECT pg_advisory_xact_lock(7887331764361325927)"

static const char *const create_sqlite =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " applied_at TEXT NOT NULL)";

static const char *const create_postgres =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

/* Opens a write transaction that holds the migration lock. */
static int begin_locked(db *d, db_err *err) {
  if (db_begin(d, 1, err)) return -1;
  if (db_kind_of(d) == DB_POSTGRES &&
      db_query(d, MIGRATE_LOCK_SQL, NULL, 0, NULL, err)) {
    db_rollback(d);
    return -1;
  }
  return 0;
}

static int is_recorded(db *d, int version, int *yes, db_err *err) {
  db_val v = db_int(version);
  db_res *r;
  if (db_query(d, "SELECT 1 FROM schema_migrations WHERE version = $1", &v, 1,
               &r, err))
    return -1;
  *yes = db_res_rows(r) > 0;
  db_res_free(r);
  return 0;
}

/* Prefixes err's message with the migration's name, so a failure at start
 * says which file broke. */
static void name_error(db_err *err, const char *name) {
  if (!err) return;
  char msg[2 * sizeof err->message];
  snprintf(msg, sizeof msg, "migration %s: %s", name, err->message);
  size_t n = strlen(msg);
  if (n >= sizeof err->message) n = sizeof err->message - 1;
  memcpy(err->message, msg, n);
  err->message[n] = '\0';
}

static int apply_one(db *d, const struct migration *m, int *ran, db_err *err) {
  *ran = 0;
  if (begin_locked(d, err)) return -1;
  int done;
  if (is_recorded(d, m->version, &done, err)) goto fail;
  if (done) return db_commit(d, err); /* another process got there first */
  if (db_exec(d, m->sql, err)) goto fail;
  db_val rec[3] = {db_int(m->version), db_text(m->name), db_ts(time_now_us())};
  if (db_query(d,
               "INSERT INTO schema_migrations (version, name, applied_at)"
               " VALUES ($1, $2, $3)",
               rec, 3, NULL, err))
    goto fail;
  if (db_commit(d, err)) return -1;
  *ran = 1;
  log_info("db: applied migration %s", m->name);
  return 0;
fail:
  db_rollback(d);
  return -1;
}

int db_migrate(db *d, int *applied, db_err *err) {
  int pg = db_kind_of(d) == DB_POSTGRES;
  const struct migration *list = pg ? migrations_postgres : migrations_sqlite;
  if (applied) *applied = 0;

  /* The table itself is created under the lock too: two PostgreSQL
   * sessions running CREATE TABLE IF NOT EXISTS at once can still collide
   * on the catalog's unique index. */
  if (begin_locked(d, err)) return -1;
  if (db_exec(d, pg ? create_postgres : create_sqlite, err)) {
    db_rollback(d);
    return -1;
  }
  if (db_commit(d, err)) return -1;

  /* Read what is recorded once, so a start with nothing to do costs one
   * query; each missing version is checked again under the lock. */
  db_res *r;
  if (db_query(d, "SELECT version FROM schema_migrations ORDER BY version",
               NULL, 0, &r, err))
    return -1;
  int nrec = db_res_rows(r);
  int newest_known = 0;
  for (const struct migration *m = list; m->sql; m++)
    if (m->version > newest_known) newest_known = m->version;
  if (nrec && db_res_int(r, nrec - 1, 0) > newest_known)
    log_warn(
        "db: the database has migration %lld, newer than this "
        "program knows (%d); running anyway",
        (long long)db_res_int(r, nrec - 1, 0), newest_known);

  int ret = 0;
  for (const struct migration *m = list; m->sql; m++) {
    int seen = 0;
    for (int i = 0; i < nrec && !seen; i++)
      seen = db_res_int(r, i, 0) == m->version;
    if (seen) continue;
    int ran;
    if (apply_one(d, m, &ran, err)) {
      name_error(err, m->name);
      ret = -1;
      break;
    }
    if (ran && applied) (*applied)++;
  }
  db_res_free(r);
  return ret;
}

/* capture.c - the triggers that record every change of the REST tables in
 * realtime_changes (migration 0010), generated from the REST metadata
 * (rest/schema.c) so that they capture exactly the columns a REST read
 * shows: hidden columns and write-only secrets are never copied (render.c
 * writes the secrets as null, as REST does), so a secret never even
 * reaches the change table.
 *
 * SQLite gets three triggers per table (rt_<table>_i/_u/_d) whose bodies
 * build the record with json_object. PostgreSQL gets one plpgsql function
 * and one row trigger per table; the function builds the record with
 * json_build_object (JSON columns as their text: render.c explains why).
 *
 * The triggers do not NOTIFY. A transaction that notifies takes, at
 * commit, a lock that every other notifying transaction of the cluster
 * waits for until it has committed (PostgreSQL keeps the notification
 * queue in commit order that way): every write would queue behind every
 * other write's commit flush. The feed threads wake instead on their own
 * process's commits (db_on_commit), and each tells the other processes
 * with one NOTIFY per round (feed.c).
 *
 * The generated SQL is fingerprinted (SHA-256) and the fingerprint kept in
 * realtime_state, so a start with an unchanged schema costs one read; a
 * start that must install does it under the write lock (SQLite BEGIN
 * IMMEDIATE, PostgreSQL an advisory transaction lock) and checks the
 * fingerprint again inside, so processes starting together install once. */
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/crypto.h"
#include "base/log.h"
#include "realtime/feed.h"
#include "realtime/rt_int.h"

/* pg_advisory_xact_lock key of the install ("munrtcap"). */
#define CAPTURE_LOCK_KEY "7887349380245889392"

/* The tenant column of a table's rows: profiles are their own tenant. */
static const char *tenant_col(const rest_table *t) {
  return (t->flags & TF_PROFILES) ? "id" : "profile_id";
}

/* json_object(...) / json_build_object(...) of the readable columns of the
 * row called `row` (NEW or OLD). */
static void record_sql(buf *b, const rest_table *t, int pg, const char *row) {
  buf_puts(b, pg ? "json_build_object(" : "json_object(");
  int first = 1;
  for (int i = 0; i < t->ncols; i++) {
    const rest_col *c = &t->cols[i];
    if (!rest_col_readable(c)) continue;
    /* A JSON column goes in as its text. On SQLite `|| ''` drops the JSON
     * subtype that json_insert/json_set in the writing UPDATE leave on
     * NEW.col (json_object would nest the value, not its text; even
     * CAST(... AS TEXT) keeps the subtype). */
    buf_printf(b, "%s'%s', %s.%s%s", first ? "" : ", ", c->name, row, c->name,
               c->type != DBT_JSON ? "" : pg ? "::text" : " || ''");
    first = 0;
  }
  buf_putc(b, ')');
}

static void insert_sql(buf *b, const rest_table *t, int pg, int op) {
  const char *row = op == RT_DELETE ? "OLD" : "NEW";
  buf_printf(b,
             "INSERT INTO realtime_changes (profile_id, table_name, op, "
             "row_id, %s) VALUES (%s.%s, '%s', %d, %s.id, ",
             op == RT_INSERT   ? "record"
             : op == RT_UPDATE ? "record, old_record"
                               : "old_record",
             row, tenant_col(t), t->name, op, row);
  record_sql(b, t, pg, row);
  if (op == RT_UPDATE) {
    buf_puts(b, ", ");
    record_sql(b, t, pg, "OLD");
  }
  buf_puts(b, ");");
}

static void sqlite_sql(buf *b, const rest_table *t) {
  static const struct {
    rt_op op;
    const char *suffix, *event;
  } ev[] = {{RT_INSERT, "i", "INSERT"},
            {RT_UPDATE, "u", "UPDATE"},
            {RT_DELETE, "d", "DELETE"}};
  for (size_t k = 0; k < sizeof ev / sizeof ev[0]; k++) {
    buf_printf(b,
               "DROP TRIGGER IF EXISTS rt_%s_%s;\n"
               "CREATE TRIGGER rt_%s_%s AFTER %s ON %s BEGIN ",
               t->name, ev[k].suffix, t->name, ev[k].suffix, ev[k].event,
               t->name);
    insert_sql(b, t, 0, ev[k].op);
    buf_puts(b, " END;\n");
  }
}

static void postgres_sql(buf *b, const rest_table *t) {
  buf_printf(b,
             "CREATE OR REPLACE FUNCTION rt_capture_%s() RETURNS trigger "
             "LANGUAGE plpgsql AS $rt$\nBEGIN\n  IF TG_OP = 'INSERT' THEN\n    ",
             t->name);
  insert_sql(b, t, 1, RT_INSERT);
  buf_puts(b, "\n  ELSIF TG_OP = 'UPDATE' THEN\n    ");
  insert_sql(b, t, 1, RT_UPDATE);
  buf_puts(b, "\n  ELSE\n    ");
  insert_sql(b, t, 1, RT_DELETE);
  buf_printf(b,
             "\n  END IF;\n  RETURN NULL;\nEND $rt$;\n"
             "DROP TRIGGER IF EXISTS rt_capture ON %s;\n"
             "CREATE TRIGGER rt_capture AFTER INSERT OR UPDATE OR DELETE ON %s "
             "FOR EACH ROW EXECUTE FUNCTION rt_capture_%s();\n",
             t->name, t->name, t->name);
}

/* The whole install script of the backend. */
static void capture_sql(buf *b, int pg) {
  int n;
  const rest_table *tables = schema_tables(&n);
  for (int i = 0; i < n; i++) {
    if (pg)
      postgres_sql(b, &tables[i]);
    else
      sqlite_sql(b, &tables[i]);
  }
}

/* The installed fingerprint, or "" when some capture trigger is missing:
 * a migration that rebuilds a table (SQLite's way to change a column) or
 * drops one takes its triggers with it, and they must come back even
 * though the generated SQL did not change. */
static int read_fingerprint(db *d, char out[65], db_err *err) {
  int n;
  schema_tables(&n);
  db_res *r = NULL;
  const char *sql =
      db_kind_of(d) == DB_POSTGRES
          ? "SELECT fingerprint, (SELECT count(*) FROM pg_trigger WHERE tgname "
            "= 'rt_capture' AND NOT tgisinternal AND tgrelid IN (SELECT oid "
            "FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
            ")) FROM realtime_state WHERE id = 1"
          : "SELECT fingerprint, (SELECT count(*) FROM sqlite_master WHERE "
            "type = 'trigger' AND name LIKE 'rt\\_%' ESCAPE '\\') FROM "
            "realtime_state WHERE id = 1";
  if (db_query(d, sql, NULL, 0, &r, err)) return -1;
  int want = db_kind_of(d) == DB_POSTGRES ? n : 3 * n;
  int ok = db_res_rows(r) && db_res_int(r, 0, 1) == want;
  snprintf(out, 65, "%s", ok ? db_res_text(r, 0, 0) : "");
  db_res_free(r);
  return 0;
}

int rt_capture_install(db *d, db_err *err) {
  int pg = db_kind_of(d) == DB_POSTGRES;
  buf sql;
  buf_init(&sql, 0);
  capture_sql(&sql, pg);
  uint8_t h[32];
  sha256(sql.data, sql.len, h);
  char want[65], have[65];
  hex_encode(h, sizeof h, want);
  want[64] = '\0';
  int rc = read_fingerprint(d, have, err);
  if (rc || !strcmp(have, want)) goto out;
  rc = -1;
  if (db_begin(d, 1, err)) goto out;
  if (pg && db_query(d, "SELECT pg_advisory_xact_lock(" CAPTURE_LOCK_KEY ")",
                     NULL, 0, NULL, err))
    goto fail;
  if (read_fingerprint(d, have, err)) goto fail;
  if (strcmp(have, want)) {
    db_val fp = db_text(want);
    if (db_exec(d, buf_cstr(&sql), err) ||
        db_query(d, "UPDATE realtime_state SET fingerprint = $1 WHERE id = 1",
                 &fp, 1, NULL, err))
      goto fail;
    log_info("realtime: change capture installed");
  }
  rc = db_commit(d, err);
  goto out;
fail:
  db_rollback(d);
out:
  buf_free(&sql);
  return rc;
}

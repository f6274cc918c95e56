/* test_db_storage.c - the storage layer (db.h) on SQLite and PostgreSQL.
 *
 * The same tests run on both backends (argv[1]; see testutil.h), because
 * the point of db.h is that callers cannot tell them apart: migrations,
 * every bound and read type at its edges, transactions (including the
 * PostgreSQL rule that a failed statement dooms its transaction), the
 * SQLSTATE of each constraint the real schema declares, RETURNING, the
 * statement cache past its bound, and writers on several connections
 * contending for one row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/timeutil.h"
#include "base/uuid.h"
#include "db/db.h"
#include "db/migrations.h"
#include "testutil.h"

static db_err err;

#define OK(call)                                                    \
  do {                                                              \
    if ((call) != 0)                                                \
      fail_msg("%s failed: [%s] %s", #call, err.code, err.message); \
  } while (0)

#define FAILS_WITH(call, state)                                               \
  do {                                                                        \
    int rc_ = (call);                                                         \
    if (rc_ != -1 || strcmp(err.code, state))                                 \
      fail_msg("%s: want %s, got rc %d [%s] %s", #call, state, rc_, err.code, \
               err.message);                                                  \
    assert_true(err.message[0] != '\0');                                      \
  } while (0)

static int is_pg(db *d) {
  return db_kind_of(d) == DB_POSTGRES;
}

static int setup(void **state) {
  *state = test_db_open_migrated(NULL);
  return 0;
}

static int teardown(void **state) {
  test_db_close(*state);
  return 0;
}

static int64_t count(db *d, const char *sql, const db_val *p, int n) {
  db_res *r;
  OK(db_query(d, sql, p, n, &r, &err));
  assert_int_equal(db_res_rows(r), 1);
  int64_t v = db_res_int(r, 0, 0);
  db_res_free(r);
  return v;
}

static int migration_count(db *d) {
  const struct migration *m =
      is_pg(d) ? migrations_postgres : migrations_sqlite;
  int n = 0;
  while (m[n].sql) n++;
  return n;
}

/* A user and its profile (the tenant); id gets the profile id. */
static void make_tenant(db *d, const char *email, char id[UUID_STR_LEN + 1]) {
  uuid_v7(id);
  db_val u[2] = {db_uuid(id), db_text(email)};
  OK(db_query(d,
              "INSERT INTO auth_users (id, email, encrypted_password)"
              " VALUES ($1, $2, 'x')",
              u, 2, NULL, &err));
  db_val p[2] = {db_uuid(id), db_text("Sharma Traders")};
  OK(db_query(d, "INSERT INTO profiles (id, business_name) VALUES ($1, $2)", p,
              2, NULL, &err));
}

static const char *ins_customer =
    "INSERT INTO customers (profile_id, id, full_name, phone_number)"
    " VALUES ($1, $2, $3, $4)";

static void make_customer(db *d, const char *profile, const char *phone,
                          char id[UUID_STR_LEN + 1]) {
  uuid_v7(id);
  db_val c[4] = {db_uuid(profile), db_uuid(id), db_text("Ramesh"),
                 db_text(phone)};
  OK(db_query(d, ins_customer, c, 4, NULL, &err));
}

/* ---- migrations ---- */

static void test_migrate(void **state) {
  (void)state;
  db *d = test_db_open(NULL);
  int applied = -1;
  OK(db_migrate(d, &applied, &err));
  assert_int_equal(applied, migration_count(d));
  assert_true(applied >= 1);
  OK(db_migrate(d, &applied, &err));
  assert_int_equal(applied, 0);
  assert_int_equal(count(d, "SELECT count(*) FROM schema_migrations", NULL, 0),
                   migration_count(d));
  db_res *r;
  OK(db_query(d,
              "SELECT name, applied_at FROM schema_migrations"
              " WHERE version = 1",
              NULL, 0, &r, &err));
  assert_int_equal(db_res_rows(r), 1);
  assert_string_equal(db_res_text(r, 0, 0), "0001_init");
  int64_t at = db_res_ts(r, 0, 1);
  assert_true(at > time_now_us() - 600000000LL && at <= time_now_us());
  db_res_free(r);
  /* Every table of the seed is there. */
  const char *tables[] = {"auth_users",
                          "profiles",
                          "customers",
                          "products",
                          "invoices",
                          "invoice_items",
                          "payments",
                          "shipments",
                          "sessions",
                          "unified_messages",
                          "workflow_blueprints",
                          "workflow_logs",
                          "events"};
  for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[i]);
    assert_int_equal(count(d, sql, NULL, 0), 0);
  }
  test_db_close(d);
}

struct migrator {
  const char *url;
  int rc, applied;
  db_err err;
};

static void *migrator_main(void *arg) {
  struct migrator *m = arg;
  db *d;
  m->rc = db_open(m->url, &d, &m->err);
  if (m->rc) return NULL;
  m->rc = db_migrate(d, &m->applied, &m->err);
  db_close(d);
  return NULL;
}

/* Servers starting together on one database: each migration runs once. */
static void test_migrate_race(void **state) {
  (void)state;
  db *d = test_db_open(NULL);
  struct migrator m[4];
  pthread_t t[4];
  for (int i = 0; i < 4; i++) {
    m[i] = (struct migrator){.url = test_db_url()};
    assert_int_equal(pthread_create(&t[i], NULL, migrator_main, &m[i]), 0);
  }
  int total = 0;
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    if (m[i].rc)
      fail_msg("migrator %d: [%s] %s", i, m[i].err.code, m[i].err.message);
    total += m[i].applied;
  }
  assert_int_equal(total, migration_count(d));
  assert_int_equal(count(d, "SELECT count(*) FROM schema_migrations", NULL, 0),
                   migration_count(d));
  test_db_close(d);
}

/* ---- types ---- */

static const char *types_pg =
    "CREATE TABLE t_types (k integer PRIMARY KEY, t text, i bigint,"
    " b boolean, j jsonb, u uuid, ts timestamptz, d date, m numeric(14,2),"
    " q numeric(14,3))";
static const char *types_sqlite =
    "CREATE TABLE t_types (k INTEGER PRIMARY KEY, t TEXT, i INTEGER,"
    " b INTEGER, j TEXT, u TEXT, ts TEXT, d TEXT, m INTEGER, q INTEGER)";
static const char *types_ins =
    "INSERT INTO t_types (k, t, i, b, j, u, ts, d, m, q)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
static const char *types_sel =
    "SELECT t, i, b, j, u, ts, d, m, q FROM t_types WHERE k = $1";

static const char *unicode = "नमस्ते ₹ 😀 — Grüße 'quoted' \"x\"";
static const char *json1 = "{\"a\": 1, \"b\": [true, null], \"s\": \"ए\"}";

static void test_types(void **state) {
  db *d = *state;
  OK(db_exec(d, is_pg(d) ? types_pg : types_sqlite, &err));
  int32_t day = (int32_t)days_from_civil(2026, 11, 24);
  int64_t ts = (int64_t)day * 86400000000LL + 20 * 3600000000LL + 123456;
  db_val r1[10] = {db_int(1),
                   db_text(unicode),
                   db_int(INT64_MAX),
                   db_bool(1),
                   db_json(json1),
                   db_uuid("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
                   db_ts(ts),
                   db_date(day),
                   db_money(1234567890123LL),
                   db_dec(2500, 3)};
  db_val r2[10] = {db_int(2),
                   db_text(""),
                   db_int(INT64_MIN),
                   db_bool(0),
                   db_json("[]"),
                   db_uuid("0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B"),
                   db_ts(-1),
                   db_date(-1),
                   db_money(-1234567890123LL),
                   db_dec(-1, 3)};
  db_val r3[10] = {db_int(3)};
  for (int i = 1; i < 10; i++) r3[i] = db_null();
  OK(db_query(d, types_ins, r1, 10, NULL, &err));
  OK(db_query(d, types_ins, r2, 10, NULL, &err));
  OK(db_query(d, types_ins, r3, 10, NULL, &err));

  db_res *r;
  db_val k = db_int(1);
  OK(db_query(d, types_sel, &k, 1, &r, &err));
  assert_int_equal(db_res_rows(r), 1);
  assert_int_equal(db_res_cols(r), 9);
  assert_string_equal(db_res_colname(r, 0), "t");
  assert_string_equal(db_res_colname(r, 8), "q");
  assert_string_equal(db_res_text(r, 0, 0), unicode);
  assert_true(db_res_int(r, 0, 1) == INT64_MAX);
  assert_int_equal(db_res_bool(r, 0, 2), 1);
  assert_string_equal(db_res_text(r, 0, 3), json1);
  assert_string_equal(db_res_text(r, 0, 4),
                      "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
  assert_true(db_res_ts(r, 0, 5) == ts);
  assert_string_equal(db_res_text(r, 0, 5),
                      is_pg(d) ? "2026-11-24 20:00:00.123456+00"
                               : "2026-11-24T20:00:00.123456+00:00");
  assert_int_equal(db_res_date(r, 0, 6), day);
  assert_string_equal(db_res_text(r, 0, 6), "2026-11-24");
  assert_true(db_res_dec(r, 0, 7, 2) == 1234567890123LL);
  assert_string_equal(db_res_text(r, 0, 7),
                      is_pg(d) ? "12345678901.23" : "1234567890123");
  assert_true(db_res_dec(r, 0, 8, 3) == 2500);
  for (int c = 0; c < 9; c++) assert_false(db_res_isnull(r, 0, c));
  db_res_free(r);

  k = db_int(2);
  OK(db_query(d, types_sel, &k, 1, &r, &err));
  assert_string_equal(db_res_text(r, 0, 0), "");
  assert_false(db_res_isnull(r, 0, 0)); /* empty text is not NULL */
  assert_true(db_res_int(r, 0, 1) == INT64_MIN);
  assert_int_equal(db_res_bool(r, 0, 2), 0);
  assert_false(db_res_isnull(r, 0, 2));
  assert_string_equal(db_res_text(r, 0, 3), "[]");
  assert_string_equal(db_res_text(r, 0, 4),
                      "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
  assert_true(db_res_ts(r, 0, 5) == -1);
  assert_int_equal(db_res_date(r, 0, 6), -1);
  assert_true(db_res_dec(r, 0, 7, 2) == -1234567890123LL);
  assert_true(db_res_dec(r, 0, 8, 3) == -1);
  db_res_free(r);

  k = db_int(3);
  OK(db_query(d, types_sel, &k, 1, &r, &err));
  for (int c = 0; c < 9; c++) assert_true(db_res_isnull(r, 0, c));
  assert_string_equal(db_res_text(r, 0, 0), ""); /* never NULL: see db.h */
  assert_int_equal(db_res_int(r, 0, 1), 0);
  assert_int_equal(db_res_bool(r, 0, 2), 0);
  assert_int_equal(db_res_ts(r, 0, 5), 0);
  assert_int_equal(db_res_date(r, 0, 6), 0);
  assert_int_equal(db_res_dec(r, 0, 7, 2), 0);
  db_res_free(r);

  /* Typed binds compare and compute in SQL the same way on both. */
  db_val w[3] = {db_ts(ts), db_money(1234567890123LL), db_date(day)};
  assert_int_equal(count(d,
                         "SELECT count(*) FROM t_types WHERE ts = $1"
                         " AND m = $2 AND d = $3",
                         w, 3),
                   1);
  w[0] = db_ts(0);
  assert_int_equal(count(d, "SELECT count(*) FROM t_types WHERE ts < $1", w, 1),
                   1);
  OK(db_query(d, "SELECT m * 2, m + $1 FROM t_types WHERE k = 1", &w[1], 1, &r,
              &err));
  assert_true(db_res_dec(r, 0, 0, 2) == 2469135780246LL);
  assert_true(db_res_dec(r, 0, 1, 2) == 2469135780246LL);
  db_res_free(r);
  db_val uc = db_uuid("0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B");
  assert_int_equal(
      count(d, "SELECT count(*) FROM t_types WHERE u = $1", &uc, 1), 2);

  if (is_pg(d)) {
    /* More decimals than the scale: zeros are fine, digits are not. */
    OK(db_query(d,
                "SELECT m * 1.000, 1.005::numeric, 'NaN'::numeric"
                " FROM t_types WHERE k = 1",
                NULL, 0, &r, &err));
    assert_true(db_res_dec(r, 0, 0, 2) == 1234567890123LL);
    assert_true(db_res_dec(r, 0, 1, 2) == DB_BAD_VALUE);
    assert_true(db_res_dec(r, 0, 1, 3) == 1005);
    assert_true(db_res_dec(r, 0, 2, 2) == DB_BAD_VALUE);
    db_res_free(r);
  } else {
    /* Text in an SQLite cell is a decimal in plain units; a REAL made by
     * arithmetic on scaled integers is in scaled units, and only when
     * whole. */
    OK(db_query(d,
                "SELECT '12.50', '12.5000', '1.005', avg(m), m * 1.0,"
                " m / 4.0 FROM t_types WHERE k = 1",
                NULL, 0, &r, &err));
    assert_true(db_res_dec(r, 0, 0, 2) == 1250);
    assert_true(db_res_dec(r, 0, 1, 2) == 1250);
    assert_true(db_res_dec(r, 0, 2, 2) == DB_BAD_VALUE);
    assert_true(db_res_dec(r, 0, 3, 2) == 1234567890123LL);
    assert_true(db_res_dec(r, 0, 4, 2) == 1234567890123LL);
    assert_true(db_res_dec(r, 0, 5, 2) == DB_BAD_VALUE);
    assert_int_equal(db_res_int(r, 0, 5), 0);
    db_res_free(r);
  }

  /* A timestamp written by the schema's default parses too. */
  char uid[UUID_STR_LEN + 1];
  make_tenant(d, "ts@example.com", uid);
  db_val u = db_uuid(uid);
  OK(db_query(d, "SELECT created_at FROM auth_users WHERE id = $1", &u, 1, &r,
              &err));
  int64_t created = db_res_ts(r, 0, 0);
  assert_true(created > time_now_us() - 60000000LL &&
              created <= time_now_us() + 1000000);
  db_res_free(r);

  /* A value that is not a UUID is refused the same way on both. */
  db_val bad[10] = {db_int(4), db_null(), db_null(),
                    db_null(), db_null(), db_uuid("not-a-uuid"),
                    db_null(), db_null(), db_null(),
                    db_null()};
  FAILS_WITH(db_query(d, types_ins, bad, 10, NULL, &err), "22P02");
}

/* ---- transactions ---- */

static void test_transactions(void **state) {
  db *d = *state;
  char p[UUID_STR_LEN + 1], c[UUID_STR_LEN + 1];
  make_tenant(d, "tx@example.com", p);
  db_val pp = db_uuid(p);
  const char *n_customers =
      "SELECT count(*) FROM customers WHERE profile_id = $1";

  OK(db_begin(d, 1, &err));
  make_customer(d, p, "+911", c);
  OK(db_commit(d, &err));
  assert_int_equal(count(d, n_customers, &pp, 1), 1);

  OK(db_begin(d, 1, &err));
  make_customer(d, p, "+912", c);
  assert_int_equal(count(d, n_customers, &pp, 1), 2); /* sees its own */
  db_rollback(d);
  assert_int_equal(count(d, n_customers, &pp, 1), 1);

  db_rollback(d); /* outside a transaction: harmless */
  OK(db_begin(d, 0, &err));
  assert_int_equal(count(d, n_customers, &pp, 1), 1);
  OK(db_commit(d, &err));

  /* A failed statement dooms the transaction on both backends. */
  OK(db_begin(d, 1, &err));
  make_customer(d, p, "+913", c);
  db_val dup[4] = {db_uuid(p), db_uuid(c), db_text("Dup"), db_text("+914")};
  FAILS_WITH(db_query(d, ins_customer, dup, 4, NULL, &err), "23505");
  FAILS_WITH(db_query(d, n_customers, &pp, 1, NULL, &err), "25P02");
  FAILS_WITH(db_commit(d, &err), "25P02");
  assert_int_equal(count(d, n_customers, &pp, 1), 1);

  /* ... unless it rolls back to a savepoint. */
  OK(db_begin(d, 1, &err));
  make_customer(d, p, "+915", c);
  OK(db_query(d, "SAVEPOINT sp", NULL, 0, NULL, &err));
  db_val dup2[4] = {db_uuid(p), db_uuid(c), db_text("Dup"), db_text("+916")};
  FAILS_WITH(db_query(d, ins_customer, dup2, 4, NULL, &err), "23505");
  OK(db_query(d, "ROLLBACK TO SAVEPOINT sp", NULL, 0, NULL, &err));
  make_customer(d, p, "+917", c);
  OK(db_commit(d, &err));
  assert_int_equal(count(d, n_customers, &pp, 1), 3);

  /* And the connection is fine after a doomed transaction was rolled
   * back by hand. */
  OK(db_begin(d, 1, &err));
  FAILS_WITH(db_query(d, ins_customer, dup2, 4, NULL, &err), "23505");
  db_rollback(d);
  make_customer(d, p, "+918", c);
  assert_int_equal(count(d, n_customers, &pp, 1), 4);
}

/* db_query_fixed and the transaction's first statement: on PostgreSQL
 * BEGIN (and the SET of plan_cache_mode) ride in one pipeline with it. The
 * transaction must still be one (another session does not see its rows
 * until COMMIT, a rollback undoes them), and the session's plan mode must
 * be followed through rollbacks, which undo a SET made inside. */
static const char *plan_mode_sql = "SELECT current_setting('plan_cache_mode')";

static void want_mode(db *d, int fixed, const char *mode) {
  db_res *r;
  if (fixed)
    OK(db_query_fixed(d, plan_mode_sql, NULL, 0, &r, &err));
  else
    OK(db_query(d, plan_mode_sql, NULL, 0, &r, &err));
  assert_string_equal(db_res_text(r, 0, 0), mode);
  db_res_free(r);
}

static void test_first_statement_and_fixed(void **state) {
  db *d = *state;
  char p[UUID_STR_LEN + 1], c[UUID_STR_LEN + 1], first[UUID_STR_LEN + 1];
  make_tenant(d, "fixed@example.com", p);
  db_val pp = db_uuid(p);
  const char *n_customers =
      "SELECT count(*) FROM customers WHERE profile_id = $1";
  make_customer(d, p, "+921", first); /* prepares the INSERT */
  assert_int_equal(count(d, n_customers, &pp, 1), 1);

  /* Nothing run: commit and rollback are no-ops that work. */
  OK(db_begin(d, 1, &err));
  OK(db_commit(d, &err));
  OK(db_begin(d, 1, &err));
  db_rollback(d);

  for (int fixed = 0; fixed < 2; fixed++) {
    OK(db_begin(d, 1, &err));
    uuid_v7(c);
    db_val v[4] = {db_uuid(p), db_uuid(c), db_text("Ramesh"),
                   db_text(fixed ? "+922" : "+923")};
    if (fixed)
      OK(db_query_fixed(d, ins_customer, v, 4, NULL, &err));
    else
      OK(db_query(d, ins_customer, v, 4, NULL, &err));
    if (is_pg(d)) {
      db *other;
      OK(db_open(test_db_url(), &other, &err));
      assert_int_equal(count(other, n_customers, &pp, 1), 1);
      db_close(other);
    }
    db_rollback(d);
    assert_int_equal(count(d, n_customers, &pp, 1), 1);
  }

  /* A failed first statement dooms its transaction as any other does. */
  OK(db_begin(d, 1, &err));
  db_val dup[4] = {db_uuid(p), db_uuid(first), db_text("Dup"),
                   db_text("+924")};
  FAILS_WITH(db_query_fixed(d, ins_customer, dup, 4, NULL, &err), "23505");
  FAILS_WITH(db_query(d, n_customers, &pp, 1, NULL, &err), "25P02");
  FAILS_WITH(db_commit(d, &err), "25P02");

  if (!is_pg(d)) return;
  /* A simple-protocol statement may come first too (as rest_read.c's). */
  OK(db_begin(d, 0, &err));
  OK(db_exec(d, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
             &err));
  want_mode(d, 0, "auto");
  FAILS_WITH(db_query(d, ins_customer, dup, 4, NULL, &err), "25006");
  db_rollback(d);

  /* Generic plans for fixed statements, PostgreSQL's choice for the rest... */
  want_mode(d, 1, "force_generic_plan");
  want_mode(d, 0, "auto");
  /* ... also when the SET was undone by a rollback: then it is sent again. */
  OK(db_begin(d, 1, &err));
  want_mode(d, 1, "force_generic_plan");
  db_rollback(d);
  want_mode(d, 1, "force_generic_plan");
  want_mode(d, 0, "auto");
  OK(db_begin(d, 1, &err));
  want_mode(d, 1, "force_generic_plan");
  FAILS_WITH(db_query_fixed(d, ins_customer, dup, 4, NULL, &err), "23505");
  FAILS_WITH(db_commit(d, &err), "25P02");
  want_mode(d, 1, "force_generic_plan");
  want_mode(d, 0, "auto");
}

/* PostgreSQL: a connection drops its prepared statements now and then
 * (every 20,000 statements, between transactions), so that generic plans
 * made while a table was small are made again (db/postgres.c). */
static void test_plans_made_again(void **state) {
  db *d = *state;
  if (!is_pg(d)) return;
  static const char *n_prepared = "SELECT count(*) FROM pg_prepared_statements";
  db_res *two = NULL;
  OK(db_query(d, "SELECT 2 AS two", NULL, 0, &two, &err)); /* one more */
  db_res_free(two);
  int64_t before = 0, least = INT64_MAX;
  for (int i = 0; i < 20100; i++) {
    db_res *r = NULL;
    OK(db_query(d, n_prepared, NULL, 0, &r, &err));
    int64_t n = db_res_int(r, 0, 0);
    db_res_free(r);
    if (i == 0) before = n;
    if (n < least) least = n;
  }
  assert_true(before >= 2);
  /* Right after the drop only this statement is prepared again. */
  assert_int_equal(least, 1);
}

/* ---- constraints: the real schema's, with PostgreSQL's codes ---- */

static void test_constraints(void **state) {
  db *d = *state;
  char a[UUID_STR_LEN + 1], b[UUID_STR_LEN + 1], ca[UUID_STR_LEN + 1],
      cb[UUID_STR_LEN + 1], x[UUID_STR_LEN + 1];
  make_tenant(d, "a@example.com", a);
  make_tenant(d, "b@example.com", b);
  make_customer(d, a, "+9199", ca);
  make_customer(d, b, "+9199", cb); /* same phone, other tenant: fine */

  /* unique: an email, a primary key, a tenant-scoped unique key */
  uuid_v7(x);
  db_val u[2] = {db_uuid(x), db_text("a@example.com")};
  FAILS_WITH(db_query(d,
                      "INSERT INTO auth_users (id, email, encrypted_password)"
                      " VALUES ($1, $2, 'x')",
                      u, 2, NULL, &err),
             "23505");
  db_val pk[4] = {db_uuid(a), db_uuid(ca), db_text("Again"), db_null()};
  FAILS_WITH(db_query(d, ins_customer, pk, 4, NULL, &err), "23505");
  uuid_v7(x);
  db_val ph[4] = {db_uuid(a), db_uuid(x), db_text("Same phone"),
                  db_text("+9199")};
  FAILS_WITH(db_query(d, ins_customer, ph, 4, NULL, &err), "23505");

  /* foreign keys: an unknown tenant, and a customer of another tenant */
  uuid_v7(x);
  char y[UUID_STR_LEN + 1];
  uuid_v7(y);
  db_val fk[4] = {db_uuid(y), db_uuid(x), db_text("Nobody's"), db_null()};
  FAILS_WITH(db_query(d, ins_customer, fk, 4, NULL, &err), "23503");
  const char *ins_invoice =
      "INSERT INTO invoices (profile_id, id, customer_id, invoice_date)"
      " VALUES ($1, $2, $3, $4)";
  db_val inv[4] = {db_uuid(a), db_uuid(x), db_uuid(cb),
                   db_date((int32_t)days_from_civil(2026, 11, 24))};
  FAILS_WITH(db_query(d, ins_invoice, inv, 4, NULL, &err), "23503");
  inv[2] = db_uuid(ca);
  OK(db_query(d, ins_invoice, inv, 4, NULL, &err));

  /* not null */
  uuid_v7(x);
  db_val nn[4] = {db_uuid(a), db_uuid(x), db_null(), db_null()};
  FAILS_WITH(db_query(d, ins_customer, nn, 4, NULL, &err), "23502");

  /* check: a state code, a payment of zero, a negative price */
  db_val st[2] = {db_text("XX"), db_uuid(a)};
  FAILS_WITH(db_query(d, "UPDATE profiles SET state_code = $1 WHERE id = $2",
                      st, 2, NULL, &err),
             "23514");
  st[0] = db_text("27");
  OK(db_query(d, "UPDATE profiles SET state_code = $1 WHERE id = $2", st, 2,
              NULL, &err));
  uuid_v7(y);
  db_val pay[5] = {db_uuid(a), db_uuid(y), db_uuid(ca), db_money(0),
                   db_text("cash")};
  const char *ins_pay =
      "INSERT INTO payments (profile_id, id, customer_id, amount_received,"
      " payment_mode) VALUES ($1, $2, $3, $4, $5)";
  FAILS_WITH(db_query(d, ins_pay, pay, 5, NULL, &err), "23514");
  pay[3] = db_money(50000);
  pay[4] = db_text("barter");
  FAILS_WITH(db_query(d, ins_pay, pay, 5, NULL, &err), "23514");
  pay[4] = db_text("upi");
  OK(db_query(d, ins_pay, pay, 5, NULL, &err));
}

/* ---- RETURNING and changes ---- */

static void test_returning(void **state) {
  db *d = *state;
  char p[UUID_STR_LEN + 1], c[UUID_STR_LEN + 1];
  make_tenant(d, "ret@example.com", p);
  uuid_v7(c);
  db_val v[4] = {db_uuid(p), db_uuid(c), db_text("Sita"), db_text("+91")};
  db_res *r;
  OK(db_query(d,
              "INSERT INTO customers (profile_id, id, full_name, phone_number)"
              " VALUES ($1, $2, $3, $4)"
              " RETURNING id, full_name, total_debt, created_at",
              v, 4, &r, &err));
  assert_int_equal(db_res_rows(r), 1);
  assert_int_equal(db_res_cols(r), 4);
  assert_string_equal(db_res_colname(r, 0), "id");
  assert_string_equal(db_res_text(r, 0, 0), c);
  assert_string_equal(db_res_text(r, 0, 1), "Sita");
  assert_int_equal(db_res_dec(r, 0, 2, 2), 0);
  int64_t now = time_now_us();
  assert_true(db_res_ts(r, 0, 3) > now - 60000000LL);
  assert_int_equal(db_res_changes(r), 1);
  db_res_free(r);

  db_val add[3] = {db_money(12345), db_uuid(p), db_uuid(c)};
  const char *upd =
      "UPDATE customers SET total_debt = total_debt + $1"
      " WHERE profile_id = $2 AND id = $3 RETURNING total_debt";
  OK(db_query(d, upd, add, 3, &r, &err));
  assert_true(db_res_dec(r, 0, 0, 2) == 12345);
  db_res_free(r);
  add[0] = db_money(-345);
  OK(db_query(d, upd, add, 3, &r, &err));
  assert_true(db_res_dec(r, 0, 0, 2) == 12000);
  db_res_free(r);

  /* changes */
  char c2[UUID_STR_LEN + 1], c3[UUID_STR_LEN + 1];
  make_customer(d, p, "+92", c2);
  make_customer(d, p, "+93", c3);
  db_val pn[2] = {db_text("regular"), db_uuid(p)};
  OK(db_query(d, "UPDATE customers SET notes = $1 WHERE profile_id = $2", pn, 2,
              &r, &err));
  assert_int_equal(db_res_changes(r), 3);
  assert_int_equal(db_res_rows(r), 0);
  assert_int_equal(db_res_cols(r), 0);
  db_res_free(r);
  db_val none[2] = {db_uuid(p), db_uuid(p)};
  OK(db_query(d, "DELETE FROM customers WHERE profile_id = $1 AND id = $2",
              none, 2, &r, &err));
  assert_int_equal(db_res_changes(r), 0);
  db_res_free(r);
  OK(db_query(d, "SELECT id FROM customers WHERE profile_id = $1", &pn[1], 1,
              &r, &err));
  assert_int_equal(db_res_rows(r), 3);
  assert_int_equal(db_res_changes(r), 0);
  db_res_free(r);
}

/* ---- the statement cache ---- */

static void test_statement_cache(void **state) {
  db *d = *state;
  OK(db_exec(d, "CREATE TABLE t_many (k integer PRIMARY KEY, v text)", &err));
  for (int i = 0; i < 2000; i++) {
    char s[16];
    snprintf(s, sizeof s, "v%d", i);
    db_val v[2] = {db_int(i), db_text(s)};
    OK(db_query(d, "INSERT INTO t_many (k, v) VALUES ($1, $2)", v, 2, NULL,
                &err));
  }
  assert_int_equal(count(d, "SELECT count(*) FROM t_many", NULL, 0), 2000);
  db_val k = db_int(1234);
  db_res *r;
  OK(db_query(d, "SELECT v FROM t_many WHERE k = $1", &k, 1, &r, &err));
  assert_string_equal(db_res_text(r, 0, 0), "v1234");
  db_res_free(r);

  /* More distinct texts than the cache holds, twice over: evicted
   * statements are prepared again and still give the right answers. */
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < 600; i++) {
      char sql[64];
      snprintf(sql, sizeof sql, "SELECT CAST($1 AS integer) + %d", i);
      db_val x = db_int(1000);
      assert_int_equal(count(d, sql, &x, 1), 1000 + i);
    }
  /* The same text after DDL that changes what it means. */
  OK(db_exec(d, "ALTER TABLE t_many ADD COLUMN w integer", &err));
  OK(db_query(d, "SELECT v FROM t_many WHERE k = $1", &k, 1, &r, &err));
  assert_string_equal(db_res_text(r, 0, 0), "v1234");
  db_res_free(r);
}

/* ---- errors that are the caller's ---- */

static void test_errors(void **state) {
  db *d = *state;
  db *x = NULL;
  assert_int_equal(db_open("mysql://localhost/x", &x, &err), -1);
  assert_string_equal(err.code, "08006");
  assert_null(x);
  assert_int_equal(db_open("sqlite:/nonexistent/dir/x.db", &x, &err), -1);
  assert_string_equal(err.code, "08006");
  assert_int_equal(
      db_open("postgres://nobody@127.0.0.1:1/x?connect_timeout=2", &x, &err),
      -1);
  assert_string_equal(err.code, "08006");
  assert_true(strlen(err.message) > 0);

  FAILS_WITH(db_query(d, "SELEC 1", NULL, 0, NULL, &err), "42601");
  FAILS_WITH(db_query(d, "SELECT * FROM no_such_table", NULL, 0, NULL, &err),
             "42P01");
  FAILS_WITH(
      db_query(d, "SELECT no_such_column FROM customers", NULL, 0, NULL, &err),
      "42703");
  FAILS_WITH(db_query(d, "SELECT 1; SELECT 2", NULL, 0, NULL, &err), "42601");
  db_val two[2] = {db_int(1), db_int(2)};
  assert_int_equal(
      db_query(d, "SELECT CAST($1 AS integer)", two, 2, NULL, &err), -1);
  assert_true(err.code[0] != '\0');
  FAILS_WITH(db_exec(d, "CREATE TABLE t_e (a integer); SELEC", &err), "42601");
  /* db_exec runs several statements; err is cleared on success. */
  OK(db_exec(d, "CREATE TABLE t_e2 (a integer); INSERT INTO t_e2 VALUES (7);",
             &err));
  assert_string_equal(err.code, "");
  assert_int_equal(count(d, "SELECT a FROM t_e2", NULL, 0), 7);
  /* Placeholders used out of order, and one used twice. */
  db_val ab[2] = {db_int(5), db_int(7)};
  db_res *r;
  OK(db_query(d, "SELECT CAST($2 AS integer), CAST($1 AS integer) + $2", ab, 2,
              &r, &err));
  assert_int_equal(db_res_int(r, 0, 0), 7);
  assert_int_equal(db_res_int(r, 0, 1), 12);
  db_res_free(r);
  /* A NULL err is allowed. */
  assert_int_equal(db_query(d, "SELEC", NULL, 0, NULL, NULL), -1);
}

/* ---- PostgreSQL: lost connections and lost prepared statements ---- */

static void terminate_backend(db *d) {
  int64_t pid = count(d, "SELECT pg_backend_pid()", NULL, 0);
  db *a;
  OK(db_open(test_db_url(), &a, &err));
  db_val p = db_int(pid);
  db_res *r;
  OK(db_query(a, "SELECT pg_terminate_backend(CAST($1 AS integer), 5000)", &p,
              1, &r, &err));
  assert_string_equal(db_res_text(r, 0, 0), "t");
  db_res_free(r);
  db_close(a);
}

static void test_pg_reconnect(void **state) {
  db *d = *state;
  if (!is_pg(d)) return; /* SQLite has no connection to lose */
  const char *q = "SELECT count(*) FROM customers";
  assert_int_equal(count(d, q, NULL, 0), 0);

  /* Outside a transaction: the failing statement reports 08006, the next
   * one reconnects (and prepares its statement again). */
  terminate_backend(d);
  FAILS_WITH(db_query(d, q, NULL, 0, NULL, &err), "08006");
  assert_int_equal(count(d, q, NULL, 0), 0);

  /* Inside one: no silent reconnect until the caller rolls back. */
  OK(db_begin(d, 1, &err));
  terminate_backend(d);
  FAILS_WITH(db_query(d, q, NULL, 0, NULL, &err), "08006");
  FAILS_WITH(db_query(d, q, NULL, 0, NULL, &err), "08006");
  db_rollback(d);
  assert_int_equal(count(d, q, NULL, 0), 0);

  /* Prepared statements dropped behind the cache's back are made again. */
  OK(db_exec(d, "DEALLOCATE ALL", &err));
  assert_int_equal(count(d, q, NULL, 0), 0);

  /* A statement first prepared in a transaction that rolled back stays
   * usable (PREPARE is not transactional). */
  OK(db_begin(d, 1, &err));
  const char *q2 = "SELECT count(*) + 1 FROM products";
  assert_int_equal(count(d, q2, NULL, 0), 1);
  db_rollback(d);
  assert_int_equal(count(d, q2, NULL, 0), 1);
}

/* ---- several writers on one row ---- */

#define WRITERS 4
#define INCREMENTS 200

struct writer {
  const char *url;
  int done, retries, failed;
  db_err err;
};

static void *writer_main(void *arg) {
  struct writer *w = arg;
  db *d;
  if (db_open(w->url, &d, &w->err)) {
    w->failed = 1;
    return NULL;
  }
  while (w->done < INCREMENTS && !w->failed) {
    if (db_begin(d, 1, &w->err) ||
        db_query(d, "UPDATE t_counter SET n = n + 1 WHERE id = 1", NULL, 0,
                 NULL, &w->err) ||
        db_commit(d, &w->err)) {
      db_rollback(d);
      /* 40001 is the one error a caller retries (SQLite still locked after
       * busy_timeout); any other is a failure. */
      if (!strcmp(w->err.code, "40001") && w->retries < 1000)
        w->retries++;
      else
        w->failed = 1;
      continue;
    }
    w->done++;
  }
  db_close(d);
  return NULL;
}

static void test_concurrent_writers(void **state) {
  db *d = *state;
  OK(db_exec(d,
             "CREATE TABLE t_counter (id integer PRIMARY KEY, n bigint NOT "
             "NULL); INSERT INTO t_counter VALUES (1, 0)",
             &err));
  struct writer w[WRITERS];
  pthread_t t[WRITERS];
  for (int i = 0; i < WRITERS; i++) {
    w[i] = (struct writer){.url = test_db_url()};
    assert_int_equal(pthread_create(&t[i], NULL, writer_main, &w[i]), 0);
  }
  int retries = 0;
  for (int i = 0; i < WRITERS; i++) {
    pthread_join(t[i], NULL);
    if (w[i].failed)
      fail_msg("writer %d: [%s] %s", i, w[i].err.code, w[i].err.message);
    retries += w[i].retries;
  }
  if (retries) print_message("(%d transactions retried on 40001)\n", retries);
  assert_int_equal(count(d, "SELECT n FROM t_counter WHERE id = 1", NULL, 0),
                   WRITERS * INCREMENTS);
}

int main(int argc, char **argv) {
  const char *backend = test_backend_from_args(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_migrate),
      cmocka_unit_test(test_migrate_race),
      cmocka_unit_test_setup_teardown(test_types, setup, teardown),
      cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_plans_made_again, setup, teardown),
      cmocka_unit_test_setup_teardown(test_first_statement_and_fixed, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_constraints, setup, teardown),
      cmocka_unit_test_setup_teardown(test_returning, setup, teardown),
      cmocka_unit_test_setup_teardown(test_statement_cache, setup, teardown),
      cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pg_reconnect, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
  };
  char name[64];
  snprintf(name, sizeof name, "db_storage_%s", backend);
  return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}

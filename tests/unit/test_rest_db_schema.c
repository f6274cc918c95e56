/* test_rest_db_schema.c - the REST layer's schema metadata (rest/schema.c)
 * against the real schema the migrations build, on each backend: every
 * table and column exists, in the same order, with the same nullability,
 * and no column of a table is unknown to the metadata. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rest/schema.h"
#include "testutil.h"

static db *d;

static void test_tables_match(void **state) {
  (void)state;
  int n;
  const rest_table *tables = schema_tables(&n);
  assert_true(n >= 12);
  for (int i = 0; i < n; i++) {
    const rest_table *t = &tables[i];
    db_res *r = NULL;
    db_err err;
    db_val p = db_text(t->name);
    const char *sql =
        db_kind_of(d) == DB_SQLITE
            ? "SELECT name, \"notnull\" FROM pragma_table_info($1) ORDER BY cid"
            : "SELECT column_name, CASE WHEN is_nullable = 'NO' THEN 1 ELSE 0 "
              "END FROM information_schema.columns WHERE table_schema = "
              "current_schema() AND table_name = $1 ORDER BY ordinal_position";
    if (db_query(d, sql, &p, 1, &r, &err)) fail_msg("%s: %s", t->name, err.message);
    if (db_res_rows(r) != t->ncols)
      fail_msg("table %s: %d columns in the database, %d in the metadata",
               t->name, db_res_rows(r), t->ncols);
    for (int c = 0; c < t->ncols; c++) {
      const char *name = db_res_text(r, c, 0);
      if (strcmp(name, t->cols[c].name))
        fail_msg("table %s column %d: database has %s, metadata %s", t->name,
                 c, name, t->cols[c].name);
      int notnull = (int)db_res_int(r, c, 1);
      /* SQLite reports a PRIMARY KEY column of a rowid table as nullable. */
      int meta = (t->cols[c].flags & CF_NOTNULL) != 0;
      if (notnull != meta && !(db_kind_of(d) == DB_SQLITE && !notnull &&
                                (t->cols[c].flags & CF_PK)))
        fail_msg("table %s column %s: NOT NULL is %d in the database, %d in "
                 "the metadata",
                 t->name, name, notnull, meta);
    }
    db_res_free(r);
    /* foreign keys of the metadata name real tables and columns */
    for (int k = 0; k < t->nfks; k++) {
      assert_non_null(schema_col(t, t->fks[k].col, strlen(t->fks[k].col)));
      assert_non_null(schema_table(t->fks[k].table, strlen(t->fks[k].table)));
    }
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s sqlite|postgres\n", argv[0]);
    return 2;
  }
  d = test_db_open(argv[1]);
  db_err err;
  if (!d || db_migrate(d, NULL, &err)) {
    fprintf(stderr, "cannot prepare the %s database\n", argv[1]);
    return 1;
  }
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_tables_match)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  test_db_close(d);
  return rc;
}

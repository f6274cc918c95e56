/* test_rest_query.c - the PostgREST query parser and the SQL builder:
 * what each query string becomes (SQL text and bound values), and that
 * every malformed or hostile one is refused with the right error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rest/query.h"
#include "rest/sql.h"

static const rest_table *table(const char *name) {
  return schema_table(name, strlen(name));
}

/* Parses qs on table t for a signed-in user and builds the SELECT. */
static const char *build(arena *a, const char *t, const char *qs,
                         db_kind kind, sqlb *b) {
  rest_query q;
  query_error err;
  int rc = query_parse(a, table(t), qs, &q, &err);
  if (rc) fail_msg("parse failed: %s", err.message);
  api_principal who = {.role = ROLE_AUTHENTICATED};
  memcpy(who.sub, "0190a0b0-0000-7000-8000-000000000001", 37);
  fetch_list f;
  fetch_for_query(&q, &f);
  sqlb_init(b, a, kind);
  sql_select(b, &q, &who, &f);
  return buf_cstr(&b->sql);
}

static api_error parse_error(arena *a, const char *t, const char *qs) {
  rest_query q;
  query_error err;
  int rc = query_parse(a, table(t), qs, &q, &err);
  assert_int_equal(rc, -1);
  assert_true(err.message[0] != '\0');
  return err.code;
}

static void test_select_filters_order(void **state) {
  (void)state;
  arena *a = arena_new();
  sqlb b;
  const char *sql = build(
      a, "customers",
      "select=id,full_name&state_code=eq.27&total_debt=gt.100.50"
      "&order=full_name.asc,total_debt.desc.nullslast&limit=50&offset=10",
      DB_SQLITE, &b);
  assert_string_equal(sql,
                      "SELECT id, full_name FROM customers WHERE profile_id = "
                      "$1 AND state_code = $2 AND total_debt > $3 ORDER BY "
                      "full_name ASC NULLS LAST, total_debt DESC NULLS LAST "
                      "LIMIT $4 OFFSET $5");
  assert_int_equal(b.n, 5);
  assert_int_equal(b.params[0].type, DBT_UUID);
  assert_string_equal(b.params[1].s, "27");
  assert_int_equal(b.params[2].type, DBT_DEC);
  assert_int_equal(b.params[2].i, 10050); /* exact paise */
  assert_int_equal(b.params[3].i, 50);
  assert_int_equal(b.params[4].i, 10);
  sqlb_free(&b);
  arena_free(a);
}

static void test_logic_and_in(void **state) {
  (void)state;
  arena *a = arena_new();
  sqlb b;
  const char *sql = build(
      a, "customers",
      "or=(full_name.ilike.*ram*,and(state_code.in.(27,%2229%22),notes.is.null))"
      "&id=not.in.(0190a0b0-0000-7000-8000-00000000000A)",
      DB_POSTGRES, &b);
  assert_string_equal(
      sql,
      "SELECT profile_id, id, full_name, phone_number, email, gstin, "
      "state_code, address, total_debt, notes, created_at, updated_at, city, "
      "pincode FROM "
      "customers WHERE profile_id = $1 AND (normalize(full_name, NFC) "
      "ILIKE normalize($2, NFC) OR "
      "(state_code IN ($3, $4) AND notes IS NULL)) AND NOT (id IN ($5))");
  assert_string_equal(b.params[1].s, "%ram%");
  assert_string_equal(b.params[3].s, "29");
  /* uuids are normalised to lower case before they are bound */
  assert_string_equal(b.params[4].s, "0190a0b0-0000-7000-8000-00000000000a");
  sqlb_free(&b);

  sql = build(a, "customers", "select=id&full_name=ilike.A*", DB_SQLITE, &b);
  assert_string_equal(sql,
                      "SELECT id FROM customers WHERE profile_id = $1 AND "
                      "munshi_fold(full_name) LIKE munshi_fold($2) ESCAPE "
                      "'\\'");
  sqlb_free(&b);
  sql = build(a, "customers", "select=id&full_name=like.a*", DB_SQLITE, &b);
  assert_string_equal(sql,
                      "SELECT id FROM customers WHERE profile_id = $1 AND "
                      "full_name LIKE $2 ESCAPE '\\'");
  sqlb_free(&b);
  sql = build(a, "customers", "select=id&full_name=like.a*", DB_POSTGRES, &b);
  assert_string_equal(sql,
                      "SELECT id FROM customers WHERE profile_id = $1 AND "
                      "full_name LIKE $2");
  sqlb_free(&b);
  sql = build(a, "customers", "select=id&id=in.()", DB_SQLITE, &b);
  assert_string_equal(sql,
                      "SELECT id FROM customers WHERE profile_id = $1 AND 1 = 0");
  sqlb_free(&b);
  arena_free(a);
}

static void test_embed(void **state) {
  (void)state;
  arena *a = arena_new();
  rest_query q;
  query_error err;
  assert_int_equal(query_parse(a, table("invoices"),
                               "select=id,items:invoice_items(quantity,line_total),"
                               "customers(full_name)",
                               &q, &err),
                   0);
  assert_int_equal(q.nsel, 3);
  assert_string_equal(q.sel[1].alias, "items");
  assert_ptr_equal(q.sel[1].table, table("invoice_items"));
  assert_true(q.sel[1].to_many);
  assert_string_equal(q.sel[1].fk->name, "invoice_id");
  assert_int_equal(q.sel[1].nsub, 2);
  assert_false(q.sel[2].to_many);
  assert_string_equal(q.sel[2].fk->name, "customer_id");
  fetch_list f;
  fetch_for_query(&q, &f);
  /* id, plus what the embeds join on: profile_id and customer_id */
  assert_int_equal(f.n, 3);
  assert_string_equal(f.cols[0]->name, "id");
  assert_string_equal(f.cols[1]->name, "profile_id");
  assert_string_equal(f.cols[2]->name, "customer_id");
  /* '*' expands in schema order */
  assert_int_equal(query_parse(a, table("sessions"), "select=*,unified_messages(*)",
                               &q, &err),
                   0);
  assert_int_equal(q.nsel, table("sessions")->ncols + 1);
  arena_free(a);
}

static void test_values_are_never_sql(void **state) {
  (void)state;
  arena *a = arena_new();
  sqlb b;
  const char *sql = build(a, "customers",
                          "select=id&full_name=eq.x%27%3B%20DROP%20TABLE%20customers%3B--",
                          DB_SQLITE, &b);
  assert_null(strstr(sql, "DROP"));
  assert_string_equal(b.params[1].s, "x'; DROP TABLE customers;--");
  sqlb_free(&b);
  arena_free(a);
}

static void test_errors(void **state) {
  (void)state;
  arena *a = arena_new();
  assert_int_equal(parse_error(a, "customers", "select=nope"), E_NO_COLUMN);
  assert_int_equal(parse_error(a, "customers", "nope=eq.1"), E_NO_COLUMN);
  assert_int_equal(parse_error(a, "customers", "order=nope.asc"), E_NO_COLUMN);
  assert_int_equal(parse_error(a, "customers", "select=id;drop"), E_BAD_QUERY);
  assert_int_equal(parse_error(a, "customers", "full_name=zz.1"), E_BAD_QUERY);
  assert_int_equal(parse_error(a, "customers", "full_name=eq"), E_BAD_QUERY);
  assert_int_equal(parse_error(a, "customers", "id=eq.not-a-uuid"), E_BAD_VALUE);
  assert_int_equal(parse_error(a, "customers", "total_debt=gt.abc"), E_BAD_VALUE);
  assert_int_equal(parse_error(a, "customers", "total_debt=gt.1.234"), E_BAD_VALUE);
  assert_int_equal(parse_error(a, "customers", "created_at=gt.yesterday"),
                   E_BAD_VALUE);
  assert_int_equal(parse_error(a, "customers", "limit=-1"), E_BAD_QUERY);
  assert_int_equal(parse_error(a, "customers", "limit=ten"), E_BAD_QUERY);
  assert_int_equal(parse_error(a, "customers", "order=full_name.sideways"),
                   E_BAD_QUERY);
  assert_int_equal(parse_error(a, "customers", "or=(full_name.eq.a"), E_BAD_QUERY);
  assert_int_equal(parse_error(a, "customers", "or=()"), E_BAD_QUERY);
  assert_int_equal(parse_error(a, "customers", "or=(and(or(and(or(id.is.null))))))"),
                   E_BAD_QUERY);
  assert_int_equal(parse_error(a, "customers", "full_name=is.maybe"), E_BAD_QUERY);
  assert_int_equal(parse_error(a, "customers", "full_name=eq.%zz"), E_BAD_QUERY);
  assert_int_equal(parse_error(a, "customers", "full_name=eq.%00"), E_BAD_QUERY);
  assert_int_equal(parse_error(a, "customers", "total_debt=like.1*"), E_BAD_QUERY);
  assert_int_equal(parse_error(a, "invoices", "select=*,invoice_items(*,products(*))"),
                   E_BAD_QUERY);
  assert_int_equal(parse_error(a, "customers", "select=*,products(*)"), E_BAD_QUERY);
  assert_int_equal(parse_error(a, "customers", "select=full_name::int"), E_BAD_QUERY);
  /* a column, or an embedded table, at most once per select list */
  assert_int_equal(parse_error(a, "customers", "select=notes,notes"), E_BAD_QUERY);
  assert_int_equal(parse_error(a, "customers", "select=a:notes,b:notes"),
                   E_BAD_QUERY);
  assert_int_equal(parse_error(a, "customers", "select=*,notes"), E_BAD_QUERY);
  assert_int_equal(parse_error(a, "customers", "select=*,*"), E_BAD_QUERY);
  assert_int_equal(parse_error(a, "customers", "select=id,invoices(id,id)"),
                   E_BAD_QUERY);
  assert_int_equal(parse_error(a, "customers", "select=invoices(id),invoices(id)"),
                   E_BAD_QUERY);
  assert_int_equal(parse_error(a, "customers", "select=x:id,x:notes"), E_BAD_QUERY);
  assert_int_equal(parse_error(a, "invoices", "invoice_items.quantity=gt.1"),
                   E_BAD_QUERY);
  /* an overlong query string is refused before it is parsed */
  char *big = arena_alloc(a, QUERY_MAX_LEN + 16);
  memset(big, 'a', QUERY_MAX_LEN + 8);
  assert_int_equal(parse_error(a, "customers", big), E_URI_TOO_LONG);
  /* so is an over-long in.() list */
  buf in;
  buf_init(&in, 0);
  buf_puts(&in, "state_code=in.(");
  for (int i = 0; i <= QUERY_MAX_IN; i++) buf_puts(&in, i ? ",1" : "1");
  buf_puts(&in, ")");
  assert_int_equal(parse_error(a, "customers", buf_cstr(&in)), E_BAD_QUERY);
  buf_free(&in);
  arena_free(a);
}

/* A write-only column (a channel's secret) is selected as NULL, never
 * fetched, and refused wherever its value could be compared or ranked. */
static void test_write_only_columns(void **state) {
  (void)state;
  arena *a = arena_new();
  sqlb b;
  const char *sql = build(a, "channels", "select=id,access_token", DB_POSTGRES, &b);
  assert_string_equal(sql,
                      "SELECT id, NULL AS access_token FROM channels WHERE "
                      "profile_id = $1");
  sqlb_free(&b);
  sql = build(a, "channels", "", DB_SQLITE, &b);
  assert_non_null(strstr(sql, "NULL AS bot_token"));
  assert_non_null(strstr(sql, "NULL AS owner_link_code"));
  assert_non_null(strstr(sql, " phone_number_id,"));
  assert_null(strstr(sql, ", access_token"));
  sqlb_free(&b);
  assert_false(rest_col_readable(schema_col(table("channels"), "app_secret", 10)));
  assert_true(rest_col_readable(schema_col(table("channels"), "name", 4)));
  assert_false(rest_col_readable(NULL));
  static const char *const refused[] = {
      "access_token=eq.x",          "verify_token=like.a*",
      "or=(name.eq.a,bot_token.is.null)", "not.and=(webhook_secret.neq.x)",
      "order=app_secret.desc",      "order=name,owner_link_code",
      "on_conflict=access_token",   "app_secret=in.(a,b)",
  };
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    rest_query q;
    query_error err;
    assert_int_equal(query_parse(a, table("channels"), refused[i], &q, &err), -1);
    assert_int_equal(err.code, E_BAD_QUERY);
    assert_non_null(strstr(err.message, "write-only"));
  }
  arena_free(a);
}

static void test_service_role_has_no_scope(void **state) {
  (void)state;
  arena *a = arena_new();
  rest_query q;
  query_error err;
  assert_int_equal(query_parse(a, table("profiles"), "select=id&offset=3", &q, &err), 0);
  api_principal svc = {.role = ROLE_SERVICE};
  fetch_list f;
  fetch_for_query(&q, &f);
  sqlb b;
  sqlb_init(&b, a, DB_SQLITE);
  sql_select(&b, &q, &svc, &f);
  assert_string_equal(buf_cstr(&b.sql), "SELECT id FROM profiles LIMIT -1 OFFSET $1");
  sqlb_free(&b);
  api_principal user = {.role = ROLE_AUTHENTICATED};
  memcpy(user.sub, "0190a0b0-0000-7000-8000-000000000001", 37);
  sqlb_init(&b, a, DB_POSTGRES);
  sql_select(&b, &q, &user, &f);
  assert_string_equal(buf_cstr(&b.sql),
                      "SELECT id FROM profiles WHERE id = $1 LIMIT ALL OFFSET $2");
  sqlb_free(&b);
  arena_free(a);
}

static void test_fuzz_entry_survives(void **state) {
  (void)state;
  const char *inputs[] = {"", "&&&", "=", "select=", "select=(", "or=((((",
                          "a=b=c", "select=*,*", "id=in.(\"", "order=,",
                          "or=(id.in.(1,2),id.eq.\"a,b\")"};
  for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++)
    fuzz_query_parse(inputs[i], strlen(inputs[i]));
  assert_true(fuzz_query_parse("select=id", 9) > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_select_filters_order),
      cmocka_unit_test(test_logic_and_in),
      cmocka_unit_test(test_embed),
      cmocka_unit_test(test_values_are_never_sql),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_write_only_columns),
      cmocka_unit_test(test_service_role_has_no_scope),
      cmocka_unit_test(test_fuzz_entry_survives),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

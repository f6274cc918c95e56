/* test_biz_faults_db.c - fault injection into the books: every write
 * operation is run again and again with the database failing at its 1st,
 * 2nd, 3rd ... statement (db_fault_after), until it gets through. Each
 * failed run must answer a 5xx and leave every table exactly as it was: no
 * invoice without its lines, no debt without its invoice, no stock moved
 * without its movement, no event without its change, no number used up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "testcall.h"
#include "testutil.h"
#include "base/json.h"
#include "base/uuid.h"

static db *d;
static api_principal owner;
static const char *idem_key;

static const char *header(const api_req *r, const char *name) {
  (void)r;
  if (!strcasecmp(name, "prefer")) return "return=representation";
  if (!strcasecmp(name, "idempotency-key")) return idem_key;
  return NULL;
}

static int call(arena *a, int rpc, const char *path, const char *body,
                json **answer) {
  return test_call(d, a, &owner, rpc, "POST", path, "", body, header, answer);
}

/* Everything the books keep, reduced to numbers. */
#define N_SNAP 16
static void snapshot(int64_t out[N_SNAP]) {
  static const char *const q[N_SNAP] = {
      "SELECT COUNT(*) FROM invoices",
      "SELECT COUNT(*) FROM invoice_items",
      "SELECT COUNT(*) FROM payments",
      "SELECT COUNT(*) FROM payment_allocations",
      "SELECT COUNT(*) FROM stock_movements",
      "SELECT COUNT(*) FROM events",
      "SELECT COUNT(*) FROM event_batches",
      "SELECT COUNT(*) FROM idempotency_keys",
      "SELECT COALESCE(SUM(last_number), 0) FROM invoice_series",
      "SELECT COUNT(*) FROM invoices WHERE status = 'draft'",
      "SELECT COUNT(*) FROM invoices WHERE status = 'cancelled'",
      "SELECT COUNT(*) FROM invoices WHERE status = 'paid'",
      "SELECT COUNT(*) FROM customers",
      "SELECT COALESCE(SUM(total_debt), 0) FROM customers",
      "SELECT COALESCE(SUM(current_stock), 0) FROM products",
      "SELECT COALESCE(SUM(amount_paid), 0) FROM invoices",
  };
  for (int i = 0; i < N_SNAP; i++) {
    db_res *r = NULL;
    db_err err;
    if (db_query(d, q[i], NULL, 0, &r, &err)) fail_msg("%s: %s", q[i], err.message);
    /* Sums of money and stock read at their scale, counts as integers. */
    out[i] = i == 13   ? db_res_dec(r, 0, 0, 2)
             : i == 14 ? db_res_dec(r, 0, 0, 3)
             : i == 15 ? db_res_dec(r, 0, 0, 2)
                       : db_res_int(r, 0, 0);
    db_res_free(r);
  }
}

/* Runs body against rpc operation op with a fault at statement 1, 2, ...
 * until it succeeds; every failed run must change nothing. Returns the
 * successful answer's "id" (when it has one) and how many runs failed. */
static int until_through(arena *a, const char *op, const char *body,
                         char id[37]) {
  for (int n = 1; n < 200; n++) {
    int64_t before[N_SNAP], after[N_SNAP];
    snapshot(before);
    json *ans;
    db_fault_after(n);
    int st = call(a, 1, op, body, &ans);
    int fired = db_fault_pending() == 0;
    db_fault_after(0);
    if (st == 200) {
      if (fired) fail_msg("%s: the fault at statement %d was swallowed", op, n);
      const json *v = ans ? json_get(ans, "id") : NULL;
      if (id && v && v->type == JSON_STRING) snprintf(id, 37, "%s", v->str);
      return n - 1;
    }
    if (st < 500) fail_msg("%s with a fault at statement %d answered %d", op, n, st);
    snapshot(after);
    for (int i = 0; i < N_SNAP; i++)
      if (before[i] != after[i])
        fail_msg("%s failed at statement %d but changed snapshot item %d: "
                 "%lld -> %lld",
                 op, n, i, (long long)before[i], (long long)after[i]);
  }
  fail_msg("%s never got through", op);
  return -1;
}

static void test_every_statement_can_fail(void **state) {
  (void)state;
  arena *a = arena_new();
  owner.role = ROLE_AUTHENTICATED;
  test_tenant(d, "27", owner.sub);
  db_err err;
  char body[1024], customer[37], product[37], product2[37], inv[37], draft[37];
  json *ans;
  /* REST inserts with their events and opening stock are atomic too. */
  for (int n = 1;; n++) {
    int64_t before[N_SNAP], after[N_SNAP];
    snapshot(before);
    db_fault_after(n);
    int st = call(a, 0, "customers",
                  "{\"full_name\":\"Asha\",\"phone_number\":\"+919800000001\","
                  "\"state_code\":\"27\"}",
                  &ans);
    db_fault_after(0);
    if (st == 201) {
      snprintf(customer, sizeof customer, "%s", json_get(ans->items[0], "id")->str);
      break;
    }
    assert_true(st >= 500);
    snapshot(after);
    assert_memory_equal(before, after, sizeof before);
  }
  for (int k = 0; k < 2; k++) {
    for (int n = 1;; n++) {
      int64_t before[N_SNAP], after[N_SNAP];
      snapshot(before);
      db_fault_after(n);
      int st = call(a, 0, "products",
                    k ? "{\"name\":\"Oil\",\"gst_rate\":5,\"base_price\":150,"
                        "\"current_stock\":50}"
                      : "{\"name\":\"Paint\",\"gst_rate\":18,\"base_price\":"
                        "999.99,\"current_stock\":20.5,\"low_stock_threshold\":19}",
                    &ans);
      db_fault_after(0);
      if (st == 201) {
        snprintf(k ? product2 : product, 37, "%s",
                 json_get(ans->items[0], "id")->str);
        break;
      }
      assert_true(st >= 500);
      snapshot(after);
      assert_memory_equal(before, after, sizeof before);
    }
  }
  snprintf(body, sizeof body,
           "{\"customer_id\":\"%s\",\"items\":[{\"product_id\":\"%s\","
           "\"quantity\":1.5},{\"product_id\":\"%s\",\"quantity\":2,"
           "\"discount\":10}]}",
           customer, product, product2);
  int fails = until_through(a, "create_invoice", body, inv);
  /* It really was failed at many points: every statement of an issued
   * invoice (9 on SQLite, with both events in one INSERT; 8 on
   * PostgreSQL, where the stock's UPDATE and movements are one statement
   * and so are the number's upsert and its UPDATE of the invoice; the
   * outbox's may change). */
  assert_true(fails >= (db_kind_of(d) == DB_POSTGRES ? 8 : 9));
  snprintf(body, sizeof body,
           "{\"customer_id\":\"%s\",\"draft\":true,\"items\":[{\"product_id\":"
           "\"%s\",\"quantity\":1}]}",
           customer, product);
  until_through(a, "create_invoice", body, draft);
  snprintf(body, sizeof body, "{\"invoice_id\":\"%s\"}", draft);
  until_through(a, "issue_invoice", body, NULL);
  snprintf(body, sizeof body,
           "{\"customer_id\":\"%s\",\"amount_received\":500,\"payment_mode\":"
           "\"upi\",\"invoice_id\":\"%s\"}",
           customer, inv);
  until_through(a, "record_payment", body, NULL);
  idem_key = "fault-key-1";
  snprintf(body, sizeof body,
           "{\"customer_id\":\"%s\",\"amount_received\":5000,\"payment_mode\":"
           "\"cash\"}",
           customer);
  until_through(a, "record_payment", body, NULL);
  idem_key = NULL;
  snprintf(body, sizeof body,
           "{\"product_id\":\"%s\",\"delta\":-1.5,\"reason\":\"damaged\"}",
           product);
  until_through(a, "adjust_stock", body, NULL); /* crosses the threshold */
  snprintf(body, sizeof body, "{\"invoice_id\":\"%s\",\"reason\":\"returned\"}", inv);
  until_through(a, "cancel_invoice", body, NULL);
  /* After all of it the books still add up. */
  db_val c[] = {db_uuid(owner.sub), db_uuid(customer)};
  db_res *r = NULL;
  if (db_query(d,
               "SELECT (SELECT total_debt FROM customers WHERE profile_id = $1 "
               "AND id = $2), (SELECT COALESCE(SUM(total_amount), 0) FROM "
               "invoices WHERE profile_id = $1 AND customer_id = $2 AND status "
               "NOT IN ('draft', 'cancelled')), (SELECT COALESCE(SUM("
               "amount_received), 0) FROM payments WHERE profile_id = $1 AND "
               "customer_id = $2)",
               c, 2, &r, &err))
    fail_msg("%s", err.message);
  assert_int_equal(db_res_dec(r, 0, 0, 2),
                   db_res_dec(r, 0, 1, 2) - db_res_dec(r, 0, 2, 2));
  db_res_free(r);
  arena_free(a);
}

int main(int argc, char **argv) {
  const char *backend = test_backend_from_args(argc, argv);
  d = test_db_open_migrated(backend);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_statement_can_fail)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  test_db_close(d);
  return rc;
}

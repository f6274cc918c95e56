/* test_biz_credit_db.c - a customer's credit (money paid in advance, paid
 * beyond the debt, or freed by cancelling a paid invoice) is applied by
 * itself to invoices issued later, oldest payment first and oldest invoice
 * first, through the allocation rules of payments (biz/ledger.c); the
 * statement shows what is left on account. */
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

static db *d;
static api_principal owner;
static char customer[37], product[37];

static const char *represent(const api_req *r, const char *name) {
  (void)r;
  return strcasecmp(name, "prefer") ? NULL : "return=representation";
}

/* Runs operation op; fails the test unless it answers 200. */
static json *op(arena *a, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static json *op(arena *a, const char *name, const char *fmt, ...) {
  char body[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(body, sizeof body, fmt, ap);
  va_end(ap);
  json *ans;
  int st = test_call(d, a, &owner, 1, "POST", name, "", body, represent, &ans);
  if (st != 200) fail_msg("%s answered %d", name, st);
  return ans;
}

static const char *str(const json *o, const char *k) {
  const json *v = json_get(o, k);
  if (!v || (v->type != JSON_STRING && v->type != JSON_NUMBER))
    fail_msg("no %s", k);
  return v->str;
}

/* An issued invoice of qty units at 100.00 with no GST-free rounding
 * surprises: the product is at 0% so the total is qty * 100. */
static json *invoice(arena *a, int qty, int draft) {
  return op(a, "create_invoice",
            "{\"customer_id\":\"%s\",\"draft\":%s,\"items\":[{\"product_id\":"
            "\"%s\",\"quantity\":%d}]}",
            customer, draft ? "true" : "false", product, qty);
}

static void test_credit_is_applied(void **state) {
  (void)state;
  arena *a = arena_new();
  /* 250.00 in advance, then 100.00 more: credit 350.00. */
  json *p1 = op(a, "record_payment",
                "{\"customer_id\":\"%s\",\"amount_received\":250,"
                "\"payment_mode\":\"upi\"}", customer);
  assert_string_equal(str(p1, "unallocated"), "250.00");
  op(a, "record_payment",
     "{\"customer_id\":\"%s\",\"amount_received\":100,\"payment_mode\":"
     "\"cash\"}", customer);
  json *st = op(a, "customer_statement", "{\"customer_id\":\"%s\"}", customer);
  assert_string_equal(str(json_get(st, "customer"), "credit"), "350.00");

  /* An invoice of 200.00 is paid by the credit as it is issued. */
  json *i1 = invoice(a, 2, 0);
  assert_string_equal(str(i1, "status"), "paid");
  assert_string_equal(str(i1, "amount_paid"), "200.00");
  assert_string_equal(str(i1, "balance_due"), "0.00");
  /* 300.00 more: the last 150.00 of credit, oldest payment first. */
  json *i2 = invoice(a, 3, 0);
  assert_string_equal(str(i2, "status"), "partially_paid");
  assert_string_equal(str(i2, "amount_paid"), "150.00");
  assert_string_equal(str(i2, "balance_due"), "150.00");
  st = op(a, "customer_statement", "{\"customer_id\":\"%s\"}", customer);
  assert_string_equal(str(json_get(st, "customer"), "credit"), "0.00");
  assert_string_equal(str(json_get(st, "customer"), "total_debt"), "150.00");

  /* The allocations: i1 wholly from the first payment (250), i2 from the
   * rest of it (50) and then the second (100). */
  db_val v[] = {db_uuid(owner.sub), db_uuid(str(p1, "id"))};
  db_res *r = NULL;
  db_err err;
  if (db_query(d,
               "SELECT SUM(amount) FROM payment_allocations WHERE profile_id = "
               "$1 AND payment_id = $2",
               v, 2, &r, &err))
    fail_msg("%s", err.message);
  assert_int_equal(db_res_dec(r, 0, 0, 2), 25000);
  db_res_free(r);

  /* A draft takes no credit; cancelling the paid i1 frees its 200.00,
   * which goes to the open i2 (150.00) and leaves 50.00 on account. */
  json *dr = invoice(a, 1, 1);
  assert_string_equal(str(dr, "status"), "draft");
  op(a, "cancel_invoice", "{\"invoice_id\":\"%s\",\"reason\":\"returned\"}",
     str(i1, "id"));
  json *i2b = op(a, "issue_invoice", "{\"invoice_id\":\"%s\"}", str(dr, "id"));
  /* The draft, issued now, is paid by the last 50.00 (its total: 100). */
  assert_string_equal(str(i2b, "amount_paid"), "50.00");
  if (db_query(d,
               "SELECT status, balance_due FROM invoices WHERE profile_id = $1 "
               "AND id = $2",
               (db_val[]){db_uuid(owner.sub), db_uuid(str(i2, "id"))}, 2, &r,
               &err))
    fail_msg("%s", err.message);
  assert_string_equal(db_res_text(r, 0, 0), "paid");
  assert_int_equal(db_res_dec(r, 0, 1, 2), 0);
  db_res_free(r);
  st = op(a, "customer_statement", "{\"customer_id\":\"%s\"}", customer);
  /* 350 paid; live invoices i2 (300) and the former draft (100). */
  assert_string_equal(str(json_get(st, "customer"), "total_debt"), "50.00");
  assert_string_equal(str(json_get(st, "customer"), "credit"), "0.00");
  assert_string_equal(str(st, "closing_balance"), "50.00");
  arena_free(a);
}

/* A payment larger than a page of open invoices (biz/payment.c reads them
 * 16 at a time) pays them all, oldest first, and only the last in part. */
static void test_payment_over_many_invoices(void **state) {
  (void)state;
  arena *a = arena_new();
  /* The first test left one invoice open with 50.00 due: it comes first. */
  for (int i = 0; i < 40; i++) invoice(a, 1, 0);
  json *p = op(a, "record_payment",
               "{\"customer_id\":\"%s\",\"amount_received\":3960,"
               "\"payment_mode\":\"bank_transfer\"}", customer);
  const json *al = json_get(p, "allocations");
  assert_non_null(al);
  assert_int_equal(al->n, 41);
  assert_string_equal(str(al->items[0], "amount"), "50.00");
  assert_string_equal(str(al->items[39], "status"), "paid");
  assert_string_equal(str(al->items[40], "status"), "partially_paid");
  assert_string_equal(str(al->items[40], "amount"), "10.00");
  assert_string_equal(str(p, "unallocated"), "0.00");
  db_res *r = NULL;
  db_err err;
  if (db_query(d,
               "SELECT COUNT(*) FROM invoices WHERE profile_id = $1 AND "
               "customer_id = $2 AND status IN ('pending', 'partially_paid')",
               (db_val[]){db_uuid(owner.sub), db_uuid(customer)}, 2, &r, &err))
    fail_msg("%s", err.message);
  assert_int_equal(db_res_int(r, 0, 0), 1);
  db_res_free(r);
  arena_free(a);
}

int main(int argc, char **argv) {
  const char *backend = test_backend_from_args(argc, argv);
  d = test_db_open_migrated(backend);
  test_tenant(d, "27", owner.sub);
  owner.role = ROLE_AUTHENTICATED;
  arena *a = arena_new();
  json *ans;
  if (test_call(d, a, &owner, 0, "POST", "customers", "",
                "{\"full_name\":\"Meena\",\"phone_number\":\"+919800000003\","
                "\"state_code\":\"27\"}",
                represent, &ans) != 201)
    test_die("customer", "not created");
  snprintf(customer, sizeof customer, "%s", json_get(ans->items[0], "id")->str);
  if (test_call(d, a, &owner, 0, "POST", "products", "",
                "{\"name\":\"Notebook\",\"gst_rate\":0,\"base_price\":100,"
                "\"current_stock\":100}",
                represent, &ans) != 201)
    test_die("product", "not created");
  snprintf(product, sizeof product, "%s", json_get(ans->items[0], "id")->str);
  arena_free(a);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_credit_is_applied),
      cmocka_unit_test(test_payment_over_many_invoices),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  test_db_close(d);
  return rc;
}

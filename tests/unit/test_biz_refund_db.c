/* test_biz_refund_db.c - payments a provider reported are recorded once
 * (record_payment with provider + provider_payment_id), and record_refund:
 * the customer's dues rise by the refund, once; a refund of a payment that
 * paid invoices reopens them, newest allocation first, and other credit is
 * applied to what reopened; a refund naming no payment comes out of credit
 * only; the statement shows refunds; the ledger adds up after each step. */
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
#include "biz/run.h"

static db *d;
static api_principal owner;
static char product[37];

static const char *represent(const api_req *r, const char *name) {
  (void)r;
  return strcasecmp(name, "prefer") ? NULL : "return=representation";
}

static int callf(arena *a, const char *name, json **ans, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int callf(arena *a, const char *name, json **ans, const char *fmt, ...) {
  char body[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(body, sizeof body, fmt, ap);
  va_end(ap);
  return test_call(d, a, &owner, 1, "POST", name, "", body, represent, ans);
}

/* The provider's path (a verified webhook): biz_run with from_provider,
 * the only caller that may name provider ids. */
static int provf(arena *a, const char *name, json **ans, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int provf(arena *a, const char *name, json **ans, const char *fmt, ...) {
  char body[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(body, sizeof body, fmt, ap);
  va_end(ap);
  json *args;
  json_error je;
  if (json_parse(a, body, strlen(body), &args, &je)) fail_msg("bad args");
  biz_call call = {.op = name, .profile_id = owner.sub, .args = args, .a = a,
                   .from_provider = 1};
  api_resp r;
  api_resp_init(&r);
  int st = biz_run(d, &call, &r) ? r.status : 200;
  if (st == 200 &&
      json_parse(a, arena_strndup(a, r.body.data, r.body.len), r.body.len,
                 ans, &je))
    fail_msg("bad answer");
  api_resp_free(&r);
  return st;
}

#define POK(a, name, ans, ...) \
  assert_int_equal(provf(a, name, ans, __VA_ARGS__), 200)

#define OK(a, name, ans, ...) \
  assert_int_equal(callf(a, name, ans, __VA_ARGS__), 200)

static const char *str(const json *o, const char *k) {
  const json *v = json_get(o, k);
  if (!v || (v->type != JSON_STRING && v->type != JSON_NUMBER))
    fail_msg("no %s", k);
  return v->str;
}

static void new_customer(arena *a, char id[37]) {
  json *ans;
  static int n;
  char body[200];
  snprintf(body, sizeof body,
           "{\"full_name\":\"Refund %d\",\"state_code\":\"27\"}", ++n);
  if (test_call(d, a, &owner, 0, "POST", "customers", "", body, represent,
                &ans) != 201)
    fail_msg("customer not created");
  snprintf(id, 37, "%s", json_get(ans->items[0], "id")->str);
}

/* An issued invoice of qty × 100.00 (0% GST). */
static json *invoice(arena *a, const char *customer, int qty) {
  json *ans;
  OK(a, "create_invoice", &ans,
     "{\"customer_id\":\"%s\",\"items\":[{\"product_id\":\"%s\","
     "\"quantity\":%d}]}",
     customer, product, qty);
  return ans;
}

static int64_t scalar(const char *sql, const char *customer) {
  db_res *r = NULL;
  db_err err;
  db_val v[] = {db_uuid(owner.sub), db_uuid(customer)};
  if (db_query(d, sql, v, 2, &r, &err)) fail_msg("%s: %s", sql, err.message);
  int64_t x = db_res_isnull(r, 0, 0) ? 0 : db_res_dec(r, 0, 0, 2);
  db_res_free(r);
  return x;
}

static int64_t count(const char *sql, const char *arg) {
  db_res *r = NULL;
  db_err err;
  db_val v[] = {db_uuid(owner.sub), db_uuid(arg)};
  if (db_query(d, sql, v, 2, &r, &err)) fail_msg("%s: %s", sql, err.message);
  int64_t x = db_res_int(r, 0, 0);
  db_res_free(r);
  return x;
}

/* total_debt = invoices - payments + refunds; every invoice's amount_paid
 * its allocations. */
static void check_ledger(const char *customer) {
  int64_t debt = scalar(
      "SELECT total_debt FROM customers WHERE profile_id = $1 AND id = $2",
      customer);
  int64_t inv = scalar(
      "SELECT SUM(total_amount) FROM invoices WHERE profile_id = $1 AND "
      "customer_id = $2 AND status NOT IN ('draft', 'cancelled')",
      customer);
  int64_t paid = scalar(
      "SELECT SUM(amount_received) FROM payments WHERE profile_id = $1 AND "
      "customer_id = $2",
      customer);
  int64_t back = scalar(
      "SELECT SUM(amount) FROM refunds WHERE profile_id = $1 AND "
      "customer_id = $2",
      customer);
  if (debt != inv - paid + back)
    fail_msg("total_debt %lld != %lld - %lld + %lld", (long long)debt,
             (long long)inv, (long long)paid, (long long)back);
  int64_t bad = count(
      "SELECT COUNT(*) FROM invoices i WHERE i.profile_id = $1 AND "
      "i.customer_id = $2 AND i.amount_paid <> COALESCE((SELECT SUM(amount) "
      "FROM payment_allocations a WHERE a.profile_id = i.profile_id AND "
      "a.invoice_id = i.id), 0)",
      customer);
  if (bad) fail_msg("%lld invoices whose amount_paid is not their allocations",
                    (long long)bad);
}

static void test_provider_payment_once(void **state) {
  (void)state;
  arena *a = arena_new();
  char cu[37];
  new_customer(a, cu);
  json *inv = invoice(a, cu, 3);
  json *p1, *p2;
#define fmt                                                             \
  "{\"customer_id\":\"%s\",\"amount_received\":300,\"payment_mode\":"     \
  "\"upi\",\"invoice_id\":\"%s\",\"provider\":\"razorpay\","              \
  "\"provider_payment_id\":\"pay_Once1\"}"
  POK(a, "record_payment", &p1, fmt, cu, str(inv, "id"));
  assert_string_equal(str(p1, "provider_payment_id"), "pay_Once1");
  assert_string_equal(str(p1, "total_debt"), "0.00");
  /* Again, although the invoice is paid now: the first payment, not a
   * 409 and not a second row. */
  POK(a, "record_payment", &p2, fmt, cu, str(inv, "id"));
#undef fmt
  assert_string_equal(str(p2, "id"), str(p1, "id"));
  assert_string_equal(str(p2, "amount_received"), "300.00");
  assert_string_equal(str(p2, "total_debt"), "0.00");
  assert_int_equal(json_get(p2, "allocations")->n, 1);
  assert_int_equal(count("SELECT COUNT(*) FROM payments WHERE "
                          "profile_id = $1 AND customer_id = $2",
                          cu),
                   1);
  /* A provider's payment naming an invoice paid meanwhile is still money
   * in: recorded, as credit. */
  json *p3;
  POK(a, "record_payment", &p3,
     "{\"customer_id\":\"%s\",\"amount_received\":50,\"payment_mode\":"
     "\"upi\",\"invoice_id\":\"%s\",\"provider\":\"razorpay\","
     "\"provider_payment_id\":\"pay_Late2\"}",
     cu, str(inv, "id"));
  assert_string_equal(str(p3, "unallocated"), "50.00");
  assert_string_equal(str(p3, "total_debt"), "-50.00");
  /* Bad provider arguments: refused, nothing written. */
  json *ans;
  assert_int_equal(provf(a, "record_payment", &ans,
                         "{\"customer_id\":\"%s\",\"amount_received\":1,"
                         "\"payment_mode\":\"upi\",\"provider\":\"razorpay\"}",
                         cu),
                   400);
  assert_int_equal(provf(a, "record_payment", &ans,
                         "{\"customer_id\":\"%s\",\"amount_received\":1,"
                         "\"payment_mode\":\"upi\",\"provider\":\"stripe\","
                         "\"provider_payment_id\":\"pay_X\"}",
                         cu),
                   400);
  assert_int_equal(provf(a, "record_payment", &ans,
                         "{\"customer_id\":\"%s\",\"amount_received\":1,"
                         "\"payment_mode\":\"upi\",\"provider\":\"razorpay\","
                         "\"provider_payment_id\":\"pay X'\"}",
                         cu),
                   400);
  /* Over REST (any user-facing caller) provider ids are refused: a
   * business cannot claim a pay_ id, its own or another's (review 10). */
  assert_int_equal(callf(a, "record_payment", &ans,
                         "{\"customer_id\":\"%s\",\"amount_received\":1,"
                         "\"payment_mode\":\"upi\",\"provider\":\"razorpay\","
                         "\"provider_payment_id\":\"pay_Claim9\"}",
                         cu),
                   400);
  assert_int_equal(callf(a, "record_payment", &ans,
                         "{\"customer_id\":\"%s\",\"amount_received\":1,"
                         "\"payment_mode\":\"upi\","
                         "\"provider_payment_id\":\"pay_Claim9\"}",
                         cu),
                   400);
  assert_int_equal(count("SELECT COUNT(*) FROM payments WHERE "
                          "profile_id = $1 AND customer_id = $2",
                          cu),
                   2);
  check_ledger(cu);
  arena_free(a);
}

static void test_refund_from_credit(void **state) {
  (void)state;
  arena *a = arena_new();
  char cu[37];
  new_customer(a, cu);
  json *ans;
  OK(a, "record_payment", &ans,
     "{\"customer_id\":\"%s\",\"amount_received\":250,\"payment_mode\":"
     "\"cash\"}",
     cu);
  OK(a, "record_refund", &ans,
     "{\"customer_id\":\"%s\",\"amount\":100,\"reason\":\"advance back\"}",
     cu);
  assert_string_equal(str(ans, "total_debt"), "-150.00");
  assert_int_equal(json_get(ans, "payment_id")->type, JSON_NULL);
  /* Only 150.00 of credit is left. */
  assert_int_equal(callf(a, "record_refund", &ans,
                         "{\"customer_id\":\"%s\",\"amount\":200}", cu),
                   409);
  assert_non_null(strstr(str(ans, "message"), "150.00"));
  /* What is left of the credit pays the next invoice: 150.00 of 200.00. */
  json *inv = invoice(a, cu, 2);
  assert_string_equal(str(inv, "status"), "partially_paid");
  assert_string_equal(str(inv, "balance_due"), "50.00");
  /* Bad arguments. */
  assert_int_equal(callf(a, "record_refund", &ans,
                         "{\"customer_id\":\"%s\",\"amount\":0}", cu),
                   400);
  assert_int_equal(callf(a, "record_refund", &ans,
                         "{\"customer_id\":\"%s\",\"amount\":1.005}", cu),
                   400);
  assert_int_equal(callf(a, "record_refund", &ans,
                         "{\"customer_id\":\"%s\",\"amount\":1,\"oops\":1}", cu),
                   400);
  assert_int_equal(callf(a, "record_refund", &ans,
                         "{\"customer_id\":\"%s\",\"amount\":1,\"payment_id\":"
                         "\"0190f0f0-0000-7000-8000-000000000000\"}",
                         cu),
                   404);
  check_ledger(cu);
  arena_free(a);
}

static void test_refund_reopens_invoices(void **state) {
  (void)state;
  arena *a = arena_new();
  char cu[37];
  new_customer(a, cu);
  json *i1 = invoice(a, cu, 2), *i2 = invoice(a, cu, 1);
  json *p1, *p2, *ans;
  /* 300.00 pays both: 200.00 to the older, then 100.00 to the newer. */
  OK(a, "record_payment", &p1,
     "{\"customer_id\":\"%s\",\"amount_received\":300,\"payment_mode\":"
     "\"upi\"}",
     cu);
  assert_int_equal(json_get(p1, "allocations")->n, 2);
  /* 40.00 more in advance: credit. */
  OK(a, "record_payment", &p2,
     "{\"customer_id\":\"%s\",\"amount_received\":40,\"payment_mode\":"
     "\"cash\"}",
     cu);
  /* Refund 150.00 of the first payment: the newest allocation (100.00 on
   * i2) goes first, then 50.00 of i1; the 40.00 of credit then pays i1. */
  OK(a, "record_refund", &ans,
     "{\"customer_id\":\"%s\",\"amount\":150,\"payment_id\":\"%s\"}", cu,
     str(p1, "id"));
  json *re = json_get(ans, "reopened");
  assert_int_equal(re->n, 2);
  assert_string_equal(str(re->items[0], "invoice_id"), str(i2, "id"));
  assert_string_equal(str(re->items[0], "amount"), "100.00");
  assert_string_equal(str(re->items[0], "status"), "pending");
  assert_string_equal(str(re->items[1], "invoice_id"), str(i1, "id"));
  assert_string_equal(str(re->items[1], "amount"), "50.00");
  assert_string_equal(str(ans, "total_debt"), "110.00");
  json *rows;
  assert_int_equal(test_call(d, a, &owner, 0, "GET", "invoices",
                             arena_printf(a, "customer_id=eq.%s&order=invoice_date,invoice_number&select=id,status,balance_due", cu),
                             NULL, NULL, &rows),
                   200);
  for (size_t i = 0; i < rows->n; i++) {
    const json *r = rows->items[i];
    if (!strcmp(str(r, "id"), str(i1, "id"))) {
      assert_string_equal(str(r, "status"), "partially_paid");
      assert_string_equal(str(r, "balance_due"), "10.00");
    } else {
      assert_string_equal(str(r, "status"), "pending");
      assert_string_equal(str(r, "balance_due"), "100.00");
    }
  }
  /* Not beyond the payment: 150.00 of it is left to refund. */
  assert_int_equal(callf(a, "record_refund", &ans,
                         "{\"customer_id\":\"%s\",\"amount\":150.01,"
                         "\"payment_id\":\"%s\"}",
                         cu, str(p1, "id")),
                   409);
  /* Another customer's payment is not found. */
  char other[37];
  new_customer(a, other);
  assert_int_equal(callf(a, "record_refund", &ans,
                         "{\"customer_id\":\"%s\",\"amount\":1,"
                         "\"payment_id\":\"%s\"}",
                         other, str(p1, "id")),
                   404);
  check_ledger(cu);
  /* The statement shows the refund as a debit, closing at the debt. */
  json *st;
  OK(a, "customer_statement", &st, "{\"customer_id\":\"%s\"}", cu);
  json *en = json_get(st, "entries");
  int refunds = 0;
  for (size_t i = 0; i < en->n; i++)
    if (!strcmp(str(en->items[i], "type"), "refund")) {
      refunds++;
      assert_string_equal(str(en->items[i], "debit"), "150.00");
      assert_string_equal(str(en->items[i], "credit"), "0.00");
    }
  assert_int_equal(refunds, 1);
  assert_string_equal(str(st, "closing_balance"), "110.00");
  arena_free(a);
}

static void test_provider_refund_once(void **state) {
  (void)state;
  arena *a = arena_new();
  char cu[37];
  new_customer(a, cu);
  json *inv = invoice(a, cu, 5), *p, *r1, *r2;
  POK(a, "record_payment", &p,
     "{\"customer_id\":\"%s\",\"amount_received\":500,\"payment_mode\":"
     "\"upi\",\"invoice_id\":\"%s\",\"provider\":\"razorpay\","
     "\"provider_payment_id\":\"pay_Ref1\"}",
     cu, str(inv, "id"));
#define fmt                                                        \
  "{\"customer_id\":\"%s\",\"amount\":120.50,\"payment_id\":\"%s\"," \
  "\"provider\":\"razorpay\",\"provider_refund_id\":\"rfnd_One1\"}"
  POK(a, "record_refund", &r1, fmt, cu, str(p, "id"));
  assert_string_equal(str(r1, "total_debt"), "120.50");
  POK(a, "record_refund", &r2, fmt, cu, str(p, "id"));
#undef fmt
  assert_string_equal(str(r2, "id"), str(r1, "id"));
  assert_string_equal(str(r2, "total_debt"), "120.50");
  assert_int_equal(count("SELECT COUNT(*) FROM refunds WHERE "
                          "profile_id = $1 AND customer_id = $2",
                          cu),
                   1);
  /* Over REST provider_refund_id is refused, nothing written. */
  json *ans;
  assert_int_equal(callf(a, "record_refund", &ans,
                         "{\"customer_id\":\"%s\",\"amount\":1,"
                         "\"payment_id\":\"%s\",\"provider\":\"razorpay\","
                         "\"provider_refund_id\":\"rfnd_Claim2\"}",
                         cu, str(p, "id")),
                   400);
  assert_int_equal(count("SELECT COUNT(*) FROM refunds WHERE "
                          "profile_id = $1 AND customer_id = $2",
                          cu),
                   1);
  /* One payment.refunded event. */
  assert_int_equal(count("SELECT COUNT(*) FROM events WHERE profile_id "
                          "= $1 AND event_type = 'payment.refunded' AND "
                          "entity_id = $2",
                          str(r1, "id")),
                   1);
  check_ledger(cu);
  arena_free(a);
}

int main(int argc, char **argv) {
  const char *backend = test_backend_from_args(argc, argv);
  d = test_db_open_migrated(backend);
  test_tenant(d, "27", owner.sub);
  owner.role = ROLE_AUTHENTICATED;
  arena *a = arena_new();
  json *ans;
  if (test_call(d, a, &owner, 0, "POST", "products", "",
                "{\"name\":\"Ledger\",\"gst_rate\":0,\"base_price\":100,"
                "\"current_stock\":1000}",
                represent, &ans) != 201)
    test_die("product", "not created");
  snprintf(product, sizeof product, "%s", json_get(ans->items[0], "id")->str);
  arena_free(a);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_provider_payment_once),
      cmocka_unit_test(test_refund_from_credit),
      cmocka_unit_test(test_refund_reopens_invoices),
      cmocka_unit_test(test_provider_refund_once),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  test_db_close(d);
  return rc;
}

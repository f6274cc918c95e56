/* test_biz_property_db.c - thousands of random operations on the books
 * (invoices created, issued and cancelled, payments, refunds of payments or
 * of credit, stock adjustments),
 * driven through the same handlers the API uses, after which the ledger
 * must still add up on this backend:
 *   - every customer's total_debt = its issued, non-cancelled invoice totals
 *     minus its payments;
 *   - every product's current_stock = the sum of its stock movements;
 *   - every invoice series is gapless (1..N, no number twice) and its
 *     counter equals N;
 *   - every invoice's amount_paid = its allocations, balance_due = total -
 *     paid for open ones, and no payment is allocated and refunded beyond
 *     its amount (allocations to cancelled invoices are released: credit
 *     again);
 *   - no customer has credit and an open invoice at once (credit is applied).
 * The sequence is fixed by a seed, so a failure can be replayed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "testcall.h"
#include "testutil.h"
#include "base/json.h"
#include "base/uuid.h"

#define N_CUSTOMERS 6
#define N_PRODUCTS 5

static db *d;
static api_principal owner;
static char customers[N_CUSTOMERS][37];
static char products[N_PRODUCTS][37];
static char invoices[4096][37];
static int n_invoices;
static struct { char id[37]; int customer; } pays[4096];
static int n_pays;
static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static unsigned rnd(unsigned n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (unsigned)(rng % n);
}

static const char *prefer;
static const char *no_header(const api_req *r, const char *name) {
  (void)r;
  return !strcasecmp(name, "prefer") ? prefer : NULL;
}

/* Runs one call; fails the test on a 5xx (the books must never break). */
static int call(arena *a, int rpc, const char *method, const char *path,
                const char *query, const char *body, json **answer) {
  int status = test_call(d, a, &owner, rpc, method, path, query, body,
                         no_header, answer);
  if (status >= 500) fail_msg("%s %s: %d", method, path, status);
  return status;
}

static void setup_business(void) {
  arena *a = arena_new();
  owner.role = ROLE_AUTHENTICATED;
  test_tenant(d, "27", owner.sub);
  prefer = "return=representation";
  json *ans;
  for (int i = 0; i < N_CUSTOMERS; i++) {
    char body[200];
    snprintf(body, sizeof body, "{\"full_name\":\"Customer %d\",\"state_code\":\"%s\"}",
             i, i % 2 ? "29" : "27");
    assert_int_equal(call(a, 0, "POST", "customers", "", body, &ans), 201);
    snprintf(customers[i], 37, "%s", json_get(ans->items[0], "id")->str);
  }
  static const char *rates[] = {"0", "0.25", "5", "18", "28"};
  for (int i = 0; i < N_PRODUCTS; i++) {
    char body[300];
    snprintf(body, sizeof body,
             "{\"name\":\"Product %d\",\"gst_rate\":%s,\"base_price\":%d.%02d,"
             "\"current_stock\":%d.5,\"low_stock_threshold\":20}",
             i, rates[i], 10 + i * 37, (i * 13) % 100, 200 + i * 50);
    assert_int_equal(call(a, 0, "POST", "products", "", body, &ans), 201);
    snprintf(products[i], 37, "%s", json_get(ans->items[0], "id")->str);
  }
  arena_free(a);
}

static void random_op(arena *a, int *counts) {
  char body[2048];
  json *ans;
  int kind = (int)rnd(100);
  if (kind < 35 || n_invoices == 0) {
    int lines = 1 + (int)rnd(3);
    int len = snprintf(body, sizeof body, "{\"customer_id\":\"%s\",%s\"items\":[",
                       customers[rnd(N_CUSTOMERS)],
                       rnd(5) == 0 ? "\"draft\":true," : "");
    for (int i = 0; i < lines; i++) {
      len += snprintf(body + len, sizeof body - (size_t)len,
                      "%s{\"product_id\":\"%s\",\"quantity\":%u.%03u%s}", i ? "," : "",
                      products[rnd(N_PRODUCTS)], rnd(4), rnd(1000),
                      rnd(4) == 0 ? ",\"unit_price\":12.49,\"discount\":0.5" : "");
    }
    snprintf(body + len, sizeof body - (size_t)len, "]}");
    int st = call(a, 1, "POST", "create_invoice", "", body, &ans);
    /* 400: a zero quantity or a discount above the line; 409: no stock. */
    if (st != 200 && st != 400 && st != 409) fail_msg("create_invoice: %d", st);
    if (st == 200 && n_invoices < 4096)
      snprintf(invoices[n_invoices++], 37, "%s", json_get(ans, "id")->str);
    counts[st == 200]++;
  } else if (kind < 45) {
    snprintf(body, sizeof body, "{\"invoice_id\":\"%s\"}", invoices[rnd((unsigned)n_invoices)]);
    int st = call(a, 1, "POST", "issue_invoice", "", body, &ans);
    if (st != 200 && st != 409) fail_msg("issue_invoice: %d", st);
    counts[st == 200]++;
  } else if (kind < 55) {
    snprintf(body, sizeof body, "{\"invoice_id\":\"%s\",\"reason\":\"random\"}",
             invoices[rnd((unsigned)n_invoices)]);
    int st = call(a, 1, "POST", "cancel_invoice", "", body, &ans);
    if (st != 200 && st != 409) fail_msg("cancel_invoice: %d", st);
    counts[st == 200]++;
  } else if (kind < 85) {
    int named = rnd(3) == 0;
    int cu = (int)rnd(N_CUSTOMERS);
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"amount_received\":%u.%02u,\"payment_mode\":"
             "\"upi\"%s%s%s}",
             customers[cu], 1 + rnd(3000), rnd(100),
             named ? ",\"invoice_id\":\"" : "",
             named ? invoices[rnd((unsigned)n_invoices)] : "", named ? "\"" : "");
    int st = call(a, 1, "POST", "record_payment", "", body, &ans);
    /* 404/409: the named invoice is another customer's, or not open. */
    if (st != 200 && st != 404 && st != 409) fail_msg("record_payment: %d", st);
    if (st == 200 && n_pays < 4096) {
      snprintf(pays[n_pays].id, 37, "%s", json_get(ans, "id")->str);
      pays[n_pays++].customer = cu;
    }
    counts[st == 200]++;
  } else if (kind < 90) {
    /* A refund of one of the customer's payments, or of its credit. */
    int k = n_pays ? (int)rnd((unsigned)n_pays) : -1;
    int named = k >= 0 && rnd(3) != 0;
    int cu = k >= 0 ? pays[k].customer : (int)rnd(N_CUSTOMERS);
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"amount\":%u.%02u%s%s%s}",
             customers[cu], 1 + rnd(800), rnd(100),
             named ? ",\"payment_id\":\"" : "", named ? pays[k].id : "",
             named ? "\"" : "");
    int st = call(a, 1, "POST", "record_refund", "", body, &ans);
    /* 409: beyond what is left of the payment, or of the credit. */
    if (st != 200 && st != 409) fail_msg("record_refund: %d", st);
    counts[st == 200]++;
  } else {
    snprintf(body, sizeof body,
             "{\"product_id\":\"%s\",\"delta\":%s%u.%03u,\"reason\":\"count\"}",
             products[rnd(N_PRODUCTS)], rnd(3) ? "" : "-", rnd(40), rnd(1000));
    int st = call(a, 1, "POST", "adjust_stock", "", body, &ans);
    if (st != 200 && st != 409 && st != 400) fail_msg("adjust_stock: %d", st);
    counts[st == 200]++;
  }
}

static int64_t scalar_dec(const char *sql, const db_val *v, int n, int scale) {
  db_res *r = NULL;
  db_err err;
  if (db_query(d, sql, v, n, &r, &err)) fail_msg("%s: %s", sql, err.message);
  int64_t x = db_res_isnull(r, 0, 0) ? 0 : db_res_dec(r, 0, 0, scale);
  db_res_free(r);
  return x;
}

static void check_invariants(void) {
  db_val p = db_uuid(owner.sub);
  for (int i = 0; i < N_CUSTOMERS; i++) {
    db_val v[] = {p, db_uuid(customers[i])};
    int64_t debt = scalar_dec(
        "SELECT total_debt FROM customers WHERE profile_id = $1 AND id = $2", v, 2, 2);
    int64_t invoiced = scalar_dec(
        "SELECT SUM(total_amount) FROM invoices WHERE profile_id = $1 AND "
        "customer_id = $2 AND status NOT IN ('draft', 'cancelled')",
        v, 2, 2);
    int64_t paid = scalar_dec(
        "SELECT SUM(amount_received) FROM payments WHERE profile_id = $1 AND "
        "customer_id = $2",
        v, 2, 2);
    int64_t back = scalar_dec(
        "SELECT SUM(amount) FROM refunds WHERE profile_id = $1 AND "
        "customer_id = $2",
        v, 2, 2);
    if (debt != invoiced - paid + back)
      fail_msg("customer %d: total_debt %lld != invoices %lld - payments %lld "
               "+ refunds %lld", i, (long long)debt, (long long)invoiced,
               (long long)paid, (long long)back);
  }
  for (int i = 0; i < N_PRODUCTS; i++) {
    db_val v[] = {p, db_uuid(products[i])};
    int64_t stock = scalar_dec(
        "SELECT current_stock FROM products WHERE profile_id = $1 AND id = $2", v, 2, 3);
    int64_t ledger = scalar_dec(
        "SELECT SUM(quantity_delta) FROM stock_movements WHERE profile_id = $1 "
        "AND product_id = $2",
        v, 2, 3);
    if (stock != ledger)
      fail_msg("product %d: stock %lld != ledger %lld", i, (long long)stock,
               (long long)ledger);
  }
  /* Series: numbers 1..N, each once, and the counter at N. */
  db_res *r = NULL;
  db_err err;
  if (db_query(d,
               "SELECT invoice_number FROM invoices WHERE profile_id = $1 AND "
               "invoice_number IS NOT NULL ORDER BY invoice_number",
               &p, 1, &r, &err))
    fail_msg("%s", err.message);
  int n = db_res_rows(r);
  char *seen = calloc((size_t)n + 2, 1);
  for (int i = 0; i < n; i++) {
    const char *num = db_res_text(r, i, 0);
    const char *last = strrchr(num, '/');
    long k = last ? strtol(last + 1, NULL, 10) : 0;
    if (strncmp(num, "INV/", 4) || k < 1 || k > n || seen[k])
      fail_msg("invoice number %s is out of sequence (of %d)", num, n);
    seen[k] = 1;
  }
  free(seen);
  db_res_free(r);
  int64_t counter = scalar_dec(
      "SELECT SUM(last_number) FROM invoice_series WHERE profile_id = $1", &p, 1, 0);
  if (counter != n) fail_msg("series counter %lld, %d numbered invoices", (long long)counter, n);
  /* Allocations. */
  if (db_query(d,
               "SELECT i.id, i.status, i.total_amount, i.amount_paid, "
               "i.balance_due, (SELECT SUM(amount) FROM payment_allocations a "
               "WHERE a.profile_id = i.profile_id AND a.invoice_id = i.id) FROM "
               "invoices i WHERE i.profile_id = $1",
               &p, 1, &r, &err))
    fail_msg("%s", err.message);
  for (int i = 0; i < db_res_rows(r); i++) {
    const char *st = db_res_text(r, i, 1);
    int64_t total = db_res_dec(r, i, 2, 2), paid = db_res_dec(r, i, 3, 2),
            bal = db_res_dec(r, i, 4, 2);
    int64_t alloc = db_res_isnull(r, i, 5) ? 0 : db_res_dec(r, i, 5, 2);
    if (paid != alloc) fail_msg("invoice %s: amount_paid %lld != allocations %lld", db_res_text(r, i, 0), (long long)paid, (long long)alloc);
    if (strcmp(st, "cancelled") && strcmp(st, "draft") && bal != total - paid)
      fail_msg("invoice %s: balance_due %lld != %lld - %lld", db_res_text(r, i, 0),
               (long long)bal, (long long)total, (long long)paid);
    if (!strcmp(st, "paid") && bal != 0) fail_msg("paid invoice with a balance");
    if (!strcmp(st, "pending") && paid != 0) fail_msg("pending invoice with payments");
  }
  db_res_free(r);
  int64_t over = scalar_dec(
      "SELECT COUNT(*) FROM payments p WHERE p.profile_id = $1 AND "
      "p.amount_received < (SELECT COALESCE(SUM(a.amount), 0) FROM "
      "payment_allocations a JOIN invoices i ON i.profile_id = a.profile_id "
      "AND i.id = a.invoice_id WHERE a.profile_id = p.profile_id AND "
      "a.payment_id = p.id AND i.status <> 'cancelled') + (SELECT "
      "COALESCE(SUM(f.amount), 0) FROM refunds f WHERE f.profile_id = "
      "p.profile_id AND f.payment_id = p.id)",
      &p, 1, 0);
  if (over)
    fail_msg("%lld payments allocated and refunded beyond their amount",
             (long long)over);
  /* Credit is applied as soon as there is something to apply it to: no
   * customer has money on account (payments not allocated to live invoices
   * nor refunded) and an open invoice at once. */
  int64_t idle = scalar_dec(
      "SELECT COUNT(*) FROM customers c WHERE c.profile_id = $1 AND EXISTS "
      "(SELECT 1 FROM invoices i WHERE i.profile_id = c.profile_id AND "
      "i.customer_id = c.id AND i.status IN ('pending', 'partially_paid')) "
      "AND (SELECT COALESCE(SUM(p.amount_received), 0) FROM payments p WHERE "
      "p.profile_id = c.profile_id AND p.customer_id = c.id) > (SELECT "
      "COALESCE(SUM(a.amount), 0) FROM payment_allocations a JOIN invoices i "
      "ON i.profile_id = a.profile_id AND i.id = a.invoice_id WHERE "
      "a.profile_id = c.profile_id AND i.customer_id = c.id AND i.status <> "
      "'cancelled') + (SELECT COALESCE(SUM(f.amount), 0) FROM refunds f "
      "WHERE f.profile_id = c.profile_id AND f.customer_id = c.id)",
      &p, 1, 0);
  if (idle) fail_msg("%lld customers with credit and an open invoice", (long long)idle);
}

static void test_random_operations(void **state) {
  (void)state;
  setup_business();
  int ops = 3000;
  int counts[2] = {0, 0};
  arena *a = arena_new();
  for (int i = 0; i < ops; i++) {
    random_op(a, counts);
    arena_reset(a);
    if (i % 500 == 499) check_invariants();
  }
  arena_free(a);
  check_invariants();
  /* The mix must really exercise the books, not just bounce off errors. */
  if (counts[1] < ops / 2)
    fail_msg("only %d of %d operations succeeded", counts[1], ops);
  /* Refunds really happened, some of payments that had paid invoices. */
  db_val pv = db_uuid(owner.sub);
  int64_t nref = scalar_dec("SELECT COUNT(*) FROM refunds WHERE profile_id = $1",
                            &pv, 1, 0);
  int64_t nreopen = scalar_dec(
      "SELECT COUNT(*) FROM events WHERE profile_id = $1 AND event_type = "
      "'payment.refunded' AND CAST(payload AS text) LIKE '%invoice_number%'",
      &pv, 1, 0);
  if (nref < 20 || nreopen < 1)
    fail_msg("only %lld refunds (%lld reopening invoices)", (long long)nref,
             (long long)nreopen);
  print_message("%d operations, %d succeeded, %d refused as expected\n", ops,
                counts[1], counts[0]);
}

int main(int argc, char **argv) {
  const char *backend = test_backend_from_args(argc, argv);
  d = test_db_open_migrated(backend);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_random_operations)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  test_db_close(d);
  return rc;
}

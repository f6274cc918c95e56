/* test_biz_run_db.c - the one entry point of business operations
 * (biz/run.c) under concurrency: on SQLite with the group-commit writer
 * started (many operations per transaction, a savepoint each), on
 * PostgreSQL each on its own connection. Threads fire invoices, payments,
 * operations that are refused (stock runs out, bad arguments) and pairs that
 * share an Idempotency-Key. Afterwards every answer must match the books:
 * each 200 is a committed row, each refusal left nothing, a key answered
 * one result however often it was sent, and stock, debt and numbering add
 * up exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>

#include <cmocka.h>

#include "testcall.h"
#include "testutil.h"
#include "base/json.h"
#include "biz/run.h"

#define THREADS 6
#define ROUNDS 40
#define STOCK 150 /* fewer than THREADS * ROUNDS / 2 invoices can take */

static api_principal owner;
static char customer[37], product[37];

typedef struct worker {
  int no;
  int ok_invoices, refused_stock, refused_args, ok_payments;
  int64_t paid;             /* paise of successful payments */
  char key_answer[ROUNDS][37]; /* invoice id each shared key answered */
  char err[256];
} worker;

static const char *represent(const api_req *r, const char *name) {
  (void)r;
  return strcasecmp(name, "prefer") ? NULL : "return=representation";
}

static int run_op(db *d, arena *a, const char *op, const char *args,
                  const char *key, json **ans) {
  json *j;
  json_error je;
  if (json_parse(a, args, strlen(args), &j, &je)) return -1;
  biz_call call = {.op = op, .profile_id = owner.sub, .args = j,
                   .idem_key = key, .a = a};
  api_resp resp;
  api_resp_init(&resp);
  biz_run(d, &call, &resp);
  *ans = NULL;
  if (resp.body.len) json_parse(a, resp.body.data, resp.body.len, ans, &je);
  int st = resp.status;
  api_resp_free(&resp);
  return st;
}

static void *work(void *arg) {
  worker *w = arg;
  db *d;
  db_err err;
  if (db_open(test_db_url(), &d, &err)) {
    snprintf(w->err, sizeof w->err, "open: %.200s", err.message);
    return NULL;
  }
  char body[512], key[64];
  for (int i = 0; i < ROUNDS && !w->err[0]; i++) {
    arena *a = arena_new();
    json *ans;
    int st;
    switch (i % 4) {
      case 0: /* an invoice of one unit: fails once stock is gone */
        snprintf(body, sizeof body,
                 "{\"customer_id\":\"%s\",\"items\":[{\"product_id\":\"%s\","
                 "\"quantity\":1}]}",
                 customer, product);
        st = run_op(d, a, "create_invoice", body, NULL, &ans);
        if (st == 200) w->ok_invoices++;
        else if (st == 409) w->refused_stock++;
        else snprintf(w->err, sizeof w->err, "invoice answered %d", st);
        break;
      case 1: /* the same key from every thread: one invoice for all */
        snprintf(body, sizeof body,
                 "{\"customer_id\":\"%s\",\"draft\":true,\"items\":[{"
                 "\"product_id\":\"%s\",\"quantity\":1}]}",
                 customer, product);
        snprintf(key, sizeof key, "shared-%d", i);
        st = run_op(d, a, "create_invoice", body, key, &ans);
        if (st == 200 && ans && json_get(ans, "id"))
          snprintf(w->key_answer[i], 37, "%s", json_get(ans, "id")->str);
        else
          snprintf(w->err, sizeof w->err, "keyed draft answered %d", st);
        break;
      case 2: /* refused for its arguments, in the middle of a batch */
        st = run_op(d, a, "record_payment",
                    "{\"customer_id\":\"not-a-uuid\",\"amount_received\":1}",
                    NULL, &ans);
        if (st == 400) w->refused_args++;
        else snprintf(w->err, sizeof w->err, "bad payment answered %d", st);
        break;
      default: /* a payment of w->no + 1 rupees */
        snprintf(body, sizeof body,
                 "{\"customer_id\":\"%s\",\"amount_received\":%d,"
                 "\"payment_mode\":\"cash\"}",
                 customer, w->no + 1);
        st = run_op(d, a, "record_payment", body, NULL, &ans);
        if (st == 200) {
          w->ok_payments++;
          w->paid += (int64_t)(w->no + 1) * 100;
        } else {
          snprintf(w->err, sizeof w->err, "payment answered %d", st);
        }
    }
    arena_free(a);
  }
  db_close(d);
  return NULL;
}

static int64_t scalar(db *d, const char *sql, int scale) {
  db_val v[] = {db_uuid(owner.sub)};
  db_res *r = NULL;
  db_err err;
  if (db_query(d, sql, v, 1, &r, &err)) fail_msg("%s: %s", sql, err.message);
  int64_t x = scale < 0 ? db_res_int(r, 0, 0) : db_res_dec(r, 0, 0, scale);
  db_res_free(r);
  return x;
}

static void test_concurrent_operations(void **state) {
  (void)state;
  db *d = test_db_open_migrated(NULL);
  test_tenant(d, "27", owner.sub);
  owner.role = ROLE_AUTHENTICATED;
  arena *a = arena_new();
  json *ans;
  char body[256];
  assert_int_equal(test_call(d, a, &owner, 0, "POST", "customers", "",
                             "{\"full_name\":\"Ravi\",\"phone_number\":"
                             "\"+919800000002\",\"state_code\":\"27\"}",
                             represent, &ans),
                   201);
  snprintf(customer, sizeof customer, "%s", json_get(ans->items[0], "id")->str);
  snprintf(body, sizeof body,
           "{\"name\":\"Soap\",\"gst_rate\":18,\"base_price\":40,"
           "\"current_stock\":%d}",
           STOCK);
  assert_int_equal(test_call(d, a, &owner, 0, "POST", "products", "", body,
                             represent, &ans),
                   201);
  snprintf(product, sizeof product, "%s", json_get(ans->items[0], "id")->str);

  db_err err;
  assert_int_equal(biz_writer_start(test_db_url(), 16, &err), 0);
  worker w[THREADS];
  pthread_t t[THREADS];
  memset(w, 0, sizeof w);
  for (int i = 0; i < THREADS; i++) {
    w[i].no = i;
    assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  biz_writer_stop();

  int invoices = 0, refused = 0, payments = 0;
  int64_t paid = 0;
  for (int i = 0; i < THREADS; i++) {
    if (w[i].err[0]) fail_msg("thread %d: %s", i, w[i].err);
    invoices += w[i].ok_invoices;
    refused += w[i].refused_stock;
    payments += w[i].ok_payments;
    paid += w[i].paid;
    assert_int_equal(w[i].refused_args, ROUNDS / 4);
    /* Every thread got the same invoice for the same key. */
    for (int r = 1; r < ROUNDS; r += 4)
      assert_string_equal(w[i].key_answer[r], w[0].key_answer[r]);
  }
  /* Drafts take no stock; issued invoices took one unit each until none
   * was left, and no refusal took any. */
  assert_int_equal(invoices + refused, THREADS * ROUNDS / 4);
  assert_true(invoices <= STOCK);
  assert_int_equal(
      scalar(d, "SELECT COUNT(*) FROM invoices WHERE profile_id = $1 AND "
                "status <> 'draft'", -1),
      invoices);
  assert_int_equal(
      scalar(d, "SELECT COUNT(*) FROM invoices WHERE profile_id = $1 AND "
                "status = 'draft'", -1),
      ROUNDS / 4);
  assert_int_equal(
      scalar(d, "SELECT current_stock FROM products WHERE profile_id = $1", 3),
      (int64_t)(STOCK - invoices) * 1000);
  /* Numbers are gapless: the last issued is the count. */
  assert_int_equal(
      scalar(d, "SELECT COALESCE(MAX(last_number), 0) FROM invoice_series "
                "WHERE profile_id = $1", -1),
      invoices);
  assert_int_equal(
      scalar(d, "SELECT COUNT(*) FROM payments WHERE profile_id = $1", -1),
      payments);
  assert_int_equal(
      scalar(d, "SELECT COALESCE(SUM(amount_received), 0) FROM payments "
                "WHERE profile_id = $1", 2),
      paid);
  /* The debt is what was invoiced less what was paid. */
  assert_int_equal(
      scalar(d, "SELECT total_debt FROM customers WHERE profile_id = $1", 2),
      scalar(d, "SELECT COALESCE(SUM(total_amount), 0) FROM invoices WHERE "
                "profile_id = $1 AND status <> 'draft'", 2) - paid);
  /* One key row per shared key; refusals of bad arguments kept none. */
  assert_int_equal(
      scalar(d, "SELECT COUNT(*) FROM idempotency_keys WHERE profile_id = $1",
             -1),
      ROUNDS / 4);
  arena_free(a);
  test_db_close(d);
}

/* A writer is only started for SQLite; elsewhere the call is a no-op and
 * operations run on the caller's connection. Bad batch sizes are refused. */
static void test_writer_start(void **state) {
  (void)state;
  db_err err;
  assert_int_equal(biz_writer_start("sqlite::memory:", 0, &err), -1);
  assert_int_equal(biz_writer_start("sqlite::memory:", 1000, &err), -1);
  assert_int_equal(biz_writer_start("postgres://nowhere.invalid/x", 8, &err), 0);
  biz_writer_stop(); /* nothing started: harmless */
}

int main(int argc, char **argv) {
  test_backend_from_args(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_concurrent_operations),
      cmocka_unit_test(test_writer_start),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_biz_reports_db.c - the read operations of the books (reports.c):
 * customer_statement, sales_summary and debtors, on SQLite and PostgreSQL.
 *
 * The books are written here with plain SQL inserts (two businesses, their
 * customers, invoices in every status, payments), not through the invoice
 * and payment operations, so these tests check the reports alone. Each
 * answer is parsed and compared field by field, money as the literal text
 * of the JSON number ("1180.00"): a report must never round through a
 * double. Also checked: another business's rows never appear, the opening
 * balance of a period, the day in India of a payment made before midnight
 * UTC, and the refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "base/arena.h"
#include "base/dec.h"
#include "base/json.h"
#include "base/timeutil.h"
#include "biz/biz.h"
#include "db/db.h"
#include "testutil.h"

/* Two businesses. */
#define PA "01900000-0000-7000-8000-00000000000a"
#define PB "01900000-0000-7000-8000-00000000000b"
/* Customers of A: C1 owes, C2 is settled, C3 and C5 owe the same (tie on
 * debt), C4 is in credit. CB belongs to B. */
#define C1 "01900000-0000-7000-8000-0000000000c1"
#define C2 "01900000-0000-7000-8000-0000000000c2"
#define C3 "01900000-0000-7000-8000-0000000000c3"
#define C4 "01900000-0000-7000-8000-0000000000c4"
#define C5 "01900000-0000-7000-8000-0000000000c5"
#define CB "01900000-0000-7000-8000-0000000000cb"
/* Invoices */
#define I1 "01900000-0000-7000-8000-0000000001a1"
#define I2 "01900000-0000-7000-8000-0000000001a2"
#define I3 "01900000-0000-7000-8000-0000000001a3"
#define I4 "01900000-0000-7000-8000-0000000001a4"
#define D1 "01900000-0000-7000-8000-0000000001d1"
#define D2 "01900000-0000-7000-8000-0000000001d2"
#define IB "01900000-0000-7000-8000-0000000001b1"
/* Payments */
#define P1 "01900000-0000-7000-8000-0000000002a1"
#define P2 "01900000-0000-7000-8000-0000000002a2"
#define P3 "01900000-0000-7000-8000-0000000002a3"
#define PBP "01900000-0000-7000-8000-0000000002b1"

typedef struct fx {
  db *d;
  arena *a;
} fx;

static db_err err;

#define OK(call)                                                    \
  do {                                                              \
    if ((call) != 0)                                                \
      fail_msg("%s failed: [%s] %s", #call, err.code, err.message); \
  } while (0)

static int64_t money(const char *s) {
  int64_t v;
  if (dec_parse(s, strlen(s), 2, &v)) fail_msg("bad money %s", s);
  return v;
}

static int32_t day(const char *s) {
  int32_t v;
  if (date_parse(s, &v)) fail_msg("bad date %s", s);
  return v;
}

static int64_t ts(const char *s) {
  int64_t v;
  if (ts_parse(s, &v)) fail_msg("bad time %s", s);
  return v;
}

static void exec(db *d, const char *sql, const db_val *v, int n) {
  OK(db_query(d, sql, v, n, NULL, &err));
}

static void business(db *d, const char *id, const char *email) {
  db_val u[] = {db_uuid(id), db_text(email), db_text("$argon2id$x")};
  exec(d,
       "INSERT INTO auth_users (id, email, encrypted_password) VALUES ($1, "
       "$2, $3)",
       u, 3);
  db_val p[] = {db_uuid(id), db_text("Shop"), db_text("27")};
  exec(d,
       "INSERT INTO profiles (id, business_name, state_code) VALUES ($1, $2, "
       "$3)",
       p, 3);
}

static void customer(db *d, const char *prof, const char *id, const char *name,
                     const char *phone, const char *debt) {
  db_val v[] = {db_uuid(prof), db_uuid(id), db_text(name),
                phone ? db_text(phone) : db_null(), db_money(money(debt))};
  exec(d,
       "INSERT INTO customers (profile_id, id, full_name, phone_number, "
       "total_debt) VALUES ($1, $2, $3, $4, $5)",
       v, 5);
}

/* An invoice with its totals as given; number NULL for a draft. */
static void invoice(db *d, const char *prof, const char *id, const char *cust,
                    const char *number, const char *date, const char *status,
                    const char *sub, const char *cgst, const char *sgst,
                    const char *igst, const char *total,
                    const char *cancelled_at, const char *created_at) {
  db_val v[] = {db_uuid(prof),
                db_uuid(id),
                db_uuid(cust),
                number ? db_text(number) : db_null(),
                db_date(day(date)),
                db_text(status),
                db_money(money(sub)),
                db_money(money(cgst)),
                db_money(money(sgst)),
                db_money(money(igst)),
                db_money(money(total)),
                cancelled_at ? db_ts(ts(cancelled_at)) : db_null(),
                db_ts(ts(created_at))};
  exec(d,
       "INSERT INTO invoices (profile_id, id, customer_id, invoice_number, "
       "invoice_date, status, subtotal, cgst_amount, sgst_amount, "
       "igst_amount, total_amount, balance_due, cancelled_at, created_at) "
       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13)",
       v, 13);
}

static void payment(db *d, const char *prof, const char *id, const char *cust,
                    const char *amount, const char *mode, const char *ref,
                    const char *received_at, const char *created_at) {
  db_val v[] = {db_uuid(prof),          db_uuid(id),
                db_uuid(cust),          db_money(money(amount)),
                db_text(mode),          ref ? db_text(ref) : db_null(),
                db_ts(ts(received_at)), db_ts(ts(created_at))};
  exec(d,
       "INSERT INTO payments (profile_id, id, customer_id, amount_received, "
       "payment_mode, reference, received_at, created_at) VALUES ($1, $2, "
       "$3, $4, $5, $6, $7, $8)",
       v, 8);
}

/* The books of the tests:
 *
 *   C1  I1 INV/25-26/0001 2026-03-10 1180.00 (1000 + 90 + 90) partially paid
 *       P2 2026-03-15 100.00 cash, no reference
 *       I2 INV/25-26/0002 2026-03-20  500.00, cancelled 2026-04-02 10:30 IST
 *       D1 draft 2026-03-25 999.00; D2 draft cancelled: never in the books
 *       I3 INV/26-27/0001 2026-04-01  236.00 (200 + IGST 36) pending
 *       P1 2026-03-31T18:45Z = 2026-04-01 00:15 IST, 200.00 upi UTR123
 *       debt 1180 - 100 + 500 + 236 - 200 - 500 = 1116.00
 *   C2  I4 INV/26-27/0002 2026-04-01 105.00 (100 + 2.50 + 2.50) paid by P3
 *   B   IB 2026-04-01 9999.00 and a payment: must never show in A's reports */
static int setup(void **state) {
  fx *f = test_malloc(sizeof *f);
  f->d = test_db_open_migrated(NULL);
  f->a = arena_new();
  db *d = f->d;
  business(d, PA, "a@example.com");
  business(d, PB, "b@example.com");
  customer(d, PA, C1, "Ramesh Traders", "+919812345678", "1116.00");
  customer(d, PA, C2, "Suresh", "+919800000002", "0.00");
  customer(d, PA, C3, "Zeenat", "+919800000003", "50.00");
  customer(d, PA, C4, "Kavita", NULL, "-20.00");
  customer(d, PA, C5, "Aarti", NULL, "50.00");
  customer(d, PB, CB, "Other Shop's Customer", "+919812345678", "99999.00");

  invoice(d, PA, I1, C1, "INV/25-26/0001", "2026-03-10", "partially_paid",
          "1000.00", "90.00", "90.00", "0.00", "1180.00", NULL,
          "2026-03-10T05:00:00Z");
  invoice(d, PA, I2, C1, "INV/25-26/0002", "2026-03-20", "cancelled", "500.00",
          "0.00", "0.00", "0.00", "500.00", "2026-04-02T05:00:00Z",
          "2026-03-20T05:00:00Z");
  invoice(d, PA, D1, C1, NULL, "2026-03-25", "draft", "999.00", "0.00", "0.00",
          "0.00", "999.00", NULL, "2026-03-25T05:00:00Z");
  invoice(d, PA, D2, C1, NULL, "2026-03-26", "cancelled", "300.00", "0.00",
          "0.00", "0.00", "300.00", "2026-03-27T05:00:00Z",
          "2026-03-26T05:00:00Z");
  invoice(d, PA, I3, C1, "INV/26-27/0001", "2026-04-01", "pending", "200.00",
          "0.00", "0.00", "36.00", "236.00", NULL, "2026-04-01T06:00:00Z");
  invoice(d, PA, I4, C2, "INV/26-27/0002", "2026-04-01", "paid", "100.00",
          "2.50", "2.50", "0.00", "105.00", NULL, "2026-04-01T07:00:00Z");
  invoice(d, PB, IB, CB, "INV/26-27/0001", "2026-04-01", "paid", "8473.73",
          "762.64", "762.64", "0.00", "9999.00", NULL, "2026-04-01T07:00:00Z");

  payment(d, PA, P1, C1, "200.00", "upi", "UTR123", "2026-03-31T18:45:00Z",
          "2026-03-31T18:45:01Z");
  payment(d, PA, P2, C1, "100.00", "cash", NULL, "2026-03-15T10:00:00Z",
          "2026-03-15T10:00:01Z");
  payment(d, PA, P3, C2, "105.00", "card", "AUTH9", "2026-04-01T10:00:00Z",
          "2026-04-01T10:00:01Z");
  payment(d, PB, PBP, CB, "7777.00", "cash", NULL, "2026-04-01T10:00:00Z",
          "2026-04-01T10:00:01Z");
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  test_db_close(f->d);
  arena_free(f->a);
  test_free(f);
  return 0;
}

/* Runs an operation for business prof; returns its parsed answer, or NULL
 * with e filled when it failed. */
static const json *run(fx *f, const char *prof, biz_op_fn fn, const char *args,
                       biz_err *e) {
  json *in = NULL, *res = NULL;
  json_error je;
  if (json_parse(f->a, args, strlen(args), &in, &je))
    fail_msg("bad test arguments %s: %s", args, je.message);
  biz_ctx c = {.d = f->d,
               .a = f->a,
               .profile_id = prof,
               .now_us = ts("2026-04-05T12:00:00Z")};
  buf out;
  buf_init(&out, 0);
  memset(e, 0, sizeof *e);
  int rc = fn(&c, in, &out, e);
  if (rc) {
    assert_int_equal(rc, -1);
    assert_true(e->message[0] != '\0');
    buf_free(&out);
    return NULL;
  }
  if (json_parse(f->a, buf_cstr(&out), out.len, &res, &je))
    fail_msg("answer is not JSON (%s): %s", je.message, buf_cstr(&out));
  buf_free(&out);
  assert_int_equal(res->type, JSON_OBJECT);
  return res;
}

static const json *ok(fx *f, const char *prof, biz_op_fn fn, const char *args) {
  biz_err e;
  const json *r = run(f, prof, fn, args, &e);
  if (!r) fail_msg("%s failed: %s", args, e.message);
  return r;
}

static void fails(fx *f, const char *prof, biz_op_fn fn, const char *args,
                  api_error code) {
  biz_err e;
  const json *r = run(f, prof, fn, args, &e);
  if (r) fail_msg("%s: expected an error", args);
  if (e.code != code)
    fail_msg("%s: want error %d, got %d (%s)", args, (int)code, (int)e.code,
             e.message);
}

static const json *get(const json *o, const char *key) {
  const json *v = json_get(o, key);
  if (!v) fail_msg("no \"%s\" in the answer", key);
  return v;
}

static const json *at(const json *arr, size_t i) {
  assert_int_equal(arr->type, JSON_ARRAY);
  assert_true(i < arr->n);
  return arr->items[i];
}

/* A member as text: a number's literal, a string's value, or "null". The
 * type is checked too: money must be a JSON number, dates strings. */
static void is_num(const json *o, const char *key, const char *want) {
  const json *v = get(o, key);
  if (v->type != JSON_NUMBER)
    fail_msg("\"%s\" is a %s, want the number %s", key, json_type_name(v->type),
             want);
  if (v->len != strlen(want) || memcmp(v->str, want, v->len))
    fail_msg("\"%s\" is %.*s, want %s", key, (int)v->len, v->str, want);
}

static void is_str(const json *o, const char *key, const char *want) {
  const json *v = get(o, key);
  if (!want) {
    if (v->type != JSON_NULL)
      fail_msg("\"%s\" is a %s, want null", key, json_type_name(v->type));
    return;
  }
  if (v->type != JSON_STRING)
    fail_msg("\"%s\" is a %s, want \"%s\"", key, json_type_name(v->type), want);
  if (v->len != strlen(want) || memcmp(v->str, want, v->len))
    fail_msg("\"%s\" is \"%.*s\", want \"%s\"", key, (int)v->len, v->str, want);
}

typedef struct want_entry {
  const char *date, *type, *reference, *id, *debit, *credit, *balance;
} want_entry;

static void check_entries(const json *st, const want_entry *w, size_t n) {
  const json *en = get(st, "entries");
  assert_int_equal(en->type, JSON_ARRAY);
  if (en->n != n) fail_msg("%zu entries, want %zu", en->n, n);
  for (size_t i = 0; i < n; i++) {
    const json *x = at(en, i);
    is_str(x, "date", w[i].date);
    is_str(x, "type", w[i].type);
    is_str(x, "reference", w[i].reference);
    is_str(x, "id", w[i].id);
    is_num(x, "debit", w[i].debit);
    is_num(x, "credit", w[i].credit);
    is_num(x, "balance", w[i].balance);
  }
}

/* ---- customer_statement ------------------------------------------------ */

static void test_statement_full(void **state) {
  fx *f = *state;
  const json *st =
      ok(f, PA, op_customer_statement, "{\"customer_id\":\"" C1 "\"}");
  const json *cu = get(st, "customer");
  is_str(cu, "id", C1);
  is_str(cu, "full_name", "Ramesh Traders");
  is_num(cu, "total_debt", "1116.00");
  is_num(cu, "credit", "0.00");
  is_str(st, "from", NULL);
  is_str(st, "to", NULL);
  is_num(st, "opening_balance", "0.00");
  /* Drafts (D1, and D2 cancelled as a draft) never appear; I2 appears as
   * an invoice on its date and as a cancellation on the day in India it
   * was cancelled; P1 (18:45 UTC on 31 March) is a payment of 1 April and
   * follows the invoice of that day. */
  const want_entry w[] = {
      {"2026-03-10", "invoice", "INV/25-26/0001", I1, "1180.00", "0.00",
       "1180.00"},
      {"2026-03-15", "payment", "cash", P2, "0.00", "100.00", "1080.00"},
      {"2026-03-20", "invoice", "INV/25-26/0002", I2, "500.00", "0.00",
       "1580.00"},
      {"2026-04-01", "invoice", "INV/26-27/0001", I3, "236.00", "0.00",
       "1816.00"},
      {"2026-04-01", "payment", "UTR123", P1, "0.00", "200.00", "1616.00"},
      {"2026-04-02", "cancellation", "INV/25-26/0002", I2, "0.00", "500.00",
       "1116.00"},
  };
  check_entries(st, w, sizeof w / sizeof w[0]);
  /* The books' invariant: with no period the statement ends at the debt. */
  is_num(st, "closing_balance", "1116.00");

  st = ok(f, PA, op_customer_statement, "{\"customer_id\":\"" C2 "\"}");
  is_num(get(st, "customer"), "total_debt", "0.00");
  const want_entry w2[] = {
      {"2026-04-01", "invoice", "INV/26-27/0002", I4, "105.00", "0.00",
       "105.00"},
      {"2026-04-01", "payment", "AUTH9", P3, "0.00", "105.00", "0.00"},
  };
  check_entries(st, w2, 2);
  is_num(st, "closing_balance", "0.00");

  /* A customer with nothing in the books. */
  st = ok(f, PA, op_customer_statement, "{\"customer_id\":\"" C4 "\"}");
  check_entries(st, NULL, 0);
  is_num(st, "opening_balance", "0.00");
  is_num(st, "closing_balance", "0.00");
  is_num(get(st, "customer"), "total_debt", "-20.00");
  is_num(get(st, "customer"), "credit", "20.00");
}

static void test_statement_period(void **state) {
  fx *f = *state;
  /* 1 April in India: opening = 1180 - 100 + 500 (P1 is not before it). */
  const json *st = ok(f, PA, op_customer_statement,
                      "{\"customer_id\":\"" C1
                      "\",\"from\":\"2026-04-01\",\"to\":\"2026-04-01\"}");
  is_str(st, "from", "2026-04-01");
  is_str(st, "to", "2026-04-01");
  is_num(st, "opening_balance", "1580.00");
  const want_entry w[] = {
      {"2026-04-01", "invoice", "INV/26-27/0001", I3, "236.00", "0.00",
       "1816.00"},
      {"2026-04-01", "payment", "UTR123", P1, "0.00", "200.00", "1616.00"},
  };
  check_entries(st, w, 2);
  is_num(st, "closing_balance", "1616.00");

  /* Up to 31 March: the payment made at 18:45 UTC that day is not in it. */
  st = ok(f, PA, op_customer_statement,
          "{\"customer_id\":\"" C1 "\",\"to\":\"2026-03-31\"}");
  is_str(st, "from", NULL);
  is_num(st, "opening_balance", "0.00");
  const want_entry w2[] = {
      {"2026-03-10", "invoice", "INV/25-26/0001", I1, "1180.00", "0.00",
       "1180.00"},
      {"2026-03-15", "payment", "cash", P2, "0.00", "100.00", "1080.00"},
      {"2026-03-20", "invoice", "INV/25-26/0002", I2, "500.00", "0.00",
       "1580.00"},
  };
  check_entries(st, w2, 3);
  is_num(st, "closing_balance", "1580.00");

  /* From 2 April on: everything before is in the opening balance, the
   * cancellation is the only entry, the end is the debt. */
  st = ok(f, PA, op_customer_statement,
          "{\"customer_id\":\"" C1 "\",\"from\":\"2026-04-02\"}");
  is_num(st, "opening_balance", "1616.00");
  const want_entry w3[] = {
      {"2026-04-02", "cancellation", "INV/25-26/0002", I2, "0.00", "500.00",
       "1116.00"},
  };
  check_entries(st, w3, 1);
  is_num(st, "closing_balance", "1116.00");

  /* A period with no entries still carries the balance. */
  st = ok(f, PA, op_customer_statement,
          "{\"customer_id\":\"" C1
          "\",\"from\":\"2026-05-01\",\"to\":\"2026-05-31\"}");
  is_num(st, "opening_balance", "1116.00");
  check_entries(st, NULL, 0);
  is_num(st, "closing_balance", "1116.00");
}

static void test_statement_errors(void **state) {
  fx *f = *state;
  fails(f, PA, op_customer_statement,
        "{\"customer_id\":\"01900000-0000-7000-8000-0000000000ff\"}",
        E_OP_NOT_FOUND);
  /* Another business's customer looks exactly like a missing one. */
  fails(f, PB, op_customer_statement, "{\"customer_id\":\"" C1 "\"}",
        E_OP_NOT_FOUND);
  fails(f, PA, op_customer_statement, "{\"customer_id\":\"" CB "\"}",
        E_OP_NOT_FOUND);
  fails(f, PA, op_customer_statement, "{}", E_OP_INVALID);
  fails(f, PA, op_customer_statement, "{\"customer_id\":\"nope\"}",
        E_OP_INVALID);
  fails(f, PA, op_customer_statement,
        "{\"customer_id\":\"" C1 "\",\"from\":\"2026-02-30\"}", E_OP_INVALID);
  fails(f, PA, op_customer_statement,
        "{\"customer_id\":\"" C1 "\",\"to\":20260401}", E_OP_INVALID);
  fails(f, PA, op_customer_statement,
        "{\"customer_id\":\"" C1
        "\",\"from\":\"2026-04-02\",\"to\":\"2026-04-01\"}",
        E_OP_INVALID);
  fails(f, PA, op_customer_statement,
        "{\"customer_id\":\"" C1 "\",\"form\":\"2026-04-01\"}", E_OP_INVALID);
  fails(f, PA, op_customer_statement, "[]", E_OP_INVALID);

  /* B sees its own customer only, with its own entries. */
  const json *st =
      ok(f, PB, op_customer_statement, "{\"customer_id\":\"" CB "\"}");
  const want_entry w[] = {
      {"2026-04-01", "invoice", "INV/26-27/0001", IB, "9999.00", "0.00",
       "9999.00"},
      {"2026-04-01", "payment", "cash", PBP, "0.00", "7777.00", "2222.00"},
  };
  check_entries(st, w, 2);
}

/* ---- sales_summary ----------------------------------------------------- */

typedef struct want_day {
  const char *date, *count, *taxable, *cgst, *sgst, *igst, *total, *paid;
} want_day;

static void check_sum(const json *o, const want_day *w) {
  is_num(o, "invoice_count", w->count);
  is_num(o, "taxable_value", w->taxable);
  is_num(o, "cgst", w->cgst);
  is_num(o, "sgst", w->sgst);
  is_num(o, "igst", w->igst);
  is_num(o, "total", w->total);
  is_num(o, "payments_received", w->paid);
}

static void check_summary(const json *s, const want_day *w, size_t n,
                          const want_day *tot) {
  const json *days = get(s, "days");
  assert_int_equal(days->type, JSON_ARRAY);
  if (days->n != n) fail_msg("%zu days, want %zu", days->n, n);
  for (size_t i = 0; i < n; i++) {
    is_str(at(days, i), "date", w[i].date);
    check_sum(at(days, i), &w[i]);
  }
  check_sum(get(s, "totals"), tot);
}

static void test_summary(void **state) {
  fx *f = *state;
  /* 1 April: I3 (IGST) and I4 (CGST+SGST); P1, paid 18:45 UTC on 31 March,
   * and P3. Not B's invoice or payment, not I2's cancellation. */
  const json *s = ok(f, PA, op_sales_summary,
                     "{\"from\":\"2026-03-31\",\"to\":\"2026-04-02\"}");
  is_str(s, "from", "2026-03-31");
  is_str(s, "to", "2026-04-02");
  const want_day d1[] = {{"2026-04-01", "2", "300.00", "2.50", "2.50", "36.00",
                          "341.00", "305.00"}};
  check_summary(s, d1, 1, &d1[0]);

  /* March and April: the cancelled invoice and the drafts are not sales; a
   * day with only a payment is listed. */
  s = ok(f, PA, op_sales_summary,
         "{\"from\":\"2026-03-01\",\"to\":\"2026-04-30\"}");
  const want_day d2[] = {
      {"2026-03-10", "1", "1000.00", "90.00", "90.00", "0.00", "1180.00",
       "0.00"},
      {"2026-03-15", "0", "0.00", "0.00", "0.00", "0.00", "0.00", "100.00"},
      {"2026-04-01", "2", "300.00", "2.50", "2.50", "36.00", "341.00",
       "305.00"},
  };
  const want_day t2 = {NULL,    "3",     "1300.00", "92.50",
                       "92.50", "36.00", "1521.00", "405.00"};
  check_summary(s, d2, 3, &t2);

  /* 31 March alone: P1 belongs to 1 April in India. */
  s = ok(f, PA, op_sales_summary,
         "{\"from\":\"2026-03-31\",\"to\":\"2026-03-31\"}");
  const want_day zero = {NULL,   "0",    "0.00", "0.00",
                         "0.00", "0.00", "0.00", "0.00"};
  check_summary(s, NULL, 0, &zero);

  /* B's books are B's. */
  s = ok(f, PB, op_sales_summary,
         "{\"from\":\"2026-04-01\",\"to\":\"2026-04-01\"}");
  const want_day db1[] = {{"2026-04-01", "1", "8473.73", "762.64", "762.64",
                           "0.00", "9999.00", "7777.00"}};
  check_summary(s, db1, 1, &db1[0]);

  /* A leap financial year is 366 days: allowed; one day more is not. */
  s = ok(f, PA, op_sales_summary,
         "{\"from\":\"2027-04-01\",\"to\":\"2028-03-31\"}");
  check_summary(s, NULL, 0, &zero);
  fails(f, PA, op_sales_summary,
        "{\"from\":\"2027-04-01\",\"to\":\"2028-04-01\"}", E_OP_INVALID);
  fails(f, PA, op_sales_summary,
        "{\"from\":\"2026-04-02\",\"to\":\"2026-04-01\"}", E_OP_INVALID);
  fails(f, PA, op_sales_summary, "{\"from\":\"2026-04-01\"}", E_OP_INVALID);
  fails(f, PA, op_sales_summary, "{\"to\":\"2026-04-01\"}", E_OP_INVALID);
  fails(f, PA, op_sales_summary,
        "{\"from\":\"2026-13-01\",\"to\":\"2026-04-01\"}", E_OP_INVALID);
  fails(f, PA, op_sales_summary,
        "{\"from\":\"2026-04-01\",\"to\":\"2026-04-01T00:00:00Z\"}",
        E_OP_INVALID);
  fails(f, PA, op_sales_summary,
        "{\"from\":\"2026-04-01\",\"to\":\"2026-04-01\",\"day\":1}",
        E_OP_INVALID);
}

/* ---- debtors ----------------------------------------------------------- */

static void check_debtor(const json *x, const char *id, const char *name,
                         const char *phone, const char *debt,
                         const char *oldest, const char *open) {
  is_str(x, "customer_id", id);
  is_str(x, "full_name", name);
  is_str(x, "phone_number", phone);
  is_num(x, "total_debt", debt);
  is_str(x, "oldest_unpaid_invoice_date", oldest);
  is_num(x, "open_invoices", open);
}

static void test_debtors(void **state) {
  fx *f = *state;
  /* Largest first, ties by name; settled and in-credit customers are not
   * debtors; B's customer (who owes more) is not A's. */
  const json *r = ok(f, PA, op_debtors, "{}");
  const json *ds = get(r, "debtors");
  assert_int_equal(ds->type, JSON_ARRAY);
  assert_int_equal(ds->n, 3);
  check_debtor(at(ds, 0), C1, "Ramesh Traders", "+919812345678", "1116.00",
               "2026-03-10", "2");
  check_debtor(at(ds, 1), C5, "Aarti", NULL, "50.00", NULL, "0");
  check_debtor(at(ds, 2), C3, "Zeenat", "+919800000003", "50.00", NULL, "0");

  r = ok(f, PA, op_debtors, "{\"limit\":2}");
  ds = get(r, "debtors");
  assert_int_equal(ds->n, 2);
  is_str(at(ds, 1), "customer_id", C5);

  r = ok(f, PB, op_debtors, "{\"limit\":1000}");
  ds = get(r, "debtors");
  assert_int_equal(ds->n, 1);
  /* IB is paid, so B's customer has no open invoice. */
  check_debtor(at(ds, 0), CB, "Other Shop's Customer", "+919812345678",
               "99999.00", NULL, "0");

  fails(f, PA, op_debtors, "{\"limit\":0}", E_OP_INVALID);
  fails(f, PA, op_debtors, "{\"limit\":1001}", E_OP_INVALID);
  fails(f, PA, op_debtors, "{\"limit\":2.5}", E_OP_INVALID);
  fails(f, PA, op_debtors, "{\"limit\":\"many\"}", E_OP_INVALID);
  fails(f, PA, op_debtors, "{\"min_debt\":1}", E_OP_INVALID);
}

int main(int argc, char **argv) {
  const char *backend = test_backend_from_args(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_statement_full, setup, teardown),
      cmocka_unit_test_setup_teardown(test_statement_period, setup, teardown),
      cmocka_unit_test_setup_teardown(test_statement_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_summary, setup, teardown),
      cmocka_unit_test_setup_teardown(test_debtors, setup, teardown),
  };
  char name[64];
  snprintf(name, sizeof name, "biz_reports_%s", backend);
  return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}

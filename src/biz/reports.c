/* reports.c - the read operations a shop owner looks at: a customer's
 * statement (dated entries with a running balance that ends at the debt the
 * books keep), the sales summary per day (count, taxable value, CGST, SGST,
 * IGST, total, payments received) and the list of debtors, largest first.
 *
 * Every query names the tenant (profile_id = c->profile_id). Money is summed
 * in SQL where the grouping is by a column (exact on both backends: numeric
 * on PostgreSQL, integer paise on SQLite) and in int64 paise in the program
 * where the grouping is by the date in India of a timestamp, which SQL
 * would spell differently on each backend. Dates of timestamps are India's
 * (UTC+05:30, gst_today_ist), as a shop's day is. */
#include <stdlib.h>
#include <string.h>

#include "base/dec.h"
#include "base/timeutil.h"
#include "biz/args.h"
#include "biz/gst.h"

#define SUMMARY_MAX_DAYS 366        /* a leap financial year */
#define DEBTORS_DEFAULT 100
#define DEBTORS_MAX 1000

/* The instant India's day `days` begins, in UTC microseconds. */
static int64_t ist_midnight(int32_t days) {
  return (int64_t)days * US_PER_DAY - IST_OFFSET_US;
}

/* ---- JSON output ------------------------------------------------------- */

/* Reports are written with base/json's json_obj, which remembers a write
 * that failed (a capped buffer), so a truncated document is never
 * returned as an answer. */
static void money(json_obj *o, const char *key, int64_t paise) {
  json_obj_dec(o, key, paise, MONEY_SCALE);
}

static void date_or_null(json_obj *o, const char *key, int has, int32_t days) {
  if (has)
    json_obj_date(o, key, days);
  else
    json_obj_null(o, key);
}

static int report_done(json_obj *root, biz_err *e) {
  if (json_obj_close(root)) return biz_fail(e, E_TOO_LARGE, "the report is too large");
  return 0;
}

/* Defensive: a value the storage layer could not read means the SQL or the
 * schema is wrong, never the request. */
static int bad_value(biz_err *e, const char *what) {
  return biz_fail(e, E_INTERNAL, "unreadable %s in the books", what);
}

/* ---- customer_statement ------------------------------------------------ */

/* A refund is a debit, like an invoice: the customer owes it again. */
enum { ENTRY_INVOICE, ENTRY_PAYMENT, ENTRY_CANCELLATION, ENTRY_REFUND };
static const char *const entry_names[] = {"invoice", "payment", "cancellation",
                                          "refund"};

typedef struct st_entry {
  int32_t date;
  int kind;
  int64_t at; /* created time (cancellations: cancelled_at), for ties */
  const char *id;
  const char *ref;
  int64_t amount; /* debit for invoices, credit otherwise */
} st_entry;

/* Date, then invoice < payment < cancellation on one day, then the time
 * the row was made, then the id (UUIDv7, time-ordered), so the order is
 * total and the running balance the same on every call. */
static int entry_cmp(const void *pa, const void *pb) {
  const st_entry *a = pa, *b = pb;
  if (a->date != b->date) return a->date < b->date ? -1 : 1;
  if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
  if (a->at != b->at) return a->at < b->at ? -1 : 1;
  return strcmp(a->id, b->id);
}

/* Debits minus credits of everything dated before India's day `from`. */
static int statement_opening(biz_ctx *c, const char *customer_id, int32_t from,
                             int64_t *opening, biz_err *e) {
  db_val v[] = {db_uuid(c->profile_id), db_uuid(customer_id), db_date(from),
                db_ts(ist_midnight(from))};
  db_res *r = NULL;
  db_err err;
  /* invoice_number IS NOT NULL means "was issued": a draft, cancelled or
   * not, never touched the debt. */
  if (db_query(c->d,
               "SELECT (SELECT COALESCE(SUM(total_amount), 0) FROM invoices "
               "WHERE profile_id = $1 AND customer_id = $2 AND invoice_number "
               "IS NOT NULL AND invoice_date < $3), "
               "(SELECT COALESCE(SUM(total_amount), 0) FROM invoices WHERE "
               "profile_id = $1 AND customer_id = $2 AND invoice_number IS NOT "
               "NULL AND cancelled_at < $4), "
               "(SELECT COALESCE(SUM(amount_received), 0) FROM payments WHERE "
               "profile_id = $1 AND customer_id = $2 AND received_at < $4), "
               "(SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE "
               "profile_id = $1 AND customer_id = $2 AND refunded_at < $4)",
               v, 4, &r, &err))
    return biz_db_fail(e, &err);
  int rc = 0;
  int64_t inv = DB_BAD_VALUE, canc = DB_BAD_VALUE, paid = DB_BAD_VALUE,
          back = DB_BAD_VALUE;
  if (db_res_rows(r) == 1) {
    inv = db_res_dec(r, 0, 0, 2);
    canc = db_res_dec(r, 0, 1, 2);
    paid = db_res_dec(r, 0, 2, 2);
    back = db_res_dec(r, 0, 3, 2);
  }
  if (inv == DB_BAD_VALUE || canc == DB_BAD_VALUE || paid == DB_BAD_VALUE ||
      back == DB_BAD_VALUE)
    rc = bad_value(e, "opening balance");
  else
    *opening = inv - canc - paid + back;
  db_res_free(r);
  return rc;
}

/* Reads the statement's entries dated lo..hi (India's days) into *out. */
static int statement_entries(biz_ctx *c, const char *customer_id, int32_t lo,
                             int32_t hi, st_entry **out, int *nout,
                             biz_err *e) {
  db_val vd[] = {db_uuid(c->profile_id), db_uuid(customer_id), db_date(lo),
                 db_date(hi)};
  db_val vt[] = {db_uuid(c->profile_id), db_uuid(customer_id),
                 db_ts(ist_midnight(lo)), db_ts(ist_midnight(hi + 1))};
  db_res *inv = NULL, *canc = NULL, *pay = NULL, *rfd = NULL;
  db_err err;
  int rc = 0;
  if (db_query(c->d,
               "SELECT id, invoice_number, invoice_date, total_amount, "
               "created_at FROM invoices WHERE profile_id = $1 AND "
               "customer_id = $2 AND invoice_number IS NOT NULL AND "
               "invoice_date >= $3 AND invoice_date <= $4",
               vd, 4, &inv, &err) ||
      db_query(c->d,
               "SELECT id, invoice_number, cancelled_at, total_amount FROM "
               "invoices WHERE profile_id = $1 AND customer_id = $2 AND "
               "invoice_number IS NOT NULL AND cancelled_at >= $3 AND "
               "cancelled_at < $4",
               vt, 4, &canc, &err) ||
      db_query(c->d,
               "SELECT id, reference, payment_mode, received_at, "
               "amount_received, created_at FROM payments WHERE profile_id = "
               "$1 AND customer_id = $2 AND received_at >= $3 AND "
               "received_at < $4",
               vt, 4, &pay, &err) ||
      db_query(c->d,
               "SELECT id, COALESCE(provider_refund_id, reason), refunded_at, "
               "amount, created_at FROM refunds WHERE profile_id = $1 AND "
               "customer_id = $2 AND refunded_at >= $3 AND refunded_at < $4",
               vt, 4, &rfd, &err)) {
    rc = biz_db_fail(e, &err);
    goto out;
  }
  int ni = db_res_rows(inv), nc = db_res_rows(canc), np = db_res_rows(pay),
      nr = db_res_rows(rfd);
  st_entry *en =
      arena_alloc(c->a, sizeof *en * (size_t)(ni + nc + np + nr + 1));
  int n = 0;
  for (int i = 0; i < ni; i++, n++) {
    en[n] = (st_entry){.date = db_res_date(inv, i, 2),
                       .kind = ENTRY_INVOICE,
                       .at = db_res_ts(inv, i, 4),
                       .id = arena_strdup(c->a, db_res_text(inv, i, 0)),
                       .ref = arena_strdup(c->a, db_res_text(inv, i, 1)),
                       .amount = db_res_dec(inv, i, 3, 2)};
    if (en[n].date == DB_BAD_DATE) rc = bad_value(e, "invoice date");
  }
  for (int i = 0; i < nc; i++, n++) {
    int64_t at = db_res_ts(canc, i, 2);
    en[n] = (st_entry){.date = gst_today_ist(at),
                       .kind = ENTRY_CANCELLATION,
                       .at = at,
                       .id = arena_strdup(c->a, db_res_text(canc, i, 0)),
                       .ref = arena_strdup(c->a, db_res_text(canc, i, 1)),
                       .amount = db_res_dec(canc, i, 3, 2)};
    if (at == DB_BAD_VALUE) rc = bad_value(e, "cancellation time");
  }
  for (int i = 0; i < np; i++, n++) {
    int64_t at = db_res_ts(pay, i, 3);
    /* A payment without a reference is shown by its mode ("cash"). */
    const char *ref = db_res_isnull(pay, i, 1) ? db_res_text(pay, i, 2)
                                               : db_res_text(pay, i, 1);
    en[n] = (st_entry){.date = gst_today_ist(at),
                       .kind = ENTRY_PAYMENT,
                       .at = db_res_ts(pay, i, 5),
                       .id = arena_strdup(c->a, db_res_text(pay, i, 0)),
                       .ref = arena_strdup(c->a, ref ? ref : ""),
                       .amount = db_res_dec(pay, i, 4, 2)};
    if (at == DB_BAD_VALUE) rc = bad_value(e, "payment time");
  }
  for (int i = 0; i < nr; i++, n++) {
    int64_t at = db_res_ts(rfd, i, 2);
    /* Shown by the provider's refund id, else the reason, else "refund". */
    const char *rf = db_res_isnull(rfd, i, 1) ? "refund" : db_res_text(rfd, i, 1);
    en[n] = (st_entry){.date = gst_today_ist(at),
                       .kind = ENTRY_REFUND,
                       .at = db_res_ts(rfd, i, 4),
                       .id = arena_strdup(c->a, db_res_text(rfd, i, 0)),
                       .ref = arena_strdup(c->a, rf),
                       .amount = db_res_dec(rfd, i, 3, 2)};
    if (at == DB_BAD_VALUE) rc = bad_value(e, "refund time");
  }
  for (int i = 0; i < n && !rc; i++)
    if (en[i].amount == DB_BAD_VALUE) rc = bad_value(e, "amount");
  if (rc) goto out;
  qsort(en, (size_t)n, sizeof *en, entry_cmp);
  *out = en;
  *nout = n;
out:
  db_res_free(inv);
  db_res_free(canc);
  db_res_free(pay);
  db_res_free(rfd);
  return rc;
}

int op_customer_statement(biz_ctx *c, const json *args, buf *out, biz_err *e) {
  static const char *const known[] = {"customer_id", "from", "to", NULL};
  char customer_id[37];
  int32_t from = 0, to = 0;
  int has_from, has_to;
  if (arg_only(e, args, known) ||
      arg_uuid(e, args, "customer_id", 1, customer_id, NULL) ||
      arg_date(e, args, "from", 0, &from, &has_from) ||
      arg_date(e, args, "to", 0, &to, &has_to))
    return -1;
  if (has_from && has_to && from > to)
    return biz_fail(e, E_OP_INVALID, "from is after to");

  db_val v[] = {db_uuid(c->profile_id), db_uuid(customer_id)};
  db_res *r = NULL;
  db_err err;
  if (db_query(c->d,
               "SELECT full_name, total_debt FROM customers WHERE profile_id "
               "= $1 AND id = $2",
               v, 2, &r, &err))
    return biz_db_fail(e, &err);
  if (db_res_rows(r) != 1) {
    db_res_free(r);
    return biz_fail(e, E_OP_NOT_FOUND, "customer not found");
  }
  const char *name = arena_strdup(c->a, db_res_text(r, 0, 0));
  int64_t debt = db_res_dec(r, 0, 1, 2);
  db_res_free(r);
  if (debt == DB_BAD_VALUE) return bad_value(e, "total_debt");

  int64_t balance = 0;
  if (has_from && statement_opening(c, customer_id, from, &balance, e))
    return -1;
  /* Absent bounds become the ends of the calendar the dates can hold, so
   * the SQL text (and its prepared statement) is one. */
  int32_t lo = has_from ? from : (int32_t)days_from_civil(1, 1, 1);
  int32_t hi = has_to ? to : (int32_t)days_from_civil(9999, 12, 31);
  st_entry *en = NULL;
  int n = 0;
  if (statement_entries(c, customer_id, lo, hi, &en, &n, e)) return -1;

  json_obj root, cust, list, ent;
  json_obj_open(&root, out);
  json_obj_nest(&root, "customer", &cust);
  json_obj_str(&cust, "id", customer_id);
  json_obj_str(&cust, "full_name", name);
  money(&cust, "total_debt", debt);
  /* Money on account, applied to the next invoices by itself. */
  money(&cust, "credit", debt < 0 ? -debt : 0);
  json_obj_close(&cust);
  date_or_null(&root, "from", has_from, from);
  date_or_null(&root, "to", has_to, to);
  money(&root, "opening_balance", balance);
  json_obj_arr(&root, "entries", &list);
  for (int i = 0; i < n; i++) {
    int debit = en[i].kind == ENTRY_INVOICE || en[i].kind == ENTRY_REFUND;
    balance += debit ? en[i].amount : -en[i].amount;
    json_obj_nest(&list, NULL, &ent);
    json_obj_date(&ent, "date", en[i].date);
    json_obj_str(&ent, "type", entry_names[en[i].kind]);
    json_obj_str(&ent, "reference", en[i].ref);
    json_obj_str(&ent, "id", en[i].id);
    money(&ent, "debit", debit ? en[i].amount : 0);
    money(&ent, "credit", debit ? 0 : en[i].amount);
    money(&ent, "balance", balance);
    json_obj_close(&ent);
  }
  json_obj_close(&list);
  money(&root, "closing_balance", balance);
  return report_done(&root, e);
}

/* ---- sales_summary ----------------------------------------------------- */

typedef struct sum_day {
  int any;
  int64_t count, taxable, cgst, sgst, igst, total, paid;
} sum_day;

static void sum_fields(json_obj *o, const sum_day *s) {
  json_obj_int(o, "invoice_count", s->count);
  money(o, "taxable_value", s->taxable);
  money(o, "cgst", s->cgst);
  money(o, "sgst", s->sgst);
  money(o, "igst", s->igst);
  money(o, "total", s->total);
  money(o, "payments_received", s->paid);
}

int op_sales_summary(biz_ctx *c, const json *args, buf *out, biz_err *e) {
  static const char *const known[] = {"from", "to", NULL};
  int32_t from, to;
  if (arg_only(e, args, known) || arg_date(e, args, "from", 1, &from, NULL) ||
      arg_date(e, args, "to", 1, &to, NULL))
    return -1;
  if (from > to) return biz_fail(e, E_OP_INVALID, "from is after to");
  if ((int64_t)to - from + 1 > SUMMARY_MAX_DAYS)
    return biz_fail(e, E_OP_INVALID, "the period is longer than %d days",
                    SUMMARY_MAX_DAYS);
  int ndays = to - from + 1;
  sum_day *days = arena_alloc(c->a, sizeof *days * (size_t)ndays);

  db_err err;
  db_res *r = NULL;
  db_val vi[] = {db_uuid(c->profile_id), db_date(from), db_date(to)};
  /* Issued and not cancelled: what the business sold. */
  if (db_query(c->d,
               "SELECT invoice_date, COUNT(*), SUM(subtotal), "
               "SUM(cgst_amount), SUM(sgst_amount), SUM(igst_amount), "
               "SUM(total_amount) FROM invoices WHERE profile_id = $1 AND "
               "status IN ('pending', 'partially_paid', 'paid') AND "
               "invoice_date >= $2 AND invoice_date <= $3 "
               "GROUP BY invoice_date",
               vi, 3, &r, &err))
    return biz_db_fail(e, &err);
  int rc = 0;
  for (int i = 0; i < db_res_rows(r) && !rc; i++) {
    int32_t d = db_res_date(r, i, 0);
    if (d == DB_BAD_DATE || d < from || d > to) {
      rc = bad_value(e, "invoice date");
      break;
    }
    sum_day *s = &days[d - from];
    s->any = 1;
    s->count = db_res_int(r, i, 1);
    int64_t *f[] = {&s->taxable, &s->cgst, &s->sgst, &s->igst, &s->total};
    for (int k = 0; k < 5; k++) {
      *f[k] = db_res_dec(r, i, 2 + k, 2);
      if (*f[k] == DB_BAD_VALUE) rc = bad_value(e, "invoice total");
    }
  }
  db_res_free(r);
  if (rc) return -1;

  /* Payments by India's date of received_at: the span is bounded, so the
   * rows are few enough to group here. */
  db_val vp[] = {db_uuid(c->profile_id), db_ts(ist_midnight(from)),
                 db_ts(ist_midnight(to + 1))};
  if (db_query(c->d,
               "SELECT received_at, amount_received FROM payments WHERE "
               "profile_id = $1 AND received_at >= $2 AND received_at < $3",
               vp, 3, &r, &err))
    return biz_db_fail(e, &err);
  for (int i = 0; i < db_res_rows(r); i++) {
    int64_t at = db_res_ts(r, i, 0), amt = db_res_dec(r, i, 1, 2);
    int32_t d = at == DB_BAD_VALUE ? DB_BAD_DATE : gst_today_ist(at);
    if (d == DB_BAD_DATE || d < from || d > to || amt == DB_BAD_VALUE) {
      rc = bad_value(e, "payment");
      break;
    }
    days[d - from].any = 1;
    days[d - from].paid += amt;
  }
  db_res_free(r);
  if (rc) return -1;

  sum_day tot = {0};
  json_obj root, list, day, sums;
  json_obj_open(&root, out);
  json_obj_date(&root, "from", from);
  json_obj_date(&root, "to", to);
  json_obj_arr(&root, "days", &list);
  for (int i = 0; i < ndays; i++) {
    const sum_day *s = &days[i];
    if (!s->any) continue;
    json_obj_nest(&list, NULL, &day);
    json_obj_date(&day, "date", from + i);
    sum_fields(&day, s);
    json_obj_close(&day);
    tot.count += s->count;
    tot.taxable += s->taxable;
    tot.cgst += s->cgst;
    tot.sgst += s->sgst;
    tot.igst += s->igst;
    tot.total += s->total;
    tot.paid += s->paid;
  }
  json_obj_close(&list);
  json_obj_nest(&root, "totals", &sums);
  sum_fields(&sums, &tot);
  json_obj_close(&sums);
  return report_done(&root, e);
}

/* ---- debtors ----------------------------------------------------------- */

int op_debtors(biz_ctx *c, const json *args, buf *out, biz_err *e) {
  static const char *const known[] = {"limit", NULL};
  int64_t limit = DEBTORS_DEFAULT;
  int has_limit;
  if (arg_only(e, args, known) ||
      arg_dec(e, args, "limit", 0, 0, &limit, &has_limit))
    return -1;
  if (limit < 1 || limit > DEBTORS_MAX)
    return biz_fail(e, E_OP_INVALID, "limit must be an integer from 1 to %d",
                    DEBTORS_MAX);
  db_val v[] = {db_uuid(c->profile_id), db_int(limit)};
  db_res *r = NULL;
  db_err err;
  /* The join names the tenant on both sides, so the invoices counted are
   * this business's even if a customer id were shared. */
  if (db_query(c->d,
               "SELECT c.id, c.full_name, c.phone_number, c.total_debt, "
               "MIN(i.invoice_date), COUNT(i.id) FROM customers c "
               "LEFT JOIN invoices i ON i.profile_id = c.profile_id AND "
               "i.customer_id = c.id AND i.status IN ('pending', "
               "'partially_paid') WHERE c.profile_id = $1 AND "
               "c.total_debt > 0 GROUP BY c.id, c.full_name, c.phone_number, "
               "c.total_debt ORDER BY c.total_debt DESC, c.full_name, c.id "
               "LIMIT $2",
               v, 2, &r, &err))
    return biz_db_fail(e, &err);
  int rc = 0;
  json_obj root, list, row;
  json_obj_open(&root, out);
  json_obj_arr(&root, "debtors", &list);
  for (int i = 0; i < db_res_rows(r); i++) {
    int64_t debt = db_res_dec(r, i, 3, 2);
    int has_oldest = !db_res_isnull(r, i, 4);
    int32_t oldest = has_oldest ? db_res_date(r, i, 4) : 0;
    if (debt == DB_BAD_VALUE || oldest == DB_BAD_DATE) {
      rc = bad_value(e, "debtor row");
      break;
    }
    json_obj_nest(&list, NULL, &row);
    json_obj_str(&row, "customer_id", db_res_text(r, i, 0));
    json_obj_str(&row, "full_name", db_res_text(r, i, 1));
    json_obj_str(&row, "phone_number",
                 db_res_isnull(r, i, 2) ? NULL : db_res_text(r, i, 2));
    money(&row, "total_debt", debt);
    date_or_null(&row, "oldest_unpaid_invoice_date", has_oldest, oldest);
    json_obj_int(&row, "open_invoices", db_res_int(r, i, 5));
    json_obj_close(&row);
  }
  db_res_free(r);
  if (rc) return -1;
  json_obj_close(&list);
  return report_done(&root, e);
}

/* invoice.c - GST invoices: create (as a draft or issued at once), issue,
 * cancel. Issuing gives the next number of the series, takes the goods out
 * of stock and adds the total to the customer's debt; cancelling puts both
 * back (the number is never reused, a paid amount stays as credit). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dec.h"
#include "base/timeutil.h"
#include "base/uuid.h"
#include "biz/args.h"
#include "biz/events.h"
#include "biz/gst.h"
#include "biz/ledger.h"

#define INVOICE_MAX_LINES 500
#define ITEM_ROWS 50 /* invoice lines per INSERT statement */
#define ITEM_COLS 17

static const out_col invoice_cols[] = {
    {"id", DBT_UUID, 0},           {"customer_id", DBT_UUID, 0},
    {"invoice_number", DBT_TEXT, 0}, {"invoice_date", DBT_DATE, 0},
    {"due_date", DBT_DATE, 0},     {"place_of_supply", DBT_TEXT, 0},
    {"status", DBT_TEXT, 0},       {"subtotal", DBT_DEC, 2},
    {"cgst_amount", DBT_DEC, 2},   {"sgst_amount", DBT_DEC, 2},
    {"igst_amount", DBT_DEC, 2},   {"round_off", DBT_DEC, 2},
    {"total_amount", DBT_DEC, 2},  {"amount_paid", DBT_DEC, 2},
    {"balance_due", DBT_DEC, 2},   {"notes", DBT_TEXT, 0},
    {"cancel_reason", DBT_TEXT, 0}, {"issued_at", DBT_TS, 0},
    {"cancelled_at", DBT_TS, 0},   {"created_at", DBT_TS, 0},
    {"updated_at", DBT_TS, 0},
};
#define N_INVOICE_COLS (int)(sizeof invoice_cols / sizeof invoice_cols[0])

static const out_col item_cols[] = {
    {"id", DBT_UUID, 0},          {"invoice_id", DBT_UUID, 0},
    {"product_id", DBT_UUID, 0},  {"line_no", DBT_INT, 0},
    {"description", DBT_TEXT, 0}, {"hsn_code", DBT_TEXT, 0},
    {"quantity", DBT_DEC, 3},     {"unit_price", DBT_DEC, 2},
    {"discount", DBT_DEC, 2},     {"taxable_value", DBT_DEC, 2},
    {"gst_rate", DBT_DEC, 2},     {"cgst_amount", DBT_DEC, 2},
    {"sgst_amount", DBT_DEC, 2},  {"igst_amount", DBT_DEC, 2},
    {"line_total", DBT_DEC, 2},
};
#define N_ITEM_COLS (int)(sizeof item_cols / sizeof item_cols[0])

/* Appends the invoice with its items as one JSON object. */
static int invoice_json(biz_ctx *c, const char *id, buf *out, biz_err *e) {
  db_val v[] = {db_uuid(c->profile_id), db_uuid(id)};
  db_err err;
  db_res *r = NULL, *items = NULL;
  const char *sql = arena_printf(
      c->a, "SELECT %s FROM invoices WHERE profile_id = $1 AND id = $2",
      ledger_col_list(c->a, invoice_cols, N_INVOICE_COLS));
  if (db_query(c->d, sql, v, 2, &r, &err)) return biz_db_fail(e, &err);
  if (db_res_rows(r) != 1) {
    db_res_free(r);
    return biz_fail(e, E_OP_NOT_FOUND, "invoice %s not found", id);
  }
  sql = arena_printf(c->a,
                     "SELECT %s FROM invoice_items WHERE profile_id = $1 AND "
                     "invoice_id = $2 ORDER BY line_no",
                     ledger_col_list(c->a, item_cols, N_ITEM_COLS));
  if (db_query(c->d, sql, v, 2, &items, &err)) {
    db_res_free(r);
    return biz_db_fail(e, &err);
  }
  ledger_row_json(out, r, 0, invoice_cols, N_INVOICE_COLS);
  out->len--; /* reopen the object for "items" */
  buf_puts(out, ",\"items\":[");
  for (int i = 0; i < db_res_rows(items); i++) {
    if (i) buf_putc(out, ',');
    ledger_row_json(out, items, i, item_cols, N_ITEM_COLS);
  }
  buf_puts(out, "]}");
  db_res_free(r);
  db_res_free(items);
  return 0;
}

/* Writes the invoice's events, with snap (its JSON) as their snapshot
 * (type2 may be NULL), in one statement. */
static int invoice_events(biz_ctx *c, const char *id, const char *snap,
                          const char *type1, const char *type2, biz_err *e) {
  event_in ev[2] = {{type1, "invoice", id, snap}, {type2, "invoice", id, snap}};
  db_err err;
  if (event_emit_many(c->d, c->profile_id, ev, type2 ? 2 : 1, &err))
    return biz_db_fail(e, &err);
  return 0;
}

/* Writes the invoice's JSON to out, which is both the answer and the
 * snapshot its events carry (type2 may be NULL): read once, used thrice. */
static int answer_with_events(biz_ctx *c, const char *id, const char *type1,
                              const char *type2, buf *out, biz_err *e) {
  size_t start = out->len;
  if (invoice_json(c, id, out, e)) return -1;
  const char *snap = arena_strndup(c->a, out->data + start, out->len - start);
  return invoice_events(c, id, snap, type1, type2, e);
}

static int stock_delta_cmp(const void *a, const void *b) {
  return strcmp(((const stock_delta *)a)->product_id,
                ((const stock_delta *)b)->product_id);
}

/* Sorts m by product (the locking order of biz.h) and merges the lines of
 * one product; returns how many remain. */
static int merge_deltas(stock_delta *m, int n) {
  qsort(m, (size_t)n, sizeof *m, stock_delta_cmp);
  int k = 0;
  for (int i = 0; i < n; i++) {
    if (k && !strcmp(m[k - 1].product_id, m[i].product_id))
      m[k - 1].delta += m[i].delta;
    else
      m[k++] = m[i];
  }
  return k;
}

/* Moves the stock of an invoice's items as written in the database.
 * sign -1 takes goods out, +1 puts back. */
static int move_invoice_stock(biz_ctx *c, const char *invoice_id, int sign,
                              int allow_negative, biz_err *e) {
  db_val v[] = {db_uuid(c->profile_id), db_uuid(invoice_id)};
  db_res *r = NULL;
  db_err err;
  if (db_query(c->d,
               "SELECT product_id, quantity FROM invoice_items WHERE "
               "profile_id = $1 AND invoice_id = $2 AND product_id IS NOT NULL",
               v, 2, &r, &err))
    return biz_db_fail(e, &err);
  int n = db_res_rows(r);
  stock_delta *m = arena_alloc(c->a, sizeof *m * (size_t)(n ? n : 1));
  for (int i = 0; i < n; i++) {
    snprintf(m[i].product_id, sizeof m[i].product_id, "%s", db_res_text(r, i, 0));
    m[i].delta = sign * db_res_dec(r, i, 1, 3);
  }
  db_res_free(r);
  n = merge_deltas(m, n);
  return ledger_stock_many(c, m, n, sign < 0 ? "invoice" : "cancellation",
                           "invoice", invoice_id, allow_negative, e);
}

/* What issuing and cancelling need to know of an invoice. */
typedef struct inv_head {
  char customer_id[37];
  char status[20];
  int32_t invoice_date;
  int64_t total;
  int numbered;
} inv_head;

static int load_head(biz_ctx *c, const char *id, inv_head *h, biz_err *e) {
  db_val v[] = {db_uuid(c->profile_id), db_uuid(id)};
  db_res *r = NULL;
  db_err err;
  if (db_query_fixed(
          c->d,
          "SELECT customer_id, status, invoice_date, total_amount, "
          "invoice_number FROM invoices WHERE profile_id = $1 AND id = $2",
          v, 2, &r, &err))
    return biz_db_fail(e, &err);
  int rc = 0;
  if (db_res_rows(r) != 1) {
    rc = biz_fail(e, E_OP_NOT_FOUND, "invoice %s not found", id);
  } else {
    snprintf(h->customer_id, sizeof h->customer_id, "%s", db_res_text(r, 0, 0));
    snprintf(h->status, sizeof h->status, "%s", db_res_text(r, 0, 1));
    h->invoice_date = db_res_date(r, 0, 2);
    h->total = db_res_dec(r, 0, 3, 2);
    h->numbered = !db_res_isnull(r, 0, 4);
  }
  db_res_free(r);
  return rc;
}

/* The next number of the business's series for the financial year of
 * date. The series row is the lock that keeps numbers gapless (a
 * rolled-back transaction gives its number back with it); every invoice of
 * the business takes it, so callers take it last and hold it shortest. */
static int next_number(biz_ctx *c, const profile_info *prof, int32_t date,
                       char number[17], biz_err *e) {
  char fy[6];
  gst_fy_label(date, fy);
  db_val s[] = {db_uuid(c->profile_id), db_text(prof->prefix), db_text(fy)};
  db_res *r = NULL;
  db_err err;
  if (db_query_fixed(
          c->d,
          "INSERT INTO invoice_series (profile_id, prefix, financial_year, "
          "last_number) VALUES ($1, $2, $3, 1) ON CONFLICT (profile_id, "
          "prefix, financial_year) DO UPDATE SET last_number = "
          "invoice_series.last_number + 1 RETURNING last_number",
          s, 3, &r, &err))
    return biz_db_fail(e, &err);
  int64_t n = db_res_int(r, 0, 0);
  db_res_free(r);
  if (gst_invoice_number(prof->prefix, fy, n, number))
    return biz_fail(e, E_OP_CONFLICT,
                    "invoice number %s/%s/%lld would pass 16 characters: "
                    "shorten invoice_prefix",
                    prof->prefix, fy, (long long)n);
  return 0;
}

/* An invoice of total 0 is paid the moment it is issued; one to a customer
 * who had credit (debt_before < 0) is paid from it, as a payment would
 * have paid it. Sets *credited when credit was applied. */
static int settle_on_issue(biz_ctx *c, const char *id, const char *customer_id,
                           int64_t total, int64_t debt_before, int *credited,
                           biz_err *e) {
  *credited = 0;
  if (total == 0) {
    char p[128];
    snprintf(p, sizeof p, "{\"invoice_id\":\"%s\",\"amount\":0.00}", id);
    return ledger_event(c, "invoice.paid", "invoice", id, p, e);
  }
  if (debt_before >= 0) return 0;
  *credited = 1;
  return ledger_apply_credit(c, customer_id, e);
}

/* Issues a draft: debt, stock, number, status, credit (the caller writes
 * the invoice.issued event). */
static int issue(biz_ctx *c, const char *id, const profile_info *prof,
                 biz_err *e) {
  inv_head h;
  if (load_head(c, id, &h, e)) return -1;
  /* A draft issued later is dated the day it is issued, so its number
   * comes from the current financial year's series. */
  h.invoice_date = gst_today_ist(c->now_us);
  if (strcmp(h.status, "draft"))
    return biz_fail(e, E_OP_CONFLICT, "invoice is %s, only a draft can be issued",
                    h.status);
  int64_t debt;
  char number[17];
  if (ledger_debt_add(c, h.customer_id, h.total, &debt, NULL, e) ||
      move_invoice_stock(c, id, -1, prof->allow_negative_stock, e) ||
      next_number(c, prof, h.invoice_date, number, e))
    return -1;
  db_val u[] = {db_text(number), db_text(h.total == 0 ? "paid" : "pending"),
                db_money(h.total), db_ts(c->now_us), db_uuid(c->profile_id),
                db_uuid(id), db_date(h.invoice_date)};
  db_res *r = NULL;
  db_err err;
  if (db_query(c->d,
               "UPDATE invoices SET invoice_number = $1, status = $2, "
               "balance_due = $3, amount_paid = 0, issued_at = $4, "
               "updated_at = $4, invoice_date = $7 WHERE profile_id = $5 AND "
               "id = $6 AND status = 'draft'",
               u, 7, &r, &err))
    return biz_db_fail(e, &err);
  int64_t changed = db_res_changes(r);
  db_res_free(r);
  if (changed != 1)
    return biz_fail(e, E_OP_CONFLICT, "invoice was issued by another request");
  int credited;
  return settle_on_issue(c, id, h.customer_id, h.total, debt - h.total,
                         &credited, e);
}

/* 1 April of the financial year before the one today falls in: invoices
 * may be dated back that far (late entries for the year being closed). */
static int32_t prev_fy_start(int32_t today) {
  int64_t y;
  unsigned m, d;
  civil_from_days(today, &y, &m, &d);
  int64_t fy = m >= 4 ? y : y - 1;
  return (int32_t)days_from_civil(fy - 1, 4, 1);
}

static int need_state(const profile_info *p, biz_err *e) {
  if (p->state_code[0]) return 0;
  return biz_fail(e, E_OP_CONFLICT,
                  "set your business's state_code (or gst_number) on your "
                  "profile before invoicing: GST depends on it");
}

/* ---- create_invoice, step by step ------------------------------------------ */

typedef struct line_arg {
  char product_id[37];
  gst_line_in in;
  gst_line_out out;
  const char *description;
  char hsn[9];
  int has_price;
} line_arg;

/* A new invoice as it is built up: the arguments, then what the books
 * add (place of supply, prices and taxes, number), all it takes to write
 * the rows and answer without reading them back. */
typedef struct new_invoice {
  char id[UUID_STR_LEN + 1];
  char customer_id[37];
  int32_t date, due;
  int has_due, draft;
  const char *notes, *pos_arg;
  size_t n;
  line_arg *lines;
  char **item_ids;
  profile_info prof;
  char pos[3];
  int intra;
  gst_totals t;
  char number[17];
  const char *status;
} new_invoice;

/* Prefixes e's message with the line it is about. */
static int line_fail(biz_err *e, size_t i) {
  char m[sizeof e->message];
  snprintf(m, sizeof m, "items[%zu]: %.200s", i, e->message);
  memcpy(e->message, m, sizeof m);
  return -1;
}

static int read_lines(biz_ctx *c, const json *items, new_invoice *v,
                      biz_err *e) {
  static const char *const known[] = {"product_id", "quantity", "unit_price",
                                      "discount", "description", NULL};
  if (!items || items->type != JSON_ARRAY || items->n == 0 ||
      items->n > INVOICE_MAX_LINES)
    return biz_fail(e, E_OP_INVALID, "items must be an array of 1 to %d lines",
                    INVOICE_MAX_LINES);
  v->n = items->n;
  v->lines = arena_alloc(c->a, sizeof *v->lines * v->n);
  for (size_t i = 0; i < v->n; i++) {
    const json *it = items->items[i];
    line_arg *l = &v->lines[i];
    int has_disc;
    if (arg_only(e, it, known) ||
        arg_uuid(e, it, "product_id", 1, l->product_id, NULL) ||
        arg_dec(e, it, "quantity", 3, 1, &l->in.qty, NULL) ||
        arg_dec(e, it, "unit_price", 2, 0, &l->in.unit_price, &l->has_price) ||
        arg_dec(e, it, "discount", 2, 0, &l->in.discount, &has_disc) ||
        arg_text(e, c->a, it, "description", 500, 0, &l->description))
      return line_fail(e, i);
    if (l->in.qty <= 0)
      return biz_fail(e, E_OP_INVALID, "items[%zu]: quantity must be above 0", i);
    if (!has_disc) l->in.discount = 0;
  }
  return 0;
}

static int read_invoice_args(biz_ctx *c, const json *args, new_invoice *v,
                             biz_err *e) {
  static const char *const known[] = {"customer_id", "items", "invoice_date",
                                      "due_date", "place_of_supply", "notes",
                                      "draft", NULL};
  int has_date;
  if (arg_only(e, args, known) ||
      arg_uuid(e, args, "customer_id", 1, v->customer_id, NULL) ||
      arg_date(e, args, "invoice_date", 0, &v->date, &has_date) ||
      arg_date(e, args, "due_date", 0, &v->due, &v->has_due) ||
      arg_text(e, c->a, args, "notes", 2000, 0, &v->notes) ||
      arg_text(e, c->a, args, "place_of_supply", 2, 0, &v->pos_arg) ||
      arg_bool(e, args, "draft", &v->draft, NULL))
    return -1;
  int32_t today = gst_today_ist(c->now_us);
  if (!has_date) v->date = today;
  if (v->date > today)
    return biz_fail(e, E_OP_INVALID, "invoice_date is in the future");
  if (v->date < prev_fy_start(today))
    return biz_fail(e, E_OP_INVALID,
                    "invoice_date is before the previous financial year");
  if (v->has_due && v->due < v->date)
    return biz_fail(e, E_OP_INVALID, "due_date is before invoice_date");
  if (v->pos_arg && !gst_state_valid(v->pos_arg))
    return biz_fail(e, E_OP_INVALID,
                    "place_of_supply must be a two-digit GST state code");
  return read_lines(c, json_get(args, "items"), v, e);
}

/* The business's settings and the customer's state, in one query; the
 * customer's state decides the place of supply unless one was given. */
static int read_context(biz_ctx *c, new_invoice *v, biz_err *e) {
  db_val cv[] = {db_uuid(c->profile_id), db_uuid(v->customer_id)};
  db_res *r = NULL;
  db_err err;
  if (db_query_fixed(
          c->d,
          "SELECT p.state_code, p.invoice_prefix, p.allow_negative_stock, "
          "c.id, c.state_code FROM profiles p LEFT JOIN customers c ON "
          "c.profile_id = p.id AND c.id = $2 WHERE p.id = $1",
          cv, 2, &r, &err))
    return biz_db_fail(e, &err);
  int rc = 0;
  if (db_res_rows(r) != 1) {
    rc = biz_fail(e, E_OP_NOT_FOUND, "the business profile does not exist");
    goto out;
  }
  snprintf(v->prof.state_code, sizeof v->prof.state_code, "%s", db_res_text(r, 0, 0));
  snprintf(v->prof.prefix, sizeof v->prof.prefix, "%s", db_res_text(r, 0, 1));
  v->prof.allow_negative_stock = db_res_bool(r, 0, 2);
  if ((rc = need_state(&v->prof, e))) goto out;
  if (db_res_isnull(r, 0, 3)) {
    rc = biz_fail(e, E_OP_NOT_FOUND, "customer %s not found", v->customer_id);
    goto out;
  }
  const char *pos = v->pos_arg               ? v->pos_arg
                    : !db_res_isnull(r, 0, 4) ? db_res_text(r, 0, 4)
                                              : v->prof.state_code;
  snprintf(v->pos, sizeof v->pos, "%s", pos);
  v->intra = !strcmp(v->pos, v->prof.state_code);
out:
  db_res_free(r);
  return rc;
}

static const char *products_sql(arena *a, size_t n) {
  buf sql;
  buf_init(&sql, 0);
  buf_puts(&sql, "SELECT id, name, hsn_code, gst_rate, base_price FROM products "
                 "WHERE profile_id = $1 AND id IN (");
  for (size_t i = 0; i < n; i++) buf_printf(&sql, "%s$%zu", i ? ", " : "", i + 2);
  buf_putc(&sql, ')');
  const char *s = arena_strdup(a, buf_cstr(&sql));
  buf_free(&sql);
  return s;
}

/* Fills each line from its product (name, HSN, rate, price unless given)
 * and computes its GST and the invoice's totals. One query for all. */
static int price_lines(biz_ctx *c, new_invoice *v, biz_err *e) {
  db_val *pv = arena_alloc(c->a, sizeof *pv * (v->n + 1));
  pv[0] = db_uuid(c->profile_id);
  for (size_t i = 0; i < v->n; i++) pv[i + 1] = db_uuid(v->lines[i].product_id);
  db_res *r = NULL;
  db_err err;
  if (db_query_fixed(c->d, products_sql(c->a, v->n), pv, (int)v->n + 1, &r,
                     &err))
    return biz_db_fail(e, &err);
  gst_line_out *outs = arena_alloc(c->a, sizeof *outs * v->n);
  int rc = 0;
  for (size_t i = 0; i < v->n && !rc; i++) {
    line_arg *l = &v->lines[i];
    int row = -1;
    for (int k = 0; k < db_res_rows(r) && row < 0; k++)
      if (!strcmp(db_res_text(r, k, 0), l->product_id)) row = k;
    if (row < 0) {
      rc = biz_fail(e, E_OP_NOT_FOUND, "items[%zu]: product %s not found", i,
                    l->product_id);
      break;
    }
    if (!l->description)
      l->description = arena_strdup(c->a, db_res_text(r, row, 1));
    snprintf(l->hsn, sizeof l->hsn, "%s", db_res_text(r, row, 2));
    l->in.rate = db_res_dec(r, row, 3, 2);
    if (!l->has_price) l->in.unit_price = db_res_dec(r, row, 4, 2);
    if (gst_line(&l->in, v->intra, &l->out))
      rc = biz_fail(e, E_OP_INVALID,
                    "items[%zu]: the discount is larger than the line, or a "
                    "value is out of range",
                    i);
    outs[i] = l->out;
  }
  db_res_free(r);
  if (!rc && gst_invoice_totals(outs, (int)v->n, &v->t))
    rc = biz_fail(e, E_OP_INVALID, "the invoice total is out of range");
  return rc;
}

/* The invoice row's values in the order of invoice_cols. */
static void invoice_vals(const biz_ctx *c, const new_invoice *v, db_val *x) {
  int issued = !v->draft;
  int64_t balance = issued ? v->t.total : 0;
  db_val vals[N_INVOICE_COLS] = {
      db_uuid(v->id),
      db_uuid(v->customer_id),
      issued && v->number[0] ? db_text(v->number) : db_null(),
      db_date(v->date),
      v->has_due ? db_date(v->due) : db_null(),
      db_text(v->pos),
      db_text(v->status),
      db_money(v->t.subtotal),
      db_money(v->t.cgst),
      db_money(v->t.sgst),
      db_money(v->t.igst),
      db_money(v->t.round_off),
      db_money(v->t.total),
      db_money(0),
      db_money(balance),
      v->notes ? db_text(v->notes) : db_null(),
      db_null(),
      issued ? db_ts(c->now_us) : db_null(),
      db_null(),
      db_ts(c->now_us),
      db_ts(c->now_us)};
  memcpy(x, vals, sizeof vals);
}

static int insert_invoice(biz_ctx *c, const new_invoice *v, biz_err *e) {
  db_val x[N_INVOICE_COLS + 1];
  invoice_vals(c, v, x + 1);
  x[0] = db_uuid(c->profile_id);
  db_err err;
  /* $1 profile, then the columns of invoice_cols in order. */
  if (db_query_fixed(
          c->d,
          "INSERT INTO invoices (profile_id, id, customer_id, "
          "invoice_number, invoice_date, due_date, place_of_supply, "
          "status, subtotal, cgst_amount, sgst_amount, igst_amount, "
          "round_off, total_amount, amount_paid, balance_due, notes, "
          "cancel_reason, issued_at, cancelled_at, created_at, updated_at) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
          "$14, $15, $16, $17, $18, $19, $20, $21, $22)",
          x, N_INVOICE_COLS + 1, NULL, &err))
    return biz_db_fail(e, &err);
  return 0;
}

/* The values of line i in the order of item_cols. */
static void item_vals(const new_invoice *v, size_t i, db_val *x) {
  const line_arg *l = &v->lines[i];
  db_val vals[N_ITEM_COLS] = {
      db_uuid(v->item_ids[i]), db_uuid(v->id), db_uuid(l->product_id),
      db_int((int64_t)i + 1), db_text(l->description),
      l->hsn[0] ? db_text(l->hsn) : db_null(), db_dec(l->in.qty, 3),
      db_money(l->in.unit_price), db_money(l->in.discount),
      db_money(l->out.taxable), db_dec(l->in.rate, 2), db_money(l->out.cgst),
      db_money(l->out.sgst), db_money(l->out.igst), db_money(l->out.total)};
  memcpy(x, vals, sizeof vals);
}

/* The lines go in ITEM_ROWS at a time, one statement each: fewer round
 * trips, and few distinct texts for the statement cache. */
static int insert_items(biz_ctx *c, new_invoice *v, biz_err *e) {
  v->item_ids = arena_alloc(c->a, sizeof *v->item_ids * v->n);
  for (size_t i = 0; i < v->n; i++) {
    v->item_ids[i] = arena_alloc(c->a, UUID_STR_LEN + 1);
    uuid_v7(v->item_ids[i]);
  }
  for (size_t start = 0; start < v->n; start += ITEM_ROWS) {
    size_t end = start + ITEM_ROWS < v->n ? start + ITEM_ROWS : v->n;
    db_val *lv = arena_alloc(c->a, sizeof *lv * ITEM_COLS * (end - start));
    buf sql;
    buf_init(&sql, 0);
    buf_puts(&sql,
             "INSERT INTO invoice_items (profile_id, created_at, id, "
             "invoice_id, product_id, line_no, description, hsn_code, "
             "quantity, unit_price, discount, taxable_value, gst_rate, "
             "cgst_amount, sgst_amount, igst_amount, line_total) VALUES ");
    int k = 0;
    for (size_t i = start; i < end; i++) {
      lv[k] = db_uuid(c->profile_id);
      lv[k + 1] = db_ts(c->now_us);
      item_vals(v, i, lv + k + 2);
      buf_puts(&sql, i > start ? ", (" : "(");
      for (int col = 0; col < ITEM_COLS; col++)
        buf_printf(&sql, "%s$%d", col ? ", " : "", ++k);
      buf_putc(&sql, ')');
    }
    db_err err;
    int qrc = db_query_fixed(c->d, buf_cstr(&sql), lv, k, NULL, &err);
    buf_free(&sql);
    if (qrc) return biz_db_fail(e, &err);
  }
  return 0;
}

/* The answer (and the events' snapshot) from what was written. */
static void render_new(const biz_ctx *c, const new_invoice *v, buf *out) {
  db_val x[N_INVOICE_COLS > N_ITEM_COLS ? N_INVOICE_COLS : N_ITEM_COLS];
  invoice_vals(c, v, x);
  ledger_vals_json(out, x, invoice_cols, N_INVOICE_COLS);
  out->len--; /* reopen the object for "items" */
  buf_puts(out, ",\"items\":[");
  for (size_t i = 0; i < v->n; i++) {
    if (i) buf_putc(out, ',');
    item_vals(v, i, x);
    ledger_vals_json(out, x, item_cols, N_ITEM_COLS);
  }
  buf_puts(out, "]}");
}

/* PostgreSQL: numbers an issued invoice written without its number, with
 * the next of the series (the lock every invoice of the business takes, so
 * it comes last), in one statement that takes the number and writes it
 * into the invoice; the number is formatted there as gst_invoice_number
 * does, and checked against it. */
static int number_invoice(biz_ctx *c, new_invoice *v, biz_err *e) {
  char fy[6];
  gst_fy_label(v->date, fy);
  db_val s[] = {db_uuid(c->profile_id), db_text(v->prof.prefix), db_text(fy),
                db_uuid(v->id)};
  db_res *r = NULL;
  db_err err;
  if (db_query_fixed(
          c->d,
          "WITH s AS (INSERT INTO invoice_series (profile_id, prefix, "
          "financial_year, last_number) VALUES ($1, $2, $3, 1) ON "
          "CONFLICT (profile_id, prefix, financial_year) DO UPDATE SET "
          "last_number = invoice_series.last_number + 1 RETURNING "
          "last_number), n AS (SELECT last_number, $2 || '/' || $3 || '/' "
          "|| lpad(last_number::text, greatest(4, "
          "length(last_number::text)), '0') AS num FROM s), u AS (UPDATE "
          "invoices SET invoice_number = n.num FROM n WHERE profile_id = "
          "$1 AND id = $4) SELECT last_number, num FROM n",
          s, 4, &r, &err))
    return biz_db_fail(e, &err);
  int64_t n = db_res_int(r, 0, 0);
  char sql_num[40];
  snprintf(sql_num, sizeof sql_num, "%s", db_res_text(r, 0, 1));
  db_res_free(r);
  /* Too long: the statement wrote it, but the refusal rolls it back. */
  if (gst_invoice_number(v->prof.prefix, fy, n, v->number))
    return biz_fail(e, E_OP_CONFLICT,
                    "invoice number %s/%s/%lld would pass 16 characters: "
                    "shorten invoice_prefix",
                    v->prof.prefix, fy, (long long)n);
  if (strcmp(sql_num, v->number))
    return biz_fail(e, E_INTERNAL, "invoice number %s formatted as %s",
                    v->number, sql_num);
  return 0;
}

/* Issued at once: the customer's debt (its lock first), then on
 * PostgreSQL the invoice row without its number and the hot locks, held
 * until COMMIT and so taken as late as possible: the products' stock, the
 * lines, then the number (the series last). */
static int write_issued(biz_ctx *c, new_invoice *v, int64_t *debt_before,
                        biz_err *e) {
  int64_t debt;
  if (ledger_debt_add(c, v->customer_id, v->t.total, &debt, NULL, e)) return -1;
  *debt_before = debt - v->t.total;
  v->status = v->t.total == 0 ? "paid" : "pending";
  stock_delta *m = arena_alloc(c->a, sizeof *m * v->n);
  for (size_t i = 0; i < v->n; i++) {
    memcpy(m[i].product_id, v->lines[i].product_id, sizeof m[i].product_id);
    m[i].delta = -v->lines[i].in.qty;
  }
  int nm = merge_deltas(m, (int)v->n);
  if (db_kind_of(c->d) != DB_POSTGRES)
    /* SQLite: one writer at a time, no lock to hold shorter: the number
     * first, and the rows written numbered (a statement fewer). */
    return ledger_stock_many(c, m, nm, "invoice", "invoice", v->id,
                             v->prof.allow_negative_stock, e) ||
                   next_number(c, &v->prof, v->date, v->number, e) ||
                   insert_invoice(c, v, e) || insert_items(c, v, e)
               ? -1
               : 0;
  /* The lines after the stock: each line's foreign key takes a key-share
   * lock on its product, and taken before the product's own lock those
   * would pile every transaction in flight into a MultiXact on the hot
   * rows (docs/performance.md). */
  return insert_invoice(c, v, e) ||
                 ledger_stock_many(c, m, nm, "invoice", "invoice", v->id,
                                   v->prof.allow_negative_stock, e) ||
                 insert_items(c, v, e) || number_invoice(c, v, e)
             ? -1
             : 0;
}

int op_create_invoice(biz_ctx *c, const json *args, buf *out, biz_err *e) {
  new_invoice v;
  memset(&v, 0, sizeof v);
  if (read_invoice_args(c, args, &v, e) || read_context(c, &v, e) ||
      price_lines(c, &v, e))
    return -1;
  uuid_v7(v.id);
  if (v.draft) {
    v.status = "draft";
    if (insert_invoice(c, &v, e) || insert_items(c, &v, e)) return -1;
    size_t start = out->len;
    render_new(c, &v, out);
    const char *snap = arena_strndup(c->a, out->data + start, out->len - start);
    return invoice_events(c, v.id, snap, "invoice.created", NULL, e);
  }
  int64_t debt_before;
  int credited;
  if (write_issued(c, &v, &debt_before, e) ||
      settle_on_issue(c, v.id, v.customer_id, v.t.total, debt_before,
                      &credited, e))
    return -1;
  /* Both events carry the issued invoice. Credit moved its payment
   * columns: then it is read back. */
  if (credited)
    return answer_with_events(c, v.id, "invoice.created", "invoice.issued", out, e);
  size_t start = out->len;
  render_new(c, &v, out);
  const char *snap = arena_strndup(c->a, out->data + start, out->len - start);
  return invoice_events(c, v.id, snap, "invoice.created", "invoice.issued", e);
}

int biz_invoice_total(biz_ctx *c, const json *args, int64_t *total,
                      biz_err *e) {
  new_invoice v;
  memset(&v, 0, sizeof v);
  if (read_invoice_args(c, args, &v, e) || read_context(c, &v, e) ||
      price_lines(c, &v, e))
    return -1;
  *total = v.t.total;
  return 0;
}

int op_issue_invoice(biz_ctx *c, const json *args, buf *out, biz_err *e) {
  static const char *const known[] = {"invoice_id", NULL};
  char id[37];
  profile_info prof;
  if (arg_only(e, args, known) || arg_uuid(e, args, "invoice_id", 1, id, NULL) ||
      ledger_profile(c, &prof, e) || need_state(&prof, e) ||
      issue(c, id, &prof, e))
    return -1;
  return answer_with_events(c, id, "invoice.issued", NULL, out, e);
}

int op_cancel_invoice(biz_ctx *c, const json *args, buf *out, biz_err *e) {
  static const char *const known[] = {"invoice_id", "reason", NULL};
  char id[37];
  const char *reason = NULL;
  profile_info prof;
  inv_head h;
  if (arg_only(e, args, known) || arg_uuid(e, args, "invoice_id", 1, id, NULL) ||
      arg_text(e, c->a, args, "reason", 500, 1, &reason) ||
      ledger_profile(c, &prof, e) || load_head(c, id, &h, e))
    return -1;
  if (!strcmp(h.status, "cancelled"))
    return biz_fail(e, E_OP_CONFLICT, "invoice is already cancelled");
  const char *was = arena_strdup(c->a, h.status);
  if (strcmp(h.status, "draft")) {
    /* Debt first (the customer's lock), then re-read the status: a payment
     * may have moved it while we waited. */
    if (ledger_debt_add(c, h.customer_id, -h.total, NULL, NULL, e) ||
        load_head(c, id, &h, e))
      return -1;
    if (!strcmp(h.status, "cancelled"))
      return biz_fail(e, E_OP_CONFLICT, "invoice is already cancelled");
    was = arena_strdup(c->a, h.status);
    /* Putting goods back never makes stock negative, so it is allowed. */
    if (move_invoice_stock(c, id, +1, 1, e)) return -1;
  }
  db_val u[] = {db_text(reason), db_ts(c->now_us), db_uuid(c->profile_id),
                db_uuid(id), db_text(was)};
  db_res *r = NULL;
  db_err err;
  if (db_query(c->d,
               "UPDATE invoices SET status = 'cancelled', cancel_reason = $1, "
               "cancelled_at = $2, balance_due = 0, updated_at = $2 WHERE "
               "profile_id = $3 AND id = $4 AND status = $5",
               u, 5, &r, &err))
    return biz_db_fail(e, &err);
  int64_t changed = db_res_changes(r);
  db_res_free(r);
  if (changed != 1)
    return biz_fail(e, E_OP_CONFLICT, "invoice changed while it was cancelled; retry");
  /* What was paid on it is credit now, for the customer's other open
   * invoices first. */
  if ((!strcmp(was, "paid") || !strcmp(was, "partially_paid")) && h.total > 0 &&
      ledger_apply_credit(c, h.customer_id, e))
    return -1;
  return answer_with_events(c, id, "invoice.cancelled", NULL, out, e);
}

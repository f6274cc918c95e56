/* payment.c - record_payment: money received lowers the customer's debt and
 * is allocated to the named invoice, then to the oldest open invoices (by
 * invoice date, then number); what is left is credit (debt below zero). */
#include <stdio.h>
#include <string.h>

#include "base/dec.h"
#include "base/timeutil.h"
#include "base/uuid.h"
#include "biz/args.h"
#include "biz/ledger.h"

static const char *const modes[] = {"cash", "upi", "bank_transfer", "card",
                                    "cheque", "other", NULL};

/* A payment as it is recorded: its arguments, its id, and where its money
 * went. */
typedef struct new_payment {
  char id[UUID_STR_LEN + 1];
  char customer_id[37], invoice_id[37];
  int64_t amount, received_at;
  int has_invoice;
  const char *mode, *reference, *notes;
  int64_t left, debt; /* not yet allocated; the debt afterwards */
  buf allocs;         /* the allocations as JSON array elements */
  int nalloc;
} new_payment;

static int read_payment_args(biz_ctx *c, const json *args, new_payment *p,
                             biz_err *e) {
  static const char *const known[] = {"customer_id", "amount_received",
                                      "payment_mode", "invoice_id", "reference",
                                      "received_at", "notes", NULL};
  int has_received;
  if (arg_only(e, args, known) ||
      arg_uuid(e, args, "customer_id", 1, p->customer_id, NULL) ||
      arg_dec(e, args, "amount_received", 2, 1, &p->amount, NULL) ||
      arg_text(e, c->a, args, "payment_mode", 20, 1, &p->mode) ||
      arg_uuid(e, args, "invoice_id", 0, p->invoice_id, &p->has_invoice) ||
      arg_text(e, c->a, args, "reference", 200, 0, &p->reference) ||
      arg_text(e, c->a, args, "notes", 2000, 0, &p->notes) ||
      arg_ts(e, args, "received_at", 0, &p->received_at, &has_received))
    return -1;
  if (p->amount <= 0)
    return biz_fail(e, E_OP_INVALID, "amount_received must be above 0");
  int known_mode = 0;
  for (const char *const *m = modes; *m; m++) known_mode |= !strcmp(*m, p->mode);
  if (!known_mode)
    return biz_fail(e, E_OP_INVALID,
                    "payment_mode must be cash, upi, bank_transfer, card, "
                    "cheque or other");
  if (!has_received) p->received_at = c->now_us;
  if (p->received_at > c->now_us + 86400LL * 1000000)
    return biz_fail(e, E_OP_INVALID, "received_at is in the future");
  return 0;
}

/* The named invoice's balance; it must be the customer's (404) and open
 * (409). Called before anything is written, and again (again = 1) under the
 * customer's lock, since another payment may have moved it meanwhile. */
static int open_balance(biz_ctx *c, const new_payment *p, int again,
                        int64_t *balance, biz_err *e) {
  db_val v[] = {db_uuid(c->profile_id), db_uuid(p->invoice_id),
                db_uuid(p->customer_id)};
  db_res *r = NULL;
  db_err err;
  if (db_query_fixed(
          c->d,
          "SELECT status, balance_due FROM invoices WHERE profile_id = "
          "$1 AND id = $2 AND customer_id = $3",
          v, 3, &r, &err))
    return biz_db_fail(e, &err);
  int rc = 0;
  if (db_res_rows(r) != 1) {
    rc = biz_fail(e, E_OP_NOT_FOUND, "invoice %s of this customer not found",
                  p->invoice_id);
    goto out;
  }
  const char *st = db_res_text(r, 0, 0);
  *balance = db_res_dec(r, 0, 1, 2);
  if (!strcmp(st, "pending") || !strcmp(st, "partially_paid")) goto out;
  if (again)
    rc = biz_fail(e, E_OP_CONFLICT,
                  "invoice %s was paid or cancelled by another request",
                  p->invoice_id);
  else
    rc = biz_fail(e, E_OP_CONFLICT,
                  "invoice is %s: a payment can be allocated only to an "
                  "issued invoice with a balance due",
                  st);
out:
  db_res_free(r);
  return rc;
}

/* The customer's row lock first (payments and invoices of one customer
 * then take turns, biz.h), then the payment row. */
static int insert_payment(biz_ctx *c, new_payment *p, biz_err *e) {
  if (ledger_debt_add(c, p->customer_id, -p->amount, &p->debt, NULL, e))
    return -1;
  uuid_v7(p->id);
  db_val v[] = {db_uuid(c->profile_id), db_uuid(p->id), db_uuid(p->customer_id),
                p->has_invoice ? db_uuid(p->invoice_id) : db_null(),
                db_money(p->amount), db_text(p->mode),
                p->reference ? db_text(p->reference) : db_null(),
                db_ts(p->received_at), p->notes ? db_text(p->notes) : db_null(),
                db_ts(c->now_us)};
  db_err err;
  if (db_query_fixed(
          c->d,
          "INSERT INTO payments (profile_id, id, customer_id, invoice_id, "
          "amount_received, payment_mode, reference, received_at, notes, "
          "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
          v, 10, NULL, &err))
    return biz_db_fail(e, &err);
  return 0;
}

/* A page of the oldest open invoices: most payments are used up by the
 * first few, and a customer may have hundreds open. */
#define ALLOC_PAGE 16

/* The named invoice first, then the oldest open ones, a page at a time
 * (the invoices a page pays in full are no longer open when the next page
 * is read; only the last one paid can stay open, and then nothing is left). */
static int allocate_payment(biz_ctx *c, new_payment *p, biz_err *e) {
  p->left = p->amount;
  if (p->has_invoice) {
    int64_t balance;
    if (open_balance(c, p, 1, &balance, e) ||
        ledger_allocate(c, p->id, p->invoice_id, balance, &p->left, &p->allocs,
                        &p->nalloc, e))
      return -1;
  }
  db_val v[] = {db_uuid(c->profile_id), db_uuid(p->customer_id),
                db_uuid(p->has_invoice ? p->invoice_id : p->id),
                db_int(ALLOC_PAGE)};
  int rc = 0, rows = ALLOC_PAGE;
  while (!rc && p->left > 0 && rows == ALLOC_PAGE) {
    db_res *r = NULL;
    db_err err;
    if (db_query(c->d,
                 "SELECT id, balance_due FROM invoices WHERE profile_id = $1 "
                 "AND customer_id = $2 AND status IN ('pending', "
                 "'partially_paid') AND id <> $3 ORDER BY invoice_date, "
                 "issued_at, invoice_number LIMIT $4",
                 v, 4, &r, &err))
      return biz_db_fail(e, &err);
    rows = db_res_rows(r);
    for (int i = 0; i < rows && p->left > 0 && !rc; i++)
      rc = ledger_allocate(c, p->id, db_res_text(r, i, 0),
                           db_res_dec(r, i, 1, 2), &p->left, &p->allocs,
                           &p->nalloc, e);
    db_res_free(r);
  }
  return rc;
}

/* The answer, which is also the payment.received event's snapshot. */
static void payment_json(const new_payment *p, buf *snap) {
  char amt[DEC_MAX_TEXT], credit[DEC_MAX_TEXT], debt[DEC_MAX_TEXT],
      when[TS_TEXT_LEN + 1];
  dec_format(p->amount, 2, amt);
  dec_format(p->left, 2, credit);
  dec_format(p->debt, 2, debt);
  ts_format(p->received_at, when);
  buf_printf(snap,
             "{\"id\":\"%s\",\"customer_id\":\"%s\",\"amount_received\":%s,"
             "\"payment_mode\":\"%s\",\"received_at\":\"%s\",\"reference\":",
             p->id, p->customer_id, amt, p->mode, when);
  if (p->reference)
    json_write_str(snap, p->reference, strlen(p->reference));
  else
    buf_puts(snap, "null");
  buf_printf(snap, ",\"allocations\":[%s],\"unallocated\":%s,\"total_debt\":%s}",
             buf_cstr(&p->allocs), credit, debt);
}

int op_record_payment(biz_ctx *c, const json *args, buf *out, biz_err *e) {
  new_payment p;
  memset(&p, 0, sizeof p);
  buf_init(&p.allocs, 0);
  buf snap;
  buf_init(&snap, 0);
  int64_t balance;
  int rc = -1;
  /* A named invoice must be this customer's and open: checked before
   * anything is written. */
  if (read_payment_args(c, args, &p, e) ||
      (p.has_invoice && open_balance(c, &p, 0, &balance, e)) ||
      insert_payment(c, &p, e) || allocate_payment(c, &p, e))
    goto out;
  payment_json(&p, &snap);
  if (ledger_event(c, "payment.received", "payment", p.id, buf_cstr(&snap), e))
    goto out;
  buf_append(out, snap.data, snap.len);
  rc = 0;
out:
  buf_free(&snap);
  buf_free(&p.allocs);
  return rc;
}

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

int op_record_payment(biz_ctx *c, const json *args, buf *out, biz_err *e) {
  static const char *const known[] = {"customer_id", "amount_received",
                                      "payment_mode", "invoice_id", "reference",
                                      "received_at", "notes", NULL};
  char customer_id[37], invoice_id[37];
  int64_t amount, received_at;
  int has_invoice, has_received;
  const char *mode = NULL, *reference = NULL, *notes = NULL;
  if (arg_only(e, args, known) ||
      arg_uuid(e, args, "customer_id", 1, customer_id, NULL) ||
      arg_dec(e, args, "amount_received", 2, 1, &amount, NULL) ||
      arg_text(e, c->a, args, "payment_mode", 20, 1, &mode) ||
      arg_uuid(e, args, "invoice_id", 0, invoice_id, &has_invoice) ||
      arg_text(e, c->a, args, "reference", 200, 0, &reference) ||
      arg_text(e, c->a, args, "notes", 2000, 0, &notes) ||
      arg_ts(e, args, "received_at", 0, &received_at, &has_received))
    return -1;
  if (amount <= 0)
    return biz_fail(e, E_OP_INVALID, "amount_received must be above 0");
  int known_mode = 0;
  for (const char *const *m = modes; *m; m++) known_mode |= !strcmp(*m, mode);
  if (!known_mode)
    return biz_fail(e, E_OP_INVALID,
                    "payment_mode must be cash, upi, bank_transfer, card, "
                    "cheque or other");
  if (!has_received) received_at = c->now_us;
  if (received_at > c->now_us + 86400LL * 1000000)
    return biz_fail(e, E_OP_INVALID, "received_at is in the future");

  /* A named invoice must be this customer's and open; checked before
   * anything is written. */
  int64_t named_balance = 0;
  if (has_invoice) {
    db_val v[] = {db_uuid(c->profile_id), db_uuid(invoice_id),
                  db_uuid(customer_id)};
    db_res *ir = NULL;
    db_err ierr;
    if (db_query(c->d,
                 "SELECT status, balance_due FROM invoices WHERE profile_id = "
                 "$1 AND id = $2 AND customer_id = $3",
                 v, 3, &ir, &ierr))
      return biz_db_fail(e, &ierr);
    if (db_res_rows(ir) != 1) {
      db_res_free(ir);
      return biz_fail(e, E_OP_NOT_FOUND,
                      "invoice %s of this customer not found", invoice_id);
    }
    const char *st = db_res_text(ir, 0, 0);
    int open = !strcmp(st, "pending") || !strcmp(st, "partially_paid");
    char status[20];
    snprintf(status, sizeof status, "%s", st);
    named_balance = db_res_dec(ir, 0, 1, 2);
    db_res_free(ir);
    if (!open)
      return biz_fail(e, E_OP_CONFLICT,
                      "invoice is %s: a payment can be allocated only to an "
                      "issued invoice with a balance due",
                      status);
  }

  int64_t debt;
  /* The customer's row lock first: payments and invoices of one customer
   * then take turns (biz.h). */
  if (ledger_debt_add(c, customer_id, -amount, &debt, NULL, e)) return -1;
  char id[UUID_STR_LEN + 1];
  uuid_v7(id);
  db_val p[] = {db_uuid(c->profile_id), db_uuid(id), db_uuid(customer_id),
                has_invoice ? db_uuid(invoice_id) : db_null(), db_money(amount),
                db_text(mode), reference ? db_text(reference) : db_null(),
                db_ts(received_at), notes ? db_text(notes) : db_null(),
                db_ts(c->now_us)};
  db_err err;
  db_res *r = NULL;
  if (db_query(c->d,
               "INSERT INTO payments (profile_id, id, customer_id, invoice_id, "
               "amount_received, payment_mode, reference, received_at, notes, "
               "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
               p, 10, NULL, &err))
    return biz_db_fail(e, &err);

  buf allocs;
  buf_init(&allocs, 0);
  int nalloc = 0, rc = 0;
  int64_t left = amount;
  if (has_invoice) {
    /* Read the balance again under the customer's lock: another payment
     * may have moved it since the check above. */
    db_val v[] = {db_uuid(c->profile_id), db_uuid(invoice_id)};
    if (db_query(c->d,
                 "SELECT balance_due, status FROM invoices WHERE profile_id = "
                 "$1 AND id = $2",
                 v, 2, &r, &err)) {
      rc = biz_db_fail(e, &err);
      goto out;
    }
    named_balance = db_res_dec(r, 0, 0, 2);
    int open = !strcmp(db_res_text(r, 0, 1), "pending") ||
               !strcmp(db_res_text(r, 0, 1), "partially_paid");
    db_res_free(r);
    if (!open) {
      rc = biz_fail(e, E_OP_CONFLICT,
                    "invoice %s was paid or cancelled by another request",
                    invoice_id);
      goto out;
    }
    rc = ledger_allocate(c, id, invoice_id, named_balance, &left, &allocs, &nalloc, e);
  }
  if (!rc && left > 0) {
    db_val v[] = {db_uuid(c->profile_id), db_uuid(customer_id)};
    if (db_query(c->d,
                 "SELECT id, balance_due FROM invoices WHERE profile_id = $1 "
                 "AND customer_id = $2 AND status IN ('pending', "
                 "'partially_paid') ORDER BY invoice_date, issued_at, invoice_number",
                 v, 2, &r, &err)) {
      rc = biz_db_fail(e, &err);
      goto out;
    }
    for (int i = 0; i < db_res_rows(r) && left > 0 && !rc; i++) {
      char inv[37];
      snprintf(inv, sizeof inv, "%s", db_res_text(r, i, 0));
      if (has_invoice && !strcmp(inv, invoice_id)) continue;
      rc = ledger_allocate(c, id, inv, db_res_dec(r, i, 1, 2), &left, &allocs, &nalloc,
                    e);
    }
    db_res_free(r);
  }
  if (rc) goto out;
  char amt[DEC_MAX_TEXT], credit[DEC_MAX_TEXT], debt_s[DEC_MAX_TEXT],
      when[TS_TEXT_LEN + 1];
  dec_format(amount, 2, amt);
  dec_format(left, 2, credit);
  dec_format(debt, 2, debt_s);
  ts_format(received_at, when);
  buf snap;
  buf_init(&snap, 0);
  buf_printf(&snap,
             "{\"id\":\"%s\",\"customer_id\":\"%s\",\"amount_received\":%s,"
             "\"payment_mode\":\"%s\",\"received_at\":\"%s\",\"reference\":",
             id, customer_id, amt, mode, when);
  if (reference)
    json_write_str(&snap, reference, strlen(reference));
  else
    buf_puts(&snap, "null");
  buf_printf(&snap, ",\"allocations\":[%s],\"unallocated\":%s,\"total_debt\":%s}",
             buf_cstr(&allocs), credit, debt_s);
  rc = ledger_event(c, "payment.received", "payment", id, buf_cstr(&snap), e);
  if (!rc) buf_append(out, snap.data, snap.len);
  buf_free(&snap);
out:
  buf_free(&allocs);
  return rc;
}

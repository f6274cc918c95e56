/* payment.c - record_payment: money received lowers the customer's debt and
 * is allocated to the named invoice, then to the oldest open invoices (by
 * invoice date, then number); what is left is credit (debt below zero).
 *
 * A payment a provider reported (provider + provider_payment_id, e.g. a
 * Razorpay webhook) is recorded once for ever: the payments row is written
 * first with ON CONFLICT DO NOTHING on the unique index of provider ids, so
 * of two concurrent calls for one payment the second waits for the first
 * and then writes nothing; any repeat answers the first payment (its
 * payment.received snapshot), not an error. Such a payment naming an
 * invoice that was paid or cancelled meanwhile is still recorded (the
 * money came in) and allocated to the oldest open invoices instead.
 * Only a provider's verified webhook may name provider ids
 * (biz_call.from_provider): from anyone else they are refused, so one
 * business cannot claim another's pay_ id. */
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
  const char *provider, *provider_payment_id; /* both or neither */
  int64_t left, debt; /* not yet allocated; the debt afterwards */
  buf allocs;         /* the allocations as JSON array elements */
  int nalloc;
} new_payment;

static int read_payment_args(biz_ctx *c, const json *args, new_payment *p,
                             biz_err *e) {
  static const char *const known[] = {"customer_id", "amount_received",
                                      "payment_mode", "invoice_id", "reference",
                                      "received_at", "notes", "provider",
                                      "provider_payment_id", NULL};
  int has_received;
  if (arg_only(e, args, known) ||
      arg_uuid(e, args, "customer_id", 1, p->customer_id, NULL) ||
      arg_dec(e, args, "amount_received", 2, 1, &p->amount, NULL) ||
      arg_text(e, c->a, args, "payment_mode", 20, 1, &p->mode) ||
      arg_uuid(e, args, "invoice_id", 0, p->invoice_id, &p->has_invoice) ||
      arg_text(e, c->a, args, "reference", 200, 0, &p->reference) ||
      arg_text(e, c->a, args, "notes", 2000, 0, &p->notes) ||
      arg_ts(e, args, "received_at", 0, &p->received_at, &has_received) ||
      arg_text(e, c->a, args, "provider", 20, 0, &p->provider) ||
      arg_text(e, c->a, args, "provider_payment_id", 64, 0,
               &p->provider_payment_id))
    return -1;
  if ((p->provider || p->provider_payment_id) && !c->from_provider)
    return biz_fail(e, E_OP_INVALID,
                    "provider and provider_payment_id are set only by the "
                    "provider's webhook");
  if (!p->provider != !p->provider_payment_id)
    return biz_fail(e, E_OP_INVALID,
                    "provider and provider_payment_id go together");
  if (p->provider && strcmp(p->provider, "razorpay"))
    return biz_fail(e, E_OP_INVALID, "provider must be razorpay");
  if (p->provider_payment_id && !biz_provider_id_ok(p->provider_payment_id))
    return biz_fail(e, E_OP_INVALID,
                    "provider_payment_id must be letters, digits and _");
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
  if (p->provider) return 0; /* written already (insert_provider_payment) */
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

/* The payment of provider_payment_id recorded before, if any: *found, and
 * p filled from its rows (allocations as they stand now, the customer's
 * debt now) for payment_json. */
static int earlier_payment(biz_ctx *c, new_payment *p, int *found,
                           biz_err *e) {
  db_val v[] = {db_uuid(c->profile_id), db_text(p->provider),
                db_text(p->provider_payment_id)};
  db_res *r = NULL;
  db_err err;
  *found = 0;
  if (db_query_fixed(c->d,
                     "SELECT p.id, p.customer_id, p.amount_received, "
                     "p.payment_mode, p.received_at, p.reference, "
                     "c.total_debt FROM payments p JOIN customers c ON "
                     "c.profile_id = p.profile_id AND c.id = p.customer_id "
                     "WHERE p.profile_id = $1 AND p.provider = $2 AND "
                     "p.provider_payment_id = $3",
                     v, 3, &r, &err))
    return biz_db_fail(e, &err);
  if (db_res_rows(r) != 1) {
    db_res_free(r);
    return 0;
  }
  *found = 1;
  snprintf(p->id, sizeof p->id, "%s", db_res_text(r, 0, 0));
  snprintf(p->customer_id, sizeof p->customer_id, "%s", db_res_text(r, 0, 1));
  p->amount = db_res_dec(r, 0, 2, 2);
  p->mode = arena_strdup(c->a, db_res_text(r, 0, 3));
  p->received_at = db_res_ts(r, 0, 4);
  p->reference =
      db_res_isnull(r, 0, 5) ? NULL : arena_strdup(c->a, db_res_text(r, 0, 5));
  p->debt = db_res_dec(r, 0, 6, 2);
  db_res_free(r);
  db_val w[] = {db_uuid(c->profile_id), db_uuid(p->id)};
  if (db_query(c->d,
               "SELECT a.invoice_id, i.invoice_number, a.amount, i.status "
               "FROM payment_allocations a JOIN invoices i ON i.profile_id = "
               "a.profile_id AND i.id = a.invoice_id WHERE a.profile_id = $1 "
               "AND a.payment_id = $2 ORDER BY a.created_at, a.id",
               w, 2, &r, &err))
    return biz_db_fail(e, &err);
  p->left = p->amount;
  for (int i = 0; i < db_res_rows(r); i++) {
    int64_t amt = db_res_dec(r, i, 2, 2);
    char money[DEC_MAX_TEXT];
    dec_format(amt, 2, money);
    const char *num = db_res_text(r, i, 1);
    buf_printf(&p->allocs, "%s{\"invoice_id\":\"%s\",\"invoice_number\":",
               p->nalloc ? "," : "", db_res_text(r, i, 0));
    json_write_str(&p->allocs, num, strlen(num));
    buf_printf(&p->allocs, ",\"amount\":%s,\"status\":", money);
    json_write_str(&p->allocs, db_res_text(r, i, 3), strlen(db_res_text(r, i, 3)));
    buf_putc(&p->allocs, '}');
    p->nalloc++;
    p->left -= amt;
  }
  db_res_free(r);
  return 0;
}

/* Writes the row of a provider's payment unless one with its id exists
 * (then *dup is 1 and nothing was written). The unique index decides, so
 * two concurrent calls cannot both write it. */
static int insert_provider_payment(biz_ctx *c, new_payment *p, int *dup,
                                   biz_err *e) {
  uuid_v7(p->id);
  db_val v[] = {db_uuid(c->profile_id), db_uuid(p->id), db_uuid(p->customer_id),
                p->has_invoice ? db_uuid(p->invoice_id) : db_null(),
                db_money(p->amount), db_text(p->mode),
                p->reference ? db_text(p->reference) : db_null(),
                db_ts(p->received_at), p->notes ? db_text(p->notes) : db_null(),
                db_ts(c->now_us), db_text(p->provider),
                db_text(p->provider_payment_id)};
  db_res *r = NULL;
  db_err err;
  if (db_query_fixed(
          c->d,
          "INSERT INTO payments (profile_id, id, customer_id, invoice_id, "
          "amount_received, payment_mode, reference, received_at, notes, "
          "created_at, provider, provider_payment_id) VALUES ($1, $2, $3, $4, "
          "$5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (profile_id, "
          "provider, provider_payment_id) WHERE provider_payment_id IS NOT "
          "NULL DO NOTHING RETURNING id",
          v, 12, &r, &err))
    return biz_db_fail(e, &err);
  *dup = db_res_rows(r) == 0;
  db_res_free(r);
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
    if (open_balance(c, p, 1, &balance, e)) {
      /* A provider's payment came in whatever the invoice's state. */
      if (!p->provider || e->code != E_OP_CONFLICT) return -1;
      p->has_invoice = 0;
    } else if (ledger_allocate(c, p->id, p->invoice_id, balance, &p->left,
                               &p->allocs, &p->nalloc, e)) {
      return -1;
    }
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
  if (p->provider) {
    buf_printf(snap, ",\"provider\":\"%s\",\"provider_payment_id\":",
               p->provider);
    json_write_str(snap, p->provider_payment_id,
                   strlen(p->provider_payment_id));
  }
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
  int rc = -1, found = 0;
  if (read_payment_args(c, args, &p, e)) goto out;
  if (p.provider) {
    if (earlier_payment(c, &p, &found, e)) goto out;
    if (found) goto answer;
  }
  /* A named invoice must be this customer's and open: checked before
   * anything is written. */
  if (p.has_invoice && open_balance(c, &p, 0, &balance, e)) {
    if (!p.provider || e->code != E_OP_CONFLICT) goto out;
    p.has_invoice = 0;
  }
  if (p.provider) {
    if (insert_provider_payment(c, &p, &found, e)) goto out;
    if (found) { /* a concurrent call wrote it first */
      if (earlier_payment(c, &p, &found, e)) goto out;
      goto answer;
    }
  }
  if (insert_payment(c, &p, e) || allocate_payment(c, &p, e)) goto out;
  payment_json(&p, &snap);
  if (ledger_event(c, "payment.received", "payment", p.id, buf_cstr(&snap), e))
    goto out;
  buf_append(out, snap.data, snap.len);
  rc = 0;
  goto out;
answer: /* recorded before: its payment as it stands, no event */
  if (!found) {
    rc = biz_fail(e, E_OP_CONFLICT, "payment %s of %s changed meanwhile",
                  p.provider_payment_id, p.provider);
    goto out;
  }
  payment_json(&p, &snap);
  buf_append(out, snap.data, snap.len);
  rc = 0;
out:
  buf_free(&snap);
  buf_free(&p.allocs);
  return rc;
}

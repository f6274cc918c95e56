/* refund.c - record_refund: money given back to a customer raises what the
 * customer owes by the refunded amount, once, and keeps the ledger's
 * invariants (ledger.h): total_debt = issued invoices - payments + refunds,
 * no payment allocated beyond what is left of it, no credit beside an open
 * invoice.
 *
 * A refund of a named payment comes first out of that payment's money not
 * allocated to a live invoice (its credit); the rest is taken back from the
 * invoices it paid, newest allocation first, which reopens them (paid →
 * partially_paid → pending). Then any other credit of the customer is
 * applied to what reopened. A refund naming no payment comes out of the
 * customer's credit and is refused (409) above it: giving back money that
 * paid invoices needs the payment named.
 *
 * A refund a provider reported (provider + provider_refund_id: Razorpay's
 * refund.processed) is recorded once for ever: its row goes first, with ON
 * CONFLICT DO NOTHING on the unique index of provider ids, and a repeat
 * answers the refund recorded before. As with record_payment, provider
 * ids are taken only from a provider's webhook (biz_call.from_provider). */
#include <stdio.h>
#include <string.h>

#include "base/dec.h"
#include "base/timeutil.h"
#include "base/uuid.h"
#include "biz/args.h"
#include "biz/ledger.h"

typedef struct new_refund {
  char id[UUID_STR_LEN + 1];
  char customer_id[37], payment_id[37];
  int has_payment;
  int64_t amount, refunded_at, debt;
  const char *reason, *provider, *provider_refund_id;
  buf reopened; /* {invoice_id, invoice_number, amount, status} elements */
  int nreopen;
} new_refund;

static int read_refund_args(biz_ctx *c, const json *args, new_refund *r,
                            biz_err *e) {
  static const char *const known[] = {
      "customer_id", "amount",   "payment_id",         "reason",
      "refunded_at", "provider", "provider_refund_id", NULL};
  int has_at;
  if (arg_only(e, args, known) ||
      arg_uuid(e, args, "customer_id", 1, r->customer_id, NULL) ||
      arg_dec(e, args, "amount", 2, 1, &r->amount, NULL) ||
      arg_uuid(e, args, "payment_id", 0, r->payment_id, &r->has_payment) ||
      arg_text(e, c->a, args, "reason", 2000, 0, &r->reason) ||
      arg_ts(e, args, "refunded_at", 0, &r->refunded_at, &has_at) ||
      arg_text(e, c->a, args, "provider", 20, 0, &r->provider) ||
      arg_text(e, c->a, args, "provider_refund_id", 64, 0,
               &r->provider_refund_id))
    return -1;
  if (r->amount <= 0) return biz_fail(e, E_OP_INVALID, "amount must be above 0");
  if ((r->provider || r->provider_refund_id) && !c->from_provider)
    return biz_fail(e, E_OP_INVALID,
                    "provider and provider_refund_id are set only by the "
                    "provider's webhook");
  if (!r->provider != !r->provider_refund_id)
    return biz_fail(e, E_OP_INVALID,
                    "provider and provider_refund_id go together");
  if (r->provider && strcmp(r->provider, "razorpay"))
    return biz_fail(e, E_OP_INVALID, "provider must be razorpay");
  if (r->provider_refund_id && !biz_provider_id_ok(r->provider_refund_id))
    return biz_fail(e, E_OP_INVALID,
                    "provider_refund_id must be letters, digits and _");
  if (!has_at) r->refunded_at = c->now_us;
  if (r->refunded_at > c->now_us + 86400LL * 1000000)
    return biz_fail(e, E_OP_INVALID, "refunded_at is in the future");
  return 0;
}

/* The named payment must be this customer's (404). */
static int check_payment(biz_ctx *c, const new_refund *r, biz_err *e) {
  db_val v[] = {db_uuid(c->profile_id), db_uuid(r->payment_id),
                db_uuid(r->customer_id)};
  db_res *res = NULL;
  db_err err;
  if (db_query_fixed(c->d,
                     "SELECT id FROM payments WHERE profile_id = $1 AND id = "
                     "$2 AND customer_id = $3",
                     v, 3, &res, &err))
    return biz_db_fail(e, &err);
  int rows = db_res_rows(res);
  db_res_free(res);
  if (rows != 1)
    return biz_fail(e, E_OP_NOT_FOUND, "payment %s of this customer not found",
                    r->payment_id);
  return 0;
}

static int insert_refund(biz_ctx *c, new_refund *r, int *dup, biz_err *e) {
  uuid_v7(r->id);
  db_val v[] = {db_uuid(c->profile_id),
                db_uuid(r->id),
                db_uuid(r->customer_id),
                r->has_payment ? db_uuid(r->payment_id) : db_null(),
                db_money(r->amount),
                r->reason ? db_text(r->reason) : db_null(),
                r->provider ? db_text(r->provider) : db_null(),
                r->provider_refund_id ? db_text(r->provider_refund_id)
                                      : db_null(),
                db_ts(r->refunded_at),
                db_ts(c->now_us)};
  db_res *res = NULL;
  db_err err;
  if (db_query_fixed(
          c->d,
          "INSERT INTO refunds (profile_id, id, customer_id, payment_id, "
          "amount, reason, provider, provider_refund_id, refunded_at, "
          "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON "
          "CONFLICT (profile_id, provider, provider_refund_id) WHERE "
          "provider_refund_id IS NOT NULL DO NOTHING RETURNING id",
          v, 10, &res, &err))
    return biz_db_fail(e, &err);
  *dup = db_res_rows(res) == 0;
  db_res_free(res);
  return 0;
}

/* The refund of provider_refund_id recorded before: *found and r filled. */
static int earlier_refund(biz_ctx *c, new_refund *r, int *found, biz_err *e) {
  db_val v[] = {db_uuid(c->profile_id), db_text(r->provider),
                db_text(r->provider_refund_id)};
  db_res *res = NULL;
  db_err err;
  *found = 0;
  if (db_query_fixed(c->d,
                     "SELECT f.id, f.customer_id, f.payment_id, f.amount, "
                     "f.reason, f.refunded_at, c.total_debt FROM refunds f "
                     "JOIN customers c ON c.profile_id = f.profile_id AND c.id "
                     "= f.customer_id WHERE f.profile_id = $1 AND f.provider = "
                     "$2 AND f.provider_refund_id = $3",
                     v, 3, &res, &err))
    return biz_db_fail(e, &err);
  if (db_res_rows(res) == 1) {
    *found = 1;
    snprintf(r->id, sizeof r->id, "%s", db_res_text(res, 0, 0));
    snprintf(r->customer_id, sizeof r->customer_id, "%s", db_res_text(res, 0, 1));
    r->has_payment = !db_res_isnull(res, 0, 2);
    snprintf(r->payment_id, sizeof r->payment_id, "%s", db_res_text(res, 0, 2));
    r->amount = db_res_dec(res, 0, 3, 2);
    r->reason = db_res_isnull(res, 0, 4) ? NULL
                                         : arena_strdup(c->a, db_res_text(res, 0, 4));
    r->refunded_at = db_res_ts(res, 0, 5);
    r->debt = db_res_dec(res, 0, 6, 2);
  }
  db_res_free(res);
  return 0;
}

/* One number of a one-row query. */
static int scalar(biz_ctx *c, const char *sql, const db_val *v, int n,
                  int64_t *out, biz_err *e) {
  db_res *res = NULL;
  db_err err;
  if (db_query(c->d, sql, v, n, &res, &err)) return biz_db_fail(e, &err);
  *out = db_res_rows(res) == 1 && !db_res_isnull(res, 0, 0)
             ? db_res_dec(res, 0, 0, 2)
             : 0;
  db_res_free(res);
  return 0;
}

/* Takes back `need` paise of the payment's allocations to live invoices,
 * newest first, reopening those invoices. */
static int release_allocations(biz_ctx *c, new_refund *r, int64_t need,
                               biz_err *e) {
  db_val v[] = {db_uuid(c->profile_id), db_uuid(r->payment_id)};
  db_res *al = NULL;
  db_err err;
  if (db_query(c->d,
               "SELECT a.id, a.invoice_id, a.amount FROM payment_allocations a "
               "JOIN invoices i ON i.profile_id = a.profile_id AND i.id = "
               "a.invoice_id WHERE a.profile_id = $1 AND a.payment_id = $2 "
               "AND i.status <> 'cancelled' ORDER BY a.created_at DESC, a.id "
               "DESC",
               v, 2, &al, &err))
    return biz_db_fail(e, &err);
  int rc = 0;
  for (int i = 0; i < db_res_rows(al) && need > 0 && !rc; i++) {
    int64_t have = db_res_dec(al, i, 2, 2);
    int64_t x = have < need ? have : need;
    const char *alloc_id = db_res_text(al, i, 0);
    const char *inv = db_res_text(al, i, 1);
    db_val a[] = {db_money(x), db_uuid(c->profile_id), db_uuid(alloc_id)};
    if (x == have
            ? db_query_fixed(c->d,
                             "DELETE FROM payment_allocations WHERE profile_id "
                             "= $1 AND id = $2",
                             a + 1, 2, NULL, &err)
            : db_query_fixed(c->d,
                             "UPDATE payment_allocations SET amount = amount - "
                             "$1 WHERE profile_id = $2 AND id = $3",
                             a, 3, NULL, &err)) {
      rc = biz_db_fail(e, &err);
      break;
    }
    db_val u[] = {db_money(x), db_ts(c->now_us), db_uuid(c->profile_id),
                  db_uuid(inv)};
    db_res *ir = NULL;
    if (db_query_fixed(
            c->d,
            "UPDATE invoices SET amount_paid = amount_paid - $1, balance_due = "
            "balance_due + $1, status = CASE WHEN amount_paid - $1 = 0 THEN "
            "'pending' ELSE 'partially_paid' END, updated_at = $2 WHERE "
            "profile_id = $3 AND id = $4 AND status IN ('paid', "
            "'partially_paid') RETURNING invoice_number, status",
            u, 4, &ir, &err)) {
      rc = biz_db_fail(e, &err);
      break;
    }
    if (db_res_rows(ir) != 1) {
      db_res_free(ir);
      rc = biz_fail(e, E_OP_CONFLICT, "invoice %s changed meanwhile", inv);
      break;
    }
    char money[DEC_MAX_TEXT];
    dec_format(x, 2, money);
    const char *num = db_res_text(ir, 0, 0), *st = db_res_text(ir, 0, 1);
    buf_printf(&r->reopened, "%s{\"invoice_id\":\"%s\",\"invoice_number\":",
               r->nreopen ? "," : "", inv);
    json_write_str(&r->reopened, num, strlen(num));
    buf_printf(&r->reopened, ",\"amount\":%s,\"status\":", money);
    json_write_str(&r->reopened, st, strlen(st));
    buf_putc(&r->reopened, '}');
    r->nreopen++;
    db_res_free(ir);
    need -= x;
  }
  db_res_free(al);
  if (!rc && need > 0) /* allocations cannot be short of what the sums say */
    rc = biz_fail(e, E_INTERNAL, "payment %s: allocations do not add up",
                  r->payment_id);
  return rc;
}

/* A refund of a named payment: not beyond what is left of it; out of its
 * credit first, then its allocations. */
static int refund_payment(biz_ctx *c, new_refund *r, biz_err *e) {
  db_val v[] = {db_uuid(c->profile_id), db_uuid(r->payment_id),
                db_uuid(r->customer_id)};
  int64_t amount, allocated, refunded;
  if (scalar(c,
             "SELECT amount_received FROM payments WHERE profile_id = $1 AND "
             "id = $2 AND customer_id = $3",
             v, 3, &amount, e) ||
      scalar(c,
             "SELECT SUM(a.amount) FROM payment_allocations a JOIN invoices i "
             "ON i.profile_id = a.profile_id AND i.id = a.invoice_id WHERE "
             "a.profile_id = $1 AND a.payment_id = $2 AND i.status <> "
             "'cancelled' AND i.customer_id = $3",
             v, 3, &allocated, e) ||
      scalar(c,
             "SELECT SUM(amount) FROM refunds WHERE profile_id = $1 AND "
             "payment_id = $2 AND customer_id = $3",
             v, 3, &refunded, e)) /* this refund included */
    return -1;
  if (refunded > amount) {
    char a[DEC_MAX_TEXT], b[DEC_MAX_TEXT];
    dec_format(amount - (refunded - r->amount), 2, a);
    dec_format(r->amount, 2, b);
    return biz_fail(e, E_OP_CONFLICT,
                    "payment %s has %s left to refund, not %s", r->payment_id,
                    a, b);
  }
  int64_t free_money = amount - allocated - refunded;
  if (free_money >= 0) return 0;
  return release_allocations(c, r, -free_money, e);
}

/* A refund naming no payment: out of the customer's credit, which is the
 * payments' money not allocated to live invoices nor refunded. */
static int refund_credit(biz_ctx *c, new_refund *r, biz_err *e) {
  db_val v[] = {db_uuid(c->profile_id), db_uuid(r->customer_id)};
  int64_t paid, allocated, refunded;
  if (scalar(c,
             "SELECT SUM(amount_received) FROM payments WHERE profile_id = $1 "
             "AND customer_id = $2",
             v, 2, &paid, e) ||
      scalar(c,
             "SELECT SUM(a.amount) FROM payment_allocations a JOIN invoices i "
             "ON i.profile_id = a.profile_id AND i.id = a.invoice_id WHERE "
             "a.profile_id = $1 AND i.customer_id = $2 AND i.status <> "
             "'cancelled'",
             v, 2, &allocated, e) ||
      scalar(c,
             "SELECT SUM(amount) FROM refunds WHERE profile_id = $1 AND "
             "customer_id = $2",
             v, 2, &refunded, e))
    return -1;
  int64_t credit = paid - allocated - (refunded - r->amount);
  if (r->amount > credit) {
    char a[DEC_MAX_TEXT], b[DEC_MAX_TEXT];
    dec_format(credit > 0 ? credit : 0, 2, a);
    dec_format(r->amount, 2, b);
    return biz_fail(e, E_OP_CONFLICT,
                    "the customer has %s of credit, not %s: name payment_id "
                    "to refund a payment that paid invoices",
                    a, b);
  }
  return 0;
}

/* The answer, which is also the payment.refunded event's snapshot.
 * with_reopened: 0 for a repeat (what reopened is told once). */
static void refund_json(const new_refund *r, int with_reopened, buf *out) {
  char amt[DEC_MAX_TEXT], debt[DEC_MAX_TEXT], when[TS_TEXT_LEN + 1];
  dec_format(r->amount, 2, amt);
  dec_format(r->debt, 2, debt);
  ts_format(r->refunded_at, when);
  buf_printf(out, "{\"id\":\"%s\",\"customer_id\":\"%s\",\"payment_id\":",
             r->id, r->customer_id);
  if (r->has_payment)
    buf_printf(out, "\"%s\"", r->payment_id);
  else
    buf_puts(out, "null");
  buf_printf(out, ",\"amount\":%s,\"refunded_at\":\"%s\",\"reason\":", amt,
             when);
  if (r->reason)
    json_write_str(out, r->reason, strlen(r->reason));
  else
    buf_puts(out, "null");
  buf_puts(out, ",\"provider\":");
  if (r->provider) {
    json_write_str(out, r->provider, strlen(r->provider));
    buf_puts(out, ",\"provider_refund_id\":");
    json_write_str(out, r->provider_refund_id, strlen(r->provider_refund_id));
  } else {
    buf_puts(out, "null,\"provider_refund_id\":null");
  }
  if (with_reopened)
    buf_printf(out, ",\"reopened\":[%s]", buf_cstr(&r->reopened));
  buf_printf(out, ",\"total_debt\":%s}", debt);
}

int op_record_refund(biz_ctx *c, const json *args, buf *out, biz_err *e) {
  new_refund r;
  memset(&r, 0, sizeof r);
  buf_init(&r.reopened, 0);
  buf snap;
  buf_init(&snap, 0);
  int rc = -1, found = 0;
  if (read_refund_args(c, args, &r, e)) goto out;
  if (r.provider) {
    if (earlier_refund(c, &r, &found, e)) goto out;
    if (found) goto answer;
  }
  if (r.has_payment && check_payment(c, &r, e)) goto out;
  /* A provider's refund: its row first, so a concurrent repeat waits on
   * the unique index and then writes nothing. Otherwise the customer's
   * lock first (biz.h's order), then the row. */
  if (r.provider) {
    if (insert_refund(c, &r, &found, e)) goto out;
    if (found) {
      if (earlier_refund(c, &r, &found, e)) goto out;
      if (!found) {
        rc = biz_fail(e, E_OP_CONFLICT, "refund %s changed meanwhile",
                      r.provider_refund_id);
        goto out;
      }
      goto answer;
    }
  }
  if (ledger_debt_add(c, r.customer_id, r.amount, &r.debt, NULL, e))
    goto out;
  if (!r.provider && insert_refund(c, &r, &found, e)) goto out;
  if (r.has_payment ? refund_payment(c, &r, e) : refund_credit(c, &r, e))
    goto out;
  /* What reopened takes the customer's other credit, as a new invoice
   * would. */
  if (r.nreopen && ledger_apply_credit(c, r.customer_id, e)) goto out;
  refund_json(&r, 1, &snap);
  if (ledger_event(c, "payment.refunded", "refund", r.id, buf_cstr(&snap), e))
    goto out;
  buf_append(out, snap.data, snap.len);
  rc = 0;
  goto out;
answer: /* recorded before: that refund, no event */
  refund_json(&r, 0, &snap);
  buf_append(out, snap.data, snap.len);
  rc = 0;
out:
  buf_free(&snap);
  buf_free(&r.reopened);
  return rc;
}

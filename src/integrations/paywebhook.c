/* paywebhook.c - POST /webhooks/razorpay/:id (a business's own Razorpay
 * account: that integration's webhook_secret) and POST /webhooks/razorpay
 * (the deployment's shared account: MUNSHI_RAZORPAY_WEBHOOK_SECRET, the
 * business found from the payment link's reference_id).
 *
 * The order is the point, as in chat/webhook.c: the size cap, then
 * X-Razorpay-Signature over the raw bytes in constant time BEFORE anything
 * parses the body (a wrong or missing one: 401, nothing written), then the
 * x-razorpay-event-id receipt (a delivery seen before: 200, nothing done),
 * then the parse (a signed body that is not an event: 400, nothing
 * written), then the business operation through biz_run:
 *   payment_link.paid / .partially_paid / payment.captured → record_payment
 *     with provider = razorpay and provider_payment_id = the payment's id,
 *     which records it once for ever whatever the order or number of the
 *     deliveries (the paid link and the captured payment of one payment
 *     are two events with two ids, and one payment);
 *   refund.processed → record_refund with provider_refund_id, likewise;
 *   payment_link.expired / .cancelled → the link's status.
 * The receipt (and a paid link's status) is written in the operation's own
 * transaction (biz_call.also), so a payment costs one commit and a
 * redelivery finds either everything or nothing; a repeated payment id
 * under a new event id answers what was recorded the first time. Events for payments munshi did not ask for (no
 * munshi reference) are acknowledged and ignored. An operation that fails
 * answers its error and writes no receipt, so Razorpay's retry gets
 * another chance; except a refund the books refuse (over-refund): that is
 * acknowledged with its receipt and a payment.refund_unapplied event, as
 * a retry would be refused for ever. A refund of a munshi link's payment
 * not recorded yet records the payment first from the entity the refund
 * carries; when it cannot, 503 and no receipt (Razorpay retries). Only
 * this path runs the operations with biz_call.from_provider, so only it
 * may set provider ids. */
#include <stdio.h>
#include <string.h>

#include "base/dec.h"
#include "base/json.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/uuid.h"
#include "biz/events.h"
#include "biz/run.h"
#include "integrations/integ_int.h"
#include "integrations/razorpay.h"

#define EVENT_ID_MAX 128

static const char *header(const api_req *req, const char *name) {
  return req->header ? req->header(req, name) : NULL;
}

/* Who the delivery is for: the integration's business, or (shared) any. */
typedef struct hook_scope {
  const char *scope;      /* integration id, or "global" */
  const char *profile_id; /* NULL on the shared route */
  const char *integration_id;
} hook_scope;

static int db_failed(api_resp *resp, const db_err *err, const char *what) {
  log_warn("razorpay webhook: %s: [%s] %s", what, err->code, err->message);
  return api_fail(resp, api_error_for_sqlstate(err->code), NULL, NULL, NULL);
}

static void acknowledged(api_resp *resp, const rzp_event *ev, const char *what,
                         const char *ignored) {
  json_obj o;
  resp->status = 200;
  buf_reset(&resp->body);
  json_obj_open(&o, &resp->body);
  json_obj_bool(&o, "received", 1);
  json_obj_str(&o, "event", ev ? ev->event : NULL);
  if (what) json_obj_raw(&o, "result", what);
  if (ignored) json_obj_str(&o, "ignored", ignored);
  json_obj_close(&o);
}

static int seen_before(db *d, const hook_scope *s, const char *event_id,
                       int *seen, api_resp *resp) {
  db_val v[] = {db_text(s->scope), db_text(event_id)};
  db_res *r = NULL;
  db_err err;
  *seen = 0;
  if (!event_id) return 0;
  if (db_query_fixed(d,
                     "SELECT 1 FROM webhook_receipts WHERE provider = "
                     "'razorpay' AND scope = $1 AND event_id = $2",
                     v, 2, &r, &err))
    return db_failed(resp, &err, "receipt");
  *seen = db_res_rows(r) > 0;
  db_res_free(r);
  return 0;
}

static int insert_receipt(db *d, const hook_scope *s, const char *event_id,
                          const char *profile_id, db_err *err) {
  if (!event_id) return 0;
  db_val v[] = {db_text(s->scope), db_text(event_id),
                profile_id ? db_uuid(profile_id) : db_null(),
                db_ts(time_now_us())};
  /* A concurrent delivery of the same event may have written it: the
   * operation it ran was the same one, recorded once. */
  return db_query_fixed(d,
                        "INSERT INTO webhook_receipts (provider, scope, "
                        "event_id, profile_id, received_at) VALUES "
                        "('razorpay', $1, $2, $3, $4) ON CONFLICT DO NOTHING",
                        v, 4, NULL, err);
}

/* The receipt of an event that ran no operation, on its own. */
static void write_receipt(db *d, const hook_scope *s, const char *event_id,
                          const char *profile_id) {
  db_err err;
  if (insert_receipt(d, s, event_id, profile_id, &err))
    log_warn("razorpay webhook: receipt not written: [%s] %s", err.code,
             err.message);
}

/* What goes into the operation's transaction (biz_call.also): the
 * receipt, and for a link's payment the link's own state, forward only
 * (paid is final). One commit for all of it. */
typedef struct op_extra {
  const hook_scope *s;
  const char *event_id, *profile_id;
  const char *link_row_id, *link_status; /* NULL: no link update */
  int64_t link_amount_paid;
  int done; /* set when it ran: the operation did write */
  int no_receipt; /* answered from what is recorded: nothing to write */
} op_extra;

static int also_write(db *d, void *cls, const char *answer, db_err *err) {
  (void)answer;
  op_extra *x = cls;
  if (insert_receipt(d, x->s, x->event_id, x->profile_id, err)) return -1;
  if (x->link_row_id) {
    db_val v[] = {db_text(x->link_status), db_money(x->link_amount_paid),
                  db_ts(time_now_us()), db_uuid(x->profile_id),
                  db_uuid(x->link_row_id)};
    if (db_query_fixed(d,
                       "UPDATE payment_links SET status = $1, amount_paid = "
                       "CASE WHEN amount_paid > $2 THEN amount_paid ELSE $2 "
                       "END, updated_at = $3 WHERE profile_id = $4 AND id = $5 "
                       "AND status <> 'paid'",
                       v, 5, NULL, err))
      return -1;
  }
  x->done = 1;
  return 0;
}

/* The link of a munshi reference, within the delivery's scope. */
typedef struct link_ref {
  char profile_id[37], id[37], invoice_id[37], customer_id[37];
  int found;
} link_ref;

static int find_link(db *d, const hook_scope *s, const char *reference,
                     link_ref *l, api_resp *resp) {
  db_val v[] = {db_text(reference)};
  db_res *r = NULL;
  db_err err;
  memset(l, 0, sizeof *l);
  if (db_query_fixed(d,
                     "SELECT l.profile_id, l.id, l.invoice_id, i.customer_id, "
                     "l.integration_id FROM payment_links l JOIN invoices i ON "
                     "i.profile_id = l.profile_id AND i.id = l.invoice_id "
                     "WHERE l.reference_id = $1",
                     v, 1, &r, &err))
    return db_failed(resp, &err, "payment link");
  if (db_res_rows(r) == 1) {
    const char *integ = db_res_isnull(r, 0, 4) ? NULL : db_res_text(r, 0, 4);
    /* A link belongs to the account that made it: the shared route takes
     * only links of the shared account, an integration's route only its
     * own business's links made with it. */
    int ok = s->integration_id
                 ? integ && !strcmp(integ, s->integration_id) &&
                       !strcmp(db_res_text(r, 0, 0), s->profile_id)
                 : integ == NULL;
    if (ok) {
      l->found = 1;
      uuid_normalize(db_res_text(r, 0, 0), l->profile_id);
      uuid_normalize(db_res_text(r, 0, 1), l->id);
      uuid_normalize(db_res_text(r, 0, 2), l->invoice_id);
      uuid_normalize(db_res_text(r, 0, 3), l->customer_id);
    }
  }
  db_res_free(r);
  return 0;
}

/* Razorpay's method → munshi's payment_mode. */
static const char *mode_of(const char *method) {
  if (!method) return "other";
  if (!strcmp(method, "upi")) return "upi";
  if (!strcmp(method, "card")) return "card";
  if (!strcmp(method, "netbanking") || !strcmp(method, "bank_transfer") ||
      !strcmp(method, "emandate"))
    return "bank_transfer";
  return "other";
}

/* Runs op with args (JSON text) for profile_id. 0, or -1 with resp set to
 * the operation's error. *result is its answer (in a). */
static int run_op(db *d, arena *a, const char *op, const char *profile_id,
                  const char *args_text, op_extra *x, const char **result,
                  api_resp *resp) {
  json *args;
  json_error je;
  if (json_parse(a, args_text, strlen(args_text), &args, &je))
    return api_fail(resp, E_INTERNAL, NULL, NULL, NULL);
  /* The one caller that may name provider ids: signed by Razorpay. */
  biz_call call = {.op = op, .profile_id = profile_id, .args = args, .a = a,
                   .also = also_write, .also_cls = x, .from_provider = 1};
  api_resp r;
  api_resp_init(&r);
  int rc = biz_run(d, &call, &r);
  if (rc) {
    resp->status = r.status;
    buf_reset(&resp->body);
    buf_append(&resp->body, r.body.data, r.body.len);
  } else {
    *result = arena_strndup(a, r.body.data ? r.body.data : "{}", r.body.len);
  }
  api_resp_free(&r);
  return rc;
}

/* A provider's unix time as a timestamp argument; a clock ahead of ours
 * is not "the future", and none is now. */
static void ts_text(int64_t unix_s, char out[TS_TEXT_LEN + 1]) {
  int64_t now = time_now_us();
  int64_t us = unix_s > 0 ? unix_s * 1000000 : now;
  ts_format(us > now ? now : us, out);
}

static int on_payment(db *d, arena *a, const hook_scope *s, const rzp_event *ev,
                      op_extra *x, const char **result, const char **ignored,
                      const char **profile_out, api_resp *resp) {
  const char *ref = ev->link_reference ? ev->link_reference : ev->payment_reference;
  if (!ref) {
    *ignored = "not a payment of a munshi payment link";
    return 0;
  }
  link_ref l;
  if (find_link(d, s, ref, &l, resp)) return -1;
  if (!l.found) {
    *ignored = "no payment link of this account has that reference_id";
    return 0;
  }
  *profile_out = arena_strdup(a, l.profile_id);
  if (ev->kind == RZP_EV_PAYMENT_CAPTURED) {
    /* Razorpay sends payment.captured beside payment_link.paid for the same
     * payment: when that one came first, this one is answered from what
     * was recorded, with no write at all (half of a link's webhooks). The
     * link's own events still go through the operation, for its state. */
    db_val v[] = {db_uuid(l.profile_id), db_text(ev->payment_id)};
    db_res *r = NULL;
    db_err err;
    if (db_query_fixed(d,
                       "SELECT id FROM payments WHERE profile_id = $1 AND "
                       "provider = 'razorpay' AND provider_payment_id = $2",
                       v, 2, &r, &err))
      return db_failed(resp, &err, "payment");
    if (db_res_rows(r) == 1) {
      char pid[37];
      uuid_normalize(db_res_text(r, 0, 0), pid);
      *result = arena_printf(a, "{\"id\":\"%s\",\"recorded_before\":true}", pid);
      x->no_receipt = 1;
    }
    db_res_free(r);
    if (x->no_receipt) return 0;
  }
  char amt[DEC_MAX_TEXT];
  dec_format(ev->payment_amount, 2, amt);
  buf b;
  buf_init(&b, 0);
  buf_printf(&b,
             "{\"customer_id\":\"%s\",\"invoice_id\":\"%s\","
             "\"amount_received\":%s,\"payment_mode\":\"%s\","
             "\"provider\":\"razorpay\",\"provider_payment_id\":",
             l.customer_id, l.invoice_id, amt, mode_of(ev->payment_method));
  json_write_str(&b, ev->payment_id, strlen(ev->payment_id));
  buf_puts(&b, ",\"reference\":");
  json_write_str(&b, ev->payment_id, strlen(ev->payment_id));
  char when[TS_TEXT_LEN + 1];
  ts_text(ev->payment_created_s, when);
  buf_printf(&b, ",\"notes\":\"Razorpay payment link\",\"received_at\":\"%s\"}",
             when);
  x->profile_id = *profile_out;
  if (ev->kind == RZP_EV_LINK_PAID || ev->kind == RZP_EV_LINK_PARTIAL) {
    x->link_row_id = arena_strdup(a, l.id);
    x->link_status = ev->kind == RZP_EV_LINK_PAID ? "paid" : "partially_paid";
    x->link_amount_paid = ev->link_amount_paid;
  }
  int rc = run_op(d, a, "record_payment", l.profile_id, buf_cstr(&b), x,
                  result, resp);
  buf_free(&b);
  return rc;
}

static int on_link_closed(db *d, arena *a, const hook_scope *s,
                          const rzp_event *ev, const char **ignored,
                          const char **profile_out, api_resp *resp) {
  link_ref l;
  if (find_link(d, s, ev->link_reference, &l, resp)) return -1;
  if (!l.found) {
    *ignored = "no payment link of this account has that reference_id";
    return 0;
  }
  *profile_out = arena_strdup(a, l.profile_id);
  const char *st = ev->kind == RZP_EV_LINK_EXPIRED ? "expired" : "cancelled";
  db_val v[] = {db_text(st), db_ts(time_now_us()), db_uuid(l.profile_id),
                db_uuid(l.id)};
  db_err err;
  if (db_query_fixed(d,
                     "UPDATE payment_links SET status = $1, updated_at = $2 "
                     "WHERE profile_id = $3 AND id = $4 AND status IN "
                     "('created', 'partially_paid')",
                     v, 4, NULL, &err))
    return db_failed(resp, &err, "payment link status");
  return 0;
}

/* The payment munshi recorded for the refunded Razorpay payment, in the
 * business already found for it: *found, and its row id and customer. */
static int refunded_payment(db *d, const char *profile, const char *pay_id,
                            char pay[37], char cust[37], int *found,
                            api_resp *resp) {
  db_val v[] = {db_uuid(profile), db_text(pay_id)};
  db_res *r = NULL;
  db_err err;
  *found = 0;
  if (db_query_fixed(d,
                     "SELECT id, customer_id FROM payments WHERE profile_id = "
                     "$1 AND provider = 'razorpay' AND provider_payment_id = $2",
                     v, 2, &r, &err))
    return db_failed(resp, &err, "refunded payment");
  if (db_res_rows(r) == 1) {
    *found = 1;
    uuid_normalize(db_res_text(r, 0, 0), pay);
    uuid_normalize(db_res_text(r, 0, 1), cust);
  }
  db_res_free(r);
  return 0;
}

/* A refund the books refused (over-refund, ...): Razorpay gave the money
 * back all the same, and a retry would be refused the same way for ever.
 * So it is acknowledged, and kept visible instead: the receipt and a
 * payment.refund_unapplied event (the owner's workflows or dashboard can
 * act on it) in one transaction, and a warning in the log. */
static int refund_unapplied(db *d, arena *a, const hook_scope *s,
                            const rzp_event *ev, const char *event_id,
                            const char *profile, const char *pay,
                            const char *error_json, api_resp *resp) {
  buf p;
  buf_init(&p, 0);
  char amt[DEC_MAX_TEXT];
  dec_format(ev->refund_amount, 2, amt);
  buf_printf(&p, "{\"payment_id\":\"%s\",\"provider\":\"razorpay\","
                 "\"provider_payment_id\":", pay);
  json_write_str(&p, ev->refund_payment_id, strlen(ev->refund_payment_id));
  buf_puts(&p, ",\"provider_refund_id\":");
  json_write_str(&p, ev->refund_id, strlen(ev->refund_id));
  buf_printf(&p, ",\"amount\":%s,\"error\":%s}", amt, error_json);
  log_warn("razorpay webhook: refund %s of %s (%s) not applied to the books: %s",
           ev->refund_id, ev->refund_payment_id, amt, error_json);
  db_err err;
  int rc = -1;
  if (db_begin(d, 1, &err)) goto fail;
  if (insert_receipt(d, s, event_id, profile, &err) ||
      event_emit(d, profile, "payment.refund_unapplied", "payment", pay,
                 buf_cstr(&p), NULL, &err)) {
    db_rollback(d);
    goto fail;
  }
  if (db_commit(d, &err)) goto fail;
  rc = 0;
  json_obj o;
  resp->status = 200;
  buf_reset(&resp->body);
  json_obj_open(&o, &resp->body);
  json_obj_bool(&o, "received", 1);
  json_obj_str(&o, "event", ev->event);
  json_obj_raw(&o, "not_applied", error_json);
  json_obj_close(&o);
  goto out;
fail:
  db_failed(resp, &err, "unapplied refund");
out:
  (void)a;
  buf_free(&p);
  return rc;
}

/* refund.processed. The business is found as a payment's is: from the
 * munshi reference in the refunded payment's notes, through a payment link
 * of this delivery's account (the shared route: links of the shared
 * account; an integration's route: its own business's links made with it).
 * Never by looking the pay_ id up across businesses. On an integration's
 * route a payment entity without a reference is looked for in that
 * business only (only its own Razorpay account can sign it). */
static int on_refund(db *d, arena *a, const hook_scope *s, const rzp_event *ev,
                     op_extra *x, const char **result, const char **ignored,
                     const char **profile_out, api_resp *resp) {
  char profile[37];
  const char *ref = ev->payment_reference;
  if (ref) {
    link_ref l;
    if (find_link(d, s, ref, &l, resp)) return -1;
    if (!l.found) {
      *ignored = "no payment link of this account has that reference_id";
      return 0;
    }
    memcpy(profile, l.profile_id, sizeof profile);
  } else if (s->profile_id) {
    uuid_normalize(s->profile_id, profile);
  } else {
    *ignored = "not a refund of a payment of a munshi payment link";
    return 0;
  }
  *profile_out = arena_strdup(a, profile);
  char pay[37], cust[37];
  int found;
  if (refunded_payment(d, profile, ev->refund_payment_id, pay, cust, &found,
                       resp))
    return -1;
  if (!found && ref && ev->payment_id) {
    /* Delivered before its payment's own event (Razorpay does not keep
     * order): the payment is recorded first from the entity the refund
     * carries, as payment.captured would record it (once for ever: its
     * own event, later, answers this row), then the refund. No receipt
     * for this step: the refund's receipt comes with the refund. */
    rzp_event pe = *ev;
    pe.kind = RZP_EV_PAYMENT_CAPTURED;
    pe.link_reference = NULL;
    op_extra px = {.s = s};
    const char *pres = NULL, *pign = NULL, *pprof = NULL;
    if (on_payment(d, a, s, &pe, &px, &pres, &pign, &pprof, resp)) return -1;
    if (refunded_payment(d, profile, ev->refund_payment_id, pay, cust, &found,
                         resp))
      return -1;
  }
  if (!found) {
    if (!ref) {
      /* The account's payment, not one of a munshi link: not ours. */
      *ignored = "the refunded payment is not one munshi recorded";
      return 0;
    }
    /* Ours (a munshi link's payment) but not recorded and not recordable
     * from this delivery: no receipt, so Razorpay delivers it again later,
     * when the payment's own event has come. */
    log_warn("razorpay webhook: refund %s of %s before its payment: retry",
             ev->refund_id, ev->refund_payment_id);
    return api_fail(resp, E_UNAVAILABLE,
                    "the refunded payment is not recorded yet; deliver again "
                    "later",
                    NULL, NULL);
  }
  char amt[DEC_MAX_TEXT];
  dec_format(ev->refund_amount, 2, amt);
  char when[TS_TEXT_LEN + 1];
  ts_text(ev->refund_created_s, when);
  buf b;
  buf_init(&b, 0);
  buf_printf(&b,
             "{\"customer_id\":\"%s\",\"payment_id\":\"%s\",\"amount\":%s,"
             "\"provider\":\"razorpay\",\"reason\":\"Razorpay refund\","
             "\"refunded_at\":\"%s\",\"provider_refund_id\":",
             cust, pay, amt, when);
  json_write_str(&b, ev->refund_id, strlen(ev->refund_id));
  buf_putc(&b, '}');
  x->profile_id = *profile_out;
  int rc = run_op(d, a, "record_refund", profile, buf_cstr(&b), x, result, resp);
  buf_free(&b);
  if (rc && resp->status >= 400 && resp->status < 500) {
    /* Refused by the books: acknowledged and kept visible (see above). */
    const char *error_json =
        arena_strndup(a, resp->body.data ? resp->body.data : "{}",
                      resp->body.len);
    if (refund_unapplied(d, a, s, ev, x->event_id, profile, pay, error_json,
                         resp))
      return -1;
    *ignored = NULL;
    return 1; /* answered */
  }
  return rc;
}

void integ_razorpay_webhook(db *d, api_req *req, api_resp *resp) {
  arena *a = req->a;
  if (req->body_len > RZP_WEBHOOK_MAX_BODY) {
    api_failf(resp, E_TOO_LARGE, "a webhook body has at most %d bytes",
              RZP_WEBHOOK_MAX_BODY);
    return;
  }
  hook_scope s = {.scope = "global"};
  const char *secret = integ_settings_get()->razorpay_webhook_secret;
  const char *id = api_param(req, "id");
  if (id) {
    integ_creds c;
    int found;
    db_err err;
    if (integ_creds_by_id(d, a, id, "razorpay", &c, &found, &err)) {
      db_failed(resp, &err, "integration");
      return;
    }
    if (!found || !c.is_active) {
      api_fail(resp, E_OP_NOT_FOUND, "no such Razorpay integration", NULL, NULL);
      return;
    }
    secret = c.webhook_secret;
    s.scope = arena_strdup(a, c.id);
    s.integration_id = s.scope;
    s.profile_id = arena_strdup(a, c.profile_id);
  }
  if (!secret || !*secret) {
    api_fail(resp, E_NO_AUTH, "no webhook secret is configured for this webhook",
             NULL, NULL);
    return;
  }
  if (!rzp_signature_ok(secret, req->body, req->body_len,
                        header(req, "X-Razorpay-Signature"))) {
    api_fail(resp, E_NO_AUTH, "missing or wrong X-Razorpay-Signature", NULL,
             NULL);
    return;
  }
  /* Signed: now the body and the headers may be read. */
  const char *event_id = header(req, "x-razorpay-event-id");
  if (event_id) {
    size_t n = strlen(event_id);
    int ok = n >= 1 && n <= EVENT_ID_MAX;
    for (size_t i = 0; ok && i < n; i++)
      ok = event_id[i] > 0x20 && event_id[i] < 0x7f;
    if (!ok) {
      api_fail(resp, E_BAD_VALUE,
               "x-razorpay-event-id must be 1 to 128 printable characters",
               NULL, NULL);
      return;
    }
  }
  int seen;
  if (seen_before(d, &s, event_id, &seen, resp)) return;
  rzp_event ev;
  char why[160];
  if (rzp_event_parse(a, req->body, req->body_len, &ev, why, sizeof why)) {
    api_fail(resp, E_BAD_JSON, why, NULL, NULL);
    return;
  }
  if (seen) {
    acknowledged(resp, &ev, NULL, "a delivery of an event handled before");
    return;
  }
  const char *result = NULL, *ignored = NULL, *profile = s.profile_id;
  op_extra x = {.s = &s, .event_id = event_id};
  int rc = 0;
  switch (ev.kind) {
    case RZP_EV_LINK_PAID:
    case RZP_EV_LINK_PARTIAL:
    case RZP_EV_PAYMENT_CAPTURED:
      rc = on_payment(d, a, &s, &ev, &x, &result, &ignored, &profile, resp);
      break;
    case RZP_EV_LINK_EXPIRED:
    case RZP_EV_LINK_CANCELLED:
      rc = on_link_closed(d, a, &s, &ev, &ignored, &profile, resp);
      break;
    case RZP_EV_REFUND_PROCESSED:
      rc = on_refund(d, a, &s, &ev, &x, &result, &ignored, &profile, resp);
      break;
    default:
      ignored = "an event munshi does not act on";
  }
  if (rc > 0) return; /* answered already (an unapplied refund) */
  if (rc) return; /* resp holds the error; no receipt: a retry may do it */
  if (!x.done && !x.no_receipt) write_receipt(d, &s, event_id, profile);
  acknowledged(resp, &ev, result, ignored);
}

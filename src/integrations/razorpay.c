/* razorpay.c - Razorpay's wire formats (razorpay.h): the webhook signature,
 * the webhook events munshi acts on, the payment link request and answers,
 * and the error shape. Pure functions; the calls are in paylink.c and the
 * webhook route in paywebhook.c. */
#include "integrations/razorpay.h"

#include <stdio.h>
#include <string.h>

#include "base/crypto.h"
#include "base/json.h"

int rzp_signature_ok(const char *secret, const void *body, size_t n,
                     const char *sig_hex) {
  if (!secret || !*secret || !sig_hex || strlen(sig_hex) != 64) return 0;
  char got[65];
  for (int i = 0; i < 64; i++) {
    char ch = sig_hex[i];
    if (ch >= 'A' && ch <= 'F') ch = (char)(ch - 'A' + 'a');
    got[i] = ch;
  }
  got[64] = 0;
  uint8_t mac[32];
  char want[65];
  hmac_sha256(secret, strlen(secret), body, n, mac);
  hex_encode(mac, 32, want);
  return ct_equal(want, got, 64);
}

static int fail(char *why, size_t whylen, const char *msg) {
  if (why && whylen) snprintf(why, whylen, "%s", msg);
  return -1;
}

/* A Razorpay id: 1..64 of [A-Za-z0-9_]. */
static int id_ok(const json *v) {
  if (!v || v->type != JSON_STRING || v->len == 0 || v->len > RZP_ID_MAX)
    return 0;
  for (size_t i = 0; i < v->len; i++) {
    char c = v->str[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_'))
      return 0;
  }
  return 1;
}

/* A short printable ASCII string (statuses, methods, references). */
static int word_ok(const json *v, size_t max) {
  if (!v || v->type != JSON_STRING || v->len == 0 || v->len > max) return 0;
  for (size_t i = 0; i < v->len; i++)
    if ((unsigned char)v->str[i] < 0x21 || (unsigned char)v->str[i] > 0x7e)
      return 0;
  return 1;
}

/* An amount in paise: an integer JSON number, 0 ≤ v ≤ RZP_AMOUNT_MAX. */
static int amount_ok(const json *v, int64_t *out) {
  if (!v || v->type != JSON_NUMBER || json_int64(v, out)) return 0;
  return *out >= 0 && *out <= RZP_AMOUNT_MAX;
}

static const json *entity(const json *payload, const char *name) {
  return json_get_obj(json_get_obj(payload, name), "entity");
}

static int currency_inr(const json *ent) {
  const json *c = json_get(ent, "currency");
  return !c || c->type == JSON_NULL ||
         (c->type == JSON_STRING && c->len == 3 && !memcmp(c->str, "INR", 3));
}

static const char *dup(arena *a, const json *v) {
  return arena_strndup(a, v->str, v->len);
}

static int parse_payment(arena *a, const json *p, rzp_event *ev, char *why,
                         size_t whylen) {
  if (!p) return fail(why, whylen, "payload.payment.entity is missing");
  if (!id_ok(json_get(p, "id")))
    return fail(why, whylen, "payment.entity.id is not a Razorpay id");
  if (!amount_ok(json_get(p, "amount"), &ev->payment_amount) ||
      ev->payment_amount == 0)
    return fail(why, whylen,
                "payment.entity.amount must be a positive integer of paise");
  if (!currency_inr(p))
    return fail(why, whylen, "payment.entity.currency is not INR");
  ev->payment_id = dup(a, json_get(p, "id"));
  const json *m = json_get(p, "method");
  if (word_ok(m, 32)) ev->payment_method = dup(a, m);
  int64_t t;
  const json *ca = json_get(p, "created_at");
  if (ca && ca->type == JSON_NUMBER && !json_int64(ca, &t) && t > 0 &&
      t < 253402300800LL)
    ev->payment_created_s = t;
  const json *ref = json_get(json_get_obj(p, "notes"), "munshi_reference");
  if (word_ok(ref, RZP_REFERENCE_MAX)) ev->payment_reference = dup(a, ref);
  return 0;
}

static int parse_link(arena *a, const json *l, rzp_event *ev, char *why,
                      size_t whylen) {
  if (!l) return fail(why, whylen, "payload.payment_link.entity is missing");
  if (!id_ok(json_get(l, "id")))
    return fail(why, whylen, "payment_link.entity.id is not a Razorpay id");
  ev->link_id = dup(a, json_get(l, "id"));
  const json *ref = json_get(l, "reference_id");
  if (!word_ok(ref, RZP_REFERENCE_MAX))
    return fail(why, whylen,
                "payment_link.entity.reference_id must be 1 to 40 characters");
  ev->link_reference = dup(a, ref);
  const json *st = json_get(l, "status");
  if (word_ok(st, 32)) ev->link_status = dup(a, st);
  const json *amt = json_get(l, "amount"), *paid = json_get(l, "amount_paid");
  if ((amt && !amount_ok(amt, &ev->link_amount)) ||
      (paid && paid->type != JSON_NULL &&
       !amount_ok(paid, &ev->link_amount_paid)))
    return fail(why, whylen,
                "payment_link.entity amounts must be integers of paise");
  return 0;
}

static const struct {
  const char *name;
  rzp_event_kind kind;
} KINDS[] = {
    {"payment_link.paid", RZP_EV_LINK_PAID},
    {"payment_link.partially_paid", RZP_EV_LINK_PARTIAL},
    {"payment_link.expired", RZP_EV_LINK_EXPIRED},
    {"payment_link.cancelled", RZP_EV_LINK_CANCELLED},
    {"payment.captured", RZP_EV_PAYMENT_CAPTURED},
    {"refund.processed", RZP_EV_REFUND_PROCESSED},
};

int rzp_event_parse(arena *a, const char *body, size_t n, rzp_event *ev,
                    char *why, size_t whylen) {
  memset(ev, 0, sizeof *ev);
  json *root;
  json_error je;
  if (n > RZP_WEBHOOK_MAX_BODY)
    return fail(why, whylen, "the body is too large");
  if (json_parse(a, body, n, &root, &je) || root->type != JSON_OBJECT)
    return fail(why, whylen, "the body is not a JSON object");
  const json *name = json_get(root, "event");
  if (!word_ok(name, 64))
    return fail(why, whylen, "\"event\" must be the event's name");
  ev->event = dup(a, name);
  for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
    if (!strcmp(KINDS[i].name, ev->event)) ev->kind = KINDS[i].kind;
  if (ev->kind == RZP_EV_OTHER) return 0;
  const json *payload = json_get_obj(root, "payload");
  if (!payload) return fail(why, whylen, "\"payload\" must be an object");
  switch (ev->kind) {
    case RZP_EV_LINK_PAID:
    case RZP_EV_LINK_PARTIAL:
      if (parse_link(a, entity(payload, "payment_link"), ev, why, whylen) ||
          parse_payment(a, entity(payload, "payment"), ev, why, whylen))
        goto bad;
      return 0;
    case RZP_EV_LINK_EXPIRED:
    case RZP_EV_LINK_CANCELLED:
      if (parse_link(a, entity(payload, "payment_link"), ev, why, whylen))
        goto bad;
      return 0;
    case RZP_EV_PAYMENT_CAPTURED:
      if (parse_payment(a, entity(payload, "payment"), ev, why, whylen))
        goto bad;
      return 0;
    case RZP_EV_REFUND_PROCESSED: {
      const json *r = entity(payload, "refund");
      if (!r) {
        fail(why, whylen, "payload.refund.entity is missing");
        goto bad;
      }
      if (!id_ok(json_get(r, "id")) || !id_ok(json_get(r, "payment_id"))) {
        fail(why, whylen, "refund.entity.id and payment_id must be Razorpay ids");
        goto bad;
      }
      if (!amount_ok(json_get(r, "amount"), &ev->refund_amount) ||
          ev->refund_amount == 0 || !currency_inr(r)) {
        fail(why, whylen,
             "refund.entity.amount must be a positive integer of paise in INR");
        goto bad;
      }
      ev->refund_id = dup(a, json_get(r, "id"));
      ev->refund_payment_id = dup(a, json_get(r, "payment_id"));
      int64_t t;
      const json *ca = json_get(r, "created_at");
      if (ca && ca->type == JSON_NUMBER && !json_int64(ca, &t) && t > 0 &&
          t < 253402300800LL)
        ev->refund_created_s = t;
      /* The refunded payment, which Razorpay's refund.processed carries:
       * its notes name the munshi link it paid (how the webhook finds the
       * business) and it lets an early refund record its payment first.
       * Taken only when well formed and the refund's own payment. */
      const json *pent = entity(payload, "payment");
      rzp_event pe;
      char pwhy[160];
      memset(&pe, 0, sizeof pe);
      if (pent && !parse_payment(a, pent, &pe, pwhy, sizeof pwhy) &&
          !strcmp(pe.payment_id, ev->refund_payment_id)) {
        ev->payment_id = pe.payment_id;
        ev->payment_method = pe.payment_method;
        ev->payment_amount = pe.payment_amount;
        ev->payment_created_s = pe.payment_created_s;
        ev->payment_reference = pe.payment_reference;
      }
      return 0;
    }
    default:
      return 0;
  }
bad:
  {
    rzp_event_kind k = ev->kind;
    const char *e = ev->event;
    memset(ev, 0, sizeof *ev);
    ev->kind = k;
    ev->event = e;
  }
  return -1;
}

int rzp_link_request(buf *out, const rzp_link_req *r) {
  json_obj o, cust, notify, notes;
  json_obj_open(&o, out);
  json_obj_int(&o, "amount", r->amount);
  json_obj_str(&o, "currency", "INR");
  json_obj_bool(&o, "accept_partial", 1);
  json_obj_str(&o, "reference_id", r->reference_id);
  if (r->description) json_obj_str(&o, "description", r->description);
  if (r->expire_by_s > 0) json_obj_int(&o, "expire_by", r->expire_by_s);
  if (r->customer_name || r->customer_contact || r->customer_email) {
    json_obj_nest(&o, "customer", &cust);
    if (r->customer_name) json_obj_str(&cust, "name", r->customer_name);
    if (r->customer_contact) json_obj_str(&cust, "contact", r->customer_contact);
    if (r->customer_email) json_obj_str(&cust, "email", r->customer_email);
    json_obj_close(&cust);
  }
  /* munshi sends the link on WhatsApp itself. */
  json_obj_nest(&o, "notify", &notify);
  json_obj_bool(&notify, "sms", 0);
  json_obj_bool(&notify, "email", 0);
  json_obj_close(&notify);
  json_obj_bool(&o, "reminder_enable", 0);
  json_obj_nest(&o, "notes", &notes);
  json_obj_str(&notes, "munshi_reference", r->reference_id);
  json_obj_close(&notes);
  return json_obj_close(&o);
}

static int link_from(arena *a, const json *v, rzp_link *out, char *why,
                     size_t whylen) {
  memset(out, 0, sizeof *out);
  if (!v || v->type != JSON_OBJECT)
    return fail(why, whylen, "the payment link is not a JSON object");
  const json *id = json_get(v, "id"), *url = json_get(v, "short_url");
  if (!id_ok(id)) return fail(why, whylen, "the payment link has no id");
  if (!url || url->type != JSON_STRING || url->len == 0 || url->len > 2048 ||
      !utf8_valid(url->str, url->len))
    return fail(why, whylen, "the payment link has no short_url");
  out->id = dup(a, id);
  out->short_url = dup(a, url);
  const json *st = json_get(v, "status"), *ref = json_get(v, "reference_id");
  if (word_ok(st, 32)) out->status = dup(a, st);
  if (word_ok(ref, RZP_REFERENCE_MAX)) out->reference_id = dup(a, ref);
  const json *amt = json_get(v, "amount"), *paid = json_get(v, "amount_paid");
  if ((amt && !amount_ok(amt, &out->amount)) ||
      (paid && paid->type != JSON_NULL && !amount_ok(paid, &out->amount_paid)))
    return fail(why, whylen, "the payment link's amounts are not integers");
  const json *ex = json_get(v, "expire_by");
  int64_t t;
  if (ex && ex->type == JSON_NUMBER && !json_int64(ex, &t) && t > 0 &&
      t < 253402300800LL)
    out->expire_by_s = t;
  return 0;
}

int rzp_link_parse(arena *a, const char *body, size_t n, rzp_link *out,
                   char *why, size_t whylen) {
  json *root;
  json_error je;
  if (json_parse(a, body, n, &root, &je))
    return fail(why, whylen, "the answer is not JSON");
  return link_from(a, root, out, why, whylen);
}

int rzp_link_list_find(arena *a, const char *body, size_t n,
                       const char *reference_id, rzp_link *out, int *found,
                       char *why, size_t whylen) {
  *found = 0;
  json *root;
  json_error je;
  if (json_parse(a, body, n, &root, &je))
    return fail(why, whylen, "the answer is not JSON");
  const json *list = json_get(root, "payment_links");
  if (!list || list->type != JSON_ARRAY)
    return fail(why, whylen, "the answer has no payment_links list");
  for (size_t i = 0; i < list->n; i++) {
    const json *ref = json_get(list->items[i], "reference_id");
    if (!ref || ref->type != JSON_STRING || strlen(reference_id) != ref->len ||
        memcmp(ref->str, reference_id, ref->len))
      continue;
    if (link_from(a, list->items[i], out, why, whylen)) return -1;
    *found = 1;
    return 0;
  }
  return 0;
}

static const char *opt_str(arena *a, const json *o, const char *key) {
  const json *v = json_get(o, key);
  if (!v || v->type != JSON_STRING || v->len > 1000) return NULL;
  return dup(a, v);
}

int rzp_error_parse(arena *a, const char *body, size_t n, rzp_error *out) {
  memset(out, 0, sizeof *out);
  json *root;
  json_error je;
  if (json_parse(a, body, n, &root, &je)) return -1;
  const json *e = json_get_obj(root, "error");
  if (!e) return -1;
  out->code = opt_str(a, e, "code");
  out->description = opt_str(a, e, "description");
  out->field = opt_str(a, e, "field");
  out->reason = opt_str(a, e, "reason");
  out->source = opt_str(a, e, "source");
  out->step = opt_str(a, e, "step");
  return out->code || out->description ? 0 : -1;
}

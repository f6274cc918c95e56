/* razorpay.h - what munshi says to Razorpay and what Razorpay says back, as
 * pure functions (bytes in, struct out; no database, no network), so each
 * is unit-tested and the webhook parser fuzzed (tests/fuzz).
 *
 *   rzp_signature_ok     X-Razorpay-Signature: hex HMAC-SHA256 of the raw
 *                        body with the webhook secret, compared in
 *                        constant time. Checked BEFORE anything parses.
 *   rzp_event_parse      a webhook body: payment_link.paid / .partially_paid
 *                        / .expired / .cancelled, payment.captured,
 *                        refund.processed; anything else is "other".
 *   rzp_link_request     the body of POST /payment_links.
 *   rzp_link_parse       a payment link entity (the create answer).
 *   rzp_link_list_find   GET /payment_links?reference_id=: the one with it.
 *   rzp_error_parse      {"error":{"code","description","field",...}}.
 *
 * Money is integer paise: Razorpay's amounts are integers in the smallest
 * unit, and a fraction, an exponent, a string or a negative is refused. */
#ifndef MUNSHI_INTEGRATIONS_RAZORPAY_H
#define MUNSHI_INTEGRATIONS_RAZORPAY_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"

/* Largest webhook body accepted (413 above it): Razorpay's events are a
 * few kilobytes. */
#define RZP_WEBHOOK_MAX_BODY (256 * 1024)
/* Razorpay ids (pay_…, plink_…, rfnd_…) fit this (the schema's cap). */
#define RZP_ID_MAX 64
/* reference_id: Razorpay takes at most 40 characters. */
#define RZP_REFERENCE_MAX 40
/* Largest amount taken: numeric(14,2) holds below 10^14 paise. */
#define RZP_AMOUNT_MAX 99999999999999LL

/* 1 when sig_hex (the header's value, any case) is the hex HMAC-SHA256 of
 * body[0..n) under secret; 0 otherwise, also for a missing secret or
 * header. Constant time in where they differ. */
int rzp_signature_ok(const char *secret, const void *body, size_t n,
                     const char *sig_hex);

typedef enum rzp_event_kind {
  RZP_EV_OTHER = 0,       /* an event munshi does not act on */
  RZP_EV_LINK_PAID,       /* payment_link.paid */
  RZP_EV_LINK_PARTIAL,    /* payment_link.partially_paid */
  RZP_EV_LINK_EXPIRED,    /* payment_link.expired */
  RZP_EV_LINK_CANCELLED,  /* payment_link.cancelled */
  RZP_EV_PAYMENT_CAPTURED,/* payment.captured */
  RZP_EV_REFUND_PROCESSED /* refund.processed */
} rzp_event_kind;

/* A parsed webhook. Strings are from the arena; what the event does not
 * carry is NULL (or 0). */
typedef struct rzp_event {
  rzp_event_kind kind;
  const char *event; /* the name as sent */
  /* payload.payment.entity (link paid/partially paid, payment.captured,
   * and refund.processed when present) */
  const char *payment_id, *payment_method;
  int64_t payment_amount; /* paise */
  int64_t payment_created_s; /* unix seconds; 0 when absent */
  /* payload.payment.entity.notes.munshi_reference, the reference munshi
   * put in the link's notes (NULL when absent). On refund.processed the
   * payment fields are set only when its payment entity is well formed and
   * is the refund's payment (payment_id == refund_payment_id). */
  const char *payment_reference;
  /* payload.payment_link.entity */
  const char *link_id, *link_reference, *link_status;
  int64_t link_amount, link_amount_paid;
  /* payload.refund.entity */
  const char *refund_id, *refund_payment_id;
  int64_t refund_amount, refund_created_s;
} rzp_event;

/* Parses a webhook body. 0 with *ev filled (RZP_EV_OTHER for events not
 * acted on: only "event" is then checked), or -1 with why set (a body that
 * is not an event, or an acted-on event missing or mistyping a field). */
int rzp_event_parse(arena *a, const char *body, size_t n, rzp_event *ev,
                    char *why, size_t whylen);

/* What to ask POST /payment_links for. */
typedef struct rzp_link_req {
  int64_t amount;           /* paise, > 0 */
  const char *reference_id; /* ≤ 40 characters, unique in the account */
  const char *description;  /* may be NULL */
  const char *customer_name, *customer_contact, *customer_email; /* NULL ok */
  int64_t expire_by_s;      /* unix seconds; 0: Razorpay's default */
} rzp_link_req;

/* Appends the JSON body (INR, partial payments accepted, Razorpay not
 * sending its own SMS/email: munshi sends the link itself, and
 * notes.munshi_reference = reference_id). -1 on a cap. */
int rzp_link_request(buf *out, const rzp_link_req *r);

/* A payment link entity as munshi keeps it. */
typedef struct rzp_link {
  const char *id, *short_url, *status, *reference_id;
  int64_t amount, amount_paid;
  int64_t expire_by_s;
} rzp_link;

/* The entity v (parsed JSON) or body: 0, or -1 with why (no id, no
 * short_url, amounts not integers). */
int rzp_link_parse(arena *a, const char *body, size_t n, rzp_link *out,
                   char *why, size_t whylen);
/* In the answer of GET /payment_links?reference_id=…, the link with that
 * reference: *found 1 and out filled, or *found 0. -1 when the answer is
 * not a list of links. */
int rzp_link_list_find(arena *a, const char *body, size_t n,
                       const char *reference_id, rzp_link *out, int *found,
                       char *why, size_t whylen);

/* Razorpay's error answer. Fields are NULL when absent. */
typedef struct rzp_error {
  const char *code, *description, *field, *reason, *source, *step;
} rzp_error;
/* 0 when body is {"error":{...}} with at least a description or a code;
 * -1 otherwise. */
int rzp_error_parse(arena *a, const char *body, size_t n, rzp_error *out);

#endif

/* shiprocket.h - the Shiprocket client (docs/integrations.md).
 *
 * Two halves. The pure half builds request bodies and reads Shiprocket's
 * answers and tracking webhooks: bytes in, a struct out, strings in the
 * caller's arena, nothing else touched; these are unit-tested and fuzzed.
 * The calling half (sr_call) sends a request for one business with its
 * integration's token: the token is kept in integration_tokens until
 * shortly before Shiprocket's 10 days run out, made again when the
 * integration's credentials changed since (creds_at), and made again once
 * when a call is answered 401. No call is made while a transaction is open
 * (the caller's duty), and no token, password or body reaches a log.
 *
 * Facts of Shiprocket's public API used here (apidocs.shiprocket.in):
 * POST /auth/login {email,password} -> {token}; POST /orders/create/adhoc
 * -> {order_id, shipment_id}; GET /orders?search=<channel order id> ->
 * {data:[{id, channel_order_id, status, shipments:[{id}]}]}; POST
 * /courier/assign/awb {shipment_id, courier_id?} -> {awb_assign_status,
 * response:{data:{awb_code, courier_company_id, courier_name}}}; POST
 * /courier/generate/pickup {shipment_id:[id]} -> {pickup_status,
 * response:{pickup_scheduled_date}}; POST /courier/generate/label
 * {shipment_id:[id]} -> {label_created, label_url}; GET
 * /courier/track/awb/<awb> -> {tracking_data:{shipment_status,
 * shipment_track:[{courier_name, current_status}], shipment_track_activities:
 * [{date, status, activity, location, sr-status}], track_url, etd}}; errors
 * {message, errors:{field:[text]}, status_code}. Dates are IST wall-clock
 * "YYYY-MM-DD HH:MM:SS". */
#ifndef MUNSHI_INTEGRATIONS_SHIPROCKET_H
#define MUNSHI_INTEGRATIONS_SHIPROCKET_H

#include <stddef.h>
#include <stdint.h>

#include "base/api.h"
#include "base/arena.h"
#include "base/buf.h"
#include "db/db.h"
#include "integrations/integrations.h"

/* Tokens are made for 10 days; one is used until this long before that. */
#define SR_TOKEN_LIFE_US (10LL * 86400 * 1000000)
#define SR_TOKEN_MARGIN_US (12LL * 3600 * 1000000)
/* Largest tracking webhook body taken. */
#define SR_WEBHOOK_MAX_BODY (256 * 1024)
/* Most scans read from one update (the rest, oldest first, are dropped). */
#define SR_MAX_SCANS 200

/* ---- pure: requests --------------------------------------------------------- */

/* One line of an order. Quantities are thousandths, money paise, the tax
 * rate hundredths of a percent (18% = 1800). */
typedef struct sr_line {
  const char *name, *sku, *hsn; /* sku, hsn may be NULL */
  int64_t qty_milli;
  int64_t unit_price, discount; /* paise; discount for the whole line */
  int64_t tax_rate;
} sr_line;

typedef struct sr_order {
  const char *channel_order_id; /* munshi's reference: the shipment's id */
  const char *order_date;       /* "YYYY-MM-DD HH:MM" (IST) */
  const char *pickup_location;
  const char *name, *address, *city, *pincode, *state, *email, *phone;
  int cod; /* payment_method COD, else Prepaid */
  int64_t sub_total; /* paise */
  int64_t length, breadth, height; /* cm, hundredths */
  int64_t weight;                  /* kg, thousandths */
  const sr_line *lines;
  size_t n_lines;
} sr_order;

/* The body of POST /orders/create/adhoc. Decimals are written as decimal
 * text (JSON numbers), never through a double. A line whose quantity is
 * not whole goes as one unit priced at the line's value, its quantity in
 * its name (Shiprocket's units are whole). -1 when b's cap is passed. */
int sr_build_order(buf *b, const sr_order *o);
/* A 10-digit Indian mobile number from E.164 "+91XXXXXXXXXX" (or any
 * text ending in ten digits); NULL when there is none. */
const char *sr_phone10(arena *a, const char *phone);
/* The name of a GST state code ("27" -> "Maharashtra"), or NULL. */
const char *sr_state_name(const char *code);

/* ---- pure: answers ---------------------------------------------------------- */

/* Each returns 0, or -1 with why set when the answer is not what the step
 * must get (a 2xx that says it failed is such an answer). Ids come back as
 * decimal text whether Shiprocket sent a number or a string. */
int sr_parse_login(arena *a, const char *body, size_t len, const char **token,
                   char *why, size_t whylen);
int sr_parse_order(arena *a, const char *body, size_t len,
                   const char **order_id, const char **shipment_id, char *why,
                   size_t whylen);
/* The order of GET /orders?search= whose channel_order_id is ours (not
 * cancelled): *found 0 when there is none. */
int sr_parse_order_search(arena *a, const char *body, size_t len,
                          const char *channel_order_id, int *found,
                          const char **order_id, const char **shipment_id,
                          char *why, size_t whylen);
typedef struct sr_awb {
  const char *awb, *courier_name, *courier_id; /* courier fields may be NULL */
} sr_awb;
int sr_parse_awb(arena *a, const char *body, size_t len, sr_awb *out,
                 char *why, size_t whylen);
/* *at_us is 0 when the answer names no date. */
int sr_parse_pickup(arena *a, const char *body, size_t len, int64_t *at_us,
                    char *why, size_t whylen);
int sr_parse_label(arena *a, const char *body, size_t len, const char **url,
                   char *why, size_t whylen);
/* An error answer's words: *message (never NULL: "" when none) and, for a
 * 422, the field errors as JSON object text (*errors NULL when none). */
void sr_parse_error(arena *a, const char *body, size_t len,
                    const char **message, const char **errors);

/* ---- pure: tracking --------------------------------------------------------- */

typedef struct sr_scan {
  int64_t at_us;   /* UTC */
  const char *status, *activity, *location; /* "" when absent; capped */
  int code;        /* the scan's sr-status, -1 when none */
} sr_scan;

typedef struct sr_track {
  const char *awb;          /* never NULL after a successful parse */
  const char *courier_name; /* may be NULL */
  const char *track_url;    /* may be NULL */
  int code;                 /* Shiprocket's shipment status id, -1: none */
  int64_t etd_us;           /* 0: none */
  sr_scan *scans;           /* newest first */
  size_t n_scans;
} sr_track;

/* A tracking webhook (the body Shiprocket POSTs): awb, courier_name,
 * shipment_status_id (current_status_id is another numbering and is not
 * used), etd, scans[{date, status, activity, location, sr-status}]. */
int sr_parse_webhook(arena *a, const char *body, size_t len, sr_track *out,
                     char *why, size_t whylen);
/* GET /courier/track/awb/<awb>'s answer; awb is the one asked for. A
 * shipment with no activity yet ("track_status": 0) parses with no code
 * and no scans. */
int sr_parse_tracking(arena *a, const char *body, size_t len, const char *awb,
                      sr_track *out, char *why, size_t whylen);

/* munshi's status for a Shiprocket shipment status id, or NULL when the id
 * says nothing munshi tracks (pending, pickup error, exceptions, ...). */
const char *sr_status_for_code(int code);
/* 1 when a shipment at status from may move to status to: forward along
 * pending .. delivered, to an off-path status (undelivered, rto,
 * rto_delivered, cancelled, lost) that is not behind it, between
 * out_for_delivery and undelivered (re-attempts); never out of delivered,
 * rto_delivered, cancelled or lost, never backwards. */
int sr_status_may_move(const char *from, const char *to);
/* 1 for the statuses a shipment no longer leaves. */
int sr_status_final(const char *status);

/* ---- calls ------------------------------------------------------------------ */

/* Why a call failed, for the shipment's last_error and the API answer. */
typedef struct sr_fail {
  api_error code;     /* E_PROVIDER_REFUSED or E_PROVIDER_DOWN (or E_DB) */
  long http_status;   /* 0 when no answer came */
  int unknown;        /* no answer: the request may have been processed */
  const char *message; /* Shiprocket's words or ours, never NULL */
  const char *errors;  /* a 422's field errors (JSON object text) or NULL */
} sr_fail;

typedef struct sr_client {
  db *d;
  arena *a;
  const integ_creds *creds; /* the business's shiprocket integration */
  const char *base_url;     /* integ_settings_get()->shiprocket_api_url */
  const char *token;        /* set by the first call */
  long timeout_ms;          /* 0: 30 s */
} sr_client;

/* Sends method path (relative to base_url, e.g. "/courier/assign/awb")
 * with a JSON body (NULL: none). once: the request must not be repeated
 * (only a refused connection is retried). On a 2xx returns 0 with *body the
 * answer (in the arena); otherwise -1 with f filled. A 401 makes a new
 * token and sends once more. Call outside any transaction. */
int sr_call(sr_client *c, const char *method, const char *path,
            const char *json_body, int once, const char **body,
            size_t *body_len, sr_fail *f);

#endif

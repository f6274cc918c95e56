/* shiprocket.c - the Shiprocket client (shiprocket.h): request bodies,
 * answer and webhook parsers (pure), the status mapping, and sr_call with
 * the token it keeps per integration in integration_tokens. */
#include "integrations/shiprocket.h"

#include <stdio.h>
#include <string.h>

#include "base/ident.h"
#include "base/json.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "net/http_client.h"

/* ---- small readers ---------------------------------------------------------- */

static void say(char *why, size_t whylen, const char *s) {
  if (why && whylen) snprintf(why, whylen, "%s", s);
}

static int parse(arena *a, const char *body, size_t len, json **v, char *why,
                 size_t whylen) {
  json_error je;
  if (!body || json_parse(a, body, len, v, &je) || (*v)->type != JSON_OBJECT) {
    say(why, whylen, "the answer is not a JSON object");
    return -1;
  }
  return 0;
}

/* An id: a non-negative integer literal or a string of 1..40 characters
 * without controls; NULL otherwise. */
static const char *id_text(arena *a, const json *v) {
  if (!v) return NULL;
  if (v->type == JSON_NUMBER) {
    int64_t n;
    if (json_int64(v, &n) || n < 0) return NULL;
    return arena_printf(a, "%lld", (long long)n);
  }
  if (v->type != JSON_STRING || v->len == 0 || v->len > 40) return NULL;
  for (size_t i = 0; i < v->len; i++)
    if ((unsigned char)v->str[i] < 0x20) return NULL;
  return v->str;
}

/* A string member, at most max bytes (cut on a UTF-8 boundary), "" when
 * absent or not a string. */
static const char *str_capped(arena *a, const json *o, const char *key,
                              size_t max) {
  const json *v = json_get(o, key);
  if (!v || v->type != JSON_STRING) return "";
  if (v->len <= max) return v->str;
  size_t n = max;
  while (n > 0 && ((unsigned char)v->str[n] & 0xC0) == 0x80) n--;
  return arena_strndup(a, v->str, n);
}

/* An integer member given as a number or as a decimal string; -1 when
 * absent or not one. */
static int int_member(const json *o, const char *key) {
  const json *v = json_get(o, key);
  if (!v) return -1;
  int64_t n = -1;
  if (v->type == JSON_NUMBER) {
    if (json_int64(v, &n)) return -1;
  } else if (v->type == JSON_STRING && v->len > 0 && v->len <= 9 &&
             strspn(v->str, "0123456789") == v->len) {
    n = 0;
    for (size_t i = 0; i < v->len; i++) n = n * 10 + (v->str[i] - '0');
  } else {
    return -1;
  }
  return n >= 0 && n <= 100000 ? (int)n : -1;
}

/* Shiprocket's "YYYY-MM-DD HH:MM:SS" (IST) as UTC µs; -1 when not that. */
static int ist_time(const char *s, int64_t *out) {
  if (!s || strlen(s) < 10 || strlen(s) > 26) return -1;
  if (!strncmp(s, "0000", 4)) return -1;
  char t[48];
  snprintf(t, sizeof t, "%s%s", s, strlen(s) == 10 ? "" : "+05:30");
  if (strlen(s) == 10) {
    int32_t days;
    if (date_parse(s, &days)) return -1;
    *out = (int64_t)days * US_PER_DAY - IST_OFFSET_US;
    return 0;
  }
  return ts_parse(t, out);
}

/* ---- requests --------------------------------------------------------------- */

/* Shiprocket takes the state's name. Codes of states that no longer exist
 * (25 Daman and Diu, 28 undivided Andhra Pradesh) and 97 (other territory)
 * name no delivery address: none. */
const char *sr_state_name(const char *code) {
  if (!code || !strcmp(code, "25") || !strcmp(code, "28") ||
      !strcmp(code, "97"))
    return NULL;
  return gst_state_name(code);
}

const char *sr_phone10(arena *a, const char *phone) {
  if (!phone) return NULL;
  char d[32];
  size_t n = 0;
  for (const char *p = phone; *p && n < sizeof d - 1; p++)
    if (*p >= '0' && *p <= '9') d[n++] = *p;
  if (n < 10) return NULL;
  return arena_strndup(a, d + n - 10, 10);
}

/* A decimal v / 10^scale as JSON number text ("12.5" -> 12.50). */
static void dec(json_obj *o, const char *key, int64_t v, int scale) {
  json_obj_dec(o, key, v, scale);
}

int sr_build_order(buf *b, const sr_order *o) {
  json_obj r, items;
  json_obj_open(&r, b);
  json_obj_str(&r, "order_id", o->channel_order_id);
  json_obj_str(&r, "order_date", o->order_date);
  json_obj_str(&r, "pickup_location", o->pickup_location);
  json_obj_str(&r, "billing_customer_name", o->name);
  json_obj_str(&r, "billing_last_name", "");
  json_obj_str(&r, "billing_address", o->address);
  json_obj_str(&r, "billing_city", o->city);
  json_obj_str(&r, "billing_pincode", o->pincode);
  json_obj_str(&r, "billing_state", o->state);
  json_obj_str(&r, "billing_country", "India");
  json_obj_str(&r, "billing_email", o->email ? o->email : "");
  json_obj_str(&r, "billing_phone", o->phone);
  json_obj_bool(&r, "shipping_is_billing", 1);
  json_obj_arr(&r, "order_items", &items);
  for (size_t i = 0; i < o->n_lines; i++) {
    const sr_line *l = &o->lines[i];
    json_obj it;
    json_obj_nest(&items, NULL, &it);
    int whole = l->qty_milli % 1000 == 0;
    char name[600];
    if (whole) {
      snprintf(name, sizeof name, "%s", l->name);
    } else {
      snprintf(name, sizeof name, "%s (%lld.%03lld)", l->name,
               (long long)(l->qty_milli / 1000),
               (long long)(l->qty_milli % 1000));
    }
    json_obj_str(&it, "name", name);
    json_obj_str(&it, "sku", l->sku && *l->sku ? l->sku : l->name);
    json_obj_int(&it, "units", whole ? l->qty_milli / 1000 : 1);
    /* A part quantity goes as one unit worth the line: price x qty,
     * rounded half up to the paisa. */
    int64_t price = whole ? l->unit_price
                          : (l->unit_price * l->qty_milli + 500) / 1000;
    dec(&it, "selling_price", price, 2);
    dec(&it, "discount", l->discount, 2);
    dec(&it, "tax", l->tax_rate, 2);
    if (l->hsn && *l->hsn) json_obj_str(&it, "hsn", l->hsn);
    json_obj_close(&it);
  }
  json_obj_close(&items);
  json_obj_str(&r, "payment_method", o->cod ? "COD" : "Prepaid");
  dec(&r, "sub_total", o->sub_total, 2);
  dec(&r, "length", o->length, 2);
  dec(&r, "breadth", o->breadth, 2);
  dec(&r, "height", o->height, 2);
  dec(&r, "weight", o->weight, 3);
  return json_obj_close(&r);
}

/* ---- answers ---------------------------------------------------------------- */

int sr_parse_login(arena *a, const char *body, size_t len, const char **token,
                   char *why, size_t whylen) {
  json *v;
  if (parse(a, body, len, &v, why, whylen)) return -1;
  const json *t = json_get(v, "token");
  if (!t || t->type != JSON_STRING || t->len == 0 || t->len > 4096 ||
      strcspn(t->str, " \t\r\n") != t->len) {
    say(why, whylen, "the login answer has no token");
    return -1;
  }
  *token = t->str;
  return 0;
}

int sr_parse_order(arena *a, const char *body, size_t len,
                   const char **order_id, const char **shipment_id, char *why,
                   size_t whylen) {
  json *v;
  if (parse(a, body, len, &v, why, whylen)) return -1;
  *order_id = id_text(a, json_get(v, "order_id"));
  *shipment_id = id_text(a, json_get(v, "shipment_id"));
  if (!*order_id || !*shipment_id) {
    say(why, whylen, "the order answer has no order_id and shipment_id");
    return -1;
  }
  return 0;
}

int sr_parse_order_search(arena *a, const char *body, size_t len,
                          const char *channel_order_id, int *found,
                          const char **order_id, const char **shipment_id,
                          char *why, size_t whylen) {
  json *v;
  *found = 0;
  if (parse(a, body, len, &v, why, whylen)) return -1;
  const json *data = json_get(v, "data");
  if (!data || data->type != JSON_ARRAY) {
    say(why, whylen, "the order search answer has no data");
    return -1;
  }
  for (size_t i = 0; i < data->n; i++) {
    const json *o = data->items[i];
    const json *c = json_get(o, "channel_order_id");
    if (!c || c->type != JSON_STRING || strcmp(c->str, channel_order_id))
      continue;
    const json *st = json_get(o, "status");
    if (st && st->type == JSON_STRING &&
        (!strcmp(st->str, "CANCELED") || !strcmp(st->str, "CANCELLED")))
      continue;
    const json *sh = json_get(o, "shipments");
    const char *oid = id_text(a, json_get(o, "id"));
    const char *sid = NULL;
    if (sh && sh->type == JSON_ARRAY && sh->n > 0)
      sid = id_text(a, json_get(sh->items[0], "id"));
    else if (sh && sh->type == JSON_OBJECT)
      sid = id_text(a, json_get(sh, "id"));
    if (!oid || !sid) {
      say(why, whylen, "the order found has no id or shipment id");
      return -1;
    }
    *found = 1;
    *order_id = oid;
    *shipment_id = sid;
    return 0;
  }
  return 0;
}

int sr_parse_awb(arena *a, const char *body, size_t len, sr_awb *out,
                 char *why, size_t whylen) {
  json *v;
  memset(out, 0, sizeof *out);
  if (parse(a, body, len, &v, why, whylen)) return -1;
  const json *d = json_get_obj(json_get_obj(v, "response"), "data");
  int status = int_member(v, "awb_assign_status");
  const json *awb = d ? json_get(d, "awb_code") : NULL;
  if (status != 1 || !awb || awb->type != JSON_STRING || awb->len == 0 ||
      awb->len > 40 || strspn(awb->str, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "abcdefghijklmnopqrstuvwxyz-") != awb->len) {
    const char *e = d ? str_capped(a, d, "awb_assign_error", 300) : "";
    if (!*e) e = str_capped(a, v, "message", 300);
    snprintf(why, whylen, "no AWB was assigned%s%s", *e ? ": " : "", e);
    return -1;
  }
  out->awb = awb->str;
  const char *cn = str_capped(a, d, "courier_name", 200);
  out->courier_name = *cn ? cn : NULL;
  out->courier_id = id_text(a, json_get(d, "courier_company_id"));
  return 0;
}

int sr_parse_pickup(arena *a, const char *body, size_t len, int64_t *at_us,
                    char *why, size_t whylen) {
  json *v;
  *at_us = 0;
  if (parse(a, body, len, &v, why, whylen)) return -1;
  if (int_member(v, "pickup_status") != 1) {
    const char *e = str_capped(a, v, "message", 300);
    snprintf(why, whylen, "the pickup was not scheduled%s%s", *e ? ": " : "",
             e);
    return -1;
  }
  const json *r = json_get_obj(v, "response");
  const char *d = r ? str_capped(a, r, "pickup_scheduled_date", 40) : "";
  int64_t t;
  if (*d && !ist_time(d, &t)) *at_us = t;
  return 0;
}

int sr_parse_label(arena *a, const char *body, size_t len, const char **url,
                   char *why, size_t whylen) {
  json *v;
  if (parse(a, body, len, &v, why, whylen)) return -1;
  const json *u = json_get(v, "label_url");
  if (int_member(v, "label_created") != 1 || !u || u->type != JSON_STRING ||
      u->len == 0 || u->len > 2048 ||
      (strncmp(u->str, "https://", 8) && strncmp(u->str, "http://", 7)) ||
      strcspn(u->str, " \t\r\n\"<>") != u->len) {
    const char *e = str_capped(a, v, "message", 300);
    snprintf(why, whylen, "no label was made%s%s", *e ? ": " : "", e);
    return -1;
  }
  *url = u->str;
  return 0;
}

void sr_parse_error(arena *a, const char *body, size_t len,
                    const char **message, const char **errors) {
  *message = "";
  *errors = NULL;
  json *v;
  json_error je;
  if (!body || json_parse(a, body, len, &v, &je) || v->type != JSON_OBJECT)
    return;
  *message = str_capped(a, v, "message", 500);
  const json *e = json_get(v, "errors");
  if (e && e->type == JSON_OBJECT && e->n > 0) {
    const char *t = json_to_text(a, e);
    if (strlen(t) <= 4000) *errors = t;
  }
}

/* ---- tracking --------------------------------------------------------------- */

static int awb_ok(const char *s) {
  size_t n = strlen(s);
  return n > 0 && n <= 40 &&
         strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-") == n;
}

/* Reads scans from an array of {date, status, activity, location,
 * sr-status}; dated ones only, newest first. */
static int read_scans(arena *a, const json *arr, sr_track *out) {
  out->scans = NULL;
  out->n_scans = 0;
  if (!arr || arr->type != JSON_ARRAY || arr->n == 0) return 0;
  size_t n = arr->n < SR_MAX_SCANS ? arr->n : SR_MAX_SCANS;
  out->scans = arena_alloc(a, n * sizeof *out->scans);
  for (size_t i = 0; i < arr->n && out->n_scans < n; i++) {
    const json *s = arr->items[i];
    if (!s || s->type != JSON_OBJECT) continue;
    sr_scan sc;
    if (ist_time(str_capped(a, s, "date", 40), &sc.at_us)) continue;
    sc.status = str_capped(a, s, "status", 200);
    sc.activity = str_capped(a, s, "activity", 1000);
    sc.location = str_capped(a, s, "location", 200);
    sc.code = int_member(s, "sr-status");
    /* keep newest first: insertion by time */
    size_t k = out->n_scans;
    while (k > 0 && out->scans[k - 1].at_us < sc.at_us) {
      out->scans[k] = out->scans[k - 1];
      k--;
    }
    out->scans[k] = sc;
    out->n_scans++;
  }
  return 0;
}

int sr_parse_webhook(arena *a, const char *body, size_t len, sr_track *out,
                     char *why, size_t whylen) {
  json *v;
  memset(out, 0, sizeof *out);
  out->code = -1;
  if (parse(a, body, len, &v, why, whylen)) return -1;
  out->awb = id_text(a, json_get(v, "awb"));
  if (!out->awb || !awb_ok(out->awb)) {
    say(why, whylen, "awb must be the shipment's AWB code");
    return -1;
  }
  const char *cn = str_capped(a, v, "courier_name", 200);
  out->courier_name = *cn ? cn : NULL;
  out->code = int_member(v, "shipment_status_id");
  int64_t t;
  if (!ist_time(str_capped(a, v, "etd", 40), &t)) out->etd_us = t;
  const json *scans = json_get(v, "scans");
  if (scans && scans->type != JSON_ARRAY && scans->type != JSON_NULL) {
    say(why, whylen, "scans must be an array");
    return -1;
  }
  return read_scans(a, scans, out);
}

int sr_parse_tracking(arena *a, const char *body, size_t len, const char *awb,
                      sr_track *out, char *why, size_t whylen) {
  json *v;
  memset(out, 0, sizeof *out);
  out->code = -1;
  out->awb = awb;
  if (parse(a, body, len, &v, why, whylen)) return -1;
  const json *td = json_get(v, "tracking_data");
  if (!td || td->type != JSON_OBJECT) {
    say(why, whylen, "the tracking answer has no tracking_data");
    return -1;
  }
  out->code = int_member(td, "shipment_status");
  const json *st = json_get(td, "shipment_track");
  if (st && st->type == JSON_ARRAY && st->n > 0) {
    const char *cn = str_capped(a, st->items[0], "courier_name", 200);
    out->courier_name = *cn ? cn : NULL;
  }
  const json *u = json_get(td, "track_url");
  if (u && u->type == JSON_STRING && u->len > 0 && u->len <= 2048 &&
      !strncmp(u->str, "https://", 8) && strcspn(u->str, " \t\r\n\"<>") == u->len)
    out->track_url = u->str;
  int64_t t;
  if (!ist_time(str_capped(a, td, "etd", 40), &t)) out->etd_us = t;
  return read_scans(a, json_get(td, "shipment_track_activities"), out);
}

/* ---- statuses --------------------------------------------------------------- */

static const struct {
  int code;
  const char *status;
} CODES[] = {
    {1, "awb_assigned"},      {2, "awb_assigned"},     {3, "pickup_scheduled"},
    {4, "pickup_scheduled"},  {5, "pickup_scheduled"}, {6, "in_transit"},
    {7, "delivered"},         {8, "cancelled"},        {9, "rto"},
    {10, "rto_delivered"},    {12, "lost"},            {14, "rto"},
    {15, "pickup_scheduled"}, {17, "out_for_delivery"}, {18, "in_transit"},
    {19, "pickup_scheduled"}, {21, "undelivered"},     {22, "in_transit"},
    {24, "lost"},             {26, "delivered"},       {38, "in_transit"},
    {39, "in_transit"},       {40, "rto"},             {41, "rto"},
    {42, "picked_up"},        {43, "delivered"},       {44, "lost"},
    {45, "cancelled"},        {46, "rto"},             {48, "in_transit"},
    {50, "in_transit"},       {51, "in_transit"},      {52, "awb_assigned"},
    {54, "in_transit"},       {77, "undelivered"},     {78, "rto"},
};

const char *sr_status_for_code(int code) {
  for (size_t i = 0; i < sizeof CODES / sizeof CODES[0]; i++)
    if (CODES[i].code == code) return CODES[i].status;
  return NULL;
}

/* Position along the way; off-path statuses sit where they can happen. */
static int rank(const char *s) {
  static const struct {
    const char *s;
    int r;
  } R[] = {{"pending", 0},          {"order_created", 1},
           {"awb_assigned", 2},     {"pickup_scheduled", 3},
           {"picked_up", 4},        {"in_transit", 5},
           {"out_for_delivery", 6}, {"undelivered", 6},
           {"delivered", 7},        {"rto", 8},
           {"rto_delivered", 9},    {"cancelled", 9},
           {"lost", 9}};
  for (size_t i = 0; s && i < sizeof R / sizeof R[0]; i++)
    if (!strcmp(R[i].s, s)) return R[i].r;
  return -1;
}

int sr_status_final(const char *s) {
  return s && (!strcmp(s, "delivered") || !strcmp(s, "rto_delivered") ||
               !strcmp(s, "cancelled") || !strcmp(s, "lost"));
}

int sr_status_may_move(const char *from, const char *to) {
  int rf = rank(from), rt = rank(to);
  if (rt < 0 || sr_status_final(from) || !strcmp(from, to)) return 0;
  if (rf < 0) return 1; /* a status set by hand: any tracked one follows */
  return rt > rf || (rt == rf && rt == 6);
}

/* ---- calls ------------------------------------------------------------------ */

static void fail(sr_fail *f, api_error code, long status, int unknown,
                 const char *message, const char *errors) {
  f->code = code;
  f->http_status = status;
  f->unknown = unknown;
  f->message = message ? message : "";
  f->errors = errors;
}

/* The stored token when it is fresh and made with these credentials. */
static int token_load(sr_client *c, const char **token) {
  *token = NULL;
  db_val v[] = {db_uuid(c->creds->profile_id), db_uuid(c->creds->id)};
  db_res *r = NULL;
  db_err e;
  if (db_query_fixed(c->d,
                     "SELECT token, expires_at, creds_at FROM "
                     "integration_tokens WHERE profile_id = $1 AND "
                     "integration_id = $2",
                     v, 2, &r, &e)) {
    log_warn("shiprocket: reading a token: [%s] %s", e.code, e.message);
    return -1;
  }
  if (db_res_rows(r) == 1 &&
      db_res_ts(r, 0, 1) - SR_TOKEN_MARGIN_US > time_now_us() &&
      db_res_ts(r, 0, 2) == c->creds->updated_at)
    *token = arena_strdup(c->a, db_res_text(r, 0, 0));
  db_res_free(r);
  return 0;
}

static int token_store(sr_client *c, const char *token) {
  int64_t now = time_now_us();
  db_val v[] = {db_uuid(c->creds->profile_id), db_uuid(c->creds->id),
                db_text(token), db_ts(now + SR_TOKEN_LIFE_US),
                db_ts(c->creds->updated_at), db_ts(now)};
  db_err e;
  if (db_query_fixed(c->d,
                     "INSERT INTO integration_tokens (profile_id, "
                     "integration_id, token, expires_at, creds_at, "
                     "created_at) VALUES ($1, $2, $3, $4, $5, $6) ON "
                     "CONFLICT (profile_id, integration_id) DO UPDATE SET "
                     "token = excluded.token, expires_at = "
                     "excluded.expires_at, creds_at = excluded.creds_at, "
                     "created_at = excluded.created_at",
                     v, 6, NULL, &e)) {
    log_warn("shiprocket: storing a token: [%s] %s", e.code, e.message);
    return -1;
  }
  return 0;
}

static const char *url_of(sr_client *c, const char *path) {
  const char *base = c->base_url;
  size_t n = strlen(base);
  while (n > 0 && base[n - 1] == '/') n--;
  return arena_printf(c->a, "%.*s%s", (int)n, base, path);
}

/* One request; 0 when an answer came (any status) with res filled. */
static int sr_send(sr_client *c, const char *method, const char *path,
                const char *bearer, const char *json_body, int once,
                net_result *res) {
  net_header h[3];
  size_t nh = 0;
  h[nh++] = (net_header){"Content-Type", "application/json"};
  h[nh++] = (net_header){"Accept", "application/json"};
  if (bearer)
    h[nh++] = (net_header){"Authorization",
                           arena_printf(c->a, "Bearer %s", bearer)};
  net_req rq = {.method = method,
                .url = url_of(c, path),
                .headers = h,
                .n_headers = nh,
                .body = json_body,
                .body_len = json_body ? strlen(json_body) : 0,
                .timeout_ms = c->timeout_ms ? c->timeout_ms : 30000,
                .max_response = 1024 * 1024};
  net_retry_policy p = {.max_attempts = 3,
                        .base_backoff_ms = 300,
                        .max_backoff_ms = 3000,
                        .only_unprocessed = once};
  return net_request_retry(&rq, &p, res);
}

static int login(sr_client *c, sr_fail *f) {
  if (!c->creds->email || !c->creds->password) {
    fail(f, E_PROVIDER_REFUSED, 0, 0,
         "the Shiprocket integration has no email and password", NULL);
    return -1;
  }
  buf b;
  buf_init(&b, 8192);
  json_obj o;
  json_obj_open(&o, &b);
  json_obj_str(&o, "email", c->creds->email);
  json_obj_str(&o, "password", c->creds->password);
  json_obj_close(&o);
  net_result res;
  int rc = sr_send(c, "POST", "/auth/login", NULL, buf_cstr(&b), 0, &res);
  buf_free(&b);
  char why[200];
  if (rc) {
    fail(f, E_PROVIDER_DOWN, 0, 0,
         arena_printf(c->a, "Shiprocket could not be reached: %s",
                      net_strerror(res.err)),
         NULL);
  } else if (res.status >= 200 && res.status < 300 &&
             !sr_parse_login(c->a, res.body.data, res.body.len, &c->token, why,
                             sizeof why)) {
    c->token = arena_strdup(c->a, c->token);
    token_store(c, c->token);
  } else if (res.status >= 400 && res.status < 500) {
    const char *m, *errs;
    sr_parse_error(c->a, res.body.data, res.body.len, &m, &errs);
    fail(f, E_PROVIDER_REFUSED, res.status, 0,
         arena_printf(c->a, "Shiprocket refused the login%s%s", *m ? ": " : "",
                      m),
         errs);
    rc = -1;
  } else {
    fail(f, E_PROVIDER_DOWN, res.status, 0,
         arena_printf(c->a, "Shiprocket's login failed (HTTP %ld)",
                      res.status),
         NULL);
    rc = -1;
  }
  if (rc == 0 && !c->token) rc = -1;
  net_result_free(&res);
  return rc;
}

int sr_call(sr_client *c, const char *method, const char *path,
            const char *json_body, int once, const char **body,
            size_t *body_len, sr_fail *f) {
  *body = NULL;
  *body_len = 0;
  fail(f, E_PROVIDER_DOWN, 0, 0, "", NULL);
  if (!c->token && token_load(c, &c->token)) {
    fail(f, E_DB, 0, 0, "the token store failed", NULL);
    return -1;
  }
  int fresh = 0;
  if (!c->token) {
    if (login(c, f)) return -1;
    fresh = 1;
  }
  for (int attempt = 0;; attempt++) {
    net_result res;
    if (sr_send(c, method, path, c->token, json_body, once, &res)) {
      fail(f, E_PROVIDER_DOWN, 0,
           res.err == NET_ETIMEOUT || res.err == NET_EBROKEN,
           arena_printf(c->a, "Shiprocket could not be reached: %s",
                        net_strerror(res.err)),
           NULL);
      net_result_free(&res);
      return -1;
    }
    long st = res.status;
    if (st == 401 && attempt == 0 && !fresh) {
      /* The token was revoked or ran out early: a new one, once. */
      net_result_free(&res);
      if (login(c, f)) return -1;
      fresh = 1;
      continue;
    }
    const char *text = arena_strndup(c->a, res.body.data ? res.body.data : "",
                                     res.body.len);
    size_t n = res.body.len;
    net_result_free(&res);
    if (st >= 200 && st < 300) {
      *body = text;
      *body_len = n;
      return 0;
    }
    const char *m, *errs;
    sr_parse_error(c->a, text, n, &m, &errs);
    if (st >= 400 && st < 500 && st != 429) {
      fail(f, E_PROVIDER_REFUSED, st, 0,
           *m ? m : arena_printf(c->a, "Shiprocket answered HTTP %ld", st),
           st == 422 ? errs : NULL);
    } else {
      fail(f, E_PROVIDER_DOWN, st, st >= 500,
           arena_printf(c->a, "Shiprocket failed (HTTP %ld)%s%s", st,
                        *m ? ": " : "", m),
           NULL);
    }
    return -1;
  }
}

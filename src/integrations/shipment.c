/* shipment.c - shipments through Shiprocket (integrations.h): the
 * operations create_shipment and track_shipment, the tracking webhook, and
 * the tracking job for shipments that get no webhooks.
 *
 * create_shipment makes a shipment in four steps, each a Shiprocket call:
 * the order, the AWB, the pickup, the label. Each step's outcome is written
 * on the shipments row in a short transaction of its own, and no
 * transaction is open while Shiprocket is called. A call that fails leaves
 * the row where it stopped, with last_error saying why; calling
 * create_shipment again for the invoice continues from there. It never
 * makes a second Shiprocket order for one invoice: the row is unique per
 * invoice (shipments_invoice), one request at a time holds its steps
 * (step_lease_until), and when an earlier order request got no answer
 * (order_sent_at set, no sr_order_id) Shiprocket is searched for the order
 * by the channel order id munshi sends, the shipment's own id, before one
 * is made.
 *
 * Tracking updates (webhook, track_shipment, the job) go through one
 * function, apply_track: every scan is stored once, the status follows
 * Shiprocket's status id through sr_status_for_code and never moves
 * backwards (sr_status_may_move), and a change writes a shipment.updated
 * event in the same transaction, its payload the snapshot of that moment. */
#include <stdio.h>
#include <string.h>

#include "base/crypto.h"
#include "base/json.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/uuid.h"
#include "biz/events.h"
#include "integrations/integ_int.h"
#include "integrations/shiprocket.h"

#define LEASE_US (120LL * 1000000)
#define INTEG_TRACK_BUDGET_US (40LL * 1000000)
#define TRACK_URL_PREFIX "https://shiprocket.co/tracking/"

/* ---- small helpers ---------------------------------------------------------- */

static void db_failed(api_resp *resp, const db_err *e, const char *what) {
  log_warn("shipments: %s: [%s] %s", what, e->code, e->message);
  api_fail(resp, api_error_for_sqlstate(e->code), NULL, NULL, NULL);
}

static int arg_uuid(const json *args, const char *key, char out[37],
                    api_resp *resp) {
  const json *v = json_get(args, key);
  if (!v || v->type != JSON_STRING || uuid_normalize(v->str, out))
    return api_failf(resp, E_OP_INVALID, "%s must be a UUID", key);
  return 0;
}

/* A positive decimal of at most scale places and below max (in units of
 * 10^-scale): a JSON number, or a string holding one. */
static int arg_dec(arena *a, const json *args, const char *key, int scale,
                   int64_t max, int64_t *out, api_resp *resp) {
  const json *v = json_get(args, key);
  json tmp;
  if (v && v->type == JSON_STRING) {
    json *p = NULL;
    json_error je;
    if (!json_parse(a, v->str, v->len, &p, &je) && p->type == JSON_NUMBER) {
      tmp = *p;
      v = &tmp;
    }
  }
  if (!v || v->type != JSON_NUMBER || json_decimal(v, scale, out) ||
      *out <= 0 || *out >= max)
    return api_failf(resp, E_OP_INVALID,
                     "%s must be a positive number below 1000 with at most "
                     "%d decimal places",
                     key, scale);
  return 0;
}

/* Digits only: an id written as a JSON number; else as a string. */
static void id_member(json_obj *o, const char *key, const char *id) {
  if (id && *id && strspn(id, "0123456789") == strlen(id))
    json_obj_raw(o, key, id);
  else
    json_obj_str(o, key, id);
}

static const char *opt_text(arena *a, db_res *r, int col) {
  return db_res_isnull(r, 0, col) ? NULL : arena_strdup(a, db_res_text(r, 0, col));
}

/* ---- the shipments row ------------------------------------------------------ */

typedef struct ship {
  char id[37], invoice_id[37];
  const char *status, *provider, *awb, *courier_name, *tracking_url;
  const char *sr_order_id, *sr_shipment_id, *label_url;
  int64_t pickup_scheduled_at; /* 0: none */
  int64_t order_sent_at;       /* 0: none */
  int64_t lease_until;         /* 0: none */
} ship;

#define SHIP_COLS                                                          \
  "id, invoice_id, status, provider, awb_number, courier_name, "           \
  "tracking_url, sr_order_id, sr_shipment_id, label_url, "                 \
  "pickup_scheduled_at, order_sent_at, step_lease_until FROM shipments "

static void ship_from(arena *a, db_res *r, ship *s) {
  memset(s, 0, sizeof *s);
  uuid_normalize(db_res_text(r, 0, 0), s->id);
  if (!db_res_isnull(r, 0, 1)) uuid_normalize(db_res_text(r, 0, 1), s->invoice_id);
  s->status = arena_strdup(a, db_res_text(r, 0, 2));
  s->provider = opt_text(a, r, 3);
  s->awb = opt_text(a, r, 4);
  s->courier_name = opt_text(a, r, 5);
  s->tracking_url = opt_text(a, r, 6);
  s->sr_order_id = opt_text(a, r, 7);
  s->sr_shipment_id = opt_text(a, r, 8);
  s->label_url = opt_text(a, r, 9);
  s->pickup_scheduled_at = db_res_isnull(r, 0, 10) ? 0 : db_res_ts(r, 0, 10);
  s->order_sent_at = db_res_isnull(r, 0, 11) ? 0 : db_res_ts(r, 0, 11);
  s->lease_until = db_res_isnull(r, 0, 12) ? 0 : db_res_ts(r, 0, 12);
}

static int ship_load(db *d, arena *a, const char *profile_id, const char *id,
                     ship *s, int *found, db_err *e) {
  db_val v[] = {db_uuid(profile_id), db_uuid(id)};
  db_res *r = NULL;
  if (db_query_fixed(d, "SELECT " SHIP_COLS "WHERE profile_id = $1 AND id = $2",
                     v, 2, &r, e))
    return -1;
  *found = db_res_rows(r) == 1;
  if (*found) ship_from(a, r, s);
  db_res_free(r);
  return 0;
}

/* The shipment as the operations answer it. */
static int ship_render(db *d, const char *profile_id, const char *id, buf *out,
                       db_err *e) {
  db_val v[] = {db_uuid(profile_id), db_uuid(id)};
  db_res *r = NULL;
  if (db_query_fixed(
          d,
          "SELECT id, invoice_id, status, provider, awb_number, courier_name, "
          "courier_id, tracking_url, label_url, sr_order_id, sr_shipment_id, "
          "pickup_location, pickup_scheduled_at, payment_method, status_code, "
          "etd, last_error, last_tracked_at, length_cm, breadth_cm, "
          "height_cm, weight_kg, created_at, updated_at FROM shipments WHERE "
          "profile_id = $1 AND id = $2",
          v, 2, &r, e))
    return -1;
  json_obj o;
  json_obj_open(&o, out);
  static const char *const text_cols[] = {
      "id",          "invoice_id",     "status",       "provider",
      "awb_number",  "courier_name",   "courier_id",   "tracking_url",
      "label_url",   "sr_order_id",    "sr_shipment_id", "pickup_location"};
  for (int i = 0; i < 12; i++)
    json_obj_str(&o, text_cols[i],
                 db_res_isnull(r, 0, i) ? NULL : db_res_text(r, 0, i));
  if (db_res_isnull(r, 0, 12)) json_obj_null(&o, "pickup_scheduled_at");
  else json_obj_ts(&o, "pickup_scheduled_at", db_res_ts(r, 0, 12));
  json_obj_str(&o, "payment_method",
               db_res_isnull(r, 0, 13) ? NULL : db_res_text(r, 0, 13));
  if (db_res_isnull(r, 0, 14)) json_obj_null(&o, "status_code");
  else json_obj_int(&o, "status_code", db_res_int(r, 0, 14));
  if (db_res_isnull(r, 0, 15)) json_obj_null(&o, "etd");
  else json_obj_ts(&o, "etd", db_res_ts(r, 0, 15));
  if (db_res_isnull(r, 0, 16)) json_obj_null(&o, "last_error");
  else json_obj_raw(&o, "last_error", db_res_text(r, 0, 16));
  if (db_res_isnull(r, 0, 17)) json_obj_null(&o, "last_tracked_at");
  else json_obj_ts(&o, "last_tracked_at", db_res_ts(r, 0, 17));
  static const char *const dims[] = {"length_cm", "breadth_cm", "height_cm",
                                     "weight_kg"};
  for (int i = 0; i < 4; i++) {
    if (db_res_isnull(r, 0, 18 + i)) json_obj_null(&o, dims[i]);
    else json_obj_dec(&o, dims[i], db_res_dec(r, 0, 18 + i, i == 3 ? 3 : 2),
                      i == 3 ? 3 : 2);
  }
  json_obj_ts(&o, "created_at", db_res_ts(r, 0, 22));
  json_obj_ts(&o, "updated_at", db_res_ts(r, 0, 23));
  db_res_free(r);
  return json_obj_close(&o);
}

static void answer_ship(db *d, api_req *req, const char *id, api_resp *resp) {
  buf out;
  buf_init(&out, 1024 * 1024);
  db_err e;
  if (ship_render(d, req->who.sub, id, &out, &e)) {
    db_failed(resp, &e, "reading a shipment");
  } else {
    resp->status = 200;
    buf_reset(&resp->body);
    buf_append(&resp->body, out.data ? out.data : "", out.len);
  }
  buf_free(&out);
}

/* ---- create_shipment: what the order is made of ------------------------------ */

typedef struct ctx {
  arena *a;
  const char *profile_id;
  char invoice_id[37];
  integ_creds creds;
  const char *pickup;
  int cod;
  int64_t length, breadth, height, weight;
  sr_order order;
} ctx;

/* Reads the invoice, its customer and its lines into c->order; -1 when
 * answered. */
static int load_order(db *d, ctx *c, api_resp *resp) {
  db_err e;
  db_res *r = NULL;
  db_val v[] = {db_uuid(c->profile_id), db_uuid(c->invoice_id)};
  if (db_query_fixed(
          d,
          "SELECT i.status, i.invoice_date, i.total_amount, c.full_name, "
          "c.phone_number, c.email, c.address, c.city, c.pincode, "
          "c.state_code, i.place_of_supply FROM invoices i JOIN customers c "
          "ON c.profile_id = i.profile_id AND c.id = i.customer_id WHERE "
          "i.profile_id = $1 AND i.id = $2",
          v, 2, &r, &e)) {
    db_failed(resp, &e, "reading an invoice");
    return -1;
  }
  if (db_res_rows(r) != 1) {
    db_res_free(r);
    return api_fail(resp, E_OP_NOT_FOUND, "no such invoice", NULL, NULL);
  }
  const char *status = db_res_text(r, 0, 0);
  if (!strcmp(status, "draft") || !strcmp(status, "cancelled")) {
    api_failf(resp, E_OP_CONFLICT,
              "the invoice is %s: only an issued invoice is shipped", status);
    db_res_free(r);
    return -1;
  }
  sr_order *o = &c->order;
  char date[11];
  date_format(db_res_date(r, 0, 1), date);
  o->order_date = arena_printf(c->a, "%s 00:00", date);
  o->sub_total = db_res_dec(r, 0, 2, 2);
  o->name = opt_text(c->a, r, 3);
  o->phone = sr_phone10(c->a, opt_text(c->a, r, 4));
  o->email = opt_text(c->a, r, 5);
  o->address = opt_text(c->a, r, 6);
  o->city = opt_text(c->a, r, 7);
  o->pincode = opt_text(c->a, r, 8);
  const char *sc = opt_text(c->a, r, 9);
  if (!sc) sc = opt_text(c->a, r, 10);
  o->state = sr_state_name(sc);
  db_res_free(r);
  char missing[160] = "";
  size_t n = 0;
#define NEED(val, name)                                                     \
  if (!(val) || !*(val))                                                    \
    n += (size_t)snprintf(missing + n, sizeof missing - n, "%s%s",          \
                          n ? ", " : "", name);
  NEED(o->address, "address");
  NEED(o->city, "city");
  NEED(o->pincode, "pincode");
  NEED(o->state, "state_code");
  NEED(o->phone, "phone_number");
#undef NEED
  if (n)
    return api_failf(resp, E_OP_INVALID,
                     "the customer cannot be shipped to: set their %s",
                     missing);

  /* The lines, with the product's name and SKU where the line has one. */
  if (db_query(d,
               "SELECT coalesce(it.description, p.name, 'Item'), p.sku, "
               "coalesce(it.hsn_code, p.hsn_code), it.quantity, "
               "it.unit_price, it.discount, it.gst_rate FROM invoice_items it "
               "LEFT JOIN products p ON p.profile_id = it.profile_id AND "
               "p.id = it.product_id WHERE it.profile_id = $1 AND "
               "it.invoice_id = $2 ORDER BY it.line_no, it.id",
               v, 2, &r, &e)) {
    db_failed(resp, &e, "reading an invoice's lines");
    return -1;
  }
  int rows = db_res_rows(r);
  if (rows == 0 || rows > 500) {
    db_res_free(r);
    return api_fail(resp, E_OP_CONFLICT,
                    rows ? "an invoice of more than 500 lines is not shipped "
                           "through Shiprocket"
                         : "the invoice has no lines",
                    NULL, NULL);
  }
  sr_line *lines = arena_alloc(c->a, (size_t)rows * sizeof *lines);
  for (int i = 0; i < rows; i++) {
    lines[i].name = arena_strdup(c->a, db_res_text(r, i, 0));
    lines[i].sku = db_res_isnull(r, i, 1) ? NULL
                                          : arena_strdup(c->a, db_res_text(r, i, 1));
    lines[i].hsn = db_res_isnull(r, i, 2) ? NULL
                                          : arena_strdup(c->a, db_res_text(r, i, 2));
    lines[i].qty_milli = db_res_dec(r, i, 3, 3);
    lines[i].unit_price = db_res_dec(r, i, 4, 2);
    lines[i].discount = db_res_dec(r, i, 5, 2);
    lines[i].tax_rate = db_res_dec(r, i, 6, 2);
  }
  db_res_free(r);
  o->lines = lines;
  o->n_lines = (size_t)rows;
  o->pickup_location = c->pickup;
  o->cod = c->cod;
  o->length = c->length, o->breadth = c->breadth, o->height = c->height;
  o->weight = c->weight;
  return 0;
}

/* ---- create_shipment: the row and its lease ---------------------------------- */

/* Finds or makes the invoice's shipment and takes its lease. -1 when
 * answered (a shipment made already, one being worked on). */
static int claim_row(db *d, ctx *c, ship *s, api_resp *resp) {
  db_err e;
  for (int attempt = 0; attempt < 5; attempt++) {
    int64_t now = time_now_us();
    db_res *r = NULL;
    memset(s, 0, sizeof *s);
    if (db_begin(d, 1, &e)) goto dbfail;
    db_val v[] = {db_uuid(c->profile_id), db_uuid(c->invoice_id)};
    if (db_query(d,
                 "SELECT " SHIP_COLS
                 "WHERE profile_id = $1 AND invoice_id = $2 AND status <> "
                 "'cancelled'",
                 v, 2, &r, &e))
      goto rollback;
    int found = db_res_rows(r) > 0;
    if (found) ship_from(c->a, r, s);
    db_res_free(r);
    r = NULL;
    if (!found) {
      uuid_v7(s->id);
      db_val iv[] = {db_uuid(c->profile_id), db_uuid(s->id),
                     db_uuid(c->invoice_id), db_text(c->pickup),
                     db_text(c->cod ? "cod" : "prepaid"), db_dec(c->length, 2),
                     db_dec(c->breadth, 2), db_dec(c->height, 2),
                     db_dec(c->weight, 3), db_ts(now + LEASE_US), db_ts(now)};
      if (db_query_fixed(
              d,
              "INSERT INTO shipments (profile_id, id, invoice_id, status, "
              "provider, pickup_location, payment_method, length_cm, "
              "breadth_cm, height_cm, weight_kg, step_lease_until, "
              "created_at, updated_at) VALUES ($1, $2, $3, 'pending', "
              "'shiprocket', $4, $5, $6, $7, $8, $9, $10, $11, $11)",
              iv, 11, NULL, &e))
        goto rollback;
      memcpy(s->invoice_id, c->invoice_id, 37);
      s->status = "pending";
      s->provider = "shiprocket";
    } else if (!s->provider) {
      db_rollback(d);
      return api_fail(resp, E_OP_CONFLICT,
                      "the invoice has a shipment made by hand; cancel it "
                      "first",
                      s->id, NULL);
    } else if (s->label_url) {
      db_rollback(d);
      return api_fail(resp, E_OP_CONFLICT, "the invoice is shipped already",
                      s->id, NULL);
    } else if (s->lease_until > now) {
      db_rollback(d);
      return api_fail(resp, E_OP_CONFLICT,
                      "this shipment is being made by another request; try "
                      "again in a moment",
                      s->id, NULL);
    } else {
      /* Until the order exists, a retry may change what it is made of. */
      db_val uv[] = {db_uuid(c->profile_id), db_uuid(s->id),
                     db_ts(now + LEASE_US), db_text(c->pickup),
                     db_text(c->cod ? "cod" : "prepaid"), db_dec(c->length, 2),
                     db_dec(c->breadth, 2), db_dec(c->height, 2),
                     db_dec(c->weight, 3), db_ts(now)};
      if (db_query_fixed(
              d,
              "UPDATE shipments SET step_lease_until = $3, updated_at = $10, "
              "pickup_location = CASE WHEN sr_order_id IS NULL THEN $4 ELSE "
              "pickup_location END, payment_method = CASE WHEN sr_order_id "
              "IS NULL THEN $5 ELSE payment_method END, length_cm = CASE "
              "WHEN sr_order_id IS NULL THEN $6 ELSE length_cm END, "
              "breadth_cm = CASE WHEN sr_order_id IS NULL THEN $7 ELSE "
              "breadth_cm END, height_cm = CASE WHEN sr_order_id IS NULL "
              "THEN $8 ELSE height_cm END, weight_kg = CASE WHEN "
              "sr_order_id IS NULL THEN $9 ELSE weight_kg END WHERE "
              "profile_id = $1 AND id = $2",
              uv, 10, NULL, &e))
        goto rollback;
    }
    if (db_commit(d, &e)) goto retry;
    return 0;
  rollback:
    db_rollback(d);
  retry:
    if (!api_sqlstate_retryable(e.code) && strcmp(e.code, "23505")) break;
    continue;
  }
dbfail:
  db_failed(resp, &e, "claiming a shipment");
  return -1;
}

/* Writes a step's outcome. sets: SQL "col = $3, ..." with the values from
 * $3 on. The status moves to status when it may, and only from the status
 * this request saw: a webhook that moved it further meanwhile wins. */
static int record(db *d, ctx *c, ship *s, const char *status, const char *sets,
                  const db_val *vals, int n, db_err *e) {
  int64_t now = time_now_us();
  db_val v[12];
  v[0] = db_uuid(c->profile_id);
  v[1] = db_uuid(s->id);
  for (int i = 0; i < n; i++) v[2 + i] = vals[i];
  int moves = status && sr_status_may_move(s->status, status);
  v[2 + n] = db_text(moves ? status : s->status);
  v[3 + n] = db_ts(now);
  v[4 + n] = db_ts(now + LEASE_US);
  v[5 + n] = db_text(s->status);
  /* The lease is renewed at each step, so a slow Shiprocket cannot make it
   * run out under a request that is still working. */
  char sql[1024];
  snprintf(sql, sizeof sql,
           "UPDATE shipments SET step_lease_until = $%d, %s%sstatus = CASE "
           "WHEN status = $%d THEN $%d ELSE status END, updated_at = $%d, "
           "last_error = NULL WHERE profile_id = $1 AND id = $2",
           5 + n, sets ? sets : "", sets ? ", " : "", 6 + n, 3 + n, 4 + n);
  if (db_query(d, sql, v, 6 + n, NULL, e)) return -1;
  if (moves) s->status = status;
  return 0;
}

static void record_fail(db *d, ctx *c, ship *s, const char *step,
                        const sr_fail *f) {
  buf b;
  buf_init(&b, 16 * 1024);
  json_obj o;
  json_obj_open(&o, &b);
  json_obj_str(&o, "step", step);
  json_obj_int(&o, "status", f->http_status);
  json_obj_str(&o, "message", f->message);
  if (f->errors) json_obj_raw(&o, "errors", f->errors);
  else json_obj_null(&o, "errors");
  if (json_obj_close(&o)) {
    buf_reset(&b);
    buf_puts(&b, "{\"step\":\"");
    buf_puts(&b, step);
    buf_puts(&b, "\",\"message\":\"the error was too long to keep\"}");
  }
  db_val v[] = {db_uuid(c->profile_id), db_uuid(s->id), db_json(buf_cstr(&b)),
                db_ts(time_now_us())};
  db_err e;
  if (db_query_fixed(d,
                     "UPDATE shipments SET last_error = $3, updated_at = $4, "
                     "step_lease_until = NULL WHERE profile_id = $1 AND id = $2",
                     v, 4, NULL, &e))
    log_warn("shipments: recording a failed step: [%s] %s", e.code, e.message);
  buf_free(&b);
}

static void release(db *d, ctx *c, ship *s) {
  db_val v[] = {db_uuid(c->profile_id), db_uuid(s->id)};
  db_err e;
  if (db_query_fixed(d,
                     "UPDATE shipments SET step_lease_until = NULL WHERE "
                     "profile_id = $1 AND id = $2",
                     v, 2, NULL, &e))
    log_warn("shipments: releasing a shipment: [%s] %s", e.code, e.message);
}

/* The body {"shipment_id": id} or {"shipment_id": [id]}. */
static const char *ship_body(arena *a, const char *sid, int as_list,
                             const char *courier_id) {
  buf b;
  buf_init(&b, 512);
  json_obj o, l;
  json_obj_open(&o, &b);
  if (as_list) {
    json_obj_arr(&o, "shipment_id", &l);
    id_member(&l, NULL, sid);
    json_obj_close(&l);
  } else {
    id_member(&o, "shipment_id", sid);
    if (courier_id) id_member(&o, "courier_id", courier_id);
  }
  json_obj_close(&o);
  const char *t = arena_strdup(a, buf_cstr(&b));
  buf_free(&b);
  return t;
}

/* ---- create_shipment: the steps ---------------------------------------------- */

/* A 200 from Shiprocket whose body is not the answer the step needs: the
 * step is refused in Shiprocket's (or the parser's) words. Returns -1. */
static int answer_refused(sr_fail *f, arena *a, const char *why) {
  f->code = E_PROVIDER_REFUSED;
  f->http_status = 200;
  f->message = arena_strdup(a, why);
  f->errors = NULL;
  return -1;
}

/* Runs the steps the shipment still lacks. 0, or -1 with *step and f. */
static int run_steps(db *d, ctx *c, ship *s, const char **step, sr_fail *f) {
  sr_client cl = {.d = d, .a = c->a, .creds = &c->creds,
                  .base_url = integ_settings_get()->shiprocket_api_url};
  const char *body;
  size_t n;
  char why[400];
  db_err e;

  if (!s->sr_order_id) {
    *step = "order";
    const char *oid = NULL, *sid = NULL;
    int found = 0;
    if (s->order_sent_at) {
      /* An earlier request may have made it: find it first. */
      const char *path = arena_printf(c->a, "/orders?search=%s", s->id);
      if (sr_call(&cl, "GET", path, NULL, 0, &body, &n, f)) return -1;
      if (sr_parse_order_search(c->a, body, n, s->id, &found, &oid, &sid, why,
                                sizeof why))
        goto nonsense;
    }
    if (!found) {
      buf b;
      buf_init(&b, 1024 * 1024);
      int bad = sr_build_order(&b, &c->order);
      const char *req = arena_strdup(c->a, buf_cstr(&b));
      buf_free(&b);
      if (bad) {
        f->code = E_OP_INVALID;
        f->http_status = 0;
        f->message = "the order is too large to send";
        f->errors = NULL;
        return -1;
      }
      db_val v[] = {db_uuid(c->profile_id), db_uuid(s->id), db_ts(time_now_us())};
      if (db_query_fixed(d,
                         "UPDATE shipments SET order_sent_at = $3 WHERE "
                         "profile_id = $1 AND id = $2",
                         v, 3, NULL, &e))
        goto dbfail;
      s->order_sent_at = 1;
      if (sr_call(&cl, "POST", "/orders/create/adhoc", req, 1, &body, &n, f))
        return -1;
      if (sr_parse_order(c->a, body, n, &oid, &sid, why, sizeof why))
        goto nonsense;
    }
    db_val v[] = {db_text(oid), db_text(sid)};
    if (record(d, c, s, "order_created", "sr_order_id = $3, sr_shipment_id = $4",
               v, 2, &e))
      goto dbfail;
    s->sr_order_id = oid;
    s->sr_shipment_id = sid;
  }

  if (!s->awb) {
    *step = "awb";
    if (sr_call(&cl, "POST", "/courier/assign/awb",
                ship_body(c->a, s->sr_shipment_id, 0, NULL), 1, &body, &n, f))
      return -1;
    sr_awb w;
    if (sr_parse_awb(c->a, body, n, &w, why, sizeof why)) {
      return answer_refused(f, c->a, why);
    }
    const char *url = arena_printf(c->a, TRACK_URL_PREFIX "%s", w.awb);
    db_val v[] = {db_text(w.awb),
                  w.courier_name ? db_text(w.courier_name) : db_null(),
                  w.courier_id ? db_text(w.courier_id) : db_null(),
                  db_text(url)};
    if (record(d, c, s, "awb_assigned",
               "awb_number = $3, courier_name = $4, courier_id = $5, "
               "tracking_url = $6",
               v, 4, &e))
      goto dbfail;
    s->awb = w.awb;
  }

  if (!s->pickup_scheduled_at) {
    *step = "pickup";
    if (sr_call(&cl, "POST", "/courier/generate/pickup",
                ship_body(c->a, s->sr_shipment_id, 1, NULL), 1, &body, &n, f))
      return -1;
    int64_t at;
    if (sr_parse_pickup(c->a, body, n, &at, why, sizeof why)) {
      return answer_refused(f, c->a, why);
    }
    if (!at) at = time_now_us();
    db_val v[] = {db_ts(at)};
    if (record(d, c, s, "pickup_scheduled", "pickup_scheduled_at = $3", v, 1,
               &e))
      goto dbfail;
    s->pickup_scheduled_at = at;
  }

  if (!s->label_url) {
    *step = "label";
    if (sr_call(&cl, "POST", "/courier/generate/label",
                ship_body(c->a, s->sr_shipment_id, 1, NULL), 0, &body, &n, f))
      return -1;
    const char *url;
    if (sr_parse_label(c->a, body, n, &url, why, sizeof why)) {
      return answer_refused(f, c->a, why);
    }
    db_val v[] = {db_text(url)};
    if (record(d, c, s, NULL, "label_url = $3", v, 1, &e))
      goto dbfail;
    s->label_url = url;
  }
  return 0;

nonsense:
  f->code = E_PROVIDER_DOWN;
  f->http_status = 200;
  f->message = arena_printf(c->a, "Shiprocket's answer made no sense: %s", why);
  f->errors = NULL;
  return -1;
dbfail:
  log_warn("shipments: recording a step: [%s] %s", e.code, e.message);
  f->code = api_error_for_sqlstate(e.code);
  f->http_status = 0;
  f->message = "the database failed";
  f->errors = NULL;
  return -1;
}

static int creds_or_reply(db *d, arena *a, const char *profile_id,
                          integ_creds *cr, api_resp *resp) {
  int found = 0;
  db_err e;
  if (integ_creds_load(d, a, profile_id, "shiprocket", cr, &found, &e)) {
    db_failed(resp, &e, "reading the Shiprocket integration");
    return -1;
  }
  if (!found || !cr->is_active)
    return api_fail(resp, E_OP_CONFLICT,
                    "Shiprocket is not connected: add an active shiprocket "
                    "integration (email, password) first",
                    NULL, NULL);
  return 0;
}

void integ_op_create_shipment(db *d, api_req *req, const json *args,
                              api_resp *resp) {
  ctx c;
  memset(&c, 0, sizeof c);
  c.a = req->a;
  c.profile_id = req->who.sub;
  if (arg_uuid(args, "invoice_id", c.invoice_id, resp)) return;
  /* Below 1000 cm and 1000 kg: a parcel, not a typo. */
  if (arg_dec(c.a, args, "length", 2, 100000, &c.length, resp) ||
      arg_dec(c.a, args, "breadth", 2, 100000, &c.breadth, resp) ||
      arg_dec(c.a, args, "height", 2, 100000, &c.height, resp) ||
      arg_dec(c.a, args, "weight", 3, 1000000, &c.weight, resp))
    return;
  const json *pm = json_get(args, "payment_method");
  if (!pm || pm->type != JSON_STRING ||
      (strcmp(pm->str, "prepaid") && strcmp(pm->str, "cod"))) {
    api_fail(resp, E_OP_INVALID, "payment_method must be prepaid or cod", NULL,
             NULL);
    return;
  }
  c.cod = !strcmp(pm->str, "cod");
  if (creds_or_reply(d, c.a, c.profile_id, &c.creds, resp)) return;
  const json *pl = json_get(args, "pickup_location");
  if (pl && pl->type != JSON_NULL) {
    if (pl->type != JSON_STRING || pl->len == 0 || pl->len > 100) {
      api_fail(resp, E_OP_INVALID,
               "pickup_location must be the pickup location's nickname in "
               "Shiprocket (1 to 100 characters)",
               NULL, NULL);
      return;
    }
    c.pickup = pl->str;
  } else {
    c.pickup = c.creds.pickup_location;
  }
  if (!c.pickup || !*c.pickup) {
    api_fail(resp, E_OP_INVALID,
             "pickup_location is required (or set one on the Shiprocket "
             "integration)",
             NULL, NULL);
    return;
  }
  if (load_order(d, &c, resp)) return;
  ship s;
  if (claim_row(d, &c, &s, resp)) return;
  c.order.channel_order_id = s.id;
  const char *step = "order";
  sr_fail f;
  memset(&f, 0, sizeof f);
  if (run_steps(d, &c, &s, &step, &f)) {
    record_fail(d, &c, &s, step, &f);
    if (f.code == E_PROVIDER_REFUSED || f.code == E_PROVIDER_DOWN) {
      const char *msg = arena_printf(
          c.a, "%s at the %s step: the shipment %s keeps what was done; call "
               "create_shipment again to continue",
          f.code == E_PROVIDER_REFUSED ? "Shiprocket refused"
                                       : "Shiprocket failed",
          step, s.id);
      api_fail(resp, f.code, msg, f.message, f.errors);
    } else {
      api_fail(resp, f.code, f.message, NULL, NULL);
    }
    return;
  }
  release(d, &c, &s);
  answer_ship(d, req, s.id, resp);
}

/* ---- tracking ---------------------------------------------------------------- */

/* Applies one tracking update to a shipment: scans once, status forward,
 * a shipment.updated event on a change. *changed (may be NULL) says
 * whether the status moved. */
static int apply_track(db *d, arena *a, const char *profile_id,
                       const char *shipment_id, const sr_track *t,
                       int *changed, db_err *e) {
  if (changed) *changed = 0;
  for (int attempt = 0; attempt < 5; attempt++) {
    int64_t now = time_now_us();
    ship s;
    int found = 0;
    if (db_begin(d, 1, e)) goto retry;
    if (ship_load(d, a, profile_id, shipment_id, &s, &found, e)) goto rollback;
    if (!found) {
      db_rollback(d);
      return 0;
    }
    for (size_t i = 0; i < t->n_scans; i++) {
      const sr_scan *sc = &t->scans[i];
      char sid[37];
      uuid_v7(sid);
      db_val v[] = {db_uuid(profile_id), db_uuid(sid), db_uuid(s.id),
                    db_ts(sc->at_us), db_text(sc->status),
                    db_text(sc->activity), db_text(sc->location),
                    sc->code >= 0 ? db_int(sc->code) : db_null(), db_ts(now)};
      if (db_query_fixed(d,
                         "INSERT INTO shipment_scans (profile_id, id, "
                         "shipment_id, scanned_at, status, activity, "
                         "location, status_code, created_at) VALUES ($1, $2, "
                         "$3, $4, $5, $6, $7, $8, $9) ON CONFLICT (profile_id, "
                         "shipment_id, scanned_at, activity) DO NOTHING",
                         v, 9, NULL, e))
        goto rollback;
    }
    int code = t->code;
    const char *to = sr_status_for_code(code);
    if (!to && t->n_scans > 0) {
      code = t->scans[0].code;
      to = sr_status_for_code(code);
    }
    int moves = to && sr_status_may_move(s.status, to);
    const char *courier = t->courier_name ? t->courier_name : s.courier_name;
    const char *url = t->track_url ? t->track_url : s.tracking_url;
    db_val v[] = {db_uuid(profile_id), db_uuid(s.id), db_ts(now),
                  courier ? db_text(courier) : db_null(),
                  url ? db_text(url) : db_null(),
                  t->etd_us ? db_ts(t->etd_us) : db_null(),
                  db_text(moves ? to : s.status),
                  moves && code >= 0 ? db_int(code) : db_null(),
                  db_int(moves), db_text(s.status)};
    db_res *r = NULL;
    if (db_query(d,
                 "UPDATE shipments SET last_tracked_at = $3, courier_name = $4, "
                 "tracking_url = $5, etd = coalesce($6, etd), status = $7, "
                 "status_code = CASE WHEN $9 = 1 THEN $8 ELSE status_code END, "
                 "updated_at = CASE WHEN $9 = 1 THEN $3 ELSE updated_at END, "
                 "shipped_at = CASE WHEN $9 = 1 AND shipped_at IS NULL AND $7 "
                 "IN ('picked_up', 'in_transit', 'out_for_delivery', "
                 "'undelivered', 'delivered') THEN $3 ELSE shipped_at END, "
                 "delivered_at = CASE WHEN $9 = 1 AND $7 = 'delivered' THEN "
                 "$3 ELSE delivered_at END WHERE profile_id = $1 AND id = $2 "
                 "AND status = $10 RETURNING id",
                 v, 10, &r, e))
      goto rollback;
    int hit = db_res_rows(r) == 1;
    db_res_free(r);
    if (!hit) { /* moved under us: read it again */
      db_rollback(d);
      continue;
    }
    if (moves) {
      buf p;
      buf_init(&p, 64 * 1024);
      json_obj o, sc;
      json_obj_open(&o, &p);
      json_obj_str(&o, "id", s.id);
      json_obj_str(&o, "invoice_id", *s.invoice_id ? s.invoice_id : NULL);
      json_obj_str(&o, "awb_number", s.awb);
      json_obj_str(&o, "courier_name", courier);
      json_obj_str(&o, "status", to);
      json_obj_str(&o, "previous_status", s.status);
      if (code >= 0) json_obj_int(&o, "status_code", code);
      else json_obj_null(&o, "status_code");
      json_obj_str(&o, "tracking_url", url);
      if (t->n_scans > 0) {
        json_obj_nest(&o, "scan", &sc);
        json_obj_ts(&sc, "scanned_at", t->scans[0].at_us);
        json_obj_str(&sc, "activity", t->scans[0].activity);
        json_obj_str(&sc, "location", t->scans[0].location);
        json_obj_close(&sc);
      } else {
        json_obj_null(&o, "scan");
      }
      int bad = json_obj_close(&o);
      int rc = bad ? -1
                   : event_emit(d, profile_id, "shipment.updated", "shipment",
                                s.id, buf_cstr(&p), NULL, e);
      buf_free(&p);
      if (bad) {
        snprintf(e->code, sizeof e->code, "54000");
        snprintf(e->message, sizeof e->message, "the event is too large");
      }
      if (rc) goto rollback;
    }
    if (db_commit(d, e)) goto retry;
    if (changed) *changed = moves;
    return 0;
  rollback:
    db_rollback(d);
  retry:
    if (!api_sqlstate_retryable(e->code)) return -1;
  }
  snprintf(e->code, sizeof e->code, "40001");
  snprintf(e->message, sizeof e->message,
           "the shipment kept changing while its tracking was applied");
  return -1;
}

/* Polls Shiprocket for one shipment and applies what it says. -1 with f
 * (or e: f->code E_DB) on failure. */
static int track_one(db *d, arena *a, const integ_creds *cr,
                     const char *profile_id, const char *shipment_id,
                     const char *awb, int *changed, sr_fail *f, db_err *e) {
  sr_client cl = {.d = d, .a = a, .creds = cr,
                  .base_url = integ_settings_get()->shiprocket_api_url};
  const char *body;
  size_t n;
  if (sr_call(&cl, "GET", arena_printf(a, "/courier/track/awb/%s", awb), NULL,
              0, &body, &n, f))
    return -1;
  sr_track t;
  char why[300];
  if (sr_parse_tracking(a, body, n, awb, &t, why, sizeof why)) {
    f->code = E_PROVIDER_DOWN;
    f->http_status = 200;
    f->message = arena_printf(a, "Shiprocket's answer made no sense: %s", why);
    f->errors = NULL;
    return -1;
  }
  if (apply_track(d, a, profile_id, shipment_id, &t, changed, e)) {
    f->code = E_DB;
    f->message = "the database failed";
    return -1;
  }
  return 0;
}

void integ_op_track_shipment(db *d, api_req *req, const json *args,
                             api_resp *resp) {
  char id[37];
  if (arg_uuid(args, "shipment_id", id, resp)) return;
  ship s;
  int found = 0;
  db_err e;
  if (ship_load(d, req->a, req->who.sub, id, &s, &found, &e)) {
    db_failed(resp, &e, "reading a shipment");
    return;
  }
  if (!found) {
    api_fail(resp, E_OP_NOT_FOUND, "no such shipment", NULL, NULL);
    return;
  }
  if (!s.provider || !s.awb) {
    api_fail(resp, E_OP_CONFLICT,
             s.provider ? "the shipment has no AWB yet: finish it with "
                          "create_shipment first"
                        : "the shipment was not made through Shiprocket",
             NULL, NULL);
    return;
  }
  integ_creds cr;
  if (creds_or_reply(d, req->a, req->who.sub, &cr, resp)) return;
  sr_fail f;
  memset(&f, 0, sizeof f);
  if (track_one(d, req->a, &cr, req->who.sub, s.id, s.awb, NULL, &f, &e)) {
    if (f.code == E_DB) db_failed(resp, &e, "applying tracking");
    else
      api_fail(resp, f.code,
               f.code == E_PROVIDER_REFUSED ? "Shiprocket refused the tracking request"
                                            : "Shiprocket's tracking failed",
               f.message, f.errors);
    return;
  }
  answer_ship(d, req, s.id, resp);
}

/* ---- the webhook ------------------------------------------------------------- */

/* Two secrets compared in constant time whatever their lengths: their
 * digests are. An empty or missing expected secret matches nothing. */
static int token_equal(const char *want, const char *got) {
  if (!want || !*want || !got) return 0;
  uint8_t a[32], b[32];
  sha256(want, strlen(want), a);
  sha256(got, strlen(got), b);
  return ct_equal(a, b, 32);
}

static void unauthorised(api_resp *resp) {
  api_fail(resp, E_NO_AUTH,
           "missing or wrong x-api-key (the integration's webhook_token)",
           NULL, NULL);
}

/* POST /webhooks/shiprocket[/:id] (and the alias /webhooks/courier[/:id],
 * for Shiprocket's panel refuses URLs naming it). With :id the token is
 * checked before the body is read; without, the shipment's AWB names the
 * business whose token must match. */
void integ_shiprocket_webhook(db *d, api_req *req, api_resp *resp) {
  const char *key = req->header ? req->header(req, "x-api-key") : NULL;
  const char *id = api_param(req, "id");
  db_err e;
  integ_creds cr;
  int found = 0;
  if (!key || !*key) {
    unauthorised(resp);
    return;
  }
  if (req->body_len > SR_WEBHOOK_MAX_BODY) {
    api_failf(resp, E_TOO_LARGE, "a webhook body has at most %d bytes",
              SR_WEBHOOK_MAX_BODY);
    return;
  }
  if (id) {
    if (integ_creds_by_id(d, req->a, id, "shiprocket", &cr, &found, &e)) {
      db_failed(resp, &e, "reading a webhook's integration");
      return;
    }
    if (!found || !token_equal(cr.webhook_token, key) || !cr.is_active) {
      unauthorised(resp);
      return;
    }
  }
  sr_track t;
  char why[300];
  if (sr_parse_webhook(req->a, req->body, req->body_len, &t, why, sizeof why)) {
    /* Without :id nothing is known yet of who sent it: refuse the same
     * way as a bad token, so the answer tells a stranger nothing. */
    if (!id) unauthorised(resp);
    else api_fail(resp, E_BAD_JSON, why, NULL, NULL);
    return;
  }
  /* The shipment by AWB: within the integration's business, or any. */
  db_res *r = NULL;
  db_val v[] = {db_text(t.awb), db_uuid(id ? cr.profile_id : "00000000-0000-0000-0000-000000000000"),
                db_bool(id != NULL)};
  if (db_query(d,
               "SELECT profile_id, id FROM shipments WHERE awb_number = $1 "
               "AND provider = 'shiprocket' AND ($3 = false OR profile_id = "
               "$2) ORDER BY created_at DESC LIMIT 2",
               v, 3, &r, &e)) {
    db_failed(resp, &e, "finding a webhook's shipment");
    return;
  }
  int rows = db_res_rows(r);
  char pid[37] = "", sid[37] = "";
  if (rows >= 1) {
    uuid_normalize(db_res_text(r, 0, 0), pid);
    uuid_normalize(db_res_text(r, 0, 1), sid);
  }
  db_res_free(r);
  if (!id) {
    if (rows == 1 &&
        integ_creds_load(d, req->a, pid, "shiprocket", &cr, &found, &e)) {
      db_failed(resp, &e, "reading a webhook's integration");
      return;
    }
    /* Without :id the token can only be checked against the business of
     * the AWB. An unknown AWB (or one two businesses share) has none to
     * check against, and is refused exactly as a wrong token is, so the
     * answer tells a stranger nothing about which AWBs exist. Accounts
     * that also ship outside munshi use the :id route, where the token is
     * checked first and an unknown AWB is answered 200. */
    if (rows != 1 || !found || !cr.is_active ||
        !token_equal(cr.webhook_token, key)) {
      unauthorised(resp);
      return;
    }
  }
  if (rows == 0) {
    resp->status = 200;
    buf_puts(&resp->body, "{\"received\":true,\"applied\":false}");
    return;
  }
  int changed = 0;
  if (apply_track(d, req->a, pid, sid, &t, &changed, &e)) {
    db_failed(resp, &e, "applying a tracking webhook");
    return;
  }
  resp->status = 200;
  buf_printf(&resp->body, "{\"received\":true,\"applied\":true,\"changed\":%s}",
             changed ? "true" : "false");
}

/* ---- the tracking job -------------------------------------------------------- */

int integ_track_schedule(db *d, db_err *err) {
  int every = integ_settings_get()->track_every_s;
  return jobs_every(d, INTEG_TRACK_KIND, INTEG_TRACK_KIND, every,
                    time_now_us() + (int64_t)every * 1000000, err);
}

int integ_track_job(void *arg, db *d, const jobs_job *job, db_err *err) {
  (void)arg;
  (void)job;
  int every = integ_settings_get()->track_every_s;
  int64_t now = time_now_us();
  /* Shipments not heard of for half the interval: those that get webhooks
   * are (apply_track sets last_tracked_at) and are left alone. */
  db_val v[] = {db_ts(now - (int64_t)every * 500000), db_int(INTEG_TRACK_BATCH)};
  db_res *r = NULL;
  if (db_query(d,
               "SELECT profile_id, id, awb_number FROM shipments WHERE "
               "provider IS NOT NULL AND awb_number IS NOT NULL AND status "
               "NOT IN ('delivered', 'rto_delivered', 'cancelled', 'lost') "
               "AND (last_tracked_at IS NULL OR last_tracked_at < $1) ORDER "
               "BY last_tracked_at NULLS FIRST LIMIT $2",
               v, 2, &r, err))
    return -1;
  int rows = db_res_rows(r);
  arena *a = arena_new();
  int done = 0, failed = 0;
  int64_t started = time_mono_us();
  for (int i = 0; i < rows; i++) {
    /* A slow Shiprocket must not hold the job past its lease: the rest
     * waits for the next round (oldest first, so none starves). */
    if (time_mono_us() - started > INTEG_TRACK_BUDGET_US) break;
    char pid[37], sid[37];
    uuid_normalize(db_res_text(r, i, 0), pid);
    uuid_normalize(db_res_text(r, i, 1), sid);
    const char *awb = arena_strdup(a, db_res_text(r, i, 2));
    integ_creds cr;
    int found = 0;
    db_err e;
    sr_fail f;
    if (integ_creds_load(d, a, pid, "shiprocket", &cr, &found, &e)) {
      failed++;
    } else if (found && cr.is_active &&
               !track_one(d, a, &cr, pid, sid, awb, NULL, &f, &e)) {
      done++;
    } else {
      /* No credentials, or Shiprocket failed: try it again next round,
       * after the others. */
      db_val tv[] = {db_uuid(pid), db_uuid(sid), db_ts(now)};
      if (db_query_fixed(d,
                         "UPDATE shipments SET last_tracked_at = $3 WHERE "
                         "profile_id = $1 AND id = $2",
                         tv, 3, NULL, &e))
        log_warn("shipments: [%s] %s", e.code, e.message);
      failed++;
    }
    arena_reset(a);
  }
  arena_free(a);
  db_res_free(r);
  if (rows) log_info("shipments: tracked %d of %d shipments", done, rows);
  (void)failed;
  return 0;
}

/* env.c - what names and functions mean in a step's expressions (env.h):
 * the trigger's data, the for_each item, the records they name read fresh
 * from the books, the business, earlier nodes' outputs, `set` values, and
 * the books' reports as functions.
 *
 * Records are read with one focused SELECT per kind and written as a REST
 * read writes them: money and quantities as exact decimals, dates and
 * timestamps in their canonical text (base/json.h's writers). A record is
 * found by the entity_type/entity_id of the item or the trigger, else by
 * <name>_id there, else through another record (an invoice's or payment's
 * customer, a payment's or shipment's invoice, a message's session's
 * customer). Every record and report is read at most once per step (memo).
 *
 * Reports are EV_JSON objects with their figures as members (so
 * `debtors().count > 5` and `sales_summary('today').total` work in
 * conditions) and a member `text`, the report as a short message. A
 * template hole whose value is a report renders that text (flow_render
 * does the holes itself for that reason); anywhere else the object is an
 * object. */
#include "flow/env.h"

#include <stdio.h>
#include <string.h>

#include "base/dec.h"
#include "base/timeutil.h"
#include "base/uuid.h"
#include "biz/biz.h"
#include "biz/gst.h"

#define REPORT_LIST_MAX 10 /* names a report's text lists */
#define MEMO_KEY_MAX 96

/* One remembered record or report; j NULL: there is none. */
typedef struct memo_ent {
  struct memo_ent *next;
  char key[MEMO_KEY_MAX];
  const json *j;
  int report;
} memo_ent;

struct flow_env_memo {
  memo_ent *head;
};

static memo_ent *memo_get(flow_env *env, const char *key) {
  if (!env->memo) return NULL;
  for (memo_ent *m = env->memo->head; m; m = m->next)
    if (!strcmp(m->key, key)) return m;
  return NULL;
}

static memo_ent *memo_put(flow_env *env, const char *key, const json *j,
                          int report) {
  if (!env->memo) env->memo = arena_alloc(env->a, sizeof *env->memo);
  memo_ent *m = arena_alloc(env->a, sizeof *m);
  snprintf(m->key, sizeof m->key, "%s", key);
  m->j = j;
  m->report = report;
  m->next = env->memo->head;
  env->memo->head = m;
  return m;
}

static int is_report(flow_env *env, const json *j) {
  if (!env->memo || !j) return 0;
  for (memo_ent *m = env->memo->head; m; m = m->next)
    if (m->report && m->j == j) return 1;
  return 0;
}

/* ---- records ------------------------------------------------------------ */

/* Column kinds: T text or uuid, M money (scale 2), Q quantity (scale 3),
 * B boolean, D date, S timestamp, J JSON. */
typedef struct rec_kind {
  const char *name;
  const char *sql; /* $1 profile, $2 id */
  const char *kinds;
} rec_kind;

static const rec_kind rec_kinds[] = {
    {"customer",
     "SELECT id, full_name, phone_number, email, gstin, state_code, address, "
     "total_debt, notes, created_at, updated_at FROM customers WHERE "
     "profile_id = $1 AND id = $2",
     "TTTTTTTMTSS"},
    {"invoice",
     "SELECT id, customer_id, invoice_number, invoice_date, due_date, "
     "place_of_supply, status, subtotal, cgst_amount, sgst_amount, "
     "igst_amount, round_off, total_amount, amount_paid, balance_due, notes, "
     "cancel_reason, issued_at, cancelled_at, created_at, updated_at FROM "
     "invoices WHERE profile_id = $1 AND id = $2",
     "TTTDDTTMMMMMMMMTTSSSS"},
    {"product",
     "SELECT id, name, sku, hsn_code, unit, gst_rate, base_price, "
     "current_stock, low_stock_threshold, is_active, created_at, updated_at "
     "FROM products WHERE profile_id = $1 AND id = $2",
     "TTTTTMMQQBSS"},
    {"payment",
     "SELECT id, customer_id, invoice_id, amount_received, payment_mode, "
     "reference, received_at, notes, created_at FROM payments WHERE "
     "profile_id = $1 AND id = $2",
     "TTTMTTSTS"},
    {"shipment",
     "SELECT id, invoice_id, awb_number, courier_name, status, tracking_url, "
     "shipped_at, delivered_at, created_at, updated_at FROM shipments WHERE "
     "profile_id = $1 AND id = $2",
     "TTTTTTSSSS"},
    {"message",
     "SELECT m.id, m.session_id, m.channel_id, m.direction, m.content, "
     "m.message_type, m.status, m.sender, m.metadata, m.created_at, "
     "s.customer_id FROM unified_messages m LEFT JOIN sessions s ON "
     "s.profile_id = m.profile_id AND s.id = m.session_id WHERE m.profile_id "
     "= $1 AND m.id = $2",
     "TTTTTTTTJST"},
    {"business",
     "SELECT id, business_name, gst_number, whatsapp_number, state_code, "
     "address, upi_id, invoice_prefix, owner_phone FROM profiles WHERE id = "
     "$1 AND id = $2",
     "TTTTTTTTT"},
};

static const rec_kind *rec_find(const char *name) {
  for (size_t i = 0; i < sizeof rec_kinds / sizeof rec_kinds[0]; i++)
    if (!strcmp(rec_kinds[i].name, name)) return &rec_kinds[i];
  return NULL;
}

/* Writes row 0 of r as an object; -1 on an unreadable value. */
static int row_json(const db_res *r, const char *kinds, buf *out) {
  json_obj o;
  json_obj_open(&o, out);
  for (int c = 0; kinds[c]; c++) {
    const char *k = db_res_colname(r, c);
    if (db_res_isnull(r, 0, c)) {
      json_obj_null(&o, k);
      continue;
    }
    switch (kinds[c]) {
      case 'M':
      case 'Q': {
        int scale = kinds[c] == 'M' ? 2 : 3;
        int64_t v = db_res_dec(r, 0, c, scale);
        if (v == DB_BAD_VALUE) return -1;
        json_obj_dec(&o, k, v, scale);
        break;
      }
      case 'B':
        json_obj_bool(&o, k, db_res_bool(r, 0, c));
        break;
      case 'D': {
        int32_t d = db_res_date(r, 0, c);
        if (d == DB_BAD_DATE) return -1;
        json_obj_date(&o, k, d);
        break;
      }
      case 'S': {
        int64_t t = db_res_ts(r, 0, c);
        if (t == DB_BAD_VALUE) return -1;
        json_obj_ts(&o, k, t);
        break;
      }
      case 'J':
        json_obj_raw(&o, k, db_res_text(r, 0, c));
        break;
      default:
        json_obj_str(&o, k, db_res_text(r, 0, c));
    }
  }
  return json_obj_close(&o);
}

/* A string member of o that is a UUID, canonical, into out; 0 when none. */
static int uuid_member(const json *o, const char *key, char out[37]) {
  const json *v = json_get(o, key);
  if (!v || v->type != JSON_STRING) return 0;
  return uuid_normalize(v->str, out) == 0;
}

/* The id of record `name` named by object o (the item or the trigger). */
static int id_in(const json *o, const char *name, char out[37]) {
  if (!o || o->type != JSON_OBJECT) return 0;
  const json *et = json_get(o, "entity_type");
  if (et && et->type == JSON_STRING && !strcmp(et->str, name) &&
      uuid_member(o, "entity_id", out))
    return 1;
  char key[32];
  snprintf(key, sizeof key, "%s_id", name);
  return uuid_member(o, key, out);
}

static const json *record_read(flow_env *env, const rec_kind *k,
                               const char *id, int *dberr) {
  db_val v[] = {db_uuid(env->profile_id), db_uuid(id)};
  db_res *r = NULL;
  db_err err;
  if (db_query(env->d, k->sql, v, 2, &r, &err)) {
    *dberr = 1;
    return NULL;
  }
  const json *j = NULL;
  if (db_res_rows(r) == 1) {
    buf b;
    buf_init(&b, 1 << 20);
    json *parsed = NULL;
    json_error je;
    if (row_json(r, k->kinds, &b) == 0 &&
        json_parse(env->a, b.data, b.len, &parsed, &je) == 0)
      j = parsed;
    else
      *dberr = 1;
    buf_free(&b);
  }
  db_res_free(r);
  return j;
}

const json *flow_env_record(flow_env *env, const char *name, int *dberr) {
  *dberr = 0;
  const rec_kind *k = rec_find(name);
  if (!k) return NULL;
  char key[MEMO_KEY_MAX];
  snprintf(key, sizeof key, "rec:%s", name);
  memo_ent *m = memo_get(env, key);
  if (m) return m->j;

  char id[37] = "";
  int have = 0;
  if (!strcmp(name, "business")) {
    snprintf(id, sizeof id, "%s", env->profile_id);
    have = 1;
  } else {
    have = id_in(env->item, name, id) || id_in(env->trigger, name, id);
  }
  /* Through another record: what an invoice or a payment belongs to. */
  static const struct {
    const char *name, *via;
  } chain[] = {{"customer", "invoice"}, {"customer", "payment"},
               {"customer", "message"}, {"invoice", "payment"},
               {"invoice", "shipment"}};
  for (size_t i = 0; !have && i < sizeof chain / sizeof chain[0]; i++) {
    if (strcmp(chain[i].name, name)) continue;
    const json *via = flow_env_record(env, chain[i].via, dberr);
    if (*dberr) return NULL;
    char fk[32];
    snprintf(fk, sizeof fk, "%s_id", name);
    have = via && uuid_member(via, fk, id);
  }
  const json *j = have ? record_read(env, k, id, dberr) : NULL;
  if (*dberr) return NULL;
  memo_put(env, key, j, 0);
  return j;
}

/* ---- reports ------------------------------------------------------------ */

/* paise as "1,23,456.50" (Indian grouping). */
static void money_text(buf *b, int64_t paise) {
  char t[DEC_MAX_TEXT];
  dec_format(paise < 0 ? -paise : paise, 2, t);
  const char *dot = strchr(t, '.');
  size_t ilen = dot ? (size_t)(dot - t) : strlen(t);
  if (paise < 0) buf_putc(b, '-');
  for (size_t i = 0; i < ilen; i++) {
    size_t left = ilen - i; /* digits from here to the point */
    buf_putc(b, t[i]);
    if (left > 1 && (left == 4 || (left > 4 && (left - 4) % 2 == 0)))
      buf_putc(b, ',');
  }
  if (dot) buf_puts(b, dot);
}

static void date_text(buf *b, int32_t days) {
  static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  buf_printf(b, "%02u %s %lld", d, mon[(m - 1) % 12], (long long)y);
}

/* period to India's days from..to; -1 when unknown. */
static int period_days(const char *p, int64_t now_us, int32_t *from,
                       int32_t *to, const char **label) {
  int32_t today = gst_today_ist(now_us);
  *to = today;
  if (!strcmp(p, "today")) {
    *from = today, *label = "today";
  } else if (!strcmp(p, "yesterday")) {
    *from = *to = today - 1, *label = "yesterday";
  } else if (!strcmp(p, "week")) {
    *from = today - 6, *label = "the last 7 days";
  } else if (!strcmp(p, "month")) {
    int64_t y;
    unsigned m, d;
    civil_from_days(today, &y, &m, &d);
    *from = (int32_t)days_from_civil(y, m, 1), *label = "this month";
  } else {
    return -1;
  }
  return 0;
}

static int64_t money_of(const json *o, const char *key) {
  int64_t v = 0;
  const json *n = json_get(o, key);
  if (!n || json_decimal(n, 2, &v)) return 0;
  return v;
}

/* Runs a read operation of the books; its answer parsed into *out. */
static int run_report(flow_env *env, biz_op_fn fn, const char *args_text,
                      const json **out, char *err, size_t errlen) {
  json *args = NULL, *res = NULL;
  json_error je;
  json_parse(env->a, args_text, strlen(args_text), &args, &je);
  biz_ctx bc = {.d = env->d, .a = env->a, .profile_id = env->profile_id,
                .now_us = env->e.now_us};
  biz_err be;
  memset(&be, 0, sizeof be);
  buf b;
  buf_init(&b, 4 << 20);
  int rc = fn(&bc, args, &b, &be);
  if (rc == 0 && json_parse(env->a, b.data, b.len, &res, &je)) rc = -1;
  buf_free(&b);
  if (rc) {
    snprintf(err, errlen, "the report could not be read: %s",
             be.message[0] ? be.message : "bad answer");
    return -1;
  }
  *out = res;
  return 0;
}

static int report_sales(flow_env *env, const char *period, int gst_only,
                        buf *o, char *err, size_t errlen) {
  int32_t from, to;
  const char *label;
  if (period_days(period, env->e.now_us, &from, &to, &label)) {
    snprintf(err, errlen,
             "period must be 'today', 'yesterday', 'week' or 'month'");
    return -1;
  }
  char f[11], t[11];
  date_format(from, f);
  date_format(to, t);
  char *args = arena_printf(env->a, "{\"from\":\"%s\",\"to\":\"%s\"}", f, t);
  const json *res;
  if (run_report(env, op_sales_summary, args, &res, err, errlen)) return -1;
  const json *tot = json_get(res, "totals");
  int64_t count = 0;
  json_int64(json_get(tot, "invoice_count"), &count);
  int64_t total = money_of(tot, "total"), taxable = money_of(tot, "taxable_value");
  int64_t cgst = money_of(tot, "cgst"), sgst = money_of(tot, "sgst"),
          igst = money_of(tot, "igst"), paid = money_of(tot, "payments_received");
  int64_t gst = cgst + sgst + igst;

  buf text;
  buf_init(&text, 4096);
  if (gst_only) {
    buf_printf(&text, "GST collected %s: ₹", label);
    money_text(&text, gst);
    buf_puts(&text, " (CGST ₹");
    money_text(&text, cgst);
    buf_puts(&text, ", SGST ₹");
    money_text(&text, sgst);
    buf_puts(&text, ", IGST ₹");
    money_text(&text, igst);
    buf_puts(&text, ")");
  } else {
    buf_printf(&text, "Sales %s", label);
    if (from == to) {
      buf_puts(&text, " (");
      date_text(&text, from);
      buf_puts(&text, ")");
    }
    buf_printf(&text, ": %lld invoice%s, ₹", (long long)count,
               count == 1 ? "" : "s");
    money_text(&text, total);
    buf_puts(&text, " (GST ₹");
    money_text(&text, gst);
    buf_puts(&text, "); payments received ₹");
    money_text(&text, paid);
  }

  json_obj r;
  json_obj_open(&r, o);
  json_obj_str(&r, "period", period);
  json_obj_date(&r, "from", from);
  json_obj_date(&r, "to", to);
  if (!gst_only) {
    json_obj_int(&r, "invoice_count", count);
    json_obj_dec(&r, "total", total, 2);
    json_obj_dec(&r, "taxable_value", taxable, 2);
    json_obj_dec(&r, "payments_received", paid, 2);
  }
  json_obj_dec(&r, "cgst", cgst, 2);
  json_obj_dec(&r, "sgst", sgst, 2);
  json_obj_dec(&r, "igst", igst, 2);
  json_obj_dec(&r, gst_only ? "total" : "gst", gst, 2);
  json_obj_str(&r, "text", buf_cstr(&text));
  buf_free(&text);
  return json_obj_close(&r);
}

static int report_debtors(flow_env *env, buf *o, char *err, size_t errlen) {
  const json *res;
  if (run_report(env, op_debtors, "{\"limit\":1000}", &res, err, errlen))
    return -1;
  const json *list = json_get(res, "debtors");
  size_t n = list && list->type == JSON_ARRAY ? list->n : 0;
  int64_t total = 0;
  for (size_t i = 0; i < n; i++) total += money_of(list->items[i], "total_debt");
  buf text;
  buf_init(&text, 8192);
  if (!n) {
    buf_puts(&text, "No one owes you money.");
  } else {
    buf_printf(&text, "%zu customer%s owe ₹", n, n == 1 ? "" : "s");
    money_text(&text, total);
    buf_puts(&text, ":");
    for (size_t i = 0; i < n && i < REPORT_LIST_MAX; i++) {
      const json *nm = json_get(list->items[i], "full_name");
      buf_printf(&text, "\n%zu. %s ₹", i + 1,
                 nm && nm->type == JSON_STRING ? nm->str : "?");
      money_text(&text, money_of(list->items[i], "total_debt"));
    }
    if (n > REPORT_LIST_MAX)
      buf_printf(&text, "\n…and %zu more", n - REPORT_LIST_MAX);
  }
  json_obj r;
  json_obj_open(&r, o);
  json_obj_int(&r, "count", (int64_t)n);
  json_obj_dec(&r, "total", total, 2);
  json_obj_raw(&r, "debtors", json_to_text(env->a, list ? list : res));
  json_obj_str(&r, "text", buf_cstr(&text));
  buf_free(&text);
  return json_obj_close(&r);
}

static int report_stock_low(flow_env *env, buf *o, char *err, size_t errlen) {
  db_val v[] = {db_uuid(env->profile_id)};
  db_res *r = NULL;
  db_err de;
  if (db_query(env->d,
               "SELECT id, name, unit, current_stock, low_stock_threshold "
               "FROM products WHERE profile_id = $1 AND is_active AND "
               "low_stock_threshold IS NOT NULL AND current_stock <= "
               "low_stock_threshold ORDER BY name, id LIMIT 1000",
               v, 1, &r, &de)) {
    snprintf(err, errlen, "the stock could not be read: %s", de.message);
    return -1;
  }
  int n = db_res_rows(r);
  buf text;
  buf_init(&text, 8192);
  json_obj root, list, p;
  json_obj_open(&root, o);
  json_obj_int(&root, "count", n);
  json_obj_arr(&root, "products", &list);
  if (!n) buf_puts(&text, "No product is low on stock.");
  else
    buf_printf(&text, "%d product%s low on stock:", n, n == 1 ? " is" : "s are");
  for (int i = 0; i < n; i++) {
    int64_t cur = db_res_dec(r, i, 3, 3), thr = db_res_dec(r, i, 4, 3);
    json_obj_nest(&list, NULL, &p);
    json_obj_str(&p, "product_id", db_res_text(r, i, 0));
    json_obj_str(&p, "name", db_res_text(r, i, 1));
    json_obj_str(&p, "unit", db_res_text(r, i, 2));
    json_obj_dec(&p, "current_stock", cur, 3);
    json_obj_dec(&p, "low_stock_threshold", thr, 3);
    json_obj_close(&p);
    if (i < REPORT_LIST_MAX) {
      char q[DEC_MAX_TEXT];
      dec_format(cur, 3, q);
      /* 12.000 reads as 12 */
      char *dot = strchr(q, '.');
      if (dot && !strcmp(dot, ".000")) *dot = '\0';
      buf_printf(&text, "\n- %s: %s %s", db_res_text(r, i, 1), q,
                 db_res_text(r, i, 2));
    }
  }
  if (n > REPORT_LIST_MAX) buf_printf(&text, "\n…and %d more", n - REPORT_LIST_MAX);
  db_res_free(r);
  json_obj_close(&list);
  json_obj_str(&root, "text", buf_cstr(&text));
  buf_free(&text);
  return json_obj_close(&root);
}

/* ---- the expr callbacks ------------------------------------------------- */

static int set_json(const json *j, expr_val *out) {
  if (!j) {
    memset(out, 0, sizeof *out);
    out->t = EV_NULL;
    return 0;
  }
  if (j->type == JSON_OBJECT || j->type == JSON_ARRAY) {
    memset(out, 0, sizeof *out);
    out->t = EV_JSON;
    out->j = j;
    return 0;
  }
  return expr_from_json(j, out);
}

static int env_lookup(void *arg, arena *a, const char *name, expr_val *out,
                      char *err, size_t errlen) {
  flow_env *env = arg;
  (void)a;
  if (!strcmp(name, "trigger") || !strcmp(name, "event") ||
      !strcmp(name, "input"))
    return set_json(env->trigger, out);
  if (!strcmp(name, "item")) return set_json(env->item, out);
  if (rec_find(name)) {
    int dberr = 0;
    const json *j = flow_env_record(env, name, &dberr);
    if (dberr) {
      snprintf(err, errlen, "%s could not be read from the books", name);
      return -1;
    }
    return set_json(j, out);
  }
  const json *nodes = json_get_obj(env->context, "nodes");
  const json *v = json_get(nodes, name);
  if (v) return set_json(v, out);
  const json *vars = json_get_obj(env->context, "vars");
  v = json_get(vars, name);
  if (v) return set_json(v, out);
  if (!strcmp(name, "now") || !strcmp(name, "today")) {
    /* As the builtins say: evaluated by the evaluator itself. */
    expr_env bare = env->e;
    bare.lookup = NULL, bare.call = NULL;
    const char *src = name[0] == 'n' ? "now()" : "today()";
    return expr_eval(env->a, src, strlen(src), &bare, out, err, errlen);
  }
  return 1;
}

static int env_call(void *arg, arena *a, const char *name,
                    const expr_val *args, int nargs, expr_val *out, char *err,
                    size_t errlen) {
  flow_env *env = arg;
  (void)a;
  int which;
  if (!strcmp(name, "sales_summary")) which = 0;
  else if (!strcmp(name, "debtors")) which = 1;
  else if (!strcmp(name, "gst_collected")) which = 2;
  else if (!strcmp(name, "stock_low")) which = 3;
  else return 1;
  int wants_period = which == 0 || which == 2;
  char period[16] = "today";
  if (wants_period) {
    if (nargs > 1 || (nargs == 1 && args[0].t != EV_STR) ||
        (nargs == 1 && args[0].n >= sizeof period)) {
      snprintf(err, errlen, "%s takes one period: 'today', 'yesterday', "
                            "'week' or 'month'", name);
      return -1;
    }
    if (nargs == 1) snprintf(period, sizeof period, "%.*s", (int)args[0].n,
                             args[0].s);
  } else if (nargs) {
    snprintf(err, errlen, "%s takes no arguments", name);
    return -1;
  }
  char key[MEMO_KEY_MAX];
  snprintf(key, sizeof key, "fn:%s:%s", name, wants_period ? period : "");
  memo_ent *m = memo_get(env, key);
  if (!m) {
    buf b;
    buf_init(&b, 1 << 20);
    int rc = which == 0   ? report_sales(env, period, 0, &b, err, errlen)
             : which == 1 ? report_debtors(env, &b, err, errlen)
             : which == 2 ? report_sales(env, period, 1, &b, err, errlen)
                          : report_stock_low(env, &b, err, errlen);
    json *j = NULL;
    json_error je;
    if (rc == 0 && json_parse(env->a, b.data, b.len, &j, &je)) {
      snprintf(err, errlen, "%s: the report is too large", name);
      rc = -1;
    }
    buf_free(&b);
    if (rc) return -1;
    m = memo_put(env, key, j, 1);
  }
  return set_json(m->j, out);
}

void flow_env_init(flow_env *env, db *d, arena *a, const char *profile_id,
                   const json *trigger, const json *context, const json *item,
                   int64_t now_us) {
  static json empty = {.type = JSON_OBJECT};
  memset(env, 0, sizeof *env);
  env->d = d, env->a = a, env->profile_id = profile_id;
  env->trigger = trigger ? trigger : &empty;
  env->context = context, env->item = item;
  env->e.arg = env;
  env->e.lookup = env_lookup;
  env->e.call = env_call;
  env->e.now_us = now_us;
  env->e.tz_offset_s = 19800;
}

int flow_eval(flow_env *env, const char *src, expr_val *out, char *err,
              size_t errlen) {
  return expr_eval(env->a, src, strlen(src), &env->e, out, err, errlen);
}

/* The end of the hole that starts at p (just after "{{"): the "}}" outside
 * a quoted string, or NULL. */
static const char *hole_end(const char *p) {
  char q = 0;
  for (; *p; p++) {
    if (q) {
      if (*p == '\\' && p[1]) p++;
      else if (*p == q) q = 0;
    } else if (*p == '\'' || *p == '"') {
      q = *p;
    } else if (p[0] == '}' && p[1] == '}') {
      return p;
    }
  }
  return NULL;
}

/* Renders holes itself so that a report renders as its text; every other
 * value is formatted by expr_format, as expr_render would. */
int flow_render(flow_env *env, const char *tmpl, buf *out, char *err,
                size_t errlen) {
  if (!strstr(tmpl, "{{"))
    return expr_render(env->a, tmpl, strlen(tmpl), &env->e, out, err, errlen);
  const char *p = tmpl;
  for (;;) {
    const char *open = strstr(p, "{{");
    if (!open) {
      if (buf_puts(out, p)) goto big;
      return 0;
    }
    if (buf_append(out, p, (size_t)(open - p))) goto big;
    const char *close = hole_end(open + 2);
    if (!close) {
      snprintf(err, errlen, "a {{ at %zu is not closed", (size_t)(open - tmpl));
      return -1;
    }
    expr_val v;
    char e2[256];
    if (expr_eval(env->a, open + 2, (size_t)(close - open - 2), &env->e, &v,
                  e2, sizeof e2)) {
      snprintf(err, errlen, "in {{%.*s}}: %s",
               (int)(close - open - 2 > 60 ? 60 : close - open - 2), open + 2,
               e2);
      return -1;
    }
    const json *text = v.t == EV_JSON && is_report(env, v.j)
                           ? json_get(v.j, "text")
                           : NULL;
    if (text && text->type == JSON_STRING) {
      if (buf_append(out, text->str, text->len)) goto big;
    } else if (v.t != EV_NULL && expr_format(&v, env->e.tz_offset_s, out)) {
      goto big;
    }
    p = close + 2;
  }
big:
  snprintf(err, errlen, "the text is too long");
  return -1;
}

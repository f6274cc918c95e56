/* node_flow.c - the nodes that steer a run and touch nothing outside it:
 * trigger, condition, switch, wait, for_each, set and stop
 * (docs/workflows.md ("Nodes")). */
#include <stdio.h>
#include <string.h>

#include "base/dec.h"
#include "base/timeutil.h"
#include "biz/gst.h"
#include "flow/cron.h"
#include "flow/node_int.h"

/* ---- trigger ------------------------------------------------------------ */

static int trigger_validate(arena *a, const json *p, bp_error *e) {
  static const char *const known[] = {"event", "cron", "timezone", "webhook",
                                      "manual", NULL};
  (void)a;
  if (np_only(p, known, e)) return -1;
  const json *ev = json_get(p, "event"), *cr = json_get(p, "cron"),
             *wh = json_get(p, "webhook"), *ma = json_get(p, "manual");
  int kinds = !!ev + !!cr + !!wh + !!ma;
  if (kinds != 1)
    return np_fail(e, "", "a trigger needs exactly one of event, cron, "
                          "webhook: true, manual: true");
  if (ev && (ev->type != JSON_STRING || !bp_event_known(ev->str)))
    return np_fail(e, "event", "unknown event (e.g. invoice.issued, "
                               "payment.received, customer.created)");
  if (wh && wh->type != JSON_TRUE)
    return np_fail(e, "webhook", "must be true");
  if (ma && ma->type != JSON_TRUE) return np_fail(e, "manual", "must be true");
  const json *tz = json_get(p, "timezone");
  if (tz && !cr) return np_fail(e, "timezone", "only with cron");
  if (cr) {
    char err[200] = "";
    cron_spec spec;
    if (cr->type != JSON_STRING || cron_parse(cr->str, &spec, err, sizeof err))
      return np_fail(e, "cron", "%s", err[0] ? err : "must be five fields");
    if (tz && (tz->type != JSON_STRING ||
               !cron_tz_get(tz->str, err, sizeof err)))
      return np_fail(e, "timezone", "%s", err[0] ? err : "unknown zone");
  }
  return 0;
}

static int trigger_run(flow_step_ctx *c, flow_step_result *r, db_err *err) {
  (void)err;
  node_input_params(c, r);
  if (json_write(&r->output, c->env->trigger))
    return flow_step_fail(r, NODE_FAILED, "the trigger's data is too large");
  r->outcome = NODE_DONE;
  return 0;
}

/* ---- condition ---------------------------------------------------------- */

static int condition_validate(arena *a, const json *p, bp_error *e) {
  static const char *const known[] = {"if", NULL};
  return np_only(p, known, e) || np_expr(a, p, "if", 1, e) ? -1 : 0;
}

static int condition_run(flow_step_ctx *c, flow_step_result *r, db_err *err) {
  (void)err;
  const char *src = np_str(c->bp->nodes[c->node].params, "if");
  expr_val v;
  char msg[300];
  json_obj in;
  json_obj_open(&in, &r->input);
  json_obj_str(&in, "if", src);
  if (flow_eval(c->env, src, &v, msg, sizeof msg)) {
    json_obj_close(&in);
    return flow_step_fail(r, NODE_FAILED, "if: %s", msg);
  }
  int t = expr_truthy(&v);
  json_obj_bool(&in, "value", t);
  json_obj_close(&in);
  buf_printf(&r->output, "{\"result\":%s}", t ? "true" : "false");
  r->branch = t ? "true" : "false";
  r->outcome = NODE_DONE;
  return 0;
}

/* ---- switch ------------------------------------------------------------- */

/* cases is {label: value}, or a list whose entries are each a label and
 * its value ("gold", 10) or {value, label?} - the forms bp_parse and the
 * Architect's drafts use. The i-th case's label and value; 0 when there
 * is no i-th case or it has no readable shape. */
static int switch_case(arena *a, const json *cases, size_t i,
                       const char **label, const json **value) {
  if (!cases || i >= cases->n) return 0;
  if (cases->type == JSON_OBJECT) {
    *label = cases->keys[i];
    *value = cases->items[i];
    return 1;
  }
  if (cases->type != JSON_ARRAY) return 0;
  const json *c = cases->items[i];
  const json *lb = NULL;
  if (c->type == JSON_OBJECT) {
    lb = json_get(c, "label");
    c = json_get(c, "value");
    if (!c) return 0;
    if (!lb) lb = c;
  } else {
    lb = c;
  }
  if (c->type != JSON_STRING && c->type != JSON_NUMBER) return 0;
  if (lb->type != JSON_STRING && lb->type != JSON_NUMBER) return 0;
  *label = arena_strndup(a, lb->str, lb->len);
  *value = c;
  return 1;
}

static int switch_validate(arena *a, const json *p, bp_error *e) {
  static const char *const known[] = {"on", "cases", NULL};
  if (np_only(p, known, e) || np_expr(a, p, "on", 1, e)) return -1;
  const json *cs = json_get(p, "cases");
  if (!cs || (cs->type != JSON_OBJECT && cs->type != JSON_ARRAY) || cs->n == 0)
    return np_fail(e, "cases", "cases must be {label: value} or a list of "
                               "labels");
  for (size_t i = 0; i < cs->n; i++) {
    const char *k;
    const json *v;
    if (!switch_case(a, cs, i, &k, &v))
      return np_fail(e, "cases", "cases[%zu] must be a text, a number or "
                                 "{value, label}", i);
    if (!*k || strlen(k) > 64 || !strcmp(k, "default"))
      return np_fail(e, "cases", "a case's label must be 1 to 64 characters, "
                                 "not \"default\"");
    if (v->type == JSON_ARRAY || v->type == JSON_OBJECT)
      return np_fail(e, "cases", "case \"%s\" must be a string, number, "
                                 "true, false or null", k);
  }
  return 0;
}

/* A number at scale 6, for comparing numbers written with other scales. */
static int num_at6(const expr_val *v, int64_t *out) {
  int64_t m = v->num;
  for (int s = v->scale; s < 6; s++)
    if (__builtin_mul_overflow(m, 10, &m)) return -1;
  *out = m;
  return 0;
}

static int value_equals(const expr_val *a, const json *cv) {
  expr_val b;
  if (expr_from_json(cv, &b)) return 0;
  if (a->t == EV_NUM && b.t == EV_NUM) {
    int64_t x, y;
    return !num_at6(a, &x) && !num_at6(&b, &y) && x == y;
  }
  if (a->t != b.t) return 0;
  switch (a->t) {
    case EV_NULL:
      return 1;
    case EV_BOOL:
      return !a->b == !b.b;
    case EV_STR:
      return a->n == b.n && !memcmp(a->s, b.s, a->n);
    default:
      return 0;
  }
}

static int switch_run(flow_step_ctx *c, flow_step_result *r, db_err *err) {
  (void)err;
  const json *p = c->bp->nodes[c->node].params;
  const char *src = np_str(p, "on");
  const json *cs = json_get(p, "cases");
  expr_val v;
  char msg[300];
  if (flow_eval(c->env, src, &v, msg, sizeof msg)) {
    node_input_params(c, r);
    return flow_step_fail(r, NODE_FAILED, "on: %s", msg);
  }
  buf val;
  buf_init(&val, 1 << 20);
  if (expr_to_json(&v, &val)) buf_puts(&val, "null");
  r->branch = "default";
  const char *label;
  const json *cv;
  for (size_t i = 0; switch_case(c->a, cs, i, &label, &cv); i++)
    if (value_equals(&v, cv)) {
      r->branch = label;
      break;
    }
  json_obj o;
  json_obj_open(&o, &r->input);
  json_obj_str(&o, "on", src);
  json_obj_raw(&o, "value", val.len ? buf_cstr(&val) : "null");
  json_obj_close(&o);
  json_obj_open(&o, &r->output);
  json_obj_raw(&o, "value", val.len ? buf_cstr(&val) : "null");
  json_obj_str(&o, "case", r->branch);
  json_obj_close(&o);
  buf_free(&val);
  r->outcome = NODE_DONE;
  return 0;
}

/* ---- wait --------------------------------------------------------------- */

static int wait_validate(arena *a, const json *p, bp_error *e) {
  static const char *const known[] = {"for", "until", NULL};
  if (np_only(p, known, e)) return -1;
  const json *f = json_get(p, "for"), *u = json_get(p, "until");
  if (!!f + !!u != 1)
    return np_fail(e, "", "a wait needs exactly one of for (e.g. \"3d\") or "
                          "until (a time)");
  if (f) {
    int64_t us;
    if (f->type != JSON_STRING || expr_duration_parse(f->str, f->len, &us) ||
        us <= 0)
      return np_fail(e, "for", "must be a duration such as 30s, 30m, 2h, 3d, "
                               "1w (at most 366 days)");
  }
  return u ? np_expr(a, p, "until", 1, e) : 0;
}

/* The time `until` names: a time value, or text holding a timestamp or a
 * date (midnight in India). */
/* A bare date means the start of that day in the business's zone (IST),
 * not UTC midnight: expr_as_time knows the offset. */
static int until_time(const flow_step_ctx *c, const expr_val *v, int64_t *us) {
  return expr_as_time(v, c->env->e.tz_offset_s, us);
}

static int wait_run(flow_step_ctx *c, flow_step_result *r, db_err *err) {
  (void)err;
  const json *p = c->bp->nodes[c->node].params;
  int64_t at = c->wake_at;
  json_obj in;
  if (!at) {
    const json *f = json_get(p, "for");
    if (f) {
      int64_t us = 0;
      if (expr_duration_parse(f->str, f->len, &us))
        return flow_step_fail(r, NODE_FAILED, "for: not a duration");
      at = c->now_us + us;
    } else {
      expr_val v;
      char msg[300];
      if (flow_eval(c->env, np_str(p, "until"), &v, msg, sizeof msg)) {
        node_input_params(c, r);
        return flow_step_fail(r, NODE_FAILED, "until: %s", msg);
      }
      if (until_time(c, &v, &at)) {
        node_input_params(c, r);
        return flow_step_fail(r, NODE_FAILED,
                              "until: not a time or a date");
      }
    }
  }
  json_obj_open(&in, &r->input);
  json_obj_raw(&in, "params", json_to_text(c->a, p));
  json_obj_ts(&in, "until", at);
  json_obj_close(&in);
  buf_reset(&r->output);
  json_obj o;
  json_obj_open(&o, &r->output);
  json_obj_ts(&o, "until", at);
  json_obj_close(&o);
  if (at > c->now_us) {
    r->outcome = NODE_WAITING;
    r->wake_at = at;
  } else {
    r->outcome = NODE_DONE;
  }
  return 0;
}

/* ---- for_each ----------------------------------------------------------- */

static const char *const foreach_over[] = {"debtors", "customers",
                                           "overdue_invoices",
                                           "low_stock_products", NULL};

static int foreach_validate(arena *a, const json *p, bp_error *e) {
  static const char *const known[] = {"over", "limit", NULL};
  (void)a;
  if (np_only(p, known, e)) return -1;
  const char *over = np_str(p, "over");
  int ok = 0;
  for (int i = 0; over && foreach_over[i] && !ok; i++)
    ok = !strcmp(over, foreach_over[i]);
  if (!ok)
    return np_fail(e, "over", "must be debtors, customers, overdue_invoices "
                              "or low_stock_products");
  const json *l = json_get(p, "limit");
  int64_t n;
  if (l && (json_int64(l, &n) || n < 1 || n > FOREACH_MAX))
    return np_fail(e, "limit", "must be an integer from 1 to %d", FOREACH_MAX);
  return 0;
}

static int foreach_run(flow_step_ctx *c, flow_step_result *r, db_err *err) {
  const json *p = c->bp->nodes[c->node].params;
  const char *over = np_str(p, "over");
  int64_t limit = FOREACH_DEFAULT;
  const json *l = json_get(p, "limit");
  if (l) json_int64(l, &limit);
  node_input_params(c, r);

  /* Columns: kinds as in env.c (T text, M money, Q quantity, D date). */
  const char *sql, *kinds;
  int32_t today = gst_today_ist(c->now_us);
  db_val v[] = {db_uuid(c->profile_id), db_int(limit + 1), db_date(today)};
  int nv = 2;
  if (!strcmp(over, "debtors")) {
    sql = "SELECT id AS customer_id, full_name, phone_number, total_debt FROM "
          "customers WHERE profile_id = $1 AND total_debt > 0 ORDER BY "
          "total_debt DESC, full_name, id LIMIT $2";
    kinds = "TTTM";
  } else if (!strcmp(over, "customers")) {
    sql = "SELECT id AS customer_id, full_name, phone_number, total_debt FROM "
          "customers WHERE profile_id = $1 ORDER BY full_name, id LIMIT $2";
    kinds = "TTTM";
  } else if (!strcmp(over, "overdue_invoices")) {
    sql = "SELECT id AS invoice_id, customer_id, invoice_number, due_date, "
          "total_amount, balance_due FROM invoices WHERE profile_id = $1 AND "
          "status IN ('pending', 'partially_paid') AND due_date < $3 ORDER BY "
          "due_date, invoice_number, id LIMIT $2";
    kinds = "TTTDMM";
    nv = 3;
  } else {
    sql = "SELECT id AS product_id, name, unit, current_stock, "
          "low_stock_threshold FROM products WHERE profile_id = $1 AND "
          "is_active AND low_stock_threshold IS NOT NULL AND current_stock <= "
          "low_stock_threshold ORDER BY name, id LIMIT $2";
    kinds = "TTTQQ";
  }
  db_res *res = NULL;
  if (db_query(c->d, sql, v, nv, &res, err)) return -1;
  int rows = db_res_rows(res);
  int n = rows > limit ? (int)limit : rows;
  json_obj list, it;
  json_arr_open(&list, &r->items);
  for (int i = 0; i < n; i++) {
    json_obj_nest(&list, NULL, &it);
    for (int k = 0; kinds[k]; k++) {
      const char *name = db_res_colname(res, k);
      if (db_res_isnull(res, i, k)) {
        json_obj_null(&it, name);
      } else if (kinds[k] == 'M' || kinds[k] == 'Q') {
        int sc = kinds[k] == 'M' ? 2 : 3;
        json_obj_dec(&it, name, db_res_dec(res, i, k, sc), sc);
      } else if (kinds[k] == 'D') {
        json_obj_date(&it, name, db_res_date(res, i, k));
      } else {
        json_obj_str(&it, name, db_res_text(res, i, k));
      }
    }
    json_obj_close(&it);
  }
  db_res_free(res);
  if (json_obj_close(&list))
    return flow_step_fail(r, NODE_FAILED, "the items are too large");
  buf_printf(&r->output, "{\"over\":\"%s\",\"count\":%d,\"truncated\":%s}",
             over, n, rows > limit ? "true" : "false");
  r->outcome = NODE_DONE;
  return 0;
}

/* ---- set ---------------------------------------------------------------- */

static int name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 64) return 0;
  if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
        s[0] == '_'))
    return 0;
  for (size_t i = 1; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
          (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
      return 0;
  return 1;
}

/* The values of a set: params.values, or (as the Architect may write it)
 * the params themselves as {name: expression}; {} for none. NULL when
 * values is not an object. */
static const json *set_values(const json *p) {
  static const json empty = {.type = JSON_OBJECT};
  if (!p) return &empty;
  const json *vs = json_get(p, "values");
  if (vs) return vs->type == JSON_OBJECT ? vs : NULL;
  return p->type == JSON_OBJECT ? p : NULL;
}

static int set_validate(arena *a, const json *p, bp_error *e) {
  static const char *const reserved[] = {
      "trigger", "event", "input", "item", "customer", "invoice", "product",
      "payment", "shipment", "message", "business", "now", "today", NULL};
  const json *vs = set_values(p);
  if (!vs) return np_fail(e, "values", "must be an object of {name: expression}");
  for (size_t i = 0; i < vs->n; i++) {
    if (!name_ok(vs->keys[i]))
      return np_fail(e, "values", "\"%.64s\" is not a name (letters, digits, "
                                  "_; 1 to 64)", vs->keys[i]);
    for (int k = 0; reserved[k]; k++)
      if (!strcmp(reserved[k], vs->keys[i]))
        return np_fail(e, "values", "\"%s\" is a name expressions already "
                                    "use", vs->keys[i]);
    const json *x = vs->items[i];
    char err[256] = "";
    if (x->type != JSON_STRING || !x->len)
      return np_fail(e, "values", "%s: must be an expression (a string)",
                     vs->keys[i]);
    if (expr_check(a, x->str, x->len, err, sizeof err))
      return np_fail(e, "values", "%s: %s", vs->keys[i], err);
  }
  return 0;
}

static int set_run(flow_step_ctx *c, flow_step_result *r, db_err *err) {
  (void)err;
  const json *vs = set_values(c->bp->nodes[c->node].params);
  node_input_params(c, r);
  json_obj o;
  json_obj_open(&o, &r->output);
  for (size_t i = 0; vs && i < vs->n; i++) {
    expr_val v;
    char msg[300];
    if (flow_eval(c->env, vs->items[i]->str, &v, msg, sizeof msg)) {
      json_obj_close(&o);
      buf_reset(&r->output);
      return flow_step_fail(r, NODE_FAILED, "%s: %s", vs->keys[i], msg);
    }
    buf t;
    buf_init(&t, 1 << 20);
    if (expr_to_json(&v, &t)) {
      buf_free(&t);
      json_obj_close(&o);
      buf_reset(&r->output);
      return flow_step_fail(r, NODE_FAILED, "%s: the value is too large",
                            vs->keys[i]);
    }
    json_obj_raw(&o, vs->keys[i], buf_cstr(&t));
    buf_free(&t);
  }
  if (json_obj_close(&o)) {
    buf_reset(&r->output);
    return flow_step_fail(r, NODE_FAILED, "the values are too large");
  }
  r->outcome = NODE_DONE;
  return 0;
}

/* ---- stop --------------------------------------------------------------- */

static int stop_validate(arena *a, const json *p, bp_error *e) {
  static const char *const known[] = {"error", NULL};
  return np_only(p, known, e) || np_template(a, p, "error", 0, e) ? -1 : 0;
}

static int stop_run(flow_step_ctx *c, flow_step_result *r, db_err *err) {
  (void)err;
  const char *tmpl = np_str(c->bp->nodes[c->node].params, "error");
  node_input_params(c, r);
  r->outcome = NODE_STOP;
  if (!tmpl) {
    buf_puts(&r->output, "{\"stopped\":true}");
    return 0;
  }
  char msg[300];
  const char *text = node_render(c, tmpl, sizeof r->error - 1, msg, sizeof msg);
  snprintf(r->error, sizeof r->error, "%s", text ? text : tmpl);
  json_obj o;
  json_obj_open(&o, &r->output);
  json_obj_bool(&o, "stopped", 1);
  json_obj_str(&o, "error", r->error);
  json_obj_close(&o);
  return 0;
}

const flow_node_type flow_nt_trigger = {"trigger", NODE_TRIGGER,
                                        trigger_validate, trigger_run};
const flow_node_type flow_nt_condition = {"condition", NODE_BRANCHES,
                                          condition_validate, condition_run};
const flow_node_type flow_nt_switch = {"switch", NODE_BRANCHES,
                                       switch_validate, switch_run};
const flow_node_type flow_nt_wait = {"wait", NODE_WAIT, wait_validate,
                                     wait_run};
const flow_node_type flow_nt_for_each = {"for_each", NODE_FOREACH,
                                         foreach_validate, foreach_run};
const flow_node_type flow_nt_set = {"set", 0, set_validate, set_run};
const flow_node_type flow_nt_stop = {"stop", 0, stop_validate, stop_run};

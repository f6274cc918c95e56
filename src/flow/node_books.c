/* node_books.c - the nodes that write the books: create_invoice,
 * record_payment and adjust_stock run the business operation of that name
 * through biz_run (biz/run.h) with the step's effect key as its
 * Idempotency-Key, so a step run again replays the operation's answer
 * instead of doing it twice; update_record changes a customer's fields
 * (a fixed allow-list, checked as REST writes are) in one transaction with
 * its workflow_effects row.
 *
 * The params are the operation's arguments, every string rendered as a
 * template first ("{{ x }}" alone keeps x's type). customer_id (and
 * product_id for adjust_stock) default to the record of that name the run
 * is about. Money moved (an invoice's total, a payment's amount) counts
 * towards the workflow's max_money_per_day (effects.h). */
#include <stdio.h>
#include <string.h>

#include "base/api.h"
#include "biz/biz.h"
#include "biz/idempotency.h"
#include "biz/run.h"
#include "flow/effects.h"
#include "flow/node_int.h"

typedef struct book_op {
  const char *op;
  const char *kind;            /* workflow_effects.kind */
  const char *const *known;    /* the operation's arguments */
  const char *const *required;
  const char *default_rec;     /* an id argument taken from the run */
  const char *amount_arg;      /* money moved, before the operation */
  const char *amount_out;      /* money moved, in its answer */
} book_op;

static const char *const inv_known[] = {"customer_id", "items", "invoice_date",
                                        "due_date", "place_of_supply", "notes",
                                        "draft", NULL};
static const char *const inv_req[] = {"items", NULL};
static const char *const pay_known[] = {"customer_id", "amount_received",
                                        "payment_mode", "invoice_id",
                                        "reference", "received_at", "notes",
                                        NULL};
static const char *const pay_req[] = {"amount_received", "payment_mode", NULL};
static const char *const stk_known[] = {"product_id", "delta", "reason", NULL};
static const char *const stk_req[] = {"delta", NULL};

static const book_op op_invoice = {"create_invoice", "invoice", inv_known,
                                   inv_req, "customer", NULL, "total_amount"};
static const book_op op_payment = {"record_payment", "payment", pay_known,
                                   pay_req, "customer", "amount_received",
                                   "amount_received"};
static const book_op op_stock = {"adjust_stock", "stock", stk_known, stk_req,
                                 "product", NULL, NULL};

static int book_validate(const book_op *o, arena *a, const json *p,
                         bp_error *e) {
  if (np_only(p, o->known, e)) return -1;
  for (int i = 0; o->required[i]; i++)
    if (!json_get(p, o->required[i]))
      return np_fail(e, o->required[i], "is required");
  const json *items = json_get(p, "items");
  if (items && items->type != JSON_ARRAY && items->type != JSON_STRING)
    return np_fail(e, "items", "must be a list of {product_id, quantity, ...}");
  for (size_t i = 0; i < p->n; i++)
    if (np_templates_in(a, p->items[i], p->keys[i], e)) return -1;
  return 0;
}

static int inv_validate(arena *a, const json *p, bp_error *e) {
  return book_validate(&op_invoice, a, p, e);
}
static int pay_validate(arena *a, const json *p, bp_error *e) {
  return book_validate(&op_payment, a, p, e);
}
static int stk_validate(arena *a, const json *p, bp_error *e) {
  return book_validate(&op_stock, a, p, e);
}

/* The params rendered into the operation's arguments, with the default id
 * added when absent. NULL with msg on failure. */
static const json *book_args(flow_step_ctx *c, const book_op *o, char *msg,
                             size_t msglen, int *dberr) {
  const json *p = c->bp->nodes[c->node].params;
  buf b;
  buf_init(&b, 1 << 20);
  const json *out = NULL;
  *dberr = 0;
  if (node_render_json(c, p, &b, msg, msglen)) goto done;
  char key[32];
  snprintf(key, sizeof key, "%s_id", o->default_rec);
  if (!json_get(p, key)) {
    const json *rec = flow_env_record(c->env, o->default_rec, dberr);
    if (*dberr) goto done;
    const char *id = rec ? np_str(rec, "id") : NULL;
    if (id) {
      /* b holds "{...}": the id goes in first. */
      buf n;
      buf_init(&n, 1 << 20);
      buf_printf(&n, "{\"%s\":\"%s\"%s%s", key, id, b.len > 2 ? "," : "",
                 b.len > 2 ? b.data + 1 : "}");
      buf_free(&b);
      b = n;
    }
  }
  json *j = NULL;
  json_error je;
  if (json_parse(c->a, b.data, b.len, &j, &je))
    snprintf(msg, msglen, "the rendered arguments are not valid JSON");
  else
    out = j;
done:
  buf_free(&b);
  return out;
}

static int book_run(const book_op *o, flow_step_ctx *c, flow_step_result *r,
                    db_err *err) {
  char msg[300];
  int dberr = 0;
  const json *args = book_args(c, o, msg, sizeof msg, &dberr);
  if (dberr) {
    snprintf(err->code, sizeof err->code, "58030");
    snprintf(err->message, sizeof err->message, "a record could not be read");
    return -1;
  }
  if (!args) {
    node_input_params(c, r);
    return flow_step_fail(r, NODE_FAILED, "%s", msg);
  }
  const char *args_text = json_to_text(c->a, args);
  buf_puts(&r->input, args_text);
  if (c->dry_run) {
    json_obj w;
    json_obj_open(&w, &r->output);
    json_obj_str(&w, "would", o->op);
    json_obj_raw(&w, "args", args_text);
    json_obj_close(&w);
    r->outcome = NODE_DONE;
    return 0;
  }
  int found = 0, over = 0;
  if (flow_effect_find(c, c->effect_key, &found, &r->output, err)) return -1;
  if (found) {
    r->outcome = NODE_DONE;
    return 0;
  }
  int64_t amount = 0;
  if (o->amount_arg) {
    const json *a = json_get(args, o->amount_arg);
    if (a && a->type == JSON_STRING) {
      json tmp = {.type = JSON_NUMBER, .str = a->str, .len = a->len};
      json_decimal(&tmp, 2, &amount);
    } else if (a) {
      json_decimal(a, 2, &amount);
    }
  }
  char why[256];
  if (flow_caps_check(c, o->kind, amount, &over, why, sizeof why, err))
    return -1;
  if (over) return flow_step_fail(r, NODE_PAUSED, "paused: %s", why);
  if (!idem_key_valid(c->effect_key))
    return flow_step_fail(r, NODE_FAILED, "the step's key is too long");

  api_resp resp;
  api_resp_init(&resp);
  biz_call call = {.op = o->op, .profile_id = c->profile_id, .args = args,
                   .idem_key = c->effect_key, .a = c->a};
  int rc = 0;
  if (biz_run(c->d, &call, &resp) == 0) {
    json *body = NULL;
    json_error je;
    if (json_parse(c->a, resp.body.data ? resp.body.data : "{}",
                   resp.body.data ? resp.body.len : 2, &body, &je) == 0 &&
        o->amount_out) {
      const json *a = json_get(body, o->amount_out);
      if (a) json_decimal(a, 2, &amount);
    }
    buf_reset(&r->output);
    buf_puts(&r->output, resp.body.data ? buf_cstr(&resp.body) : "{}");
    if (flow_effect_record(c, c->effect_key, o->kind, amount,
                           buf_cstr(&r->output), err))
      rc = -1;
    else
      r->outcome = NODE_DONE;
  } else {
    json *body = NULL;
    json_error je;
    const char *why2 = "the operation failed";
    if (resp.body.data &&
        json_parse(c->a, resp.body.data, resp.body.len, &body, &je) == 0 &&
        np_str(body, "message"))
      why2 = np_str(body, "message");
    /* The books refused (4xx): a permanent failure. Anything else (the
     * database unavailable, a conflict that outlived biz_run's own
     * retries) may pass. */
    node_outcome oc = resp.status >= 400 && resp.status < 500 &&
                              resp.status != 409 && resp.status != 429
                          ? NODE_FAILED
                          : NODE_RETRY;
    flow_step_fail(r, oc, "%s: %s (%d)", o->op, why2, resp.status);
  }
  api_resp_free(&resp);
  return rc;
}

static int inv_run(flow_step_ctx *c, flow_step_result *r, db_err *err) {
  return book_run(&op_invoice, c, r, err);
}
static int pay_run(flow_step_ctx *c, flow_step_result *r, db_err *err) {
  return book_run(&op_payment, c, r, err);
}
static int stk_run(flow_step_ctx *c, flow_step_result *r, db_err *err) {
  return book_run(&op_stock, c, r, err);
}

/* ---- update_record ------------------------------------------------------ */

/* What a workflow may change on a customer. total_debt and ids are the
 * books' own; the rest is the owner's to keep. */
static const char *const customer_fields[] = {"full_name", "phone_number",
                                              "email",     "gstin",
                                              "state_code", "address",
                                              "notes",     NULL};

static int field_known(const char *name) {
  for (int i = 0; customer_fields[i]; i++)
    if (!strcmp(customer_fields[i], name)) return 1;
  return 0;
}

static int upd_validate(arena *a, const json *p, bp_error *e) {
  static const char *const known[] = {"record", "customer_id", "fields", NULL};
  if (np_only(p, known, e)) return -1;
  const char *rec = np_str(p, "record");
  if (json_get(p, "record") && (!rec || strcmp(rec, "customer")))
    return np_fail(e, "record", "only customer records can be updated");
  if (np_template(a, p, "customer_id", 0, e)) return -1;
  const json *f = json_get(p, "fields");
  if (!f || f->type != JSON_OBJECT || f->n == 0)
    return np_fail(e, "fields", "must be an object of {field: value}");
  for (size_t i = 0; i < f->n; i++) {
    if (!field_known(f->keys[i]))
      return np_fail(e, "fields", "\"%.64s\" cannot be changed (one of "
                                  "full_name, phone_number, email, gstin, "
                                  "state_code, address, notes)",
                     f->keys[i]);
    json_type t = f->items[i]->type;
    if (t != JSON_STRING && t != JSON_NULL)
      return np_fail(e, "fields", "%s must be a text or null", f->keys[i]);
    if (np_templates_in(a, f->items[i], "fields", e)) return -1;
  }
  const json *fn = json_get(f, "full_name");
  if (fn && fn->type == JSON_NULL)
    return np_fail(e, "fields", "full_name cannot be null");
  return 0;
}

static int upd_run(flow_step_ctx *c, flow_step_result *r, db_err *err) {
  const json *p = c->bp->nodes[c->node].params;
  const json *f = json_get(p, "fields");
  char msg[300];
  char id[37] = "";
  const char *idt = np_str(p, "customer_id");
  if (idt) {
    const char *v = node_render(c, idt, 64, msg, sizeof msg);
    if (!v) {
      node_input_params(c, r);
      return flow_step_fail(r, NODE_FAILED, "customer_id: %s", msg);
    }
    snprintf(id, sizeof id, "%s", v);
  } else {
    int dberr = 0;
    const json *cust = flow_env_record(c->env, "customer", &dberr);
    if (dberr) {
      snprintf(err->code, sizeof err->code, "58030");
      snprintf(err->message, sizeof err->message, "the customer could not be read");
      return -1;
    }
    if (cust && np_str(cust, "id")) snprintf(id, sizeof id, "%s", np_str(cust, "id"));
  }
  /* The fields, rendered and checked as a REST write is. */
  biz_fields bf = {.names = arena_alloc(c->a, sizeof(char *) * 16),
                   .vals = arena_alloc(c->a, sizeof(db_val) * 16),
                   .n = 0, .cap = 16};
  for (size_t i = 0; i < f->n && bf.n < 8; i++) {
    bf.names[bf.n] = f->keys[i];
    if (f->items[i]->type == JSON_NULL) {
      bf.vals[bf.n++] = db_null();
      continue;
    }
    const char *v = node_render(c, f->items[i]->str, 2048, msg, sizeof msg);
    if (!v) {
      node_input_params(c, r);
      return flow_step_fail(r, NODE_FAILED, "%s: %s", f->keys[i], msg);
    }
    bf.vals[bf.n++] = *v ? db_text(v) : db_null();
  }
  json_obj in, fo;
  json_obj_open(&in, &r->input);
  json_obj_str(&in, "customer_id", id[0] ? id : NULL);
  json_obj_nest(&in, "fields", &fo);
  for (int i = 0; i < bf.n; i++)
    json_obj_str(&fo, bf.names[i], bf.vals[i].type == DBT_NULL ? NULL : bf.vals[i].s);
  json_obj_close(&fo);
  json_obj_close(&in);
  if (!id[0]) return flow_step_fail(r, NODE_FAILED, "this run names no customer");
  biz_err be;
  memset(&be, 0, sizeof be);
  if (biz_check_fields(c->a, "customers", &bf, 0, &be))
    return flow_step_fail(r, NODE_FAILED, "%s", be.message);
  for (int i = 0; i < bf.n; i++)
    if (!strcmp(bf.names[i], "full_name") && bf.vals[i].type == DBT_NULL)
      return flow_step_fail(r, NODE_FAILED, "full_name cannot be empty");
  if (c->dry_run) {
    json_obj w;
    json_obj_open(&w, &r->output);
    json_obj_str(&w, "would", "update_record");
    json_obj_raw(&w, "args", buf_cstr(&r->input));
    json_obj_close(&w);
    r->outcome = NODE_DONE;
    return 0;
  }
  int found = 0;
  if (flow_effect_find(c, c->effect_key, &found, &r->output, err)) return -1;
  if (found) {
    r->outcome = NODE_DONE;
    return 0;
  }
  /* The SQL names only allow-listed columns (the checked names). */
  buf sql;
  buf_init(&sql, 4096);
  db_val v[20];
  int nv = 0;
  v[nv++] = db_uuid(c->profile_id);
  v[nv++] = db_uuid(id);
  v[nv++] = db_ts(c->now_us);
  buf_puts(&sql, "UPDATE customers SET updated_at = $3");
  for (int i = 0; i < bf.n && nv < 20; i++) {
    if (!field_known(bf.names[i])) continue; /* a check's addition */
    v[nv] = bf.vals[i];
    buf_printf(&sql, ", %s = $%d", bf.names[i], nv + 1);
    nv++;
  }
  buf_puts(&sql, " WHERE profile_id = $1 AND id = $2 RETURNING id");
  int rc = -1, in_tx = 0, fresh = 0;
  db_res *res = NULL;
  if (db_begin(c->d, 1, err)) goto out;
  in_tx = 1;
  if (db_query(c->d, buf_cstr(&sql), v, nv, &res, err)) {
    if (err->code[0] == '2' && err->code[1] == '3') {
      /* a constraint: another customer has that phone, a bad state */
      rc = flow_step_fail(r, NODE_FAILED, "update_record: %s", err->message);
    }
    goto out;
  }
  if (db_res_rows(res) != 1) {
    rc = flow_step_fail(r, NODE_FAILED, "customer %s not found", id);
    goto out;
  }
  buf_reset(&r->output);
  json_obj o, of;
  json_obj_open(&o, &r->output);
  json_obj_str(&o, "customer_id", id);
  json_obj_nest(&o, "updated", &of);
  for (int i = 0; i < bf.n; i++)
    json_obj_str(&of, bf.names[i], bf.vals[i].type == DBT_NULL ? NULL : bf.vals[i].s);
  json_obj_close(&of);
  json_obj_close(&o);
  if (flow_effect_once(c, c->effect_key, "record", 0, buf_cstr(&r->output),
                       &fresh, err))
    goto out;
  if (!fresh) {
    db_rollback(c->d);
    in_tx = 0;
    if (flow_effect_find(c, c->effect_key, &found, &r->output, err)) goto out;
  } else {
    in_tx = 0;
    if (db_commit(c->d, err)) goto out;
  }
  r->outcome = NODE_DONE;
  rc = 0;
out:
  if (in_tx) db_rollback(c->d);
  db_res_free(res);
  buf_free(&sql);
  return rc;
}

const flow_node_type flow_nt_create_invoice = {"create_invoice", NODE_EFFECT,
                                               inv_validate, inv_run};
const flow_node_type flow_nt_record_payment = {"record_payment", NODE_EFFECT,
                                               pay_validate, pay_run};
const flow_node_type flow_nt_adjust_stock = {"adjust_stock", NODE_EFFECT,
                                             stk_validate, stk_run};
const flow_node_type flow_nt_update_record = {"update_record", NODE_EFFECT,
                                              upd_validate, upd_run};

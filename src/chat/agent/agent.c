/* agent.c - the events consumer "chat.agent" (chat.h chat_agent_handle):
 * answers each message.received event from the books.
 *
 * One event, in three steps, so that no transaction is held while the LLM
 * or a business operation runs (biz_run opens its own, and on SQLite the
 * group-commit writer needs the write lock this connection would hold):
 *
 *   1. read: the session, the business, the customer, the products, the
 *      conversation's memory; decide the action (the LLM when configured,
 *      else or on any failure of it the rules);
 *   2. act: reads are plain SELECTs or the report operations; the one
 *      write, an order's invoice, goes through biz_run with the inbound
 *      message id as its Idempotency-Key, so a redelivered event replays
 *      the first invoice instead of making a second;
 *   3. write, in one transaction: the reply (chat_enqueue with reply_to,
 *      which writes it once per inbound message), the new agent_state, the
 *      bot turned off on a handover, a note to the owner, the owner's
 *      reminders; then jobs_wake.
 *
 * A redelivered event whose reply exists is skipped at step 1; one that
 * died between 2 and 3 runs again and gets the same invoice back. Every
 * number in a reply is formatted from what step 1 or 2 read from the
 * books (reply.c's templates hold none). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dec.h"
#include "base/json.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/uuid.h"
#include "biz/upi.h"
#include "biz/gst.h"
#include "biz/run.h"
#include "chat/agent/intent.h"
#include "chat/agent/lexicon.h"
#include "chat/agent/llm.h"
#include "chat/agent/qty.h"
#include "chat/agent/reply.h"
#include "chat/agent/state.h"
#include "chat/agent/text.h"
#include "chat/chat.h"
#include "chat/store.h"
#include "jobs/worker.h"

#define PRODUCTS_MAX 500 /* products the lexicon looks at */
#define LIST_MAX 20      /* lines of a price, stock or debtors list */
#define HISTORY_MAX 8    /* earlier messages sent to the LLM */
#define REMIND_MAX 1000  /* customers one remind_all reaches */
#define REPLY_CAP (64 * 1024)

typedef struct product {
  const char *id, *name, *unit;
  int64_t price; /* paise, before GST */
  int64_t rate;  /* hundredths of a percent */
  int64_t stock; /* thousandths */
} product;

/* A message to queue besides the reply. */
typedef struct extra_msg {
  chat_session s;
  const char *type, *content, *metadata, *sender;
  struct extra_msg *next;
} extra_msg;

typedef struct agent_ctx {
  db *d;
  arena *a;
  const char *profile_id;
  /* the event */
  const char *message_id, *text;
  int from_owner;
  chat_session s;
  /* the books */
  const char *business, *upi_id, *owner_phone, *state_code;
  int has_customer;
  const char *customer_name, *customer_state;
  int64_t debt;
  product *p;
  int np;
  agent_catalog *cat;
  /* the conversation */
  agent_state st, next;
  agent_lang lang;
  agent_tokens tk;
  /* the decision */
  agent_intent intent;
  const char *source;
  int prods[AGENT_MENTIONS_MAX];
  int n_prods;
  agent_line lines[AGENT_MENTIONS_MAX];
  int n_lines;
  /* the outcome */
  buf reply;
  int buttons;
  const agent_pending *items; /* metadata.agent.items */
  int n_items;
  char invoice_id[37];
  int bot_off, note_owner;
  extra_msg *extra;
} agent_ctx;

/* ---- small helpers
 * -------------------------------------------------------------- */

static const char *money(agent_ctx *c, int64_t paise) {
  char m[AGENT_MONEY_MAX];
  agent_money(paise, m);
  return arena_strdup(c->a, m);
}

static const char *qty_text(agent_ctx *c, int64_t q) {
  char t[32];
  agent_qty_text(q, t);
  return arena_strdup(c->a, t);
}

static void say(agent_ctx *c, agent_msg m, const char *a1, const char *a2,
                const char *a3, const char *a4, const char *a5) {
  const char *args[5] = {a1, a2, a3, a4, a5};
  agent_say(&c->reply, c->lang, m, args, 5);
}

static void newline(agent_ctx *c) {
  if (c->reply.len) buf_putc(&c->reply, '\n');
}

static const char *unit_of(const product *p) {
  return p->unit && *p->unit ? p->unit : "pcs";
}

/* Invoices are within the state unless the customer's state differs,
 * as create_invoice decides. */
static int intra(const agent_ctx *c) {
  return !c->customer_state || !*c->customer_state ||
         !strcmp(c->customer_state, c->state_code);
}

/* ---- step 1: read
 * --------------------------------------------------------------- */

static int read_payload(agent_ctx *c, const event_row *ev, const char **sid) {
  json *j;
  json_error je;
  if (!ev->payload ||
      json_parse(c->a, ev->payload, strlen(ev->payload), &j, &je) ||
      j->type != JSON_OBJECT)
    return -1;
  const json *m = json_get(j, "message_id"), *s = json_get(j, "session_id"),
             *t = json_get(j, "text"), *o = json_get(j, "from_owner");
  if (!m || m->type != JSON_STRING || !s || s->type != JSON_STRING) return -1;
  c->message_id = m->str;
  *sid = s->str;
  c->text = t && t->type == JSON_STRING ? t->str : "";
  c->from_owner = o && o->type == JSON_TRUE;
  return 0;
}

static int answered(agent_ctx *c, int *yes, db_err *err) {
  db_val v[] = {db_uuid(c->profile_id), db_uuid(c->message_id)};
  db_res *r = NULL;
  if (db_query_fixed(c->d,
                     "SELECT id FROM unified_messages WHERE profile_id = $1 "
                     "AND reply_to = $2",
                     v, 2, &r, err))
    return -1;
  *yes = db_res_rows(r) > 0;
  db_res_free(r);
  return 0;
}

static int read_books(agent_ctx *c, db_err *err) {
  db_res *r = NULL;
  db_val pv[] = {db_uuid(c->profile_id)};
  if (db_query_fixed(c->d,
                     "SELECT coalesce(business_name, ''), coalesce(upi_id, "
                     "''), coalesce(owner_phone, ''), coalesce(state_code, "
                     "'') FROM profiles WHERE id = $1",
                     pv, 1, &r, err))
    return -1;
  int have = db_res_rows(r) > 0;
  c->business = arena_strdup(c->a, have ? db_res_text(r, 0, 0) : "");
  c->upi_id = arena_strdup(c->a, have ? db_res_text(r, 0, 1) : "");
  c->owner_phone = arena_strdup(c->a, have ? db_res_text(r, 0, 2) : "");
  c->state_code = arena_strdup(c->a, have ? db_res_text(r, 0, 3) : "");
  db_res_free(r);
  r = NULL;
  if (c->s.customer_id[0]) {
    db_val cv[] = {db_uuid(c->profile_id), db_uuid(c->s.customer_id)};
    if (db_query_fixed(c->d,
                       "SELECT full_name, total_debt, coalesce(state_code, "
                       "'') FROM customers WHERE profile_id = $1 AND id = $2",
                       cv, 2, &r, err))
      return -1;
    if (db_res_rows(r) > 0) {
      c->has_customer = 1;
      c->customer_name = arena_strdup(c->a, db_res_text(r, 0, 0));
      c->debt = db_res_dec(r, 0, 1, 2);
      c->customer_state = arena_strdup(c->a, db_res_text(r, 0, 2));
    }
    db_res_free(r);
    r = NULL;
  }
  db_val lv[] = {db_uuid(c->profile_id), db_int(PRODUCTS_MAX)};
  if (db_query(c->d,
               "SELECT id, name, unit, base_price, gst_rate, current_stock "
               "FROM products WHERE profile_id = $1 AND is_active ORDER BY "
               "name, id LIMIT $2",
               lv, 2, &r, err))
    return -1;
  c->np = db_res_rows(r);
  c->p = arena_alloc(c->a, sizeof *c->p * (size_t)(c->np ? c->np : 1));
  const char **names = arena_alloc(c->a, sizeof *names * (size_t)(c->np + 1));
  for (int i = 0; i < c->np; i++) {
    product *p = &c->p[i];
    p->id = arena_strdup(c->a, db_res_text(r, i, 0));
    p->name = arena_strdup(c->a, db_res_text(r, i, 1));
    p->unit = arena_strdup(c->a, db_res_text(r, i, 2));
    p->price = db_res_dec(r, i, 3, 2);
    p->rate = db_res_dec(r, i, 4, 2);
    p->stock = db_res_dec(r, i, 5, 3);
    names[i] = p->name;
  }
  db_res_free(r);
  c->cat = agent_catalog_new(c->a, names, c->np);
  return 0;
}

/* ---- deciding
 * ------------------------------------------------------------------- */

static void add_prod(agent_ctx *c, int idx) {
  for (int i = 0; i < c->n_prods; i++)
    if (c->prods[i] == idx) return;
  if (c->n_prods < AGENT_MENTIONS_MAX) c->prods[c->n_prods++] = idx;
}

static void decide_rules(agent_ctx *c) {
  agent_mention m[AGENT_MENTIONS_MAX];
  int nm = agent_find_products(c->cat, &c->tk, m, AGENT_MENTIONS_MAX);
  const char **units = arena_alloc(c->a, sizeof *units * (size_t)(c->np + 1));
  for (int i = 0; i < c->np; i++) units[i] = unit_of(&c->p[i]);
  c->n_lines =
      agent_read_lines(&c->tk, m, nm, units, c->lines, AGENT_MENTIONS_MAX);
  c->n_prods = 0;
  for (int i = 0; i < nm; i++) add_prod(c, m[i].product);
  agent_facts f = {.from_owner = c->from_owner,
                   .has_pending = c->st.n_pending > 0,
                   .n_products = nm};
  for (int i = 0; i < c->n_lines; i++) f.has_quantity |= c->lines[i].has_qty;
  c->intent = agent_classify(&c->tk, &f);
  c->source = "rules";
}

/* The product an LLM named, checked against the books. */
static int llm_product(agent_ctx *c, const json *args, int required, int *ok) {
  const json *p = json_get(args, "product");
  if (!p || p->type == JSON_NULL) {
    if (required) *ok = 0;
    return -1;
  }
  int idx = p->type == JSON_STRING ? agent_catalog_lookup(c->cat, p->str) : -1;
  if (idx < 0) *ok = 0; /* a product the shop does not sell */
  return idx;
}

/* Reads the LLM's tool call into the decision; 0 when it checks. */
static int decide_from_tool(agent_ctx *c, const char *name, const json *args) {
  int i = agent_intent_from_name(name);
  if (i < 0 || (agent_intent_is_owner((agent_intent)i) && !c->from_owner))
    return -1;
  int ok = 1;
  c->n_prods = c->n_lines = 0;
  if (i == AGENT_PRICE || i == AGENT_AVAILABILITY || i == AGENT_OWNER_STOCK) {
    int idx = llm_product(c, args, i == AGENT_AVAILABILITY, &ok);
    if (idx >= 0) add_prod(c, idx);
  } else if (i == AGENT_ORDER) {
    const json *items = json_get(args, "items");
    if (!items || items->type != JSON_ARRAY || items->n == 0) return -1;
    for (size_t k = 0; k < items->n && ok; k++) {
      if (c->n_lines == AGENT_MENTIONS_MAX) return -1;
      int idx = llm_product(c, items->items[k], 1, &ok);
      if (!ok) break;
      const json *q = json_get(items->items[k], "quantity");
      int64_t v = 0;
      if (q && q->type == JSON_NUMBER) {
        /* The model's number, read exactly: more than three decimals is
         * not a quantity the books hold. */
        if (json_decimal(q, QTY_SCALE, &v) || v <= 0) return -1;
      } else if (q && q->type == JSON_STRING) {
        if (dec_parse(q->str, q->len, QTY_SCALE, &v) || v <= 0) return -1;
      } else if (q && q->type != JSON_NULL) {
        return -1;
      }
      c->lines[c->n_lines++] = (agent_line){idx, v, v > 0};
      add_prod(c, idx);
    }
  }
  if (!ok) return -1;
  c->intent = (agent_intent)i;
  c->source = "llm";
  return 0;
}

static int read_history(agent_ctx *c, agent_turn **out, int *n, db_err *err) {
  db_val v[] = {db_uuid(c->profile_id), db_uuid(c->s.id),
                db_uuid(c->message_id), db_int(HISTORY_MAX)};
  db_res *r = NULL;
  if (db_query(c->d,
               "SELECT direction, coalesce(content, '') FROM "
               "unified_messages WHERE profile_id = $1 AND session_id = $2 "
               "AND id <> $3 ORDER BY created_at DESC, id DESC LIMIT $4",
               v, 4, &r, err))
    return -1;
  *n = db_res_rows(r);
  *out = arena_alloc(c->a, sizeof **out * (size_t)(*n ? *n : 1));
  for (int i = 0; i < *n; i++) {
    /* oldest first */
    agent_turn *t = &(*out)[*n - 1 - i];
    t->from_customer = !strcmp(db_res_text(r, i, 0), "inbound");
    t->text = arena_strdup(c->a, db_res_text(r, i, 1));
  }
  db_res_free(r);
  return 0;
}

static int decide(agent_ctx *c, db_err *err) {
  const chat_settings *cs = chat_settings_get();
  if (cs->llm_url && *cs->llm_url) {
    agent_turn *h;
    int nh;
    if (read_history(c, &h, &nh, err)) return -1;
    const char **names = arena_alloc(c->a, sizeof *names * (size_t)(c->np + 1));
    for (int i = 0; i < c->np; i++) names[i] = c->p[i].name;
    agent_llm_in in = {.model = cs->llm_model,
                       .business = c->business,
                       .products = names,
                       .n_products = c->np,
                       .history = h,
                       .n_history = nh,
                       .text = c->text,
                       .from_owner = c->from_owner};
    const char *name = NULL;
    const json *args = NULL;
    char why[128];
    if (agent_llm_choose(c->a, cs->llm_url, cs->llm_key, cs->llm_timeout_ms,
                         &in, &name, &args, why, sizeof why) == 0 &&
        decide_from_tool(c, name, args) == 0)
      return 0;
    if (name)
      log_warn(
          "chat.agent: the LLM chose %.40s with arguments that do not "
          "check; the rules decide",
          name);
    else
      log_warn("chat.agent: LLM failed (%s); the rules decide", why);
  }
  decide_rules(c);
  return 0;
}

/* ---- step 2: act
 * ---------------------------------------------------------------- */

/* One product's price line: base, rate and the price with GST for one
 * unit, computed as an invoice line of quantity 1 would be. */
static void price_line(agent_ctx *c, const product *p) {
  gst_line_in in = {.qty = 1000, .unit_price = p->price, .rate = p->rate};
  gst_line_out out;
  if (gst_line(&in, intra(c), &out)) return;
  newline(c);
  if (p->rate == 0) {
    say(c, R_PRICE_LINE_NOGST, p->name, money(c, out.total), NULL, NULL,
        unit_of(p));
    return;
  }
  char rate[16];
  agent_rate_text(p->rate, rate);
  say(c, R_PRICE_LINE, p->name, money(c, p->price), rate, money(c, out.total),
      unit_of(p));
}

static void act_price(agent_ctx *c) {
  if (c->n_prods > 0) {
    for (int i = 0; i < c->n_prods; i++) price_line(c, &c->p[c->prods[i]]);
    return;
  }
  if (c->np == 0) {
    say(c, R_UNKNOWN_PRODUCT, NULL, NULL, NULL, NULL, NULL);
    return;
  }
  say(c, R_PRICE_LIST, NULL, NULL, NULL, NULL, NULL);
  for (int i = 0; i < c->np && i < LIST_MAX; i++) price_line(c, &c->p[i]);
}

static void act_availability(agent_ctx *c) {
  if (c->n_prods == 0) {
    say(c, R_UNKNOWN_PRODUCT, NULL, NULL, NULL, NULL, NULL);
    return;
  }
  for (int i = 0; i < c->n_prods; i++) {
    const product *p = &c->p[c->prods[i]];
    newline(c);
    if (p->stock > 0)
      say(c, R_AVAIL_YES, p->name, qty_text(c, p->stock), unit_of(p), NULL,
          NULL);
    else
      say(c, R_AVAIL_NO, p->name, NULL, NULL, NULL, NULL);
  }
}

static void act_order(agent_ctx *c) {
  if (c->n_lines == 0) {
    say(c, R_ORDER_WHICH, NULL, NULL, NULL, NULL, NULL);
    return;
  }
  if (!c->has_customer) {
    say(c, R_NO_ACCOUNT, NULL, NULL, NULL, NULL, NULL);
    return;
  }
  gst_line_out outs[AGENT_MENTIONS_MAX];
  say(c, R_ORDER_HEAD, NULL, NULL, NULL, NULL, NULL);
  c->next.n_pending = 0;
  for (int i = 0; i < c->n_lines; i++) {
    const product *p = &c->p[c->lines[i].product];
    int64_t q = c->lines[i].has_qty ? c->lines[i].qty : 1000;
    gst_line_in in = {.qty = q, .unit_price = p->price, .rate = p->rate};
    if (gst_line(&in, intra(c), &outs[i])) {
      /* Past what an invoice can hold: nothing is proposed. */
      buf_reset(&c->reply);
      c->next.n_pending = 0;
      say(c, R_ORDER_FAILED, "quantity out of range", NULL, NULL, NULL, NULL);
      return;
    }
    newline(c);
    say(c, R_ORDER_LINE, qty_text(c, q), unit_of(p), p->name,
        money(c, outs[i].total), NULL);
    agent_pending *x = &c->next.pending[c->next.n_pending++];
    snprintf(x->product_id, sizeof x->product_id, "%s", p->id);
    x->qty = q;
  }
  gst_totals t;
  if (gst_invoice_totals(outs, c->n_lines, &t)) {
    /* Each line fits an invoice but their sum does not: as for a line,
     * nothing is proposed (never a made-up total). */
    buf_reset(&c->reply);
    c->next.n_pending = 0;
    say(c, R_ORDER_FAILED, "total out of range", NULL, NULL, NULL, NULL);
    return;
  }
  uuid_v7(c->next.order_id);
  newline(c);
  say(c, R_ORDER_TOTAL, money(c, t.total), NULL, NULL, NULL, NULL);
  c->buttons = 1;
  c->items = c->next.pending;
  c->n_items = c->next.n_pending;
}

/* Runs a business operation. Returns 0 with *out its answer, 1 when the
 * books refused it (*why their message), -1 on a server-side failure (the
 * event is then delivered again; a write replays under its key). */
static int run_op(agent_ctx *c, const char *op, const char *args_text,
                  const char *key, json **out, const char **why, db_err *err) {
  json *args;
  json_error je;
  if (json_parse(c->a, args_text, strlen(args_text), &args, &je)) {
    snprintf(err->code, sizeof err->code, "XX000");
    snprintf(err->message, sizeof err->message, "agent: bad arguments for %s",
             op);
    return -1;
  }
  biz_call call = {.op = op,
                   .profile_id = c->profile_id,
                   .args = args,
                   .idem_key = key,
                   .a = c->a};
  api_resp resp;
  api_resp_init(&resp);
  biz_run(c->d, &call, &resp);
  int rc;
  json *ans = NULL;
  if (resp.body.len) json_parse(c->a, resp.body.data, resp.body.len, &ans, &je);
  if (resp.status == 200 && ans) {
    *out = ans;
    rc = 0;
  } else if (resp.status >= 400 && resp.status < 500) {
    const json *m = json_get(ans, "message");
    *why = m && m->type == JSON_STRING ? m->str : "refused";
    rc = 1;
  } else {
    snprintf(err->code, sizeof err->code, "58000");
    snprintf(err->message, sizeof err->message,
             "agent: %s answered %d; the event is retried", op, resp.status);
    rc = -1;
  }
  api_resp_free(&resp);
  return rc;
}

static int json_money(const json *o, const char *key, int64_t *v) {
  const json *x = json_get(o, key);
  return x && x->type == JSON_NUMBER && !json_decimal(x, MONEY_SCALE, v) ? 0
                                                                         : -1;
}

static const char *json_text(const json *o, const char *key) {
  const json *x = json_get(o, key);
  return x && x->type == JSON_STRING ? x->str : "";
}

static int act_confirm(agent_ctx *c, db_err *err) {
  if (c->st.n_pending == 0) {
    say(c, R_NOTHING_PENDING, NULL, NULL, NULL, NULL, NULL);
    return 0;
  }
  if (!c->has_customer) {
    say(c, R_NO_ACCOUNT, NULL, NULL, NULL, NULL, NULL);
    return 0;
  }
  buf args;
  buf_init(&args, 0);
  json_obj o, items, it;
  json_obj_open(&o, &args);
  json_obj_str(&o, "customer_id", c->s.customer_id);
  json_obj_arr(&o, "items", &items);
  for (int i = 0; i < c->st.n_pending; i++) {
    json_obj_nest(&items, NULL, &it);
    json_obj_str(&it, "product_id", c->st.pending[i].product_id);
    json_obj_dec(&it, "quantity", c->st.pending[i].qty, QTY_SCALE);
    json_obj_close(&it);
  }
  json_obj_close(&items);
  json_obj_close(&o);
  json *inv = NULL;
  const char *why = NULL;
  /* The order's id is the key (the inbound message's for a state written
   * before orders had one): a redelivered "yes", or a second "yes" handled
   * at the same moment by another worker, replays the first invoice. */
  const char *key = c->st.order_id[0]
                        ? arena_printf(c->a, "order:%s", c->st.order_id)
                        : c->message_id;
  int rc = run_op(c, "create_invoice", buf_cstr(&args), key, &inv, &why, err);
  buf_free(&args);
  if (rc < 0) return -1;
  c->items = c->st.pending;
  c->n_items = c->st.n_pending;
  c->next.n_pending = 0;
  if (rc == 0 && !strcmp(json_text(inv, "status"), "draft")) {
    /* create_invoice issues at once unless asked for a draft; should a
     * draft come back, it is issued here, under a key of its own. */
    const char *a =
        arena_printf(c->a, "{\"invoice_id\":\"%s\"}", json_text(inv, "id"));
    rc = run_op(c, "issue_invoice", a, arena_printf(c->a, "%s:issue", key),
                &inv, &why, err);
    if (rc < 0) return -1;
  }
  if (rc > 0) {
    say(c, R_ORDER_FAILED, why, NULL, NULL, NULL, NULL);
    return 0;
  }
  int64_t total;
  if (json_money(inv, "total_amount", &total)) {
    snprintf(err->code, sizeof err->code, "XX000");
    snprintf(err->message, sizeof err->message, "agent: invoice without total");
    return -1;
  }
  snprintf(c->invoice_id, sizeof c->invoice_id, "%s", json_text(inv, "id"));
  say(c, R_CONFIRMED, json_text(inv, "invoice_number"), money(c, total), NULL,
      NULL, NULL);
  return 0;
}

static void act_cancel(agent_ctx *c) {
  if (c->st.n_pending == 0) {
    say(c, R_NOTHING_PENDING, NULL, NULL, NULL, NULL, NULL);
    return;
  }
  c->items = c->st.pending;
  c->n_items = c->st.n_pending;
  c->next.n_pending = 0;
  say(c, R_CANCELLED, NULL, NULL, NULL, NULL, NULL);
}

static void act_balance(agent_ctx *c) {
  if (!c->has_customer)
    say(c, R_NO_ACCOUNT, NULL, NULL, NULL, NULL, NULL);
  else if (c->debt > 0)
    say(c, R_BALANCE_DUE, money(c, c->debt), NULL, NULL, NULL, NULL);
  else if (c->debt < 0)
    say(c, R_BALANCE_CREDIT, money(c, -c->debt), NULL, NULL, NULL, NULL);
  else
    say(c, R_BALANCE_NONE, NULL, NULL, NULL, NULL, NULL);
}

/* The customer's last issued, not cancelled invoice; *found 0 if none. */
static int last_invoice(agent_ctx *c, db_res **r, int *found, db_err *err) {
  *found = 0;
  if (!c->has_customer) return 0;
  db_val v[] = {db_uuid(c->profile_id), db_uuid(c->s.customer_id)};
  if (db_query(c->d,
               "SELECT id, invoice_number, invoice_date, total_amount, "
               "balance_due FROM invoices WHERE profile_id = $1 AND "
               "customer_id = $2 AND invoice_number IS NOT NULL AND status "
               "<> 'cancelled' ORDER BY invoice_date DESC, issued_at DESC, "
               "id DESC LIMIT 1",
               v, 2, r, err))
    return -1;
  *found = db_res_rows(*r) > 0;
  return 0;
}

static int act_last_invoice(agent_ctx *c, db_err *err) {
  db_res *r = NULL;
  int found;
  if (last_invoice(c, &r, &found, err)) return -1;
  if (!found) {
    say(c, R_NO_INVOICE, NULL, NULL, NULL, NULL, NULL);
  } else {
    char date[24];
    agent_date_text(db_res_date(r, 0, 2), date);
    snprintf(c->invoice_id, sizeof c->invoice_id, "%s", db_res_text(r, 0, 0));
    say(c, R_LAST_INVOICE, db_res_text(r, 0, 1), date,
        money(c, db_res_dec(r, 0, 3, 2)), money(c, db_res_dec(r, 0, 4, 2)),
        NULL);
  }
  db_res_free(r);
  return 0;
}

static void act_pay(agent_ctx *c) {
  if (!c->has_customer) {
    say(c, R_NO_ACCOUNT, NULL, NULL, NULL, NULL, NULL);
  } else if (c->debt <= 0) {
    say(c, R_PAY_NOTHING, NULL, NULL, NULL, NULL, NULL);
  } else if (!*c->upi_id) {
    say(c, R_PAY_NO_UPI, money(c, c->debt), NULL, NULL, NULL, NULL);
  } else {
    buf link;
    buf_init(&link, 0);
    biz_upi_link(&link, c->upi_id, *c->business ? c->business : c->upi_id,
                 c->debt,
                 arena_printf(c->a, "Dues of %.100s", c->customer_name), NULL);
    say(c, R_PAY_LINK, money(c, c->debt), buf_cstr(&link), NULL, NULL, NULL);
    buf_free(&link);
  }
}

static int act_track(agent_ctx *c, db_err *err) {
  db_res *r = NULL, *s = NULL;
  int found;
  if (last_invoice(c, &r, &found, err)) return -1;
  if (!found) {
    say(c, R_NO_INVOICE, NULL, NULL, NULL, NULL, NULL);
    db_res_free(r);
    return 0;
  }
  const char *number = arena_strdup(c->a, db_res_text(r, 0, 1));
  snprintf(c->invoice_id, sizeof c->invoice_id, "%s", db_res_text(r, 0, 0));
  db_res_free(r);
  db_val v[] = {db_uuid(c->profile_id), db_uuid(c->invoice_id)};
  if (db_query(c->d,
               "SELECT status, coalesce(courier_name, ''), "
               "coalesce(awb_number, ''), coalesce(tracking_url, ''), id FROM "
               "shipments WHERE profile_id = $1 AND invoice_id = $2 ORDER BY "
               "created_at DESC, id DESC LIMIT 1",
               v, 2, &s, err))
    return -1;
  if (db_res_rows(s) == 0) {
    say(c, R_NOT_SHIPPED, number, NULL, NULL, NULL, NULL);
  } else {
    say(c, R_TRACK, number, db_res_text(s, 0, 0), NULL, NULL, NULL);
    if (*db_res_text(s, 0, 1) || *db_res_text(s, 0, 2))
      say(c, R_TRACK_COURIER, db_res_text(s, 0, 1), db_res_text(s, 0, 2), NULL,
          NULL, NULL);
    if (*db_res_text(s, 0, 3))
      say(c, R_TRACK_LINK, db_res_text(s, 0, 3), NULL, NULL, NULL, NULL);
    /* The courier's latest scan (integrations/shipment.c stores them). */
    db_res *sc = NULL;
    db_val sv[] = {db_uuid(c->profile_id), db_uuid(db_res_text(s, 0, 4))};
    if (db_query(c->d,
                 "SELECT activity, coalesce(location, '') FROM shipment_scans "
                 "WHERE profile_id = $1 AND shipment_id = $2 AND activity <> "
                 "'' ORDER BY scanned_at DESC LIMIT 1",
                 sv, 2, &sc, err)) {
      db_res_free(s);
      return -1;
    }
    if (db_res_rows(sc) == 1)
      say(c, R_TRACK_SCAN, db_res_text(sc, 0, 0),
          *db_res_text(sc, 0, 1) ? db_res_text(sc, 0, 1) : "-", NULL, NULL,
          NULL);
    db_res_free(sc);
  }
  db_res_free(s);
  return 0;
}

static void act_handover(agent_ctx *c) {
  say(c, R_HANDOVER, NULL, NULL, NULL, NULL, NULL);
  if (!c->from_owner) {
    c->bot_off = 1;
    c->note_owner = 1;
  }
}

/* ---- owner commands
 * ------------------------------------------------------------- */

static int act_sales_today(agent_ctx *c, db_err *err) {
  buf args;
  buf_init(&args, 0);
  int32_t today = gst_today_ist(time_now_us());
  buf_puts(&args, "{\"from\":");
  json_write_date(&args, today);
  buf_puts(&args, ",\"to\":");
  json_write_date(&args, today);
  buf_putc(&args, '}');
  json *ans = NULL;
  const char *why = NULL;
  int rc = run_op(c, "sales_summary", buf_cstr(&args), NULL, &ans, &why, err);
  buf_free(&args);
  if (rc < 0) return -1;
  const json *t = json_get(ans, "totals");
  int64_t count = 0, total = 0, paid = 0;
  const json *n = json_get(t, "invoice_count");
  if (rc > 0 || !n || json_int64(n, &count) || json_money(t, "total", &total) ||
      json_money(t, "payments_received", &paid)) {
    snprintf(err->code, sizeof err->code, "XX000");
    snprintf(err->message, sizeof err->message, "agent: sales_summary: %.200s",
             why ? why : "unexpected answer");
    return -1;
  }
  say(c, R_OWNER_SALES, arena_printf(c->a, "%lld", (long long)count),
      money(c, total), money(c, paid), NULL, NULL);
  return 0;
}

static int debtors(agent_ctx *c, int limit, const json **list, db_err *err) {
  json *ans = NULL;
  const char *why = NULL;
  int rc = run_op(c, "debtors", arena_printf(c->a, "{\"limit\":%d}", limit),
                  NULL, &ans, &why, err);
  if (rc < 0) return -1;
  *list = rc == 0 ? json_get(ans, "debtors") : NULL;
  if (!*list || (*list)->type != JSON_ARRAY) {
    snprintf(err->code, sizeof err->code, "XX000");
    snprintf(err->message, sizeof err->message, "agent: debtors: %.200s",
             why ? why : "unexpected answer");
    return -1;
  }
  return 0;
}

static int act_debtors(agent_ctx *c, db_err *err) {
  const json *list;
  if (debtors(c, LIST_MAX, &list, err)) return -1;
  if (list->n == 0) {
    say(c, R_OWNER_NO_DEBTORS, NULL, NULL, NULL, NULL, NULL);
    return 0;
  }
  say(c, R_OWNER_DEBTORS_HEAD, NULL, NULL, NULL, NULL, NULL);
  for (size_t i = 0; i < list->n; i++) {
    int64_t debt;
    if (json_money(list->items[i], "total_debt", &debt)) continue;
    newline(c);
    say(c, R_OWNER_DEBTOR_LINE, json_text(list->items[i], "full_name"),
        money(c, debt), NULL, NULL, NULL);
  }
  return 0;
}

static void act_stock(agent_ctx *c) {
  int n = c->n_prods > 0 ? c->n_prods : (c->np < LIST_MAX ? c->np : LIST_MAX);
  if (n == 0) {
    say(c, R_UNKNOWN_PRODUCT, NULL, NULL, NULL, NULL, NULL);
    return;
  }
  for (int i = 0; i < n; i++) {
    const product *p = &c->p[c->n_prods > 0 ? c->prods[i] : i];
    newline(c);
    say(c, R_OWNER_STOCK_LINE, p->name, qty_text(c, p->stock), unit_of(p), NULL,
        NULL);
  }
}

/* The template metadata for a reminder outside the 24-hour window, or
 * NULL when the channel names none. */
static const char *reminder_template(agent_ctx *c, const chat_channel *ch,
                                     const char *name, const char *amount) {
  if (!ch->default_template || !*ch->default_template) return NULL;
  const char *lang = "en";
  int64_t nparams = 0;
  json *t;
  json_error je;
  if (ch->templates &&
      !json_parse(c->a, ch->templates, strlen(ch->templates), &t, &je) &&
      t->type == JSON_ARRAY)
    for (size_t i = 0; i < t->n; i++) {
      if (strcmp(json_text(t->items[i], "name"), ch->default_template))
        continue;
      if (*json_text(t->items[i], "language"))
        lang = json_text(t->items[i], "language");
      const json *p = json_get(t->items[i], "params");
      if (p && p->type == JSON_NUMBER) json_int64(p, &nparams);
      break;
    }
  const char *vals[] = {name, amount, c->business};
  buf b;
  buf_init(&b, 0);
  json_obj o, tp, ps;
  json_obj_open(&o, &b);
  json_obj_nest(&o, "template", &tp);
  json_obj_str(&tp, "name", ch->default_template);
  json_obj_str(&tp, "language", lang);
  json_obj_arr(&tp, "params", &ps);
  for (int64_t i = 0; i < nparams && i < 3; i++)
    json_obj_str(&ps, NULL, vals[i]);
  json_obj_close(&ps);
  json_obj_close(&tp);
  json_obj_close(&o);
  const char *out = arena_strdup(c->a, buf_cstr(&b));
  buf_free(&b);
  return out;
}

static int act_remind_all(agent_ctx *c, db_err *err) {
  const json *list;
  if (debtors(c, REMIND_MAX, &list, err)) return -1;
  int queued = 0, skipped = 0;
  int64_t now = time_now_us();
  for (size_t i = 0; i < list->n; i++) {
    const json *row = list->items[i];
    int64_t debt;
    if (json_money(row, "total_debt", &debt) || debt <= 0) continue;
    db_val v[] = {db_uuid(c->profile_id),
                  db_uuid(json_text(row, "customer_id"))};
    db_res *r = NULL;
    /* The customer's conversation they wrote in last. */
    if (db_query(c->d,
                 "SELECT id FROM sessions WHERE profile_id = $1 AND "
                 "customer_id = $2 AND channel_id IS NOT NULL ORDER BY "
                 "last_inbound_at DESC NULLS LAST, id LIMIT 1",
                 v, 2, &r, err))
      return -1;
    const char *sid =
        db_res_rows(r) ? arena_strdup(c->a, db_res_text(r, 0, 0)) : NULL;
    db_res_free(r);
    extra_msg *m = arena_alloc(c->a, sizeof *m);
    int found = 0;
    if (sid &&
        chat_session_load(c->d, c->a, c->profile_id, sid, &m->s, &found, err))
      return -1;
    chat_channel ch;
    int have_ch = 0;
    if (!found) {
      /* A debtor who never wrote: a conversation on the business's first
       * WhatsApp number, to their phone from the books (the window is
       * then closed, so only a template reaches them). */
      const char *phone = json_text(row, "phone_number");
      if (phone && phone[0] == '+' &&
          chat_channel_first(c->d, c->a, c->profile_id, CHAT_WHATSAPP, &ch,
                             &have_ch, err))
        return -1;
      if (have_ch) {
        chat_contact who = {phone + 1, json_text(row, "full_name"), phone};
        if (chat_session_get_or_create(c->d, c->a, &ch, &who, &m->s, NULL,
                                       err))
          return -1;
        found = 1;
      }
    }
    if (!found) {
      skipped++;
      continue;
    }
    if (!have_ch &&
        chat_channel_load(c->d, c->a, c->profile_id, m->s.channel_id, &ch,
                          &have_ch, err))
      return -1;
    agent_state their;
    agent_state_read(c->a, m->s.agent_state, &their);
    const char *name = json_text(row, "full_name");
    const char *amount = money(c, debt);
    buf text;
    buf_init(&text, 0);
    const char *args[] = {name, c->business, amount};
    agent_say(&text, their.lang, R_REMINDER, args, 3);
    m->content = arena_strdup(c->a, buf_cstr(&text));
    buf_free(&text);
    m->sender = "workflow";
    m->type = "text";
    if (!chat_window_open(&m->s, now)) {
      /* Outside WhatsApp's 24 hours only a template may go. */
      m->metadata = have_ch ? reminder_template(c, &ch, name, amount) : NULL;
      if (!m->metadata) {
        skipped++;
        continue;
      }
      m->type = "template";
    }
    m->next = c->extra;
    c->extra = m;
    queued++;
  }
  say(c, R_OWNER_REMINDED, arena_printf(c->a, "%d", queued),
      arena_printf(c->a, "%d", skipped), NULL, NULL, NULL);
  return 0;
}

static int act(agent_ctx *c, db_err *err) {
  if (c->intent != AGENT_FALLBACK) c->next.fallbacks = 0;
  switch (c->intent) {
    case AGENT_GREET:
      say(c, R_GREET, *c->business ? c->business : "us", NULL, NULL, NULL,
          NULL);
      return 0;
    case AGENT_HELP:
      say(c, R_HELP, NULL, NULL, NULL, NULL, NULL);
      return 0;
    case AGENT_THANKS:
      say(c, R_THANKS, NULL, NULL, NULL, NULL, NULL);
      return 0;
    case AGENT_PRICE:
      act_price(c);
      return 0;
    case AGENT_AVAILABILITY:
      act_availability(c);
      return 0;
    case AGENT_ORDER:
      act_order(c);
      return 0;
    case AGENT_CONFIRM_ORDER:
      return act_confirm(c, err);
    case AGENT_CANCEL_ORDER:
      act_cancel(c);
      return 0;
    case AGENT_BALANCE:
      act_balance(c);
      return 0;
    case AGENT_LAST_INVOICE:
      return act_last_invoice(c, err);
    case AGENT_PAY:
      act_pay(c);
      return 0;
    case AGENT_TRACK:
      return act_track(c, err);
    case AGENT_HANDOVER:
      act_handover(c);
      return 0;
    case AGENT_OWNER_SALES_TODAY:
      return act_sales_today(c, err);
    case AGENT_OWNER_DEBTORS:
      return act_debtors(c, err);
    case AGENT_OWNER_STOCK:
      act_stock(c);
      return 0;
    case AGENT_OWNER_REMIND_ALL:
      return act_remind_all(c, err);
    case AGENT_FALLBACK:
    default:
      c->next.fallbacks = c->st.fallbacks + 1;
      if (c->next.fallbacks >= 2 && !c->from_owner) {
        /* Two misunderstandings in a row: a person takes over. */
        c->intent = AGENT_HANDOVER;
        c->next.fallbacks = 0;
        act_handover(c);
        return 0;
      }
      c->intent = AGENT_FALLBACK;
      say(c, R_FALLBACK, NULL, NULL, NULL, NULL, NULL);
      return 0;
  }
}

/* ---- step 3: write
 * -------------------------------------------------------------- */

static const char *metadata(agent_ctx *c) {
  buf b;
  buf_init(&b, 0);
  json_obj root, ag, arr, it, btn;
  json_obj_open(&root, &b);
  json_obj_nest(&root, "agent", &ag);
  json_obj_str(&ag, "action", agent_intent_name(c->intent));
  if (c->n_prods > 0 || c->n_items > 0) {
    json_obj_arr(&ag, "product_ids", &arr);
    if (c->n_prods > 0)
      for (int i = 0; i < c->n_prods; i++)
        json_obj_str(&arr, NULL, c->p[c->prods[i]].id);
    else
      for (int i = 0; i < c->n_items; i++)
        json_obj_str(&arr, NULL, c->items[i].product_id);
    json_obj_close(&arr);
  }
  if (c->n_items > 0) {
    json_obj_arr(&ag, "items", &arr);
    for (int i = 0; i < c->n_items; i++) {
      json_obj_nest(&arr, NULL, &it);
      json_obj_str(&it, "product_id", c->items[i].product_id);
      json_obj_dec(&it, "quantity", c->items[i].qty, QTY_SCALE);
      json_obj_close(&it);
    }
    json_obj_close(&arr);
  }
  if (c->invoice_id[0]) json_obj_str(&ag, "invoice_id", c->invoice_id);
  json_obj_str(&ag, "source", c->source);
  json_obj_close(&ag);
  if (c->buttons) {
    json_obj_arr(&root, "buttons", &arr);
    json_obj_nest(&arr, NULL, &btn);
    json_obj_str(&btn, "id", "confirm");
    json_obj_str(&btn, "title", "Haan / Yes");
    json_obj_close(&btn);
    json_obj_nest(&arr, NULL, &btn);
    json_obj_str(&btn, "id", "cancel");
    json_obj_str(&btn, "title", "Nahi / No");
    json_obj_close(&btn);
    json_obj_close(&arr);
  }
  json_obj_close(&root);
  const char *s = arena_strdup(c->a, buf_cstr(&b));
  buf_free(&b);
  return s;
}

/* The first n bytes of s at most, cut at a character's start. */
static const char *clip(arena *a, const char *s, size_t n) {
  size_t l = strlen(s);
  if (l <= n) return s;
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  return arena_printf(a, "%.*s...", (int)n, s);
}

/* Queues the note to the owner about a handover, to the owner's own
 * conversation on this channel. */
static int note_owner(agent_ctx *c, db_err *err) {
  chat_channel ch;
  int found = 0;
  if (chat_channel_load(c->d, c->a, c->profile_id, c->s.channel_id, &ch, &found,
                        err))
    return -1;
  if (!found) return 0;
  chat_contact who = {0};
  if (ch.platform == CHAT_TELEGRAM) {
    if (!*ch.owner_chat_id) return 0;
    who.contact_id = ch.owner_chat_id;
  } else {
    if (!*c->owner_phone) return 0;
    who.contact_id = c->owner_phone + 1; /* WhatsApp's wa_id: no "+" */
    who.phone = c->owner_phone;
  }
  if (!strcmp(who.contact_id, c->s.contact_id)) return 0;
  chat_session os;
  if (chat_session_get_or_create(c->d, c->a, &ch, &who, &os, NULL, err))
    return -1;
  buf text;
  buf_init(&text, 0);
  const char *args[] = {c->has_customer ? c->customer_name : c->s.contact_id,
                        c->s.contact_id, clip(c->a, c->text, 300)};
  agent_say(&text, AGENT_LANG_EN, R_OWNER_NOTE, args, 3);
  chat_out o = {
      .session_id = os.id,
      .sender = "agent",
      .content = buf_cstr(&text),
      /* Not a reply (no reply_to): the owner's screen links it
       * to the conversation that asked. */
      .metadata = arena_printf(c->a,
                               "{\"agent\":{\"action\":\"handover\",\"source\":"
                               "\"%s\"},\"handover_session_id\":\"%s\"}",
                               c->source, c->s.id)};
  int rc = chat_enqueue(c->d, &os, &o, NULL, NULL, err);
  buf_free(&text);
  return rc;
}

static int write_all(agent_ctx *c, db_err *err) {
  const char *meta = metadata(c);
  buf st;
  buf_init(&st, 0);
  agent_state_write(&st, &c->next);
  int rc = -1, dup = 0;
  if (db_begin(c->d, 1, err)) goto out;
  chat_out o = {.session_id = c->s.id,
                .sender = "agent",
                .message_type = c->buttons ? "interactive" : "text",
                .content = buf_cstr(&c->reply),
                .metadata = meta,
                .reply_to = c->message_id};
  if (chat_enqueue(c->d, &c->s, &o, NULL, &dup, err)) goto fail;
  if (dup) {
    /* Answered meanwhile by another delivery: nothing more to do. */
    db_rollback(c->d);
    rc = 0;
    goto out;
  }
  /* is_bot_active is only ever turned off here: the owner may have
   * changed it since step 1, and that choice stands. */
  int64_t now = time_now_us();
  db_val v[] = {db_uuid(c->profile_id), db_uuid(c->s.id),
                db_json(buf_cstr(&st)), db_ts(now)};
  db_val off[] = {db_uuid(c->profile_id), db_uuid(c->s.id), db_bool(0),
                  db_ts(now)};
  if (db_query_fixed(c->d,
                     "UPDATE sessions SET agent_state = $3, updated_at = $4 "
                     "WHERE profile_id = $1 AND id = $2",
                     v, 4, NULL, err) ||
      (c->bot_off &&
       db_query_fixed(c->d,
                      "UPDATE sessions SET is_bot_active = $3, updated_at = "
                      "$4 WHERE profile_id = $1 AND id = $2",
                      off, 4, NULL, err)))
    goto fail;
  if (c->note_owner && note_owner(c, err)) goto fail;
  for (extra_msg *m = c->extra; m; m = m->next) {
    chat_out x = {.session_id = m->s.id,
                  .sender = m->sender,
                  .message_type = m->type,
                  .content = m->content,
                  .metadata = m->metadata};
    if (chat_enqueue(c->d, &m->s, &x, NULL, NULL, err)) goto fail;
  }
  if (db_commit(c->d, err)) goto out;
  jobs_wake();
  rc = 0;
  goto out;
fail:
  db_rollback(c->d);
out:
  buf_free(&st);
  return rc;
}

/* ---- the consumer
 * --------------------------------------------------------------- */

static int run(agent_ctx *c, const event_row *ev, db_err *err) {
  const char *sid;
  if (read_payload(c, ev, &sid)) {
    log_warn("chat.agent: event %s has no message_id/session_id; skipped",
             ev->id);
    return 0;
  }
  int yes = 0, found = 0;
  /* The reads before deciding share one read transaction: one snapshot,
   * and on SQLite one lock round instead of one per statement. It ends
   * before the LLM or biz_run is called. */
  if (db_begin(c->d, 0, err)) return -1;
  if (answered(c, &yes, err) ||
      (!yes && chat_session_load(c->d, c->a, c->profile_id, sid, &c->s,
                                 &found, err)) ||
      (!yes && found && (c->s.is_bot_active || c->from_owner) &&
       read_books(c, err))) {
    db_rollback(c->d);
    return -1;
  }
  if (db_commit(c->d, err)) return -1;
  if (yes || !found || (!c->s.is_bot_active && !c->from_owner)) return 0;
  agent_state_read(c->a, c->s.agent_state, &c->st);
  c->next = c->st;
  agent_tokenize(c->text, strlen(c->text), &c->tk);
  c->lang = agent_detect_lang(&c->tk);
  if (c->lang == AGENT_LANG_UNKNOWN) c->lang = c->st.lang;
  if (c->lang == AGENT_LANG_UNKNOWN) c->lang = AGENT_LANG_EN;
  c->next.lang = c->lang;
  if (decide(c, err) || act(c, err)) return -1;
  return write_all(c, err);
}

int chat_agent_handle(void *arg, db *d, const event_row *ev, int attempts,
                      db_err *err) {
  (void)arg, (void)attempts;
  if (strcmp(ev->event_type, "message.received")) return 0;
  arena *a = arena_new();
  agent_ctx *c = arena_alloc(a, sizeof *c);
  c->d = d;
  c->a = a;
  c->profile_id = ev->profile_id;
  buf_init(&c->reply, REPLY_CAP);
  int rc = run(c, ev, err);
  if (rc)
    log_warn("chat.agent: event %s: [%s] %s", ev->id, err->code, err->message);
  buf_free(&c->reply);
  arena_free(a);
  return rc;
}

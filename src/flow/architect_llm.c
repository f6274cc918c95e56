/* architect_llm.c - the Architect with a model (architect.h): an
 * OpenAI-compatible chat completions endpoint drafts the graph.
 *
 * The model gets a system prompt that describes the node types, the
 * trigger events, the expression names and the rules of a graph, and two
 * tools: draft_workflow {name, nodes, edges} and ask_question {question};
 * it must call one. What it answers is only a proposal: the faults a model
 * makes often and that have one right repair are repaired here (a node
 * list with no edges, {source, target} edges, node types and event names
 * spelled another way), and the caller checks the result with bp_parse and
 * falls back to the offline drafter when it does not pass. The model never
 * writes the explanation the owner reads: that is told from the graph. */
#include <stdio.h>
#include <string.h>

#include "flow/architect.h"
#include "flow/blueprint.h"
#include "flow/node.h"
#include "net/http_client.h"

#define LLM_MAX_RESPONSE ((size_t)256 * 1024)

static const char *const system_prompt =
    "You design workflows for a small Indian business's back office. Turn "
    "the owner's words (English, Hindi in Latin letters, or Devanagari) into "
    "a workflow graph and call draft_workflow; if the words do not say what "
    "should start it, whom to message or when, call ask_question instead.\n"
    "A graph is {name, nodes: [{id, type, params}], edges: [{from, to, "
    "when?}]}. ids: 1-64 of [A-Za-z0-9_-], unique. Exactly one trigger node; "
    "no cycles; every node reachable from the trigger.\n"
    "Node types and params:\n"
    "- trigger: one of {\"event\": E} (E below), {\"cron\": \"m h dom mon "
    "dow\", \"timezone\": \"Asia/Kolkata\"}, {\"webhook\": true}, "
    "{\"manual\": true}.\n"
    "- condition: {\"if\": expression}; its edges out carry when \"true\" or "
    "\"false\".\n"
    "- switch: {\"on\": expression, \"cases\": {label: value}}; edges carry "
    "when = a label or \"default\".\n"
    "- wait: {\"for\": \"30m\"|\"2h\"|\"3d\"|\"1w\"} or {\"until\": "
    "expression giving a time}.\n"
    "- for_each: {\"over\": \"debtors\"|\"customers\"|\"overdue_invoices\"|"
    "\"low_stock_products\", \"limit\"?: 1-1000}; the nodes after it run once "
    "per item, where customer/invoice/product are the item's record.\n"
    "- send_message: {\"to\": \"customer\"|\"owner\"|\"+91…\", \"text\": "
    "template, \"template\"?: {\"name\", \"language\": \"en\"|\"hi\", "
    "\"params\": [templates]}} (a WhatsApp template for customers who have "
    "not written in 24 hours); templates hold {{ expression }} holes.\n"
    "- create_invoice {customer_id?, items, due_date?, notes?}, "
    "record_payment {amount_received, payment_mode, invoice_id?}, "
    "adjust_stock {product_id?, delta, reason?}, update_record {fields: "
    "{name: template}}, http_request {url, method, headers, body}, set "
    "{values: {name: expression}}, stop {error?}.\n"
    "Events E: ";

static const char *const system_prompt_tail =
    ".\nExpressions: invoice.total_amount > 10000 and customer.total_debt > 0; "
    "money in rupees as exact decimals; names: trigger, item, customer "
    "(full_name, phone_number, total_debt), invoice (invoice_number, "
    "total_amount, balance_due, status, due_date), payment (amount_received, "
    "payment_mode), product (name, current_stock, low_stock_threshold, unit), "
    "shipment (status, awb_number), message (content), business "
    "(business_name), a node's id (its output), now(), today(); reports for "
    "messages: sales_summary('today'|'yesterday'|'week'|'month'), debtors(), "
    "gst_collected('today'|'week'|'month'), stock_low(). 1 lakh = 100000.";

void arch_llm_request(buf *b, const char *model, const char *prompt) {
  buf sys;
  buf_init(&sys, 0);
  buf_puts(&sys, system_prompt);
  for (int i = 0; bp_trigger_events[i]; i++)
    buf_printf(&sys, "%s%s", i ? ", " : "", bp_trigger_events[i]);
  buf_puts(&sys, system_prompt_tail);
  json_obj root, msgs, m, tl, t, fn;
  json_obj_open(&root, b);
  json_obj_str(&root, "model", model ? model : "");
  json_obj_arr(&root, "messages", &msgs);
  json_obj_nest(&msgs, NULL, &m);
  json_obj_str(&m, "role", "system");
  json_obj_str(&m, "content", buf_cstr(&sys));
  json_obj_close(&m);
  json_obj_nest(&msgs, NULL, &m);
  json_obj_str(&m, "role", "user");
  json_obj_str(&m, "content", prompt ? prompt : "");
  json_obj_close(&m);
  json_obj_close(&msgs);
  json_obj_arr(&root, "tools", &tl);
  json_obj_nest(&tl, NULL, &t);
  json_obj_str(&t, "type", "function");
  json_obj_nest(&t, "function", &fn);
  json_obj_str(&fn, "name", "draft_workflow");
  json_obj_str(&fn, "description", "The workflow graph for the owner's words.");
  json_obj_raw(&fn, "parameters",
               "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":"
               "\"string\"},\"nodes\":{\"type\":\"array\",\"items\":{\"type\":"
               "\"object\",\"properties\":{\"id\":{\"type\":\"string\"},"
               "\"type\":{\"type\":\"string\"},\"params\":{\"type\":"
               "\"object\"}},\"required\":[\"id\",\"type\",\"params\"]}},"
               "\"edges\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
               "\"properties\":{\"from\":{\"type\":\"string\"},\"to\":{"
               "\"type\":\"string\"},\"when\":{\"type\":\"string\"}},"
               "\"required\":[\"from\",\"to\"]}}},\"required\":[\"name\","
               "\"nodes\",\"edges\"]}");
  json_obj_close(&fn);
  json_obj_close(&t);
  json_obj_nest(&tl, NULL, &t);
  json_obj_str(&t, "type", "function");
  json_obj_nest(&t, "function", &fn);
  json_obj_str(&fn, "name", "ask_question");
  json_obj_str(&fn, "description",
               "Ask the owner what is missing when the words are ambiguous.");
  json_obj_raw(&fn, "parameters",
               "{\"type\":\"object\",\"properties\":{\"question\":{\"type\":"
               "\"string\"}},\"required\":[\"question\"]}");
  json_obj_close(&fn);
  json_obj_close(&t);
  json_obj_close(&tl);
  json_obj_str(&root, "tool_choice", "required");
  json_obj_close(&root);
  buf_free(&sys);
}

/* ---- repair ---------------------------------------------------------- */

static const struct {
  const char *from, *to;
} type_alias[] = {
    {"delay", "wait"},           {"sleep", "wait"},
    {"if", "condition"},         {"branch", "condition"},
    {"filter", "condition"},     {"send", "send_message"},
    {"message", "send_message"}, {"whatsapp", "send_message"},
    {"notify", "send_message"},  {"send_whatsapp", "send_message"},
    {"loop", "for_each"},        {"foreach", "for_each"},
    {"start", "trigger"},        {"event", "trigger"},
    {"schedule", "trigger"},     {"cron", "trigger"},
};

static const struct {
  const char *from, *to;
} event_alias[] = {
    {"payment.created", "payment.received"},
    {"payment.completed", "payment.received"},
    {"payment.success", "payment.received"},
    {"payment.recorded", "payment.received"},
    {"payment", "payment.received"},
    {"invoice.overdue", "invoice.issued"},
    {"invoice.unpaid", "invoice.issued"},
    {"invoice.sent", "invoice.issued"},
    {"invoice.new", "invoice.created"},
    {"invoice.fully_paid", "invoice.paid"},
    {"invoice.canceled", "invoice.cancelled"},
    {"customer.new", "customer.created"},
    {"customer.added", "customer.created"},
    {"new.customer", "customer.created"},
    {"product.new", "product.created"},
    {"product.added", "product.created"},
    {"stock.below.threshold", "stock.low"},
    {"stock.below_threshold", "stock.low"},
    {"inventory.low", "stock.low"},
    {"product.low_stock", "stock.low"},
    {"product.stock_low", "stock.low"},
    {"low.stock", "stock.low"},
    {"message.created", "message.received"},
    {"message.inbound", "message.received"},
    {"shipment.delivered", "shipment.updated"},
    {"order.delivered", "shipment.updated"},
    {"delivery.completed", "shipment.updated"},
    {"shipment.status_changed", "shipment.updated"},
};

/* An event name a model wrote, as ours: lower case, '_' or ' ' between
 * the noun and the verb read as '.', then the table above. NULL: none. */
static const char *map_event(arena *a, const char *ev) {
  if (bp_event_known(ev)) return ev;
  char *s = arena_strdup(a, ev);
  for (char *p = s; *p; p++) {
    if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    if (*p == ' ' || *p == '-') *p = '_';
  }
  if (bp_event_known(s)) return s;
  char *u = strchr(s, '_');
  if (u && !strchr(s, '.')) {
    *u = '.';
    if (bp_event_known(s)) return s;
  }
  for (size_t i = 0; i < sizeof event_alias / sizeof event_alias[0]; i++)
    if (!strcmp(s, event_alias[i].from)) return event_alias[i].to;
  return NULL;
}

static const json *get_str(const json *o, const char *k) {
  const json *v = json_get(o, k);
  return v && v->type == JSON_STRING ? v : NULL;
}

int arch_repair(arena *a, const json *nodes, const json *edges,
                const char **nodes_out, const char **edges_out,
                const char **note) {
  buf nb, eb, nt;
  buf_init(&nb, 1 << 20);
  buf_init(&eb, 1 << 20);
  buf_init(&nt, 4096);
  int rc = -1;
  *nodes_out = *edges_out = NULL;
  *note = "";
  if (!nodes || nodes->type != JSON_ARRAY || nodes->n == 0 ||
      nodes->n > BP_MAX_NODES)
    goto out;
  const char *ids[BP_MAX_NODES];
  const char *types[BP_MAX_NODES];
  json_obj na;
  json_arr_open(&na, &nb);
  for (size_t i = 0; i < nodes->n; i++) {
    const json *n = nodes->items[i];
    if (n->type != JSON_OBJECT) goto out;
    const json *id = get_str(n, "id"), *ty = get_str(n, "type");
    if (!ty) goto out;
    ids[i] = id ? id->str : arena_printf(a, "n%zu", i + 1);
    if (!id)
      buf_printf(&nt, "%snode %zu given id %s", nt.len ? "; " : "", i + 1,
                 ids[i]);
    const char *type = ty->str;
    if (!flow_node_find(type)) {
      for (size_t k = 0; k < sizeof type_alias / sizeof type_alias[0]; k++)
        if (!strcmp(type, type_alias[k].from)) {
          buf_printf(&nt, "%snode %s: type %s read as %s", nt.len ? "; " : "",
                     ids[i], type, type_alias[k].to);
          type = type_alias[k].to;
          break;
        }
    }
    types[i] = type;
    const json *params = json_get(n, "params");
    json_obj o;
    json_obj_nest(&na, NULL, &o);
    json_obj_str(&o, "id", ids[i]);
    json_obj_str(&o, "type", type);
    const json *ev = get_str(params, "event");
    if (!strcmp(type, "trigger") && ev && !bp_event_known(ev->str)) {
      const char *m = map_event(a, ev->str);
      if (m) {
        buf_printf(&nt, "%strigger event %s read as %s", nt.len ? "; " : "",
                   ev->str, m);
        /* params with the event replaced, the rest as written */
        json_obj p;
        json_obj_nest(&o, "params", &p);
        for (size_t k = 0; k < params->n; k++) {
          if (!strcmp(params->keys[k], "event"))
            json_obj_str(&p, "event", m);
          else
            json_obj_raw(&p, params->keys[k],
                         json_to_text(a, params->items[k]));
        }
        json_obj_close(&p);
        json_obj_close(&o);
        continue;
      }
    }
    json_obj_raw(
        &o, "params",
        params && params->type == JSON_OBJECT ? json_to_text(a, params) : "{}");
    json_obj_close(&o);
  }
  if (json_obj_close(&na)) goto out;

  json_obj ea;
  json_arr_open(&ea, &eb);
  if (!edges || edges->type != JSON_ARRAY || edges->n == 0) {
    /* A linear list: each node follows the one before it. */
    if (nodes->n > 1)
      buf_printf(&nt, "%sthe nodes were chained in the order written",
                 nt.len ? "; " : "");
    for (size_t i = 1; i < nodes->n; i++) {
      json_obj e;
      json_obj_nest(&ea, NULL, &e);
      json_obj_str(&e, "from", ids[i - 1]);
      json_obj_str(&e, "to", ids[i]);
      if (!strcmp(types[i - 1], "condition")) json_obj_str(&e, "when", "true");
      json_obj_close(&e);
    }
  } else {
    if (edges->n > BP_MAX_EDGES) goto out;
    int renamed = 0;
    for (size_t i = 0; i < edges->n; i++) {
      const json *e = edges->items[i];
      const json *f = get_str(e, "from"), *t = get_str(e, "to");
      if (!f) f = get_str(e, "source"), renamed |= f != NULL;
      if (!t) t = get_str(e, "target"), renamed |= t != NULL;
      if (!f || !t) goto out;
      const json *w = json_get(e, "when");
      if (!w) w = json_get(e, "condition");
      json_obj o;
      json_obj_nest(&ea, NULL, &o);
      json_obj_str(&o, "from", f->str);
      json_obj_str(&o, "to", t->str);
      if (w && w->type == JSON_STRING)
        json_obj_str(&o, "when", w->str);
      else if (w && w->type == JSON_TRUE)
        json_obj_str(&o, "when", "true");
      else if (w && w->type == JSON_FALSE)
        json_obj_str(&o, "when", "false");
      json_obj_close(&o);
    }
    if (renamed)
      buf_printf(&nt, "%sedges {source, target} read as {from, to}",
                 nt.len ? "; " : "");
  }
  if (json_obj_close(&ea)) goto out;
  *nodes_out = arena_strdup(a, buf_cstr(&nb));
  *edges_out = arena_strdup(a, buf_cstr(&eb));
  *note = arena_strdup(a, buf_cstr(&nt));
  rc = 0;
out:
  buf_free(&nb);
  buf_free(&eb);
  buf_free(&nt);
  return rc;
}

/* ---- the answer ------------------------------------------------------ */

/* Content that is JSON, maybe inside a ``` fence. */
static const json *content_json(arena *a, const char *s, size_t n) {
  const char *b = memchr(s, '{', n);
  if (!b) return NULL;
  const char *e = s + n;
  while (e > b && e[-1] != '}') e--;
  if (e <= b) return NULL;
  json *j;
  json_error je;
  if (json_parse(a, b, (size_t)(e - b), &j, &je) || j->type != JSON_OBJECT)
    return NULL;
  return j;
}

int arch_llm_parse(arena *a, const char *body, size_t len, arch_draft *out,
                   const char **repairs, char *why, size_t whylen) {
  memset(out, 0, sizeof *out);
  *repairs = "";
  json *j;
  json_error je;
  if (json_parse(a, body, len, &j, &je)) {
    snprintf(why, whylen, "the answer is not JSON");
    return -1;
  }
  const json *ch = json_get(j, "choices");
  const json *msg = ch && ch->type == JSON_ARRAY && ch->n
                        ? json_get(ch->items[0], "message")
                        : NULL;
  const json *calls = json_get(msg, "tool_calls");
  const char *name = "draft_workflow";
  const json *args = NULL;
  if (calls && calls->type == JSON_ARRAY && calls->n) {
    const json *fn = json_get(calls->items[0], "function");
    const json *nm = get_str(fn, "name");
    const json *ar = json_get(fn, "arguments");
    name = nm ? nm->str : "";
    if (ar && ar->type == JSON_OBJECT) {
      args = ar;
    } else if (ar && ar->type == JSON_STRING) {
      json *p;
      if (!json_parse(a, ar->str, ar->len, &p, &je) && p->type == JSON_OBJECT)
        args = p;
    }
  } else {
    const json *c = get_str(msg, "content");
    if (c) args = content_json(a, c->str, c->len);
    if (args && get_str(args, "question") && !json_get(args, "nodes"))
      name = "ask_question";
  }
  if (!args) {
    snprintf(why, whylen, "no graph in the answer");
    return -1;
  }
  if (!strcmp(name, "ask_question")) {
    const json *q = get_str(args, "question");
    if (!q || !q->len) {
      snprintf(why, whylen, "an empty question");
      return -1;
    }
    out->question = q->str;
    return 0;
  }
  if (strcmp(name, "draft_workflow")) {
    snprintf(why, whylen, "the model called an unknown tool");
    return -1;
  }
  const json *nm = get_str(args, "name");
  out->name = nm && nm->len ? nm->str : "Workflow";
  if (arch_repair(a, json_get(args, "nodes"), json_get(args, "edges"),
                  &out->nodes, &out->edges, repairs)) {
    snprintf(why, whylen, "the graph cannot be read or repaired");
    return -1;
  }
  return 0;
}

int arch_llm_draft(arena *a, const char *url, const char *key,
                   const char *model, long timeout_ms, const char *prompt,
                   arch_draft *out, const char **repairs, char *why,
                   size_t whylen) {
  buf body;
  buf_init(&body, 0);
  arch_llm_request(&body, model, prompt);
  const char *suffix = "/chat/completions";
  size_t ul = strlen(url), sl = strlen(suffix);
  const char *full = url;
  if (ul < sl || strcmp(url + ul - sl, suffix)) {
    while (ul > 0 && url[ul - 1] == '/') ul--;
    full = arena_printf(a, "%.*s%s", (int)ul, url, suffix);
  }
  net_header h[2] = {{"Content-Type", "application/json"}, {NULL, NULL}};
  size_t nh = 1;
  if (key && *key)
    h[nh++] = (net_header){"Authorization", arena_printf(a, "Bearer %s", key)};
  net_req req = {.method = "POST",
                 .url = full,
                 .headers = h,
                 .n_headers = nh,
                 .body = body.data,
                 .body_len = body.len,
                 .timeout_ms = timeout_ms,
                 .connect_timeout_ms = timeout_ms,
                 .max_response = LLM_MAX_RESPONSE};
  net_result res;
  int rc = -1;
  if (net_request(&req, &res)) {
    snprintf(why, whylen, "%s", net_error_name(res.err));
  } else if (res.status != 200) {
    snprintf(why, whylen, "HTTP %ld", res.status);
  } else {
    rc = arch_llm_parse(a, res.body.data ? res.body.data : "", res.body.len,
                        out, repairs, why, whylen);
  }
  net_result_free(&res);
  buf_free(&body);
  return rc;
}

/* llm.c - the request to an OpenAI-compatible chat completions endpoint
 * and the reading of its tool call (see llm.h). */
#include "chat/agent/llm.h"

#include <stdio.h>
#include <string.h>

#include "chat/agent/intent.h"
#include "net/http_client.h"

#define LLM_MAX_RESPONSE ((size_t)256 * 1024)
#define LLM_PROMPT_PRODUCTS 100

/* What each tool is for and its parameters' JSON schema. */
static const struct {
  agent_intent intent;
  const char *description;
  const char *parameters;
} tools[] = {
    {AGENT_GREET, "The customer greets.", NULL},
    {AGENT_HELP, "The customer asks what the assistant can do.", NULL},
    {AGENT_THANKS, "The customer thanks or acknowledges.", NULL},
    {AGENT_PRICE, "The customer asks the price of a product (or of all).",
     "{\"type\":\"object\",\"properties\":{\"product\":{\"type\":\"string\","
     "\"description\":\"the product's name as the shop sells it; leave out "
     "for the price list\"}}}"},
    {AGENT_AVAILABILITY, "The customer asks whether a product is in stock.",
     "{\"type\":\"object\",\"properties\":{\"product\":{\"type\":\"string\","
     "\"description\":\"the product's name as the shop sells it\"}},"
     "\"required\":[\"product\"]}"},
    {AGENT_ORDER, "The customer wants to buy products.",
     "{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\","
     "\"items\":{\"type\":\"object\",\"properties\":{\"product\":{\"type\":"
     "\"string\",\"description\":\"the product's name as the shop sells "
     "it\"},\"quantity\":{\"type\":\"number\",\"description\":\"how much, "
     "in the product's unit\"}},\"required\":[\"product\"]}}},"
     "\"required\":[\"items\"]}"},
    {AGENT_CONFIRM_ORDER, "The customer says yes to the order just proposed.",
     NULL},
    {AGENT_CANCEL_ORDER,
     "The customer says no to or cancels the order just "
     "proposed.",
     NULL},
    {AGENT_BALANCE, "The customer asks how much they owe.", NULL},
    {AGENT_LAST_INVOICE, "The customer asks about their last invoice or bill.",
     NULL},
    {AGENT_PAY, "The customer asks how to pay.", NULL},
    {AGENT_TRACK, "The customer asks where their order or delivery is.", NULL},
    {AGENT_HANDOVER, "The customer wants to talk to a person.", NULL},
    {AGENT_FALLBACK, "None of the other tools fits.", NULL},
    {AGENT_OWNER_SALES_TODAY, "The owner asks for today's sales.", NULL},
    {AGENT_OWNER_DEBTORS, "The owner asks who owes money.", NULL},
    {AGENT_OWNER_STOCK, "The owner asks the stock of a product (or of all).",
     "{\"type\":\"object\",\"properties\":{\"product\":{\"type\":\"string\","
     "\"description\":\"the product's name; leave out for all\"}}}"},
    {AGENT_OWNER_REMIND_ALL,
     "The owner asks to remind every customer with "
     "dues.",
     NULL},
};

void agent_llm_request(buf *b, const agent_llm_in *in) {
  buf sys;
  buf_init(&sys, 0);
  buf_printf(&sys,
             "You are the WhatsApp assistant of %.200s, a shop in India. "
             "Customers write in English, in Hindi in Latin letters or in "
             "Devanagari. Choose exactly one tool for the last message; never "
             "answer in text. Products sold:",
             in->business && *in->business ? in->business : "the shop");
  for (int i = 0; i < in->n_products && i < LLM_PROMPT_PRODUCTS; i++)
    buf_printf(&sys, "%s %.120s", i ? "," : "", in->products[i]);
  buf_putc(&sys, '.');
  if (in->from_owner)
    buf_puts(&sys,
             " This message is from the shop's owner: the owner_ tools "
             "are for the owner's commands.");

  json_obj root, msgs, m, tl, t, fn;
  json_obj_open(&root, b);
  json_obj_str(&root, "model", in->model ? in->model : "");
  json_obj_arr(&root, "messages", &msgs);
  json_obj_nest(&msgs, NULL, &m);
  json_obj_str(&m, "role", "system");
  json_obj_str(&m, "content", buf_cstr(&sys));
  json_obj_close(&m);
  for (int i = 0; i < in->n_history; i++) {
    json_obj_nest(&msgs, NULL, &m);
    json_obj_str(&m, "role",
                 in->history[i].from_customer ? "user" : "assistant");
    json_obj_str(&m, "content", in->history[i].text ? in->history[i].text : "");
    json_obj_close(&m);
  }
  json_obj_nest(&msgs, NULL, &m);
  json_obj_str(&m, "role", "user");
  json_obj_str(&m, "content", in->text ? in->text : "");
  json_obj_close(&m);
  json_obj_close(&msgs);
  json_obj_arr(&root, "tools", &tl);
  for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
    if (agent_intent_is_owner(tools[i].intent) && !in->from_owner) continue;
    json_obj_nest(&tl, NULL, &t);
    json_obj_str(&t, "type", "function");
    json_obj_nest(&t, "function", &fn);
    json_obj_str(&fn, "name", agent_intent_name(tools[i].intent));
    json_obj_str(&fn, "description", tools[i].description);
    json_obj_raw(&fn, "parameters",
                 tools[i].parameters
                     ? tools[i].parameters
                     : "{\"type\":\"object\",\"properties\":{}}");
    json_obj_close(&fn);
    json_obj_close(&t);
  }
  json_obj_close(&tl);
  json_obj_str(&root, "tool_choice", "required");
  json_obj_close(&root);
  buf_free(&sys);
}

int agent_llm_parse(arena *a, const char *body, size_t len, const char **name,
                    const json **args) {
  json *j;
  json_error je;
  if (json_parse(a, body, len, &j, &je)) return -1;
  const json *ch = json_get(j, "choices");
  if (!ch || ch->type != JSON_ARRAY || ch->n < 1) return -1;
  const json *msg = json_get(ch->items[0], "message");
  const json *calls = json_get(msg, "tool_calls");
  if (!calls || calls->type != JSON_ARRAY || calls->n < 1) return -1;
  const json *fn = json_get(calls->items[0], "function");
  const json *nm = json_get(fn, "name");
  const json *ar = json_get(fn, "arguments");
  if (!nm || nm->type != JSON_STRING) return -1;
  *name = nm->str;
  /* "arguments" is a string of JSON in OpenAI's API; some servers send
   * the object itself. Absent or empty: no arguments. */
  if (!ar || ar->type == JSON_NULL ||
      (ar->type == JSON_STRING && ar->len == 0)) {
    json *empty;
    if (json_parse(a, "{}", 2, &empty, &je)) return -1;
    *args = empty;
    return 0;
  }
  if (ar->type == JSON_OBJECT) {
    *args = ar;
    return 0;
  }
  if (ar->type != JSON_STRING) return -1;
  json *parsed;
  if (json_parse(a, ar->str, ar->len, &parsed, &je) ||
      parsed->type != JSON_OBJECT)
    return -1;
  *args = parsed;
  return 0;
}

int agent_llm_choose(arena *a, const char *url, const char *key,
                     long timeout_ms, const agent_llm_in *in, const char **name,
                     const json **args, char *why, size_t whylen) {
  buf body;
  buf_init(&body, 0);
  agent_llm_request(&body, in);
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
  } else if (agent_llm_parse(a, res.body.data ? res.body.data : "",
                             res.body.len, name, args)) {
    snprintf(why, whylen, "no tool call in the answer");
  } else {
    rc = 0;
  }
  net_result_free(&res);
  buf_free(&body);
  return rc;
}

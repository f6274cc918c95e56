/* demo.c - the sample business (see demo.h). Every row is made by calling
 * the API's own handlers (signup, /rest/v1, the business operations), so
 * the sample data obeys every rule the API does. One filler, books(), makes
 * the books for a given owner; `munshi demo` first signs up the demo
 * account (and gives it a GSTIN), rpc/load_sample_business uses the
 * caller's own business. */
#include "demo/demo.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/json.h"
#include "base/timeutil.h"
#include "biz/gst.h"
#include "rest/call.h"

typedef struct call {
  auth *au;
  db *d;
  FILE *out; /* NULL: say nothing (the rpc) */
  api_principal who;
  const char *prefer;
  /* The first refused request: its status and answer (PostgREST's error
   * JSON), for the rpc to pass on. */
  int fail_status;
  buf fail_body;
} call;

static const char *demo_header(const api_req *r, const char *name) {
  const call *c = r->http;
  if (!strcasecmp(name, "prefer")) return c->prefer;
  return NULL;
}

/* Runs one request; returns the status, and the parsed answer in *answer
 * (NULL when there is no body). kind: 0 auth, 1 a table, 2 an operation. */
static int run_q(call *c, arena *a, int kind, const char *method,
                 const char *path, const char *query, const char *body,
                 json **answer) {
  api_resp resp;
  api_resp_init(&resp);
  if (kind == 0) {
    api_req req = {0};
    req.a = a;
    req.method = method;
    req.path = path;
    req.query = query;
    req.body = body ? body : "";
    req.body_len = body ? strlen(body) : 0;
    req.remote = "demo";
    req.header = demo_header;
    req.http = c;
    auth_handle(c->au, c->d, &req, &resp);
  } else {
    rest_call_req rc = {.who = &c->who,
                        .method = method,
                        .path = kind == 2 ? arena_printf(a, "rpc/%s", path) : path,
                        .query = query,
                        .body = body,
                        .header = demo_header,
                        .cls = c};
    rest_call(c->d, a, &rc, &resp);
  }
  int status = resp.status;
  *answer = NULL;
  json_error je;
  if (resp.body.len &&
      json_parse(a, resp.body.data, resp.body.len, answer, &je) != 0)
    *answer = NULL;
  if (status >= 300) {
    if (c->out)
      fprintf(c->out, "demo: %s %s answered %d: %s\n", method, path, status,
              buf_cstr(&resp.body));
    if (!c->fail_status) {
      c->fail_status = status;
      buf_append(&c->fail_body, resp.body.data ? resp.body.data : "",
                 resp.body.len);
    }
  }
  api_resp_free(&resp);
  return status;
}

static int run(call *c, arena *a, int kind, const char *method,
               const char *path, const char *body, json **answer) {
  return run_q(c, a, kind, method, path, "", body, answer);
}

static const char *str(const json *o, const char *key) {
  const json *v = json_get(o, key);
  return v && v->type == JSON_STRING ? v->str : "";
}

typedef struct counts {
  int products, customers, invoices, payments, sessions, messages, workflows;
} counts;

/* The sample's books for c->who, whose profile has a state code. 0, or -1
 * (c->fail_* says why). */
static int books(call *c, arena *a, counts *n) {
  json *ans;
  char body[2048];
  if (run(c, a, 1, "POST", "products",
          "[{\"name\":\"Basmati rice 5 kg\",\"sku\":\"RICE-5\",\"hsn_code\":"
          "\"1006\",\"unit\":\"bag\",\"gst_rate\":5,\"base_price\":649.00,"
          "\"current_stock\":40,\"low_stock_threshold\":10},"
          "{\"name\":\"Sugar\",\"sku\":\"SUGAR\",\"hsn_code\":\"1701\",\"unit\":"
          "\"kg\",\"gst_rate\":5,\"base_price\":44.50,\"current_stock\":"
          "250.500,\"low_stock_threshold\":50},"
          "{\"name\":\"Cement 50 kg\",\"sku\":\"CEM-50\",\"hsn_code\":"
          "\"252329\",\"unit\":\"bag\",\"gst_rate\":28,\"base_price\":385.00,"
          "\"current_stock\":120,\"low_stock_threshold\":20},"
          "{\"name\":\"Wall paint 4 L\",\"sku\":\"PAINT-4\",\"hsn_code\":"
          "\"32091090\",\"unit\":\"tin\",\"gst_rate\":18,\"base_price\":"
          "1240.00,\"current_stock\":15,\"low_stock_threshold\":5},"
          "{\"name\":\"Gold coin 1 g\",\"sku\":\"GOLD-1\",\"hsn_code\":"
          "\"7108\",\"unit\":\"pcs\",\"gst_rate\":3,\"base_price\":7350.00,"
          "\"current_stock\":6},"
          "{\"name\":\"Cut diamond\",\"sku\":\"DIA-1\",\"hsn_code\":\"7102\","
          "\"unit\":\"ct\",\"gst_rate\":0.25,\"base_price\":45000.00,"
          "\"current_stock\":2.5}]",
          &ans) != 201 || !ans || ans->n != 6)
    return -1;
  n->products = 6;
  const char *rice = str(ans->items[0], "id"), *sugar = str(ans->items[1], "id"),
             *cement = str(ans->items[2], "id"), *paint = str(ans->items[3], "id"),
             *gold = str(ans->items[4], "id");
  if (run(c, a, 1, "POST", "customers",
          "[{\"full_name\":\"Asha Patil\",\"phone_number\":\"+919820011111\","
          "\"state_code\":\"27\",\"address\":\"Kothrud, Pune\"},"
          "{\"full_name\":\"Ravi Deshmukh\",\"phone_number\":\"+919820022222\","
          "\"state_code\":\"27\"},"
          "{\"full_name\":\"Kaveri Builders\",\"phone_number\":\"+919845033333\","
          "\"state_code\":\"29\",\"address\":\"Whitefield, Bengaluru\"},"
          "{\"full_name\":\"Manjunath Stores\",\"phone_number\":\"+919845044444\","
          "\"state_code\":\"29\"}]",
          &ans) != 201 || !ans || ans->n != 4)
    return -1;
  n->customers = 4;
  const char *asha = str(ans->items[0], "id"), *ravi = str(ans->items[1], "id"),
             *kaveri = str(ans->items[2], "id"), *manju = str(ans->items[3], "id");

  /* Two lines each: product, quantity, and what else the line or invoice
   * carries. */
  struct {
    const char *customer, *p1, *q1, *p2, *q2, *extra;
  } invoices[] = {
      {asha, rice, "2", sugar, "5.5", ""},
      {ravi, paint, "1", rice, "2,\"discount\":50", ""},
      {kaveri, cement, "40", paint, "3", ",\"due_date\":\"2099-12-31\""},
      {manju, sugar, "10", gold, "1", ",\"draft\":true"},
  };
  char inv_ids[4][37];
  for (int i = 0; i < 4; i++) {
    char items[512];
    snprintf(items, sizeof items,
             "{\"product_id\":\"%s\",\"quantity\":%s},"
             "{\"product_id\":\"%s\",\"quantity\":%s}",
             invoices[i].p1, invoices[i].q1, invoices[i].p2, invoices[i].q2);
    snprintf(body, sizeof body, "{\"customer_id\":\"%s\",\"items\":[%s]%s}",
             invoices[i].customer, items, invoices[i].extra);
    if (run(c, a, 2, "POST", "create_invoice", body, &ans) != 200 || !ans)
      return -1;
    n->invoices++;
    snprintf(inv_ids[i], sizeof inv_ids[i], "%s", str(ans, "id"));
    if (c->out)
      fprintf(c->out, "  invoice %-16s %-18s total %s\n",
              str(ans, "invoice_number")[0] ? str(ans, "invoice_number")
                                            : "(draft)",
              str(ans, "status"), json_get(ans, "total_amount")->str);
  }
  /* A full payment, a part payment, and one cancelled invoice. */
  snprintf(body, sizeof body,
           "{\"customer_id\":\"%s\",\"amount_received\":500,\"payment_mode\":"
           "\"upi\",\"reference\":\"UPI-DEMO-1\"}",
           ravi);
  if (run(c, a, 2, "POST", "record_payment", body, &ans) != 200) return -1;
  snprintf(body, sizeof body,
           "{\"customer_id\":\"%s\",\"amount_received\":10000,\"payment_mode\":"
           "\"bank_transfer\",\"invoice_id\":\"%s\"}",
           kaveri, inv_ids[2]);
  if (run(c, a, 2, "POST", "record_payment", body, &ans) != 200) return -1;
  n->payments = 2;
  snprintf(body, sizeof body,
           "{\"invoice_id\":\"%s\",\"reason\":\"customer returned the goods\"}",
           inv_ids[0]);
  if (run(c, a, 2, "POST", "cancel_invoice", body, &ans) != 200) return -1;

  /* A WhatsApp conversation for the inbox (no channel is connected, so
   * it has none; the owner's replies would need one), */
  char now[TS_TEXT_LEN + 1];
  ts_format(time_now_us(), now);
  snprintf(body, sizeof body,
           "{\"customer_id\":\"%s\",\"channel\":\"whatsapp\",\"contact_id\":"
           "\"919820022222\",\"contact_name\":\"Ravi Deshmukh\","
           "\"unread_count\":1,\"last_message_at\":\"%s\"}",
           ravi, now);
  if (run(c, a, 1, "POST", "sessions", body, &ans) != 201 || !ans ||
      ans->n != 1)
    return -1;
  n->sessions = 1;
  const char *sid = str(ans->items[0], "id");
  snprintf(body, sizeof body,
           "[{\"session_id\":\"%s\",\"direction\":\"inbound\",\"sender\":"
           "\"customer\",\"status\":\"received\",\"content\":\"Namaste, how "
           "much do I owe?\"},"
           "{\"session_id\":\"%s\",\"direction\":\"outbound\",\"sender\":"
           "\"agent\",\"status\":\"read\",\"content\":\"Namaste Ravi ji! Your "
           "balance is \\u20b92,274.00.\"},"
           "{\"session_id\":\"%s\",\"direction\":\"inbound\",\"sender\":"
           "\"customer\",\"status\":\"received\",\"content\":\"I will pay by "
           "UPI tomorrow.\"}]",
           sid, sid, sid);
  if (run(c, a, 1, "POST", "unified_messages", body, &ans) != 201 || !ans ||
      ans->n != 3)
    return -1;
  n->messages = 3;
  /* and a workflow, switched off: it would message customers. */
  if (run(c, a, 1, "POST", "workflow_blueprints",
          "{\"name\":\"Thank the customer for a payment\",\"description\":"
          "\"When a payment comes in, thank the customer on WhatsApp with "
          "their balance.\",\"nodes\":["
          "{\"id\":\"t\",\"type\":\"trigger\",\"params\":{\"event\":"
          "\"payment.received\"}},"
          "{\"id\":\"c\",\"type\":\"condition\",\"params\":{\"if\":"
          "\"customer.total_debt > 0\"}},"
          "{\"id\":\"owe\",\"type\":\"send_message\",\"params\":{\"to\":"
          "\"customer\",\"text\":\"Thank you, {{customer.full_name}}! "
          "Balance due: {{customer.total_debt}}\"}},"
          "{\"id\":\"paid\",\"type\":\"send_message\",\"params\":{\"to\":"
          "\"customer\",\"text\":\"Thank you, {{customer.full_name}}! You "
          "are all paid up.\"}}],"
          "\"edges\":[{\"from\":\"t\",\"to\":\"c\"},"
          "{\"from\":\"c\",\"to\":\"owe\",\"when\":\"true\"},"
          "{\"from\":\"c\",\"to\":\"paid\",\"when\":\"false\"}]}",
          &ans) != 201)
    return -1;
  n->workflows = 1;
  return 0;
}

int demo_load(db *d, auth *au, FILE *out) {
  call c = {.au = au, .d = d, .out = out};
  buf_init(&c.fail_body, 0);
  arena *a = arena_new();
  json *ans;
  int rc = -1;
  int st = run(&c, a, 0, "POST", "signup",
               "{\"email\":\"" DEMO_EMAIL "\",\"password\":\"" DEMO_PASSWORD
               "\",\"data\":{\"business_name\":\"Sharma Kirana & Hardware\","
               "\"whatsapp_number\":\"+919820000001\"}}",
               &ans);
  if (st == 422) {
    fprintf(out, "The demo business is already loaded: sign in as %s / %s\n",
            DEMO_EMAIL, DEMO_PASSWORD);
    rc = 0;
    goto out;
  }
  if (st != 200 || !ans) goto out;
  const json *user = json_get(ans, "user");
  c.who.role = ROLE_AUTHENTICATED;
  snprintf(c.who.sub, sizeof c.who.sub, "%s", str(user, "id"));
  c.prefer = "return=representation";

  /* A GSTIN for Maharashtra (27) with a correct check character. */
  char gstin[16] = "27ABCDE1234F1Z";
  gstin[14] = gstin_check_char(gstin);
  gstin[15] = '\0';
  char body[512];
  snprintf(body, sizeof body,
           "{\"gst_number\":\"%s\",\"state_code\":\"27\",\"address\":\"12 "
           "Station Road, Pune 411001\",\"upi_id\":\"sharmakirana@upi\"}",
           gstin);
  char q[64];
  snprintf(q, sizeof q, "id=eq.%s", c.who.sub);
  if (run_q(&c, a, 1, "PATCH", "profiles", q, body, &ans) != 200) goto out;
  counts n = {0};
  if (books(&c, a, &n)) goto out;
  fprintf(out,
          "Loaded the demo business \"Sharma Kirana & Hardware\" (Pune, GSTIN %s):\n"
          "6 products, 4 customers in Maharashtra and Karnataka, 4 invoices\n"
          "(one draft, one cancelled), 2 payments, a WhatsApp conversation and\n"
          "a workflow (switched off).\n"
          "Sign in as %s with the password %s\n",
          gstin, DEMO_EMAIL, DEMO_PASSWORD);
  rc = 0;
out:
  buf_free(&c.fail_body);
  arena_free(a);
  return rc;
}

/* ---- rpc/load_sample_business ------------------------------------------------------ */

int demo_rpc_known(const char *op) {
  return op && !strcmp(op, "load_sample_business");
}

/* The first table of these that holds a row of the caller's, or NULL. */
static const char *first_nonempty(call *c, arena *a) {
  static const char *const tables[] = {"customers", "products", "invoices",
                                       "workflow_blueprints"};
  for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
    json *ans;
    if (run_q(c, a, 1, "GET", tables[i], "select=id&limit=1", NULL, &ans) !=
            200 ||
        !ans)
      return "";
    if (ans->type == JSON_ARRAY && ans->n > 0) return tables[i];
  }
  return NULL;
}

void demo_rpc(db *d, const char *op, api_req *req, api_resp *resp) {
  json *args;
  if (!demo_rpc_known(op)) {
    api_failf(resp, E_OP_UNKNOWN,
              "Could not find the function public.%.64s in the schema cache",
              op ? op : "");
    return;
  }
  if (api_op_args(req, resp, &args)) return;
  if (args->n > 0) {
    api_failf(resp, E_OP_INVALID, "load_sample_business takes no arguments (%.64s)",
              args->keys[0]);
    return;
  }
  call c = {.d = d, .out = NULL, .who = req->who};
  buf_init(&c.fail_body, 0);
  arena *a = arena_new();
  json *ans;
  const char *full = first_nonempty(&c, a);
  if (full && !*full) goto failed;
  if (full) {
    api_failf(resp, E_OP_CONFLICT,
              "the sample business loads only into an empty business, and "
              "this one has %s already",
              full);
    goto out;
  }
  char q[64];
  snprintf(q, sizeof q, "id=eq.%s&select=state_code", c.who.sub);
  if (run_q(&c, a, 1, "GET", "profiles", q, NULL, &ans) != 200 || !ans ||
      ans->type != JSON_ARRAY || ans->n != 1)
    goto failed;
  const json *sc = json_get(ans->items[0], "state_code");
  if (!sc || sc->type != JSON_STRING) {
    /* Invoices need the business's state; the sample's customers are in
     * Maharashtra and Karnataka, so it is set to the sample's, 27. */
    snprintf(q, sizeof q, "id=eq.%s", c.who.sub);
    if (run_q(&c, a, 1, "PATCH", "profiles", q, "{\"state_code\":\"27\"}",
              &ans) >= 300)
      goto failed;
  }
  c.prefer = "return=representation";
  counts n = {0};
  if (books(&c, a, &n)) goto failed;
  resp->status = 200;
  buf_reset(&resp->body);
  buf_printf(&resp->body,
             "{\"profile_id\":\"%s\",\"products\":%d,\"customers\":%d,"
             "\"invoices\":%d,\"payments\":%d,\"sessions\":%d,\"messages\":%d,"
             "\"workflows\":%d}",
             c.who.sub, n.products, n.customers, n.invoices, n.payments,
             n.sessions, n.messages, n.workflows);
  goto out;
failed:
  /* Pass on what the refused request answered (PostgREST's shape). */
  if (c.fail_status) {
    resp->status = c.fail_status;
    buf_reset(&resp->body);
    buf_append(&resp->body, c.fail_body.data ? c.fail_body.data : "",
               c.fail_body.len);
  } else {
    api_failf(resp, E_INTERNAL, "the sample business could not be loaded");
  }
out:
  buf_free(&c.fail_body);
  arena_free(a);
}

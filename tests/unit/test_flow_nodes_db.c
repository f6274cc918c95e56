/* test_flow_nodes_db.c - each workflow node run directly (node.h), on
 * SQLite and PostgreSQL (argv[1]).
 *
 * A step context is built by hand around a one-node blueprint, so a node
 * is tested without the engine: condition and switch take their branches,
 * wait answers waiting then done, for_each lists its items, send_message
 * queues exactly one chat_outbox row however often its step runs (and
 * needs a template outside the 24-hour window), create_invoice,
 * record_payment and adjust_stock act once under a repeated key,
 * update_record refuses fields it may not touch, http_request reaches a
 * local fake only through the allow-list and sends an unsafe call once,
 * the caps pause the workflow and tell the owner once, and a rehearsal
 * (dry_run) touches nothing. Tests of expressions skip while src/flow/
 * expr.c is the stub. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "base/arena.h"
#include "base/json.h"
#include "base/timeutil.h"
#include "fakes/fake_server.h"
#include "flow/effects.h"
#include "flow/node.h"

static db_err err;

#define OK(call)                                                    \
  do {                                                              \
    if ((call) != 0)                                                \
      fail_msg("%s failed: [%s] %s", #call, err.code, err.message); \
  } while (0)

static void exec1(db *d, const char *sql, const char *a1, const char *a2) {
  db_val v[] = {db_text(a1), db_text(a2)};
  int n = a2 ? 2 : a1 ? 1 : 0;
  if (db_query(d, sql, v, n, NULL, &err)) fail_msg("%s: %s", sql, err.message);
}

/* The expression tests need the real evaluator (flow-expr). */
static void need_expr(void) {
  arena *a = arena_new();
  expr_env e = {0};
  expr_val v;
  char msg[64];
  int rc = expr_eval(a, "1 == 1", 6, &e, &v, msg, sizeof msg);
  arena_free(a);
  if (rc) skip();
}

/* ---- a step around one node -------------------------------------------- */

typedef struct step {
  arena *a;
  blueprint bp;
  bp_node node;
  flow_env env;
  flow_step_ctx c;
  flow_step_result r;
  int rc;
} step;

static json *parse(arena *a, const char *text) {
  json *j = NULL;
  json_error je;
  if (!text) return NULL;
  if (json_parse(a, text, strlen(text), &j, &je))
    fail_msg("bad JSON in the test: %s: %s", je.message, text);
  return j;
}

typedef struct step_args {
  const char *bp_id;   /* NULL: a fixed one */
  const char *run_id;  /* NULL: a fixed one */
  const char *trigger; /* JSON object text; NULL {} */
  const char *item;
  const char *key;     /* effect key; NULL "wf:test" */
  int dry_run;
  int64_t now, wake_at;
} step_args;

static const char *BP = "0190aaaa-0000-7000-8000-000000000001";
static const char *RUN = "0190aaaa-0000-7000-8000-0000000000aa";

/* Runs node `type` with params once; the result stays in s (free with
 * step_free). */
static void step_run(step *s, test_fixture *f, const char *type,
                     const char *params, const step_args *sa) {
  memset(s, 0, sizeof *s);
  s->a = arena_new();
  s->node.id = "n";
  s->node.type = type;
  s->node.params = parse(s->a, params);
  s->node.nt = flow_node_find(type);
  assert_non_null(s->node.nt);
  s->bp.name = "test flow";
  s->bp.nodes = &s->node;
  s->bp.nnodes = 1;
  int64_t now = sa && sa->now ? sa->now : time_now_us();
  json *trig = parse(s->a, sa && sa->trigger ? sa->trigger : "{}");
  json *item = sa && sa->item ? parse(s->a, sa->item) : NULL;
  flow_env_init(&s->env, f->d, s->a, f->profile, trig, NULL, item, now);
  s->c = (flow_step_ctx){.d = f->d, .a = s->a, .profile_id = f->profile,
                         .blueprint_id = sa && sa->bp_id ? sa->bp_id : BP,
                         .run_id = sa && sa->run_id ? sa->run_id : RUN,
                         .version = 1, .bp = &s->bp, .node = 0, .scope = "",
                         .attempt = 1, .now_us = now,
                         .wake_at = sa ? sa->wake_at : 0, .env = &s->env,
                         .dry_run = sa ? sa->dry_run : 0,
                         .effect_key = sa && sa->key ? sa->key : "wf:test"};
  flow_step_result_init(&s->r);
  s->r.outcome = (node_outcome)-1;
  s->rc = s->node.nt->run(&s->c, &s->r, &err);
  if (s->rc) fail_msg("%s run: [%s] %s", type, err.code, err.message);
}

static void step_free(step *s) {
  flow_step_result_free(&s->r);
  arena_free(s->a);
}

static const char *out_str(step *s, const char *key) {
  json *o = parse(s->a, buf_cstr(&s->r.output));
  const json *v = json_get(o, key);
  return v && v->type == JSON_STRING ? v->str : NULL;
}

static int validate(const char *type, const char *params, bp_error *e) {
  arena *a = arena_new();
  memset(e, 0, sizeof *e);
  json *p = parse(a, params);
  int rc = flow_node_find(type)->validate(a, p, e);
  arena_free(a);
  return rc;
}

/* ---- the business ------------------------------------------------------ */

static void add_customer(test_fixture *f, const char *name, const char *phone,
                         char id[37]) {
  uuid_v7(id);
  db_val v[] = {db_uuid(f->profile), db_uuid(id), db_text(name),
                phone ? db_text(phone) : db_null()};
  OK(db_query(f->d,
              "INSERT INTO customers (profile_id, id, full_name, phone_number) "
              "VALUES ($1, $2, $3, $4)",
              v, 4, NULL, &err));
}

static void add_whatsapp(test_fixture *f, char id[37]) {
  uuid_v7(id);
  db_val v[] = {db_uuid(f->profile), db_uuid(id)};
  OK(db_query(f->d,
              "INSERT INTO channels (profile_id, id, platform, name, "
              "phone_number_id, access_token, app_secret, verify_token) "
              "VALUES ($1, $2, 'whatsapp', 'shop', '1234567890', 'EAAtoken', "
              "'appsecret', 'verify')",
              v, 2, NULL, &err));
}

/* A conversation of the customer on the channel whose last message from
 * them was at `at` (0: never). */
static void add_session(test_fixture *f, const char *channel,
                        const char *customer, const char *contact,
                        int64_t at) {
  char id[37];
  uuid_v7(id);
  db_val v[] = {db_uuid(f->profile), db_uuid(id), db_uuid(channel),
                db_uuid(customer), db_text(contact),
                at ? db_ts(at) : db_null()};
  OK(db_query(f->d,
              "INSERT INTO sessions (profile_id, id, channel_id, customer_id, "
              "channel, contact_id, last_inbound_at) VALUES ($1, $2, $3, $4, "
              "'whatsapp', $5, $6)",
              v, 6, NULL, &err));
}

static void add_blueprint(test_fixture *f, const char *id, int max_msgs,
                          int64_t max_paise) {
  db_val v[] = {db_uuid(f->profile), db_uuid(id), db_int(max_msgs),
                db_money(max_paise)};
  OK(db_query(f->d,
              "INSERT INTO workflow_blueprints (profile_id, id, name, "
              "is_active, max_messages_per_hour, max_money_per_day) VALUES "
              "($1, $2, 'Caps test', true, $3, $4)",
              v, 4, NULL, &err));
}

static int64_t count(test_fixture *f, const char *sql) {
  return test_count(f->d, sql, NULL);
}

/* ---- condition, switch, set, stop --------------------------------------- */

static void test_condition_switch(void **state) {
  test_fixture *f = *state;
  need_expr();
  step s;
  step_args sa = {.trigger = "{\"amount\": 150.50, \"kind\": \"b\"}"};
  step_run(&s, f, "condition", "{\"if\": \"trigger.amount > 100\"}", &sa);
  assert_int_equal(s.r.outcome, NODE_DONE);
  assert_string_equal(s.r.branch, "true");
  step_free(&s);
  sa.trigger = "{\"amount\": 50}";
  step_run(&s, f, "condition", "{\"if\": \"trigger.amount > 100\"}", &sa);
  assert_string_equal(s.r.branch, "false");
  step_free(&s);
  step_run(&s, f, "condition", "{\"if\": \"trigger.amount > 'x' + \"}", &sa);
  assert_int_equal(s.r.outcome, NODE_FAILED);
  step_free(&s);

  sa.trigger = "{\"kind\": \"b\", \"n\": 10}";
  step_run(&s, f, "switch",
           "{\"on\": \"trigger.kind\", \"cases\": {\"first\": \"a\", "
           "\"second\": \"b\"}}",
           &sa);
  assert_int_equal(s.r.outcome, NODE_DONE);
  assert_string_equal(s.r.branch, "second");
  step_free(&s);
  step_run(&s, f, "switch",
           "{\"on\": \"trigger.n\", \"cases\": {\"ten\": 10.00, \"two\": 2}}",
           &sa);
  assert_string_equal(s.r.branch, "ten");
  step_free(&s);
  step_run(&s, f, "switch",
           "{\"on\": \"trigger.kind\", \"cases\": {\"first\": \"a\"}}", &sa);
  assert_string_equal(s.r.branch, "default");
  step_free(&s);
  /* cases as a list of labels (the Architect's form) */
  step_run(&s, f, "switch", "{\"on\": \"trigger.kind\", \"cases\": [\"a\", "
                            "\"b\"]}", &sa);
  assert_string_equal(s.r.branch, "b");
  step_free(&s);
  step_run(&s, f, "switch", "{\"on\": \"trigger.n\", \"cases\": [{\"value\": "
                            "10, \"label\": \"ten\"}]}", &sa);
  assert_string_equal(s.r.branch, "ten");
  step_free(&s);

  step_run(&s, f, "set", "{\"values\": {\"big\": \"trigger.n * 2\"}}", &sa);
  assert_int_equal(s.r.outcome, NODE_DONE);
  assert_non_null(strstr(buf_cstr(&s.r.output), "\"big\":20"));
  step_free(&s);
  /* {name: expression} as the params themselves */
  step_run(&s, f, "set", "{\"half\": \"trigger.n / 2\"}", &sa);
  assert_int_equal(s.r.outcome, NODE_DONE);
  assert_non_null(strstr(buf_cstr(&s.r.output), "\"half\":5"));
  step_free(&s);
}

static void test_validate(void **state) {
  (void)state;
  bp_error e;
  assert_int_equal(validate("condition", "{}", &e), -1);
  assert_string_equal(e.param, "if");
  assert_int_equal(validate("switch", "{\"on\": \"x\", \"cases\": "
                                      "{\"default\": 1}}", &e), -1);
  assert_string_equal(e.param, "cases");
  assert_int_equal(validate("wait", "{\"for\": \"3d\", \"until\": \"x\"}", &e), -1);
  assert_int_equal(validate("for_each", "{\"over\": \"everyone\"}", &e), -1);
  assert_string_equal(e.param, "over");
  assert_int_equal(validate("for_each", "{\"over\": \"debtors\"}", &e), 0);
  assert_int_equal(validate("send_message", "{\"to\": \"nobody\", \"text\": "
                                            "\"hi\"}", &e), -1);
  assert_string_equal(e.param, "to");
  assert_int_equal(validate("send_message", "{\"to\": \"+919812345678\", "
                                            "\"text\": \"hi\"}", &e), 0);
  assert_int_equal(validate("send_message", "{\"to\": \"owner\"}", &e), -1);
  assert_string_equal(e.param, "text");
  /* update_record: a fixed allow-list of customer fields */
  assert_int_equal(validate("update_record", "{\"fields\": {\"total_debt\": "
                                             "\"0\"}}", &e), -1);
  assert_string_equal(e.param, "fields");
  assert_non_null(strstr(e.message, "total_debt"));
  assert_int_equal(validate("update_record", "{\"fields\": {\"notes\": "
                                             "\"vip\"}}", &e), 0);
  assert_int_equal(validate("http_request", "{\"url\": \"ftp://x/\"}", &e), -1);
  assert_string_equal(e.param, "url");
  assert_int_equal(validate("http_request", "{\"url\": \"https://x/\", "
                                            "\"method\": \"TRACE\"}", &e), -1);
  assert_string_equal(e.param, "method");
  assert_int_equal(validate("http_request", "{\"url\": \"https://x/\", "
                                            "\"timeout_ms\": 999999}", &e), -1);
  assert_int_equal(validate("create_invoice", "{\"customer_id\": \"x\"}", &e), -1);
  assert_string_equal(e.param, "items");
  assert_int_equal(validate("record_payment", "{\"amount_received\": 10, "
                                              "\"payment_mode\": \"cash\", "
                                              "\"bogus\": 1}", &e), -1);
  assert_string_equal(e.param, "bogus");
  assert_int_equal(validate("set", "{\"values\": {\"customer\": \"1\"}}", &e), -1);
  assert_int_equal(validate("set", "{\"values\": 3}", &e), -1);
  assert_int_equal(validate("set", "{}", &e), 0);
  assert_int_equal(validate("switch", "{\"on\": \"x\", \"cases\": [\"a\", "
                                      "[1]]}", &e), -1);
  assert_int_equal(validate("switch", "{\"on\": \"x\", \"cases\": [\"a\", "
                                      "2]}", &e), 0);
  assert_int_equal(validate("stop", "{\"error\": \"no\"}", &e), 0);
  assert_int_equal(validate("trigger", "{\"event\": \"invoice.eaten\"}", &e), -1);
  assert_string_equal(e.param, "event");
  assert_int_equal(validate("trigger", "{\"manual\": true}", &e), 0);
  assert_int_equal(validate("trigger", "{\"manual\": true, \"webhook\": true}", &e), -1);
}

static void test_trigger_stop(void **state) {
  test_fixture *f = *state;
  step s;
  step_args sa = {.trigger = "{\"event_type\":\"invoice.issued\",\"x\":1}"};
  step_run(&s, f, "trigger", "{\"event\": \"invoice.issued\"}", &sa);
  assert_int_equal(s.r.outcome, NODE_DONE);
  assert_string_equal(buf_cstr(&s.r.output),
                      "{\"event_type\":\"invoice.issued\",\"x\":1}");
  step_free(&s);
  step_run(&s, f, "stop", "{}", &sa);
  assert_int_equal(s.r.outcome, NODE_STOP);
  assert_string_equal(s.r.error, "");
  step_free(&s);
  step_run(&s, f, "stop", "{\"error\": \"not for this customer\"}", &sa);
  assert_int_equal(s.r.outcome, NODE_STOP);
  assert_string_equal(s.r.error, "not for this customer");
  step_free(&s);
}

/* ---- wait --------------------------------------------------------------- */

static void test_wait(void **state) {
  test_fixture *f = *state;
  need_expr();
  int64_t now = time_now_us();
  step s;
  step_args sa = {.now = now};
  step_run(&s, f, "wait", "{\"for\": \"3d\"}", &sa);
  assert_int_equal(s.r.outcome, NODE_WAITING);
  assert_true(s.r.wake_at == now + 3 * US_PER_DAY);
  int64_t at = s.r.wake_at;
  step_free(&s);
  /* woken early (a restart): still waiting, for the same time */
  sa.wake_at = at;
  sa.now = now + US_PER_DAY;
  step_run(&s, f, "wait", "{\"for\": \"3d\"}", &sa);
  assert_int_equal(s.r.outcome, NODE_WAITING);
  assert_true(s.r.wake_at == at);
  step_free(&s);
  sa.now = at;
  step_run(&s, f, "wait", "{\"for\": \"3d\"}", &sa);
  assert_int_equal(s.r.outcome, NODE_DONE);
  step_free(&s);
  /* until a time already past: done at once */
  sa = (step_args){.now = now,
                   .trigger = "{\"due\": \"2020-01-01T00:00:00+00:00\"}"};
  step_run(&s, f, "wait", "{\"until\": \"trigger.due\"}", &sa);
  assert_int_equal(s.r.outcome, NODE_DONE);
  step_free(&s);
}

/* ---- for_each ----------------------------------------------------------- */

static void test_for_each(void **state) {
  test_fixture *f = *state;
  char a[37], b[37], c[37];
  add_customer(f, "Asha", "+919800000001", a);
  add_customer(f, "Bala", "+919800000002", b);
  add_customer(f, "Chitra", NULL, c);
  db_val d1[] = {db_money(150000), db_uuid(a)}, d2[] = {db_money(25000), db_uuid(b)};
  OK(db_query(f->d, "UPDATE customers SET total_debt = $1 WHERE id = $2", d1,
              2, NULL, &err));
  OK(db_query(f->d, "UPDATE customers SET total_debt = $1 WHERE id = $2", d2,
              2, NULL, &err));
  step s;
  step_run(&s, f, "for_each", "{\"over\": \"debtors\"}", NULL);
  assert_int_equal(s.r.outcome, NODE_DONE);
  json *items = parse(s.a, buf_cstr(&s.r.items));
  assert_int_equal(items->type, JSON_ARRAY);
  assert_int_equal(items->n, 2);
  assert_string_equal(json_get(items->items[0], "customer_id")->str, a);
  assert_string_equal(json_get(items->items[1], "full_name")->str, "Bala");
  assert_non_null(strstr(buf_cstr(&s.r.output), "\"count\":2"));
  step_free(&s);
  step_run(&s, f, "for_each", "{\"over\": \"customers\", \"limit\": 2}", NULL);
  items = parse(s.a, buf_cstr(&s.r.items));
  assert_int_equal(items->n, 2);
  assert_non_null(strstr(buf_cstr(&s.r.output), "\"truncated\":true"));
  step_free(&s);
  step_run(&s, f, "for_each", "{\"over\": \"low_stock_products\"}", NULL);
  assert_string_equal(buf_cstr(&s.r.items), "[]");
  step_free(&s);
}

/* ---- send_message ------------------------------------------------------- */

static void test_send_message_once(void **state) {
  test_fixture *f = *state;
  char ch[37], cust[37];
  add_whatsapp(f, ch);
  add_customer(f, "Ramesh", "+919876543210", cust);
  add_session(f, ch, cust, "919876543210", time_now_us() - 3600LL * 1000000);
  char trig[128];
  snprintf(trig, sizeof trig,
           "{\"entity_type\": \"customer\", \"entity_id\": \"%s\"}", cust);
  step_args sa = {.trigger = trig, .key = "wf:run1:s:"};
  const char *params = "{\"to\": \"customer\", \"text\": \"Namaste, thank you\"}";
  step s;
  step_run(&s, f, "send_message", params, &sa);
  assert_int_equal(s.r.outcome, NODE_DONE);
  char mid[37];
  snprintf(mid, sizeof mid, "%s", out_str(&s, "message_id"));
  assert_string_equal(out_str(&s, "to"), "+919876543210");
  assert_string_equal(out_str(&s, "type"), "text");
  assert_non_null(strstr(buf_cstr(&s.r.input), "Namaste, thank you"));
  step_free(&s);
  /* the same step again (a crash after the commit, a retry) */
  step_run(&s, f, "send_message", params, &sa);
  assert_int_equal(s.r.outcome, NODE_DONE);
  assert_string_equal(out_str(&s, "message_id"), mid);
  step_free(&s);
  assert_int_equal(count(f, "SELECT count(*) FROM chat_outbox"), 1);
  assert_int_equal(count(f, "SELECT count(*) FROM unified_messages WHERE "
                            "sender = 'workflow' AND content = 'Namaste, "
                            "thank you'"), 1);
  assert_int_equal(count(f, "SELECT count(*) FROM workflow_effects WHERE "
                            "kind = 'message'"), 1);
  /* another step (key) sends another message */
  sa.key = "wf:run2:s:";
  step_run(&s, f, "send_message", params, &sa);
  assert_int_equal(s.r.outcome, NODE_DONE);
  step_free(&s);
  assert_int_equal(count(f, "SELECT count(*) FROM chat_outbox"), 2);
}

static void test_send_window_owner(void **state) {
  test_fixture *f = *state;
  char ch[37], cust[37];
  add_whatsapp(f, ch);
  /* wrote two days ago: the window is closed */
  add_customer(f, "Sita", "+919811111111", cust);
  add_session(f, ch, cust, "919811111111", time_now_us() - 2 * US_PER_DAY);
  char trig[128];
  snprintf(trig, sizeof trig, "{\"customer_id\": \"%s\"}", cust);
  step_args sa = {.trigger = trig, .key = "wf:w1"};
  step s;
  step_run(&s, f, "send_message", "{\"to\": \"customer\", \"text\": \"Due\"}",
           &sa);
  assert_int_equal(s.r.outcome, NODE_FAILED);
  assert_non_null(strstr(s.r.error, "window_closed"));
  step_free(&s);
  assert_int_equal(count(f, "SELECT count(*) FROM chat_outbox"), 0);
  assert_int_equal(count(f, "SELECT count(*) FROM workflow_effects"), 0);

  sa.key = "wf:w2";
  step_run(&s, f, "send_message",
           "{\"to\": \"customer\", \"text\": \"Due\", \"template\": {\"name\": "
           "\"payment_due\", \"language\": \"en\", \"params\": [\"Sita\"]}}",
           &sa);
  assert_int_equal(s.r.outcome, NODE_DONE);
  assert_string_equal(out_str(&s, "type"), "template");
  step_free(&s);
  assert_int_equal(count(f, "SELECT count(*) FROM unified_messages WHERE "
                            "message_type = 'template'"), 1);

  /* to the owner: profiles.owner_phone, on the first WhatsApp channel */
  sa.key = "wf:o1";
  step_run(&s, f, "send_message", "{\"to\": \"owner\", \"text\": \"Hi\"}", &sa);
  assert_int_equal(s.r.outcome, NODE_FAILED);
  assert_non_null(strstr(s.r.error, "owner_phone"));
  step_free(&s);
  exec1(f->d, "UPDATE profiles SET owner_phone = '+919822222222' WHERE id = $1",
        f->profile, NULL);
  /* a first message to a new contact is outside the window too */
  step_run(&s, f, "send_message",
           "{\"to\": \"owner\", \"text\": \"Hi\", \"template\": {\"name\": "
           "\"note\"}}",
           &sa);
  assert_int_equal(s.r.outcome, NODE_DONE);
  assert_string_equal(out_str(&s, "to"), "+919822222222");
  step_free(&s);
  assert_int_equal(count(f, "SELECT count(*) FROM sessions WHERE contact_id = "
                            "'919822222222'"), 1);
  /* a phone number that is not one */
  sa.key = "wf:p1";
  step_run(&s, f, "send_message", "{\"to\": \"{{ trigger.customer_id }}\", "
                                  "\"text\": \"x\"}", &sa);
  assert_int_equal(s.r.outcome, NODE_FAILED);
  step_free(&s);
}

/* ---- the books ---------------------------------------------------------- */

static void test_books_once(void **state) {
  test_fixture *f = *state;
  char cust[37], prod[37];
  exec1(f->d, "UPDATE profiles SET state_code = '27' WHERE id = $1", f->profile,
        NULL);
  add_customer(f, "Ramesh", "+919876543210", cust);
  uuid_v7(prod);
  db_val v[] = {db_uuid(f->profile), db_uuid(prod), db_money(10000),
                db_dec(50000, 3), db_dec(1800, 2)};
  OK(db_query(f->d,
              "INSERT INTO products (profile_id, id, name, base_price, "
              "current_stock, gst_rate) VALUES ($1, $2, 'Tea', $3, $4, $5)",
              v, 5, NULL, &err));
  char trig[128], params[256];
  snprintf(trig, sizeof trig, "{\"customer_id\": \"%s\"}", cust);
  snprintf(params, sizeof params,
           "{\"items\": [{\"product_id\": \"%s\", \"quantity\": 2}]}", prod);
  step_args sa = {.trigger = trig, .key = "wf:books:inv:"};
  step s;
  char inv[37];
  for (int i = 0; i < 2; i++) {
    step_run(&s, f, "create_invoice", params, &sa);
    if (s.r.outcome != NODE_DONE) fail_msg("create_invoice: %s", s.r.error);
    if (i == 0) snprintf(inv, sizeof inv, "%s", out_str(&s, "id"));
    else assert_string_equal(out_str(&s, "id"), inv);
    step_free(&s);
  }
  assert_int_equal(count(f, "SELECT count(*) FROM invoices"), 1);
  /* 2 x 100 + 18% GST = 236.00, counted for the money cap */
  {
    db_res *ar = NULL;
    OK(db_query(f->d, "SELECT amount FROM workflow_effects WHERE kind = "
                      "'invoice'", NULL, 0, &ar, &err));
    assert_int_equal(db_res_rows(ar), 1);
    assert_true(db_res_dec(ar, 0, 0, 2) == 23600);
    db_res_free(ar);
  }

  sa.key = "wf:books:pay:";
  for (int i = 0; i < 2; i++) {
    step_run(&s, f, "record_payment",
             "{\"amount_received\": \"100.50\", \"payment_mode\": \"upi\"}", &sa);
    if (s.r.outcome != NODE_DONE) fail_msg("record_payment: %s", s.r.error);
    step_free(&s);
  }
  assert_int_equal(count(f, "SELECT count(*) FROM payments"), 1);

  char ptrig[128];
  snprintf(ptrig, sizeof ptrig, "{\"entity_type\": \"product\", "
                                "\"entity_id\": \"%s\"}", prod);
  sa = (step_args){.trigger = ptrig, .key = "wf:books:stock:"};
  for (int i = 0; i < 2; i++) {
    step_run(&s, f, "adjust_stock", "{\"delta\": -5, \"reason\": \"damaged\"}",
             &sa);
    if (s.r.outcome != NODE_DONE) fail_msg("adjust_stock: %s", s.r.error);
    step_free(&s);
  }
  /* 50 - 2 (the invoice) - 5, once */
  db_val pv[] = {db_uuid(prod)};
  db_res *r = NULL;
  OK(db_query(f->d, "SELECT current_stock FROM products WHERE id = $1", pv, 1,
              &r, &err));
  assert_true(db_res_dec(r, 0, 0, 3) == 43000);
  db_res_free(r);

  /* the books refuse: a permanent failure, nothing recorded */
  sa.key = "wf:books:bad:";
  step_run(&s, f, "adjust_stock", "{\"delta\": -500}", &sa);
  assert_int_equal(s.r.outcome, NODE_FAILED);
  step_free(&s);
  assert_int_equal(count(f, "SELECT count(*) FROM workflow_effects WHERE key "
                            "= 'wf:books:bad:'"), 0);
}

static void test_update_record(void **state) {
  test_fixture *f = *state;
  char cust[37], other[37];
  add_customer(f, "Ramesh", "+919876543210", cust);
  add_customer(f, "Other", "+919800000009", other);
  char trig[128];
  snprintf(trig, sizeof trig, "{\"customer_id\": \"%s\"}", cust);
  step_args sa = {.trigger = trig, .key = "wf:upd:1"};
  step s;
  step_run(&s, f, "update_record",
           "{\"fields\": {\"notes\": \"prefers UPI\", \"phone_number\": "
           "\"098765 43211\"}}",
           &sa);
  if (s.r.outcome != NODE_DONE) fail_msg("update_record: %s", s.r.error);
  step_free(&s);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM customers WHERE "
                                    "notes = 'prefers UPI' AND phone_number "
                                    "= '+919876543211' AND id = $1", cust), 1);
  /* a bad phone, refused as REST refuses it; nothing changed */
  sa.key = "wf:upd:2";
  step_run(&s, f, "update_record", "{\"fields\": {\"phone_number\": \"12\"}}",
           &sa);
  assert_int_equal(s.r.outcome, NODE_FAILED);
  step_free(&s);
  /* another customer's phone: the unique constraint, a clear failure */
  sa.key = "wf:upd:3";
  step_run(&s, f, "update_record",
           "{\"fields\": {\"phone_number\": \"+919800000009\"}}", &sa);
  assert_int_equal(s.r.outcome, NODE_FAILED);
  step_free(&s);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM customers WHERE "
                                    "phone_number = '+919876543211' AND id = "
                                    "$1", cust), 1);
}

/* ---- http_request ------------------------------------------------------- */

static void test_http(void **state) {
  test_fixture *f = *state;
  unsetenv("http_proxy");
  unsetenv("https_proxy");
  unsetenv("HTTPS_PROXY");
  unsetenv("all_proxy");
  unsetenv("ALL_PROXY");
  fake_server *fs = fake_server_start();
  assert_non_null(fs);
  char allow[64], params[512];
  snprintf(allow, sizeof allow, "127.0.0.1:%d", fake_server_port(fs));
  snprintf(params, sizeof params,
           "{\"method\": \"POST\", \"url\": \"%s/hook\", \"headers\": "
           "{\"Authorization\": \"Bearer s3cret\"}, \"body\": {\"n\": "
           "\"{{ trigger.n }}\", \"label\": \"x\"}}",
           fake_server_url(fs));
  step_args sa = {.trigger = "{\"n\": 7}", .key = "wf:http:1"};
  step s;

  /* Without the allow-list the loopback fake is out of reach. */
  unsetenv("MUNSHI_HTTP_ALLOW_HOSTS");
  char plain[256];
  snprintf(plain, sizeof plain, "{\"method\": \"POST\", \"url\": \"%s/hook\"}",
           fake_server_url(fs));
  step_run(&s, f, "http_request", plain, &sa);
  assert_int_equal(s.r.outcome, NODE_FAILED);
  assert_non_null(strstr(s.r.error, "not allowed"));
  step_free(&s);
  step_run(&s, f, "http_request",
           "{\"url\": \"http://169.254.169.254/latest/meta-data/\"}", &sa);
  assert_int_equal(s.r.outcome, NODE_FAILED);
  assert_non_null(strstr(s.r.error, "not allowed"));
  step_free(&s);
  assert_int_equal(fake_server_count(fs), 0);

  setenv("MUNSHI_HTTP_ALLOW_HOSTS", allow, 1);
  int expr_real = 0;
  {
    arena *a = arena_new();
    expr_env e = {0};
    expr_val v;
    char m[64];
    expr_real = expr_eval(a, "1", 1, &e, &v, m, sizeof m) == 0;
    arena_free(a);
  }
  fake_server_enqueue_simple(fs, 201, "application/json", "{\"ok\":true}");
  for (int i = 0; i < 2; i++) {
    step_run(&s, f, "http_request", params, &sa);
    if (!expr_real) {
      step_free(&s);
      break;
    }
    if (s.r.outcome != NODE_DONE) fail_msg("http_request: %s", s.r.error);
    /* the second answer is the stored one (jsonb may respace it) */
    json *o = parse(s.a, buf_cstr(&s.r.output));
    int64_t st = 0;
    assert_int_equal(json_int64(json_get(o, "status"), &st), 0);
    assert_int_equal(st, 201);
    assert_int_equal(json_get(json_get(o, "body"), "ok")->type, JSON_TRUE);
    /* the credential is not in the step's input */
    assert_null(strstr(buf_cstr(&s.r.input), "s3cret"));
    step_free(&s);
  }
  if (expr_real) {
    /* POST is unsafe: sent once under its key */
    assert_int_equal(fake_server_count(fs), 1);
    const fake_request *rq = fake_server_request(fs, 0);
    assert_string_equal(rq->method, "POST");
    assert_string_equal(rq->body, "{\"n\":7,\"label\":\"x\"}");
    assert_string_equal(fake_request_header(rq, "Authorization"),
                        "Bearer s3cret");
  }
  /* GET is safe: sent each time */
  fake_server_reset(fs);
  char get[256];
  snprintf(get, sizeof get, "{\"url\": \"%s/status\"}", fake_server_url(fs));
  sa.key = "wf:http:2";
  for (int i = 0; i < 2; i++) {
    fake_server_enqueue_simple(fs, 200, "text/plain", "up");
    step_run(&s, f, "http_request", get, &sa);
    assert_int_equal(s.r.outcome, NODE_DONE);
    assert_non_null(strstr(buf_cstr(&s.r.output), "\"body\":\"up\""));
    step_free(&s);
  }
  assert_int_equal(fake_server_count(fs), 2);
  /* a 503 on a GET: try again later */
  fake_server_enqueue_simple(fs, 503, "text/plain", "busy");
  step_run(&s, f, "http_request", get, &sa);
  assert_int_equal(s.r.outcome, NODE_RETRY);
  step_free(&s);
  /* a response over the cap */
  char big[256];
  snprintf(big, sizeof big, "{\"url\": \"%s/big\", \"max_response\": 10}",
           fake_server_url(fs));
  fake_server_enqueue_simple(fs, 200, "text/plain", "0123456789abcdef");
  step_run(&s, f, "http_request", big, &sa);
  assert_int_equal(s.r.outcome, NODE_FAILED);
  step_free(&s);
  unsetenv("MUNSHI_HTTP_ALLOW_HOSTS");
  fake_server_stop(fs);
}

/* ---- caps --------------------------------------------------------------- */

static void test_caps(void **state) {
  test_fixture *f = *state;
  const char *bp = "0190aaaa-0000-7000-8000-0000000000c1";
  add_blueprint(f, bp, 2, 10000);
  char ch[37];
  add_whatsapp(f, ch);
  exec1(f->d, "UPDATE profiles SET owner_phone = '+919822222222' WHERE id = $1",
        f->profile, NULL);
  step s;
  step_args sa = {.bp_id = bp};
  const char *params = "{\"to\": \"+919833333333\", \"text\": \"Hello\", "
                       "\"template\": {\"name\": \"hello\"}}";
  const char *keys[] = {"wf:c:1", "wf:c:2", "wf:c:3", "wf:c:4"};
  for (int i = 0; i < 4; i++) {
    sa.key = keys[i];
    step_run(&s, f, "send_message", params, &sa);
    if (i < 2) {
      assert_int_equal(s.r.outcome, NODE_DONE);
    } else {
      assert_int_equal(s.r.outcome, NODE_PAUSED);
      assert_non_null(strstr(s.r.error, "2 messages per hour"));
    }
    step_free(&s);
  }
  /* a step that sent before the pause still answers what it sent */
  sa.key = keys[0];
  step_run(&s, f, "send_message", params, &sa);
  assert_int_equal(s.r.outcome, NODE_DONE);
  step_free(&s);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM workflow_blueprints "
                                    "WHERE id = $1 AND NOT is_active AND "
                                    "paused_at IS NOT NULL AND paused_reason "
                                    "LIKE '%messages per hour%'", bp), 1);
  /* the owner is told once, however often the cap is hit */
  assert_int_equal(count(f, "SELECT count(*) FROM unified_messages m JOIN "
                            "sessions s ON s.id = m.session_id WHERE "
                            "s.contact_id = '919822222222' AND m.content LIKE "
                            "'%was paused%'"), 1);
  assert_int_equal(count(f, "SELECT count(*) FROM unified_messages WHERE "
                            "content = 'Hello'"), 2);

  /* money: a payment that would pass the day's cap is not made */
  const char *bp2 = "0190aaaa-0000-7000-8000-0000000000c2";
  add_blueprint(f, bp2, 10, 10000);
  char cust[37];
  add_customer(f, "Payer", NULL, cust);
  char trig[128];
  snprintf(trig, sizeof trig, "{\"customer_id\": \"%s\"}", cust);
  sa = (step_args){.bp_id = bp2, .trigger = trig, .key = "wf:m:1"};
  step_run(&s, f, "record_payment",
           "{\"amount_received\": 60, \"payment_mode\": \"cash\"}", &sa);
  assert_int_equal(s.r.outcome, NODE_DONE);
  step_free(&s);
  sa.key = "wf:m:2";
  step_run(&s, f, "record_payment",
           "{\"amount_received\": 50, \"payment_mode\": \"cash\"}", &sa);
  assert_int_equal(s.r.outcome, NODE_PAUSED);
  step_free(&s);
  assert_int_equal(count(f, "SELECT count(*) FROM payments"), 1);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM workflow_blueprints "
                                    "WHERE id = $1 AND NOT is_active", bp2), 1);
  /* a day later the day's money is free again (the workflow stays paused
   * until the owner turns it on; the cap itself counts 24 hours) */
  exec1(f->d, "UPDATE workflow_blueprints SET is_active = true, paused_at = "
              "NULL WHERE id = $1", bp2, NULL);
  sa.now = time_now_us() + US_PER_DAY + 60LL * 1000000;
  sa.key = "wf:m:3";
  step_run(&s, f, "record_payment",
           "{\"amount_received\": 50, \"payment_mode\": \"cash\"}", &sa);
  assert_int_equal(s.r.outcome, NODE_DONE);
  step_free(&s);
}

/* ---- rehearsal ---------------------------------------------------------- */

static void test_dry_run(void **state) {
  test_fixture *f = *state;
  char ch[37], cust[37], prod[37];
  add_whatsapp(f, ch);
  add_customer(f, "Ramesh", "+919876543210", cust);
  uuid_v7(prod);
  db_val v[] = {db_uuid(f->profile), db_uuid(prod)};
  OK(db_query(f->d,
              "INSERT INTO products (profile_id, id, name) VALUES ($1, $2, "
              "'Tea')",
              v, 2, NULL, &err));
  fake_server *fs = fake_server_start();
  assert_non_null(fs);
  char allow[64];
  snprintf(allow, sizeof allow, "127.0.0.1:%d", fake_server_port(fs));
  setenv("MUNSHI_HTTP_ALLOW_HOSTS", allow, 1);
  char trig[128], params[256];
  snprintf(trig, sizeof trig, "{\"customer_id\": \"%s\", \"product_id\": \"%s\"}",
           cust, prod);
  step_args sa = {.trigger = trig, .key = "wf:dry", .dry_run = 1};
  step s;
  step_run(&s, f, "send_message", "{\"to\": \"customer\", \"text\": \"Hi\"}", &sa);
  assert_int_equal(s.r.outcome, NODE_DONE);
  assert_string_equal(out_str(&s, "would"), "send");
  assert_string_equal(out_str(&s, "to"), "+919876543210");
  step_free(&s);
  snprintf(params, sizeof params,
           "{\"items\": [{\"product_id\": \"%s\", \"quantity\": 1}]}", prod);
  step_run(&s, f, "create_invoice", params, &sa);
  assert_string_equal(out_str(&s, "would"), "create_invoice");
  step_free(&s);
  step_run(&s, f, "adjust_stock", "{\"delta\": 3}", &sa);
  assert_string_equal(out_str(&s, "would"), "adjust_stock");
  step_free(&s);
  step_run(&s, f, "update_record", "{\"fields\": {\"notes\": \"x\"}}", &sa);
  assert_string_equal(out_str(&s, "would"), "update_record");
  step_free(&s);
  snprintf(params, sizeof params, "{\"method\": \"POST\", \"url\": \"%s/x\"}",
           fake_server_url(fs));
  step_run(&s, f, "http_request", params, &sa);
  assert_string_equal(out_str(&s, "would"), "http");
  step_free(&s);
  assert_int_equal(fake_server_count(fs), 0);
  assert_int_equal(count(f, "SELECT count(*) FROM chat_outbox"), 0);
  assert_int_equal(count(f, "SELECT count(*) FROM sessions"), 0);
  assert_int_equal(count(f, "SELECT count(*) FROM invoices"), 0);
  assert_int_equal(count(f, "SELECT count(*) FROM stock_movements"), 0);
  assert_int_equal(count(f, "SELECT count(*) FROM workflow_effects"), 0);
  assert_int_equal(count(f, "SELECT count(*) FROM customers WHERE notes IS "
                            "NOT NULL"), 0);
  unsetenv("MUNSHI_HTTP_ALLOW_HOSTS");
  fake_server_stop(fs);
}

/* ---- env: records and reports ------------------------------------------- */

static void test_env(void **state) {
  test_fixture *f = *state;
  char a[37], b[37];
  add_customer(f, "Asha", "+919800000001", a);
  add_customer(f, "Bala", "+919800000002", b);
  db_val dv[] = {db_money(150050), db_uuid(a)};
  OK(db_query(f->d, "UPDATE customers SET total_debt = $1 WHERE id = $2", dv,
              2, NULL, &err));
  arena *ar = arena_new();
  char trig[128];
  snprintf(trig, sizeof trig, "{\"entity_type\": \"customer\", "
                              "\"entity_id\": \"%s\"}", a);
  json *t = parse(ar, trig);
  flow_env env;
  flow_env_init(&env, f->d, ar, f->profile, t, NULL, NULL, time_now_us());
  int dberr = 0;
  const json *c = flow_env_record(&env, "customer", &dberr);
  assert_int_equal(dberr, 0);
  assert_non_null(c);
  assert_string_equal(json_get(c, "full_name")->str, "Asha");
  /* money as an exact decimal, as REST reads it */
  assert_int_equal(json_get(c, "total_debt")->type, JSON_NUMBER);
  assert_string_equal(json_get(c, "total_debt")->str, "1500.50");
  assert_null(flow_env_record(&env, "invoice", &dberr));
  assert_int_equal(dberr, 0);
  const json *biz = flow_env_record(&env, "business", &dberr);
  assert_string_equal(json_get(biz, "business_name")->str, "Test Shop");

  arena_free(ar);
  need_expr();
  ar = arena_new();
  t = parse(ar, trig);
  flow_env_init(&env, f->d, ar, f->profile, t, NULL, NULL, time_now_us());
  expr_val v;
  char msg[256];
  if (flow_eval(&env, "debtors().count", &v, msg, sizeof msg))
    fail_msg("debtors().count: %s", msg);
  assert_int_equal(v.t, EV_NUM);
  assert_true(v.num == 1 && v.scale == 0);
  if (flow_eval(&env, "customer.total_debt > 1000 and debtors().total = "
                      "1500.50", &v, msg, sizeof msg))
    fail_msg("%s", msg);
  assert_true(expr_truthy(&v));
  buf out;
  buf_init(&out, 1 << 16);
  if (flow_render(&env, "Dues: {{ debtors() }}", &out, msg, sizeof msg))
    fail_msg("render: %s", msg);
  assert_string_equal(buf_cstr(&out), "Dues: 1 customer owe ₹1,500.50:\n1. "
                                      "Asha ₹1,500.50");
  buf_reset(&out);
  if (flow_render(&env, "{{ sales_summary('today') }}", &out, msg, sizeof msg))
    fail_msg("render: %s", msg);
  assert_non_null(strstr(buf_cstr(&out), "Sales today"));
  assert_non_null(strstr(buf_cstr(&out), "0 invoices"));
  buf_reset(&out);
  if (flow_render(&env, "{{ gst_collected('month') }}", &out, msg, sizeof msg))
    fail_msg("render: %s", msg);
  assert_non_null(strstr(buf_cstr(&out), "GST collected this month: ₹0.00"));
  assert_int_equal(flow_eval(&env, "sales_summary('decade')", &v, msg,
                             sizeof msg), -1);
  buf_free(&out);
  arena_free(ar);
}

int main(int argc, char **argv) {
  test_backend_from_args(argc, argv);
#define T(fn) cmocka_unit_test_setup_teardown(fn, test_fixture_setup, test_fixture_teardown)
  const struct CMUnitTest tests[] = {
      T(test_validate),   T(test_trigger_stop),      T(test_condition_switch),
      T(test_wait),       T(test_for_each),          T(test_send_message_once),
      T(test_send_window_owner), T(test_books_once), T(test_update_record),
      T(test_http),       T(test_caps),              T(test_dry_run),
      T(test_env),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

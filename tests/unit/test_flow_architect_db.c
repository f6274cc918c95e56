/* test_flow_architect_db.c - the Architect's rpcs on a database, on both
 * backends (src/flow/architect.c, rehearse.c): a draft saved as an
 * inactive blueprint with its version row, the prompt and the explanation;
 * a question and bad arguments saving nothing; the LLM path against a fake
 * server (the model's graph used, an invalid one refused for the rules'
 * draft); and what a rehearsal replays - the last N events of the
 * trigger's type oldest first, the last N times of a cron schedule, the
 * last N real runs' inputs - writing nothing. The HTTP side is
 * tests/api/workflow_architect.test.mjs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/json.h"
#include "base/timeutil.h"
#include "biz/events.h"
#include "fakes/fake_server.h"
#include "flow/bpstore.h"
#include "flow/flow.h"
#include "flow/rpc_int.h"
#include "testutil.h"

#define OK(x) assert_int_equal((x), 0)

static int setup(void **state) {
  return test_fixture_setup(state);
}
static int teardown(void **state) {
  flow_settings s = {0};
  flow_configure(&s);
  return test_fixture_teardown(state);
}

/* Calls an rpc of the business with args (JSON text); the answer parsed
 * into a, its status in *status. */
static const json *call(test_fixture *f, arena *a, flow_rpc_fn fn,
                        const char *args, int *status) {
  api_req req;
  memset(&req, 0, sizeof req);
  req.a = a;
  req.method = "POST";
  req.who.role = ROLE_AUTHENTICATED;
  snprintf(req.who.sub, sizeof req.who.sub, "%s", f->profile);
  json *j;
  json_error je;
  OK(json_parse(a, args, strlen(args), &j, &je));
  api_resp resp;
  api_resp_init(&resp);
  fn(f->d, &req, j, &resp);
  *status = resp.status;
  json *out;
  if (json_parse(a, resp.body.data ? resp.body.data : "null",
                 resp.body.data ? resp.body.len : 4, &out, &je))
    fail_msg("not JSON: %s", buf_cstr(&resp.body));
  api_resp_free(&resp);
  return out;
}

static const char *str(const json *o, const char *k) {
  const json *v = json_get(o, k);
  if (!v || v->type != JSON_STRING) fail_msg("no string %s", k);
  return v->str;
}
static int64_t num(const json *o, const char *k) {
  int64_t v = 0;
  if (json_int64(json_get(o, k), &v)) fail_msg("no integer %s", k);
  return v;
}

/* Rows the Architect must never write outside a draft. */
static int64_t writes(db *d) {
  return test_count(d,
                    "SELECT (SELECT count(*) FROM workflow_logs) + "
                    "(SELECT count(*) FROM workflow_steps) + "
                    "(SELECT count(*) FROM workflow_effects) + "
                    "(SELECT count(*) FROM unified_messages) + "
                    "(SELECT count(*) FROM sessions) + "
                    "(SELECT count(*) FROM events)",
                    NULL);
}
static int64_t blueprints(db *d) {
  return test_count(d, "SELECT count(*) FROM workflow_blueprints", NULL) +
         test_count(d, "SELECT count(*) FROM workflow_versions", NULL);
}

static void test_draft(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  int st;
  int64_t w0 = writes(f->d);
  const char *prompt =
      "when an invoice is 3 days overdue, remind the customer; after 7, tell "
      "me";
  const json *r = call(f, a, flow_rpc_draft,
                       arena_printf(a, "{\"prompt\": \"%s\"}", prompt), &st);
  assert_int_equal(st, 200);
  const char *id = str(r, "id");
  assert_string_equal(str(r, "source"), "rules");
  assert_int_equal(json_get(r, "nodes")->n, 7);
  db_val v[] = {db_uuid(id)};
  db_res *res = NULL;
  db_err err;
  OK(db_query(
      f->d,
      "SELECT is_active, prompt, explanation, trigger_kind, "
      "trigger_event, version, name FROM workflow_blueprints WHERE id = $1",
      v, 1, &res, &err));
  assert_int_equal(db_res_rows(res), 1);
  assert_int_equal(db_res_bool(res, 0, 0), 0);
  assert_string_equal(db_res_text(res, 0, 1), prompt);
  assert_string_equal(db_res_text(res, 0, 2), str(r, "explanation"));
  assert_string_equal(db_res_text(res, 0, 3), "event");
  assert_string_equal(db_res_text(res, 0, 4), "invoice.issued");
  assert_int_equal(db_res_int(res, 0, 5), 1);
  assert_string_equal(db_res_text(res, 0, 6), str(r, "name"));
  db_res_free(res);
  assert_int_equal(
      test_count(
          f->d,
          "SELECT count(*) FROM workflow_versions WHERE blueprint_id = $1", id),
      1);

  /* a question, bad arguments: nothing saved */
  int64_t b0 = blueprints(f->d);
  r = call(f, a, flow_rpc_draft, "{\"prompt\": \"remind them\"}", &st);
  assert_int_equal(st, 200);
  assert_non_null(strstr(str(r, "question"), "Remind whom"));
  assert_null(json_get(r, "id"));
  static const char *const bad[] = {
      "{}", "{\"prompt\": 1}", "{\"prompt\": \" \"}", "{\"prompt\": null}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    r = call(f, a, flow_rpc_draft, bad[i], &st);
    assert_int_equal(st, 400);
    assert_string_equal(str(r, "code"), "MU400");
  }
  assert_int_equal(blueprints(f->d), b0);
  assert_int_equal(writes(f->d), w0);
  arena_free(a);
}

/* The LLM path against a fake OpenAI-compatible server. */
static void test_draft_llm(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  fake_server *fs = fake_server_start();
  assert_non_null(fs);
  flow_settings s = {.llm_url = fake_server_url(fs),
                     .llm_key = "k-1",
                     .llm_model = "m-1",
                     .llm_timeout_ms = 5000};
  flow_configure(&s);
  /* a model that answers a graph with an unknown node type and a cycle */
  const char *bad =
      "{\"choices\":[{\"message\":{\"tool_calls\":[{\"function\":{\"name\":"
      "\"draft_workflow\",\"arguments\":\"{\\\"name\\\":\\\"Loop\\\","
      "\\\"nodes\\\":[{\\\"id\\\":\\\"a\\\",\\\"type\\\":\\\"trigger\\\","
      "\\\"params\\\":{\\\"event\\\":\\\"payment.received\\\"}},{\\\"id\\\":"
      "\\\"b\\\",\\\"type\\\":\\\"teleport\\\",\\\"params\\\":{}}],"
      "\\\"edges\\\":[{\\\"from\\\":\\\"a\\\",\\\"to\\\":\\\"b\\\"},{"
      "\\\"from\\\":\\\"b\\\",\\\"to\\\":\\\"a\\\"}]}\"}}]}}]}";
  fake_response *fr = fake_response_new(200);
  fake_response_json(fr, bad);
  fake_server_enqueue(fs, fr);
  int st;
  int64_t b0 = blueprints(f->d);
  const json *r = call(
      f, a, flow_rpc_draft,
      "{\"prompt\": \"jab bhi payment aaye customer ko dhanyavaad bhejo\"}",
      &st);
  assert_int_equal(st, 200);
  assert_string_equal(str(r, "source"), "rules");
  assert_non_null(strstr(str(r, "llm_error"), "refused"));
  assert_int_equal(blueprints(f->d),
                   b0 + 2); /* the rules' draft and its version */
  assert_int_equal(
      test_count(f->d,
                 "SELECT count(*) FROM workflow_blueprints WHERE name = $1",
                 "Loop"),
      0);
  const fake_request *q = fake_server_request(fs, 0);
  assert_string_equal(q->path, "/chat/completions");
  assert_string_equal(fake_request_header(q, "Authorization"), "Bearer k-1");
  assert_non_null(strstr(q->body, "\"draft_workflow\""));

  /* a good graph: used as the model wrote it */
  const char *good =
      "{\"choices\":[{\"message\":{\"tool_calls\":[{\"function\":{\"name\":"
      "\"draft_workflow\",\"arguments\":{\"name\":\"Thanks\",\"nodes\":[{"
      "\"id\":"
      "\"t\",\"type\":\"trigger\",\"params\":{\"event\":\"payment_received\"}},"
      "{\"id\":\"s\",\"type\":\"send_message\",\"params\":{\"to\":\"customer\","
      "\"text\":\"Thank you {{ customer.full_name }}\"}}]}}}]}}]}";
  fr = fake_response_new(200);
  fake_response_json(fr, good);
  fake_server_enqueue(fs, fr);
  r = call(f, a, flow_rpc_draft, "{\"prompt\": \"thank every payer\"}", &st);
  assert_int_equal(st, 200);
  assert_string_equal(str(r, "source"), "llm");
  assert_string_equal(str(r, "name"), "Thanks");
  assert_non_null(
      strstr(str(r, "repairs"), "payment_received read as payment.received"));
  assert_non_null(strstr(str(r, "explanation"),
                         "When a payment is received, send the customer"));
  assert_int_equal(
      test_count(f->d,
                 "SELECT count(*) FROM workflow_blueprints WHERE name = $1",
                 "Thanks"),
      1);

  /* a model down: the rules, saying why */
  fake_server_enqueue_simple(fs, 503, "text/plain", "busy");
  r = call(f, a, flow_rpc_draft,
           "{\"prompt\": \"send me today's sales at 9 pm\"}", &st);
  assert_int_equal(st, 200);
  assert_string_equal(str(r, "source"), "rules");
  assert_non_null(strstr(str(r, "llm_error"), "HTTP 503"));
  /* a model too slow: cut at the timeout, the rules answer */
  s.llm_timeout_ms = 300;
  flow_configure(&s);
  fr = fake_response_new(200);
  fake_response_json(fr, good);
  fr->delay_ms = 3000;
  fake_server_enqueue(fs, fr);
  r = call(f, a, flow_rpc_draft, "{\"prompt\": \"welcome every new customer\"}",
           &st);
  assert_int_equal(st, 200);
  assert_string_equal(str(r, "source"), "rules");
  assert_non_null(strstr(str(r, "llm_error"), "timeout"));
  assert_string_equal(str(r, "name"), "Welcome new customers");
  fake_server_stop(fs);
  arena_free(a);
}

static void create(test_fixture *f, arena *a, const char *nodes,
                   const char *edges, char id[37]) {
  bp_error be;
  db_err err;
  if (flow_blueprint_create(f->d, a, f->profile, f->profile, "W", "p", "e",
                            nodes, edges, id, &be, &err))
    fail_msg("create: %s %s", err.message, be.message);
}

static void test_rehearse_events(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char id[37];
  create(f, a,
         "[{\"id\":\"t\",\"type\":\"trigger\",\"params\":{\"event\":\"payment."
         "received\"}},"
         "{\"id\":\"c\",\"type\":\"condition\",\"params\":{\"if\":\"trigger.k "
         "> 1\"}},"
         "{\"id\":\"x\",\"type\":\"stop\",\"params\":{}}]",
         "[{\"from\":\"t\",\"to\":\"c\"},{\"from\":\"c\",\"to\":\"x\",\"when\":"
         "\"true\"}]",
         id);
  db_err err;
  char ev[4][37];
  for (int k = 0; k < 4; k++) {
    char entity[37];
    uuid_v7(entity);
    OK(db_begin(f->d, 1, &err));
    /* one event of another type among them, never replayed */
    OK(event_emit(f->d, f->profile,
                  k == 2 ? "invoice.issued" : "payment.received",
                  k == 2 ? "invoice" : "payment", entity,
                  arena_printf(a, "{\"k\": %d}", k), ev[k], &err));
    OK(db_commit(f->d, &err));
  }
  int64_t w0 = writes(f->d);
  int st;
  const json *r =
      call(f, a, flow_rpc_rehearse,
           arena_printf(a, "{\"id\": \"%s\", \"last_n\": 2}", id), &st);
  assert_int_equal(st, 200);
  assert_string_equal(str(r, "trigger"), "event");
  assert_int_equal(num(r, "found"), 2);
  const json *list = json_get(r, "rehearsals");
  /* the last two payments, oldest first: k = 1 then k = 3 */
  assert_string_equal(str(json_get(list->items[0], "source"), "event_id"),
                      ev[1]);
  assert_string_equal(str(json_get(list->items[1], "source"), "event_id"),
                      ev[3]);
  const json *t0 = json_get(list->items[0], "trigger");
  assert_string_equal(str(t0, "event_type"), "payment.received");
  assert_string_equal(str(t0, "entity_type"), "payment");
  assert_int_equal(num(t0, "k"), 1);
  /* k = 1 takes the false branch (no step after the condition), k = 3 stops */
  assert_int_equal(json_get(list->items[0], "steps")->n, 2);
  const json *steps = json_get(list->items[1], "steps");
  assert_int_equal(steps->n, 3);
  assert_string_equal(str(steps->items[1], "branch"), "true");
  assert_string_equal(str(list->items[1], "outcome"), "stopped");
  assert_int_equal(writes(f->d), w0);

  /* another business sees no such workflow; bad arguments */
  char other[37];
  test_tenant(f->d, NULL, other);
  memcpy(f->profile, other, sizeof other);
  r = call(f, a, flow_rpc_rehearse, arena_printf(a, "{\"id\": \"%s\"}", id),
           &st);
  assert_int_equal(st, 404);
  static const char *const bad[] = {
      "{}", "{\"id\": 5}", "{\"id\": \"x\", \"last_n\": 0}",
      "{\"id\": \"x\", \"last_n\": 51}", "{\"id\": \"x\", \"last_n\": \"5\"}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    r = call(f, a, flow_rpc_rehearse, bad[i], &st);
    assert_int_equal(st, 400);
  }
  arena_free(a);
}

/* The Architect's shipment notifications over shipment.updated events: the
 * switch reads the EVENT's status, so each of picked_up, in_transit,
 * out_for_delivery and delivered is answered by its own stage even though
 * the shipment's row says delivered all along (a late event must not speak
 * of a newer stage): three sends, none for in_transit. */
static void test_rehearse_shipment_stages(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  db_err err;
  char cust[37], inv[37], sh[37];
  uuid_v7(cust);
  uuid_v7(inv);
  uuid_v7(sh);
  db_val vc[] = {db_uuid(f->profile), db_uuid(cust), db_uuid(inv),
                 db_date((int32_t)days_from_civil(2026, 11, 24)), db_uuid(sh)};
  OK(db_query(f->d,
              "INSERT INTO customers (profile_id, id, full_name, phone_number) "
              "VALUES ($1, $2, 'Asha Verma', '+919812345678')",
              vc, 2, NULL, &err));
  OK(db_query(f->d,
              "INSERT INTO invoices (profile_id, id, customer_id, "
              "invoice_date) VALUES ($1, $3, $2, $4)",
              vc, 4, NULL, &err));
  db_val vs[] = {db_uuid(f->profile), db_uuid(sh), db_uuid(inv)};
  OK(db_query(f->d,
              "INSERT INTO shipments (profile_id, id, invoice_id, awb_number, "
              "courier_name, status) VALUES ($1, $2, $3, 'AWB42', "
              "'Delhivery', 'delivered')",
              vs, 3, NULL, &err));
  int st;
  const char *prompt =
      "tell the customer on WhatsApp when the shipment is picked up, out for "
      "delivery and delivered";
  const json *r = call(f, a, flow_rpc_draft,
                       arena_printf(a, "{\"prompt\": \"%s\"}", prompt), &st);
  assert_int_equal(st, 200);
  const char *id = arena_strdup(a, str(r, "id"));
  assert_string_equal(
      str(json_get(json_get(r, "nodes")->items[0], "params"), "event"),
      "shipment.updated");

  static const char *const stages[] = {"picked_up", "in_transit",
                                       "out_for_delivery", "delivered"};
  static const char *const said[] = {"picked up by Delhivery", NULL,
                                     "out for delivery today",
                                     "has been delivered"};
  const char *prev = "awb_assigned";
  for (int k = 0; k < 4; k++) {
    char ev[37];
    OK(db_begin(f->d, 1, &err));
    OK(event_emit(f->d, f->profile, "shipment.updated", "shipment", sh,
                  arena_printf(a,
                               "{\"id\": \"%s\", \"invoice_id\": \"%s\", "
                               "\"awb_number\": \"AWB42\", \"courier_name\": "
                               "\"Delhivery\", \"status\": \"%s\", "
                               "\"previous_status\": \"%s\", \"status_code\": "
                               "%d, \"tracking_url\": "
                               "\"https://track.example/AWB42\", \"scan\": "
                               "{\"scanned_at\": \"2026-11-2%dT10:00:00Z\", "
                               "\"activity\": \"x\", \"location\": \"Pune\"}}",
                               sh, inv, stages[k], prev, 40 + k, k + 5),
                  ev, &err));
    OK(db_commit(f->d, &err));
    prev = stages[k];
  }
  int64_t w0 = writes(f->d);
  r = call(f, a, flow_rpc_rehearse,
           arena_printf(a, "{\"id\": \"%s\", \"last_n\": 4}", id), &st);
  assert_int_equal(st, 200);
  assert_int_equal(num(r, "found"), 4);
  const json *list = json_get(r, "rehearsals");
  int sends = 0;
  for (int k = 0; k < 4; k++) {
    const json *one = list->items[k];
    assert_string_equal(str(json_get(one, "trigger"), "status"), stages[k]);
    const json *would = json_get(one, "would");
    if (!said[k]) {
      /* in_transit: the switch's default, which leads nowhere */
      assert_true(!would || would->n == 0);
      continue;
    }
    assert_int_equal(would->n, 1);
    const char *w = would->items[0]->str;
    if (!strstr(w, said[k]) || !strstr(w, "Asha Verma") ||
        !strstr(w, "+919812345678") || !strstr(w, "AWB42"))
      fail_msg("stage %s: %s", stages[k], w);
    /* never another stage's words */
    for (int j = 0; j < 4; j++)
      if (j != k && said[j]) assert_null(strstr(w, said[j]));
    sends++;
  }
  assert_int_equal(sends, 3);
  assert_int_equal(writes(f->d), w0);
  arena_free(a);
}

static void test_rehearse_cron(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char id[37];
  create(
      f, a,
      "[{\"id\":\"t\",\"type\":\"trigger\",\"params\":{\"cron\":\"0 22 * * *\","
      "\"timezone\":\"Asia/"
      "Kolkata\"}},{\"id\":\"x\",\"type\":\"stop\",\"params\":{}}]",
      "[{\"from\":\"t\",\"to\":\"x\"}]", id);
  int st;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t now = (int64_t)ts.tv_sec * 1000000;
  const json *r =
      call(f, a, flow_rpc_rehearse,
           arena_printf(a, "{\"id\": \"%s\", \"last_n\": 3}", id), &st);
  assert_int_equal(st, 200);
  assert_string_equal(str(r, "cron"), "0 22 * * *");
  assert_int_equal(num(r, "found"), 3);
  const json *list = json_get(r, "rehearsals");
  int64_t prev = 0;
  for (int i = 0; i < 3; i++) {
    const char *at = str(json_get(list->items[i], "trigger"), "scheduled_for");
    int64_t t;
    OK(ts_parse(at, &t));
    /* 22:00 in India is 16:30 UTC, one a day, the last before now */
    assert_int_equal((t / 1000000) % 86400, 16 * 3600 + 30 * 60);
    if (i) assert_int_equal(t - prev, US_PER_DAY);
    assert_true(t <= now + 1000000);
    prev = t;
  }
  assert_true(now - prev < US_PER_DAY);
  arena_free(a);
}

static void add_run(test_fixture *f, const char *bp, const char *input,
                    int rehearsal, int64_t at) {
  char id[37];
  uuid_v7(id);
  db_val v[] = {db_uuid(f->profile), db_uuid(id),        db_uuid(bp),
                db_json(input),      db_bool(rehearsal), db_ts(at)};
  db_err err;
  if (db_query(
          f->d,
          "INSERT INTO workflow_logs (profile_id, id, blueprint_id, status, "
          "input, rehearsal, trigger_kind, started_at) VALUES ($1, $2, $3, "
          "'completed', $4, $5, 'manual', $6)",
          v, 6, NULL, &err))
    fail_msg("%s", err.message);
}

static void test_rehearse_runs(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char id[37], hook[37];
  const char *stop = "[{\"from\":\"t\",\"to\":\"x\"}]";
  create(f, a,
         "[{\"id\":\"t\",\"type\":\"trigger\",\"params\":{\"manual\":true}},"
         "{\"id\":\"x\",\"type\":\"stop\",\"params\":{}}]",
         stop, id);
  create(f, a,
         "[{\"id\":\"t\",\"type\":\"trigger\",\"params\":{\"webhook\":true}},"
         "{\"id\":\"x\",\"type\":\"stop\",\"params\":{}}]",
         stop, hook);
  int st;
  /* never run: a manual workflow once with {}, a webhook not at all */
  const json *r = call(f, a, flow_rpc_rehearse,
                       arena_printf(a, "{\"id\": \"%s\"}", id), &st);
  assert_int_equal(st, 200);
  assert_int_equal(num(r, "found"), 1);
  assert_int_equal(json_get(json_get(r, "rehearsals")->items[0], "trigger")->n,
                   0);
  r = call(f, a, flow_rpc_rehearse, arena_printf(a, "{\"id\": \"%s\"}", hook),
           &st);
  assert_int_equal(st, 200);
  assert_int_equal(num(r, "found"), 0);

  int64_t t = 1767225600LL * 1000000; /* 2026-01-01 */
  add_run(f, id, "{\"n\": 1}", 0, t);
  add_run(f, id, "{\"n\": 2}", 0, t + 1000000);
  add_run(f, id, "{\"n\": 99}", 1, t + 2000000); /* a rehearsal: not replayed */
  add_run(f, id, "{\"n\": 3}", 0, t + 3000000);
  int64_t w0 = writes(f->d);
  r = call(f, a, flow_rpc_rehearse,
           arena_printf(a, "{\"id\": \"%s\", \"last_n\": 2}", id), &st);
  assert_int_equal(st, 200);
  assert_string_equal(str(r, "trigger"), "manual");
  assert_int_equal(num(r, "found"), 2);
  const json *list = json_get(r, "rehearsals");
  assert_int_equal(num(json_get(list->items[0], "trigger"), "n"), 2);
  assert_int_equal(num(json_get(list->items[1], "trigger"), "n"), 3);
  assert_string_equal(str(list->items[1], "outcome"), "stopped");
  assert_int_equal(writes(f->d), w0);
  arena_free(a);
}

int main(int argc, char **argv) {
  test_backend_from_args(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_draft, setup, teardown),
      cmocka_unit_test_setup_teardown(test_draft_llm, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rehearse_events, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rehearse_shipment_stages, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_rehearse_cron, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rehearse_runs, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_flow_bpstore_db.c - blueprints in the database (src/flow/bpstore.c,
 * bp_rest.c, cron_trigger.c), on both backends: a draft and its version
 * row, nothing written for an invalid graph, the REST hook's version bump,
 * the cache of parsed versions (and that a loaded graph outlives the
 * cache), activation and deactivation (webhook token and URL, an invalid
 * stored graph), and the cron poller: a due blueprint starts one run and
 * moves on, a missed one says so, paused and inactive ones wait, and two
 * pollers racing start one run between them. The REST side is
 * tests/api/workflow_blueprints.test.mjs. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/json.h"
#include "base/timeutil.h"
#include "flow/bp_int.h"
#include "flow/bpstore.h"
#include "flow/cron.h"
#include "flow/flow.h"
#include "testutil.h"

#define OK(x) assert_int_equal((x), 0)

static const char *REMIND_NODES =
    "[{\"id\": \"t\", \"type\": \"trigger\", \"params\": {\"event\": "
    "\"invoice.issued\"}}, {\"id\": \"w\", \"type\": \"wait\", \"params\": "
    "{\"for\": \"3d\"}}, {\"id\": \"c\", \"type\": \"condition\", \"params\": "
    "{\"if\": \"invoice.status != 'paid'\"}}, {\"id\": \"s\", \"type\": "
    "\"send_message\", \"params\": {\"to\": \"customer\", \"text\": \"Due.\"}}]";
static const char *REMIND_EDGES =
    "[{\"from\": \"t\", \"to\": \"w\"}, {\"from\": \"w\", \"to\": \"c\"}, "
    "{\"from\": \"c\", \"to\": \"s\", \"when\": \"true\"}]";
static const char *HOOK_NODES =
    "[{\"id\": \"in\", \"type\": \"trigger\", \"params\": {\"webhook\": "
    "true}}, {\"id\": \"end\", \"type\": \"stop\"}]";
static const char *HOOK_EDGES = "[{\"from\": \"in\", \"to\": \"end\"}]";

static int setup(void **state) { return test_fixture_setup(state); }
static int teardown(void **state) {
  flow_version_cache_clear();
  flow_settings s = {0};
  flow_configure(&s);
  return test_fixture_teardown(state);
}

/* One value of one row of a blueprint, as text ("" for NULL). */
static const char *bp_col(db *d, arena *a, const char *col, const char *id) {
  char sql[160];
  snprintf(sql, sizeof sql, "SELECT %s FROM workflow_blueprints WHERE id = $1",
           col);
  db_val v[] = {db_uuid(id)};
  db_res *r = NULL;
  db_err err;
  if (db_query(d, arena_strdup(a, sql), v, 1, &r, &err)) fail_msg("%s", err.message);
  const char *s = db_res_rows(r) == 1 && !db_res_isnull(r, 0, 0)
                      ? arena_strdup(a, db_res_text(r, 0, 0))
                      : "";
  db_res_free(r);
  return s;
}
static int64_t bp_ts(db *d, const char *col, const char *id, int *isnull) {
  char sql[160];
  snprintf(sql, sizeof sql, "SELECT %s FROM workflow_blueprints WHERE id = $1",
           col);
  db_val v[] = {db_uuid(id)};
  db_res *r = NULL;
  db_err err;
  if (db_query(d, sql, v, 1, &r, &err)) fail_msg("%s", err.message);
  *isnull = db_res_isnull(r, 0, 0);
  int64_t t = *isnull ? 0 : db_res_ts(r, 0, 0);
  db_res_free(r);
  return t;
}
static int64_t count_versions(db *d, const char *id) {
  db_val v[] = {db_uuid(id)};
  db_res *r = NULL;
  db_err err;
  if (db_query(d, "SELECT count(*) FROM workflow_versions WHERE blueprint_id = $1",
               v, 1, &r, &err))
    fail_msg("%s", err.message);
  int64_t n = db_res_int(r, 0, 0);
  db_res_free(r);
  return n;
}

static void create(test_fixture *f, arena *a, const char *nodes,
                   const char *edges, char id[37]) {
  bp_error be;
  db_err err;
  if (flow_blueprint_create(f->d, a, f->profile, f->profile, "A workflow",
                            "a prompt", "what it does", nodes, edges, id, &be,
                            &err))
    fail_msg("create: %s %s (node '%s' param '%s')", err.message, be.message,
             be.node, be.param);
}

static void test_create_and_load(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char id[37];
  create(f, a, REMIND_NODES, REMIND_EDGES, id);
  flow_bp_row row;
  int found = 0;
  db_err err;
  OK(flow_blueprint_load(f->d, a, f->profile, id, &row, &found, &err));
  assert_int_equal(found, 1);
  assert_string_equal(row.id, id);
  assert_string_equal(row.name, "A workflow");
  assert_int_equal(row.version, 1);
  assert_int_equal(row.active_version, 0);
  assert_int_equal(row.is_active, 0);
  assert_string_equal(row.trigger_kind, "event");
  assert_string_equal(row.trigger_event, "invoice.issued");
  assert_non_null(strstr(row.nodes, "send_message"));
  assert_int_equal(count_versions(f->d, id), 1);
  assert_string_equal(bp_col(f->d, a, "explanation", id), "what it does");

  /* Another business, or no such id: not found. */
  char other[37];
  test_tenant(f->d, NULL, other);
  OK(flow_blueprint_load(f->d, a, other, id, &row, &found, &err));
  assert_int_equal(found, 0);
  OK(flow_blueprint_load(f->d, a, f->profile, "not-a-uuid", &row, &found, &err));
  assert_int_equal(found, 0);

  /* An invalid graph: refused, nothing written. */
  char bad[37];
  bp_error be;
  int64_t before = test_count(f->d, "SELECT count(*) FROM workflow_blueprints", NULL);
  assert_int_equal(flow_blueprint_create(f->d, a, f->profile, NULL, "bad",
                                         NULL, NULL, REMIND_NODES, "[]", bad,
                                         &be, &err),
                   -1);
  assert_string_equal(be.node, "w"); /* unreachable */
  assert_string_equal(err.code, "");
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM workflow_blueprints", NULL),
                   before);
  arena_free(a);
}

/* The REST hook on a PATCH of the graph: version + 1 and its row; the same
 * graph again is no new version. */
static void test_rest_hook_versions(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char id[37];
  create(f, a, REMIND_NODES, REMIND_EDGES, id);
  json *cur;
  json_error je;
  const char *row = arena_printf(
      a,
      "{\"profile_id\": \"%s\", \"id\": \"%s\", \"name\": \"A workflow\", "
      "\"version\": 1, \"is_active\": false, \"nodes\": %s, \"edges\": %s}",
      f->profile, id, REMIND_NODES, REMIND_EDGES);
  OK(json_parse(a, row, strlen(row), &cur, &je));
  api_principal who = {.role = ROLE_AUTHENTICATED};
  snprintf(who.sub, sizeof who.sub, "%s", f->profile);
  api_resp resp;
  api_resp_init(&resp);

  /* A new wait: version 2. */
  const char *names[16] = {"nodes"};
  db_val vals[16];
  const char *nodes2 = "[{\"id\": \"t\", \"type\": \"trigger\", \"params\": "
                       "{\"event\": \"invoice.issued\"}}, {\"id\": \"w\", "
                       "\"type\": \"wait\", \"params\": {\"for\": \"5d\"}}, "
                       "{\"id\": \"c\", \"type\": \"condition\", \"params\": "
                       "{\"if\": \"true\"}}, {\"id\": \"s\", \"type\": "
                       "\"stop\"}]";
  vals[0] = db_json(nodes2);
  biz_fields fl = {names, vals, 1, 16};
  OK(flow_bp_rest_before(f->d, a, &who, 0, cur, &fl, &resp));
  int iv = -1;
  for (int i = 0; i < fl.n; i++)
    if (!strcmp(names[i], "version")) iv = i;
  assert_true(iv >= 0);
  assert_int_equal(vals[iv].i, 2);
  assert_int_equal(count_versions(f->d, id), 2);
  blueprint bp;
  int found = 0;
  db_err err;
  OK(flow_version_load(f->d, a, f->profile, id, 2, &bp, &found, &err));
  assert_int_equal(found, 1);
  assert_string_equal(bp.nodes[3].type, "stop");

  /* The same graph as now: no version. */
  vals[0] = db_json(REMIND_NODES);
  fl = (biz_fields){names, vals, 1, 16};
  OK(flow_bp_rest_before(f->d, a, &who, 0, cur, &fl, &resp));
  for (int i = 0; i < fl.n; i++) assert_string_not_equal(names[i], "version");
  assert_int_equal(count_versions(f->d, id), 2);

  /* is_active written as it already is: no activation columns (a cron's
   * due time is not moved); written as something else: activation. */
  names[0] = "is_active";
  vals[0] = db_bool(0);
  fl = (biz_fields){names, vals, 1, 16};
  OK(flow_bp_rest_before(f->d, a, &who, 0, cur, &fl, &resp));
  for (int i = 0; i < fl.n; i++) {
    assert_string_not_equal(names[i], "next_run_at");
    assert_string_not_equal(names[i], "active_version");
  }
  vals[0] = db_bool(1);
  fl = (biz_fields){names, vals, 1, 16};
  OK(flow_bp_rest_before(f->d, a, &who, 0, cur, &fl, &resp));
  int iav = -1;
  for (int i = 0; i < fl.n; i++)
    if (!strcmp(names[i], "active_version")) iav = i;
  assert_true(iav >= 0);
  assert_int_equal(vals[iav].i, 1);

  /* A broken graph: -1, the answer names node and parameter. */
  names[0] = "nodes";
  vals[0] = db_json("[{\"id\": \"t\", \"type\": \"trigger\"}]");
  fl = (biz_fields){names, vals, 1, 16};
  assert_int_equal(flow_bp_rest_before(f->d, a, &who, 0, cur, &fl, &resp), -1);
  assert_int_equal(resp.status, 400);
  assert_non_null(strstr(buf_cstr(&resp.body), "node 't', parameter 'event'"));
  api_resp_free(&resp);
  arena_free(a);
}

static void test_version_cache(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char id[37];
  create(f, a, REMIND_NODES, REMIND_EDGES, id);
  flow_version_cache_clear();
  blueprint b1, b2;
  int found = 0;
  db_err err;
  long hits, misses;
  OK(flow_version_load(f->d, a, f->profile, id, 1, &b1, &found, &err));
  assert_int_equal(found, 1);
  assert_int_equal(b1.nnodes, 4);
  assert_int_equal(b1.kind, BP_TRIGGER_EVENT);
  flow_version_cache_stats(&hits, &misses);
  assert_int_equal(hits, 0);
  assert_int_equal(misses, 1);

  /* A version never changes: the row may, the cached graph does not. */
  db_val v[] = {db_uuid(id)};
  OK(db_query(f->d,
              "UPDATE workflow_versions SET nodes = '[]' WHERE blueprint_id = $1",
              v, 1, NULL, &err));
  arena *a2 = arena_new();
  OK(flow_version_load(f->d, a2, f->profile, id, 1, &b2, &found, &err));
  assert_int_equal(found, 1);
  assert_int_equal(b2.nnodes, 4);
  flow_version_cache_stats(&hits, &misses);
  assert_int_equal(hits, 1);
  assert_int_equal(misses, 1);

  /* What was loaded lives in the caller's arena, not in the cache. */
  flow_version_cache_clear();
  assert_string_equal(b2.nodes[2].id, "c");
  assert_string_equal(json_get(b2.nodes[1].params, "for")->str, "3d");
  assert_string_equal(b2.edges[2].when, "true");
  assert_string_equal(b2.event, "invoice.issued");
  int next[4];
  assert_int_equal(bp_next(&b2, 2, "true", next, 4), 1);
  assert_int_equal(next[0], 3);
  arena_free(a2);

  /* Now the row is read again, and no longer validates. */
  assert_int_equal(flow_version_load(f->d, a, f->profile, id, 1, &b2, &found, &err), -1);
  assert_string_equal(err.code, "22023");
  /* No such version, another business's. */
  OK(flow_version_load(f->d, a, f->profile, id, 7, &b2, &found, &err));
  assert_int_equal(found, 0);
  char other[37];
  test_tenant(f->d, NULL, other);
  OK(flow_version_load(f->d, a, other, id, 1, &b2, &found, &err));
  assert_int_equal(found, 0);
  arena_free(a);
}

/* Many threads load a few versions at once while the cache evicts: every
 * load sees the right graph (run under ASan, this is the test that the
 * copy-out keeps evicted memory away from readers). */
typedef struct loader {
  const char *url, *profile;
  char (*ids)[37];
  int nids, failures;
} loader;

static void *load_many(void *p) {
  loader *l = p;
  db *d;
  db_err err;
  if (db_open(l->url, &d, &err)) {
    l->failures++;
    return NULL;
  }
  for (int k = 0; k < 400; k++) {
    arena *a = arena_new();
    blueprint bp;
    int found = 0;
    const char *id = l->ids[k % l->nids];
    if (flow_version_load(d, a, l->profile, id, 1, &bp, &found, &err) ||
        !found || bp.nnodes != 2 || strcmp(bp.nodes[1].id, "end"))
      l->failures++;
    if (k % 50 == 0) flow_version_cache_clear();
    arena_free(a);
  }
  db_close(d);
  return NULL;
}

static void test_version_cache_threads(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char ids[6][37];
  for (int i = 0; i < 6; i++) create(f, a, HOOK_NODES, HOOK_EDGES, ids[i]);
  pthread_t th[4];
  loader l[4];
  for (int i = 0; i < 4; i++) {
    l[i] = (loader){f->url, f->profile, ids, 6, 0};
    assert_int_equal(pthread_create(&th[i], NULL, load_many, &l[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(l[i].failures, 0);
  }
  arena_free(a);
}

static void test_activate(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char id[37];
  create(f, a, HOOK_NODES, HOOK_EDGES, id);
  int found = 0;
  bp_error be;
  db_err err;
  int64_t now = time_now_us();
  assert_string_equal(bp_col(f->d, a, "webhook_url", id), "");

  OK(flow_activate(f->d, a, f->profile, id, 1, now, &found, &be, &err));
  assert_int_equal(found, 1);
  assert_string_equal(bp_col(f->d, a, "is_active", id),
                      db_kind_of(f->d) == DB_POSTGRES ? "t" : "1");
  assert_string_equal(bp_col(f->d, a, "active_version", id), "1");
  assert_string_equal(bp_col(f->d, a, "trigger_kind", id), "webhook");
  const char *token = bp_col(f->d, a, "webhook_token", id);
  assert_int_equal(strlen(token), 2 * BP_TOKEN_BYTES);
  assert_string_equal(bp_col(f->d, a, "webhook_url", id),
                      arena_printf(a, "/webhooks/workflows/%s", token));

  /* With a public URL the webhook_url is absolute; the token stays. */
  flow_settings s = {0};
  s.public_url = "https://shop.example/";
  flow_configure(&s);
  OK(flow_activate(f->d, a, f->profile, id, 1, now, &found, &be, &err));
  assert_string_equal(bp_col(f->d, a, "webhook_token", id), token);
  assert_string_equal(bp_col(f->d, a, "webhook_url", id),
                      arena_printf(a, "https://shop.example/webhooks/workflows/%s",
                                   token));

  /* A paused workflow activated again is no longer paused. */
  db_val v[] = {db_uuid(id), db_ts(now)};
  OK(db_query(f->d,
              "UPDATE workflow_blueprints SET paused_reason = 'cap', paused_at "
              "= $2 WHERE id = $1",
              v, 2, NULL, &err));
  OK(flow_activate(f->d, a, f->profile, id, 1, now, &found, &be, &err));
  assert_string_equal(bp_col(f->d, a, "paused_reason", id), "");

  OK(flow_activate(f->d, a, f->profile, id, 0, now, &found, &be, &err));
  assert_string_equal(bp_col(f->d, a, "is_active", id),
                      db_kind_of(f->d) == DB_POSTGRES ? "f" : "0");
  assert_string_equal(bp_col(f->d, a, "webhook_token", id), token);

  /* Not found: no such id, another business. */
  char other[37];
  test_tenant(f->d, NULL, other);
  OK(flow_activate(f->d, a, other, id, 1, now, &found, &be, &err));
  assert_int_equal(found, 0);
  assert_string_equal(bp_col(f->d, a, "is_active", id),
                      db_kind_of(f->d) == DB_POSTGRES ? "f" : "0");

  /* A stored graph that no longer validates cannot be activated, but can
   * be turned off. */
  db_val w[] = {db_uuid(id)};
  OK(db_query(f->d, "UPDATE workflow_blueprints SET nodes = '[]' WHERE id = $1",
              w, 1, NULL, &err));
  assert_int_equal(flow_activate(f->d, a, f->profile, id, 1, now, &found, &be, &err),
                   -1);
  assert_string_equal(be.param, "nodes");
  assert_string_equal(err.code, "");
  OK(flow_activate(f->d, a, f->profile, id, 0, now, &found, &be, &err));
  arena_free(a);
}

/* ---- cron ---------------------------------------------------------------- */

/* A cron blueprint written with SQL (the graph's cron goes through
 * cron_parse, which the schedule needs; the poller reads only the row). */
static void cron_bp(test_fixture *f, const char *cron, int64_t due, char id[37]) {
  uuid_v7(id);
  char n[256];
  snprintf(n, sizeof n,
           "[{\"id\": \"t\", \"type\": \"trigger\", \"params\": {\"cron\": "
           "\"%s\"}}]",
           cron);
  db_val v[] = {db_uuid(f->profile), db_uuid(id), db_json(n), db_text(cron),
                db_ts(due)};
  db_err err;
  if (db_query(f->d,
               "INSERT INTO workflow_blueprints (profile_id, id, name, nodes, "
               "edges, is_active, version, active_version, trigger_kind, cron, "
               "timezone, next_run_at) VALUES ($1, $2, 'Daily', $3, '[]', "
               "true, 1, 1, 'cron', $4, 'Asia/Kolkata', $5)",
               v, 5, NULL, &err))
    fail_msg("%s", err.message);
  OK(bp_version_insert(f->d, f->profile, id, 1, "Daily", n, "[]", &err));
}

static int cron_built(void) {
  cron_spec s;
  char e[64];
  return cron_parse("* * * * *", &s, e, sizeof e) == 0;
}

static void test_cron_input(void **state) {
  (void)state;
  arena *a = arena_new();
  int64_t now = time_now_us();
  buf b;
  buf_init(&b, 0);
  /* On time (within two minutes): not missed. */
  assert_int_equal(flow_cron_input("0 21 * * *", "Asia/Kolkata",
                                   now - 30 * 1000000LL, now, &b),
                   0);
  json *j;
  json_error je;
  OK(json_parse(a, b.data, b.len, &j, &je));
  assert_int_equal(json_get(j, "missed")->type, JSON_FALSE);
  assert_string_equal(json_get(j, "missed_count")->str, "0");
  int64_t t;
  OK(ts_parse(json_get(j, "scheduled_for")->str, &t));
  assert_true(t == now - 30 * 1000000LL);
  /* Ten minutes late: missed, once for a daily schedule. */
  buf_reset(&b);
  assert_int_equal(flow_cron_input("0 21 * * *", "Asia/Kolkata",
                                   now - 600 * 1000000LL, now, &b),
                   1);
  OK(json_parse(a, b.data, b.len, &j, &je));
  assert_int_equal(json_get(j, "missed")->type, JSON_TRUE);
  assert_string_equal(json_get(j, "missed_count")->str, "1");
  /* Every minute, ten minutes late: each minute counted (needs cron.c). */
  if (cron_built()) {
    int64_t due = now - 600 * 1000000LL;
    due -= due % 60000000LL; /* on a minute */
    buf_reset(&b);
    int64_t n = flow_cron_input("* * * * *", "UTC", due, now, &b);
    assert_true(n >= 10 && n <= 11);
  }
  buf_free(&b);
  arena_free(a);
}

static void test_cron_poll(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  int64_t now = time_now_us();
  char due[37], later[37], paused[37], off[37];
  cron_bp(f, "0 21 * * *", now - 600 * 1000000LL, due);
  cron_bp(f, "0 21 * * *", now + 3600 * 1000000LL, later);
  cron_bp(f, "0 21 * * *", now - 600 * 1000000LL, paused);
  cron_bp(f, "0 21 * * *", now - 600 * 1000000LL, off);
  db_err err;
  db_val p[] = {db_uuid(paused), db_ts(now)};
  OK(db_query(f->d,
              "UPDATE workflow_blueprints SET paused_reason = 'cap', paused_at "
              "= $2 WHERE id = $1",
              p, 2, NULL, &err));
  db_val o[] = {db_uuid(off)};
  OK(db_query(f->d, "UPDATE workflow_blueprints SET is_active = false WHERE id = $1",
              o, 1, NULL, &err));

  assert_int_equal(flow_cron_poll(NULL, f->d, "w1", &err), 1);
  int isnull;
  int64_t next = bp_ts(f->d, "next_run_at", due, &isnull);
  if (cron_built()) {
    assert_false(isnull);
    assert_true(next > now);
  } else {
    assert_true(isnull); /* no schedule to follow: it stops */
  }
  int64_t last = bp_ts(f->d, "last_run_at", due, &isnull);
  assert_false(isnull);
  assert_true(last >= now);
  /* The others wait: not yet due, paused, inactive. */
  assert_true(bp_ts(f->d, "next_run_at", later, &isnull) == now + 3600 * 1000000LL);
  bp_ts(f->d, "last_run_at", paused, &isnull);
  assert_true(isnull);
  bp_ts(f->d, "last_run_at", off, &isnull);
  assert_true(isnull);
  /* Nothing due any more. */
  assert_int_equal(flow_cron_poll(NULL, f->d, "w1", &err), 0);
  /* With the engine built, the run is there, once, saying it was missed. */
  int64_t runs = test_count(f->d,
                            "SELECT count(*) FROM workflow_logs WHERE "
                            "trigger_kind = 'cron'",
                            NULL);
  assert_true(runs == 0 || runs == 1);
  arena_free(a);
}

typedef struct poller {
  const char *url;
  pthread_barrier_t *go;
  int started, failed;
} poller;

static void *poll_once(void *p) {
  poller *pl = p;
  db *d;
  db_err err;
  if (db_open(pl->url, &d, &err)) {
    pl->failed = 1;
    pthread_barrier_wait(pl->go);
    return NULL;
  }
  pthread_barrier_wait(pl->go);
  int n = flow_cron_poll(NULL, d, "racer", &err);
  if (n < 0)
    pl->failed = 1;
  else
    pl->started = n;
  db_close(d);
  return NULL;
}

static void test_cron_race(void **state) {
  test_fixture *f = *state;
  char id[37];
  int64_t now = time_now_us();
  cron_bp(f, "0 21 * * *", now - 10 * 1000000LL, id);
  for (int round = 0; round < 5; round++) {
    db_err err;
    db_val v[] = {db_uuid(id), db_ts(time_now_us() - (round + 1) * 1000000LL)};
    OK(db_query(f->d, "UPDATE workflow_blueprints SET next_run_at = $2 WHERE id = $1",
                v, 2, NULL, &err));
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    poller p[2] = {{f->url, &go, 0, 0}, {f->url, &go, 0, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
      assert_int_equal(pthread_create(&th[i], NULL, poll_once, &p[i]), 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    assert_int_equal(p[0].failed + p[1].failed, 0);
    assert_int_equal(p[0].started + p[1].started, 1);
  }
  int64_t runs = test_count(f->d,
                            "SELECT count(*) FROM workflow_logs WHERE "
                            "trigger_kind = 'cron'",
                            NULL);
  assert_true(runs == 0 || runs == 5);
}

int main(int argc, char **argv) {
  test_backend_from_args(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_create_and_load, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rest_hook_versions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_version_cache, setup, teardown),
      cmocka_unit_test_setup_teardown(test_version_cache_threads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_activate, setup, teardown),
      cmocka_unit_test(test_cron_input),
      cmocka_unit_test_setup_teardown(test_cron_poll, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cron_race, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

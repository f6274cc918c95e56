/* test_flow_engine_db.c - the workflow engine (flow/engine.c,
 * flow/engine_api.c) on SQLite and PostgreSQL (argv[1]).
 *
 * Blueprints are built in C with test-only node types (each a
 * flow_node_type with its own run function) and handed to the engine
 * through its graph loader hook; a test clock moves time on without
 * sleeping. Shown: every step's entry appears in step_results when it
 * starts and is updated when it ends; outputs land in the run's context
 * and `set` values in vars; branches; a wait that outlives its worker's
 * connection; for_each scopes with their own locals; retries with
 * back-off and giving up; fail and stop; cancel (also of a running step);
 * retry_run from the failed node; the per-business limit; a dead
 * worker's step taken over with attempt + 1; two workers never running one
 * step twice; the step_results cap; the event trigger; the webhook and
 * run_workflow. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "testutil.h"

#include "base/api.h"
#include "base/arena.h"
#include "base/json.h"
#include "base/timeutil.h"
#include "biz/idempotency.h"
#include "flow/effects.h"
#include "flow/engine.h"
#include "flow/flow.h"
#include "flow/node.h"
#include "flow/rpc_int.h"

static db_err err;

#define OK(call)                                                    \
  do {                                                              \
    if ((call) != 0)                                                \
      fail_msg("%s failed: [%s] %s", #call, err.code, err.message); \
  } while (0)

/* ---- the clock -------------------------------------------------------------- */

static _Atomic int64_t tnow;
static int64_t test_clock(void) { return atomic_load(&tnow); }
static void advance_s(int64_t s) { atomic_fetch_add(&tnow, s * 1000000); }

/* ---- test node types -------------------------------------------------------- */

#define MAX_KEYS 4096
static pthread_mutex_t calls_mu = PTHREAD_MUTEX_INITIALIZER;
static char call_keys[MAX_KEYS][160];
static int call_counts[MAX_KEYS];
static int ncalls;
static int peek_ok;       /* the peek node saw its own entry "running" */
static int max_running;   /* most running steps a node saw */
static const char *cancel_from_node; /* run id the "cancelme" node cancels */

static void count_call(const char *key) {
  pthread_mutex_lock(&calls_mu);
  int i = 0;
  while (i < ncalls && strcmp(call_keys[i], key)) i++;
  if (i == ncalls && ncalls < MAX_KEYS)
    snprintf(call_keys[ncalls++], sizeof call_keys[0], "%s", key);
  if (i < MAX_KEYS) call_counts[i]++;
  pthread_mutex_unlock(&calls_mu);
}

static int calls_of(const char *key) {
  for (int i = 0; i < ncalls; i++)
    if (!strcmp(call_keys[i], key)) return call_counts[i];
  return 0;
}

static void reset_calls(void) {
  ncalls = 0;
  memset(call_counts, 0, sizeof call_counts);
  peek_ok = 0, max_running = 0;
}

/* echo: output {"attempt": n, "item": item}; counts its effect key. */
static int run_echo(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  (void)e;
  count_call(c->effect_key);
  const json *nodes = json_get(c->env->context, "nodes");
  buf_printf(&r->input, "{\"x\":1}");
  buf_printf(&r->output, "{\"attempt\":%d,\"item\":%s,\"seen\":%zu}",
             c->attempt, c->env->item ? json_to_text(c->a, c->env->item) : "null",
             nodes ? nodes->n : 0);
  r->outcome = NODE_DONE;
  return 0;
}

/* after: copies what the echo before it in its scope answered. */
static int run_after(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  (void)e;
  count_call(c->effect_key);
  const json *echo = json_get(json_get(c->env->context, "nodes"), "e");
  buf_printf(&r->output, "{\"echo\":%s}",
             echo ? json_to_text(c->a, echo) : "null");
  r->outcome = NODE_DONE;
  return 0;
}

static int run_set(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  (void)c, (void)e;
  buf_puts(&r->output, "{\"v\":42}");
  r->outcome = NODE_DONE;
  return 0;
}

/* cond: branch "true" when the trigger's flag is true. */
static int run_cond(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  (void)e;
  const json *f = json_get(c->env->trigger, "flag");
  r->branch = f && f->type == JSON_TRUE ? "true" : "false";
  buf_printf(&r->output, "{\"result\":%s}", r->branch);
  r->outcome = NODE_DONE;
  return 0;
}

static int run_wait(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  (void)e;
  if (!c->wake_at) {
    r->outcome = NODE_WAITING;
    r->wake_at = c->now_us + 10 * 1000000LL;
    return 0;
  }
  buf_puts(&r->output, "{\"waited\":true}");
  r->outcome = NODE_DONE;
  return 0;
}

static int run_each(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  (void)e;
  const json *items = json_get(c->env->trigger, "items");
  buf_puts(&r->items, items ? json_to_text(c->a, items) : "[]");
  buf_printf(&r->output, "{\"count\":%zu}", items ? items->n : 0);
  r->outcome = NODE_DONE;
  return 0;
}

/* flaky: a transient failure until the third attempt. */
static int run_flaky(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  (void)e;
  count_call(c->effect_key);
  if (c->attempt < 3) return flow_step_fail(r, NODE_RETRY, "try %d", c->attempt);
  buf_printf(&r->output, "{\"attempt\":%d}", c->attempt);
  r->outcome = NODE_DONE;
  return 0;
}

static int run_down(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  (void)c, (void)e;
  return flow_step_fail(r, NODE_RETRY, "service down");
}

static int run_fail(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  (void)c, (void)e;
  return flow_step_fail(r, NODE_FAILED, "boom");
}

/* failonce: fails the first time a run reaches it, then passes. */
static int run_failonce(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  (void)e;
  count_call(c->effect_key);
  if (calls_of(c->effect_key) == 1) return flow_step_fail(r, NODE_FAILED, "first");
  buf_printf(&r->output, "{\"attempt\":%d}", c->attempt);
  r->outcome = NODE_DONE;
  return 0;
}

static int run_stop(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  (void)c, (void)e;
  r->outcome = NODE_STOP;
  return 0;
}

/* peek: reads the run's row, no transaction open, to see its own entry. */
static int run_peek(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  db_val v[] = {db_uuid(c->profile_id), db_uuid(c->run_id)};
  db_res *res = NULL;
  if (db_query(c->d,
               "SELECT step_results FROM workflow_logs WHERE profile_id = $1 "
               "AND id = $2",
               v, 2, &res, e))
    return -1;
  json *j;
  json_error je;
  const char *t = db_res_text(res, 0, 0);
  if (!json_parse(c->a, t, strlen(t), &j, &je) && j->n > 0) {
    const json *last = j->items[j->n - 1];
    peek_ok = !strcmp(json_get(last, "node_id")->str, "p") &&
              !strcmp(json_get(last, "status")->str, "running") &&
              json_get(last, "finished_at")->type == JSON_NULL;
  }
  db_res_free(res);
  buf_puts(&r->output, "{}");
  r->outcome = NODE_DONE;
  return 0;
}

/* busy: notes how many steps of the business run now. */
static int run_busy(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  db_val v[] = {db_uuid(c->profile_id)};
  db_res *res = NULL;
  if (db_query(c->d,
               "SELECT count(*) FROM workflow_steps WHERE profile_id = $1 AND "
               "status = 'running'",
               v, 1, &res, e))
    return -1;
  int n = (int)db_res_int(res, 0, 0);
  db_res_free(res);
  pthread_mutex_lock(&calls_mu);
  if (n > max_running) max_running = n;
  pthread_mutex_unlock(&calls_mu);
  buf_puts(&r->output, "{}");
  r->outcome = NODE_DONE;
  return 0;
}

static int run_cancelme(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  (void)e;
  arena *a = arena_new();
  api_req req = {.a = a, .method = "POST", .query = "", .body = ""};
  req.who.role = ROLE_AUTHENTICATED;
  snprintf(req.who.sub, sizeof req.who.sub, "%s", c->profile_id);
  json *args;
  json_error je;
  const char *t = arena_printf(a, "{\"run_id\":\"%s\"}", c->run_id);
  json_parse(a, t, strlen(t), &args, &je);
  api_resp resp;
  api_resp_init(&resp);
  flow_rpc_cancel(c->d, &req, args, &resp);
  cancel_from_node = resp.status == 200 ? "ok" : "failed";
  api_resp_free(&resp);
  arena_free(a);
  buf_puts(&r->output, "{}");
  r->outcome = NODE_DONE;
  return 0;
}

/* list: a for_each over list_items (a list that changes between runs, as
 * the customers of a business do). */
static const char *list_items = "[]";
static int run_list(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  (void)c, (void)e;
  buf_puts(&r->items, list_items);
  buf_puts(&r->output, "{}");
  r->outcome = NODE_DONE;
  return 0;
}

/* effect: a side effect made once under the step's key, as send_message
 * and http_request make theirs (effects.h): a key seen before answers the
 * stored result; a new one counts a call for the item's customer_id (or
 * "effect") and records itself. Also checks the key is one biz_run takes. */
static int bad_keys;
static int run_effect(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  if (!idem_key_valid(c->effect_key)) bad_keys++;
  int found = 0;
  if (flow_effect_find(c, c->effect_key, &found, &r->output, e)) return -1;
  if (!found) {
    const json *cid = json_get(c->env->item, "customer_id");
    count_call(cid && cid->type == JSON_STRING ? cid->str : "effect");
    buf_printf(&r->output, "{\"sent_to\":\"%s\"}",
               cid && cid->type == JSON_STRING ? cid->str : "");
    if (flow_effect_record(c, c->effect_key, "message", 0,
                           buf_cstr(&r->output), e))
      return -1;
  }
  r->outcome = NODE_DONE;
  return 0;
}

/* failglobal: fails while fail_budget lasts, whatever the step. */
static int fail_budget;
static int run_failglobal(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  (void)c, (void)e;
  if (fail_budget > 0) {
    fail_budget--;
    return flow_step_fail(r, NODE_FAILED, "down");
  }
  buf_puts(&r->output, "{}");
  r->outcome = NODE_DONE;
  return 0;
}

/* big: input and output of big_bytes each (an http_request's 900 KB). */
static size_t big_bytes;
static int run_big(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  (void)c, (void)e;
  buf_puts(&r->input, "{\"url\":\"");
  buf_puts(&r->output, "{\"body\":\"");
  for (size_t i = 0; i < big_bytes; i++) {
    buf_putc(&r->input, 'u');
    buf_putc(&r->output, i % 1000 == 0 ? 'y' : 'x');
  }
  buf_puts(&r->input, "\"}");
  buf_puts(&r->output, "\"}");
  r->outcome = NODE_DONE;
  return 0;
}

/* reader: what a later step reads of g (the run's context) and of b (its
 * scope's locals). */
static int run_reader(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  (void)e;
  const json *nodes = json_get(c->env->context, "nodes");
  const json *g = json_get(nodes, "g"), *b = json_get(nodes, "b");
  const json *gt = json_get(g, "truncated"), *bt = json_get(b, "truncated");
  int64_t gb = -1;
  if (json_get(g, "bytes")) json_int64(json_get(g, "bytes"), &gb);
  buf_printf(&r->output, "{\"g\":%s,\"b\":%s,\"g_bytes\":%lld}",
             gt && gt->type == JSON_TRUE ? "true" : "false",
             bt && bt->type == JSON_TRUE ? "true" : "false", (long long)gb);
  r->outcome = NODE_DONE;
  return 0;
}

static const flow_node_type t_trig = {"trigger", NODE_TRIGGER, NULL, NULL};
#define T(n, f) static const flow_node_type t_##n = {#n, f, NULL, run_##n};
T(echo, 0)
T(after, 0)
T(set, 0)
T(cond, NODE_BRANCHES)
T(wait, NODE_WAIT)
T(each, NODE_FOREACH)
T(flaky, 0)
T(down, 0)
T(fail, 0)
T(failonce, 0)
T(stop, 0)
T(peek, 0)
T(busy, 0)
T(cancelme, 0)
T(list, NODE_FOREACH)
T(effect, NODE_EFFECT)
T(failglobal, 0)
T(big, 0)
T(reader, 0)
static const flow_node_type *const types[] = {&t_big, &t_reader,
    &t_trig, &t_echo,     &t_after,  &t_set,  &t_cond,   &t_wait,
    &t_each, &t_flaky,    &t_down,   &t_fail, &t_failonce, &t_stop,
    &t_peek, &t_busy,     &t_cancelme, &t_list, &t_effect, &t_failglobal};

/* ---- blueprints built in C ---------------------------------------------------- */

typedef struct tbp {
  char id[37];
  char ids[8][16], typ[8][16], when[8][8];
  bp_node nodes[8];
  bp_edge edges[8];
  blueprint bp;
} tbp;
static tbp bps[64];
static int nbps;

static int loader(db *d, arena *a, const char *profile_id,
                  const char *blueprint_id, int version, blueprint *out,
                  int *found, db_err *e) {
  (void)d, (void)a, (void)profile_id, (void)e;
  *found = 0;
  for (int i = 0; i < nbps; i++)
    if (!strcmp(bps[i].id, blueprint_id) && version == 1) {
      *out = bps[i].bp;
      *found = 1;
    }
  return 0;
}

/* A blueprint from "id:type,id:type" (the first is the trigger) and
 * "from>to[:when],...", saved as a workflow_blueprints row (active, with the
 * given trigger kind and event) for the foreign keys and the triggers. */
static const char *mkbp(db *d, const char *profile, const char *nodes,
                        const char *edges, const char *kind,
                        const char *event, const char *token) {
  assert_true(nbps < 64);
  tbp *t = &bps[nbps++];
  memset(t, 0, sizeof *t);
  uuid_v7(t->id);
  char tmp[256];
  snprintf(tmp, sizeof tmp, "%s", nodes);
  int n = 0;
  for (char *p = tmp; p && *p && n < 8;) {
    char *comma = strchr(p, ',');
    if (comma) *comma = 0;
    char *colon = strchr(p, ':');
    *colon = 0;
    snprintf(t->ids[n], 16, "%.15s", p);
    snprintf(t->typ[n], 16, "%.15s", colon + 1);
    t->nodes[n].id = t->ids[n];
    t->nodes[n].type = t->typ[n];
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++)
      if (!strcmp(types[k]->name, t->typ[n])) t->nodes[n].nt = types[k];
    assert_non_null(t->nodes[n].nt);
    n++;
    p = comma ? comma + 1 : NULL;
  }
  int ne = 0;
  snprintf(tmp, sizeof tmp, "%s", edges);
  for (char *p = tmp; p && *p && ne < 8;) {
    char *comma = strchr(p, ',');
    if (comma) *comma = 0;
    char *gt = strchr(p, '>');
    *gt = 0;
    char *colon = strchr(gt + 1, ':');
    if (colon) {
      *colon = 0;
      snprintf(t->when[ne], 8, "%.7s", colon + 1);
      t->edges[ne].when = t->when[ne];
    }
    for (int k = 0; k < n; k++) {
      if (!strcmp(t->ids[k], p)) t->edges[ne].from = k;
      if (!strcmp(t->ids[k], gt + 1)) t->edges[ne].to = k;
    }
    ne++;
    p = comma ? comma + 1 : NULL;
  }
  t->bp = (blueprint){.name = "test", .nodes = t->nodes, .nnodes = n,
                      .edges = t->edges, .nedges = ne, .trigger = 0};
  db_val v[] = {db_uuid(profile), db_uuid(t->id), db_text(kind),
                event ? db_text(event) : db_null(),
                token ? db_text(token) : db_null()};
  OK(db_query(d,
              "INSERT INTO workflow_blueprints (profile_id, id, name, "
              "trigger_kind, trigger_event, webhook_token, is_active, version, "
              "active_version) VALUES ($1, $2, 'test', $3, $4, $5, true, 1, 1)",
              v, 5, NULL, &err));
  return t->id;
}

static void start(db *d, const char *profile, const char *bp,
                  const char *input, char run[37]) {
  arena *a = arena_new();
  flow_run_start_args s = {.profile_id = profile, .blueprint_id = bp,
                           .version = 1, .trigger_kind = "manual",
                           .input = input, .own_tx = 1};
  int created = 0;
  OK(flow_run_start(d, a, &s, run, &created, &err));
  assert_int_equal(created, 1);
  arena_free(a);
}

/* Polls until no step is due; returns how many steps ran. */
static int drain(db *d) {
  int total = 0;
  for (int i = 0; i < 1000; i++) {
    int n = flow_steps_poll(NULL, d, "test", &err);
    if (n < 0) fail_msg("poll: [%s] %s", err.code, err.message);
    if (n == 0) break;
    total += n;
  }
  return total;
}

/* The run's status, error and step_results (parsed, in a). */
static const char *run_get(db *d, arena *a, const char *run, const json **steps,
                           const json **context, const char **error) {
  db_val v[] = {db_uuid(run)};
  db_res *r = NULL;
  OK(db_query(d,
              "SELECT status, step_results, context, error, finished_at FROM "
              "workflow_logs WHERE id = $1",
              v, 1, &r, &err));
  assert_int_equal(db_res_rows(r), 1);
  const char *st = arena_strdup(a, db_res_text(r, 0, 0));
  json *j;
  json_error je;
  const char *t = arena_strdup(a, db_res_text(r, 0, 1));
  assert_int_equal(json_parse(a, t, strlen(t), &j, &je), 0);
  if (steps) *steps = j;
  t = arena_strdup(a, db_res_text(r, 0, 2));
  assert_int_equal(json_parse(a, t, strlen(t), &j, &je), 0);
  if (context) *context = j;
  if (error) *error = db_res_isnull(r, 0, 3) ? NULL : arena_strdup(a, db_res_text(r, 0, 3));
  int ended = !db_res_isnull(r, 0, 4);
  int open = !strcmp(st, "running") || !strcmp(st, "waiting");
  assert_int_equal(ended, !open); /* finished_at exactly when it ended */
  db_res_free(r);
  return st;
}

static const char *str_of(const json *o, const char *k) {
  const json *v = json_get(o, k);
  return v && v->type == JSON_STRING ? v->str : NULL;
}

static int64_t int_of(const json *o, const char *k) {
  int64_t n = -1;
  const json *v = json_get(o, k);
  if (v) json_int64(v, &n);
  return n;
}

static int64_t steps_left(db *d, const char *run) {
  return test_count(d, "SELECT count(*) FROM workflow_steps WHERE run_id = $1",
                    run);
}

static void configure(int running, int max_attempts, int max_results) {
  flow_settings s = {0};
  s.max_running_per_profile = running;
  s.max_attempts = max_attempts;
  s.max_step_results = max_results;
  flow_configure(&s);
}

static int setup(void **state) {
  if (test_fixture_setup(state)) return -1;
  atomic_store(&tnow, time_now_us());
  flow_engine_test_hooks(loader, test_clock);
  configure(0, 0, 0);
  reset_calls();
  return 0;
}

static int teardown(void **state) {
  flow_engine_test_hooks(NULL, NULL);
  return test_fixture_teardown(state);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_linear(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  const char *bp = mkbp(f->d, f->profile, "t:trigger,p:peek,e:echo,s:set",
                        "t>p,p>e,e>s", "manual", NULL, NULL);
  char run[37];
  start(f->d, f->profile, bp, "{\"who\":\"Asha\"}", run);
  assert_int_equal(steps_left(f->d, run), 1);
  assert_int_equal(drain(f->d), 4);
  const json *steps, *ctx;
  const char *error;
  assert_string_equal(run_get(f->d, a, run, &steps, &ctx, &error), "completed");
  assert_null(error);
  assert_int_equal(peek_ok, 1); /* the entry was there, running, mid-step */
  assert_int_equal(steps->n, 4);
  const char *order[] = {"t", "p", "e", "s"};
  for (size_t i = 0; i < 4; i++) {
    const json *en = steps->items[i];
    assert_string_equal(str_of(en, "node_id"), order[i]);
    assert_string_equal(str_of(en, "status"), "completed");
    assert_int_equal(int_of(en, "attempt"), 1);
    assert_non_null(str_of(en, "started_at"));
    assert_non_null(str_of(en, "finished_at"));
    assert_int_equal(json_get(en, "error")->type, JSON_NULL);
  }
  /* the trigger's output is the input; echo's input and output are kept */
  assert_string_equal(json_to_text(a, json_get(steps->items[0], "output")),
                      "{\"who\":\"Asha\"}");
  assert_string_equal(json_to_text(a, json_get(steps->items[2], "input")),
                      "{\"x\":1}");
  /* outputs in context.nodes; echo saw t and p before it; set's in vars */
  const json *nodes = json_get(ctx, "nodes");
  assert_int_equal(int_of(json_get(nodes, "e"), "seen"), 2);
  assert_non_null(json_get(nodes, "s"));
  assert_int_equal(int_of(json_get(ctx, "vars"), "v"), 42);
  assert_int_equal(steps_left(f->d, run), 0);
  /* the effect key names run, node and scope */
  char key[160];
  snprintf(key, sizeof key, "wf:%s:e:", run);
  assert_int_equal(calls_of(key), 1);
  arena_free(a);
}

static void test_branches(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  const char *bp = mkbp(f->d, f->profile, "t:trigger,c:cond,y:echo,n:echo",
                        "t>c,c>y:true,c>n:false", "manual", NULL, NULL);
  char r1[37], r2[37];
  start(f->d, f->profile, bp, "{\"flag\":true}", r1);
  start(f->d, f->profile, bp, "{\"flag\":false}", r2);
  drain(f->d);
  const json *steps, *ctx;
  assert_string_equal(run_get(f->d, a, r1, &steps, &ctx, NULL), "completed");
  assert_int_equal(steps->n, 3);
  assert_string_equal(str_of(steps->items[2], "node_id"), "y");
  assert_null(json_get(json_get(ctx, "nodes"), "n"));
  assert_string_equal(run_get(f->d, a, r2, &steps, &ctx, NULL), "completed");
  assert_int_equal(steps->n, 3);
  assert_string_equal(str_of(steps->items[2], "node_id"), "n");
  assert_null(json_get(json_get(ctx, "nodes"), "y"));
  arena_free(a);
}

/* A wait is a row in the database: a new connection (a restarted process)
 * finds it and finishes the run when it is due, not before. */
static void test_wait_restart(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  const char *bp = mkbp(f->d, f->profile, "t:trigger,w:wait,e:echo",
                        "t>w,w>e", "manual", NULL, NULL);
  char run[37];
  start(f->d, f->profile, bp, "{}", run);
  assert_int_equal(drain(f->d), 2);
  const json *steps;
  assert_string_equal(run_get(f->d, a, run, &steps, NULL, NULL), "waiting");
  assert_int_equal(steps->n, 2);
  assert_string_equal(str_of(steps->items[1], "status"), "waiting");
  assert_int_equal(test_count(f->d,
                              "SELECT count(*) FROM workflow_steps WHERE "
                              "run_id = $1 AND status = 'waiting'",
                              run),
                   1);
  /* "restart": another connection, the first one gone from the work */
  db *d2;
  OK(db_open(f->url, &d2, &err));
  assert_int_equal(drain(d2), 0); /* not due yet */
  advance_s(11);
  assert_int_equal(drain(d2), 2);
  assert_string_equal(run_get(d2, a, run, &steps, NULL, NULL), "completed");
  assert_int_equal(steps->n, 3);
  assert_string_equal(str_of(steps->items[1], "status"), "completed");
  assert_string_equal(str_of(steps->items[2], "node_id"), "e");
  db_close(d2);
  arena_free(a);
}

static void test_for_each(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  const char *bp = mkbp(f->d, f->profile, "t:trigger,f:each,e:echo,x:after",
                        "t>f,f>e,e>x", "manual", NULL, NULL);
  char run[37];
  start(f->d, f->profile, bp, "{\"items\":[\"a\",\"b\",\"c\"]}", run);
  assert_int_equal(drain(f->d), 2 + 3 * 2);
  const json *steps, *ctx;
  assert_string_equal(run_get(f->d, a, run, &steps, &ctx, NULL), "completed");
  assert_int_equal(steps->n, 8);
  int scopes = 0;
  for (size_t i = 2; i < steps->n; i++) {
    const json *en = steps->items[i];
    const char *scope = str_of(en, "scope");
    assert_non_null(scope);
    assert_string_equal(str_of(en, "status"), "completed");
    if (!strcmp(str_of(en, "node_id"), "x")) {
      /* x read the echo of its own scope: the item of that scope */
      const json *echo = json_get(json_get(en, "output"), "echo");
      /* items without an id: the scope is a hash of the item's JSON */
      const char *item = str_of(echo, "item");
      assert_non_null(item);
      const char *want = !strcmp(item, "a") ? "f#~ac8d8342bbb2362d"
                         : !strcmp(item, "b") ? "f#~c100f95c1913f9c7"
                                              : "f#~879923da020d1533";
      assert_string_equal(scope, want);
      scopes++;
    }
  }
  assert_int_equal(scopes, 3);
  /* inside the scopes, outputs stay in the scope's locals */
  assert_non_null(json_get(json_get(ctx, "nodes"), "f"));
  assert_null(json_get(json_get(ctx, "nodes"), "e"));
  char key[160];
  snprintf(key, sizeof key, "wf:%s:e:f#~c100f95c1913f9c7", run);
  assert_int_equal(calls_of(key), 1);
  arena_free(a);
}

static void call_rpc(db *d, const char *profile, flow_rpc_fn fn,
                     const char *args_text, api_resp *resp);

/* A for_each retried after its list changed (a customer sorting first was
 * added): each item keeps its scope by its id, so the records that had
 * their effect replay it and only the new record gets one - every customer
 * exactly one. Positions as scopes gave the new customer the first
 * customer's replay and the last one a second message. */
static void test_for_each_retry_identity(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  bad_keys = 0;
  const char *bp = mkbp(f->d, f->profile, "t:trigger,f:list,s:effect,x:failglobal",
                        "t>f,f>s,s>x", "manual", NULL, NULL);
  /* one customer's id too long to be a scope: hashed, still one key */
  static char long_items[512];
  snprintf(long_items, sizeof long_items,
           "[{\"customer_id\":\"cu-b\",\"full_name\":\"Bela\"},"
           "{\"customer_id\":\"cu-c\",\"full_name\":\"Chand\"},"
           "{\"customer_id\":\"%0100d\",\"full_name\":\"Long\"}]",
           7);
  list_items = long_items;
  fail_budget = 1;
  char run[37];
  start(f->d, f->profile, bp, "{}", run);
  configure(1, 0, 0); /* one step at a time: b's branch fails first */
  drain(f->d);
  const char *error;
  assert_string_equal(run_get(f->d, a, run, NULL, NULL, &error), "failed");
  assert_int_equal(calls_of("cu-b"), 1);
  /* a customer who sorts first joins the list */
  static char items2[640];
  snprintf(items2, sizeof items2,
           "[{\"customer_id\":\"cu-a\",\"full_name\":\"Asha\"},%s",
           long_items + 1);
  list_items = items2;
  api_resp resp;
  char args[160];
  snprintf(args, sizeof args, "{\"run_id\":\"%s\",\"from_step\":\"f\"}",
           run);
  call_rpc(f->d, f->profile, flow_rpc_retry, args, &resp);
  assert_int_equal(resp.status, 200);
  api_resp_free(&resp);
  drain(f->d);
  const json *steps;
  assert_string_equal(run_get(f->d, a, run, &steps, NULL, &error), "completed");
  assert_int_equal(calls_of("cu-a"), 1);
  assert_int_equal(calls_of("cu-b"), 1);
  assert_int_equal(calls_of("cu-c"), 1);
  char longid[128];
  snprintf(longid, sizeof longid, "%0100d", 7);
  assert_int_equal(calls_of(longid), 1);
  assert_int_equal(bad_keys, 0);
  /* each record's entry shows its own effect, replayed or new */
  int seen = 0;
  for (size_t i = 0; i < steps->n; i++) {
    const json *en = steps->items[i];
    if (strcmp(str_of(en, "node_id"), "s") ||
        strcmp(str_of(en, "status"), "completed"))
      continue;
    const char *scope = str_of(en, "scope");
    const char *to = str_of(json_get(en, "output"), "sent_to");
    assert_non_null(scope);
    assert_non_null(to);
    if (strlen(to) < 10) {
      char want[64];
      snprintf(want, sizeof want, "f#%s", to);
      assert_string_equal(scope, want);
    } else {
      assert_int_equal(strlen(scope), 2 + 17); /* f#~ and 16 hex */
    }
    seen++;
  }
  assert_int_equal(seen, 1 + 4); /* b before the failure, then all four */
  assert_int_equal(test_count(f->d,
                              "SELECT count(*) FROM workflow_effects WHERE "
                              "run_id = $1",
                              run),
                   4);
  list_items = "[]";
  arena_free(a);
}

static void test_retries(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  configure(0, 4, 0);
  const char *bp = mkbp(f->d, f->profile, "t:trigger,r:flaky", "t>r", "manual",
                        NULL, NULL);
  char run[37];
  start(f->d, f->profile, bp, "{}", run);
  drain(f->d);
  const json *steps;
  assert_string_equal(run_get(f->d, a, run, &steps, NULL, NULL), "running");
  assert_int_equal(steps->n, 2);
  assert_string_equal(str_of(steps->items[1], "status"), "waiting");
  assert_string_equal(str_of(steps->items[1], "error"), "try 1");
  assert_non_null(str_of(steps->items[1], "retry_at"));
  assert_int_equal(drain(f->d), 0); /* backing off */
  for (int i = 0; i < 3; i++) {
    advance_s(600);
    drain(f->d);
  }
  assert_string_equal(run_get(f->d, a, run, &steps, NULL, NULL), "completed");
  assert_int_equal(steps->n, 2); /* one entry per step, updated */
  assert_int_equal(int_of(steps->items[1], "attempt"), 3);
  assert_int_equal(int_of(json_get(steps->items[1], "output"), "attempt"), 3);

  /* always down: fails after max_attempts */
  const char *bp2 = mkbp(f->d, f->profile, "t:trigger,r:down", "t>r", "manual",
                         NULL, NULL);
  start(f->d, f->profile, bp2, "{}", run);
  for (int i = 0; i < 6; i++) {
    drain(f->d);
    advance_s(600);
  }
  const char *error;
  assert_string_equal(run_get(f->d, a, run, &steps, NULL, &error), "failed");
  assert_non_null(strstr(error, "gave up after 4 attempts: service down"));
  assert_string_equal(str_of(steps->items[1], "status"), "failed");
  assert_int_equal(steps_left(f->d, run), 0);
  arena_free(a);
}

static void test_fail_and_stop(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  const char *bp = mkbp(f->d, f->profile, "t:trigger,x:fail,e:echo",
                        "t>x,x>e", "manual", NULL, NULL);
  const char *bp2 = mkbp(f->d, f->profile, "t:trigger,s:stop,e:echo",
                         "t>s,s>e", "manual", NULL, NULL);
  char r1[37], r2[37];
  start(f->d, f->profile, bp, "{}", r1);
  start(f->d, f->profile, bp2, "{}", r2);
  drain(f->d);
  const json *steps;
  const char *error;
  assert_string_equal(run_get(f->d, a, r1, &steps, NULL, &error), "failed");
  assert_string_equal(error, "node 'x': boom");
  assert_int_equal(steps->n, 2);
  assert_string_equal(str_of(steps->items[1], "status"), "failed");
  assert_string_equal(str_of(steps->items[1], "error"), "boom");
  assert_int_equal(steps_left(f->d, r1), 0);
  assert_string_equal(run_get(f->d, a, r2, &steps, NULL, &error), "completed");
  assert_null(error);
  assert_int_equal(steps->n, 2); /* e never ran */
  assert_int_equal(steps_left(f->d, r2), 0);
  arena_free(a);
}

static void call_rpc(db *d, const char *profile, flow_rpc_fn fn,
                     const char *args_text, api_resp *resp) {
  arena *a = arena_new();
  api_req req = {.a = a, .method = "POST", .query = "", .body = ""};
  req.who.role = ROLE_AUTHENTICATED;
  snprintf(req.who.sub, sizeof req.who.sub, "%s", profile);
  json *args;
  json_error je;
  assert_int_equal(json_parse(a, args_text, strlen(args_text), &args, &je), 0);
  api_resp_init(resp);
  fn(d, &req, args, resp);
  arena_free(a);
}

static void test_cancel(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  const char *bp = mkbp(f->d, f->profile, "t:trigger,w:wait,e:echo",
                        "t>w,w>e", "manual", NULL, NULL);
  char run[37];
  start(f->d, f->profile, bp, "{}", run);
  drain(f->d);
  api_resp resp;
  char args[128];
  snprintf(args, sizeof args, "{\"run_id\":\"%s\"}", run);
  call_rpc(f->d, f->profile, flow_rpc_cancel, args, &resp);
  assert_int_equal(resp.status, 200);
  api_resp_free(&resp);
  assert_int_equal(steps_left(f->d, run), 0);
  advance_s(60);
  assert_int_equal(drain(f->d), 0);
  const char *error;
  assert_string_equal(run_get(f->d, a, run, NULL, NULL, &error), "cancelled");
  /* cancelling again: a conflict; another business's run: not found */
  call_rpc(f->d, f->profile, flow_rpc_cancel, args, &resp);
  assert_int_equal(resp.status, 409);
  api_resp_free(&resp);
  char other[37];
  test_tenant(f->d, NULL, other);
  call_rpc(f->d, other, flow_rpc_cancel, args, &resp);
  assert_int_equal(resp.status, 404);
  api_resp_free(&resp);

  /* cancelled while a step runs: that step's end is ignored */
  const char *bp2 = mkbp(f->d, f->profile, "t:trigger,k:cancelme,e:echo",
                         "t>k,k>e", "manual", NULL, NULL);
  start(f->d, f->profile, bp2, "{}", run);
  drain(f->d);
  assert_string_equal(cancel_from_node, "ok");
  const json *steps;
  assert_string_equal(run_get(f->d, a, run, &steps, NULL, NULL), "cancelled");
  assert_int_equal(steps->n, 2);
  assert_string_equal(str_of(steps->items[1], "status"), "skipped");
  assert_int_equal(steps_left(f->d, run), 0);
  char key[160];
  snprintf(key, sizeof key, "wf:%s:e:", run);
  assert_int_equal(calls_of(key), 0);
  arena_free(a);
}

static void test_retry_run(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  const char *bp = mkbp(f->d, f->profile, "t:trigger,e:echo,x:failonce,z:echo",
                        "t>e,e>x,x>z", "manual", NULL, NULL);
  char run[37];
  start(f->d, f->profile, bp, "{}", run);
  drain(f->d);
  assert_string_equal(run_get(f->d, a, run, NULL, NULL, NULL), "failed");
  api_resp resp;
  char args[160];
  /* only a failed or cancelled run; from a node the graph has */
  snprintf(args, sizeof args, "{\"run_id\":\"%s\",\"from_step\":\"nope\"}", run);
  call_rpc(f->d, f->profile, flow_rpc_retry, args, &resp);
  assert_int_equal(resp.status, 400);
  api_resp_free(&resp);
  snprintf(args, sizeof args, "{\"run_id\":\"%s\"}", run); /* the failed node */
  call_rpc(f->d, f->profile, flow_rpc_retry, args, &resp);
  assert_int_equal(resp.status, 200);
  api_resp_free(&resp);
  drain(f->d);
  const json *steps;
  const char *error;
  assert_string_equal(run_get(f->d, a, run, &steps, NULL, &error), "completed");
  assert_null(error);
  /* history kept: t, e, x failed, then x again and z */
  assert_int_equal(steps->n, 5);
  assert_string_equal(str_of(steps->items[2], "status"), "failed");
  assert_string_equal(str_of(steps->items[3], "node_id"), "x");
  assert_string_equal(str_of(steps->items[3], "status"), "completed");
  assert_int_equal(int_of(steps->items[3], "attempt"), 1);
  char key[160];
  snprintf(key, sizeof key, "wf:%s:e:", run);
  assert_int_equal(calls_of(key), 1); /* e did not run again */
  call_rpc(f->d, f->profile, flow_rpc_retry, args, &resp);
  assert_int_equal(resp.status, 409); /* completed: nothing to retry */
  api_resp_free(&resp);
  arena_free(a);
}

static void test_profile_limit(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  configure(2, 0, 0);
  const char *bp = mkbp(f->d, f->profile, "t:trigger,b:busy", "t>b", "manual",
                        NULL, NULL);
  char run[37];
  for (int i = 0; i < 6; i++) start(f->d, f->profile, bp, "{}", run);
  const char *done_sql =
      "SELECT count(*) FROM workflow_logs WHERE status = 'completed'";
  /* one poll claims two steps, not the batch (each then goes on with its
   * run's next step, in the place of the one that ended) */
  assert_true(flow_steps_poll(NULL, f->d, "test", &err) > 0);
  assert_int_equal(test_count(f->d, done_sql, NULL), 2);
  /* a step still running elsewhere (its lease holds) counts */
  db_val v[] = {db_uuid(f->profile), db_ts(test_clock() + 30000000)};
  OK(db_query(f->d,
              "UPDATE workflow_steps SET status = 'running', due_at = $2 "
              "WHERE profile_id = $1 AND id = (SELECT id FROM "
              "workflow_steps WHERE profile_id = $1 ORDER BY id LIMIT 1)",
              v, 2, NULL, &err));
  assert_true(flow_steps_poll(NULL, f->d, "test", &err) > 0);
  assert_int_equal(test_count(f->d, done_sql, NULL), 3);
  drain(f->d);
  assert_int_equal(test_count(f->d, done_sql, NULL), 5); /* one is held */
  assert_true(max_running <= 2);
  assert_true(max_running >= 1);
  arena_free(a);
}

/* A worker that died after commit 1: its step is 'running' with a lease;
 * when the lease ends another claim takes it, attempt 2. */
static void test_dead_worker(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  const char *bp = mkbp(f->d, f->profile, "t:trigger,e:echo", "t>e", "manual",
                        NULL, NULL);
  char run[37];
  start(f->d, f->profile, bp, "{}", run);
  /* the dead worker's claim and commit 1 of the trigger's step, by hand */
  db_val v[] = {db_uuid(run), db_ts(test_clock() + 60000000)};
  OK(db_query(f->d,
              "UPDATE workflow_steps SET status = 'running', claims = claims + "
              "1, attempt = attempt + 1, due_at = $2 WHERE run_id = $1",
              v, 2, NULL, &err));
  assert_int_equal(drain(f->d), 0); /* its lease holds */
  advance_s(61);
  assert_int_equal(drain(f->d), 2);
  const json *steps;
  assert_string_equal(run_get(f->d, a, run, &steps, NULL, NULL), "completed");
  assert_int_equal(int_of(steps->items[0], "attempt"), 2); /* taken over */
  assert_int_equal(int_of(steps->items[1], "attempt"), 1);
  arena_free(a);
}

typedef struct worker_arg {
  const char *url;
  int ran;
} worker_arg;

static void *worker_main(void *p) {
  worker_arg *w = p;
  db *d;
  db_err e;
  if (db_open(w->url, &d, &e)) return NULL;
  int idle = 0;
  while (idle < 20) {
    int n = flow_steps_poll(NULL, d, "w", &e);
    if (n > 0) w->ran += n, idle = 0;
    else idle++;
  }
  db_close(d);
  return NULL;
}

static void test_two_workers(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  configure(64, 0, 0);
  const char *bp = mkbp(f->d, f->profile, "t:trigger,e:echo,x:after",
                        "t>e,e>x", "manual", NULL, NULL);
  enum { RUNS = 60 };
  char runs[RUNS][37];
  for (int i = 0; i < RUNS; i++) start(f->d, f->profile, bp, "{}", runs[i]);
  pthread_t th[2];
  worker_arg wa[2] = {{f->url, 0}, {f->url, 0}};
  for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, worker_main, &wa[i]);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  assert_int_equal(wa[0].ran + wa[1].ran, RUNS * 3);
  for (int i = 0; i < RUNS; i++) {
    char key[160];
    snprintf(key, sizeof key, "wf:%.36s:e:", runs[i]);
    assert_int_equal(calls_of(key), 1);
    snprintf(key, sizeof key, "wf:%.36s:x:", runs[i]);
    assert_int_equal(calls_of(key), 1);
    assert_string_equal(run_get(f->d, a, runs[i], NULL, NULL, NULL),
                        "completed");
  }
  arena_free(a);
}

static void test_cap(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  configure(0, 0, 3);
  const char *bp = mkbp(f->d, f->profile, "t:trigger,a:echo,b:echo,c:echo,d:echo",
                        "t>a,a>b,b>c,c>d", "manual", NULL, NULL);
  char run[37];
  start(f->d, f->profile, bp, "{}", run);
  drain(f->d);
  const json *steps;
  assert_string_equal(run_get(f->d, a, run, &steps, NULL, NULL), "completed");
  assert_int_equal(steps->n, 3);
  assert_string_equal(str_of(steps->items[0], "node_id"), "t");
  assert_string_equal(str_of(steps->items[1], "node_id"), "a");
  const json *sum = steps->items[2];
  assert_string_equal(str_of(sum, "type"), "summary");
  assert_int_equal(int_of(sum, "omitted"), 3);
  assert_string_equal(str_of(json_get(sum, "last"), "node_id"), "d");
  assert_string_equal(str_of(json_get(sum, "last"), "status"), "completed");
  arena_free(a);
}

static void test_event_trigger(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  const char *bp = mkbp(f->d, f->profile, "t:trigger,e:echo", "t>e", "event",
                        "invoice.paid", NULL);
  event_row ev = {0};
  snprintf(ev.profile_id, sizeof ev.profile_id, "%s", f->profile);
  uuid_v7(ev.id);
  snprintf(ev.event_type, sizeof ev.event_type, "invoice.paid");
  snprintf(ev.entity_type, sizeof ev.entity_type, "invoice");
  uuid_v7(ev.entity_id);
  ev.payload = "{\"total_amount\":1180.00,\"event_type\":\"spoof\"}";
  OK(flow_trigger_handle(NULL, f->d, &ev, 1, &err));
  OK(flow_trigger_handle(NULL, f->d, &ev, 2, &err)); /* redelivered */
  assert_int_equal(test_count(f->d,
                              "SELECT count(*) FROM workflow_logs WHERE "
                              "blueprint_id = $1",
                              bp),
                   1);
  event_row other = ev;
  uuid_v7(other.id);
  snprintf(other.event_type, sizeof other.event_type, "invoice.created");
  OK(flow_trigger_handle(NULL, f->d, &other, 1, &err));
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM workflow_logs", NULL), 1);
  /* the inactive do not fire */
  OK(db_query(f->d, "UPDATE workflow_blueprints SET is_active = false", NULL, 0,
              NULL, &err));
  uuid_v7(other.id);
  snprintf(other.event_type, sizeof other.event_type, "invoice.paid");
  OK(flow_trigger_handle(NULL, f->d, &other, 1, &err));
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM workflow_logs", NULL), 1);
  drain(f->d);
  db_val v[] = {db_uuid(bp)};
  db_res *r = NULL;
  OK(db_query(f->d,
              "SELECT input, trigger_kind, trigger_key, status FROM "
              "workflow_logs WHERE blueprint_id = $1",
              v, 1, &r, &err));
  json *in;
  json_error je;
  const char *t = arena_strdup(a, db_res_text(r, 0, 0));
  assert_int_equal(json_parse(a, t, strlen(t), &in, &je), 0);
  assert_string_equal(str_of(in, "event_type"), "invoice.paid");
  assert_string_equal(str_of(in, "entity_id"), ev.entity_id);
  assert_string_equal(str_of(in, "event_id"), ev.id);
  assert_string_equal(json_get(in, "total_amount")->str, "1180.00");
  assert_string_equal(db_res_text(r, 0, 1), "event");
  char key[64];
  snprintf(key, sizeof key, "event:%s", ev.id);
  assert_string_equal(db_res_text(r, 0, 2), key);
  assert_string_equal(db_res_text(r, 0, 3), "completed");
  db_res_free(r);
  arena_free(a);
}

static const char *idem_header;
static const char *hdr(const api_req *r, const char *name) {
  (void)r;
  return !strcasecmp(name, "Idempotency-Key") ? idem_header : NULL;
}

static int webhook(db *d, const char *token, const char *body,
                   char run[37]) {
  arena *a = arena_new();
  api_req req = {.a = a, .method = "POST", .query = "", .body = body,
                 .body_len = strlen(body), .header = hdr};
  req.nparams = 1;
  req.params[0].name = "token";
  req.params[0].value = token;
  api_resp resp;
  api_resp_init(&resp);
  flow_webhook(d, &req, &resp);
  int st = resp.status;
  if (st == 202) {
    json *j;
    json_error je;
    assert_int_equal(json_parse(a, resp.body.data, resp.body.len, &j, &je), 0);
    snprintf(run, 37, "%s", str_of(j, "run_id"));
  } else {
    assert_null(strstr(buf_cstr(&resp.body), "workflow_blueprints"));
  }
  api_resp_free(&resp);
  arena_free(a);
  return st;
}

static void test_webhook_and_manual(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  const char *bp = mkbp(f->d, f->profile, "t:trigger,e:echo", "t>e", "webhook",
                        NULL, "tok_0123456789abcdef");
  char run[37], run2[37];
  idem_header = NULL;
  assert_int_equal(webhook(f->d, "tok_0123456789abcdef", "{\"order\":7}", run), 202);
  assert_int_equal(webhook(f->d, "tok_0123456789abcdeX", "{}", run2), 404);
  assert_int_equal(webhook(f->d, "../etc", "{}", run2), 404);
  assert_int_equal(webhook(f->d, "tok_0123456789abcdef", "[1]", run2), 400);
  assert_int_equal(webhook(f->d, "tok_0123456789abcdef", "{bad", run2), 400);
  idem_header = "delivery-1";
  assert_int_equal(webhook(f->d, "tok_0123456789abcdef", "{}", run2), 202);
  char run3[37];
  assert_int_equal(webhook(f->d, "tok_0123456789abcdef", "{}", run3), 202);
  assert_string_equal(run2, run3); /* one run per delivery */
  idem_header = NULL;
  drain(f->d);
  const json *steps;
  assert_string_equal(run_get(f->d, a, run, &steps, NULL, NULL), "completed");
  assert_int_equal(int_of(json_get(steps->items[0], "output"), "order"), 7);

  /* run_workflow: any trigger kind when active; refused when not */
  api_resp resp;
  char args[160];
  snprintf(args, sizeof args, "{\"id\":\"%s\",\"input\":{\"k\":1}}", bp);
  /* flow_blueprint_load belongs to the blueprints part: until it is on
   * main it finds nothing, and the rpc says so */
  call_rpc(f->d, f->profile, flow_rpc_run, args, &resp);
  assert_true(resp.status == 200 || resp.status == 404);
  api_resp_free(&resp);
  call_rpc(f->d, f->profile, flow_rpc_run, "{\"id\":\"x\"}", &resp);
  assert_int_equal(resp.status, 400);
  api_resp_free(&resp);
  OK(db_query(f->d, "UPDATE workflow_blueprints SET is_active = false", NULL, 0,
              NULL, &err));
  call_rpc(f->d, f->profile, flow_rpc_run, args, &resp);
  assert_true(resp.status == 409 || resp.status == 404);
  api_resp_free(&resp);
  assert_int_equal(webhook(f->d, "tok_0123456789abcdef", "{}", run2), 409);
  arena_free(a);
}

static void test_purge(void **state) {
  test_fixture *f = *state;
  const char *bp = mkbp(f->d, f->profile, "t:trigger", "", "manual", NULL, NULL);
  char r1[37], r2[37];
  start(f->d, f->profile, bp, "{}", r1);
  drain(f->d);
  start(f->d, f->profile, bp, "{}", r2); /* still running: kept */
  int64_t removed = 0;
  OK(flow_purge(f->d, test_clock() + 31 * US_PER_DAY, &removed, &err));
  assert_int_equal(removed, 1);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM workflow_logs WHERE id = $1", r1), 0);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM workflow_logs WHERE id = $1", r2), 1);
}

/* An effect lives as long as its run: a failed run's effect outlives the
 * old two days, so a retry weeks later replays it instead of making it
 * again; once the run is purged its effects go too. */
static void test_purge_keeps_effects_of_runs(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  const char *bp = mkbp(f->d, f->profile, "t:trigger,s:effect,x:failglobal",
                        "t>s,s>x", "manual", NULL, NULL);
  fail_budget = 1;
  char run[37];
  start(f->d, f->profile, bp, "{}", run);
  drain(f->d);
  assert_string_equal(run_get(f->d, a, run, NULL, NULL, NULL), "failed");
  assert_int_equal(calls_of("effect"), 1);
  const char *effects_sql =
      "SELECT count(*) FROM workflow_effects WHERE run_id = $1";
  assert_int_equal(test_count(f->d, effects_sql, run), 1);
  /* ten days on: the failed run is kept, and so is its effect */
  advance_s(10 * 24 * 3600);
  int64_t removed = -1;
  OK(flow_purge(f->d, test_clock(), &removed, &err));
  assert_int_equal(removed, 0);
  assert_int_equal(test_count(f->d, effects_sql, run), 1);
  api_resp resp;
  char args[160];
  snprintf(args, sizeof args, "{\"run_id\":\"%s\"}", run);
  call_rpc(f->d, f->profile, flow_rpc_retry, args, &resp);
  assert_int_equal(resp.status, 200);
  api_resp_free(&resp);
  snprintf(args, sizeof args, "{\"run_id\":\"%s\",\"from_step\":\"s\"}",
           run);
  /* the retry starts at the failed node x; then once more from s, whose
   * effect was made ten days ago */
  drain(f->d);
  assert_string_equal(run_get(f->d, a, run, NULL, NULL, NULL), "completed");
  fail_budget = 1;
  db_val rv[] = {db_uuid(run)};
  OK(db_query(f->d, "UPDATE workflow_logs SET status = 'failed' WHERE id = $1",
              rv, 1, NULL, &err));
  call_rpc(f->d, f->profile, flow_rpc_retry, args, &resp);
  assert_int_equal(resp.status, 200);
  api_resp_free(&resp);
  drain(f->d);
  assert_int_equal(calls_of("effect"), 1); /* replayed, not made again */
  /* an effect whose run is gone goes once it is past the retention */
  advance_s(31 * 24 * 3600);
  OK(flow_purge(f->d, test_clock(), &removed, &err));
  assert_int_equal(test_count(f->d,
                              "SELECT count(*) FROM workflow_logs WHERE id = $1",
                              run),
                   0);
  assert_int_equal(test_count(f->d, effects_sql, run), 0);
  assert_int_equal(removed, 2);
  arena_free(a);
}

/* The bytes of the run's step_results, context and whole row. */
static int64_t row_bytes(db *d, const char *run, const char *col) {
  char sql[256];
  if (db_kind_of(d) == DB_POSTGRES)
    snprintf(sql, sizeof sql,
             "SELECT octet_length((%s)::text) FROM workflow_logs WHERE id = "
             "$1",
             col);
  else
    snprintf(sql, sizeof sql,
             "SELECT length(CAST((%s) AS BLOB)) FROM workflow_logs WHERE id = "
             "$1",
             col);
  return test_count(d, sql, run);
}

/* A list of n customers (n <= 60). */
static const char *items_of(int n) {
  static char items[2048];
  size_t k = 0;
  k += (size_t)snprintf(items + k, sizeof items - k, "[");
  for (int i = 0; i < n; i++)
    k += (size_t)snprintf(items + k, sizeof items - k,
                          "%s{\"customer_id\":\"cu-%02d\"}", i ? "," : "", i);
  snprintf(items + k, sizeof items - k, "]");
  return items;
}

/* The reviewer's case: a for_each over 20 items whose branch answers 900 KB
 * each, after a top-level node of 900 KB, made an 18 MB row. Now each
 * entry's input and output is at most 16 KiB (larger: the truncated
 * marker), an output in the context at most 256 KiB (a later step reads
 * the marker), and step_results at most about 1 MiB (then the summary). */
static void test_row_caps(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  configure(64, 0, 0);
  const char *bp = mkbp(f->d, f->profile, "t:trigger,g:big,f:list,b:big,r:reader",
                        "t>g,g>f,f>b,b>r", "manual", NULL, NULL);
  list_items = items_of(20);
  big_bytes = 900 * 1000;
  char run[37];
  start(f->d, f->profile, bp, "{}", run);
  drain(f->d);
  const json *steps, *ctx;
  const char *error;
  const char *st = run_get(f->d, a, run, &steps, &ctx, &error);
  if (strcmp(st, "completed")) fail_msg("run %s: %s", st, error);
  assert_int_equal(steps->n, 3 + 20 * 2);
  for (size_t i = 0; i < steps->n; i++) {
    const json *en = steps->items[i];
    const char *node = str_of(en, "node_id");
    if (strcmp(node, "g") && strcmp(node, "b")) continue;
    const json *out = json_get(en, "output"), *in = json_get(en, "input");
    assert_int_equal(json_get(out, "truncated")->type, JSON_TRUE);
    assert_int_equal(int_of(out, "bytes"), 900 * 1000 + 11);
    assert_int_equal(int_of(in, "bytes"), 900 * 1000 + 10);
    assert_true(strlen(str_of(out, "preview")) <= 1024);
    assert_true(strncmp(str_of(out, "preview"), "{\"body\":\"yx", 11) == 0);
  }
  /* later steps read the marker in place of the output */
  for (size_t i = 0; i < steps->n; i++) {
    const json *en = steps->items[i];
    if (strcmp(str_of(en, "node_id"), "r")) continue;
    const json *out = json_get(en, "output");
    assert_int_equal(json_get(out, "g")->type, JSON_TRUE);
    assert_int_equal(json_get(out, "b")->type, JSON_TRUE);
    assert_int_equal(int_of(out, "g_bytes"), 900 * 1000 + 11);
  }
  assert_int_equal(json_get(json_get(json_get(ctx, "nodes"), "g"), "truncated")
                       ->type,
                   JSON_TRUE);
  assert_true(row_bytes(f->d, run, "step_results") < 200 * 1024);
  assert_true(row_bytes(f->d, run, "context") < 16 * 1024);

  /* entries just under the entry cap: step_results stops near 1 MiB, the
   * summary holding the latest */
  big_bytes = 15 * 1000;
  list_items = items_of(40);
  char run2[37];
  start(f->d, f->profile, bp, "{}", run2);
  drain(f->d);
  assert_string_equal(run_get(f->d, a, run2, &steps, &ctx, NULL), "completed");
  int64_t sb = row_bytes(f->d, run2, "step_results");
  assert_true(sb <= 1024 * 1024 + 64 * 1024);
  assert_true(sb > 900 * 1024);
  const json *last = steps->items[steps->n - 1];
  assert_string_equal(str_of(last, "type"), "summary");
  assert_true(int_of(last, "omitted") > 0);
  assert_int_equal((int64_t)steps->n - 1 + int_of(last, "omitted"),
                   3 + 40 * 2);
  /* 15 kB fits an entry and the context: kept whole */
  assert_null(json_get(json_get(json_get(ctx, "nodes"), "g"), "truncated"));
  list_items = "[]";
  big_bytes = 0;
  arena_free(a);
}

/* The cron poller with nothing due takes no lock: while another
 * connection holds the write lock (SQLite: a write transaction; PostgreSQL:
 * the blueprints table locked EXCLUSIVE, which a SELECT ... FOR UPDATE
 * waits for and a plain read does not), a poll answers 0 at once. It used
 * to open a write transaction on every worker loop. */
typedef struct holder {
  const char *url;
  pthread_barrier_t *held, *done;
  int failed;
} holder;

static void *hold_lock(void *p) {
  holder *h = p;
  db *d;
  db_err e;
  if (db_open(h->url, &d, &e)) {
    h->failed = 1;
    pthread_barrier_wait(h->held);
    pthread_barrier_wait(h->done);
    return NULL;
  }
  if (db_begin(d, 1, &e) ||
      (db_kind_of(d) == DB_POSTGRES &&
       db_exec(d, "LOCK TABLE workflow_blueprints IN EXCLUSIVE MODE", &e)))
    h->failed = 1;
  pthread_barrier_wait(h->held);
  pthread_barrier_wait(h->done);
  db_rollback(d);
  db_close(d);
  return NULL;
}

static void test_cron_idle_takes_no_lock(void **state) {
  test_fixture *f = *state;
  const char *bp = mkbp(f->d, f->profile, "t:trigger,e:echo", "t>e", "cron",
                        NULL, NULL);
  db_val v[] = {db_uuid(bp), db_ts(time_now_us() + 3600 * 1000000LL)};
  OK(db_query(f->d,
              "UPDATE workflow_blueprints SET cron = '0 21 * * *', timezone = "
              "'UTC', next_run_at = $2 WHERE id = $1",
              v, 2, NULL, &err));
  if (db_kind_of(f->d) == DB_POSTGRES) /* before the fix: it would wait */
    OK(db_exec(f->d, "SET lock_timeout = '3s'", &err));
  pthread_barrier_t held, done;
  pthread_barrier_init(&held, NULL, 2);
  pthread_barrier_init(&done, NULL, 2);
  holder h = {f->url, &held, &done, 0};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, hold_lock, &h), 0);
  pthread_barrier_wait(&held);
  int64_t t0 = time_mono_us();
  int n = flow_cron_poll(NULL, f->d, "idle", &err);
  int64_t took = time_mono_us() - t0;
  pthread_barrier_wait(&done);
  pthread_join(th, NULL);
  pthread_barrier_destroy(&held);
  pthread_barrier_destroy(&done);
  assert_int_equal(h.failed, 0);
  if (n != 0) fail_msg("idle poll: %d [%s] %s", n, err.code, err.message);
  assert_true(took < 1000000);
  if (db_kind_of(f->d) == DB_POSTGRES)
    OK(db_exec(f->d, "SET lock_timeout = 0", &err));
  /* when due, the poll still starts the run */
  db_val w[] = {db_uuid(bp), db_ts(time_now_us() - 1000000LL)};
  OK(db_query(f->d, "UPDATE workflow_blueprints SET next_run_at = $2 WHERE id = $1",
              w, 2, NULL, &err));
  assert_int_equal(flow_cron_poll(NULL, f->d, "due", &err), 1);
  assert_int_equal(test_count(f->d,
                              "SELECT count(*) FROM workflow_logs WHERE "
                              "blueprint_id = $1 AND trigger_kind = 'cron'",
                              bp),
                   1);
  assert_int_equal(flow_cron_poll(NULL, f->d, "again", &err), 0);
}

int main(int argc, char **argv) {
  test_backend_from_args(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_linear, setup, teardown),
      cmocka_unit_test_setup_teardown(test_branches, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wait_restart, setup, teardown),
      cmocka_unit_test_setup_teardown(test_for_each, setup, teardown),
      cmocka_unit_test_setup_teardown(test_for_each_retry_identity, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_retries, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fail_and_stop, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retry_run, setup, teardown),
      cmocka_unit_test_setup_teardown(test_profile_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dead_worker, setup, teardown),
      cmocka_unit_test_setup_teardown(test_two_workers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_event_trigger, setup, teardown),
      cmocka_unit_test_setup_teardown(test_webhook_and_manual, setup, teardown),
      cmocka_unit_test_setup_teardown(test_purge, setup, teardown),
      cmocka_unit_test_setup_teardown(test_purge_keeps_effects_of_runs, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_row_caps, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cron_idle_takes_no_lock, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

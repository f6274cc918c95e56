/* engine.c - the durable runs of workflows (engine.h, docs/workflows.md
 * "Runs"): starting a run, claiming due steps under a lease, persisting
 * each step's start and end in its own commit, following the edges,
 * waits, for_each scopes, retries with back-off, the per-business limit of
 * running steps, and the retention purge.
 *
 * A step goes through three commits:
 *
 *   claim     one statement marks a batch of due workflow_steps rows
 *             'running' with a short lease (due_at = now + CLAIM_LEASE_S)
 *             and claims + 1, the fencing token every later write of this
 *             worker checks;
 *   commit 1  the run's row is locked, the step's entry is appended to
 *             workflow_logs.step_results (status "running") and the
 *             step's lease extended to the step lease;
 *   (the node runs, outside any transaction)
 *   commit 2  the run's row is locked again, the claim is checked, the
 *             entry updated with the outcome, the output stored in the
 *             run's context (or, inside a for_each, in the scope's locals),
 *             the steps that follow inserted, the finished step deleted,
 *             and the run ended when no step of it remains.
 *
 * The run's row is always locked before its steps, by every writer
 * (commits 1 and 2, cancel, retry), so concurrent steps of one run take
 * their turns on it instead of deadlocking. A worker that dies between the
 * claim and commit 2 leaves its step 'running' with a lease in the past:
 * the next claim takes it with attempt + 1 and runs the node again, whose
 * side effects are kept single by the step's effect key (effects.h).
 *
 * Every statement of a step reaches its rows by a key (the run's, the
 * step's, the run's steps by the unique index), so they go through
 * db_query_fixed: PostgreSQL plans each once per connection. Only the
 * claim, whose plan depends on how many steps are due, is planned per
 * run. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/crypto.h"
#include "base/json.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/uuid.h"
#include "flow/bpstore.h"
#include "flow/engine.h"
#include "flow/env.h"
#include "flow/flow.h"
#include "flow/node.h"
#include "jobs/worker.h"

#define CLAIM_BATCH 8
#define CLAIM_WINDOW (4 * CLAIM_BATCH) /* due steps looked at per claim */
/* A claimed step's lease until it starts; commit 1 extends it to the
 * step's lease. Short, so the steps of a batch whose worker died are free
 * again soon (they also count against the business's limit meanwhile). */
#define CLAIM_LEASE_S 10
#define CHAIN_MAX 16 /* a run's next steps taken at once after one ends */
#define BACKOFF_BASE_MS 1000L
#define BACKOFF_MAX_MS (5L * 60 * 1000)
#define PURGE_EVERY_US (3600LL * 1000000)
#define PURGE_BATCH 1000
/* A for_each item's scope is "<node>#<the item's identity>", so that a
 * for_each run again (retry_run) gives the same record the same scope and
 * so the same effect keys, whatever its place in the new list. The
 * identity: the item's "id", "invoice_id", "product_id" or "customer_id"
 * (the first present, in that order: an overdue invoice names its
 * customer too) when it is a short run of safe characters, else "~" and
 * the first 16 hex digits of the SHA-256 of the item's JSON. A whole
 * scope longer than SCOPE_MAX (nested for_each) becomes "<node>#~<hash
 * of that scope>": "wf:" + run (36) + ":" + node (BP_ID_MAX) + ":" +
 * scope stays within IDEM_KEY_MAX (255), as biz_run's keys must. */
/* The byte caps of a run's row (docs/workflows.md, "Runs", "Limits"): an
 * entry's input and output each, the whole step_results (a new entry gets
 * a slot only while ENTRY_RESERVE more bytes fit: that is what one entry
 * may grow to at its end), one node's output in the context, and the whole
 * context. Larger JSON is kept as {"truncated": true, "bytes": N,
 * "preview": "<its first PREVIEW_MAX bytes as text>"}; without them an
 * http_request of 1 MiB per for_each item made rows REST would not send. */
#define ENTRY_IO_MAX (16 * 1024)
#define PREVIEW_MAX 1024
#define STEP_RESULTS_MAX (1024 * 1024)
#define ENTRY_RESERVE (2 * ENTRY_IO_MAX + 4 * PREVIEW_MAX)
#define CONTEXT_OUTPUT_MAX (256 * 1024)
#define CONTEXT_MAX (1024 * 1024)
#define ITEM_ID_MAX 64
#define SCOPE_MAX 150

/* ---- settings ------------------------------------------------------------------- */

static flow_settings settings = {8, 60, 5, 30, 500, "", "", "", 8000, ""};

static const char *or_empty(const char *s) { return s ? s : ""; }

void flow_configure(const flow_settings *s) {
  flow_settings v = *s;
  if (v.max_running_per_profile <= 0) v.max_running_per_profile = 8;
  if (v.step_lease_s <= 0) v.step_lease_s = 60;
  if (v.max_attempts <= 0) v.max_attempts = 5;
  if (v.log_retention_days <= 0) v.log_retention_days = 30;
  if (v.max_step_results <= 0) v.max_step_results = 500;
  if (v.max_step_results < 2) v.max_step_results = 2; /* one + the summary */
  if (v.llm_timeout_ms <= 0) v.llm_timeout_ms = 8000;
  v.llm_url = or_empty(v.llm_url), v.llm_key = or_empty(v.llm_key);
  v.llm_model = or_empty(v.llm_model), v.public_url = or_empty(v.public_url);
  settings = v;
}

const flow_settings *flow_settings_get(void) { return &settings; }

/* ---- test hooks ----------------------------------------------------------------- */

static flow_graph_loader graph_loader;
static int64_t (*clock_fn)(void);

void flow_engine_test_hooks(flow_graph_loader load, int64_t (*clock)(void)) {
  graph_loader = load;
  clock_fn = clock;
}

int64_t flow_engine_now(void) { return clock_fn ? clock_fn() : time_now_us(); }

int flow_engine_graph(db *d, arena *a, const char *profile_id,
                      const char *blueprint_id, int version, blueprint *out,
                      int *found, db_err *err) {
  if (graph_loader)
    return graph_loader(d, a, profile_id, blueprint_id, version, out, found,
                        err);
  return flow_version_load(d, a, profile_id, blueprint_id, version, out, found,
                           err);
}

static int is_pg(db *d) { return db_kind_of(d) == DB_POSTGRES; }

/* ---- starting a run ------------------------------------------------------------- */

int flow_run_start(db *d, arena *a, const flow_run_start_args *s,
                   char run_id[37], int *created, db_err *err) {
  int rc = -1, began = 0;
  *created = 0;
  run_id[0] = 0;
  blueprint bp;
  int found = 0;
  if (flow_engine_graph(d, a, s->profile_id, s->blueprint_id, s->version, &bp,
                        &found, err))
    return -1;
  if (!found) {
    snprintf(err->code, sizeof err->code, "P0002");
    snprintf(err->message, sizeof err->message,
             "version %d of the workflow does not exist", s->version);
    return -1;
  }
  if (s->own_tx) {
    if (db_begin(d, 1, err)) return -1;
    began = 1;
  }
  int64_t now = flow_engine_now();
  char id[37];
  uuid_v7(id);
  db_val v[] = {db_uuid(s->profile_id),
                db_uuid(id),
                db_uuid(s->blueprint_id),
                s->trigger_event_id ? db_uuid(s->trigger_event_id) : db_null(),
                db_int(s->version),
                db_text(s->trigger_kind ? s->trigger_kind : "manual"),
                s->trigger_key ? db_text(s->trigger_key) : db_null(),
                db_json(s->input && *s->input ? s->input : "{}"),
                db_bool(s->rehearsal),
                db_ts(now)};
  db_res *r = NULL;
  if (db_query_fixed(d,
               "INSERT INTO workflow_logs (profile_id, id, blueprint_id, "
               "status, trigger_event_id, version, trigger_kind, trigger_key, "
               "input, context, rehearsal, started_at, created_at, "
               "updated_at) VALUES ($1, $2, $3, 'running', $4, $5, $6, $7, "
               "$8, '{\"nodes\":{},\"vars\":{}}', $9, $10, $10, $10) ON "
               "CONFLICT (profile_id, blueprint_id, trigger_key) WHERE "
               "trigger_key IS NOT NULL DO NOTHING RETURNING id",
               v, 10, &r, err))
    goto out;
  int fresh = db_res_rows(r) > 0;
  db_res_free(r);
  r = NULL;
  if (!fresh) { /* the trigger fired already: answer that run */
    db_val k[] = {db_uuid(s->profile_id), db_uuid(s->blueprint_id),
                  db_text(s->trigger_key ? s->trigger_key : "")};
    if (db_query_fixed(d,
                 "SELECT id FROM workflow_logs WHERE profile_id = $1 AND "
                 "blueprint_id = $2 AND trigger_key = $3",
                 k, 3, &r, err))
      goto out;
    if (db_res_rows(r) > 0)
      snprintf(run_id, 37, "%s", db_res_text(r, 0, 0));
    rc = 0;
    goto out;
  }
  char sid[37];
  uuid_v7(sid);
  db_val sv[] = {db_uuid(s->profile_id), db_uuid(sid), db_uuid(id),
                 db_text(bp.nodes[bp.trigger].id), db_ts(now)};
  if (db_query_fixed(d,
               "INSERT INTO workflow_steps (profile_id, id, run_id, node_id, "
               "scope, status, due_at, created_at, updated_at) VALUES ($1, "
               "$2, $3, $4, '', 'ready', $5, $5, $5)",
               sv, 5, NULL, err))
    goto out;
  snprintf(run_id, 37, "%s", id);
  *created = 1;
  rc = 0;
out:
  db_res_free(r);
  if (began) {
    if (rc == 0 && db_commit(d, err)) rc = -1;
    if (rc) db_rollback(d);
  }
  if (rc) *created = 0;
  return rc;
}

/* ---- JSON helpers --------------------------------------------------------------- */

static const json *parse_or_null(arena *a, const char *text) {
  if (!text || !*text) return NULL;
  json *j;
  json_error je;
  if (json_parse(a, text, strlen(text), &j, &je)) return NULL;
  return j;
}

/* Writes into w the members of base that over does not have, then those
 * of over (either may be NULL or not an object). */
static void merge_members(json_obj *w, arena *a, const json *base,
                          const json *over) {
  if (base && base->type == JSON_OBJECT)
    for (size_t i = 0; i < base->n; i++)
      if (!over || !json_get(over, base->keys[i]))
        json_obj_raw(w, base->keys[i], json_to_text(a, base->items[i]));
  if (over && over->type == JSON_OBJECT)
    for (size_t i = 0; i < over->n; i++)
      json_obj_raw(w, over->keys[i], json_to_text(a, over->items[i]));
}

/* {"nodes": base.nodes + over.nodes, "vars": base.vars + over.vars} as
 * text in a. */
static const char *merge_scopes(arena *a, const json *base, const json *over) {
  buf b;
  buf_init(&b, 0);
  json_obj o, n, v;
  json_obj_open(&o, &b);
  json_obj_nest(&o, "nodes", &n);
  merge_members(&n, a, json_get_obj(base, "nodes"), json_get_obj(over, "nodes"));
  json_obj_close(&n);
  json_obj_nest(&o, "vars", &v);
  merge_members(&v, a, json_get_obj(base, "vars"), json_get_obj(over, "vars"));
  json_obj_close(&v);
  json_obj_close(&o);
  const char *s = arena_strdup(a, buf_cstr(&b));
  buf_free(&b);
  return s;
}

/* ---- claims --------------------------------------------------------------------- */

typedef struct claimed {
  char profile_id[37], id[37], run_id[37];
  char node_id[BP_ID_MAX + 1];
  char *scope, *item, *locals; /* malloc'd */
  int claims, attempt;
  int64_t result_index; /* -1: no entry yet */
  int64_t wake_at;      /* 0: none */
} claimed;

static void claimed_free(claimed *c) {
  free(c->scope), free(c->item), free(c->locals);
  c->scope = c->item = c->locals = NULL;
}

static char *dup_cell(const db_res *r, int row, int col) {
  if (db_res_isnull(r, row, col)) return NULL;
  const char *s = db_res_text(r, row, col);
  size_t n = strlen(s);
  char *p = malloc(n + 1);
  if (!p) abort();
  memcpy(p, s, n + 1);
  return p;
}

/* Row i of a claim's RETURNING into c. */
static void claimed_read(const db_res *r, int i, claimed *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->profile_id, sizeof c->profile_id, "%s", db_res_text(r, i, 0));
  snprintf(c->id, sizeof c->id, "%s", db_res_text(r, i, 1));
  snprintf(c->run_id, sizeof c->run_id, "%s", db_res_text(r, i, 2));
  snprintf(c->node_id, sizeof c->node_id, "%s", db_res_text(r, i, 3));
  c->scope = dup_cell(r, i, 4);
  c->item = dup_cell(r, i, 5);
  c->locals = dup_cell(r, i, 6);
  c->claims = (int)db_res_int(r, i, 7);
  c->attempt = (int)db_res_int(r, i, 8);
  c->result_index = db_res_isnull(r, i, 9) ? -1 : db_res_int(r, i, 9);
  c->wake_at = db_res_isnull(r, i, 10) ? 0 : db_res_ts(r, i, 10);
}

/* Claims up to CLAIM_BATCH due steps, at most max_running_per_profile
 * running per business (counting running steps whose lease holds). On
 * PostgreSQL several claimers at once may each see the same count, so the
 * limit may be passed by as many as claim at that moment. */
static int claim(db *d, int64_t now, claimed *out, int *n, db_err *err) {
  static const char *const sql[2] = {
      "UPDATE workflow_steps SET status = 'running', claims = claims + 1, "
      "attempt = CASE WHEN status = 'waiting' THEN attempt ELSE attempt + 1 "
      "END, due_at = $2, updated_at = $1 WHERE (profile_id, id) IN (SELECT "
      "c.profile_id, c.id FROM (SELECT profile_id, id, due_at, row_number() "
      "OVER (PARTITION BY profile_id ORDER BY due_at, id) AS rn FROM (SELECT "
      "profile_id, id, due_at FROM workflow_steps WHERE due_at <= $1 ORDER "
      "BY due_at LIMIT $3)) c WHERE c.rn + (SELECT count(*) FROM "
      "workflow_steps x WHERE x.profile_id = c.profile_id AND x.status = "
      "'running' AND x.due_at > $1) <= $4 ORDER BY c.due_at LIMIT $5) "
      "RETURNING profile_id, id, run_id, node_id, scope, item, locals, "
      "claims, attempt, result_index, wake_at",
      "WITH c AS MATERIALIZED (SELECT profile_id, id, due_at FROM "
      "workflow_steps WHERE due_at <= $1 ORDER BY due_at LIMIT $3 FOR UPDATE "
      "SKIP LOCKED), k AS (SELECT w.profile_id, w.id FROM (SELECT "
      "c.profile_id, c.id, c.due_at, row_number() OVER (PARTITION BY "
      "c.profile_id ORDER BY c.due_at, c.id) AS rn FROM c) w WHERE w.rn + "
      "(SELECT count(*) FROM workflow_steps x WHERE x.profile_id = "
      "w.profile_id AND x.status = 'running' AND x.due_at > $1) <= $4 ORDER "
      "BY w.due_at LIMIT $5) UPDATE workflow_steps t SET status = "
      "'running', claims = t.claims + 1, attempt = CASE WHEN t.status = "
      "'waiting' THEN t.attempt ELSE t.attempt + 1 END, due_at = $2, "
      "updated_at = $1 FROM k WHERE t.profile_id = k.profile_id AND t.id = "
      "k.id RETURNING t.profile_id, t.id, t.run_id, t.node_id, t.scope, "
      "t.item, t.locals, t.claims, t.attempt, t.result_index, t.wake_at"};
  int lease_s = settings.step_lease_s < CLAIM_LEASE_S ? settings.step_lease_s
                                                      : CLAIM_LEASE_S;
  db_val v[] = {db_ts(now), db_ts(now + (int64_t)lease_s * 1000000),
                db_int(CLAIM_WINDOW), db_int(settings.max_running_per_profile),
                db_int(CLAIM_BATCH)};
  db_res *r = NULL;
  *n = 0;
  if (db_query(d, sql[is_pg(d)], v, 5, &r, err)) return -1;
  for (int i = 0; i < db_res_rows(r) && i < CLAIM_BATCH; i++)
    claimed_read(r, i, &out[(*n)++]);
  db_res_free(r);
  return 0;
}

/* Claims the step id when it is ready and due: the next step of a run
 * whose step this worker just ended, taken at once instead of through the
 * queue (*got 0 when another worker was first, or it is not due). It
 * replaces the step that ended, so the business's count of running steps
 * stays as it was. */
static int claim_next(db *d, const char *profile_id, const char *id,
                      int64_t now, claimed *out, int *got, db_err *err) {
  db_val v[] = {db_uuid(profile_id), db_uuid(id),
                db_ts(now + (int64_t)CLAIM_LEASE_S * 1000000), db_ts(now)};
  db_res *r = NULL;
  *got = 0;
  if (db_query_fixed(d,
               "UPDATE workflow_steps SET status = 'running', claims = claims "
               "+ 1, attempt = attempt + 1, due_at = $3, updated_at = $4 "
               "WHERE profile_id = $1 AND id = $2 AND status = 'ready' AND "
               "due_at <= $4 RETURNING profile_id, id, run_id, node_id, "
               "scope, item, locals, claims, attempt, result_index, wake_at",
               v, 4, &r, err))
    return -1;
  if (db_res_rows(r) == 1) {
    claimed_read(r, 0, out);
    *got = 1;
  }
  db_res_free(r);
  return 0;
}


/* The run's row as a step needs it. */
typedef struct run_row {
  const char *blueprint_id, *status, *input, *context, *last;
  int version, rehearsal;
  int64_t len;
  int64_t results_bytes, context_bytes; /* of step_results, context */
} run_row;

/* text, or when it is longer than max bytes the truncated marker (see
 * ENTRY_IO_MAX) in a. text is JSON; the preview is cut at a character. */
static const char *cap_json(arena *a, const char *text, size_t max) {
  size_t n = text ? strlen(text) : 0;
  if (n <= max) return text;
  size_t p = n < PREVIEW_MAX ? n : PREVIEW_MAX;
  while (p > 0 && ((unsigned char)text[p] & 0xC0) == 0x80) p--;
  buf b;
  buf_init(&b, 0);
  buf_printf(&b, "{\"truncated\":true,\"bytes\":%zu,\"preview\":", n);
  json_write_str(&b, text, p);
  buf_putc(&b, '}');
  const char *out = arena_strdup(a, buf_cstr(&b));
  buf_free(&b);
  return out;
}

/* ---- the step's entry in step_results ------------------------------------------- */

typedef struct entry {
  const char *node_id, *type, *scope, *status;
  int64_t started_at, finished_at, retry_at;
  int attempt;
  const char *input, *output, *error; /* JSON text, JSON text, text */
} entry;

static const char *entry_json(arena *a, const entry *e) {
  buf b;
  buf_init(&b, 0);
  json_obj o;
  json_obj_open(&o, &b);
  json_obj_str(&o, "node_id", e->node_id);
  json_obj_str(&o, "type", e->type);
  if (e->scope && *e->scope) json_obj_str(&o, "scope", e->scope);
  json_obj_str(&o, "status", e->status);
  json_obj_ts(&o, "started_at", e->started_at);
  if (e->finished_at) json_obj_ts(&o, "finished_at", e->finished_at);
  else json_obj_null(&o, "finished_at");
  json_obj_int(&o, "attempt", e->attempt);
  json_obj_raw(&o, "input",
               e->input ? cap_json(a, e->input, ENTRY_IO_MAX) : "null");
  json_obj_raw(&o, "output",
               e->output ? cap_json(a, e->output, ENTRY_IO_MAX) : "null");
  json_obj_str(&o, "error", e->error);
  if (e->retry_at) json_obj_ts(&o, "retry_at", e->retry_at);
  json_obj_close(&o);
  const char *s = arena_strdup(a, buf_cstr(&b));
  buf_free(&b);
  return s;
}

/* The summary that stands in the last kept slot once a run has more steps
 * than max_step_results: how many entries were not kept, and the entry
 * written last. */
static const char *summary_json(arena *a, int64_t omitted, const char *last) {
  return arena_printf(
      a,
      "{\"node_id\":null,\"type\":\"summary\",\"status\":\"truncated\","
      "\"omitted\":%lld,\"message\":\"%lld more step entries were not kept "
      "(max_step_results); last holds the latest\",\"last\":%s}",
      (long long)omitted, (long long)omitted, last);
}

/* Where the step's entry goes, within the cap, and what is written there.
 * *idx: the step's slot (-1: none yet), set to the slot used. *append 1:
 * appended at the end; 0: written over slot *idx. len and last: the
 * array's length and last element as the locked row has them. */
static const char *entry_slot(arena *a, int64_t len, int64_t bytes,
                              const char *last, int64_t *idx,
                              const char *text, int *append) {
  int64_t cap = settings.max_step_results;
  const json *lj = parse_or_null(a, last);
  const json *lt = json_get(lj, "type");
  int last_is_summary = lt && lt->type == JSON_STRING &&
                        !strcmp(lt->str, "summary") && json_get(lj, "omitted");
  int64_t om = 0;
  if (last_is_summary) json_int64(json_get(lj, "omitted"), &om);
  *append = 0;
  if (*idx >= 0 && *idx < len)
    return *idx == len - 1 && last_is_summary ? summary_json(a, om, text)
                                              : text;
  if (len < cap - 1 && bytes + ENTRY_RESERVE <= STEP_RESULTS_MAX) {
    /* a slot of its own */
    *idx = len, *append = 1;
    return text;
  }
  if (!last_is_summary) { /* the summary takes the cap's last slot */
    *idx = len, *append = 1;
    return summary_json(a, 1, text);
  }
  *idx = len - 1;
  return summary_json(a, om + 1, text);
}

/* What one step's commit changes on the run's row, in one statement. */
typedef struct log_change {
  int64_t idx;         /* the entry's slot (-1: none yet) */
  const char *entry;   /* the entry's JSON */
  const char *node_id; /* NULL, or store output (and vars) in context */
  const char *output, *vars;
  const char *status;  /* NULL: unchanged */
  int ends;            /* finished_at = now, error = error */
  const char *error;
} log_change;

static int log_update(db *d, arena *a, const claimed *c,
                      const run_row *rr, log_change *ch, int64_t now,
                      db_err *err) {
  static const char *const sql[2] = {
      "UPDATE workflow_logs SET step_results = CASE WHEN $3 IS NULL THEN "
      "json_insert(step_results, '$[#]', json($4)) ELSE "
      "json_set(step_results, '$[' || $3 || ']', json($4)) END, context = "
      "CASE WHEN $5 IS NULL THEN context ELSE json_set(context, "
      "'$.nodes.\"' || $5 || '\"', json($6), '$.vars', "
      "json_patch(coalesce(json_extract(context, '$.vars'), '{}'), "
      "json($7))) END, status = coalesce($8, status), finished_at = CASE "
      "WHEN $9 THEN $10 ELSE finished_at END, error = CASE WHEN $9 THEN $11 "
      "ELSE error END, updated_at = $10 WHERE profile_id = $1 AND id = $2",
      "UPDATE workflow_logs SET step_results = CASE WHEN $3::text IS NULL "
      "THEN step_results || jsonb_build_array($4::jsonb) ELSE "
      "jsonb_set(step_results, ARRAY[$3::text], $4::jsonb) END, context = "
      "CASE WHEN $5::text IS NULL THEN context ELSE jsonb_set(jsonb_set("
      "context, '{nodes}', coalesce(context -> 'nodes', '{}'::jsonb) || "
      "jsonb_build_object($5::text, $6::jsonb)), '{vars}', coalesce(context "
      "-> 'vars', '{}'::jsonb) || $7::jsonb) END, status = coalesce($8::text, "
      "status), finished_at = CASE WHEN $9 THEN $10 ELSE finished_at END, "
      "error = CASE WHEN $9 THEN $11::text ELSE error END, updated_at = $10 "
      "WHERE profile_id = $1 AND id = $2"};
  int append = 0;
  const char *text = entry_slot(a, rr->len, rr->results_bytes, rr->last,
                                &ch->idx, ch->entry, &append);
  char is[24];
  snprintf(is, sizeof is, "%lld", (long long)ch->idx);
  db_val v[] = {db_uuid(c->profile_id),
                db_uuid(c->run_id),
                append ? db_null() : db_text(is),
                db_json(text),
                ch->node_id ? db_text(ch->node_id) : db_null(),
                db_json(ch->output ? ch->output : "{}"),
                db_json(ch->vars ? ch->vars : "{}"),
                ch->status ? db_text(ch->status) : db_null(),
                db_bool(ch->ends),
                db_ts(now),
                ch->error ? db_text(ch->error) : db_null()};
  return db_query_fixed(d, sql[is_pg(d)], v, 11, NULL, err);
}

/* ---- one step ------------------------------------------------------------------- */

/* The run's row as a step needs it, locked for the transaction (full: with
 * what the node reads). */
static int lock_run(db *d, arena *a, const claimed *c, int full, run_row *rr,
                    int *found, db_err *err) {
  static const char *const sql[2][2] = {
      {"SELECT status, json_array_length(step_results), "
       "json_extract(step_results, '$[#-1]'), length(CAST(step_results AS "
       "BLOB)), length(CAST(context AS BLOB)) FROM workflow_logs WHERE "
       "profile_id = $1 AND id = $2",
       "SELECT status, json_array_length(step_results), "
       "json_extract(step_results, '$[#-1]'), length(CAST(step_results AS "
       "BLOB)), length(CAST(context AS BLOB)), blueprint_id, version, input, "
       "context, rehearsal FROM workflow_logs WHERE profile_id = $1 AND id = "
       "$2"},
      {"SELECT status, jsonb_array_length(step_results), step_results -> "
       "(jsonb_array_length(step_results) - 1), "
       "octet_length(step_results::text), octet_length(context::text) FROM "
       "workflow_logs WHERE profile_id = $1 AND id = $2 FOR UPDATE",
       "SELECT status, jsonb_array_length(step_results), step_results -> "
       "(jsonb_array_length(step_results) - 1), "
       "octet_length(step_results::text), octet_length(context::text), "
       "blueprint_id, version, input, context, rehearsal FROM workflow_logs "
       "WHERE profile_id = $1 AND id = $2 FOR UPDATE"}};
  db_val v[] = {db_uuid(c->profile_id), db_uuid(c->run_id)};
  db_res *r = NULL;
  memset(rr, 0, sizeof *rr);
  *found = 0;
  if (db_query_fixed(d, sql[is_pg(d)][full], v, 2, &r, err)) return -1;
  if (db_res_rows(r) > 0) {
    *found = 1;
    rr->status = arena_strdup(a, db_res_text(r, 0, 0));
    rr->len = db_res_int(r, 0, 1);
    rr->last = db_res_isnull(r, 0, 2) ? NULL : arena_strdup(a, db_res_text(r, 0, 2));
    rr->results_bytes = db_res_int(r, 0, 3);
    rr->context_bytes = db_res_int(r, 0, 4);
    if (full) {
      rr->blueprint_id = arena_strdup(a, db_res_text(r, 0, 5));
      rr->version = (int)db_res_int(r, 0, 6);
      rr->input = arena_strdup(a, db_res_text(r, 0, 7));
      rr->context = arena_strdup(a, db_res_text(r, 0, 8));
      rr->rehearsal = db_res_bool(r, 0, 9);
    }
  }
  db_res_free(r);
  return 0;
}

static int run_open(const run_row *rr) {
  return !strcmp(rr->status, "running") || !strcmp(rr->status, "waiting");
}

/* Runs a write of the step that holds only while the claim does (the
 * statement's $3 is the claim); *mine 0 when it changed nothing: the lease
 * ran out and another worker has the step. */
static int fenced(db *d, const char *sql, const db_val *v, int n, int *mine,
                  db_err *err) {
  db_res *r = NULL;
  if (db_query_fixed(d, sql, v, n, &r, err)) return -1;
  *mine = db_res_changes(r) > 0;
  db_res_free(r);
  return 0;
}

static int step_delete(db *d, const claimed *c, int *mine, db_err *err) {
  db_val v[] = {db_uuid(c->profile_id), db_uuid(c->id), db_int(c->claims)};
  return fenced(d,
                "DELETE FROM workflow_steps WHERE profile_id = $1 AND id = $2 "
                "AND claims = $3",
                v, 3, mine, err);
}

/* The run's other steps go, except those running elsewhere, which see the
 * run ended at their commit 2. */
static int steps_clear(db *d, const claimed *c, db_err *err) {
  db_val v[] = {db_uuid(c->profile_id), db_uuid(c->run_id)};
  return db_query_fixed(d,
                  "DELETE FROM workflow_steps WHERE profile_id = $1 AND run_id "
                  "= $2 AND status <> 'running'",
                  v, 2, NULL, err);
}

/* The run's status once this step's changes are in: completed when no step
 * is left (*ends 1), waiting when every step left waits, else running. */
static int run_next_status(db *d, const claimed *c, const char **status,
                           int *ends, db_err *err) {
  db_val v[] = {db_uuid(c->profile_id), db_uuid(c->run_id)};
  db_res *r = NULL;
  if (db_query_fixed(d,
               "SELECT count(*), count(*) FILTER (WHERE status = 'waiting') "
               "FROM workflow_steps WHERE profile_id = $1 AND run_id = $2",
               v, 2, &r, err))
    return -1;
  int64_t left = db_res_int(r, 0, 0), waiting = db_res_int(r, 0, 1);
  db_res_free(r);
  *ends = left == 0;
  *status = left == 0 ? "completed" : waiting == left ? "waiting" : "running";
  return 0;
}

static int step_insert(db *d, const claimed *c, const char *node_id,
                       const char *scope, const char *item,
                       const char *locals, int64_t now, char id[37],
                       db_err *err) {
  uuid_v7(id);
  db_val v[] = {db_uuid(c->profile_id), db_uuid(id),     db_uuid(c->run_id),
                db_text(node_id),       db_text(scope),  item ? db_json(item) : db_null(),
                db_json(locals),        db_ts(now)};
  return db_query_fixed(d,
                  "INSERT INTO workflow_steps (profile_id, id, run_id, "
                  "node_id, scope, item, locals, status, due_at, created_at, "
                  "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'ready', "
                  "$8, $8, $8) ON CONFLICT (profile_id, run_id, node_id, "
                  "scope) DO NOTHING",
                  v, 8, NULL, err);
}

static _Thread_local uint64_t rng;

/* The wait before attempt + 1: doubling from BACKOFF_BASE_MS, capped, with
 * ±25% jitter so steps that failed together do not retry together. */
static int64_t backoff_us(int attempt) {
  if (!rng) rng = (uint64_t)time_mono_us() | 1;
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  int64_t ms = BACKOFF_BASE_MS;
  for (int i = 1; i < attempt && ms < BACKOFF_MAX_MS; i++) ms *= 2;
  if (ms > BACKOFF_MAX_MS) ms = BACKOFF_MAX_MS;
  int64_t jitter = (int64_t)(rng % (uint64_t)(ms / 2 + 1)) - ms / 4;
  return (ms + jitter) * 1000;
}

/* "~" and 16 hex digits of SHA-256(text). */
static const char *short_hash(arena *a, const char *text) {
  uint8_t h[32];
  char hex[65];
  sha256(text, strlen(text), h);
  hex_encode(h, 8, hex);
  return arena_printf(a, "~%s", hex);
}

/* The item's own id (see ITEM_ID_MAX), or NULL. */
static const char *item_id(arena *a, const json *item) {
  static const char *const keys[] = {"id", "invoice_id", "product_id",
                                     "customer_id", NULL};
  if (!item || item->type != JSON_OBJECT) return NULL;
  for (int i = 0; keys[i]; i++) {
    const json *v = json_get(item, keys[i]);
    if (!v) continue;
    const char *s = v->type == JSON_STRING ? v->str
                    : v->type == JSON_NUMBER ? json_to_text(a, v)
                                             : NULL;
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > ITEM_ID_MAX) return NULL;
    for (size_t k = 0; k < n; k++) {
      char ch = s[k];
      if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
        return NULL;
    }
    return s;
  }
  return NULL;
}

/* The scope of one item of for_each node_id inside scope (see SCOPE_MAX). */
static const char *item_scope(arena *a, const char *scope, const char *node_id,
                              const json *item, const char *item_text) {
  const char *id = item_id(a, item);
  if (!id) id = short_hash(a, item_text);
  const char *sc = *scope ? arena_printf(a, "%s/%s#%s", scope, node_id, id)
                          : arena_printf(a, "%s#%s", node_id, id);
  if (strlen(sc) > SCOPE_MAX)
    sc = arena_printf(a, "%s#%s", node_id, short_hash(a, sc));
  return sc;
}

/* Commit 2 of a completed node: its output kept, the steps after it
 * inserted (one per item and successor after a for_each). */
static int end_done(db *d, arena *a, const claimed *c, const blueprint *bp,
                    int ni, const flow_step_result *res, const json *locals,
                    const char *out_text, const char *ctx_text,
                    log_change *ch, int64_t now, int *mine,
                    char next_id[37], db_err *err) {
  char id[37];
  const bp_node *node = &bp->nodes[ni];
  const flow_node_type *nt = node->nt;
  const char *scope = c->scope ? c->scope : "";
  *mine = 0;
  if (step_delete(d, c, mine, err)) return -1;
  if (!*mine) return 0;
  /* A set node's values too large for the context are not set: its
   * output there is the truncated marker, and no name is. */
  const char *vars = NULL;
  if (!strcmp(node->type, "set") && ctx_text == out_text) {
    const json *oj = parse_or_null(a, out_text);
    if (oj && oj->type == JSON_OBJECT) vars = out_text;
  }
  out_text = ctx_text;
  const char *next_locals = c->locals ? c->locals : "{}";
  if (!*scope) {
    ch->node_id = c->node_id, ch->output = out_text, ch->vars = vars;
  } else { /* inside a for_each: kept in the scope's locals */
    buf ob;
    buf_init(&ob, 0);
    buf_puts(&ob, "{\"nodes\":{");
    json_write_str(&ob, c->node_id, strlen(c->node_id));
    buf_putc(&ob, ':');
    buf_puts(&ob, out_text);
    buf_puts(&ob, "},\"vars\":");
    buf_puts(&ob, vars ? vars : "{}");
    buf_putc(&ob, '}');
    next_locals = merge_scopes(a, locals, parse_or_null(a, buf_cstr(&ob)));
    buf_free(&ob);
  }
  int next[BP_MAX_NODES];
  const char *when = NULL;
  if (nt->flags & NODE_BRANCHES) when = res->branch ? res->branch : "";
  int nn = bp_next(bp, ni, when, next, BP_MAX_NODES);
  if (!(nt->flags & NODE_FOREACH)) {
    for (int j = 0; j < nn; j++)
      if (step_insert(d, c, bp->nodes[next[j]].id, scope, c->item, next_locals,
                      now, id, err))
        return -1;
    if (nn == 1) memcpy(next_id, id, 37);
    return 0;
  }
  const json *items =
      parse_or_null(a, res->items.len ? buf_cstr(&res->items) : "[]");
  const char *why = NULL;
  if (!items || items->type != JSON_ARRAY)
    why = arena_printf(a, "node '%s': its items are not a list", c->node_id);
  else if (items->n > FLOW_FOREACH_MAX)
    why = arena_printf(a, "node '%s': %zu items, more than the %d a for_each "
                          "may take",
                       c->node_id, items->n, FLOW_FOREACH_MAX);
  if (why) {
    ch->status = "failed", ch->ends = 1, ch->error = why;
    return steps_clear(d, c, err);
  }
  for (size_t k = 0; k < items->n; k++) {
    const char *it = json_to_text(a, items->items[k]);
    const char *sc2 = item_scope(a, scope, c->node_id, items->items[k], it);
    for (int j = 0; j < nn; j++)
      if (step_insert(d, c, bp->nodes[next[j]].id, sc2, it, next_locals, now,
                      id, err))
        return -1;
  }
  return 0;
}

/* A step's whole life after its claim, in arena a. Returns -1 only on a
 * database error (the step is then left to its lease). */
static int step_run(db *d, arena *a, claimed *c, char next_id[37],
                    db_err *err) {
  int rc = -1, intx = 0, mine = 0, found = 0;
  next_id[0] = 0;
  flow_step_result res;
  flow_step_result_init(&res);
  const char *scope = c->scope ? c->scope : "";
  int64_t now = flow_engine_now();
  int64_t lease_end = now + (int64_t)settings.step_lease_s * 1000000;

  /* commit 1: the entry, "running" */
  run_row rr;
  if (db_begin(d, 1, err)) goto out;
  intx = 1;
  if (lock_run(d, a, c, 1, &rr, &found, err)) goto out;
  if (!found || !run_open(&rr)) {
    /* The run ended (cancelled, failed) while this step waited or while a
     * dead worker held it: the step goes, its entry says it was skipped. */
    if (step_delete(d, c, &mine, err)) goto out;
    if (mine && found && c->result_index >= 0) {
      entry e = {c->node_id, "", scope, "skipped", now, now, 0, c->attempt,
                 NULL, NULL, arena_printf(a, "the run is %s", rr.status)};
      log_change ch = {.idx = c->result_index, .entry = entry_json(a, &e)};
      if (log_update(d, a, c, &rr, &ch, now, err)) goto out;
    }
    rc = db_commit(d, err);
    intx = 0;
    goto out;
  }
  blueprint bp;
  int have = 0;
  if (flow_engine_graph(d, a, c->profile_id, rr.blueprint_id, rr.version, &bp,
                        &have, err))
    goto out;
  int ni = have ? bp_find(&bp, c->node_id) : -1;
  if (ni < 0) {
    if (step_delete(d, c, &mine, err)) goto out;
    if (mine) {
      const char *why =
          have ? arena_printf(a, "node '%s' is not in version %d of the "
                                 "workflow",
                              c->node_id, rr.version)
               : arena_printf(a, "version %d of the workflow cannot be read",
                              rr.version);
      entry e = {c->node_id, "", scope, "failed", now, now, 0, c->attempt,
                 NULL, NULL, why};
      log_change ch = {.idx = c->result_index, .entry = entry_json(a, &e),
                       .status = "failed", .ends = 1, .error = why};
      if (steps_clear(d, c, err) || log_update(d, a, c, &rr, &ch, now, err))
        goto out;
    }
    rc = db_commit(d, err);
    intx = 0;
    goto out;
  }
  const bp_node *node = &bp.nodes[ni];
  const flow_node_type *nt = node->nt;
  entry e = {c->node_id, node->type, scope, "running", now, 0, 0, c->attempt,
             NULL,       NULL,       NULL};
  log_change ch1 = {.idx = c->result_index, .entry = entry_json(a, &e),
                    .status = "running"};
  if (log_update(d, a, c, &rr, &ch1, now, err)) goto out;
  c->result_index = ch1.idx;
  db_val v[] = {db_uuid(c->profile_id), db_uuid(c->id), db_int(c->claims),
                db_int(c->result_index), db_ts(lease_end), db_ts(now)};
  if (fenced(d,
             "UPDATE workflow_steps SET result_index = $4, due_at = $5, "
             "updated_at = $6 WHERE profile_id = $1 AND id = $2 AND claims = "
             "$3",
             v, 6, &mine, err))
    goto out;
  if (!mine) { /* another worker took it over: nothing of this is kept */
    rc = 0;
    goto out;
  }
  if (db_commit(d, err)) goto out;
  intx = 0;

  /* the node */
  const json *trigger = parse_or_null(a, rr.input);
  if (!trigger || trigger->type != JSON_OBJECT) trigger = parse_or_null(a, "{}");
  const json *locals = parse_or_null(a, c->locals);
  const json *run_ctx = parse_or_null(a, rr.context);
  const json *ctxj = parse_or_null(a, merge_scopes(a, run_ctx, locals));
  const json *item = parse_or_null(a, c->item);
  flow_env env;
  flow_env_init(&env, d, a, c->profile_id, trigger, ctxj, item, now);
  flow_step_ctx sc = {.d = d,
                      .a = a,
                      .profile_id = c->profile_id,
                      .blueprint_id = rr.blueprint_id,
                      .run_id = c->run_id,
                      .version = rr.version,
                      .bp = &bp,
                      .node = ni,
                      .scope = scope,
                      .attempt = c->attempt,
                      .now_us = now,
                      .wake_at = c->wake_at,
                      .env = &env,
                      .dry_run = rr.rehearsal,
                      .effect_key = arena_printf(a, "wf:%s:%s:%s", c->run_id,
                                                 c->node_id, scope)};
  int64_t t0 = time_mono_us();
  db_err nerr = {{0}, {0}};
  if (nt && nt->run) {
    if (nt->run(&sc, &res, &nerr))
      flow_step_fail(&res, NODE_RETRY, "database error: %s", nerr.message);
  } else if (nt && (nt->flags & NODE_TRIGGER)) {
    res.outcome = NODE_DONE; /* the trigger's data is its output */
    buf_puts(&res.output, json_to_text(a, trigger));
  } else {
    flow_step_fail(&res, NODE_FAILED, "node type '%s' cannot run",
                   node->type);
  }
  int64_t took = time_mono_us() - t0;
  if (took > (int64_t)settings.step_lease_s * 1000000 &&
      res.outcome != NODE_FAILED)
    flow_step_fail(&res, NODE_RETRY, "timed out: took %lld ms, over the %d s "
                                     "a step may take",
                   (long long)(took / 1000), settings.step_lease_s);
  const char *out_text = res.output.len ? buf_cstr(&res.output) : "{}";
  const char *in_text = res.input.len ? buf_cstr(&res.input) : NULL;
  if (!parse_or_null(a, out_text) || (in_text && !parse_or_null(a, in_text))) {
    flow_step_fail(&res, NODE_FAILED, "node '%s' answered invalid JSON",
                   c->node_id);
    out_text = "{}", in_text = NULL;
  }
  if (res.outcome == NODE_RETRY && c->attempt >= settings.max_attempts) {
    char last[sizeof res.error];
    snprintf(last, sizeof last, "%s", res.error);
    flow_step_fail(&res, NODE_FAILED, "gave up after %d attempts: %s",
                   c->attempt, last);
  }

  /* commit 2: the outcome */
  now = flow_engine_now();
  if (db_begin(d, 1, err)) goto out;
  intx = 1;
  if (lock_run(d, a, c, 0, &rr, &found, err)) goto out;
  /* What later steps read of this output (see CONTEXT_MAX). */
  const char *ctx_text = cap_json(a, out_text, CONTEXT_OUTPUT_MAX);
  if (!*scope && rr.context_bytes + (int64_t)strlen(ctx_text) > CONTEXT_MAX)
    ctx_text = cap_json(a, ctx_text, PREVIEW_MAX);
  entry f = {c->node_id, node->type, scope,    "completed", e.started_at, now,
             0,          c->attempt, in_text, out_text,     NULL};
  log_change ch = {.idx = c->result_index};
  if (!found || !run_open(&rr)) { /* cancelled while it ran */
    if (step_delete(d, c, &mine, err)) goto out;
    if (mine && found) {
      f.status = "skipped";
      f.error = arena_printf(a, "the run is %s; this step's end was ignored",
                             rr.status);
      ch.entry = entry_json(a, &f);
      if (log_update(d, a, c, &rr, &ch, now, err)) goto out;
    }
  } else {
    const char *err_text = res.error[0] ? res.error : NULL;
    switch (res.outcome) {
    case NODE_DONE: {
      if (end_done(d, a, c, &bp, ni, &res, locals, out_text, ctx_text, &ch,
                   now, &mine, next_id, err))
        goto out;
      if (!mine) break;
      if (ch.ends) { /* the for_each could not start its items */
        f.status = "failed", f.error = ch.error, f.output = NULL;
        break;
      }
      if (run_next_status(d, c, &ch.status, &ch.ends, err)) goto out;
      break;
    }
    case NODE_WAITING: {
      int64_t wake = res.wake_at > now ? res.wake_at : now;
      f.status = "waiting", f.finished_at = 0, f.output = NULL;
      db_val w[] = {db_uuid(c->profile_id), db_uuid(c->id), db_int(c->claims),
                    db_ts(wake), db_ts(now)};
      if (fenced(d,
                 "UPDATE workflow_steps SET status = 'waiting', due_at = $4, "
                 "wake_at = $4, updated_at = $5 WHERE profile_id = $1 AND id "
                 "= $2 AND claims = $3",
                 w, 5, &mine, err))
        goto out;
      if (mine && run_next_status(d, c, &ch.status, &ch.ends, err)) goto out;
      break;
    }
    case NODE_RETRY: {
      int64_t due = now + (res.retry_after_ms > 0
                               ? (int64_t)res.retry_after_ms * 1000
                               : backoff_us(c->attempt));
      f.status = "waiting", f.finished_at = 0, f.output = NULL;
      f.error = err_text, f.retry_at = due;
      db_val w[] = {db_uuid(c->profile_id), db_uuid(c->id), db_int(c->claims),
                    db_ts(due), db_ts(now)};
      if (fenced(d,
                 "UPDATE workflow_steps SET status = 'ready', due_at = $4, "
                 "updated_at = $5 WHERE profile_id = $1 AND id = $2 AND "
                 "claims = $3",
                 w, 5, &mine, err))
        goto out;
      break;
    }
    case NODE_STOP:
    case NODE_FAILED:
    case NODE_PAUSED:
    default: {
      int stop = res.outcome == NODE_STOP;
      f.status = stop && !err_text ? "completed" : "failed";
      f.error = err_text;
      if (!stop) f.output = NULL;
      if (step_delete(d, c, &mine, err)) goto out;
      if (!mine) break;
      if (steps_clear(d, c, err)) goto out;
      if (stop && !*scope) ch.node_id = c->node_id, ch.output = ctx_text;
      ch.status = stop && !err_text ? "completed" : "failed";
      ch.ends = 1;
      ch.error = err_text ? arena_printf(a, "node '%s': %s", c->node_id,
                                         err_text)
                          : NULL;
      break;
    }
    }
    ch.entry = entry_json(a, &f);
    if (mine && log_update(d, a, c, &rr, &ch, now, err)) goto out;
  }
  if (!mine) { /* the lease ran out and another worker has the step */
    log_warn("flow: step %s of run %s outlived its lease; its result is "
             "dropped",
             c->node_id, c->run_id);
    rc = 0;
    goto out;
  }
  rc = db_commit(d, err);
  intx = 0;
  if (rc == 0) jobs_wake();
out:
  if (intx) db_rollback(d);
  if (rc || !mine || res.outcome != NODE_DONE) next_id[0] = 0;
  flow_step_result_free(&res);
  return rc;
}

/* ---- retention ------------------------------------------------------------------ */

int flow_purge(db *d, int64_t now, int64_t *removed, db_err *err) {
  int64_t total = 0;
  db_val v[] = {db_ts(now - (int64_t)settings.log_retention_days * US_PER_DAY),
                db_int(PURGE_BATCH)};
  for (int round = 0; round < 100; round++) {
    db_res *r = NULL;
    if (db_query(d,
                 "DELETE FROM workflow_logs WHERE (profile_id, id) IN (SELECT "
                 "profile_id, id FROM workflow_logs WHERE finished_at < $1 AND "
                 "status IN ('completed', 'failed', 'cancelled') LIMIT $2)",
                 v, 2, &r, err))
      return -1;
    int64_t n = db_res_changes(r);
    db_res_free(r);
    total += n;
    if (n < PURGE_BATCH) break;
  }
  /* An effect lives as long as its run: a failed run stays retryable for
   * the whole retention, and its retry must find the effects it made. So
   * only effects whose run is gone go, and (since a run is only purged
   * once it ended before the retention) only those older than it. The
   * caps count the last day at most, never a purged one. */
  for (int round = 0; round < 100; round++) {
    db_res *r = NULL;
    if (db_query(d,
                 "DELETE FROM workflow_effects WHERE (profile_id, key) IN "
                 "(SELECT e.profile_id, e.key FROM workflow_effects e WHERE "
                 "e.created_at < $1 AND NOT EXISTS (SELECT 1 FROM "
                 "workflow_logs l WHERE l.profile_id = e.profile_id AND l.id "
                 "= e.run_id) LIMIT $2)",
                 v, 2, &r, err))
      return -1;
    int64_t n = db_res_changes(r);
    db_res_free(r);
    total += n;
    if (n < PURGE_BATCH) break;
  }
  if (removed) *removed = total;
  return 0;
}

/* ---- the poller ----------------------------------------------------------------- */

static _Atomic int64_t next_purge;

int flow_steps_poll(void *arg, db *d, const char *worker, db_err *err) {
  (void)arg, (void)worker;
  int64_t now = flow_engine_now();
  int64_t due = atomic_load(&next_purge);
  if (now >= due &&
      atomic_compare_exchange_strong(&next_purge, &due, now + PURGE_EVERY_US)) {
    int64_t n = 0;
    if (flow_purge(d, now, &n, err))
      log_warn("flow: purge failed: %s", err->message);
    else if (n)
      log_info("flow: purged %lld old run(s) and effect(s)", (long long)n);
  }
  claimed cs[CLAIM_BATCH];
  int n = 0;
  if (claim(d, now, cs, &n, err)) return -1;
  int rc = 0;
  /* One arena for the batch, emptied between steps: its first block is
   * kept, so a step costs no fresh pages. */
  arena *a = n ? arena_new() : NULL;
  int ran = n;
  for (int i = 0; i < n; i++) {
    claimed c = cs[i];
    char next[37];
    /* A run's steps one after the other: the next step, when there is
     * exactly one, is claimed by id at once (up to CHAIN_MAX of them). */
    for (int k = 0; k <= CHAIN_MAX; k++) {
      arena_reset(a);
      int failed = step_run(d, a, &c, next, err);
      if (failed) {
        /* The step stays claimed until its lease ends, and is claimed
         * again then (attempt + 1). */
        log_warn("flow: step %s of run %s: %s", c.node_id, c.run_id,
                 err->message);
        rc = -1;
      }
      char profile[37];
      memcpy(profile, c.profile_id, sizeof profile);
      claimed_free(&c);
      int got = 0;
      if (failed || !next[0] || k == CHAIN_MAX) break;
      if (claim_next(d, profile, next, flow_engine_now(), &c, &got, err)) {
        log_warn("flow: claim of the next step: %s", err->message);
        rc = -1;
        break;
      }
      if (!got) break;
      ran++;
    }
  }
  arena_free(a);
  return rc ? -1 : ran;
}

/* engine_api.c - the ways a run starts or is steered from outside the
 * engine: the event trigger's consumer ("flow.trigger"), rpc/run_workflow,
 * rpc/cancel_run, rpc/retry_run and the webhook trigger
 * (POST /webhooks/workflows/:token). Each checks its input, then starts or
 * changes runs through the engine's tables (engine.c says how steps run). */
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/crypto.h"
#include "base/json.h"
#include "base/log.h"
#include "base/uuid.h"
#include "flow/bpstore.h"
#include "flow/engine.h"
#include "flow/flow.h"
#include "flow/node.h"
#include "flow/rpc_int.h"
#include "jobs/worker.h"

#define WEBHOOK_BODY_MAX (64 * 1024)
#define WEBHOOK_TOKEN_MAX 128
#define IDEM_KEY_MAX 200

/* ---- the event trigger ---------------------------------------------------------- */

/* The run's input for an event: its payload (an object; anything else
 * under "payload") with event_type, entity_type, entity_id and event_id
 * added (they win over payload members of the same name). */
static const char *event_input(arena *a, const event_row *ev) {
  json *p = NULL;
  json_error je;
  const char *text = ev->payload ? ev->payload : "{}";
  if (json_parse(a, text, strlen(text), &p, &je)) p = NULL;
  static const char *const added[] = {"event_type", "entity_type",
                                      "entity_id", "event_id"};
  buf b;
  buf_init(&b, 0);
  json_obj o;
  json_obj_open(&o, &b);
  if (p && p->type == JSON_OBJECT) {
    for (size_t i = 0; i < p->n; i++) {
      int clash = 0;
      for (size_t k = 0; k < 4; k++) clash |= !strcmp(p->keys[i], added[k]);
      if (!clash) json_obj_raw(&o, p->keys[i], json_to_text(a, p->items[i]));
    }
  } else if (p) {
    json_obj_raw(&o, "payload", json_to_text(a, p));
  }
  json_obj_str(&o, "event_type", ev->event_type);
  json_obj_str(&o, "entity_type", ev->entity_type);
  json_obj_str(&o, "entity_id", ev->entity_id);
  json_obj_str(&o, "event_id", ev->id);
  json_obj_close(&o);
  const char *s = arena_strdup(a, buf_cstr(&b));
  buf_free(&b);
  return s;
}

int flow_trigger_handle(void *arg, db *d, const event_row *ev, int attempts,
                        db_err *err) {
  (void)arg, (void)attempts;
  /* Every event passes here: one indexed read (workflow_blueprints_event)
   * and nothing else when no active workflow waits for it. */
  db_val v[] = {db_uuid(ev->profile_id), db_text(ev->event_type)};
  db_res *r = NULL;
  if (db_query_fixed(d,
               "SELECT id, coalesce(active_version, version) FROM "
               "workflow_blueprints WHERE profile_id = $1 AND trigger_event = "
               "$2 AND is_active AND trigger_kind = 'event'",
               v, 2, &r, err))
    return -1;
  int n = db_res_rows(r);
  if (n == 0) {
    db_res_free(r);
    return 0;
  }
  arena *a = arena_new();
  int rc = -1, started = 0;
  if (db_begin(d, 1, err)) goto out;
  const char *input = event_input(a, ev);
  const char *key = arena_printf(a, "event:%s", ev->id);
  for (int i = 0; i < n; i++) {
    flow_run_start_args s = {.profile_id = ev->profile_id,
                             .blueprint_id = db_res_text(r, i, 0),
                             .version = (int)db_res_int(r, i, 1),
                             .trigger_kind = "event",
                             .trigger_key = key,
                             .trigger_event_id = ev->id,
                             .input = input};
    char run_id[37];
    int created = 0;
    if (flow_run_start(d, a, &s, run_id, &created, err)) {
      if (!strcmp(err->code, "P0002")) { /* its version is gone: skip it */
        log_warn("flow: workflow %s: %s", s.blueprint_id, err->message);
        continue;
      }
      db_rollback(d);
      goto out;
    }
    started += created;
  }
  if (db_commit(d, err)) goto out;
  if (started) jobs_wake();
  rc = 0;
out:
  db_res_free(r);
  arena_free(a);
  return rc;
}

/* ---- rpc helpers ---------------------------------------------------------------- */

static int arg_uuid(const json *args, const char *key, char out[37],
                    api_resp *resp) {
  const json *v = json_get(args, key);
  if (!v || v->type != JSON_STRING || uuid_normalize(v->str, out))
    return api_failf(resp, E_OP_INVALID, "%s must be a UUID", key);
  return 0;
}

static void reply_run(api_resp *resp, int status, const char *run_id,
                      const char *run_status, int created) {
  buf b;
  buf_init(&b, 0);
  json_obj o;
  json_obj_open(&o, &b);
  json_obj_str(&o, "run_id", run_id);
  json_obj_str(&o, "status", run_status);
  if (!created) json_obj_bool(&o, "duplicate", 1);
  json_obj_close(&o);
  resp->status = status;
  buf_reset(&resp->body);
  buf_append(&resp->body, b.data ? b.data : "", b.len);
  buf_free(&b);
}

/* ---- rpc/run_workflow ----------------------------------------------------------- */

/* A manual run of an active workflow, whatever its trigger: the run's
 * trigger_kind says "manual". A draft (never activated, or deactivated) is
 * refused: drafts are tried with rpc/rehearse_workflow, which makes no
 * side effect. */
void flow_rpc_run(db *d, api_req *req, const json *args, api_resp *resp) {
  char id[37];
  if (arg_uuid(args, "id", id, resp)) return;
  const json *in = json_get(args, "input");
  if (in && in->type != JSON_OBJECT && in->type != JSON_NULL) {
    api_fail(resp, E_OP_INVALID, "input must be a JSON object", NULL, NULL);
    return;
  }
  const char *input =
      in && in->type == JSON_OBJECT ? json_to_text(req->a, in) : "{}";
  flow_bp_row row;
  int found = 0;
  db_err e;
  if (flow_blueprint_load(d, req->a, req->who.sub, id, &row, &found, &e)) {
    flow_rpc_db_fail(resp, &e);
    return;
  }
  if (!found) {
    api_fail(resp, E_OP_NOT_FOUND, "no such workflow", NULL, NULL);
    return;
  }
  if (!row.is_active || row.active_version <= 0) {
    api_fail(resp, E_OP_CONFLICT,
             "the workflow is not active: activate it first "
             "(rpc/activate_workflow); a draft is tried with "
             "rpc/rehearse_workflow",
             NULL, NULL);
    return;
  }
  const char *idem = req->header ? req->header(req, "Idempotency-Key") : NULL;
  if (idem && (!*idem || strlen(idem) > IDEM_KEY_MAX)) {
    api_failf(resp, E_OP_INVALID, "Idempotency-Key must be 1 to %d characters",
              IDEM_KEY_MAX);
    return;
  }
  flow_run_start_args s = {
      .profile_id = req->who.sub,
      .blueprint_id = id,
      .version = row.active_version,
      .trigger_kind = "manual",
      .trigger_key = idem ? arena_printf(req->a, "manual:%s", idem) : NULL,
      .input = input,
      .own_tx = 1};
  char run_id[37];
  int created = 0;
  if (flow_run_start(d, req->a, &s, run_id, &created, &e)) {
    if (!strcmp(e.code, "P0002"))
      api_fail(resp, E_OP_CONFLICT, e.message, NULL, NULL);
    else
      flow_rpc_db_fail(resp, &e);
    return;
  }
  if (created) jobs_wake();
  reply_run(resp, 200, run_id, "running", created);
}

/* ---- rpc/cancel_run ------------------------------------------------------------- */

/* The status of run (NULL when there is none), locked on PostgreSQL. */
static const char *run_status(db *d, arena *a, const char *profile,
                              const char *run, int lock, int *version,
                              char bp_id[37], db_err *err, int *failed) {
  static const char *const sql[2] = {
      "SELECT status, version, blueprint_id FROM workflow_logs WHERE "
      "profile_id = $1 AND id = $2",
      "SELECT status, version, blueprint_id FROM workflow_logs WHERE "
      "profile_id = $1 AND id = $2 FOR UPDATE"};
  db_val v[] = {db_uuid(profile), db_uuid(run)};
  db_res *r = NULL;
  *failed = 0;
  if (db_query(d, sql[lock && db_kind_of(d) == DB_POSTGRES], v, 2, &r, err)) {
    *failed = 1;
    return NULL;
  }
  const char *st = NULL;
  if (db_res_rows(r) > 0) {
    st = arena_strdup(a, db_res_text(r, 0, 0));
    if (version) *version = (int)db_res_int(r, 0, 1);
    if (bp_id) snprintf(bp_id, 37, "%s", db_res_text(r, 0, 2));
  }
  db_res_free(r);
  return st;
}

void flow_rpc_cancel(db *d, api_req *req, const json *args, api_resp *resp) {
  char run[37];
  if (arg_uuid(args, "run_id", run, resp)) return;
  db_err e;
  int failed = 0;
  if (db_begin(d, 1, &e)) {
    flow_rpc_db_fail(resp, &e);
    return;
  }
  const char *st =
      run_status(d, req->a, req->who.sub, run, 1, NULL, NULL, &e, &failed);
  if (failed) goto db_fail;
  if (!st) {
    db_rollback(d);
    api_fail(resp, E_OP_NOT_FOUND, "no such run", NULL, NULL);
    return;
  }
  if (strcmp(st, "running") && strcmp(st, "waiting")) {
    db_rollback(d);
    api_failf(resp, E_OP_CONFLICT, "the run is %s already", st);
    return;
  }
  int64_t now = flow_engine_now();
  db_val v[] = {db_uuid(req->who.sub), db_uuid(run), db_ts(now)};
  /* A step running now stays until its worker ends it: that end is then
   * ignored (its entry says "skipped"). */
  if (db_query(d,
               "UPDATE workflow_logs SET status = 'cancelled', error = "
               "'cancelled by the owner', finished_at = $3, updated_at = $3 "
               "WHERE profile_id = $1 AND id = $2",
               v, 3, NULL, &e))
    goto db_fail;
  db_val s[] = {db_uuid(req->who.sub), db_uuid(run)};
  if (db_query(d,
               "DELETE FROM workflow_steps WHERE profile_id = $1 AND run_id = "
               "$2 AND status <> 'running'",
               s, 2, NULL, &e) ||
      db_commit(d, &e))
    goto db_fail;
  reply_run(resp, 200, run, "cancelled", 1);
  return;
db_fail:
  db_rollback(d);
  flow_rpc_db_fail(resp, &e);
}

/* ---- rpc/retry_run -------------------------------------------------------------- */

/* 1 when node i follows a for_each: it runs in an item's scope, which a
 * retry from it could not give it. */
static int in_foreach_branch(const blueprint *bp, int i) {
  int seen[BP_MAX_NODES] = {0}, stack[BP_MAX_NODES], top = 0;
  for (int k = 0; k < bp->nnodes; k++)
    if (bp->nodes[k].nt && (bp->nodes[k].nt->flags & NODE_FOREACH)) {
      for (int x = 0; x < bp->nedges; x++)
        if (bp->edges[x].from == k && !seen[bp->edges[x].to] &&
            top < BP_MAX_NODES)
          seen[bp->edges[x].to] = 1, stack[top++] = bp->edges[x].to;
    }
  while (top > 0) {
    int k = stack[--top];
    for (int x = 0; x < bp->nedges; x++)
      if (bp->edges[x].from == k && !seen[bp->edges[x].to] &&
          top < BP_MAX_NODES)
        seen[bp->edges[x].to] = 1, stack[top++] = bp->edges[x].to;
  }
  return i >= 0 && i < BP_MAX_NODES && seen[i];
}

/* The node of the run's last failed step entry, into out (0 when found). */
static int last_failed_node(db *d, arena *a, const char *profile,
                            const char *run, const char **out, db_err *err) {
  db_val v[] = {db_uuid(profile), db_uuid(run)};
  db_res *r = NULL;
  *out = NULL;
  if (db_query(d,
               "SELECT step_results FROM workflow_logs WHERE profile_id = $1 "
               "AND id = $2",
               v, 2, &r, err))
    return -1;
  json *j = NULL;
  json_error je;
  if (db_res_rows(r) > 0) {
    const char *t = db_res_text(r, 0, 0);
    if (json_parse(a, t, strlen(t), &j, &je)) j = NULL;
  }
  db_res_free(r);
  for (size_t i = j && j->type == JSON_ARRAY ? j->n : 0; i > 0; i--) {
    const json *en = j->items[i - 1];
    const json *st = json_get(en, "status"), *nid = json_get(en, "node_id");
    if (st && st->type == JSON_STRING && !strcmp(st->str, "failed") && nid &&
        nid->type == JSON_STRING) {
      *out = nid->str;
      break;
    }
  }
  return 0;
}

void flow_rpc_retry(db *d, api_req *req, const json *args, api_resp *resp) {
  char run[37], bp_id[37];
  if (arg_uuid(args, "run_id", run, resp)) return;
  const json *fs = json_get(args, "from_step");
  if (fs && fs->type != JSON_STRING && fs->type != JSON_NULL) {
    api_fail(resp, E_OP_INVALID, "from_step must be a node id", NULL, NULL);
    return;
  }
  db_err e;
  int failed = 0, version = 0;
  if (db_begin(d, 1, &e)) {
    flow_rpc_db_fail(resp, &e);
    return;
  }
  const char *st = run_status(d, req->a, req->who.sub, run, 1, &version,
                              bp_id, &e, &failed);
  if (failed) goto db_fail;
  if (!st) {
    db_rollback(d);
    api_fail(resp, E_OP_NOT_FOUND, "no such run", NULL, NULL);
    return;
  }
  if (strcmp(st, "failed") && strcmp(st, "cancelled")) {
    db_rollback(d);
    api_failf(resp, E_OP_CONFLICT,
              "the run is %s: only a failed or cancelled run is retried", st);
    return;
  }
  const char *from = fs && fs->type == JSON_STRING ? fs->str : NULL;
  if (!from && last_failed_node(d, req->a, req->who.sub, run, &from, &e))
    goto db_fail;
  if (!from) {
    db_rollback(d);
    api_fail(resp, E_OP_INVALID,
             "from_step is needed: the run has no failed step", NULL, NULL);
    return;
  }
  blueprint bp;
  int have = 0;
  if (flow_engine_graph(d, req->a, req->who.sub, bp_id, version, &bp, &have,
                        &e))
    goto db_fail;
  int ni = have ? bp_find(&bp, from) : -1;
  if (ni < 0) {
    db_rollback(d);
    api_failf(resp, E_OP_INVALID, "from_step: no node '%s' in version %d",
              from, version);
    return;
  }
  if (in_foreach_branch(&bp, ni)) {
    db_rollback(d);
    api_failf(resp, E_OP_INVALID,
              "from_step: node '%s' runs once per item of a for_each; retry "
              "from the for_each node",
              from);
    return;
  }
  int64_t now = flow_engine_now();
  char sid[37];
  uuid_v7(sid);
  db_val v[] = {db_uuid(req->who.sub), db_uuid(run), db_ts(now)};
  db_val s[] = {db_uuid(req->who.sub), db_uuid(sid), db_uuid(run),
                db_text(bp.nodes[ni].id), db_ts(now)};
  /* Every step of the old attempt goes, also one running elsewhere (its
   * end then finds its claim gone and is dropped); the new step starts at
   * attempt 1. step_results keeps the history. */
  if (db_query(d,
               "UPDATE workflow_logs SET status = 'running', error = NULL, "
               "finished_at = NULL, updated_at = $3 WHERE profile_id = $1 AND "
               "id = $2",
               v, 3, NULL, &e) ||
      db_query(d,
               "DELETE FROM workflow_steps WHERE profile_id = $1 AND run_id = "
               "$2",
               v, 2, NULL, &e) ||
      db_query(d,
               "INSERT INTO workflow_steps (profile_id, id, run_id, node_id, "
               "scope, status, due_at, created_at, updated_at) VALUES ($1, "
               "$2, $3, $4, '', 'ready', $5, $5, $5)",
               s, 5, NULL, &e) ||
      db_commit(d, &e))
    goto db_fail;
  jobs_wake();
  reply_run(resp, 200, run, "running", 1);
  return;
db_fail:
  db_rollback(d);
  flow_rpc_db_fail(resp, &e);
}

/* ---- the webhook trigger -------------------------------------------------------- */

static int token_chars_ok(const char *t) {
  size_t n = strlen(t);
  if (n == 0 || n > WEBHOOK_TOKEN_MAX) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = t[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return 0;
  }
  return 1;
}

void flow_webhook(db *d, api_req *req, api_resp *resp) {
  const char *token = api_param(req, "token");
  /* An unknown token gets the same bare 404 as a malformed one. */
  if (!token || !token_chars_ok(token)) {
    api_fail(resp, E_NOT_FOUND_ROUTE, NULL, NULL, NULL);
    return;
  }
  db_err e;
  db_val v[] = {db_text(token)};
  db_res *r = NULL;
  if (db_query(d,
               "SELECT profile_id, id, coalesce(active_version, version), "
               "webhook_token, is_active, trigger_kind FROM "
               "workflow_blueprints WHERE webhook_token = $1",
               v, 1, &r, &e)) {
    flow_rpc_db_fail(resp, &e);
    return;
  }
  /* The index finds the row; the stored token is then compared in
   * constant time, so what a guess learns is only "no". */
  char stored[WEBHOOK_TOKEN_MAX + 1] = {0}, given[WEBHOOK_TOKEN_MAX + 1] = {0};
  snprintf(given, sizeof given, "%s", token);
  int rows = db_res_rows(r);
  if (rows > 0) snprintf(stored, sizeof stored, "%s", db_res_text(r, 0, 3));
  int match = ct_equal(stored, given, sizeof stored) && rows > 0;
  if (!match) {
    db_res_free(r);
    api_fail(resp, E_NOT_FOUND_ROUTE, NULL, NULL, NULL);
    return;
  }
  char profile[37], bp_id[37];
  snprintf(profile, sizeof profile, "%s", db_res_text(r, 0, 0));
  snprintf(bp_id, sizeof bp_id, "%s", db_res_text(r, 0, 1));
  int version = (int)db_res_int(r, 0, 2);
  int active = db_res_bool(r, 0, 4);
  int is_webhook = !strcmp(db_res_text(r, 0, 5), "webhook");
  db_res_free(r);
  if (!active || !is_webhook) {
    api_fail(resp, E_OP_CONFLICT, "the workflow is not active", NULL, NULL);
    return;
  }
  if (req->body_len > WEBHOOK_BODY_MAX) {
    api_failf(resp, E_TOO_LARGE, "the body is over %d bytes",
              WEBHOOK_BODY_MAX);
    return;
  }
  const char *input = "{}";
  if (req->body_len) {
    json *j;
    json_error je;
    if (json_parse(req->a, req->body, req->body_len, &j, &je)) {
      api_failf(resp, E_BAD_JSON, "Empty or invalid json: %s at byte %zu",
                je.message, je.offset);
      return;
    }
    if (j->type != JSON_OBJECT) {
      api_fail(resp, E_BAD_JSON, "the body must be a JSON object", NULL, NULL);
      return;
    }
    input = json_to_text(req->a, j);
  }
  const char *idem = req->header ? req->header(req, "Idempotency-Key") : NULL;
  if (idem && (!*idem || strlen(idem) > IDEM_KEY_MAX)) {
    api_failf(resp, E_OP_INVALID, "Idempotency-Key must be 1 to %d characters",
              IDEM_KEY_MAX);
    return;
  }
  flow_run_start_args s = {
      .profile_id = profile,
      .blueprint_id = bp_id,
      .version = version,
      .trigger_kind = "webhook",
      .trigger_key = idem ? arena_printf(req->a, "webhook:%s", idem) : NULL,
      .input = input,
      .own_tx = 1};
  char run_id[37];
  int created = 0;
  if (flow_run_start(d, req->a, &s, run_id, &created, &e)) {
    flow_rpc_db_fail(resp, &e);
    return;
  }
  if (created) jobs_wake();
  reply_run(resp, 202, run_id, "running", created);
}

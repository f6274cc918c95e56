/* bpstore.c - blueprints in the database: save a draft, load a row, load a
 * version's graph (cached), activate and deactivate, and the two rpcs that
 * do so (bpstore.h). The REST hook lives in bp_rest.c and the cron trigger
 * in cron_trigger.c; the columns all of them derive are computed here
 * (bp_int.h), once.
 *
 * Versions: every graph saved gets a number and a workflow_versions row;
 * the blueprint row holds the latest (version, nodes, edges) and the one
 * triggers run (active_version). A run loads its version through
 * flow_version_load, so what is edited while it runs never changes it. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/crypto.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/uuid.h"
#include "flow/bp_int.h"
#include "flow/bpstore.h"
#include "flow/flow.h"
#include "flow/rpc_int.h"

/* ---- derived columns (bp_int.h) ---------------------------------------------- */

void bp_cols_set(bp_cols *c, const char *name, db_val v) {
  for (int i = 0; i < c->n; i++)
    if (!strcmp(c->names[i], name)) {
      c->vals[i] = v;
      return;
    }
  if (c->n == (int)(sizeof c->names / sizeof c->names[0])) return; /* ours */
  c->names[c->n] = name;
  c->vals[c->n++] = v;
}

void bp_trigger_cols(const blueprint *bp, bp_cols *c) {
  bp_cols_set(c, "trigger_kind", db_text(bp_trigger_kind_name(bp->kind)));
  bp_cols_set(c, "trigger_event",
              bp->kind == BP_TRIGGER_EVENT ? db_text(bp->event) : db_null());
  bp_cols_set(c, "cron",
              bp->kind == BP_TRIGGER_CRON ? db_text(bp->cron) : db_null());
  bp_cols_set(c, "timezone", bp->kind == BP_TRIGGER_CRON
                                 ? db_text(bp->timezone ? bp->timezone
                                                        : CRON_DEFAULT_TZ)
                                 : db_null());
}

int64_t bp_cron_next(const char *cron, const char *zone,
                     int64_t after_us) {
  cron_spec spec;
  char err[128];
  if (!cron || cron_parse(cron, &spec, err, sizeof err)) return -1;
  const cron_tz *tz =
      cron_tz_get(zone && *zone ? zone : CRON_DEFAULT_TZ, err, sizeof err);
  if (!tz) return -1;
  return cron_next(&spec, tz, after_us);
}

const char *bp_webhook_url(arena *a, const char *token) {
  const flow_settings *s = flow_settings_get();
  const char *pre = s && s->public_url ? s->public_url : "";
  size_t n = strlen(pre);
  while (n && pre[n - 1] == '/') n--;
  return arena_printf(a, "%.*s/webhooks/workflows/%s", (int)n, pre, token);
}

int bp_activation_cols(arena *a, const blueprint *bp, int on, int version,
                       const char *token, int64_t now_us, bp_cols *c,
                       bp_error *be) {
  bp_cols_set(c, "is_active", db_bool(on));
  bp_cols_set(c, "paused_reason", db_null());
  bp_cols_set(c, "paused_at", db_null());
  bp_cols_set(c, "next_run_at", db_null());
  if (!on) {
    if (bp && bp->kind != BP_TRIGGER_WEBHOOK) {
      bp_cols_set(c, "webhook_token", db_null());
      bp_cols_set(c, "webhook_url", db_null());
    }
    return 0;
  }
  bp_cols_set(c, "active_version", db_int(version));
  if (bp->kind == BP_TRIGGER_CRON) {
    int64_t next = bp_cron_next(bp->cron, bp->timezone, now_us);
    if (next < 0) {
      snprintf(be->node, sizeof be->node, "%s", bp->nodes[bp->trigger].id);
      snprintf(be->param, sizeof be->param, "cron");
      snprintf(be->message, sizeof be->message,
               "the schedule '%.64s' never fires in the next five years",
               bp->cron);
      return -1;
    }
    bp_cols_set(c, "next_run_at", db_ts(next));
  }
  if (bp->kind == BP_TRIGGER_WEBHOOK) {
    if (!token || !*token) {
      unsigned char raw[BP_TOKEN_BYTES];
      char *hex = arena_alloc(a, 2 * BP_TOKEN_BYTES + 1);
      random_bytes(raw, sizeof raw);
      hex_encode(raw, sizeof raw, hex);
      token = hex;
    }
    bp_cols_set(c, "webhook_token", db_text(token));
    bp_cols_set(c, "webhook_url", db_text(bp_webhook_url(a, token)));
  } else {
    bp_cols_set(c, "webhook_token", db_null());
    bp_cols_set(c, "webhook_url", db_null());
  }
  return 0;
}

int bp_version_insert(db *d, const char *profile_id, const char *id,
                      int version, const char *name, const char *nodes,
                      const char *edges, db_err *err) {
  db_val v[] = {db_uuid(profile_id), db_uuid(id), db_int(version),
                db_text(name),       db_json(nodes), db_json(edges),
                db_ts(time_now_us())};
  return db_query_fixed(
      d,
      "INSERT INTO workflow_versions (profile_id, blueprint_id, version, "
      "name, nodes, edges, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
      v, 7, NULL, err);
}

int bp_json_equal(const json *a, const json *b) {
  if (!a || !b) return a == b;
  if (a->type != b->type) return 0;
  switch (a->type) {
    case JSON_STRING:
    case JSON_NUMBER:
      return a->len == b->len && !memcmp(a->str, b->str, a->len);
    case JSON_ARRAY:
      if (a->n != b->n) return 0;
      for (size_t i = 0; i < a->n; i++)
        if (!bp_json_equal(a->items[i], b->items[i])) return 0;
      return 1;
    case JSON_OBJECT:
      if (a->n != b->n) return 0;
      for (size_t i = 0; i < a->n; i++)
        if (!bp_json_equal(a->items[i], json_get(b, a->keys[i]))) return 0;
      return 1;
    default:
      return 1;
  }
}

/* UPDATE workflow_blueprints SET <c>, updated_at WHERE the row. */
static int update_cols(db *d, arena *a, const char *profile_id, const char *id,
                       const bp_cols *c, int64_t now_us, db_err *err) {
  buf sql;
  buf_init(&sql, 0);
  db_val v[32];
  int n = 0;
  buf_puts(&sql, "UPDATE workflow_blueprints SET ");
  for (int i = 0; i < c->n; i++) {
    buf_printf(&sql, "%s = $%d, ", c->names[i], n + 1);
    v[n++] = c->vals[i];
  }
  buf_printf(&sql, "updated_at = $%d WHERE profile_id = $%d AND id = $%d",
             n + 1, n + 2, n + 3);
  v[n++] = db_ts(now_us);
  v[n++] = db_uuid(profile_id);
  v[n++] = db_uuid(id);
  int rc = db_query(d, arena_strdup(a, buf_cstr(&sql)), v, n, NULL, err);
  buf_free(&sql);
  return rc;
}

static int parse_json_text(arena *a, const char *text, json **out) {
  json_error je;
  return json_parse(a, text, strlen(text), out, &je);
}

/* ---- create, load ------------------------------------------------------------ */

int flow_blueprint_create(db *d, arena *a, const char *profile_id,
                          const char *created_by, const char *name,
                          const char *prompt, const char *explanation,
                          const char *nodes, const char *edges,
                          char id_out[37], bp_error *be, db_err *err) {
  memset(be, 0, sizeof *be);
  memset(err, 0, sizeof *err);
  id_out[0] = 0;
  json *jn = NULL, *je = NULL;
  if (!nodes || parse_json_text(a, nodes, &jn)) jn = NULL;
  if (edges && parse_json_text(a, edges, &je)) {
    snprintf(be->param, sizeof be->param, "edges");
    snprintf(be->message, sizeof be->message, "edges is not JSON");
    return -1;
  }
  blueprint bp;
  if (bp_parse(a, name ? name : "", jn, je, &bp, be)) return -1;
  bp_cols c = {.n = 0};
  bp_trigger_cols(&bp, &c);
  char id[UUID_STR_LEN + 1];
  uuid_v7(id);
  int64_t now = time_now_us();
  const char *nodes_text = json_to_text(a, jn);
  const char *edges_text = je ? json_to_text(a, je) : "[]";
  db_val v[] = {db_uuid(profile_id),
                db_uuid(id),
                db_text(name),
                db_text(prompt),
                db_text(explanation),
                db_json(nodes_text),
                db_json(edges_text),
                created_by ? db_uuid(created_by) : db_null(),
                db_ts(now),
                c.vals[0],
                c.vals[1],
                c.vals[2],
                c.vals[3]};
  if (db_query_fixed(
          d,
          "INSERT INTO workflow_blueprints (profile_id, id, name, prompt, "
          "explanation, nodes, edges, created_by, created_at, updated_at, "
          "is_active, version, trigger_kind, trigger_event, cron, timezone) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, false, 1, $10, "
          "$11, $12, $13)",
          v, 13, NULL, err) ||
      bp_version_insert(d, profile_id, id, 1, name, nodes_text, edges_text,
                        err))
    return -1;
  memcpy(id_out, id, sizeof id);
  return 0;
}

int flow_blueprint_load(db *d, arena *a, const char *profile_id,
                        const char *id, flow_bp_row *out, int *found,
                        db_err *err) {
  char uid[UUID_STR_LEN + 1], pid[UUID_STR_LEN + 1];
  memset(out, 0, sizeof *out);
  *found = 0;
  if (!id || !profile_id || uuid_normalize(id, uid) ||
      uuid_normalize(profile_id, pid))
    return 0;
  db_val v[] = {db_uuid(pid), db_uuid(uid)};
  db_res *r = NULL;
  if (db_query_fixed(d,
                     "SELECT name, version, active_version, is_active, nodes, "
                     "edges, trigger_kind, trigger_event FROM "
                     "workflow_blueprints WHERE profile_id = $1 AND id = $2",
                     v, 2, &r, err))
    return -1;
  if (db_res_rows(r) == 1) {
    *found = 1;
    memcpy(out->id, uid, sizeof uid);
    out->name = arena_strdup(a, db_res_text(r, 0, 0));
    out->version = (int)db_res_int(r, 0, 1);
    out->active_version = (int)db_res_int(r, 0, 2);
    out->is_active = db_res_bool(r, 0, 3);
    out->nodes = arena_strdup(a, db_res_text(r, 0, 4));
    out->edges = arena_strdup(a, db_res_text(r, 0, 5));
    out->trigger_kind =
        db_res_isnull(r, 0, 6) ? NULL : arena_strdup(a, db_res_text(r, 0, 6));
    out->trigger_event =
        db_res_isnull(r, 0, 7) ? NULL : arena_strdup(a, db_res_text(r, 0, 7));
  }
  db_res_free(r);
  return 0;
}

/* ---- the version cache ------------------------------------------------------- */

/* A version's parsed graph lives in an arena of its own; a load copies it
 * into the caller's arena under the lock, so evicting an entry (and freeing
 * its arena) never pulls memory from under a step that loaded it. */
#define VCACHE_SIZE 256

typedef struct vc_entry {
  char profile[UUID_STR_LEN + 1], bp_id[UUID_STR_LEN + 1];
  int version;
  arena *a; /* NULL: free slot */
  blueprint bp;
  uint64_t used;
} vc_entry;

static pthread_mutex_t vc_mu = PTHREAD_MUTEX_INITIALIZER;
static vc_entry vcache[VCACHE_SIZE];
static uint64_t vc_tick;
static long vc_hits, vc_misses;

static json *json_clone(arena *a, const json *v) {
  json *c = arena_alloc(a, sizeof *c);
  *c = *v;
  if (v->str) c->str = arena_strndup(a, v->str, v->len);
  if (v->n) {
    c->items = arena_alloc(a, sizeof *c->items * v->n);
    for (size_t i = 0; i < v->n; i++) c->items[i] = json_clone(a, v->items[i]);
    if (v->keys) {
      c->keys = arena_alloc(a, sizeof *c->keys * v->n);
      for (size_t i = 0; i < v->n; i++)
        c->keys[i] = arena_strdup(a, v->keys[i]);
    }
  } else {
    c->items = NULL;
    c->keys = NULL;
  }
  return c;
}

static const char *dup_or_null(arena *a, const char *s) {
  return s ? arena_strdup(a, s) : NULL;
}

static void bp_copy(arena *a, const blueprint *src, blueprint *dst) {
  *dst = *src;
  dst->name = dup_or_null(a, src->name);
  dst->event = dup_or_null(a, src->event);
  dst->cron = dup_or_null(a, src->cron);
  dst->timezone = dup_or_null(a, src->timezone);
  dst->nodes = arena_alloc(a, sizeof *dst->nodes * (size_t)src->nnodes);
  for (int i = 0; i < src->nnodes; i++) {
    dst->nodes[i] = src->nodes[i];
    dst->nodes[i].id = arena_strdup(a, src->nodes[i].id);
    dst->nodes[i].type = arena_strdup(a, src->nodes[i].type);
    dst->nodes[i].params = json_clone(a, src->nodes[i].params);
  }
  dst->edges =
      arena_alloc(a, sizeof *dst->edges * (size_t)(src->nedges ? src->nedges : 1));
  for (int k = 0; k < src->nedges; k++) {
    dst->edges[k] = src->edges[k];
    dst->edges[k].when = dup_or_null(a, src->edges[k].when);
  }
}

static vc_entry *vc_find(const char *profile, const char *bp_id, int version) {
  for (int i = 0; i < VCACHE_SIZE; i++) {
    vc_entry *e = &vcache[i];
    if (e->a && e->version == version && !strcmp(e->bp_id, bp_id) &&
        !strcmp(e->profile, profile))
      return e;
  }
  return NULL;
}

void flow_version_cache_stats(long *hits, long *misses) {
  pthread_mutex_lock(&vc_mu);
  *hits = vc_hits;
  *misses = vc_misses;
  pthread_mutex_unlock(&vc_mu);
}

void flow_version_cache_clear(void) {
  pthread_mutex_lock(&vc_mu);
  for (int i = 0; i < VCACHE_SIZE; i++) {
    arena_free(vcache[i].a);
    memset(&vcache[i], 0, sizeof vcache[i]);
  }
  vc_hits = vc_misses = 0;
  pthread_mutex_unlock(&vc_mu);
}

int flow_version_load(db *d, arena *a, const char *profile_id,
                      const char *blueprint_id, int version, blueprint *out,
                      int *found, db_err *err) {
  char pid[UUID_STR_LEN + 1], bid[UUID_STR_LEN + 1];
  *found = 0;
  memset(out, 0, sizeof *out);
  if (!profile_id || !blueprint_id || uuid_normalize(profile_id, pid) ||
      uuid_normalize(blueprint_id, bid))
    return 0;
  pthread_mutex_lock(&vc_mu);
  vc_entry *hit = vc_find(pid, bid, version);
  if (hit) {
    hit->used = ++vc_tick;
    vc_hits++;
    bp_copy(a, &hit->bp, out);
    pthread_mutex_unlock(&vc_mu);
    *found = 1;
    return 0;
  }
  vc_misses++;
  pthread_mutex_unlock(&vc_mu);

  db_val v[] = {db_uuid(pid), db_uuid(bid), db_int(version)};
  db_res *r = NULL;
  if (db_query_fixed(d,
                     "SELECT name, nodes, edges FROM workflow_versions WHERE "
                     "profile_id = $1 AND blueprint_id = $2 AND version = $3",
                     v, 3, &r, err))
    return -1;
  if (db_res_rows(r) != 1) {
    db_res_free(r);
    return 0;
  }
  arena *ca = arena_new();
  json *jn = NULL, *je = NULL;
  const char *name = arena_strdup(ca, db_res_text(r, 0, 0));
  int bad = parse_json_text(ca, arena_strdup(ca, db_res_text(r, 0, 1)), &jn) ||
            parse_json_text(ca, arena_strdup(ca, db_res_text(r, 0, 2)), &je);
  db_res_free(r);
  blueprint bp;
  bp_error be;
  memset(&be, 0, sizeof be);
  if (bad || bp_parse(ca, name, jn, je, &bp, &be)) {
    arena_free(ca);
    snprintf(err->code, sizeof err->code, "22023");
    snprintf(err->message, sizeof err->message,
             "version %d of blueprint %s does not validate: %.80s (node "
             "'%.40s', parameter '%.24s')",
             version, bid, bad ? "not JSON" : be.message, be.node, be.param);
    return -1;
  }
  pthread_mutex_lock(&vc_mu);
  vc_entry *e = vc_find(pid, bid, version);
  if (e) { /* another thread loaded it meanwhile: keep theirs */
    arena_free(ca);
  } else {
    e = &vcache[0];
    for (int i = 0; i < VCACHE_SIZE; i++) {
      if (!vcache[i].a) {
        e = &vcache[i];
        break;
      }
      if (vcache[i].used < e->used) e = &vcache[i];
    }
    arena_free(e->a);
    memcpy(e->profile, pid, sizeof pid);
    memcpy(e->bp_id, bid, sizeof bid);
    e->version = version;
    e->a = ca;
    e->bp = bp;
  }
  e->used = ++vc_tick;
  bp_copy(a, &e->bp, out);
  pthread_mutex_unlock(&vc_mu);
  *found = 1;
  return 0;
}

/* ---- activation -------------------------------------------------------------- */

int flow_activate(db *d, arena *a, const char *profile_id, const char *id,
                  int on, int64_t now_us, int *found, bp_error *be,
                  db_err *err) {
  char uid[UUID_STR_LEN + 1], pid[UUID_STR_LEN + 1];
  memset(be, 0, sizeof *be);
  memset(err, 0, sizeof *err);
  *found = 0;
  if (!id || !profile_id || uuid_normalize(id, uid) ||
      uuid_normalize(profile_id, pid))
    return 0;
  static const char *const sql[2] = {
      "SELECT name, nodes, edges, version, webhook_token FROM "
      "workflow_blueprints WHERE profile_id = $1 AND id = $2",
      "SELECT name, nodes, edges, version, webhook_token FROM "
      "workflow_blueprints WHERE profile_id = $1 AND id = $2 FOR UPDATE"};
  db_val v[] = {db_uuid(pid), db_uuid(uid)};
  db_res *r = NULL;
  if (db_query_fixed(d, sql[db_kind_of(d) == DB_POSTGRES], v, 2, &r, err))
    return -1;
  if (db_res_rows(r) != 1) {
    db_res_free(r);
    return 0;
  }
  *found = 1;
  const char *name = arena_strdup(a, db_res_text(r, 0, 0));
  const char *nodes = arena_strdup(a, db_res_text(r, 0, 1));
  const char *edges = arena_strdup(a, db_res_text(r, 0, 2));
  int version = (int)db_res_int(r, 0, 3);
  const char *token =
      db_res_isnull(r, 0, 4) ? NULL : arena_strdup(a, db_res_text(r, 0, 4));
  db_res_free(r);
  json *jn = NULL, *je = NULL;
  blueprint bp;
  int bad = parse_json_text(a, nodes, &jn) || parse_json_text(a, edges, &je) ||
            bp_parse(a, name, jn, je, &bp, be);
  if (bad && !be->message[0])
    snprintf(be->message, sizeof be->message, "the stored graph is not JSON");
  bp_cols c = {.n = 0};
  if (bad) {
    if (on) return -1;
    /* Turning off what no longer validates is always allowed. */
    memset(be, 0, sizeof *be);
    bp_activation_cols(a, NULL, 0, version, token, now_us, &c, be);
  } else {
    bp_trigger_cols(&bp, &c);
    if (bp_activation_cols(a, &bp, on, version, token, now_us, &c, be))
      return -1;
  }
  return update_cols(d, a, pid, uid, &c, now_us, err);
}

/* The answer of both rpcs: what a front end shows of the workflow's state.
 * {id, name, version, active_version, is_active, trigger_kind,
 * trigger_event, cron, timezone, next_run_at, webhook_url}. */
static int answer_row(db *d, const char *profile_id, const char *id,
                      api_resp *resp, db_err *err) {
  db_val v[] = {db_uuid(profile_id), db_uuid(id)};
  db_res *r = NULL;
  if (db_query_fixed(d,
                     "SELECT name, version, active_version, is_active, "
                     "trigger_kind, trigger_event, cron, timezone, "
                     "next_run_at, webhook_url FROM workflow_blueprints WHERE "
                     "profile_id = $1 AND id = $2",
                     v, 2, &r, err))
    return -1;
  buf *b = &resp->body;
  buf_reset(b);
  json_obj o;
  json_obj_open(&o, b);
  json_obj_str(&o, "id", id);
  if (db_res_rows(r) == 1) {
    json_obj_str(&o, "name", db_res_text(r, 0, 0));
    json_obj_int(&o, "version", db_res_int(r, 0, 1));
    if (db_res_isnull(r, 0, 2))
      json_obj_null(&o, "active_version");
    else
      json_obj_int(&o, "active_version", db_res_int(r, 0, 2));
    json_obj_bool(&o, "is_active", db_res_bool(r, 0, 3));
    static const char *const texts[] = {"trigger_kind", "trigger_event",
                                        "cron", "timezone"};
    for (int k = 0; k < 4; k++)
      json_obj_str(&o, texts[k],
                   db_res_isnull(r, 0, 4 + k) ? NULL : db_res_text(r, 0, 4 + k));
    if (db_res_isnull(r, 0, 8))
      json_obj_null(&o, "next_run_at");
    else
      json_obj_ts(&o, "next_run_at", db_res_ts(r, 0, 8));
    json_obj_str(&o, "webhook_url",
                 db_res_isnull(r, 0, 9) ? NULL : db_res_text(r, 0, 9));
  }
  json_obj_close(&o);
  db_res_free(r);
  resp->status = 200;
  return 0;
}

static void rpc_activate(db *d, api_req *req, const json *args, int on,
                         api_resp *resp) {
  const json *id = json_get(args, "id");
  char uid[UUID_STR_LEN + 1];
  if (!id || id->type != JSON_STRING || uuid_normalize(id->str, uid)) {
    api_fail(resp, E_OP_INVALID, "id is required: the blueprint's uuid", NULL,
             NULL);
    return;
  }
  db_err err;
  bp_error be;
  for (int attempt = 1;; attempt++) {
    int found = 0;
    memset(&err, 0, sizeof err);
    if (db_begin(d, 1, &err)) break;
    if (flow_activate(d, req->a, req->who.sub, uid, on, time_now_us(), &found,
                      &be, &err)) {
      db_rollback(d);
      if (be.message[0]) {
        bp_error_reply(&be, resp);
        return;
      }
    } else if (!found) {
      db_rollback(d);
      api_fail(resp, E_OP_NOT_FOUND, "no such workflow blueprint", NULL, NULL);
      return;
    } else if (!answer_row(d, req->who.sub, uid, resp, &err) &&
               !db_commit(d, &err)) {
      return;
    } else {
      db_rollback(d);
    }
    if (!api_sqlstate_retryable(err.code) || attempt == 3) break;
  }
  flow_rpc_db_fail(resp, &err);
}

void flow_rpc_activate(db *d, api_req *req, const json *args, api_resp *resp) {
  rpc_activate(d, req, args, 1, resp);
}

void flow_rpc_deactivate(db *d, api_req *req, const json *args,
                         api_resp *resp) {
  rpc_activate(d, req, args, 0, resp);
}

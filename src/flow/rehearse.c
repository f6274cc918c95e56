/* rehearse.c - rpc/rehearse_workflow {id, last_n} and the dry walk of a
 * graph (rehearse.h).
 *
 * The replayed triggers are the business's own: for an event trigger the
 * last N events of that type in the outbox, for cron the last N times the
 * schedule would have fired, for manual and webhook triggers the inputs of
 * the last N runs (a manual workflow never run is rehearsed once with an
 * empty input). Each is walked through the blueprint's current graph and
 * answered step by step with what would have been sent to whom. */
#include "flow/rehearse.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/timeutil.h"
#include "flow/bpstore.h"
#include "flow/cron.h"
#include "flow/env.h"
#include "flow/expr.h"
#include "flow/node.h"
#include "flow/rpc_int.h"

typedef struct rwalk {
  db *d;
  arena *a;
  const char *profile_id, *blueprint_id;
  int version;
  const blueprint *bp;
  const json *trigger;
  buf ctx_nodes; /* members "id": output, for the context's "nodes" */
  buf ctx_vars;  /* members of the `set` nodes' values */
  json_obj *steps, *would;
  int nsteps;
  int failed, stopped, truncated;
} rwalk;

static const json *parse_or(arena *a, const char *text, const char *dflt) {
  json *j;
  json_error je;
  if (text && *text && !json_parse(a, text, strlen(text), &j, &je)) return j;
  json_parse(a, dflt, strlen(dflt), &j, &je);
  return j;
}

static const json *context_of(rwalk *w) {
  const char *t = arena_printf(w->a, "{\"nodes\":{%s},\"vars\":{%s}}",
                               buf_cstr(&w->ctx_nodes), buf_cstr(&w->ctx_vars));
  return parse_or(w->a, t, "{\"nodes\":{},\"vars\":{}}");
}

static void remember(rwalk *w, const char *id, const char *type,
                     const char *output) {
  const json *o = parse_or(w->a, output, "{}");
  if (w->ctx_nodes.len) buf_putc(&w->ctx_nodes, ',');
  json_write_str(&w->ctx_nodes, id, strlen(id));
  buf_putc(&w->ctx_nodes, ':');
  json_write(&w->ctx_nodes, o);
  /* A set node's values are names of their own for the steps after it. */
  if (!strcmp(type, "set") && o->type == JSON_OBJECT)
    for (size_t k = 0; k < o->n; k++) {
      if (w->ctx_vars.len) buf_putc(&w->ctx_vars, ',');
      json_write_str(&w->ctx_vars, o->keys[k], strlen(o->keys[k]));
      buf_putc(&w->ctx_vars, ':');
      json_write(&w->ctx_vars, o->items[k]);
    }
}

/* "would send "text" to who" from a dry run's output; who is said as the
 * owner reads it: the customer's name, or "the owner", with the number
 * (in: the step's input, whose "to" says whom the node meant). */
static const char *would_of(arena *a, const json *out, const json *in,
                            const char *customer_name) {
  const json *would = json_get(out, "would");
  if (!would || would->type != JSON_STRING) return NULL;
  const json *to = json_get(out, "to"), *text = json_get(out, "text");
  if (!strcmp(would->str, "send")) {
    const char *number = to && to->type == JSON_STRING ? to->str
                         : to                          ? json_to_text(a, to)
                                                       : "?";
    const json *meant = json_get(in, "to");
    const char *who = number;
    if (meant && meant->type == JSON_STRING && !strcmp(meant->str, "owner"))
      who = arena_printf(a, "the owner (%s)", number);
    else if (meant && meant->type == JSON_STRING &&
             !strcmp(meant->str, "customer") && customer_name)
      who = arena_printf(a, "%s (%s)", customer_name, number);
    return arena_printf(a, "would send \"%s\" to %s",
                        text && text->type == JSON_STRING ? text->str : "",
                        who);
  }
  return arena_printf(a, "would %s %s", would->str, json_to_text(a, out));
}

static void walk_node(rwalk *w, int i, const json *item, const char *scope,
                      int64_t now, int depth);

static void walk_next(rwalk *w, int i, const char *branch, const json *item,
                      const char *scope, int64_t now, int depth) {
  int next[BP_MAX_EDGES];
  int n = bp_next(w->bp, i, branch, next, BP_MAX_EDGES);
  for (int k = 0; k < n; k++)
    walk_node(w, next[k], item, scope, now, depth + 1);
}

static void walk_node(rwalk *w, int i, const json *item, const char *scope,
                      int64_t now, int depth) {
  if (depth > BP_MAX_NODES) return; /* defensive: graphs have no cycles */
  if (w->nsteps >= REHEARSE_MAX_STEPS) {
    w->truncated = 1;
    return;
  }
  w->nsteps++;
  const bp_node *node = &w->bp->nodes[i];
  const flow_node_type *nt = node->nt ? node->nt : flow_node_find(node->type);
  flow_env env;
  flow_env_init(&env, w->d, w->a, w->profile_id, w->trigger, context_of(w),
                item, now);
  flow_step_ctx c;
  memset(&c, 0, sizeof c);
  c.d = w->d, c.a = w->a, c.profile_id = w->profile_id;
  c.blueprint_id = w->blueprint_id, c.run_id = "rehearsal";
  c.version = w->version, c.bp = w->bp, c.node = i, c.scope = scope;
  c.attempt = 1, c.now_us = now, c.env = &env, c.dry_run = 1;
  c.effect_key = arena_printf(w->a, "rehearsal:%s:%s", node->id, scope);
  flow_step_result r;
  flow_step_result_init(&r);
  db_err err;
  memset(&err, 0, sizeof err);
  const char *status = "completed", *would = NULL, *error = NULL;
  int follow = 1;
  const char *branch = NULL;
  int64_t next_now = now;
  if (!nt || !nt->run) {
    status = "failed";
    error = arena_printf(w->a, "node type '%s' cannot run", node->type);
    follow = 0;
  } else if (nt->run(&c, &r, &err)) {
    status = "failed";
    error = arena_printf(w->a, "database error: %s", err.message);
    follow = 0;
  } else {
    switch (r.outcome) {
      case NODE_DONE:
        if (nt->flags & NODE_BRANCHES) branch = r.branch ? r.branch : "false";
        break;
      case NODE_WAITING: {
      int64_t until = r.wake_at > now ? r.wake_at : now;
      const json *f = json_get(node->params, "for");
      status = "would_wait";
      if (f && f->type == JSON_STRING) {
        would = arena_printf(w->a, "would wait %s", f->str);
      } else {
        /* until a time: said as the owner reads times (IST) */
        expr_val t = {.t = EV_TIME, .us = until};
        buf tb;
        buf_init(&tb, 256);
        expr_format(&t, 19800, &tb);
        would = arena_printf(w->a, "would wait until %s", buf_cstr(&tb));
        buf_free(&tb);
      }
      next_now = until;
      break;
    }
    case NODE_STOP:
        status = r.error[0] ? "failed" : "stopped";
        if (r.error[0]) error = arena_strdup(w->a, r.error);
        w->stopped = 1;
        follow = 0;
        break;
      case NODE_RETRY:
      case NODE_FAILED:
      case NODE_PAUSED:
        status = "failed";
        error = arena_strdup(w->a, r.error[0] ? r.error : "failed");
        follow = 0;
        break;
    }
  }
  const char *output = r.output.len ? buf_cstr(&r.output) : "{}";
  const json *out = parse_or(w->a, output, "{}");
  const json *in = parse_or(w->a, buf_cstr(&r.input), "{}");
  if (!would && nt && (nt->flags & NODE_EFFECT) && json_get(out, "would")) {
    const char *name = NULL;
    const json *meant = json_get(in, "to");
    if (w->d && meant && meant->type == JSON_STRING &&
        !strcmp(meant->str, "customer")) {
      int dberr = 0;
      const json *cust = flow_env_record(&env, "customer", &dberr);
      const json *fn = json_get(cust, "full_name");
      if (fn && fn->type == JSON_STRING) name = fn->str;
    }
    would = would_of(w->a, out, in, name);
  }
  if (follow) remember(w, node->id, node->type, output);

  json_obj s;
  json_obj_nest(w->steps, NULL, &s);
  json_obj_str(&s, "node_id", node->id);
  json_obj_str(&s, "type", node->type);
  if (*scope) json_obj_str(&s, "scope", scope);
  json_obj_str(&s, "status", status);
  if (branch) json_obj_str(&s, "branch", branch);
  json_obj_raw(&s, "input", json_to_text(w->a, in));
  json_obj_raw(&s, "output", json_to_text(w->a, out));
  if (would) json_obj_str(&s, "would", would);
  if (error) json_obj_str(&s, "error", error);
  const json *items = NULL;
  if (follow && nt && (nt->flags & NODE_FOREACH))
    items = parse_or(w->a, buf_cstr(&r.items), "[]");
  if (items)
    json_obj_int(&s, "items",
                 items->type == JSON_ARRAY ? (int64_t)items->n : 0);
  json_obj_close(&s);
  if (would && strncmp(would, "would wait", 10))
    json_obj_str(w->would, NULL, would);
  if (error) w->failed = 1;
  flow_step_result_free(&r);
  if (!follow) return;
  if (items) {
    for (size_t k = 0; items->type == JSON_ARRAY && k < items->n; k++) {
      if (k >= REHEARSE_MAX_ITEMS) {
        w->truncated = 1;
        break;
      }
      const char *sc = arena_printf(w->a, "%s%s%s#%zu", scope,
                                    *scope ? "/" : "", node->id, k);
      walk_next(w, i, NULL, items->items[k], sc, next_now, depth);
    }
    return;
  }
  walk_next(w, i, branch, item, scope, next_now, depth);
}

void flow_rehearse_walk(db *d, arena *a, const char *profile_id,
                        const char *blueprint_id, int version,
                        const blueprint *bp, const json *trigger,
                        int64_t now_us, json_obj *out) {
  rwalk w;
  memset(&w, 0, sizeof w);
  w.d = d, w.a = a, w.profile_id = profile_id, w.blueprint_id = blueprint_id;
  w.version = version, w.bp = bp, w.trigger = trigger;
  buf_init(&w.ctx_nodes, 8 << 20);
  buf_init(&w.ctx_vars, 8 << 20);
  json_obj steps, would;
  json_obj_arr(out, "steps", &steps);
  w.steps = &steps;
  /* "would" is written after the steps: collected in its own buffer. */
  buf wb;
  buf_init(&wb, 8 << 20);
  json_arr_open(&would, &wb);
  w.would = &would;
  walk_node(&w, bp->trigger, NULL, "", now_us, 0);
  json_obj_close(&steps);
  json_obj_close(&would);
  json_obj_raw(out, "would", buf_cstr(&wb));
  json_obj_str(out, "outcome",
               w.failed    ? "failed"
               : w.stopped ? "stopped"
                           : "completed");
  if (w.truncated) json_obj_bool(out, "truncated", 1);
  buf_free(&wb);
  buf_free(&w.ctx_nodes);
  buf_free(&w.ctx_vars);
}

/* ---- the rpc --------------------------------------------------------- */

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The trigger object of an event: its payload with event_type,
 * entity_type, entity_id and event_id added (env.h). */
static const json *event_trigger(arena *a, const db_res *r, int row) {
  const json *p = parse_or(a, db_res_text(r, row, 4), "{}");
  buf b;
  buf_init(&b, 0);
  json_obj o;
  json_obj_open(&o, &b);
  static const char *const added[] = {"event_id", "event_type", "entity_type",
                                      "entity_id"};
  const char *vals[4] = {db_res_text(r, row, 0), db_res_text(r, row, 1),
                         db_res_text(r, row, 2), db_res_text(r, row, 3)};
  for (size_t k = 0; p->type == JSON_OBJECT && k < p->n; k++) {
    int skip = 0;
    for (int q = 0; q < 4; q++) skip |= !strcmp(p->keys[k], added[q]);
    if (!skip) json_obj_raw(&o, p->keys[k], json_to_text(a, p->items[k]));
  }
  for (int q = 0; q < 4; q++) json_obj_str(&o, added[q], vals[q]);
  json_obj_close(&o);
  const json *t = parse_or(a, buf_cstr(&b), "{}");
  buf_free(&b);
  return t;
}

typedef struct replay {
  const json *trigger;
  const char *source; /* JSON object text */
} replay;

/* The last n times the schedule fired before now, oldest first. */
static int cron_times(const blueprint *bp, int64_t now, int n, int64_t *out) {
  cron_spec spec;
  char e[128];
  if (cron_parse(bp->cron, &spec, e, sizeof e)) return 0;
  const cron_tz *tz =
      cron_tz_get(bp->timezone ? bp->timezone : CRON_DEFAULT_TZ, e, sizeof e);
  if (!tz) return 0;
  /* Widen the window back from now until it holds n times: a ring of the
   * last n seen, and a bound on the work for schedules of every minute. */
  for (int64_t span = 86400LL * 1000000; span <= 5 * 366 * 86400LL * 1000000;
       span *= 4) {
    int cnt = 0, steps = 0;
    for (int64_t t = cron_next(&spec, tz, now - span);
         t > 0 && t <= now && steps < 200000;
         t = cron_next(&spec, tz, t), steps++)
      out[cnt++ % n] = t;
    if (cnt >= n || span * 4 > 5 * 366 * 86400LL * 1000000) {
      int k = cnt < n ? cnt : n;
      /* rotate the ring into order */
      int64_t tmp[REHEARSE_MAX_N];
      for (int q = 0; q < k; q++) tmp[q] = out[(cnt - k + q) % n];
      memcpy(out, tmp, (size_t)k * sizeof *out);
      return k;
    }
  }
  return 0;
}

void flow_rpc_rehearse(db *d, api_req *req, const json *args, api_resp *resp) {
  arena *a = req->a;
  const json *id = json_get(args, "id"), *ln = json_get(args, "last_n");
  if (!id || id->type != JSON_STRING || !id->len) {
    api_fail(resp, E_OP_INVALID, "id is required: the workflow to rehearse",
             NULL, NULL);
    return;
  }
  int64_t last_n = 5;
  if (ln && ln->type != JSON_NULL &&
      (ln->type != JSON_NUMBER || json_int64(ln, &last_n) || last_n < 1 ||
       last_n > REHEARSE_MAX_N)) {
    api_failf(resp, E_OP_INVALID, "last_n must be a whole number from 1 to %d",
              REHEARSE_MAX_N);
    return;
  }
  db_err err;
  memset(&err, 0, sizeof err);
  flow_bp_row row;
  memset(&row, 0, sizeof row);
  int found = 0;
  if (flow_blueprint_load(d, a, req->who.sub, id->str, &row, &found, &err)) {
    flow_rpc_db_fail(resp, &err);
    return;
  }
  if (!found) {
    api_fail(resp, E_OP_NOT_FOUND, "no such workflow", NULL, NULL);
    return;
  }
  blueprint bp;
  bp_error be;
  memset(&be, 0, sizeof be);
  const json *nodes = parse_or(a, row.nodes, "[]"),
             *edges = parse_or(a, row.edges, "[]");
  if (bp_parse(a, row.name, nodes, edges, &bp, &be)) {
    bp_error_reply(&be, resp);
    return;
  }
  int64_t now = now_us();
  replay rp[REHEARSE_MAX_N];
  int nrp = 0;
  db_res *r = NULL;
  if (bp.kind == BP_TRIGGER_EVENT) {
    db_val pv[3] = {db_uuid(req->who.sub), db_text(bp.event), db_int(last_n)};
    if (db_query(d,
                 "SELECT id, event_type, entity_type, entity_id, payload, "
                 "created_at FROM events WHERE profile_id = $1 AND "
                 "event_type = $2 ORDER BY seq DESC LIMIT $3",
                 pv, 3, &r, &err))
      goto dbfail;
    for (int i = db_res_rows(r) - 1; i >= 0 && nrp < REHEARSE_MAX_N; i--) {
      char at[TS_TEXT_LEN + 1];
      ts_format(db_res_ts(r, i, 5), at);
      rp[nrp].trigger = event_trigger(a, r, i);
      rp[nrp++].source = arena_printf(
          a, "{\"event_id\":\"%s\",\"event_type\":\"%s\",\"at\":\"%s\"}",
          db_res_text(r, i, 0), bp.event, at);
    }
  } else if (bp.kind == BP_TRIGGER_CRON) {
    int64_t times[REHEARSE_MAX_N];
    int k = cron_times(&bp, now, (int)last_n, times);
    for (int i = 0; i < k; i++) {
      char at[TS_TEXT_LEN + 1];
      ts_format(times[i], at);
      rp[nrp].trigger = parse_or(
          a, arena_printf(a, "{\"scheduled_for\":\"%s\",\"missed\":false}", at),
          "{}");
      rp[nrp++].source = arena_printf(a, "{\"scheduled_for\":\"%s\"}", at);
    }
  } else {
    db_val pv[4] = {db_uuid(req->who.sub), db_uuid(row.id), db_bool(0),
                    db_int(last_n)};
    if (db_query(d,
                 "SELECT id, input, started_at FROM workflow_logs WHERE "
                 "profile_id = $1 AND blueprint_id = $2 AND rehearsal = $3 "
                 "ORDER BY started_at DESC, id DESC LIMIT $4",
                 pv, 4, &r, &err))
      goto dbfail;
    for (int i = db_res_rows(r) - 1; i >= 0 && nrp < REHEARSE_MAX_N; i--) {
      char at[TS_TEXT_LEN + 1];
      ts_format(db_res_ts(r, i, 2), at);
      rp[nrp].trigger = parse_or(a, db_res_text(r, i, 1), "{}");
      rp[nrp++].source = arena_printf(a, "{\"run_id\":\"%s\",\"at\":\"%s\"}",
                                      db_res_text(r, i, 0), at);
    }
    if (nrp == 0 && bp.kind == BP_TRIGGER_MANUAL) {
      rp[nrp].trigger = parse_or(a, "{}", "{}");
      rp[nrp++].source = "{\"input\":\"empty: the workflow was never run\"}";
    }
  }
  db_res_free(r);
  r = NULL;

  json_obj o, list;
  json_obj_open(&o, &resp->body);
  json_obj_str(&o, "id", row.id);
  json_obj_str(&o, "name", row.name);
  json_obj_int(&o, "version", row.version);
  json_obj_str(&o, "trigger", bp_trigger_kind_name(bp.kind));
  if (bp.kind == BP_TRIGGER_EVENT) json_obj_str(&o, "event", bp.event);
  if (bp.kind == BP_TRIGGER_CRON) json_obj_str(&o, "cron", bp.cron);
  json_obj_int(&o, "last_n", last_n);
  json_obj_int(&o, "found", nrp);
  json_obj_arr(&o, "rehearsals", &list);
  for (int i = 0; i < nrp; i++) {
    json_obj one;
    json_obj_nest(&list, NULL, &one);
    json_obj_raw(&one, "source", rp[i].source);
    json_obj_raw(&one, "trigger", json_to_text(a, rp[i].trigger));
    flow_rehearse_walk(d, a, req->who.sub, row.id, row.version, &bp,
                       rp[i].trigger, now, &one);
    json_obj_close(&one);
  }
  json_obj_close(&list);
  json_obj_str(&o, "note",
               nrp ? "a rehearsal: nothing was sent, saved or changed"
                   : "nothing to replay yet: no matching events or runs");
  if (json_obj_close(&o)) {
    api_fail(resp, E_TOO_LARGE, "the rehearsal is too large to answer", NULL,
             NULL);
    return;
  }
  resp->status = 200;
  return;
dbfail:
  db_res_free(r);
  flow_rpc_db_fail(resp, &err);
}

/* bp_rest.c - the REST layer's hooks on workflow_blueprints (bpstore.h):
 * a blueprint written with POST or PATCH /rest/v1/workflow_blueprints is
 * held to the rules the rpcs and the Architect keep, inside the write's
 * transaction (rest.h rest_set_write_hook).
 *
 * For each row: the graph the row will hold (the body's name/nodes/edges
 * over the row's current ones) must pass bp_parse, else the request is
 * refused with the node and parameter at fault and nothing is written; the
 * trigger's columns follow the graph; a graph that differs from the current
 * one makes version + 1 and its workflow_versions row (on insert, version 1,
 * written once the row exists: the after-insert hook); an active row runs
 * its new version at once; and writing is_active does what flow_activate
 * does. A PATCH that touches none of name, nodes, edges, is_active and
 * trigger_event is left alone (a description, the caps). */
#include <string.h>

#include "base/timeutil.h"
#include "flow/bp_int.h"
#include "flow/bpstore.h"

static int field_at(const biz_fields *f, const char *name) {
  for (int i = 0; i < f->n; i++)
    if (!strcmp(f->names[i], name)) return i;
  return -1;
}

static int field_set(biz_fields *f, const char *name, db_val v,
                     api_resp *resp) {
  int i = field_at(f, name);
  if (i < 0) {
    if (f->n == f->cap) return api_fail(resp, E_INTERNAL, NULL, NULL, NULL);
    i = f->n++;
    f->names[i] = name;
  }
  f->vals[i] = v;
  return 0;
}

/* The JSON value the body writes to column i (NULL when it writes null). */
static const json *field_json(arena *a, const biz_fields *f, int i) {
  if (f->vals[i].type != DBT_JSON || !f->vals[i].s) return NULL;
  json *v;
  json_error je;
  if (json_parse(a, f->vals[i].s, strlen(f->vals[i].s), &v, &je)) return NULL;
  return v;
}

static const char *json_str(const json *o, const char *key) {
  const json *v = json_get(o, key);
  return v && v->type == JSON_STRING ? v->str : NULL;
}

int flow_bp_rest_before(db *d, arena *a, const api_principal *who, int insert,
                        const json *current, biz_fields *fields,
                        api_resp *resp) {
  int i_name = field_at(fields, "name"), i_nodes = field_at(fields, "nodes");
  int i_edges = field_at(fields, "edges"), i_on = field_at(fields, "is_active");
  if (!insert && i_name < 0 && i_nodes < 0 && i_edges < 0 && i_on < 0 &&
      field_at(fields, "trigger_event") < 0)
    return 0;
  if (!insert && !current) return api_fail(resp, E_INTERNAL, NULL, NULL, NULL);

  /* The graph the row will hold. */
  const char *name = i_name >= 0 ? (fields->vals[i_name].type == DBT_NULL
                                        ? ""
                                        : fields->vals[i_name].s)
                                 : json_str(current, "name");
  const json *nodes = i_nodes >= 0 ? field_json(a, fields, i_nodes)
                      : insert    ? NULL
                                  : json_get(current, "nodes");
  const json *edges = i_edges >= 0 ? field_json(a, fields, i_edges)
                      : insert    ? NULL
                                  : json_get(current, "edges");
  blueprint bp;
  bp_error be;
  if (bp_parse(a, name ? name : "", nodes, edges, &bp, &be)) {
    bp_error_reply(&be, resp);
    return -1;
  }

  /* Which row, which version. */
  int i_prof = field_at(fields, "profile_id"), i_id = field_at(fields, "id");
  const char *profile = insert ? (i_prof >= 0 ? fields->vals[i_prof].s : who->sub)
                               : json_str(current, "profile_id");
  const char *id = insert ? (i_id >= 0 ? fields->vals[i_id].s : NULL)
                          : json_str(current, "id");
  if (!profile || !id) return api_fail(resp, E_INTERNAL, NULL, NULL, NULL);
  int64_t cur_version = 0;
  const json *cv = insert ? NULL : json_get(current, "version");
  if (cv && json_int64(cv, &cur_version)) cur_version = 0;
  int changed =
      insert ||
      (i_nodes >= 0 && !bp_json_equal(nodes, json_get(current, "nodes"))) ||
      (i_edges >= 0 && !bp_json_equal(edges, json_get(current, "edges")));
  int version = (int)cur_version + (changed && !insert ? 1 : 0);
  if (insert) version = 1;
  const json *ca = insert ? NULL : json_get(current, "is_active");
  int was_on = ca && ca->type == JSON_TRUE;
  int on = i_on >= 0 ? fields->vals[i_on].type == DBT_BOOL &&
                           fields->vals[i_on].i
                     : was_on;

  bp_cols c = {.n = 0};
  bp_trigger_cols(&bp, &c);
  if (changed) bp_cols_set(&c, "version", db_int(version));
  /* Writing is_active as it already is changes nothing (a front end that
   * saves the whole row must not move a cron's due time or lose a tick). */
  if ((i_on >= 0 && on != was_on) || (on && changed)) {
    const char *token = NULL;
    if (!insert) {
      db_val v[] = {db_uuid(profile), db_uuid(id)};
      db_res *r = NULL;
      db_err err;
      if (db_query_fixed(d,
                         "SELECT webhook_token FROM workflow_blueprints WHERE "
                         "profile_id = $1 AND id = $2",
                         v, 2, &r, &err)) {
        api_fail(resp, api_error_for_sqlstate(err.code), err.message, NULL,
                 NULL);
        return -1;
      }
      if (db_res_rows(r) == 1 && !db_res_isnull(r, 0, 0))
        token = arena_strdup(a, db_res_text(r, 0, 0));
      db_res_free(r);
    }
    memset(&be, 0, sizeof be);
    if (bp_activation_cols(a, &bp, on, version, token, time_now_us(), &c,
                           &be)) {
      bp_error_reply(&be, resp);
      return -1;
    }
  }
  for (int k = 0; k < c.n; k++)
    if (field_set(fields, c.names[k], c.vals[k], resp)) return -1;

  if (changed && !insert) {
    db_err err;
    if (bp_version_insert(d, profile, id, version, name,
                          json_to_text(a, nodes),
                          edges ? json_to_text(a, edges) : "[]", &err)) {
      api_fail(resp, api_error_for_sqlstate(err.code), err.message, NULL,
               NULL);
      return -1;
    }
  }
  return 0;
}

int flow_bp_rest_after_insert(db *d, arena *a, const api_principal *who,
                              const json *row, api_resp *resp) {
  (void)who;
  const char *profile = json_str(row, "profile_id"), *id = json_str(row, "id");
  const char *name = json_str(row, "name");
  const json *nodes = json_get(row, "nodes"), *edges = json_get(row, "edges");
  int64_t version = 0;
  const json *v = json_get(row, "version");
  if (!profile || !id || !name || !nodes || !edges || !v ||
      json_int64(v, &version))
    return api_fail(resp, E_INTERNAL, NULL, NULL, NULL);
  db_err err;
  if (bp_version_insert(d, profile, id, (int)version, name,
                        json_to_text(a, nodes), json_to_text(a, edges), &err))
    return api_fail(resp, api_error_for_sqlstate(err.code), err.message, NULL,
                    NULL);
  return 0;
}

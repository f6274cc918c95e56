/* bpstore.h - blueprints in the database: save, version, load, activate.
 *
 * A blueprint's graph is saved with a version number; each save of a new
 * graph (through REST or the Architect) makes version + 1 and a
 * workflow_versions row holding it. Activating a blueprint makes its
 * current version the one triggers run (active_version); editing an
 * active blueprint makes the new version the active one at once, if it is
 * valid (it must be: nothing invalid is saved). A run records the version
 * it runs and keeps running it whatever is saved meanwhile. Activation
 * also sets what the trigger needs: next_run_at for cron, the webhook's
 * token and URL. */
#ifndef MUNSHI_FLOW_BPSTORE_H
#define MUNSHI_FLOW_BPSTORE_H

#include <stdint.h>

#include "base/api.h"
#include "base/arena.h"
#include "base/json.h"
#include "biz/biz.h"
#include "db/db.h"
#include "flow/blueprint.h"

/* Creates a draft (is_active false, version 1, its workflow_versions row)
 * from a graph it checks with bp_parse, in the caller's transaction. nodes
 * and edges are JSON array text; prompt and explanation may be NULL.
 * Returns -1 with be->message set (err->code "") when the graph is not
 * valid, or with err after a database error. */
int flow_blueprint_create(db *d, arena *a, const char *profile_id,
                          const char *created_by, const char *name,
                          const char *prompt, const char *explanation,
                          const char *nodes, const char *edges,
                          char id_out[37], bp_error *be, db_err *err);

/* A blueprint's row as the engine and the rpcs need it. */
typedef struct flow_bp_row {
  char id[37];
  const char *name;
  int version, active_version; /* active_version 0 when never activated */
  int is_active;
  const char *nodes, *edges;   /* the current graph, JSON text */
  const char *trigger_kind, *trigger_event;
} flow_bp_row;
int flow_blueprint_load(db *d, arena *a, const char *profile_id,
                        const char *id, flow_bp_row *out, int *found,
                        db_err *err);

/* The graph of one version, parsed, copied into a (it lives as long as a).
 * *found 0 when there is no such version. Parsed graphs are kept in a
 * bounded, thread-safe cache keyed by (profile, blueprint, version): a
 * version never changes, so the workers' per-step loads cost a copy, not a
 * query and a parse. A stored version that no longer validates (a node
 * type's rules grew stricter) fails with err code 22023 and a message
 * naming the node and parameter. */
int flow_version_load(db *d, arena *a, const char *profile_id,
                      const char *blueprint_id, int version, blueprint *out,
                      int *found, db_err *err);

/* Activates (on 1) or deactivates a blueprint, in the caller's
 * transaction: is_active, active_version, paused_* cleared, next_run_at
 * (cron), webhook_token and webhook_url (webhook); the trigger's columns
 * derived again from the graph. -1 with be->message set (err->code "")
 * when the graph does not validate, or with err; *found 0 (and 0) when
 * there is no such blueprint. Deactivating keeps a webhook's token and URL
 * (see bp_int.h) and does not need the graph to be valid. */
int flow_activate(db *d, arena *a, const char *profile_id, const char *id,
                  int on, int64_t now_us, int *found, bp_error *be,
                  db_err *err);

/* The version cache (flow_version_load): counts since start, and a way to
 * empty it (tests). */
void flow_version_cache_stats(long *hits, long *misses);
void flow_version_cache_clear(void);

/* The REST layer's hooks on workflow_blueprints (rest.h
 * rest_set_write_hook; main registers them): a POST or PATCH that leaves
 * the row's name/nodes/edges an invalid graph is refused with the node and
 * parameter at fault; the trigger's columns are derived; a new graph makes
 * version + 1 and its workflow_versions row (version 1 on insert); an
 * active row runs its new version at once; setting is_active does what
 * flow_activate does. */
int flow_bp_rest_before(db *d, arena *a, const api_principal *who, int insert,
                        const json *current, biz_fields *fields,
                        api_resp *resp);
int flow_bp_rest_after_insert(db *d, arena *a, const api_principal *who,
                              const json *row, api_resp *resp);

#endif

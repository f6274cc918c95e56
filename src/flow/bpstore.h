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

#include "base/arena.h"
#include "db/db.h"
#include "flow/blueprint.h"

/* Creates a draft (is_active false, version 1) from a checked graph, in the
 * caller's transaction. nodes and edges are JSON array text. */
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

/* The graph of one version, parsed. *found 0 when there is no such
 * version. Parsed graphs are cached by (blueprint, version): a version
 * never changes. */
int flow_version_load(db *d, arena *a, const char *profile_id,
                      const char *blueprint_id, int version, blueprint *out,
                      int *found, db_err *err);

/* Activates (on 1) or deactivates a blueprint, in the caller's
 * transaction: is_active, active_version, paused_* cleared, next_run_at
 * (cron), webhook_token and webhook_url (webhook). -1 with be when the
 * graph does not validate; *found 0 when there is no such blueprint. */
int flow_activate(db *d, arena *a, const char *profile_id, const char *id,
                  int on, int64_t now_us, int *found, bp_error *be,
                  db_err *err);

#endif

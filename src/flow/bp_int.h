/* bp_int.h - what the files that keep blueprints in the database share
 * (bpstore.c, bp_rest.c, cron_trigger.c), and nothing else includes.
 *
 * The columns a graph and its activation decide are computed in one place,
 * so the rpc, the REST hook and the Architect's save write the same
 * values: the trigger's columns (trigger_kind, trigger_event, cron,
 * timezone) and the activation's (is_active, active_version, next_run_at,
 * webhook_token, webhook_url, paused_*). */
#ifndef MUNSHI_FLOW_BP_INT_H
#define MUNSHI_FLOW_BP_INT_H

#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/json.h"
#include "db/db.h"
#include "flow/blueprint.h"
#include "flow/cron.h"

#define BP_TOKEN_BYTES 24 /* a webhook token: 48 hex characters */

/* Column name/value pairs for an UPDATE or for the REST hook's fields. */
typedef struct bp_cols {
  const char *names[24];
  db_val vals[24];
  int n;
} bp_cols;
void bp_cols_set(bp_cols *c, const char *name, db_val v);

/* trigger_kind, trigger_event, cron and timezone of a parsed graph. */
void bp_trigger_cols(const blueprint *bp, bp_cols *c);

/* What activating (on) or deactivating a blueprint at version `version`
 * sets. token: its webhook_token now, or NULL. On: is_active, active_version,
 * paused_* cleared, next_run_at (the cron's next fire after now, else
 * NULL), webhook_token and webhook_url (a webhook trigger keeps its token or
 * gets a new one; any other trigger has none). Off: is_active false,
 * next_run_at NULL, paused_* cleared; a webhook keeps its token and URL (the
 * URL a sender was given survives a pause; the webhook refuses inactive
 * blueprints). bp may be NULL when turning off a graph that no longer
 * parses. -1 with be when a cron never fires. */
int bp_activation_cols(arena *a, const blueprint *bp, int on, int version,
                       const char *token, int64_t now_us, bp_cols *c,
                       bp_error *be);

/* The first fire of bp's cron strictly after after_us, or -1. */
int64_t bp_cron_next(const char *cron, const char *zone, int64_t after_us);

/* Writes the workflow_versions row of a version. */
int bp_version_insert(db *d, const char *profile_id, const char *id,
                      int version, const char *name, const char *nodes,
                      const char *edges, db_err *err);

/* 1 when a and b are the same JSON value (object members in any order;
 * numbers by their text). */
int bp_json_equal(const json *a, const json *b);

/* The webhook_url of a token: flow_settings_get()->public_url (without a
 * trailing '/') + "/webhooks/workflows/" + token. */
const char *bp_webhook_url(arena *a, const char *token);

/* cron_trigger.c: the input of a cron run due at `due` and started at now
 * ({"scheduled_for", "missed", "missed_count"}), appended to out; returns
 * missed_count (0 when on time: within two minutes). */
int64_t flow_cron_input(const char *cron, const char *zone, int64_t due,
                        int64_t now, buf *out);

#endif

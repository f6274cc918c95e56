/* engine.h - runs of workflows (engine.c), for the other parts of the flow
 * module: triggers start runs through flow_run_start.
 *
 * A run is a workflow_logs row; its runnable steps are workflow_steps rows
 * (one per node reached, per for_each scope), claimed by workers under a
 * lease (FOR UPDATE SKIP LOCKED on PostgreSQL). A step's start and its end
 * are each one commit that also updates the run's step_results, so a
 * screen watching the row sees every step as it happens. */
#ifndef MUNSHI_FLOW_ENGINE_H
#define MUNSHI_FLOW_ENGINE_H

#include <stdint.h>

#include "base/arena.h"
#include "db/db.h"
#include "flow/blueprint.h"

typedef struct flow_run_start_args {
  const char *profile_id;
  const char *blueprint_id;
  int version;
  const char *trigger_kind;     /* "event" | "cron" | "webhook" | "manual" */
  const char *trigger_key;      /* dedupes the start ("event:<id>"); NULL */
  const char *trigger_event_id; /* the event, for event triggers; NULL */
  const char *input;            /* the trigger's data, JSON object text */
  int rehearsal;
} flow_run_start_args;

/* Starts a run: the workflow_logs row (running) and the trigger's step, in
 * the caller's transaction (or its own when none is open). *created is 0
 * and run_id the existing run's when trigger_key fired already. Call
 * jobs_wake() after the commit. */
int flow_run_start(db *d, arena *a, const flow_run_start_args *s,
                   char run_id[37], int *created, db_err *err);

#endif

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
  /* 1: no transaction is open, flow_run_start opens and commits its own;
   * 0: it runs in the caller's open write transaction. (db.h cannot tell
   * which, and the run's row and its first step must be one commit.) */
  int own_tx;
} flow_run_start_args;

/* Starts a run: the workflow_logs row (running, context {"nodes":{},
 * "vars":{}}) and the trigger's step, due now. *created is 0 and run_id
 * the existing run's when trigger_key fired already (ON CONFLICT on the
 * blueprint's trigger_key). Fails (err 'P0002') when the version does not
 * exist. Call jobs_wake() after the commit. */
int flow_run_start(db *d, arena *a, const flow_run_start_args *s,
                   char run_id[37], int *created, db_err *err);

/* Most items a for_each may run its branch for. */
#define FLOW_FOREACH_MAX 1000

/* The graph of a run's version: flow_version_load, or the test loader. */
int flow_engine_graph(db *d, arena *a, const char *profile_id,
                      const char *blueprint_id, int version, blueprint *out,
                      int *found, db_err *err);
/* The engine's clock (µs): the wall clock, or the test clock. */
int64_t flow_engine_now(void);

/* Removes finished runs older than log_retention_days and the side-effect
 * records of runs no longer there (an effect lives as long as its run, so
 * a retried run never repeats one; the poller does it hourly). *removed (may
 * be NULL) gets how many rows went. */
int flow_purge(db *d, int64_t now_us, int64_t *removed, db_err *err);

/* Tests only, before any worker starts: a loader of graphs in place of
 * flow_version_load (blueprints built in C) and a clock in place of the
 * wall clock (waits without sleeping). NULL restores each. */
typedef int (*flow_graph_loader)(db *d, arena *a, const char *profile_id,
                                 const char *blueprint_id, int version,
                                 blueprint *out, int *found, db_err *err);
void flow_engine_test_hooks(flow_graph_loader load, int64_t (*clock)(void));

#endif

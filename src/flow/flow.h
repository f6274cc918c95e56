/* flow.h - the workflow module's entry points: what main, the HTTP layer
 * and the workers call (docs/workflows.md).
 *
 *   blueprint.c   parse and check a graph (the node table: node.h, nodes/)
 *   bpstore.c     save blueprints and their versions, activate, the REST
 *                 hook on workflow_blueprints, the cron trigger's poller
 *   engine.c      runs: start, claim steps, persist every step, follow the
 *                 edges, waits, for_each, retries, limits, cancel, retry;
 *                 the event trigger's consumer, manual runs, webhook runs
 *   expr.c env.c  expressions over the trigger, records, outputs, reports
 *   effects.c     side effects once, caps
 *   architect.c   draft a blueprint from the owner's words; rehearse.c
 *
 * flow sits beside chat and above it: send_message queues through the
 * chat outbox (chat/store.h); chat never calls flow. */
#ifndef MUNSHI_FLOW_FLOW_H
#define MUNSHI_FLOW_FLOW_H

#include "base/api.h"
#include "biz/events.h"
#include "db/db.h"

typedef struct flow_settings {
  int max_running_per_profile; /* steps running at once per business; 0: 8 */
  int step_lease_s;            /* a running step's lease; 0: 60 */
  int max_attempts;            /* per step, with back-off; 0: 5 */
  int log_retention_days;      /* finished runs kept; 0: 30 */
  int max_step_results;        /* entries kept per run's step_results; 0: 500 */
  const char *llm_url, *llm_key, *llm_model; /* the Architect; "" url: rules */
  int llm_timeout_ms;
  const char *public_url; /* prefix of webhook_url ("" : a path only) */
} flow_settings;
/* Copies s; called once by main before serving. */
void flow_configure(const flow_settings *s);
const flow_settings *flow_settings_get(void);

/* /rest/v1/rpc/<op> for activate_workflow, deactivate_workflow,
 * run_workflow, cancel_run, retry_run, draft_workflow, rehearse_workflow:
 * 1 when op is one of them. */
int flow_rpc_known(const char *op);
void flow_rpc(db *d, const char *op, api_req *req, api_resp *resp);

/* POST /webhooks/workflows/:token - a webhook trigger (ROUTE_WEBHOOK). */
void flow_webhook(db *d, api_req *req, api_resp *resp);

/* The REST layer's hook for writes to workflow_blueprints (registered by
 * main with rest_set_write_hook): see bpstore.c. */

/* jobs_consumer "flow.trigger": starts the runs an event triggers. */
int flow_trigger_handle(void *arg, db *d, const event_row *ev, int attempts,
                        db_err *err);
/* jobs_poller "flow.steps": runs due steps. */
int flow_steps_poll(void *arg, db *d, const char *worker, db_err *err);
/* jobs_poller "flow.cron": starts the runs of cron triggers that are due. */
int flow_cron_poll(void *arg, db *d, const char *worker, db_err *err);

#endif

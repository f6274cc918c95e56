/* env.h - what names and functions mean in a step's expressions: the
 * bridge between expr.h and the books.
 *
 * Root names, in this order:
 *   trigger (alias event, input): the trigger's data - an event's payload
 *       with event_type, entity_type, entity_id and event_id added; a
 *       webhook's JSON body; rpc/run_workflow's input; a cron tick's
 *       {scheduled_for, missed}
 *   item: the for_each item of this scope (null outside one)
 *   customer, invoice, product, payment, shipment, message: the record the
 *       trigger or the item names (entity_type/entity_id, or customer_id,
 *       invoice_id, … in the data), read fresh from the database at this
 *       step and shaped as a REST read of it returns; null when none
 *   business: the profile (business_name, owner_phone, …)
 *   a node's id: that node's output (earlier in this run, or this scope)
 *   any name a `set` node computed (vars)
 *   now, today: as now() and today()
 * Functions: the reports of the books, answered as text formatted for a
 * message and as data for conditions (`debtors().count > 5`):
 *   sales_summary('today'|'yesterday'|'week'|'month'), debtors(),
 *   gst_collected('today'|'week'|'month'), stock_low()
 * Each is read once per step (memoised). */
#ifndef MUNSHI_FLOW_ENV_H
#define MUNSHI_FLOW_ENV_H

#include <stdint.h>

#include "base/arena.h"
#include "base/json.h"
#include "db/db.h"
#include "flow/expr.h"

typedef struct flow_env_memo flow_env_memo;

typedef struct flow_env {
  expr_env e; /* hand &env->e to expr_eval / expr_render */
  db *d;
  arena *a;
  const char *profile_id;
  const json *trigger; /* object; never NULL */
  const json *context; /* {"nodes": {id: output}, "vars": {name: value}} */
  const json *item;    /* NULL outside a for_each scope */
  flow_env_memo *memo; /* records and reports read at this step */
} flow_env;

/* Sets up env for one step (now_us: the step's clock). context and item
 * may be NULL. */
void flow_env_init(flow_env *env, db *d, arena *a, const char *profile_id,
                   const json *trigger, const json *context, const json *item,
                   int64_t now_us);

/* Evaluates an expression / renders a template in env: 0, or -1 with err
 * for the owner (the step's error). */
int flow_eval(flow_env *env, const char *src, expr_val *out, char *err,
              size_t errlen);
int flow_render(flow_env *env, const char *tmpl, buf *out, char *err,
                size_t errlen);

/* The record `name` (customer, invoice, …) as env resolves it, as JSON
 * text, or NULL (none, or a database error: *dberr set). For nodes that
 * act on it (send_message's customer, update_record). */
const json *flow_env_record(flow_env *env, const char *name, int *dberr);

#endif

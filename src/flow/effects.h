/* effects.h - the side effects of steps: done once, counted for the caps.
 *
 * A node with a side effect calls flow_effect_once inside the transaction
 * that makes the effect: a row of workflow_effects under the step's key is
 * inserted with the effect; when the key is there already (the step ran
 * before and died, or is retried), the stored result is answered instead
 * and the effect is not made again. Effects that run in their own
 * transaction (biz_run with an Idempotency-Key built from the same key)
 * record themselves afterwards with flow_effect_record; biz_run's replay
 * keeps them single.
 *
 * Caps (per workflow, workflow_blueprints.max_messages_per_hour and
 * max_money_per_day): flow_caps_check counts the workflow's effects of the
 * last hour / day; when one more would pass the cap, the workflow is
 * paused (is_active false, paused_reason, paused_at) and the owner is told
 * on WhatsApp, once. */
#ifndef MUNSHI_FLOW_EFFECTS_H
#define MUNSHI_FLOW_EFFECTS_H

#include <stdint.h>

#include "base/buf.h"
#include "db/db.h"
#include "flow/node.h"

/* kind: "message" | "invoice" | "payment" | "stock" | "record" | "http" */

/* Looks up the step's effect (key). *found 1 and result (JSON text) set
 * when it was made already. In or out of a transaction. */
int flow_effect_find(const flow_step_ctx *c, const char *key, int *found,
                     buf *result, db_err *err);
/* Records an effect made (in the transaction that made it, where there is
 * one). amount: paise moved (0 for none). A second record of the same key
 * changes nothing. */
int flow_effect_record(const flow_step_ctx *c, const char *key,
                       const char *kind, int64_t amount, const char *result,
                       db_err *err);
/* flow_effect_record that says whether this call made the row: *fresh 0
 * when the key was there already (another worker made the effect and
 * committed first: the caller rolls its own effect back and answers the
 * stored result). Inside the effect's transaction. */
int flow_effect_once(const flow_step_ctx *c, const char *key, const char *kind,
                     int64_t amount, const char *result, int *fresh,
                     db_err *err);
/* Would one more effect of kind (moving amount paise) pass a cap? *over 1
 * (and the workflow paused, the owner told) when it would. */
int flow_caps_check(const flow_step_ctx *c, const char *kind, int64_t amount,
                    int *over, char *why, size_t whylen, db_err *err);

#endif

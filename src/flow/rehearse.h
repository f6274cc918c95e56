/* rehearse.h - a blueprint replayed with its side effects stubbed
 * (rpc/rehearse_workflow; docs/workflows.md, "The Architect").
 *
 * The walk is in memory: from the trigger over the graph's edges, each
 * node run with ctx.dry_run = 1 (node.h: an effect node then makes nothing
 * and answers what it would have done), a wait reported ("would wait 3d")
 * and not waited - the steps after it see the clock it would have woken
 * at - and a for_each run over its real items. Nothing is written: no run,
 * no step, no effect row. */
#ifndef MUNSHI_FLOW_REHEARSE_H
#define MUNSHI_FLOW_REHEARSE_H

#include <stdint.h>

#include "base/arena.h"
#include "base/json.h"
#include "db/db.h"
#include "flow/blueprint.h"

#define REHEARSE_MAX_N 50      /* last_n */
#define REHEARSE_MAX_STEPS 200 /* steps of one replay */
#define REHEARSE_MAX_ITEMS 20  /* items of a for_each that are walked */

/* Walks bp for one trigger (an object) and writes, as members of out (an
 * open JSON object): "steps" [{node_id, type, scope, status, input,
 * output, would?, error?}], "would" ["would send … to …", …] and
 * "outcome" ("completed" | "failed" | "stopped"). d may be NULL when no
 * node reads the database (tests). */
void flow_rehearse_walk(db *d, arena *a, const char *profile_id,
                        const char *blueprint_id, int version,
                        const blueprint *bp, const json *trigger,
                        int64_t now_us, json_obj *out);

#endif

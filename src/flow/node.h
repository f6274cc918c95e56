/* node.h - the node types of a workflow, as a table (like Redis's command
 * table): each has a name, flags, a check of its params (when a blueprint
 * is saved) and a run (when a step executes it).
 *
 * A node's run never commits, sleeps or retries on its own: it gets a
 * step context and answers a result; the engine (engine.c) persists the
 * step, its result and what follows, each in its own commit, and retries
 * with back-off. A node with a side effect (NODE_EFFECT) makes it through
 * effects.h under the step's idempotency key, so a step that runs again
 * after a crash or a retry finds its effect done and answers the same
 * output. In a rehearsal (dry_run) such a node makes nothing and answers
 * what it would have done ({"would": "send", "to": .., "text": ..}). */
#ifndef MUNSHI_FLOW_NODE_H
#define MUNSHI_FLOW_NODE_H

#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/json.h"
#include "db/db.h"
#include "flow/blueprint.h"
#include "flow/env.h"

enum {
  NODE_TRIGGER = 1 << 0,  /* the trigger node */
  NODE_BRANCHES = 1 << 1, /* edges out carry `when` (condition, switch) */
  NODE_EFFECT = 1 << 2,   /* makes a side effect (idempotency key, caps) */
  NODE_FOREACH = 1 << 3,  /* for_each: what follows runs once per item */
  NODE_WAIT = 1 << 4,     /* wait */
};

typedef enum {
  NODE_DONE,    /* output set; follow the edges (branch, when it branches) */
  NODE_WAITING, /* wait: run again at wake_at; the step is `waiting` */
  NODE_RETRY,   /* a transient failure (a 5xx, a timeout): try again later
                 * (retry_after_ms, 0: the engine's back-off), error set */
  NODE_FAILED,  /* a permanent failure: the step and the run fail, error */
  NODE_STOP,    /* stop: the run ends here, completed, or failed when error
                 * is set */
  NODE_PAUSED   /* a cap was reached: the workflow was paused and the
                 * owner told (effects.h); the run fails with error */
} node_outcome;

/* One execution of a step. */
typedef struct flow_step_ctx {
  db *d;       /* the worker's connection, no transaction open */
  arena *a;    /* memory of this step */
  const char *profile_id, *blueprint_id, *run_id;
  int version; /* of the blueprint the run runs */
  const blueprint *bp;
  int node;    /* index in bp->nodes */
  const char *scope; /* "" or the for_each item path ("f#<item id>") */
  int attempt;       /* 1 on the first */
  int64_t now_us;
  int64_t wake_at;   /* wait: 0 the first time, else the time it set */
  flow_env *env;     /* names and functions for expressions (env.h) */
  int dry_run;       /* a rehearsal: no side effect */
  /* The step's idempotency key: "wf:<run>:<node>:<scope>". An effect that
   * is safe to repeat on a new attempt (a GET) may add ":<attempt>". */
  const char *effect_key;
} flow_step_ctx;

typedef struct flow_step_result {
  node_outcome outcome;
  buf input;  /* JSON: the params as evaluated (the text sent, the URL) */
  buf output; /* JSON: what later nodes read as <node id>.…; {} if empty */
  const char *branch;  /* NODE_BRANCHES: "true", "false", a case, "default" */
  int64_t wake_at;     /* NODE_WAITING */
  int retry_after_ms;  /* NODE_RETRY */
  char error[512];     /* NODE_RETRY, NODE_FAILED, NODE_STOP with error */
  /* NODE_FOREACH: the items, a JSON array; what follows runs once per
   * item, in its own scope, with `item` naming it. */
  buf items;
} flow_step_result;

typedef struct flow_node_type {
  const char *name;
  unsigned flags;
  /* Checks params (an object) when a blueprint is saved: 0, or -1 with
   * e->param and e->message set (bp_parse fills e->node). */
  int (*validate)(arena *a, const json *params, bp_error *e);
  /* Runs the step; returns 0 with r filled (any outcome), -1 only on a
   * database error (err), which the engine retries. */
  int (*run)(flow_step_ctx *c, flow_step_result *r, db_err *err);
} flow_node_type;

/* The node type called name, or NULL. */
const flow_node_type *flow_node_find(const char *name);
/* All of them, NULL-terminated (docs, the Architect's prompt). */
extern const flow_node_type *const flow_node_types[];

/* Initialises and frees a result's buffers. */
void flow_step_result_init(flow_step_result *r);
void flow_step_result_free(flow_step_result *r);
/* Sets outcome and a printf-formatted error; returns 0 (for `return`). */
int flow_step_fail(flow_step_result *r, node_outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

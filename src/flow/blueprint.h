/* blueprint.h - a workflow's graph, parsed and checked.
 *
 * A blueprint is {name, nodes: [{id, type, params}], edges: [{from, to,
 * when?}]} (docs/workflows.md). bp_parse checks all of it and names the
 * node and the parameter at fault: ids (1..64 of [A-Za-z0-9_-], unique),
 * types (the node table, node.h), each node's params (its validate),
 * exactly one trigger with one of event/cron/webhook/manual, edges between
 * known nodes, `when` only out of condition ("true"/"false") and switch
 * (a case label or "default") nodes, no cycles, every node reachable from
 * the trigger, at most BP_MAX_NODES nodes and BP_MAX_EDGES edges.
 * A saved blueprint is always a valid one: REST writes, the Architect and
 * activation all go through bp_parse. */
#ifndef MUNSHI_FLOW_BLUEPRINT_H
#define MUNSHI_FLOW_BLUEPRINT_H

#include <stdint.h>

#include "base/arena.h"
#include "base/json.h"

#define BP_MAX_NODES 64
#define BP_MAX_EDGES 128
#define BP_ID_MAX 64

struct flow_node_type;

/* Where a blueprint is wrong: node (its id, or "" for the graph) and param
 * ("" for the node itself), and what is wrong. */
typedef struct bp_error {
  char node[BP_ID_MAX + 1];
  char param[64];
  char message[256];
} bp_error;

typedef struct bp_edge {
  int from, to;     /* node indexes */
  const char *when; /* NULL: always */
} bp_edge;

typedef struct bp_node {
  const char *id;
  const char *type;
  const json *params; /* an object ({} when absent) */
  const struct flow_node_type *nt;
} bp_node;

typedef enum { BP_TRIGGER_EVENT, BP_TRIGGER_CRON, BP_TRIGGER_WEBHOOK,
               BP_TRIGGER_MANUAL } bp_trigger_kind;

typedef struct blueprint {
  const char *name;
  bp_node *nodes;
  int nnodes;
  bp_edge *edges; /* sorted by from, in the order written */
  int nedges;
  int trigger; /* index of the trigger node */
  bp_trigger_kind kind;
  const char *event;    /* BP_TRIGGER_EVENT: "invoice.issued" */
  const char *cron;     /* BP_TRIGGER_CRON: five fields */
  const char *timezone; /* BP_TRIGGER_CRON: default CRON_DEFAULT_TZ */
} blueprint;

/* The business events a trigger may name. */
extern const char *const bp_trigger_events[];
/* 1 when name is one of them. */
int bp_event_known(const char *name);
/* "event" | "cron" | "webhook" | "manual" */
const char *bp_trigger_kind_name(bp_trigger_kind k);

/* Parses and checks name, nodes (a JSON array) and edges (a JSON array);
 * everything points into a (and into the json given). Returns 0, or -1
 * with e filled. */
int bp_parse(arena *a, const char *name, const json *nodes, const json *edges,
             blueprint *out, bp_error *e);
/* The same from JSON text of {name?, nodes, edges}. */
int bp_parse_text(arena *a, const char *text, blueprint *out, bp_error *e);

/* The index of the node called id, or -1. */
int bp_find(const blueprint *bp, const char *id);
/* The nodes that follow node i when it ended taking branch `when` (NULL:
 * the node does not branch, every edge is followed; a branching node
 * follows the edges whose when equals it, and for a switch "default" when
 * no case matched). Writes up to cap indexes into out; returns how many. */
int bp_next(const blueprint *bp, int i, const char *when, int *out, int cap);

/* The error as the API answers it: 400 {"code":"MU400","message":..,
 * "details":"node 'c', parameter 'if'",...} written into resp. */
struct api_resp;
void bp_error_reply(const bp_error *e, struct api_resp *resp);

#endif

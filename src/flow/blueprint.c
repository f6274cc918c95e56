/* blueprint.c - a workflow's graph, parsed and checked (blueprint.h).
 *
 * Everything a saved blueprint must be is decided here, once: the REST
 * hook, the Architect and activation all call bp_parse, and the engine
 * trusts what it returns. The checks run in the order a person fixing a
 * graph by hand would want them: the shape of each node, then the trigger,
 * then each node's params (its type's validate), then the edges, then the
 * graph as a whole (cycles, reachability). The first fault found is
 * reported with the node and the parameter it is in. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/api.h"
#include "flow/blueprint.h"
#include "flow/cron.h"
#include "flow/node.h"

#define BP_NAME_MAX 200   /* bytes of a blueprint's name */
#define BP_WHEN_MAX 64    /* bytes of an edge's `when` */

const char *const bp_trigger_events[] = {
    "invoice.created",   "invoice.issued",   "invoice.paid",
    "invoice.cancelled", "payment.received", "customer.created",
    "product.created",   "stock.low",        "message.received",
    "shipment.updated",  NULL};

int bp_event_known(const char *name) {
  for (int i = 0; name && bp_trigger_events[i]; i++)
    if (!strcmp(bp_trigger_events[i], name)) return 1;
  return 0;
}

const char *bp_trigger_kind_name(bp_trigger_kind k) {
  static const char *const names[] = {"event", "cron", "webhook", "manual"};
  return (unsigned)k < 4 ? names[k] : "manual";
}

/* Fills e; returns -1 (for `return`). */
__attribute__((format(printf, 4, 5))) static int fail(bp_error *e,
                                                      const char *node,
                                                      const char *param,
                                                      const char *fmt, ...) {
  snprintf(e->node, sizeof e->node, "%s", node ? node : "");
  snprintf(e->param, sizeof e->param, "%s", param ? param : "");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
  return -1;
}

static int id_ok(const char *s, size_t n) {
  if (n < 1 || n > BP_ID_MAX) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return 0;
  }
  return 1;
}

/* ---- nodes ---------------------------------------------------------------- */

static const json empty_object = {.type = JSON_OBJECT};

/* Members a node object may carry besides id, type and params: what a
 * drawing front end keeps for its canvas. They are kept, never read. */
static int node_key_known(const char *k) {
  return !strcmp(k, "id") || !strcmp(k, "type") || !strcmp(k, "params") ||
         !strcmp(k, "label") || !strcmp(k, "position");
}

static int parse_node(const json *v, size_t i, bp_node *out, bp_error *e) {
  char where[32];
  snprintf(where, sizeof where, "nodes[%zu]", i);
  if (v->type != JSON_OBJECT)
    return fail(e, "", where, "each node must be an object {id, type, params}");
  const json *id = json_get(v, "id");
  if (!id || id->type != JSON_STRING || !id_ok(id->str, id->len))
    return fail(e, "", where,
                "node %zu needs an id of 1 to %d letters, digits, '_' or '-'",
                i, BP_ID_MAX);
  out->id = id->str;
  for (size_t k = 0; k < v->n; k++)
    if (!node_key_known(v->keys[k]))
      return fail(e, out->id, v->keys[k],
                  "unknown member '%.64s': a node has id, type and params",
                  v->keys[k]);
  const json *type = json_get(v, "type");
  if (!type || type->type != JSON_STRING)
    return fail(e, out->id, "type", "the node has no type");
  out->type = type->str;
  out->nt = flow_node_find(type->str);
  if (!out->nt) {
    char names[512];
    size_t n = 0;
    names[0] = 0;
    for (int t = 0; flow_node_types[t] && n < sizeof names; t++)
      n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", t ? ", " : "",
                            flow_node_types[t]->name);
    return fail(e, out->id, "type", "unknown node type '%.64s' (known: %s)",
                type->str, names);
  }
  const json *params = json_get(v, "params");
  if (params && params->type == JSON_NULL) params = NULL;
  if (params && params->type != JSON_OBJECT)
    return fail(e, out->id, "params", "params must be an object");
  out->params = params ? params : &empty_object;
  return 0;
}

/* The trigger's params: exactly one of event, cron (+ timezone), webhook:
 * true, manual: true. */
static int check_trigger(blueprint *bp, bp_error *e) {
  const bp_node *t = &bp->nodes[bp->trigger];
  const json *p = t->params;
  int kinds = 0;
  for (size_t k = 0; k < p->n; k++) {
    const char *key = p->keys[k];
    const json *v = p->items[k];
    if (!strcmp(key, "event")) {
      if (v->type != JSON_STRING || !bp_event_known(v->str)) {
        char names[512];
        size_t n = 0;
        names[0] = 0;
        for (int i = 0; bp_trigger_events[i] && n < sizeof names; i++)
          n += (size_t)snprintf(names + n, sizeof names - n, "%s%s",
                                i ? ", " : "", bp_trigger_events[i]);
        return fail(e, t->id, "event",
                    "unknown event%s%.64s%s (known: %s)",
                    v->type == JSON_STRING ? " '" : "",
                    v->type == JSON_STRING ? v->str : "",
                    v->type == JSON_STRING ? "'" : "", names);
      }
      bp->kind = BP_TRIGGER_EVENT;
      bp->event = v->str;
      kinds++;
    } else if (!strcmp(key, "cron")) {
      char err[128] = "";
      cron_spec spec;
      if (v->type != JSON_STRING)
        return fail(e, t->id, "cron",
                    "cron is a schedule of five fields, e.g. \"0 21 * * *\"");
      if (cron_parse(v->str, &spec, err, sizeof err))
        return fail(e, t->id, "cron", "%s", err[0] ? err : "not a schedule");
      bp->kind = BP_TRIGGER_CRON;
      bp->cron = v->str;
      kinds++;
    } else if (!strcmp(key, "timezone")) {
      /* checked below, once we know it goes with a cron */
    } else if (!strcmp(key, "webhook") || !strcmp(key, "manual")) {
      if (v->type != JSON_TRUE)
        return fail(e, t->id, key, "%s takes true", key);
      bp->kind = key[0] == 'w' ? BP_TRIGGER_WEBHOOK : BP_TRIGGER_MANUAL;
      kinds++;
    } else {
      return fail(e, t->id, key,
                  "unknown trigger parameter '%.64s': a trigger takes one of "
                  "event, cron (with timezone), webhook: true, manual: true",
                  key);
    }
  }
  if (kinds != 1)
    return fail(e, t->id, kinds ? "" : "event",
                "a trigger takes exactly one of event, cron, webhook: true, "
                "manual: true%s",
                kinds ? " (it has several)" : "");
  const json *tz = json_get(p, "timezone");
  if (tz) {
    char err[128] = "";
    if (bp->kind != BP_TRIGGER_CRON)
      return fail(e, t->id, "timezone", "timezone goes only with cron");
    if (tz->type != JSON_STRING || !cron_tz_get(tz->str, err, sizeof err))
      return fail(e, t->id, "timezone", "unknown time zone%s%s",
                  err[0] ? ": " : "", err);
    bp->timezone = tz->str;
  } else if (bp->kind == BP_TRIGGER_CRON) {
    bp->timezone = CRON_DEFAULT_TZ;
  }
  return 0;
}

/* ---- edges ---------------------------------------------------------------- */

/* The labels a switch's edges may carry: the keys of cases when it is an
 * object, its strings (or numbers) when it is an array, each the text the
 * node answers as its branch. 0 when cases has no shape we can read (the
 * node's own validate says what is wrong with it). */
static int switch_label_ok(const json *params, const char *when) {
  const json *cases = json_get(params, "cases");
  if (!cases) return 0;
  if (cases->type == JSON_OBJECT) {
    for (size_t k = 0; k < cases->n; k++)
      if (!strcmp(cases->keys[k], when)) return 1;
    return 0;
  }
  if (cases->type != JSON_ARRAY) return 0;
  for (size_t k = 0; k < cases->n; k++) {
    const json *c = cases->items[k];
    if (c->type == JSON_OBJECT) /* {value|label, ...} */
      c = json_get(c, "value") ? json_get(c, "value") : json_get(c, "label");
    if (c && (c->type == JSON_STRING || c->type == JSON_NUMBER) &&
        !strcmp(c->str, when))
      return 1;
  }
  return 0;
}

static int parse_edge(blueprint *bp, const json *v, size_t k, bp_edge *out,
                      bp_error *e) {
  char where[48];
  snprintf(where, sizeof where, "edges[%zu]", k);
  if (v->type != JSON_OBJECT)
    return fail(e, "", where, "each edge must be an object {from, to, when?}");
  for (size_t m = 0; m < v->n; m++)
    if (strcmp(v->keys[m], "from") && strcmp(v->keys[m], "to") &&
        strcmp(v->keys[m], "when") && strcmp(v->keys[m], "label"))
      return fail(e, "", where,
                  "unknown member '%.64s': an edge has from, to and when",
                  v->keys[m]);
  const json *from = json_get(v, "from"), *to = json_get(v, "to");
  const json *when = json_get(v, "when");
  snprintf(where, sizeof where, "edges[%zu].from", k);
  if (!from || from->type != JSON_STRING)
    return fail(e, "", where, "the edge has no from");
  out->from = bp_find(bp, from->str);
  if (out->from < 0)
    return fail(e, "", where, "no node is called '%.64s'", from->str);
  const bp_node *fn = &bp->nodes[out->from];
  snprintf(where, sizeof where, "edges[%zu].to", k);
  if (!to || to->type != JSON_STRING)
    return fail(e, fn->id, where, "the edge has no to");
  out->to = bp_find(bp, to->str);
  if (out->to < 0)
    return fail(e, fn->id, where, "no node is called '%.64s'", to->str);
  if (out->to == bp->trigger)
    return fail(e, fn->id, where,
                "nothing may lead into the trigger '%s': it is where a run "
                "starts",
                bp->nodes[bp->trigger].id);
  snprintf(where, sizeof where, "edges[%zu].when", k);
  out->when = NULL;
  if (when && when->type == JSON_NULL) when = NULL;
  if (!(fn->nt->flags & NODE_BRANCHES)) {
    if (when)
      return fail(e, fn->id, where,
                  "only condition and switch nodes have branches; an edge out "
                  "of a %s node takes no when",
                  fn->type);
    return 0;
  }
  if (!when || when->type != JSON_STRING || when->len < 1 ||
      when->len > BP_WHEN_MAX)
    return fail(e, fn->id, where,
                !strcmp(fn->type, "condition")
                    ? "an edge out of a condition says when it is taken: "
                      "\"true\" or \"false\""
                    : "an edge out of a switch says when it is taken: a case "
                      "or \"default\"");
  if (!strcmp(fn->type, "condition")) {
    if (strcmp(when->str, "true") && strcmp(when->str, "false"))
      return fail(e, fn->id, where,
                  "a condition's edges are taken when \"true\" or \"false\", "
                  "not '%.64s'",
                  when->str);
  } else if (strcmp(when->str, "default") &&
             !switch_label_ok(fn->params, when->str)) {
    return fail(e, fn->id, where,
                "'%.64s' is not one of the switch's cases (or \"default\")",
                when->str);
  }
  out->when = when->str;
  return 0;
}

/* Depth-first search for a cycle; on one, names a node on it. */
static int find_cycle(const blueprint *bp, int v, unsigned char *color,
                      int *on_cycle) {
  color[v] = 1;
  for (int k = 0; k < bp->nedges; k++) {
    if (bp->edges[k].from != v) continue;
    int w = bp->edges[k].to;
    if (color[w] == 1) {
      *on_cycle = w;
      return 1;
    }
    if (!color[w] && find_cycle(bp, w, color, on_cycle)) return 1;
  }
  color[v] = 2;
  return 0;
}

static int check_graph(blueprint *bp, bp_error *e) {
  unsigned char color[BP_MAX_NODES] = {0};
  int on_cycle = -1;
  for (int i = 0; i < bp->nnodes; i++)
    if (!color[i] && find_cycle(bp, i, color, &on_cycle))
      return fail(e, bp->nodes[on_cycle].id, "",
                  "the edges make a cycle through node '%s': a workflow runs "
                  "forward only (use wait or for_each to repeat)",
                  bp->nodes[on_cycle].id);
  unsigned char seen[BP_MAX_NODES] = {0};
  int queue[BP_MAX_NODES], head = 0, tail = 0;
  queue[tail++] = bp->trigger;
  seen[bp->trigger] = 1;
  while (head < tail) {
    int v = queue[head++];
    for (int k = 0; k < bp->nedges; k++)
      if (bp->edges[k].from == v && !seen[bp->edges[k].to]) {
        seen[bp->edges[k].to] = 1;
        queue[tail++] = bp->edges[k].to;
      }
  }
  for (int i = 0; i < bp->nnodes; i++)
    if (!seen[i])
      return fail(e, bp->nodes[i].id, "",
                  "no edge leads to node '%s' from the trigger", bp->nodes[i].id);
  return 0;
}

/* ---- the whole -------------------------------------------------------------- */

int bp_parse(arena *a, const char *name, const json *nodes, const json *edges,
             blueprint *out, bp_error *e) {
  memset(e, 0, sizeof *e);
  memset(out, 0, sizeof *out);
  out->trigger = -1;
  if (name) {
    size_t n = strlen(name);
    if (n < 1 || n > BP_NAME_MAX)
      return fail(e, "", "name", "a blueprint needs a name of 1 to %d bytes",
                  BP_NAME_MAX);
  }
  out->name = name;
  if (!nodes || nodes->type != JSON_ARRAY)
    return fail(e, "", "nodes", "nodes must be an array of nodes");
  if (nodes->n < 1)
    return fail(e, "", "nodes", "a blueprint needs at least a trigger node");
  if (nodes->n > BP_MAX_NODES)
    return fail(e, "", "nodes", "a blueprint has at most %d nodes, not %zu",
                BP_MAX_NODES, nodes->n);
  if (edges && edges->type == JSON_NULL) edges = NULL;
  if (edges && edges->type != JSON_ARRAY)
    return fail(e, "", "edges", "edges must be an array of edges");
  size_t nedges = edges ? edges->n : 0;
  if (nedges > BP_MAX_EDGES)
    return fail(e, "", "edges", "a blueprint has at most %d edges, not %zu",
                BP_MAX_EDGES, nedges);

  out->nodes = arena_alloc(a, sizeof *out->nodes * nodes->n);
  for (size_t i = 0; i < nodes->n; i++) {
    if (parse_node(nodes->items[i], i, &out->nodes[i], e)) return -1;
    for (size_t j = 0; j < i; j++)
      if (!strcmp(out->nodes[j].id, out->nodes[i].id))
        return fail(e, out->nodes[i].id, "id",
                    "two nodes are called '%s': ids must be unique",
                    out->nodes[i].id);
    out->nnodes = (int)i + 1;
    if (out->nodes[i].nt->flags & NODE_TRIGGER) {
      if (out->trigger >= 0)
        return fail(e, out->nodes[i].id, "type",
                    "a blueprint has exactly one trigger; '%s' is one already",
                    out->nodes[out->trigger].id);
      out->trigger = (int)i;
    }
  }
  if (out->trigger < 0)
    return fail(e, "", "nodes",
                "a blueprint needs exactly one node of type trigger");
  if (check_trigger(out, e)) return -1;
  for (int i = 0; i < out->nnodes; i++) {
    const bp_node *n = &out->nodes[i];
    if (!n->nt->validate) continue;
    bp_error ne;
    memset(&ne, 0, sizeof ne);
    if (n->nt->validate(a, n->params, &ne)) {
      *e = ne;
      snprintf(e->node, sizeof e->node, "%s", n->id);
      if (!e->message[0])
        snprintf(e->message, sizeof e->message, "invalid params");
      return -1;
    }
  }

  /* Edges, then a stable sort by from (counting), so bp_next reads one
   * node's edges in the order they were written. */
  bp_edge *raw = arena_alloc(a, sizeof *raw * (nedges ? nedges : 1));
  int count[BP_MAX_NODES + 1] = {0};
  for (size_t k = 0; k < nedges; k++) {
    if (parse_edge(out, edges->items[k], k, &raw[k], e)) return -1;
    for (size_t m = 0; m < k; m++)
      if (raw[m].from == raw[k].from && raw[m].to == raw[k].to &&
          (raw[m].when == raw[k].when ||
           (raw[m].when && raw[k].when && !strcmp(raw[m].when, raw[k].when)))) {
        char where[48];
        snprintf(where, sizeof where, "edges[%zu]", k);
        return fail(e, out->nodes[raw[k].from].id, where,
                    "the edge from '%s' to '%s' is there twice",
                    out->nodes[raw[k].from].id, out->nodes[raw[k].to].id);
      }
    count[raw[k].from + 1]++;
  }
  for (int i = 0; i < out->nnodes; i++) count[i + 1] += count[i];
  out->edges = arena_alloc(a, sizeof *out->edges * (nedges ? nedges : 1));
  for (size_t k = 0; k < nedges; k++) out->edges[count[raw[k].from]++] = raw[k];
  out->nedges = (int)nedges;
  return check_graph(out, e);
}

int bp_parse_text(arena *a, const char *text, blueprint *out, bp_error *e) {
  json *doc;
  json_error je;
  memset(e, 0, sizeof *e);
  memset(out, 0, sizeof *out);
  if (!text || json_parse(a, text, strlen(text), &doc, &je))
    return fail(e, "", "", "the blueprint is not JSON: %s at byte %zu",
                text ? je.message : "no text", text ? je.offset : 0);
  if (doc->type != JSON_OBJECT)
    return fail(e, "", "", "a blueprint is an object {name, nodes, edges}");
  const json *name = json_get(doc, "name");
  if (name && name->type != JSON_STRING && name->type != JSON_NULL)
    return fail(e, "", "name", "name must be a string");
  return bp_parse(a, name && name->type == JSON_STRING ? name->str : NULL,
                  json_get(doc, "nodes"), json_get(doc, "edges"), out, e);
}

int bp_find(const blueprint *bp, const char *id) {
  for (int i = 0; id && i < bp->nnodes; i++)
    if (!strcmp(bp->nodes[i].id, id)) return i;
  return -1;
}

int bp_next(const blueprint *bp, int i, const char *when, int *out, int cap) {
  int n = 0;
  for (int k = 0; k < bp->nedges && n < cap; k++)
    if (bp->edges[k].from == i &&
        (!when || !bp->edges[k].when || !strcmp(bp->edges[k].when, when)))
      out[n++] = bp->edges[k].to;
  return n;
}

void bp_error_reply(const bp_error *e, struct api_resp *resp) {
  char details[BP_ID_MAX + 128];
  if (e->node[0] && e->param[0])
    snprintf(details, sizeof details, "node '%s', parameter '%s'", e->node,
             e->param);
  else if (e->node[0])
    snprintf(details, sizeof details, "node '%s'", e->node);
  else if (e->param[0])
    snprintf(details, sizeof details, "parameter '%s'", e->param);
  else
    details[0] = 0;
  api_fail(resp, E_OP_INVALID,
           e->message[0] ? e->message : "the blueprint is not valid",
           details[0] ? details : NULL,
           "fix the node and parameter named in details; docs/workflows.md "
           "describes every node");
}

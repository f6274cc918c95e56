/* blueprint.c - STUB (issue 8, helper "blueprints" replaces it): see
 * blueprint.h. */
#include <stdio.h>
#include <string.h>

#include "base/api.h"
#include "flow/blueprint.h"

const char *const bp_trigger_events[] = {
    "invoice.created", "invoice.issued",   "invoice.paid",
    "invoice.cancelled", "payment.received", "customer.created",
    "product.created", "stock.low",        "message.received",
    "shipment.updated", NULL};

int bp_event_known(const char *name) {
  for (int i = 0; name && bp_trigger_events[i]; i++)
    if (!strcmp(bp_trigger_events[i], name)) return 1;
  return 0;
}
const char *bp_trigger_kind_name(bp_trigger_kind k) {
  static const char *const names[] = {"event", "cron", "webhook", "manual"};
  return names[k];
}
int bp_parse(arena *a, const char *name, const json *nodes, const json *edges,
             blueprint *out, bp_error *e) {
  (void)a, (void)name, (void)nodes, (void)edges, (void)out;
  memset(e, 0, sizeof *e);
  snprintf(e->message, sizeof e->message, "blueprints are not built yet");
  return -1;
}
int bp_parse_text(arena *a, const char *text, blueprint *out, bp_error *e) {
  (void)text;
  return bp_parse(a, NULL, NULL, NULL, out, e);
}
int bp_find(const blueprint *bp, const char *id) {
  for (int i = 0; i < bp->nnodes; i++)
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
  api_fail(resp, E_OP_INVALID, e->message, NULL, NULL);
}

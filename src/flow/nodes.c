/* nodes.c - STUB (issue 8, helper "nodes" replaces it): the node table of
 * node.h with each type's flags; validate and run are not built yet. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "flow/node.h"

#define NT(n, f) static const flow_node_type nt_##n = {#n, f, NULL, NULL};
NT(trigger, NODE_TRIGGER)
NT(condition, NODE_BRANCHES)
NT(switch, NODE_BRANCHES)
NT(wait, NODE_WAIT)
NT(for_each, NODE_FOREACH)
NT(send_message, NODE_EFFECT)
NT(create_invoice, NODE_EFFECT)
NT(record_payment, NODE_EFFECT)
NT(adjust_stock, NODE_EFFECT)
NT(update_record, NODE_EFFECT)
NT(http_request, NODE_EFFECT)
NT(set, 0)
NT(stop, 0)

const flow_node_type *const flow_node_types[] = {
    &nt_trigger,       &nt_condition,      &nt_switch,        &nt_wait,
    &nt_for_each,      &nt_send_message,   &nt_create_invoice,
    &nt_record_payment, &nt_adjust_stock,  &nt_update_record,
    &nt_http_request,  &nt_set,            &nt_stop,          NULL};

const flow_node_type *flow_node_find(const char *name) {
  for (int i = 0; name && flow_node_types[i]; i++)
    if (!strcmp(flow_node_types[i]->name, name)) return flow_node_types[i];
  return NULL;
}

void flow_step_result_init(flow_step_result *r) {
  memset(r, 0, sizeof *r);
  buf_init(&r->input, 1 << 20);
  buf_init(&r->output, 1 << 20);
  buf_init(&r->items, 4 << 20);
}
void flow_step_result_free(flow_step_result *r) {
  buf_free(&r->input);
  buf_free(&r->output);
  buf_free(&r->items);
}
int flow_step_fail(flow_step_result *r, node_outcome o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->error, sizeof r->error, fmt, ap);
  va_end(ap);
  r->outcome = o;
  return 0;
}

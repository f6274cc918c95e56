/* node_int.h - helpers the node files share (private to src/flow/node*.c):
 * reading and checking params, rendering params through expressions, and
 * writing a step's input and output. */
#ifndef MUNSHI_FLOW_NODE_INT_H
#define MUNSHI_FLOW_NODE_INT_H

#include "flow/node.h"

/* Caps of what a node reads from params. */
#define NODE_TEXT_MAX 4096   /* a message's text after rendering */
#define FOREACH_DEFAULT 100  /* items of a for_each when no limit is given */
#define FOREACH_MAX 1000

/* Sets e->param and a message; returns -1. */
int np_fail(bp_error *e, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The string member key of params, or NULL (absent or not a string). */
const char *np_str(const json *params, const char *key);
/* Refuses members not in the NULL-terminated list. */
int np_only(const json *params, const char *const *known, bp_error *e);
/* A required (or optional) expression / template string member. */
int np_expr(arena *a, const json *params, const char *key, int required,
            bp_error *e);
int np_template(arena *a, const json *params, const char *key, int required,
                bp_error *e);
/* Every string inside v (an object, array or string) checked as a
 * template. */
int np_templates_in(arena *a, const json *v, const char *param, bp_error *e);

/* v with every string rendered as a template, as JSON text into out: a
 * string that is a single hole ("{{ x }}") keeps its value's type (a
 * number stays a number); any other string becomes the rendered text. */
int node_render_json(flow_step_ctx *c, const json *v, buf *out, char *err,
                     size_t errlen);
/* Renders one template into an arena string (capped at max bytes). */
const char *node_render(flow_step_ctx *c, const char *tmpl, size_t max,
                        char *err, size_t errlen);
/* Writes the params as they were given (r->input) when a node does not
 * write its own. */
void node_input_params(flow_step_ctx *c, flow_step_result *r);
/* r->output = {} when nothing was written. */
void node_output_default(flow_step_result *r);

/* The node families (node_flow.c, node_message.c, node_books.c,
 * node_http.c). */
extern const flow_node_type flow_nt_trigger, flow_nt_condition, flow_nt_switch,
    flow_nt_wait, flow_nt_for_each, flow_nt_set, flow_nt_stop,
    flow_nt_send_message, flow_nt_create_invoice, flow_nt_record_payment,
    flow_nt_adjust_stock, flow_nt_update_record, flow_nt_http_request;

#endif

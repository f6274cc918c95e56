/* nodes.c - the node table (node.h) and what the node files share
 * (node_int.h): params checks and rendering params through expressions.
 * The nodes themselves: node_flow.c (trigger, condition, switch, wait,
 * for_each, set, stop), node_message.c (send_message), node_books.c
 * (create_invoice, record_payment, adjust_stock, update_record),
 * node_http.c (http_request). docs/workflows.md ("Nodes") describes each. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "flow/node_int.h"

const flow_node_type *const flow_node_types[] = {
    &flow_nt_trigger,        &flow_nt_condition,      &flow_nt_switch,
    &flow_nt_wait,           &flow_nt_for_each,       &flow_nt_send_message,
    &flow_nt_create_invoice, &flow_nt_record_payment, &flow_nt_adjust_stock,
    &flow_nt_update_record,  &flow_nt_http_request,   &flow_nt_set,
    &flow_nt_stop,           NULL};

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

/* ---- params ------------------------------------------------------------- */

int np_fail(bp_error *e, const char *param, const char *fmt, ...) {
  snprintf(e->param, sizeof e->param, "%s", param);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
  return -1;
}

const char *np_str(const json *params, const char *key) {
  const json *v = json_get(params, key);
  return v && v->type == JSON_STRING ? v->str : NULL;
}

int np_only(const json *params, const char *const *known, bp_error *e) {
  if (!params || params->type != JSON_OBJECT)
    return np_fail(e, "", "params must be an object");
  for (size_t i = 0; i < params->n; i++) {
    int ok = 0;
    for (int k = 0; known[k] && !ok; k++) ok = !strcmp(known[k], params->keys[i]);
    if (!ok) return np_fail(e, params->keys[i], "unknown parameter");
  }
  return 0;
}

static int np_string(const json *params, const char *key, int required,
                     bp_error *e, const json **out) {
  const json *v = json_get(params, key);
  *out = NULL;
  if (!v || v->type == JSON_NULL) {
    if (required) return np_fail(e, key, "is required");
    return 0;
  }
  if (v->type != JSON_STRING || v->len == 0)
    return np_fail(e, key, "must be a non-empty string");
  *out = v;
  return 0;
}

int np_expr(arena *a, const json *params, const char *key, int required,
            bp_error *e) {
  const json *v;
  if (np_string(params, key, required, e, &v)) return -1;
  char err[256] = "";
  if (v && expr_check(a, v->str, v->len, err, sizeof err))
    return np_fail(e, key, "%s", err);
  return 0;
}

int np_template(arena *a, const json *params, const char *key, int required,
                bp_error *e) {
  const json *v;
  if (np_string(params, key, required, e, &v)) return -1;
  char err[256] = "";
  if (v && expr_template_check(a, v->str, v->len, err, sizeof err))
    return np_fail(e, key, "%s", err);
  return 0;
}

int np_templates_in(arena *a, const json *v, const char *param, bp_error *e) {
  if (!v) return 0;
  char err[256] = "";
  switch (v->type) {
    case JSON_STRING:
      if (expr_template_check(a, v->str, v->len, err, sizeof err))
        return np_fail(e, param, "%s", err);
      return 0;
    case JSON_ARRAY:
    case JSON_OBJECT:
      for (size_t i = 0; i < v->n; i++)
        if (np_templates_in(a, v->items[i], param, e)) return -1;
      return 0;
    default:
      return 0;
  }
}

/* ---- rendering ---------------------------------------------------------- */

/* 1 when s is exactly one hole, "{{ expr }}" (spaces around allowed), with
 * the expression's bounds in *b, *n. */
static int single_hole(const char *s, size_t len, const char **b, size_t *n) {
  while (len && (*s == ' ' || *s == '\t')) s++, len--;
  while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
  if (len < 4 || memcmp(s, "{{", 2) || memcmp(s + len - 2, "}}", 2)) return 0;
  const char *in = s + 2;
  size_t inn = len - 4;
  /* a second hole inside ("{{ a }} and {{ b }}") is not a single one */
  for (size_t i = 0; i + 1 < inn; i++)
    if ((in[i] == '}' && in[i + 1] == '}') || (in[i] == '{' && in[i + 1] == '{'))
      return 0;
  *b = in, *n = inn;
  return 1;
}

int node_render_json(flow_step_ctx *c, const json *v, buf *out, char *err,
                     size_t errlen) {
  if (!v) return buf_puts(out, "null");
  switch (v->type) {
    case JSON_STRING: {
      const char *src;
      size_t n;
      if (single_hole(v->str, v->len, &src, &n)) {
        expr_val x;
        if (expr_eval(c->a, src, n, &c->env->e, &x, err, errlen)) return -1;
        if (expr_to_json(&x, out)) goto big;
        return 0;
      }
      buf t;
      buf_init(&t, 1 << 20);
      int rc = flow_render(c->env, v->str, &t, err, errlen);
      if (!rc && json_write_str(out, t.data ? t.data : "", t.len)) rc = -2;
      buf_free(&t);
      if (rc == -2) goto big;
      return rc;
    }
    case JSON_ARRAY:
    case JSON_OBJECT: {
      int obj = v->type == JSON_OBJECT;
      if (buf_putc(out, obj ? '{' : '[')) goto big;
      for (size_t i = 0; i < v->n; i++) {
        if (i && buf_putc(out, ',')) goto big;
        if (obj && (json_write_str(out, v->keys[i], strlen(v->keys[i])) ||
                    buf_putc(out, ':')))
          goto big;
        if (node_render_json(c, v->items[i], out, err, errlen)) return -1;
      }
      if (buf_putc(out, obj ? '}' : ']')) goto big;
      return 0;
    }
    default:
      if (json_write(out, v)) goto big;
      return 0;
  }
big:
  snprintf(err, errlen, "the rendered params are too large");
  return -1;
}

const char *node_render(flow_step_ctx *c, const char *tmpl, size_t max,
                        char *err, size_t errlen) {
  buf b;
  buf_init(&b, max);
  const char *s = NULL;
  if (flow_render(c->env, tmpl, &b, err, errlen) == 0)
    s = arena_strndup(c->a, b.data ? b.data : "", b.len);
  buf_free(&b);
  return s;
}

void node_input_params(flow_step_ctx *c, flow_step_result *r) {
  buf_reset(&r->input);
  const json *p = c->bp->nodes[c->node].params;
  if (!p || json_write(&r->input, p)) {
    buf_reset(&r->input);
    buf_puts(&r->input, "{}");
  }
}

void node_output_default(flow_step_result *r) {
  if (!r->output.len) buf_puts(&r->output, "{}");
}

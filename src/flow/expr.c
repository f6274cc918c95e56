/* expr.c - STUB (issue 8, helper "expr" replaces it): see expr.h. */
#include <stdio.h>
#include <string.h>

#include "flow/expr.h"

static int nyi(char *err, size_t errlen) {
  snprintf(err, errlen, "expressions are not built yet");
  return -1;
}
int expr_eval(arena *a, const char *src, size_t n, const expr_env *env,
              expr_val *out, char *err, size_t errlen) {
  (void)a, (void)src, (void)n, (void)env, (void)out;
  return nyi(err, errlen);
}
int expr_check(arena *a, const char *src, size_t n, char *err, size_t errlen) {
  (void)a, (void)src, (void)n, (void)err, (void)errlen;
  return 0;
}
int expr_truthy(const expr_val *v) { return v->t == EV_BOOL ? v->b : 0; }
int expr_render(arena *a, const char *tmpl, size_t n, const expr_env *env,
                buf *out, char *err, size_t errlen) {
  (void)a, (void)env, (void)err, (void)errlen;
  return buf_append(out, tmpl, n);
}
int expr_template_check(arena *a, const char *tmpl, size_t n, char *err,
                        size_t errlen) {
  (void)a, (void)tmpl, (void)n, (void)err, (void)errlen;
  return 0;
}
int expr_format(const expr_val *v, int tz_offset_s, buf *out) {
  (void)v, (void)tz_offset_s, (void)out;
  return -1;
}
int expr_to_json(const expr_val *v, buf *out) {
  (void)v;
  return buf_puts(out, "null");
}
int expr_from_json(const json *j, expr_val *out) {
  (void)j;
  memset(out, 0, sizeof *out);
  return 0;
}
int expr_duration_parse(const char *s, size_t n, int64_t *us) {
  (void)s, (void)n;
  *us = 0;
  return -1;
}

/* effects.c - STUB (issue 8, helper "nodes" replaces it): see effects.h. */
#include "flow/effects.h"

int flow_effect_find(const flow_step_ctx *c, const char *key, int *found,
                     buf *result, db_err *err) {
  (void)c, (void)key, (void)result, (void)err;
  *found = 0;
  return 0;
}
int flow_effect_record(const flow_step_ctx *c, const char *key,
                       const char *kind, int64_t amount, const char *result,
                       db_err *err) {
  (void)c, (void)key, (void)kind, (void)amount, (void)result, (void)err;
  return 0;
}
int flow_caps_check(const flow_step_ctx *c, const char *kind, int64_t amount,
                    int *over, char *why, size_t whylen, db_err *err) {
  (void)c, (void)kind, (void)amount, (void)why, (void)whylen, (void)err;
  *over = 0;
  return 0;
}

/* env.c - STUB (issue 8, helper "nodes" replaces it): see env.h. */
#include <string.h>

#include "flow/env.h"

void flow_env_init(flow_env *env, db *d, arena *a, const char *profile_id,
                   const json *trigger, const json *context, const json *item,
                   int64_t now_us) {
  memset(env, 0, sizeof *env);
  env->d = d, env->a = a, env->profile_id = profile_id;
  env->trigger = trigger, env->context = context, env->item = item;
  env->e.arg = env;
  env->e.now_us = now_us;
  env->e.tz_offset_s = 19800;
}
int flow_eval(flow_env *env, const char *src, expr_val *out, char *err,
              size_t errlen) {
  return expr_eval(env->a, src, strlen(src), &env->e, out, err, errlen);
}
int flow_render(flow_env *env, const char *tmpl, buf *out, char *err,
                size_t errlen) {
  return expr_render(env->a, tmpl, strlen(tmpl), &env->e, out, err, errlen);
}
const json *flow_env_record(flow_env *env, const char *name, int *dberr) {
  (void)env, (void)name;
  *dberr = 0;
  return NULL;
}

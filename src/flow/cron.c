/* cron.c - STUB (issue 8, helper "expr" replaces it): see cron.h. */
#include <stdio.h>

#include "flow/cron.h"

int cron_parse(const char *expr, cron_spec *out, char *err, size_t errlen) {
  (void)expr, (void)out;
  snprintf(err, errlen, "cron is not built yet");
  return -1;
}
const cron_tz *cron_tz_get(const char *name, char *err, size_t errlen) {
  (void)name;
  snprintf(err, errlen, "time zones are not built yet");
  return NULL;
}
int cron_tz_offset(const cron_tz *tz, int64_t t_us) {
  (void)tz, (void)t_us;
  return 19800;
}
int64_t cron_next(const cron_spec *spec, const cron_tz *tz, int64_t after_us) {
  (void)spec, (void)tz, (void)after_us;
  return -1;
}

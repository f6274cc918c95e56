/* fuzz_flow_expr.c - libFuzzer target for the workflows' expression
 * language and cron schedules: any bytes are checked, evaluated and
 * rendered as a template against a fixed environment (records with
 * numbers, text, dates and lists; a function answering text), and parsed
 * as a cron schedule whose next run is computed in UTC and Kolkata. Nothing
 * may crash, leak, overflow (UBSan) or take more than the caps allow. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/json.h"
#include "flow/cron.h"
#include "flow/expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *RECORDS =
    "{\"invoice\": {\"total_amount\": 11800.00, \"status\": \"issued\","
    " \"due_date\": \"2026-11-25\", \"issued_at\": "
    "\"2026-11-20T04:30:00+00:00\","
    " \"items\": [{\"sku\": \"A1\", \"qty\": 2}, {\"qty\": -1.5}, null, true],"
    " \"max\": 9223372036854775807, \"min\": -9223372036854775808,"
    " \"tiny\": 0.000001, \"nested\": [[[[1]]]]},"
    " \"customer\": {\"full_name\": \"Asha Rao\", \"total_debt\": 2500.5,"
    " \"phone\": null}, \"n\": 7, \"s\": \"2026-12-01\", \"e\": \"\"}";

static int lookup(void *arg, arena *a, const char *name, expr_val *out,
                  char *err, size_t errlen) {
  (void)a, (void)err, (void)errlen;
  const json *j = json_get((const json *)arg, name);
  if (!j) return 1;
  return expr_from_json(j, out) ? -1 : 0;
}

static int call(void *arg, arena *a, const char *name, const expr_val *args,
                int nargs, expr_val *out, char *err, size_t errlen) {
  (void)arg;
  memset(out, 0, sizeof *out);
  if (strcmp(name, "sales_summary") == 0) {
    if (nargs != 1) {
      snprintf(err, errlen, "sales_summary() takes one period");
      return -1;
    }
    buf b;
    buf_init(&b, 4096);
    int rc = expr_format(&args[0], 19800, &b);
    out->t = EV_STR;
    out->s = arena_strndup(a, rc ? "" : buf_cstr(&b), rc ? 0 : b.len);
    out->n = rc ? 0 : b.len;
    buf_free(&b);
    return 0;
  }
  return 1;
}

/* Counts names; every offset must fall inside the input. */
static int count_name(void *arg, const char *name, int is_call, size_t at) {
  size_t *n = arg;
  (void)is_call;
  if (!name[0] || at == 0 || at > n[1]) abort();
  n[0]++;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static json *root;
  static arena *fixed;
  if (!fixed) {
    fixed = arena_new();
    json_error je;
    if (json_parse(fixed, RECORDS, strlen(RECORDS), &root, &je)) abort();
  }
  arena *a = arena_new();
  const char *src = (const char *)data;
  expr_env env = {root, lookup, call, 1796139000LL * 1000000LL, 19800};
  char err[256];
  expr_val v;
  int checked = expr_check(a, src, size, err, sizeof err);
  int rc = expr_eval(a, src, size, &env, &v, err, sizeof err);
  /* What does not parse cannot evaluate. */
  if (checked != 0 && rc == 0) abort();
  if (rc == 0) {
    buf b;
    buf_init(&b, 1 << 20);
    if (expr_format(&v, 19800, &b) == 0 && v.t == EV_STR &&
        b.len > EXPR_MAX_STRING)
      abort();
    buf_reset(&b);
    expr_to_json(&v, &b);
    /* What a `set` node stores must be JSON. */
    json *j;
    json_error je;
    if (b.len && json_parse(a, b.data, b.len, &j, &je)) abort();
    (void)expr_truthy(&v);
    buf_free(&b);
  }
  buf out;
  buf_init(&out, 1 << 20);
  int tc = expr_template_check(a, src, size, err, sizeof err);
  int tr = expr_render(a, src, size, &env, &out, err, sizeof err);
  if (tc != 0 && tr == 0) abort();
  buf_free(&out);
  int64_t us;
  (void)expr_duration_parse(src, size, &us);
  size_t counted[2] = {0, size};
  if ((expr_names(a, src, size, count_name, counted, err, sizeof err) == 0) !=
      (checked == 0))
    abort();
  if ((expr_template_names(a, src, size, count_name, counted, err,
                           sizeof err) == 0) != (tc == 0))
    abort();

  if (size < 256) {
    char line[256];
    memcpy(line, data, size);
    line[size] = '\0';
    cron_spec spec;
    if (cron_parse(line, &spec, err, sizeof err) == 0) {
      const cron_tz *utc = cron_tz_get("UTC", err, sizeof err);
      int64_t after = 1796139000LL * 1000000LL;
      int64_t t = cron_next(&spec, utc, after);
      if (t != -1 && t <= after) abort();
      const cron_tz *ist = cron_tz_get("Asia/Kolkata", err, sizeof err);
      t = cron_next(&spec, ist, after);
      if (t != -1 && t <= after) abort();
    }
  }
  arena_free(a);
  return 0;
}

/* biz.c - the table of business operations, their error helpers, and the
 * typed readers of their JSON arguments (args.h). */
#include "biz/biz.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/dec.h"
#include "base/timeutil.h"
#include "base/uuid.h"
#include "biz/args.h"

#define ARG_DEC_LIMIT 100000000000000LL

static const biz_op ops[] = {
    {"create_invoice", op_create_invoice, 1},
    {"issue_invoice", op_issue_invoice, 1},
    {"cancel_invoice", op_cancel_invoice, 1},
    {"record_payment", op_record_payment, 1},
    {"record_refund", op_record_refund, 1},
    {"adjust_stock", op_adjust_stock, 1},
    {"customer_statement", op_customer_statement, 0},
    {"sales_summary", op_sales_summary, 0},
    {"debtors", op_debtors, 0},
    {"gstr1_export", op_gstr1_export, 0},
};

const biz_op *biz_op_find(const char *name) {
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (!strcmp(ops[i].name, name)) return &ops[i];
  return NULL;
}

int biz_fail(biz_err *e, api_error code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  e->code = code;
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
  e->details[0] = '\0';
  return -1;
}

int biz_db_fail(biz_err *e, const db_err *err) {
  e->code = api_error_for_sqlstate(err->code);
  e->db = *err;
  snprintf(e->message, sizeof e->message, "%s", err->message);
  e->details[0] = '\0';
  return -1;
}

int biz_provider_id_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 64) return 0;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || ch == '_'))
      return 0;
  }
  return 1;
}

/* ---- arguments ----------------------------------------------------------- */

static const json *member(const json *args, const char *name) {
  const json *v = json_get(args, name);
  return v && v->type != JSON_NULL ? v : NULL;
}

static int missing(biz_err *e, const char *name, int required, int *present) {
  if (present) *present = 0;
  if (required) return biz_fail(e, E_OP_INVALID, "%s is required", name);
  return 0;
}

int arg_only(biz_err *e, const json *args, const char *const *known) {
  if (!args || args->type != JSON_OBJECT)
    return biz_fail(e, E_OP_INVALID, "the arguments must be a JSON object");
  for (size_t i = 0; i < args->n; i++) {
    int ok = 0;
    for (const char *const *k = known; *k && !ok; k++) ok = !strcmp(*k, args->keys[i]);
    if (!ok)
      return biz_fail(e, E_OP_INVALID, "unknown argument \"%.64s\"", args->keys[i]);
  }
  return 0;
}

int arg_uuid(biz_err *e, const json *args, const char *name, int required,
             char out[37], int *present) {
  const json *v = member(args, name);
  if (!v) return missing(e, name, required, present);
  if (v->type != JSON_STRING || uuid_normalize(v->str, out))
    return biz_fail(e, E_OP_INVALID, "%s must be a UUID", name);
  if (present) *present = 1;
  return 0;
}

int arg_dec(biz_err *e, const json *args, const char *name, int scale,
            int required, int64_t *out, int *present) {
  const json *v = member(args, name);
  if (!v) return missing(e, name, required, present);
  if ((v->type != JSON_NUMBER && v->type != JSON_STRING) ||
      dec_parse(v->str, v->len, scale, out))
    return biz_fail(e, E_OP_INVALID,
                    "%s must be a number with at most %d decimal place%s", name,
                    scale, scale == 1 ? "" : "s");
  /* Money and quantities are numeric(14, scale): |v| < 10^14 units. */
  if (*out >= ARG_DEC_LIMIT || *out <= -ARG_DEC_LIMIT)
    return biz_fail(e, E_OP_INVALID, "%s is out of range (at most %d digits before the point)",
                    name, 14 - scale);
  if (present) *present = 1;
  return 0;
}

int arg_text(biz_err *e, arena *a, const json *args, const char *name,
             size_t maxlen, int required, const char **out) {
  const json *v = member(args, name);
  if (!v) return missing(e, name, required, NULL);
  if (v->type != JSON_STRING || v->len == 0 || v->len > maxlen ||
      !utf8_valid(v->str, v->len))
    return biz_fail(e, E_OP_INVALID, "%s must be a string of 1 to %zu bytes",
                    name, maxlen);
  *out = arena_strndup(a, v->str, v->len);
  return 0;
}

int arg_date(biz_err *e, const json *args, const char *name, int required,
             int32_t *out, int *present) {
  const json *v = member(args, name);
  if (!v) return missing(e, name, required, present);
  if (v->type != JSON_STRING || date_parse(v->str, out))
    return biz_fail(e, E_OP_INVALID, "%s must be a date, YYYY-MM-DD", name);
  if (present) *present = 1;
  return 0;
}

int arg_ts(biz_err *e, const json *args, const char *name, int required,
           int64_t *out, int *present) {
  const json *v = member(args, name);
  if (!v) return missing(e, name, required, present);
  if (v->type != JSON_STRING || ts_parse(v->str, out))
    return biz_fail(e, E_OP_INVALID,
                    "%s must be a timestamp, e.g. 2026-11-24T10:00:00+05:30",
                    name);
  if (present) *present = 1;
  return 0;
}

int arg_bool(biz_err *e, const json *args, const char *name, int *out,
             int *present) {
  const json *v = member(args, name);
  if (!v) return missing(e, name, 0, present);
  if (v->type != JSON_TRUE && v->type != JSON_FALSE)
    return biz_fail(e, E_OP_INVALID, "%s must be true or false", name);
  *out = v->type == JSON_TRUE;
  if (present) *present = 1;
  return 0;
}

/* expr_fmt.c - expression values to and from text and JSON (see expr.h):
 * what a `{{ }}` hole prints in a message, what a `set` node stores, how a
 * record's JSON becomes a value, and the duration words of `wait`.
 *
 * Numbers keep the digits they were written with ("1180.00" stays so, a
 * JSON number is never read through a double); times print in the
 * business's offset the way an Indian owner writes them ("01 Dec 2026,
 * 9:00 PM"); durations in words ("3 days", "1 day 2 hours"). */
#include <stdio.h>
#include <string.h>

#include "base/dec.h"
#include "base/timeutil.h"
#include "flow/expr.h"
#include "flow/expr_int.h"

static int fmt_time(int64_t us, int tz_offset_s, buf *out) {
  static const char *mon[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int64_t local = us + (int64_t)tz_offset_s * EXPR_US_PER_SEC;
  int64_t day = xtime_day_start(local, 0) / US_PER_DAY;
  int64_t secs = (local - day * US_PER_DAY) / EXPR_US_PER_SEC;
  int64_t y;
  unsigned m, d;
  civil_from_days(day, &y, &m, &d);
  unsigned hh = (unsigned)(secs / 3600), mm = (unsigned)(secs / 60 % 60);
  unsigned h12 = hh % 12 == 0 ? 12 : hh % 12;
  return buf_printf(out, "%02u %s %lld, %u:%02u %s", d, mon[(m - 1) % 12],
                    (long long)y, h12, mm, hh < 12 ? "AM" : "PM");
}

static int fmt_dur(int64_t us, buf *out) {
  uint64_t s = (us < 0 ? 0 - (uint64_t)us : (uint64_t)us) / 1000000u;
  static const struct {
    uint64_t secs;
    const char *one, *many;
  } units[] = {{86400, "day", "days"},
               {3600, "hour", "hours"},
               {60, "minute", "minutes"},
               {1, "second", "seconds"}};
  if (us < 0 && s > 0 && buf_putc(out, '-')) return -1;
  if (s == 0) return buf_puts(out, "0 seconds");
  int parts = 0;
  /* The two largest units: "1 day 2 hours", not down to the second. */
  for (size_t i = 0; i < 4 && parts < 2; i++) {
    uint64_t q = s / units[i].secs;
    if (q == 0) {
      if (parts) break;
      continue;
    }
    s -= q * units[i].secs;
    if (buf_printf(out, "%s%llu %s", parts ? " " : "", (unsigned long long)q,
                   q == 1 ? units[i].one : units[i].many))
      return -1;
    parts++;
  }
  return 0;
}

int expr_format(const expr_val *v, int tz_offset_s, buf *out) {
  char t[DEC_MAX_TEXT];
  switch (v->t) {
    case EV_NULL:
      return 0;
    case EV_BOOL:
      return buf_puts(out, v->b ? "true" : "false");
    case EV_NUM:
      dec_format(v->num, v->scale, t);
      return buf_puts(out, t);
    case EV_STR:
      return v->n ? buf_append(out, v->s, v->n) : 0;
    case EV_TIME:
      return fmt_time(v->us, tz_offset_s, out);
    case EV_DUR:
      return fmt_dur(v->us, out);
    case EV_JSON:
      if (!v->j) return 0;
      if (v->j->type == JSON_STRING)
        return buf_append(out, v->j->str, v->j->len);
      return json_write(out, v->j);
  }
  return -1;
}

int expr_to_json(const expr_val *v, buf *out) {
  switch (v->t) {
    case EV_NULL:
      return buf_puts(out, "null");
    case EV_BOOL:
      return buf_puts(out, v->b ? "true" : "false");
    case EV_NUM:
      return json_write_dec(out, v->num, v->scale);
    case EV_STR:
      return json_write_str(out, v->s, v->n);
    case EV_TIME:
      return json_write_ts(out, v->us);
    case EV_DUR:
      if (v->us % EXPR_US_PER_SEC == 0)
        return buf_printf(out, "%lld", (long long)(v->us / EXPR_US_PER_SEC));
      return json_write_dec(out, v->us, 6);
    case EV_JSON:
      return v->j ? json_write(out, v->j) : buf_puts(out, "null");
  }
  return -1;
}

int expr_from_json(const json *j, expr_val *out) {
  memset(out, 0, sizeof *out);
  if (!j) return 0;
  switch (j->type) {
    case JSON_NULL:
      out->t = EV_NULL;
      return 0;
    case JSON_TRUE:
    case JSON_FALSE:
      out->t = EV_BOOL;
      out->b = j->type == JSON_TRUE;
      return 0;
    case JSON_NUMBER:
      out->t = EV_NUM;
      if (xnum_parse(j->str, j->len, &out->num, &out->scale)) {
        memset(out, 0, sizeof *out);
        return -1;
      }
      return 0;
    case JSON_STRING:
      out->t = EV_STR;
      out->s = j->str ? j->str : "";
      out->n = j->str ? j->len : 0;
      return 0;
    case JSON_ARRAY:
    case JSON_OBJECT:
      out->t = EV_JSON;
      out->j = j;
      return 0;
  }
  return -1;
}

int expr_duration_parse(const char *s, size_t n, int64_t *us) {
  static const struct {
    const char *w;
    int64_t secs;
  } units[] = {{"s", 1},        {"sec", 1},       {"secs", 1},
               {"second", 1},   {"seconds", 1},   {"m", 60},
               {"min", 60},     {"mins", 60},     {"minute", 60},
               {"minutes", 60}, {"h", 3600},      {"hr", 3600},
               {"hrs", 3600},   {"hour", 3600},   {"hours", 3600},
               {"d", 86400},    {"day", 86400},   {"days", 86400},
               {"w", 604800},   {"week", 604800}, {"weeks", 604800}};
  size_t i = 0;
  while (i < n && s[i] == ' ') i++;
  while (n > i && s[n - 1] == ' ') n--;
  size_t d0 = i;
  uint64_t v = 0;
  while (i < n && s[i] >= '0' && s[i] <= '9') {
    v = v * 10 + (uint64_t)(s[i] - '0');
    if (v > 366ULL * 86400) return -1; /* and no overflow below */
    i++;
  }
  if (i == d0) return -1;
  if (i < n && s[i] == ' ') i++;
  size_t un = n - i;
  for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
    if (strlen(units[k].w) != un || memcmp(units[k].w, s + i, un) != 0)
      continue;
    uint64_t secs = v * (uint64_t)units[k].secs;
    if (secs > 366ULL * 86400) return -1;
    *us = (int64_t)secs * EXPR_US_PER_SEC;
    return 0;
  }
  return -1;
}

int expr_as_time(const expr_val *v, int tz_offset_s, int64_t *us) {
  if (v->t == EV_TIME) {
    *us = v->us;
    return 0;
  }
  if (v->t == EV_STR) return xtime_parse(v->s, v->n, tz_offset_s, us);
  return -1;
}

int expr_as_decimal(const expr_val *v, int scale, int64_t *out) {
  int64_t num;
  int sc;
  if (scale < 0 || scale > 18) return -1;
  if (v->t == EV_NUM)
    num = v->num, sc = v->scale;
  else if (v->t != EV_STR || xnum_parse(v->s, v->n, &num, &sc))
    return -1;
  if (sc <= scale) return xnum_rescale(num, sc, scale, out);
  /* More decimals than wanted: only zeros may go. */
  int64_t r = xnum_round(num, sc, scale);
  int64_t back;
  if (xnum_rescale(r, scale, sc, &back) || back != num) return -1;
  *out = r;
  return 0;
}

/* render.c - a captured row as GET /rest/v1 renders it.
 *
 * The capture triggers (capture.c) store each readable column as the
 * database's own JSON functions write it: SQLite's json_object gives money
 * as integer paise, booleans as 0/1, times as munshi's canonical text;
 * PostgreSQL's json_build_object gives numeric as a decimal in plain
 * units, booleans as true/false, times in ISO 8601 with the writer's
 * offset. JSON columns are captured as strings holding the column's text
 * (SQLite's stored text, PostgreSQL's jsonb output), because that text is
 * exactly what a REST read pastes into its answer. Here every value is
 * turned into the bytes rest_render.c's render_value writes for the same
 * column, so a change on the feed and a REST read of the row are equal byte
 * for byte (tests/unit/test_realtime_db_feed.c checks it for every table). */
#include <string.h>

#include "base/dec.h"
#include "base/json.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "realtime/rt_int.h"

/* A decimal in plain units, as PostgreSQL prints numeric: extra
 * fractional zeros are accepted ("12.5000" at scale 2), anything that would
 * need rounding is not (the column's own scale never does). */
static int plain_decimal(const json *v, int scale, int64_t *out) {
  if (v->type != JSON_NUMBER) return -1;
  size_t n = v->len;
  const char *s = v->str;
  if (memchr(s, 'e', n) || memchr(s, 'E', n)) return -1;
  return dec_parse_zeros(s, n, scale, out);
}

/* Text of a string or number value (numbers keep their literal). */
static int text_of(const json *v, const char **s, size_t *n) {
  if (v->type != JSON_STRING && v->type != JSON_NUMBER) return -1;
  *s = v->str;
  *n = v->len;
  return 0;
}

static int render_one(db_kind kind, const rest_col *c, const json *v,
                      buf *out) {
  if (!v || v->type == JSON_NULL) return buf_puts(out, "null");
  const char *s;
  size_t n;
  switch (c->type) {
    case DBT_INT: {
      int64_t i;
      if (json_int64(v, &i)) return -1;
      return buf_printf(out, "%lld", (long long)i);
    }
    case DBT_BOOL:
      if (v->type == JSON_TRUE || v->type == JSON_FALSE)
        return buf_puts(out, v->type == JSON_TRUE ? "true" : "false");
      if (v->type == JSON_NUMBER && v->len == 1 &&
          (v->str[0] == '0' || v->str[0] == '1'))
        return buf_puts(out, v->str[0] == '1' ? "true" : "false");
      return -1;
    case DBT_DEC: {
      int64_t d;
      /* SQLite holds decimals scaled (paise); PostgreSQL in plain units. */
      if (kind == DB_SQLITE ? json_int64(v, &d) : plain_decimal(v, c->scale, &d))
        return -1;
      return json_write_dec(out, d, c->scale);
    }
    case DBT_JSON:
      /* Captured as its text (capture.c); a value nested as JSON all the
       * same is written compactly rather than dropped. */
      if (v->type != JSON_STRING && v->type != JSON_NUMBER) return json_write(out, v);
      text_of(v, &s, &n);
      return buf_append(out, s, n);
    case DBT_TS: {
      int64_t t;
      if (v->type != JSON_STRING || ts_parse(v->str, &t)) return -1;
      return json_write_ts(out, t);
    }
    case DBT_DATE: {
      int32_t days;
      if (v->type != JSON_STRING || date_parse(v->str, &days)) return -1;
      return json_write_date(out, days);
    }
    default:
      if (text_of(v, &s, &n)) return -1;
      return json_write_str(out, s, n);
  }
}

int rt_render_record(arena *a, db_kind kind, const rest_table *t,
                     const char *captured, size_t len, buf *out) {
  json *o = NULL;
  json_error jerr;
  if (json_parse(a, captured, len, &o, &jerr) || o->type != JSON_OBJECT) {
    log_error("realtime: a captured %s row is not a JSON object", t->name);
    return -1;
  }
  int bad = buf_putc(out, '{');
  int first = 1;
  for (int i = 0; i < t->ncols && !bad; i++) {
    const rest_col *c = &t->cols[i];
    if (c->flags & CF_HIDDEN) continue;
    if (!first) bad |= buf_putc(out, ',');
    first = 0;
    bad |= json_write_str(out, c->name, strlen(c->name));
    bad |= buf_putc(out, ':');
    if (!rest_col_readable(c)) {
      bad |= buf_puts(out, "null");
      continue;
    }
    if (render_one(kind, c, json_get(o, c->name), out)) {
      log_error("realtime: cannot render %s.%s from the captured row", t->name,
                c->name);
      return -1;
    }
  }
  bad |= buf_putc(out, '}');
  return bad ? -1 : 0;
}

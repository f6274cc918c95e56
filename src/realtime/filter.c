/* filter.c - a subscription's row filter, as Supabase Realtime takes it in
 * a postgres_changes binding: "col=op.value" with op one of eq, neq, lt,
 * lte, gt, gte, or "col=in.(a,b,...)". The value is parsed once, by the
 * column's type, so a match compares like with like: money and quantities
 * as exact scaled integers (never floating point), times as microseconds,
 * dates as days, booleans and integers as numbers, UUIDs case-blind (both
 * backends print them lower-case), text as bytes. A filter names only a
 * column a REST read shows: a filter on a write-only secret or a hidden
 * column would let a subscriber probe its value, so it is refused as if the
 * column did not exist. JSON columns cannot be filtered (REST's eq on them
 * is not a value comparison either).
 *
 * A row whose value is null matches nothing (as in SQL). INSERT and UPDATE
 * are matched on the new record, DELETE on the old one, as Supabase's
 * server does. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/dec.h"
#include "base/json.h"
#include "base/timeutil.h"
#include "realtime/change.h"

#define FILTER_MAX_TEXT 4096 /* bytes of a filter */
#define FILTER_MAX_IN 100    /* values of an in.(...) list */

typedef enum { FO_EQ, FO_NEQ, FO_LT, FO_LTE, FO_GT, FO_GTE, FO_IN } fop;

/* A value parsed by its column's type: i for numbers, times, dates and
 * booleans; s/n for text and UUIDs. */
typedef struct fval {
  int64_t i;
  const char *s;
  size_t n;
} fval;

struct rt_filter {
  const rest_col *col;
  fop op;
  fval *vals;
  int nvals;
};

static const struct {
  const char *name;
  fop op;
} ops[] = {{"eq", FO_EQ},   {"neq", FO_NEQ}, {"lte", FO_LTE}, {"lt", FO_LT},
           {"gte", FO_GTE}, {"gt", FO_GT},   {"in", FO_IN}};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

static int is_uuid_text(const char *s, size_t n) {
  if (n != 36) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return 0;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                 (c >= 'A' && c <= 'F'))) {
      return 0;
    }
  }
  return 1;
}

/* Decimal text at scale; more fractional digits are allowed only when
 * they are zeros (a filter never rounds). */
static int decimal_text(const char *s, size_t n, int scale, int64_t *out) {
  return dec_parse_zeros(s, n, scale, out);
}

/* Parses s[0..n) as a value of column c into v (text kept in a). */
static int parse_value(arena *a, const rest_col *c, const char *s, size_t n,
                       fval *v) {
  char tmp[64];
  switch (c->type) {
    case DBT_INT:
      return decimal_text(s, n, 0, &v->i);
    case DBT_DEC:
      return decimal_text(s, n, c->scale, &v->i);
    case DBT_BOOL:
      if (n == 4 && !memcmp(s, "true", 4)) v->i = 1;
      else if (n == 5 && !memcmp(s, "false", 5)) v->i = 0;
      else return -1;
      return 0;
    case DBT_TS:
      if (n == 0 || n >= sizeof tmp) return -1;
      memcpy(tmp, s, n);
      tmp[n] = '\0';
      return ts_parse(tmp, &v->i);
    case DBT_DATE: {
      int32_t d;
      if (n == 0 || n >= sizeof tmp) return -1;
      memcpy(tmp, s, n);
      tmp[n] = '\0';
      if (date_parse(tmp, &d)) return -1;
      v->i = d;
      return 0;
    }
    case DBT_UUID: {
      if (!is_uuid_text(s, n)) return -1;
      char *l = arena_strndup(a, s, n);
      for (size_t i = 0; i < n; i++)
        if (l[i] >= 'A' && l[i] <= 'F') l[i] = (char)(l[i] - 'A' + 'a');
      v->s = l;
      v->n = n;
      return 0;
    }
    case DBT_JSON:
      return -1;
    default:
      v->s = arena_strndup(a, s, n);
      v->n = n;
      return 0;
  }
}

/* One item of an in.(...) list starting at *p (before end): a bare run up
 * to ',' or ')', or a double-quoted one in which a backslash takes the next
 * byte as it is. The unquoted text goes to a; *p moves past the item. */
static int list_item(arena *a, const char **p, const char *end,
                     const char **out, size_t *outn) {
  const char *s = *p;
  if (s < end && *s == '"') {
    char *b = arena_alloc(a, (size_t)(end - s) + 1);
    size_t k = 0;
    for (s++; s < end && *s != '"'; s++) {
      if (*s == '\\') {
        if (++s == end) return -1;
      }
      b[k++] = *s;
    }
    if (s == end) return -1; /* unterminated */
    b[k] = '\0';
    *out = b;
    *outn = k;
    *p = s + 1;
    return 0;
  }
  const char *e = s;
  while (e < end && *e != ',' && *e != ')') {
    if (*e == '"') return -1; /* a quote inside a bare value */
    e++;
  }
  *out = s;
  *outn = (size_t)(e - s);
  *p = e;
  return 0;
}

int rt_filter_parse(arena *a, const rest_table *t, const char *text,
                    rt_filter **out, char *err, size_t errlen) {
  *out = NULL;
  if (!text || !*text) return 0;
  size_t len = strlen(text);
  if (len > FILTER_MAX_TEXT) return fail(err, errlen, "filter is too long");
  const char *eq = memchr(text, '=', len);
  if (!eq) return fail(err, errlen, "invalid filter: expected column=operator.value");
  const rest_col *c = schema_col(t, text, (size_t)(eq - text));
  if (!c || !rest_col_readable(c)) {
    char name[64];
    size_t nn = (size_t)(eq - text);
    if (nn >= sizeof name) nn = sizeof name - 1;
    memcpy(name, text, nn);
    name[nn] = '\0';
    /* Name only what the client sent, cut short, and only when it is a
     * plain identifier (never echo arbitrary bytes). */
    for (size_t i = 0; i < nn; i++)
      if (!((name[i] >= 'a' && name[i] <= 'z') || name[i] == '_' ||
            (name[i] >= '0' && name[i] <= '9'))) {
        name[0] = '\0';
        break;
      }
    return fail(err, errlen, "invalid filter: no column %s to filter on", name);
  }
  const char *rest = eq + 1, *end = text + len;
  const char *dot = memchr(rest, '.', (size_t)(end - rest));
  if (!dot) return fail(err, errlen, "invalid filter on %s: expected operator.value", c->name);
  fop op = FO_EQ;
  int found = 0;
  for (size_t i = 0; i < sizeof ops / sizeof ops[0] && !found; i++)
    if (strlen(ops[i].name) == (size_t)(dot - rest) &&
        !memcmp(ops[i].name, rest, (size_t)(dot - rest))) {
      op = ops[i].op;
      found = 1;
    }
  if (!found)
    return fail(err, errlen,
                "invalid filter on %s: the operator must be eq, neq, lt, lte, "
                "gt, gte or in",
                c->name);
  if (c->type == DBT_JSON)
    return fail(err, errlen, "invalid filter: %s is a JSON column", c->name);
  rt_filter *f = arena_alloc(a, sizeof *f);
  memset(f, 0, sizeof *f);
  f->col = c;
  f->op = op;
  const char *v = dot + 1;
  if (op != FO_IN) {
    f->vals = arena_alloc(a, sizeof *f->vals);
    memset(f->vals, 0, sizeof *f->vals);
    const char *s = v;
    size_t n = (size_t)(end - v);
    /* a double-quoted value, as in.(…) allows, is taken unquoted */
    if (n >= 2 && v[0] == '"') {
      const char *p = v;
      if (list_item(a, &p, end, &s, &n) || p != end)
        return fail(err, errlen, "invalid filter on %s: bad quoting", c->name);
    }
    if (parse_value(a, c, s, n, &f->vals[0]))
      return fail(err, errlen, "invalid filter on %s: the value does not fit the column's type", c->name);
    f->nvals = 1;
    *out = f;
    return 0;
  }
  if (v >= end || *v != '(' || end[-1] != ')')
    return fail(err, errlen, "invalid filter on %s: in needs a list in parentheses", c->name);
  const char *p = v + 1, *lend = end - 1;
  f->vals = arena_alloc(a, sizeof *f->vals * FILTER_MAX_IN);
  memset(f->vals, 0, sizeof *f->vals * FILTER_MAX_IN);
  if (p == lend) { /* in.() matches nothing */
    *out = f;
    return 0;
  }
  for (;;) {
    if (f->nvals == FILTER_MAX_IN)
      return fail(err, errlen, "invalid filter on %s: more than 100 values", c->name);
    const char *s;
    size_t n;
    if (list_item(a, &p, lend, &s, &n))
      return fail(err, errlen, "invalid filter on %s: bad quoting", c->name);
    if (parse_value(a, c, s, n, &f->vals[f->nvals]))
      return fail(err, errlen, "invalid filter on %s: a value does not fit the column's type", c->name);
    f->nvals++;
    if (p == lend) break;
    if (*p != ',') return fail(err, errlen, "invalid filter on %s: bad list", c->name);
    p++;
  }
  *out = f;
  return 0;
}

/* The row's value of the filter's column, parsed like the filter's; -1
 * when it is null or absent (matches nothing). */
static int row_value(const rt_filter *f, const json *row, fval *v) {
  const json *j = json_get(row, f->col->name);
  if (!j || j->type == JSON_NULL) return -1;
  memset(v, 0, sizeof *v);
  switch (f->col->type) {
    case DBT_INT:
      return json_int64(j, &v->i);
    case DBT_DEC:
      return j->type == JSON_NUMBER ? decimal_text(j->str, j->len, f->col->scale, &v->i) : -1;
    case DBT_BOOL:
      if (j->type != JSON_TRUE && j->type != JSON_FALSE) return -1;
      v->i = j->type == JSON_TRUE;
      return 0;
    case DBT_TS:
      return j->type == JSON_STRING ? ts_parse(j->str, &v->i) : -1;
    case DBT_DATE: {
      int32_t d;
      if (j->type != JSON_STRING || date_parse(j->str, &d)) return -1;
      v->i = d;
      return 0;
    }
    default:
      if (j->type != JSON_STRING) return -1;
      v->s = j->str;
      v->n = j->len;
      return 0;
  }
}

static int textual(const rest_col *c) {
  return c->type == DBT_TEXT || c->type == DBT_UUID;
}

static int cmp(const rest_col *c, const fval *a, const fval *b) {
  if (textual(c)) {
    size_t n = a->n < b->n ? a->n : b->n;
    int r = memcmp(a->s, b->s, n);
    if (r) return r < 0 ? -1 : 1;
    return a->n < b->n ? -1 : a->n > b->n;
  }
  return a->i < b->i ? -1 : a->i > b->i;
}

int rt_filter_match(const rt_filter *f, const rt_change *c) {
  if (!f) return 1;
  if (!c || f->col < c->table->cols || f->col >= c->table->cols + c->table->ncols)
    return 0; /* a filter of another table */
  const json *row = c->op == RT_DELETE ? c->old : c->rec;
  if (!row) return 0;
  fval v;
  if (row_value(f, row, &v)) return 0;
  if (f->op == FO_IN) {
    for (int i = 0; i < f->nvals; i++)
      if (!cmp(f->col, &v, &f->vals[i])) return 1;
    return 0;
  }
  int r = cmp(f->col, &v, &f->vals[0]);
  switch (f->op) {
    case FO_EQ: return r == 0;
    case FO_NEQ: return r != 0;
    case FO_LT: return r < 0;
    case FO_LTE: return r <= 0;
    case FO_GT: return r > 0;
    case FO_GTE: return r >= 0;
    default: return 0;
  }
}

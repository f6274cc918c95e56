/* fuzz_realtime_filter.c - libFuzzer target for the realtime subscription
 * filter (src/realtime/filter.c): the first byte picks a REST table, the
 * rest is the filter text a client sends in a join. Parsing must never
 * crash, leak or read past the text; a filter that parses is matched
 * against an INSERT and a DELETE of a row holding a value of every type. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"
#include "realtime/change.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A row of table t with one plausible value per column. */
static void sample_row(const rest_table *t, buf *b) {
  buf_putc(b, '{');
  int first = 1;
  for (int i = 0; i < t->ncols; i++) {
    const rest_col *c = &t->cols[i];
    if (c->flags & CF_HIDDEN) continue;
    if (!first) buf_putc(b, ',');
    first = 0;
    json_write_str(b, c->name, strlen(c->name));
    buf_putc(b, ':');
    if (!rest_col_readable(c)) {
      buf_puts(b, "null");
      continue;
    }
    switch (c->type) {
      case DBT_INT: buf_puts(b, "42"); break;
      case DBT_BOOL: buf_puts(b, "true"); break;
      case DBT_DEC: json_write_dec(b, 123456, c->scale); break;
      case DBT_JSON: buf_puts(b, "{\"a\":[1,2]}"); break;
      case DBT_TS: json_write_ts(b, 1796032800123456LL); break;
      case DBT_DATE: json_write_date(b, 20422); break;
      case DBT_UUID: buf_puts(b, "\"0190a000-0000-7000-8000-0000000000aa\""); break;
      default: buf_puts(b, "\"paid, \\\"x\\\" \\u20b9\""); break;
    }
  }
  buf_putc(b, '}');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int n;
  const rest_table *tables = schema_tables(&n);
  const rest_table *t = &tables[data[0] % n];
  char *text = malloc(size);
  memcpy(text, data + 1, size - 1);
  text[size - 1] = '\0';
  arena *a = arena_new();
  rt_filter *f = NULL;
  char err[160];
  if (rt_filter_parse(a, t, text, &f, err, sizeof err) == 0) {
    buf row;
    buf_init(&row, 0);
    sample_row(t, &row);
    const char *p = "0190a000-0000-7000-8000-000000000001";
    rt_change *ins = rt_change_new((rt_pos){0, 1}, t, RT_INSERT, p, p, 0,
                                   buf_cstr(&row), NULL);
    rt_change *del = rt_change_new((rt_pos){0, 2}, t, RT_DELETE, p, p, 0, NULL,
                                   buf_cstr(&row));
    if (!ins || !del) abort(); /* the sample row is always an object */
    (void)rt_filter_match(f, ins);
    (void)rt_filter_match(f, del);
    rt_change_unref(ins);
    rt_change_unref(del);
    buf_free(&row);
  } else if (!err[0]) {
    abort(); /* every refusal says why */
  }
  arena_free(a);
  free(text);
  return 0;
}

/* change.c - changes as the feed carries them (see change.h): positions,
 * building a change once (its REST-rendered record texts, their parsed
 * trees for filters, and the postgres_changes "data" object every
 * subscriber is sent), sharing it by reference count between threads, and
 * the replay of recent changes from the database.
 *
 * Positions: the feed orders changes by seq alone on both backends
 * (feed.c says why that keeps each row's changes in order on PostgreSQL),
 * so a position's txid is always 0 and comparing positions compares seq. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "realtime/rt_int.h"

int rt_pos_cmp(rt_pos a, rt_pos b) {
  if (a.txid != b.txid) return a.txid < b.txid ? -1 : 1;
  if (a.seq != b.seq) return a.seq < b.seq ? -1 : 1;
  return 0;
}

void rt_pos_format(rt_pos p, char out[RT_POS_TEXT]) {
  snprintf(out, RT_POS_TEXT, "%lld.%lld", (long long)p.txid, (long long)p.seq);
}

/* A non-negative decimal integer of at most 18 digits: s[0..n). */
static int small_uint(const char *s, size_t n, int64_t *out) {
  if (n == 0 || n > 18) return -1;
  int64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}

int rt_pos_parse(const char *s, rt_pos *out) {
  if (!s) return -1;
  const char *dot = strchr(s, '.');
  if (!dot) return -1;
  rt_pos p;
  if (small_uint(s, (size_t)(dot - s), &p.txid) ||
      small_uint(dot + 1, strlen(dot + 1), &p.seq))
    return -1;
  *out = p;
  return 0;
}

const char *rt_op_name(rt_op op) {
  switch (op) {
    case RT_INSERT: return "INSERT";
    case RT_UPDATE: return "UPDATE";
    case RT_DELETE: return "DELETE";
  }
  return "UNKNOWN";
}

/* PostgreSQL's names of the column types, as Supabase's columns list has
 * them (supabase-js converts record values by them). */
static const char *type_name(const rest_col *c) {
  switch (c->type) {
    case DBT_TEXT: return "text";
    case DBT_INT: return "int8";
    case DBT_BOOL: return "bool";
    case DBT_JSON: return "jsonb";
    case DBT_UUID: return "uuid";
    case DBT_TS: return "timestamptz";
    case DBT_DATE: return "date";
    case DBT_DEC: return "numeric";
    default: return "text";
  }
}

static const json *parse_object(arena *a, const char *text) {
  if (!text) return NULL;
  json *o = NULL;
  json_error jerr;
  if (json_parse(a, text, strlen(text), &o, &jerr) || o->type != JSON_OBJECT)
    return NULL;
  return o;
}

rt_change *rt_change_new(rt_pos pos, const rest_table *t, rt_op op,
                         const char *profile_id, const char *row_id,
                         int64_t commit_us, const char *record,
                         const char *old_record) {
  if (!t || (op != RT_INSERT && op != RT_UPDATE && op != RT_DELETE))
    return NULL;
  arena *a = arena_new();
  rt_change *c = arena_alloc(a, sizeof *c);
  memset(c, 0, sizeof *c);
  c->a = a;
  c->pos = pos;
  c->table = t;
  c->op = op;
  snprintf(c->profile_id, sizeof c->profile_id, "%s", profile_id ? profile_id : "");
  snprintf(c->row_id, sizeof c->row_id, "%s", row_id ? row_id : "");
  c->commit_us = commit_us;
  if (record) {
    c->record = arena_strdup(a, record);
    c->record_len = strlen(record);
    if (!(c->rec = parse_object(a, c->record))) goto bad;
  }
  if (old_record) {
    c->old_record = arena_strdup(a, old_record);
    c->old_record_len = strlen(old_record);
    if (!(c->old = parse_object(a, c->old_record))) goto bad;
  }
  buf d;
  buf_init(&d, 0);
  char ts[TS_TEXT_LEN + 1];
  ts_format(commit_us, ts);
  /* Supabase's form: milliseconds, Z. */
  buf_printf(&d,
             "{\"schema\":\"public\",\"table\":\"%s\",\"commit_timestamp\":"
             "\"%.23sZ\",\"type\":\"%s\",\"columns\":[",
             t->name, ts, rt_op_name(op));
  int first = 1;
  for (int i = 0; i < t->ncols; i++) {
    if (t->cols[i].flags & CF_HIDDEN) continue;
    buf_printf(&d, "%s{\"name\":\"%s\",\"type\":\"%s\"}", first ? "" : ",",
               t->cols[i].name, type_name(&t->cols[i]));
    first = 0;
  }
  buf_putc(&d, ']');
  if (record) {
    buf_puts(&d, ",\"record\":");
    buf_puts(&d, record);
  }
  if (old_record) {
    buf_puts(&d, ",\"old_record\":");
    buf_puts(&d, old_record);
  }
  buf_puts(&d, ",\"errors\":null}");
  c->data_len = d.len;
  c->data = arena_strndup(a, buf_cstr(&d), d.len);
  buf_free(&d);
  atomic_init(&c->refs, 1);
  return c;
bad:
  arena_free(a);
  return NULL;
}

rt_change *rt_change_ref(rt_change *c) {
  if (c) atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
  return c;
}

void rt_change_unref(rt_change *c) {
  if (!c) return;
  if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
    arena_free(c->a);
}

/* ---- from the database -------------------------------------------------- */

rt_change *rt_change_from_row(db_kind kind, const db_res *r, int i) {
  const char *tname = db_res_text(r, i, 4);
  const rest_table *t = schema_table(tname, strlen(tname));
  if (!t) {
    log_warn("realtime: a change of unknown table %.64s skipped", tname);
    return NULL;
  }
  rt_pos pos = {0, db_res_int(r, i, 0)};
  int64_t op = db_res_int(r, i, 5);
  arena *a = arena_new();
  buf rec, old;
  buf_init(&rec, 0);
  buf_init(&old, 0);
  rt_change *c = NULL;
  if (!db_res_isnull(r, i, 7)) {
    const char *s = db_res_text(r, i, 7);
    if (rt_render_record(a, kind, t, s, strlen(s), &rec)) goto out;
  }
  if (!db_res_isnull(r, i, 8)) {
    const char *s = db_res_text(r, i, 8);
    if (rt_render_record(a, kind, t, s, strlen(s), &old)) goto out;
  }
  c = rt_change_new(pos, t, (rt_op)op, db_res_text(r, i, 3),
                    db_res_text(r, i, 6), db_res_ts(r, i, 2),
                    db_res_isnull(r, i, 7) ? NULL : buf_cstr(&rec),
                    db_res_isnull(r, i, 8) ? NULL : buf_cstr(&old));
  if (!c) log_error("realtime: change %lld could not be built", (long long)pos.seq);
out:
  buf_free(&rec);
  buf_free(&old);
  arena_free(a);
  return c;
}

int rt_purged_upto(db *d, int64_t *out, db_err *err) {
  db_res *r = NULL;
  if (db_query(d, "SELECT purged_seq FROM realtime_state WHERE id = 1", NULL, 0,
               &r, err))
    return -1;
  *out = db_res_rows(r) ? db_res_int(r, 0, 0) : 0;
  db_res_free(r);
  return 0;
}

/* ---- replay ------------------------------------------------------------- */

#define REPLAY_PAGE 500

static int table_wanted(const rest_table *t, const rest_table *const *tables,
                        int ntables) {
  if (!tables) return 1;
  for (int i = 0; i < ntables; i++)
    if (tables[i] == t) return 1;
  return 0;
}

int rt_replay(db *d, const api_principal *who, rt_pos after, rt_pos upto,
              const rest_table *const *tables, int ntables, rt_replay_fn fn,
              void *cls, db_err *err) {
  int64_t purged;
  if (rt_purged_upto(d, &purged, err)) return -1;
  int lost = after.seq < purged;
  if (!who || (who->role != ROLE_SERVICE && who->role != ROLE_AUTHENTICATED))
    return lost;
  int tenant = who->role == ROLE_AUTHENTICATED;
  int64_t from = after.seq;
  db_kind kind = db_kind_of(d);
  for (;;) {
    db_res *r = NULL;
    db_val p[3] = {db_int(from), db_int(upto.seq), db_uuid(tenant ? who->sub : "")};
    const char *sql =
        tenant ? "SELECT " RT_CHANGE_COLUMNS " FROM realtime_changes WHERE seq "
                 "> $1 AND seq <= $2 AND profile_id = $3 ORDER BY seq LIMIT 500"
               : "SELECT " RT_CHANGE_COLUMNS " FROM realtime_changes WHERE seq "
                 "> $1 AND seq <= $2 ORDER BY seq LIMIT 500";
    if (db_query(d, sql, p, tenant ? 3 : 2, &r, err)) return -1;
    int n = db_res_rows(r);
    int stop = 0;
    for (int i = 0; i < n && !stop; i++) {
      from = db_res_int(r, i, 0);
      const char *tname = db_res_text(r, i, 4);
      const rest_table *t = schema_table(tname, strlen(tname));
      if (!t || !table_wanted(t, tables, ntables)) continue;
      rt_change *c = rt_change_from_row(kind, r, i);
      if (!c) continue;
      if (rt_visible(who, c)) stop = fn(cls, c) != 0;
      rt_change_unref(c);
    }
    db_res_free(r);
    if (stop || n < REPLAY_PAGE) break;
  }
  return lost;
}

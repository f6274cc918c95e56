/* rest.c - the /rest/v1 handler: reads, writes and embedding over the
 * schema's tables, PostgREST's headers and error shape, tenancy on every
 * statement.
 *
 * A request goes: role check -> table -> Prefer/Accept/Range -> query_parse
 * (names checked, values typed) -> sql.c builds the statement -> db -> the
 * rows are rendered as JSON by column type (money as exact decimals). */
#include "rest/rest.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/dec.h"
#include "base/json.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/uuid.h"
#include "biz/biz.h"
#include "rest/query.h"
#include "rest/sql.h"

#define EMBED_CHUNK 500 /* keys per IN (...) when fetching embedded rows */

typedef struct prefs {
  int representation; /* return=representation */
  int count;          /* count=exact (planned/estimated are answered exactly) */
  int object;         /* Accept: application/vnd.pgrst.object+json */
} prefs;

static void read_prefs(const api_req *req, prefs *p) {
  memset(p, 0, sizeof *p);
  const char *h = req->header(req, "prefer");
  if (h) {
    if (strstr(h, "return=representation")) p->representation = 1;
    if (strstr(h, "count=exact") || strstr(h, "count=planned") ||
        strstr(h, "count=estimated"))
      p->count = 1;
  }
  const char *acc = req->header(req, "accept");
  if (acc && strstr(acc, "application/vnd.pgrst.object+json")) p->object = 1;
}

/* ---- errors ------------------------------------------------------------- */

static int fail_query(api_resp *resp, const query_error *e) {
  return api_fail(resp, e->code, e->message, e->details[0] ? e->details : NULL,
                  NULL);
}

/* Maps a database error to the API's; constraint messages are safe to show. */
static int fail_db(api_resp *resp, const db_err *e) {
  api_error code = api_error_for_sqlstate(e->code);
  switch (code) {
    case E_FOREIGN_KEY:
      return api_fail(resp, code, e->message,
                      "the referenced row does not exist in your business", NULL);
    case E_UNAVAILABLE:
      return api_fail(resp, code, "the database is busy or unreachable; retry",
                      NULL, NULL);
    case E_DB:
      log_error("rest: database error %s: %s", e->code, e->message);
      return api_fail(resp, code, NULL, NULL, NULL);
    default:
      return api_fail(resp, code, e->message, NULL, NULL);
  }
}

/* ---- rendering ---------------------------------------------------------- */

static void render_value(buf *out, const db_res *r, int row, int col,
                         const rest_col *c) {
  if (db_res_isnull(r, row, col)) {
    buf_puts(out, "null");
    return;
  }
  switch (c->type) {
    case DBT_INT:
      buf_printf(out, "%lld", (long long)db_res_int(r, row, col));
      break;
    case DBT_BOOL:
      buf_puts(out, db_res_bool(r, row, col) ? "true" : "false");
      break;
    case DBT_DEC:
      json_write_dec(out, db_res_dec(r, row, col, c->scale), c->scale);
      break;
    case DBT_JSON:
      buf_puts(out, db_res_text(r, row, col));
      break;
    case DBT_TS:
      json_write_ts(out, db_res_ts(r, row, col));
      break;
    case DBT_DATE:
      json_write_date(out, db_res_date(r, row, col));
      break;
    default: {
      const char *s = db_res_text(r, row, col);
      json_write_str(out, s, strlen(s));
    }
  }
}

/* The rows of an embed, fetched once for all parent rows. */
typedef struct embed_key {
  const char *key, *prof; /* join column and profile_id of one child row */
  int row;
} embed_key;

typedef struct embed_rows {
  db_res *res;      /* NULL: nothing fetched (no parent had a key) */
  fetch_list f;
  int key_idx;      /* index in f of the column matched against the parent */
  int prof_idx;     /* index in f of profile_id */
  embed_key *index; /* the rows sorted by (key, prof), for binary search */
  int nindex;
  struct embed_rows *next_chunk;
} embed_rows;

static int embed_key_cmp(const void *a, const void *b) {
  const embed_key *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  if (c) return c;
  c = strcmp(x->prof, y->prof);
  return c ? c : x->row - y->row; /* keeps the database's order of children */
}

/* Sorts the fetched rows by join key once, so stitching them to n parents
 * costs n log m instead of n * m. */
static void embed_index(arena *a, embed_rows *er) {
  int n = db_res_rows(er->res);
  er->index = arena_alloc(a, sizeof *er->index * (size_t)(n ? n : 1));
  er->nindex = n;
  for (int i = 0; i < n; i++) {
    er->index[i].key = db_res_text(er->res, i, er->key_idx);
    er->index[i].prof = db_res_text(er->res, i, er->prof_idx);
    er->index[i].row = i;
  }
  qsort(er->index, (size_t)n, sizeof *er->index, embed_key_cmp);
}

/* First index entry whose (key, prof) is not less than the given one. */
static int embed_lower(const embed_rows *er, const char *key, const char *prof) {
  int lo = 0, hi = er->nindex;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    int c = strcmp(er->index[mid].key, key);
    if (!c) c = strcmp(er->index[mid].prof, prof);
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

typedef struct render_ctx {
  const rest_query *q;
  const fetch_list *f;
  embed_rows **embeds; /* per select item; NULL for columns */
} render_ctx;

static void render_object(buf *out, const rest_table *t, const sel_item *sel,
                          int nsel, const fetch_list *f, const db_res *r,
                          int row, embed_rows **embeds);

static void render_embed(buf *out, const sel_item *it, const fetch_list *pf,
                         const db_res *pr, int prow, const rest_table *pt,
                         embed_rows *er) {
  const rest_col *pkey = it->to_many ? schema_col(pt, "id", 2) : it->fk;
  int pk = -1, pp = -1;
  for (int i = 0; i < pf->n; i++) {
    if (pf->cols[i] == pkey) pk = i;
    if (!strcmp(pf->cols[i]->name, "profile_id")) pp = i;
  }
  int any = 0;
  if (it->to_many) buf_putc(out, '[');
  if (pk >= 0 && pp >= 0 && !db_res_isnull(pr, prow, pk)) {
    const char *key = db_res_text(pr, prow, pk);
    const char *prof = db_res_text(pr, prow, pp);
    for (embed_rows *c = er; c && !(any && !it->to_many); c = c->next_chunk) {
      if (!c->res) continue;
      for (int i = embed_lower(c, key, prof); i < c->nindex; i++) {
        const embed_key *k = &c->index[i];
        if (strcmp(k->key, key) || strcmp(k->prof, prof)) break;
        if (any) buf_putc(out, ',');
        render_object(out, it->table, it->sub, it->nsub, &c->f, c->res, k->row,
                      NULL);
        any = 1;
        if (!it->to_many) break;
      }
    }
  }
  if (it->to_many)
    buf_putc(out, ']');
  else if (!any)
    buf_puts(out, "null");
}

static void render_object(buf *out, const rest_table *t, const sel_item *sel,
                          int nsel, const fetch_list *f, const db_res *r,
                          int row, embed_rows **embeds) {
  buf_putc(out, '{');
  if (!sel) {
    for (int i = 0; i < f->n; i++) {
      if (i) buf_putc(out, ',');
      json_write_str(out, f->cols[i]->name, strlen(f->cols[i]->name));
      buf_putc(out, ':');
      render_value(out, r, row, i, f->cols[i]);
    }
  } else {
    for (int i = 0; i < nsel; i++) {
      const sel_item *it = &sel[i];
      if (i) buf_putc(out, ',');
      json_write_str(out, it->alias, strlen(it->alias));
      buf_putc(out, ':');
      if (it->col) {
        int idx = -1;
        for (int k = 0; k < f->n; k++)
          if (f->cols[k] == it->col) idx = k;
        render_value(out, r, row, idx, it->col);
      } else {
        render_embed(out, it, f, r, row, t, embeds ? embeds[i] : NULL);
      }
    }
  }
  buf_putc(out, '}');
}

static void free_embeds(embed_rows **embeds, int n) {
  if (!embeds) return;
  for (int i = 0; i < n; i++)
    for (embed_rows *c = embeds[i]; c; c = c->next_chunk) db_res_free(c->res);
}

/* Fetches the rows of every embed in q for the parent rows in r. */
static int fetch_embeds(db *d, arena *a, const rest_query *q,
                        const fetch_list *pf, const db_res *r,
                        embed_rows ***out, api_resp *resp) {
  *out = NULL;
  if (!q->sel) return 0;
  embed_rows **embeds = arena_alloc(a, sizeof *embeds * (size_t)q->nsel);
  *out = embeds;
  int nrows = db_res_rows(r);
  for (int i = 0; i < q->nsel; i++) {
    const sel_item *it = &q->sel[i];
    if (it->col || nrows == 0) continue;
    const rest_col *pkey = it->to_many ? schema_col(q->table, "id", 2) : it->fk;
    const rest_col *ckey = it->to_many ? it->fk : schema_col(it->table, "id", 2);
    int pk = -1, pp = -1;
    for (int k = 0; k < pf->n; k++) {
      if (pf->cols[k] == pkey) pk = k;
      if (!strcmp(pf->cols[k]->name, "profile_id")) pp = k;
    }
    /* Distinct profiles of the parents (one for a signed-in user). */
    db_val *profs = arena_alloc(a, sizeof(db_val) * (size_t)nrows);
    int np = 0;
    for (int row = 0; row < nrows; row++) {
      const char *p = db_res_text(r, row, pp);
      int dup = 0;
      for (int k = 0; k < np && !dup; k++) dup = !strcmp(profs[k].s, p);
      if (!dup) profs[np++] = db_uuid(arena_strdup(a, p));
    }
    embed_rows **tail = &embeds[i];
    for (int start = 0; start < nrows; start += EMBED_CHUNK) {
      int end = start + EMBED_CHUNK < nrows ? start + EMBED_CHUNK : nrows;
      db_val *keys = arena_alloc(a, sizeof(db_val) * (size_t)(end - start));
      int nk = 0;
      for (int row = start; row < end; row++)
        if (!db_res_isnull(r, row, pk))
          keys[nk++] = db_uuid(arena_strdup(a, db_res_text(r, row, pk)));
      embed_rows *er = arena_alloc(a, sizeof *er);
      *tail = er;
      tail = &er->next_chunk;
      if (!nk) continue;
      if (it->sub) {
        for (int k = 0; k < it->nsub; k++) fetch_add(&er->f, it->sub[k].col);
      } else {
        for (int k = 0; k < it->table->ncols; k++)
          fetch_add(&er->f, &it->table->cols[k]);
      }
      er->key_idx = fetch_add(&er->f, ckey);
      er->prof_idx = fetch_add(&er->f, schema_col(it->table, "profile_id", 10));
      sqlb b;
      sqlb_init(&b, a, db_kind_of(d));
      sql_select_in(&b, it->table, &er->f, ckey, keys, nk, profs, np);
      db_err err;
      int rc = db_query(d, buf_cstr(&b.sql), b.params, b.n, &er->res, &err);
      sqlb_free(&b);
      if (rc) return fail_db(resp, &err);
      embed_index(a, er);
    }
  }
  return 0;
}

/* Renders all rows as a JSON array, or the single row as an object. */
static int render_rows(db *d, arena *a, const rest_query *q,
                       const fetch_list *f, const db_res *r, int as_object,
                       api_resp *resp) {
  embed_rows **embeds;
  if (fetch_embeds(d, a, q, f, r, &embeds, resp)) {
    free_embeds(embeds, q->nsel);
    return -1;
  }
  int n = db_res_rows(r);
  buf *out = &resp->body;
  buf_reset(out);
  if (!as_object) buf_putc(out, '[');
  for (int i = 0; i < n; i++) {
    if (i) buf_putc(out, ',');
    render_object(out, q->table, q->sel, q->nsel, f, r, i, embeds);
  }
  if (!as_object) buf_putc(out, ']');
  free_embeds(embeds, q->nsel);
  return 0;
}

static int not_one(api_resp *resp, int n) {
  char details[64];
  snprintf(details, sizeof details, "The result contains %d rows", n);
  return api_fail(resp, E_NOT_ONE,
                  "JSON object requested, multiple (or no) rows returned",
                  details, NULL);
}

/* ---- reads -------------------------------------------------------------- */

/* Range: 0-9 (items). Only applies when limit/offset are not in the query. */
static int apply_range(const api_req *req, rest_query *q, api_resp *resp) {
  const char *h = req->header(req, "range");
  if (!h || q->limit >= 0 || q->offset > 0) return 0;
  int64_t from, to = -1;
  const char *dash = strchr(h, '-');
  if (!dash || dec_parse(h, (size_t)(dash - h), 0, &from) || from < 0 ||
      (dash[1] && (dec_parse(dash + 1, strlen(dash + 1), 0, &to) || to < from)))
    return api_fail(resp, E_BAD_RANGE, "Requested range not satisfiable",
                    "Range takes FROM-TO with 0 <= FROM <= TO, e.g. 0-9", NULL);
  q->offset = from;
  /* to - from + 1 cannot overflow: 0 <= from <= to <= INT64_MAX, and a span
   * of the whole range means no limit. */
  if (to >= 0 && to - from < INT64_MAX) q->limit = to - from + 1;
  return 0;
}

static void content_range(arena *a, api_resp *resp, int64_t offset, int n,
                          int64_t total) {
  char *v;
  char tot[24];
  if (total >= 0)
    snprintf(tot, sizeof tot, "%lld", (long long)total);
  else
    memcpy(tot, "*", 2);
  if (n > 0)
    v = arena_printf(a, "%lld-%lld/%s", (long long)offset,
                     (long long)(offset + n - 1), tot);
  else
    v = arena_printf(a, "*/%s", tot);
  api_header(resp, "Content-Range", v);
}

static int read_rows(db *d, api_req *req, rest_query *q, const prefs *pf,
                   api_resp *resp) {
  if (apply_range(req, q, resp)) return -1;
  int64_t total = -1;
  db_err err;
  if (pf->count) {
    sqlb b;
    sqlb_init(&b, req->a, db_kind_of(d));
    sql_count(&b, q, &req->who);
    db_res *r = NULL;
    int rc = db_query(d, buf_cstr(&b.sql), b.params, b.n, &r, &err);
    sqlb_free(&b);
    if (rc) return fail_db(resp, &err);
    total = db_res_int(r, 0, 0);
    db_res_free(r);
    if (q->offset > 0 && q->offset >= total && total > 0)
      return api_fail(resp, E_BAD_RANGE, "Requested range not satisfiable",
                      "An offset past the last row was requested", NULL);
  }
  fetch_list f;
  fetch_for_query(q, &f);
  sqlb b;
  sqlb_init(&b, req->a, db_kind_of(d));
  sql_select(&b, q, &req->who, &f);
  db_res *r = NULL;
  int rc = db_query(d, buf_cstr(&b.sql), b.params, b.n, &r, &err);
  sqlb_free(&b);
  if (rc) return fail_db(resp, &err);
  int n = db_res_rows(r);
  if (pf->object && n != 1) {
    db_res_free(r);
    return not_one(resp, n);
  }
  rc = render_rows(d, req->a, q, &f, r, pf->object, resp);
  db_res_free(r);
  if (rc) return -1;
  content_range(req->a, resp, q->offset, n, total);
  resp->status = (total >= 0 && n < total) ? 206 : 200;
  if (!strcmp(req->method, "HEAD")) buf_reset(&resp->body);
  return 0;
}

/* With count=exact the count and the page come from one snapshot, so
 * Content-Range agrees with the rows even under concurrent writes. */
static int do_read(db *d, api_req *req, rest_query *q, const prefs *pf,
                   api_resp *resp) {
  if (!pf->count) return read_rows(d, req, q, pf, resp);
  db_err err;
  if (db_begin(d, 0, &err)) return fail_db(resp, &err);
  int rc = read_rows(d, req, q, pf, resp);
  if (rc) {
    db_rollback(d);
    return rc;
  }
  db_commit(d, &err); /* a read-only transaction: nothing to lose */
  return 0;
}

/* ---- writes ------------------------------------------------------------- */

static int refuse_write(const rest_table *t, api_resp *resp) {
  return api_failf(resp, E_USE_OPERATION, "%s", t->write_hint);
}

/* Converts a JSON body value to column c's type. */
static int json_to_val(arena *a, const rest_col *c, const json *v, db_val *out,
                       api_resp *resp) {
  if (v->type == JSON_NULL) {
    *out = db_null();
    return 0;
  }
  query_error qe;
  switch (c->type) {
    case DBT_JSON: {
      buf b;
      buf_init(&b, 0);
      json_write(&b, v);
      *out = db_json(arena_strndup(a, b.data ? b.data : "null", b.len));
      buf_free(&b);
      return 0;
    }
    case DBT_BOOL:
      if (v->type == JSON_TRUE || v->type == JSON_FALSE) {
        *out = db_bool(v->type == JSON_TRUE);
        return 0;
      }
      break;
    case DBT_INT:
    case DBT_DEC:
      if (v->type == JSON_NUMBER || v->type == JSON_STRING) {
        if (query_value(a, c, v->str, v->len, out, &qe))
          return fail_query(resp, &qe);
        if (c->type == DBT_DEC) {
          /* numeric(p,s) holds |v| < 10^p in units of 10^-s; checked here
           * so SQLite's integers refuse what PostgreSQL's numeric would. */
          int64_t limit = 1;
          for (int k = 0; k < (c->precision ? c->precision : 14); k++)
            limit *= 10;
          if (out->i >= limit || out->i <= -limit)
            return api_failf(resp, E_BAD_VALUE,
                             "numeric field overflow: %s takes at most %d "
                             "digits before the decimal point",
                             c->name,
                             (c->precision ? c->precision : 14) - c->scale);
        }
        return 0;
      }
      break;
    default: /* text, uuid, timestamps, dates: JSON strings */
      if (v->type == JSON_STRING) {
        if (query_value(a, c, v->str, v->len, out, &qe))
          return fail_query(resp, &qe);
        return 0;
      }
  }
  return api_failf(resp, E_BAD_VALUE, "column %s expects %s, got %s", c->name,
                   c->type == DBT_BOOL                          ? "true or false"
                   : c->type == DBT_INT || c->type == DBT_DEC ? "a number"
                                                                : "a string",
                   json_type_name(v->type));
}

/* One row of an insert or the SET list of an update. */
typedef struct row_vals {
  const rest_col *cols[128];
  db_val vals[128];
  int n;
} row_vals;

static void row_set(row_vals *rv, const rest_col *c, db_val v) {
  for (int i = 0; i < rv->n; i++)
    if (rv->cols[i] == c) {
      rv->vals[i] = v;
      return;
    }
  rv->cols[rv->n] = c;
  rv->vals[rv->n++] = v;
}

/* Checks and converts the members of one body object. insert: 1 for POST,
 * 0 for PATCH. */
static int body_row(arena *a, const rest_table *t, const json *obj,
                    const api_principal *who, int insert, row_vals *rv,
                    api_resp *resp) {
  rv->n = 0;
  if (obj->type != JSON_OBJECT)
    return api_fail(resp, E_BAD_JSON,
                    insert ? "each row must be a JSON object"
                           : "PATCH takes one JSON object",
                    NULL, NULL);
  for (size_t i = 0; i < obj->n; i++) {
    const char *key = obj->keys[i];
    const rest_col *c = schema_col(t, key, strlen(key));
    if (!c)
      return api_failf(resp, E_NO_COLUMN,
                       "Could not find the '%.64s' column of '%s' in the "
                       "schema cache",
                       key, t->name);
    if (c->flags & CF_READONLY)
      return api_failf(resp, E_READ_ONLY_COLUMN, "column %s is read-only: %s",
                       c->name, c->hint);
    if (!insert && (c->flags & CF_INSERT_ONLY) && !(c->flags & CF_PK))
      return api_failf(resp, E_READ_ONLY_COLUMN,
                       "column %s cannot be changed: %s", c->name, c->hint);
    int owner_col = !strcmp(c->name, "profile_id") ||
                    ((t->flags & TF_PROFILES) && !strcmp(c->name, "id"));
    if (owner_col) {
      /* The owner comes from the token. A body may repeat it (front ends
       * written for RLS send it); naming another business is refused as
       * row-level security would refuse it. */
      char u[UUID_STR_LEN + 1];
      if (who->role == ROLE_SERVICE && insert) {
        db_val v;
        if (json_to_val(a, c, obj->items[i], &v, resp)) return -1;
        row_set(rv, c, v);
        continue;
      }
      if (obj->items[i]->type != JSON_STRING ||
          uuid_normalize(obj->items[i]->str, u) ||
          (who->role == ROLE_AUTHENTICATED && strcmp(u, who->sub)))
        return api_failf(resp, E_FORBIDDEN,
                         "new row violates row-level security policy for "
                         "table \"%s\"",
                         t->name);
      continue;
    }
    if ((c->flags & CF_PK) && !insert)
      return api_failf(resp, E_READ_ONLY_COLUMN, "column %s cannot be changed",
                       c->name);
    if (c->flags & CF_SERVER)
      return api_failf(resp, E_READ_ONLY_COLUMN,
                       "column %s is set by the server", c->name);
    db_val v;
    if (json_to_val(a, c, obj->items[i], &v, resp)) return -1;
    row_set(rv, c, v);
  }
  return 0;
}

/* The business rules for the row (biz_check_fields): normalised values
 * replace the client's, derived ones (a state code from a GSTIN) join. */
static int check_row(arena *a, const rest_table *t, row_vals *rv,
                     int insert, api_resp *resp) {
  const char *names[128];
  db_val vals[128];
  for (int i = 0; i < rv->n; i++) {
    names[i] = rv->cols[i]->name;
    vals[i] = rv->vals[i];
  }
  biz_fields f = {names, vals, rv->n, 128};
  biz_err e;
  memset(&e, 0, sizeof e);
  if (biz_check_fields(a, t->name, &f, insert, &e))
    return api_fail(resp, e.code, e.message, NULL, NULL);
  for (int i = 0; i < f.n; i++) {
    const rest_col *c = schema_col(t, names[i], strlen(names[i]));
    if (!c) return api_fail(resp, E_INTERNAL, NULL, NULL, NULL);
    row_set(rv, c, vals[i]);
  }
  return 0;
}

/* Adds what the server sets: id, owner, timestamps, created_by. */
static void server_columns(arena *a, const rest_table *t,
                           const api_principal *who, int insert, row_vals *rv) {
  int64_t t_now = time_now_us();
  const rest_col *c;
  if (insert) {
    c = schema_col(t, "id", 2);
    int has_id = 0;
    for (int i = 0; i < rv->n; i++) has_id |= rv->cols[i] == c;
    if (c && !has_id) {
      char *u = arena_alloc(a, UUID_STR_LEN + 1);
      uuid_v7(u);
      row_set(rv, c, db_uuid(u));
    }
    if (who->role == ROLE_AUTHENTICATED) {
      if ((c = schema_col(t, "profile_id", 10)))
        row_set(rv, c, db_uuid(who->sub));
      if ((c = schema_col(t, "created_by", 10)))
        row_set(rv, c, db_uuid(who->sub));
    }
    if ((c = schema_col(t, "created_at", 10))) row_set(rv, c, db_ts(t_now));
  }
  if ((c = schema_col(t, "updated_at", 10))) row_set(rv, c, db_ts(t_now));
}

static int write_result(db *d, api_req *req, const rest_query *q,
                        const prefs *pf, const fetch_list *f, db_res **results,
                        int nres, int status_minimal, int status_repr,
                        api_resp *resp) {
  int total = 0;
  for (int i = 0; results && i < nres; i++)
    total += results[i] ? db_res_rows(results[i]) : 0;
  if (pf->object && pf->representation && total != 1) return not_one(resp, total);
  if (!pf->representation) {
    resp->status = status_minimal;
    buf_reset(&resp->body);
    return 0;
  }
  if (nres == 1) {
    if (render_rows(d, req->a, q, f, results[0], pf->object, resp)) return -1;
    resp->status = status_repr;
    return 0;
  }
  /* A bulk insert has one result (one row) per body row: join them. */
  buf all;
  buf_init(&all, 0);
  if (!pf->object) buf_putc(&all, '[');
  int first = 1;
  for (int i = 0; i < nres; i++) {
    if (!results[i] || !db_res_rows(results[i])) continue;
    if (render_rows(d, req->a, q, f, results[i], 1, resp)) {
      buf_free(&all);
      return -1;
    }
    if (!first) buf_putc(&all, ',');
    buf_append(&all, resp->body.data, resp->body.len);
    first = 0;
  }
  if (!pf->object) buf_putc(&all, ']');
  buf_free(&resp->body);
  resp->body = all;
  resp->status = status_repr;
  return 0;
}

/* Runs the business hook for a row just inserted (biz_after_insert). */
static int after_insert(db *d, arena *a, const rest_table *t,
                        const fetch_list *f, const db_res *r, api_resp *resp) {
  buf row;
  buf_init(&row, 0);
  render_object(&row, t, NULL, 0, f, r, 0, NULL);
  json *obj;
  json_error je;
  int rc = json_parse(a, row.data, row.len, &obj, &je);
  buf_free(&row);
  const json *owner = rc ? NULL : json_get(obj, "profile_id");
  if (!owner || owner->type != JSON_STRING)
    return api_fail(resp, E_INTERNAL, NULL, NULL, NULL);
  biz_ctx c = {.d = d, .a = a, .profile_id = owner->str,
               .now_us = time_now_us()};
  biz_err e;
  memset(&e, 0, sizeof e);
  if (biz_after_insert(&c, t->name, obj, &e)) {
    if (e.code == E_DB || e.code == E_UNAVAILABLE) return fail_db(resp, &e.db);
    return api_fail(resp, e.code, e.message, NULL, NULL);
  }
  return 0;
}

/* Rows one POST may carry; PostgREST has no such cap, but one request
 * should not hold a worker and the write lock for long. */
#define INSERT_MAX_ROWS 10000

static int do_insert(db *d, api_req *req, rest_query *q, const prefs *pf,
                     api_resp *resp) {
  const rest_table *t = q->table;
  if (t->flags & TF_NO_INSERT) return refuse_write(t, resp);
  json *body;
  json_error je;
  if (json_parse(req->a, req->body, req->body_len, &body, &je))
    return api_failf(resp, E_BAD_JSON, "Empty or invalid json: %s at byte %zu",
                     je.message, je.offset);
  if (body->type != JSON_ARRAY && body->type != JSON_OBJECT)
    return api_fail(resp, E_BAD_JSON,
                    "the body must be an object or an array of objects", NULL,
                    NULL);
  size_t nrows = body->type == JSON_ARRAY ? body->n : 1;
  json **rows = body->type == JSON_ARRAY ? body->items : &body;
  if (nrows > INSERT_MAX_ROWS)
    return api_failf(resp, E_TOO_LARGE,
                     "at most %d rows may be inserted in one request",
                     INSERT_MAX_ROWS);
  /* Customers and products created here also get their business event (and
   * a product its opening stock movement) in the same transaction, so every
   * new row is read back whole for the hook. */
  int hooked = (t->flags & TF_EVENTS) != 0;
  fetch_list f;
  fetch_for_query(q, &f);
  if (hooked)
    for (int k = 0; k < t->ncols; k++) fetch_add(&f, &t->cols[k]);
  int returning = pf->representation || hooked;
  db_res **results = NULL;
  if (returning)
    results = arena_alloc(req->a, sizeof *results * (nrows ? nrows : 1));
  db_err err;
  int in_tx = nrows > 1 || (pf->object && pf->representation) || hooked;
  if (in_tx && db_begin(d, 1, &err)) return fail_db(resp, &err);
  /* Rows are checked and written one at a time, so memory follows the body;
   * an error anywhere rolls back the rows before it. */
  int rc = 0, db_failed = 0;
  row_vals rv;
  for (size_t i = 0; i < nrows && !rc; i++) {
    rc = body_row(req->a, t, rows[i], &req->who, 1, &rv, resp);
    if (!rc) rc = check_row(req->a, t, &rv, 1, resp);
    if (rc) break;
    server_columns(req->a, t, &req->who, 1, &rv);
    sqlb b;
    sqlb_init(&b, req->a, db_kind_of(d));
    sqlb_puts(&b, "INSERT INTO ");
    sqlb_puts(&b, t->name);
    sqlb_puts(&b, " (");
    for (int k = 0; k < rv.n; k++) {
      if (k) sqlb_puts(&b, ", ");
      sqlb_puts(&b, rv.cols[k]->name);
    }
    sqlb_puts(&b, ") VALUES (");
    for (int k = 0; k < rv.n; k++) {
      if (k) sqlb_puts(&b, ", ");
      sqlb_param(&b, rv.vals[k]);
    }
    sqlb_puts(&b, ")");
    if (returning) sql_returning(&b, &f);
    rc = db_query(d, buf_cstr(&b.sql), b.params, b.n,
                  results ? &results[i] : NULL, &err);
    sqlb_free(&b);
    db_failed = rc != 0;
    if (!rc && hooked) rc = after_insert(d, req->a, t, &f, results[i], resp);
  }
  if (!rc) rc = write_result(d, req, q, pf, &f, results, (int)nrows, 201, 201, resp);
  for (size_t i = 0; results && i < nrows; i++) db_res_free(results[i]);
  if (rc) {
    if (in_tx) db_rollback(d);
    return db_failed ? fail_db(resp, &err) : -1;
  }
  if (in_tx && db_commit(d, &err)) return fail_db(resp, &err);
  return 0;
}

static int do_update_delete(db *d, api_req *req, rest_query *q,
                            const prefs *pf, int is_delete, api_resp *resp) {
  const rest_table *t = q->table;
  if (t->flags & (is_delete ? TF_NO_DELETE : TF_NO_UPDATE))
    return refuse_write(t, resp);
  if (q->where.nkids == 0)
    return api_failf(resp, E_NO_FILTER,
                     "%s requires a WHERE clause: add a filter such as id=eq.<id>",
                     is_delete ? "DELETE" : "UPDATE");
  if (q->limit >= 0 || q->offset > 0 || q->norder)
    return api_fail(resp, E_BAD_QUERY,
                    "limit, offset and order are not supported on PATCH or DELETE",
                    NULL, NULL);
  row_vals rv = {.n = 0};
  if (!is_delete) {
    json *body;
    json_error je;
    if (json_parse(req->a, req->body, req->body_len, &body, &je))
      return api_failf(resp, E_BAD_JSON, "Empty or invalid json: %s at byte %zu",
                       je.message, je.offset);
    if (body_row(req->a, t, body, &req->who, 0, &rv, resp) ||
        check_row(req->a, t, &rv, 0, resp))
      return -1;
    if (rv.n == 0) {
      /* Nothing to change: answer as PostgREST does, touching nothing. */
      resp->status = pf->representation ? 200 : 204;
      buf_reset(&resp->body);
      if (pf->representation) buf_puts(&resp->body, pf->object ? "{}" : "[]");
      return 0;
    }
    server_columns(req->a, t, &req->who, 0, &rv);
  }
  fetch_list f;
  fetch_for_query(q, &f);
  sqlb b;
  sqlb_init(&b, req->a, db_kind_of(d));
  if (is_delete) {
    sqlb_puts(&b, "DELETE FROM ");
    sqlb_puts(&b, t->name);
  } else {
    sqlb_puts(&b, "UPDATE ");
    sqlb_puts(&b, t->name);
    sqlb_puts(&b, " SET ");
    for (int k = 0; k < rv.n; k++) {
      if (k) sqlb_puts(&b, ", ");
      sqlb_puts(&b, rv.cols[k]->name);
      sqlb_puts(&b, " = ");
      sqlb_param(&b, rv.vals[k]);
    }
  }
  sql_where(&b, t, &req->who, &q->where);
  if (pf->representation) sql_returning(&b, &f);
  db_err err;
  db_res *r = NULL;
  int in_tx = pf->object && pf->representation;
  if (in_tx && db_begin(d, 1, &err)) {
    sqlb_free(&b);
    return fail_db(resp, &err);
  }
  int rc = db_query(d, buf_cstr(&b.sql), b.params, b.n, &r, &err);
  sqlb_free(&b);
  if (rc) {
    if (in_tx) db_rollback(d);
    return fail_db(resp, &err);
  }
  rc = write_result(d, req, q, pf, &f, &r, 1, 204, 200, resp);
  db_res_free(r);
  if (in_tx) {
    if (rc) {
      db_rollback(d);
      return -1;
    }
    if (db_commit(d, &err)) return fail_db(resp, &err);
  }
  return rc;
}

int rest_handle(db *d, api_req *req, api_resp *resp) {
  if (req->who.role != ROLE_AUTHENTICATED && req->who.role != ROLE_SERVICE)
    return api_fail(resp, E_NO_AUTH,
                    "permission denied: sign in and send the access token as "
                    "Authorization: Bearer <token>",
                    NULL, NULL),
           0;
  const rest_table *t = schema_table(req->path, strlen(req->path));
  if (!t)
    return api_failf(resp, E_NO_TABLE,
                     "Could not find the table 'public.%.64s' in the schema "
                     "cache",
                     req->path),
           0;
  const char *m = req->method;
  if (strcmp(m, "GET") && strcmp(m, "HEAD") && strcmp(m, "POST") &&
      strcmp(m, "PATCH") && strcmp(m, "DELETE"))
    return api_failf(resp, E_METHOD, "method %.16s is not supported on tables",
                     m),
           0;
  prefs pf;
  read_prefs(req, &pf);
  const char *pref = req->header(req, "prefer");
  if (pref && strstr(pref, "resolution="))
    return api_fail(resp, E_BAD_QUERY, "upsert (Prefer: resolution=...) is not supported",
                    NULL, NULL),
           0;
  rest_query q;
  query_error qe;
  if (query_parse(req->a, t, req->query, &q, &qe)) return fail_query(resp, &qe), 0;
  if (!strcmp(m, "GET") || !strcmp(m, "HEAD")) {
    do_read(d, req, &q, &pf, resp);
  } else if (!strcmp(m, "POST")) {
    do_insert(d, req, &q, &pf, resp);
  } else if (!strcmp(m, "PATCH")) {
    do_update_delete(d, req, &q, &pf, 0, resp);
  } else {
    do_update_delete(d, req, &q, &pf, 1, resp);
  }
  if (pf.object && resp->status < 300 && resp->body.len)
    resp->content_type = "application/vnd.pgrst.object+json; charset=utf-8";
  return 0;
}

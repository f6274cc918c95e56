/* rest_render.c - rows as PostgREST's JSON: each value by its column's type
 * (money as exact decimals, timestamps in UTC), the select list's aliases,
 * and embedded resources fetched once per batch of parent rows and stitched
 * to their parents by a sorted index.
 *
 * Output goes into a capped buf (MUNSHI_MAX_RESPONSE): every writer's
 * result is kept, and the caller stops at the first row that did not fit,
 * so a huge answer is refused after at most one row past the cap instead of
 * being built whole first. */
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "rest/rest_int.h"

#define EMBED_CHUNK 500 /* keys per IN (...) when fetching embedded rows */

/* Each writer returns 0, or nonzero once an append hit the buffer's cap. */
static int render_value(buf *out, const db_res *r, int row, int col,
                        const rest_col *c) {
  if (db_res_isnull(r, row, col)) return buf_puts(out, "null") != 0;
  switch (c->type) {
    case DBT_INT:
      return buf_printf(out, "%lld", (long long)db_res_int(r, row, col)) != 0;
    case DBT_BOOL:
      return buf_puts(out, db_res_bool(r, row, col) ? "true" : "false") != 0;
    case DBT_DEC:
      return json_write_dec(out, db_res_dec(r, row, col, c->scale), c->scale) !=
             0;
    case DBT_JSON:
      return buf_puts(out, db_res_text(r, row, col)) != 0;
    case DBT_TS:
      return json_write_ts(out, db_res_ts(r, row, col)) != 0;
    case DBT_DATE:
      return json_write_date(out, db_res_date(r, row, col)) != 0;
    default: {
      const char *s = db_res_text(r, row, col);
      return json_write_str(out, s, strlen(s)) != 0;
    }
  }
}

/* ---- embedded rows ------------------------------------------------------ */

/* The rows of an embed, fetched once for a batch of parent rows. */
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

static void free_embeds(embed_rows **embeds, int n) {
  if (!embeds) return;
  for (int i = 0; i < n; i++)
    for (embed_rows *c = embeds[i]; c; c = c->next_chunk) db_res_free(c->res);
}

/* The distinct profile_ids of the parent rows (one for a signed-in user). */
static int parent_profiles(arena *a, const db_res *r, int pp, db_val **out) {
  int nrows = db_res_rows(r), np = 0;
  db_val *profs = arena_alloc(a, sizeof(db_val) * (size_t)nrows);
  for (int row = 0; row < nrows; row++) {
    const char *p = db_res_text(r, row, pp);
    int dup = 0;
    for (int k = 0; k < np && !dup; k++) dup = !strcmp(profs[k].s, p);
    if (!dup) profs[np++] = db_uuid(arena_strdup(a, p));
  }
  *out = profs;
  return np;
}

/* Fetches the children of parent rows [start, end) for embed `it`. */
static int fetch_embed_chunk(db *d, arena *a, const sel_item *it,
                             const rest_col *ckey, const db_res *r, int pk,
                             int start, int end, const db_val *profs, int np,
                             embed_rows *er, api_resp *resp) {
  db_val *keys = arena_alloc(a, sizeof(db_val) * (size_t)(end - start));
  int nk = 0;
  for (int row = start; row < end; row++)
    if (!db_res_isnull(r, row, pk))
      keys[nk++] = db_uuid(arena_strdup(a, db_res_text(r, row, pk)));
  if (!nk) return 0;
  if (it->sub) {
    for (int k = 0; k < it->nsub; k++) fetch_add(&er->f, it->sub[k].col);
  } else {
    for (int k = 0; k < it->table->ncols; k++)
      if (!(it->table->cols[k].flags & CF_HIDDEN))
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
  if (rc) return rest_fail_db(resp, &err);
  embed_index(a, er);
  return 0;
}

/* Fetches the rows of every embed in q for the parent rows in r; *out has
 * one chain of chunks per select item (NULL for columns). */
static int fetch_embeds(db *d, arena *a, const rest_query *q,
                        const fetch_list *pf, const db_res *r,
                        embed_rows ***out, api_resp *resp) {
  *out = NULL;
  if (!q->sel) return 0;
  embed_rows **embeds = arena_alloc(a, sizeof *embeds * (size_t)q->nsel);
  memset(embeds, 0, sizeof *embeds * (size_t)q->nsel);
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
    db_val *profs;
    int np = parent_profiles(a, r, pp, &profs);
    embed_rows **tail = &embeds[i];
    for (int start = 0; start < nrows; start += EMBED_CHUNK) {
      int end = start + EMBED_CHUNK < nrows ? start + EMBED_CHUNK : nrows;
      embed_rows *er = arena_alloc(a, sizeof *er);
      memset(er, 0, sizeof *er);
      *tail = er;
      tail = &er->next_chunk;
      if (fetch_embed_chunk(d, a, it, ckey, r, pk, start, end, profs, np, er,
                            resp))
        return -1;
    }
  }
  return 0;
}

/* ---- objects ------------------------------------------------------------ */

static int render_object(buf *out, const rest_table *t, const sel_item *sel,
                         int nsel, const fetch_list *f, const db_res *r,
                         int row, embed_rows **embeds);

static int render_embed(buf *out, const sel_item *it, const fetch_list *pf,
                        const db_res *pr, int prow, const rest_table *pt,
                        embed_rows *er) {
  const rest_col *pkey = it->to_many ? schema_col(pt, "id", 2) : it->fk;
  int pk = -1, pp = -1;
  for (int i = 0; i < pf->n; i++) {
    if (pf->cols[i] == pkey) pk = i;
    if (!strcmp(pf->cols[i]->name, "profile_id")) pp = i;
  }
  int any = 0, bad = 0;
  if (it->to_many) bad |= buf_putc(out, '[');
  if (pk >= 0 && pp >= 0 && !db_res_isnull(pr, prow, pk)) {
    const char *key = db_res_text(pr, prow, pk);
    const char *prof = db_res_text(pr, prow, pp);
    for (embed_rows *c = er; c && !bad && !(any && !it->to_many);
         c = c->next_chunk) {
      if (!c->res) continue;
      for (int i = embed_lower(c, key, prof); i < c->nindex && !bad; i++) {
        const embed_key *k = &c->index[i];
        if (strcmp(k->key, key) || strcmp(k->prof, prof)) break;
        if (any) bad |= buf_putc(out, ',');
        bad |= render_object(out, it->table, it->sub, it->nsub, &c->f, c->res,
                             k->row, NULL);
        any = 1;
        if (!it->to_many) break;
      }
    }
  }
  if (it->to_many)
    bad |= buf_putc(out, ']');
  else if (!any)
    bad |= buf_puts(out, "null");
  return bad != 0;
}

static int render_object(buf *out, const rest_table *t, const sel_item *sel,
                         int nsel, const fetch_list *f, const db_res *r,
                         int row, embed_rows **embeds) {
  int bad = buf_putc(out, '{');
  if (!sel) {
    for (int i = 0; i < f->n && !bad; i++) {
      if (i) bad |= buf_putc(out, ',');
      bad |= json_write_str(out, f->cols[i]->name, strlen(f->cols[i]->name));
      bad |= buf_putc(out, ':');
      bad |= render_value(out, r, row, i, f->cols[i]);
    }
  } else {
    for (int i = 0; i < nsel && !bad; i++) {
      const sel_item *it = &sel[i];
      if (i) bad |= buf_putc(out, ',');
      bad |= json_write_str(out, it->alias, strlen(it->alias));
      bad |= buf_putc(out, ':');
      if (it->col) {
        int idx = -1;
        for (int k = 0; k < f->n; k++)
          if (f->cols[k] == it->col) idx = k;
        bad |= render_value(out, r, row, idx, it->col);
      } else {
        bad |= render_embed(out, it, f, r, row, t, embeds ? embeds[i] : NULL);
      }
    }
  }
  bad |= buf_putc(out, '}');
  return bad != 0;
}

void rest_render_plain_row(buf *out, const rest_table *t, const fetch_list *f,
                           const db_res *r, int row) {
  render_object(out, t, NULL, 0, f, r, row, NULL);
}

/* ---- batches of rows ---------------------------------------------------- */

int rest_render_append(db *d, arena *a, const rest_query *q,
                       const fetch_list *f, const db_res *r, buf *out,
                       int *first, api_resp *resp) {
  embed_rows **embeds;
  int rc = fetch_embeds(d, a, q, f, r, &embeds, resp);
  int n = db_res_rows(r);
  for (int i = 0; i < n && !rc; i++) {
    int bad = 0;
    if (!*first) bad |= buf_putc(out, ',');
    *first = 0;
    bad |= render_object(out, q->table, q->sel, q->nsel, f, r, i, embeds);
    if (bad) rc = 1;
  }
  free_embeds(embeds, q->nsel);
  return rc;
}

int rest_render_rows(db *d, arena *a, const rest_query *q, const fetch_list *f,
                     const db_res *r, int as_object, const char *advice,
                     api_resp *resp) {
  buf *out = &resp->body;
  buf_reset(out);
  out->max = rest_max_response();
  int first = 1, rc = 0;
  if (!as_object) rc = buf_putc(out, '[') ? 1 : 0;
  if (!rc) rc = rest_render_append(d, a, q, f, r, out, &first, resp);
  if (!rc && !as_object) rc = buf_putc(out, ']') ? 1 : 0;
  if (rc == 1) return rest_too_big(resp, advice);
  return rc;
}

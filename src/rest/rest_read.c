/* rest_read.c - GET and HEAD on /rest/v1/<table>: Range and limit/offset,
 * the row cap, Prefer: count=exact, Content-Range and 206, and the rows
 * rendered page by page under the response cap.
 *
 * A read returns at most MUNSHI_MAX_ROWS rows, as PostgREST's db-max-rows
 * does: a larger limit (or Range) is clamped, and Content-Range shows the
 * part that was sent (with the total under count=exact, and then 206). Rows
 * are fetched in pages sized from the bytes the rows so far took, so memory
 * follows the response cap (MUNSHI_MAX_RESPONSE), not the table: the first
 * page that pushes the answer past the cap ends the read with 413. A read
 * of several pages, or one with a count, runs in one read-only snapshot, and
 * rows are ordered by the primary key after any order= so that pages
 * neither skip nor repeat rows. */
#include <stdio.h>
#include <string.h>

#include "base/dec.h"
#include "rest/rest_int.h"

/* Rows in the first fetch: a typical page of a list (up to 50 rows, as
 * front ends page) fits in one query, with no snapshot to open; a read of
 * 25 rows per fetch made a page of 50 two queries and a transaction, and
 * halved get_50 (docs/performance.md). Rows are capped by the request
 * body cap (1 MiB), so the first fetch holds at most ~50 MiB. */
#define READ_FIRST_PAGE 50
/* Rows in any later fetch, however small they are. */
#define READ_MAX_PAGE 1000

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

/* The row cap: no limit, or a larger one, becomes the cap. */
static void clamp_limit(rest_query *q) {
  int64_t cap = rest_max_rows();
  if (q->limit < 0 || q->limit > cap) q->limit = cap;
}

static void content_range(arena *a, api_resp *resp, int64_t offset, int64_t n,
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

/* Orders by (profile_id, id) after the client's order=, so that LIMIT and
 * OFFSET pages of one snapshot partition the rows. */
static void add_tiebreak(arena *a, rest_query *q) {
  const rest_col *keys[2] = {schema_col(q->table, "profile_id", 10),
                             schema_col(q->table, "id", 2)};
  order_item *o = arena_alloc(a, sizeof *o * (size_t)(q->norder + 2));
  if (q->norder) memcpy(o, q->order, sizeof *o * (size_t)q->norder);
  int n = q->norder;
  for (int k = 0; k < 2; k++) {
    int have = !keys[k];
    for (int i = 0; i < n && !have; i++) have = o[i].col == keys[k];
    if (!have) o[n++] = (order_item){.col = keys[k]};
  }
  q->order = o;
  q->norder = n;
}

/* How many rows the next fetch asks for: enough to fill what is left under
 * the response cap at the size of the rows so far (plus one, so a read that
 * does not fit finds out), never more than READ_MAX_PAGE or `left`. */
static int64_t next_page(size_t used, int64_t done, int64_t left) {
  int64_t page = READ_FIRST_PAGE;
  if (done > 0) {
    size_t per_row = used / (size_t)done;
    size_t cap = rest_max_response();
    size_t room = cap > used ? cap - used : 0;
    page = (int64_t)(room / (per_row ? per_row : 1)) + 1;
    if (page > READ_MAX_PAGE) page = READ_MAX_PAGE;
  }
  return page < left ? page : left;
}

static int select_rows(db *d, api_req *req, const rest_query *q,
                       const fetch_list *f, db_res **out, api_resp *resp) {
  sqlb b;
  sqlb_init(&b, req->a, db_kind_of(d));
  sql_select(&b, q, &req->who, f);
  db_err err;
  *out = NULL;
  int rc = db_query(d, buf_cstr(&b.sql), b.params, b.n, out, &err);
  sqlb_free(&b);
  return rc ? rest_fail_db(resp, &err) : 0;
}

static int count_rows(db *d, api_req *req, const rest_query *q, int64_t *total,
                      api_resp *resp) {
  sqlb b;
  sqlb_init(&b, req->a, db_kind_of(d));
  sql_count(&b, q, &req->who);
  db_res *r = NULL;
  db_err err;
  int rc = db_query(d, buf_cstr(&b.sql), b.params, b.n, &r, &err);
  sqlb_free(&b);
  if (rc) return rest_fail_db(resp, &err);
  *total = db_res_int(r, 0, 0);
  db_res_free(r);
  return 0;
}

/* Accept: vnd.pgrst.object+json: the page in one fetch, which must hold
 * exactly one row. */
static int read_object(db *d, api_req *req, const rest_query *q, int render,
                       int64_t *got, api_resp *resp) {
  fetch_list f;
  fetch_for_query(q, &f);
  db_res *r;
  if (select_rows(d, req, q, &f, &r, resp)) return -1;
  int n = db_res_rows(r), rc;
  if (n != 1)
    rc = rest_not_one(resp, n);
  else if (render)
    rc = rest_render_rows(d, req->a, q, &f, r, 1, REST_ADVICE_READ, resp);
  else
    rc = 0;
  db_res_free(r);
  *got = n;
  return rc;
}

/* Fetches q's rows page by page, rendering each page into resp->body as
 * one JSON array (render: 0 for HEAD, which only counts them). */
static int read_pages(db *d, api_req *req, const rest_query *q, int render,
                      int64_t *got, api_resp *resp) {
  fetch_list f;
  fetch_for_query(q, &f);
  rest_query page_q = *q;
  buf *out = &resp->body;
  buf_reset(out);
  out->max = rest_max_response();
  int first = 1, rc = 0;
  int64_t done = 0;
  if (render) rc = buf_putc(out, '[') ? 1 : 0;
  while (!rc && done < q->limit) {
    int64_t page = next_page(out->len, done, q->limit - done);
    page_q.limit = page;
    page_q.offset = q->offset + done;
    db_res *r;
    if (select_rows(d, req, &page_q, &f, &r, resp)) return -1;
    int n = db_res_rows(r);
    if (render)
      rc = rest_render_append(d, req->a, &page_q, &f, r, out, &first, resp);
    db_res_free(r);
    done += n;
    if (n < page) break;
  }
  if (!rc && render) rc = buf_putc(out, ']') ? 1 : 0;
  *got = done;
  if (rc == 1) return rest_too_big(resp, REST_ADVICE_READ);
  return rc;
}

static int read_rows(db *d, api_req *req, rest_query *q, const rest_prefs *pf,
                     int64_t *got, api_resp *resp) {
  int64_t total = -1, n = 0;
  if (pf->count) {
    if (count_rows(d, req, q, &total, resp)) return -1;
    if (q->offset > 0 && q->offset >= total && total > 0)
      return api_fail(resp, E_BAD_RANGE, "Requested range not satisfiable",
                      "An offset past the last row was requested", NULL);
  }
  int render = strcmp(req->method, "HEAD") != 0;
  int rc = pf->object ? read_object(d, req, q, render, &n, resp)
                      : read_pages(d, req, q, render, &n, resp);
  if (rc) return -1;
  content_range(req->a, resp, q->offset, n, total);
  resp->status = (total >= 0 && n < total) ? 206 : 200;
  if (!render) buf_reset(&resp->body);
  if (got) *got = n;
  return 0;
}

/* Opens a read-only snapshot: on PostgreSQL REPEATABLE READ, so that every
 * statement of the read sees the same rows (SQLite's read transaction in WAL
 * mode is a snapshot already). */
static int begin_snapshot(db *d, api_resp *resp) {
  db_err err;
  if (db_begin(d, 0, &err)) return rest_fail_db(resp, &err);
  if (db_kind_of(d) == DB_POSTGRES &&
      db_exec(d, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
              &err)) {
    db_rollback(d);
    return rest_fail_db(resp, &err);
  }
  return 0;
}

int rest_read(db *d, api_req *req, rest_query *q, const rest_prefs *pf,
              api_resp *resp) {
  if (apply_range(req, q, resp)) return -1;
  clamp_limit(q);
  int paged = !pf->object && q->limit > READ_FIRST_PAGE;
  /* Always, not only when paged: the order of an unordered read then does
   * not change with its limit. */
  if (!pf->object) add_tiebreak(req->a, q);
  if (!pf->count && !paged) return read_rows(d, req, q, pf, NULL, resp);
  if (!pf->count) {
    /* Most reads end within a first page (a row by id, a short list):
     * tried as one statement, with no snapshot to open and close (three
     * round trips on PostgreSQL). Only a read that fills the page may have
     * more rows; it is read again from the start, page by page, in one
     * snapshot. */
    int64_t limit = q->limit, n = 0;
    int nheaders = resp->nheaders;
    q->limit = READ_FIRST_PAGE;
    int rc = read_rows(d, req, q, pf, &n, resp);
    q->limit = limit;
    if (rc || n < READ_FIRST_PAGE) return rc;
    resp->nheaders = nheaders;
    buf_reset(&resp->body);
  }
  if (begin_snapshot(d, resp)) return -1;
  int rc = read_rows(d, req, q, pf, NULL, resp);
  if (rc) {
    db_rollback(d);
    return rc;
  }
  db_err err;
  db_commit(d, &err); /* a read-only transaction: nothing to lose */
  return 0;
}

/* rest_int.h - what the files of the /rest/v1 handler share, and nothing
 * outside src/rest/ may include.
 *
 * rest.c dispatches a request by method; rest_read.c serves GET and HEAD,
 * rest_write.c POST, PATCH and DELETE; rest_render.c turns rows into JSON
 * (fetching embedded rows) under the response-size cap; rest_errors.c turns
 * query and database errors into PostgREST-shaped answers. Each function
 * that returns -1 has already set the error response. */
#ifndef MUNSHI_REST_REST_INT_H
#define MUNSHI_REST_REST_INT_H

#include <stddef.h>
#include <stdint.h>

#include "base/api.h"
#include "db/db.h"
#include "rest/query.h"
#include "rest/sql.h"

/* What Prefer and Accept asked for. */
typedef struct rest_prefs {
  int representation; /* return=representation */
  int count;          /* count=exact (planned/estimated are answered exactly) */
  int object;         /* Accept: application/vnd.pgrst.object+json */
} rest_prefs;

/* The limits in force (rest_set_limits); never 0. */
size_t rest_max_response(void);
int64_t rest_max_rows(void);

/* ---- rest_errors.c ---- */
int rest_fail_query(api_resp *resp, const query_error *e);
int rest_fail_db(api_resp *resp, const db_err *e);
/* 406: an object was asked for and n rows came back. */
int rest_not_one(api_resp *resp, int n);
/* 413: the response passed rest_max_response(); advice says how to ask
 * for less (REST_ADVICE_READ or REST_ADVICE_WRITE) and is also the hint. */
int rest_too_big(api_resp *resp, const char *advice);

#define REST_ADVICE_READ                                                   \
  "ask for fewer rows at a time: page with limit and offset (e.g. "        \
  "?limit=100&offset=0) or a Range header (Range: 0-99), or select fewer " \
  "columns"
#define REST_ADVICE_WRITE                                                  \
  "write fewer rows per request, or leave out Prefer: "                    \
  "return=representation and read the rows back in pages"

/* ---- rest_render.c ---- */

/* Appends the rows of r to out as JSON objects, a comma before each unless
 * *first is set (it is cleared after the first row). Rows embedded by q's
 * select list are fetched for these rows. out's cap (buf.max) is checked
 * after each row, so rendering stops as soon as the output passes it.
 * Returns 0; 1 when out passed its cap (nothing set in resp); -1 with the
 * error set in resp when an embed could not be fetched. */
int rest_render_append(db *d, arena *a, const rest_query *q,
                       const fetch_list *f, const db_res *r, buf *out,
                       int *first, api_resp *resp);

/* Renders all rows of r into resp->body as a JSON array, or its first row
 * as an object, under the response cap. Returns 0, or -1 with the error
 * set (413 over the cap, with advice as for rest_too_big). */
int rest_render_rows(db *d, arena *a, const rest_query *q, const fetch_list *f,
                     const db_res *r, int as_object, const char *advice,
                     api_resp *resp);

/* Renders row `row` of r with every column of f (no select list, no
 * embeds) into out, uncapped: for reading back one inserted row. */
void rest_render_plain_row(buf *out, const rest_table *t, const fetch_list *f,
                           const db_res *r, int row);

/* ---- rest_read.c ---- */
int rest_read(db *d, api_req *req, rest_query *q, const rest_prefs *pf,
              api_resp *resp);

/* ---- rest_write.c ---- */
int rest_insert(db *d, api_req *req, rest_query *q, const rest_prefs *pf,
                api_resp *resp);
int rest_update_delete(db *d, api_req *req, rest_query *q,
                       const rest_prefs *pf, int is_delete, api_resp *resp);

#endif

/* rest_write.c - POST, PATCH and DELETE on /rest/v1/<table>.
 *
 * A body is checked member by member against the schema (unknown, derived
 * and server-set columns refused, the owner taken from the token, values
 * converted to the column's type), then the business rules for the row run
 * (biz_check_fields), the server's columns are added, and the statement is
 * built with bound values and scoped to the caller's business. Inserts of
 * customers and products also run their business hook in the same
 * transaction. With Prefer: return=representation the written rows are
 * rendered as a read would be, under the same response cap. */
#include <stdint.h>
#include <string.h>

#include "base/json.h"
#include "base/timeutil.h"
#include "base/uuid.h"
#include "biz/biz.h"
#include "rest/rest.h"
#include "rest/rest_int.h"

/* Rows one POST may carry; PostgREST has no such cap, but one request
 * should not hold a worker and the write lock for long. */
#define INSERT_MAX_ROWS 10000

static int refuse_write(const rest_table *t, api_resp *resp) {
  return api_failf(resp, E_USE_OPERATION, "%s", t->write_hint);
}

/* A database error of a write; a unique violation the business rules can
 * say better (a WhatsApp number connected elsewhere) gets their message,
 * which names no other business. */
static int write_fail_db(const rest_table *t, api_resp *resp,
                         const db_err *err) {
  if (api_error_for_sqlstate(err->code) == E_UNIQUE) {
    const char *m = biz_conflict_message(t->name, err);
    if (m) return api_fail(resp, E_UNIQUE, m, NULL, NULL);
  }
  return rest_fail_db(resp, err);
}

/* ---- hooks of other modules (rest_set_write_hook) ------------------------- */

#define MAX_WRITE_HOOKS 8
static struct write_hook {
  const char *table;
  rest_write_hook before;
  rest_insert_hook after_insert;
} write_hooks[MAX_WRITE_HOOKS];
static int n_write_hooks;

void rest_set_write_hook(const char *table, rest_write_hook before,
                         rest_insert_hook after_insert) {
  int i = 0;
  while (i < n_write_hooks && strcmp(write_hooks[i].table, table)) i++;
  if (i == MAX_WRITE_HOOKS) return; /* a programming error: the cap is ours */
  if (i == n_write_hooks) n_write_hooks++;
  write_hooks[i] = (struct write_hook){table, before, after_insert};
}

static const struct write_hook *hook_of(const rest_table *t) {
  for (int i = 0; i < n_write_hooks; i++)
    if (!strcmp(write_hooks[i].table, t->name)) return &write_hooks[i];
  return NULL;
}

/* ---- body values -------------------------------------------------------- */

/* numeric(p,s) holds |v| < 10^p in units of 10^-s; checked here so SQLite's
 * integers refuse what PostgreSQL's numeric would. */
static int check_precision(const rest_col *c, const db_val *v,
                           api_resp *resp) {
  int digits = c->precision ? c->precision : 14;
  int64_t limit = 1;
  for (int k = 0; k < digits; k++) limit *= 10;
  if (v->i < limit && v->i > -limit) return 0;
  return api_failf(resp, E_BAD_VALUE,
                   "numeric field overflow: %s takes at most %d digits before "
                   "the decimal point",
                   c->name, digits - c->scale);
}

static int wrong_json_type(const rest_col *c, const json *v, api_resp *resp) {
  return api_failf(resp, E_BAD_VALUE, "column %s expects %s, got %s", c->name,
                   c->type == DBT_BOOL                          ? "true or false"
                   : c->type == DBT_INT || c->type == DBT_DEC ? "a number"
                                                                : "a string",
                   json_type_name(v->type));
}

/* Converts a JSON body value to column c's type. */
static int json_to_val(arena *a, const rest_col *c, const json *v, db_val *out,
                       api_resp *resp) {
  query_error qe;
  if (v->type == JSON_NULL) {
    *out = db_null();
    return 0;
  }
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
      if (v->type != JSON_TRUE && v->type != JSON_FALSE) break;
      *out = db_bool(v->type == JSON_TRUE);
      return 0;
    case DBT_INT:
    case DBT_DEC:
      if (v->type != JSON_NUMBER && v->type != JSON_STRING) break;
      if (query_value(a, c, v->str, v->len, out, &qe))
        return rest_fail_query(resp, &qe);
      return c->type == DBT_DEC ? check_precision(c, out, resp) : 0;
    default: /* text, uuid, timestamps, dates: JSON strings */
      if (v->type != JSON_STRING) break;
      if (query_value(a, c, v->str, v->len, out, &qe))
        return rest_fail_query(resp, &qe);
      return 0;
  }
  return wrong_json_type(c, v, resp);
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

/* The owner column (profile_id, or id of profiles) comes from the token. A
 * body may repeat it (front ends written for RLS send it); naming another
 * business is refused as row-level security would refuse it. The service
 * role names the owner of what it inserts. */
static int body_owner(arena *a, const rest_table *t, const rest_col *c,
                      const json *v, const api_principal *who, int insert,
                      row_vals *rv, api_resp *resp) {
  char u[UUID_STR_LEN + 1];
  if (who->role == ROLE_SERVICE && insert) {
    db_val val;
    if (json_to_val(a, c, v, &val, resp)) return -1;
    row_set(rv, c, val);
    return 0;
  }
  if (v->type != JSON_STRING || uuid_normalize(v->str, u) ||
      (who->role == ROLE_AUTHENTICATED && strcmp(u, who->sub)))
    return api_failf(resp, E_FORBIDDEN,
                     "new row violates row-level security policy for table "
                     "\"%s\"",
                     t->name);
  return 0;
}

/* Refuses a column the client may not write in this request. */
static int check_writable(const rest_col *c, int insert, api_resp *resp) {
  if (c->flags & CF_READONLY)
    return api_failf(resp, E_READ_ONLY_COLUMN, "column %s is read-only: %s",
                     c->name, c->hint);
  if (!insert && (c->flags & CF_INSERT_ONLY) && !(c->flags & CF_PK))
    return api_failf(resp, E_READ_ONLY_COLUMN,
                     "column %s cannot be changed: %s", c->name, c->hint);
  return 0;
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
    if (check_writable(c, insert, resp)) return -1;
    if (!strcmp(c->name, "profile_id") ||
        ((t->flags & TF_PROFILES) && !strcmp(c->name, "id"))) {
      if (body_owner(a, t, c, obj->items[i], who, insert, rv, resp)) return -1;
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

/* Runs a module's before hook on the row's columns; what it changed or
 * added replaces or joins them. */
static int hook_before(db *d, arena *a, const rest_table *t,
                       const struct write_hook *h, const api_principal *who,
                       int insert, const json *current, row_vals *rv,
                       api_resp *resp) {
  if (!h || !h->before) return 0;
  const char *names[128];
  db_val vals[128];
  for (int i = 0; i < rv->n; i++) {
    names[i] = rv->cols[i]->name;
    vals[i] = rv->vals[i];
  }
  biz_fields f = {names, vals, rv->n, 128};
  if (h->before(d, a, who, insert, current, &f, resp)) return -1;
  for (int i = 0; i < f.n; i++) {
    /* Any column of the table, the server's hidden ones included. */
    const rest_col *c = NULL;
    for (int k = 0; k < t->ncols && !c; k++)
      if (!strcmp(t->cols[k].name, names[i])) c = &t->cols[k];
    if (!c) return api_fail(resp, E_INTERNAL, NULL, NULL, NULL);
    row_set(rv, c, vals[i]);
  }
  return 0;
}

/* Row `row` of r (columns f) as a JSON object, for the hooks. */
static int row_json(arena *a, const rest_table *t, const fetch_list *f,
                    const db_res *r, int row, json **out, api_resp *resp) {
  buf b;
  buf_init(&b, 0);
  rest_render_plain_row(&b, t, f, r, row);
  json_error je;
  int rc = json_parse(a, b.data ? b.data : "", b.len, out, &je);
  buf_free(&b);
  return rc ? api_fail(resp, E_INTERNAL, NULL, NULL, NULL) : 0;
}

/* Every column a client may read: what the hooks see of a row. */
static void fetch_readable(const rest_table *t, fetch_list *f) {
  for (int k = 0; k < t->ncols; k++)
    if (rest_col_readable(&t->cols[k])) fetch_add(f, &t->cols[k]);
}

/* ---- the answer ----------------------------------------------------------- */

/* A bulk insert has one result (one row) per body row: they are rendered
 * one after another into one capped array. */
static int join_results(db *d, api_req *req, const rest_query *q,
                        const rest_prefs *pf, const fetch_list *f,
                        db_res **results, int nres, api_resp *resp) {
  buf *out = &resp->body;
  buf_reset(out);
  out->max = rest_max_response();
  int first = 1, rc = 0;
  if (!pf->object) rc = buf_putc(out, '[') ? 1 : 0;
  for (int i = 0; i < nres && !rc; i++)
    if (results[i])
      rc = rest_render_append(d, req->a, q, f, results[i], out, &first, resp);
  if (!rc && !pf->object) rc = buf_putc(out, ']') ? 1 : 0;
  if (rc == 1) return rest_too_big(resp, REST_ADVICE_WRITE);
  return rc;
}

static int write_result(db *d, api_req *req, const rest_query *q,
                        const rest_prefs *pf, const fetch_list *f,
                        db_res **results, int nres, int status_minimal,
                        int status_repr, api_resp *resp) {
  int total = 0;
  for (int i = 0; results && i < nres; i++)
    total += results[i] ? db_res_rows(results[i]) : 0;
  if (pf->object && pf->representation && total != 1)
    return rest_not_one(resp, total);
  if (!pf->representation) {
    resp->status = status_minimal;
    buf_reset(&resp->body);
    return 0;
  }
  int rc = nres == 1 ? rest_render_rows(d, req->a, q, f, results[0],
                                        pf->object, REST_ADVICE_WRITE, resp)
                     : join_results(d, req, q, pf, f, results, nres, resp);
  if (!rc) resp->status = status_repr;
  return rc;
}

/* ---- POST --------------------------------------------------------------- */

/* Runs the business hook for a row just inserted (biz_after_insert). */
static int after_insert(db *d, arena *a, const rest_table *t,
                        const struct write_hook *h, const api_principal *who,
                        const fetch_list *f, const db_res *r, api_resp *resp) {
  json *obj;
  if (row_json(a, t, f, r, 0, &obj, resp)) return -1;
  if (h && h->after_insert && h->after_insert(d, a, who, obj, resp))
    return -1;
  if (!(t->flags & TF_EVENTS)) return 0;
  const json *owner = json_get(obj, "profile_id");
  if (!owner || owner->type != JSON_STRING)
    return api_fail(resp, E_INTERNAL, NULL, NULL, NULL);
  biz_ctx c = {.d = d, .a = a, .profile_id = owner->str,
               .now_us = time_now_us()};
  biz_err e;
  memset(&e, 0, sizeof e);
  if (biz_after_insert(&c, t->name, obj, &e)) {
    if (e.code == E_DB || e.code == E_UNAVAILABLE)
      return rest_fail_db(resp, &e.db);
    return api_fail(resp, e.code, e.message, NULL, NULL);
  }
  return 0;
}

/* The body's rows: one object, or an array of them. */
static int insert_body(api_req *req, json ***rows, size_t *nrows,
                       api_resp *resp) {
  json *body;
  json_error je;
  if (json_parse(req->a, req->body, req->body_len, &body, &je))
    return api_failf(resp, E_BAD_JSON, "Empty or invalid json: %s at byte %zu",
                     je.message, je.offset);
  if (body->type != JSON_ARRAY && body->type != JSON_OBJECT)
    return api_fail(resp, E_BAD_JSON,
                    "the body must be an object or an array of objects", NULL,
                    NULL);
  *nrows = body->type == JSON_ARRAY ? body->n : 1;
  if (body->type == JSON_ARRAY) {
    *rows = body->items;
  } else {
    *rows = arena_alloc(req->a, sizeof **rows);
    (*rows)[0] = body;
  }
  if (*nrows > INSERT_MAX_ROWS)
    return api_failf(resp, E_TOO_LARGE,
                     "at most %d rows may be inserted in one request",
                     INSERT_MAX_ROWS);
  return 0;
}

/* What one insert statement needs besides its row. */
typedef struct insert_plan {
  const rest_table *t;
  const fetch_list *f;
  int returning; /* RETURNING f, into *out */
  int hooked;    /* run biz_after_insert or the module's hook on the row */
  const struct write_hook *hook; /* rest_set_write_hook's, or NULL */
} insert_plan;

/* Checks, completes and inserts one body row. *db_failed tells a database
 * error (answered by the caller after the rollback) from one already set. */
static int insert_row(db *d, api_req *req, const insert_plan *p,
                      const json *obj, db_res **out, int *db_failed,
                      db_err *err, api_resp *resp) {
  row_vals rv;
  *db_failed = 0;
  if (body_row(req->a, p->t, obj, &req->who, 1, &rv, resp) ||
      check_row(req->a, p->t, &rv, 1, resp))
    return -1;
  server_columns(req->a, p->t, &req->who, 1, &rv);
  if (hook_before(d, req->a, p->t, p->hook, &req->who, 1, NULL, &rv, resp))
    return -1;
  sqlb b;
  sqlb_init(&b, req->a, db_kind_of(d));
  sqlb_puts(&b, "INSERT INTO ");
  sqlb_puts(&b, p->t->name);
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
  if (p->returning) sql_returning(&b, p->f);
  int rc = db_query(d, buf_cstr(&b.sql), b.params, b.n, out, err);
  sqlb_free(&b);
  *db_failed = rc != 0;
  if (!rc && p->hooked)
    rc = after_insert(d, req->a, p->t, p->hook, &req->who, p->f, *out, resp);
  return rc;
}

int rest_insert(db *d, api_req *req, rest_query *q, const rest_prefs *pf,
                api_resp *resp) {
  const rest_table *t = q->table;
  if (t->flags & TF_NO_INSERT) return refuse_write(t, resp);
  json **rows = NULL;
  size_t nrows = 0;
  if (insert_body(req, &rows, &nrows, resp)) return -1;
  /* Customers and products created here also get their business event (and
   * a product its opening stock movement) in the same transaction, so every
   * new row is read back whole for the hook. */
  fetch_list f;
  fetch_for_query(q, &f);
  insert_plan p = {.t = t, .f = &f, .hook = hook_of(t)};
  p.hooked = (t->flags & TF_EVENTS) || (p.hook && p.hook->after_insert);
  if (p.hooked) fetch_readable(t, &f);
  p.returning = pf->representation || p.hooked;
  db_res **results = NULL;
  if (p.returning) {
    results = arena_alloc(req->a, sizeof *results * (nrows ? nrows : 1));
    memset(results, 0, sizeof *results * (nrows ? nrows : 1));
  }
  db_err err;
  /* With return=representation the answer is rendered before COMMIT, so an
   * answer refused (too large, not one row) takes the rows back with it. */
  int in_tx = nrows > 1 || pf->representation || p.hooked || p.hook;
  if (in_tx && db_begin(d, 1, &err)) return rest_fail_db(resp, &err);
  /* Rows are checked and written one at a time, so memory follows the body;
   * an error anywhere rolls back the rows before it. */
  int rc = 0, db_failed = 0;
  for (size_t i = 0; i < nrows && !rc; i++)
    rc = insert_row(d, req, &p, rows[i], results ? &results[i] : NULL,
                    &db_failed, &err, resp);
  if (!rc)
    rc = write_result(d, req, q, pf, &f, results, (int)nrows, 201, 201, resp);
  for (size_t i = 0; results && i < nrows; i++) db_res_free(results[i]);
  if (rc) {
    if (in_tx) db_rollback(d);
    return db_failed ? write_fail_db(t, resp, &err) : -1;
  }
  if (in_tx && db_commit(d, &err)) return rest_fail_db(resp, &err);
  return 0;
}

/* ---- PATCH and DELETE ---------------------------------------------------- */

/* PATCH's body as the SET list. *nothing: the body changes no column. */
static int update_body(api_req *req, const rest_table *t, row_vals *rv,
                       int *nothing, api_resp *resp) {
  json *body;
  json_error je;
  if (json_parse(req->a, req->body, req->body_len, &body, &je))
    return api_failf(resp, E_BAD_JSON, "Empty or invalid json: %s at byte %zu",
                     je.message, je.offset);
  if (body_row(req->a, t, body, &req->who, 0, rv, resp) ||
      check_row(req->a, t, rv, 0, resp))
    return -1;
  *nothing = rv->n == 0;
  if (!*nothing) server_columns(req->a, t, &req->who, 0, rv);
  return 0;
}

static void update_delete_sql(sqlb *b, const rest_query *q,
                              const api_principal *who, const row_vals *rv,
                              int is_delete, const fetch_list *returning) {
  const rest_table *t = q->table;
  if (is_delete) {
    sqlb_puts(b, "DELETE FROM ");
    sqlb_puts(b, t->name);
  } else {
    sqlb_puts(b, "UPDATE ");
    sqlb_puts(b, t->name);
    sqlb_puts(b, " SET ");
    for (int k = 0; k < rv->n; k++) {
      if (k) sqlb_puts(b, ", ");
      sqlb_puts(b, rv->cols[k]->name);
      sqlb_puts(b, " = ");
      sqlb_param(b, rv->vals[k]);
    }
  }
  sql_where(b, t, who, &q->where);
  if (returning) sql_returning(b, returning);
}

/* What PATCH and DELETE refuse before touching anything. */
static int check_update_delete(const rest_query *q, int is_delete,
                               api_resp *resp) {
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
  return 0;
}

/* A PATCH on a table with a before hook: the rows it matches are read and
 * locked, and each is updated by its key with the fields the hook made of
 * the body and that row, in one transaction. */
static int update_hooked(db *d, api_req *req, rest_query *q,
                         const rest_prefs *pf, const row_vals *body,
                         const struct write_hook *h, api_resp *resp) {
  const rest_table *t = q->table;
  const rest_col *pc = schema_col(t, "profile_id", 10);
  const rest_col *ic = schema_col(t, "id", 2);
  if (!ic) return api_fail(resp, E_INTERNAL, NULL, NULL, NULL);
  fetch_list all = {.n = 0}, f;
  fetch_readable(t, &all);
  fetch_for_query(q, &f);
  db_err err;
  db_res *cur = NULL, **results = NULL;
  int n = 0, rc = 0;
  sqlb b;
  sqlb_init(&b, req->a, db_kind_of(d));
  if (db_begin(d, 1, &err)) {
    sqlb_free(&b);
    return rest_fail_db(resp, &err);
  }
  sqlb_puts(&b, "SELECT ");
  sql_columns(&b, &all);
  sqlb_puts(&b, " FROM ");
  sqlb_puts(&b, t->name);
  sql_where(&b, t, &req->who, &q->where);
  if (db_kind_of(d) == DB_POSTGRES) sqlb_puts(&b, " FOR UPDATE");
  if (db_query(d, buf_cstr(&b.sql), b.params, b.n, &cur, &err)) {
    rc = write_fail_db(t, resp, &err);
    goto out;
  }
  n = db_res_rows(cur);
  if (n > INSERT_MAX_ROWS) {
    rc = api_failf(resp, E_TOO_LARGE,
                   "at most %d rows of %s may be changed in one request",
                   INSERT_MAX_ROWS, t->name);
    goto out;
  }
  results = arena_alloc(req->a, sizeof *results * (n ? (size_t)n : 1));
  memset(results, 0, sizeof *results * (n ? (size_t)n : 1));
  for (int i = 0; i < n && !rc; i++) {
    json *row;
    row_vals rv = *body;
    if (row_json(req->a, t, &all, cur, i, &row, resp) ||
        hook_before(d, req->a, t, h, &req->who, 0, row, &rv, resp)) {
      rc = -1;
      break;
    }
    const json *id = json_get(row, "id"), *prof = json_get(row, "profile_id");
    if (!id || id->type != JSON_STRING ||
        (pc && (!prof || prof->type != JSON_STRING))) {
      rc = api_fail(resp, E_INTERNAL, NULL, NULL, NULL);
      break;
    }
    sqlb u;
    sqlb_init(&u, req->a, db_kind_of(d));
    sqlb_puts(&u, "UPDATE ");
    sqlb_puts(&u, t->name);
    sqlb_puts(&u, " SET ");
    for (int k = 0; k < rv.n; k++) {
      if (k) sqlb_puts(&u, ", ");
      sqlb_puts(&u, rv.cols[k]->name);
      sqlb_puts(&u, " = ");
      sqlb_param(&u, rv.vals[k]);
    }
    sqlb_puts(&u, " WHERE id = ");
    sqlb_param(&u, db_uuid(id->str));
    if (pc) {
      sqlb_puts(&u, " AND profile_id = ");
      sqlb_param(&u, db_uuid(prof->str));
    }
    if (pf->representation) sql_returning(&u, &f);
    if (db_query(d, buf_cstr(&u.sql), u.params, u.n, &results[i], &err))
      rc = write_fail_db(t, resp, &err);
    sqlb_free(&u);
  }
  if (!rc) rc = write_result(d, req, q, pf, &f, results, n, 204, 200, resp);
  if (!rc && db_commit(d, &err)) {
    rc = rest_fail_db(resp, &err);
    goto done; /* db_commit ended the transaction either way */
  }
out:
  if (rc) db_rollback(d);
done:
  for (int i = 0; results && i < n; i++) db_res_free(results[i]);
  db_res_free(cur);
  sqlb_free(&b);
  return rc;
}

int rest_update_delete(db *d, api_req *req, rest_query *q,
                       const rest_prefs *pf, int is_delete, api_resp *resp) {
  if (check_update_delete(q, is_delete, resp)) return -1;
  row_vals rv = {.n = 0};
  int nothing = 0;
  if (!is_delete && update_body(req, q->table, &rv, &nothing, resp)) return -1;
  if (nothing) {
    /* Nothing to change: answer as PostgREST does, touching nothing. */
    resp->status = pf->representation ? 200 : 204;
    buf_reset(&resp->body);
    if (pf->representation) buf_puts(&resp->body, pf->object ? "{}" : "[]");
    return 0;
  }
  const struct write_hook *h = is_delete ? NULL : hook_of(q->table);
  if (h && h->before) return update_hooked(d, req, q, pf, &rv, h, resp);
  fetch_list f;
  fetch_for_query(q, &f);
  sqlb b;
  sqlb_init(&b, req->a, db_kind_of(d));
  update_delete_sql(&b, q, &req->who, &rv, is_delete,
                    pf->representation ? &f : NULL);
  db_err err;
  db_res *r = NULL;
  int rc = 0, in_tx = pf->representation; /* as in rest_insert */
  if (in_tx && db_begin(d, 1, &err)) {
    in_tx = 0;
    rc = rest_fail_db(resp, &err);
    goto out;
  }
  if (db_query(d, buf_cstr(&b.sql), b.params, b.n, &r, &err)) {
    rc = write_fail_db(q->table, resp, &err);
    goto out;
  }
  rc = write_result(d, req, q, pf, &f, &r, 1, 204, 200, resp);
  if (in_tx && !rc && db_commit(d, &err)) {
    in_tx = 0; /* db_commit ends the transaction either way */
    rc = rest_fail_db(resp, &err);
  }
  in_tx = in_tx && rc;
out:
  if (in_tx) db_rollback(d);
  db_res_free(r);
  sqlb_free(&b);
  return rc;
}

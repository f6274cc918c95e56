/* sql.h - builds SQL text and its bound values from a checked rest_query.
 *
 * Identifiers come from schema metadata only; every value becomes a $n
 * parameter. The same text serves both backends except where their
 * dialects differ (ILIKE), so the builder is told which one it writes for.
 * Tenancy is part of every statement: `scope` adds profile_id = $n (or
 * id = $n on profiles) for a signed-in user. */
#ifndef MUNSHI_REST_SQL_H
#define MUNSHI_REST_SQL_H

#include "base/api.h"
#include "base/arena.h"
#include "base/buf.h"
#include "db/db.h"
#include "rest/query.h"

typedef struct sqlb {
  arena *a;
  db_kind kind;
  buf sql;
  db_val *params;
  int n, cap;
} sqlb;

/* The physical columns a statement fetches, in order; the renderer finds
 * each selected column's index here. */
typedef struct fetch_list {
  const rest_col *cols[128];
  int n;
} fetch_list;

void sqlb_init(sqlb *b, arena *a, db_kind kind);
void sqlb_free(sqlb *b);
/* Appends "$k" for value v. */
void sqlb_param(sqlb *b, db_val v);
void sqlb_puts(sqlb *b, const char *s);

/* Index of column c in f, adding it when absent. */
int fetch_add(fetch_list *f, const rest_col *c);
/* The columns query q needs: selected ones plus those embeds join on. */
void fetch_for_query(const rest_query *q, fetch_list *f);

/* Appends " WHERE <scope> AND <filters>" (or nothing when both are empty).
 * who may be NULL for no scope. */
void sql_where(sqlb *b, const rest_table *t, const api_principal *who,
               const filter *where);
void sql_select(sqlb *b, const rest_query *q, const api_principal *who,
                const fetch_list *f);
void sql_count(sqlb *b, const rest_query *q, const api_principal *who);
void sql_returning(sqlb *b, const fetch_list *f);
void sql_columns(sqlb *b, const fetch_list *f);

/* Rows of `t` whose column `key` is one of vals[0..n) and whose profile_id
 * is one of profiles[0..np) (for embedding), ordered by id. */
void sql_select_in(sqlb *b, const rest_table *t, const fetch_list *f,
                   const rest_col *key, const db_val *vals, int n,
                   const db_val *profiles, int np);

#endif

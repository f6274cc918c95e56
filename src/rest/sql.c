/* sql.c - SQL text from checked queries (see sql.h). */
#include "rest/sql.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

void sqlb_init(sqlb *b, arena *a, db_kind kind) {
  b->a = a;
  b->kind = kind;
  buf_init(&b->sql, 0);
  b->n = 0;
  b->cap = 16;
  b->params = arena_alloc(a, sizeof(db_val) * (size_t)b->cap);
}

void sqlb_free(sqlb *b) { buf_free(&b->sql); }

void sqlb_puts(sqlb *b, const char *s) { buf_puts(&b->sql, s); }

void sqlb_param(sqlb *b, db_val v) {
  if (b->n == b->cap) {
    db_val *grown = arena_alloc(b->a, sizeof(db_val) * (size_t)b->cap * 2);
    memcpy(grown, b->params, sizeof(db_val) * (size_t)b->n);
    b->params = grown;
    b->cap *= 2;
  }
  b->params[b->n++] = v;
  buf_printf(&b->sql, "$%d", b->n);
}

int fetch_add(fetch_list *f, const rest_col *c) {
  for (int i = 0; i < f->n; i++)
    if (f->cols[i] == c) return i;
  /* select= is capped at 256 items but names repeat; a table has fewer than
   * 128 columns, so distinct columns always fit. */
  f->cols[f->n] = c;
  return f->n++;
}

void fetch_for_query(const rest_query *q, fetch_list *f) {
  const rest_table *t = q->table;
  f->n = 0;
  if (!q->sel) {
    for (int i = 0; i < t->ncols; i++)
      if (!(t->cols[i].flags & CF_HIDDEN)) fetch_add(f, &t->cols[i]);
    return;
  }
  for (int i = 0; i < q->nsel; i++) {
    const sel_item *it = &q->sel[i];
    if (it->col) {
      fetch_add(f, it->col);
    } else {
      /* Embeds join on (profile_id, id) or (profile_id, fk). */
      fetch_add(f, it->to_many ? schema_col(t, "id", 2) : it->fk);
      const rest_col *pc = schema_col(t, "profile_id", 10);
      if (pc) fetch_add(f, pc);
    }
  }
}

/* A column no client may read (a write-only secret) is selected as NULL
 * under its name: the answer keeps its key, and the value never leaves the
 * database, so no renderer or log downstream can show it. */
void sql_columns(sqlb *b, const fetch_list *f) {
  for (int i = 0; i < f->n; i++) {
    if (i) sqlb_puts(b, ", ");
    if (!rest_col_readable(f->cols[i])) sqlb_puts(b, "NULL AS ");
    sqlb_puts(b, f->cols[i]->name);
  }
}

static const char *op_sql(filter_op op) {
  switch (op) {
    case OP_EQ: return " = ";
    case OP_NEQ: return " <> ";
    case OP_GT: return " > ";
    case OP_GTE: return " >= ";
    case OP_LT: return " < ";
    case OP_LTE: return " <= ";
    case OP_LIKE: return " LIKE ";
    default: return NULL;
  }
}

static void filter_sql(sqlb *b, const filter *f) {
  if (f->negate) sqlb_puts(b, "NOT (");
  if (f->kind != F_LEAF) {
    sqlb_puts(b, "(");
    for (int i = 0; i < f->nkids; i++) {
      if (i) sqlb_puts(b, f->kind == F_AND ? " AND " : " OR ");
      filter_sql(b, &f->kids[i]);
    }
    sqlb_puts(b, ")");
  } else if (f->op == OP_IS) {
    sqlb_puts(b, f->col->name);
    sqlb_puts(b, f->is == IS_TRUE    ? " IS TRUE"
                 : f->is == IS_FALSE ? " IS FALSE"
                                     : " IS NULL");
  } else if (f->op == OP_IN) {
    if (f->nvals == 0) {
      sqlb_puts(b, "1 = 0");
    } else {
      sqlb_puts(b, f->col->name);
      sqlb_puts(b, " IN (");
      for (int i = 0; i < f->nvals; i++) {
        if (i) sqlb_puts(b, ", ");
        sqlb_param(b, f->vals[i]);
      }
      sqlb_puts(b, ")");
    }
  } else if (f->op == OP_ILIKE) {
    /* Both sides are compared in NFC, so a name typed precomposed matches
     * one stored decomposed. PostgreSQL's ILIKE then folds case through its
     * locale; SQLite (case_sensitive_like on, so LIKE agrees with
     * PostgreSQL) gets both sides lower-cased by munshi_fold, which the
     * SQLite backend registers (utf8proc). Folding leaves the ASCII
     * wildcards and the backslash escape as they were. */
    if (b->kind == DB_POSTGRES) {
      sqlb_puts(b, "normalize(");
      sqlb_puts(b, f->col->name);
      sqlb_puts(b, ", NFC) ILIKE normalize(");
      sqlb_param(b, f->vals[0]);
      sqlb_puts(b, ", NFC)");
    } else {
      sqlb_puts(b, "munshi_fold(");
      sqlb_puts(b, f->col->name);
      sqlb_puts(b, ") LIKE munshi_fold(");
      sqlb_param(b, f->vals[0]);
      sqlb_puts(b, ") ESCAPE '\\'");
    }
  } else {
    sqlb_puts(b, f->col->name);
    sqlb_puts(b, op_sql(f->op));
    sqlb_param(b, f->vals[0]);
    /* PostgreSQL's LIKE escapes with a backslash by default; SQLite's
     * needs to be told. */
    if (f->op == OP_LIKE && b->kind == DB_SQLITE) sqlb_puts(b, " ESCAPE '\\'");
  }
  if (f->negate) sqlb_puts(b, ")");
}

void sql_where(sqlb *b, const rest_table *t, const api_principal *who,
               const filter *where) {
  int any = 0;
  if (who && who->role == ROLE_AUTHENTICATED &&
      (t->flags & (TF_TENANT | TF_PROFILES))) {
    sqlb_puts(b, (t->flags & TF_PROFILES) ? " WHERE id = " : " WHERE profile_id = ");
    sqlb_param(b, db_uuid(who->sub));
    any = 1;
  }
  if (where && where->nkids) {
    sqlb_puts(b, any ? " AND " : " WHERE ");
    for (int i = 0; i < where->nkids; i++) {
      if (i) sqlb_puts(b, " AND ");
      filter_sql(b, &where->kids[i]);
    }
  }
}

static void order_sql(sqlb *b, const rest_query *q) {
  for (int i = 0; i < q->norder; i++) {
    const order_item *o = &q->order[i];
    sqlb_puts(b, i ? ", " : " ORDER BY ");
    sqlb_puts(b, o->col->name);
    sqlb_puts(b, o->desc ? " DESC" : " ASC");
    /* Spelled out: SQLite and PostgreSQL disagree on the default. */
    int first = o->nulls ? o->nulls == 1 : o->desc;
    sqlb_puts(b, first ? " NULLS FIRST" : " NULLS LAST");
  }
}

void sql_select(sqlb *b, const rest_query *q, const api_principal *who,
                const fetch_list *f) {
  sqlb_puts(b, "SELECT ");
  sql_columns(b, f);
  sqlb_puts(b, " FROM ");
  sqlb_puts(b, q->table->name);
  sql_where(b, q->table, who, &q->where);
  order_sql(b, q);
  if (q->limit >= 0 || q->offset > 0) {
    /* SQLite has no OFFSET without LIMIT; -1 means none there, and
     * PostgreSQL takes LIMIT NULL as none. */
    sqlb_puts(b, " LIMIT ");
    if (q->limit >= 0)
      sqlb_param(b, db_int(q->limit));
    else
      sqlb_puts(b, b->kind == DB_SQLITE ? "-1" : "ALL");
    if (q->offset > 0) {
      sqlb_puts(b, " OFFSET ");
      sqlb_param(b, db_int(q->offset));
    }
  }
}

void sql_count(sqlb *b, const rest_query *q, const api_principal *who) {
  sqlb_puts(b, "SELECT count(*) FROM ");
  sqlb_puts(b, q->table->name);
  sql_where(b, q->table, who, &q->where);
}

void sql_returning(sqlb *b, const fetch_list *f) {
  if (!f || !f->n) return;
  sqlb_puts(b, " RETURNING ");
  sql_columns(b, f);
}

void sql_select_in(sqlb *b, const rest_table *t, const fetch_list *f,
                   const rest_col *key, const db_val *vals, int n,
                   const db_val *profiles, int np) {
  sqlb_puts(b, "SELECT ");
  sql_columns(b, f);
  sqlb_puts(b, " FROM ");
  sqlb_puts(b, t->name);
  sqlb_puts(b, " WHERE profile_id IN (");
  for (int i = 0; i < np; i++) {
    if (i) sqlb_puts(b, ", ");
    sqlb_param(b, profiles[i]);
  }
  sqlb_puts(b, ") AND ");
  sqlb_puts(b, key->name);
  sqlb_puts(b, " IN (");
  for (int i = 0; i < n; i++) {
    if (i) sqlb_puts(b, ", ");
    sqlb_param(b, vals[i]);
  }
  sqlb_puts(b, ") ORDER BY id");
}

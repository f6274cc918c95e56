/* schema.h - what the REST layer knows of the tables: their columns, types,
 * which columns a client may write, and the foreign keys used to embed.
 *
 * Identifiers in generated SQL come only from these tables, never from a
 * request: a request names a column, we look it up here and paste our own
 * copy of the name. test_rest_db_schema checks this metadata against the
 * real schema of both backends, so the two cannot drift apart. */
#ifndef MUNSHI_REST_SCHEMA_H
#define MUNSHI_REST_SCHEMA_H

#include <stddef.h>

#include "db/db.h"

enum {
  CF_PK = 1 << 0,          /* the id column (with profile_id, the key) */
  CF_READONLY = 1 << 1,    /* derived: never written by a client */
  CF_INSERT_ONLY = 1 << 2, /* may be set at creation, not changed later */
  CF_SERVER = 1 << 3,      /* set by the server (profile_id, timestamps) */
  CF_NOTNULL = 1 << 4,     /* NOT NULL in the schema */
  CF_DEFAULT = 1 << 5,     /* has a default, so may be omitted */
  CF_HIDDEN = 1 << 6,      /* the server's own bookkeeping: never read, named
                            * or written through /rest/v1 (as if absent) */
  CF_WRITE_ONLY = 1 << 7,  /* a secret: a client may write it, but every read
                            * shows null, and it may not be filtered, ordered
                            * or conflicted on (so its value cannot be probed) */
};

typedef struct rest_col {
  const char *name;
  db_type type;
  int scale;        /* DBT_DEC: digits after the point */
  unsigned flags;
  const char *hint; /* CF_READONLY / CF_INSERT_ONLY: the operation to use */
  int precision;    /* DBT_DEC: total digits, as numeric(p,s); 0 means 14 */
} rest_col;

/* A foreign key from `col` of this table to (profile_id, id) of `table`. */
typedef struct rest_fk {
  const char *col;
  const char *table;
} rest_fk;

enum {
  TF_TENANT = 1 << 0,   /* has profile_id, scoped to the caller's profile */
  TF_PROFILES = 1 << 1, /* the profiles table: the row whose id is the caller */
  TF_NO_INSERT = 1 << 2,
  TF_NO_UPDATE = 1 << 3,
  TF_NO_DELETE = 1 << 4,
  TF_TIMESTAMPS = 1 << 5, /* has created_at and updated_at */
  TF_EVENTS = 1 << 6,     /* an insert also runs biz_after_insert (events) */
};

typedef struct rest_table {
  const char *name;
  const rest_col *cols;
  int ncols;
  const rest_fk *fks;
  int nfks;
  unsigned flags;
  /* With TF_NO_*: why, and what to use instead (shown to the client). */
  const char *write_hint;
} rest_table;

const rest_table *schema_table(const char *name, size_t len);
const rest_col *schema_col(const rest_table *t, const char *name, size_t len);
int schema_col_index(const rest_table *t, const rest_col *c);

/* 1 when a client may see the value of column c: it is neither hidden nor
 * write-only. Every path that shows row values outside the server (REST
 * reads and answers of writes, embeds, the realtime feed) must render a
 * column that is not readable as null, or leave it out when hidden: this is
 * the one place that rule lives. The REST layer never even fetches such a
 * column (sql_columns selects NULL in its place). */
int rest_col_readable(const rest_col *c);
/* Every table exposed through /rest/v1, for listing and for tests. */
const rest_table *schema_tables(int *n);

#endif

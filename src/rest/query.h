/* query.h - the PostgREST query string, parsed and checked against the
 * schema: select= (with one level of embedding), filters, order=, limit,
 * offset. Every name in the result points into schema metadata; every value
 * is already converted to a typed db_val, so the SQL builder never sees
 * request text. */
#ifndef MUNSHI_REST_QUERY_H
#define MUNSHI_REST_QUERY_H

#include <stdint.h>

#include "base/api.h"
#include "base/arena.h"
#include "db/db.h"
#include "rest/schema.h"

#define QUERY_MAX_IN 1000     /* values in one in.(...) list */
#define QUERY_MAX_FILTERS 64  /* filter terms in all */
#define QUERY_MAX_NEST 4      /* and/or nesting */
#define QUERY_MAX_EMBEDS 8    /* embedded resources in one select= */

/* One output of select=: a column, or an embedded resource. */
typedef struct sel_item {
  const char *alias;   /* JSON key: the alias, the column or table name */
  const rest_col *col; /* a column, or NULL for an embed */
  /* Embeds. to_many: rows of `table` whose fk column `fk` points here;
   * otherwise our column `fk` points at one row of `table`. */
  const rest_table *table;
  const rest_col *fk;
  int to_many;
  struct sel_item *sub; /* the embed's own select list */
  int nsub;
} sel_item;

typedef enum {
  OP_EQ, OP_NEQ, OP_GT, OP_GTE, OP_LT, OP_LTE,
  OP_LIKE, OP_ILIKE, OP_IN, OP_IS
} filter_op;

typedef enum { IS_NULL, IS_TRUE, IS_FALSE, IS_UNKNOWN } is_value;

typedef struct filter {
  enum { F_LEAF, F_AND, F_OR } kind;
  int negate;
  /* F_LEAF */
  const rest_col *col;
  filter_op op;
  db_val *vals; /* one value; several for OP_IN (possibly 0) */
  int nvals;
  is_value is;
  /* F_AND / F_OR */
  struct filter *kids;
  int nkids;
} filter;

typedef struct order_item {
  const rest_col *col;
  int desc;
  int nulls; /* 0: the default (last for asc, first for desc), 1 first, 2 last */
} order_item;

typedef struct rest_query {
  const rest_table *table;
  sel_item *sel; /* NULL: all columns */
  int nsel;
  filter where;  /* F_AND of the top-level terms (nkids 0: no filter) */
  order_item *order;
  int norder;
  int64_t limit;  /* -1: none */
  int64_t offset; /* 0: none */
  const char *columns; /* columns= of an insert, raw (checked by caller) */
} rest_query;

typedef struct query_error {
  api_error code;
  char message[256];
  char details[256];
} query_error;

/* Parses the raw (still percent-encoded) query string qs for table t.
 * Returns 0, or -1 with err filled. Memory comes from a. */
int query_parse(arena *a, const rest_table *t, const char *qs, rest_query *q,
                query_error *err);

/* Converts text to a value of column c's type (filters, and bodies that
 * send numbers as strings). Returns 0, or -1 with err filled (22P02). */
int query_value(arena *a, const rest_col *c, const char *s, size_t n,
                db_val *out, query_error *err);


/* For fuzzing: parse against every table, never crash. */
int fuzz_query_parse(const char *data, size_t size);

#endif

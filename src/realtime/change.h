/* change.h - one committed change to a row, as the live feed carries it, and
 * the pieces every consumer of the feed shares: positions, the hub that fans
 * changes out to subscribers, subscription filters, the tenancy check, and
 * the replay of recent changes from the database.
 *
 * How a change travels (docs/realtime.md):
 *   a write to a watched table  -> a trigger appends a row to realtime_changes
 *   (same transaction)          -> after commit: SQLite's commit listener or
 *                                  PostgreSQL's NOTIFY wakes the feed thread
 *   feed thread (feed.c)        -> reads new rows in position order, renders
 *                                  each record as a REST read would (render.c)
 *   hub (hub.c)                 -> hands each change to every attached sink
 *                                  (the WebSocket server, each SSE stream);
 *                                  a sink filters and queues, never blocks.
 *
 * Positions: (txid, seq). On SQLite txid is 0 and seq counts commits in
 * order. On PostgreSQL the feed reads only below the oldest transaction
 * still running, so a change of a transaction that commits late can never
 * fall behind a reader; changes of one row keep their order. */
#ifndef MUNSHI_REALTIME_CHANGE_H
#define MUNSHI_REALTIME_CHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/api.h"
#include "base/arena.h"
#include "base/json.h"
#include "db/db.h"
#include "rest/schema.h"

typedef struct rt_pos {
  int64_t txid, seq;
} rt_pos;

/* <0, 0, >0 as a is before, equal to, after b. */
int rt_pos_cmp(rt_pos a, rt_pos b);
/* "txid.seq" (the SSE event id); out holds RT_POS_TEXT bytes. */
#define RT_POS_TEXT 48
void rt_pos_format(rt_pos p, char out[RT_POS_TEXT]);
/* Parses what rt_pos_format wrote; 0, or -1 when s is not a position. */
int rt_pos_parse(const char *s, rt_pos *out);

typedef enum { RT_INSERT = 1, RT_UPDATE = 2, RT_DELETE = 4 } rt_op;
const char *rt_op_name(rt_op op); /* "INSERT", "UPDATE", "DELETE" */

/* A committed change, immutable once published and shared by reference
 * between threads (rt_change_ref / rt_change_unref, atomic). */
typedef struct rt_change {
  rt_pos pos;
  const rest_table *table; /* one of schema_tables() */
  rt_op op;
  char profile_id[37]; /* the row's tenant: profile_id, or id for profiles */
  char row_id[37];
  int64_t commit_us; /* commit_timestamp, microseconds UTC */
  /* JSON objects rendered exactly as GET /rest/v1/<table> renders the row:
   * every readable column, write-only ones as null, hidden ones absent.
   * record is NULL for DELETE, old_record NULL for INSERT. */
  const char *record;
  size_t record_len;
  const char *old_record;
  size_t old_record_len;
  /* The same, parsed (for filters); NULL where the text is NULL. */
  const json *rec;
  const json *old;
  /* The "data" object of a postgres_changes event, built once:
   * {"schema":"public","table":…,"commit_timestamp":…,"type":…,
   *  "columns":[{"name":…,"type":…},…],"record":…,"old_record":…,
   *  "errors":null} (record/old_record left out where NULL). */
  const char *data;
  size_t data_len;
  /* private to change.c / feed.c */
  arena *a;
  _Atomic int refs;
} rt_change;

/* Builds a change from already-rendered record texts (either may be NULL);
 * parses them, fills data. refs = 1. Used by the feed, and by tests that
 * need a change without a database. NULL when a text is not a JSON object. */
rt_change *rt_change_new(rt_pos pos, const rest_table *t, rt_op op,
                         const char *profile_id, const char *row_id,
                         int64_t commit_us, const char *record,
                         const char *old_record);
rt_change *rt_change_ref(rt_change *c);
void rt_change_unref(rt_change *c); /* accepts NULL */

/* ---- who may see it --------------------------------------------------- */

/* 1 when a caller with this principal could read the row through
 * /rest/v1: the service role reads every row, a signed-in user the rows of
 * its own profile (tenant tables) or its own profile row; anon and nobody
 * read nothing. The one tenancy rule of the feed. */
int rt_visible(const api_principal *who, const rt_change *c);

/* ---- filters ---------------------------------------------------------- */

/* A subscription's row filter: "col=op.value" with op eq, neq, lt, lte,
 * gt, gte, or "col=in.(a,b,…)" (values may be double-quoted). Compared by
 * the column's type (money and quantities as exact decimals, times as
 * times, text as bytes). A column must be readable (a filter on a secret
 * could probe it). Matched against record, or old_record for DELETE. */
typedef struct rt_filter rt_filter;
/* text NULL or "": matches every row. On error returns -1 with a message
 * for the client in err (never echoing more than the column name). */
int rt_filter_parse(arena *a, const rest_table *t, const char *text,
                    rt_filter **out, char *err, size_t errlen);
int rt_filter_match(const rt_filter *f, const rt_change *c);

/* ---- the hub ---------------------------------------------------------- */

typedef struct rt_hub rt_hub;
typedef struct rt_sink rt_sink;

/* Called on the feed thread for each change, in position order; must not
 * block (queue it and wake your own thread). To keep c, take a ref. */
typedef void (*rt_deliver_fn)(void *cls, rt_change *c);
/* Called on the feed thread when the feed had to skip changes (it fell
 * behind the database's retention): the sink's subscribers may have missed
 * some and should be told. */
typedef void (*rt_gap_fn)(void *cls);

/* profile_id NULL: every change (a sink that does its own checks, such as
 * the WebSocket server); else only changes whose profile_id equals it. */
rt_sink *rt_hub_attach(rt_hub *h, const char *profile_id, rt_deliver_fn fn,
                       rt_gap_fn gap, void *cls);
/* After it returns, fn is not running and will not be called again. */
void rt_hub_detach(rt_hub *h, rt_sink *s);
/* The position of the newest change handed to the sinks so far. */
rt_pos rt_hub_head(rt_hub *h);

/* ---- replay ----------------------------------------------------------- */

/* Reads from the database the changes after `after` (exclusive) up to and
 * including `upto`, in order, that `who` may see and whose table is in
 * tables (NULL: any), calling fn for each (fn takes a ref to keep it).
 * Returns 0; 1 when `after` is older than what the database still keeps
 * (the window: changes older than it are purged, so some are lost; fn
 * still gets everything kept); -1 on a database error. */
typedef int (*rt_replay_fn)(void *cls, rt_change *c);
int rt_replay(db *d, const api_principal *who, rt_pos after, rt_pos upto,
              const rest_table *const *tables, int ntables, rt_replay_fn fn,
              void *cls, db_err *err);

#endif

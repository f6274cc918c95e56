/* rt_int.h - what the feed's own files share (capture, render, change,
 * hub, feed), private to src/realtime/. The WebSocket and SSE parts use
 * change.h and feed.h only. */
#ifndef MUNSHI_REALTIME_RT_INT_H
#define MUNSHI_REALTIME_RT_INT_H

#include <stddef.h>

#include "base/buf.h"
#include "db/db.h"
#include "realtime/change.h"

/* The NOTIFY channel the PostgreSQL triggers signal on. */
#define RT_NOTIFY_CHANNEL "munshi_realtime"

/* Renders a captured record (the JSON object a trigger stored, holding the
 * readable columns as the database of kind has them) as GET /rest/v1
 * renders that row: every column of t but the hidden ones, in the table's
 * order, write-only ones as null. 0, or -1 when the captured text is not
 * such an object (logged: a trigger out of step with the metadata). */
int rt_render_record(arena *a, db_kind kind, const rest_table *t,
                     const char *captured, size_t len, buf *out);

/* One change read from realtime_changes: the row of the SELECT that
 * RT_CHANGE_COLUMNS names, at row i; NULL (logged) when the row cannot be
 * rendered. The caller owns the reference. */
#define RT_CHANGE_COLUMNS \
  "seq, txid, created_at, profile_id, table_name, op, row_id, record, " \
  "old_record"
rt_change *rt_change_from_row(db_kind kind, const db_res *r, int i);

/* The hub, seen from the feed thread. */
void rt_hub_publish(rt_hub *h, rt_change *c); /* sinks take their own refs */
void rt_hub_gap(rt_hub *h);
/* Where the feed starts: the head before any change is published. */
void rt_hub_set_head(rt_hub *h, rt_pos p);

/* The position up to which the purge deleted (0: nothing yet). */
int rt_purged_upto(db *d, int64_t *out, db_err *err);

#endif

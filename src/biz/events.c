/* events.c - the outbox of business events and the cursors its consumers
 * read it through (see events.h and docs/jobs.md).
 *
 * An event is one `events` row. Its position is (txid, seq): seq numbers
 * rows in the order they were written, txid is the writing transaction
 * (PostgreSQL's xid8; always 0 on SQLite). Consumers read in position
 * order, and on PostgreSQL only below the horizon: the oldest transaction
 * id still running. Every transaction below the horizon has finished, so
 * the set of events below it is final — nothing can appear there later —
 * and a cursor that only ever moves within it can never jump over an event
 * that was still uncommitted when the cursor moved. Ordering by seq alone
 * would not do: seq is taken at insert, so a transaction holding seq 5 may
 * commit after one holding seq 6 was consumed. On SQLite one writer at a
 * time makes commit order write order, and the horizon is infinite.
 *
 * Handing out: a worker takes the consumer row's lock, reads up to max
 * events after its cursor and below the horizon, records them as a batch
 * (its first and last position) with a lease and moves the cursor past
 * them, all in one short transaction. The batch row is the claim; it is
 * deleted when done. A batch whose lease ran out is taken over by the next
 * claim of any worker of the consumer, with attempts + 1; attempts fences
 * done/release, so a worker that overran its lease cannot end a claim that
 * now belongs to someone else. The range of a batch is fixed once written
 * (every event in it has a txid at or below its last, all finished), so a
 * re-claim reads exactly the events the first claim had. */
#include "biz/events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/timeutil.h"
#include "base/uuid.h"

static int bad_arg(db_err *err, const char *msg) {
  /* 22023 invalid_parameter_value: the same family as the database's own
   * refusals of bad values, so callers map it with the rest. */
  snprintf(err->code, sizeof err->code, "%s", "22023");
  snprintf(err->message, sizeof err->message, "%s", msg);
  return -1;
}

static int name_ok(const char *s) {
  return s && *s && strlen(s) <= EVENT_CONSUMER_MAX;
}

int event_emit(db *d, const char *profile_id, const char *event_type,
               const char *entity_type, const char *entity_id,
               const char *payload, char id_out[37], db_err *err) {
  if (!profile_id || !event_type || !entity_type || !entity_id)
    return bad_arg(err, "event_emit: profile, type and entity are required");
  char id[UUID_STR_LEN + 1];
  uuid_v7(id);
  db_val ev[] = {db_uuid(profile_id), db_uuid(id),
                 db_text(event_type), db_text(entity_type),
                 db_uuid(entity_id),  db_json(payload ? payload : "{}"),
                 db_ts(time_now_us())};
  /* PostgreSQL fills seq (identity) and txid (the transaction) by default.
   * SQLite numbers under the write lock the caller's transaction holds;
   * max(seq) is one step down the events_seq index. */
  const char *sql =
      db_kind_of(d) == DB_POSTGRES
          ? "INSERT INTO events (profile_id, id, event_type, entity_type, "
            "entity_id, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6, "
            "$7)"
          : "INSERT INTO events (profile_id, id, event_type, entity_type, "
            "entity_id, payload, created_at, seq) VALUES ($1, $2, $3, $4, "
            "$5, $6, $7, (SELECT coalesce(max(seq), 0) + 1 FROM events))";
  if (db_query_fixed(d, sql, ev, 7, NULL, err)) return -1;
  if (id_out) memcpy(id_out, id, UUID_STR_LEN + 1);
  return 0;
}

int event_emit_many(db *d, const char *profile_id, const event_in *ev, int n,
                    db_err *err) {
  if (n < 1 || n > EVENT_EMIT_MANY_MAX)
    return bad_arg(err, "event_emit_many: 1 to 8 events");
  if (!profile_id) return bad_arg(err, "event_emit_many: profile is required");
  db_val v[2 + 5 * EVENT_EMIT_MANY_MAX];
  char ids[EVENT_EMIT_MANY_MAX][UUID_STR_LEN + 1];
  int pg = db_kind_of(d) == DB_POSTGRES;
  buf sql;
  buf_init(&sql, 0);
  buf_puts(&sql,
           "INSERT INTO events (profile_id, created_at, id, event_type, "
           "entity_type, entity_id, payload");
  buf_puts(&sql, pg ? ") VALUES " : ", seq) VALUES ");
  v[0] = db_uuid(profile_id);
  v[1] = db_ts(time_now_us());
  for (int i = 0; i < n; i++) {
    if (!ev[i].event_type || !ev[i].entity_type || !ev[i].entity_id) {
      buf_free(&sql);
      return bad_arg(err, "event_emit_many: type and entity are required");
    }
    uuid_v7(ids[i]);
    int k = 2 + 5 * i;
    v[k] = db_uuid(ids[i]);
    v[k + 1] = db_text(ev[i].event_type);
    v[k + 2] = db_text(ev[i].entity_type);
    v[k + 3] = db_uuid(ev[i].entity_id);
    v[k + 4] = db_json(ev[i].payload ? ev[i].payload : "{}");
    buf_printf(&sql, "%s($1, $2, $%d, $%d, $%d, $%d, $%d", i ? ", " : "", k + 1,
               k + 2, k + 3, k + 4, k + 5);
    /* SQLite: numbered after the last seq, as event_emit does, in order
     * (the caller's transaction holds the write lock). */
    if (!pg)
      buf_printf(&sql, ", (SELECT coalesce(max(seq), 0) + %d FROM events)",
                 i + 1);
    buf_putc(&sql, ')');
  }
  int rc = db_query_fixed(d, buf_cstr(&sql), v, 2 + 5 * n, NULL, err);
  buf_free(&sql);
  return rc;
}

/* The horizon: events at or above it may still be joined by others of
 * lower position, so nobody reads past it. PostgreSQL: the oldest
 * transaction still running (or the next id, when none is). */
static int horizon(db *d, int64_t *out, db_err *err) {
  if (db_kind_of(d) != DB_POSTGRES) {
    *out = INT64_MAX;
    return 0;
  }
  db_res *r = NULL;
  if (db_query(d,
               "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
               NULL, 0, &r, err))
    return -1;
  *out = db_res_int(r, 0, 0);
  db_res_free(r);
  return 0;
}

int events_consumer_add(db *d, const char *name, int *created, db_err *err) {
  if (created) *created = 0;
  if (!name_ok(name))
    return bad_arg(err, "events_consumer_add: name must be 1 to 63 characters");
  int64_t txid = 0, seq = 0;
  if (db_kind_of(d) == DB_POSTGRES) {
    /* (horizon, 0): every event of a transaction that had finished before
     * the oldest one still running is behind; the rest is ahead. */
    if (horizon(d, &txid, err)) return -1;
  } else {
    db_res *r = NULL;
    if (db_query(d, "SELECT coalesce(max(seq), 0) FROM events", NULL, 0, &r,
                 err))
      return -1;
    seq = db_res_int(r, 0, 0);
    db_res_free(r);
  }
  db_val p[] = {db_text(name), db_int(txid), db_int(seq), db_int(txid),
                db_int(seq)};
  db_res *r = NULL;
  if (db_query(d,
               "INSERT INTO event_consumers (name, start_txid, start_seq, "
               "cursor_txid, cursor_seq) VALUES ($1, $2, $3, $4, $5) "
               "ON CONFLICT (name) DO NOTHING",
               p, 5, &r, err))
    return -1;
  if (created) *created = db_res_changes(r) == 1;
  db_res_free(r);
  return 0;
}

int events_consumer_drop(db *d, const char *name, db_err *err) {
  if (!name_ok(name)) return bad_arg(err, "events_consumer_drop: bad name");
  db_val p[] = {db_text(name)};
  return db_query(d, "DELETE FROM event_consumers WHERE name = $1", p, 1,
                  NULL, err);
}

/* Both ways of claiming read events with these columns, in this order. */
#define EVENT_COLS                                                        \
  "profile_id, id, event_type, entity_type, entity_id, payload, "         \
  "created_at, txid, seq"
enum {
  COL_PROFILE,
  COL_ID,
  COL_TYPE,
  COL_ENTITY_TYPE,
  COL_ENTITY_ID,
  COL_PAYLOAD,
  COL_CREATED,
  COL_TXID,
  COL_SEQ
};

static void copy_text(char *dst, size_t cap, const db_res *r, int i, int c) {
  const char *s = db_res_text(r, i, c);
  snprintf(dst, cap, "%s", s ? s : "");
}

static void rows_fill(event_batch *b, const db_res *r) {
  int rows = db_res_rows(r);
  b->rows = rows ? xcalloc((size_t)rows, sizeof *b->rows) : NULL;
  b->n = rows;
  for (int i = 0; i < rows; i++) {
    event_row *ev = &b->rows[i];
    copy_text(ev->profile_id, sizeof ev->profile_id, r, i, COL_PROFILE);
    copy_text(ev->id, sizeof ev->id, r, i, COL_ID);
    copy_text(ev->event_type, sizeof ev->event_type, r, i, COL_TYPE);
    copy_text(ev->entity_type, sizeof ev->entity_type, r, i, COL_ENTITY_TYPE);
    copy_text(ev->entity_id, sizeof ev->entity_id, r, i, COL_ENTITY_ID);
    const char *s = db_res_text(r, i, COL_PAYLOAD);
    ev->payload = xstrdup(s ? s : "{}");
    ev->created_at = db_res_ts(r, i, COL_CREATED);
    ev->txid = db_res_int(r, i, COL_TXID);
    ev->seq = db_res_int(r, i, COL_SEQ);
  }
}

/* Takes over the oldest batch of consumer whose lease ran out, if any: 1
 * and b filled, 0 when there is none. One statement; on PostgreSQL the
 * candidate is locked with SKIP LOCKED, so two workers never wait for each
 * other or take the same one (the lease is re-checked on the locked row). */
static int reclaim(db *d, const char *consumer, const char *worker,
                   int64_t now, int64_t until, event_batch *b, db_err *err) {
  static const char *const sql[2] = {
      "UPDATE event_batches SET attempts = attempts + 1, claimed_by = $3, "
      "lease_until = $4 WHERE id = (SELECT id FROM event_batches WHERE "
      "consumer = $1 AND lease_until < $2 ORDER BY first_txid, first_seq "
      "LIMIT 1) RETURNING id, attempts, first_txid, first_seq, last_txid, "
      "last_seq",
      "UPDATE event_batches SET attempts = attempts + 1, claimed_by = $3, "
      "lease_until = $4 WHERE id = (SELECT id FROM event_batches WHERE "
      "consumer = $1 AND lease_until < $2 ORDER BY first_txid, first_seq "
      "LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id, attempts, first_txid, "
      "first_seq, last_txid, last_seq"};
  db_val p[] = {db_text(consumer), db_ts(now),
                worker ? db_text(worker) : db_null(), db_ts(until)};
  db_res *r = NULL;
  if (db_query(d, sql[db_kind_of(d) == DB_POSTGRES], p, 4, &r, err))
    return -1;
  if (db_res_rows(r) == 0) {
    db_res_free(r);
    return 0;
  }
  copy_text(b->id, sizeof b->id, r, 0, 0);
  b->attempts = (int)db_res_int(r, 0, 1);
  db_val q[] = {db_int(db_res_int(r, 0, 2)), db_int(db_res_int(r, 0, 3)),
                db_int(db_res_int(r, 0, 4)), db_int(db_res_int(r, 0, 5))};
  db_res_free(r);
  r = NULL;
  /* The range is final (see the top of this file), so this reads what the
   * first claim read, less what was released as handled. */
  if (db_query(d,
               "SELECT " EVENT_COLS " FROM events WHERE (txid, seq) >= ($1, "
               "$2) AND (txid, seq) <= ($3, $4) ORDER BY txid, seq",
               q, 4, &r, err))
    return -1;
  rows_fill(b, r);
  db_res_free(r);
  return 1;
}

/* Hands out up to max new events after the consumer's cursor, in one
 * transaction that holds the consumer row (PostgreSQL: FOR UPDATE, so the
 * workers of one consumer take turns here for a moment each; SQLite: the
 * write lock of BEGIN IMMEDIATE). */
static int claim_new(db *d, const char *consumer, const char *worker,
                     int max, int64_t until, event_batch *b, db_err *err) {
  int pg = db_kind_of(d) == DB_POSTGRES;
  int64_t hz;
  db_res *r = NULL;
  /* Before the transaction takes an id of its own: the horizon only has to
   * be no later than the snapshot the events are read in. */
  if (horizon(d, &hz, err)) return -1;
  if (db_begin(d, 1, err)) return -1;
  db_val c[] = {db_text(consumer)};
  if (db_query(d,
               pg ? "SELECT cursor_txid, cursor_seq FROM event_consumers "
                    "WHERE name = $1 FOR UPDATE"
                  : "SELECT cursor_txid, cursor_seq FROM event_consumers "
                    "WHERE name = $1",
               c, 1, &r, err))
    goto fail;
  if (db_res_rows(r) == 0) {
    db_rollback(d);
    db_res_free(r);
    return bad_arg(err, "events_claim: no such consumer");
  }
  db_val q[] = {db_int(db_res_int(r, 0, 0)), db_int(db_res_int(r, 0, 1)),
                db_int(hz), db_int(max)};
  db_res_free(r);
  r = NULL;
  if (db_query(d,
               "SELECT " EVENT_COLS " FROM events WHERE (txid, seq) > ($1, "
               "$2) AND txid < $3 ORDER BY txid, seq LIMIT $4",
               q, 4, &r, err))
    goto fail;
  rows_fill(b, r);
  db_res_free(r);
  r = NULL;
  if (b->n == 0) {
    db_rollback(d); /* nothing written */
    return 0;
  }
  const event_row *first = &b->rows[0], *last = &b->rows[b->n - 1];
  uuid_v7(b->id);
  b->attempts = 1;
  db_val ins[] = {db_text(consumer),    db_uuid(b->id),
                  db_int(first->txid),  db_int(first->seq),
                  db_int(last->txid),   db_int(last->seq),
                  worker ? db_text(worker) : db_null(), db_ts(until)};
  if (db_query(d,
               "INSERT INTO event_batches (consumer, id, first_txid, "
               "first_seq, last_txid, last_seq, claimed_by, lease_until) "
               "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
               ins, 8, NULL, err))
    goto fail;
  db_val up[] = {db_int(last->txid), db_int(last->seq), db_text(consumer)};
  if (db_query(d,
               "UPDATE event_consumers SET cursor_txid = $1, cursor_seq = $2 "
               "WHERE name = $3",
               up, 3, NULL, err))
    goto fail;
  if (db_commit(d, err)) goto fail_over;
  return 0;
fail:
  db_rollback(d);
fail_over:
  db_res_free(r);
  events_batch_free(b);
  return -1;
}

int events_claim(db *d, const char *consumer, const char *worker, int max,
                 int lease_s, event_batch *b, db_err *err) {
  events_batch_free(b);
  if (!name_ok(consumer)) return bad_arg(err, "events_claim: no consumer");
  if (max < 1 || max > EVENT_CLAIM_MAX)
    return bad_arg(err, "events_claim: max must be 1 to 1000");
  if (lease_s < 1 || lease_s > EVENT_LEASE_MAX_S)
    return bad_arg(err, "events_claim: lease must be 1 s to 1 day");
  snprintf(b->consumer, sizeof b->consumer, "%s", consumer);
  int64_t now = time_now_us();
  int64_t until = now + (int64_t)lease_s * 1000000;
  /* Expired batches first: they are older than anything new, and a crashed
   * worker's events should not wait behind the rest. */
  int rc = reclaim(d, consumer, worker, now, until, b, err);
  if (rc < 0) {
    events_batch_free(b);
    return -1;
  }
  if (rc == 1) return 0;
  return claim_new(d, consumer, worker, max, until, b, err);
}

int events_done(db *d, const event_batch *b, db_err *err) {
  if (!b || !b->id[0]) return bad_arg(err, "events_done: no batch");
  db_val p[] = {db_uuid(b->id), db_int(b->attempts)};
  db_res *r = NULL;
  if (db_query(d,
               "DELETE FROM event_batches WHERE id = $1 AND attempts = $2",
               p, 2, &r, err))
    return -1;
  int64_t changed = db_res_changes(r);
  db_res_free(r);
  return changed == 1 ? 0 : 1;
}

int events_release(db *d, const event_batch *b, int handled, int delay_s,
                   db_err *err) {
  if (!b || !b->id[0]) return bad_arg(err, "events_release: no batch");
  if (handled < 0 || handled > b->n || delay_s < 0 ||
      delay_s > EVENT_LEASE_MAX_S)
    return bad_arg(err, "events_release: bad arguments");
  if (handled == b->n) return events_done(d, b, err);
  /* A lease that ended a moment ago: claimable by the next claim. */
  int64_t until = time_now_us() + (int64_t)delay_s * 1000000 - 1;
  const event_row *next = &b->rows[handled];
  db_val p[] = {db_int(next->txid), db_int(next->seq), db_ts(until),
                db_uuid(b->id), db_int(b->attempts)};
  db_res *r = NULL;
  if (db_query(d,
               "UPDATE event_batches SET first_txid = $1, first_seq = $2, "
               "claimed_by = NULL, lease_until = $3 WHERE id = $4 AND "
               "attempts = $5",
               p, 5, &r, err))
    return -1;
  int64_t changed = db_res_changes(r);
  db_res_free(r);
  return changed == 1 ? 0 : 1;
}

void events_batch_free(event_batch *b) {
  if (!b) return;
  for (int i = 0; i < b->n; i++) free(b->rows[i].payload);
  free(b->rows);
  b->rows = NULL;
  b->n = 0;
  b->id[0] = '\0';
  b->attempts = 0;
}

int events_purge(db *d, int64_t older_than, int max, int64_t *deleted,
                 db_err *err) {
  if (deleted) *deleted = 0;
  if (max < 1 || max > 10000)
    return bad_arg(err, "events_purge: max must be 1 to 10000");
  /* Walks events_created from the oldest. An event is passed by a consumer
   * when it is at or behind its cursor and not inside one of its open
   * batches (a batch starts after everything before it was handled). Both
   * tables are a row per consumer or per worker, so the checks are cheap.
   * SQLite keeps the newest event: its seq is where the next one's comes
   * from, and a cursor must never see a number twice. */
  static const char *const sql[2] = {
      "DELETE FROM events WHERE (txid, seq) IN (SELECT e.txid, e.seq FROM "
      "events e WHERE e.created_at < $1 AND NOT EXISTS (SELECT 1 FROM "
      "event_consumers c WHERE (e.txid, e.seq) > (c.cursor_txid, "
      "c.cursor_seq)) AND NOT EXISTS (SELECT 1 FROM event_batches b WHERE "
      "(e.txid, e.seq) >= (b.first_txid, b.first_seq)) AND e.seq < (SELECT "
      "max(seq) FROM events) ORDER BY e.created_at LIMIT $2)",
      "DELETE FROM events WHERE (txid, seq) IN (SELECT e.txid, e.seq FROM "
      "events e WHERE e.created_at < $1 AND NOT EXISTS (SELECT 1 FROM "
      "event_consumers c WHERE (e.txid, e.seq) > (c.cursor_txid, "
      "c.cursor_seq)) AND NOT EXISTS (SELECT 1 FROM event_batches b WHERE "
      "(e.txid, e.seq) >= (b.first_txid, b.first_seq)) ORDER BY "
      "e.created_at LIMIT $2)"};
  db_val p[] = {db_ts(older_than), db_int(max)};
  db_res *r = NULL;
  if (db_query(d, sql[db_kind_of(d) == DB_POSTGRES], p, 2, &r, err))
    return -1;
  if (deleted) *deleted = db_res_changes(r);
  db_res_free(r);
  return 0;
}

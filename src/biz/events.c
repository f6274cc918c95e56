/* events.c - the outbox of business events and the queue each consumer
 * reads it through (see events.h).
 *
 * An event is one `events` row plus one `event_deliveries` row per
 * consumer, written in the caller's transaction. A delivery goes pending ->
 * claimed (with a lease) -> done; a claim whose lease ran out is pending
 * again in effect, and the next claim bumps `attempts`. `attempts` also
 * serves as the fencing token of a claim: events_done only marks the
 * delivery done if it still carries the attempt number the worker got, so
 * a worker that overran its lease cannot finish a claim that now belongs to
 * someone else. Delivery is therefore at least once, never to two workers
 * under one live lease.
 *
 * The claim differs by backend. PostgreSQL runs it as one statement whose
 * candidate scan takes FOR UPDATE SKIP LOCKED, so concurrent workers take
 * disjoint batches without waiting for each other. SQLite has one writer at
 * a time, so select-then-update inside BEGIN IMMEDIATE is already exclusive.
 */
#include "biz/events.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/timeutil.h"
#include "base/uuid.h"

static const char *const consumers[] = EVENT_CONSUMERS;
#define N_CONSUMERS ((int)(sizeof consumers / sizeof consumers[0]))

static char delivery_sql[512];
static pthread_once_t delivery_sql_once = PTHREAD_ONCE_INIT;

static void delivery_sql_init(void) {
  int n = snprintf(delivery_sql, sizeof delivery_sql,
                   "INSERT INTO event_deliveries (consumer, profile_id, "
                   "event_id, created_at) VALUES ");
  for (int i = 0; i < N_CONSUMERS; i++)
    n += snprintf(delivery_sql + n, sizeof delivery_sql - (size_t)n,
                  "%s($%d, $%d, $%d, $%d)", i ? ", " : "", i + 1,
                  N_CONSUMERS + 1, N_CONSUMERS + 2, N_CONSUMERS + 3);
}

/* Bounds of a claim: a batch is held in memory at once, and a lease longer
 * than a day would hide a crashed worker's events for that long. */
#define CLAIM_MAX 1000
#define LEASE_MAX_S 86400

static int bad_arg(db_err *err, const char *msg) {
  /* 22023 invalid_parameter_value: the same family as the database's own
   * refusals of bad values, so callers map it with the rest. */
  snprintf(err->code, sizeof err->code, "%s", "22023");
  snprintf(err->message, sizeof err->message, "%s", msg);
  return -1;
}

int event_emit(db *d, const char *profile_id, const char *event_type,
               const char *entity_type, const char *entity_id,
               const char *payload, char id_out[37], db_err *err) {
  if (!profile_id || !event_type || !entity_type || !entity_id)
    return bad_arg(err, "event_emit: profile, type and entity are required");
  char id[UUID_STR_LEN + 1];
  uuid_v7(id);
  /* The deliveries share the event's time, so a consumer's queue is in
   * the order the events were written. */
  int64_t now = time_now_us();
  db_val ev[] = {db_uuid(profile_id),  db_uuid(id),
                 db_text(event_type),  db_text(entity_type),
                 db_uuid(entity_id),   db_json(payload ? payload : "{}"),
                 db_ts(now)};
  if (db_query(d,
               "INSERT INTO events (profile_id, id, event_type, entity_type, "
               "entity_id, payload, created_at) VALUES ($1, $2, $3, $4, $5, "
               "$6, $7)",
               ev, 7, NULL, err))
    return -1;
  /* One statement for every consumer's delivery: $1..$N are the consumer
   * names, then profile, event and time. */
  pthread_once(&delivery_sql_once, delivery_sql_init);
  db_val dv[N_CONSUMERS + 3];
  for (int i = 0; i < N_CONSUMERS; i++) dv[i] = db_text(consumers[i]);
  dv[N_CONSUMERS] = db_uuid(profile_id);
  dv[N_CONSUMERS + 1] = db_uuid(id);
  dv[N_CONSUMERS + 2] = db_ts(now);
  if (db_query(d, delivery_sql, dv, N_CONSUMERS + 3, NULL, err)) return -1;
  if (id_out) memcpy(id_out, id, UUID_STR_LEN + 1);
  return 0;
}

/* Both claim paths produce rows with these columns, in this order. */
enum {
  COL_PROFILE,
  COL_ID,
  COL_TYPE,
  COL_ENTITY_TYPE,
  COL_ENTITY_ID,
  COL_PAYLOAD,
  COL_CREATED,
  COL_ATTEMPTS
};

static void row_fill(event_row *ev, const db_res *r, int i, int attempts) {
  const char *s;
  s = db_res_text(r, i, COL_PROFILE);
  snprintf(ev->profile_id, sizeof ev->profile_id, "%s", s ? s : "");
  s = db_res_text(r, i, COL_ID);
  snprintf(ev->id, sizeof ev->id, "%s", s ? s : "");
  s = db_res_text(r, i, COL_TYPE);
  snprintf(ev->event_type, sizeof ev->event_type, "%s", s ? s : "");
  s = db_res_text(r, i, COL_ENTITY_TYPE);
  snprintf(ev->entity_type, sizeof ev->entity_type, "%s", s ? s : "");
  s = db_res_text(r, i, COL_ENTITY_ID);
  snprintf(ev->entity_id, sizeof ev->entity_id, "%s", s ? s : "");
  s = db_res_text(r, i, COL_PAYLOAD);
  ev->payload = xstrdup(s ? s : "{}");
  ev->created_at = db_res_ts(r, i, COL_CREATED);
  ev->attempts = attempts;
}

/* PostgreSQL: the candidates are locked with SKIP LOCKED in a MATERIALIZED
 * CTE, so the locking scan runs exactly once (a subquery under IN could be
 * planned as the inner side of a join and rescanned), then updated and
 * joined to their events in the same statement. A candidate that another
 * worker claimed and committed meanwhile is re-checked against the WHERE
 * after the lock (READ COMMITTED), so it is not taken twice. */
static const char *const pg_claim_sql =
    "WITH picked AS MATERIALIZED ("
    " SELECT consumer, profile_id, event_id FROM event_deliveries"
    " WHERE consumer = $1 AND (status = 'pending' OR"
    " (status = 'claimed' AND claimed_until < $2))"
    " ORDER BY created_at, event_id LIMIT $3 FOR UPDATE SKIP LOCKED),"
    " claimed AS ("
    " UPDATE event_deliveries dl SET status = 'claimed', claimed_by = $4,"
    " claimed_until = $5, attempts = dl.attempts + 1 FROM picked p"
    " WHERE dl.consumer = p.consumer AND dl.profile_id = p.profile_id"
    " AND dl.event_id = p.event_id"
    " RETURNING dl.profile_id, dl.event_id, dl.attempts, dl.created_at)"
    " SELECT e.profile_id, e.id, e.event_type, e.entity_type, e.entity_id,"
    " e.payload, e.created_at, c.attempts FROM claimed c JOIN events e"
    " ON e.profile_id = c.profile_id AND e.id = c.event_id"
    " ORDER BY c.created_at, c.event_id";

static int claim_pg(db *d, const char *consumer, const char *worker, int max,
                    int64_t now, int64_t until, event_row **out, int *n,
                    db_err *err) {
  db_val p[] = {db_text(consumer), db_ts(now), db_int(max),
                worker ? db_text(worker) : db_null(), db_ts(until)};
  db_res *r = NULL;
  if (db_query(d, pg_claim_sql, p, 5, &r, err)) return -1;
  int rows = db_res_rows(r);
  event_row *ev = rows ? xcalloc((size_t)rows, sizeof *ev) : NULL;
  for (int i = 0; i < rows; i++)
    row_fill(&ev[i], r, i, (int)db_res_int(r, i, COL_ATTEMPTS));
  db_res_free(r);
  *out = ev;
  *n = rows;
  return 0;
}

static int claim_sqlite(db *d, const char *consumer, const char *worker,
                        int max, int64_t now, int64_t until, event_row **out,
                        int *n, db_err *err) {
  if (db_begin(d, 1, err)) return -1;
  db_val p[] = {db_text(consumer), db_ts(now), db_int(max)};
  db_res *r = NULL;
  event_row *ev = NULL;
  int rows = 0;
  if (db_query(d,
               "SELECT e.profile_id, e.id, e.event_type, e.entity_type, "
               "e.entity_id, e.payload, e.created_at, dl.attempts "
               "FROM event_deliveries dl JOIN events e "
               "ON e.profile_id = dl.profile_id AND e.id = dl.event_id "
               "WHERE dl.consumer = $1 AND (dl.status = 'pending' OR "
               "(dl.status = 'claimed' AND dl.claimed_until < $2)) "
               "ORDER BY dl.created_at, dl.event_id LIMIT $3",
               p, 3, &r, err))
    goto fail;
  rows = db_res_rows(r);
  ev = rows ? xcalloc((size_t)rows, sizeof *ev) : NULL;
  for (int i = 0; i < rows; i++) {
    /* The write lock is held since BEGIN IMMEDIATE, so nothing can change
     * the rows between this select and these updates. */
    int attempts = (int)db_res_int(r, i, COL_ATTEMPTS) + 1;
    row_fill(&ev[i], r, i, attempts);
    db_val u[] = {worker ? db_text(worker) : db_null(), db_ts(until),
                  db_int(attempts), db_text(consumer),
                  db_uuid(ev[i].profile_id), db_uuid(ev[i].id)};
    if (db_query(d,
                 "UPDATE event_deliveries SET status = 'claimed', "
                 "claimed_by = $1, claimed_until = $2, attempts = $3 "
                 "WHERE consumer = $4 AND profile_id = $5 AND event_id = $6",
                 u, 6, NULL, err))
      goto fail;
  }
  db_res_free(r);
  r = NULL;
  if (db_commit(d, err)) goto fail_over;
  *out = ev;
  *n = rows;
  return 0;
fail:
  db_rollback(d);
fail_over:
  db_res_free(r);
  events_free(ev, rows);
  return -1;
}

int events_claim(db *d, const char *consumer, const char *worker, int max,
                 int lease_s, event_row **out, int *n, db_err *err) {
  *out = NULL;
  *n = 0;
  if (!consumer || !*consumer) return bad_arg(err, "events_claim: no consumer");
  if (max < 1 || max > CLAIM_MAX)
    return bad_arg(err, "events_claim: max must be 1 to 1000");
  if (lease_s < 1 || lease_s > LEASE_MAX_S)
    return bad_arg(err, "events_claim: lease must be 1 s to 1 day");
  int64_t now = time_now_us();
  int64_t until = now + (int64_t)lease_s * 1000000;
  return db_kind_of(d) == DB_POSTGRES
             ? claim_pg(d, consumer, worker, max, now, until, out, n, err)
             : claim_sqlite(d, consumer, worker, max, now, until, out, n, err);
}

int events_done(db *d, const char *consumer, const event_row *ev,
                db_err *err) {
  if (!consumer || !ev) return bad_arg(err, "events_done: no delivery");
  db_val p[] = {db_ts(time_now_us()), db_text(consumer),
                db_uuid(ev->profile_id), db_uuid(ev->id),
                db_int(ev->attempts)};
  db_res *r = NULL;
  if (db_query(d,
               "UPDATE event_deliveries SET status = 'done', done_at = $1 "
               "WHERE consumer = $2 AND profile_id = $3 AND event_id = $4 "
               "AND status = 'claimed' AND attempts = $5",
               p, 5, &r, err))
    return -1;
  int64_t changed = db_res_changes(r);
  db_res_free(r);
  return changed == 1 ? 0 : 1;
}

void events_free(event_row *rows, int n) {
  if (!rows) return;
  for (int i = 0; i < n; i++) free(rows[i].payload);
  free(rows);
}

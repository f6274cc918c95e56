/* cron_trigger.c - the cron trigger: the "flow.cron" poller (flow.h
 * flow_cron_poll) starts the runs of active cron blueprints whose
 * next_run_at has come.
 *
 * One transaction per poll: claim the due blueprints (PostgreSQL: FOR
 * UPDATE SKIP LOCKED, so pollers of several processes take different rows
 * and never wait on each other; SQLite: the write lock taken at BEGIN),
 * move each next_run_at to the schedule's first fire after now, and start
 * ONE run for it with trigger_key "cron:<the time it was due>" (a second
 * poller that got the same row anyway would be stopped by the key's unique
 * index). The advance is conditional on next_run_at still being the time we
 * read, a fence that holds on both backends.
 *
 * Missed runs: when munshi was down (or the workers busy) past a due time,
 * the schedule does not fire once per missed time when it comes back: it
 * fires once, with input {"scheduled_for": <the first missed time>,
 * "missed": true, "missed_count": <how many times were missed>}; a run
 * started within CRON_GRACE_US of its time says missed false.
 *
 * The poller runs on every worker loop, and nearly always nothing is due:
 * it first asks, with one plain read outside any transaction (the partial
 * index workflow_blueprints_cron), whether anything is, and only then
 * opens the write transaction. On SQLite the write lock is the one lock
 * every writer of the process queues on, so an idle poll taking it would
 * make every step, event and REST write wait behind it. */
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "flow/bp_int.h"
#include "flow/engine.h"
#include "flow/flow.h"
#include "jobs/worker.h"

#define CRON_BATCH 16
#define CRON_GRACE_US (120LL * 1000000) /* later than this: a missed run */
#define CRON_MISSED_MAX 100000          /* fires counted, at most */

typedef struct due_bp {
  char profile_id[37], id[37];
  int version;
  const char *cron, *timezone;
  int64_t due;
} due_bp;

static int claim(db *d, arena *a, int64_t now, due_bp *out, int *n,
                 db_err *err) {
  static const char *const sql[2] = {
      "SELECT profile_id, id, active_version, cron, timezone, next_run_at "
      "FROM workflow_blueprints WHERE is_active AND trigger_kind = 'cron' AND "
      "next_run_at <= $1 AND paused_at IS NULL ORDER BY next_run_at LIMIT $2",
      "SELECT profile_id, id, active_version, cron, timezone, next_run_at "
      "FROM workflow_blueprints WHERE is_active AND trigger_kind = 'cron' AND "
      "next_run_at <= $1 AND paused_at IS NULL ORDER BY next_run_at LIMIT $2 "
      "FOR UPDATE SKIP LOCKED"};
  db_val v[] = {db_ts(now), db_int(CRON_BATCH)};
  db_res *r = NULL;
  *n = 0;
  if (db_query(d, sql[db_kind_of(d) == DB_POSTGRES], v, 2, &r, err)) return -1;
  for (int i = 0; i < db_res_rows(r) && i < CRON_BATCH; i++) {
    due_bp *b = &out[(*n)++];
    snprintf(b->profile_id, sizeof b->profile_id, "%s", db_res_text(r, i, 0));
    snprintf(b->id, sizeof b->id, "%s", db_res_text(r, i, 1));
    b->version = (int)db_res_int(r, i, 2);
    b->cron = arena_strdup(a, db_res_text(r, i, 3));
    b->timezone = arena_strdup(a, db_res_text(r, i, 4));
    b->due = db_res_ts(r, i, 5);
  }
  db_res_free(r);
  return 0;
}

/* Moves b's next_run_at from its due time to next (-1: never again, NULL).
 * *took 0 when another poller moved it first. */
static int advance(db *d, const due_bp *b, int64_t next, int64_t now,
                   int *took, db_err *err) {
  db_val v[] = {next < 0 ? db_null() : db_ts(next), db_ts(now),
                db_uuid(b->profile_id), db_uuid(b->id), db_ts(b->due)};
  db_res *r = NULL;
  if (db_query_fixed(d,
                     "UPDATE workflow_blueprints SET next_run_at = $1, "
                     "last_run_at = $2 WHERE profile_id = $3 AND id = $4 AND "
                     "next_run_at = $5 RETURNING id",
                     v, 5, &r, err))
    return -1;
  *took = db_res_rows(r) == 1;
  db_res_free(r);
  return 0;
}

int64_t flow_cron_input(const char *cron, const char *zone, int64_t due,
                        int64_t now, buf *out) {
  int missed = now - due > CRON_GRACE_US;
  int64_t count = 0;
  if (missed) /* the times from the due one up to now, each missed */
    for (int64_t t = due; t >= 0 && t <= now && count < CRON_MISSED_MAX;
         t = bp_cron_next(cron, zone, t))
      count++;
  if (missed && count < 1) count = 1; /* a schedule no longer readable */
  json_obj o;
  json_obj_open(&o, out);
  json_obj_ts(&o, "scheduled_for", due);
  json_obj_bool(&o, "missed", missed);
  json_obj_int(&o, "missed_count", count);
  json_obj_close(&o);
  return count;
}

static int start_one(db *d, arena *a, const due_bp *b, int64_t now,
                     int *started, db_err *err) {
  *started = 0;
  int64_t next = bp_cron_next(b->cron, b->timezone, now);
  if (next < 0)
    log_warn("flow.cron: blueprint %s: the schedule '%s' (%s) has no next "
             "fire; it stops until activated again",
             b->id, b->cron, b->timezone);
  int took = 0;
  if (advance(d, b, next, now, &took, err)) return -1;
  if (!took) return 0;
  char due[TS_TEXT_LEN + 1];
  ts_format(b->due, due);
  buf in;
  buf_init(&in, 0);
  int64_t count = flow_cron_input(b->cron, b->timezone, b->due, now, &in);
  int missed = count > 0;
  flow_run_start_args s = {.profile_id = b->profile_id,
                           .blueprint_id = b->id,
                           .version = b->version,
                           .trigger_kind = "cron",
                           .trigger_key = arena_printf(a, "cron:%s", due),
                           .input = arena_strdup(a, buf_cstr(&in))};
  buf_free(&in);
  char run_id[37];
  int created = 0;
  if (flow_run_start(d, a, &s, run_id, &created, err)) return -1;
  if (missed)
    log_info("flow.cron: blueprint %s was due at %s; %lld time(s) missed, "
             "run once now",
             b->id, due, (long long)count);
  *started = 1;
  return 0;
}

/* *any 1 when some active, unpaused cron blueprint is due at now: a read,
 * no transaction, no lock. */
static int any_due(db *d, int64_t now, int *any, db_err *err) {
  db_val v[] = {db_ts(now)};
  db_res *r = NULL;
  *any = 0;
  if (db_query_fixed(d,
                     "SELECT 1 FROM workflow_blueprints WHERE is_active AND "
                     "trigger_kind = 'cron' AND next_run_at <= $1 AND "
                     "paused_at IS NULL LIMIT 1",
                     v, 1, &r, err))
    return -1;
  *any = db_res_rows(r) > 0;
  db_res_free(r);
  return 0;
}

int flow_cron_poll(void *arg, db *d, const char *worker, db_err *err) {
  (void)arg, (void)worker;
  int64_t now = time_now_us();
  int any = 0;
  if (any_due(d, now, &any, err)) return -1;
  if (!any) return 0;
  arena *a = arena_new();
  due_bp due[CRON_BATCH];
  int n = 0, started = 0, rc = 0;
  if (db_begin(d, 1, err)) {
    rc = -1;
    goto out;
  }
  if (claim(d, a, now, due, &n, err)) {
    rc = -1;
    goto out;
  }
  for (int i = 0; i < n; i++) {
    int one = 0;
    if (start_one(d, a, &due[i], now, &one, err)) {
      rc = -1;
      goto out;
    }
    started += one;
  }
  if (db_commit(d, err)) {
    rc = -1;
    started = 0;
    goto done; /* the transaction is over either way */
  }
out:
  if (rc) db_rollback(d);
done:
  arena_free(a);
  if (rc) return -1;
  if (started) jobs_wake();
  return started;
}

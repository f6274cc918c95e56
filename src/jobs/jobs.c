/* jobs.c - timers and schedules in the `jobs` table (see jobs.h).
 *
 * The claim is one UPDATE of the row a subquery picked: the due job with
 * the earliest run_at whose lease is free or ran out. On PostgreSQL the
 * subquery locks it FOR UPDATE SKIP LOCKED, so concurrent workers skip to
 * the next due job instead of queueing, and the lease condition is checked
 * again on the locked row (a job another worker claimed and committed
 * meanwhile no longer qualifies). On SQLite the statement runs under the
 * write lock, which is exclusive anyway. */
#include "jobs/jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/timeutil.h"

#define JOBS_EVERY_MAX_S (31 * 86400)
#define JOBS_DELAY_MAX_S (31 * 86400)

static int bad_arg(db_err *err, const char *msg) {
  snprintf(err->code, sizeof err->code, "%s", "22023");
  snprintf(err->message, sizeof err->message, "%s", msg);
  return -1;
}

static int names_ok(const char *name, const char *kind) {
  return name && *name && strlen(name) <= JOBS_NAME_MAX && kind && *kind &&
         strlen(kind) <= JOBS_KIND_MAX;
}

int jobs_at(db *d, const char *name, const char *kind, const char *profile_id,
            const char *payload, int64_t run_at, int *created, db_err *err) {
  if (created) *created = 0;
  if (!names_ok(name, kind)) return bad_arg(err, "jobs_at: bad name or kind");
  db_val p[] = {db_text(name),
                db_text(kind),
                profile_id ? db_uuid(profile_id) : db_null(),
                db_json(payload ? payload : "{}"),
                db_ts(run_at)};
  db_res *r = NULL;
  if (db_query(d,
               "INSERT INTO jobs (name, kind, profile_id, payload, run_at) "
               "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
               p, 5, &r, err))
    return -1;
  if (created) *created = db_res_changes(r) == 1;
  db_res_free(r);
  return 0;
}

int jobs_every(db *d, const char *name, const char *kind, int every_s,
               int64_t first_run, db_err *err) {
  if (!names_ok(name, kind)) return bad_arg(err, "jobs_every: bad name or kind");
  if (every_s < 1 || every_s > JOBS_EVERY_MAX_S)
    return bad_arg(err, "jobs_every: every_s must be 1 s to 31 days");
  db_val p[] = {db_text(name), db_text(kind), db_ts(first_run),
                db_int(every_s)};
  return db_query(d,
                  "INSERT INTO jobs (name, kind, run_at, every_s) VALUES ($1, "
                  "$2, $3, $4) ON CONFLICT (name) DO UPDATE SET kind = "
                  "excluded.kind, every_s = excluded.every_s",
                  p, 4, NULL, err);
}

int jobs_cancel(db *d, const char *name, db_err *err) {
  if (!name || !*name) return bad_arg(err, "jobs_cancel: no name");
  db_val p[] = {db_text(name)};
  return db_query(d, "DELETE FROM jobs WHERE name = $1", p, 1, NULL, err);
}

int jobs_claim(db *d, const char *worker, int lease_s, jobs_job *job,
               int *got, db_err *err) {
  *got = 0;
  memset(job, 0, sizeof *job);
  if (lease_s < 1 || lease_s > 86400)
    return bad_arg(err, "jobs_claim: lease must be 1 s to 1 day");
  static const char *const sql[2] = {
      "UPDATE jobs SET claims = claims + 1, claimed_by = $2, lease_until = "
      "$3 WHERE name = (SELECT name FROM jobs WHERE run_at <= $1 AND "
      "(lease_until IS NULL OR lease_until < $1) ORDER BY run_at LIMIT 1) "
      "RETURNING name, kind, profile_id, payload, run_at, every_s, claims, "
      "failures",
      "UPDATE jobs SET claims = claims + 1, claimed_by = $2, lease_until = "
      "$3 WHERE name = (SELECT name FROM jobs WHERE run_at <= $1 AND "
      "(lease_until IS NULL OR lease_until < $1) ORDER BY run_at LIMIT 1 "
      "FOR UPDATE SKIP LOCKED) RETURNING name, kind, profile_id, payload, "
      "run_at, every_s, claims, failures"};
  int64_t now = time_now_us();
  db_val p[] = {db_ts(now), worker ? db_text(worker) : db_null(),
                db_ts(now + (int64_t)lease_s * 1000000)};
  db_res *r = NULL;
  if (db_query(d, sql[db_kind_of(d) == DB_POSTGRES], p, 3, &r, err))
    return -1;
  if (db_res_rows(r) == 1) {
    const char *s;
    s = db_res_text(r, 0, 0);
    snprintf(job->name, sizeof job->name, "%s", s ? s : "");
    s = db_res_text(r, 0, 1);
    snprintf(job->kind, sizeof job->kind, "%s", s ? s : "");
    s = db_res_text(r, 0, 2);
    snprintf(job->profile_id, sizeof job->profile_id, "%s", s ? s : "");
    s = db_res_text(r, 0, 3);
    job->payload = xstrdup(s ? s : "{}");
    job->run_at = db_res_ts(r, 0, 4);
    job->every_s = (int)db_res_int(r, 0, 5);
    job->claims = (int)db_res_int(r, 0, 6);
    job->failures = (int)db_res_int(r, 0, 7);
    *got = 1;
  }
  db_res_free(r);
  return 0;
}

static int changed_one(db *d, const char *sql, const db_val *p, int n,
                       db_err *err) {
  db_res *r = NULL;
  if (db_query(d, sql, p, n, &r, err)) return -1;
  int64_t changed = db_res_changes(r);
  db_res_free(r);
  return changed == 1 ? 0 : 1;
}

int jobs_finish(db *d, const jobs_job *job, db_err *err) {
  if (!job || !job->name[0]) return bad_arg(err, "jobs_finish: no job");
  if (!job->every_s) {
    db_val p[] = {db_text(job->name), db_int(job->claims)};
    return changed_one(d, "DELETE FROM jobs WHERE name = $1 AND claims = $2",
                       p, 2, err);
  }
  /* From now, not from run_at: a schedule that fell behind (every worker
   * was down) runs once, not once per missed interval. */
  db_val p[] = {db_ts(time_now_us() + (int64_t)job->every_s * 1000000),
                db_text(job->name), db_int(job->claims)};
  return changed_one(d,
                     "UPDATE jobs SET run_at = $1, failures = 0, claimed_by = "
                     "NULL, lease_until = NULL WHERE name = $2 AND claims = $3",
                     p, 3, err);
}

int jobs_retry(db *d, const jobs_job *job, int delay_s, db_err *err) {
  if (!job || !job->name[0]) return bad_arg(err, "jobs_retry: no job");
  if (delay_s < 0 || delay_s > JOBS_DELAY_MAX_S)
    return bad_arg(err, "jobs_retry: bad delay");
  db_val p[] = {db_ts(time_now_us() + (int64_t)delay_s * 1000000),
                db_text(job->name), db_int(job->claims)};
  return changed_one(d,
                     "UPDATE jobs SET run_at = $1, failures = failures + 1, "
                     "claimed_by = NULL, lease_until = NULL WHERE name = $2 "
                     "AND claims = $3",
                     p, 3, err);
}

int jobs_release(db *d, const jobs_job *job, db_err *err) {
  if (!job || !job->name[0]) return bad_arg(err, "jobs_release: no job");
  db_val p[] = {db_text(job->name), db_int(job->claims)};
  return changed_one(d,
                     "UPDATE jobs SET claimed_by = NULL, lease_until = NULL "
                     "WHERE name = $1 AND claims = $2",
                     p, 2, err);
}

void jobs_job_free(jobs_job *job) {
  if (!job) return;
  free(job->payload);
  memset(job, 0, sizeof *job);
}

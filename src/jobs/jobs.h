/* jobs.h - timers and schedules: work that is due at a time.
 *
 * A job is a row of the `jobs` table, named by whoever made it (a workflow
 * run's wait, "munshi.purge"), so making it twice is harmless. A timer runs
 * once at run_at and is deleted when it has run; a schedule (every_s set)
 * runs again every_s seconds after each run. kind names the handler that
 * runs it (a worker pool maps kinds to callbacks, see worker.h); payload is
 * JSON for the handler.
 *
 * Workers claim due jobs one at a time under a lease, like event batches:
 * on PostgreSQL with FOR UPDATE SKIP LOCKED, so many workers in many
 * processes never wait for each other nor take the same job; on SQLite
 * under the one write lock. A job whose worker died is due again when its
 * lease runs out. `claims` counts every claim and is the claim's fencing
 * token: finishing, retrying or releasing a job only counts while the
 * claim is still the newest. A job may therefore run more than once
 * (at least once); handlers must be idempotent. */
#ifndef MUNSHI_JOBS_JOBS_H
#define MUNSHI_JOBS_JOBS_H

#include <stdint.h>

#include "db/db.h"

#define JOBS_NAME_MAX 200
#define JOBS_KIND_MAX 63

typedef struct jobs_job {
  char name[JOBS_NAME_MAX + 1];
  char kind[JOBS_KIND_MAX + 1];
  char profile_id[37]; /* "" for none */
  char *payload;       /* JSON text, owned (jobs_job_free) */
  int64_t run_at;      /* when it was due, microseconds */
  int every_s;         /* 0: a timer */
  int claims;          /* fencing token of this claim */
  int failures;        /* runs that failed since the last success */
} jobs_job;

/* A timer: runs kind once at run_at (µs). profile_id and payload may be
 * NULL. When a job of that name exists already it is left as it is and
 * *created (may be NULL) is 0. Call inside or outside a transaction (inside
 * one, the timer exists exactly when the caller's change does). */
int jobs_at(db *d, const char *name, const char *kind, const char *profile_id,
            const char *payload, int64_t run_at, int *created, db_err *err);
/* A schedule: runs kind every every_s seconds (1..31 days), first at
 * first_run (µs). When it exists, its interval and kind are updated and
 * its next run is kept. */
int jobs_every(db *d, const char *name, const char *kind, int every_s,
               int64_t first_run, db_err *err);
/* Deletes a job (a timer that is no longer wanted). 0 whether it existed
 * or not. */
int jobs_cancel(db *d, const char *name, db_err *err);

/* Claims one due job for worker (for the logs; may be NULL) with a lease of
 * lease_s seconds: *got is 1 and *job filled (free it with jobs_job_free;
 * *job is overwritten, so free an earlier claim first),
 * or 0 when nothing is due. Runs in autocommit. */
int jobs_claim(db *d, const char *worker, int lease_s, jobs_job *job,
               int *got, db_err *err);
/* The job ran: a timer is deleted, a schedule is due again every_s seconds
 * from now. Returns 0, 1 when the claim no longer holds (the lease ran out
 * and another worker took the job), -1 on a database error. Call it in the
 * transaction of the job's effect to make run-and-finish atomic. */
int jobs_finish(db *d, const jobs_job *job, db_err *err);
/* The job failed: due again after delay_s seconds, failures + 1. Returns
 * as jobs_finish. */
int jobs_retry(db *d, const jobs_job *job, int delay_s, db_err *err);
/* Gives the job back unrun (shutdown): due again at once. Returns as
 * jobs_finish. */
int jobs_release(db *d, const jobs_job *job, db_err *err);
/* Frees the payload and empties the job. Accepts NULL. */
void jobs_job_free(jobs_job *job);

#endif

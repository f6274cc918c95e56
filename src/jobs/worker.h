/* worker.h - the background workers: threads that consume the events
 * outbox and run due timers and schedules.
 *
 * The jobs layer knows no business. The layers above hand it a table of
 * consumers ({name, handler}: the workflow engine, the chat agent, the
 * realtime feed) and of job kinds ({kind, handler}: a workflow's wait, an
 * outbound message's retry); jobs_start registers each consumer in the
 * outbox (a new one starts at the outbox's end) and starts the threads.
 * Each thread has its own database connection and, in turn, claims a batch
 * of each consumer's events and one due job, runs the handlers and marks
 * the work done. Several threads and several processes (`munshi serve`,
 * `munshi worker`) on one database share the work: claims are leased, and a
 * dead worker's claims are taken over when their lease runs out.
 *
 * Handlers run at least once per event or job run (see events.h and
 * jobs.h): a handler that has done its work and dies before it is marked
 * done runs again. Dedupe by event id, or make the effect idempotent.
 *
 * jobs_stop makes every thread finish the event or job in hand, give back
 * what it claimed and has not started (so another worker takes it over at
 * once, not after the lease), close its connection and exit; it returns
 * when all have. The purge ("munshi.purge", purge.h) is a built-in
 * schedule. */
#ifndef MUNSHI_JOBS_WORKER_H
#define MUNSHI_JOBS_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "biz/events.h"
#include "db/db.h"
#include "jobs/jobs.h"

/* Handles one event on the worker's connection d (no transaction open; the
 * handler runs its own). attempts is 1 on the first delivery of the
 * event's batch. Returns 0 when handled; -1 (with err) to have this event
 * and the rest of its batch delivered again after a back-off. */
typedef int (*jobs_event_fn)(void *arg, db *d, const event_row *ev,
                             int attempts, db_err *err);
typedef struct jobs_consumer {
  const char *name; /* 1..EVENT_CONSUMER_MAX characters, unique */
  jobs_event_fn handle;
  void *arg;
} jobs_consumer;

/* Runs one job. Returns 0 when done (the worker then finishes it: a timer
 * is deleted, a schedule set for its next run), -1 to retry after a
 * back-off. */
typedef int (*jobs_job_fn)(void *arg, db *d, const jobs_job *job,
                           db_err *err);
typedef struct jobs_kind {
  const char *kind;
  jobs_job_fn run;
  void *arg;
} jobs_kind;

/* A poller: work kept in tables of its own module (the chat module's raw
 * webhooks and its outbox), claimed by the module itself under its own
 * leases. Called once per worker loop on the worker's connection (no
 * transaction open; stop is nonzero when jobs_stop has begun: finish what
 * is in hand and claim nothing new). Returns how many items it handled
 * (>0 keeps the worker from sleeping), 0 when it found nothing, -1 (with
 * err) after a database error. */
typedef int (*jobs_poll_fn)(void *arg, db *d, const char *worker,
                            db_err *err);
typedef struct jobs_poller {
  const char *name; /* for the logs */
  jobs_poll_fn poll;
  void *arg;
} jobs_poller;

typedef struct jobs_config {
  const char *db_url;
  int workers;               /* threads, 1..64 */
  int lease_s;               /* claims' lease; 0: 60 s */
  int batch;                 /* events per claim; 0: 20 */
  int idle_ms;               /* an idle worker polls this often; 0: 500 ms */
  int64_t event_retention_s; /* the purge keeps events this long; 0: 7 days */
  int64_t idem_ttl_s;        /* and Idempotency-Keys this long; 0: 1 day */
  int purge_every_s;         /* 0: hourly */
  const jobs_consumer *consumers;
  int n_consumers;
  const jobs_kind *kinds;
  int n_kinds;
  const jobs_poller *pollers;
  int n_pollers;
} jobs_config;

typedef struct jobs_pool jobs_pool;

/* Opens a connection per worker, registers the consumers, schedules the
 * purge and starts the threads. The tables in c are used until jobs_stop
 * and must live that long. Returns 0, or -1 with a message in err. */
int jobs_start(const jobs_config *c, jobs_pool **out, char *err,
               size_t errlen);
/* Wakes the idle workers of every pool in this process at once, instead of
 * at their next poll: called after a commit that made work (a stored
 * webhook, a queued message). Cheap; safe from any thread, with or
 * without a pool. Workers of other processes still find the work at their
 * next poll (idle_ms). */
void jobs_wake(void);
/* Stops the workers cleanly (see above), waits for them and frees the
 * pool. Accepts NULL. */
void jobs_stop(jobs_pool *p);

#endif

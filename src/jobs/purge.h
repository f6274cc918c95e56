/* purge.h - deletes what the outbox, Idempotency-Keys and webhook receipts
 * no longer need.
 *
 * Run as the schedule "munshi.purge" by the worker pool (worker.h); also
 * callable on its own. Everything is deleted in bounded steps, each its
 * own short statement, so the purge never holds SQLite's one write lock
 * for long and never makes a long transaction on PostgreSQL. */
#ifndef MUNSHI_JOBS_PURGE_H
#define MUNSHI_JOBS_PURGE_H

#include <stdatomic.h>
#include <stdint.h>

#include "db/db.h"

#define JOBS_PURGE_KIND "munshi.purge"
#define JOBS_PURGE_STEP 500 /* rows per statement */

typedef struct jobs_purge_counts {
  int64_t events;
  int64_t idempotency_keys;
  int64_t webhook_receipts;
} jobs_purge_counts;

/* Deletes events older than event_retention_s that every consumer has
 * passed (events_purge), webhook receipts older than event_retention_s,
 * then Idempotency-Keys older than idem_ttl_s, at
 * most step rows per statement, until none is left or *stop (may be NULL)
 * becomes non-zero. counts (may be NULL) gets how many went. */
int jobs_purge(db *d, int64_t event_retention_s, int64_t idem_ttl_s, int step,
               const atomic_int *stop, jobs_purge_counts *counts,
               db_err *err);

#endif

/* purge.c - the periodic clean-up of the outbox, Idempotency-Keys and
 * webhook receipts (see purge.h).
 *
 * An Idempotency-Key has expired when it is older than the TTL: after that
 * a request with the same key is new again. The stored answer is only kept
 * to replay a retry of the same request, and clients retry within minutes;
 * the TTL (MUNSHI_IDEMPOTENCY_TTL, a day by default) bounds the table. */
#include "jobs/purge.h"

#include <stdio.h>

#include "base/timeutil.h"
#include "biz/events.h"

int jobs_purge(db *d, int64_t event_retention_s, int64_t idem_ttl_s, int step,
               const atomic_int *stop, jobs_purge_counts *counts,
               db_err *err) {
  jobs_purge_counts c = {0, 0, 0};
  int rc = -1;
  int64_t now = time_now_us();
  if (step < 1 || step > 10000 || event_retention_s < 0 || idem_ttl_s < 0) {
    snprintf(err->code, sizeof err->code, "22023");
    snprintf(err->message, sizeof err->message, "jobs_purge: bad arguments");
    goto out;
  }
  for (;;) {
    int64_t n = 0;
    if (stop && atomic_load(stop)) break;
    if (events_purge(d, now - event_retention_s * 1000000, step, &n, err))
      goto out;
    c.events += n;
    if (n < step) break;
  }
  db_val p[] = {db_ts(now - idem_ttl_s * 1000000), db_int(step)};
  for (;;) {
    db_res *r = NULL;
    if (stop && atomic_load(stop)) break;
    if (db_query(d,
                 "DELETE FROM idempotency_keys WHERE (profile_id, key) IN "
                 "(SELECT profile_id, key FROM idempotency_keys WHERE "
                 "created_at < $1 ORDER BY created_at LIMIT $2)",
                 p, 2, &r, err))
      goto out;
    int64_t n = db_res_changes(r);
    db_res_free(r);
    c.idempotency_keys += n;
    if (n < step) break;
  }
  /* Receipts of provider webhooks (webhook_receipts: a delivery's event id
   * seen before). Providers redeliver within a day or so (Razorpay: 24
   * hours), so they live as long as events; a payment or refund redelivered
   * after that is still recorded once, by its provider id. */
  db_val w[] = {db_ts(now - event_retention_s * 1000000), db_int(step)};
  for (;;) {
    db_res *r = NULL;
    if (stop && atomic_load(stop)) break;
    if (db_query(d,
                 "DELETE FROM webhook_receipts WHERE (provider, scope, "
                 "event_id) IN (SELECT provider, scope, event_id FROM "
                 "webhook_receipts WHERE received_at < $1 ORDER BY "
                 "received_at LIMIT $2)",
                 w, 2, &r, err))
      goto out;
    int64_t n = db_res_changes(r);
    db_res_free(r);
    c.webhook_receipts += n;
    if (n < step) break;
  }
  rc = 0;
out:
  if (counts) *counts = c;
  return rc;
}

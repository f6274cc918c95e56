/* test_jobs_timers_db.c - timers and schedules (jobs/jobs.c) and the purge
 * (jobs/purge.c) on SQLite and PostgreSQL (argv[1]).
 *
 * A timer is claimed once it is due and not before, is deleted when it has
 * run, and is claimed again when its worker's lease ran out (the old claim
 * then no longer counts); a schedule comes back every_s after each run; a
 * failure is retried after its delay; concurrent workers never hold one job
 * at once; the purge deletes expired Idempotency-Keys and passed events,
 * and nothing else. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "base/timeutil.h"
#include "biz/events.h"
#include "jobs/jobs.h"
#include "jobs/purge.h"

static db_err err;

#define OK(call)                                                    \
  do {                                                              \
    if ((call) != 0)                                                \
      fail_msg("%s failed: [%s] %s", #call, err.code, err.message); \
  } while (0)

#define SEC 1000000LL

static void expire(db *d, const char *name) {
  db_val p[] = {db_ts(time_now_us() - SEC), db_text(name)};
  OK(db_query(d, "UPDATE jobs SET lease_until = $1 WHERE name = $2", p, 2,
              NULL, &err));
}

static void test_timer(void **state) {
  test_fixture *f = *state;
  int created = -1, got = -1;
  jobs_job j, k;
  int64_t now = time_now_us();
  OK(jobs_at(f->d, "wait:1", "flow.wait", f->profile, "{\"step\": 3}",
             now - SEC, &created, &err));
  assert_int_equal(created, 1);
  /* Made twice: left as it is. */
  OK(jobs_at(f->d, "wait:1", "other", NULL, NULL, now + 99 * SEC, &created,
             &err));
  assert_int_equal(created, 0);
  /* Not due yet: not claimed. */
  OK(jobs_at(f->d, "wait:2", "flow.wait", NULL, NULL, now + 3600 * SEC, NULL,
             &err));
  OK(jobs_claim(f->d, "w1", 60, &j, &got, &err));
  assert_int_equal(got, 1);
  assert_string_equal(j.name, "wait:1");
  assert_string_equal(j.kind, "flow.wait");
  assert_string_equal(j.profile_id, f->profile);
  assert_non_null(strstr(j.payload, "\"step\""));
  assert_int_equal(j.every_s, 0);
  assert_int_equal(j.claims, 1);
  assert_true(j.run_at <= now);
  /* Leased: nobody else gets it. */
  OK(jobs_claim(f->d, "w2", 60, &k, &got, &err));
  assert_int_equal(got, 0);
  /* The lease runs out: w2 takes over; w1's claim no longer counts. */
  expire(f->d, "wait:1");
  OK(jobs_claim(f->d, "w2", 60, &k, &got, &err));
  assert_int_equal(got, 1);
  assert_string_equal(k.name, "wait:1");
  assert_int_equal(k.claims, 2);
  assert_int_equal(jobs_finish(f->d, &j, &err), 1);
  assert_int_equal(jobs_release(f->d, &j, &err), 1);
  assert_int_equal(jobs_finish(f->d, &k, &err), 0);
  assert_int_equal(
      test_count(f->d, "SELECT count(*) FROM jobs WHERE name = $1", "wait:1"), 0);
  jobs_job_free(&k);
  OK(jobs_claim(f->d, "w2", 60, &k, &got, &err));
  assert_int_equal(got, 0);
  /* Cancelled: gone. */
  OK(jobs_cancel(f->d, "wait:2", &err));
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM jobs", NULL), 0);
  jobs_job_free(&j);
  jobs_job_free(&k);
  jobs_job_free(NULL);
}

static void test_schedule_retry_release(void **state) {
  test_fixture *f = *state;
  int got;
  jobs_job j;
  int64_t now = time_now_us();
  OK(jobs_every(f->d, "report", "daily.report", 600, now - SEC, &err));
  OK(jobs_claim(f->d, "w1", 60, &j, &got, &err));
  assert_int_equal(got, 1);
  assert_int_equal(j.every_s, 600);
  /* Run: due again 600 s from now, not deleted. */
  assert_int_equal(jobs_finish(f->d, &j, &err), 0);
  jobs_job_free(&j);
  OK(jobs_claim(f->d, "w1", 60, &j, &got, &err));
  assert_int_equal(got, 0);
  db_val p[] = {db_ts(now + 590 * SEC), db_ts(now + 700 * SEC)};
  assert_int_equal(test_count(f->d,
                         "SELECT count(*) FROM jobs WHERE name = 'report' AND "
                         "lease_until IS NULL AND failures = 0",
                         NULL),
                   1);
  db_res *r = NULL;
  OK(db_query(f->d,
              "SELECT count(*) FROM jobs WHERE run_at > $1 AND run_at < $2",
              p, 2, &r, &err));
  assert_int_equal(db_res_int(r, 0, 0), 1);
  db_res_free(r);
  /* Made again with another interval: updated, its next run kept. */
  OK(jobs_every(f->d, "report", "daily.report", 60, now - SEC, &err));
  OK(jobs_claim(f->d, "w1", 60, &j, &got, &err));
  assert_int_equal(got, 0);
  assert_int_equal(
      test_count(f->d, "SELECT every_s FROM jobs WHERE name = $1", "report"), 60);

  /* A failure: retried after the delay, failures counted. */
  OK(jobs_at(f->d, "t", "k", NULL, NULL, now - SEC, NULL, &err));
  OK(jobs_claim(f->d, "w1", 60, &j, &got, &err));
  assert_string_equal(j.name, "t");
  assert_int_equal(jobs_retry(f->d, &j, 3600, &err), 0);
  jobs_job_free(&j);
  OK(jobs_claim(f->d, "w1", 60, &j, &got, &err));
  assert_int_equal(got, 0);
  assert_int_equal(test_count(f->d, "SELECT failures FROM jobs WHERE name = $1",
                         "t"),
                   1);
  /* Released at shutdown: due again at once. */
  OK(jobs_at(f->d, "u", "k", NULL, NULL, now - SEC, NULL, &err));
  OK(jobs_claim(f->d, "w1", 60, &j, &got, &err));
  assert_string_equal(j.name, "u");
  assert_int_equal(jobs_release(f->d, &j, &err), 0);
  jobs_job_free(&j);
  OK(jobs_claim(f->d, "w2", 60, &j, &got, &err));
  assert_int_equal(got, 1);
  assert_string_equal(j.name, "u");
  assert_int_equal(j.claims, 2);
  jobs_job_free(&j);
  /* Bad arguments. */
  assert_int_equal(jobs_every(f->d, "x", "k", 0, now, &err), -1);
  assert_string_equal(err.code, "22023");
  assert_int_equal(jobs_at(f->d, "", "k", NULL, NULL, now, NULL, &err), -1);
  assert_int_equal(jobs_claim(f->d, "w", 0, &j, &got, &err), -1);
}

enum { JOBS = 60, THREADS = 4 };

struct claimer {
  const test_fixture *f;
  int index, n;
  char names[JOBS][32];
  char error[400];
};

static void *claim_all(void *arg) {
  struct claimer *c = arg;
  db *d;
  db_err e;
  if (db_open(c->f->url, &d, &e)) {
    snprintf(c->error, sizeof c->error, "open: %s", e.message);
    return NULL;
  }
  int busy = 0;
  for (;;) {
    jobs_job j;
    int got;
    if (jobs_claim(d, "w", 60, &j, &got, &e)) {
      if (!strcmp(e.code, "40001") && ++busy < 100) continue;
      snprintf(c->error, sizeof c->error, "claim: [%s] %s", e.code, e.message);
      break;
    }
    if (!got) break;
    if (c->n < JOBS) snprintf(c->names[c->n++], 32, "%.31s", j.name);
    int rc;
    while ((rc = jobs_finish(d, &j, &e)) < 0 && !strcmp(e.code, "40001") &&
           ++busy < 100) {
    }
    if (rc != 0)
      snprintf(c->error, sizeof c->error, "finish: %d [%s] %s", rc, e.code,
               e.message);
    jobs_job_free(&j);
    if (c->error[0]) break;
  }
  db_close(d);
  return NULL;
}

static void test_concurrent_claims(void **state) {
  test_fixture *f = *state;
  int64_t now = time_now_us();
  for (int i = 0; i < JOBS; i++) {
    char name[32];
    snprintf(name, sizeof name, "job:%03d", i);
    OK(jobs_at(f->d, name, "k", NULL, NULL, now - SEC, NULL, &err));
  }
  struct claimer *c = calloc(THREADS, sizeof *c);
  assert_non_null(c);
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++) {
    c[i].f = f;
    c[i].index = i;
    assert_int_equal(pthread_create(&t[i], NULL, claim_all, &c[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  int seen[JOBS] = {0}, total = 0;
  for (int i = 0; i < THREADS; i++) {
    if (c[i].error[0]) fail_msg("claimer %d: %s", i, c[i].error);
    for (int k = 0; k < c[i].n; k++) {
      seen[strtol(c[i].names[k] + 4, NULL, 10)]++;
      total++;
    }
  }
  free(c);
  assert_int_equal(total, JOBS);
  for (int i = 0; i < JOBS; i++) assert_int_equal(seen[i], 1);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM jobs", NULL), 0);
}

static void idem_row(db *d, const char *profile, const char *key,
                     int64_t created) {
  db_val p[] = {db_uuid(profile), db_text(key), db_ts(created)};
  OK(db_query(d,
              "INSERT INTO idempotency_keys (profile_id, key, operation, "
              "request_hash, status, response, created_at) VALUES ($1, $2, "
              "'op', 'h', 200, '{}', $3)",
              p, 3, NULL, &err));
}

static void test_purge(void **state) {
  test_fixture *f = *state;
  int64_t now = time_now_us();
  /* Five expired keys, two fresh ones. */
  for (int i = 0; i < 5; i++) {
    char key[16];
    snprintf(key, sizeof key, "old-%d", i);
    idem_row(f->d, f->profile, key, now - 2 * 86400 * SEC);
  }
  idem_row(f->d, f->profile, "new-1", now - 3600 * SEC);
  idem_row(f->d, f->profile, "new-2", now);
  /* Events: a consumer that has handled the first two and not the rest. */
  OK(events_consumer_add(f->d, "c", NULL, &err));
  char ids[4][UUID_STR_LEN + 1];
  for (int k = 0; k < 4; k++) {
    char entity[UUID_STR_LEN + 1];
    uuid_v7(entity);
    OK(db_begin(f->d, 1, &err));
    OK(event_emit(f->d, f->profile, "x.y", "x", entity, "{}", ids[k], &err));
    OK(db_commit(f->d, &err));
  }
  event_batch b = {0};
  OK(events_claim(f->d, "c", "w", 2, 60, &b, &err));
  assert_int_equal(events_done(f->d, &b, &err), 0);
  events_batch_free(&b);
  /* Retention 0: every passed event is old enough. Steps of 2 rows. */
  jobs_purge_counts n;
  OK(jobs_purge(f->d, 0, 86400, 2, NULL, &n, &err));
  assert_int_equal(n.webhook_receipts, 0);
  assert_int_equal(n.idempotency_keys, 5);
  assert_int_equal(n.events, 2);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM idempotency_keys", NULL),
                   2);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM events WHERE id = $1",
                         ids[2]),
                   1);
  /* Webhook receipts: three from two days ago, one fresh. */
  for (int i = 0; i < 4; i++) {
    char ev[16];
    snprintf(ev, sizeof ev, "evt_%d", i);
    db_val w[] = {db_text(ev), db_ts(i < 3 ? now - 2 * 86400 * SEC : now)};
    OK(db_query(f->d,
                "INSERT INTO webhook_receipts (provider, scope, event_id, "
                "received_at) VALUES ('razorpay', 'global', $1, $2)",
                w, 2, NULL, &err));
  }
  /* A day's retention: the three old ones go (two steps), the fresh stays. */
  OK(jobs_purge(f->d, 86400, 60, 2, NULL, &n, &err));
  assert_int_equal(n.events, 0);
  assert_int_equal(n.webhook_receipts, 3);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM webhook_receipts", NULL), 1);
  assert_int_equal(n.idempotency_keys, 1);
  /* A stop flag stops it at once. */
  atomic_int stop;
  atomic_init(&stop, 1);
  OK(jobs_purge(f->d, 0, 0, 2, &stop, &n, &err));
  assert_int_equal(n.events + n.idempotency_keys, 0);
  assert_int_equal(jobs_purge(f->d, 0, 0, 0, NULL, &n, &err), -1);
}

int main(int argc, char **argv) {
  test_backend_from_args(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_timer, test_fixture_setup, test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_schedule_retry_release, test_fixture_setup,
                                      test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_claims, test_fixture_setup, test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_purge, test_fixture_setup, test_fixture_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

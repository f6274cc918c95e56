/* test_biz_events_db.c - the events outbox and its per-consumer queues
 * (biz/events.c) on SQLite and PostgreSQL (argv[1]).
 *
 * What a consumer relies on: an event exists exactly when the transaction
 * that wrote it committed; every consumer gets its own delivery; claims come
 * oldest first; a delivery is handed to one worker at a time, also when
 * several workers on their own connections claim at once (on PostgreSQL
 * that is FOR UPDATE SKIP LOCKED at work); done deliveries stay done; and a
 * claim whose lease ran out is handed out again, fenced by its attempt
 * number. Each test gets a fresh database with one tenant. */
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
#include "base/uuid.h"
#include "biz/events.h"
#include "db/db.h"

static db_err err;

#define OK(call)                                                    \
  do {                                                              \
    if ((call) != 0)                                                \
      fail_msg("%s failed: [%s] %s", #call, err.code, err.message); \
  } while (0)

struct fixture {
  db *d;
  char url[4096]; /* for more connections to the same database */
  char profile[UUID_STR_LEN + 1];
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  if (!f) return -1;
  f->d = test_db_open_migrated(NULL);
  snprintf(f->url, sizeof f->url, "%s", test_db_url());
  /* A tenant for the foreign keys: a user and its profile. */
  test_tenant(f->d, NULL, f->profile);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  test_db_close(f->d);
  free(f);
  return 0;
}

static int64_t count(db *d, const char *sql, const char *arg) {
  db_val p[] = {db_text(arg)};
  db_res *r = NULL;
  OK(db_query(d, sql, p, arg ? 1 : 0, &r, &err));
  int64_t v = db_res_int(r, 0, 0);
  db_res_free(r);
  return v;
}

/* Emits one event in its own transaction; its id goes to id. */
static void emit_one(struct fixture *f, int k, char id[UUID_STR_LEN + 1]) {
  char entity[UUID_STR_LEN + 1], payload[64];
  uuid_v7(entity);
  snprintf(payload, sizeof payload, "{\"k\": %d}", k);
  OK(db_begin(f->d, 1, &err));
  OK(event_emit(f->d, f->profile, "invoice.created", "invoice", entity,
                payload, id, &err));
  OK(db_commit(f->d, &err));
}

/* Sets every lease of consumer to have ended a second ago. */
static void expire_leases(struct fixture *f, const char *consumer) {
  db_val p[] = {db_ts(time_now_us() - 1000000), db_text(consumer)};
  OK(db_query(f->d,
              "UPDATE event_deliveries SET claimed_until = $1 "
              "WHERE consumer = $2 AND status = 'claimed'",
              p, 2, NULL, &err));
}

static void test_emit_rollback_leaves_nothing(void **state) {
  struct fixture *f = *state;
  char entity[UUID_STR_LEN + 1], id[UUID_STR_LEN + 1];
  uuid_v7(entity);
  OK(db_begin(f->d, 1, &err));
  OK(event_emit(f->d, f->profile, "customer.created", "customer", entity,
                "{}", id, &err));
  assert_int_equal(count(f->d, "SELECT count(*) FROM event_deliveries", NULL),
                   2);
  db_rollback(f->d);
  assert_int_equal(count(f->d, "SELECT count(*) FROM events", NULL), 0);
  assert_int_equal(count(f->d, "SELECT count(*) FROM event_deliveries", NULL),
                   0);
  event_row *ev;
  int n;
  OK(events_claim(f->d, "workflow", "w", 10, 60, &ev, &n, &err));
  assert_int_equal(n, 0);
  assert_null(ev);
}

static void test_emit_commit_one_delivery_per_consumer(void **state) {
  struct fixture *f = *state;
  char entity[UUID_STR_LEN + 1], id[UUID_STR_LEN + 1], norm[UUID_STR_LEN + 1];
  uuid_v7(entity);
  OK(db_begin(f->d, 1, &err));
  OK(event_emit(f->d, f->profile, "product.created", "product", entity,
                "{\"name\": \"Rice\"}", id, &err));
  OK(db_commit(f->d, &err));
  assert_int_equal(uuid_normalize(id, norm), 0);
  assert_string_equal(id, norm);
  assert_int_equal(count(f->d, "SELECT count(*) FROM events WHERE id = $1", id),
                   1);
  static const char *const consumers[] = EVENT_CONSUMERS;
  int nc = (int)(sizeof consumers / sizeof consumers[0]);
  assert_int_equal(count(f->d, "SELECT count(*) FROM event_deliveries", NULL),
                   nc);
  for (int i = 0; i < nc; i++)
    assert_int_equal(
        count(f->d,
              "SELECT count(*) FROM event_deliveries WHERE consumer = $1 "
              "AND status = 'pending' AND attempts = 0",
              consumers[i]),
        1);
  /* A NULL id_out is allowed; a bad entity id is the database's 22P02. */
  OK(db_begin(f->d, 1, &err));
  OK(event_emit(f->d, f->profile, "product.created", "product", entity, NULL,
                NULL, &err));
  assert_int_equal(event_emit(f->d, f->profile, "x", "product", "nope", "{}",
                              NULL, &err),
                   -1);
  assert_string_equal(err.code, "22P02");
  db_rollback(f->d);
}

static void test_claim_oldest_first(void **state) {
  struct fixture *f = *state;
  enum { N = 7 };
  char ids[N][UUID_STR_LEN + 1];
  for (int k = 0; k < N; k++) emit_one(f, k, ids[k]);

  event_row *ev;
  int n, seen = 0;
  int64_t last = 0;
  /* Batches of 3, 3, 1, then nothing: in emit order throughout. */
  for (int batch = 0; batch < 4; batch++) {
    OK(events_claim(f->d, "workflow", "w1", 3, 60, &ev, &n, &err));
    assert_int_equal(n, batch < 2 ? 3 : batch == 2 ? 1 : 0);
    for (int i = 0; i < n; i++, seen++) {
      assert_string_equal(ev[i].id, ids[seen]);
      assert_string_equal(ev[i].profile_id, f->profile);
      assert_string_equal(ev[i].event_type, "invoice.created");
      assert_string_equal(ev[i].entity_type, "invoice");
      assert_int_equal(ev[i].attempts, 1);
      assert_true(ev[i].created_at >= last);
      last = ev[i].created_at;
      /* jsonb may respace the payload; read the number back. */
      assert_non_null(strstr(ev[i].payload, "\"k\""));
      const char *colon = strchr(ev[i].payload, ':');
      assert_non_null(colon);
      assert_int_equal(strtol(colon + 1, NULL, 10), seen);
    }
    events_free(ev, n);
  }
  assert_int_equal(seen, N);
  /* The other consumer has its own queue, untouched by the first. */
  OK(events_claim(f->d, "agent", "a1", 100, 60, &ev, &n, &err));
  assert_int_equal(n, N);
  for (int i = 0; i < n; i++) assert_string_equal(ev[i].id, ids[i]);
  events_free(ev, n);
  /* Claimed and leased: not handed out again. */
  OK(events_claim(f->d, "agent", "a2", 100, 60, &ev, &n, &err));
  assert_int_equal(n, 0);
  events_free(ev, n);
}

static void test_done_not_reclaimed(void **state) {
  struct fixture *f = *state;
  char id[UUID_STR_LEN + 1];
  emit_one(f, 1, id);
  event_row *ev;
  int n;
  OK(events_claim(f->d, "workflow", "w1", 10, 60, &ev, &n, &err));
  assert_int_equal(n, 1);
  assert_int_equal(events_done(f->d, "workflow", &ev[0], &err), 0);
  /* Done twice: nothing left to mark. */
  assert_int_equal(events_done(f->d, "workflow", &ev[0], &err), 1);
  events_free(ev, n);
  assert_int_equal(count(f->d,
                         "SELECT count(*) FROM event_deliveries WHERE "
                         "status = 'done' AND done_at IS NOT NULL AND "
                         "consumer = $1",
                         "workflow"),
                   1);
  /* Even with its lease long over, a done delivery stays done. */
  db_val p[] = {db_ts(time_now_us() - 1000000)};
  OK(db_query(f->d, "UPDATE event_deliveries SET claimed_until = $1", p, 1,
              NULL, &err));
  OK(events_claim(f->d, "workflow", "w2", 10, 60, &ev, &n, &err));
  assert_int_equal(n, 0);
  events_free(ev, n);
}

static void test_expired_lease_reclaimed(void **state) {
  struct fixture *f = *state;
  char id[UUID_STR_LEN + 1];
  emit_one(f, 1, id);
  event_row *first, *again, *ev;
  int n1, n2, n;
  OK(events_claim(f->d, "workflow", "w1", 10, 60, &first, &n1, &err));
  assert_int_equal(n1, 1);
  assert_int_equal(first[0].attempts, 1);
  expire_leases(f, "workflow");
  OK(events_claim(f->d, "workflow", "w2", 10, 60, &again, &n2, &err));
  assert_int_equal(n2, 1);
  assert_string_equal(again[0].id, id);
  assert_int_equal(again[0].attempts, 2);
  assert_int_equal(count(f->d,
                         "SELECT count(*) FROM event_deliveries WHERE "
                         "claimed_by = $1 AND attempts = 2",
                         "w2"),
                   1);
  /* The first worker overran its lease: its claim no longer counts. */
  assert_int_equal(events_done(f->d, "workflow", &first[0], &err), 1);
  assert_int_equal(events_done(f->d, "workflow", &again[0], &err), 0);
  expire_leases(f, "workflow");
  OK(events_claim(f->d, "workflow", "w3", 10, 60, &ev, &n, &err));
  assert_int_equal(n, 0);
  events_free(ev, n);
  events_free(first, n1);
  events_free(again, n2);
}

static void test_claim_arguments(void **state) {
  struct fixture *f = *state;
  event_row *ev = (event_row *)1;
  int n = 5;
  assert_int_equal(events_claim(f->d, "workflow", "w", 0, 60, &ev, &n, &err),
                   -1);
  assert_string_equal(err.code, "22023");
  assert_null(ev);
  assert_int_equal(n, 0);
  assert_int_equal(events_claim(f->d, "workflow", "w", 10, 0, &ev, &n, &err),
                   -1);
  assert_int_equal(events_claim(f->d, NULL, "w", 10, 60, &ev, &n, &err), -1);
  /* A worker name is optional. */
  OK(events_claim(f->d, "workflow", NULL, 10, 60, &ev, &n, &err));
  events_free(ev, n);
  events_free(NULL, 0);
}

/* ---- concurrent workers ---- */

enum { EVENTS = 300, WORKERS = 4, BATCH = 7 };

struct worker {
  const struct fixture *f;
  int index;
  char ids[2][EVENTS * 2][UUID_STR_LEN + 1]; /* per consumer */
  int n[2];
  int batches;
  char error[300]; /* "" when all went well */
};

static void *work(void *arg) {
  struct worker *w = arg;
  static const char *const consumers[] = {"workflow", "agent"};
  db *d = NULL;
  db_err e;
  char name[16];
  snprintf(name, sizeof name, "w%d", w->index);
  if (db_open(w->f->url, &d, &e)) {
    snprintf(w->error, sizeof w->error, "open: %s", e.message);
    return NULL;
  }
  int empty[2] = {0, 0}, busy = 0;
  /* Start on different queues, so both are contended from the first claim. */
  for (int turn = w->index; !(empty[0] && empty[1]); turn++) {
    int c = turn % 2;
    if (empty[c]) continue;
    event_row *ev;
    int n;
    if (events_claim(d, consumers[c], name, BATCH, 60, &ev, &n, &e)) {
      /* SQLite's write lock timed out: try again, a bounded number of
       * times. */
      if (!strcmp(e.code, "40001") && ++busy < 100) continue;
      snprintf(w->error, sizeof w->error, "claim: [%s] %s", e.code, e.message);
      break;
    }
    w->batches++;
    if (n == 0) empty[c] = 1;
    for (int i = 0; i < n; i++) {
      if (w->n[c] >= EVENTS * 2) {
        snprintf(w->error, sizeof w->error, "too many claims");
        break;
      }
      memcpy(w->ids[c][w->n[c]++], ev[i].id, UUID_STR_LEN + 1);
      if (i > 0 && ev[i].created_at < ev[i - 1].created_at)
        snprintf(w->error, sizeof w->error, "batch out of order");
      int rc = events_done(d, consumers[c], &ev[i], &e);
      if (rc != 0)
        snprintf(w->error, sizeof w->error, "done: rc %d [%s] %s", rc,
                 e.code, e.message);
    }
    events_free(ev, n);
    if (w->error[0]) break;
  }
  db_close(d);
  return NULL;
}

static int cmp_id(const void *a, const void *b) {
  return strcmp(a, b);
}

static void test_concurrent_claims_exactly_once(void **state) {
  struct fixture *f = *state;
  static char ids[EVENTS][UUID_STR_LEN + 1];
  /* Many events per transaction, as a busy operation would write them. */
  for (int k = 0; k < EVENTS;) {
    OK(db_begin(f->d, 1, &err));
    for (int j = 0; j < 50 && k < EVENTS; j++, k++) {
      char entity[UUID_STR_LEN + 1];
      uuid_v7(entity);
      OK(event_emit(f->d, f->profile, "payment.received", "payment", entity,
                    "{}", ids[k], &err));
    }
    OK(db_commit(f->d, &err));
  }
  qsort(ids, EVENTS, sizeof ids[0], cmp_id);

  struct worker *w = calloc(WORKERS, sizeof *w);
  assert_non_null(w);
  pthread_t t[WORKERS];
  for (int i = 0; i < WORKERS; i++) {
    w[i].f = f;
    w[i].index = i;
    assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
  }
  for (int i = 0; i < WORKERS; i++) pthread_join(t[i], NULL);

  static char got[EVENTS * 2][UUID_STR_LEN + 1];
  for (int c = 0; c < 2; c++) {
    int total = 0;
    for (int i = 0; i < WORKERS; i++) {
      if (w[i].error[0]) fail_msg("worker %d: %s", i, w[i].error);
      for (int j = 0; j < w[i].n[c]; j++)
        memcpy(got[total++], w[i].ids[c][j], UUID_STR_LEN + 1);
    }
    /* Exactly once: as many claims as events, and every event among them
     * (so none twice). */
    assert_int_equal(total, EVENTS);
    qsort(got, (size_t)total, sizeof got[0], cmp_id);
    for (int k = 0; k < EVENTS; k++) assert_string_equal(got[k], ids[k]);
  }
  int busy = 0;
  for (int i = 0; i < WORKERS; i++) busy += w[i].n[0] + w[i].n[1] > 0;
  print_message("%d of %d workers claimed events\n", busy, WORKERS);
  free(w);
  assert_int_equal(count(f->d,
                         "SELECT count(*) FROM event_deliveries WHERE "
                         "status = $1 AND attempts = 1",
                         "done"),
                   EVENTS * 2);
}

int main(int argc, char **argv) {
  test_backend_from_args(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_emit_rollback_leaves_nothing, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_emit_commit_one_delivery_per_consumer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_claim_oldest_first, setup, teardown),
      cmocka_unit_test_setup_teardown(test_done_not_reclaimed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_expired_lease_reclaimed, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_claim_arguments, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_claims_exactly_once,
                                      setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_biz_events_db.c - the events outbox and its consumers' cursors
 * (biz/events.c) on SQLite and PostgreSQL (argv[1]).
 *
 * What a consumer relies on: an event exists exactly when the transaction
 * that wrote it committed, as one row whoever reads it; a consumer sees the
 * events written after it was registered and none before; batches come in
 * order; a batch is handed to one worker at a time, also when several
 * workers on their own connections claim at once; a batch whose lease ran
 * out is handed out again, fenced by its attempt number; what a worker gives
 * back comes again from where it stopped; on PostgreSQL an event whose
 * transaction commits after a later one was consumed still arrives; and the
 * purge deletes only what every consumer has passed. Each test gets a fresh
 * database with one tenant. */
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

/* Emits one event in its own transaction; its id goes to id. */
static void emit_one(test_fixture *f, int k, char id[UUID_STR_LEN + 1]) {
  char entity[UUID_STR_LEN + 1], payload[64];
  uuid_v7(entity);
  snprintf(payload, sizeof payload, "{\"k\": %d}", k);
  OK(db_begin(f->d, 1, &err));
  OK(event_emit(f->d, f->profile, "invoice.created", "invoice", entity,
                payload, id, &err));
  OK(db_commit(f->d, &err));
}

/* Sets every lease of consumer's batches to have ended a second ago. */
static void expire_leases(test_fixture *f, const char *consumer) {
  db_val p[] = {db_ts(time_now_us() - 1000000), db_text(consumer)};
  OK(db_query(f->d,
              "UPDATE event_batches SET lease_until = $1 WHERE consumer = $2",
              p, 2, NULL, &err));
}

static void add_consumer(db *d, const char *name, int want_created) {
  int created = -1;
  OK(events_consumer_add(d, name, &created, &err));
  assert_int_equal(created, want_created);
}

static void test_emit_rollback_leaves_nothing(void **state) {
  test_fixture *f = *state;
  char entity[UUID_STR_LEN + 1], id[UUID_STR_LEN + 1];
  add_consumer(f->d, "workflow", 1);
  uuid_v7(entity);
  OK(db_begin(f->d, 1, &err));
  OK(event_emit(f->d, f->profile, "customer.created", "customer", entity,
                "{}", id, &err));
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM events", NULL), 1);
  db_rollback(f->d);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM events", NULL), 0);
  event_batch b = {0};
  OK(events_claim(f->d, "workflow", "w", 10, 60, &b, &err));
  assert_int_equal(b.n, 0);
  assert_null(b.rows);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM event_batches", NULL), 0);
}

static void test_emit_writes_one_row(void **state) {
  test_fixture *f = *state;
  char entity[UUID_STR_LEN + 1], id[UUID_STR_LEN + 1], norm[UUID_STR_LEN + 1];
  add_consumer(f->d, "workflow", 1);
  add_consumer(f->d, "agent", 1);
  uuid_v7(entity);
  OK(db_begin(f->d, 1, &err));
  OK(event_emit(f->d, f->profile, "product.created", "product", entity,
                "{\"name\": \"Rice\"}", id, &err));
  OK(db_commit(f->d, &err));
  assert_int_equal(uuid_normalize(id, norm), 0);
  assert_string_equal(id, norm);
  /* One row, whatever the number of consumers; no other table grew. */
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM events WHERE id = $1", id),
                   1);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM events", NULL), 1);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM event_batches", NULL), 0);
  assert_int_equal(
      test_count(f->d, "SELECT count(*) FROM events WHERE seq IS NULL OR seq <= 0", NULL), 0);
  /* A NULL id_out and payload are allowed; a bad entity id is the
   * database's 22P02. */
  OK(db_begin(f->d, 1, &err));
  OK(event_emit(f->d, f->profile, "product.created", "product", entity, NULL,
                NULL, &err));
  assert_int_equal(event_emit(f->d, f->profile, "x", "product", "nope", "{}",
                              NULL, &err),
                   -1);
  assert_string_equal(err.code, "22P02");
  db_rollback(f->d);
}

static void test_consumer_starts_at_the_end(void **state) {
  test_fixture *f = *state;
  char old[3][UUID_STR_LEN + 1], later[2][UUID_STR_LEN + 1];
  add_consumer(f->d, "early", 1);
  for (int k = 0; k < 3; k++) emit_one(f, k, old[k]);
  add_consumer(f->d, "late", 1);
  for (int k = 0; k < 2; k++) emit_one(f, 10 + k, later[k]);
  /* Registering again changes nothing, also not the cursor. */
  add_consumer(f->d, "late", 0);
  event_batch b = {0};
  OK(events_claim(f->d, "late", "w", 100, 60, &b, &err));
  assert_int_equal(b.n, 2);
  assert_string_equal(b.rows[0].id, later[0]);
  assert_string_equal(b.rows[1].id, later[1]);
  OK(events_done(f->d, &b, &err) == 0 ? 0 : -1);
  OK(events_claim(f->d, "early", "w", 100, 60, &b, &err));
  assert_int_equal(b.n, 5);
  assert_string_equal(b.rows[0].id, old[0]);
  assert_string_equal(b.rows[4].id, later[1]);
  events_batch_free(&b);
  /* An unknown consumer is refused, as are bad names. */
  assert_int_equal(events_claim(f->d, "nobody", "w", 10, 60, &b, &err), -1);
  assert_string_equal(err.code, "22023");
  assert_int_equal(events_consumer_add(f->d, "", NULL, &err), -1);
  char longname[80];
  memset(longname, 'x', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  assert_int_equal(events_consumer_add(f->d, longname, NULL, &err), -1);
  /* Dropped, its batches go with it. */
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM event_batches", NULL), 1);
  OK(events_consumer_drop(f->d, "early", &err));
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM event_batches", NULL), 0);
  assert_int_equal(events_claim(f->d, "early", "w", 10, 60, &b, &err), -1);
}

static void test_claim_in_order(void **state) {
  test_fixture *f = *state;
  enum { N = 7 };
  char ids[N][UUID_STR_LEN + 1];
  add_consumer(f->d, "workflow", 1);
  add_consumer(f->d, "agent", 1);
  for (int k = 0; k < N; k++) emit_one(f, k, ids[k]);

  event_batch b = {0};
  int seen = 0;
  int64_t last_seq = 0;
  /* Batches of 3, 3, 1, then nothing: in emit order throughout. */
  for (int batch = 0; batch < 4; batch++) {
    OK(events_claim(f->d, "workflow", "w1", 3, 60, &b, &err));
    assert_int_equal(b.n, batch < 2 ? 3 : batch == 2 ? 1 : 0);
    if (b.n) assert_int_equal(b.attempts, 1);
    for (int i = 0; i < b.n; i++, seen++) {
      assert_string_equal(b.rows[i].id, ids[seen]);
      assert_string_equal(b.rows[i].profile_id, f->profile);
      assert_string_equal(b.rows[i].event_type, "invoice.created");
      assert_string_equal(b.rows[i].entity_type, "invoice");
      assert_true(b.rows[i].seq > last_seq);
      last_seq = b.rows[i].seq;
      /* jsonb may respace the payload; read the number back. */
      const char *colon = strchr(b.rows[i].payload, ':');
      assert_non_null(colon);
      assert_int_equal(strtol(colon + 1, NULL, 10), seen);
    }
    /* Not done yet: the next claim still moves on (the cursor passed
     * them when they were handed out). */
  }
  events_batch_free(&b);
  assert_int_equal(seen, N);
  assert_int_equal(test_count(f->d,
                         "SELECT count(*) FROM event_batches WHERE consumer = "
                         "$1",
                         "workflow"),
                   3);
  /* The other consumer has its own cursor, untouched by the first. */
  OK(events_claim(f->d, "agent", "a1", 100, 60, &b, &err));
  assert_int_equal(b.n, N);
  for (int i = 0; i < b.n; i++) assert_string_equal(b.rows[i].id, ids[i]);
  assert_int_equal(events_done(f->d, &b, &err), 0);
  /* Done twice: the claim is gone. */
  assert_int_equal(events_done(f->d, &b, &err), 1);
  /* Claimed and leased or done: nothing is handed out again. */
  OK(events_claim(f->d, "agent", "a2", 100, 60, &b, &err));
  assert_int_equal(b.n, 0);
  OK(events_claim(f->d, "workflow", "w2", 100, 60, &b, &err));
  assert_int_equal(b.n, 0);
  events_batch_free(&b);
}

static void test_expired_lease_reclaimed(void **state) {
  test_fixture *f = *state;
  char ids[3][UUID_STR_LEN + 1];
  add_consumer(f->d, "workflow", 1);
  for (int k = 0; k < 3; k++) emit_one(f, k, ids[k]);
  event_batch first = {0}, again = {0}, b = {0};
  OK(events_claim(f->d, "workflow", "w1", 10, 60, &first, &err));
  assert_int_equal(first.n, 3);
  assert_int_equal(first.attempts, 1);
  /* Leased: another worker gets nothing. */
  OK(events_claim(f->d, "workflow", "w2", 10, 60, &b, &err));
  assert_int_equal(b.n, 0);
  /* Newer events go to another worker while the first holds its batch. */
  char more[UUID_STR_LEN + 1];
  emit_one(f, 3, more);
  OK(events_claim(f->d, "workflow", "w2", 10, 60, &b, &err));
  assert_int_equal(b.n, 1);
  assert_string_equal(b.rows[0].id, more);
  assert_int_equal(events_done(f->d, &b, &err), 0);

  expire_leases(f, "workflow");
  OK(events_claim(f->d, "workflow", "w2", 10, 60, &again, &err));
  assert_int_equal(again.n, 3);
  assert_string_equal(again.id, first.id);
  assert_int_equal(again.attempts, 2);
  for (int k = 0; k < 3; k++) assert_string_equal(again.rows[k].id, ids[k]);
  assert_int_equal(test_count(f->d,
                         "SELECT count(*) FROM event_batches WHERE "
                         "claimed_by = $1 AND attempts = 2",
                         "w2"),
                   1);
  /* The first worker overran its lease: its claim no longer counts. */
  assert_int_equal(events_done(f->d, &first, &err), 1);
  assert_int_equal(events_release(f->d, &first, 1, 0, &err), 1);
  assert_int_equal(events_done(f->d, &again, &err), 0);
  expire_leases(f, "workflow");
  OK(events_claim(f->d, "workflow", "w3", 10, 60, &b, &err));
  assert_int_equal(b.n, 0);
  events_batch_free(&b);
  events_batch_free(&first);
  events_batch_free(&again);
}

static void test_release_gives_back_the_rest(void **state) {
  test_fixture *f = *state;
  char ids[4][UUID_STR_LEN + 1];
  add_consumer(f->d, "workflow", 1);
  for (int k = 0; k < 4; k++) emit_one(f, k, ids[k]);
  event_batch b = {0};
  OK(events_claim(f->d, "workflow", "w1", 10, 60, &b, &err));
  assert_int_equal(b.n, 4);
  /* Two handled, then a stop: the other two come again at once. */
  assert_int_equal(events_release(f->d, &b, 2, 0, &err), 0);
  OK(events_claim(f->d, "workflow", "w2", 10, 60, &b, &err));
  assert_int_equal(b.n, 2);
  assert_string_equal(b.rows[0].id, ids[2]);
  assert_string_equal(b.rows[1].id, ids[3]);
  assert_int_equal(b.attempts, 2);
  /* A failure: given back after a delay, not before. */
  assert_int_equal(events_release(f->d, &b, 1, 3600, &err), 0);
  event_batch c = {0};
  OK(events_claim(f->d, "workflow", "w3", 10, 60, &c, &err));
  assert_int_equal(c.n, 0);
  expire_leases(f, "workflow");
  OK(events_claim(f->d, "workflow", "w3", 10, 60, &c, &err));
  assert_int_equal(c.n, 1);
  assert_string_equal(c.rows[0].id, ids[3]);
  /* All handled: release is done. */
  assert_int_equal(events_release(f->d, &c, 1, 0, &err), 0);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM event_batches", NULL), 0);
  assert_int_equal(events_release(f->d, &c, 2, 0, &err), -1);
  assert_string_equal(err.code, "22023");
  events_batch_free(&b);
  events_batch_free(&c);
}

static void test_claim_arguments(void **state) {
  test_fixture *f = *state;
  add_consumer(f->d, "workflow", 1);
  event_batch b = {0};
  assert_int_equal(events_claim(f->d, "workflow", "w", 0, 60, &b, &err), -1);
  assert_string_equal(err.code, "22023");
  assert_int_equal(b.n, 0);
  assert_int_equal(events_claim(f->d, "workflow", "w", 1001, 60, &b, &err), -1);
  assert_int_equal(events_claim(f->d, "workflow", "w", 10, 0, &b, &err), -1);
  assert_int_equal(events_claim(f->d, NULL, "w", 10, 60, &b, &err), -1);
  assert_int_equal(events_done(f->d, &b, &err), -1);
  /* A worker name is optional. */
  OK(events_claim(f->d, "workflow", NULL, 10, 60, &b, &err));
  events_batch_free(&b);
  events_batch_free(NULL);
}

/* PostgreSQL hands out seq numbers at insert, so they are not commit order.
 * A begins and emits (lower seq), B emits and commits (higher seq) while A
 * is open: a cursor that moved past B's event would lose A's. */
static void test_out_of_order_commit(void **state) {
  test_fixture *f = *state;
  if (strcmp(test_backend(), "postgres")) {
    print_message("one writer at a time on SQLite: commit order is seq "
                  "order; see the concurrent test\n");
    return;
  }
  add_consumer(f->d, "workflow", 1);
  db *a, *bconn;
  OK(db_open(f->url, &a, &err));
  OK(db_open(f->url, &bconn, &err));
  char ea[UUID_STR_LEN + 1], eb[UUID_STR_LEN + 1], ea2[UUID_STR_LEN + 1];
  char entity[UUID_STR_LEN + 1];
  uuid_v7(entity);
  OK(db_begin(a, 1, &err));
  OK(event_emit(a, f->profile, "invoice.created", "invoice", entity, "{}", ea,
                &err));
  OK(db_begin(bconn, 1, &err));
  OK(event_emit(bconn, f->profile, "payment.received", "payment", entity,
                "{}", eb, &err));
  OK(db_commit(bconn, &err));
  /* B's event is visible, A's not yet: the claim must not move past A. */
  event_batch b = {0};
  char got[4][UUID_STR_LEN + 1];
  int n = 0;
  OK(events_claim(f->d, "workflow", "w", 10, 60, &b, &err));
  for (int i = 0; i < b.n; i++) {
    assert_true(n < 4);
    memcpy(got[n++], b.rows[i].id, UUID_STR_LEN + 1);
  }
  if (b.n) assert_int_equal(events_done(f->d, &b, &err), 0);
  /* A writes another event after B's, then commits. */
  OK(event_emit(a, f->profile, "invoice.issued", "invoice", entity, "{}", ea2,
                &err));
  OK(db_commit(a, &err));
  OK(events_claim(f->d, "workflow", "w", 10, 60, &b, &err));
  for (int i = 0; i < b.n; i++) {
    assert_true(n < 4);
    memcpy(got[n++], b.rows[i].id, UUID_STR_LEN + 1);
  }
  if (b.n) assert_int_equal(events_done(f->d, &b, &err), 0);
  OK(events_claim(f->d, "workflow", "w", 10, 60, &b, &err));
  assert_int_equal(b.n, 0);
  /* Every event exactly once; A's two in the order A wrote them. */
  assert_int_equal(n, 3);
  int ia = -1, ib = -1, ia2 = -1;
  for (int i = 0; i < n; i++) {
    if (!strcmp(got[i], ea)) ia = i;
    if (!strcmp(got[i], eb)) ib = i;
    if (!strcmp(got[i], ea2)) ia2 = i;
  }
  assert_true(ia >= 0 && ib >= 0 && ia2 >= 0);
  assert_true(ia < ia2);
  events_batch_free(&b);
  db_close(a);
  db_close(bconn);
}

static void test_purge(void **state) {
  test_fixture *f = *state;
  enum { N = 6 };
  char ids[N][UUID_STR_LEN + 1];
  int64_t n = -1;
  /* No consumer: every event older than the cut goes (but SQLite's
   * newest), and none newer. */
  for (int k = 0; k < 3; k++) emit_one(f, k, ids[k]);
  OK(events_purge(f->d, time_now_us() - 3600LL * 1000000, 100, &n, &err));
  assert_int_equal(n, 0);
  int pg = !strcmp(test_backend(), "postgres");
  OK(events_purge(f->d, time_now_us() + 1000000, 100, &n, &err));
  assert_int_equal(n, pg ? 3 : 2);
  OK(db_exec(f->d, "DELETE FROM events", &err));

  add_consumer(f->d, "fast", 1);
  add_consumer(f->d, "slow", 1);
  for (int k = 0; k < N; k++) emit_one(f, k, ids[k]);
  event_batch b = {0};
  /* fast has everything handed out and done; slow has the first two done
   * and holds the next two in a batch. */
  OK(events_claim(f->d, "fast", "w", 100, 60, &b, &err));
  assert_int_equal(b.n, N);
  assert_int_equal(events_done(f->d, &b, &err), 0);
  OK(events_claim(f->d, "slow", "w", 2, 60, &b, &err));
  assert_int_equal(events_done(f->d, &b, &err), 0);
  OK(events_claim(f->d, "slow", "w", 2, 60, &b, &err));
  assert_int_equal(b.n, 2);
  int64_t later = time_now_us() + 1000000;
  /* Bounded steps: one at a time. */
  OK(events_purge(f->d, later, 1, &n, &err));
  assert_int_equal(n, 1);
  OK(events_purge(f->d, later, 100, &n, &err));
  assert_int_equal(n, 1);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM events WHERE id = $1",
                         ids[1]),
                   0);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM events", NULL), N - 2);
  /* The batch is released half-way: the purge follows it. */
  assert_int_equal(events_release(f->d, &b, 1, 0, &err), 0);
  OK(events_purge(f->d, later, 100, &n, &err));
  assert_int_equal(n, 1);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM events WHERE id = $1",
                         ids[3]),
                   1);
  /* Too young: kept, though passed. */
  OK(events_claim(f->d, "slow", "w", 100, 60, &b, &err));
  assert_int_equal(b.n, 1); /* the rest of the released batch first */
  assert_string_equal(b.rows[0].id, ids[3]);
  assert_int_equal(events_done(f->d, &b, &err), 0);
  OK(events_claim(f->d, "slow", "w", 100, 60, &b, &err));
  assert_int_equal(b.n, 2);
  assert_int_equal(events_done(f->d, &b, &err), 0);
  OK(events_purge(f->d, time_now_us() - 3600LL * 1000000, 100, &n, &err));
  assert_int_equal(n, 0);
  /* Old enough and passed by all: gone, except SQLite's newest. */
  OK(events_purge(f->d, later, 100, &n, &err));
  assert_int_equal(n, pg ? 3 : 2);
  /* A new event after a purge gets a number above every cursor. */
  char fresh[UUID_STR_LEN + 1];
  emit_one(f, 99, fresh);
  OK(events_claim(f->d, "slow", "w", 100, 60, &b, &err));
  assert_int_equal(b.n, 1);
  assert_string_equal(b.rows[0].id, fresh);
  events_batch_free(&b);
  assert_int_equal(events_purge(f->d, later, 0, &n, &err), -1);
}

/* ---- concurrent workers ---- */

enum { EVENTS = 300, WORKERS = 4, BATCH = 7 };

struct worker {
  const test_fixture *f;
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
  event_batch b = {0};
  /* Start on different consumers, so both are contended from the first
   * claim. */
  for (int turn = w->index; !(empty[0] && empty[1]); turn++) {
    int c = turn % 2;
    if (empty[c]) continue;
    if (events_claim(d, consumers[c], name, BATCH, 60, &b, &e)) {
      /* SQLite's write lock timed out: try again, a bounded number of
       * times. */
      if (!strcmp(e.code, "40001") && ++busy < 100) continue;
      snprintf(w->error, sizeof w->error, "claim: [%s] %s", e.code, e.message);
      break;
    }
    w->batches++;
    if (b.n == 0) empty[c] = 1;
    for (int i = 0; i < b.n; i++) {
      if (w->n[c] >= EVENTS * 2) {
        snprintf(w->error, sizeof w->error, "too many claims");
        break;
      }
      memcpy(w->ids[c][w->n[c]++], b.rows[i].id, UUID_STR_LEN + 1);
      if (i > 0 && b.rows[i].seq <= b.rows[i - 1].seq)
        snprintf(w->error, sizeof w->error, "batch out of order");
    }
    if (b.n) {
      int rc = events_done(d, &b, &e);
      if (rc != 0)
        snprintf(w->error, sizeof w->error, "done: rc %d [%s] %s", rc, e.code,
                 e.message);
    }
    if (w->error[0]) break;
  }
  events_batch_free(&b);
  db_close(d);
  return NULL;
}

static int cmp_id(const void *a, const void *b) {
  return strcmp(a, b);
}

static void test_concurrent_claims_exactly_once(void **state) {
  test_fixture *f = *state;
  static char ids[EVENTS][UUID_STR_LEN + 1];
  add_consumer(f->d, "workflow", 1);
  add_consumer(f->d, "agent", 1);
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
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM event_batches", NULL), 0);
}

int main(int argc, char **argv) {
  test_backend_from_args(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_emit_rollback_leaves_nothing, test_fixture_setup,
                                      test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_emit_writes_one_row, test_fixture_setup,
                                      test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_consumer_starts_at_the_end, test_fixture_setup,
                                      test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_claim_in_order, test_fixture_setup, test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_expired_lease_reclaimed, test_fixture_setup,
                                      test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_release_gives_back_the_rest, test_fixture_setup,
                                      test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_claim_arguments, test_fixture_setup, test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_out_of_order_commit, test_fixture_setup,
                                      test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_purge, test_fixture_setup, test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_claims_exactly_once,
                                      test_fixture_setup, test_fixture_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

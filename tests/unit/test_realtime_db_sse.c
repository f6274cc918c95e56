/* test_realtime_db_sse.c - SSE resumes (Last-Event-ID) against a real
 * database and feed, on both backends: opening a resume never reads the
 * database (the stream is answered at once, even while the change table is
 * locked), resumes far larger than the queue stream through it a page at a
 * time with every row once and in order (and the live changes made during
 * the replay after them), never more than the queue's cap queued at once,
 * at most a few replaying while the rest wait their turn; and streams
 * closed in every state of the replay queue (also while their replay waits
 * on the database) are let go cleanly, without the closer waiting. */
#define _GNU_SOURCE /* memmem */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/timeutil.h"
#include "realtime/feed.h"
#include "realtime/sse.h"
#include "testutil.h"

#define MAX_QUEUE ((size_t)64 * 1024)
/* A notice (error, gap) may pass the cap by this much. */
#define SLACK 1024

typedef struct fx {
  db *d;
  char url[4096];
  char profile[37];
  api_principal owner;
  rt_hub *hub;
  rt_feed *feed;
  rt_sses *x;
  int next_name;
} fx;

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void on_wake(void *cls) { (void)cls; }

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  f->d = test_db_open_migrated(NULL);
  snprintf(f->url, sizeof f->url, "%s", test_db_url());
  db_err err;
  if (rt_capture_install(f->d, &err)) test_die("capture install", err.message);
  test_tenant(f->d, "29", f->profile);
  f->owner.role = ROLE_AUTHENTICATED;
  snprintf(f->owner.sub, sizeof f->owner.sub, "%s", f->profile);
  f->hub = rt_hub_new();
  char e[256];
  if (rt_feed_start(f->url, f->hub, 120, &f->feed, e, sizeof e))
    test_die("feed start", e);
  rt_sse_config cfg = {f->hub, f->url, MAX_QUEUE, 0, 0};
  if (!(f->x = rt_sses_new(&cfg, e, sizeof e))) test_die("sses", e);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  assert_int_equal(rt_sses_count(f->x), 0);
  rt_sses_free(f->x);
  rt_feed_stop(f->feed);
  rt_hub_free(f->hub);
  test_db_close(f->d);
  free(f);
  return 0;
}

/* n customers of the tenant in one transaction, named c00000-… in order
 * (long names, so that each event is about a kilobyte); waits until the
 * feed has published them. */
static void add_customers(fx *f, int n) {
  db_err err;
  assert_int_equal(db_begin(f->d, 1, &err), 0);
  char pad[701];
  memset(pad, 'x', 700);
  pad[700] = '\0';
  for (int i = 0; i < n; i++) {
    char id[37], name[800];
    uuid_v7(id);
    snprintf(name, sizeof name, "c%05d-%s", f->next_name++, pad);
    db_val p[] = {db_uuid(f->profile), db_uuid(id), db_text(name)};
    if (db_query(f->d,
                 "INSERT INTO customers (profile_id, id, full_name) VALUES "
                 "($1, $2, $3)",
                 p, 3, NULL, &err))
      fail_msg("insert: %s", err.message);
  }
  assert_int_equal(db_commit(f->d, &err), 0);
  int64_t last = test_count(f->d, "SELECT max(seq) FROM realtime_changes", NULL);
  for (int i = 0; i < 3000 && rt_hub_head(f->hub).seq < last; i++) sleep_ms(5);
  assert_true(rt_hub_head(f->hub).seq >= last);
}

/* A client of one stream: what it read, parsed into events. */
typedef struct client {
  rt_sse *st;
  buf raw;        /* bytes not yet parsed */
  int inserts;    /* INSERT events seen */
  int64_t last;   /* the last event id's seq */
  int errors;     /* error events */
  int greeted;    /* the greeting came */
  size_t max_read; /* the most bytes one read found queued */
} client;

static void client_parse(fx *f, client *c) {
  (void)f;
  for (;;) {
    const char *s = buf_cstr(&c->raw);
    const char *end = strstr(s, "\n\n");
    if (!end) break;
    size_t blen = (size_t)(end - s) + 2;
    if (!strncmp(s, ": munshi realtime\nretry: ", 25)) c->greeted = 1;
    if (!strncmp(s, "event: error", 12) ||
        memmem(s, blen, "\nevent: error", 13)) {
      c->errors++;
      print_message("error event: %.*s\n", (int)(blen > 300 ? 300 : blen), s);
    }
    const char *id = !strncmp(s, "id: ", 4) ? s : NULL;
    if (id && id < end) {
      long long tx, seq;
      assert_int_equal(sscanf(id, "id: %lld.%lld", &tx, &seq), 2);
      /* Every position once, in order. */
      if (seq <= c->last) fail_msg("id %lld after %lld", seq, (long long)c->last);
      c->last = seq;
      const char *name = strstr(s, "\"full_name\":\"c");
      assert_true(name && name < end);
      int k = (int)strtol(name + 14, NULL, 10);
      if (k != c->inserts)
        fail_msg("event %d is customer %d: a row missed or repeated",
                 c->inserts, k);
      c->inserts++;
    }
    size_t rest = c->raw.len - blen;
    memmove(c->raw.data, c->raw.data + blen, rest);
    c->raw.len = rest;
    c->raw.data[rest] = '\0';
  }
}

/* Reads what is queued now (all of it, in one read); 1 when it got bytes. */
static int client_read(fx *f, client *c) {
  static char big[MAX_QUEUE * 4];
  long n = rt_sse_read(c->st, big, sizeof big);
  if (n <= 0) return 0;
  if ((size_t)n > c->max_read) c->max_read = (size_t)n;
  assert_int_equal(buf_append(&c->raw, big, (size_t)n), 0);
  client_parse(f, c);
  return 1;
}

static rt_sse *resume(fx *f, int64_t after) {
  char id[64];
  snprintf(id, sizeof id, "0.%lld", (long long)after);
  api_resp r;
  api_resp_init(&r);
  rt_sse *st = NULL;
  if (rt_sses_open(f->x, &f->owner, "customers", id, on_wake, NULL, &st, &r))
    fail_msg("resume: %d %s", r.status, buf_cstr(&r.body));
  api_resp_free(&r);
  return st;
}

#define NSTREAMS 6
#define NROWS 3000
#define NLIVE 300

static void large_resumes_stream_through_a_small_queue(void **state) {
  fx *f = *state;
  int64_t from = rt_hub_head(f->hub).seq;
  add_customers(f, NROWS); /* about 3 MB of events each: 45 queues' worth */

  client cs[NSTREAMS];
  memset(cs, 0, sizeof cs);
  int64_t t0 = time_mono_us();
  for (int i = 0; i < NSTREAMS; i++) {
    cs[i].st = resume(f, from);
    cs[i].last = from;
    buf_init(&cs[i].raw, 0);
  }
  /* Opening read nothing from the database. */
  assert_true(time_mono_us() - t0 < 500000);

  /* Nobody reads: the replays fill their queues and park; a few started,
   * the rest wait their turn. */
  sleep_ms(300);
  int active, waiting;
  rt_sses_replays(f->x, &active, &waiting);
  assert_true(active >= 1 && active <= 4);
  assert_int_equal(active + waiting, NSTREAMS);

  /* Live changes while the replays run: they come after, once each. */
  for (int i = 0; i < NSTREAMS; i++) client_read(f, &cs[i]);
  add_customers(f, NLIVE);

  int64_t deadline = time_mono_us() + 120 * 1000000LL;
  for (;;) {
    int done = 0, got = 0;
    for (int i = 0; i < NSTREAMS; i++) {
      got |= client_read(f, &cs[i]);
      assert_int_equal(cs[i].errors, 0);
      done += cs[i].inserts == NROWS + NLIVE;
    }
    if (done == NSTREAMS) break;
    if (time_mono_us() > deadline) {
      for (int i = 0; i < NSTREAMS; i++)
        print_message("stream %d: %d events\n", i, cs[i].inserts);
      fail_msg("the resumes did not finish");
    }
    if (!got) sleep_ms(1);
  }
  /* Nothing repeated after the end, and the replays are over. */
  sleep_ms(200);
  for (int i = 0; i < NSTREAMS; i++) client_read(f, &cs[i]);
  rt_sses_replays(f->x, &active, &waiting);
  assert_int_equal(active, 0);
  assert_int_equal(waiting, 0);
  for (int i = 0; i < NSTREAMS; i++) {
    assert_int_equal(cs[i].inserts, NROWS + NLIVE);
    assert_int_equal(cs[i].errors, 0);
    /* Never more than the cap queued for a stream. */
    assert_true(cs[i].max_read <= MAX_QUEUE + SLACK);
    rt_sse_close(cs[i].st);
    buf_free(&cs[i].raw);
  }
}

/* rt_sses_open on a thread of its own, so that a test can see whether it
 * waits for a database lock without waiting with it. */
typedef struct opener {
  fx *f;
  int64_t after;
  rt_sse *st;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
} opener;

static void *open_main(void *arg) {
  opener *o = arg;
  rt_sse *st = resume(o->f, o->after);
  pthread_mutex_lock(&o->mu);
  o->st = st;
  o->done = 1;
  pthread_cond_signal(&o->cv);
  pthread_mutex_unlock(&o->mu);
  return NULL;
}

static void resume_answers_while_the_changes_are_locked(void **state) {
  fx *f = *state;
  if (strcmp(test_backend(), "postgres"))
    /* SQLite's WAL lets readers read through any writer's lock, so there
     * is no lock that would hold a replay back. */
    skip();
  int64_t from = rt_hub_head(f->hub).seq;
  add_customers(f, 20);
  db *locker;
  db_err err;
  assert_int_equal(db_open(f->url, &locker, &err), 0);
  assert_int_equal(db_begin(locker, 1, &err), 0);
  assert_int_equal(
      db_exec(locker, "LOCK TABLE realtime_changes IN ACCESS EXCLUSIVE MODE",
              &err),
      0);

  opener o = {f, from, NULL, PTHREAD_MUTEX_INITIALIZER,
              PTHREAD_COND_INITIALIZER, 0};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, open_main, &o), 0);
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 3;
  pthread_mutex_lock(&o.mu);
  while (!o.done)
    if (pthread_cond_timedwait(&o.cv, &o.mu, &until)) break;
  int opened = o.done;
  pthread_mutex_unlock(&o.mu);
  if (!opened) {
    /* Let it go before failing, or the thread waits forever. */
    db_rollback(locker);
    pthread_join(t, NULL);
    rt_sse_close(o.st);
    db_close(locker);
    fail_msg("opening a resume waited for the database");
  }
  pthread_join(t, NULL);

  /* The greeting is there at once; the events once the lock is gone. */
  client c;
  memset(&c, 0, sizeof c);
  c.st = o.st;
  c.last = from;
  buf_init(&c.raw, 0);
  assert_int_equal(client_read(f, &c), 1);
  assert_int_equal(c.greeted, 1);
  sleep_ms(200);
  client_read(f, &c);
  assert_int_equal(c.inserts, 0);

  /* Closing the stream whose replay waits on the lock does not wait with
   * it (it runs on an HTTP worker); a second resume waits its turn. */
  client c2;
  memset(&c2, 0, sizeof c2);
  c2.st = resume(f, from);
  c2.last = from;
  buf_init(&c2.raw, 0);
  int64_t t0 = time_mono_us();
  rt_sse_close(c.st);
  assert_true(time_mono_us() - t0 < 500000);
  buf_free(&c.raw);

  db_rollback(locker);
  db_close(locker);
  for (int i = 0; i < 2000 && c2.inserts < 20; i++) {
    if (!client_read(f, &c2)) sleep_ms(5);
  }
  assert_int_equal(c2.inserts, 20);
  assert_int_equal(c2.errors, 0);
  rt_sse_close(c2.st);
  buf_free(&c2.raw);
}

/* Streams closed while waiting, while replaying and while parked leave
 * nothing behind (ASan would see a stream used after its free). */
static void closing_in_every_replay_state(void **state) {
  fx *f = *state;
  int64_t from = rt_hub_head(f->hub).seq;
  add_customers(f, 500);
  for (int round = 0; round < 3; round++) {
    rt_sse *st[10];
    for (int i = 0; i < 10; i++) st[i] = resume(f, from);
    sleep_ms(round * 50);
    for (int i = 0; i < 10; i++) rt_sse_close(st[i]);
    /* A stream closed during a step is let go by the replay thread right
     * after the step. */
    int active = -1, waiting = -1;
    for (int i = 0; i < 200; i++) {
      rt_sses_replays(f->x, &active, &waiting);
      if (!active) break;
      sleep_ms(5);
    }
    assert_int_equal(active, 0);
    assert_int_equal(waiting, 0);
  }
}

int main(int argc, char **argv) {
  test_backend_from_args(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(large_resumes_stream_through_a_small_queue,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          resume_answers_while_the_changes_are_locked, setup, teardown),
      cmocka_unit_test_setup_teardown(closing_in_every_replay_state, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

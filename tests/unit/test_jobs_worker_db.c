/* test_jobs_worker_db.c - the worker pool (jobs/worker.c) with a test
 * consumer, in this process and in two processes on one database, on
 * SQLite and PostgreSQL (argv[1]).
 *
 * The test consumer records every event it handles in `handled`, keyed by
 * the event id, counting how often it saw each one. What must hold: in a
 * normal run every event is handled exactly once, also with several threads
 * and two processes sharing the work; a clean stop finishes the event in
 * hand and gives the rest back, so a new pool carries on at once (not after
 * the lease) and still nothing twice; after SIGKILL of one process every
 * event is handled at least once, the survivor taking over the dead one's
 * batches when their lease ran out. Timers run through the pool too.
 *
 * The two processes are copies of this program (argv[1] = "child"), so the
 * test consumer lives here and not in the munshi binary. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "base/timeutil.h"
#include "biz/events.h"
#include "jobs/jobs.h"
#include "jobs/worker.h"

static db_err err;

#define OK(call)                                                    \
  do {                                                              \
    if ((call) != 0)                                                \
      fail_msg("%s failed: [%s] %s", #call, err.code, err.message); \
  } while (0)

#define SEC 1000000LL

/* ---- the test consumer and timer ---- */

struct recorder {
  int sleep_us; /* per event, so that work is in hand when we stop or kill */
  long pid;
};

static int record(void *arg, db *d, const event_row *ev, int attempts,
                  db_err *e) {
  const struct recorder *r = arg;
  if (r->sleep_us) usleep((useconds_t)r->sleep_us);
  db_val p[] = {db_text(ev->id), db_int(r->pid), db_int(attempts)};
  return db_query(d,
                  "INSERT INTO handled (event_id, times, pid, attempts) "
                  "VALUES ($1, 1, $2, $3) ON CONFLICT (event_id) DO UPDATE "
                  "SET times = handled.times + 1, pid = excluded.pid, "
                  "attempts = excluded.attempts",
                  p, 3, NULL, e);
}

static int timer_run(void *arg, db *d, const jobs_job *job, db_err *e) {
  (void)arg;
  db_val p[] = {db_text(job->name)};
  return db_query(d, "INSERT INTO timers_run (name) VALUES ($1)", p, 1, NULL,
                  e);
}

static struct recorder rec;
static const jobs_consumer consumers[] = {{"test", record, &rec}};
static const jobs_kind kinds[] = {{"test.timer", timer_run, NULL}};

static jobs_config pool_config(const char *url, int workers, int lease_s) {
  jobs_config c = {.db_url = url,
                   .workers = workers,
                   .lease_s = lease_s,
                   .batch = 5,
                   .idle_ms = 20,
                   .consumers = consumers,
                   .n_consumers = 1,
                   .kinds = kinds,
                   .n_kinds = 1};
  return c;
}

/* A child process: runs a pool until SIGTERM. argv: child URL sleep_us
 * lease_s. */
static int child_main(int argc, char **argv) {
  if (argc < 5) return 2;
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  rec.sleep_us = (int)strtol(argv[3], NULL, 10);
  rec.pid = (long)getpid();
  jobs_config c = pool_config(argv[2], 2, (int)strtol(argv[4], NULL, 10));
  jobs_pool *p;
  char e[256];
  if (jobs_start(&c, &p, e, sizeof e)) {
    fprintf(stderr, "child: %s\n", e);
    return 1;
  }
  int sig;
  sigwait(&stop, &sig);
  jobs_stop(p);
  return 0;
}

/* ---- helpers ---- */

/* The shared fixture, and the tables the test consumer writes to. */
static int setup(void **state) {
  if (test_fixture_setup(state)) return -1;
  test_fixture *f = *state;
  db_err e;
  if (db_exec(f->d,
              "CREATE TABLE handled (event_id TEXT PRIMARY KEY, times "
              "INTEGER NOT NULL, pid INTEGER NOT NULL, attempts INTEGER NOT "
              "NULL); CREATE TABLE timers_run (name TEXT NOT NULL)",
              &e))
    test_die("create the test tables", e.message);
  *state = f;
  return 0;
}

/* test_count(sql) once it reaches at least want, or what it was at the
 * deadline. */
static int64_t wait_count(db *d, const char *sql, int64_t want, int secs) {
  int64_t deadline = time_now_us() + secs * SEC, n = 0;
  while ((n = test_count(d, sql, NULL)) < want && time_now_us() < deadline)
    usleep(20000);
  return n;
}

static void emit_n(test_fixture *f, int n) {
  for (int k = 0; k < n;) {
    OK(db_begin(f->d, 1, &err));
    for (int j = 0; j < 25 && k < n; j++, k++) {
      char entity[UUID_STR_LEN + 1];
      uuid_v7(entity);
      OK(event_emit(f->d, f->profile, "invoice.created", "invoice", entity,
                    "{}", NULL, &err));
    }
    OK(db_commit(f->d, &err));
  }
}

#define HANDLED "SELECT count(*) FROM handled"

/* ---- in one process ---- */

static void test_pool_each_once(void **state) {
  test_fixture *f = *state;
  enum { N = 200 };
  rec.sleep_us = 0;
  rec.pid = 1;
  /* Events written before the consumer existed are not its business. */
  emit_n(f, 7);
  jobs_config c = pool_config(f->url, 3, 60);
  jobs_pool *p;
  char e[256];
  if (jobs_start(&c, &p, e, sizeof e)) fail_msg("%s", e);
  emit_n(f, N);
  OK(jobs_at(f->d, "t:1", "test.timer", NULL, NULL, time_now_us(), NULL,
             &err));
  OK(jobs_at(f->d, "t:2", "test.timer", NULL, NULL, time_now_us() + 3600 * SEC,
             NULL, &err));
  assert_int_equal(wait_count(f->d, HANDLED, N, 60), N);
  assert_int_equal(
      wait_count(f->d, "SELECT count(*) FROM timers_run", 1, 10), 1);
  jobs_stop(p);
  assert_int_equal(test_count(f->d, HANDLED, NULL), N);
  assert_int_equal(test_count(f->d, HANDLED " WHERE times <> 1", NULL), 0);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM event_batches", NULL), 0);
  /* The due timer ran once and is gone; the later one waits. */
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM timers_run", NULL), 1);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM jobs WHERE name LIKE "
                               "'t:%'",
                         NULL),
                   1);
  /* The purge is a schedule of its own and ran on start. */
  assert_int_equal(test_count(f->d,
                         "SELECT count(*) FROM jobs WHERE name = "
                         "'munshi.purge' AND every_s = 3600 AND claims >= 1",
                         NULL),
                   1);
}

static void test_clean_stop_releases(void **state) {
  test_fixture *f = *state;
  enum { N = 100 };
  rec.sleep_us = 20000;
  rec.pid = 1;
  jobs_config c = pool_config(f->url, 2, 600);
  jobs_pool *p;
  char e[256];
  if (jobs_start(&c, &p, e, sizeof e)) fail_msg("%s", e);
  emit_n(f, N);
  assert_true(wait_count(f->d, HANDLED, 10, 30) >= 10);
  int64_t t0 = time_now_us();
  jobs_stop(p);
  /* Each worker finished its event in hand (20 ms), not its batch. */
  assert_true(time_now_us() - t0 < 2 * SEC);
  int64_t done = test_count(f->d, HANDLED, NULL);
  assert_true(done < N);
  /* Nothing is left under a lease: what was held is given back. */
  db_val now[] = {db_ts(time_now_us())};
  db_res *r = NULL;
  OK(db_query(f->d,
              "SELECT count(*) FROM event_batches WHERE lease_until > $1",
              now, 1, &r, &err));
  assert_int_equal(db_res_int(r, 0, 0), 0);
  db_res_free(r);
  /* A new pool carries on at once, though the lease is 10 minutes. */
  rec.sleep_us = 0;
  if (jobs_start(&c, &p, e, sizeof e)) fail_msg("%s", e);
  assert_int_equal(wait_count(f->d, HANDLED, N, 20), N);
  jobs_stop(p);
  assert_int_equal(test_count(f->d, HANDLED " WHERE times <> 1", NULL), 0);
}

/* ---- pollers and jobs_wake ---- */

/* A poller that takes one unit of pending work per call and notes when it
 * last found work, so the test can see how soon a jobs_wake is answered. */
static struct {
  atomic_int pending, done, calls;
  _Atomic int64_t done_at;
} poll_rec;

static int test_poll(void *arg, db *d, const char *worker, db_err *e) {
  (void)arg, (void)d, (void)worker, (void)e;
  atomic_fetch_add(&poll_rec.calls, 1);
  int have = atomic_load(&poll_rec.pending);
  while (have > 0 &&
         !atomic_compare_exchange_weak(&poll_rec.pending, &have, have - 1))
    ;
  if (have <= 0) return 0;
  atomic_fetch_add(&poll_rec.done, 1);
  atomic_store(&poll_rec.done_at, time_now_us());
  return 1;
}

static const jobs_poller pollers[] = {{"test.poll", test_poll, NULL}};

static void test_poller_and_wake(void **state) {
  test_fixture *f = *state;
  jobs_config c = pool_config(f->url, 2, 60);
  c.pollers = pollers;
  c.n_pollers = 1;
  c.idle_ms = 5000; /* long: only jobs_wake can explain a quick answer */
  atomic_store(&poll_rec.pending, 50);
  jobs_pool *p;
  char e[256];
  if (jobs_start(&c, &p, e, sizeof e)) fail_msg("%s", e);
  /* Busy pollers keep the workers from sleeping: all 50 at once. */
  for (int i = 0; i < 500 && atomic_load(&poll_rec.done) < 50; i++)
    usleep(10000);
  assert_int_equal(atomic_load(&poll_rec.done), 50);
  usleep(300000); /* now idle, for 5 s */
  int64_t t0 = time_now_us();
  atomic_store(&poll_rec.pending, 1);
  jobs_wake();
  for (int i = 0; i < 300 && atomic_load(&poll_rec.done) < 51; i++)
    usleep(5000);
  assert_int_equal(atomic_load(&poll_rec.done), 51);
  assert_true(atomic_load(&poll_rec.done_at) - t0 < 1000000);
  jobs_stop(p);
  /* After the pool stopped, a wake is harmless. */
  jobs_wake();
}

/* ---- two processes ---- */

static pid_t spawn(const char *url, int sleep_us, int lease_s) {
  char s[16], l[16];
  snprintf(s, sizeof s, "%d", sleep_us);
  snprintf(l, sizeof l, "%d", lease_s);
  pid_t pid = fork();
  if (pid == 0) {
    char *args[] = {(char *)"test_jobs_worker_db", (char *)"child",
                    (char *)url, s, l, NULL};
    execv("/proc/self/exe", args);
    _exit(127);
  }
  assert_true(pid > 0);
  return pid;
}

static int reap(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_two_processes_each_once(void **state) {
  test_fixture *f = *state;
  enum { N = 300 };
  OK(events_consumer_add(f->d, "test", NULL, &err));
  emit_n(f, N);
  pid_t a = spawn(f->url, 2000, 30), b = spawn(f->url, 2000, 30);
  int64_t n = wait_count(f->d, HANDLED, N, 120);
  kill(a, SIGTERM);
  kill(b, SIGTERM);
  assert_int_equal(reap(a), 0);
  assert_int_equal(reap(b), 0);
  assert_int_equal(n, N);
  assert_int_equal(test_count(f->d, HANDLED " WHERE times <> 1", NULL), 0);
  /* Both shared the work. */
  assert_int_equal(test_count(f->d, "SELECT count(DISTINCT pid) FROM handled",
                         NULL),
                   2);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM event_batches", NULL), 0);
}

static void test_two_processes_one_killed(void **state) {
  test_fixture *f = *state;
  enum { N = 300, LEASE = 2 };
  OK(events_consumer_add(f->d, "test", NULL, &err));
  emit_n(f, N);
  pid_t a = spawn(f->url, 3000, LEASE), b = spawn(f->url, 3000, LEASE);
  wait_count(f->d, HANDLED, N / 4, 60);
  /* Mid-way, with batches in hand. */
  kill(a, SIGKILL);
  assert_int_equal(reap(a), 128 + SIGKILL);
  int64_t n = wait_count(f->d, HANDLED, N, 120);
  /* Every event handled at least once; let the survivor finish its batch
   * in hand, then stop it. */
  kill(b, SIGTERM);
  assert_int_equal(reap(b), 0);
  assert_int_equal(n, N);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM event_batches", NULL), 0);
  char pb[24];
  snprintf(pb, sizeof pb, "%ld", (long)b);
  /* The survivor took over the dead one's batches after their lease: some
   * events came to it on a second attempt. */
  db_val p[] = {db_int(b)};
  db_res *r = NULL;
  OK(db_query(f->d,
              "SELECT count(*) FROM handled WHERE pid = $1 AND attempts >= 2",
              p, 1, &r, &err));
  int64_t taken_over = db_res_int(r, 0, 0);
  db_res_free(r);
  print_message("survivor %s took over %lld events; %lld handled twice\n", pb,
                (long long)taken_over,
                (long long)test_count(f->d, HANDLED " WHERE times > 1", NULL));
  assert_true(taken_over > 0);
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "child")) return child_main(argc, argv);
  test_backend_from_args(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_pool_each_once, setup, test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_clean_stop_releases, setup,
                                      test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_poller_and_wake, setup,
                                      test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_two_processes_each_once, setup,
                                      test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_two_processes_one_killed, setup,
                                      test_fixture_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_sqlite_checkpoint.c - SQLite's WAL is checkpointed by the process's
 * checkpoint thread, not inside commits (src/db/sqlite.c): after thousands
 * of commits, with and without a reader reading all the while, the WAL
 * holds about the threshold's worth of frames, not everything written
 * since the start. A regression test for a checkpoint connection that had
 * never read: on such a connection SQLite checkpoints nothing, and the WAL
 * grew to the 16,000-page emergency mark. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"

#define COMMITS 6000 /* ~12,000 frames: under the 16,000 emergency mark */
#define FRAMES_MAX 6000 /* the RESTART mark (4000) and a margin */

static char url[256], path[200];
static atomic_int stop_reader;

/* Frames in the WAL now, as a PASSIVE checkpoint of a connection of its
 * own reports them (before it copies any; the copying then perturbs what
 * it measures, so the test measures once the commits are done). */
static int wal_frames(void) {
  sqlite3 *c;
  assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
  sqlite3_busy_timeout(c, 5000); /* the checkpoint thread may hold a lock */
  assert_int_equal(sqlite3_exec(c, "SELECT 1 FROM sqlite_master", NULL, NULL, NULL),
                   SQLITE_OK);
  int log = -1, done = -1, rc;
  /* SQLITE_BUSY: the checkpoint thread is at work; ask again. */
  for (int i = 0; i < 500; i++) {
    rc = sqlite3_wal_checkpoint_v2(c, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (rc != SQLITE_BUSY) break;
    usleep(10000);
  }
  assert_int_equal(rc, SQLITE_OK);
  sqlite3_close(c);
  return log;
}

static void *reader(void *arg) {
  (void)arg;
  db *d;
  db_err err;
  if (db_open(url, &d, &err)) return NULL;
  while (!atomic_load(&stop_reader)) {
    db_res *r = NULL;
    if (db_query(d, "SELECT count(*) FROM t", NULL, 0, &r, &err) == 0) db_res_free(r);
  }
  db_close(d);
  return NULL;
}

static void commits(db *d, int n) {
  db_err err;
  char blob[2000];
  memset(blob, 'x', sizeof blob - 1);
  blob[sizeof blob - 1] = '\0';
  for (int i = 0; i < n; i++) {
    db_val v[] = {db_text(blob)};
    if (db_query(d, "INSERT INTO t (b) VALUES ($1)", v, 1, NULL, &err))
      fail_msg("insert %d: %s", i, err.message);
  }
}

static void run(int with_reader) {
  char dir[] = "/tmp/munshi-ckpt.XXXXXX";
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/books.db", dir);
  snprintf(url, sizeof url, "sqlite:%s", path);
  db *d;
  db_err err;
  assert_int_equal(db_open(url, &d, &err), 0);
  assert_int_equal(db_exec(d, "CREATE TABLE t (id INTEGER PRIMARY KEY, b TEXT)", &err), 0);
  pthread_t t;
  atomic_store(&stop_reader, 0);
  if (with_reader) assert_int_equal(pthread_create(&t, NULL, reader, NULL), 0);
  commits(d, COMMITS);
  /* The thread works behind the commits; give it time to catch up (up to
   * 10 s: on a loaded machine, with the suite's other tests beside it, 1 s
   * was sometimes too short). A thread that never checkpoints still
   * fails: its WAL keeps every frame however long one waits. */
  int frames = 0;
  for (int i = 0; i < 250; i++) {
    frames = wal_frames();
    if (frames < FRAMES_MAX) break;
    usleep(40000);
  }
  atomic_store(&stop_reader, 1);
  if (with_reader) pthread_join(t, NULL);
  db_close(d);
  if (frames >= FRAMES_MAX)
    fail_msg("the WAL holds %d frames after %d commits", frames, COMMITS);
  char wal[220], shm[220];
  snprintf(wal, sizeof wal, "%s-wal", path);
  snprintf(shm, sizeof shm, "%s-shm", path);
  unlink(wal);
  unlink(shm);
  unlink(path);
  rmdir(dir);
}

static void test_commits_alone(void **state) {
  (void)state;
  run(0);
}

static void test_commits_with_a_reader(void **state) {
  (void)state;
  run(1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_commits_alone),
      cmocka_unit_test(test_commits_with_a_reader),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

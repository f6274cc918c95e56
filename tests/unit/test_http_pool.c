/* test_http_pool.c - the offload pool and the header deadline
 * (src/http/offload.c, deadline.c): the pool holds at most threads + queue
 * jobs and refuses the next at once, runs every job it took, and on stop
 * finishes the queued ones; the sweeper shuts down a socket whose deadline
 * passed, leaves alone one whose headers came in, and a connection removed
 * is never touched again. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/deadline.h"
#include "http/offload.h"

/* Jobs that wait for the test to open a gate. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_open;
static atomic_int ran;

static void gated_run(offload_job *j) {
  (void)j;
  pthread_mutex_lock(&gate_mu);
  while (!gate_open) pthread_cond_wait(&gate_cv, &gate_mu);
  pthread_mutex_unlock(&gate_mu);
  atomic_fetch_add(&ran, 1);
}

static void open_gate(void) {
  pthread_mutex_lock(&gate_mu);
  gate_open = 1;
  pthread_cond_broadcast(&gate_cv);
  pthread_mutex_unlock(&gate_mu);
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void test_pool_bounded(void **state) {
  (void)state;
  char err[100];
  gate_open = 0;
  atomic_store(&ran, 0);
  offload *p = offload_new(2, 3, err, sizeof err);
  assert_non_null(p);
  offload_job jobs[5];
  for (int i = 0; i < 5; i++) {
    assert_int_equal(offload_reserve(p), 0);
    jobs[i].run = gated_run;
    offload_push(p, &jobs[i]);
  }
  /* Two running (blocked on the gate), three waiting: the sixth is refused
   * at once, and a reserve given back makes no room for more. */
  assert_int_equal(offload_reserve(p), -1);
  assert_int_equal(offload_reserve(p), -1);
  open_gate();
  for (int i = 0; i < 200 && atomic_load(&ran) < 5; i++) sleep_ms(10);
  assert_int_equal(atomic_load(&ran), 5);
  /* Places come back when jobs end. */
  for (int i = 0; i < 200; i++) {
    if (offload_reserve(p) == 0) break;
    sleep_ms(10);
  }
  offload_unreserve(p);
  offload_free(p);
}

static void test_pool_stop_drains(void **state) {
  (void)state;
  char err[100];
  gate_open = 1;
  atomic_store(&ran, 0);
  offload *p = offload_new(1, 10, err, sizeof err);
  offload_job jobs[8];
  for (int i = 0; i < 8; i++) {
    assert_int_equal(offload_reserve(p), 0);
    jobs[i].run = gated_run;
    offload_push(p, &jobs[i]);
  }
  offload_stop(p);
  assert_int_equal(atomic_load(&ran), 8);
  assert_int_equal(offload_reserve(p), -1); /* stopped: refuses */
  offload_free(p);
  offload_free(NULL);
}

/* 1 when the peer end of a socketpair sees end-of-stream within ms. */
static int sees_eof(int fd, int ms) {
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char c;
  return recv(fd, &c, 1, 0) == 0;
}

static void test_deadline(void **state) {
  (void)state;
  deadline *d = deadline_new(200 * 1000);
  assert_non_null(d);
  int late[2], done[2], gone[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, late), 0);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, done), 0);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, gone), 0);
  deadline_conn *cl = deadline_add(d, late[0]);
  deadline_conn *cd = deadline_add(d, done[0]);
  deadline_conn *cg = deadline_add(d, gone[0]);
  deadline_clear(cd); /* its headers are in */
  deadline_remove(d, cg);
  /* Trickling does nothing for the late one: bytes are not progress. */
  for (int i = 0; i < 3; i++) {
    assert_int_equal(write(late[1], "x", 1), 1);
    sleep_ms(50);
  }
  assert_true(sees_eof(late[1], 2000));
  assert_int_equal(deadline_cut_count(d), 1);
  /* The cleared and the removed ones are untouched. */
  assert_false(sees_eof(done[1], 300));
  assert_false(sees_eof(gone[1], 10));
  /* Armed again (after an answer), the cleared one is due in turn. */
  deadline_arm(d, cd);
  assert_true(sees_eof(done[1], 2000));
  assert_int_equal(deadline_cut_count(d), 2);
  deadline_remove(d, cl);
  deadline_remove(d, NULL);
  deadline_free(d); /* frees cd, still listed */
  deadline_free(NULL);
  for (int i = 0; i < 2; i++) {
    close(late[i]);
    close(done[i]);
    close(gone[i]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pool_bounded),
      cmocka_unit_test(test_pool_stop_drains),
      cmocka_unit_test(test_deadline),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

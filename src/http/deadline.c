/* deadline.c - the header deadline sweeper (see deadline.h).
 *
 * Connections sit on one doubly linked list under a mutex; adding and
 * removing are O(1). The deadlines themselves are atomics, set by the worker
 * that owns the connection without taking the lock. The sweeper wakes a few
 * times per timeout, walks the list and shuts down what is overdue; with the
 * connection limit in front, the list is at most a few thousand long. */
#include "http/deadline.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/timeutil.h"

struct deadline_conn {
  int fd;
  int cut; /* shut down already (under the lock) */
  _Atomic int64_t due; /* monotonic us; 0: none */
  deadline_conn *prev, *next;
};

struct deadline {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  deadline_conn *head;
  int64_t timeout_us;
  int stopping;
  long cuts;
  pthread_t thread;
};

static void *sweeper(void *arg) {
  deadline *d = arg;
  int64_t step = d->timeout_us / 4;
  if (step < 50000) step = 50000;
  if (step > 1000000) step = 1000000;
  pthread_mutex_lock(&d->mu);
  while (!d->stopping) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (step % 1000000) * 1000;
    ts.tv_sec += (time_t)(step / 1000000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_cond_timedwait(&d->cv, &d->mu, &ts);
    if (d->stopping) break;
    int64_t now = time_mono_us();
    for (deadline_conn *c = d->head; c; c = c->next) {
      int64_t due = atomic_load(&c->due);
      if (c->cut || !due || now < due) continue;
      /* The fd is still open: removal takes this lock first. */
      shutdown(c->fd, SHUT_RDWR);
      c->cut = 1;
      d->cuts++;
      log_debug("http: headers not complete within %lld ms; connection cut",
                (long long)(d->timeout_us / 1000));
    }
  }
  pthread_mutex_unlock(&d->mu);
  return NULL;
}

deadline *deadline_new(int64_t timeout_us) {
  deadline *d = xcalloc(1, sizeof *d);
  pthread_mutex_init(&d->mu, NULL);
  pthread_cond_init(&d->cv, NULL);
  d->timeout_us = timeout_us;
  if (pthread_create(&d->thread, NULL, sweeper, d)) {
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
    return NULL;
  }
  return d;
}

void deadline_free(deadline *d) {
  if (!d) return;
  pthread_mutex_lock(&d->mu);
  d->stopping = 1;
  pthread_cond_signal(&d->cv);
  pthread_mutex_unlock(&d->mu);
  pthread_join(d->thread, NULL);
  for (deadline_conn *c = d->head, *n; c; c = n) {
    n = c->next;
    free(c);
  }
  pthread_cond_destroy(&d->cv);
  pthread_mutex_destroy(&d->mu);
  free(d);
}

deadline_conn *deadline_add(deadline *d, int fd) {
  deadline_conn *c = xcalloc(1, sizeof *c);
  c->fd = fd;
  atomic_store(&c->due, time_mono_us() + d->timeout_us);
  pthread_mutex_lock(&d->mu);
  c->next = d->head;
  if (d->head) d->head->prev = c;
  d->head = c;
  pthread_mutex_unlock(&d->mu);
  return c;
}

void deadline_clear(deadline_conn *c) {
  if (c) atomic_store(&c->due, 0);
}

void deadline_arm(deadline *d, deadline_conn *c) {
  if (c) atomic_store(&c->due, time_mono_us() + d->timeout_us);
}

void deadline_remove(deadline *d, deadline_conn *c) {
  if (!c) return;
  pthread_mutex_lock(&d->mu);
  if (c->prev)
    c->prev->next = c->next;
  else
    d->head = c->next;
  if (c->next) c->next->prev = c->prev;
  pthread_mutex_unlock(&d->mu);
  free(c);
}

long deadline_cut_count(deadline *d) {
  pthread_mutex_lock(&d->mu);
  long n = d->cuts;
  pthread_mutex_unlock(&d->mu);
  return n;
}

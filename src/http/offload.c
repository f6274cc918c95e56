/* offload.c - the bounded pool (see offload.h).
 *
 * One mutex guards the queue and the count of places taken; threads sleep
 * on a condition variable. Places are counted from reserve to the end of
 * the job, so "threads + queue" bounds the jobs in flight, running or not.
 * Threads inherit the caller's signal mask (main blocks the stop signals
 * before starting the server), and anything thread-local they set up, such
 * as a database connection, is released by its key's destructor when they
 * exit. */
#include "http/offload.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

struct offload {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  offload_job *head, *tail;
  int taken; /* places reserved: queued + running + about to be pushed */
  int cap;
  int stopping;
  int nthreads;
  pthread_t *threads;
};

static void *worker(void *arg) {
  offload *p = arg;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->head && !p->stopping) pthread_cond_wait(&p->cv, &p->mu);
    /* Stopping waits for queued jobs and for places reserved but not yet
     * pushed, so no suspended connection is left without its answer. */
    if (!p->head && p->taken == 0) break;
    if (!p->head) {
      pthread_cond_wait(&p->cv, &p->mu);
      continue;
    }
    offload_job *j = p->head;
    p->head = j->next;
    if (!p->head) p->tail = NULL;
    pthread_mutex_unlock(&p->mu);
    j->run(j);
    pthread_mutex_lock(&p->mu);
    p->taken--;
    if (p->stopping) pthread_cond_broadcast(&p->cv);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

offload *offload_new(int threads, int queue, char *err, size_t errlen) {
  offload *p = xcalloc(1, sizeof *p);
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  p->cap = threads + queue;
  p->threads = xcalloc((size_t)threads, sizeof *p->threads);
  for (int i = 0; i < threads; i++) {
    if (pthread_create(&p->threads[i], NULL, worker, p)) {
      snprintf(err, errlen, "cannot start offload thread %d", i + 1);
      offload_free(p);
      return NULL;
    }
    p->nthreads++;
  }
  return p;
}

int offload_reserve(offload *p) {
  int rc = -1;
  pthread_mutex_lock(&p->mu);
  if (!p->stopping && p->taken < p->cap) {
    p->taken++;
    rc = 0;
  }
  pthread_mutex_unlock(&p->mu);
  return rc;
}

void offload_unreserve(offload *p) {
  pthread_mutex_lock(&p->mu);
  p->taken--;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

void offload_push(offload *p, offload_job *j) {
  j->next = NULL;
  pthread_mutex_lock(&p->mu);
  if (p->tail)
    p->tail->next = j;
  else
    p->head = j;
  p->tail = j;
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

void offload_stop(offload *p) {
  pthread_mutex_lock(&p->mu);
  p->stopping = 1;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
  p->nthreads = 0;
}

void offload_free(offload *p) {
  if (!p) return;
  offload_stop(p);
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  free(p->threads);
  free(p);
}

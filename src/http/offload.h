/* offload.h - a small pool of threads, with a bounded queue, for requests
 * too slow to run on an HTTP worker (password hashing; later LLM calls).
 *
 * The HTTP layer suspends the connection, reserves a place, pushes the job
 * and returns; a pool thread runs it and resumes the connection. When every
 * place is taken, offload_reserve fails at once and the request is answered
 * 429: a burst waits in a short queue or is refused, it never piles up on
 * the workers that serve everything else. */
#ifndef MUNSHI_HTTP_OFFLOAD_H
#define MUNSHI_HTTP_OFFLOAD_H

#include <stddef.h>

typedef struct offload offload;

typedef struct offload_job {
  void (*run)(struct offload_job *j); /* on a pool thread */
  struct offload_job *next;           /* the pool's */
} offload_job;

/* threads >= 1 run jobs; at most queue jobs wait beyond those running.
 * Returns NULL (with a message in err) when a thread cannot start. */
offload *offload_new(int threads, int queue, char *err, size_t errlen);

/* Takes one place (running or waiting). Returns 0, or -1 when all
 * threads + queue places are taken or the pool is stopping. */
int offload_reserve(offload *p);
/* Gives back a place taken by offload_reserve without pushing a job. */
void offload_unreserve(offload *p);
/* Queues j in a place taken by offload_reserve; never fails. */
void offload_push(offload *p, offload_job *j);

/* Refuses new jobs (offload_reserve fails from now on), runs the queued
 * ones to the end and joins the threads. */
void offload_stop(offload *p);
/* offload_stop if not done yet, then frees the pool. Accepts NULL. */
void offload_free(offload *p);

#endif

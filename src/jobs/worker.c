/* worker.c - the threads behind jobs_start (see worker.h).
 *
 * A worker loops: one batch of each consumer (starting at a different
 * consumer per thread, so no consumer always goes last), one round of each
 * poller, then one due job;
 * when none of that found work it sleeps idle_ms, or until jobs_stop wakes
 * it. Errors of the database are logged and the worker carries on after a
 * pause; a lost connection (SQLSTATE class 08) is opened again. Nothing a
 * worker holds outlives its lease, so even a worker that never comes back
 * costs at most a lease's delay. */
#include "jobs/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "jobs/purge.h"

#define WORKERS_MAX 64
#define BACKOFF_MAX_S 300

struct worker {
  jobs_pool *pool;
  int index;
  char name[96]; /* host:pid:index, in claimed_by */
  db *d;
  pthread_t thread;
  int started;
};

struct jobs_pool {
  jobs_config c;
  atomic_int stop;
  pthread_mutex_t mu;
  pthread_cond_t wake;
  int woken; /* jobs_wake since the workers last looked */
  struct worker *w;
  int n;
  jobs_pool *next; /* in the process's list, for jobs_wake */
};

/* The pools of this process, for jobs_wake. */
static pthread_mutex_t pools_mu = PTHREAD_MUTEX_INITIALIZER;
static jobs_pool *pools;

static int backoff_s(int attempts) {
  int s = 1;
  for (int i = 1; i < attempts && s < BACKOFF_MAX_S; i++) s *= 2;
  return s < BACKOFF_MAX_S ? s : BACKOFF_MAX_S;
}

static int stopping(jobs_pool *p) { return atomic_load(&p->stop); }

/* Sleeps ms milliseconds, or until jobs_stop. */
static void idle(jobs_pool *p, int ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&p->mu);
  while (!stopping(p) && !p->woken)
    if (pthread_cond_timedwait(&p->wake, &p->mu, &ts) == ETIMEDOUT) break;
  p->woken = 0;
  pthread_mutex_unlock(&p->mu);
}

void jobs_wake(void) {
  pthread_mutex_lock(&pools_mu);
  for (jobs_pool *p = pools; p; p = p->next) {
    pthread_mutex_lock(&p->mu);
    p->woken = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
  }
  pthread_mutex_unlock(&pools_mu);
}


/* A failed statement: 1 when the connection should be opened again. */
static int db_failed(struct worker *w, const char *what, const db_err *e) {
  /* SQLite's write lock busy for too long is routine under load. */
  if (!strcmp(e->code, "40001"))
    log_debug("%s: %s: [%s] %s", w->name, what, e->code, e->message);
  else
    log_warn("%s: %s: [%s] %s", w->name, what, e->code, e->message);
  return !strncmp(e->code, "08", 2);
}

/* One round of each poller. Returns as consume. */
static int poll_all(struct worker *w, int *reopen) {
  jobs_pool *p = w->pool;
  int busy = 0;
  for (int k = 0; k < p->c.n_pollers && !stopping(p) && !*reopen; k++) {
    const jobs_poller *q = &p->c.pollers[k];
    db_err e = {"", ""};
    int r = q->poll(q->arg, w->d, w->name, &e);
    if (r < 0) {
      *reopen = db_failed(w, q->name, &e);
      return -1;
    }
    busy |= r > 0;
  }
  return busy;
}

/* One batch of consumer c. Returns 1 when there was work, 0 when none, -1
 * after a database error (then *reopen may be set). */
static int consume(struct worker *w, const jobs_consumer *c, int *reopen) {
  jobs_pool *p = w->pool;
  event_batch b;
  db_err e;
  memset(&b, 0, sizeof b);
  int rc = -1;
  if (events_claim(w->d, c->name, w->name, p->c.batch, p->c.lease_s, &b, &e)) {
    *reopen = db_failed(w, "claim", &e);
    goto out;
  }
  if (b.n == 0) {
    rc = 0;
    goto out;
  }
  int handled = 0, delay = 0;
  for (; handled < b.n; handled++) {
    /* Stopping: the event in hand is finished, the rest given back. */
    if (stopping(p)) break;
    db_err he = {"", ""};
    if (c->handle(c->arg, w->d, &b.rows[handled], b.attempts, &he)) {
      delay = backoff_s(b.attempts);
      log_warn("%s: consumer %s failed on event %s (attempt %d, again in "
               "%d s): [%s] %s",
               w->name, c->name, b.rows[handled].id, b.attempts, delay,
               he.code, he.message);
      break;
    }
  }
  int r = events_release(w->d, &b, handled, delay, &e);
  if (r < 0) {
    *reopen = db_failed(w, "release", &e);
    goto out;
  }
  if (r == 1)
    log_warn("%s: consumer %s: batch %s outlived its lease (lease %d s); its "
             "events may be handled twice",
             w->name, c->name, b.id, p->c.lease_s);
  rc = 1;
out:
  events_batch_free(&b);
  return rc;
}

static int purge_run(void *arg, db *d, const jobs_job *job, db_err *err) {
  (void)job;
  jobs_pool *p = arg;
  jobs_purge_counts n;
  /* The purge reads the stop flag between its steps. */
  if (jobs_purge(d, p->c.event_retention_s, p->c.idem_ttl_s, JOBS_PURGE_STEP,
                 &p->stop, &n, err))
    return -1;
  if (n.events || n.idempotency_keys || n.webhook_receipts)
    log_info("purge: %lld events, %lld idempotency keys, %lld webhook "
             "receipts deleted",
             (long long)n.events, (long long)n.idempotency_keys,
             (long long)n.webhook_receipts);
  return 0;
}

/* One due job. Returns as consume. */
static int run_job(struct worker *w, int *reopen) {
  jobs_pool *p = w->pool;
  jobs_job job;
  db_err e;
  int got = 0, rc = -1;
  if (jobs_claim(w->d, w->name, p->c.lease_s, &job, &got, &e)) {
    *reopen = db_failed(w, "claim a job", &e);
    goto out;
  }
  rc = got;
  if (!got) goto out;
  jobs_job_fn fn = NULL;
  void *arg = NULL;
  if (!strcmp(job.kind, JOBS_PURGE_KIND)) {
    fn = purge_run;
    arg = p;
  }
  for (int i = 0; !fn && i < p->c.n_kinds; i++)
    if (!strcmp(p->c.kinds[i].kind, job.kind)) {
      fn = p->c.kinds[i].run;
      arg = p->c.kinds[i].arg;
    }
  int r;
  if (!fn) {
    /* Another version of munshi may know it: leave it to that one. */
    log_warn("%s: job %s has kind %s, which this process does not run",
             w->name, job.name, job.kind);
    r = jobs_retry(w->d, &job, BACKOFF_MAX_S, &e);
  } else {
    db_err he = {"", ""};
    if (fn(arg, w->d, &job, &he) == 0) {
      r = jobs_finish(w->d, &job, &e);
    } else {
      int delay = backoff_s(job.failures + 1);
      log_warn("%s: job %s failed (again in %d s): [%s] %s", w->name,
               job.name, delay, he.code, he.message);
      r = jobs_retry(w->d, &job, delay, &e);
    }
  }
  if (r < 0) *reopen = db_failed(w, "finish a job", &e);
  if (r == 1)
    log_warn("%s: job %s outlived its lease; it may run twice", w->name,
             job.name);
out:
  jobs_job_free(&job);
  return rc;
}

static void *worker_main(void *arg) {
  struct worker *w = arg;
  jobs_pool *p = w->pool;
  int turn = w->index;
  while (!stopping(p)) {
    int reopen = 0, busy = 0, failed = 0;
    if (!w->d) {
      db_err e;
      if (db_open(p->c.db_url, &w->d, &e)) {
        log_warn("%s: cannot reach the database: %s", w->name, e.message);
        w->d = NULL;
        idle(p, 5000);
        continue;
      }
    }
    for (int k = 0; k < p->c.n_consumers && !stopping(p) && !reopen; k++) {
      int r = consume(w, &p->c.consumers[(turn + k) % p->c.n_consumers],
                      &reopen);
      busy |= r > 0;
      failed |= r < 0;
    }
    turn++;
    if (!stopping(p) && !reopen) {
      int r = poll_all(w, &reopen);
      busy |= r > 0;
      failed |= r < 0;
    }
    if (!stopping(p) && !reopen) {
      int r = run_job(w, &reopen);
      busy |= r > 0;
      failed |= r < 0;
    }
    if (reopen) {
      db_close(w->d);
      w->d = NULL;
    }
    if (failed || !busy) idle(p, failed ? 1000 : p->c.idle_ms);
  }
  db_close(w->d);
  w->d = NULL;
  return NULL;
}

static void pool_free(jobs_pool *p) {
  if (!p) return;
  for (int i = 0; i < p->n; i++) db_close(p->w[i].d);
  free(p->w);
  pthread_cond_destroy(&p->wake);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

int jobs_start(const jobs_config *c, jobs_pool **out, char *err,
               size_t errlen) {
  *out = NULL;
  if (!c->db_url || c->workers < 1 || c->workers > WORKERS_MAX ||
      c->n_consumers < 0 || c->n_kinds < 0 || c->n_pollers < 0 ||
      c->lease_s < 0 ||
      c->batch < 0 || c->batch > EVENT_CLAIM_MAX || c->idle_ms < 0) {
    snprintf(err, errlen, "jobs: bad configuration");
    return -1;
  }
  jobs_pool *p = xcalloc(1, sizeof *p);
  p->c = *c;
  if (!p->c.lease_s) p->c.lease_s = 60;
  if (!p->c.batch) p->c.batch = 20;
  if (!p->c.idle_ms) p->c.idle_ms = 500;
  if (!p->c.event_retention_s) p->c.event_retention_s = 7 * 86400;
  if (!p->c.idem_ttl_s) p->c.idem_ttl_s = 86400;
  if (!p->c.purge_every_s) p->c.purge_every_s = 3600;
  atomic_init(&p->stop, 0);
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->wake, NULL);
  p->w = xcalloc((size_t)c->workers, sizeof *p->w);
  p->n = c->workers;
  char host[64] = "";
  if (gethostname(host, sizeof host - 1)) snprintf(host, sizeof host, "?");
  db_err e;
  for (int i = 0; i < p->n; i++) {
    struct worker *w = &p->w[i];
    w->pool = p;
    w->index = i;
    snprintf(w->name, sizeof w->name, "%.63s:%ld:%d", host, (long)getpid(),
             i);
    if (db_open(c->db_url, &w->d, &e)) {
      snprintf(err, errlen, "jobs: cannot open the database: %s", e.message);
      goto fail;
    }
  }
  for (int i = 0; i < c->n_consumers; i++) {
    int created = 0;
    if (events_consumer_add(p->w[0].d, c->consumers[i].name, &created, &e)) {
      snprintf(err, errlen, "jobs: consumer %s: %s", c->consumers[i].name,
               e.message);
      goto fail;
    }
    if (created)
      log_info("events: consumer %s registered; it starts at the outbox's "
               "end",
               c->consumers[i].name);
  }
  if (jobs_every(p->w[0].d, JOBS_PURGE_KIND, JOBS_PURGE_KIND,
                 p->c.purge_every_s, time_now_us(), &e)) {
    snprintf(err, errlen, "jobs: cannot schedule the purge: %s", e.message);
    goto fail;
  }
  for (int i = 0; i < p->n; i++) {
    if (pthread_create(&p->w[i].thread, NULL, worker_main, &p->w[i])) {
      snprintf(err, errlen, "jobs: cannot start a thread");
      jobs_stop(p);
      return -1;
    }
    p->w[i].started = 1;
  }
  pthread_mutex_lock(&pools_mu);
  p->next = pools;
  pools = p;
  pthread_mutex_unlock(&pools_mu);
  *out = p;
  return 0;
fail:
  pool_free(p);
  return -1;
}

void jobs_stop(jobs_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&pools_mu);
  for (jobs_pool **q = &pools; *q; q = &(*q)->next)
    if (*q == p) {
      *q = p->next;
      break;
    }
  pthread_mutex_unlock(&pools_mu);
  pthread_mutex_lock(&p->mu);
  atomic_store(&p->stop, 1);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->n; i++)
    if (p->w[i].started) pthread_join(p->w[i].thread, NULL);
  pool_free(p);
}

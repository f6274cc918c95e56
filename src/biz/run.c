/* run.c - runs business operations: checks, Idempotency-Key, transaction,
 * retry, and the group-commit writer (see run.h).
 *
 * One operation is run by run_in_tx inside a transaction (or a savepoint)
 * that its caller opened; the two executors around it differ only in how
 * they open and close that transaction: run_alone gives each operation its
 * own and retries it on a serialization failure, the writer's batch shares
 * one among many, a savepoint each. */
#include "biz/run.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "biz/biz.h"
#include "biz/idempotency.h"

#define RUN_ATTEMPTS 4
#define WRITER_MAX_BATCH 256

/* What run_in_tx did. RUN_DONE and RUN_ANSWERED keep the transaction (the
 * second wrote nothing: a replay or a refusal of a reused key); RUN_FAILED
 * must be rolled back. */
typedef enum { RUN_DONE, RUN_ANSWERED, RUN_FAILED } run_outcome;

/* One operation, checked and ready to run. */
typedef struct job {
  const biz_call *call;
  const biz_op *op;
  const json *args;
  const char *body; /* the request's identity for its key: canonical args */
  size_t body_len;
  api_resp *resp;
  /* Set by run_in_tx on RUN_FAILED. */
  int retry;        /* the whole transaction may be run again */
  int rerun;        /* the writer: run it alone after its batch */
  int keep_refusal; /* a 4xx answer to record under the key */
  /* The writer's hand-off. */
  int done;
  pthread_cond_t cond;
  struct job *next;
} job;

/* ---- checks ---------------------------------------------------------------- */

/* Finds the operation, checks the key and fixes the request's identity.
 * Returns -1 with resp set when the call is refused before it runs. */
static int prepare_or_reply(const biz_call *call, job *j, api_resp *resp) {
  memset(j, 0, sizeof *j);
  j->call = call;
  j->resp = resp;
  j->op = biz_op_find(call->op);
  if (!j->op)
    return api_failf(resp, E_OP_UNKNOWN,
                     "Could not find the function public.%.64s in the schema "
                     "cache",
                     call->op);
  const char *key = j->op->writes ? call->idem_key : NULL;
  if (key && !idem_key_valid(key))
    return api_fail(resp, E_OP_INVALID,
                    "Idempotency-Key must be 1 to 255 printable characters",
                    NULL, NULL);
  j->args = call->args;
  if (!j->args) {
    json *empty;
    json_error je;
    if (json_parse(call->a, "{}", 2, &empty, &je))
      return api_fail(resp, E_INTERNAL, NULL, NULL, NULL);
    j->args = empty;
  }
  if (key) {
    /* The request is identified by its arguments, not their spelling: the
     * parsed JSON written back compactly (whitespace does not count). */
    buf canon;
    buf_init(&canon, 0);
    json_write(&canon, j->args);
    j->body = arena_strndup(call->a, canon.data ? canon.data : "{}", canon.len);
    j->body_len = canon.len;
    buf_free(&canon);
  }
  return 0;
}

static const char *job_key(const job *j) {
  return j->op->writes ? j->call->idem_key : NULL;
}

static void reply_biz_error(api_resp *resp, const biz_err *e) {
  if (e->code == E_DB)
    log_error("biz: database error %s: %s", e->db.code, e->db.message);
  api_fail(resp, e->code, e->code == E_DB ? NULL : e->message,
           e->details[0] ? e->details : NULL, NULL);
}

static void reply_db_error(job *j, const db_err *err) {
  biz_err e;
  memset(&e, 0, sizeof e);
  biz_db_fail(&e, err);
  reply_biz_error(j->resp, &e);
  j->retry = api_sqlstate_retryable(err->code);
}

/* ---- one operation in an open transaction ------------------------------------ */

/* Looks the key up. Returns 1 when the key answered (replay or mismatch),
 * 0 when the operation is to run, -1 on a database error. */
static int answer_from_key(db *d, job *j) {
  const biz_call *c = j->call;
  idem_state st;
  int status;
  buf stored;
  buf_init(&stored, 0);
  db_err err;
  int rc = -1;
  if (idem_lookup(d, c->profile_id, c->idem_key, j->op->name, j->body,
                  j->body_len, &st, &status, &stored, &err)) {
    reply_db_error(j, &err);
    goto out;
  }
  rc = 0;
  if (st == IDEM_NEW) goto out;
  rc = 1;
  if (st == IDEM_MISMATCH) {
    api_fail(j->resp, E_IDEM_MISMATCH, NULL,
             "send a new Idempotency-Key for a different request", NULL);
    goto out;
  }
  j->resp->status = status;
  buf_reset(&j->resp->body);
  buf_append(&j->resp->body, stored.data, stored.len);
  api_header(j->resp, "Idempotent-Replayed", "true");
out:
  buf_free(&stored);
  return rc;
}

static run_outcome run_in_tx(db *d, job *j) {
  const biz_call *c = j->call;
  const char *key = job_key(j);
  j->retry = j->keep_refusal = 0;
  if (key) {
    int k = answer_from_key(d, j);
    if (k < 0) return RUN_FAILED;
    if (k > 0) return RUN_ANSWERED;
  }
  buf out;
  buf_init(&out, 0);
  biz_ctx ctx = {.d = d, .a = c->a, .profile_id = c->profile_id,
                 .now_us = time_now_us(), .from_provider = c->from_provider};
  biz_err e;
  memset(&e, 0, sizeof e);
  db_err err;
  run_outcome rc = RUN_FAILED;
  if (j->op->fn(&ctx, j->args, &out, &e)) {
    reply_biz_error(j->resp, &e);
    j->retry = e.code == E_UNAVAILABLE && api_sqlstate_retryable(e.db.code);
    /* A refusal is the answer to this key too: the same request replays
     * it, another request with the key is refused. Server-side failures
     * (5xx) are not kept, so a retry can still succeed. */
    j->keep_refusal = key && j->resp->status < 500;
    goto out;
  }
  if (c->also && c->also(d, c->also_cls, buf_cstr(&out), &err)) {
    reply_db_error(j, &err);
    goto out;
  }
  if (key && idem_store(d, c->profile_id, key, j->op->name, j->body,
                        j->body_len, 200, buf_cstr(&out), &err)) {
    /* 23505: another request with this key committed first; the next
     * attempt finds its answer and replays it. */
    if (!strcmp(err.code, "23505")) {
      api_fail(j->resp, E_IDEM_IN_FLIGHT, NULL, NULL, NULL);
      j->retry = 1;
    } else {
      reply_db_error(j, &err);
    }
    goto out;
  }
  j->resp->status = 200;
  buf_free(&j->resp->body);
  j->resp->body = out;
  buf_init(&out, 0);
  rc = RUN_DONE;
out:
  buf_free(&out);
  return rc;
}

/* Records a refusal under its key, in the transaction open on d. Best
 * effort: if another request with the same key stored first, that answer
 * stands. */
static int keep_refusal(db *d, const job *j) {
  db_err err;
  return idem_store(d, j->call->profile_id, job_key(j), j->op->name, j->body,
                    j->body_len, j->resp->status, buf_cstr(&j->resp->body),
                    &err);
}

/* ---- an operation alone: its own transaction, retried ------------------------- */

static void run_alone(db *d, job *j) {
  db_err err;
  for (int attempt = 1;; attempt++) {
    int last = attempt == RUN_ATTEMPTS;
    if (db_begin(d, j->op->writes, &err)) {
      reply_db_error(j, &err);
      if (j->retry && !last) continue;
      return;
    }
    run_outcome o = run_in_tx(d, j);
    if (o == RUN_FAILED) {
      db_rollback(d);
      if (j->retry && !last) continue;
      if (j->keep_refusal && db_begin(d, 1, &err) == 0) {
        if (keep_refusal(d, j) || db_commit(d, &err)) db_rollback(d);
      }
      return;
    }
    if (o == RUN_ANSWERED || !j->op->writes) {
      db_rollback(d); /* nothing was written */
      return;
    }
    if (db_commit(d, &err) == 0) return;
    reply_db_error(j, &err);
    if (!j->retry || last) return;
  }
}

/* ---- the group-commit writer --------------------------------------------------- */

typedef struct writer {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t wake;
  job *head, *tail;
  int stopping;
  int max_batch;
  db *d;
} writer;

/* The writer of this process, or NULL. Set at start-up before any request
 * is served, cleared at stop after the last one. */
static _Atomic(writer *) the_writer;

/* Runs a batch in one transaction, a savepoint per job. Returns -1 when the
 * transaction could not be opened or committed: then no job's effects are
 * kept and each must be run again alone. */
static int run_batch(db *d, job *batch) {
  db_err err;
  if (db_begin(d, 1, &err)) return -1;
  for (job *j = batch; j; j = j->next) {
    if (db_exec(d, "SAVEPOINT op", &err)) goto fail;
    run_outcome o = run_in_tx(d, j);
    j->rerun = o == RUN_FAILED && j->retry;
    if (o == RUN_FAILED) {
      if (db_exec(d, "ROLLBACK TO SAVEPOINT op", &err)) goto fail;
      /* A serialization failure (another process held the file) is run
       * again alone, with run_alone's retries, once the batch is in. */
      if (j->rerun) goto release;
      /* A refusal is kept in the same transaction; if that fails, the
       * answer still goes out, it is just not remembered. */
      if (j->keep_refusal && keep_refusal(d, j) &&
          db_exec(d, "ROLLBACK TO SAVEPOINT op", &err))
        goto fail;
    }
  release:
    if (db_exec(d, "RELEASE SAVEPOINT op", &err)) goto fail;
  }
  if (db_commit(d, &err)) return -1;
  return 0;
fail:
  db_rollback(d);
  return -1;
}

static void answer(writer *w, job *batch) {
  pthread_mutex_lock(&w->mu);
  for (job *j = batch; j; j = j->next) {
    j->done = 1;
    pthread_cond_signal(&j->cond);
  }
  pthread_mutex_unlock(&w->mu);
}

static void *writer_main(void *arg) {
  writer *w = arg;
  for (;;) {
    pthread_mutex_lock(&w->mu);
    while (!w->head && !w->stopping) pthread_cond_wait(&w->wake, &w->mu);
    if (!w->head) {
      pthread_mutex_unlock(&w->mu);
      break;
    }
    /* Take what queued while the last batch ran, up to max_batch. */
    job *batch = w->head, *last = batch;
    for (int n = 1; n < w->max_batch && last->next; n++) last = last->next;
    w->head = last->next;
    if (!w->head) w->tail = NULL;
    last->next = NULL;
    pthread_mutex_unlock(&w->mu);

    int all = batch->next == NULL || run_batch(w->d, batch);
    /* One job, or a batch whose transaction failed (nothing of it was
     * kept): each runs alone, with its own retries; after a batch that
     * went in, only those that asked to be run again. */
    for (job *j = batch; j; j = j->next) {
      if (!all && !j->rerun) continue;
      buf_reset(&j->resp->body);
      j->resp->nheaders = 0;
      run_alone(w->d, j);
    }
    answer(w, batch);
  }
  return NULL;
}

/* Queues j and waits for its answer. Returns -1 (nothing queued) when the
 * writer is stopping. */
static int submit(writer *w, job *j) {
  pthread_cond_init(&j->cond, NULL);
  pthread_mutex_lock(&w->mu);
  if (w->stopping) {
    pthread_mutex_unlock(&w->mu);
    pthread_cond_destroy(&j->cond);
    return -1;
  }
  j->next = NULL;
  if (w->tail)
    w->tail->next = j;
  else
    w->head = j;
  w->tail = j;
  pthread_cond_signal(&w->wake);
  while (!j->done) pthread_cond_wait(&j->cond, &w->mu);
  pthread_mutex_unlock(&w->mu);
  pthread_cond_destroy(&j->cond);
  return 0;
}

int biz_writer_start(const char *url, int max_batch, db_err *err) {
  if (strncmp(url, "sqlite:", 7)) return 0;
  if (max_batch < 1 || max_batch > WRITER_MAX_BATCH) {
    snprintf(err->code, sizeof err->code, "22023");
    snprintf(err->message, sizeof err->message,
             "the writer's batch must be 1 to %d operations", WRITER_MAX_BATCH);
    return -1;
  }
  writer *w = xcalloc(1, sizeof *w);
  if (db_open(url, &w->d, err)) {
    free(w);
    return -1;
  }
  w->max_batch = max_batch;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->wake, NULL);
  if (pthread_create(&w->thread, NULL, writer_main, w)) {
    db_close(w->d);
    free(w);
    snprintf(err->code, sizeof err->code, "53000");
    snprintf(err->message, sizeof err->message, "cannot start the writer");
    return -1;
  }
  atomic_store(&the_writer, w);
  return 0;
}

void biz_writer_stop(void) {
  writer *w = atomic_exchange(&the_writer, NULL);
  if (!w) return;
  pthread_mutex_lock(&w->mu);
  w->stopping = 1;
  pthread_cond_signal(&w->wake);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  db_close(w->d);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->wake);
  free(w);
}

/* ---- the entry point ----------------------------------------------------------- */

int biz_run(db *d, const biz_call *call, api_resp *resp) {
  job j;
  if (prepare_or_reply(call, &j, resp)) return -1;
  writer *w = atomic_load(&the_writer);
  /* Tests that inject faults (db_fault_after) count the statements of the
   * calling thread: their operations run there, not on the writer. */
  if (w && j.op->writes && db_kind_of(d) == DB_SQLITE && !db_fault_pending()) {
    if (submit(w, &j))
      api_fail(resp, E_UNAVAILABLE, "the server is stopping; retry", NULL, NULL);
  } else {
    run_alone(d, &j);
  }
  return resp->status >= 200 && resp->status < 300 ? 0 : -1;
}

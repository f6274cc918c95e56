/* run.h - the one entry point that runs a business operation.
 *
 * Every caller — the REST `rpc/` handler, the chat agent, the workflow
 * engine, the demo — runs operations through biz_run, so each gets the same
 * treatment: one transaction, its Idempotency-Key answer recorded in that
 * transaction (a replay answers the stored result, a different request with
 * the same key is refused), and the whole operation run again when the
 * database reports a serialization failure or deadlock.
 *
 * The answer goes into an api_resp (base/api.h): status 200 and the
 * operation's JSON, or the error in PostgREST's shape. The HTTP layer sends
 * it as it is; other callers read resp->status and resp->body.
 *
 * Group commit (SQLite). A process that serves many writers starts one
 * writer (biz_writer_start): a thread with its own connection that takes
 * every write operation submitted meanwhile, runs them in ONE transaction,
 * each inside a savepoint of its own (a failed one is rolled back to its
 * savepoint and answers its error; the others go on), commits once, and
 * only then answers each caller. A commit is the expensive part of a write
 * on SQLite (the WAL append and its sync), so N operations per commit cost
 * little more than one. The caller blocks while its operation is in the
 * batch, as it would while waiting for SQLite's write lock. Without a
 * writer (PostgreSQL, tests, the demo) operations run on the caller's
 * connection. */
#ifndef MUNSHI_BIZ_RUN_H
#define MUNSHI_BIZ_RUN_H

#include "base/api.h"
#include "base/arena.h"
#include "base/json.h"
#include "db/db.h"

typedef struct biz_call {
  const char *op;         /* the operation's name, e.g. "create_invoice" */
  const char *profile_id; /* the business it acts for */
  const json *args;       /* its arguments, a JSON object (NULL: {}) */
  const char *idem_key;   /* Idempotency-Key, or NULL */
  arena *a;               /* memory of the call (the caller's) */
  /* Writes of the caller's own that belong with the operation (a webhook's
   * receipt): run in the operation's transaction right after it succeeded,
   * with its answer; -1 (err set) rolls the operation back too. A replay of
   * an Idempotency-Key does not run it. NULL: none. */
  int (*also)(db *d, void *cls, const char *answer, db_err *err);
  void *also_cls;
  /* 1 only for a provider's verified webhook (integrations/paywebhook.c):
   * record_payment's provider + provider_payment_id and record_refund's
   * provider_refund_id are then taken. Every other caller (REST rpc/, the
   * chat agent, workflows) leaves it 0 and such arguments are refused, so
   * no user can claim a provider's id for its own business. */
  int from_provider;
} biz_call;

/* Runs the operation and sets resp (status, body; Idempotent-Replayed on a
 * replay). Returns 0 when the operation succeeded (or replayed a success),
 * -1 when resp holds an error. d is the caller's connection; with a writer
 * started and d on SQLite, a write operation runs on the writer's
 * connection instead. */
int biz_run(db *d, const biz_call *call, api_resp *resp);

/* Starts the group-commit writer on a connection of its own to url (only
 * for SQLite; on PostgreSQL it is not started and returns 0). max_batch:
 * most operations per transaction (1..256). Returns 0 or -1 with err. */
int biz_writer_start(const char *url, int max_batch, db_err *err);
/* Answers what is queued, stops the writer and closes its connection. */
void biz_writer_stop(void);

#endif

/* events.h - the outbox of business events and its consumers' cursors.
 *
 * An operation that commits writes also writes its events, in the same
 * transaction (event_emit), so an event exists exactly when its change
 * does. event_emit writes one row, whoever reads it.
 *
 * A consumer (the workflow engine, the chat agent, ...) is registered by
 * name (events_consumer_add) and starts at the outbox's end at that moment:
 * it never sees events written before it existed. Its workers claim batches
 * of the events after its cursor (events_claim), each under a lease; the
 * cursor moves past a batch when it is handed out, and the batch row stays
 * until the worker says it is done (events_done) or gives the rest back
 * (events_release). A batch whose lease ran out is claimed again by any
 * worker of that consumer. Many workers, threads or processes, share one
 * consumer's work: on PostgreSQL the claims use FOR UPDATE (SKIP LOCKED for
 * expired batches); on SQLite they run under the one write lock.
 *
 * Order: events come in (txid, seq) order — on SQLite that is write order;
 * on PostgreSQL, transaction order first, and an event is handed out only
 * once every transaction with a lower id has finished, so an event whose
 * transaction commits late is never skipped (docs/jobs.md explains).
 *
 * The contract for handlers: delivery is at least once. A batch that was
 * not finished within its lease (the worker died, hung or overran) is
 * handed out again, whole or from where it was released, so a handler may
 * see an event twice; it must dedupe by the event id (or make its effect
 * idempotent), e.g. insert (consumer, event id) into a table with a unique
 * key in the same transaction as its effect. */
#ifndef MUNSHI_BIZ_EVENTS_H
#define MUNSHI_BIZ_EVENTS_H

#include <stdint.h>

#include "db/db.h"

#define EVENT_CONSUMER_MAX 63 /* longest consumer name */
#define EVENT_CLAIM_MAX 1000  /* most events in one batch */
#define EVENT_LEASE_MAX_S 86400

/* Writes one event. Call inside the caller's write transaction. payload is
 * JSON text (a snapshot of the entity; NULL is "{}"). The new event's id
 * goes to id_out (may be NULL). */
int event_emit(db *d, const char *profile_id, const char *event_type,
               const char *entity_type, const char *entity_id,
               const char *payload, char id_out[37], db_err *err);

/* One event of event_emit_many. */
typedef struct event_in {
  const char *event_type, *entity_type, *entity_id;
  const char *payload; /* JSON text; NULL is "{}" */
} event_in;

/* Writes n events (1..EVENT_EMIT_MANY_MAX) in one statement, in the order
 * given: fewer round trips for an operation that writes several. */
#define EVENT_EMIT_MANY_MAX 8
int event_emit_many(db *d, const char *profile_id, const event_in *ev, int n,
                    db_err *err);

typedef struct event_row {
  char profile_id[37];
  char id[37]; /* the key a handler dedupes by */
  char event_type[48];
  char entity_type[32];
  char entity_id[37];
  char *payload;      /* JSON text, owned by the batch */
  int64_t created_at; /* microseconds */
  int64_t txid, seq;  /* position in the outbox */
} event_row;

/* A claimed range of events. Zero it before the first claim; reusing it
 * for another claim frees the old rows. */
typedef struct event_batch {
  char consumer[EVENT_CONSUMER_MAX + 1];
  char id[37];
  int attempts; /* 1 on the first claim; also the claim's fencing token */
  event_row *rows;
  int n; /* 0: nothing to do right now */
} event_batch;

/* Registers a consumer, starting at the end of the outbox as it is now
 * (PostgreSQL: after every transaction already finished). *created (may
 * be NULL) is 1 when it is new, 0 when it existed (its cursor is kept).
 * Runs in autocommit; the name is 1..EVENT_CONSUMER_MAX characters. */
int events_consumer_add(db *d, const char *name, int *created, db_err *err);
/* Removes a consumer and its batches, so the purge no longer waits for it.
 * Returns 0 whether or not it existed. */
int events_consumer_drop(db *d, const char *name, db_err *err);

/* Claims for worker (a name for the logs; may be NULL) a batch of consumer:
 * first a batch whose lease ran out, else up to max new events after the
 * cursor; lease_s is its lease. b->n is 0 when there is nothing to do. max
 * is 1..EVENT_CLAIM_MAX, lease_s 1..EVENT_LEASE_MAX_S (else -1 with SQLSTATE
 * 22023, as for an unknown consumer). Runs its own transaction: call it
 * outside one. SQLite: 40001 when the write lock could not be had in time;
 * try again. */
int events_claim(db *d, const char *consumer, const char *worker, int max,
                 int lease_s, event_batch *b, db_err *err);
/* The batch is handled: forgets it. Returns 0, or 1 when the claim no
 * longer holds (its lease ran out and another worker claimed it, or it was
 * finished already) — the work may then run twice, which handlers tolerate
 * anyway — or -1 on a database error. */
int events_done(db *d, const event_batch *b, db_err *err);
/* Gives back the events from b->rows[handled] on, to be claimed again after
 * delay_s seconds (0: at once): after a failed handler, or at shutdown.
 * handled == b->n is events_done. Returns as events_done does. */
int events_release(db *d, const event_batch *b, int handled, int delay_s,
                   db_err *err);
/* Frees the rows and empties the batch. Accepts NULL. */
void events_batch_free(event_batch *b);

/* Deletes up to max events (1..10000) that every consumer has passed (none
 * in an unfinished batch) and that were written before older_than (µs),
 * oldest first. *deleted gets how many (may be NULL). On SQLite the newest
 * event is always kept: its seq is where the next one's comes from. Call it
 * repeatedly in autocommit to purge in short bounded steps. */
int events_purge(db *d, int64_t older_than, int max, int64_t *deleted,
                 db_err *err);

#endif

/* events.h - the outbox of business events.
 *
 * An operation that commits writes also writes its events, in the same
 * transaction (event_emit), so an event exists exactly when its change
 * does. Each event is delivered to every consumer named in EVENT_CONSUMERS
 * (the workflow engine, the chat agent): event_emit adds one delivery row
 * per consumer. A consumer's workers claim deliveries in order of creation;
 * a delivery is claimed by exactly one worker — on PostgreSQL with
 * FOR UPDATE SKIP LOCKED, so many workers share the queue without waiting on
 * each other; on SQLite inside one BEGIN IMMEDIATE (one writer at a time).
 * A claim that is not marked done within its lease is handed out again. */
#ifndef MUNSHI_BIZ_EVENTS_H
#define MUNSHI_BIZ_EVENTS_H

#include <stdint.h>

#include "db/db.h"

/* The consumers every event is delivered to. */
#define EVENT_CONSUMERS {"workflow", "agent"}

/* Writes an event and its deliveries. Call inside the caller's write
 * transaction. payload is JSON text (a snapshot of the entity). The new
 * event's id goes to id_out (may be NULL). */
int event_emit(db *d, const char *profile_id, const char *event_type,
               const char *entity_type, const char *entity_id,
               const char *payload, char id_out[37], db_err *err);

typedef struct event_row {
  char profile_id[37];
  char id[37];
  char event_type[48];
  char entity_type[32];
  char entity_id[37];
  char *payload;      /* JSON text, owned by the array (events_free) */
  int64_t created_at; /* microseconds */
  int attempts;       /* how often it was claimed before, this one included */
} event_row;

/* Claims up to max pending deliveries of consumer for worker (a name for
 * logs), oldest first, with a lease of lease_s seconds; runs its own
 * transaction. *out is an array of *n rows, freed with events_free.
 * max is 1..1000, lease_s 1..86400 (else -1 with SQLSTATE 22023). A
 * delivery whose lease ran out is claimed again, with attempts one higher. */
int events_claim(db *d, const char *consumer, const char *worker, int max,
                 int lease_s, event_row **out, int *n, db_err *err);
/* Marks a claimed delivery done, so it is never handed out again. Only the
 * claim ev came from counts (ev->attempts is its fencing token): returns 0
 * when marked, 1 when the delivery is no longer under that claim (its lease
 * ran out and another worker claimed it, or it is done already) — the work
 * may then have run twice, which consumers must tolerate anyway — and -1 on
 * a database error. */
int events_done(db *d, const char *consumer, const event_row *ev,
                db_err *err);
void events_free(event_row *rows, int n);

#endif

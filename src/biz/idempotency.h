/* idempotency.h - Idempotency-Key for write operations.
 *
 * Inside the operation's write transaction: idem_lookup finds an earlier
 * answer for (profile, key); the same operation with the same body replays
 * it, another body is refused (IDEM_MISMATCH). A new key runs the operation
 * and idem_store records its answer in the same transaction, so the answer
 * exists exactly when the operation's effects do: a failed, rolled-back
 * attempt leaves nothing behind and may be retried with the same key. */
#ifndef MUNSHI_BIZ_IDEMPOTENCY_H
#define MUNSHI_BIZ_IDEMPOTENCY_H

#include <stddef.h>

#include "base/buf.h"
#include "db/db.h"

#define IDEM_KEY_MAX 255 /* longest accepted key */

typedef enum { IDEM_NEW, IDEM_REPLAY, IDEM_MISMATCH } idem_state;

/* Looks the key up. On IDEM_REPLAY, *status and body get the stored answer.
 * The request is identified by the operation name and the SHA-256 of the
 * body. */
int idem_lookup(db *d, const char *profile_id, const char *key,
                const char *operation, const char *body, size_t body_len,
                idem_state *state, int *status, buf *stored, db_err *err);
/* Records the answer of a new key. */
int idem_store(db *d, const char *profile_id, const char *key,
               const char *operation, const char *body, size_t body_len,
               int status, const char *answer, db_err *err);
/* 1 when key is acceptable: 1..IDEM_KEY_MAX printable ASCII characters. */
int idem_key_valid(const char *key);

#endif

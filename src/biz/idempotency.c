/* idempotency.c - Idempotency-Key answers (see idempotency.h).
 *
 * A key belongs to one business (the row is keyed by profile_id), so two
 * tenants can never see each other's answers or collide on a key. The
 * request is remembered as the hex SHA-256 of "operation\nbody" rather than
 * the body itself: comparing is all a key needs, and a hash keeps rows small
 * whatever the body. Operation names never hold a newline, so the separator
 * keeps (operation, body) pairs from running into each other.
 *
 * Nothing here takes a lock of its own: the row is read and written inside
 * the operation's transaction. Two requests with one new key may both see
 * IDEM_NEW on PostgreSQL; the second insert then waits for the first
 * transaction and fails with 23505 once it commits, and the caller retries
 * and replays. On SQLite BEGIN IMMEDIATE already orders them. */
#include "biz/idempotency.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/crypto.h"
#include "base/timeutil.h"

static int fail(db_err *err, const char *code, const char *msg) {
  snprintf(err->code, sizeof err->code, "%s", code);
  snprintf(err->message, sizeof err->message, "%s", msg);
  return -1;
}

/* hex SHA-256 of operation "\n" body into out[65]. */
static void request_hash(const char *operation, const char *body,
                         size_t body_len, char out[65]) {
  size_t ol = strlen(operation);
  size_t n = ol + 1 + body_len;
  char *msg = xmalloc(n);
  memcpy(msg, operation, ol);
  msg[ol] = '\n';
  if (body_len) memcpy(msg + ol + 1, body, body_len);
  uint8_t h[32];
  sha256(msg, n, h);
  free(msg);
  hex_encode(h, sizeof h, out);
}

int idem_key_valid(const char *key) {
  if (!key) return 0;
  size_t n = 0;
  for (; key[n]; n++) {
    unsigned char c = (unsigned char)key[n];
    if (c < 0x20 || c > 0x7e || n >= IDEM_KEY_MAX) return 0;
  }
  return n > 0;
}

static int check_args(const char *profile_id, const char *key,
                      const char *operation, const char *body,
                      size_t body_len, db_err *err) {
  if (!profile_id || !operation || !*operation)
    return fail(err, "22023", "idempotency: no profile or operation");
  if (!idem_key_valid(key))
    return fail(err, "22023",
                "Idempotency-Key must be 1 to 255 printable characters");
  if (!body && body_len)
    return fail(err, "22023", "idempotency: no body");
  return 0;
}

int idem_lookup(db *d, const char *profile_id, const char *key,
                const char *operation, const char *body, size_t body_len,
                idem_state *state, int *status, buf *stored, db_err *err) {
  if (check_args(profile_id, key, operation, body, body_len, err)) return -1;
  db_val p[] = {db_uuid(profile_id), db_text(key)};
  db_res *r = NULL;
  if (db_query_fixed(d,
                     "SELECT operation, request_hash, status, response FROM "
                     "idempotency_keys WHERE profile_id = $1 AND key = $2",
                     p, 2, &r, err))
    return -1;
  int rc = 0;
  if (db_res_rows(r) == 0) {
    *state = IDEM_NEW;
    goto out;
  }
  char hash[65];
  request_hash(operation, body, body_len, hash);
  const char *op = db_res_text(r, 0, 0);
  const char *h = db_res_text(r, 0, 1);
  if (!op || !h || strcmp(op, operation) || strcmp(h, hash)) {
    *state = IDEM_MISMATCH;
    goto out;
  }
  *state = IDEM_REPLAY;
  if (status) *status = (int)db_res_int(r, 0, 2);
  if (stored) {
    const char *answer = db_res_text(r, 0, 3);
    buf_reset(stored);
    if (buf_puts(stored, answer ? answer : "")) {
      rc = fail(err, "54000", "idempotency: the stored answer is too large");
      goto out;
    }
  }
out:
  db_res_free(r);
  return rc;
}

int idem_store(db *d, const char *profile_id, const char *key,
               const char *operation, const char *body, size_t body_len,
               int status, const char *answer, db_err *err) {
  if (check_args(profile_id, key, operation, body, body_len, err)) return -1;
  if (!answer) return fail(err, "22023", "idempotency: no answer to store");
  char hash[65];
  request_hash(operation, body, body_len, hash);
  db_val p[] = {db_uuid(profile_id), db_text(key),      db_text(operation),
                db_text(hash),       db_int(status),    db_json(answer),
                db_ts(time_now_us())};
  /* No ON CONFLICT: a unique violation (23505) is how the caller learns
   * that a concurrent request with this key committed first. */
  return db_query_fixed(
      d,
      "INSERT INTO idempotency_keys (profile_id, key, operation, "
      "request_hash, status, response, created_at) VALUES ($1, "
      "$2, $3, $4, $5, $6, $7)",
      p, 7, NULL, err);
}

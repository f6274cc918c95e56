/* auth.h - accounts and sessions: the /auth/v1 endpoints (a GoTrue subset),
 * access-token verification for every other endpoint, and the API keys.
 *
 * Access tokens are HS256 JWTs with Supabase's claims (sub, role,
 * aud "authenticated", exp, iat, email, session_id). Refresh tokens are
 * random, stored hashed, and good once. The anon and service_role keys are
 * long-lived JWTs signed with the same secret, as on Supabase. */
#ifndef MUNSHI_AUTH_AUTH_H
#define MUNSHI_AUTH_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "base/api.h"
#include "db/db.h"

typedef struct auth auth;

typedef struct auth_config {
  const uint8_t *secret; /* JWT secret, copied */
  size_t secret_len;
  int access_ttl_s;      /* access token lifetime; 3600 by default */
  int hash_concurrency;  /* Argon2id hashes at once; 2 by default */
  /* Attempt limits (see ratelimit.h): free attempts, then a wait of
   * backoff_s that doubles with each further attempt up to backoff_max_s;
   * a key idle for limit_window_s starts over. 0 picks the default. */
  int login_fails;       /* failed logins per email from one address; 5 */
  int login_addr_fails;  /* failed logins per address, any email; 20 */
  int signups_per_addr;  /* signup attempts per address, any outcome; 10 */
  int backoff_s;         /* 30 */
  int backoff_max_s;     /* 900 */
  int limit_window_s;    /* 3600 */
  /* The limiters' clock in seconds; NULL means the real one. For tests. */
  int64_t (*limit_clock_s)(void);
} auth_config;

auth *auth_new(const auth_config *cfg);
void auth_free(auth *au); /* accepts NULL */

/* Verifies a bearer token and fills *who. Returns 0, or -1 having set the
 * PostgREST-shaped error in resp (E_JWT, E_JWT_EXPIRED). */
int auth_verify_or_reply(auth *au, arena *a, const char *token,
                         api_principal *who, api_resp *resp);

/* Serves /auth/v1/<req->path>: signup, token, user, logout. Errors are in
 * GoTrue's shape. Returns 0 (the response is set either way). */
int auth_handle(auth *au, db *d, api_req *req, api_resp *resp);

/* Writes the anon or service_role key ("anon", "service_role") to out. */
int auth_api_key(auth *au, const char *role, buf *out);

#endif

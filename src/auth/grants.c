/* grants.c - POST /auth/v1/token: the password grant (sign in) and the
 * refresh_token grant (a new access token for a session).
 *
 * A sign-in is charged to the limiters before the password hash is spent,
 * and answered the same way for a wrong password and an unknown email
 * (which is checked against a dummy hash, so it costs as long). Failures
 * count per (email, client address) and per address, never per email
 * alone: an attacker elsewhere, or behind the same proxy when the proxy is
 * not trusted to name the client, must not lock the owner out. */
#include "auth/auth_int.h"

#include <string.h>

#include "base/crypto.h"
#include "base/timeutil.h"

static const char *dummy_hash(auth *au) {
  pthread_mutex_lock(&au->dummy_mu);
  if (!au->dummy_ready) {
    uint8_t raw[16];
    char pw[33];
    random_bytes(raw, sizeof raw);
    hex_encode(raw, sizeof raw, pw);
    if (pw_hash(au->pw, pw, strlen(pw), au->dummy_hash) == 0)
      au->dummy_ready = 1;
  }
  pthread_mutex_unlock(&au->dummy_mu);
  return au->dummy_ready ? au->dummy_hash : NULL;
}

/* The keys one sign-in is charged to. */
typedef struct login_keys {
  const char *pair; /* email|address */
  const char *addr;
} login_keys;

static int charge_or_reply(auth *au, api_req *req, api_resp *resp,
                           const char *email, login_keys *k) {
  k->addr = auth_remote(req);
  /* An address that is not well-formed cannot belong to a user; its
   * failures share one counter per address. */
  k->pair = arena_printf(req->a, "%s|%s", email ? email : "(invalid)", k->addr);
  int64_t now_s = auth_limit_now_s(au);
  int retry = 0;
  if (ratelimit_take(au->rl_login, k->pair, now_s, &retry))
    return auth_rate_limited(req, resp, "failed login attempts", retry);
  if (ratelimit_take(au->rl_addr, k->addr, now_s, &retry)) {
    ratelimit_refund(au->rl_login, k->pair);
    return auth_rate_limited(req, resp, "failed login attempts", retry);
  }
  return 0;
}

/* Checks the password; 0 with *u loaded, or -1 with the error set. The
 * charge stays on a wrong password and is given back otherwise. */
static int check_or_reply(auth *au, db *d, api_req *req, api_resp *resp,
                          const char *email, const json *pw,
                          const login_keys *k, user_row *u) {
  db_err err;
  int found = email ? user_load_by_email(d, req->a, email, u, &err) : 0;
  if (found < 0) {
    ratelimit_refund(au->rl_login, k->pair);
    ratelimit_refund(au->rl_addr, k->addr);
    return auth_db_fail(resp, "login lookup", &err);
  }
  const char *hash = found ? u->hash : dummy_hash(au);
  int ok = hash && pw_verify(au->pw, hash, pw->str, pw->len) && found;
  if (!ok) return api_fail(resp, E_AUTH_BAD_LOGIN, NULL, NULL, NULL);
  /* The email's owner is back at this address: forget the guesses. The
   * address keeps its other failures, or one known account would let an
   * address wipe its record. */
  ratelimit_reset(au->rl_login, k->pair);
  ratelimit_refund(au->rl_addr, k->addr);
  return 0;
}

int auth_grant_password(auth *au, db *d, api_req *req, api_resp *resp) {
  json *body;
  const json *jemail, *jpw;
  login_keys k;
  user_row u = {0};
  int rc = auth_body_or_reply(req, resp, &body);
  if (rc) goto out;
  if (auth_get_str(body, "email", &jemail) <= 0) {
    rc = api_fail(resp, E_AUTH_VALIDATION, "missing email or phone", NULL,
                  NULL);
    goto out;
  }
  if (auth_get_str(body, "password", &jpw) <= 0) {
    rc = api_fail(resp, E_AUTH_BAD_LOGIN, NULL, NULL, NULL);
    goto out;
  }
  const char *email = auth_email_normalize(req->a, jemail);
  rc = charge_or_reply(au, req, resp, email, &k);
  if (!rc) rc = check_or_reply(au, d, req, resp, email, jpw, &k, &u);
  if (rc) goto out;

  char sid[UUID_STR_LEN + 1], refresh[REFRESH_MAX];
  int64_t now_us = time_now_us();
  db_err err;
  if (db_begin(d, 1, &err)) {
    rc = auth_db_fail(resp, "login begin", &err);
    goto out;
  }
  if (user_signed_in(d, u.id, now_us, &err) ||
      session_create(d, req, u.id, now_us, sid, refresh, &err) ||
      db_commit(d, &err)) {
    db_rollback(d);
    rc = auth_db_fail(resp, "login session", &err);
    goto out;
  }
  u.last_sign_in_at = now_us;
  rc = session_reply(au, resp, &u, sid, refresh, now_us);
out:
  return rc;
}

static int bad_refresh(api_resp *resp, const char *why) {
  return api_failf(resp, E_AUTH_BAD_REFRESH, "Invalid Refresh Token: %s", why);
}

int auth_grant_refresh(auth *au, db *d, api_req *req, api_resp *resp) {
  json *body;
  const json *jtok;
  int rc = auth_body_or_reply(req, resp, &body);
  if (rc) goto out;
  if (auth_get_str(body, "refresh_token", &jtok) <= 0) {
    rc = api_fail(resp, E_AUTH_VALIDATION, "refresh_token required", NULL,
                  NULL);
    goto out;
  }
  if (jtok->len == 0 || jtok->len >= REFRESH_MAX) {
    rc = bad_refresh(resp, "Refresh Token Not Found");
    goto out;
  }
  db_err err;
  int64_t now_us = time_now_us();
  if (db_begin(d, 1, &err)) {
    rc = auth_db_fail(resp, "refresh begin", &err);
    goto out;
  }
  char sid[UUID_STR_LEN + 1], uid[UUID_STR_LEN + 1], next[REFRESH_MAX];
  refresh_outcome got;
  user_row u = {0};
  int found = 0;
  rc = refresh_rotate(d, jtok->str, jtok->len, now_us, sid, uid, next, &got,
                      &err);
  if (!rc && got == REFRESH_ROTATED)
    rc = (found = user_load_by_id(d, req->a, uid, &u, &err)) < 0;
  /* A reuse is committed too: the revoked session must stay revoked. */
  int commit = !rc && (got == REFRESH_REUSED || found);
  if (commit) rc = db_commit(d, &err);
  if (!commit || rc) db_rollback(d);
  if (rc)
    rc = auth_db_fail(resp, "refresh", &err);
  else if (got == REFRESH_REUSED)
    rc = bad_refresh(resp, "Already Used");
  else if (!found)
    rc = bad_refresh(resp, "Refresh Token Not Found");
  else
    rc = session_reply(au, resp, &u, sid, next, now_us);
out:
  return rc;
}

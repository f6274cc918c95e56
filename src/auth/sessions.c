/* sessions.c - sessions and their refresh tokens, and GoTrue's session
 * answer.
 *
 * A session row is one sign-in (user agent, address, times). Its refresh
 * tokens are 32 random bytes handed to the client and kept only as SHA-256
 * hashes; each is good once, and presenting a used one again revokes the
 * whole session (someone copied it). Ending a session deletes it, as GoTrue
 * does; its refresh tokens go with it (ON DELETE CASCADE). Every write here
 * runs inside the caller's transaction. */
#include "auth/auth_int.h"

#include <string.h>

#include "base/crypto.h"
#include "base/log.h"

static void token_hash_hex(const char *token, size_t len, char hex[65]) {
  uint8_t h[32];
  sha256(token, len, h);
  hex_encode(h, sizeof h, hex);
}

/* A new refresh token for a session: token gets the text handed out. */
static int refresh_issue(db *d, const char *sid, const char *uid,
                         int64_t now_us, char token[REFRESH_MAX],
                         db_err *err) {
  uint8_t raw[32];
  random_bytes(raw, sizeof raw);
  buf b;
  buf_init(&b, 0);
  b64url_encode(&b, raw, sizeof raw);
  memcpy(token, b.data, b.len + 1);
  buf_free(&b);
  explicit_bzero(raw, sizeof raw);
  char hex[65];
  token_hash_hex(token, strlen(token), hex);
  db_val p[] = {db_text(hex), db_uuid(sid), db_uuid(uid), db_bool(0),
                db_ts(now_us)};
  return auth_db_run(d,
                     "INSERT INTO auth_refresh_tokens (token_hash, "
                     "session_id, user_id, revoked, created_at) "
                     "VALUES ($1, $2, $3, $4, $5)",
                     p, 5, err) < 0
             ? -1
             : 0;
}

int session_create(db *d, const api_req *req, const char *user_id,
                   int64_t now_us, char sid[UUID_STR_LEN + 1],
                   char token[REFRESH_MAX], db_err *err) {
  uuid_v7(sid);
  const char *ua = req->header ? req->header(req, "user-agent") : NULL;
  /* arena_strndup copies exactly n bytes, so measure first. */
  char *ua_cut = ua ? arena_strndup(req->a, ua, strnlen(ua, UA_MAX)) : NULL;
  db_val p[] = {db_uuid(sid), db_uuid(user_id),
                ua_cut ? db_text(ua_cut) : db_null(),
                req->remote && *req->remote ? db_text(req->remote) : db_null(),
                db_ts(now_us)};
  if (auth_db_run(d,
                  "INSERT INTO auth_sessions (id, user_id, user_agent, ip, "
                  "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
                  p, 5, err) < 0)
    return -1;
  return refresh_issue(d, sid, user_id, now_us, token, err);
}

/* Looks the token up: 1 found (ids and *revoked set), 0 not, -1 error. */
static int refresh_find(db *d, const char *hex, char sid[UUID_STR_LEN + 1],
                        char uid[UUID_STR_LEN + 1], int *revoked,
                        db_err *err) {
  db_res *r = NULL;
  db_val p = db_text(hex);
  if (db_query(d,
               "SELECT session_id, user_id, revoked FROM auth_refresh_tokens "
               "WHERE token_hash = $1",
               &p, 1, &r, err))
    return -1;
  int rc = db_res_rows(r) > 0;
  if (rc) {
    *revoked = db_res_bool(r, 0, 2);
    if (uuid_normalize(db_res_text(r, 0, 0), sid) ||
        uuid_normalize(db_res_text(r, 0, 1), uid)) {
      *err = (db_err){.code = "", .message = "stored id is not a uuid"};
      rc = -1;
    }
  }
  db_res_free(r);
  return rc;
}

/* Marks the token used. Conditional, so that of two concurrent uses one
 * wins and the other sees nothing changed: 1 won, 0 lost, -1 error. */
static int refresh_use(db *d, const char *hex, int64_t now_us, db_err *err) {
  db_val p[] = {db_text(hex), db_bool(1), db_ts(now_us), db_bool(0)};
  int64_t n = auth_db_run(d,
                          "UPDATE auth_refresh_tokens SET revoked = $2, "
                          "used_at = $3 WHERE token_hash = $1 AND revoked = $4",
                          p, 4, err);
  return n < 0 ? -1 : n == 1;
}

/* A used token came back: either the client lost a response or the token
 * was stolen. We cannot tell, so the session ends. */
static int session_revoke(db *d, const char *sid, db_err *err) {
  db_val p[] = {db_uuid(sid), db_bool(1), db_bool(0)};
  if (auth_db_run(d,
                  "UPDATE auth_refresh_tokens SET revoked = $2 "
                  "WHERE session_id = $1 AND revoked = $3",
                  p, 3, err) < 0)
    return -1;
  log_warn("auth: refresh token reused; session %s revoked", sid);
  return 0;
}

int refresh_rotate(db *d, const char *token, size_t len, int64_t now_us,
                   char sid[UUID_STR_LEN + 1], char uid[UUID_STR_LEN + 1],
                   char next[REFRESH_MAX], refresh_outcome *out,
                   db_err *err) {
  char hex[65];
  token_hash_hex(token, len, hex);
  int revoked = 0;
  int rc = refresh_find(d, hex, sid, uid, &revoked, err);
  *out = REFRESH_UNKNOWN;
  if (rc <= 0) goto out;
  int won = revoked ? 0 : refresh_use(d, hex, now_us, err);
  rc = won < 0 ? -1 : 0;
  if (rc) goto out;
  if (!won) {
    *out = REFRESH_REUSED;
    rc = session_revoke(d, sid, err);
    goto out;
  }
  db_val p[] = {db_uuid(sid), db_ts(now_us)};
  rc = refresh_issue(d, sid, uid, now_us, next, err);
  if (!rc && auth_db_run(d,
                         "UPDATE auth_sessions SET updated_at = $2 "
                         "WHERE id = $1",
                         p, 2, err) < 0)
    rc = -1;
  if (!rc) *out = REFRESH_ROTATED;
out:
  return rc < 0 ? -1 : 0;
}

int session_exists(db *d, const char *sid, const char *uid, db_err *err) {
  db_val p[] = {db_uuid(sid), db_uuid(uid)};
  return auth_db_exists(
      d, "SELECT 1 FROM auth_sessions WHERE id = $1 AND user_id = $2", p, 2,
      err);
}

int session_end(db *d, const char *uid, const char *sid, const char *scope,
                db_err *err) {
  db_val p[] = {db_uuid(uid), db_uuid(sid)};
  int64_t changed = 0;
  int global = strcmp(scope, "global") == 0;
  /* A token without a session id ends every session for "others". */
  if (global || (!sid[0] && strcmp(scope, "others") == 0))
    changed = auth_db_run(d, "DELETE FROM auth_sessions WHERE user_id = $1", p,
                          1, err);
  else if (!sid[0])
    changed = 0; /* "local" without a session: nothing to end */
  else if (strcmp(scope, "local") == 0)
    changed = auth_db_run(
        d, "DELETE FROM auth_sessions WHERE user_id = $1 AND id = $2", p, 2,
        err);
  else
    changed = auth_db_run(
        d, "DELETE FROM auth_sessions WHERE user_id = $1 AND id <> $2", p, 2,
        err);
  return changed < 0 ? -1 : 0;
}

int session_reply(auth *au, api_resp *resp, const user_row *u,
                  const char *sid, const char *refresh, int64_t now_us) {
  int64_t iat = now_us / 1000000;
  buf tok;
  buf_init(&tok, 0);
  int rc = token_access(au, u, sid, iat, &tok);
  if (rc) goto out;
  buf_reset(&resp->body);
  json_obj o, user;
  json_obj_open(&o, &resp->body);
  json_obj_str(&o, "access_token", buf_cstr(&tok));
  json_obj_str(&o, "token_type", "bearer");
  json_obj_int(&o, "expires_in", au->access_ttl_s);
  json_obj_int(&o, "expires_at", iat + au->access_ttl_s);
  json_obj_str(&o, "refresh_token", refresh);
  json_obj_nest(&o, "user", &user);
  user_json(&user, u);
  json_obj_close(&user);
  rc = json_obj_close(&o);
  resp->status = 200;
out:
  buf_free(&tok);
  if (rc) return api_fail(resp, E_INTERNAL, NULL, NULL, NULL);
  return 0;
}

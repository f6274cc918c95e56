/* auth_int.h - what the files of the auth module share and nobody else
 * may use: the auth struct, the user row, and the small helpers every
 * endpoint needs (reading a request, answering a failure, the stores of
 * users and sessions, access tokens).
 *
 * The module is split along its seams:
 *   auth.c     the auth object (settings, limiters) and the routing
 *   request.c  reading requests and answering failures
 *   users.c    auth_users and profiles rows, and the GoTrue user object
 *   sessions.c sessions and refresh tokens, and the GoTrue session answer
 *   tokens.c   access tokens, API keys and their verification
 *   signup.c   POST /signup
 *   grants.c   POST /token (password and refresh_token grants)
 *   account.c  GET /user and POST /logout */
#ifndef MUNSHI_AUTH_AUTH_INT_H
#define MUNSHI_AUTH_AUTH_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "auth/password.h"
#include "auth/ratelimit.h"
#include "base/json.h"
#include "base/uuid.h"

#define AUTH_MAGIC 0x61757468u /* "auth" */
#define EMAIL_MAX 254
#define PW_MIN_CHARS 8
/* user_metadata as JSON text. It rides in every access token, which must
 * stay under JWT_MAX_LEN (8 KiB) after base64 and fit an HTTP header. */
#define META_MAX 2048
#define UA_MAX 512
#define REFRESH_MAX 256
#define TS_NONE INT64_MIN

struct auth {
  unsigned magic;
  uint8_t *secret;
  size_t secret_len;
  int access_ttl_s;
  pw_hasher *pw;
  ratelimit *rl_login;  /* failed logins per (email, address) */
  ratelimit *rl_addr;   /* failed logins per address */
  ratelimit *rl_signup; /* signup attempts per address */
  int64_t (*limit_clock_s)(void);
  /* A hash of a random password, checked against when the email is
   * unknown, so a wrong email costs as long as a wrong password. Made on
   * first need: `munshi keys` should not pay 64 MiB for it. */
  pthread_mutex_t dummy_mu;
  int dummy_ready;
  char dummy_hash[PW_HASH_MAX];
};

/* ---- request.c ---------------------------------------------------------- */

int64_t auth_now_s(void);
/* The limiters' clock: the configured one, else the real one. */
int64_t auth_limit_now_s(const auth *au);
/* Parses the body as a JSON object or answers bad_json. */
int auth_body_or_reply(api_req *req, api_resp *resp, json **out);
/* A string member: 1 and *out set, 0 when absent or null, -1 otherwise. */
int auth_get_str(const json *o, const char *key, const json **out);
/* A checked, lower-cased copy of an email address in a, or NULL. */
char *auth_email_normalize(arena *a, const json *v);
/* Characters (not bytes) of UTF-8 text. */
size_t auth_utf8_chars(const char *s, size_t n);
/* The client address as a limiter key ("" when unknown). */
const char *auth_remote(const api_req *req);
/* Answers 429 (too many <what>) with Retry-After. Returns -1. */
int auth_rate_limited(api_req *req, api_resp *resp, const char *what,
                      int retry_after);
/* Logs a database failure and answers 500 or 503. Returns -1. */
int auth_db_fail(api_resp *resp, const char *what, const db_err *err);
/* 1 when the statement returns a row, 0 when not, -1 on error. */
int auth_db_exists(db *d, const char *sql, const db_val *p, int n,
                   db_err *err);
/* Rows changed by the statement, or -1 on error. */
int64_t auth_db_run(db *d, const char *sql, const db_val *p, int n,
                    db_err *err);

/* ---- users.c -------------------------------------------------------------- */

typedef struct user_row {
  const char *id, *email, *meta, *hash;
  int64_t confirmed_at, last_sign_in_at, created_at, updated_at;
} user_row;

/* The profile columns a signup fills (NULL: none). */
typedef struct profile_fields {
  const char *business, *gst, *whatsapp, *state;
} profile_fields;

/* Load one user into a. Return 1 found, 0 not, -1 on a database error. */
int user_load_by_email(db *d, arena *a, const char *email, user_row *u,
                       db_err *err);
int user_load_by_id(db *d, arena *a, const char *id, user_row *u,
                    db_err *err);
/* 1 when the email (or the WhatsApp number) has an account, 0 when not,
 * -1 on a database error. */
int user_email_taken(db *d, const char *email, db_err *err);
int profile_whatsapp_taken(db *d, const char *whatsapp, db_err *err);
/* Inserts the user (u->created_at for every time) and its profile, inside
 * the caller's transaction. 0 or -1 (err->code 23505: taken). */
int user_insert(db *d, const user_row *u, const char *hash, db_err *err);
int profile_insert(db *d, const char *id, const profile_fields *p,
                   int64_t now_us, db_err *err);
int user_signed_in(db *d, const char *id, int64_t now_us, db_err *err);
/* GoTrue's user object as the members of the open object o. */
void user_json(json_obj *o, const user_row *u);

/* ---- sessions.c ----------------------------------------------------------- */

/* A new session and its first refresh token, inside the caller's
 * transaction; token gets the text handed to the client. */
int session_create(db *d, const api_req *req, const char *user_id,
                   int64_t now_us, char sid[UUID_STR_LEN + 1],
                   char token[REFRESH_MAX], db_err *err);

typedef enum {
  REFRESH_ROTATED, /* used up; sid and uid name its session and user */
  REFRESH_UNKNOWN, /* no such token */
  REFRESH_REUSED,  /* already used: its session has been revoked */
} refresh_outcome;

/* Uses up a refresh token inside the caller's transaction and, when it was
 * good, issues the next one into next. 0 with *out set, or -1. */
int refresh_rotate(db *d, const char *token, size_t len, int64_t now_us,
                   char sid[UUID_STR_LEN + 1], char uid[UUID_STR_LEN + 1],
                   char next[REFRESH_MAX], refresh_outcome *out, db_err *err);
/* 1 when the session exists for the user, 0 when not, -1 on error. */
int session_exists(db *d, const char *sid, const char *uid, db_err *err);
/* Ends sessions of the user: scope "global" (all), "local" (sid),
 * "others" (all but sid). 0, or -1 on a database error. */
int session_end(db *d, const char *uid, const char *sid, const char *scope,
                db_err *err);
/* Answers 200 with a GoTrue session for the user. Returns 0, or -1 with
 * the error set. */
int session_reply(auth *au, api_resp *resp, const user_row *u,
                  const char *sid, const char *refresh, int64_t now_us);

/* ---- tokens.c ------------------------------------------------------------- */

/* Signs an access token with Supabase's claims into out. 0 or -1. */
int token_access(auth *au, const user_row *u, const char *session_id,
                 int64_t iat, buf *out);
/* The caller of /user and /logout: a user's access token, GoTrue's
 * errors. 0, or -1 with the error set. */
int token_user_or_reply(auth *au, api_req *req, api_resp *resp,
                        api_principal *who);

/* ---- the endpoints (_or_reply: -1 means the error is set) ---------------- */

int auth_signup(auth *au, db *d, api_req *req, api_resp *resp);
int auth_grant_password(auth *au, db *d, api_req *req, api_resp *resp);
int auth_grant_refresh(auth *au, db *d, api_req *req, api_resp *resp);
int auth_get_user(auth *au, db *d, api_req *req, api_resp *resp);
int auth_logout(auth *au, db *d, api_req *req, api_resp *resp);

#endif

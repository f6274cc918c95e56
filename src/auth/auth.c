/* auth.c - the /auth/v1 endpoints (a GoTrue subset), access-token checks for
 * the rest of the API, and the anon / service_role keys.
 *
 * The answers copy GoTrue's shapes closely enough that @supabase/supabase-js
 * works unchanged: a session is {access_token, token_type, expires_in,
 * expires_at, refresh_token, user}, errors are {error, error_description}.
 * Access tokens are stateless HS256 JWTs; refresh tokens are 32 random bytes
 * kept only as SHA-256 hashes and good once, and presenting a used one again
 * revokes its whole session (someone copied it). Password work, the slow
 * part, always happens outside a write transaction so it never holds the
 * SQLite write lock, and failed logins are charged to the email and to the
 * client address before the hash is spent. */
#include "auth/auth.h"
#include "base/ident.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>

#include "auth/jwt.h"
#include "auth/password.h"
#include "auth/ratelimit.h"
#include "base/alloc.h"
#include "base/crypto.h"
#include "base/json.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/url.h"
#include "base/uuid.h"

#define AUTH_MAGIC 0x61757468u /* "auth" */
#define KEY_TTL_S (10LL * 365 * 24 * 3600)
#define EMAIL_MAX 254
#define PW_MIN_CHARS 8
/* user_metadata as JSON text. It rides in every access token, which must
 * stay under JWT_MAX_LEN (8 KiB) after base64 and fit an HTTP header. */
#define META_MAX 2048
#define UA_MAX 512
#define REFRESH_MAX 256
#define TS_NONE INT64_MIN
/* Slots per limiter table: 8192 * 24 bytes, about 200 KiB each. */
#define LIMIT_SLOTS 8192

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

static int or_default(int v, int dflt) {
  return v > 0 ? v : dflt;
}

auth *auth_new(const auth_config *cfg) {
  if (!cfg || !cfg->secret || cfg->secret_len == 0) return NULL;
  auth *au = xcalloc(1, sizeof *au);
  au->magic = AUTH_MAGIC;
  au->secret = xmalloc(cfg->secret_len);
  memcpy(au->secret, cfg->secret, cfg->secret_len);
  au->secret_len = cfg->secret_len;
  au->access_ttl_s = cfg->access_ttl_s > 0 ? cfg->access_ttl_s : 3600;
  au->pw = pw_hasher_new(cfg->hash_concurrency > 0 ? cfg->hash_concurrency : 2);
  ratelimit_policy p = {
      .backoff_s = or_default(cfg->backoff_s, 30),
      .max_s = or_default(cfg->backoff_max_s, 900),
      .window_s = or_default(cfg->limit_window_s, 3600),
  };
  p.free = or_default(cfg->login_fails, 5);
  au->rl_login = ratelimit_new(&p, LIMIT_SLOTS);
  p.free = or_default(cfg->login_addr_fails, 20);
  au->rl_addr = ratelimit_new(&p, LIMIT_SLOTS);
  p.free = or_default(cfg->signups_per_addr, 10);
  au->rl_signup = ratelimit_new(&p, LIMIT_SLOTS);
  au->limit_clock_s = cfg->limit_clock_s;
  pthread_mutex_init(&au->dummy_mu, NULL);
  if (!au->pw || !au->rl_login || !au->rl_addr || !au->rl_signup) {
    auth_free(au);
    return NULL;
  }
  return au;
}

void auth_free(auth *au) {
  if (!au) return;
  pw_hasher_free(au->pw);
  ratelimit_free(au->rl_login);
  ratelimit_free(au->rl_addr);
  ratelimit_free(au->rl_signup);
  pthread_mutex_destroy(&au->dummy_mu);
  /* The secret signs every token; do not leave it in freed memory. */
  explicit_bzero(au->secret, au->secret_len);
  free(au->secret);
  explicit_bzero(au, sizeof *au);
  free(au);
}

static int64_t now_s_of(int64_t now_us) {
  return now_us / 1000000;
}

static int64_t limit_now_s(const auth *au) {
  return au->limit_clock_s ? au->limit_clock_s() : now_s_of(time_now_us());
}

/* Answers 429 in GoTrue's shape with a Retry-After header. */
static int rate_limited(api_req *req, api_resp *resp, const char *what,
                        int retry_after) {
  api_failf(resp, E_AUTH_RATE_LIMIT, "Too many %s; try again in %d seconds",
            what, retry_after);
  api_header(resp, "Retry-After", arena_printf(req->a, "%d", retry_after));
  return -1;
}

/* ---------------------------------------------------------------------------
 * Tokens and principals */

/* Fills *who from verified claims. Returns 0, or -1 when the claims do not
 * name a role we serve (or an authenticated role without a user id). */
static int claims_principal(const json *claims, api_principal *who) {
  memset(who, 0, sizeof *who);
  const json *role = json_get(claims, "role");
  if (!role || role->type != JSON_STRING) return -1;
  if (strcmp(role->str, "anon") == 0) {
    who->role = ROLE_ANON;
    return 0;
  }
  if (strcmp(role->str, "service_role") == 0) {
    who->role = ROLE_SERVICE;
    return 0;
  }
  if (strcmp(role->str, "authenticated") != 0) return -1;
  const json *sub = json_get(claims, "sub");
  if (!sub || sub->type != JSON_STRING || uuid_normalize(sub->str, who->sub))
    return -1;
  const json *sid = json_get(claims, "session_id");
  if (sid && sid->type == JSON_STRING &&
      uuid_normalize(sid->str, who->session_id))
    return -1;
  const json *email = json_get(claims, "email");
  if (email && email->type == JSON_STRING) {
    if (email->len >= sizeof who->email) return -1;
    memcpy(who->email, email->str, email->len);
    who->email[email->len] = '\0';
  }
  who->role = ROLE_AUTHENTICATED;
  return 0;
}

int auth_verify_or_reply(auth *au, arena *a, const char *token,
                         api_principal *who, api_resp *resp) {
  memset(who, 0, sizeof *who);
  json *claims;
  jwt_status st = jwt_verify(a, au->secret, au->secret_len, token,
                             now_s_of(time_now_us()), &claims);
  switch (st) {
    case JWT_OK:
      break;
    /* PostgREST answers claim-time failures as PGRST303. */
    case JWT_EXPIRED:
    case JWT_NOT_YET_VALID:
      return api_fail(resp, E_JWT_EXPIRED, jwt_strerror(st), NULL, NULL);
    default:
      return api_fail(resp, E_JWT, jwt_strerror(st), NULL, NULL);
  }
  if (claims_principal(claims, who)) {
    memset(who, 0, sizeof *who);
    return api_fail(resp, E_JWT, "JWT claims are invalid",
                    "role must be anon, authenticated (with a uuid sub) "
                    "or service_role",
                    NULL);
  }
  return 0;
}

int auth_api_key(auth *au, const char *role, buf *out) {
  if (!role || (strcmp(role, "anon") != 0 && strcmp(role, "service_role") != 0))
    return -1;
  int64_t iat = now_s_of(time_now_us());
  char payload[160];
  int n = snprintf(payload, sizeof payload,
                   "{\"iss\":\"munshi\",\"role\":\"%s\",\"iat\":%lld,"
                   "\"exp\":%lld}",
                   role, (long long)iat, (long long)(iat + KEY_TTL_S));
  if (n < 0 || (size_t)n >= sizeof payload) return -1;
  return jwt_sign(au->secret, au->secret_len, payload, out);
}

/* ---------------------------------------------------------------------------
 * Small parsers */

/* The token of "Authorization: Bearer <token>", or NULL. */
static const char *bearer_token(const api_req *req) {
  return api_bearer(req->a, req->header ? req->header(req, "authorization") : NULL);
}

/* Parses the body as a JSON object or answers bad_json. */
static int body_or_reply(api_req *req, api_resp *resp, json **out) {
  json_error err;
  if (json_parse(req->a, req->body, req->body_len, out, &err))
    return api_failf(resp, E_AUTH_BAD_JSON,
                     "Could not parse request body as JSON: %s at byte %zu",
                     err.message, err.offset);
  if ((*out)->type != JSON_OBJECT)
    return api_fail(resp, E_AUTH_BAD_JSON, "Request body must be a JSON object",
                    NULL, NULL);
  return 0;
}

/* A string member: 1 and *out set, 0 when absent or null, -1 otherwise. */
static int get_str(const json *o, const char *key, const json **out) {
  const json *v = json_get(o, key);
  *out = NULL;
  if (!v || v->type == JSON_NULL) return 0;
  if (v->type != JSON_STRING) return -1;
  *out = v;
  return 1;
}

/* Checks the shape of an address and lower-cases it. This is not RFC 5322
 * (nobody's mail server accepts all of that); it is "one @, something on
 * each side, a dotted domain, nothing that breaks a header", as GoTrue
 * checks it. Returns the normalised copy or NULL. */
static char *email_normalize(arena *a, const json *v) {
  if (v->len < 3 || v->len > EMAIL_MAX) return NULL;
  const char *at = memchr(v->str, '@', v->len);
  if (!at || memchr(at + 1, '@', v->len - (size_t)(at + 1 - v->str)))
    return NULL;
  size_t local = (size_t)(at - v->str), dom = v->len - local - 1;
  if (local == 0 || local > 64 || dom < 3) return NULL;
  char *out = arena_strndup(a, v->str, v->len);
  for (size_t i = 0; i < v->len; i++) {
    unsigned char c = (unsigned char)out[i];
    if (c <= ' ' || c == 0x7f || strchr("()<>[],;:\\\"", c)) return NULL;
    if (c >= 'A' && c <= 'Z') out[i] = (char)(c - 'A' + 'a');
  }
  const char *d = out + local + 1;
  if (!strchr(d, '.') || d[0] == '.' || d[dom - 1] == '.' || strstr(d, ".."))
    return NULL;
  return out;
}

/* Characters, not bytes: a Devanagari password of 8 letters is 8 long. The
 * JSON parser has already refused invalid UTF-8. */
static size_t utf8_chars(const char *s, size_t n) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++)
    if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
  return c;
}

/* ---------------------------------------------------------------------------
 * Users, sessions, refresh tokens */

typedef struct user_row {
  const char *id, *email, *meta, *hash;
  int64_t confirmed_at, last_sign_in_at, created_at, updated_at;
} user_row;

#define USER_SELECT                                                   \
  "SELECT id, email, raw_user_meta_data, encrypted_password, "        \
  "email_confirmed_at, last_sign_in_at, created_at, updated_at FROM " \
  "auth_users "

static const char SQL_USER_BY_EMAIL[] = USER_SELECT "WHERE email = $1";
static const char SQL_USER_BY_ID[] = USER_SELECT "WHERE id = $1";

static int64_t res_ts_or_none(const db_res *r, int row, int col) {
  return db_res_isnull(r, row, col) ? TS_NONE : db_res_ts(r, row, col);
}

/* Loads one user. Returns 1 found, 0 not, -1 on a database error. */
static int user_load(db *d, arena *a, const char *sql, db_val key, user_row *u,
                     db_err *err) {
  db_res *r = NULL;
  if (db_query(d, sql, &key, 1, &r, err)) return -1;
  int found = db_res_rows(r) > 0;
  if (found) {
    u->id = arena_strdup(a, db_res_text(r, 0, 0));
    u->email = arena_strdup(a, db_res_text(r, 0, 1));
    const char *meta = db_res_text(r, 0, 2);
    u->meta = arena_strdup(a, meta && *meta ? meta : "{}");
    const char *hash = db_res_text(r, 0, 3);
    u->hash = arena_strdup(a, hash ? hash : "");
    u->confirmed_at = res_ts_or_none(r, 0, 4);
    u->last_sign_in_at = res_ts_or_none(r, 0, 5);
    u->created_at = res_ts_or_none(r, 0, 6);
    u->updated_at = res_ts_or_none(r, 0, 7);
  }
  db_res_free(r);
  return found;
}

static void put_ts(buf *b, int64_t t) {
  if (t == TS_NONE) {
    buf_puts(b, "null");
    return;
  }
  json_write_ts(b, t);
}

static void put_key_str(buf *b, const char *key, const char *val) {
  buf_printf(b, "\"%s\":", key);
  json_write_str(b, val, strlen(val));
}

/* GoTrue's user object. */
static void put_user(buf *b, const user_row *u) {
  buf_putc(b, '{');
  put_key_str(b, "id", u->id);
  buf_puts(b, ",\"aud\":\"authenticated\",\"role\":\"authenticated\",");
  put_key_str(b, "email", u->email);
  buf_puts(b, ",\"email_confirmed_at\":");
  put_ts(b, u->confirmed_at);
  buf_puts(b, ",\"phone\":\"\",\"confirmed_at\":");
  put_ts(b, u->confirmed_at);
  buf_puts(b, ",\"last_sign_in_at\":");
  put_ts(b, u->last_sign_in_at);
  buf_puts(b,
           ",\"app_metadata\":{\"provider\":\"email\",\"providers\":"
           "[\"email\"]},\"user_metadata\":");
  buf_puts(b, u->meta);
  buf_puts(b, ",\"identities\":[],\"created_at\":");
  put_ts(b, u->created_at);
  buf_puts(b, ",\"updated_at\":");
  put_ts(b, u->updated_at);
  buf_puts(b, ",\"is_anonymous\":false}");
}

/* Signs an access token with Supabase's claims into out. */
static int access_token(auth *au, const user_row *u, const char *session_id,
                        int64_t iat, buf *out) {
  buf p;
  buf_init(&p, 0);
  buf_printf(&p,
             "{\"aud\":\"authenticated\",\"exp\":%lld,\"iat\":%lld,"
             "\"iss\":\"munshi\",",
             (long long)(iat + au->access_ttl_s), (long long)iat);
  put_key_str(&p, "sub", u->id);
  buf_putc(&p, ',');
  put_key_str(&p, "email", u->email);
  buf_puts(&p,
           ",\"phone\":\"\",\"app_metadata\":{\"provider\":\"email\","
           "\"providers\":[\"email\"]},\"user_metadata\":");
  buf_puts(&p, u->meta);
  buf_puts(&p, ",\"role\":\"authenticated\",\"aal\":\"aal1\",");
  put_key_str(&p, "session_id", session_id);
  buf_puts(&p, ",\"is_anonymous\":false}");
  int rc = jwt_sign(au->secret, au->secret_len, buf_cstr(&p), out);
  buf_free(&p);
  return rc;
}

/* Answers 200 with a GoTrue session. */
static int reply_session(auth *au, api_resp *resp, const user_row *u,
                         const char *session_id, const char *refresh,
                         int64_t now_us) {
  int64_t iat = now_s_of(now_us);
  buf tok;
  buf_init(&tok, 0);
  if (access_token(au, u, session_id, iat, &tok)) {
    buf_free(&tok);
    return api_fail(resp, E_INTERNAL, NULL, NULL, NULL);
  }
  buf *b = &resp->body;
  buf_reset(b);
  buf_puts(b, "{\"access_token\":\"");
  buf_append(b, tok.data, tok.len);
  buf_printf(b,
             "\",\"token_type\":\"bearer\",\"expires_in\":%d,"
             "\"expires_at\":%lld,\"refresh_token\":\"%s\",\"user\":",
             au->access_ttl_s, (long long)(iat + au->access_ttl_s), refresh);
  put_user(b, u);
  buf_putc(b, '}');
  buf_free(&tok);
  resp->status = 200;
  return 0;
}

/* Logs a database failure (code and the database's own message, which
 * holds no bound values) and answers 500 or 503. */
static int db_fail(api_resp *resp, const char *what, const db_err *err) {
  log_error("auth: %s failed: %s %s", what, err->code, err->message);
  if (strncmp(err->code, "08", 2) == 0)
    return api_fail(resp, E_UNAVAILABLE, NULL, NULL, NULL);
  return api_fail(resp, E_DB, NULL, NULL, NULL);
}

/* A new refresh token for a session, inside the caller's transaction.
 * token gets the text handed to the client; only its hash is stored. */
static int refresh_insert(db *d, const char *session_id, const char *user_id,
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
  uint8_t h[32];
  char hex[65];
  sha256(token, strlen(token), h);
  hex_encode(h, sizeof h, hex);
  db_val p[] = {db_text(hex), db_uuid(session_id), db_uuid(user_id), db_bool(0),
                db_ts(now_us)};
  db_res *r = NULL;
  int rc = db_query(d,
                    "INSERT INTO auth_refresh_tokens (token_hash, session_id, "
                    "user_id, revoked, created_at) VALUES ($1, $2, $3, $4, $5)",
                    p, 5, &r, err);
  db_res_free(r);
  return rc;
}

/* A new session and its first refresh token, inside the caller's
 * transaction. */
static int session_insert(db *d, const api_req *req, const char *user_id,
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
  db_res *r = NULL;
  int rc = db_query(d,
                    "INSERT INTO auth_sessions (id, user_id, user_agent, ip, "
                    "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
                    p, 5, &r, err);
  db_res_free(r);
  if (rc) return rc;
  return refresh_insert(d, sid, user_id, now_us, token, err);
}

/* 1 when the statement returns a row, 0 when not, -1 on error. */
static int exists(db *d, const char *sql, const db_val *p, int n, db_err *err) {
  db_res *r = NULL;
  if (db_query(d, sql, p, n, &r, err)) return -1;
  int found = db_res_rows(r) > 0;
  db_res_free(r);
  return found;
}

/* A statement whose rows changed are all the caller needs; -1 on error. */
static int64_t run(db *d, const char *sql, const db_val *p, int n,
                   db_err *err) {
  db_res *r = NULL;
  if (db_query(d, sql, p, n, &r, err)) return -1;
  int64_t changed = db_res_changes(r);
  db_res_free(r);
  return changed;
}

/* ---------------------------------------------------------------------------
 * POST /signup */

/* A profile column from data: the string, or NULL for absent, null or "". */
static const char *profile_field(const json *data, const char *key) {
  const json *v = data ? json_get(data, key) : NULL;
  return v && v->type == JSON_STRING && v->len ? v->str : NULL;
}

static db_val text_or_null(const char *s) {
  return s ? db_text(s) : db_null();
}

static int do_signup(auth *au, db *d, api_req *req, api_resp *resp) {
  /* Every attempt counts, whatever it answers: "already registered" tells
   * whether an email or a number has an account, so probing costs what a
   * login attempt does. */
  int retry = 0;
  if (ratelimit_take(au->rl_signup, req->remote ? req->remote : "",
                     limit_now_s(au), &retry))
    return rate_limited(req, resp, "signup attempts from this address",
                        retry);
  json *body;
  if (body_or_reply(req, resp, &body)) return -1;

  const json *jemail, *jpw;
  if (get_str(body, "email", &jemail) <= 0)
    return api_fail(resp, E_AUTH_VALIDATION,
                    "To signup, please provide your email", NULL, NULL);
  char *email = email_normalize(req->a, jemail);
  if (!email)
    return api_fail(resp, E_AUTH_VALIDATION,
                    "Unable to validate email address: invalid format", NULL,
                    NULL);
  if (get_str(body, "password", &jpw) <= 0)
    return api_fail(resp, E_AUTH_VALIDATION, "Signup requires a valid password",
                    NULL, NULL);
  if (utf8_chars(jpw->str, jpw->len) < PW_MIN_CHARS)
    return api_failf(resp, E_AUTH_WEAK_PASSWORD,
                     "Password should be at least %d characters.",
                     PW_MIN_CHARS);
  if (jpw->len > PW_MAX_BYTES) {
    api_failf(resp, E_AUTH_VALIDATION, "Password should be at most %d bytes.",
              PW_MAX_BYTES);
    resp->status = 422;
    return -1;
  }

  /* user_metadata: free-form like GoTrue's, but flat strings, since three
   * of its keys become profile columns and the rest are labels. */
  const json *data = json_get(body, "data");
  const char *meta = "{}";
  if (data && data->type == JSON_NULL) data = NULL;
  if (data) {
    if (data->type != JSON_OBJECT)
      return api_fail(resp, E_AUTH_VALIDATION, "data must be a JSON object",
                      NULL, NULL);
    for (size_t i = 0; i < data->n; i++) {
      json_type t = data->items[i]->type;
      if (t != JSON_STRING && t != JSON_NULL)
        return api_failf(resp, E_AUTH_VALIDATION,
                         "data.%s must be a string or null, not %s",
                         data->keys[i], json_type_name(t));
    }
    buf mb;
    buf_init(&mb, META_MAX);
    int rc = json_write(&mb, data);
    if (rc == 0) meta = arena_strdup(req->a, buf_cstr(&mb));
    buf_free(&mb);
    if (rc)
      return api_failf(resp, E_AUTH_VALIDATION,
                       "data must be at most %d bytes of JSON", META_MAX);
  }
  const char *business = profile_field(data, "business_name");
  const char *gst = profile_field(data, "gst_number");
  const char *whatsapp = profile_field(data, "whatsapp_number");
  /* The same rules as a profile written through /rest/v1: E.164 numbers
   * (the WhatsApp number routes incoming chats), checked GSTINs whose
   * first two digits give the business's state. */
  char wa_norm[17], gst_up[16], state[3] = "", why[128];
  if (whatsapp) {
    if (phone_e164(whatsapp, wa_norm))
      return api_fail(resp, E_AUTH_VALIDATION,
                      "data.whatsapp_number is not a phone number: give it "
                      "with its country code, e.g. +919812345678",
                      NULL, NULL);
    whatsapp = wa_norm;
  }
  if (gst) {
    size_t gl = strlen(gst);
    if (gl >= sizeof gst_up)
      return api_fail(resp, E_AUTH_VALIDATION,
                      "data.gst_number: GSTIN must be 15 characters", NULL, NULL);
    for (size_t i = 0; i <= gl; i++)
      gst_up[i] = (char)toupper((unsigned char)gst[i]);
    if (gstin_check(gst_up, state, why, sizeof why))
      return api_failf(resp, E_AUTH_VALIDATION, "data.gst_number: %s", why);
    gst = gst_up;
  }

  /* Cheap refusals first, so a taken email costs no hash. The unique
   * constraints below still decide races. */
  db_err err;
  db_val pe = db_text(email);
  int found =
      exists(d, "SELECT 1 FROM auth_users WHERE email = $1", &pe, 1, &err);
  if (found < 0) return db_fail(resp, "signup lookup", &err);
  if (found) return api_fail(resp, E_AUTH_EMAIL_TAKEN, NULL, NULL, NULL);
  if (whatsapp) {
    db_val pw = db_text(whatsapp);
    found = exists(d, "SELECT 1 FROM profiles WHERE whatsapp_number = $1", &pw,
                   1, &err);
    if (found < 0) return db_fail(resp, "signup lookup", &err);
    if (found) goto whatsapp_taken;
  }

  char hash[PW_HASH_MAX];
  if (pw_hash(au->pw, jpw->str, jpw->len, hash))
    return api_fail(resp, E_INTERNAL, "Could not hash the password", NULL,
                    NULL);

  user_row u = {0};
  char id[UUID_STR_LEN + 1], sid[UUID_STR_LEN + 1], refresh[REFRESH_MAX];
  uuid_v7(id);
  int64_t now_us = time_now_us();
  u.id = id;
  u.email = email;
  u.meta = meta;
  u.confirmed_at = u.last_sign_in_at = u.created_at = u.updated_at = now_us;

  if (db_begin(d, 1, &err)) return db_fail(resp, "signup begin", &err);
  db_val pu[] = {db_uuid(id), db_text(email), db_text(hash), db_json(meta),
                 db_ts(now_us)};
  if (run(d,
          "INSERT INTO auth_users (id, email, encrypted_password, "
          "raw_user_meta_data, email_confirmed_at, last_sign_in_at, "
          "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5, $5, $5)",
          pu, 5, &err) < 0) {
    db_rollback(d);
    if (strcmp(err.code, "23505") == 0)
      return api_fail(resp, E_AUTH_EMAIL_TAKEN, NULL, NULL, NULL);
    return db_fail(resp, "signup insert user", &err);
  }
  db_val pp[] = {db_uuid(id), text_or_null(business), text_or_null(gst),
                 text_or_null(whatsapp), db_ts(now_us),
                 state[0] ? db_text(state) : db_null()};
  if (run(d,
          "INSERT INTO profiles (id, business_name, gst_number, "
          "whatsapp_number, created_at, updated_at, state_code) "
          "VALUES ($1, $2, $3, $4, $5, $5, $6)",
          pp, 6, &err) < 0) {
    db_rollback(d);
    if (strcmp(err.code, "23505") == 0) goto whatsapp_taken;
    return db_fail(resp, "signup insert profile", &err);
  }
  if (session_insert(d, req, id, now_us, sid, refresh, &err)) {
    db_rollback(d);
    return db_fail(resp, "signup session", &err);
  }
  if (db_commit(d, &err)) {
    db_rollback(d);
    return db_fail(resp, "signup commit", &err);
  }
  reply_session(au, resp, &u, sid, refresh, now_us);
  return 0;

whatsapp_taken:
  api_fail(resp, E_AUTH_VALIDATION,
           "This WhatsApp number is already registered to another business",
           NULL, NULL);
  resp->status = 422;
  return -1;
}

/* ---------------------------------------------------------------------------
 * POST /token?grant_type=password */

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


static int grant_password(auth *au, db *d, api_req *req, api_resp *resp) {
  json *body;
  if (body_or_reply(req, resp, &body)) return -1;
  const json *jemail, *jpw;
  if (get_str(body, "email", &jemail) <= 0)
    return api_fail(resp, E_AUTH_VALIDATION, "missing email or phone", NULL,
                    NULL);
  if (get_str(body, "password", &jpw) <= 0)
    return api_fail(resp, E_AUTH_BAD_LOGIN, NULL, NULL, NULL);

  /* An address that is not well-formed cannot belong to a user; it goes
   * down the unknown-email path, hash and all. */
  const char *email = email_normalize(req->a, jemail);
  /* Failures count per email at one address, never per email alone: an
   * attacker elsewhere (or behind the same proxy, when the proxy is not
   * trusted to name the client) must not lock the owner out. */
  const char *addr = req->remote ? req->remote : "";
  const char *pair_key = arena_printf(req->a, "%s|%s",
                                      email ? email : "(invalid)", addr);
  int64_t now_s = limit_now_s(au);
  int retry = 0;
  if (ratelimit_take(au->rl_login, pair_key, now_s, &retry))
    return rate_limited(req, resp, "failed login attempts", retry);
  if (ratelimit_take(au->rl_addr, addr, now_s, &retry)) {
    ratelimit_refund(au->rl_login, pair_key);
    return rate_limited(req, resp, "failed login attempts", retry);
  }

  db_err err;
  user_row u = {0};
  int found = 0;
  if (email) {
    found = user_load(d, req->a, SQL_USER_BY_EMAIL, db_text(email), &u, &err);
    if (found < 0) {
      ratelimit_refund(au->rl_login, pair_key);
      ratelimit_refund(au->rl_addr, addr);
      return db_fail(resp, "login lookup", &err);
    }
  }
  const char *hash = found ? u.hash : dummy_hash(au);
  int ok = hash && pw_verify(au->pw, hash, jpw->str, jpw->len) && found;
  if (!ok) return api_fail(resp, E_AUTH_BAD_LOGIN, NULL, NULL, NULL);
  /* The email's owner is back at this address: forget the guesses. The
   * address keeps its other failures, or one known account would let an
   * address wipe its record. */
  ratelimit_reset(au->rl_login, pair_key);
  ratelimit_refund(au->rl_addr, addr);

  char sid[UUID_STR_LEN + 1], refresh[REFRESH_MAX];
  int64_t now_us = time_now_us();
  if (db_begin(d, 1, &err)) return db_fail(resp, "login begin", &err);
  db_val pu[] = {db_uuid(u.id), db_ts(now_us)};
  if (run(d, "UPDATE auth_users SET last_sign_in_at = $2 WHERE id = $1", pu, 2,
          &err) < 0 ||
      session_insert(d, req, u.id, now_us, sid, refresh, &err) ||
      db_commit(d, &err)) {
    db_rollback(d);
    return db_fail(resp, "login session", &err);
  }
  u.last_sign_in_at = now_us;
  reply_session(au, resp, &u, sid, refresh, now_us);
  return 0;
}

/* ---------------------------------------------------------------------------
 * POST /token?grant_type=refresh_token */

static int grant_refresh(auth *au, db *d, api_req *req, api_resp *resp) {
  json *body;
  if (body_or_reply(req, resp, &body)) return -1;
  const json *jtok;
  if (get_str(body, "refresh_token", &jtok) <= 0)
    return api_fail(resp, E_AUTH_VALIDATION, "refresh_token required", NULL,
                    NULL);
  if (jtok->len == 0 || jtok->len >= REFRESH_MAX)
    return api_fail(resp, E_AUTH_BAD_REFRESH,
                    "Invalid Refresh Token: Refresh Token Not Found", NULL,
                    NULL);
  uint8_t h[32];
  char hex[65];
  sha256(jtok->str, jtok->len, h);
  hex_encode(h, sizeof h, hex);

  db_err err;
  int64_t now_us = time_now_us();
  if (db_begin(d, 1, &err)) return db_fail(resp, "refresh begin", &err);
  db_res *r = NULL;
  db_val ph = db_text(hex);
  if (db_query(d,
               "SELECT session_id, user_id, revoked FROM auth_refresh_tokens "
               "WHERE token_hash = $1",
               &ph, 1, &r, &err))
    goto dberr;
  if (db_res_rows(r) == 0) {
    db_res_free(r);
    db_rollback(d);
    return api_fail(resp, E_AUTH_BAD_REFRESH,
                    "Invalid Refresh Token: Refresh Token Not Found", NULL,
                    NULL);
  }
  char sid[UUID_STR_LEN + 1], uid[UUID_STR_LEN + 1];
  int revoked = db_res_bool(r, 0, 2);
  int bad = uuid_normalize(db_res_text(r, 0, 0), sid) ||
            uuid_normalize(db_res_text(r, 0, 1), uid);
  db_res_free(r);
  r = NULL;
  if (bad) {
    err = (db_err){.code = "", .message = "stored id is not a uuid"};
    goto dberr;
  }

  /* Conditional, so that of two concurrent uses one wins and the other
   * sees zero rows changed and is treated as a reuse. */
  int64_t changed = 0;
  if (!revoked) {
    db_val pm[] = {db_text(hex), db_bool(1), db_ts(now_us), db_bool(0)};
    changed = run(d,
                  "UPDATE auth_refresh_tokens SET revoked = $2, used_at = $3 "
                  "WHERE token_hash = $1 AND revoked = $4",
                  pm, 4, &err);
    if (changed < 0) goto dberr;
  }
  if (changed != 1) {
    /* A used token came back: either the client lost a response or the
     * token was stolen. We cannot tell, so the session ends. */
    db_val pr[] = {db_uuid(sid), db_bool(1), db_bool(0)};
    if (run(d,
            "UPDATE auth_refresh_tokens SET revoked = $2 "
            "WHERE session_id = $1 AND revoked = $3",
            pr, 3, &err) < 0 ||
        db_commit(d, &err))
      goto dberr;
    log_warn("auth: refresh token reused; session %s revoked", sid);
    return api_fail(resp, E_AUTH_BAD_REFRESH,
                    "Invalid Refresh Token: Already Used", NULL, NULL);
  }

  user_row u = {0};
  int found = user_load(d, req->a, SQL_USER_BY_ID, db_uuid(uid), &u, &err);
  if (found < 0) goto dberr;
  if (!found) {
    db_rollback(d);
    return api_fail(resp, E_AUTH_BAD_REFRESH,
                    "Invalid Refresh Token: Refresh Token Not Found", NULL,
                    NULL);
  }
  char refresh[REFRESH_MAX];
  db_val ps[] = {db_uuid(sid), db_ts(now_us)};
  if (refresh_insert(d, sid, uid, now_us, refresh, &err) ||
      run(d, "UPDATE auth_sessions SET updated_at = $2 WHERE id = $1", ps, 2,
          &err) < 0 ||
      db_commit(d, &err))
    goto dberr;
  reply_session(au, resp, &u, sid, refresh, now_us);
  return 0;

dberr:
  db_res_free(r);
  db_rollback(d);
  return db_fail(resp, "refresh", &err);
}

/* ---------------------------------------------------------------------------
 * GET /user, POST /logout */

/* The caller of /user and /logout: a user's access token, GoTrue's errors. */
static int user_token_or_reply(auth *au, api_req *req, api_resp *resp,
                               api_principal *who) {
  const char *tok = bearer_token(req);
  if (!tok) return api_fail(resp, E_AUTH_NO_TOKEN, NULL, NULL, NULL);
  json *claims;
  jwt_status st = jwt_verify(req->a, au->secret, au->secret_len, tok,
                             now_s_of(time_now_us()), &claims);
  if (st != JWT_OK)
    return api_failf(resp, E_AUTH_BAD_TOKEN, "invalid JWT: %s",
                     jwt_strerror(st));
  if (claims_principal(claims, who) || who->role != ROLE_AUTHENTICATED)
    return api_fail(resp, E_AUTH_BAD_TOKEN, "invalid claim: missing sub claim",
                    NULL, NULL);
  return 0;
}

static int do_user(auth *au, db *d, api_req *req, api_resp *resp) {
  api_principal who;
  if (user_token_or_reply(au, req, resp, &who)) return -1;
  db_err err;
  if (who.session_id[0]) {
    db_val p[] = {db_uuid(who.session_id), db_uuid(who.sub)};
    int found = exists(d,
                       "SELECT 1 FROM auth_sessions WHERE id = $1 AND "
                       "user_id = $2",
                       p, 2, &err);
    if (found < 0) return db_fail(resp, "user session", &err);
    if (!found)
      return api_fail(resp, E_AUTH_BAD_TOKEN,
                      "Session from session_id claim in JWT does not exist",
                      NULL, NULL);
  }
  user_row u = {0};
  int found = user_load(d, req->a, SQL_USER_BY_ID, db_uuid(who.sub), &u, &err);
  if (found < 0) return db_fail(resp, "user lookup", &err);
  if (!found)
    return api_fail(resp, E_AUTH_BAD_TOKEN,
                    "User from sub claim in JWT does not exist", NULL, NULL);
  buf_reset(&resp->body);
  put_user(&resp->body, &u);
  resp->status = 200;
  return 0;
}

/* Ending a session deletes it, as GoTrue does; its refresh tokens go with
 * it (ON DELETE CASCADE), and GET /user with its access token then fails. */
static int do_logout(auth *au, db *d, api_req *req, api_resp *resp) {
  api_principal who;
  if (user_token_or_reply(au, req, resp, &who)) return -1;
  const char *scope;
  int rc = url_query_get(req->a, req->query, "scope", &scope);
  if (rc < 0)
    return api_fail(resp, E_AUTH_VALIDATION, "Malformed query string", NULL,
                    NULL);
  if (rc == 0) scope = "local";
  db_err err;
  db_val p[] = {db_uuid(who.sub), db_uuid(who.session_id)};
  int64_t changed = 0;
  if (strcmp(scope, "global") == 0) {
    changed =
        run(d, "DELETE FROM auth_sessions WHERE user_id = $1", p, 1, &err);
  } else if (strcmp(scope, "local") == 0) {
    if (who.session_id[0])
      changed =
          run(d, "DELETE FROM auth_sessions WHERE user_id = $1 AND id = $2", p,
              2, &err);
  } else if (strcmp(scope, "others") == 0) {
    if (who.session_id[0])
      changed = run(d,
                    "DELETE FROM auth_sessions WHERE user_id = $1 AND "
                    "id <> $2",
                    p, 2, &err);
    else
      changed =
          run(d, "DELETE FROM auth_sessions WHERE user_id = $1", p, 1, &err);
  } else {
    return api_fail(resp, E_AUTH_VALIDATION,
                    "scope must be global, local or others", NULL, NULL);
  }
  if (changed < 0) return db_fail(resp, "logout", &err);
  buf_reset(&resp->body);
  resp->status = 204;
  return 0;
}

/* ---------------------------------------------------------------------------
 * Routing */

/* Handlers follow the _or_reply contract (-1: the error is set); the
 * response is complete either way, so auth_handle itself always says 0. */
static int route(auth *au, db *d, api_req *req, api_resp *resp) {
  const char *path = req->path ? req->path : "";
  const char *m = req->method ? req->method : "";
  int post = strcmp(m, "POST") == 0;

  if (strcmp(path, "signup") == 0) {
    if (!post) return api_fail(resp, E_METHOD, NULL, NULL, NULL);
    return do_signup(au, d, req, resp);
  }
  if (strcmp(path, "token") == 0) {
    if (!post) return api_fail(resp, E_METHOD, NULL, NULL, NULL);
    const char *grant;
    int rc = url_query_get(req->a, req->query, "grant_type", &grant);
    if (rc < 0)
      return api_fail(resp, E_AUTH_BAD_GRANT, "Malformed query string", NULL,
                      NULL);
    if (rc > 0 && strcmp(grant, "password") == 0)
      return grant_password(au, d, req, resp);
    if (rc > 0 && strcmp(grant, "refresh_token") == 0)
      return grant_refresh(au, d, req, resp);
    return api_fail(resp, E_AUTH_BAD_GRANT, NULL, NULL, NULL);
  }
  if (strcmp(path, "user") == 0) {
    if (strcmp(m, "GET") != 0)
      return api_fail(resp, E_METHOD, NULL, NULL, NULL);
    return do_user(au, d, req, resp);
  }
  if (strcmp(path, "logout") == 0) {
    if (!post) return api_fail(resp, E_METHOD, NULL, NULL, NULL);
    return do_logout(au, d, req, resp);
  }
  return api_failf(resp, E_NOT_FOUND_ROUTE, "No auth endpoint /auth/v1/%.64s",
                   path);
}

int auth_handle(auth *au, db *d, api_req *req, api_resp *resp) {
  assert(au && au->magic == AUTH_MAGIC);
  (void)route(au, d, req, resp);
  return 0;
}

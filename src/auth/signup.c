/* signup.c - POST /auth/v1/signup: a new account, its business profile and
 * a first session in one transaction.
 *
 * The steps, cheapest first: charge the client address (every attempt
 * counts, whatever it answers: "already registered" tells whether an email
 * or a number has an account, so probing costs what a login attempt does);
 * read and check the email, the password and user_metadata (whose
 * business_name, gst_number and whatsapp_number become profile columns,
 * checked as /rest/v1 checks them); refuse a taken email or number before
 * spending a hash; hash the password outside any transaction, so it never
 * holds the SQLite write lock; then write, letting the unique constraints
 * decide races. */
#include "auth/auth_int.h"

#include <ctype.h>
#include <string.h>

#include "base/ident.h"
#include "base/timeutil.h"

typedef struct signup_req {
  const char *email;
  const json *pw;
  const char *meta; /* user_metadata as JSON text */
  profile_fields profile;
  char wa_norm[17], gst_up[16], state[3];
} signup_req;

static int whatsapp_taken(api_resp *resp) {
  api_fail(resp, E_AUTH_VALIDATION,
           "This WhatsApp number is already registered to another business",
           NULL, NULL);
  resp->status = 422;
  return -1;
}

static int credentials_or_reply(api_req *req, api_resp *resp,
                                const json *body, signup_req *s) {
  const json *jemail;
  if (auth_get_str(body, "email", &jemail) <= 0)
    return api_fail(resp, E_AUTH_VALIDATION,
                    "To signup, please provide your email", NULL, NULL);
  s->email = auth_email_normalize(req->a, jemail);
  if (!s->email)
    return api_fail(resp, E_AUTH_VALIDATION,
                    "Unable to validate email address: invalid format", NULL,
                    NULL);
  if (auth_get_str(body, "password", &s->pw) <= 0)
    return api_fail(resp, E_AUTH_VALIDATION, "Signup requires a valid password",
                    NULL, NULL);
  if (auth_utf8_chars(s->pw->str, s->pw->len) < PW_MIN_CHARS)
    return api_failf(resp, E_AUTH_WEAK_PASSWORD,
                     "Password should be at least %d characters.",
                     PW_MIN_CHARS);
  if (s->pw->len > PW_MAX_BYTES) {
    api_failf(resp, E_AUTH_VALIDATION, "Password should be at most %d bytes.",
              PW_MAX_BYTES);
    resp->status = 422;
    return -1;
  }
  return 0;
}

/* A profile column from data: the string, or NULL for absent, null or "". */
static const char *profile_field(const json *data, const char *key) {
  const json *v = data ? json_get(data, key) : NULL;
  return v && v->type == JSON_STRING && v->len ? v->str : NULL;
}

/* user_metadata: free-form like GoTrue's, but flat strings, since three of
 * its keys become profile columns and the rest are labels. */
static int metadata_or_reply(api_req *req, api_resp *resp, const json *body,
                             signup_req *s) {
  const json *data = json_get(body, "data");
  s->meta = "{}";
  if (!data || data->type == JSON_NULL) return 0;
  if (data->type != JSON_OBJECT)
    return api_fail(resp, E_AUTH_VALIDATION, "data must be a JSON object", NULL,
                    NULL);
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
  if (rc == 0) s->meta = arena_strdup(req->a, buf_cstr(&mb));
  buf_free(&mb);
  if (rc)
    return api_failf(resp, E_AUTH_VALIDATION,
                     "data must be at most %d bytes of JSON", META_MAX);
  s->profile.business = profile_field(data, "business_name");
  s->profile.gst = profile_field(data, "gst_number");
  s->profile.whatsapp = profile_field(data, "whatsapp_number");
  return 0;
}

/* The same rules as a profile written through /rest/v1: E.164 numbers (the
 * WhatsApp number routes incoming chats), checked GSTINs whose first two
 * digits give the business's state. */
static int profile_or_reply(api_resp *resp, signup_req *s) {
  profile_fields *p = &s->profile;
  char why[128];
  if (p->whatsapp) {
    if (phone_e164(p->whatsapp, s->wa_norm))
      return api_fail(resp, E_AUTH_VALIDATION,
                      "data.whatsapp_number is not a phone number: give it "
                      "with its country code, e.g. +919812345678",
                      NULL, NULL);
    p->whatsapp = s->wa_norm;
  }
  if (p->gst) {
    size_t gl = strlen(p->gst);
    if (gl >= sizeof s->gst_up)
      return api_fail(resp, E_AUTH_VALIDATION,
                      "data.gst_number: GSTIN must be 15 characters", NULL, NULL);
    for (size_t i = 0; i <= gl; i++)
      s->gst_up[i] = (char)toupper((unsigned char)p->gst[i]);
    if (gstin_check(s->gst_up, s->state, why, sizeof why))
      return api_failf(resp, E_AUTH_VALIDATION, "data.gst_number: %s", why);
    p->gst = s->gst_up;
    p->state = s->state;
  }
  return 0;
}

/* Cheap refusals before the hash; the unique constraints still decide
 * races. */
static int free_or_reply(db *d, api_resp *resp, const signup_req *s) {
  db_err err;
  int found = user_email_taken(d, s->email, &err);
  if (found < 0) return auth_db_fail(resp, "signup lookup", &err);
  if (found) return api_fail(resp, E_AUTH_EMAIL_TAKEN, NULL, NULL, NULL);
  if (!s->profile.whatsapp) return 0;
  found = profile_whatsapp_taken(d, s->profile.whatsapp, &err);
  if (found < 0) return auth_db_fail(resp, "signup lookup", &err);
  return found ? whatsapp_taken(resp) : 0;
}

/* Writes the user, the profile and a session, and answers the session. A
 * unique violation is a race lost to another signup: the email or the
 * number was taken in between. */
static int store_or_reply(auth *au, db *d, api_req *req, api_resp *resp,
                          const signup_req *s, const char *hash) {
  char id[UUID_STR_LEN + 1], sid[UUID_STR_LEN + 1], refresh[REFRESH_MAX];
  uuid_v7(id);
  int64_t now_us = time_now_us();
  user_row u = {.id = id, .email = s->email, .meta = s->meta,
                .confirmed_at = now_us, .last_sign_in_at = now_us,
                .created_at = now_us, .updated_at = now_us};
  db_err err;
  if (db_begin(d, 1, &err)) return auth_db_fail(resp, "signup begin", &err);
  enum { NOT_TAKEN, EMAIL, NUMBER } taken = NOT_TAKEN;
  const char *step = "signup insert user";
  int rc = user_insert(d, &u, hash, &err);
  if (rc) {
    if (strcmp(err.code, "23505") == 0) taken = EMAIL;
    goto fail;
  }
  step = "signup insert profile";
  rc = profile_insert(d, id, &s->profile, now_us, &err);
  if (rc) {
    if (strcmp(err.code, "23505") == 0) taken = NUMBER;
    goto fail;
  }
  step = "signup session";
  rc = session_create(d, req, id, now_us, sid, refresh, &err);
  if (rc) goto fail;
  step = "signup commit";
  rc = db_commit(d, &err);
  if (rc) goto fail;
  return session_reply(au, resp, &u, sid, refresh, now_us);

fail:
  db_rollback(d);
  if (taken == EMAIL)
    return api_fail(resp, E_AUTH_EMAIL_TAKEN, NULL, NULL, NULL);
  if (taken == NUMBER) return whatsapp_taken(resp);
  return auth_db_fail(resp, step, &err);
}

int auth_signup(auth *au, db *d, api_req *req, api_resp *resp) {
  signup_req s = {0};
  json *body;
  char hash[PW_HASH_MAX];
  int retry = 0;
  int rc = 0;
  if (ratelimit_take(au->rl_signup, auth_remote(req), auth_limit_now_s(au),
                     &retry)) {
    rc = auth_rate_limited(req, resp, "signup attempts from this address",
                           retry);
    goto out;
  }
  rc = auth_body_or_reply(req, resp, &body);
  if (!rc) rc = credentials_or_reply(req, resp, body, &s);
  if (!rc) rc = metadata_or_reply(req, resp, body, &s);
  if (!rc) rc = profile_or_reply(resp, &s);
  if (!rc) rc = free_or_reply(d, resp, &s);
  if (rc) goto out;
  if (pw_hash(au->pw, s.pw->str, s.pw->len, hash)) {
    rc = api_fail(resp, E_INTERNAL, "Could not hash the password", NULL, NULL);
    goto out;
  }
  rc = store_or_reply(au, d, req, resp, &s, hash);
  explicit_bzero(hash, sizeof hash);
out:
  return rc;
}

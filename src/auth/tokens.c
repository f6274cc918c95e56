/* tokens.c - the JWTs: access tokens with Supabase's claims for a session,
 * the long-lived anon and service_role API keys, and checking a presented
 * token into an api_principal, for the rest of the API (PostgREST's errors)
 * and for /user and /logout (GoTrue's errors). */
#include "auth/auth_int.h"

#include <string.h>

#include "auth/jwt.h"

#define KEY_TTL_S (10LL * 365 * 24 * 3600)

/* Fills *who from verified claims. Returns 0, or -1 when the claims do not
 * name a role we serve (or an authenticated role without a user id). */
static int claims_principal(const json *claims, api_principal *who) {
  memset(who, 0, sizeof *who);
  /* jwt_verify has checked exp is present and in the future. */
  const json *exp = json_get(claims, "exp");
  int64_t exp_us;
  if (exp && !json_decimal(exp, 6, &exp_us)) who->exp_s = exp_us / 1000000;
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
                             auth_now_s(), &claims);
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

int token_user_or_reply(auth *au, api_req *req, api_resp *resp,
                        api_principal *who) {
  const char *tok = api_bearer(
      req->a, req->header ? req->header(req, "authorization") : NULL);
  if (!tok) return api_fail(resp, E_AUTH_NO_TOKEN, NULL, NULL, NULL);
  json *claims;
  jwt_status st = jwt_verify(req->a, au->secret, au->secret_len, tok,
                             auth_now_s(), &claims);
  if (st != JWT_OK)
    return api_failf(resp, E_AUTH_BAD_TOKEN, "invalid JWT: %s",
                     jwt_strerror(st));
  if (claims_principal(claims, who) || who->role != ROLE_AUTHENTICATED)
    return api_fail(resp, E_AUTH_BAD_TOKEN, "invalid claim: missing sub claim",
                    NULL, NULL);
  return 0;
}

int auth_api_key(auth *au, const char *role, buf *out) {
  if (!role || (strcmp(role, "anon") != 0 && strcmp(role, "service_role") != 0))
    return -1;
  int64_t iat = auth_now_s();
  buf p;
  buf_init(&p, 0);
  json_obj o;
  json_obj_open(&o, &p);
  json_obj_str(&o, "iss", "munshi");
  json_obj_str(&o, "role", role);
  json_obj_int(&o, "iat", iat);
  json_obj_int(&o, "exp", iat + KEY_TTL_S);
  int rc = json_obj_close(&o);
  if (!rc) rc = jwt_sign(au->secret, au->secret_len, buf_cstr(&p), out);
  buf_free(&p);
  return rc;
}

int token_access(auth *au, const user_row *u, const char *session_id,
                 int64_t iat, buf *out) {
  buf p;
  buf_init(&p, 0);
  json_obj o, app;
  json_obj_open(&o, &p);
  json_obj_str(&o, "aud", "authenticated");
  json_obj_int(&o, "exp", iat + au->access_ttl_s);
  json_obj_int(&o, "iat", iat);
  json_obj_str(&o, "iss", "munshi");
  json_obj_str(&o, "sub", u->id);
  json_obj_str(&o, "email", u->email);
  json_obj_str(&o, "phone", "");
  json_obj_nest(&o, "app_metadata", &app);
  json_obj_str(&app, "provider", "email");
  json_obj_raw(&app, "providers", "[\"email\"]");
  json_obj_close(&app);
  /* Stored JSON text (see user_json), capped at META_MAX by signup. */
  json_obj_raw(&o, "user_metadata", u->meta);
  json_obj_str(&o, "role", "authenticated");
  json_obj_str(&o, "aal", "aal1");
  json_obj_str(&o, "session_id", session_id);
  json_obj_bool(&o, "is_anonymous", 0);
  int rc = json_obj_close(&o);
  if (!rc) rc = jwt_sign(au->secret, au->secret_len, buf_cstr(&p), out);
  buf_free(&p);
  return rc;
}

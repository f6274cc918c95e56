/* account.c - what a signed-in user asks about their own account:
 * GET /auth/v1/user (the GoTrue user object of the access token's user,
 * refused once its session has ended) and POST /auth/v1/logout (ends this
 * session, all of them, or all the others, as ?scope= says). */
#include "auth/auth_int.h"

#include <string.h>

#include "base/url.h"

int auth_get_user(auth *au, db *d, api_req *req, api_resp *resp) {
  api_principal who;
  user_row u = {0};
  db_err err;
  int rc = token_user_or_reply(au, req, resp, &who);
  if (rc) goto out;
  int found = 1;
  if (who.session_id[0]) {
    found = session_exists(d, who.session_id, who.sub, &err);
    if (found < 0) {
      rc = auth_db_fail(resp, "user session", &err);
      goto out;
    }
    if (!found) {
      rc = api_fail(resp, E_AUTH_BAD_TOKEN,
                    "Session from session_id claim in JWT does not exist",
                    NULL, NULL);
      goto out;
    }
  }
  found = user_load_by_id(d, req->a, who.sub, &u, &err);
  if (found < 0) {
    rc = auth_db_fail(resp, "user lookup", &err);
    goto out;
  }
  if (!found) {
    rc = api_fail(resp, E_AUTH_BAD_TOKEN,
                  "User from sub claim in JWT does not exist", NULL, NULL);
    goto out;
  }
  buf_reset(&resp->body);
  json_obj o;
  json_obj_open(&o, &resp->body);
  user_json(&o, &u);
  if (json_obj_close(&o))
    rc = api_fail(resp, E_INTERNAL, NULL, NULL, NULL);
  else
    resp->status = 200;
out:
  return rc;
}

int auth_logout(auth *au, db *d, api_req *req, api_resp *resp) {
  api_principal who;
  const char *scope;
  db_err err;
  int rc = token_user_or_reply(au, req, resp, &who);
  if (rc) goto out;
  int got = url_query_get(req->a, req->query, "scope", &scope);
  if (got < 0) {
    rc = api_fail(resp, E_AUTH_VALIDATION, "Malformed query string", NULL,
                  NULL);
    goto out;
  }
  if (got == 0) scope = "local";
  if (strcmp(scope, "global") && strcmp(scope, "local") &&
      strcmp(scope, "others")) {
    rc = api_fail(resp, E_AUTH_VALIDATION,
                  "scope must be global, local or others", NULL, NULL);
    goto out;
  }
  if (session_end(d, who.sub, who.session_id, scope, &err)) {
    rc = auth_db_fail(resp, "logout", &err);
    goto out;
  }
  buf_reset(&resp->body);
  resp->status = 204;
out:
  return rc;
}

/* router.c - paths to handlers, and who is calling.
 *
 *   /health            liveness, no auth
 *   /auth/v1/<name>    auth_handle (GoTrue subset)
 *   /rest/v1/rpc/<op>  rpc_handle: business operations
 *   /rest/v1/<table>   rest_handle, with the caller from the JWT
 * The caller's token is Authorization: Bearer <jwt>, else the apikey
 * header (supabase-js sends both; the apikey alone means the anon role). */
#include "http/router.h"

#include <string.h>
#include <strings.h>

#include "rest/rest.h"
#include "rest/rpc.h"

static int starts(const char *s, const char *prefix, const char **rest) {
  size_t n = strlen(prefix);
  if (strncmp(s, prefix, n)) return 0;
  *rest = s + n;
  return 1;
}

/* Fills req->who from the headers. Returns -1 with resp set when a token is
 * present but not valid: a bad token is refused, never treated as anon. */
static int identify(const router_ctx *rc, api_req *req, api_resp *resp) {
  memset(&req->who, 0, sizeof req->who);
  const char *authz = req->header(req, "authorization");
  const char *apikey = req->header(req, "apikey");
  const char *token = NULL;
  if (authz) {
    token = api_bearer(req->a, authz);
    if (!token)
      return api_fail(resp, E_JWT, "Authorization must be \"Bearer <token>\"",
                      NULL, NULL);
  }
  if (apikey && (!token || strcmp(apikey, token))) {
    api_principal key;
    if (auth_verify_or_reply(rc->au, req->a, apikey, &key, resp)) return -1;
    if (!token) {
      req->who = key;
      return 0;
    }
  }
  if (!token) return 0;
  return auth_verify_or_reply(rc->au, req->a, token, &req->who, resp);
}

void router_dispatch(const router_ctx *rc, api_req *req, api_resp *resp) {
  const char *rest;
  if (!strcmp(req->path, "/health")) {
    buf_puts(&resp->body, "{\"status\":\"ok\",\"version\":\"" MUNSHI_VERSION "\"}");
    return;
  }
  if (starts(req->path, "/auth/v1/", &rest)) {
    db *d = rc->get_db(rc->db_cls, resp);
    if (!d) return;
    req->path = rest;
    auth_handle(rc->au, d, req, resp);
    return;
  }
  if (starts(req->path, "/rest/v1/", &rest)) {
    if (identify(rc, req, resp)) return;
    const char *op;
    db *d = rc->get_db(rc->db_cls, resp);
    if (!d) return;
    if (starts(rest, "rpc/", &op)) {
      req->path = op;
      rpc_handle(d, req, resp);
      return;
    }
    req->path = rest;
    rest_handle(d, req, resp);
    return;
  }
  api_failf(resp, E_NOT_FOUND_ROUTE, "no route for %.16s %.128s", req->method,
            req->path);
}
